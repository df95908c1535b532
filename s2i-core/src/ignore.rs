//! Which source files go into the build: `.s2iignore` rules and the
//! `--exclude` regular expression, applied while the source is walked.

use std::collections::BTreeSet;

use globset::{GlobBuilder, GlobMatcher};
use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The default `--exclude`: any `.git` path component.
pub const DEFAULT_EXCLUDE: &str = r"(^|/)\.git(/|$)";

/// One `.s2iignore` rule.
#[derive(Debug, Clone)]
struct IgnoreRule {
    pattern: String,
    negated: bool,
    matcher: GlobMatcher,
}

/// The rules of a `.s2iignore` file.
///
/// One glob per line, relative to the source root; `*` does not cross `/`;
/// blank lines and `#` comments are skipped; a matching directory is dropped
/// whole; `!pattern` takes back what earlier rules selected.
#[derive(Debug, Clone, Default)]
pub struct IgnoreRules {
    rules: Vec<IgnoreRule>,
}

impl IgnoreRules {
    /// Parse the text of a `.s2iignore` file; `origin` names it in errors.
    pub fn parse(origin: &str, text: &str) -> Result<Self> {
        let mut rules = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = raw.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (negated, body) = match line.strip_prefix('!') {
                Some(body) => (true, body.trim()),
                None => (false, line),
            };
            let pattern = normalize_pattern(body);
            if pattern.is_empty() {
                continue;
            }
            let matcher = GlobBuilder::new(&pattern)
                .literal_separator(true)
                .backslash_escape(true)
                .build()
                .map_err(|e| {
                    Error::option(
                        ".s2iignore",
                        format!("{origin}:{}: invalid pattern {line:?}: {}", index + 1, e.kind()),
                        "fix the glob; '*' and '?' match within one path component, [abc] a set of characters",
                    )
                })?
                .compile_matcher();
            rules.push(IgnoreRule { pattern, negated, matcher });
        }
        Ok(Self { rules })
    }

    /// Whether a path (relative to the source root, `/`-separated) is ignored.
    pub fn is_ignored(&self, path: &str) -> bool {
        let mut selected = false;
        for rule in &self.rules {
            if rule.negated {
                if selected && rule.matcher.is_match(path) {
                    selected = false;
                }
            } else if !selected && rule.matcher.is_match(path) {
                selected = true;
            }
        }
        selected
    }

    /// The patterns, normalised, with `!` for negations.
    pub fn patterns(&self) -> Vec<String> {
        self.rules.iter().map(|r| if r.negated { format!("!{}", r.pattern) } else { r.pattern.clone() }).collect()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }
}

fn normalize_pattern(pattern: &str) -> String {
    let mut p = pattern;
    loop {
        if let Some(rest) = p.strip_prefix("./") {
            p = rest;
        } else if let Some(rest) = p.strip_prefix('/') {
            p = rest;
        } else {
            break;
        }
    }
    p.trim_end_matches('/').to_owned()
}

/// Decides, path by path, what part of the source tree goes into the build.
#[derive(Debug, Clone, Default)]
pub struct SourceFilter {
    /// `.s2iignore` rules.
    pub ignore: IgnoreRules,
    /// `--exclude`, matched against the source-relative path.
    pub exclude: Option<ExcludePattern>,
    /// Paths taken out of the source because they were installed as scripts (`.s2i/bin/assemble`, …).
    pub moved: BTreeSet<String>,
}

impl SourceFilter {
    /// Whether a source-relative path stays out of the build. A directory that
    /// is left out is left out with everything below it.
    pub fn excludes(&self, path: &str) -> bool {
        self.moved.contains(path)
            || self.exclude.as_ref().is_some_and(|e| e.regex.is_match(path))
            || self.ignore.is_ignored(path)
    }
}

/// A compiled `--exclude` regular expression.
#[derive(Debug, Clone)]
pub struct ExcludePattern {
    regex: Regex,
}

impl ExcludePattern {
    /// Compile a pattern; the empty pattern excludes nothing (`Ok(None)`).
    pub fn new(pattern: &str) -> Result<Option<Self>> {
        if pattern.is_empty() {
            return Ok(None);
        }
        Regex::new(pattern).map(|regex| Some(Self { regex })).map_err(|e| {
            Error::option(
                "--exclude",
                format!("{pattern:?} is not a regular expression: {e}"),
                format!(
                    "write a regular expression matched against source-relative paths; the default is {DEFAULT_EXCLUDE}"
                ),
            )
        })
    }

    /// The pattern text.
    pub fn as_str(&self) -> &str {
        self.regex.as_str()
    }
}

impl Serialize for ExcludePattern {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for ExcludePattern {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Regex::new(&text).map(|regex| Self { regex }).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(text: &str) -> IgnoreRules {
        IgnoreRules::parse(".s2iignore", text).unwrap()
    }

    #[test]
    fn globs_do_not_cross_directories() {
        let r = rules("*.log\n");
        assert!(r.is_ignored("a.log"));
        assert!(!r.is_ignored("sub/a.log"));
        let r = rules("*/temp*\n");
        assert!(r.is_ignored("sub/temp1"));
        assert!(!r.is_ignored("temp1"));
    }

    #[test]
    fn negation_takes_back_earlier_rules_only() {
        let r = rules("*.log\n!keep.log\n");
        assert!(r.is_ignored("a.log"));
        assert!(!r.is_ignored("keep.log"));
        let r = rules("!keep.log\n*.log\n");
        assert!(r.is_ignored("keep.log"));
    }

    #[test]
    fn comments_blanks_and_slashes() {
        let r = rules("# comment\n\n  /build/  \n./docs\n");
        assert_eq!(r.patterns(), vec!["build".to_owned(), "docs".to_owned()]);
        assert!(r.is_ignored("build"));
        assert!(r.is_ignored("docs"));
    }

    #[test]
    fn invalid_globs_name_the_line() {
        let err = IgnoreRules::parse("src/.s2iignore", "ok\n[unclosed\n").unwrap_err().to_string();
        assert!(err.contains("src/.s2iignore:2"), "{err}");
    }

    #[test]
    fn default_exclude_drops_git_components_only() {
        let e = ExcludePattern::new(DEFAULT_EXCLUDE).unwrap().unwrap();
        let filter = SourceFilter { exclude: Some(e), ..Default::default() };
        assert!(filter.excludes(".git"));
        assert!(filter.excludes("sub/.git/HEAD"));
        assert!(!filter.excludes(".gitignore"));
        assert!(!filter.excludes("my.git.txt"));
        assert!(ExcludePattern::new("").unwrap().is_none());
        assert!(ExcludePattern::new("(").is_err());
    }
}
