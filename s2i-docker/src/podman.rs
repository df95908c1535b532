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
//! - **Engine-made changes.** Podman writes into a container's own layer at
//!   start: the mount points of `/etc/hosts`, `/etc/hostname` and
//!   `/etc/resolv.conf` (so `/etc` is listed as changed), and, for a numeric
//!   user without a group (`1001`), a line for it in `/etc/group`. A commit
//!   or a layer made from the container's changes would carry them, where
//!   Docker's does not. The backend sends such a user as `uid:gid` with the
//!   primary group of the image's `/etc/passwd` (the same identity, and
//!   Podman then leaves `/etc/group` alone), and leaves `/etc` out of the
//!   changes when nothing below it changed; see [`primary_group`] and
//!   [`without_own_changes`].
//! - **`ONBUILD` triggers.** Podman's image inspection (in 4.3 both the
//!   compatible one and `/libpod/images/{name}/json`) leaves out the `OnBuild`
//!   of Docker-format images, although the stored configuration has it. The
//!   image's history tells whether it was built with an `ONBUILD`
//!   instruction; only then is the configuration read from the image's
//!   export; see [`history_mentions_onbuild`] and [`on_build_from_export`].
//! - **Tags.** Podman rewrites an image's whole list of names for each tag
//!   or untag, so concurrent ones can drop each other's; see `names_lock`.

use std::collections::HashMap;
use std::io::Read;

use bollard::models::SystemVersion;
use s2i_core::runtime::{ChangeKind, CommitSpec, ContainerChange, RuntimeError, RuntimeErrorKind};

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

/// The primary group of the numeric `user` in `passwd` (an `/etc/passwd`),
/// as `uid:gid`; `None` for a user with a group or a name, root (whose group
/// Podman leaves alone), or one the file does not list.
pub(crate) fn primary_group(passwd: &str, user: &str) -> Option<String> {
    if user.is_empty() || user == "0" || !user.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        let (uid, gid) = (fields.get(2)?, fields.get(3)?);
        (*uid == user && !gid.is_empty() && gid.bytes().all(|b| b.is_ascii_digit())).then(|| format!("{user}:{gid}"))
    })
}

/// A container's changes without what Podman itself changed: `/etc`, listed
/// because Podman made mount points in it, when nothing below it changed.
/// (A build that changed only the mode of `/etc` on Podman loses that.)
pub(crate) fn without_own_changes(mut changes: Vec<ContainerChange>) -> Vec<ContainerChange> {
    let below_etc = changes.iter().any(|c| c.path.starts_with("/etc/"));
    if !below_etc {
        changes.retain(|c| !(c.path == "/etc" && c.kind == ChangeKind::Modified));
    }
    changes
}

/// Whether an image's history (the `created_by` of each entry) has an
/// `ONBUILD` instruction: every way of building one records it there
/// (`#(nop) ONBUILD …` by the classic builder and Buildah, `ONBUILD …` by
/// BuildKit). Without one, the image has no triggers of its own.
pub(crate) fn history_mentions_onbuild<'a>(created_by: impl IntoIterator<Item = &'a str>) -> bool {
    created_by
        .into_iter()
        .any(|line| line.split(|c: char| !c.is_ascii_alphabetic()).any(|word| word.eq_ignore_ascii_case("onbuild")))
}

/// The largest file of an export read as image configuration or manifest.
const MAX_CONFIG_BYTES: u64 = 16 << 20;

