//! Naming rules of the image-stream family: stream names, tags, digests and
//! the `<stream>:<tag>` / `<stream>@<id>` names of the views.
//!
//! Pull specs are parsed by the workspace's one parser,
//! [`s2i_core::reference`]; this module only adds the rules that are specific
//! to image streams.

use s2i_core::reference::{is_valid_tag, validate_digest};

use crate::error::{Error, Result};

/// The tag used wherever a tag is omitted.
pub const DEFAULT_TAG: &str = s2i_core::reference::DEFAULT_TAG;

/// Check an image stream name: `[a-z0-9]+(?:[._-][a-z0-9]+)*`, and `namespace/name` at most 255 characters.
pub fn validate_stream_name(namespace: &str, name: &str) -> Result<()> {
    let reason = if name.is_empty() {
        Some("the name is empty".to_owned())
    } else if !is_stream_name(name) {
        Some("a stream name is lower-case letters and digits, separated by single '.', '_' or '-'".to_owned())
    } else if namespace.len() + 1 + name.len() > 255 {
        Some("namespace/name is longer than 255 characters".to_owned())
    } else {
        None
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(Error::InvalidName {
            what: "image stream name".into(),
            value: name.into(),
            reason,
            help: "use a name like `app`, `ruby` or `web-frontend`".into(),
        }),
    }
}

fn is_stream_name(name: &str) -> bool {
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let mut previous_separator = true;
    for c in name.chars() {
        if alnum(c) {
            previous_separator = false;
        } else if matches!(c, '.' | '_' | '-') && !previous_separator {
            previous_separator = true;
        } else {
            return false;
        }
    }
    !previous_separator
}

/// Check a tag name: `[\w][\w.-]{0,127}`.
pub fn validate_tag(tag: &str) -> Result<()> {
    if is_valid_tag(tag) {
        Ok(())
    } else {
        Err(Error::InvalidName {
            what: "tag".into(),
            value: tag.into(),
            reason: "a tag starts with a letter, digit or '_' and holds at most 128 letters, digits, '_', '.' or '-'"
                .into(),
            help: "use a tag like `latest`, `1.0` or `prod`".into(),
        })
    }
}

/// Split an ImageStreamTag name `<stream>:<tag>` (exactly one `:`, no `@`).
pub fn split_istag_name(name: &str) -> Result<(&str, &str)> {
    match name.split_once(':') {
        Some((stream, tag)) if !stream.is_empty() && !tag.is_empty() && !tag.contains(':') && !name.contains('@') => {
            Ok((stream, tag))
        }
        _ => Err(Error::InvalidName {
            what: "image stream tag".into(),
            value: name.into(),
            reason: "ImageStreamTags must be retrieved with <name>:<tag>".into(),
            help: "write it as STREAM:TAG, e.g. app:latest".into(),
        }),
    }
}

/// Split an ImageStreamImage name `<stream>@<id>` (exactly one `@`); `<id>` is a digest or a prefix of its hex.
pub fn split_isimage_name(name: &str) -> Result<(&str, &str)> {
    match name.split_once('@') {
        Some((stream, id)) if !stream.is_empty() && !id.is_empty() && !id.contains('@') => Ok((stream, id)),
        _ => Err(Error::InvalidName {
            what: "image stream image".into(),
            value: name.into(),
            reason: "ImageStreamImages must be retrieved with <name>@<id>".into(),
            help: "write it as STREAM@sha256:HEX (a unique prefix of the hex is enough)".into(),
        }),
    }
}

/// Check an image name (a digest): `algorithm:hex`.
pub fn validate_image_name(digest: &str) -> Result<()> {
    validate_digest(digest).map_err(|reason| Error::InvalidName {
        what: "image".into(),
        value: digest.into(),
        reason,
        help: "images are named by their digest, e.g. sha256:<64 hex digits>".into(),
    })
}

/// Whether an image name (`sha256:…`) matches `id`: the whole digest, the
/// whole hex, or a prefix of the hex.
pub fn image_matches(image: &str, id: &str) -> bool {
    if image == id {
        return true;
    }
    let hex = image.split_once(':').map_or(image, |(_, hex)| hex);
    let wanted = id.split_once(':').map_or(id, |(_, hex)| hex);
    let same_algorithm = match (image.split_once(':'), id.split_once(':')) {
        (Some((a, _)), Some((b, _))) => a == b,
        _ => true,
    };
    same_algorithm && !wanted.is_empty() && hex.starts_with(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_names() {
        for good in ["app", "a.b", "a_b", "a-b", "ruby-33", "x1.y2-z3"] {
            validate_stream_name("ns", good).unwrap();
        }
        for bad in ["", "App", "a--b", "a..b", "-a", "a-", "a/b", "a:b", "a b"] {
            assert!(validate_stream_name("ns", bad).is_err(), "{bad:?}");
        }
        assert!(validate_stream_name(&"n".repeat(200), &"a".repeat(60)).is_err());
    }

    #[test]
    fn view_names() {
        assert_eq!(split_istag_name("app:1.0").unwrap(), ("app", "1.0"));
        for bad in ["app", "app:", ":1", "a:b:c", "a@sha256:x:1"] {
            assert!(split_istag_name(bad).is_err(), "{bad:?}");
        }
        assert_eq!(split_isimage_name("app@sha256:abc").unwrap(), ("app", "sha256:abc"));
        for bad in ["app", "app@", "@x", "a@b@c"] {
            assert!(split_isimage_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn image_ids_match_by_prefix() {
        let image = format!("sha256:{}", "ab12".repeat(16));
        assert!(image_matches(&image, &image));
        assert!(image_matches(&image, "ab12ab"));
        assert!(image_matches(&image, "sha256:ab12"));
        assert!(!image_matches(&image, "sha512:ab12"));
        assert!(!image_matches(&image, "cd"));
        assert!(!image_matches(&image, ""));
    }
}
