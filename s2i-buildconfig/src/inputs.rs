//! What a build takes from Secrets and ConfigMaps: the credentials of
//! `source.sourceSecret` (for the clone), `sourceStrategy.pullSecret` (for
//! its pulls) and `output.pushSecret` (for the push), and the files of
//! `source.secrets` (injected for assemble only, removed before the commit)
//! and `source.configMaps` (injected and kept, as OpenShift keeps them).
//!
//! The files are written into a private directory (mode 0700) under the
//! build's working directory and removed when the build ends
//! ([`InjectedFiles`] removes them on drop). Values never reach the log:
//! messages name Secrets and keys only.

use std::path::{Path, PathBuf};

use s2i_core::auth::CredentialFiles;
use s2i_core::git::{GitCredentials, SecretFile};
use s2i_core::inject::Injection;
use s2i_store::Tx;
use s2i_store::core::{
    BASIC_AUTH_PASSWORD, BASIC_AUTH_USERNAME, ConfigMap, DOCKER_CONFIG_JSON_KEY, DOCKERCFG_KEY, SSH_AUTH_PRIVATE_KEY,
    SSH_KNOWN_HOSTS, Secret,
};

use crate::types::*;

/// Why a build's inputs could not be had: the reason OpenShift gives, and
/// what to say in the build's log.
#[derive(Debug)]
pub(crate) struct InputFailure {
    /// `(reason, message)` of the build's status.
    pub(crate) reason: (&'static str, &'static str),
    /// The log line (names the object and the field, never a value).
    pub(crate) line: String,
}

/// Credentials and files a build takes from Secrets and ConfigMaps.
#[derive(Default)]
pub(crate) struct BuildInputs {
    /// For the clone.
    pub(crate) source_credentials: Option<GitCredentials>,
    /// For the build's pulls.
    pub(crate) pull_credentials: Option<CredentialFiles>,
    /// For the push of the output.
    pub(crate) push_credentials: Option<CredentialFiles>,
    /// The files of `source.secrets` and `source.configMaps`.
    pub(crate) injections: Vec<Injection>,
    /// Where those files are (removed on drop).
    pub(crate) files: InjectedFiles,
    /// Notes for the log (keys a local build does not use).
    pub(crate) notes: Vec<String>,
}

/// Directories of files written for injection, removed on drop.
#[derive(Debug, Default)]
pub(crate) struct InjectedFiles(Vec<PathBuf>);

