//! `--allowed-uids`: which users builds may run as, and the checks run on an
//! image before any container of it starts.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::runtime::ImageInfo;

/// Label naming the user assemble runs as.
pub const ASSEMBLE_USER_LABEL: &str = "io.openshift.s2i.assemble-user";

/// An inclusive range of user IDs; a missing end is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct UidRange {
    /// Lowest allowed uid.
    pub min: Option<u32>,
    /// Highest allowed uid.
    pub max: Option<u32>,
}

impl UidRange {
    /// Whether `uid` is in the range.
    pub fn contains(&self, uid: u32) -> bool {
        self.min.is_none_or(|min| uid >= min) && self.max.is_none_or(|max| uid <= max)
    }
}

impl fmt::Display for UidRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.min, self.max) {
            (Some(a), Some(b)) if a == b => write!(f, "{a}"),
            (Some(a), Some(b)) => write!(f, "{a}-{b}"),
            (Some(a), None) => write!(f, "{a}-"),
            (None, Some(b)) => write!(f, "-{b}"),
            (None, None) => Ok(()),
        }
    }
}

/// The allowed users: numeric uids in any of the ranges. Empty allows everyone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AllowedUids {
    /// The ranges.
    pub ranges: Vec<UidRange>,
}

const FORMAT_ERROR: &str = "error parsing range; a range must be of one of the following formats: [n], [-n], [n-], [n:m] where n and m are positive numbers and m is greater than or equal to n";
const RANGE_ERROR: &str = "invalid range; a range must consist of positive integers and the upper bound must be greater than or equal to the lower bound";

impl FromStr for AllowedUids {
    type Err = Error;

    /// Parse `N`, `N-`, `-N`, `N-M`, comma-separated.
    fn from_str(text: &str) -> Result<Self> {
        let invalid = |message: &str, item: &str| {
            Error::option(
                "--allowed-uids",
                format!("{item:?}: {message}"),
                "write comma-separated ranges such as 1000-2000, 1001, 500- or -999",
            )
        };
        let mut ranges = Vec::new();
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let number = |s: &str| -> Result<Option<u32>> {
                if s.is_empty() {
                    return Ok(None);
                }
                s.parse::<u32>().map(Some).map_err(|_| invalid(RANGE_ERROR, item))
            };
            let range = match item.split_once('-') {
                None => {
                    let n = number(item)?;
                    UidRange { min: n, max: n }
                }
                Some((a, b)) => {
                    if b.contains('-') || (a.is_empty() && b.is_empty()) {
                        return Err(invalid(FORMAT_ERROR, item));
                    }
                    UidRange { min: number(a)?, max: number(b)? }
                }
            };
            if let (Some(min), Some(max)) = (range.min, range.max)
                && max < min
            {
                return Err(invalid(RANGE_ERROR, item));
            }
            ranges.push(range);
        }
        Ok(Self { ranges })
    }
}

impl fmt::Display for AllowedUids {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.ranges.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(","))
    }
}

