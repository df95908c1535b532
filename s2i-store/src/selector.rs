//! Label selectors as `kubectl get -l` reads them: equality
//! (`app=web`, `app==web`, `tier!=db`), sets (`env in (dev,qa)`,
//! `env notin (prod)`), existence (`app`, `!canary`) and integer comparison
//! (`replicas>2`), requirements separated by commas, all of which must hold.
//! The empty selector selects everything.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::labels::{label_value_errors, qualified_name_errors};

/// A parsed label selector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Selector {
    requirements: Vec<Requirement>,
}

/// One requirement of a selector: a key, an operator and its values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Requirement {
    /// The label key.
    pub key: String,
    /// How the label is compared.
    pub operator: Operator,
    /// The values compared with (one for `=`, `!=`, `>`, `<`; none for existence).
    pub values: Vec<String>,
}

/// How a requirement compares a label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operator {
    /// `key=value` or `key==value`: the label is present with this value.
    Equals,
    /// `key!=value`: the label is absent or has another value.
    NotEquals,
    /// `key in (a,b)`: the label is present with one of the values.
    In,
    /// `key notin (a,b)`: the label is absent or has none of the values.
    NotIn,
    /// `key`: the label is present.
    Exists,
    /// `!key`: the label is absent.
    DoesNotExist,
    /// `key>N`: the label is an integer greater than N.
    GreaterThan,
    /// `key<N`: the label is an integer less than N.
    LessThan,
}

impl Selector {
    /// Parses a selector; an error names the selector and what is wrong.
    pub fn parse(text: &str) -> Result<Self> {
        let tokens = tokenize(text).map_err(|reason| invalid(text, reason))?;
        Parser { tokens: &tokens, at: 0 }.selector().map_err(|reason| invalid(text, reason))
    }

    /// The requirements, in the order given.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }

    /// Whether the selector has no requirement (it selects everything).
    pub fn is_empty(&self) -> bool {
        self.requirements.is_empty()
    }

    /// Whether labels satisfy every requirement.
    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.requirements
            .iter()
            .all(|requirement| requirement.matches(labels.get(&requirement.key).map(String::as_str)))
    }

    /// Whether an object (as JSON, labels in `metadata.labels`) is selected.
    pub fn matches_object(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels").and_then(Value::as_object);
        self.requirements.iter().all(|requirement| {
            requirement.matches(labels.and_then(|labels| labels.get(&requirement.key)).and_then(Value::as_str))
        })
    }
}

impl FromStr for Selector {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        Self::parse(text)
    }
}

impl Requirement {
    /// Whether a label value (`None`: the label is absent) satisfies the requirement.
    pub fn matches(&self, value: Option<&str>) -> bool {
        let listed = |value: &str| self.values.iter().any(|listed| listed == value);
        let compare = |value: Option<&str>, wanted: fn(i64, i64) -> bool| {
            let parsed = value.and_then(|value| value.parse::<i64>().ok());
            let bound = self.values.first().and_then(|bound| bound.parse::<i64>().ok());
            matches!((parsed, bound), (Some(value), Some(bound)) if wanted(value, bound))
        };
        match self.operator {
            Operator::Equals | Operator::In => value.is_some_and(listed),
            Operator::NotEquals | Operator::NotIn => !value.is_some_and(listed),
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
            Operator::GreaterThan => compare(value, |value, bound| value > bound),
            Operator::LessThan => compare(value, |value, bound| value < bound),
        }
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, requirement) in self.requirements.iter().enumerate() {
            if index > 0 {
                f.write_str(",")?;
            }
            write!(f, "{requirement}")?;
        }
        Ok(())
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = &self.key;
        let first = self.values.first().map(String::as_str).unwrap_or_default();
        match self.operator {
            Operator::Equals => write!(f, "{key}={first}"),
            Operator::NotEquals => write!(f, "{key}!={first}"),
            Operator::In => write!(f, "{key} in ({})", self.values.join(",")),
            Operator::NotIn => write!(f, "{key} notin ({})", self.values.join(",")),
            Operator::Exists => write!(f, "{key}"),
            Operator::DoesNotExist => write!(f, "!{key}"),
            Operator::GreaterThan => write!(f, "{key}>{first}"),
            Operator::LessThan => write!(f, "{key}<{first}"),
        }
    }
}

