//! A client of the OCI distribution API (Docker Registry HTTP API v2): just
//! what image streams need.
//!
//! - resolve a tag to its manifest digest and read the image's metadata
//!   (manifest and config blob) — *import*;
//! - put a manifest under a tag, mounting its blobs from another repository
//!   of the same registry when needed — *tag in the registry* without moving
//!   any layer through this process;
//! - delete a tag, where the registry supports it.
//!
//! Authentication follows the registry's challenge: `Basic` sends the
//! credentials, `Bearer` fetches a token from the realm (with the
//! credentials, an identity token, or anonymously) for the requested scope.
//! Credentials come from the caller through [`Credentials`] (the CLI reads
//! Docker's `config.json`); this crate does not read any configuration.
//!
//! Registries on loopback addresses, and any registry when `insecure` is
//! set, are tried over HTTPS without verification first and then plain HTTP,
//! as the Docker engine does.

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use s2i_core::reference::ImageReference;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::streams::{ImportFailure, ResolvedImage};
use crate::types::{
    API_VERSION, DockerConfig, DockerImageMetadata, IMPORT_MODE_PRESERVE_ORIGINAL, Image, ImageLayer, ImageManifest,
};
use s2i_store::{ObjectMeta, Resource};

/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker image manifest, schema 2.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
                      application/vnd.docker.distribution.manifest.list.v2+json, \
                      application/vnd.docker.distribution.manifest.v2+json";
/// The registry host of Docker Hub's API.
const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// Largest manifest accepted.
const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;
/// Largest config blob accepted.
const MAX_CONFIG_BYTES: u64 = 16 * 1024 * 1024;

/// Credentials for one registry.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct RegistryAuth {
    /// User name (may be empty with an identity token).
    pub username: String,
    /// Password.
    pub password: String,
    /// OAuth refresh token, used instead of the password when set.
    pub identity_token: Option<String>,
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth").field("username", &self.username).finish_non_exhaustive()
    }
}

/// Where credentials come from: asked once per registry host (`host[:port]`,
/// `docker.io` for Docker Hub). `Ok(None)` means anonymous.
pub trait Credentials: Send + Sync {
    /// The credentials for `registry`.
    fn for_registry(&self, registry: &str) -> Result<Option<RegistryAuth>, String>;
}

impl<F> Credentials for F
where
    F: Fn(&str) -> Result<Option<RegistryAuth>, String> + Send + Sync,
{
    fn for_registry(&self, registry: &str) -> Result<Option<RegistryAuth>, String> {
        self(registry)
    }
}

/// The class of a registry failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistryErrorKind {
    /// The manifest, blob or repository does not exist.
    NotFound,
    /// The credentials were refused, or some are needed.
    Unauthorized,
    /// The registry cannot be reached.
    Unreachable,
    /// The registry does not support the operation.
    Unsupported,
    /// Anything else.
    Other,
}

/// A failure talking to a registry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{registry}: {message}")]
pub struct RegistryError {
    /// The class of failure.
    pub kind: RegistryErrorKind,
    /// The registry.
    pub registry: String,
    /// What went wrong.
    pub message: String,
}

impl RegistryError {
    fn new(kind: RegistryErrorKind, registry: &str, message: impl Into<String>) -> Self {
        Self { kind, registry: registry.into(), message: message.into() }
    }

    /// The reason an `ImportSuccess=False` condition records for this failure.
    pub fn reason(&self) -> &'static str {
        match self.kind {
            RegistryErrorKind::NotFound => "NotFound",
            RegistryErrorKind::Unauthorized => "Unauthorized",
            _ => "InternalError",
        }
    }

    /// The failure as an import failure.
    pub fn into_import_failure(self) -> ImportFailure {
        ImportFailure { reason: self.reason().into(), message: self.to_string() }
    }
}

/// A manifest as the registry serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// Its digest (`sha256:…` of the bytes).
    pub digest: String,
    /// Its media type.
    pub media_type: String,
    /// The bytes, exactly as served (the digest is over them).
    pub bytes: Vec<u8>,
}

#[derive(Debug, Deserialize)]
struct ManifestDocument {
    #[serde(rename = "schemaVersion", default)]
    schema_version: u32,
    #[serde(rename = "mediaType", default)]
    media_type: String,
    #[serde(default)]
    config: Option<Descriptor>,
    #[serde(default)]
    layers: Vec<Descriptor>,
    #[serde(default)]
    manifests: Vec<Descriptor>,
}

