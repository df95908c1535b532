//! Build environment: `.s2i/environment` in the source, `-e NAME=VALUE`, and
//! `-E FILE`, combined in that order (later entries win).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// One environment variable.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EnvVar {
    /// Name.
    pub name: String,
    /// Value.
    pub value: String,
}

impl EnvVar {
    /// `NAME=VALUE`, as container engines take it.
    pub fn to_entry(&self) -> String {
        format!("{}={}", self.name, self.value)
    }
}

/// Parse one `-e` value: split at the first `=`, trim both sides.
pub fn parse_env_arg(arg: &str) -> Result<EnvVar> {
    let Some((name, value)) = arg.split_once('=') else {
        return Err(Error::option(
            "--env",
            format!("{arg:?} has no '='"),
            "write it as NAME=VALUE, e.g. -e MESSAGE=hello",
        ));
    };
    let name = name.trim();
    if name.is_empty() {
        return Err(Error::option("--env", format!("{arg:?} has an empty name"), "write it as NAME=VALUE"));
    }
    if name.contains(char::is_whitespace) {
        return Err(Error::option(
            "--env",
            format!("name {name:?} contains white space"),
            "environment variable names cannot contain spaces",
        ));
    }
    Ok(EnvVar { name: name.to_owned(), value: value.trim().to_owned() })
}

/// Parse an environment file given with `-E`: one `NAME=VALUE` per line; blank
/// lines and lines starting with `#` or `//` are skipped. Lines without `=` are
/// errors that name the line, so a typo does not silently drop a variable.
pub(crate) fn parse_env_file(origin: &str, text: &str) -> Result<Vec<EnvVar>> {
    let mut vars = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("//") {
            continue;
        }
        match line.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                vars.push(EnvVar { name: name.trim().to_owned(), value: value.trim().to_owned() })
            }
            _ => {
                return Err(Error::option(
                    "--environment-file",
                    format!("{origin}:{}: {line:?} is not NAME=VALUE", index + 1),
                    "fix the line, or comment it out with #",
                ));
            }
        }
    }
    Ok(vars)
}

/// Parse `.s2i/environment` from the source: like the reference, lines starting
/// with `#` are comments and lines without `=` (or with an empty name) are skipped.
/// Returns the variables and the lines that were skipped.
pub(crate) fn parse_source_environment(text: &str) -> (Vec<EnvVar>, Vec<String>) {
    let mut vars = Vec::new();
    let mut skipped = Vec::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        match line.split_once('=') {
            Some((name, value)) if !name.trim().is_empty() => {
                vars.push(EnvVar { name: name.trim().to_owned(), value: value.trim().to_owned() })
            }
            _ => skipped.push(line.to_owned()),
        }
    }
    (vars, skipped)
}

/// Collapse duplicates: each name keeps its first position and its last value.
pub(crate) fn dedupe(vars: &[EnvVar]) -> Vec<EnvVar> {
    let mut out: Vec<EnvVar> = Vec::with_capacity(vars.len());
    for var in vars {
        match out.iter_mut().find(|v| v.name == var.name) {
            Some(existing) => existing.value.clone_from(&var.value),
            None => out.push(var.clone()),
        }
    }
    out
}

/// The text with the userinfo of URLs in `*proxy*` variables replaced by `redacted`.
pub fn redact(var: &EnvVar) -> String {
    if !var.name.to_ascii_lowercase().contains("proxy") {
        return var.to_entry();
    }
    format!("{}={}", var.name, redact_url_userinfo(&var.value))
}

/// Replace `user:password@` in every URL of `text` with `redacted@`.
pub fn redact_url_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(scheme_end) = rest.find("://") {
        let authority_start = scheme_end + 3;
        out.push_str(&rest[..authority_start]);
        rest = &rest[authority_start..];
        let authority_end = rest.find(['/', '?', '#', ' ', ',']).unwrap_or(rest.len());
        match rest[..authority_end].rfind('@') {
            Some(at) => {
                out.push_str("redacted");
                out.push_str(&rest[at..authority_end]);
            }
            None => out.push_str(&rest[..authority_end]),
        }
        rest = &rest[authority_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn var(name: &str, value: &str) -> EnvVar {
        EnvVar { name: name.into(), value: value.into() }
    }

    #[test]
    fn env_args_split_at_the_first_equals_and_trim() {
        assert_eq!(parse_env_arg(" A = b=c ").unwrap(), var("A", "b=c"));
        assert_eq!(parse_env_arg("EMPTY=").unwrap(), var("EMPTY", ""));
        assert!(parse_env_arg("NOEQUALS").is_err());
        assert!(parse_env_arg("=value").is_err());
        assert!(parse_env_arg("A B=1").is_err());
    }

    #[test]
    fn env_files_skip_comments_and_keep_order() {
        let vars = parse_env_file("f", "# c\n// c\n\nB=2\nA = 1 \n").unwrap();
        assert_eq!(vars, vec![var("B", "2"), var("A", "1")]);
        let err = parse_env_file("f", "A=1\noops\n").unwrap_err().to_string();
        assert!(err.contains("f:2"), "{err}");
    }

    #[test]
    fn source_environment_skips_bad_lines() {
        let (vars, skipped) = parse_source_environment("#x\nA=1\nbad\n=2\n");
        assert_eq!(vars, vec![var("A", "1")]);
        assert_eq!(skipped, vec!["bad".to_owned(), "=2".to_owned()]);
    }

    #[test]
    fn dedupe_keeps_first_position_and_last_value() {
        let vars = [var("A", "1"), var("B", "2"), var("A", "3")];
        assert_eq!(dedupe(&vars), vec![var("A", "3"), var("B", "2")]);
    }

    #[test]
    fn proxy_credentials_are_redacted() {
        assert_eq!(redact(&var("HTTP_PROXY", "http://user:pw@proxy:3128")), "HTTP_PROXY=http://redacted@proxy:3128");
        assert_eq!(redact(&var("no_proxy", "a,b")), "no_proxy=a,b");
        assert_eq!(redact(&var("TOKEN", "http://u:p@x")), "TOKEN=http://u:p@x");
        assert_eq!(redact_url_userinfo("https://a:b@h/p?q https://h2"), "https://redacted@h/p?q https://h2");
    }
}
