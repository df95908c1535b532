//! The packages an application declares, read from the lock files of its
//! ecosystem: `package-lock.json`/`npm-shrinkwrap.json` (npm), `requirements*.txt`
//! and `poetry.lock` (Python), `Gemfile.lock` (Ruby), `go.sum` (Go) and
//! `pom.xml` (Maven, direct dependencies).
//!
//! Lock files under dependency caches and vendored trees (`node_modules`,
//! `vendor`, `site-packages`, `.m2`, `.cache`, `pkg/mod`) are the
//! dependencies' own and are not read: they would list what the
//! dependencies were developed with, not what the application uses.

use std::collections::BTreeMap;

/// A lock file larger than this is not read (and reported).
pub const MAX_LOCK_FILE_SIZE: u64 = 16 * 1024 * 1024;

/// Directories whose lock files belong to dependencies, not the application.
const DEPENDENCY_DIRS: &[&str] = &["node_modules", "vendor", "site-packages", ".m2", ".cache"];

/// The ecosystem of a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Ecosystem {
    /// npm.
    Npm,
    /// PyPI.
    PyPi,
    /// RubyGems.
    Gem,
    /// Go modules.
    Golang,
    /// Maven.
    Maven,
}

/// A package named by a lock file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LockedPackage {
    /// Its ecosystem.
    pub ecosystem: Ecosystem,
    /// Maven's group id; npm's scope is part of the name (`@scope/name`).
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
    /// The version, when the file pins one.
    pub version: Option<String>,
}

impl LockedPackage {
    /// The package URL (`pkg:npm/%40scope/name@1.0.0`, `pkg:maven/g/a@v`, …).
    pub fn purl(&self) -> String {
        let kind = match self.ecosystem {
            Ecosystem::Npm => "npm",
            Ecosystem::PyPi => "pypi",
            Ecosystem::Gem => "gem",
            Ecosystem::Golang => "golang",
            Ecosystem::Maven => "maven",
        };
        let path = match (&self.namespace, self.ecosystem) {
            (Some(namespace), _) => format!("{}/{}", encode_path(namespace), encode(&self.name)),
            // Go module paths and npm scopes are purl namespaces.
            (None, Ecosystem::Golang) => encode_path(&self.name),
            (None, Ecosystem::Npm) => match self.name.split_once('/') {
                Some((scope, name)) => format!("{}/{}", encode(scope), encode(name)),
                None => encode(&self.name),
            },
            (None, _) => encode(&self.name),
        };
        match &self.version {
            Some(version) => format!("pkg:{kind}/{path}@{}", encode(version)),
            None => format!("pkg:{kind}/{path}"),
        }
    }
}

/// Whether the file at `path` (in the layer) is a lock file this module reads.
pub fn is_lock_file(path: &[u8]) -> bool {
    let Ok(path) = std::str::from_utf8(path) else { return false };
    let components: Vec<&str> = path.split('/').collect();
    let dirs = &components[..components.len() - 1];
    if dirs.iter().any(|dir| DEPENDENCY_DIRS.contains(dir)) || dirs.windows(2).any(|pair| pair == ["pkg", "mod"]) {
        return false;
    }
    let name = components[components.len() - 1];
    matches!(name, "package-lock.json" | "npm-shrinkwrap.json" | "poetry.lock" | "Gemfile.lock" | "go.sum" | "pom.xml")
        || (name.starts_with("requirements") && name.ends_with(".txt"))
}

/// The packages of the lock file at `path` with `content`; `Err` with what
/// is wrong when it does not parse.
pub fn parse(path: &[u8], content: &[u8]) -> Result<Vec<LockedPackage>, String> {
    let name = String::from_utf8_lossy(path);
    let name = name.rsplit('/').next().unwrap_or_default();
    let text = std::str::from_utf8(content).map_err(|_| "it is not UTF-8 text".to_owned())?;
    match name {
        "package-lock.json" | "npm-shrinkwrap.json" => npm(text),
        "poetry.lock" => Ok(poetry(text)),
        "Gemfile.lock" => Ok(gemfile(text)),
        "go.sum" => go_sum(text),
        "pom.xml" => Ok(pom(text)),
        _ => Ok(requirements(text)),
    }
}

fn package(ecosystem: Ecosystem, name: &str, version: Option<&str>) -> LockedPackage {
    LockedPackage {
        ecosystem,
        namespace: None,
        name: name.to_owned(),
        version: version.filter(|v| !v.is_empty()).map(str::to_owned),
    }
}

