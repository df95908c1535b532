//! [`DockerRuntime`]: the [`ContainerRuntime`] on the Docker Engine API.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use bollard::container::LogOutput;
use bollard::errors::Error as BollardError;
use bollard::models::{ContainerConfig, ContainerCreateBody, HostConfig, ImageInspect, SystemVersion};
use bollard::query_parameters::{
    AttachContainerOptions, BuildImageOptions, CommitContainerOptions, ContainerArchiveInfoOptions,
    CreateContainerOptions, CreateImageOptions, DownloadFromContainerOptions, ImportImageOptions,
    InspectContainerOptions, InspectNetworkOptions, ListContainersOptions, PushImageOptions, RemoveContainerOptions,
    RemoveImageOptions, StartContainerOptions, TagImageOptions, UploadToContainerOptions, WaitContainerOptions,
};
use bollard::{ClientVersion, Docker};
use futures::{StreamExt, TryStreamExt};
use s2i_core::reference::ImageReference;
use s2i_core::runtime::{
    Attachment, ByteStream, ChangeKind, CommitSpec, ContainerChange, ContainerPort, ContainerRuntime, ContainerSpec,
    ContainerSummary, ExitStatus, ImageBuildSpec, ImageInfo, OutputChunk, OutputKind, PathStat, PullProgress,
    RuntimeError, RuntimeErrorKind, RuntimeInfo,
};

use crate::error::{Error, chain_message, is_tls_failure, runtime_error};
use crate::names_lock::NamesLock;
use crate::options::{ConnectOptions, Endpoint};
use crate::podman::{self, Flavor};
use crate::tls;
use s2i_core::auth::{CredentialFiles, RegistryCredentials};

/// An image and a user of its containers.
type ImageUser = (String, String);

/// How often a tag is tried on Podman before a name the engine keeps losing is an error.
const TAG_ATTEMPTS: u64 = 5;

/// A container engine reached over the Docker Engine API (Docker, or Podman's
/// Docker-compatible service).
///
/// Cheap to clone: clones share the connection settings.
#[derive(Debug, Clone)]
pub struct DockerRuntime {
    /// The client with every request pinned to `version`.
    docker: Docker,
    /// The client without request modifier, to derive per-request clients from.
    base: Docker,
    version: ClientVersion,
    endpoint: String,
    credentials: Arc<CredentialFiles>,
    /// Docker or Podman, as the engine said at connect time.
    flavor: Flavor,
    /// `ONBUILD` triggers found on Podman, by image ID (an ID names one configuration for good).
    on_build: Arc<Mutex<HashMap<String, Vec<String>>>>,
    /// On Podman, numeric users as `uid:gid`, by (image, user); see `podman::primary_group`.
    podman_users: Arc<Mutex<HashMap<ImageUser, Option<String>>>>,
    /// On Podman, held around each change of image names; see `names_lock`.
    names_lock: NamesLock,
}

impl DockerRuntime {
    /// Connect to the engine the options describe, agree on an API version and
    /// check that it answers.
    ///
    /// The API version is `options.api_version` when set, used as is;
    /// otherwise the engine's, capped at the newest version this client knows.
    /// Registry credentials are read from the Docker configuration file here,
    /// so a malformed file fails early; a missing one means no credentials.
    pub async fn connect(options: &ConnectOptions) -> Result<Self, Error> {
        let endpoint = options.endpoint()?;
        let url = endpoint.url();
        let fixed = options
            .api_version
            .as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(parse_api_version)
            .transpose()?;
        let credentials =
            CredentialFiles::load(&options.auth_sources()).map_err(|e| Error::Credentials(Box::new(e)))?;
        if let Endpoint::Unix(path) = &endpoint
            && !path.exists()
        {
            return Err(Error::Unreachable {
                endpoint: url,
                message: format!("the socket {} does not exist", path.display()),
            });
        }

        if let Endpoint::Tcp { address, tls: Some(settings) } = &endpoint {
            tls::preflight(address, settings, options.connect_timeout).await.map_err(|e| match e {
                tls::Preflight::Handshake(message) => Error::TlsHandshake { endpoint: url.clone(), message },
                tls::Preflight::Connect(message) => Error::Unreachable { endpoint: url.clone(), message },
                tls::Preflight::Config(e) => e,
            })?;
        }
        let base = build_client(&endpoint, options, fixed.as_ref().unwrap_or(bollard::API_DEFAULT_VERSION))?;
        let (version, server) = match fixed {
            Some(version) => {
                let server = probe(&with_modifier(&base, Some(&version), None), options, &url, Some(&version)).await?;
                // Docker refuses a version it does not support; Podman answers any, so check its range here.
                if let Some(supported) = unsupported(&server, &version) {
                    return Err(Error::ApiVersionRefused {
                        endpoint: url,
                        version: version.to_string(),
                        message: format!("the engine supports API versions {supported}"),
                    });
                }
                (version, server)
            }
            None => {
                // Unversioned `/version`: every engine answers it, whatever API versions it supports.
                let server = probe(&with_modifier(&base, None, None), options, &url, None).await?;
                let version = server
                    .api_version
                    .as_deref()
                    .and_then(|v| parse_api_version(v).ok())
                    .filter(|v| v < bollard::API_DEFAULT_VERSION)
                    .unwrap_or(*bollard::API_DEFAULT_VERSION);
                (version, server)
            }
        };
        Ok(Self {
            docker: with_modifier(&base, Some(&version), None),
            base,
            version,
            names_lock: NamesLock::new(&url),
            endpoint: url,
            credentials: Arc::new(credentials),
            flavor: Flavor::of(&server),
            on_build: Arc::default(),
            podman_users: Arc::default(),
        })
    }

    /// The endpoint in use, e.g. `unix:///var/run/docker.sock`.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// The API version in use, e.g. `1.41`.
    pub fn api_version(&self) -> String {
        self.version.to_string()
    }

    /// Whether the engine is Podman (its Docker-compatible service), as it
    /// said at connect time; else Docker, or an engine that speaks as Docker.
    pub fn is_podman(&self) -> bool {
        matches!(self.flavor, Flavor::Podman { .. })
    }

