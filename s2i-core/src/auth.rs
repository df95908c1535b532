//! Registry credentials from the files `docker login` and `podman login`
//! write, engine-neutral: plain data that any backend (the Docker Engine API
//! one, or a daemonless one) turns into its own form.
//!
//! # Where credentials are looked up
//!
//! [`AuthSources::files`] lists the files in order; the first file that has
//! credentials for the registry wins:
//!
//! 1. an explicit file (`--dockercfg-path`);
//! 2. `REGISTRY_AUTH_FILE`;
//! 3. `$XDG_RUNTIME_DIR/containers/auth.json` (where `podman login` writes;
//!    `/run/containers/UID/auth.json` when `XDG_RUNTIME_DIR` is unset);
//! 4. `$XDG_CONFIG_HOME/containers/auth.json` (default `~/.config`);
//! 5. `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
//!
//! A missing file is skipped; a file that exists but cannot be parsed is an
//! [`Error::AuthFile`] naming it.
//!
//! # What a file holds
//!
//! Both formats share one shape:
//!
//! - `auths`: key → `{"auth": base64("user:password")}`, or
//!   `{"username": …, "password": …}`, or `{"identitytoken": …}`;
//! - the legacy flat layout of `.dockercfg`: key → `{"auth": …, "email": …}` at the top level;
//! - `credHelpers` (key → helper name) and `credsStore` (the default helper):
//!   `docker-credential-<name> get` is run with the registry on stdin and
//!   answers `{"Username": …, "Secret": …}` (`<token>` as the user name means
//!   the secret is an identity token).
//!
//! Keys match as Podman matches them: a key `host/namespace[/repo]` serves the
//! repositories under that path, a key `host` the whole registry, and the
//! most specific key wins. URL-form keys (`https://host`, `host/v1/`) name a
//! host. Docker Hub images (no registry, `docker.io`, `index.docker.io`,
//! `registry-1.docker.io`) match any of those hosts and the key
//! [`DOCKER_HUB_KEY`].

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::error::Error;
use crate::reference::ImageReference;

/// The key Docker Hub credentials are stored under by `docker login`.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// The user name credential helpers answer when the secret is an identity token.
const TOKEN_USERNAME: &str = "<token>";

/// Credentials for one registry.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RegistryCredentials {
    /// The registry they are for, as engines expect it (e.g. `quay.io` or [`DOCKER_HUB_KEY`]).
    pub server_address: String,
    /// User name; may be empty with an identity token.
    pub username: String,
    /// Password; empty with an identity token.
    pub password: String,
    /// OAuth identity (refresh) token, used instead of the password.
    pub identity_token: Option<String>,
    /// The file they come from.
    pub file: Option<PathBuf>,
}

impl fmt::Debug for RegistryCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryCredentials")
            .field("server_address", &self.server_address)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("identity_token", &self.identity_token.as_ref().map(|_| "<redacted>"))
            .field("file", &self.file)
            .finish()
    }
}

/// Where credential files are looked for: the inputs of [`AuthSources::files`], as plain data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuthSources {
    /// A file named on the command line (`--dockercfg-path`), looked at first.
    pub explicit: Option<PathBuf>,
    /// `REGISTRY_AUTH_FILE`.
    pub registry_auth_file: Option<PathBuf>,
    /// `XDG_RUNTIME_DIR`.
    pub xdg_runtime_dir: Option<PathBuf>,
    /// `XDG_CONFIG_HOME`; `~/.config` when `None`.
    pub xdg_config_home: Option<PathBuf>,
    /// `DOCKER_CONFIG`, Docker's configuration directory; `~/.docker` when `None`.
    pub docker_config_dir: Option<PathBuf>,
    /// `HOME`.
    pub home: Option<PathBuf>,
    /// The user's ID, for `/run/containers/UID/auth.json` when `XDG_RUNTIME_DIR` is unset.
    pub uid: Option<u32>,
    /// Directories to find `docker-credential-*` helpers in, like `PATH`; the process's `PATH` when `None`.
    pub search_path: Option<OsString>,
}