#[derive(Debug, Clone, Deserialize)]
struct Descriptor {
    #[serde(rename = "mediaType", default)]
    media_type: String,
    digest: String,
    #[serde(default)]
    size: i64,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Debug, Clone, Default, Deserialize)]
struct Platform {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
    #[serde(default)]
    variant: String,
}

#[derive(Debug, Default, Deserialize)]
struct ConfigBlob {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    created: String,
    #[serde(default)]
    config: Option<RunConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RunConfig {
    #[serde(default)]
    user: String,
    #[serde(default)]
    env: Option<Vec<String>>,
    #[serde(default)]
    cmd: Option<Vec<String>>,
    #[serde(default)]
    working_dir: String,
    #[serde(default)]
    entrypoint: Option<Vec<String>>,
    #[serde(default)]
    on_build: Option<Vec<String>>,
    #[serde(default)]
    labels: Option<std::collections::BTreeMap<String, String>>,
}

impl ManifestDocument {
    fn parse(manifest: &Manifest, registry: &str) -> Result<Self, RegistryError> {
        let document: Self = serde_json::from_slice(&manifest.bytes).map_err(|e| {
            RegistryError::new(
                RegistryErrorKind::Other,
                registry,
                format!("manifest {} is not JSON: {e}", manifest.digest),
            )
        })?;
        if document.schema_version != 2 {
            return Err(RegistryError::new(
                RegistryErrorKind::Unsupported,
                registry,
                format!(
                    "manifest {} has schema version {}; only version 2 (Docker v2, OCI) is supported",
                    manifest.digest, document.schema_version
                ),
            ));
        }
        Ok(document)
    }

    fn is_index(&self, media_type: &str) -> bool {
        matches!(media_type, OCI_INDEX | DOCKER_MANIFEST_LIST) || (self.config.is_none() && !self.manifests.is_empty())
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scheme {
    Https,
    Http,
}

/// A registry client; cheap to clone (clones share the caches of schemes
/// and tokens).
///
/// Its calls block on the network: async code runs them with
/// [`RegistryClient::call`], on tokio's blocking pool.
#[derive(Clone)]
pub struct RegistryClient {
    verified: ureq::Agent,
    unverified: ureq::Agent,
    credentials: Arc<dyn Credentials>,
    schemes: Arc<Mutex<HashMap<String, Scheme>>>,
    /// Authorization header per (registry, scope).
    tokens: Arc<Mutex<HashMap<(String, String), String>>>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient").finish_non_exhaustive()
    }
}

fn agent(verify: bool) -> ureq::Agent {
    let tls = ureq::tls::TlsConfig::builder().disable_verification(!verify).build();
    ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_global(Some(Duration::from_secs(120)))
        .http_status_as_error(false)
        .tls_config(tls)
        .user_agent(concat!("s2i/", env!("CARGO_PKG_VERSION")))
        .build()
        .into()
}

/// The API host of a registry (`docker.io` is served by `registry-1.docker.io`).
fn api_host(registry: &str) -> &str {
    if matches!(registry, "docker.io" | "index.docker.io") { DOCKER_HUB_API } else { registry }
}

/// Whether the registry is on this machine (treated as insecure-allowed, like the Docker engine does).
fn is_loopback(registry: &str) -> bool {
    let host = registry
        .rsplit_once(':')
        .filter(|(_, port)| port.bytes().all(|b| b.is_ascii_digit()))
        .map_or(registry, |(h, _)| h);
    host == "localhost" || host.starts_with("127.") || host == "[::1]" || host == "::1"
}

type Response = ureq::http::Response<ureq::Body>;
/// Builds and sends one request: given the agent, the base URL (`scheme://host`) and the Authorization header.
type RequestFn<'a> = &'a dyn Fn(&ureq::Agent, &str, Option<&str>) -> Result<Response, ureq::Error>;

impl RegistryClient {
    /// A client that asks `credentials` when a registry wants some.
    pub fn new(credentials: impl Credentials + 'static) -> Self {
        Self {
            verified: agent(true),
            unverified: agent(false),
            credentials: Arc::new(credentials),
            schemes: Arc::new(Mutex::new(HashMap::new())),
            tokens: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// A client without credentials.
    pub fn anonymous() -> Self {
        Self::new(|_: &str| Ok(None))
    }

    /// Run `call` with (a clone of) this client on tokio's blocking pool, so
    /// that the calling task's runtime — a current-thread one included —
    /// keeps running while the network answers.
    pub async fn call<T: Send + 'static>(
        &self,
        call: impl FnOnce(&RegistryClient) -> Result<T, RegistryError> + Send + 'static,
    ) -> Result<T, RegistryError> {
        let client = self.clone();
        match tokio::task::spawn_blocking(move || call(&client)).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => {
                Err(RegistryError::new(RegistryErrorKind::Other, "", format!("the registry call was cancelled: {e}")))
            }
        }
    }

