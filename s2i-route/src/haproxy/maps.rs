//! The router's map files: one regular expression per route, ordered so that
//! HAProxy's first match is the most specific route
//! (docs/compatibility.md#map-files-and-matching).

use crate::host::wildcard_key;

/// The prefix of wildcard host regexes: one label of anything but dots.
pub const WILDCARD_PREFIX: &str = r"^[^\.]*\.";

/// Escapes what Go's `regexp.QuoteMeta` escapes: `\.+*?()|[]{}^$`.
pub(crate) fn escape_regex(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if r"\.+*?()|[]{}^$".contains(c) {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// The host part of a key: the escaped host, or for a wildcard route one
/// label of anything followed by the escaped wildcard key.
pub(crate) fn host_regex(host: &str, wildcard: bool) -> String {
    if wildcard {
        format!("{WILDCARD_PREFIX}{}", escape_regex(wildcard_key(host)))
    } else {
        format!("^{}", escape_regex(host))
    }
}

/// The path part of a key: `(/.*)?` for an empty (or all-slash) path; the
/// escaped path then `(.*)?` when it ends in `/`; else the escaped path then
/// `(/.*)?`, so `/foo` matches `/foo` and `/foo/bar` but not `/foobar`.
pub(crate) fn path_regex(path: &str) -> String {
    if path.bytes().all(|byte| byte == b'/') {
        return "(/.*)?".to_owned();
    }
    let mut escaped = String::with_capacity(path.len() + 8);
    for c in escape_regex(path).chars() {
        match c {
            ' ' => escaped.push_str(r"\x20"),
            '\t' => escaped.push_str(r"\t"),
            '\r' => escaped.push_str(r"\r"),
            '\n' => escaped.push_str(r"\n"),
            other => escaped.push(other),
        }
    }
    if path.ends_with('/') {
        escaped.push_str("(.*)?");
    } else {
        escaped.push_str("(/.*)?");
    }
    escaped
}

/// The key of a route in the host+path maps, matched against HAProxy's
/// `base` (Host header, lower-cased, then the path):
/// `^www\.example\.com\.?(:[0-9]+)?/api(/.*)?$`.
pub(crate) fn host_path_key(host: &str, path: &str, wildcard: bool) -> String {
    format!(r"{}\.?(:[0-9]+)?{}$", host_regex(host, wildcard), path_regex(path))
}

/// The key of a route in the SNI map, matched against the lower-cased SNI.
pub(crate) fn sni_key(host: &str, wildcard: bool) -> String {
    format!("{}$", host_regex(host, wildcard))
}

/// Sorts map lines as the router does: reverse lexicographic order, with the
/// wildcard lines after all others (also reversed). HAProxy's `map_reg`
/// returns the first match, so exact hosts beat wildcards and, for a host,
/// longer paths beat their prefixes.
pub(crate) fn sort_map_lines(lines: &mut [String]) {
    lines.sort_by(|a, b| {
        let wildcard = |line: &str| line.starts_with(WILDCARD_PREFIX);
        wildcard(a).cmp(&wildcard(b)).then_with(|| b.cmp(a))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_the_reference_example() {
        assert_eq!(host_path_key("www.example.com", "/api", false), r"^www\.example\.com\.?(:[0-9]+)?/api(/.*)?$");
        assert_eq!(host_path_key("www.example.com", "", false), r"^www\.example\.com\.?(:[0-9]+)?(/.*)?$");
        assert_eq!(host_path_key("www.example.com", "/", false), r"^www\.example\.com\.?(:[0-9]+)?(/.*)?$");
        assert_eq!(host_path_key("www.example.com", "/foo/", false), r"^www\.example\.com\.?(:[0-9]+)?/foo/(.*)?$");
        assert_eq!(host_path_key("w.acme.test", "", true), r"^[^\.]*\.acme\.test\.?(:[0-9]+)?(/.*)?$");
        assert_eq!(host_path_key("a.b", "/x y\t", false), r"^a\.b\.?(:[0-9]+)?/x\x20y\t(/.*)?$");
        assert_eq!(host_path_key("a.b", "/v1.0+(x)", false), r"^a\.b\.?(:[0-9]+)?/v1\.0\+\(x\)(/.*)?$");
        assert_eq!(sni_key("db.example.com", false), r"^db\.example\.com$");
    }

    #[test]
    fn lines_sort_longest_path_first_and_wildcards_last() {
        let mut lines: Vec<String> = [
            host_path_key("a.test", "", false),
            host_path_key("x.a.test", "", true),
            host_path_key("a.test", "/foo", false),
            host_path_key("a.test", "/foo/bar", false),
            host_path_key("a.test", "/foo/", false),
            host_path_key("b.test", "", false),
        ]
        .into_iter()
        .map(|key| format!("{key} be"))
        .collect();
        sort_map_lines(&mut lines);
        let keys: Vec<&str> = lines.iter().map(|line| line.split(' ').next().unwrap()).collect();
        assert_eq!(
            keys,
            [
                r"^b\.test\.?(:[0-9]+)?(/.*)?$",
                r"^a\.test\.?(:[0-9]+)?/foo/bar(/.*)?$",
                r"^a\.test\.?(:[0-9]+)?/foo/(.*)?$",
                r"^a\.test\.?(:[0-9]+)?/foo(/.*)?$",
                r"^a\.test\.?(:[0-9]+)?(/.*)?$",
                r"^[^\.]*\.a\.test\.?(:[0-9]+)?(/.*)?$",
            ]
        );
    }
}