impl AuthSources {
    /// The sources of this process: its environment and user.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    /// The sources described by `get` (an environment lookup); empty values count as unset.
    pub fn from_lookup(get: impl Fn(&str) -> Option<OsString>) -> Self {
        let path = |name: &str| get(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        Self {
            explicit: None,
            registry_auth_file: path("REGISTRY_AUTH_FILE"),
            xdg_runtime_dir: path("XDG_RUNTIME_DIR"),
            xdg_config_home: path("XDG_CONFIG_HOME"),
            docker_config_dir: path("DOCKER_CONFIG"),
            home: path("HOME"),
            uid: current_uid(),
            search_path: get("PATH").filter(|v| !v.is_empty()),
        }
    }

    /// Docker's configuration file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    pub fn docker_config_file(&self) -> Option<PathBuf> {
        let dir = self.docker_config_dir.clone().or_else(|| self.home.as_ref().map(|h| h.join(".docker")))?;
        Some(dir.join("config.json"))
    }

    /// The files to look in, in order (see the module documentation); duplicates are left out.
    pub fn files(&self) -> Vec<PathBuf> {
        let runtime_file = match (&self.xdg_runtime_dir, self.uid) {
            (Some(dir), _) => Some(dir.join("containers/auth.json")),
            (None, Some(uid)) => Some(PathBuf::from(format!("/run/containers/{uid}/auth.json"))),
            (None, None) => None,
        };
        let config_home = self.xdg_config_home.clone().or_else(|| self.home.as_ref().map(|h| h.join(".config")));
        let candidates = [
            self.explicit.clone(),
            self.registry_auth_file.clone(),
            runtime_file,
            config_home.map(|d| d.join("containers/auth.json")),
            self.docker_config_file(),
        ];
        let mut files: Vec<PathBuf> = Vec::new();
        for file in candidates.into_iter().flatten() {
            if !files.contains(&file) {
                files.push(file);
            }
        }
        files
    }
}

/// The user ID of this process (the owner of `/proc/self`), where there is a `/proc`.
fn current_uid() -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata("/proc/self").ok().map(|m| m.uid())
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The credentials of every file of [`AuthSources::files`] that exists, read once.
#[derive(Clone, Default)]
pub struct CredentialFiles {
    files: Vec<AuthFile>,
    search_path: Option<OsString>,
}

impl fmt::Debug for CredentialFiles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialFiles").field("files", &self.files).finish_non_exhaustive()
    }
}

impl CredentialFiles {
    /// No credentials at all.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Read the files of `sources`. Missing files are skipped; a file that
    /// cannot be read or parsed is an [`Error::AuthFile`] naming it.
    pub fn load(sources: &AuthSources) -> Result<Self, Error> {
        let mut files = Vec::new();
        for path in sources.files() {
            if let Some(file) = AuthFile::load(&path)? {
                files.push(file);
            }
        }
        Ok(Self { files, search_path: sources.search_path.clone() })
    }

