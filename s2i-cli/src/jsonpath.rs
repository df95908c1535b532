//! `-o jsonpath=TEMPLATE` and the paths of `-o custom-columns`: kubectl's
//! JSONPath templates. Text outside braces is printed as it is; inside
//! braces: a path (`{.metadata.name}`, `{.items[*].metadata.name}`,
//! `{.items[0]}`, `{.items[1:3]}`, `{..name}`,
//! `{.metadata.labels['app\.kubernetes\.io/name']}`,
//! `{.items[?(@.kind=="Route")].spec.host}`), a quoted literal (`{"\n"}`),
//! or `{range PATH}…{end}`, which runs its body once per element. The
//! values of one path are printed separated by spaces; strings as they
//! are, other values as JSON; a missing field prints nothing.

use serde_json::Value;

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Template {
    nodes: Vec<Node>,
}

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Path(Path),
    Range(Path, Vec<Node>),
}

/// A path: steps from the root (`$`, or the element of a `range`) or, in a filter, from `@`.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Path {
    steps: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq)]
enum Step {
    Field(String),
    AllFields,
    Descendants,
    Index(i64),
    Slice(Option<i64>, Option<i64>),
    Filter(Box<Filter>),
}

#[derive(Debug, Clone, PartialEq)]
struct Filter {
    path: Path,
    test: Option<(bool, Value)>,
}

impl Template {
    /// Parses a template; the error says what is wrong and where.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let mut stack: Vec<(Path, Vec<Node>)> = Vec::new();
        let mut nodes = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let Some(open) = rest.find('{') else {
                nodes.push(Node::Text(rest.to_owned()));
                break;
            };
            if open > 0 {
                nodes.push(Node::Text(rest[..open].to_owned()));
            }
            let after = &rest[open + 1..];
            let close = closing_brace(after).ok_or_else(|| format!("unclosed {{ at {:?}", &rest[open..]))?;
            let expression = after[..close].trim();
            rest = &after[close + 1..];
            if let Some(literal) = expression.strip_prefix('"') {
                nodes.push(Node::Text(unquote(literal, '"')?));
            } else if let Some(literal) = expression.strip_prefix('\'') {
                nodes.push(Node::Text(unquote(literal, '\'')?));
            } else if let Some(path) = expression.strip_prefix("range ") {
                stack.push((Path::parse(path.trim())?, std::mem::take(&mut nodes)));
            } else if expression == "end" {
                let (path, outer) = stack.pop().ok_or("{end} without {range …}")?;
                let body = std::mem::replace(&mut nodes, outer);
                nodes.push(Node::Range(path, body));
            } else {
                nodes.push(Node::Path(Path::parse(expression)?));
            }
        }
        if !stack.is_empty() {
            return Err("{range …} without {end}".to_owned());
        }
        Ok(Self { nodes })
    }

    /// The template's output for `value`.
    pub(crate) fn render(&self, value: &Value) -> String {
        let mut out = String::new();
        render_nodes(&self.nodes, value, value, &mut out);
        out
    }
}

fn render_nodes(nodes: &[Node], current: &Value, root: &Value, out: &mut String) {
    for node in nodes {
        match node {
            Node::Text(text) => out.push_str(text),
            Node::Path(path) => {
                let texts: Vec<String> = path.eval(current, root).into_iter().map(text_of).collect();
                out.push_str(&texts.join(" "));
            }
            Node::Range(path, body) => {
                let found = path.eval(current, root);
                let elements: Vec<&Value> = match found.as_slice() {
                    [Value::Array(items)] => items.iter().collect(),
                    _ => found,
                };
                for element in elements {
                    render_nodes(body, element, root, out);
                }
            }
        }
    }
}

/// A value as the template prints it: strings as they are, the rest as JSON.
pub(crate) fn text_of(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

/// Where the `}` closing an expression is, skipping quoted text.
fn closing_brace(text: &str) -> Option<usize> {
    let mut quote = None;
    let mut escaped = false;
    for (index, c) in text.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '}' => return Some(index),
            None => {}
        }
    }
    None
}

/// The text of a quoted literal whose opening quote is gone: `\n`, `\t`, `\\` and escaped quotes.
fn unquote(text: &str, quote: char) -> Result<String, String> {
    let body = text.strip_suffix(quote).ok_or_else(|| format!("unterminated literal {quote}{text}"))?;
    let mut out = String::new();
    let mut chars = body.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    Ok(out)
}

