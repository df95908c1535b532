//! Registry credentials from the Docker client configuration file
//! (`~/.docker/config.json`, or the legacy `.dockercfg` layout).
//!
//! Supported entries:
//!
//! - `auths`: registry → `{"auth": base64("user:password")}`, or
//!   `{"username": …, "password": …}`, or `{"identitytoken": …}`;
//! - the legacy flat layout: registry → `{"auth": …, "email": …}` at the top level;
//! - `credHelpers` (registry → helper name) and `credsStore` (the default helper):
//!   `docker-credential-<name> get` is run with the registry on stdin and
//!   answers `{"Username": …, "Secret": …}` (`<token>` as the user name means
//!   the secret is an identity token).
//!
//! Docker Hub images (no registry, `docker.io`, `index.docker.io`,
//! `registry-1.docker.io`) use the key [`DOCKER_HUB_KEY`]; other registries
//! match by host, also when the key is written as `https://host`,
//! `http://host` or `host/v1/`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use s2i_core::reference::ImageReference;
use serde::Deserialize;

use crate::error::Error;

/// The key Docker Hub credentials are stored under.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The user name credential helpers answer when the secret is an identity token.
const TOKEN_USERNAME: &str = "<token>";

/// Credentials for one registry.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RegistryCredentials {
    /// The registry they are for, as the engine expects it (e.g. `quay.io` or [`DOCKER_HUB_KEY`]).
    pub server_address: String,
    /// User name; may be empty with an identity token.
    pub username: String,
    /// Password; empty with an identity token.
    pub password: String,
    /// OAuth identity (refresh) token, used instead of the password.
    pub identity_token: Option<String>,
}

impl fmt::Debug for RegistryCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("server_address", &self.server_address)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("identity_token", &self.identity_token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// One stored entry, secrets decoded.
#[derive(Clone, Default, PartialEq, Eq)]
struct AuthEntry {
    username: String,
    password: String,
    identity_token: Option<String>,
}

impl AuthEntry {
    fn credentials(&self, server_address: &str) -> Option<RegistryCredentials> {
        let has_token = self.identity_token.as_deref().is_some_and(|t| !t.is_empty());
        if !has_token && self.username.is_empty() && self.password.is_empty() {
            return None;
        }
        Some(RegistryCredentials {
            server_address: server_address.to_owned(),
            username: self.username.clone(),
            password: self.password.clone(),
            identity_token: self.identity_token.clone().filter(|t| !t.is_empty()),
        })
    }
}

/// The registry credentials a Docker client configuration file holds.
#[derive(Clone, Default)]
pub struct DockerConfig {
    path: Option<PathBuf>,
    auths: BTreeMap<String, AuthEntry>,
    cred_helpers: BTreeMap<String, String>,
    creds_store: Option<String>,
    search_path: Option<OsString>,
}

impl fmt::Debug for DockerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DockerConfig")
            .field("path", &self.path)
            .field("registries", &self.auths.keys().collect::<Vec<_>>())
            .field("cred_helpers", &self.cred_helpers)
            .field("creds_store", &self.creds_store)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct RawEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default, alias = "identityToken")]
    identitytoken: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    #[serde(default)]
    username: String,
    #[serde(default)]
    secret: String,
}

