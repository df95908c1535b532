//! Writing objects as YAML that every Kubernetes tool reads back as written:
//! the workspace's one YAML writer.
//!
//! `kubectl` and the API server read YAML with YAML 1.1 rules, where `yes`,
//! `on`, `n`, `2026-01-01` or `0755` are not strings. This writer quotes every
//! string that could be read as anything but a string under YAML 1.1 or 1.2,
//! writes multi-line text (certificates) as literal blocks, and keeps the
//! field order of the types.

use serde::Serialize;
use serde_norway::Value;

/// One YAML document for `value` (ending in a newline).
pub fn to_yaml<T: Serialize>(value: &T) -> Result<String, serde_norway::Error> {
    let value = serde_norway::to_value(value)?;
    let mut out = String::new();
    match &value {
        Value::Mapping(map) if !map.is_empty() => write_mapping(&mut out, map, 0),
        Value::Sequence(items) if !items.is_empty() => write_sequence(&mut out, items, 0),
        scalar => {
            out.push_str(&inline(scalar, 0));
            out.push('\n');
        }
    }
    Ok(out)
}

/// Several documents, separated by `---`.
pub fn to_yaml_documents<T: Serialize>(values: &[T]) -> Result<String, serde_norway::Error> {
    let mut out = String::new();
    for (index, value) in values.iter().enumerate() {
        if index > 0 {
            out.push_str("---\n");
        }
        out.push_str(&to_yaml(value)?);
    }
    Ok(out)
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

fn is_block(value: &Value) -> bool {
    match value {
        Value::Mapping(map) => !map.is_empty(),
        Value::Sequence(items) => !items.is_empty(),
        Value::Tagged(tagged) => is_block(&tagged.value),
        _ => false,
    }
}

fn key_text(key: &Value) -> String {
    match key {
        Value::String(text) => string(text, usize::MAX),
        other => inline(other, usize::MAX),
    }
}

fn write_mapping(out: &mut String, map: &serde_norway::Mapping, indent: usize) {
    for (key, value) in map {
        pad(out, indent);
        out.push_str(&key_text(key));
        out.push(':');
        write_value_after_key(out, value, indent);
    }
}

/// A value after `key:` (or `-`): on the same line, or as a block below.
fn write_value_after_key(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Mapping(map) if !map.is_empty() => {
            out.push('\n');
            write_mapping(out, map, indent + 2);
        }
        Value::Sequence(items) if !items.is_empty() => {
            out.push('\n');
            write_sequence(out, items, indent);
        }
        Value::Tagged(tagged) => write_value_after_key(out, &tagged.value, indent),
        scalar => {
            out.push(' ');
            out.push_str(&inline(scalar, indent + 2));
            out.push('\n');
        }
    }
}

fn write_sequence(out: &mut String, items: &[Value], indent: usize) {
    for item in items {
        pad(out, indent);
        out.push('-');
        match item {
            Value::Mapping(map) if !map.is_empty() => {
                // The first entry goes on the dash's line, the others below it.
                let mut first = String::new();
                write_mapping(&mut first, map, indent + 2);
                out.push(' ');
                out.push_str(&first[indent + 2..]);
            }
            value if is_block(value) => {
                out.push('\n');
                if let Value::Sequence(inner) = value {
                    write_sequence(out, inner, indent + 2);
                }
            }
            scalar => {
                out.push(' ');
                out.push_str(&inline(scalar, indent + 2));
                out.push('\n');
            }
        }
    }
}

/// A scalar (or empty collection) on one line, or a literal block indented by `indent`.
fn inline(value: &Value, indent: usize) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(boolean) => boolean.to_string(),
        Value::Number(number) => number.to_string(),
        Value::String(text) => string(text, indent),
        Value::Sequence(_) => "[]".to_owned(),
        Value::Mapping(_) => "{}".to_owned(),
        Value::Tagged(tagged) => inline(&tagged.value, indent),
    }
}

/// Scalars YAML 1.1 reads as booleans or null.
const SPECIAL: [&str; 12] = ["y", "yes", "n", "no", "true", "false", "on", "off", "null", "~", "=", "<<"];

fn plain_ok(text: &str) -> bool {
    let Some(first) = text.chars().next() else { return false };
    if first.is_ascii_digit() {
        // Numbers, octal and hex, sexagesimals and timestamps all start with a
        // digit; `90s` or `1h30m` are none of them (a letter other than those
        // of exponents and radix prefixes, and no `-`, `:` or `_`).
        let radix = text.len() > 1 && "xXbBoO".contains(&text[1..2]) && first == '0';
        return !radix
            && text.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
            && text.chars().any(|c| c.is_ascii_alphabetic() && !"eE".contains(c));
    }
    if !(first.is_ascii_alphabetic() || first == '/' || first == '_' || !first.is_ascii()) {
        return false;
    }
    if SPECIAL.contains(&text.to_ascii_lowercase().as_str()) {
        return false;
    }
    if text.ends_with([' ', ':']) || text.contains(": ") || text.contains(" #") {
        return false;
    }
    text.chars().all(|c| {
        !c.is_control()
            && !matches!(
                c,
                '\'' | '"' | '`' | '{' | '}' | '[' | ']' | ',' | '&' | '*' | '!' | '|' | '>' | '%' | '@' | '\t'
            )
    })
}