impl Path {
    /// Parses a path: `.a.b`, `$.a`, `@.a`, `a.b` (a leading dot is implied), with brackets.
    pub(crate) fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let body = text.strip_prefix('$').or_else(|| text.strip_prefix('@')).unwrap_or(text);
        let chars: Vec<char> = body.chars().collect();
        let mut steps = Vec::new();
        let mut at = 0;
        // `metadata.name` is read as `.metadata.name`, as kubectl's custom columns do.
        if chars.first().is_some_and(|c| *c != '.' && *c != '[') {
            let (name, next) = field_name(&chars, 0);
            steps.push(Step::Field(name));
            at = next;
        }
        while at < chars.len() {
            match chars[at] {
                '.' if chars.get(at + 1) == Some(&'.') => {
                    steps.push(Step::Descendants);
                    at += 2;
                    if chars.get(at).is_some_and(|c| *c != '[') {
                        let (name, next) = field_name(&chars, at);
                        steps.push(if name == "*" { Step::AllFields } else { Step::Field(name) });
                        at = next;
                    }
                }
                '.' => {
                    let (name, next) = field_name(&chars, at + 1);
                    if name.is_empty() {
                        // `.` alone is the current object; `.[0]` is its first element.
                        if next < chars.len() && chars[next] != '[' {
                            return Err(format!("empty field name in path {text:?}"));
                        }
                    } else {
                        steps.push(if name == "*" { Step::AllFields } else { Step::Field(name) });
                    }
                    at = next;
                }
                '[' => {
                    let close = bracket_end(&chars, at).ok_or_else(|| format!("unclosed [ in path {text:?}"))?;
                    let inside: String = chars[at + 1..close].iter().collect();
                    steps.push(bracket_step(inside.trim(), text)?);
                    at = close + 1;
                }
                other => return Err(format!("unexpected {other:?} in path {text:?}")),
            }
        }
        Ok(Self { steps })
    }

    /// The values the path selects from `current` (`root` for `$` in filters).
    pub(crate) fn eval<'a>(&self, current: &'a Value, root: &'a Value) -> Vec<&'a Value> {
        let mut found = vec![current];
        for step in &self.steps {
            let mut next = Vec::new();
            for value in found {
                step.apply(value, root, &mut next);
            }
            found = next;
        }
        found
    }
}

/// A field name from `at` up to an unescaped `.` or `[`; `\.` is a dot of the name.
fn field_name(chars: &[char], mut at: usize) -> (String, usize) {
    let mut name = String::new();
    while at < chars.len() {
        match chars[at] {
            '\\' if at + 1 < chars.len() => {
                name.push(chars[at + 1]);
                at += 2;
            }
            '.' | '[' => break,
            c => {
                name.push(c);
                at += 1;
            }
        }
    }
    (name, at)
}

/// The `]` that closes the `[` at `open`, skipping quotes and nested brackets.
fn bracket_end(chars: &[char], open: usize) -> Option<usize> {
    let mut depth = 0;
    let mut quote = None;
    for (index, c) in chars.iter().enumerate().skip(open) {
        match quote {
            Some(q) if *c == q => quote = None,
            Some(_) => {}
            None => match c {
                '"' | '\'' => quote = Some(*c),
                '[' => depth += 1,
                ']' => {
                    depth -= 1;
                    if depth == 0 {
                        return Some(index);
                    }
                }
                _ => {}
            },
        }
    }
    None
}

fn bracket_step(inside: &str, path: &str) -> Result<Step, String> {
    if inside == "*" {
        return Ok(Step::Slice(None, None));
    }
    if let Some(filter) = inside.strip_prefix("?(").and_then(|f| f.strip_suffix(')')) {
        return Ok(Step::Filter(Box::new(parse_filter(filter.trim(), path)?)));
    }
    if let Some(quoted) = inside.strip_prefix('\'').or_else(|| inside.strip_prefix('"')) {
        let quote = if inside.starts_with('\'') { '\'' } else { '"' };
        return Ok(Step::Field(unquote(quoted, quote)?));
    }
    let number = |text: &str| -> Result<Option<i64>, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(None);
        }
        text.parse().map(Some).map_err(|_| format!("{text:?} is not an index in path {path:?}"))
    };
    match inside.split_once(':') {
        Some((start, end)) => {
            let end = end.split_once(':').map_or(end, |(end, _step)| end);
            Ok(Step::Slice(number(start)?, number(end)?))
        }
        None => number(inside)?.map(Step::Index).ok_or_else(|| format!("empty [] in path {path:?}")),
    }
}

