//! What an error about a Secret may show: where (the path of the field, its
//! line and column) and what is wrong, never a value. serde words its
//! errors with the value they are about (`invalid type: string "…"`), and a
//! report would show the text around the place; for a Secret the values
//! are taken out of the message and the text is not shown.

/// What a message says instead of a value it leaves out.
const REDACTED: &str = "<secret contents redacted>";

/// What a base64 error of a Secret's `data` keeps: its detail names a
/// character of the value and where it is.
const BASE64: &str = "illegal base64 data";

/// Words after which serde quotes a value in backticks (`integer `5``).
const VALUE_WORDS: [&str; 5] = ["integer", "floating point", "boolean", "character", "unknown variant"];

/// Whether errors of a document of `kind` must show none of its values: a
/// Secret's, or a document whose kind is not known (it may be one).
pub(crate) fn is_sensitive(kind: &str) -> bool {
    kind == "Secret" || kind.is_empty()
}

/// Whether some `kind` of `text` says `Secret`: for an error found before
/// the documents are read, when no document's kind is known yet.
pub(crate) fn may_hold_secret(text: &str) -> bool {
    text.match_indices("Secret").any(|(at, _)| {
        let before = text[..at].trim_end_matches(['"', '\'']).trim_end();
        before.strip_suffix(':').is_some_and(|key| key.trim_end().trim_end_matches(['"', '\'']).ends_with("kind"))
    })
}

/// `message` without the values it quotes: `invalid type: string "…"`
/// becomes `invalid type: string`, ``integer `5` `` becomes `integer`, an
/// unknown variant loses its name, a base64 error its detail, and any
/// other text in double quotes becomes a marker. Names in backticks (of
/// fields, of the variants expected) are kept.
pub(crate) fn scrub(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find(['"', '`']) {
        out.push_str(&rest[..at]);
        let body = &rest[at + 1..];
        if rest[at..].starts_with('"') {
            // A value as serde quotes it (`{:?}`): up to the next unescaped quote.
            rest = body.get(quoted_len(body) + 1..).unwrap_or_default();
            if out.ends_with("string ") {
                out.pop();
            } else {
                out.push_str(REDACTED);
            }
        } else if let Some(word) = VALUE_WORDS.iter().find(|w| out.strip_suffix(' ').is_some_and(|o| o.ends_with(*w))) {
            // The value holds at least one character, which may be a backtick;
            // a variant's name is followed by `, expected …` or `, there are no variants`.
            let first = body.chars().next().map_or(0, char::len_utf8);
            let close = if *word == "unknown variant" { "`, " } else { "`" };
            rest = body[first..].find(close).map_or("", |end| &body[first + end + 1..]);
            out.pop();
        } else {
            let end = body.find('`').map_or(body.len(), |end| end + 1);
            out.push('`');
            out.push_str(&body[..end]);
            rest = &body[end..];
        }
    }
    out.push_str(rest);
    if let Some(at) = out.find(BASE64) {
        out.truncate(at + BASE64.len());
    }
    out
}

/// The length of a `{:?}` string's body (after its opening quote), up to its closing quote.
fn quoted_len(body: &str) -> usize {
    let mut bytes = body.bytes().enumerate();
    while let Some((at, byte)) = bytes.next() {
        match byte {
            b'\\' => {
                bytes.next();
            }
            b'"' => return at,
            _ => {}
        }
    }
    body.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_taken_out_of_messages() {
        for (message, scrubbed) in [
            ("data: invalid type: string \"LEAK\", expected a map", "data: invalid type: string, expected a map"),
            (
                r#"data.k: invalid value: string "a \"LEAK\", expected x", expected y"#,
                "data.k: invalid value: string, expected y",
            ),
            (
                "immutable: invalid type: integer `1234`, expected a boolean",
                "immutable: invalid type: integer, expected a boolean",
            ),
            (
                "x: invalid type: floating point `1.5`, expected a string",
                "x: invalid type: floating point, expected a string",
            ),
            ("x: invalid type: boolean `true`, expected a map", "x: invalid type: boolean, expected a map"),
            ("x: invalid type: character ```, expected a map", "x: invalid type: character, expected a map"),
            (
                "type: unknown variant `LE`AK`, expected `Opaque` or `tls`",
                "type: unknown variant, expected `Opaque` or `tls`",
            ),
            ("data: illegal base64 data: Invalid symbol 33, offset 14.", "data: illegal base64 data"),
            ("x: bad value \"LEAK\" here", "x: bad value <secret contents redacted> here"),
            ("x: unterminated \"LEAK", "x: unterminated <secret contents redacted>"),
            ("missing field `name`", "missing field `name`"),
            ("unknown field `colour`, expected one of `a`, `b`", "unknown field `colour`, expected one of `a`, `b`"),
        ] {
            assert_eq!(scrub(message), scrubbed, "{message}");
        }
    }

    #[test]
    fn a_secret_kind_is_found_in_any_spelling() {
        for text in [
            "kind: Secret\n",
            "- kind: 'Secret'\n",
            "{\"apiVersion\":\"v1\",\"kind\" : \"Secret\"}",
            "items: [{kind: Secret, data: x}]",
        ] {
            assert!(may_hold_secret(text), "{text}");
        }
        for text in ["kind: ConfigMap\ndata: {Secret: x}\n", "sourceSecret: {name: Secret}\n"] {
            assert!(!may_hold_secret(text), "{text}");
        }
        assert!(is_sensitive("Secret") && is_sensitive("") && !is_sensitive("ConfigMap"));
    }
}