    /// Credentials from one file's text; `path` names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, Error> {
        Ok(Self { files: vec![AuthFile::parse(text, path)?], search_path: None })
    }

    /// Look for credential helpers in these directories (`PATH` syntax) instead of the process's `PATH`.
    pub fn with_search_path(mut self, search_path: Option<OsString>) -> Self {
        self.search_path = search_path;
        self
    }

    /// The files that were read, in lookup order.
    pub fn files(&self) -> Vec<&Path> {
        self.files.iter().map(|f| f.path.as_path()).collect()
    }

    /// Credentials for the repository of an image, if a file has some.
    ///
    /// The first file with credentials for it wins. A credential helper runs
    /// when a file configures one for the registry; when it fails, the
    /// file's own entry is used if there is one, else later files are
    /// looked at, and the helper's failure is the error only when none has
    /// credentials.
    pub fn credentials_for(&self, image: &ImageReference) -> Result<Option<RegistryCredentials>, Error> {
        let target = Target::of_image(image);
        self.lookup(&target)
    }

    /// Credentials for a registry host (`quay.io`, `localhost:5000`) or key (`https://index.docker.io/v1/`).
    pub fn credentials_for_registry(&self, registry: &str) -> Result<Option<RegistryCredentials>, Error> {
        let host = normalize_host(registry);
        self.lookup(&Target { hub: is_hub_host(&host), host, path: String::new() })
    }

    fn lookup(&self, target: &Target) -> Result<Option<RegistryCredentials>, Error> {
        let mut failure = None;
        for file in &self.files {
            match file.credentials(target, self.search_path.as_ref()) {
                Ok(Some(credentials)) => return Ok(Some(credentials)),
                Ok(None) => {}
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        failure.map_or(Ok(None), Err)
    }
}

/// What credentials are looked up for: a registry host and a repository path in it.
struct Target {
    /// Lower-case host (with port).
    host: String,
    /// Docker Hub (any of its host names).
    hub: bool,
    /// The repository path, without registry, tag or digest; empty for a registry-wide lookup.
    path: String,
}

impl Target {
    fn of_image(image: &ImageReference) -> Self {
        let normalized = image.normalized();
        let host = normalize_host(normalized.registry_or_default());
        Self { hub: image.is_docker_hub(), host, path: normalized.repository }
    }

    /// The server address sent to engines.
    fn server(&self) -> String {
        if self.hub { DOCKER_HUB_KEY.to_owned() } else { self.host.clone() }
    }

    /// How specifically `key` names this target: `None` when it does not, else
    /// the number of path components it names (0 for the whole registry).
    fn match_len(&self, key: &str) -> Option<usize> {
        let key = key.trim();
        let url_form = key.contains("://") || key.ends_with("/v1/") || key.ends_with("/v2/") || key.ends_with('/');
        let (host, path) = if url_form {
            (normalize_host(key), String::new())
        } else {
            match key.split_once('/') {
                Some((host, path)) => (host.to_ascii_lowercase(), path.trim_end_matches('/').to_owned()),
                None => (key.to_ascii_lowercase(), String::new()),
            }
        };
        let same_host = host == self.host || (self.hub && is_hub_host(&host));
        if !same_host {
            return None;
        }
        if path.is_empty() {
            return Some(0);
        }
        let under = self.path == path || self.path.starts_with(&format!("{path}/"));
        under.then(|| path.split('/').count())
    }
}

/// One credentials file.
#[derive(Clone)]
struct AuthFile {
    path: PathBuf,
    auths: BTreeMap<String, AuthEntry>,
    cred_helpers: BTreeMap<String, String>,
    creds_store: Option<String>,
}

impl fmt::Debug for AuthFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthFile")
            .field("path", &self.path)
            .field("registries", &self.auths.keys().collect::<Vec<_>>())
            .field("cred_helpers", &self.cred_helpers)
            .field("creds_store", &self.creds_store)
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
    fn credentials(&self, server_address: &str, file: &Path) -> Option<RegistryCredentials> {
        let has_token = self.identity_token.as_deref().is_some_and(|t| !t.is_empty());
        if !has_token && self.username.is_empty() && self.password.is_empty() {
            return None;
        }
        Some(RegistryCredentials {
            server_address: server_address.to_owned(),
            username: self.username.clone(),
            password: self.password.clone(),
            identity_token: self.identity_token.clone().filter(|t| !t.is_empty()),
            file: Some(file.to_owned()),
        })
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

impl AuthFile {
    /// Read a file; `None` when it does not exist.
    fn load(path: &Path) -> Result<Option<Self>, Error> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, path).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::AuthFile { path: path.to_owned(), message: e.to_string() }),
        }
    }

    fn parse(text: &str, path: &Path) -> Result<Self, Error> {
        let fail = |message: String| Error::AuthFile { path: path.to_owned(), message };
        let mut file =
            Self { path: path.to_owned(), auths: BTreeMap::new(), cred_helpers: BTreeMap::new(), creds_store: None };
        if text.trim().is_empty() {
            return Ok(file);
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
            file.auths.insert(key.clone(), entry);
        }
        match top.get("credHelpers") {
            Some(serde_json::Value::Object(helpers)) => {
                for (registry, helper) in helpers {
                    let helper = helper
                        .as_str()
                        .ok_or_else(|| fail(format!("the credHelpers entry for {registry:?} is not a string")))?;
                    file.cred_helpers.insert(registry.clone(), helper.to_owned());
                }
            }
            None | Some(serde_json::Value::Null) => {}
            Some(_) => return Err(fail("\"credHelpers\" is not an object".into())),
        }
        match top.get("credsStore") {
            Some(serde_json::Value::String(store)) if !store.is_empty() => file.creds_store = Some(store.clone()),
            None | Some(serde_json::Value::Null | serde_json::Value::String(_)) => {}
            Some(_) => return Err(fail("\"credsStore\" is not a string".into())),
        }
        Ok(file)
    }

    /// The credentials this file has for `target`: its helper's, else its own entry's.
    fn credentials(
        &self,
        target: &Target,
        search_path: Option<&OsString>,
    ) -> Result<Option<RegistryCredentials>, Error> {
        let server = target.server();
        let from_file = self
            .auths
            .iter()
            .filter_map(|(key, entry)| Some((target.match_len(key)?, entry)))
            .max_by_key(|(len, _)| *len)
            .and_then(|(_, entry)| entry.credentials(&server, &self.path));
        let helper = self
            .cred_helpers
            .iter()
            .filter_map(|(key, helper)| Some((target.match_len(key)?, helper)))
            .max_by_key(|(len, _)| *len)
            .map(|(_, helper)| helper)
            .or(self.creds_store.as_ref())
            .filter(|helper| !helper.is_empty());
        let Some(helper) = helper else {
            return Ok(from_file);
        };
        match run_helper(helper, &server, search_path) {
            Ok(Some(mut credentials)) => {
                credentials.file = Some(self.path.clone());
                Ok(Some(credentials))
            }
            Ok(None) => Ok(from_file),
            Err(_) if from_file.is_some() => Ok(from_file),
            Err(e) => Err(e),
        }
    }
}

