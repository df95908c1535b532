//! Times as Kubernetes writes them: RFC 3339, UTC, whole seconds
//! (`2026-01-01T00:00:00Z`). Any RFC 3339 time is read.

use jiff::Timestamp;

/// `time` as Kubernetes writes it; a fraction of a second is dropped.
pub fn format(time: &Timestamp) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// The current time, to the second (what the store records).
pub fn now() -> Timestamp {
    let now = Timestamp::now();
    Timestamp::from_second(now.as_second()).unwrap_or(now)
}

/// Read an RFC 3339 time; the error says how to write one.
pub fn parse(text: &str) -> Result<Timestamp, String> {
    text.trim().parse().map_err(|err| format!("invalid time {text:?}: {err}; write it as 2026-01-01T00:00:00Z"))
}

/// Serde for an optional time field (`#[serde(with = "s2i_store::timestamp::option")]`):
/// written as [`format()`] does, an absent or empty value is `None`.
pub mod option {
    use jiff::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    /// Write the time, or nothing.
    pub fn serialize<S: Serializer>(time: &Option<Timestamp>, serializer: S) -> Result<S::Ok, S::Error> {
        match time {
            Some(time) => serializer.serialize_str(&super::format(time)),
            None => serializer.serialize_none(),
        }
    }

    /// Read an RFC 3339 time; empty is `None`.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Timestamp>, D::Error> {
        let text: Option<String> = Option::deserialize(deserializer)?;
        match text.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => super::parse(text).map(Some).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_seconds_in_utc() {
        let time: Timestamp = "2026-03-04T05:06:07.890+02:00".parse().unwrap();
        assert_eq!(format(&time), "2026-03-04T03:06:07Z");
        assert_eq!(now().subsec_nanosecond(), 0);
        assert!(parse("yesterday").unwrap_err().contains("2026-01-01T00:00:00Z"));
    }
}