/// npm: lockfile v2/v3 `packages` (keys `node_modules/…`), else v1 `dependencies` (nested).
fn npm(text: &str) -> Result<Vec<LockedPackage>, String> {
    let document: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut found = Vec::new();
    if let Some(packages) = document.get("packages").and_then(|p| p.as_object()) {
        for (key, entry) in packages {
            let Some(at) = key.rfind("node_modules/") else { continue };
            if entry.get("link").and_then(|l| l.as_bool()) == Some(true) {
                continue;
            }
            let name = entry.get("name").and_then(|n| n.as_str()).unwrap_or(&key[at + "node_modules/".len()..]);
            found.push(package(Ecosystem::Npm, name, entry.get("version").and_then(|v| v.as_str())));
        }
        return Ok(found);
    }
    fn walk(dependencies: &serde_json::Map<String, serde_json::Value>, found: &mut Vec<LockedPackage>) {
        for (name, entry) in dependencies {
            found.push(package(Ecosystem::Npm, name, entry.get("version").and_then(|v| v.as_str())));
            if let Some(nested) = entry.get("dependencies").and_then(|d| d.as_object()) {
                walk(nested, found);
            }
        }
    }
    match document.get("dependencies").and_then(|d| d.as_object()) {
        Some(dependencies) => walk(dependencies, &mut found),
        None if document.get("lockfileVersion").is_none() => {
            return Err("it has neither `packages` nor `dependencies` nor `lockfileVersion`".to_owned());
        }
        None => {}
    }
    Ok(found)
}

/// pip requirements: `name==version` is pinned; other requirements are
/// recorded without a version; options, includes, URLs and paths are skipped.
fn requirements(text: &str) -> Vec<LockedPackage> {
    let joined = text.replace("\\\r\n", " ").replace("\\\n", " ");
    let mut found = Vec::new();
    for line in joined.lines() {
        let line = line.split(" #").next().unwrap_or_default().trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with('-') {
            continue;
        }
        // Environment markers and hashes follow `;` or ` --`.
        let requirement = line.split(';').next().unwrap_or_default().split(" --").next().unwrap_or_default().trim();
        if requirement.contains("://") && !requirement.contains(" @ ") {
            continue;
        }
        let end = requirement
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(requirement.len());
        let name = &requirement[..end];
        if name.is_empty() {
            continue;
        }
        let mut rest = requirement[end..].trim_start();
        if rest.starts_with('[') {
            rest = rest.split_once(']').map_or("", |(_, after)| after.trim_start());
        }
        let version = rest
            .strip_prefix("===")
            .or_else(|| rest.strip_prefix("=="))
            .map(str::trim)
            .filter(|v| !v.contains(['*', ',', ' ']));
        found.push(package(Ecosystem::PyPi, &pep503(name), version));
    }
    found
}

/// The normalised form of a Python project name (PEP 503).
fn pep503(name: &str) -> String {
    let mut normal = String::new();
    let mut separator = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            separator = true;
            continue;
        }
        if separator && !normal.is_empty() {
            normal.push('-');
        }
        separator = false;
        normal.push(c.to_ascii_lowercase());
    }
    normal
}

/// poetry.lock: each `[[package]]` table's `name` and `version`.
fn poetry(text: &str) -> Vec<LockedPackage> {
    let mut found = Vec::new();
    let mut current: Option<(Option<String>, Option<String>)> = None;
    let mut finish = |current: &mut Option<(Option<String>, Option<String>)>| {
        if let Some((Some(name), version)) = current.take() {
            found.push(package(Ecosystem::PyPi, &pep503(&name), version.as_deref()));
        }
    };
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            finish(&mut current);
            if line == "[[package]]" {
                current = Some((None, None));
            }
            continue;
        }
        let Some((name, version)) = current.as_mut() else { continue };
        let Some((key, value)) = line.split_once('=') else { continue };
        let value = value.trim().trim_matches('"').to_owned();
        match key.trim() {
            "name" => *name = Some(value),
            "version" => *version = Some(value),
            _ => {}
        }
    }
    finish(&mut current);
    found
}

/// Gemfile.lock: the `specs:` of the `GEM` section, gems at four spaces.
fn gemfile(text: &str) -> Vec<LockedPackage> {
    let mut found = Vec::new();
    let mut section = "";
    let mut in_specs = false;
    for line in text.lines() {
        if !line.starts_with(' ') {
            section = line.trim();
            in_specs = false;
            continue;
        }
        if line.trim() == "specs:" {
            in_specs = true;
            continue;
        }
        if section != "GEM" || !in_specs || !line.starts_with("    ") || line.starts_with("     ") {
            continue;
        }
        let entry = line.trim();
        let (name, version) = match entry.split_once(" (") {
            Some((name, version)) => (name, Some(version.trim_end_matches(')'))),
            None => (entry, None),
        };
        found.push(package(Ecosystem::Gem, name, version));
    }
    found
}