impl AllowedUids {
    /// Whether no restriction applies.
    pub fn is_unrestricted(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether `user` (`uid` or `uid:gid`) is allowed. Names are never allowed
    /// under a restriction: the policy is only meaningful for numeric users.
    pub fn allows(&self, user: &str) -> bool {
        if self.is_unrestricted() {
            return true;
        }
        let uid = user.split(':').next().unwrap_or_default().trim();
        uid.parse::<u32>().is_ok_and(|uid| self.ranges.iter().any(|r| r.contains(uid)))
    }

    /// The checks the reference runs on a builder (or runtime) image before a
    /// build: `ONBUILD USER` triggers, then `--assemble-user`, then the
    /// assemble-user label, then the image's `USER`.
    pub fn check_image(&self, image: &str, info: &ImageInfo, assemble_user: Option<&str>) -> Result<()> {
        self.check(image, info, assemble_user, ASSEMBLE_USER_LABEL, "assemble")
    }

    /// The same checks for a runtime image: `--assemble-runtime-user`, then
    /// the assemble-runtime-user label, then the image's `USER`.
    pub(crate) fn check_runtime_image(&self, image: &str, info: &ImageInfo, user: Option<&str>) -> Result<()> {
        self.check(image, info, user, crate::chained::ASSEMBLE_RUNTIME_USER_LABEL, "assemble-runtime")
    }

    fn check(&self, image: &str, info: &ImageInfo, flag_user: Option<&str>, label: &str, script: &str) -> Result<()> {
        if self.is_unrestricted() {
            return Ok(());
        }
        let refuse = |message: String| Error::UserNotAllowed { message, allowed: self.to_string() };
        for trigger in &info.on_build {
            let mut words = trigger.split_whitespace();
            if words.next().is_some_and(|w| w.eq_ignore_ascii_case("USER")) {
                let user = words.next().unwrap_or_default();
                if !self.allows(user) {
                    return Err(refuse(format!(
                        "image {image:?} includes at least one ONBUILD instruction that sets the user to a user that is not allowed"
                    )));
                }
            }
        }
        if let Some(user) = flag_user.filter(|u| !u.is_empty()) {
            return if self.allows(user) {
                Ok(())
            } else {
                Err(refuse(format!("{script} user must be numeric and within the range of allowed users")))
            };
        }
        if let Some(user) = info.labels.get(label).filter(|u| !u.is_empty()) {
            return if self.allows(user) {
                Ok(())
            } else {
                Err(refuse(format!(
                    "image {image:?} includes the {label:?} label whose value is not within the allowed range"
                )))
            };
        }
        if self.allows(&info.user) {
            Ok(())
        } else {
            Err(refuse(format!(
                "image {image:?} must specify a user that is numeric and within the range of allowed users"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uids(s: &str) -> AllowedUids {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_parse_like_the_reference() {
        assert_eq!(uids("").ranges, []);
        assert_eq!(uids("1000").to_string(), "1000");
        assert_eq!(uids("1-, -10, 5-7").to_string(), "1-,-10,5-7");
        for bad in ["a", "5-3", "1-2-3", "-", "-1x", "99999999999"] {
            assert!(bad.parse::<AllowedUids>().is_err(), "{bad}");
        }
        let err = "5-3".parse::<AllowedUids>().unwrap_err().to_string();
        assert!(err.contains("upper bound must be greater than or equal"), "{err}");
    }

    #[test]
    fn numeric_users_in_range_only() {
        let a = uids("1-");
        assert!(a.allows("1001"));
        assert!(a.allows("1001:0"));
        assert!(!a.allows("0"));
        assert!(!a.allows("root"));
        assert!(!a.allows(""));
        assert!(uids("").allows("root"));
        assert!(uids("0").allows("0"));
    }

    fn image(user: &str, label: Option<&str>, on_build: &[&str]) -> ImageInfo {
        let mut info = ImageInfo { user: user.into(), ..Default::default() };
        if let Some(label) = label {
            info.labels.insert(ASSEMBLE_USER_LABEL.into(), label.into());
        }
        info.on_build = on_build.iter().map(|s| s.to_string()).collect();
        info
    }

    #[test]
    fn image_checks_in_the_reference_order() {
        let a = uids("1000-");
        assert!(a.check_image("i", &image("1001", None, &[]), None).is_ok());
        let err = a.check_image("i", &image("root", None, &[]), None).unwrap_err();
        assert_eq!(err.exit_code(), 15);
        assert!(err.to_string().contains("must specify a user that is numeric"), "{err}");
        // The flag wins over the image, and is checked itself.
        assert!(a.check_image("i", &image("root", None, &[]), Some("1002")).is_ok());
        let err = a.check_image("i", &image("1001", None, &[]), Some("0")).unwrap_err();
        assert!(err.to_string().contains("assemble user must be numeric"), "{err}");
        // The label wins over USER.
        assert!(a.check_image("i", &image("root", Some("1005"), &[]), None).is_ok());
        let err = a.check_image("i", &image("1001", Some("0"), &[]), None).unwrap_err();
        assert!(err.to_string().contains("assemble-user\" label"), "{err}");
        // ONBUILD USER is checked first.
        let err = a.check_image("i", &image("1001", None, &["USER root"]), None).unwrap_err();
        assert!(err.to_string().contains("ONBUILD"), "{err}");
        assert!(a.check_image("i", &image("1001", None, &["USER 1002", "RUN x"]), None).is_ok());
    }
}