impl DockerConfig {
    /// A configuration without any credentials.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Read a configuration file. A missing file is an empty configuration; a
    /// malformed one is an [`Error::ConfigFile`] naming it.
    pub fn load(path: &Path) -> Result<Self, Error> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Self { path: Some(path.to_owned()), ..Self::default() })
            }
            Err(e) => Err(Error::ConfigFile { path: path.to_owned(), message: e.to_string() }),
        }
    }

    /// Parse the text of a configuration file; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, Error> {
        let fail = |message: String| Error::ConfigFile { path: path.to_owned(), message };
        let mut config = Self { path: Some(path.to_owned()), ..Self::default() };
        if text.trim().is_empty() {
            return Ok(config);
        }
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| fail(format!("invalid JSON: {e}")))?;
        let serde_json::Value::Object(top) = value else {
            return Err(fail("the top level is not a JSON object".into()));
        };
        let entries: Vec<(&String, &serde_json::Value)> = match top.get("auths") {
            Some(serde_json::Value::Object(auths)) => auths.iter().collect(),
            Some(serde_json::Value::Null) => Vec::new(),
            Some(_) => return Err(fail("\"auths\" is not an object".into())),
            // The legacy layout: registries at the top level.
            None => top.iter().filter(|(_, v)| v.get("auth").is_some() || v.get("username").is_some()).collect(),
        };
        for (key, value) in entries {
            let raw: RawEntry = serde_json::from_value(value.clone())
                .map_err(|e| fail(format!("the entry for {key:?} is invalid: {e}")))?;
            let mut entry = AuthEntry {
                username: raw.username.unwrap_or_default(),
                password: raw.password.unwrap_or_default(),
                identity_token: raw.identitytoken,
            };
            if let Some(auth) = raw.auth.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
                let (user, password) = decode_auth(auth)
                    .ok_or_else(|| fail(format!("the \"auth\" of {key:?} is not base64 of user:password")))?;
                entry.username = user;
                entry.password = password;
            }
            config.auths.insert(key.clone(), entry);
        }
        match top.get("credHelpers") {
            Some(serde_json::Value::Object(helpers)) => {
                for (registry, helper) in helpers {
                    let helper = helper
                        .as_str()
                        .ok_or_else(|| fail(format!("the credHelpers entry for {registry:?} is not a string")))?;
                    config.cred_helpers.insert(registry.clone(), helper.to_owned());
                }
            }
            None | Some(serde_json::Value::Null) => {}
            Some(_) => return Err(fail("\"credHelpers\" is not an object".into())),
        }
        match top.get("credsStore") {
            Some(serde_json::Value::String(store)) if !store.is_empty() => config.creds_store = Some(store.clone()),
            None | Some(serde_json::Value::Null | serde_json::Value::String(_)) => {}
            Some(_) => return Err(fail("\"credsStore\" is not a string".into())),
        }
        Ok(config)
    }

    /// Look for credential helpers in these directories (`PATH` syntax) instead of the process's `PATH`.
    pub fn with_search_path(mut self, search_path: Option<OsString>) -> Self {
        self.search_path = search_path;
        self
    }

    /// The file the configuration was read from.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// Credentials for the registry of an image, if the configuration has any.
    ///
    /// Runs a credential helper when one is configured for the registry. When
    /// the helper fails, the file's own entry is used if there is one;
    /// otherwise the helper's failure is returned.
    pub fn credentials_for(&self, image: &ImageReference) -> Result<Option<RegistryCredentials>, Error> {
        if image.is_docker_hub() {
            self.credentials_for_registry(DOCKER_HUB_KEY)
        } else {
            self.credentials_for_registry(image.registry_or_default())
        }
    }

    /// Credentials for a registry host (`quay.io`, `localhost:5000`) or key (`https://index.docker.io/v1/`).
    pub fn credentials_for_registry(&self, registry: &str) -> Result<Option<RegistryCredentials>, Error> {
        let host = normalize_host(registry);
        let hub = is_hub_host(&host);
        let server = if hub { DOCKER_HUB_KEY.to_owned() } else { host.clone() };
        let from_file =
            self.file_entry(&host, hub).and_then(|(key, entry)| entry.credentials(&server_address(key, hub)));
        let helper = self
            .cred_helpers
            .iter()
            .find(|(key, _)| same_registry(&normalize_host(key), &host))
            .map(|(_, helper)| helper)
            .or(self.creds_store.as_ref())
            .filter(|helper| !helper.is_empty());
        let Some(helper) = helper else {
            return Ok(from_file);
        };
        match self.run_helper(helper, &server) {
            Ok(Some(credentials)) => Ok(Some(credentials)),
            Ok(None) => Ok(from_file),
            Err(_) if from_file.is_some() => Ok(from_file),
            Err(e) => Err(e),
        }
    }

    fn file_entry(&self, host: &str, hub: bool) -> Option<(&String, &AuthEntry)> {
        let exact = if hub { DOCKER_HUB_KEY } else { host };
        self.auths
            .get_key_value(exact)
            .or_else(|| self.auths.iter().find(|(key, _)| same_registry(&normalize_host(key), host)))
    }

    fn run_helper(&self, helper: &str, server: &str) -> Result<Option<RegistryCredentials>, Error> {
        let program = format!("docker-credential-{helper}");
        let fail =
            |message: String| Error::CredentialHelper { helper: helper.to_owned(), server: server.to_owned(), message };
        let executable = match &self.search_path {
            Some(search_path) => std::env::split_paths(search_path)
                .map(|dir| dir.join(&program))
                .find(|candidate| candidate.is_file())
                .ok_or_else(|| fail(format!("{program} is not installed (not found on PATH)")))?,
            None => PathBuf::from(&program),
        };
        let mut child = Command::new(&executable)
            .arg("get")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::NotFound => fail(format!("{program} is not installed (not found on PATH)")),
                _ => fail(format!("cannot run {}: {e}", executable.display())),
            })?;
        if let Some(mut stdin) = child.stdin.take() {
            // A helper that exits without reading makes this fail; its exit status tells more.
            let _ = stdin.write_all(server.as_bytes());
        }
        let output = child.wait_with_output().map_err(|e| fail(format!("cannot run {}: {e}", executable.display())))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        if !output.status.success() {
            let text = format!("{} {}", stdout.trim(), String::from_utf8_lossy(&output.stderr).trim());
            let text = text.trim();
            if text.to_ascii_lowercase().contains("credentials not found") {
                return Ok(None);
            }
            return Err(fail(if text.is_empty() {
                format!("it exited with {}", output.status)
            } else {
                text.to_owned()
            }));
        }
        let answer: HelperAnswer = serde_json::from_str(stdout.trim())
            .map_err(|e| fail(format!("its answer is not the expected JSON ({e})")))?;
        if answer.username.is_empty() && answer.secret.is_empty() {
            return Ok(None);
        }
        Ok(Some(if answer.username == TOKEN_USERNAME {
            RegistryCredentials {
                server_address: server.to_owned(),
                username: String::new(),
                password: String::new(),
                identity_token: Some(answer.secret),
            }
        } else {
            RegistryCredentials {
                server_address: server.to_owned(),
                username: answer.username,
                password: answer.secret,
                identity_token: None,
            }
        }))
    }
}

