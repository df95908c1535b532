//! The modules of `s2i-cli` form no cycle: no module uses a module that
//! uses it back, directly or through others.
//!
//! Each file under `src/` is a module (`commands/route/kind.rs` is
//! `commands::route::kind`, a `mod.rs` its directory's module). A module
//! depends on another when one of its paths names it: `crate::…`,
//! `super::…`, `self::…` or a child's name, in `use` declarations (groups
//! expanded) or in code. Comments, strings and the `#[cfg(test)]` module at
//! the end of a file are not read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module path: `["commands", "route", "kind"]`; the crate root is empty.
type Module = Vec<String>;

fn module_of(src: &Path, file: &Path) -> Module {
    let relative = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = relative.iter().map(|part| part.to_string_lossy().into_owned()).collect();
    if matches!(parts.last().map(String::as_str), Some("mod" | "lib" | "main")) {
        parts.pop();
    }
    parts
}

fn rust_files(dir: &Path, files: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
}

/// The code of a file without comments, string and character literals, and
/// without its test module.
fn code_of(text: &str) -> String {
    let text = text.split("#[cfg(test)]\nmod tests").next().unwrap();
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            i += 2;
            while i + 1 < chars.len() && !(chars[i] == '*' && chars[i + 1] == '/') {
                i += 1;
            }
            i += 2;
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !is_ident(chars.get(i.wrapping_sub(1))) {
            let mut hashes = 0;
            let mut j = i + 1;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            let closing: String = std::iter::once('"').chain(std::iter::repeat_n('#', hashes)).collect();
            while j < chars.len() && !chars[j..].iter().collect::<String>().starts_with(&closing) {
                j += 1;
            }
            i = j + closing.len();
            out.push_str("\"\"");
        } else if c == '"' {
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c == '\'' && (next == Some('\\') || chars.get(i + 2) == Some(&'\'')) {
            // A character literal ('x', '\n', '\u{..}'); a lifetime has no closing quote.
            i += 1;
            while i < chars.len() && chars[i] != '\'' {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("' '");
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn is_ident(c: Option<&char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || *c == '_')
}

/// Identifiers and punctuation.
fn tokens(code: &str) -> Vec<String> {
    let chars: Vec<char> = code.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphabetic() || c == '_' {
            let start = i;
            while is_ident(chars.get(i)) {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push("::".into());
            i += 2;
        } else if !c.is_whitespace() {
            tokens.push(c.to_string());
            i += 1;
        } else {
            i += 1;
        }
    }
    tokens
}

/// The paths of a `use` tree starting at `tokens[*at]`, with groups
/// expanded; returns the delimiter that ended it (`,`, `}` or `;`).
fn use_tree<'t>(tokens: &'t [String], at: &mut usize, prefix: &[String], paths: &mut Vec<Vec<String>>) -> &'t str {
    let mut path = prefix.to_vec();
    let mut grouped = false;
    while *at < tokens.len() {
        let token = tokens[*at].as_str();
        *at += 1;
        match token {
            "::" => {}
            "{" => {
                while use_tree(tokens, at, &path, paths) == "," {}
                grouped = true;
            }
            "," | "}" | ";" => {
                if !grouped {
                    paths.push(path);
                }
                return token;
            }
            "as" => *at += 1,
            "self" if !path.is_empty() => {}
            name => path.push(name.to_owned()),
        }
    }
    ";"
}

/// Every path of the code that may name a module of the crate: `use`
/// trees, and paths in code that start with `crate`, `super`, `self` or a name of `children`.
fn paths_of(tokens: &[String], children: &BTreeSet<String>) -> Vec<Vec<String>> {
    let mut paths = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i] == "use" {
            i += 1;
            let mut tree = Vec::new();
            use_tree(tokens, &mut i, &[], &mut tree);
            paths.extend(tree.into_iter().filter(|path| path.len() > 1));
            continue;
        }
        let starts = ["crate", "super", "self"].contains(&tokens[i].as_str()) || children.contains(&tokens[i]);
        let after_path = i > 0 && tokens[i - 1] == "::";
        if starts && !after_path && tokens.get(i + 1).is_some_and(|t| t == "::") {
            let mut path = vec![tokens[i].clone()];
            let mut j = i + 1;
            while tokens.get(j).is_some_and(|t| t == "::") && tokens.get(j + 1).is_some_and(|t| is_name(t)) {
                path.push(tokens[j + 1].clone());
                j += 2;
            }
            paths.push(path);
            i = j;
            continue;
        }
        i += 1;
    }
    paths
}

fn is_name(token: &str) -> bool {
    token.chars().next().is_some_and(|c| c.is_alphabetic() || c == '_')
}

