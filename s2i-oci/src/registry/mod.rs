//! The workspace's one client of the OCI distribution API (Docker Registry
//! HTTP API v2), behind the `registry` feature (which adds `ureq`; the
//! default build of this crate makes no network calls).
//!
//! - manifests: read by tag or digest, put under a tag or digest, tags
//!   deleted where the registry supports it;
//! - tags: a repository's tags listed, page after page ([`RegistryClient::list_tags`]);
//! - blobs: read (small ones), checked with `HEAD`, mounted from another
//!   repository of the same registry, and uploaded from a file — streamed,
//!   never held in memory ([`push`]);
//! - images: an image of an [`crate::layout::OciLayout`] pushed with the
//!   blobs the registry lacks, and its referrers (SBOM, provenance) through
//!   the referrers API or the OCI 1.1 referrers tag schema ([`push`]).
//!
//! Authentication follows the registry's challenge: `Basic` sends the
//! credentials, `Bearer` fetches a token from the realm (with the
//! credentials, an identity token, or anonymously) for the requested scope.
//! Credentials come from the caller through [`Credentials`]; this crate reads
//! no configuration (`s2i_core::auth` reads the files `docker login` and
//! `podman login` write).
//!
//! Registries on loopback addresses, and any registry when `insecure` is
//! set, are tried over HTTPS without verification first and then plain HTTP,
//! as the Docker engine does.
//!
//! Every call blocks on the network: async callers run it on a blocking
//! thread.

pub mod push;

use std::collections::HashMap;
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;

use crate::digest::Digest;
use crate::spec::media_type;

/// What a manifest request accepts.
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
                      application/vnd.docker.distribution.manifest.list.v2+json, \
                      application/vnd.docker.distribution.manifest.v2+json";