    /// The credentials for the registry of `reference` (a credential helper may
    /// run, so off the async threads), or why the lookup failed.
    async fn credentials_of(
        &self,
        reference: &ImageReference,
    ) -> Result<(Option<RegistryCredentials>, Option<String>), RuntimeError> {
        let config = Arc::clone(&self.credentials);
        let lookup_reference = reference.clone();
        let lookup = tokio::task::spawn_blocking(move || config.credentials_for(&lookup_reference))
            .await
            .map_err(|e| RuntimeError::new(RuntimeErrorKind::Other, format!("the credential lookup failed: {e}")))?;
        Ok(match lookup {
            Ok(credentials) => (credentials, None),
            Err(e) => (None, Some(e.to_string())),
        })
    }

    /// Pull `image` with `explicit` credentials, or those of the credential files.
    async fn pull(
        &self,
        image: &str,
        explicit: Option<&RegistryCredentials>,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<(), RuntimeError> {
        let reference =
            ImageReference::parse(image).map_err(|e| RuntimeError::new(RuntimeErrorKind::Rejected, e.to_string()))?;
        let (credentials, lookup_error) = match explicit {
            Some(credentials) => (Some(credentials.clone()), None),
            None => self.credentials_of(&reference).await?,
        };
        let docker = with_modifier(&self.base, Some(&self.version), credentials.as_ref().map(registry_auth_header));
        let tag = reference
            .digest
            .clone()
            .or_else(|| reference.tag.clone())
            .unwrap_or_else(|| s2i_core::reference::DEFAULT_TAG.to_owned());
        let options = CreateImageOptions { from_image: Some(reference.name()), tag: Some(tag), ..Default::default() };
        let stream = docker.create_image(Some(options), None, None);
        relay_progress(stream, progress, lookup_error.as_deref(), |info| {
            let detail = info.progress_detail.unwrap_or_default();
            PullProgress {
                id: info.id,
                status: info.status.unwrap_or_default(),
                current: to_u64(detail.current),
                total: to_u64(detail.total),
            }
        })
        .await
    }

    /// Push `image` with `explicit` credentials, or those of the credential files.
    async fn push(
        &self,
        image: &str,
        explicit: Option<&RegistryCredentials>,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<Option<String>, RuntimeError> {
        let reference =
            ImageReference::parse(image).map_err(|e| RuntimeError::new(RuntimeErrorKind::Rejected, e.to_string()))?;
        if reference.digest.is_some() {
            return Err(RuntimeError::new(
                RuntimeErrorKind::Rejected,
                format!("{image} names a digest; an image is pushed by repository and tag"),
            ));
        }
        let (credentials, lookup_error) = match explicit {
            Some(credentials) => (Some(credentials.clone()), None),
            None => self.credentials_of(&reference).await?,
        };
        let docker = with_modifier(&self.base, Some(&self.version), credentials.as_ref().map(registry_auth_header));
        let options = PushImageOptions { tag: Some(reference.tag_or_default().to_owned()), ..Default::default() };
        // Bollard sends its own (empty) auth header when given no credentials; the modifier replaces it.
        let stream = docker.push_image(&reference.name(), Some(options), None);
        // Docker and Podman both end with `TAG: digest: sha256:… size: N`.
        let pushed = std::sync::Mutex::new(None);
        let watch = |report: PullProgress| {
            if let Some(digest) = pushed_digest(&report.status) {
                *pushed.lock().expect("the digest lock") = Some(digest);
            }
            progress(report);
        };
        relay_progress(stream, &watch, lookup_error.as_deref(), |info| {
            let detail = info.progress_detail.unwrap_or_default();
            PullProgress {
                id: None,
                status: info.status.unwrap_or_default(),
                current: to_u64(detail.current),
                total: to_u64(detail.total),
            }
        })
        .await?;
        Ok(pushed.into_inner().expect("the digest lock"))
    }

    /// The registry credentials read at connect time.
    pub fn credential_files(&self) -> &CredentialFiles {
        &self.credentials
    }

    /// The `ONBUILD` triggers of the image with ID `id` on Podman, whose
    /// inspection leaves them out: none unless its history has an `ONBUILD`
    /// instruction, else those of the configuration in its export.
    async fn podman_on_build(&self, id: &str) -> Result<Vec<String>, RuntimeError> {
        if let Some(triggers) = self.on_build.lock().expect("on_build lock").get(id) {
            return Ok(triggers.clone());
        }
        let history = self.docker.image_history(id).await.map_err(runtime_error)?;
        let triggers = if podman::history_mentions_onbuild(history.iter().map(|item| item.created_by.as_str())) {
            let export = Box::pin(self.docker.export_image(id).map_err(io_error));
            let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(export));
            let owned = id.to_owned();
            tokio::task::spawn_blocking(move || podman::on_build_from_export(reader, &owned)).await.map_err(|e| {
                RuntimeError::new(RuntimeErrorKind::Other, format!("reading the export of image {id} failed: {e}"))
            })??
        } else {
            Vec::new()
        };
        self.on_build.lock().expect("on_build lock").insert(id.to_owned(), triggers.clone());
        Ok(triggers)
    }
}

impl DockerRuntime {
    /// A small text file of a (created) container, `None` when it does not exist.
    async fn small_file(&self, container: &str, path: &str) -> Result<Option<String>, RuntimeError> {
        let Some(mut stream) = self.download_archive(container, path).await? else { return Ok(None) };
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.map_err(|e| RuntimeError::new(RuntimeErrorKind::Other, e.to_string()))?);
            if bytes.len() > 4 << 20 {
                return Ok(None);
            }
        }
        let mut archive = tar::Archive::new(bytes.as_slice());
        let Some(Ok(mut entry)) = archive.entries().ok().and_then(|mut entries| entries.next()) else {
            return Ok(None);
        };
        let mut text = String::new();
        std::io::Read::read_to_string(&mut entry, &mut text).ok();
        Ok(Some(text))
    }
}