/// go.sum: `module version hash`, without the `/go.mod`-only lines of
/// modules whose code is not needed.
fn go_sum(text: &str) -> Result<Vec<LockedPackage>, String> {
    let mut modules: BTreeMap<(String, String), bool> = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.is_empty() {
            continue;
        }
        let [module, version, hash] = fields[..] else {
            return Err(format!("line {} is not `module version hash`", number + 1));
        };
        if !hash.starts_with("h1:") {
            return Err(format!("line {} has no h1: hash", number + 1));
        }
        match version.strip_suffix("/go.mod") {
            Some(version) => {
                modules.entry((module.to_owned(), version.to_owned())).or_insert(false);
            }
            None => {
                modules.insert((module.to_owned(), version.to_owned()), true);
            }
        }
    }
    Ok(modules
        .into_iter()
        .filter(|(_, has_code)| *has_code)
        .map(|((module, version), _)| package(Ecosystem::Golang, &module, Some(&version)))
        .collect())
}

/// pom.xml: the `<dependency>` elements of the project's `<dependencies>`
/// (not of `<dependencyManagement>` or build plugins), with `${property}`
/// versions resolved from `<properties>` where they are simple.
fn pom(text: &str) -> Vec<LockedPackage> {
    let mut xml = strip_between(text, "<!--", "-->");
    for section in ["dependencyManagement", "build", "profiles", "reporting"] {
        xml = strip_between(&xml, &format!("<{section}>"), &format!("</{section}>"));
    }
    let properties: BTreeMap<String, String> = element(&xml, "properties")
        .map(|block| {
            let mut found = BTreeMap::new();
            let mut rest = block;
            while let Some(open) = rest.find('<') {
                let Some(close) = rest[open..].find('>') else { break };
                let name = &rest[open + 1..open + close];
                if name.starts_with('/') || name.ends_with('/') {
                    rest = &rest[open + close + 1..];
                    continue;
                }
                if let Some(value) = element(rest, name) {
                    found.insert(name.to_owned(), value.trim().to_owned());
                }
                let end_tag = format!("</{name}>");
                rest = rest.find(&end_tag).map_or("", |end| &rest[end + end_tag.len()..]);
            }
            found
        })
        .unwrap_or_default();
    let mut found = Vec::new();
    let mut rest = xml.as_str();
    while let Some(start) = rest.find("<dependency>") {
        let Some(end) = rest[start..].find("</dependency>") else { break };
        let block = &rest[start..start + end];
        rest = &rest[start + end..];
        let (Some(group), Some(artifact)) = (element(block, "groupId"), element(block, "artifactId")) else {
            continue;
        };
        let version = element(block, "version").map(str::trim).and_then(|v| match v.strip_prefix("${") {
            Some(property) => properties.get(property.trim_end_matches('}')).cloned(),
            None => Some(v.to_owned()),
        });
        found.push(LockedPackage {
            ecosystem: Ecosystem::Maven,
            namespace: Some(group.trim().to_owned()),
            name: artifact.trim().to_owned(),
            version: version.filter(|v| !v.contains("${")),
        });
    }
    found
}

/// The text of the first `<name>…</name>` in `xml`.
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&close)?;
    Some(&xml[start..start + end])
}

