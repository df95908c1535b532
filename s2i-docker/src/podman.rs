//! Where Podman's Docker-compatible service differs from Docker, and how the
//! backend makes up for it.
//!
//! - **Commit.** Podman before 4.9.3 ignores the container configuration in
//!   the body of `POST /commit` (containers/podman#13770); every version
//!   applies the `changes` query parameter (Dockerfile instructions, one per
//!   line). On Podman the configuration is therefore sent both ways; see
//!   [`commit_changes`].
//! - **Archive upload.** Podman creates a missing target directory where
//!   Docker answers 404; the backend checks the directory first so that both
//!   engines fail alike.
//! - **Names and IDs.** Podman names images fully qualified
//!   (`docker.io/library/busybox:latest`) and answers a commit with a bare
//!   hex ID; see [`familiar_name`] and [`image_id`].

use bollard::models::SystemVersion;
use s2i_core::runtime::{CommitSpec, RuntimeError, RuntimeErrorKind};

/// The first Podman release whose `POST /commit` applies the configuration
/// in the request body.
pub(crate) const COMMIT_BODY_HONOURED: (u64, u64, u64) = (4, 9, 3);

/// Which engine answers at the endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Flavor {
    /// Docker Engine (or anything that does not say it is Podman).
    Docker,
    /// Podman's Docker-compatible service, with its version.
    Podman {
        /// `major.minor.patch`; zeros where the engine did not say.
        version: (u64, u64, u64),
    },
}

impl Flavor {
    /// The flavor of the engine that answered `/version` with `version`.
    pub(crate) fn of(version: &SystemVersion) -> Self {
        let is_podman = |name: &str| name.to_ascii_lowercase().contains("podman");
        let component = version.components.iter().flatten().find(|c| is_podman(&c.name));
        let platform = version.platform.as_ref().is_some_and(|p| is_podman(&p.name));
        match component {
            Some(component) => Flavor::Podman { version: parse_version(&component.version) },
            None if platform => Flavor::Podman { version: parse_version(version.version.as_deref().unwrap_or("")) },
            None => Flavor::Docker,
        }
    }

    /// The product name, as [`RuntimeInfo::name`](s2i_core::runtime::RuntimeInfo::name) reports it.
    pub(crate) fn product_name(self) -> &'static str {
        match self {
            Flavor::Docker => "Docker Engine",
            Flavor::Podman { .. } => "Podman Engine",
        }
    }
}