/// A client whose requests go to `/vMAJOR.MINOR/…` (or to unversioned paths
/// when `version` is `None`) and carry the registry auth header, if any.
///
/// Bollard 0.21 builds request paths without the version prefix (so the engine
/// would answer with its own newest API), hence the version is put in here.
fn with_modifier(base: &Docker, version: Option<&ClientVersion>, registry_auth: Option<String>) -> Docker {
    let prefix = version.map(|v| format!("/v{v}")).unwrap_or_default();
    base.clone().with_request_modifier(move |mut request| {
        let uri = request.uri().to_string();
        if let Some(rewritten) = versioned_uri(&uri, &prefix)
            && let Ok(rewritten) = rewritten.parse()
        {
            *request.uri_mut() = rewritten;
        }
        if let Some(value) = registry_auth.as_deref().and_then(|v| v.parse().ok()) {
            request.headers_mut().insert("x-registry-auth", value);
        }
        request
    })
}

/// `uri` with its path under `prefix` (`/v1.41`, or empty for none), replacing a version prefix it already has.
fn versioned_uri(uri: &str, prefix: &str) -> Option<String> {
    let path_start = uri.find("://").map_or(0, |i| i + 3);
    let path_start = path_start + uri[path_start..].find('/')?;
    let (origin, path) = uri.split_at(path_start);
    let unversioned = match path.strip_prefix("/v") {
        Some(rest) => {
            let end = rest.find(['/', '?']).unwrap_or(rest.len());
            let candidate = &rest[..end];
            let is_version = candidate.split_once('.').is_some_and(|(a, b)| {
                !a.is_empty()
                    && !b.is_empty()
                    && a.bytes().all(|c| c.is_ascii_digit())
                    && b.bytes().all(|c| c.is_ascii_digit())
            });
            if is_version { &rest[end..] } else { path }
        }
        None => path,
    };
    Some(format!("{origin}{prefix}{unversioned}"))
}

/// `MIN to MAX` when the engine's answer names its API versions and `version` is not among them.
fn unsupported(server: &SystemVersion, version: &ClientVersion) -> Option<String> {
    let parse = |v: &Option<String>| v.as_deref().and_then(|v| parse_api_version(v).ok());
    let max = parse(&server.api_version)?;
    let min = parse(&server.min_api_version).unwrap_or(ClientVersion { major_version: 1, minor_version: 12 });
    (version < &min || version > &max).then(|| format!("{min} to {max}"))
}

fn parse_api_version(value: &str) -> Result<ClientVersion, Error> {
    let invalid = || Error::InvalidApiVersion { value: value.to_owned() };
    let value = value.trim().trim_start_matches('v');
    let (major, minor) = value.split_once('.').ok_or_else(invalid)?;
    Ok(ClientVersion {
        major_version: major.parse().map_err(|_| invalid())?,
        minor_version: minor.parse().map_err(|_| invalid())?,
    })
}

fn build_client(endpoint: &Endpoint, options: &ConnectOptions, version: &ClientVersion) -> Result<Docker, Error> {
    let timeout = options.timeout.as_secs().max(1);
    let invalid = |e: BollardError| Error::InvalidHost { host: endpoint.url(), reason: e.to_string() };
    match endpoint {
        #[cfg(unix)]
        Endpoint::Unix(path) => {
            Docker::connect_with_unix(&path.to_string_lossy(), timeout, version).map_err(|e| match e {
                BollardError::SocketNotFoundError(_) => Error::Unreachable {
                    endpoint: endpoint.url(),
                    message: format!("the socket {} does not exist", path.display()),
                },
                e => invalid(e),
            })
        }
        #[cfg(not(unix))]
        Endpoint::Unix(_) => Err(Error::InvalidHost {
            host: endpoint.url(),
            reason: "unix sockets are not supported on this system".into(),
        }),
        Endpoint::Tcp { address, tls: None } => {
            Docker::connect_with_http(&format!("http://{address}"), timeout, version).map_err(invalid)
        }
        Endpoint::Tcp { address, tls: Some(settings) } => {
            tls::connect(address, settings, options.timeout, options.connect_timeout, version)
        }
    }
}

/// Ask the engine for its version, within the connect timeout.
async fn probe(
    docker: &Docker,
    options: &ConnectOptions,
    url: &str,
    fixed: Option<&ClientVersion>,
) -> Result<SystemVersion, Error> {
    let unreachable = |message: String| Error::Unreachable { endpoint: url.to_owned(), message };
    let result = tokio::time::timeout(options.connect_timeout, docker.version())
        .await
        .map_err(|_| unreachable(format!("no answer within {} s", options.connect_timeout.as_secs())))?;
    result.map_err(|e| match e {
        BollardError::DockerResponseServerError { status_code: 400, message } if fixed.is_some() => {
            Error::ApiVersionRefused {
                endpoint: url.to_owned(),
                version: fixed.map(ToString::to_string).unwrap_or_default(),
                message,
            }
        }
        BollardError::DockerResponseServerError { status_code, message } => {
            unreachable(format!("it answered HTTP {status_code} ({message}); is it a container engine?"))
        }
        BollardError::JsonDataError { message, .. } => {
            unreachable(format!("its answer is not the Docker Engine API's ({message})"))
        }
        BollardError::SocketNotFoundError(path) => unreachable(format!("the socket {path} does not exist")),
        e if is_tls_failure(&e) => Error::TlsHandshake { endpoint: url.to_owned(), message: chain_message(&e) },
        e => {
            let mut message = chain_message(&e);
            if message.contains("Permission denied") {
                message.push_str(" (add your user to the docker group, or use rootless Podman)");
            }
            unreachable(message)
        }
    })
}

fn image_info(inspect: ImageInspect) -> ImageInfo {
    let config = inspect.config.unwrap_or_default();
    ImageInfo {
        id: inspect.id.map(podman::image_id).unwrap_or_default(),
        repo_tags: inspect.repo_tags.unwrap_or_default().iter().map(|t| podman::familiar_name(t)).collect(),
        repo_digests: inspect.repo_digests.unwrap_or_default().iter().map(|d| podman::familiar_name(d)).collect(),
        user: config.user.unwrap_or_default(),
        entrypoint: config.entrypoint.unwrap_or_default(),
        cmd: config.cmd.unwrap_or_default(),
        env: config.env.unwrap_or_default(),
        labels: config.labels.unwrap_or_default().into_iter().collect(),
        working_dir: config.working_dir.unwrap_or_default(),
        on_build: config.on_build.unwrap_or_default(),
        size: inspect.size.map_or(0, |s| u64::try_from(s).unwrap_or(0)),
    }
}