fn run_helper(
    helper: &str,
    server: &str,
    search_path: Option<&OsString>,
) -> Result<Option<RegistryCredentials>, Error> {
    let program = format!("docker-credential-{helper}");
    let fail =
        |message: String| Error::CredentialHelper { helper: helper.to_owned(), server: server.to_owned(), message };
    let executable = match search_path {
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
        return Err(fail(if text.is_empty() { format!("it exited with {}", output.status) } else { text.to_owned() }));
    }
    let answer: HelperAnswer =
        serde_json::from_str(stdout.trim()).map_err(|e| fail(format!("its answer is not the expected JSON ({e})")))?;
    if answer.username.is_empty() && answer.secret.is_empty() {
        return Ok(None);
    }
    let (username, password, identity_token) = if answer.username == TOKEN_USERNAME {
        (String::new(), String::new(), Some(answer.secret))
    } else {
        (answer.username, answer.secret, None)
    };
    Ok(Some(RegistryCredentials { server_address: server.to_owned(), username, password, identity_token, file: None }))
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
#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> CredentialFiles {
        CredentialFiles::parse(text, Path::new("/test/config.json")).unwrap()
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
    fn missing_files_are_skipped_and_a_malformed_file_names_itself() {
        let dir = tempfile::tempdir().unwrap();
        let sources = AuthSources { explicit: Some(dir.path().join("nope.json")), ..AuthSources::default() };
        let auth = CredentialFiles::load(&sources).unwrap();
        assert!(auth.files().is_empty());
        assert_eq!(auth.credentials_for(&image("busybox")).unwrap(), None);

        let path = dir.path().join("config.json");
        std::fs::write(&path, "{ not json").unwrap();
        let sources = AuthSources { registry_auth_file: Some(path.clone()), ..AuthSources::default() };
        let error = CredentialFiles::load(&sources).unwrap_err();
        assert!(matches!(&error, Error::AuthFile { path: p, .. } if p == &path), "{error:?}");
        assert!(error.to_string().contains("config.json"), "{error}");

        for text in
            [r#"[1]"#, r#"{"auths": []}"#, r#"{"auths": {"x": {"auth": "!!!"}}}"#, r#"{"credHelpers": {"x": 1}}"#]
        {
            assert!(CredentialFiles::parse(text, &path).is_err(), "{text}");
        }
        assert!(CredentialFiles::parse("", &path).is_ok());
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

    fn write(dir: &Path, relative: &str, registry: &str, user: &str) -> PathBuf {
        let path = dir.join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, format!(r#"{{"auths": {{"{registry}": {{"auth": "{}"}}}}}}"#, auth(user, "pw"))).unwrap();
        path
    }

    #[test]
    fn files_are_looked_at_in_order_and_the_first_with_an_entry_wins() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let explicit = write(root, "explicit.json", "one.example.com", "explicit");
        let registry_auth_file = write(root, "registry-auth.json", "two.example.com", "registry-auth-file");
        write(root, "run/containers/auth.json", "three.example.com", "runtime");
        write(root, "config/containers/auth.json", "four.example.com", "config-home");
        write(root, "docker/config.json", "five.example.com", "docker");
        let sources = AuthSources {
            explicit: Some(explicit),
            registry_auth_file: Some(registry_auth_file),
            xdg_runtime_dir: Some(root.join("run")),
            xdg_config_home: Some(root.join("config")),
            docker_config_dir: Some(root.join("docker")),
            home: Some(root.join("home")),
            uid: Some(1000),
            search_path: None,
        };
        let names: Vec<String> =
            sources.files().iter().map(|f| f.strip_prefix(root).unwrap().display().to_string()).collect();
        assert_eq!(
            names,
            [
                "explicit.json",
                "registry-auth.json",
                "run/containers/auth.json",
                "config/containers/auth.json",
                "docker/config.json"
            ]
        );
        let user = |auth: &CredentialFiles, name: &str| auth.credentials_for(&image(name)).unwrap().map(|c| c.username);
        // Each file serves its registry; one present in all is served by the earliest.
        let all = CredentialFiles::load(&sources).unwrap();
        for (registry, expected) in [
            ("one", "explicit"),
            ("two", "registry-auth-file"),
            ("three", "runtime"),
            ("four", "config-home"),
            ("five", "docker"),
        ] {
            assert_eq!(user(&all, &format!("{registry}.example.com/a")).as_deref(), Some(expected));
        }
        assert_eq!(user(&all, "six.example.com/a"), None);
        for (i, file) in sources.files().iter().enumerate().skip(1) {
            std::fs::write(
                file,
                format!(r#"{{"auths": {{"shared.example.com": {{"auth": "{}"}}}}}}"#, auth(&format!("file{i}"), "pw")),
            )
            .unwrap();
        }
        let all = CredentialFiles::load(&sources).unwrap();
        assert_eq!(user(&all, "shared.example.com/a").as_deref(), Some("file1"));
        let credentials = all.credentials_for(&image("shared.example.com/a")).unwrap().unwrap();
        assert_eq!(credentials.file.as_deref(), Some(sources.files()[1].as_path()));
        // Without XDG_RUNTIME_DIR, Podman's per-user directory under /run; the config home defaults to ~/.config.
        let defaults = AuthSources { home: Some("/home/u".into()), uid: Some(1000), ..AuthSources::default() };
        assert_eq!(
            defaults.files(),
            [
                PathBuf::from("/run/containers/1000/auth.json"),
                PathBuf::from("/home/u/.config/containers/auth.json"),
                PathBuf::from("/home/u/.docker/config.json"),
            ]
        );
        // The environment names the same places.
        let env = AuthSources::from_lookup(|name| match name {
            "REGISTRY_AUTH_FILE" => Some("/r.json".into()),
            "XDG_RUNTIME_DIR" => Some("/run/user/7".into()),
            "DOCKER_CONFIG" => Some("/d".into()),
            "HOME" => Some("/h".into()),
            "XDG_CONFIG_HOME" => Some("".into()),
            _ => None,
        });
        assert_eq!(
            env.files(),
            [
                PathBuf::from("/r.json"),
                PathBuf::from("/run/user/7/containers/auth.json"),
                PathBuf::from("/h/.config/containers/auth.json"),
                PathBuf::from("/d/config.json"),
            ]
        );
    }

    #[test]
    fn namespaced_keys_match_as_podman_matches_them() {
        let config = parse(&format!(
            r#"{{"auths": {{"reg.example.com": {{"auth": "{}"}}, "reg.example.com/team": {{"auth": "{}"}}, "reg.example.com/team/app": {{"auth": "{}"}}, "docker.io/org": {{"auth": "{}"}}}}}}"#,
            auth("host", "p"),
            auth("team", "p"),
            auth("app", "p"),
            auth("hub-org", "p"),
        ));
        let user = |name: &str| config.credentials_for(&image(name)).unwrap().map(|c| c.username);
        assert_eq!(user("reg.example.com/team/app:1").as_deref(), Some("app"));
        assert_eq!(user("reg.example.com/team/app/sub").as_deref(), Some("app"));
        assert_eq!(user("reg.example.com/team/other").as_deref(), Some("team"));
        assert_eq!(user("reg.example.com/teams/x").as_deref(), Some("host"), "a prefix is a whole path component");
        assert_eq!(user("reg.example.com/x").as_deref(), Some("host"));
        assert_eq!(user("org/app").as_deref(), Some("hub-org"));
        assert_eq!(user("busybox"), None);
        let registry_wide = config.credentials_for_registry("reg.example.com").unwrap().unwrap();
        assert_eq!(registry_wide.username, "host");
    }
}