impl Drop for InjectedFiles {
    fn drop(&mut self) {
        for dir in &self.0 {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// Who refers to an input, for messages: `BuildConfig default/app` (or the
/// build itself when it has no config).
fn owner(build: &Build) -> String {
    let namespace = &build.metadata.namespace;
    match build.config_name() {
        Some(config) => format!("BuildConfig {namespace}/{config}"),
        None => format!("Build {namespace}/{}", build.metadata.name),
    }
}

fn secret(
    tx: &Tx<'_>,
    build: &Build,
    name: &str,
    field: &str,
    reason: (&'static str, &'static str),
) -> Result<Secret, InputFailure> {
    let namespace = &build.metadata.namespace;
    match tx.get_as::<Secret>(namespace, name) {
        Ok(Some(secret)) => Ok(secret),
        Ok(None) => Err(InputFailure {
            reason,
            line: format!(
                "error: Secret {name:?} not found in namespace {namespace}: {field} of {} names it (create it with \
                 `s2i secret create`, or apply it)",
                owner(build)
            ),
        }),
        Err(e) => Err(InputFailure { reason, line: format!("error: reading Secret {name:?}: {e}") }),
    }
}

/// Read every input the build's spec names. `work_dir` is the build's
/// working directory; the injected files go below it.
pub(crate) fn gather(
    tx: &Tx<'_>,
    build: &Build,
    spec: &BuildSpec,
    work_dir: &Path,
) -> Result<BuildInputs, InputFailure> {
    let mut inputs = BuildInputs::default();
    let fetch = reasons::FETCH_SOURCE_FAILED;
    if let Some(reference) = &spec.source.source_secret {
        let secret = secret(tx, build, &reference.name, "spec.source.sourceSecret", fetch)?;
        inputs.source_credentials = Some(git_credentials(&secret, &mut inputs.notes).map_err(|line| InputFailure {
            reason: fetch,
            line: format!("error: {line} (spec.source.sourceSecret of {})", owner(build)),
        })?);
    }
    if let Some(reference) = spec.strategy.source_strategy.as_ref().and_then(|s| s.pull_secret.as_ref()) {
        let field = "spec.strategy.sourceStrategy.pullSecret";
        let reason = reasons::PULL_BUILDER_IMAGE_FAILED;
        let secret = secret(tx, build, &reference.name, field, reason)?;
        inputs.pull_credentials =
            Some(registry_credentials(&secret).map_err(|line| InputFailure {
                reason,
                line: format!("error: {line} ({field} of {})", owner(build)),
            })?);
    }
    if let Some(reference) = &spec.output.push_secret {
        let field = "spec.output.pushSecret";
        let reason = reasons::MISSING_PUSH_SECRET;
        let secret = secret(tx, build, &reference.name, field, reason)?;
        inputs.push_credentials =
            Some(registry_credentials(&secret).map_err(|line| InputFailure {
                reason,
                line: format!("error: {line} ({field} of {})", owner(build)),
            })?);
    }
    if spec.source.secrets.is_empty() && spec.source.config_maps.is_empty() {
        return Ok(inputs);
    }
    let private = |path: &Path| {
        create_private_dir(path)
            .map_err(|e| InputFailure { reason: fetch, line: format!("error: cannot create {}: {e}", path.display()) })
    };
    let root = work_dir.join("inputs");
    private(&root)?;
    inputs.files.0.push(root.clone());
    for (index, source) in spec.source.secrets.iter().enumerate() {
        let name = &source.secret.name;
        let field = format!("spec.source.secrets[{index}]");
        let secret = secret(tx, build, name, &field, fetch)?;
        let dir = root.join(format!("secret-{index}-{name}"));
        private(&dir)?;
        for (key, value) in &secret.data {
            write_file(&dir.join(key), &value.0, fetch)?;
        }
        let destination = if source.destination_dir.is_empty() { ".".into() } else { source.destination_dir.clone() };
        inputs.injections.push(Injection { source: dir, destination, keep: false });
    }
    for (index, source) in spec.source.config_maps.iter().enumerate() {
        let name = &source.config_map.name;
        let namespace = &build.metadata.namespace;
        let map = match tx.get_as::<ConfigMap>(namespace, name) {
            Ok(Some(map)) => map,
            Ok(None) => {
                return Err(InputFailure {
                    reason: fetch,
                    line: format!(
                        "error: ConfigMap {name:?} not found in namespace {namespace}: \
                         spec.source.configMaps[{index}] of {} names it (create it with `s2i create configmap`, or \
                         apply it)",
                        owner(build)
                    ),
                });
            }
            Err(e) => {
                return Err(InputFailure { reason: fetch, line: format!("error: reading ConfigMap {name:?}: {e}") });
            }
        };
        let dir = root.join(format!("configmap-{index}-{name}"));
        private(&dir)?;
        for (key, value) in map.values() {
            write_file(&dir.join(key), value, fetch)?;
        }
        let destination = if source.destination_dir.is_empty() { ".".into() } else { source.destination_dir.clone() };
        inputs.injections.push(Injection { source: dir, destination, keep: true });
    }
    Ok(inputs)
}

/// Clone credentials from a Secret: `ssh-privatekey` (with `known_hosts`)
/// or `username`/`password`, the keys of OpenShift's source secrets.
fn git_credentials(secret: &Secret, notes: &mut Vec<String>) -> Result<GitCredentials, String> {
    let name = &secret.metadata.name;
    let unused: Vec<&str> = ["ca.crt", ".gitconfig"].into_iter().filter(|key| secret.value(key).is_some()).collect();
    if !unused.is_empty() {
        notes.push(format!(
            "the keys {} of source secret {name:?} are not used by a local clone (git's own configuration and CAs are)",
            unused.join(", ")
        ));
    }
    if let Some(key) = secret.value(SSH_AUTH_PRIVATE_KEY) {
        return Ok(GitCredentials::SshKey {
            private_key: SecretFile::Contents(key.to_vec()),
            known_hosts: secret.value(SSH_KNOWN_HOSTS).map(|hosts| SecretFile::Contents(hosts.to_vec())),
        });
    }
    let text = |key: &str| -> Result<String, String> {
        let value = secret.value(key).unwrap_or_default();
        String::from_utf8(value.to_vec()).map_err(|_| format!("the {key} of Secret {name:?} is not UTF-8 text"))
    };
    if secret.value(BASIC_AUTH_USERNAME).is_some() || secret.value(BASIC_AUTH_PASSWORD).is_some() {
        return Ok(GitCredentials::Basic {
            username: text(BASIC_AUTH_USERNAME)?,
            password: text(BASIC_AUTH_PASSWORD)?,
        });
    }
    Err(format!(
        "Secret {name:?} (type {}) has no {SSH_AUTH_PRIVATE_KEY}, {BASIC_AUTH_USERNAME} or {BASIC_AUTH_PASSWORD}: it \
         cannot authenticate a clone",
        secret.type_name()
    ))
}

/// Registry credentials from a `kubernetes.io/dockerconfigjson` (or
/// `dockercfg`) Secret.
fn registry_credentials(secret: &Secret) -> Result<CredentialFiles, String> {
    let name = &secret.metadata.name;
    let (key, value) = [DOCKER_CONFIG_JSON_KEY, DOCKERCFG_KEY]
        .into_iter()
        .find_map(|key| secret.value(key).map(|value| (key, value)))
        .ok_or_else(|| {
            format!(
                "Secret {name:?} (type {}) has no {DOCKER_CONFIG_JSON_KEY} or {DOCKERCFG_KEY}: it holds no registry \
                 credentials",
                secret.type_name()
            )
        })?;
    let text = std::str::from_utf8(value).map_err(|_| format!("the {key} of Secret {name:?} is not UTF-8 text"))?;
    let label = PathBuf::from(format!("Secret {}/{name} ({key})", secret.metadata.namespace));
    CredentialFiles::parse(text, &label).map_err(|e| e.to_string())
}

fn create_private_dir(path: &Path) -> std::io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

fn write_file(path: &Path, value: &[u8], reason: (&'static str, &'static str)) -> Result<(), InputFailure> {
    std::fs::write(path, value)
        .map_err(|e| InputFailure { reason, line: format!("error: cannot write {}: {e}", path.display()) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_come_from_the_keys_openshift_reads() {
        let mut basic = Secret::new("default", "git");
        basic.insert("username", b"builder".to_vec()).unwrap();
        basic.insert("password", b"t0ken".to_vec()).unwrap();
        basic.insert("ca.crt", b"---".to_vec()).unwrap();
        let mut notes = Vec::new();
        let credentials = git_credentials(&basic, &mut notes).unwrap();
        assert!(matches!(credentials, GitCredentials::Basic { ref username, .. } if username == "builder"));
        assert!(notes[0].contains("ca.crt") && !notes[0].contains("t0ken"), "{notes:?}");

        let mut ssh = Secret::new("default", "ssh");
        ssh.insert("ssh-privatekey", b"KEY".to_vec()).unwrap();
        ssh.insert("known_hosts", b"host ssh-ed25519 AAAA".to_vec()).unwrap();
        match git_credentials(&ssh, &mut notes).unwrap() {
            GitCredentials::SshKey { known_hosts, .. } => assert!(known_hosts.is_some()),
            other => panic!("{other:?}"),
        }
        let empty = Secret::new("default", "empty");
        assert!(git_credentials(&empty, &mut notes).unwrap_err().contains("cannot authenticate a clone"));

        let pull = Secret::docker_registry("default", "pull", "127.0.0.1:5000", "bot", "pw", None);
        let files = registry_credentials(&pull).unwrap();
        let found = files.credentials_for_registry("127.0.0.1:5000").unwrap().unwrap();
        assert_eq!((found.username.as_str(), found.password.as_str()), ("bot", "pw"));
        assert!(registry_credentials(&basic).unwrap_err().contains("holds no registry credentials"));
    }
}