fn non_empty(values: &[String]) -> Option<Vec<String>> {
    (!values.is_empty()).then(|| values.to_vec())
}

fn labels(labels: &BTreeMap<String, String>) -> HashMap<String, String> {
    labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

/// The `X-Registry-Auth` header value, encoded as the Docker CLI does (URL-safe base64 of JSON).
fn registry_auth_header(credentials: &RegistryCredentials) -> String {
    let mut auth = serde_json::Map::new();
    let mut put = |key: &str, value: &str| {
        if !value.is_empty() {
            auth.insert(key.to_owned(), serde_json::Value::String(value.to_owned()));
        }
    };
    put("username", &credentials.username);
    put("password", &credentials.password);
    put("serveraddress", &credentials.server_address);
    put("identitytoken", credentials.identity_token.as_deref().unwrap_or_default());
    URL_SAFE.encode(serde_json::Value::Object(auth).to_string())
}

/// The digest in a push's final report (`latest: digest: sha256:… size: 527`).
fn pushed_digest(status: &str) -> Option<String> {
    let rest = &status[status.find("digest: ")? + "digest: ".len()..];
    let digest = rest.split_whitespace().next()?;
    s2i_core::reference::validate_digest(digest).ok().map(|()| digest.to_owned())
}

/// Relay the progress reports of a pull or push; its first error ends it (with
/// a note when no credentials could be sent).
async fn relay_progress<T>(
    mut stream: impl futures::Stream<Item = Result<T, BollardError>> + Unpin,
    progress: &(dyn Fn(PullProgress) + Send + Sync),
    lookup_error: Option<&str>,
    report: impl Fn(T) -> PullProgress,
) -> Result<(), RuntimeError> {
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => progress(report(info)),
            Err(e) => {
                let mut error = runtime_error(e);
                if let Some(lookup_error) = lookup_error
                    && matches!(error.kind, RuntimeErrorKind::Unauthorized | RuntimeErrorKind::NotFound)
                {
                    error.message.push_str(&format!(" (no credentials were sent: {lookup_error})"));
                }
                return Err(error);
            }
        }
    }
    Ok(())
}

fn to_u64(value: Option<i64>) -> Option<u64> {
    value.and_then(|v| u64::try_from(v).ok())
}

fn io_error(error: BollardError) -> std::io::Error {
    let error = runtime_error(error);
    let kind = match error.kind {
        RuntimeErrorKind::NotFound => std::io::ErrorKind::NotFound,
        RuntimeErrorKind::Unreachable => std::io::ErrorKind::ConnectionAborted,
        _ => std::io::ErrorKind::Other,
    };
    std::io::Error::new(kind, error.message)
}

#[async_trait::async_trait]
impl ContainerRuntime for DockerRuntime {
    async fn info(&self) -> Result<RuntimeInfo, RuntimeError> {
        let version = self.docker.version().await.map_err(runtime_error)?;
        Ok(RuntimeInfo {
            name: Flavor::of(&version).product_name().to_owned(),
            version: version.version.clone().unwrap_or_default(),
            api_version: self.api_version(),
            endpoint: self.endpoint.clone(),
        })
    }

    async fn inspect_image(&self, image: &str) -> Result<Option<ImageInfo>, RuntimeError> {
        match self.docker.inspect_image(image).await {
            Ok(inspect) => {
                let mut info = image_info(inspect);
                if matches!(self.flavor, Flavor::Podman { .. }) && info.on_build.is_empty() && !info.id.is_empty() {
                    info.on_build = self.podman_on_build(&info.id).await?;
                }
                Ok(Some(info))
            }
            Err(e) => {
                let e = runtime_error(e);
                if e.is_not_found() { Ok(None) } else { Err(e) }
            }
        }
    }

