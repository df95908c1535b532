//! Image references (pull specs): the workspace's one parser for them
//! (`s2i_core::reference` re-exports it, and [`crate::transport`] uses it for
//! `docker://` and `docker-daemon:` names).
//!
//! Grammar (distribution reference):
//!
//! ```text
//! reference  := name [ ":" tag ] [ "@" digest ]
//! name       := [ domain "/" ] component ( "/" component )*
//! domain     := host-component ( "." host-component )* [ ":" port ]
//! component  := [a-z0-9]+ ( separator [a-z0-9]+ )*    separator := "." | "_" | "__" | "-"+
//! tag        := [\w][\w.-]{0,127}
//! digest     := algorithm ":" hex (32 or more hex digits)
//! ```
//!
//! The first path element is a registry only when it contains `.` or `:`, or
//! is `localhost`, and more elements follow.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The registry images without a registry come from.
pub const DEFAULT_REGISTRY: &str = "docker.io";
/// The tag of an image reference without tag or digest.
pub const DEFAULT_TAG: &str = "latest";
const MAX_NAME_LEN: usize = 255;

/// A parsed image reference, e.g. `quay.io/org/app:1.0@sha256:…`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ImageReference {
    /// Registry host with optional port, e.g. `quay.io` or `127.0.0.1:5000`; `None` for the default registry.
    pub registry: Option<String>,
    /// Repository path inside the registry, e.g. `org/app` or `busybox`.
    pub repository: String,
    /// Tag, if given.
    pub tag: Option<String>,
    /// Digest (`sha256:…`), if given.
    pub digest: Option<String>,
}

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid image reference {input:?}: {reason}")]
pub struct ReferenceError {
    /// The string that failed to parse.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ImageReference {
    /// Parse a reference as written by a user.
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        let fail = |reason: &str| ReferenceError { input: input.to_owned(), reason: reason.to_owned() };
        if input.is_empty() {
            return Err(fail("the reference is empty"));
        }
        let (rest, digest) = match input.split_once('@') {
            Some((rest, digest)) => {
                validate_digest(digest).map_err(|reason| fail(&reason))?;
                (rest, Some(digest.to_owned()))
            }
            None => (input, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let tag = &rest[last_slash + i + 1..];
                if !is_valid_tag(tag) {
                    return Err(fail(&format!(
                        "tag {tag:?} must start with a letter, digit or '_' and hold at most 128 letters, digits, '_', '.' or '-'"
                    )));
                }
                (&rest[..last_slash + i], Some(tag.to_owned()))
            }
            None => (rest, None),
        };
        if name.is_empty() {
            return Err(fail("the repository name is empty"));
        }
        if name.len() > MAX_NAME_LEN {
            return Err(fail("the repository name is longer than 255 characters"));
        }
        let (registry, repository) = match name.split_once('/') {
            Some((first, path)) if first.contains(['.', ':']) || first == "localhost" => {
                validate_domain(first).map_err(|reason| fail(&reason))?;
                (Some(first.to_owned()), path)
            }
            _ => (None, name),
        };
        for component in repository.split('/') {
            if !is_valid_component(component) {
                let reason = if component.chars().any(|c| c.is_ascii_uppercase()) {
                    format!("repository name component {component:?} must be lower case")
                } else {
                    format!(
                        "repository name component {component:?} must be lower-case letters and digits, separated by '.', '_', '__' or '-'"
                    )
                };
                return Err(fail(&reason));
            }
        }
        Ok(Self { registry, repository: repository.to_owned(), tag, digest })
    }

    /// The registry the reference points at, with the default filled in.
    pub fn registry_or_default(&self) -> &str {
        self.registry.as_deref().unwrap_or(DEFAULT_REGISTRY)
    }

    /// Whether the registry is Docker Hub.
    pub fn is_docker_hub(&self) -> bool {
        matches!(self.registry_or_default(), "docker.io" | "index.docker.io" | "registry-1.docker.io")
    }

    /// The fully qualified form: `docker.io/library/busybox:latest` for `busybox`.
    ///
    /// The tag `latest` is added only when there is neither tag nor digest.
    pub fn normalized(&self) -> Self {
        let registry = self.registry_or_default().to_owned();
        let hub = self.is_docker_hub();
        let repository = if hub && !self.repository.contains('/') {
            format!("library/{}", self.repository)
        } else {
            self.repository.clone()
        };
        let tag = match (&self.tag, &self.digest) {
            (None, None) => Some(DEFAULT_TAG.to_owned()),
            (tag, _) => tag.clone(),
        };
        Self {
            registry: Some(if hub { DEFAULT_REGISTRY.to_owned() } else { registry }),
            repository,
            tag,
            digest: self.digest.clone(),
        }
    }

    /// Registry and repository without tag or digest, e.g. `quay.io/org/app`.
    pub fn name(&self) -> String {
        match &self.registry {
            Some(registry) => format!("{registry}/{}", self.repository),
            None => self.repository.clone(),
        }
    }

    /// The name a container engine resolves: the reference with `:latest` added when it has neither tag nor digest.
    pub fn engine_name(&self) -> String {
        let mut out = self.to_string();
        if self.tag.is_none() && self.digest.is_none() {
            out.push(':');
            out.push_str(DEFAULT_TAG);
        }
        out
    }

    /// The tag, or `latest` when none is given.
    pub fn tag_or_default(&self) -> &str {
        self.tag.as_deref().unwrap_or(DEFAULT_TAG)
    }

    /// The same reference with `tag` as its tag when it has neither tag nor digest.
    pub fn or_tag(mut self, tag: &str) -> Self {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(tag.to_owned());
        }
        self
    }

    /// OpenShift's split of the repository path: the first component as namespace
    /// and the rest as name (`org/team/app` → `org`, `team/app`). A single component has no namespace.
    pub fn namespace_and_name(&self) -> (Option<&str>, &str) {
        match self.repository.split_once('/') {
            Some((namespace, name)) => (Some(namespace), name),
            None => (None, &self.repository),
        }
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(registry) = &self.registry {
            write!(f, "{registry}/")?;
        }
        f.write_str(&self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for ImageReference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Whether `tag` matches `[\w][\w.-]{0,127}`.
pub fn is_valid_tag(tag: &str) -> bool {
    let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut chars = tag.chars();
    matches!(chars.next(), Some(c) if word(c)) && tag.len() <= 128 && chars.all(|c| word(c) || c == '.' || c == '-')
}

/// Whether `component` matches `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`.
pub fn is_valid_component(component: &str) -> bool {
    let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes = component.as_bytes();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let ok = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn validate_domain(domain: &str) -> Result<(), String> {
    let (host, port) = match domain.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    if let Some(port) = port
        && (port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(format!("registry port {port:?} must be a number"));
    }
    let valid_part = |part: &str| {
        let bytes = part.as_bytes();
        !bytes.is_empty()
            && bytes[0].is_ascii_alphanumeric()
            && bytes[bytes.len() - 1].is_ascii_alphanumeric()
            && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
    };
    if host.split('.').all(valid_part) {
        Ok(())
    } else {
        Err(format!("registry host {host:?} is not a valid host name"))
    }
}

/// Check a digest: `algorithm:hex` with at least 32 hex digits.
pub fn validate_digest(digest: &str) -> Result<(), String> {
    let Some((algorithm, hex)) = digest.split_once(':') else {
        return Err(format!("digest {digest:?} must look like sha256:<hex>"));
    };
    let algorithm_ok = !algorithm.is_empty()
        && algorithm.split(['-', '_', '+', '.']).all(|part| {
            let mut chars = part.chars();
            matches!(chars.next(), Some(c) if c.is_ascii_alphabetic()) && chars.all(|c| c.is_ascii_alphanumeric())
        });
    if !algorithm_ok {
        return Err(format!("digest algorithm {algorithm:?} is not valid"));
    }
    if hex.len() < 32 || !hex.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
        return Err(format!("digest {digest:?} must have at least 32 lower-case hex digits"));
    }
    if algorithm == "sha256" && hex.len() != 64 {
        return Err(format!("sha256 digest {digest:?} must have 64 hex digits"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_the_usual_forms() {
        type Case<'a> = (&'a str, Option<&'a str>, &'a str, Option<&'a str>, bool);
        let cases: &[Case<'_>] = &[
            ("busybox", None, "busybox", None, false),
            ("busybox:1.36", None, "busybox", Some("1.36"), false),
            ("library/busybox", None, "library/busybox", None, false),
            ("quay.io/org/team/app:1", Some("quay.io"), "org/team/app", Some("1"), false),
            ("127.0.0.1:5000/team/app", Some("127.0.0.1:5000"), "team/app", None, false),
            ("localhost/app:dev", Some("localhost"), "app", Some("dev"), false),
            ("localhost:5000/app", Some("localhost:5000"), "app", None, false),
            ("app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", None, "app", None, true),
            ("s2i-fixtures/busybox-builder", None, "s2i-fixtures/busybox-builder", None, false),
            ("a__b/c-----d", None, "a__b/c-----d", None, false),
        ];
        for (input, registry, repository, tag, digest) in cases {
            let r = ImageReference::parse(input).unwrap();
            assert_eq!(r.registry.as_deref(), *registry, "{input}");
            assert_eq!(r.repository, *repository, "{input}");
            assert_eq!(r.tag.as_deref(), *tag, "{input}");
            assert_eq!(r.digest.is_some(), *digest, "{input}");
            assert_eq!(r.to_string(), *input, "round trip of {input}");
        }
    }

    #[test]
    fn tag_and_digest_together() {
        let r = ImageReference::parse(&format!("quay.io/org/app:1@{DIGEST}")).unwrap();
        assert_eq!(r.tag.as_deref(), Some("1"));
        assert_eq!(r.digest.as_deref(), Some(DIGEST));
        assert_eq!(r.namespace_and_name(), (Some("org"), "app"));
    }

    #[test]
    fn rejects_invalid_references() {
        for input in [
            "",
            "Busybox",
            "busybox:",
            ":tag",
            "a//b",
            "-a",
            "a-",
            "a:b:c",
            "app@sha256:123",
            "a..b",
            "a/b:-tag",
            "host:port/app",
            "a/B",
        ] {
            assert!(ImageReference::parse(input).is_err(), "{input} should be rejected");
        }
        let long_tag = format!("app:{}", "a".repeat(129));
        assert!(ImageReference::parse(&long_tag).is_err());
        let long_name = "a".repeat(256);
        assert!(ImageReference::parse(&long_name).is_err());
    }

    #[test]
    fn normalizes_like_the_docker_client() {
        let n = |s: &str| ImageReference::parse(s).unwrap().normalized().to_string();
        assert_eq!(n("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(n("a/b"), "docker.io/a/b:latest");
        assert_eq!(n("index.docker.io/busybox:1"), "docker.io/library/busybox:1");
        assert_eq!(n("quay.io/a/b"), "quay.io/a/b:latest");
        assert_eq!(n(&format!("app@{DIGEST}")), format!("docker.io/library/app@{DIGEST}"));
    }

    #[test]
    fn engine_name_adds_latest_only_when_needed() {
        let e = |s: &str| ImageReference::parse(s).unwrap().engine_name();
        assert_eq!(e("busybox"), "busybox:latest");
        assert_eq!(e("busybox:1"), "busybox:1");
        assert_eq!(e(&format!("busybox@{DIGEST}")), format!("busybox@{DIGEST}"));
    }
}