/// `4.3.1`, `5.0.0-rc1` or `v4.9` as a triple; missing or unreadable parts are 0.
fn parse_version(text: &str) -> (u64, u64, u64) {
    let mut parts = text.trim().trim_start_matches('v').split('.').map(|part| {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().unwrap_or(0)
    });
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// The `changes` of a Podman commit that give the new image the configuration
/// of `spec`, with Docker's rules for what the container keeps:
///
/// - `ENTRYPOINT` is replaced by the spec's; an empty one clears the
///   container's when a command is given (with neither, both stay);
/// - `CMD` is replaced when the spec has one;
/// - `USER` is replaced when the spec names one;
/// - each variable and label of the spec is set, the container's others stay.
///
/// Podman reads one instruction per line and takes `ENV`/`LABEL` values
/// verbatim between one pair of double quotes, so a value can hold anything
/// but a line break. Such a value is left to the request body, which Podman
/// applies from [`COMMIT_BODY_HONOURED`] on; older versions cannot record it,
/// and the commit is refused before anything is written.
pub(crate) fn commit_changes(spec: &CommitSpec, version: (u64, u64, u64)) -> Result<String, RuntimeError> {
    let body_honoured = version >= COMMIT_BODY_HONOURED;
    let mut changes: Vec<String> = Vec::new();
    let mut unrepresentable = Vec::new();
    let json = |words: &[String]| serde_json::to_string(words).expect("strings serialise");

    if !spec.entrypoint.is_empty() {
        changes.push(format!("ENTRYPOINT {}", json(&spec.entrypoint)));
    } else if !spec.cmd.is_empty() {
        changes.push("ENTRYPOINT []".to_owned());
    }
    if !spec.cmd.is_empty() {
        changes.push(format!("CMD {}", json(&spec.cmd)));
    }
    if !spec.user.is_empty() {
        if spec.user.chars().any(char::is_whitespace) {
            unrepresentable.push(format!("the user {:?}", spec.user));
        } else {
            changes.push(format!("USER {}", spec.user));
        }
    }
    for entry in &spec.env {
        let (name, value) = entry.split_once('=').unwrap_or((entry, ""));
        if name.is_empty() || has_line_break(name) || has_line_break(value) {
            unrepresentable.push(format!("the environment variable {name:?}"));
        } else {
            changes.push(format!("ENV \"{name}\"=\"{value}\""));
        }
    }
    for (key, value) in &spec.labels {
        if key.is_empty() || key.contains('=') || has_line_break(key) || has_line_break(value) {
            unrepresentable.push(format!("the label {key:?}"));
        } else {
            changes.push(format!("LABEL \"{key}\"=\"{value}\""));
        }
    }
    if !unrepresentable.is_empty() && !body_honoured {
        let (major, minor, patch) = version;
        let (min_major, min_minor, min_patch) = COMMIT_BODY_HONOURED;
        return Err(RuntimeError::new(
            RuntimeErrorKind::Rejected,
            format!(
                "Podman {major}.{minor}.{patch} cannot record {} in a committed image: its commit API takes the \
                 configuration as Dockerfile instructions, one per line (a label key also cannot hold '='); \
                 Podman {min_major}.{min_minor}.{min_patch} or later, or Docker, can",
                unrepresentable.join(", ")
            ),
        ));
    }
    Ok(changes.join("\n"))
}

fn has_line_break(text: &str) -> bool {
    text.contains(['\n', '\r'])
}

/// An image name in Docker's familiar form: `docker.io/library/busybox:1` is
/// `busybox:1`, `docker.io/org/app@sha256:…` is `org/app@sha256:…`; other
/// names (`localhost/app:1`, `quay.io/org/app:1`) are kept.
pub(crate) fn familiar_name(name: &str) -> String {
    let Some(rest) = name.strip_prefix("docker.io/") else {
        return name.to_owned();
    };
    if let Some(short) = rest.strip_prefix("library/") {
        let repository = &short[..short.find(['@', ':']).unwrap_or(short.len())];
        if !repository.contains('/') {
            return short.to_owned();
        }
    }
    rest.to_owned()
}

/// An image ID as `algorithm:hex`: Podman answers a commit with the bare hex.
pub(crate) fn image_id(id: String) -> String {
    if !id.contains(':') && id.len() == 64 && id.bytes().all(|b| b.is_ascii_hexdigit()) {
        format!("sha256:{id}")
    } else {
        id
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use bollard::models::{SystemVersionComponents, SystemVersionPlatform};

    use super::*;

    const OLD: (u64, u64, u64) = (4, 3, 1);

    fn component(name: &str, version: &str) -> SystemVersionComponents {
        SystemVersionComponents { name: name.into(), version: version.into(), details: None }
    }

    #[test]
    fn flavors_come_from_the_version_answer() {
        let mut version = SystemVersion::default();
        assert_eq!(Flavor::of(&version), Flavor::Docker);
        version.components = Some(vec![component("Engine", "20.10.24")]);
        assert_eq!(Flavor::of(&version).product_name(), "Docker Engine");
        version.components = Some(vec![component("Podman Engine", "4.3.1"), component("Conmon", "2.1.6")]);
        assert_eq!(Flavor::of(&version), Flavor::Podman { version: (4, 3, 1) });
        assert_eq!(Flavor::of(&version).product_name(), "Podman Engine");
        let version = SystemVersion {
            platform: Some(SystemVersionPlatform { name: "Podman".into() }),
            version: Some("5.0.0-rc1".into()),
            ..Default::default()
        };
        assert_eq!(Flavor::of(&version), Flavor::Podman { version: (5, 0, 0) });
        assert_eq!(parse_version("v4.9"), (4, 9, 0));
        assert_eq!(parse_version("dev"), (0, 0, 0));
    }

    fn spec() -> CommitSpec {
        CommitSpec {
            repository: Some("app".into()),
            tag: Some("1".into()),
            cmd: vec!["/usr/libexec/s2i/run".into(), "a \"b\"".into()],
            entrypoint: vec![],
            env: vec!["A=1".into(), "SPACED=x y \"z\"".into(), "EMPTY=".into()],
            user: "1001".into(),
            labels: BTreeMap::from([("io.k8s.display-name".to_owned(), "my app, v1 = \"best\"".to_owned())]),
        }
    }

    #[test]
    fn commit_changes_spell_out_the_config_one_instruction_per_line() {
        let changes = commit_changes(&spec(), OLD).unwrap();
        assert_eq!(
            changes.lines().collect::<Vec<_>>(),
            [
                "ENTRYPOINT []",
                r#"CMD ["/usr/libexec/s2i/run","a \"b\""]"#,
                "USER 1001",
                r#"ENV "A"="1""#,
                r#"ENV "SPACED"="x y "z"""#,
                r#"ENV "EMPTY"="""#,
                r#"LABEL "io.k8s.display-name"="my app, v1 = "best"""#,
            ]
        );
    }

    #[test]
    fn commit_changes_keep_what_docker_keeps() {
        let spec = CommitSpec { cmd: vec![], entrypoint: vec![], user: String::new(), ..spec() };
        let changes = commit_changes(&spec, OLD).unwrap();
        assert!(!changes.contains("ENTRYPOINT") && !changes.contains("CMD") && !changes.contains("USER"), "{changes}");
        let spec = CommitSpec { entrypoint: vec!["/entry".into()], ..spec };
        assert!(commit_changes(&spec, OLD).unwrap().starts_with(r#"ENTRYPOINT ["/entry"]"#));
    }

    #[test]
    fn line_breaks_need_a_podman_that_reads_the_body() {
        let mut spec = spec();
        spec.labels.insert("io.openshift.s2i.build.commit.message".into(), "first\nsecond".into());
        spec.env.push("MULTI=a\r\nb".into());
        let error = commit_changes(&spec, OLD).unwrap_err();
        assert_eq!(error.kind, RuntimeErrorKind::Rejected);
        assert!(error.message.contains("Podman 4.3.1 cannot record"), "{}", error.message);
        assert!(error.message.contains("\"MULTI\"") && error.message.contains("commit.message"), "{}", error.message);
        let changes = commit_changes(&spec, COMMIT_BODY_HONOURED).unwrap();
        assert!(!changes.contains("MULTI") && !changes.contains("commit.message"), "left to the body: {changes}");
        assert!(changes.contains(r#"ENV "A"="1""#));
    }

    #[test]
    fn names_in_familiar_form() {
        assert_eq!(familiar_name("docker.io/library/busybox:latest"), "busybox:latest");
        assert_eq!(familiar_name("docker.io/library/busybox@sha256:ab"), "busybox@sha256:ab");
        assert_eq!(familiar_name("docker.io/s2i-fixtures/base:latest"), "s2i-fixtures/base:latest");
        assert_eq!(familiar_name("docker.io/library/a/b:1"), "library/a/b:1");
        assert_eq!(familiar_name("localhost/app:1"), "localhost/app:1");
        assert_eq!(familiar_name("quay.io/org/app:1"), "quay.io/org/app:1");
        assert_eq!(familiar_name("<none>:<none>"), "<none>:<none>");
        assert_eq!(familiar_name("busybox:latest"), "busybox:latest");
    }

    #[test]
    fn bare_ids_get_their_algorithm() {
        let hex = "e72f1b72fba033a01c2a2090197e969648b5d3012d795ad34b42333d2d9359e7";
        assert_eq!(image_id(hex.to_owned()), format!("sha256:{hex}"));
        assert_eq!(image_id(format!("sha256:{hex}")), format!("sha256:{hex}"));
        assert_eq!(image_id("abc".to_owned()), "abc");
    }
}