    async fn pull_image(
        &self,
        image: &str,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<(), RuntimeError> {
        self.pull(image, None, progress).await
    }

    async fn pull_image_with(
        &self,
        image: &str,
        credentials: &RegistryCredentials,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<(), RuntimeError> {
        self.pull(image, Some(credentials), progress).await
    }

    async fn push_image(
        &self,
        image: &str,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<Option<String>, RuntimeError> {
        self.push(image, None, progress).await
    }

    async fn push_image_with(
        &self,
        image: &str,
        credentials: &RegistryCredentials,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<Option<String>, RuntimeError> {
        self.push(image, Some(credentials), progress).await
    }

    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, RuntimeError> {
        let limits = &spec.host.limits;
        let host_config = HostConfig {
            binds: non_empty(&spec.host.binds),
            cap_drop: non_empty(&spec.host.cap_drop),
            network_mode: spec.host.network_mode.clone(),
            extra_hosts: non_empty(&spec.host.extra_hosts),
            security_opt: non_empty(&spec.host.security_opt),
            memory: limits.memory_bytes,
            memory_swap: limits.memory_swap_bytes,
            nano_cpus: limits.nano_cpus,
            shm_size: limits.shm_size_bytes,
            publish_all_ports: spec.host.publish_all_ports.then_some(true),
            ..Default::default()
        };
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            // `Some(vec![])` is sent as `[]`: it clears the image's entrypoint.
            entrypoint: spec.entrypoint.clone(),
            cmd: non_empty(&spec.cmd),
            env: non_empty(&spec.env),
            user: spec.user.clone(),
            working_dir: spec.working_dir.clone(),
            labels: (!spec.labels.is_empty()).then(|| labels(&spec.labels)),
            tty: Some(false),
            open_stdin: Some(spec.stdin),
            stdin_once: Some(spec.stdin),
            attach_stdin: Some(spec.stdin),
            attach_stdout: Some(true),
            attach_stderr: Some(true),
            host_config: Some(host_config),
            ..Default::default()
        };
        let options = CreateContainerOptions { name: spec.name.clone(), ..Default::default() };
        if !matches!(self.flavor, Flavor::Podman { .. }) {
            let created = self.docker.create_container(Some(options), body).await.map_err(runtime_error)?;
            return Ok(created.id);
        }
        // Podman adds a line for a numeric user without a group to /etc/group
        // (into the container's layer); with the group named it does not.
        let key = (spec.image.clone(), spec.user.clone().unwrap_or_default());
        let known = self.podman_users.lock().expect("podman_users lock").get(&key).cloned();
        if let Some(with_group) = known {
            let body = ContainerCreateBody { user: with_group.or(body.user), ..body };
            let created = self.docker.create_container(Some(options), body).await.map_err(runtime_error)?;
            return Ok(created.id);
        }
        let created = self.docker.create_container(Some(options.clone()), body.clone()).await.map_err(runtime_error)?;
        let user = match spec.user.clone() {
            Some(user) => user,
            None => self.inspect_image(&spec.image).await?.map(|image| image.user).unwrap_or_default(),
        };
        let with_group = match self.small_file(&created.id, "/etc/passwd").await? {
            Some(passwd) => podman::primary_group(&passwd, &user),
            None => None,
        };
        self.podman_users.lock().expect("podman_users lock").insert(key, with_group.clone());
        let Some(with_group) = with_group else { return Ok(created.id) };
        self.remove_container(&created.id).await?;
        let body = ContainerCreateBody { user: Some(with_group), ..body };
        let created = self.docker.create_container(Some(options), body).await.map_err(runtime_error)?;
        Ok(created.id)
    }

    async fn attach_container(&self, container: &str, stdin: bool) -> Result<Attachment, RuntimeError> {
        let options = AttachContainerOptions { stream: true, stdin, stdout: true, stderr: true, ..Default::default() };
        let attached = self.docker.attach_container(container, Some(options)).await.map_err(runtime_error)?;
        let output = attached.output.filter_map(|item| {
            futures::future::ready(match item {
                Ok(LogOutput::StdOut { message } | LogOutput::Console { message }) => {
                    Some(Ok(OutputChunk { kind: OutputKind::Stdout, bytes: message }))
                }
                Ok(LogOutput::StdErr { message }) => Some(Ok(OutputChunk { kind: OutputKind::Stderr, bytes: message })),
                Ok(LogOutput::StdIn { .. }) => None,
                Err(e) => Some(Err(runtime_error(e))),
            })
        });
        Ok(Attachment { stdin: stdin.then_some(attached.input), output: Box::pin(output) })
    }

    async fn start_container(&self, container: &str) -> Result<(), RuntimeError> {
        self.docker.start_container(container, None::<StartContainerOptions>).await.map_err(runtime_error)
    }

    async fn wait_container(&self, container: &str) -> Result<ExitStatus, RuntimeError> {
        let options = WaitContainerOptions { condition: "not-running".into() };
        let mut stream = self.docker.wait_container(container, Some(options));
        let mut status = None;
        while let Some(item) = stream.next().await {
            match item {
                Ok(response) => {
                    let error = response.error.and_then(|e| e.message).filter(|m| !m.is_empty());
                    status = Some(ExitStatus { code: response.status_code, oom_killed: false, error });
                }
                // Bollard reports a non-zero exit as an error; it is an ordinary outcome here.
                Err(BollardError::DockerContainerWaitError { error, code }) => {
                    status = Some(ExitStatus { code, oom_killed: false, error: Some(error).filter(|m| !m.is_empty()) });
                }
                Err(e) => return Err(runtime_error(e)),
            }
        }
        let mut status = status.ok_or_else(|| {
            RuntimeError::new(
                RuntimeErrorKind::Other,
                format!("the engine ended the wait for {container} without an exit status"),
            )
        })?;
        // The wait answer lacks the OOM flag; the container's state has it.
        if let Ok(inspect) = self.docker.inspect_container(container, None::<InspectContainerOptions>).await
            && let Some(state) = inspect.state
        {
            status.oom_killed = state.oom_killed.unwrap_or(false);
            if status.error.is_none() {
                status.error = state.error.filter(|e| !e.is_empty());
            }
        }
        Ok(status)
    }

    async fn upload_archive(&self, container: &str, path: &str, archive: ByteStream) -> Result<(), RuntimeError> {
        if let Flavor::Podman { .. } = self.flavor {
            // Podman would create a missing directory; Docker answers 404.
            let options = ContainerArchiveInfoOptions { path: path.to_owned() };
            match self.docker.get_container_archive_info(container, Some(options)).await {
                Ok(_) => {}
                Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => {
                    // The answer to HEAD has no body to tell a missing container from a missing path.
                    self.docker
                        .inspect_container(container, None::<InspectContainerOptions>)
                        .await
                        .map_err(runtime_error)?;
                    return Err(RuntimeError::new(
                        RuntimeErrorKind::NotFound,
                        format!("could not find the directory {path} in container {container}"),
                    ));
                }
                Err(e) => return Err(runtime_error(e)),
            }
        }
        let options = UploadToContainerOptions { path: path.to_owned(), ..Default::default() };
        self.docker
            .upload_to_container(container, Some(options), bollard::body_try_stream(archive))
            .await
            .map_err(runtime_error)
    }

    async fn download_archive(&self, container: &str, path: &str) -> Result<Option<ByteStream>, RuntimeError> {
        let options = DownloadFromContainerOptions { path: path.to_owned() };
        let mut stream = self.docker.download_from_container(container, Some(options));
        let first = match stream.next().await {
            None => return Ok(Some(Box::pin(futures::stream::empty()))),
            Some(Ok(first)) => first,
            Some(Err(BollardError::DockerResponseServerError { status_code: 404, message }))
                if !message.to_ascii_lowercase().contains("no such container") =>
            {
                // The path is missing; a missing container is an error (Docker and Podman both say "no such container").
                return Ok(None);
            }
            Some(Err(e)) => return Err(runtime_error(e)),
        };
        let rest = stream.map_err(io_error);
        Ok(Some(Box::pin(futures::stream::once(futures::future::ready(Ok(first))).chain(rest))))
    }

    async fn commit_container(&self, container: &str, spec: &CommitSpec) -> Result<String, RuntimeError> {
        let changes = match self.flavor {
            Flavor::Docker => None,
            // Older Podman ignores the body; see `podman::commit_changes`.
            Flavor::Podman { version } => Some(podman::commit_changes(spec, version)?).filter(|c| !c.is_empty()),
        };
        let options = CommitContainerOptions {
            container: Some(container.to_owned()),
            repo: spec.repository.clone(),
            tag: spec.repository.as_ref().and(spec.tag.clone()),
            changes,
            ..Default::default()
        };
        let config = ContainerConfig {
            cmd: Some(spec.cmd.clone()),
            // Always sent, as `[]` when empty, so the container's entrypoint is cleared.
            entrypoint: Some(spec.entrypoint.clone()),
            env: Some(spec.env.clone()),
            user: Some(spec.user.clone()),
            labels: Some(labels(&spec.labels)),
            ..Default::default()
        };
        let committed = self.docker.commit_container(options, config).await.map_err(runtime_error)?;
        Ok(podman::image_id(committed.id))
    }

    async fn container_changes(&self, container: &str) -> Result<Vec<ContainerChange>, RuntimeError> {
        let listed = self.docker.container_changes(container).await.map_err(runtime_error)?.unwrap_or_default();
        let changes = listed
            .into_iter()
            .map(|change| ContainerChange {
                path: change.path,
                kind: match change.kind {
                    bollard::models::ChangeType::_0 => ChangeKind::Modified,
                    bollard::models::ChangeType::_1 => ChangeKind::Added,
                    bollard::models::ChangeType::_2 => ChangeKind::Deleted,
                },
            })
            .collect();
        Ok(match self.flavor {
            Flavor::Docker => changes,
            Flavor::Podman { .. } => podman::without_own_changes(changes),
        })
    }

    async fn export_container(&self, container: &str) -> Result<ByteStream, RuntimeError> {
        let mut stream = Box::pin(self.docker.export_container(container));
        let first = match stream.next().await {
            None => return Ok(Box::pin(futures::stream::empty())),
            Some(first) => first.map_err(runtime_error)?,
        };
        let rest = stream.map_err(io_error);
        Ok(Box::pin(futures::stream::once(futures::future::ready(Ok(first))).chain(rest)))
    }

    fn archives_keep_owners(&self) -> bool {
        // Podman's archives carry the container user as the owner of everything.
        matches!(self.flavor, Flavor::Docker)
    }

    async fn export_image(&self, image: &str) -> Result<ByteStream, RuntimeError> {
        let mut stream = Box::pin(self.docker.export_image(image));
        // The engine's refusal (no such image) comes as the first item.
        let first = match stream.next().await {
            None => return Ok(Box::pin(futures::stream::empty())),
            Some(first) => first.map_err(runtime_error)?,
        };
        let rest = stream.map_err(io_error);
        Ok(Box::pin(futures::stream::once(futures::future::ready(Ok(first))).chain(rest)))
    }

    async fn load_image(&self, archive: ByteStream) -> Result<(), RuntimeError> {
        let options = ImportImageOptions { quiet: true, ..Default::default() };
        let mut answers = Box::pin(self.docker.import_image_stream(options, archive, None));
        while let Some(answer) = answers.next().await {
            answer.map_err(runtime_error)?;
        }
        Ok(())
    }

    fn load_needs_every_layer(&self) -> bool {
        matches!(self.flavor, Flavor::Podman { .. })
    }

    async fn remove_container(&self, container: &str) -> Result<(), RuntimeError> {
        let options = RemoveContainerOptions { v: true, force: true, link: false };
        self.docker.remove_container(container, Some(options)).await.map_err(runtime_error)
    }

    async fn remove_image(&self, image: &str) -> Result<(), RuntimeError> {
        let options = RemoveImageOptions { force: false, noprune: false, platforms: None };
        let _names = match self.flavor {
            Flavor::Podman { .. } => Some(self.names_lock.acquire().await),
            Flavor::Docker => None,
        };
        self.docker.remove_image(image, Some(options), None).await.map(|_| ()).map_err(runtime_error)
    }

    async fn tag_image(&self, image: &str, repository: &str, tag: &str) -> Result<(), RuntimeError> {
        let options = TagImageOptions { repo: Some(repository.to_owned()), tag: Some(tag.to_owned()) };
        if !self.is_podman() {
            return self.docker.tag_image(image, Some(options)).await.map_err(runtime_error);
        }
        // Podman rewrites an image's whole list of names for each tag or
        // untag, so concurrent ones on the same image can drop each other's
        // names (see `names_lock`): tag under the lock, then check that the
        // name holds against clients that do not take it.
        let _names = self.names_lock.acquire().await;
        // A full image ID names itself; anything else is looked up once.
        let wanted = match podman::image_id(image.to_owned()) {
            id if id.starts_with("sha256:") && id.len() == 71 => id,
            _ => {
                podman::image_id(self.docker.inspect_image(image).await.map_err(runtime_error)?.id.unwrap_or_default())
            }
        };
        let name = format!("{repository}:{tag}");
        for attempt in 1..=TAG_ATTEMPTS {
            self.docker.tag_image(image, Some(options.clone())).await.map_err(runtime_error)?;
            match self.docker.inspect_image(&name).await {
                Ok(found) if found.id.clone().map(podman::image_id).as_ref() == Some(&wanted) => return Ok(()),
                Ok(_) => {}
                Err(e) => {
                    let e = runtime_error(e);
                    if !e.is_not_found() {
                        return Err(e);
                    }
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(20 * attempt)).await;
        }
        Err(RuntimeError::new(
            RuntimeErrorKind::Other,
            format!(
                "Podman did not keep the tag {name} after {} attempts (other clients were changing the same \
                 image's tags at the same time)",
                TAG_ATTEMPTS
            ),
        ))
    }

    async fn network_exists(&self, network: &str) -> Result<bool, RuntimeError> {
        match self.docker.inspect_network(network, None::<InspectNetworkOptions>).await {
            Ok(_) => Ok(true),
            Err(e) => absent(runtime_error(e)),
        }
    }

    async fn container_exists(&self, container: &str) -> Result<bool, RuntimeError> {
        match self.docker.inspect_container(container, None::<InspectContainerOptions>).await {
            Ok(_) => Ok(true),
            Err(e) => absent(runtime_error(e)),
        }
    }

    async fn stat_path(&self, container: &str, path: &str) -> Result<Option<PathStat>, RuntimeError> {
        let options = ContainerArchiveInfoOptions { path: path.to_owned() };
        match self.docker.get_container_archive_info(container, Some(options)).await {
            Ok(stat) => Ok(Some(PathStat {
                name: stat.name,
                size: stat.size,
                permissions: stat.file_mode & 0o7777,
                // Go's os.ModeDir.
                is_dir: stat.file_mode & (1 << 31) != 0,
                link_target: stat.link_target,
            })),
            // A HEAD request has no body, so a missing container and a missing path
            // look the same; the caller has just created the container.
            Err(BollardError::DockerResponseServerError { status_code: 404, .. }) => Ok(None),
            Err(e) => Err(runtime_error(e)),
        }
    }

    async fn build_image(
        &self,
        context: ByteStream,
        spec: &ImageBuildSpec,
        output: &(dyn Fn(String) + Send + Sync),
    ) -> Result<String, RuntimeError> {
        let options = BuildImageOptions {
            dockerfile: spec.dockerfile.clone(),
            t: spec.tag.clone(),
            nocache: true,
            rm: true,
            forcerm: true,
            labels: (!spec.labels.is_empty())
                .then(|| spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())).collect()),
            networkmode: spec.network_mode.clone(),
            memory: spec.limits.memory_bytes.and_then(|m| i32::try_from(m).ok()),
            memswap: spec.limits.memory_swap_bytes.and_then(|m| i32::try_from(m).ok()),
            ..Default::default()
        };
        let mut stream = self.docker.build_image(options, None, Some(bollard::body_try_stream(context)));
        let mut image_id = None;
        while let Some(item) = stream.next().await {
            let info = item.map_err(runtime_error)?;
            if let Some(error) = info.error_detail.and_then(|d| d.message) {
                return Err(RuntimeError::new(RuntimeErrorKind::Rejected, error.trim().to_owned()));
            }
            if let Some(text) = info.stream {
                for line in text.lines().filter(|l| !l.trim().is_empty()) {
                    output(line.to_owned());
                }
            }
            if let Some(id) = info.aux.and_then(|aux| aux.id) {
                image_id = Some(id);
            }
        }
        match image_id {
            Some(id) => Ok(id),
            None => match &spec.tag {
                // Engines that do not report the ID (older Podman) still tag the image.
                Some(tag) => self.inspect_image(tag).await?.map(|info| info.id).ok_or_else(|| {
                    RuntimeError::new(RuntimeErrorKind::Other, format!("the build did not produce {tag}"))
                }),
                None => {
                    Err(RuntimeError::new(RuntimeErrorKind::Other, "the engine did not report the built image's ID"))
                }
            },
        }
    }

    async fn list_containers(&self, labels: &BTreeMap<String, String>) -> Result<Vec<ContainerSummary>, RuntimeError> {
        let mut filters = HashMap::new();
        if !labels.is_empty() {
            let wanted = labels.iter().map(|(key, value)| format!("{key}={value}")).collect();
            filters.insert("label".to_owned(), wanted);
        }
        filters.insert("status".to_owned(), vec!["running".to_owned()]);
        let options = ListContainersOptions { all: false, limit: None, size: false, filters: Some(filters) };
        let listed = self.docker.list_containers(Some(options)).await.map_err(runtime_error)?;
        let mut containers: Vec<ContainerSummary> = listed.into_iter().map(container_summary).collect();
        // Docker lists exposed ports that are not published; Podman lists only
        // published ones, so there the image's exposed ports come from an inspect.
        if matches!(self.flavor, Flavor::Podman { .. }) {
            let mut running = Vec::with_capacity(containers.len());
            for mut container in containers {
                let options = None::<InspectContainerOptions>;
                match self.docker.inspect_container(&container.id, options).await.map_err(runtime_error) {
                    Ok(inspect) => {
                        let exposed = inspect.config.and_then(|config| config.exposed_ports).unwrap_or_default();
                        add_exposed_ports(&mut container.ports, &exposed);
                        running.push(container);
                    }
                    // Gone between the list and the inspect: it is not running any more.
                    Err(error) if error.is_not_found() => {}
                    Err(error) => return Err(error),
                }
            }
            containers = running;
        }
        containers.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        Ok(containers)
    }

    async fn containers_with_labels(&self, labels: &BTreeMap<String, String>) -> Result<Vec<String>, RuntimeError> {
        let wanted = labels.iter().map(|(key, value)| format!("{key}={value}")).collect();
        let listed = self.containers_in_any_state(wanted).await?;
        let mut ids: Vec<String> = listed.into_iter().filter_map(|c| c.id).collect();
        ids.sort();
        Ok(ids)
    }

    async fn labelled_containers(&self, key: &str) -> Result<Vec<ContainerSummary>, RuntimeError> {
        // `label=KEY` filters on the label's presence, whatever its value.
        let listed = self.containers_in_any_state(vec![key.to_owned()]).await?;
        let mut containers: Vec<ContainerSummary> = listed.into_iter().map(container_summary).collect();
        containers.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        Ok(containers)
    }
}

impl DockerRuntime {
    /// One listing of the containers in any state that match the `label` filters.
    async fn containers_in_any_state(
        &self,
        labels: Vec<String>,
    ) -> Result<Vec<bollard::models::ContainerSummary>, RuntimeError> {
        let filters = HashMap::from([("label".to_owned(), labels)]);
        let options = ListContainersOptions { all: true, limit: None, size: false, filters: Some(filters) };
        self.docker.list_containers(Some(options)).await.map_err(runtime_error)
    }
}

/// `Ok(false)` for a not-found error, the error otherwise.
fn absent(error: RuntimeError) -> Result<bool, RuntimeError> {
    if error.is_not_found() { Ok(false) } else { Err(error) }
}

/// Adds the exposed ports (`8080/tcp`, `53/udp`, `9000`) that `ports` lacks,
/// as unpublished; keeps `ports` sorted.
fn add_exposed_ports(ports: &mut Vec<ContainerPort>, exposed: &[String]) {
    for entry in exposed {
        let (number, protocol) = entry.split_once('/').unwrap_or((entry, "tcp"));
        let Ok(container_port) = number.parse::<u16>() else { continue };
        let protocol = if protocol.is_empty() { "tcp" } else { protocol };
        if !ports.iter().any(|port| port.container_port == container_port && port.protocol == protocol) {
            ports.push(ContainerPort { container_port, protocol: protocol.to_owned(), host_ip: None, host_port: None });
        }
    }
    ports.sort();
}

/// The engine's container list entry, as the runtime contract has it.
fn container_summary(listed: bollard::models::ContainerSummary) -> ContainerSummary {
    let name = listed
        .names
        .unwrap_or_default()
        .into_iter()
        .map(|name| name.trim_start_matches('/').to_owned())
        .min()
        .unwrap_or_default();
    let addresses = listed
        .network_settings
        .and_then(|settings| settings.networks)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(network, endpoint)| endpoint.ip_address.filter(|ip| !ip.is_empty()).map(|ip| (network, ip)))
        .collect();
    let mut ports: Vec<ContainerPort> = listed
        .ports
        .unwrap_or_default()
        .into_iter()
        .map(|port| ContainerPort {
            container_port: port.private_port,
            protocol: port
                .typ
                .map(|typ| typ.to_string())
                .filter(|typ| !typ.is_empty())
                .unwrap_or_else(|| "tcp".to_owned()),
            host_ip: port.ip.filter(|ip| !ip.is_empty()),
            host_port: port.public_port.filter(|port| *port != 0),
        })
        .collect();
    ports.sort();
    ports.dedup();
    ContainerSummary {
        id: listed.id.unwrap_or_default(),
        name,
        labels: listed.labels.unwrap_or_default().into_iter().collect(),
        addresses,
        ports,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposed_ports_missing_from_the_list_are_added_unpublished() {
        let published = ContainerPort {
            container_port: 9090,
            protocol: "tcp".into(),
            host_ip: Some("127.0.0.1".into()),
            host_port: Some(1234),
        };
        let mut ports = vec![published.clone()];
        add_exposed_ports(&mut ports, &["9090/tcp".into(), "53/udp".into(), "8080".into(), "bogus/tcp".into()]);
        let unpublished = |port: u16, protocol: &str| ContainerPort {
            container_port: port,
            protocol: protocol.into(),
            host_ip: None,
            host_port: None,
        };
        assert_eq!(ports, [unpublished(53, "udp"), unpublished(8080, "tcp"), published]);
    }

    #[test]
    fn api_versions_parse() {
        let v = parse_api_version("1.41").unwrap();
        assert_eq!((v.major_version, v.minor_version), (1, 41));
        assert!(parse_api_version("v1.44").is_ok());
        for bad in ["1", "one.two", "1.x", ""] {
            assert!(matches!(parse_api_version(bad), Err(Error::InvalidApiVersion { .. })), "{bad}");
        }
    }

    #[test]
    fn uris_get_the_version_prefix() {
        let prefix = "/v1.41";
        assert_eq!(versioned_uri("unix://2f78/version", prefix).as_deref(), Some("unix://2f78/v1.41/version"));
        assert_eq!(
            versioned_uri("http://h:2375/v1.53/images/a/b:1/json?x=1", prefix).as_deref(),
            Some("http://h:2375/v1.41/images/a/b:1/json?x=1")
        );
        assert_eq!(
            versioned_uri("https://h/volumes/v1.0/x", prefix).as_deref(),
            Some("https://h/v1.41/volumes/v1.0/x")
        );
        assert_eq!(versioned_uri("https://h/vx.1/y", prefix).as_deref(), Some("https://h/v1.41/vx.1/y"));
        assert_eq!(versioned_uri("https://h", prefix), None);
        assert_eq!(versioned_uri("unix://2f78/v1.53/version", "").as_deref(), Some("unix://2f78/version"));
    }

    #[test]
    fn fixed_api_versions_must_be_in_the_engines_range() {
        let server = SystemVersion {
            api_version: Some("1.41".into()),
            min_api_version: Some("1.24".into()),
            ..Default::default()
        };
        let v = |text: &str| parse_api_version(text).unwrap();
        assert_eq!(unsupported(&server, &v("1.41")), None);
        assert_eq!(unsupported(&server, &v("1.24")), None);
        assert_eq!(unsupported(&server, &v("1.99")).as_deref(), Some("1.24 to 1.41"));
        assert_eq!(unsupported(&server, &v("1.12")).as_deref(), Some("1.24 to 1.41"));
        assert_eq!(unsupported(&SystemVersion::default(), &v("1.99")), None, "no range, no verdict");
    }

    #[test]
    fn the_pushed_digest_is_read_from_the_last_report() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(pushed_digest(&format!("1.0: digest: {digest} size: 527")), Some(digest.clone()));
        assert_eq!(pushed_digest(&format!("digest: {digest}")), Some(digest));
        assert_eq!(pushed_digest("Pushed"), None);
        assert_eq!(pushed_digest("latest: digest: nonsense size: 1"), None);
    }

    #[test]
    fn registry_auth_is_url_safe_base64_json() {
        let credentials = RegistryCredentials {
            server_address: "quay.io".into(),
            username: "u".into(),
            password: "p?>>~~".into(),
            identity_token: None,
            file: None,
        };
        let header = registry_auth_header(&credentials);
        assert!(!header.contains('+') && !header.contains('/'), "{header}");
        let json: serde_json::Value = serde_json::from_slice(&URL_SAFE.decode(header).unwrap()).unwrap();
        assert_eq!(json, serde_json::json!({"username": "u", "password": "p?>>~~", "serveraddress": "quay.io"}));
    }

    #[test]
    fn create_body_keeps_an_explicit_empty_entrypoint() {
        let body = ContainerCreateBody { entrypoint: Some(vec![]), ..Default::default() };
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["Entrypoint"], serde_json::json!([]));
        let config = ContainerConfig { entrypoint: Some(vec![]), ..Default::default() };
        assert_eq!(serde_json::to_value(&config).unwrap()["Entrypoint"], serde_json::json!([]));
    }
}
