//! The user a container process runs as: `USER` values (`name`, `uid`,
//! `name:group`, `uid:gid`) resolved against the root filesystem's
//! `/etc/passwd` and `/etc/group`, as Docker resolves them: a numeric user
//! need not exist (its group is then 0), a name must; without a group, the
//! user's primary group from `passwd`; supplementary groups are the groups
//! of `/etc/group` that list the user by name.

use serde::{Deserialize, Serialize};

/// A resolved process user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ExecUser {
    /// User id.
    pub(crate) uid: u32,
    /// Primary group id.
    pub(crate) gid: u32,
    /// Supplementary group ids, sorted, without the primary one.
    pub(crate) groups: Vec<u32>,
}

/// One line of `/etc/passwd`.
struct PasswdEntry<'a> {
    name: &'a str,
    uid: u32,
    gid: u32,
}

fn passwd_entries(text: &str) -> impl Iterator<Item = PasswdEntry<'_>> {
    text.lines().filter(|l| !l.trim_start().starts_with('#')).filter_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        Some(PasswdEntry {
            name: fields.first()?,
            uid: fields.get(2)?.trim().parse().ok()?,
            gid: fields.get(3)?.trim().parse().ok()?,
        })
    })
}

/// (name, gid, members) of each line of `/etc/group`.
fn group_entries(text: &str) -> impl Iterator<Item = (&str, u32, Vec<&str>)> {
    text.lines().filter(|l| !l.trim_start().starts_with('#')).filter_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        let members = fields.get(3).map(|m| m.split(',').map(str::trim).filter(|m| !m.is_empty()).collect());
        Some((*fields.first()?, fields.get(2)?.trim().parse().ok()?, members.unwrap_or_default()))
    })
}

/// Resolve `user` (empty means root) with the image's `passwd` and `group`
/// files (either may be missing). The error says what could not be found.
pub(crate) fn resolve(user: &str, passwd: Option<&str>, group: Option<&str>) -> Result<ExecUser, String> {
    let (user_part, group_part) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let passwd_text = passwd.unwrap_or("");
    let group_text = group.unwrap_or("");
    let (uid, primary, name) = if user_part.is_empty() {
        let root = passwd_entries(passwd_text).find(|e| e.uid == 0);
        (0, root.as_ref().map_or(0, |e| e.gid), root.map(|e| e.name))
    } else if let Ok(uid) = user_part.parse::<u32>() {
        let entry = passwd_entries(passwd_text).find(|e| e.uid == uid);
        (uid, entry.as_ref().map_or(0, |e| e.gid), entry.map(|e| e.name))
    } else {
        let entry = passwd_entries(passwd_text).find(|e| e.name == user_part).ok_or_else(|| {
            if passwd.is_none() {
                format!("unable to find user {user_part}: the image has no /etc/passwd")
            } else {
                format!("unable to find user {user_part}: no matching entries in passwd file")
            }
        })?;
        (entry.uid, entry.gid, Some(entry.name))
    };
    let gid = match group_part {
        None | Some("") => primary,
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => group_entries(group_text)
                .find(|(n, _, _)| *n == g)
                .map(|(_, gid, _)| gid)
                .ok_or_else(|| format!("unable to find group {g}: no matching entries in group file"))?,
        },
    };
    let mut groups: Vec<u32> = match name {
        Some(name) => group_entries(group_text)
            .filter(|(_, id, members)| *id != gid && members.contains(&name))
            .map(|(_, id, _)| id)
            .collect(),
        None => Vec::new(),
    };
    groups.sort_unstable();
    groups.dedup();
    Ok(ExecUser { uid, gid, groups })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str =
        "root:x:0:0:root:/root:/bin/sh\ndefault:x:1001:0::/opt/app-root/src:/bin/sh\nbuilder:x:1002:0::/home:/bin/sh\n";
    const GROUP: &str = "root:x:0:\nwheel:x:10:builder,other\nstaff:x:50:builder\n";

    #[test]
    fn users_resolve_as_docker_resolves_them() {
        let r = |u: &str| resolve(u, Some(PASSWD), Some(GROUP));
        assert_eq!(r("").unwrap(), ExecUser { uid: 0, gid: 0, groups: vec![] });
        assert_eq!(r("1001").unwrap(), ExecUser { uid: 1001, gid: 0, groups: vec![] });
        assert_eq!(r("4242").unwrap(), ExecUser { uid: 4242, gid: 0, groups: vec![] }, "unknown numeric ids are fine");
        assert_eq!(r("builder").unwrap(), ExecUser { uid: 1002, gid: 0, groups: vec![10, 50] });
        assert_eq!(r("builder:staff").unwrap(), ExecUser { uid: 1002, gid: 50, groups: vec![10] });
        assert_eq!(r("1001:7").unwrap(), ExecUser { uid: 1001, gid: 7, groups: vec![] });
        assert!(r("nobody").unwrap_err().contains("no matching entries in passwd"));
        assert!(r("1001:nogroup").unwrap_err().contains("unable to find group nogroup"));
        assert!(resolve("named", None, None).unwrap_err().contains("no /etc/passwd"));
    }
}