/// `user:password` from the base64 `auth` field.
fn decode_auth(auth: &str) -> Option<(String, String)> {
    let bytes = STANDARD.decode(auth).ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_owned(), password.trim_end_matches(['\n', '\r']).to_owned()))
}

/// The host of a registry key: `https://quay.io/v1/` → `quay.io`.
fn normalize_host(key: &str) -> String {
    let key = key.trim();
    let rest = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    let host = rest.split('/').next().unwrap_or(rest);
    host.to_ascii_lowercase()
}

fn is_hub_host(host: &str) -> bool {
    matches!(host, "docker.io" | "index.docker.io" | "registry-1.docker.io")
}

fn same_registry(a: &str, b: &str) -> bool {
    a == b || (is_hub_host(a) && is_hub_host(b))
}

/// The server address sent to the engine with a file entry.
fn server_address(key: &str, hub: bool) -> String {
    if hub { DOCKER_HUB_KEY.to_owned() } else { normalize_host(key) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> DockerConfig {
        DockerConfig::parse(text, Path::new("/test/config.json")).unwrap()
    }

    fn image(name: &str) -> ImageReference {
        ImageReference::parse(name).unwrap()
    }

    fn auth(user: &str, password: &str) -> String {
        STANDARD.encode(format!("{user}:{password}"))
    }

    #[test]
    fn docker_hub_images_use_the_index_key() {
        let config = parse(&format!(
            r#"{{"auths": {{"https://index.docker.io/v1/": {{"auth": "{}"}}, "quay.io": {{"auth": "{}"}}}}}}"#,
            auth("hubuser", "hubpass"),
            auth("quser", "qpass")
        ));
        for name in [
            "busybox",
            "library/busybox:1",
            "docker.io/library/busybox",
            "index.docker.io/a/b",
            "registry-1.docker.io/a/b",
        ] {
            let credentials = config.credentials_for(&image(name)).unwrap().unwrap();
            assert_eq!(credentials.username, "hubuser", "{name}");
            assert_eq!(credentials.password, "hubpass");
            assert_eq!(credentials.server_address, DOCKER_HUB_KEY);
        }
        let credentials = config.credentials_for(&image("quay.io/org/app:1")).unwrap().unwrap();
        assert_eq!((credentials.username.as_str(), credentials.password.as_str()), ("quser", "qpass"));
        assert_eq!(credentials.server_address, "quay.io");
        assert_eq!(config.credentials_for(&image("ghcr.io/org/app")).unwrap(), None);
    }

    #[test]
    fn keys_match_by_host_whatever_their_form() {
        for key in [
            "https://registry.example.com",
            "http://registry.example.com/",
            "registry.example.com/v1/",
            "https://registry.example.com/v2/",
        ] {
            let config = parse(&format!(r#"{{"auths": {{"{key}": {{"username": "u", "password": "p"}}}}}}"#));
            let credentials = config.credentials_for(&image("registry.example.com/team/app")).unwrap();
            assert_eq!(credentials.map(|c| c.username), Some("u".into()), "{key}");
        }
        let config = parse(r#"{"auths": {"docker.io": {"username": "u", "password": "p"}}}"#);
        assert!(config.credentials_for(&image("busybox")).unwrap().is_some(), "docker.io key serves Hub images");
        let config = parse(r#"{"auths": {"localhost:5000": {"username": "u", "password": "p"}}}"#);
        assert!(config.credentials_for(&image("localhost:5000/app")).unwrap().is_some());
        assert!(config.credentials_for(&image("localhost:5001/app")).unwrap().is_none());
    }

    #[test]
    fn identity_tokens_and_empty_entries() {
        let config = parse(
            r#"{"auths": {"quay.io": {"identitytoken": "tok"}, "ghcr.io": {}}, "HttpHeaders": {"User-Agent": "x"}}"#,
        );
        let credentials = config.credentials_for(&image("quay.io/a/b")).unwrap().unwrap();
        assert_eq!(credentials.identity_token.as_deref(), Some("tok"));
        assert_eq!(config.credentials_for(&image("ghcr.io/a/b")).unwrap(), None);
    }

    #[test]
    fn legacy_flat_layout() {
        let config = parse(&format!(
            r#"{{"https://index.docker.io/v1/": {{"auth": "{}", "email": "a@b.c"}}}}"#,
            auth("old", "secret:with:colons")
        ));
        let credentials = config.credentials_for(&image("busybox")).unwrap().unwrap();
        assert_eq!(credentials.username, "old");
        assert_eq!(credentials.password, "secret:with:colons");
    }

    #[test]
    fn missing_file_is_empty_and_malformed_file_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let missing = DockerConfig::load(&dir.path().join("nope.json")).unwrap();
        assert_eq!(missing.credentials_for(&image("busybox")).unwrap(), None);

        let path = dir.path().join("config.json");
        std::fs::write(&path, "{ not json").unwrap();
        let error = DockerConfig::load(&path).unwrap_err();
        assert!(matches!(&error, Error::ConfigFile { path: p, .. } if p == &path), "{error:?}");
        assert!(error.to_string().contains("config.json"), "{error}");

        for text in
            [r#"[1]"#, r#"{"auths": []}"#, r#"{"auths": {"x": {"auth": "!!!"}}}"#, r#"{"credHelpers": {"x": 1}}"#]
        {
            assert!(DockerConfig::parse(text, &path).is_err(), "{text}");
        }
        assert!(DockerConfig::parse("", &path).is_ok());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let config = parse(&format!(r#"{{"auths": {{"quay.io": {{"auth": "{}"}}}}}}"#, auth("u", "hunter2")));
        assert!(!format!("{config:?}").contains("hunter2"));
        let credentials = config.credentials_for(&image("quay.io/a/b")).unwrap().unwrap();
        assert!(!format!("{credentials:?}").contains("hunter2"));
    }

    #[cfg(unix)]
    fn fake_helper(dir: &Path, name: &str, script: &str) {
        use std::os::unix::fs::PermissionsExt;
        let path = dir.join(format!("docker-credential-{name}"));
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn credential_helpers_are_asked_per_registry_then_the_store() {
        let dir = tempfile::tempdir().unwrap();
        // The helper echoes the server it was asked about in the user name.
        fake_helper(
            dir.path(),
            "fake",
            r#"[ "$1" = get ] || exit 2
server=$(cat)
case "$server" in
  missing.example.com) echo "credentials not found in native keychain"; exit 1 ;;
  token.example.com) printf '{"ServerURL":"%s","Username":"<token>","Secret":"tok"}' "$server" ;;
  *) printf '{"ServerURL":"%s","Username":"user-%s","Secret":"pw"}' "$server" "$server" ;;
esac"#,
        );
        fake_helper(dir.path(), "broken", "echo 'something broke' >&2; exit 3");
        let config = parse(
            r#"{"auths": {"missing.example.com": {"username": "fileuser", "password": "p"}, "filefallback.example.com": {"username": "f", "password": "p"}},
                "credHelpers": {"quay.io": "fake", "https://index.docker.io/v1/": "fake", "filefallback.example.com": "broken", "bad.example.com": "broken", "nohelper.example.com": "absent"},
                "credsStore": "fake"}"#,
        )
        .with_search_path(Some(dir.path().as_os_str().to_owned()));

        let c = config.credentials_for(&image("quay.io/a/b")).unwrap().unwrap();
        assert_eq!((c.username.as_str(), c.password.as_str()), ("user-quay.io", "pw"));
        let c = config.credentials_for(&image("busybox")).unwrap().unwrap();
        assert_eq!(c.username, format!("user-{DOCKER_HUB_KEY}"));
        assert_eq!(c.server_address, DOCKER_HUB_KEY);
        // Not in credHelpers: the default store answers.
        let c = config.credentials_for(&image("other.example.com/a")).unwrap().unwrap();
        assert_eq!(c.username, "user-other.example.com");
        let c = config.credentials_for(&image("token.example.com/a")).unwrap().unwrap();
        assert_eq!(c.identity_token.as_deref(), Some("tok"));
        assert_eq!(c.username, "");
        // The store does not know the registry: the file's entry is used.
        let c = config.credentials_for(&image("missing.example.com/a")).unwrap().unwrap();
        assert_eq!(c.username, "fileuser");
        // A failing helper falls back to the file, else is an error that says what broke.
        let c = config.credentials_for(&image("filefallback.example.com/a")).unwrap().unwrap();
        assert_eq!(c.username, "f");
        let error = config.credentials_for(&image("bad.example.com/a")).unwrap_err();
        assert!(error.to_string().contains("something broke"), "{error}");
        let error = config.credentials_for(&image("nohelper.example.com/a")).unwrap_err();
        assert!(error.to_string().contains("not installed"), "{error}");
    }
}