/// A string as plain text when nothing else can be read from it, as a literal
/// block when it has several lines, else quoted.
fn string(text: &str, indent: usize) -> String {
    if plain_ok(text) {
        return text.to_owned();
    }
    let block_ok = indent != usize::MAX
        && text.contains('\n')
        && !text.starts_with([' ', '\n'])
        && text.chars().all(|c| c == '\n' || !c.is_control());
    if block_ok {
        let body = text.trim_end_matches('\n');
        let trailing = text.len() - body.len();
        let chomp = match trailing {
            0 => "-",
            1 => "",
            _ => "+",
        };
        let mut block = format!("|{chomp}\n");
        for (index, line) in body.split('\n').enumerate() {
            if index > 0 {
                block.push('\n');
            }
            if !line.is_empty() {
                block.extend(std::iter::repeat_n(' ', indent));
                block.push_str(line);
            }
        }
        for _ in 1..trailing {
            block.push('\n');
        }
        return block;
    }
    if text.chars().any(char::is_control) {
        return serde_json::to_string(text).expect("a string serialises as JSON");
    }
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ambiguous_strings_are_quoted() {
        // (string, written)
        let table = [
            ("plain", "plain"),
            ("web-shop.apps.localhost", "web-shop.apps.localhost"),
            ("/store", "/store"),
            ("max-age=300", "max-age=300"),
            ("yes", "'yes'"),
            ("No", "'No'"),
            ("on", "'on'"),
            ("y", "'y'"),
            ("true", "'true'"),
            ("null", "'null'"),
            ("~", "'~'"),
            ("", "''"),
            ("8080", "'8080'"),
            ("90s", "90s"),
            ("1h30m", "1h30m"),
            ("1e5", "'1e5'"),
            ("0x1F", "'0x1F'"),
            ("10.0.0.1", "'10.0.0.1'"),
            ("1_000", "'1_000'"),
            ("2026-01-01", "'2026-01-01'"),
            ("0755", "'0755'"),
            ("1.5", "'1.5'"),
            ("2026-01-01T00:00:00Z", "'2026-01-01T00:00:00Z'"),
            ("-1", "'-1'"),
            ("*.acme.test", "'*.acme.test'"),
            ("a: b", "'a: b'"),
            ("it's", "'it''s'"),
            ("%[req.hdr(host)]", "'%[req.hdr(host)]'"),
            ("trailing ", "'trailing '"),
            ("tab\there", "\"tab\\there\""),
        ];
        for (text, written) in table {
            assert_eq!(string(text, 0), written, "{text:?}");
            let back: String = serde_norway::from_str(&format!("k: {}", string(text, 2)))
                .map(|map: std::collections::BTreeMap<String, String>| map["k"].clone())
                .unwrap();
            assert_eq!(back, text);
        }
    }

    #[test]
    fn documents_keep_field_order_and_write_blocks() {
        #[derive(Serialize)]
        struct Doc {
            zeta: &'static str,
            alpha: Vec<Item>,
            pem: &'static str,
            empty: Vec<u8>,
            nothing: Option<u8>,
        }
        #[derive(Serialize)]
        struct Item {
            name: &'static str,
            weight: i32,
        }
        let doc = Doc {
            zeta: "z",
            alpha: vec![Item { name: "a", weight: 1 }, Item { name: "b", weight: 2 }],
            pem: "-----BEGIN X-----\nAAAA\n-----END X-----\n",
            empty: vec![],
            nothing: None,
        };
        let text = to_yaml(&doc).unwrap();
        assert_eq!(
            text,
            "zeta: z\nalpha:\n- name: a\n  weight: 1\n- name: b\n  weight: 2\npem: |\n  -----BEGIN X-----\n  AAAA\n  -----END X-----\nempty: []\nnothing: null\n"
        );
        let back: serde_norway::Value = serde_norway::from_str(&text).unwrap();
        assert_eq!(back["pem"].as_str(), Some(doc.pem));
        for chomped in ["a\nb", "a\nb\n\n", "a\n\nb\n"] {
            let written = to_yaml(&std::collections::BTreeMap::from([("k", chomped)])).unwrap();
            let back: std::collections::BTreeMap<String, String> = serde_norway::from_str(&written).unwrap();
            assert_eq!(back["k"], chomped, "{written}");
        }
    }
}