fn parse_filter(text: &str, path: &str) -> Result<Filter, String> {
    for (operator, equal) in [("==", true), ("!=", false)] {
        if let Some((left, right)) = text.split_once(operator) {
            let right = right.trim();
            let literal = if let Some(quoted) = right.strip_prefix('"') {
                Value::String(unquote(quoted, '"')?)
            } else if let Some(quoted) = right.strip_prefix('\'') {
                Value::String(unquote(quoted, '\'')?)
            } else {
                serde_json::from_str(right).map_err(|_| format!("{right:?} is not a literal in path {path:?}"))?
            };
            return Ok(Filter { path: Path::parse(left)?, test: Some((equal, literal)) });
        }
    }
    Ok(Filter { path: Path::parse(text)?, test: None })
}

impl Step {
    fn apply<'a>(&self, value: &'a Value, root: &'a Value, out: &mut Vec<&'a Value>) {
        match self {
            Step::Field(name) => out.extend(value.get(name.as_str())),
            Step::AllFields => match value {
                Value::Object(fields) => out.extend(fields.values()),
                Value::Array(items) => out.extend(items.iter()),
                _ => {}
            },
            Step::Descendants => descendants(value, out),
            Step::Index(index) => {
                if let Value::Array(items) = value {
                    let index = if *index < 0 { items.len() as i64 + index } else { *index };
                    out.extend(usize::try_from(index).ok().and_then(|index| items.get(index)));
                }
            }
            Step::Slice(start, end) => {
                if let Value::Array(items) = value {
                    let len = items.len() as i64;
                    let clamp = |bound: i64| (if bound < 0 { len + bound } else { bound }).clamp(0, len) as usize;
                    let start = start.map_or(0, clamp);
                    let end = end.map_or(items.len(), clamp);
                    if start < end {
                        out.extend(&items[start..end]);
                    }
                }
            }
            Step::Filter(filter) => {
                if let Value::Array(items) = value {
                    out.extend(items.iter().filter(|item| filter.keeps(item, root)));
                }
            }
        }
    }
}

impl Filter {
    fn keeps(&self, item: &Value, root: &Value) -> bool {
        let found = self.path.eval(item, root);
        match &self.test {
            None => !found.is_empty(),
            Some((equal, literal)) => found.contains(&literal) == *equal,
        }
    }
}

fn descendants<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    out.push(value);
    match value {
        Value::Object(fields) => fields.values().for_each(|child| descendants(child, out)),
        Value::Array(items) => items.iter().for_each(|child| descendants(child, out)),
        _ => {}
    }
}

/// The columns of `-o custom-columns=HEADER:PATH,…`; a path may be written
/// `.a.b`, `a.b` or `{.a.b}`.
pub(crate) fn parse_columns(spec: &str) -> Result<Vec<(String, Path)>, String> {
    let mut columns = Vec::new();
    for column in split_columns(spec) {
        let (header, path) = column
            .split_once(':')
            .filter(|(header, path)| !header.is_empty() && !path.is_empty())
            .ok_or_else(|| format!("the column {column:?} is not HEADER:PATH"))?;
        let path = path.strip_prefix('{').and_then(|p| p.strip_suffix('}')).unwrap_or(path);
        columns.push((header.to_owned(), Path::parse(path)?));
    }
    if columns.is_empty() {
        return Err("no columns given: write HEADER:PATH,…".to_owned());
    }
    Ok(columns)
}