    // -- transport -----------------------------------------------------------

    /// Send a request built by `build` (given the agent, the base URL
    /// `scheme://host` and the Authorization header), answering one
    /// authentication challenge.
    fn send(
        &self,
        registry: &str,
        insecure: bool,
        scope: &str,
        build: RequestFn<'_>,
    ) -> Result<Response, RegistryError> {
        let host = api_host(registry);
        let key = (registry.to_owned(), scope.to_owned());
        let cached = self.tokens.lock().expect("the token cache is not poisoned").get(&key).cloned();
        let response = self.send_once(registry, host, insecure, cached.as_deref(), build)?;
        if response.status().as_u16() != 401 {
            return Ok(response);
        }
        let challenge = response
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .unwrap_or_default();
        let authorization = self.answer(registry, insecure, &challenge, scope)?;
        self.tokens.lock().expect("the token cache is not poisoned").insert(key, authorization.clone());
        let response = self.send_once(registry, host, insecure, Some(&authorization), build)?;
        if matches!(response.status().as_u16(), 401 | 403) {
            return Err(RegistryError::new(
                RegistryErrorKind::Unauthorized,
                registry,
                format!("the registry refused the credentials for {scope} (HTTP {})", response.status().as_u16()),
            ));
        }
        Ok(response)
    }

    fn send_once(
        &self,
        registry: &str,
        host: &str,
        insecure: bool,
        authorization: Option<&str>,
        build: RequestFn<'_>,
    ) -> Result<Response, RegistryError> {
        let lenient = insecure || is_loopback(registry);
        let known = self.schemes.lock().expect("the scheme cache is not poisoned").get(registry).copied();
        let order: &[Scheme] = match (known, lenient) {
            (Some(Scheme::Http), _) => &[Scheme::Http],
            (Some(Scheme::Https), _) | (None, false) => &[Scheme::Https],
            (None, true) => &[Scheme::Https, Scheme::Http],
        };
        let mut last_error = String::new();
        for scheme in order {
            let (agent, base) = match scheme {
                Scheme::Https if lenient => (&self.unverified, format!("https://{host}")),
                Scheme::Https => (&self.verified, format!("https://{host}")),
                Scheme::Http => (&self.verified, format!("http://{host}")),
            };
            match build(agent, &base, authorization) {
                Ok(response) => {
                    self.schemes.lock().expect("the scheme cache is not poisoned").insert(registry.to_owned(), *scheme);
                    return Ok(response);
                }
                Err(e) => last_error = e.to_string(),
            }
        }
        let help = if lenient { "" } else { " (for a registry without valid TLS, allow insecure access)" };
        Err(RegistryError::new(RegistryErrorKind::Unreachable, registry, format!("cannot connect: {last_error}{help}")))
    }