/// The registry host of Docker Hub's API.
const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// Largest manifest accepted.
pub const MAX_MANIFEST_BYTES: u64 = 4 * 1024 * 1024;
/// Tags asked for per page of a tag listing.
const TAGS_PAGE: usize = 1000;
/// Most tags a listing reads ([`RegistryClient::list_tags`]).
pub const MAX_LISTED_TAGS: usize = 100_000;

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
#[non_exhaustive]
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
    /// A failure of `kind` at `registry`.
    pub fn new(kind: RegistryErrorKind, registry: &str, message: impl Into<String>) -> Self {
        Self { kind, registry: registry.into(), message: message.into() }
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

/// What a manifest refers to: just enough to copy it within a registry.
#[derive(Debug, Deserialize)]
struct ManifestDocument {
    #[serde(rename = "schemaVersion", default)]
    schema_version: u32,
    #[serde(default)]
    config: Option<Referenced>,
    #[serde(default)]
    layers: Vec<Referenced>,
    #[serde(default)]
    manifests: Vec<Referenced>,
}

#[derive(Debug, Deserialize)]
struct Referenced {
    digest: String,
}

impl Manifest {
    /// Whether it is an index (a manifest list) rather than an image manifest.
    pub fn is_index(&self) -> bool {
        if matches!(self.media_type.as_str(), media_type::OCI_INDEX | media_type::DOCKER_MANIFEST_LIST) {
            return true;
        }
        serde_json::from_slice::<ManifestDocument>(&self.bytes)
            .is_ok_and(|d| d.config.is_none() && !d.manifests.is_empty())
    }

    fn document(&self, registry: &str) -> Result<ManifestDocument, RegistryError> {
        let document: ManifestDocument = serde_json::from_slice(&self.bytes).map_err(|e| {
            RegistryError::new(RegistryErrorKind::Other, registry, format!("manifest {} is not JSON: {e}", self.digest))
        })?;
        if document.schema_version != 2 {
            return Err(RegistryError::new(
                RegistryErrorKind::Unsupported,
                registry,
                format!(
                    "manifest {} has schema version {}; only version 2 (Docker v2, OCI) is supported",
                    self.digest, document.schema_version
                ),
            ));
        }
        Ok(document)
    }
}

/// What the registry said to a manifest put.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManifestPut {
    /// The digest it stored (`Docker-Content-Digest`), when it said.
    pub digest: Option<String>,
    /// Whether it recorded the manifest's `subject` for its referrers API
    /// (the `OCI-Subject` header of image-spec 1.1 registries).
    pub subject_indexed: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scheme {
    Https,
    Http,
}

/// A registry client; cheap to clone (clones share the caches of schemes
/// and tokens). Its calls block on the network.
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
                    "the registry needs a user name and password; log in with `docker login` or `podman login` first",
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

    // -- manifests -----------------------------------------------------------

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
        let digest = Digest::of(&bytes).to_string();
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
            #[derive(Deserialize)]
            struct MediaType {
                #[serde(rename = "mediaType", default)]
                media_type: String,
            }
            serde_json::from_slice::<MediaType>(&bytes).map(|d| d.media_type).unwrap_or_default()
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
    ) -> Result<ManifestPut, RegistryError> {
        let scope = format!("repository:{repository}:pull,push");
        let response = self.send(registry, insecure, &scope, &|agent, base, auth| {
            authorize(agent.put(format!("{base}/v2/{repository}/manifests/{reference}")), auth)
                .header("Content-Type", manifest.media_type.as_str())
                .send(&manifest.bytes[..])
        })?;
        let status = response.status().as_u16();
        let digest = header(&response, "docker-content-digest");
        let subject_indexed = header(&response, "oci-subject").is_some();
        let bytes = read_limited(response, 1024 * 1024).unwrap_or_default();
        check_status(registry, status, &bytes, &format!("put manifest {repository}:{reference}"))?;
        Ok(ManifestPut { digest, subject_indexed })
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
                return self.put_manifest(registry, to, tag, &manifest, insecure).map(drop);
            }
        }
        let manifest = self.get_manifest(registry, from, digest, insecure)?;
        if from != to {
            if manifest.is_index() {
                for child in &manifest.document(registry)?.manifests {
                    let child_manifest = self.get_manifest(registry, from, &child.digest, insecure)?;
                    self.mount_manifest_blobs(registry, from, to, &child_manifest, insecure)?;
                    self.put_manifest(registry, to, &child.digest, &child_manifest, insecure)?;
                }
            } else {
                self.mount_manifest_blobs(registry, from, to, &manifest, insecure)?;
            }
        }
        self.put_manifest(registry, to, tag, &manifest, insecure).map(drop)
    }

    fn mount_manifest_blobs(
        &self,
        registry: &str,
        from: &str,
        to: &str,
        manifest: &Manifest,
        insecure: bool,
    ) -> Result<(), RegistryError> {
        let document = manifest.document(registry)?;
        for blob in document.config.iter().chain(document.layers.iter()) {
            if self.has_blob(registry, to, &blob.digest, insecure)? {
                continue;
            }
            match self.start_upload(registry, to, Some((&blob.digest, from)), insecure)? {
                UploadStart::Mounted => {}
                UploadStart::Session(location) => {
                    // The registry opened an upload instead: it cannot mount. Close it; no data is moved.
                    self.cancel_upload(registry, to, &location, insecure);
                    return Err(RegistryError::new(
                        RegistryErrorKind::Unsupported,
                        registry,
                        format!("cannot mount blob {} from {from} into {to}; s2i does not copy layers", blob.digest),
                    ));
                }
            }
        }
        Ok(())
    }

    // -- tags ----------------------------------------------------------------

    /// The tags of `repository`, as the registry lists them (`GET
    /// /v2/NAME/tags/list`), following the pages its `Link` header names. At
    /// most [`MAX_LISTED_TAGS`] are read: the listing stops there.
    pub fn list_tags(&self, registry: &str, repository: &str, insecure: bool) -> Result<Vec<String>, RegistryError> {
        self.list_tags_in_pages(registry, repository, insecure, TAGS_PAGE)
    }

    /// [`RegistryClient::list_tags`], asking for pages of at most `page` tags
    /// (the registry may send fewer, and says where the next page is).
    pub fn list_tags_in_pages(
        &self,
        registry: &str,
        repository: &str,
        insecure: bool,
        page: usize,
    ) -> Result<Vec<String>, RegistryError> {
        #[derive(Deserialize)]
        struct TagList {
            #[serde(default)]
            tags: Option<Vec<String>>,
        }
        let scope = format!("repository:{repository}:pull");
        let mut next = format!("/v2/{repository}/tags/list?n={}", page.max(1));
        let mut tags: Vec<String> = Vec::new();
        loop {
            let path = next.clone();
            let response = self.send(registry, insecure, &scope, &|agent, base, auth| {
                authorize(agent.get(format!("{base}{path}")), auth).call()
            })?;
            let status = response.status().as_u16();
            let link = header(&response, "link");
            let bytes = read_limited(response, MAX_MANIFEST_BYTES)
                .map_err(|e| RegistryError::new(RegistryErrorKind::Other, registry, e))?;
            check_status(registry, status, &bytes, &format!("tags of {repository}"))?;
            let page: TagList = serde_json::from_slice(&bytes).map_err(|e| {
                RegistryError::new(
                    RegistryErrorKind::Other,
                    registry,
                    format!("tags of {repository}: not a tag list: {e}"),
                )
            })?;
            let page = page.tags.unwrap_or_default();
            let empty = page.is_empty();
            tags.extend(page);
            match link.as_deref().and_then(next_page) {
                Some(path) if !empty && tags.len() < MAX_LISTED_TAGS => next = path,
                _ => break,
            }
        }
        tags.truncate(MAX_LISTED_TAGS);
        Ok(tags)
    }

    // -- blobs ---------------------------------------------------------------

    /// The blob `digest` of `repository`, at most `limit` bytes (configs,
    /// small documents), checked against its digest.
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
        if Digest::of(&bytes).to_string() != digest {
            return Err(RegistryError::new(
                RegistryErrorKind::Other,
                registry,
                format!("blob {digest} does not match its digest"),
            ));
        }
        Ok(bytes)
    }

    /// The blob `digest` of `repository` as a stream (layers: never held in
    /// memory). The caller checks the digest of what it reads.
    pub fn open_blob(
        &self,
        registry: &str,
        repository: &str,
        digest: &str,
        insecure: bool,
    ) -> Result<Box<dyn Read + Send>, RegistryError> {
        let scope = format!("repository:{repository}:pull");
        let response = self.send(registry, insecure, &scope, &|agent, base, auth| {
            authorize(agent.get(format!("{base}/v2/{repository}/blobs/{digest}")), auth)
                // A large layer takes as long as it takes; the connect timeout still applies.
                .config()
                .timeout_global(None)
                .build()
                .call()
        })?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let bytes = read_limited(response, 1024 * 1024).unwrap_or_default();
            return Err(status_error(registry, status, &bytes, &format!("blob {repository}@{digest}")));
        }
        Ok(Box::new(response.into_body().into_reader()))
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
        match self.start_upload(registry, repository, Some((digest, from)), insecure)? {
            UploadStart::Mounted => Ok(()),
            UploadStart::Session(location) => {
                self.cancel_upload(registry, repository, &location, insecure);
                Err(RegistryError::new(
                    RegistryErrorKind::Unsupported,
                    registry,
                    format!("cannot mount blob {digest} from {from} into {repository}; s2i does not copy layers"),
                ))
            }
        }
    }

    /// `POST /v2/<repository>/blobs/uploads/`, with `?mount=&from=` when
    /// `mount` names a blob and the repository to take it from: either the
    /// registry mounted it (201) or it opened an upload session (202).
    fn start_upload(
        &self,
        registry: &str,
        repository: &str,
        mount: Option<(&str, &str)>,
        insecure: bool,
    ) -> Result<UploadStart, RegistryError> {
        let scope = match mount {
            Some((_, from)) if from != repository => {
                format!("repository:{repository}:pull,push repository:{from}:pull")
            }
            _ => format!("repository:{repository}:pull,push"),
        };
        let response = self.send(registry, insecure, &scope, &|agent, base, auth| {
            let mut request = authorize(agent.post(format!("{base}/v2/{repository}/blobs/uploads/")), auth);
            if let Some((digest, from)) = mount {
                request = request.query("mount", digest).query("from", from);
            }
            request.send_empty()
        })?;
        let status = response.status().as_u16();
        let location = header(&response, "location");
        let bytes = read_limited(response, 1024 * 1024).unwrap_or_default();
        match (status, location) {
            (201, _) if mount.is_some() => Ok(UploadStart::Mounted),
            (202, Some(location)) => Ok(UploadStart::Session(location)),
            (202, None) => Err(RegistryError::new(
                RegistryErrorKind::Other,
                registry,
                format!("the registry opened an upload into {repository} without saying where (no Location)"),
            )),
            _ => Err(status_error(registry, status, &bytes, &format!("start an upload into {repository}"))),
        }
    }

    /// Close an upload session that will not be used (best effort: the
    /// registry forgets unfinished uploads by itself too).
    fn cancel_upload(&self, registry: &str, repository: &str, location: &str, insecure: bool) {
        let scope = format!("repository:{repository}:pull,push");
        let _ = self.send(registry, insecure, &scope, &|agent, base, auth| {
            authorize(agent.delete(session_url(base, location)), auth).call()
        });
    }
}