/// `text` without what lies between `open` and `close` (inclusive).
fn strip_between(text: &str, open: &str, close: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(open) {
        out.push_str(&rest[..start]);
        match rest[start..].find(close) {
            Some(end) => rest = &rest[start + end + close.len()..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

/// Percent-encode a purl segment (RFC 3986 unreserved characters stay).
fn encode(segment: &str) -> String {
    let mut out = String::new();
    for byte in segment.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Percent-encode each `/`-separated segment of a purl namespace.
fn encode_path(path: &str) -> String {
    path.split('/').map(encode).collect::<Vec<_>>().join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purls(path: &str, content: &str) -> Vec<String> {
        let mut purls: Vec<String> =
            parse(path.as_bytes(), content.as_bytes()).unwrap().iter().map(|p| p.purl()).collect();
        purls.sort();
        purls
    }

    #[test]
    fn which_files_are_lock_files() {
        for yes in ["app/package-lock.json", "requirements.txt", "src/requirements-dev.txt", "go.sum", "a/pom.xml"] {
            assert!(is_lock_file(yes.as_bytes()), "{yes}");
        }
        for no in [
            "app/node_modules/x/package-lock.json",
            "go/pkg/mod/github.com/x@v1/go.sum",
            "vendor/y/go.sum",
            "package.json",
            "readme.txt",
        ] {
            assert!(!is_lock_file(no.as_bytes()), "{no}");
        }
    }

    #[test]
    fn npm_v1_and_v3() {
        let v1 = r#"{"lockfileVersion":1,"dependencies":{"express":{"version":"4.18.2","dependencies":{"debug":{"version":"2.6.9"}}},"@types/node":{"version":"20.1.0"}}}"#;
        assert_eq!(
            purls("package-lock.json", v1),
            ["pkg:npm/%40types/node@20.1.0", "pkg:npm/debug@2.6.9", "pkg:npm/express@4.18.2"]
        );
        let v3 = r#"{"lockfileVersion":3,"packages":{"":{"name":"app","version":"1.0.0"},"node_modules/express":{"version":"4.18.2"},"node_modules/express/node_modules/debug":{"version":"2.6.9"},"node_modules/local":{"link":true}}}"#;
        assert_eq!(purls("package-lock.json", v3), ["pkg:npm/debug@2.6.9", "pkg:npm/express@4.18.2"]);
        assert!(parse(b"package-lock.json", b"{\"x\":1}").is_err());
        assert!(parse(b"package-lock.json", b"not json").is_err());
    }

    #[test]
    fn requirements_pins_and_unpinned() {
        let text = "# comment\nFlask==2.3.2\nrequests[security] == 2.31.0 ; python_version > '3'\n\
                    gunicorn>=20\n-r other.txt\n--index-url https://x\nZope.Interface==6.0 \\\n    --hash=sha256:abc\n\
                    git+https://github.com/x/y.git\n";
        assert_eq!(
            purls("requirements.txt", text),
            ["pkg:pypi/flask@2.3.2", "pkg:pypi/gunicorn", "pkg:pypi/requests@2.31.0", "pkg:pypi/zope-interface@6.0"]
        );
    }

    #[test]
    fn poetry_gemfile_go_and_maven() {
        let poetry = "[[package]]\nname = \"Django\"\nversion = \"4.2.1\"\n\n[package.dependencies]\nasgiref = \">=3.6\"\n\n[[package]]\nname = \"asgiref\"\nversion = \"3.7.2\"\n\n[metadata]\nlock-version = \"2.0\"\n";
        assert_eq!(purls("poetry.lock", poetry), ["pkg:pypi/asgiref@3.7.2", "pkg:pypi/django@4.2.1"]);

        let gemfile = "GEM\n  remote: https://rubygems.org/\n  specs:\n    rack (3.0.8)\n    sinatra (3.1.0)\n      rack (~> 2.2)\n\nPLATFORMS\n  ruby\n\nDEPENDENCIES\n  sinatra\n";
        assert_eq!(purls("Gemfile.lock", gemfile), ["pkg:gem/rack@3.0.8", "pkg:gem/sinatra@3.1.0"]);

        let go = "github.com/pkg/errors v0.9.1 h1:abc=\ngithub.com/pkg/errors v0.9.1/go.mod h1:def=\ngolang.org/x/sys v0.1.0/go.mod h1:ghi=\n";
        assert_eq!(purls("go.sum", go), ["pkg:golang/github.com/pkg/errors@v0.9.1"]);
        assert!(parse(b"go.sum", b"broken line\n").is_err());

        let pom = "<project><properties><junit.version>5.10.0</junit.version></properties>\
            <dependencyManagement><dependencies><dependency><groupId>m</groupId><artifactId>managed</artifactId><version>1</version></dependency></dependencies></dependencyManagement>\
            <dependencies><!-- <dependency><groupId>c</groupId><artifactId>commented</artifactId></dependency> -->\
            <dependency><groupId>org.junit</groupId><artifactId>junit</artifactId><version>${junit.version}</version></dependency>\
            <dependency><groupId>com.x</groupId><artifactId>lib</artifactId></dependency></dependencies>\
            <build><plugins><plugin><dependencies><dependency><groupId>p</groupId><artifactId>plug</artifactId></dependency></dependencies></plugin></plugins></build></project>";
        assert_eq!(purls("pom.xml", pom), ["pkg:maven/com.x/lib", "pkg:maven/org.junit/junit@5.10.0"]);
    }
}