    /// The Authorization header that answers `challenge`.
    fn answer(&self, registry: &str, insecure: bool, challenge: &str, scope: &str) -> Result<String, RegistryError> {
        let auth = self.credentials.for_registry(registry).map_err(|e| {
            RegistryError::new(RegistryErrorKind::Unauthorized, registry, format!("cannot read the credentials: {e}"))
        })?;
        let (scheme, params) = parse_challenge(challenge);
        match scheme.to_ascii_lowercase().as_str() {
            "basic" => match auth {
                Some(auth) if auth.identity_token.is_none() => Ok(basic(&auth.username, &auth.password)),
                _ => Err(RegistryError::new(
                    RegistryErrorKind::Unauthorized,
                    registry,
                    "the registry needs a user name and password; log in to it first",
                )),
            },
            "bearer" => {
                let realm = params.get("realm").cloned().ok_or_else(|| {
                    RegistryError::new(RegistryErrorKind::Unauthorized, registry, "the Bearer challenge has no realm")
                })?;
                let service = params.get("service").cloned().unwrap_or_default();
                // The challenge names the scope the request needs; ours may add a mount source.
                let mut scopes: Vec<String> =
                    params.get("scope").map(|s| s.split(' ').map(str::to_owned).collect()).unwrap_or_default();
                for extra in scope.split(' ').filter(|s| !s.is_empty()) {
                    if !scopes.iter().any(|s| s == extra) {
                        scopes.push(extra.to_owned());
                    }
                }
                let token = self.fetch_token(registry, insecure, &realm, &service, &scopes, auth.as_ref())?;
                Ok(format!("Bearer {token}"))
            }
            _ => Err(RegistryError::new(
                RegistryErrorKind::Unauthorized,
                registry,
                format!("the registry asks for authentication s2i does not speak: {challenge:?}"),
            )),
        }
    }

    fn fetch_token(
        &self,
        registry: &str,
        insecure: bool,
        realm: &str,
        service: &str,
        scopes: &[String],
        auth: Option<&RegistryAuth>,
    ) -> Result<String, RegistryError> {
        let agent = if insecure || is_loopback(registry) { &self.unverified } else { &self.verified };
        let fail = |message: String| RegistryError::new(RegistryErrorKind::Unauthorized, registry, message);
        let response = match auth.and_then(|a| a.identity_token.as_deref()) {
            Some(refresh_token) => {
                let mut form: Vec<(&str, &str)> = vec![
                    ("grant_type", "refresh_token"),
                    ("service", service),
                    ("client_id", "s2i"),
                    ("refresh_token", refresh_token),
                ];
                let scope = scopes.join(" ");
                form.push(("scope", &scope));
                agent.post(realm).send_form(form)
            }
            None => {
                let mut request = agent.get(realm);
                if !service.is_empty() {
                    request = request.query("service", service);
                }
                for scope in scopes {
                    request = request.query("scope", scope);
                }
                if let Some(auth) = auth {
                    request = request.header("Authorization", basic(&auth.username, &auth.password));
                }
                request.call()
            }
        }
        .map_err(|e| fail(format!("cannot reach the token service {realm}: {e}")))?;
        let status = response.status().as_u16();
        let body = read_limited(response, 1024 * 1024).map_err(|e| fail(format!("token service {realm}: {e}")))?;
        if status != 200 {
            let detail = String::from_utf8_lossy(&body);
            return Err(fail(format!("the token service {realm} refused (HTTP {status}): {}", detail.trim())));
        }
        #[derive(Deserialize)]
        struct TokenAnswer {
            #[serde(default)]
            token: String,
            #[serde(default)]
            access_token: String,
        }
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|e| fail(format!("the token service {realm} answered no JSON: {e}")))?;
        let token = if answer.token.is_empty() { answer.access_token } else { answer.token };
        if token.is_empty() {
            return Err(fail(format!("the token service {realm} answered no token")));
        }
        Ok(token)
    }

    // -- operations ----------------------------------------------------------

    /// The manifest `reference` (a tag or a digest) of `repository`.
    pub fn get_manifest(
        &self,
        registry: &str,
        repository: &str,
        reference: &str,
        insecure: bool,
    ) -> Result<Manifest, RegistryError> {
        let scope = format!("repository:{repository}:pull");
        let response = self.send(registry, insecure, &scope, &|agent, base, auth| {
            authorize(agent.get(format!("{base}/v2/{repository}/manifests/{reference}")), auth)
                .header("Accept", ACCEPT)
                .call()
        })?;
        let status = response.status().as_u16();
        let media_type = header(&response, "content-type").unwrap_or_default();
        let served_digest = header(&response, "docker-content-digest");
        let bytes = read_limited(response, MAX_MANIFEST_BYTES)
            .map_err(|e| RegistryError::new(RegistryErrorKind::Other, registry, e))?;
        check_status(registry, status, &bytes, &format!("manifest {repository}:{reference}"))?;
        let digest = sha256_digest(&bytes);
        if reference.starts_with("sha256:") && reference != digest {
            return Err(RegistryError::new(
                RegistryErrorKind::Other,
                registry,
                format!("the manifest served for {reference} has digest {digest}"),
            ));
        }
        if let Some(served) = served_digest.filter(|d| d.starts_with("sha256:"))
            && served != digest
        {
            return Err(RegistryError::new(
                RegistryErrorKind::Other,
                registry,
                format!("the registry says manifest {repository}:{reference} is {served}, its bytes are {digest}"),
            ));
        }
        let media_type = if media_type.is_empty() || media_type == "application/json" {
            serde_json::from_slice::<ManifestDocument>(&bytes).map(|d| d.media_type).unwrap_or_default()
        } else {
            media_type.split(';').next().unwrap_or_default().trim().to_owned()
        };
        Ok(Manifest { digest, media_type, bytes })
    }