fn invalid(selector: &str, reason: String) -> Error {
    Error::InvalidSelector { selector: selector.to_owned(), reason }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Not,
    Equals,
    NotEquals,
    Greater,
    Less,
    Open,
    Close,
    Comma,
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Token::Word(word) => write!(f, "{word:?}"),
            Token::Not => f.write_str("\"!\""),
            Token::Equals => f.write_str("\"=\""),
            Token::NotEquals => f.write_str("\"!=\""),
            Token::Greater => f.write_str("\">\""),
            Token::Less => f.write_str("\"<\""),
            Token::Open => f.write_str("\"(\""),
            Token::Close => f.write_str("\")\""),
            Token::Comma => f.write_str("\",\""),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            ',' => tokens.push(Token::Comma),
            '(' => tokens.push(Token::Open),
            ')' => tokens.push(Token::Close),
            '>' => tokens.push(Token::Greater),
            '<' => tokens.push(Token::Less),
            '=' => {
                if chars.peek() == Some(&'=') {
                    chars.next();
                }
                tokens.push(Token::Equals);
            }
            '!' => {
                if chars.peek() == Some(&'=') {
                    chars.next();
                    tokens.push(Token::NotEquals);
                } else {
                    tokens.push(Token::Not);
                }
            }
            c => {
                let mut word = String::from(c);
                while let Some(&next) = chars.peek() {
                    if next.is_whitespace() || ",()=!<>".contains(next) {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

struct Parser<'a> {
    tokens: &'a [Token],
    at: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<&Token> {
        let token = self.tokens.get(self.at);
        self.at += 1;
        token
    }

    fn selector(mut self) -> Result<Selector, String> {
        let mut requirements = Vec::new();
        if self.tokens.is_empty() {
            return Ok(Selector { requirements });
        }
        loop {
            requirements.push(self.requirement()?);
            match self.next() {
                None => break,
                Some(Token::Comma) => {}
                Some(other) => return Err(format!("found {other}, expected \",\" or the end")),
            }
        }
        Ok(Selector { requirements })
    }

    fn requirement(&mut self) -> Result<Requirement, String> {
        if self.peek() == Some(&Token::Not) {
            self.next();
            let key = self.key()?;
            return Ok(Requirement { key, operator: Operator::DoesNotExist, values: Vec::new() });
        }
        let key = self.key()?;
        let operator = match self.peek() {
            None | Some(Token::Comma) => {
                return Ok(Requirement { key, operator: Operator::Exists, values: Vec::new() });
            }
            Some(Token::Equals) => Operator::Equals,
            Some(Token::NotEquals) => Operator::NotEquals,
            Some(Token::Greater) => Operator::GreaterThan,
            Some(Token::Less) => Operator::LessThan,
            Some(Token::Word(word)) if word == "in" => Operator::In,
            Some(Token::Word(word)) if word == "notin" => Operator::NotIn,
            Some(other) => {
                return Err(format!("found {other} after key {key:?}, expected =, ==, !=, in, notin, > or <"));
            }
        };
        self.next();
        let values = match operator {
            Operator::In | Operator::NotIn => self.set(&key)?,
            Operator::GreaterThan | Operator::LessThan => {
                let value = self.value()?;
                if value.parse::<i64>().is_err() {
                    return Err(format!("for > and <, the value of {key:?} must be an integer, not {value:?}"));
                }
                vec![value]
            }
            _ => vec![self.value()?],
        };
        Ok(Requirement { key, operator, values })
    }

    fn key(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Word(word)) => {
                let key = word.clone();
                let errors = qualified_name_errors(&key);
                if errors.is_empty() {
                    Ok(key)
                } else {
                    Err(format!("invalid label key {key:?}: {}", errors.join("; ")))
                }
            }
            Some(other) => Err(format!("found {other}, expected a label key")),
            None => Err("expected a label key at the end".to_owned()),
        }
    }

    /// A value after `=`, `!=`, `>` or `<`; empty when the requirement ends there (`app=`).
    fn value(&mut self) -> Result<String, String> {
        let value = match self.peek() {
            Some(Token::Word(word)) => {
                let value = word.clone();
                self.next();
                value
            }
            None | Some(Token::Comma) => String::new(),
            Some(other) => return Err(format!("found {other}, expected a label value")),
        };
        check_value(&value)?;
        Ok(value)
    }

    fn set(&mut self, key: &str) -> Result<Vec<String>, String> {
        if self.next() != Some(&Token::Open) {
            return Err(format!("expected \"(\" after in/notin of {key:?}"));
        }
        let mut values = Vec::new();
        if self.peek() == Some(&Token::Close) {
            return Err(format!("the set of values of {key:?} is empty: name at least one, e.g. {key} in (a,b)"));
        }
        loop {
            let value = match self.peek() {
                Some(Token::Word(word)) => {
                    let value = word.clone();
                    self.next();
                    value
                }
                Some(Token::Comma | Token::Close) => String::new(),
                Some(other) => return Err(format!("found {other} in the values of {key:?}")),
                None => return Err(format!("the values of {key:?} are not closed with \")\"")),
            };
            check_value(&value)?;
            values.push(value);
            match self.next() {
                Some(Token::Comma) => {}
                Some(Token::Close) => break,
                Some(other) => return Err(format!("found {other} in the values of {key:?}, expected \",\" or \")\"")),
                None => return Err(format!("the values of {key:?} are not closed with \")\"")),
            }
        }
        Ok(values)
    }
}

fn check_value(value: &str) -> Result<(), String> {
    let errors = label_value_errors(value);
    if errors.is_empty() { Ok(()) } else { Err(format!("invalid label value {value:?}: {}", errors.join("; "))) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn selects(selector: &str, pairs: &[(&str, &str)]) -> bool {
        Selector::parse(selector).unwrap().matches(&labels(pairs))
    }

    #[test]
    fn equality_requires_the_label_and_inequality_accepts_its_absence() {
        assert!(selects("app=web", &[("app", "web")]));
        assert!(selects("app==web", &[("app", "web"), ("tier", "front")]));
        assert!(!selects("app=web", &[("app", "db")]));
        assert!(!selects("app=web", &[]));
        assert!(selects("app!=web", &[("app", "db")]));
        assert!(selects("app!=web", &[]));
        assert!(!selects("app!=web", &[("app", "web")]));
        assert!(selects("app=", &[("app", "")]));
        assert!(!selects("app=", &[("app", "x")]));
    }

    #[test]
    fn sets_and_existence_behave_as_kubectl() {
        assert!(selects("env in (dev, qa)", &[("env", "qa")]));
        assert!(!selects("env in (dev,qa)", &[("env", "prod")]));
        assert!(!selects("env in (dev,qa)", &[]));
        assert!(selects("env notin (prod)", &[("env", "dev")]));
        assert!(selects("env notin (prod)", &[]));
        assert!(!selects("env notin (prod)", &[("env", "prod")]));
        assert!(selects("app", &[("app", "")]));
        assert!(!selects("app", &[]));
        assert!(selects("!canary", &[("app", "x")]));
        assert!(!selects("!canary", &[("canary", "true")]));
        assert!(selects("replicas>2", &[("replicas", "3")]));
        assert!(!selects("replicas>2", &[("replicas", "two")]));
        assert!(selects("replicas<2", &[("replicas", "1")]));
    }

    #[test]
    fn every_requirement_must_hold_and_commas_in_sets_stay_in_the_set() {
        let selector = Selector::parse("app=web,env in (dev,qa),!canary").unwrap();
        assert_eq!(selector.requirements().len(), 3);
        assert!(selector.matches(&labels(&[("app", "web"), ("env", "dev")])));
        assert!(!selector.matches(&labels(&[("app", "web"), ("env", "dev"), ("canary", "1")])));
        assert_eq!(selector.to_string(), "app=web,env in (dev,qa),!canary");
        assert!(Selector::parse("").unwrap().is_empty());
        assert!(Selector::parse("").unwrap().matches(&labels(&[])));
    }

    #[test]
    fn objects_are_matched_by_their_metadata_labels() {
        let object = serde_json::json!({"metadata": {"name": "a", "labels": {"app.kubernetes.io/name": "web"}}});
        assert!(Selector::parse("app.kubernetes.io/name=web").unwrap().matches_object(&object));
        assert!(Selector::parse("!app").unwrap().matches_object(&serde_json::json!({"metadata": {"name": "b"}})));
    }

    #[test]
    fn bad_selectors_name_the_problem() {
        for (text, problem) in [
            ("app=web,", "expected a label key"),
            ("env in ()", "is empty"),
            ("env in (a", "not closed"),
            ("env in a", "expected \"(\""),
            ("-app=x", "invalid label key"),
            ("app=-x", "invalid label value"),
            ("app=x y", "expected \",\" or the end"),
            ("n>x", "must be an integer"),
            ("app in (a) b", "expected \",\" or the end"),
        ] {
            let error = Selector::parse(text).unwrap_err().to_string();
            assert!(error.contains(problem), "{text}: {error}");
            assert!(error.contains(text), "{text}: {error}");
        }
    }
}