/// The columns of a spec: split at commas outside brackets (a filter may hold one).
fn split_columns(spec: &str) -> Vec<&str> {
    let mut columns = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (index, c) in spec.char_indices() {
        match c {
            '[' | '(' => depth += 1,
            ']' | ')' => depth -= 1,
            ',' if depth == 0 => {
                columns.push(&spec[start..index]);
                start = index + 1;
            }
            _ => {}
        }
    }
    if start < spec.len() {
        columns.push(&spec[start..]);
    }
    columns
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn list() -> Value {
        json!({
            "kind": "List",
            "items": [
                {"kind": "Service", "metadata": {"name": "web", "labels": {"app.kubernetes.io/name": "shop"}},
                 "spec": {"ports": [{"port": 80}, {"port": 443}]}},
                {"kind": "Route", "metadata": {"name": "front"}, "spec": {"host": "shop.apps.localhost"}}
            ]
        })
    }

    fn render(template: &str, value: &Value) -> String {
        Template::parse(template).unwrap_or_else(|e| panic!("{template}: {e}")).render(value)
    }

    #[test]
    fn fields_lists_and_literals() {
        let list = list();
        assert_eq!(render("{.items[0].metadata.name}", &list), "web");
        assert_eq!(render("{.items[*].metadata.name}", &list), "web front");
        assert_eq!(render("names: {.items[*].metadata.name}{\"\\n\"}", &list), "names: web front\n");
        assert_eq!(render("{.items[-1].kind}", &list), "Route");
        assert_eq!(render("{.items[0:1].kind}", &list), "Service");
        assert_eq!(render("{.items[0].spec.ports[*].port}", &list), "80 443");
        assert_eq!(render("{.items[0].spec.ports[0]}", &list), "{\"port\":80}");
        assert_eq!(render("{.items[3].kind}{.nothing.here}", &list), "");
        assert_eq!(render("{$.kind}", &list), "List");
    }

    #[test]
    fn range_runs_its_body_per_element() {
        let template = "{range .items[*]}{.kind}/{.metadata.name}{\"\\n\"}{end}";
        assert_eq!(render(template, &list()), "Service/web\nRoute/front\n");
        let nested = "{range .items[*]}{.metadata.name}:{range .spec.ports[*]} {.port}{end};{end}";
        assert_eq!(render(nested, &list()), "web: 80 443;front:;");
    }

    #[test]
    fn escaped_dots_brackets_filters_and_recursion() {
        let list = list();
        assert_eq!(render(r"{.items[0].metadata.labels.app\.kubernetes\.io/name}", &list), "shop");
        assert_eq!(render("{.items[0].metadata.labels['app.kubernetes.io/name']}", &list), "shop");
        assert_eq!(render("{.items[?(@.kind==\"Route\")].spec.host}", &list), "shop.apps.localhost");
        assert_eq!(render("{.items[?(@.kind!='Route')].metadata.name}", &list), "web");
        assert_eq!(render("{.items[?(@.spec.host)].metadata.name}", &list), "front");
        assert_eq!(render("{..port}", &list), "80 443");
    }

    #[test]
    fn relaxed_paths_as_custom_columns_write_them() {
        let object = json!({"metadata": {"name": "web"}});
        for path in [".metadata.name", "metadata.name", "{.metadata.name}".trim_matches(['{', '}'])] {
            let found: Vec<String> =
                Path::parse(path).unwrap().eval(&object, &object).into_iter().map(text_of).collect();
            assert_eq!(found, ["web"], "{path}");
        }
    }

    #[test]
    fn custom_columns_are_header_and_path_pairs() {
        let columns = parse_columns("NAME:.metadata.name,PORTS:{.spec.ports[*].port},HOST:spec.host").unwrap();
        let headers: Vec<&str> = columns.iter().map(|(header, _)| header.as_str()).collect();
        assert_eq!(headers, ["NAME", "PORTS", "HOST"]);
        let service = &list()["items"][0];
        let ports: Vec<String> = columns[1].1.eval(service, service).into_iter().map(text_of).collect();
        assert_eq!(ports, ["80", "443"]);
        assert!(parse_columns("NAME").unwrap_err().contains("HEADER:PATH"));
        assert!(parse_columns("").is_err());
    }

    #[test]
    fn malformed_templates_are_refused() {
        for (template, problem) in [
            ("{.a", "unclosed {"),
            ("{range .items[*]}{.a}", "without {end}"),
            ("{end}", "without {range"),
            ("{.a[}", "unclosed ["),
            ("{.a[x]}", "not an index"),
            ("{\"open}", "unclosed {"),
        ] {
            let error = Template::parse(template).unwrap_err();
            assert!(error.contains(problem), "{template}: {error}");
        }
    }
}
