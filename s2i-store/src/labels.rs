//! Kubernetes' rules for label keys and values (and other qualified names,
//! such as annotation keys or a port's `appProtocol`), with the API
//! server's messages: what any kind with labels or selectors checks.

const NAME_MAX: usize = 63;
const PREFIX_MAX: usize = 253;
const VALUE_MAX: usize = 63;
const NAME_FORMAT: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const VALUE_FORMAT: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
const SUBDOMAIN_FORMAT: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/// The problems of a qualified name (`[PREFIX/]NAME`: a label key), none when it is valid.
pub fn qualified_name_errors(text: &str) -> Vec<String> {
    let parts: Vec<&str> = text.split('/').collect();
    let (prefix, name) = match parts.as_slice() {
        [name] => (None, *name),
        [prefix, name] => (Some(*prefix), *name),
        _ => {
            return vec![format!(
                "a qualified name {NAME_FORMAT} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
            )];
        }
    };
    let mut errors = Vec::new();
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            errors.push("prefix part must be non-empty".to_owned());
        } else {
            if prefix.len() > PREFIX_MAX {
                errors.push(format!("prefix part must be no more than {PREFIX_MAX} characters"));
            }
            if !prefix.split('.').all(is_dns_label_shaped) {
                errors.push(format!("prefix part {SUBDOMAIN_FORMAT}"));
            }
        }
    }
    if name.is_empty() {
        errors.push("name part must be non-empty".to_owned());
    } else {
        if name.len() > NAME_MAX {
            errors.push(format!("name part must be no more than {NAME_MAX} characters"));
        }
        if !is_name_shaped(name) {
            errors.push(format!("name part {NAME_FORMAT}"));
        }
    }
    errors
}

/// The problems of a label value, none when it is valid (the empty value is).
pub fn label_value_errors(text: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if text.len() > VALUE_MAX {
        errors.push(format!("must be no more than {VALUE_MAX} characters"));
    }
    if !text.is_empty() && !is_name_shaped(text) {
        errors.push(VALUE_FORMAT.to_owned());
    }
    errors
}

/// `([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]`.
fn is_name_shaped(text: &str) -> bool {
    let bytes = text.as_bytes();
    let edge = |byte: &u8| byte.is_ascii_alphanumeric();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            edge(first) && edge(last) && bytes.iter().all(|byte| edge(byte) || matches!(byte, b'-' | b'_' | b'.'))
        }
        _ => false,
    }
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
fn is_dns_label_shaped(label: &str) -> bool {
    let bytes = label.as_bytes();
    let edge = |byte: &u8| byte.is_ascii_lowercase() || byte.is_ascii_digit();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => edge(first) && edge(last) && bytes.iter().all(|byte| edge(byte) || *byte == b'-'),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keys_and_values() {
        for good in ["app", "app.kubernetes.io/name", "A_b.c-1", "example.com/x"] {
            assert!(qualified_name_errors(good).is_empty(), "{good}");
        }
        assert_eq!(qualified_name_errors("-app"), [format!("name part {NAME_FORMAT}")]);
        assert_eq!(qualified_name_errors("Example.com/x")[0], format!("prefix part {SUBDOMAIN_FORMAT}"));
        assert_eq!(qualified_name_errors("a/b/c").len(), 1);
        assert_eq!(qualified_name_errors("a/"), ["name part must be non-empty"]);
        assert!(qualified_name_errors(&"x".repeat(64))[0].contains("no more than 63"));
        for good in ["", "web", "v1.2_3"] {
            assert!(label_value_errors(good).is_empty(), "{good}");
        }
        assert_eq!(label_value_errors("a b"), [VALUE_FORMAT]);
        assert_eq!(label_value_errors(&"v".repeat(64)), ["must be no more than 63 characters"]);
    }
}