    /// Store `manifest` in `repository` under `reference` (a tag, or its digest).
    pub fn put_manifest(
        &self,
        registry: &str,
        repository: &str,
        reference: &str,
        manifest: &Manifest,
        insecure: bool,
    ) -> Result<(), RegistryError> {
        let scope = format!("repository:{repository}:pull,push");
        let response = self.send(registry, insecure, &scope, &|agent, base, auth| {
            authorize(agent.put(format!("{base}/v2/{repository}/manifests/{reference}")), auth)
                .header("Content-Type", manifest.media_type.as_str())
                .send(&manifest.bytes[..])
        })?;
        let status = response.status().as_u16();
        let bytes = read_limited(response, 1024 * 1024).unwrap_or_default();
        check_status(registry, status, &bytes, &format!("put manifest {repository}:{reference}"))
    }

    /// The blob `digest` of `repository`, at most `limit` bytes.
    pub fn get_blob(
        &self,
        registry: &str,
        repository: &str,
        digest: &str,
        insecure: bool,
        limit: u64,
    ) -> Result<Vec<u8>, RegistryError> {
        let scope = format!("repository:{repository}:pull");
        let response = self.send(registry, insecure, &scope, &|agent, base, auth| {
            authorize(agent.get(format!("{base}/v2/{repository}/blobs/{digest}")), auth).call()
        })?;
        let status = response.status().as_u16();
        let bytes =
            read_limited(response, limit).map_err(|e| RegistryError::new(RegistryErrorKind::Other, registry, e))?;
        check_status(registry, status, &bytes, &format!("blob {repository}@{digest}"))?;
        if sha256_digest(&bytes) != digest {
            return Err(RegistryError::new(
                RegistryErrorKind::Other,
                registry,
                format!("blob {digest} does not match its digest"),
            ));
        }
        Ok(bytes)
    }

    /// Whether `repository` has the blob `digest`.
    pub fn has_blob(
        &self,
        registry: &str,
        repository: &str,
        digest: &str,
        insecure: bool,
    ) -> Result<bool, RegistryError> {
        let scope = format!("repository:{repository}:pull");
        let response = self.send(registry, insecure, &scope, &|agent, base, auth| {
            authorize(agent.head(format!("{base}/v2/{repository}/blobs/{digest}")), auth).call()
        })?;
        match response.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            status => Err(status_error(registry, status, b"", &format!("blob {repository}@{digest}"))),
        }
    }

    /// Make blob `digest` of `from` available in `repository` of the same
    /// registry without transferring it (a cross-repository mount).
    pub fn mount_blob(
        &self,
        registry: &str,
        repository: &str,
        digest: &str,
        from: &str,
        insecure: bool,
    ) -> Result<(), RegistryError> {
        if self.has_blob(registry, repository, digest, insecure)? {
            return Ok(());
        }
        let scope = format!("repository:{repository}:pull,push repository:{from}:pull");
        let response = self.send(registry, insecure, &scope, &|agent, base, auth| {
            authorize(agent.post(format!("{base}/v2/{repository}/blobs/uploads/")), auth)
                .query("mount", digest)
                .query("from", from)
                .send_empty()
        })?;
        let status = response.status().as_u16();
        let location = header(&response, "location");
        let bytes = read_limited(response, 1024 * 1024).unwrap_or_default();
        match status {
            201 => Ok(()),
            202 => {
                // The registry opened an upload instead: it cannot mount. Close it; no data is moved.
                if let Some(location) = location {
                    let _ = self.send(
                        registry,
                        insecure,
                        &format!("repository:{repository}:pull,push"),
                        &|agent, base, auth| {
                            let url = if location.starts_with("http") {
                                location.clone()
                            } else {
                                format!("{base}{location}")
                            };
                            authorize(agent.delete(url), auth).call()
                        },
                    );
                }
                Err(RegistryError::new(
                    RegistryErrorKind::Unsupported,
                    registry,
                    format!("cannot mount blob {digest} from {from} into {repository}; s2i does not copy layers"),
                ))
            }
            _ => Err(status_error(registry, status, &bytes, &format!("mount {digest} from {from} into {repository}"))),
        }
    }