/// The `ONBUILD` triggers in the configuration of the image with ID `id`
/// (`sha256:HEX` or `HEX`), read from its export (`GET /images/{id}/get`, a
/// `docker save` archive): the configuration is the file `HEX.json`, or the
/// one `manifest.json` names. Layers are read past, not kept.
pub(crate) fn on_build_from_export(export: impl Read, id: &str) -> Result<Vec<String>, RuntimeError> {
    let hex = id.strip_prefix("sha256:").unwrap_or(id);
    let failed = |what: String| {
        RuntimeError::new(
            RuntimeErrorKind::Other,
            format!("cannot read the configuration of image {id} from its export: {what}"),
        )
    };
    let mut small_json: HashMap<String, Vec<u8>> = HashMap::new();
    let mut config_name = None;
    let mut archive = tar::Archive::new(export);
    for entry in archive.entries().map_err(|e| failed(e.to_string()))? {
        let mut entry = entry.map_err(|e| failed(e.to_string()))?;
        let path = entry.path().map_err(|e| failed(e.to_string()))?.to_string_lossy().into_owned();
        let path = path.trim_start_matches("./").to_owned();
        if path.contains('/') || !path.ends_with(".json") || entry.size() > MAX_CONFIG_BYTES {
            continue;
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(|e| failed(e.to_string()))?;
        if path == format!("{hex}.json") {
            return on_build_of_config(&bytes).map_err(failed);
        }
        if path == "manifest.json" {
            let manifest: serde_json::Value =
                serde_json::from_slice(&bytes).map_err(|e| failed(format!("manifest.json: {e}")))?;
            config_name = manifest.get(0).and_then(|m| m["Config"].as_str()).map(str::to_owned);
        }
        small_json.insert(path, bytes);
        if let Some(bytes) = config_name.as_ref().and_then(|name| small_json.get(name)) {
            return on_build_of_config(bytes).map_err(failed);
        }
    }
    Err(failed(match config_name {
        Some(name) => format!("it has no {name}"),
        None => "it has neither the configuration nor a manifest.json".to_owned(),
    }))
}

/// `config.OnBuild` of a Docker image configuration (absent or `null`: none).
fn on_build_of_config(bytes: &[u8]) -> Result<Vec<String>, String> {
    #[derive(serde::Deserialize)]
    struct Image {
        #[serde(default)]
        config: Option<Config>,
    }
    #[derive(serde::Deserialize)]
    struct Config {
        #[serde(rename = "OnBuild", default)]
        on_build: Option<Vec<String>>,
    }
    let image: Image = serde_json::from_slice(bytes).map_err(|e| format!("the configuration is not JSON: {e}"))?;
    Ok(image.config.and_then(|c| c.on_build).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use bollard::models::{SystemVersionComponents, SystemVersionPlatform};

    use super::*;

    #[test]
    fn numeric_users_get_their_primary_group() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\ndefault:x:1001:0:App:/opt/app-root/src:/bin/sh\n";
        assert_eq!(primary_group(passwd, "1001").as_deref(), Some("1001:0"));
        assert_eq!(primary_group(passwd, "0"), None, "root's group is there");
        assert_eq!(primary_group(passwd, "1001:1001"), None, "a group is kept");
        assert_eq!(primary_group(passwd, "default"), None, "names are left to the engine");
        assert_eq!(primary_group(passwd, "4242"), None, "unknown users too");
    }

    #[test]
    fn podmans_own_etc_change_is_left_out() {
        let change = |path: &str, kind| ContainerChange { path: path.into(), kind };
        let own = vec![change("/etc", ChangeKind::Modified), change("/tmp", ChangeKind::Modified)];
        assert_eq!(without_own_changes(own), [change("/tmp", ChangeKind::Modified)]);
        let real = vec![change("/etc", ChangeKind::Modified), change("/etc/motd", ChangeKind::Added)];
        assert_eq!(without_own_changes(real.clone()), real);
    }

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
    fn onbuild_instructions_show_in_the_history() {
        assert!(history_mentions_onbuild(["/bin/sh -c #(nop)  ONBUILD COPY . /src"]));
        assert!(history_mentions_onbuild(["/bin/sh -c #(nop) LABEL a=b", "ONBUILD RUN make # buildkit"]));
        assert!(history_mentions_onbuild(["/bin/sh -c #(nop) onbuild run make"]));
        assert!(!history_mentions_onbuild(["/bin/sh -c #(nop) LABEL a=b", "/bin/sh -c make onbuilder"]));
        assert!(!history_mentions_onbuild([]));
    }

    /// A `docker save` archive: a layer, the configuration, the legacy layer directory, the manifest.
    fn export(config_name: &str, config: &str, manifest: Option<&str>) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut add = |path: &str, data: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o444);
            header.set_cksum();
            builder.append_data(&mut header, path, data).unwrap();
        };
        add("aaaa.tar", &vec![7u8; 4096]);
        add(config_name, config.as_bytes());
        add("bbbb/json", br#"{"config":{"OnBuild":["RUN not-this-one"]}}"#);
        if let Some(manifest) = manifest {
            add("manifest.json", manifest.as_bytes());
        }
        builder.into_inner().unwrap()
    }

    #[test]
    fn onbuild_triggers_come_from_the_exported_configuration() {
        let hex = "866b4fc290fc29898c681b665aaac1f0fc89be2df5af3561ca56edc412370f28";
        let config = r#"{"config":{"Cmd":["/bin/sh"],"OnBuild":["COPY . /src/","RUN echo \"hi\" > /x"]}}"#;
        let archive = export(&format!("{hex}.json"), config, None);
        let expected = ["COPY . /src/".to_owned(), "RUN echo \"hi\" > /x".to_owned()];
        assert_eq!(on_build_from_export(archive.as_slice(), &format!("sha256:{hex}")).unwrap(), expected);
        // Found through the manifest when not named by the ID.
        let archive = export("config.json", config, Some(r#"[{"Config":"config.json","Layers":["aaaa.tar"]}]"#));
        assert_eq!(on_build_from_export(archive.as_slice(), hex).unwrap(), expected);
        // None, or null.
        let archive = export(&format!("{hex}.json"), r#"{"config":{"OnBuild":null}}"#, None);
        assert!(on_build_from_export(archive.as_slice(), hex).unwrap().is_empty());
        let archive = export(&format!("{hex}.json"), r#"{"architecture":"amd64"}"#, None);
        assert!(on_build_from_export(archive.as_slice(), hex).unwrap().is_empty());
    }

    #[test]
    fn an_export_without_the_configuration_is_an_error() {
        let archive = export("other.json", "{}", Some(r#"[{"Config":"missing.json"}]"#));
        let error = on_build_from_export(archive.as_slice(), "sha256:abc").unwrap_err();
        assert!(
            error.message.contains("image sha256:abc") && error.message.contains("missing.json"),
            "{}",
            error.message
        );
        let error = on_build_from_export(&b"not a tar"[..], "abc").unwrap_err();
        assert_eq!(error.kind, RuntimeErrorKind::Other);
        let archive = export("x.json", "not json", Some(r#"[{"Config":"x.json"}]"#));
        assert!(on_build_from_export(archive.as_slice(), "abc").unwrap_err().message.contains("not JSON"));
    }

    #[test]
    fn bare_ids_get_their_algorithm() {
        let hex = "e72f1b72fba033a01c2a2090197e969648b5d3012d795ad34b42333d2d9359e7";
        assert_eq!(image_id(hex.to_owned()), format!("sha256:{hex}"));
        assert_eq!(image_id(format!("sha256:{hex}")), format!("sha256:{hex}"));
        assert_eq!(image_id("abc".to_owned()), "abc");
    }
}