/// The module a path of `module` names: the longest known module it starts with.
fn target(module: &Module, path: &[String], modules: &BTreeSet<Module>) -> Option<Module> {
    let mut absolute: Module = match path[0].as_str() {
        "crate" => Vec::new(),
        "super" | "self" => module.clone(),
        _ => {
            let mut child = module.clone();
            child.push(path[0].clone());
            child
        }
    };
    let mut rest = &path[1..];
    if path[0] == "super" {
        absolute.pop();
        while rest.first().is_some_and(|s| s == "super") {
            absolute.pop();
            rest = &rest[1..];
        }
    }
    if !matches!(path[0].as_str(), "crate" | "super" | "self") && !modules.contains(&absolute) {
        return None;
    }
    let mut best = modules.contains(&absolute).then(|| absolute.clone());
    for segment in rest {
        absolute.push(segment.clone());
        if modules.contains(&absolute) {
            best = Some(absolute.clone());
        } else {
            break;
        }
    }
    best
}

fn graph() -> BTreeMap<Module, BTreeSet<Module>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    // `main.rs` is the binary, a crate of its own.
    files.retain(|file| !file.ends_with("main.rs"));
    let modules: BTreeSet<Module> = files.iter().map(|file| module_of(&src, file)).collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let module = module_of(&src, file);
        let children: BTreeSet<String> = modules
            .iter()
            .filter(|m| m.len() == module.len() + 1 && m.starts_with(&module))
            .map(|m| m.last().unwrap().clone())
            .collect();
        let code = code_of(&std::fs::read_to_string(file).unwrap());
        let edges: BTreeSet<Module> = paths_of(&tokens(&code), &children)
            .iter()
            .filter_map(|path| target(&module, path, &modules))
            .filter(|target| *target != module)
            .collect();
        graph.insert(module, edges);
    }
    graph
}

/// A cycle of the graph, if there is one.
fn find_cycle(graph: &BTreeMap<Module, BTreeSet<Module>>) -> Option<Vec<Module>> {
    fn visit(
        module: &Module,
        graph: &BTreeMap<Module, BTreeSet<Module>>,
        done: &mut BTreeSet<Module>,
        stack: &mut Vec<Module>,
    ) -> Option<Vec<Module>> {
        if let Some(at) = stack.iter().position(|m| m == module) {
            let mut cycle = stack[at..].to_vec();
            cycle.push(module.clone());
            return Some(cycle);
        }
        if done.contains(module) {
            return None;
        }
        stack.push(module.clone());
        for next in graph.get(module).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, stack) {
                return Some(cycle);
            }
        }
        stack.pop();
        done.insert(module.clone());
        None
    }
    let mut done = BTreeSet::new();
    graph.keys().find_map(|module| visit(module, graph, &mut done, &mut Vec::new()))
}

fn name(module: &Module) -> String {
    if module.is_empty() { "crate".into() } else { module.join("::") }
}

#[test]
fn the_modules_form_no_cycle() {
    let graph = graph();
    if let Some(cycle) = find_cycle(&graph) {
        let cycle: Vec<String> = cycle.iter().map(name).collect();
        panic!("the modules of s2i-cli form a cycle: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_dependencies_are_seen() {
    let graph = graph();
    let edges = |from: &str| -> Vec<String> {
        let module: Module = from.split("::").map(str::to_owned).collect();
        graph[&module].iter().map(name).collect()
    };
    // `use super::…` groups, a child's path in code, and `crate::…`.
    assert!(edges("commands::objects").contains(&"commands::kind".to_owned()), "{:?}", edges("commands::objects"));
    assert!(edges("commands").contains(&"commands::route::kind".to_owned()), "{:?}", edges("commands"));
    assert!(edges("commands::route::kind").contains(&"render".to_owned()), "{:?}", edges("commands::route::kind"));
}

#[test]
fn a_cycle_is_found() {
    let module = |path: &str| -> Module { path.split("::").map(str::to_owned).collect() };
    let mut graph = BTreeMap::new();
    graph.insert(module("a"), BTreeSet::from([module("b")]));
    graph.insert(module("b"), BTreeSet::from([module("c")]));
    graph.insert(module("c"), BTreeSet::from([module("a")]));
    let cycle = find_cycle(&graph).expect("a cycle");
    assert_eq!(cycle.iter().map(name).collect::<Vec<_>>(), ["a", "b", "c", "a"]);
    graph.insert(module("c"), BTreeSet::new());
    assert!(find_cycle(&graph).is_none());
    // `use super::{…}` in a file of commands/ names siblings.
    let code = code_of(
        "use super::{kind::{Kind, LibError}, session};\n// use crate::x;\nfn f() { builds::run(\"crate::y\") }",
    );
    let children = BTreeSet::from(["builds".to_owned()]);
    let paths = paths_of(&tokens(&code), &children);
    assert_eq!(
        paths,
        [
            vec!["super", "kind", "Kind"],
            vec!["super", "kind", "LibError"],
            vec!["super", "session"],
            vec!["builds", "run"]
        ]
    );
}