    /// Delete tag `tag` of `repository`; [`RegistryErrorKind::Unsupported`] when the registry cannot delete tags.
    pub fn delete_tag(&self, registry: &str, repository: &str, tag: &str, insecure: bool) -> Result<(), RegistryError> {
        let scope = format!("repository:{repository}:pull,push,delete");
        let response = self.send(registry, insecure, &scope, &|agent, base, auth| {
            authorize(agent.delete(format!("{base}/v2/{repository}/manifests/{tag}")), auth).call()
        })?;
        let status = response.status().as_u16();
        let bytes = read_limited(response, 1024 * 1024).unwrap_or_default();
        match status {
            200 | 202 | 204 => Ok(()),
            404 => Ok(()),
            400 | 405 => Err(RegistryError::new(
                RegistryErrorKind::Unsupported,
                registry,
                format!(
                    "the registry cannot delete tag {repository}:{tag} (HTTP {status}); it still points at its old image"
                ),
            )),
            _ => Err(status_error(registry, status, &bytes, &format!("delete {repository}:{tag}"))),
        }
    }

    /// Point `tag` of `to` at manifest `digest` of `from` (same registry):
    /// mount the blobs (and sub-manifests) `to` lacks, then put the manifest
    /// under the tag. No layer passes through this process.
    pub fn copy_to_tag(
        &self,
        registry: &str,
        from: &str,
        digest: &str,
        to: &str,
        tag: &str,
        insecure: bool,
    ) -> Result<(), RegistryError> {
        if from != to {
            // Already in the destination repository (e.g. an earlier tag): just tag it.
            if let Ok(manifest) = self.get_manifest(registry, to, digest, insecure) {
                return self.put_manifest(registry, to, tag, &manifest, insecure);
            }
        }
        let manifest = self.get_manifest(registry, from, digest, insecure)?;
        if from != to {
            let document = ManifestDocument::parse(&manifest, registry)?;
            if document.is_index(&manifest.media_type) {
                for child in &document.manifests {
                    let child_manifest = self.get_manifest(registry, from, &child.digest, insecure)?;
                    self.mount_manifest_blobs(registry, from, to, &child_manifest, insecure)?;
                    self.put_manifest(registry, to, &child.digest, &child_manifest, insecure)?;
                }
            } else {
                self.mount_manifest_blobs(registry, from, to, &manifest, insecure)?;
            }
        }
        self.put_manifest(registry, to, tag, &manifest, insecure)
    }

    fn mount_manifest_blobs(
        &self,
        registry: &str,
        from: &str,
        to: &str,
        manifest: &Manifest,
        insecure: bool,
    ) -> Result<(), RegistryError> {
        let document = ManifestDocument::parse(manifest, registry)?;
        for blob in document.config.iter().chain(document.layers.iter()) {
            self.mount_blob(registry, to, &blob.digest, from, insecure)?;
        }
        Ok(())
    }