/// How a blob upload began.
#[derive(Debug, Clone, PartialEq, Eq)]
enum UploadStart {
    /// The registry mounted the blob from the other repository: nothing to send.
    Mounted,
    /// An upload session, at this location (absolute or relative to the registry).
    Session(String),
}

/// The absolute URL of an upload session location.
fn session_url(base: &str, location: &str) -> String {
    if location.starts_with("http://") || location.starts_with("https://") {
        location.to_owned()
    } else {
        format!("{base}{location}")
    }
}

/// The request with the Authorization header, when there is one.
fn authorize<B>(request: ureq::RequestBuilder<B>, authorization: Option<&str>) -> ureq::RequestBuilder<B> {
    match authorization {
        Some(value) => request.header("Authorization", value),
        None => request,
    }
}

/// The path and query of the next page a `Link` header names
/// (`</v2/NAME/tags/list?last=x&n=100>; rel="next"`), absolute URLs reduced
/// to their path: the client asks the registry it already speaks to.
fn next_page(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim().replace(' ', "");
            p == "rel=\"next\"" || p == "rel=next"
        });
        let target = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let path = match target.split_once("://") {
            Some((_, rest)) => &rest[rest.find('/')?..],
            None => target,
        };
        (is_next && path.starts_with("/v2/")).then(|| path.to_owned())
    })
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
    fn next_pages_come_from_link_headers() {
        assert_eq!(
            next_page(r#"</v2/team/app/tags/list?last=b&n=2>; rel="next""#).as_deref(),
            Some("/v2/team/app/tags/list?last=b&n=2")
        );
        assert_eq!(
            next_page(r#"<https://r.example/v2/a/tags/list?n=1&last=x>; rel="next""#).as_deref(),
            Some("/v2/a/tags/list?n=1&last=x")
        );
        assert_eq!(next_page(r#"</v2/a/tags/list?n=1>; rel="prev""#), None);
        assert_eq!(next_page(r#"</elsewhere>; rel="next""#), None);
    }

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
    fn status_errors_name_the_registry_code() {
        let e = status_error(
            "r",
            404,
            br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#,
            "manifest a:1",
        );
        assert_eq!(e.kind, RegistryErrorKind::NotFound);
        assert_eq!(e.to_string(), "r: manifest a:1: HTTP 404: MANIFEST_UNKNOWN manifest unknown");
        assert_eq!(status_error("r", 401, b"", "x").kind, RegistryErrorKind::Unauthorized);
    }

    #[test]
    fn indexes_are_told_from_image_manifests() {
        let index = Manifest {
            digest: String::new(),
            media_type: String::new(),
            bytes: br#"{"schemaVersion":2,"manifests":[{"digest":"sha256:x"}]}"#.to_vec(),
        };
        assert!(index.is_index());
        let image = Manifest {
            media_type: media_type::OCI_MANIFEST.into(),
            bytes: br#"{"schemaVersion":2,"config":{"digest":"sha256:x"},"layers":[]}"#.to_vec(),
            ..index
        };
        assert!(!image.is_index());
        assert_eq!(session_url("http://h", "/v2/a/blobs/uploads/1"), "http://h/v2/a/blobs/uploads/1");
        assert_eq!(session_url("http://h", "https://other/x"), "https://other/x");
    }
}