    /// Import `pull_spec` (docs/compatibility.md#imports): resolve it to a manifest digest and
    /// describe the image. With `import_mode` `PreserveOriginal` a manifest
    /// list is kept whole; otherwise (`Legacy`) the linux/amd64 entry (or the
    /// first) is imported.
    pub fn import(&self, pull_spec: &str, insecure: bool, import_mode: &str) -> Result<ResolvedImage, RegistryError> {
        let reference = ImageReference::parse(pull_spec)
            .map_err(|e| RegistryError::new(RegistryErrorKind::Other, "", e.to_string()))?;
        let normalized = reference.normalized();
        let registry = normalized.registry_or_default().to_owned();
        let repository = normalized.repository.clone();
        let wanted = normalized.digest.clone().or(normalized.tag.clone()).unwrap_or_else(|| "latest".into());
        let mut manifest = self.get_manifest(&registry, &repository, &wanted, insecure)?;
        let mut document = ManifestDocument::parse(&manifest, &registry)?;
        let name = reference.name();
        if document.is_index(&manifest.media_type) {
            if import_mode == IMPORT_MODE_PRESERVE_ORIGINAL {
                let image = Image {
                    api_version: API_VERSION.into(),
                    kind: Image::KIND.into(),
                    metadata: ObjectMeta::named("", manifest.digest.clone()),
                    docker_image_reference: format!("{name}@{}", manifest.digest),
                    docker_image_manifest_media_type: manifest.media_type.clone(),
                    docker_image_manifest: String::from_utf8_lossy(&manifest.bytes).into_owned(),
                    docker_image_manifests: document
                        .manifests
                        .iter()
                        .map(|m| {
                            let platform = m.platform.clone().unwrap_or_default();
                            ImageManifest {
                                digest: m.digest.clone(),
                                media_type: m.media_type.clone(),
                                manifest_size: m.size,
                                architecture: platform.architecture,
                                os: platform.os,
                                variant: platform.variant,
                            }
                        })
                        .collect(),
                    ..Image::default()
                };
                return Ok(ResolvedImage { docker_image_reference: image.docker_image_reference.clone(), image });
            }
            let chosen = document
                .manifests
                .iter()
                .find(|m| m.platform.as_ref().is_some_and(|p| p.os == "linux" && p.architecture == "amd64"))
                .or(document.manifests.first())
                .cloned()
                .ok_or_else(|| {
                    RegistryError::new(
                        RegistryErrorKind::NotFound,
                        &registry,
                        format!("manifest list {pull_spec} is empty"),
                    )
                })?;
            manifest = self.get_manifest(&registry, &repository, &chosen.digest, insecure)?;
            document = ManifestDocument::parse(&manifest, &registry)?;
        }
        let config = document.config.clone().ok_or_else(|| {
            RegistryError::new(
                RegistryErrorKind::Other,
                &registry,
                format!("manifest {} has no config", manifest.digest),
            )
        })?;
        let config_bytes = self.get_blob(&registry, &repository, &config.digest, insecure, MAX_CONFIG_BYTES)?;
        let blob: ConfigBlob = serde_json::from_slice(&config_bytes).unwrap_or_default();
        let run = blob.config.unwrap_or_default();
        let layers: Vec<ImageLayer> = document
            .layers
            .iter()
            .map(|l| ImageLayer { name: l.digest.clone(), size: l.size, media_type: l.media_type.clone() })
            .collect();
        let size = layers.iter().map(|l| l.size.max(0) as u64).sum::<u64>() + config.size.max(0) as u64;
        let image = Image {
            api_version: API_VERSION.into(),
            kind: Image::KIND.into(),
            metadata: ObjectMeta::named("", manifest.digest.clone()),
            docker_image_reference: format!("{name}@{}", manifest.digest),
            docker_image_metadata: Some(DockerImageMetadata {
                kind: "DockerImage".into(),
                api_version: "1.0".into(),
                id: config.digest.clone(),
                created: blob.created,
                config: Some(DockerConfig {
                    user: run.user,
                    env: run.env.unwrap_or_default(),
                    cmd: run.cmd.unwrap_or_default(),
                    working_dir: run.working_dir,
                    entrypoint: run.entrypoint.unwrap_or_default(),
                    on_build: run.on_build.unwrap_or_default(),
                    labels: run.labels.unwrap_or_default(),
                }),
                architecture: blob.architecture,
                size,
                ..DockerImageMetadata::default()
            }),
            docker_image_metadata_version: "1.0".into(),
            docker_image_manifest: String::from_utf8_lossy(&manifest.bytes).into_owned(),
            docker_image_manifest_media_type: manifest.media_type.clone(),
            docker_image_config: String::from_utf8_lossy(&config_bytes).into_owned(),
            docker_image_layers: layers,
            ..Image::default()
        };
        Ok(ResolvedImage { docker_image_reference: image.docker_image_reference.clone(), image })
    }
}

/// The request with the Authorization header, when there is one.
fn authorize<B>(request: ureq::RequestBuilder<B>, authorization: Option<&str>) -> ureq::RequestBuilder<B> {
    match authorization {
        Some(value) => request.header("Authorization", value),
        None => request,
    }
}

fn basic(username: &str, password: &str) -> String {
    format!("Basic {}", STANDARD.encode(format!("{username}:{password}")))
}

fn header(response: &Response, name: &str) -> Option<String> {
    response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

fn read_limited(response: Response, limit: u64) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    response
        .into_body()
        .into_reader()
        .take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read the response: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!("the response is larger than {limit} bytes"));
    }
    Ok(bytes)
}

fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

fn check_status(registry: &str, status: u16, body: &[u8], what: &str) -> Result<(), RegistryError> {
    if (200..300).contains(&status) { Ok(()) } else { Err(status_error(registry, status, body, what)) }
}

/// A registry's error answer: the status and the first error's code and message.
fn status_error(registry: &str, status: u16, body: &[u8], what: &str) -> RegistryError {
    #[derive(Deserialize)]
    struct Errors {
        #[serde(default)]
        errors: Vec<ErrorEntry>,
    }
    #[derive(Deserialize)]
    struct ErrorEntry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let detail = serde_json::from_slice::<Errors>(body)
        .ok()
        .and_then(|e| e.errors.into_iter().next())
        .map(|e| format!(": {} {}", e.code, e.message))
        .unwrap_or_default();
    let kind = match status {
        404 => RegistryErrorKind::NotFound,
        401 | 403 => RegistryErrorKind::Unauthorized,
        405 => RegistryErrorKind::Unsupported,
        _ => RegistryErrorKind::Other,
    };
    RegistryError::new(kind, registry, format!("{what}: HTTP {status}{detail}"))
}

/// Split `Bearer realm="…",service="…",scope="…"` into its scheme and parameters.
fn parse_challenge(challenge: &str) -> (String, HashMap<String, String>) {
    let challenge = challenge.trim();
    let (scheme, rest) = challenge.split_once(' ').unwrap_or((challenge, ""));
    let mut params = HashMap::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let Some((key, after)) = rest.split_once('=') else { break };
        let key = key.trim().trim_start_matches(',').trim().to_ascii_lowercase();
        let after = after.trim_start();
        let (value, remaining) = if let Some(quoted) = after.strip_prefix('"') {
            match quoted.find('"') {
                Some(end) => (&quoted[..end], &quoted[end + 1..]),
                None => (quoted, ""),
            }
        } else {
            match after.find(',') {
                Some(end) => (&after[..end], &after[end..]),
                None => (after, ""),
            }
        };
        params.insert(key, value.to_owned());
        rest = remaining.trim_start().trim_start_matches(',').trim_start();
    }
    (scheme.to_owned(), params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        let (scheme, params) = parse_challenge(
            r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(scheme, "Bearer");
        assert_eq!(params["realm"], "https://auth.example.com/token");
        assert_eq!(params["service"], "registry.example.com");
        assert_eq!(params["scope"], "repository:a/b:pull,push");
        let (scheme, params) = parse_challenge(r#"Basic realm="s2i-test""#);
        assert_eq!((scheme.as_str(), params["realm"].as_str()), ("Basic", "s2i-test"));
        let (scheme, params) = parse_challenge("Bearer realm=https://x/token, service=x");
        assert_eq!(
            (scheme.as_str(), params["realm"].as_str(), params["service"].as_str()),
            ("Bearer", "https://x/token", "x")
        );
    }

    #[test]
    fn loopback_registries() {
        for host in ["localhost", "localhost:5000", "127.0.0.1:5000", "127.1.2.3", "[::1]:5000"] {
            assert!(is_loopback(host), "{host}");
        }
        for host in ["quay.io", "example.com:5000", "10.0.0.1:5000"] {
            assert!(!is_loopback(host), "{host}");
        }
        assert_eq!(api_host("docker.io"), "registry-1.docker.io");
        assert_eq!(api_host("quay.io"), "quay.io");
    }

    #[test]
    fn registry_errors_map_to_import_reasons() {
        assert_eq!(
            status_error("r", 404, br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#, "x")
                .reason(),
            "NotFound"
        );
        assert_eq!(status_error("r", 401, b"", "x").reason(), "Unauthorized");
        assert_eq!(status_error("r", 500, b"", "x").reason(), "InternalError");
        let e = status_error(
            "r",
            404,
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
            "manifest a:1",
        );
        assert_eq!(e.to_string(), "r: manifest a:1: HTTP 404: MANIFEST_UNKNOWN manifest unknown");
    }
}
