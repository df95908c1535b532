//! The container-runtime contract the build engine runs on.
//!
//! The engine never talks to a container engine directly: it calls a
//! [`ContainerRuntime`]. `s2i-docker` implements it for the Docker Engine API
//! (and Podman's Docker-compatible API); tests of the planning logic use a fake.
//! Every method is one engine operation, so a backend stays a thin translation
//! layer and all decisions stay in the engine.

use std::collections::BTreeMap;
use std::fmt;
use std::pin::Pin;

use bytes::Bytes;
use futures::Stream;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWrite;

/// How a container's filesystem changed since it was created from its image
/// (`/containers/{id}/changes`): the path and whether it was added, modified
/// or deleted.
pub use s2i_oci::changes::{Change as ContainerChange, ChangeKind};

/// A stream of bytes, such as a tar archive flowing into or out of a container.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// The writable end of an attached container's stdin.
pub type StdinWriter = Pin<Box<dyn AsyncWrite + Send>>;

/// Output of an attached container, demultiplexed into stdout and stderr chunks.
pub type OutputStream = Pin<Box<dyn Stream<Item = Result<OutputChunk, RuntimeError>> + Send>>;

/// What the engine needs to know about an image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageInfo {
    /// Content-addressed image ID (`sha256:…`).
    pub id: String,
    /// Tags that point at the image (`repo:tag`).
    pub repo_tags: Vec<String>,
    /// Registry digests of the image (`repo@sha256:…`).
    pub repo_digests: Vec<String>,
    /// The image's `USER`, empty when unset.
    pub user: String,
    /// The image's `ENTRYPOINT`, empty when unset.
    pub entrypoint: Vec<String>,
    /// The image's `CMD`, empty when unset.
    pub cmd: Vec<String>,
    /// The image's environment as `NAME=VALUE` strings.
    pub env: Vec<String>,
    /// The image's labels.
    pub labels: BTreeMap<String, String>,
    /// The image's `WORKDIR`, empty when unset.
    pub working_dir: String,
    /// `ONBUILD` triggers, in order.
    pub on_build: Vec<String>,
    /// Size of the image in bytes, all layers included.
    pub size: u64,
}

impl ImageInfo {
    /// The value of an environment variable of the image config, if set.
    pub fn env_var(&self, name: &str) -> Option<&str> {
        self.env.iter().find_map(|entry| {
            let (key, value) = entry.split_once('=')?;
            (key == name).then_some(value)
        })
    }
}

/// Host-side settings of a container: mounts, capabilities, network, limits
/// (all optional: start from `HostOptions::default()`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HostOptions {
    /// Bind mounts, `host:container[:options]`, passed to the engine verbatim.
    pub binds: Vec<String>,
    /// Linux capabilities to drop.
    pub cap_drop: Vec<String>,
    /// Network mode (`bridge`, `host`, `none`, `container:<id>` or a network name).
    pub network_mode: Option<String>,
    /// Extra `/etc/hosts` entries, `host:ip`.
    pub extra_hosts: Vec<String>,
    /// Security options (`label=…`, `seccomp=…`).
    pub security_opt: Vec<String>,
    /// Resource limits.
    pub limits: ResourceLimits,
    /// Publish every exposed port on a random host port.
    pub publish_all_ports: bool,
}

/// Resource limits of a container; `None` means the engine's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceLimits {
    /// Memory limit in bytes.
    pub memory_bytes: Option<i64>,
    /// Memory + swap limit in bytes (`-1` for unlimited swap).
    pub memory_swap_bytes: Option<i64>,
    /// CPU quota in units of 10⁻⁹ CPUs.
    pub nano_cpus: Option<i64>,
    /// Size of `/dev/shm` in bytes.
    pub shm_size_bytes: Option<i64>,
}

/// Everything needed to create a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSpec {
    /// Container name; the engine picks one when `None`.
    pub name: Option<String>,
    /// Image to run.
    pub image: String,
    /// Entrypoint override; `Some(vec![])` clears the image's entrypoint.
    pub entrypoint: Option<Vec<String>>,
    /// Command.
    pub cmd: Vec<String>,
    /// Environment as `NAME=VALUE` strings.
    pub env: Vec<String>,
    /// User to run as; `None` keeps the image's `USER`.
    pub user: Option<String>,
    /// Working directory; `None` keeps the image's `WORKDIR`.
    pub working_dir: Option<String>,
    /// Keep stdin open for one attached writer (closed when it disconnects).
    pub stdin: bool,
    /// Labels on the container itself.
    pub labels: BTreeMap<String, String>,
    /// Host-side settings.
    pub host: HostOptions,
}

/// The configuration written into an image committed from a container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitSpec {
    /// Repository to tag the new image with, e.g. `example.com/team/app`; untagged when `None`.
    pub repository: Option<String>,
    /// Tag within `repository`.
    pub tag: Option<String>,
    /// `CMD` of the new image.
    pub cmd: Vec<String>,
    /// `ENTRYPOINT` of the new image (empty clears it).
    pub entrypoint: Vec<String>,
    /// Environment of the new image; the engine keeps image variables not listed here.
    pub env: Vec<String>,
    /// `USER` of the new image.
    pub user: String,
    /// Labels of the new image.
    pub labels: BTreeMap<String, String>,
}

/// A running container as the engine lists it: enough to send traffic to it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContainerSummary {
    /// Container ID.
    pub id: String,
    /// Container name, without the engine's leading `/`.
    pub name: String,
    /// Labels on the container.
    pub labels: BTreeMap<String, String>,
    /// IP address of the container on each network it is attached to.
    pub addresses: BTreeMap<String, String>,
    /// Ports the container exposes, published on the host or not.
    pub ports: Vec<ContainerPort>,
}

/// A port a container exposes.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ContainerPort {
    /// The port inside the container.
    pub container_port: u16,
    /// `tcp`, `udp` or `sctp`.
    pub protocol: String,
    /// The host address it is published on (`0.0.0.0` for all), if published.
    pub host_ip: Option<String>,
    /// The host port it is published on, if published.
    pub host_port: Option<u16>,
}

/// How a container ended.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExitStatus {
    /// Exit code of the container's main process.
    pub code: i64,
    /// The kernel killed the process for exceeding its memory limit.
    pub oom_killed: bool,
    /// An error the engine reported for the container, if any.
    pub error: Option<String>,
}

/// Which stream a chunk of container output came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputKind {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

/// A piece of container output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputChunk {
    /// The stream it came from.
    pub kind: OutputKind,
    /// The bytes.
    pub bytes: Bytes,
}

/// A container attached before it starts: its stdin (when requested) and its output.
pub struct Attachment {
    /// Stdin of the container; shut it down to send end-of-file.
    pub stdin: Option<StdinWriter>,
    /// Output of the container until it exits.
    pub output: OutputStream,
}

impl fmt::Debug for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachment").field("stdin", &self.stdin.is_some()).finish_non_exhaustive()
    }
}

/// Progress of an image pull (or push).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PullProgress {
    /// Layer (or other object) the message is about, if any.
    pub id: Option<String>,
    /// Status text, e.g. `Downloading`.
    pub status: String,
    /// Bytes done, when known.
    pub current: Option<u64>,
    /// Bytes in total, when known.
    pub total: Option<u64>,
}

/// A path in a container, as the engine reports it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathStat {
    /// Base name.
    pub name: String,
    /// Size in bytes.
    pub size: i64,
    /// Unix permission bits.
    pub permissions: u32,
    /// Whether it is a directory.
    pub is_dir: bool,
    /// Target of a symlink, empty otherwise.
    pub link_target: String,
}

/// An image build from a build context (used for builder images with `ONBUILD` triggers).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageBuildSpec {
    /// Name to tag the image with; untagged when `None`.
    pub tag: Option<String>,
    /// Path of the Dockerfile inside the context.
    pub dockerfile: String,
    /// Labels added to the image.
    pub labels: BTreeMap<String, String>,
    /// Network of the build containers.
    pub network_mode: Option<String>,
    /// Resource limits of the build containers.
    pub limits: ResourceLimits,
}

/// What a runtime says about itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuntimeInfo {
    /// Product name, e.g. `Docker Engine` or `Podman Engine`.
    pub name: String,
    /// Engine version.
    pub version: String,
    /// API version in use.
    pub api_version: String,
    /// Endpoint it is reached at.
    pub endpoint: String,
}

/// The broad class of a runtime failure; the engine decides on retries and messages by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub enum RuntimeErrorKind {
    /// The engine cannot be reached.
    Unreachable,
    /// The object (image, container, path, network) does not exist.
    NotFound,
    /// The registry refused the credentials, or needs some.
    Unauthorized,
    /// The engine refused the request as invalid or conflicting.
    Rejected,
    /// Anything else.
    Other,
}

/// A failure reported by a container runtime.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct RuntimeError {
    /// The class of failure.
    pub kind: RuntimeErrorKind,
    /// The engine's message.
    pub message: String,
}

impl RuntimeError {
    /// A failure of the given kind.
    pub fn new(kind: RuntimeErrorKind, message: impl Into<String>) -> Self {
        Self { kind, message: message.into() }
    }

    /// Whether the failure means the object does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind == RuntimeErrorKind::NotFound
    }
}

/// A container engine the build engine can run on.
///
/// Implementations translate each call into one engine operation and map the
/// engine's failures onto [`RuntimeErrorKind`]. Names of images are passed as
/// given by the engine (`repo:tag`, `repo@digest` or an image ID).
#[async_trait::async_trait]
pub trait ContainerRuntime: Send + Sync {
    /// Name, version and endpoint of the engine; also proves it is reachable.
    async fn info(&self) -> Result<RuntimeInfo, RuntimeError>;

    /// Inspect an image; `Ok(None)` when it is not present locally.
    async fn inspect_image(&self, image: &str) -> Result<Option<ImageInfo>, RuntimeError>;

    /// Pull an image from its registry, with credentials the runtime knows.
    async fn pull_image(
        &self,
        image: &str,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<(), RuntimeError>;

    /// Push `repository:tag` (a name the engine has) to its registry, with
    /// credentials the runtime knows. `progress` receives the engine's
    /// reports. Returns the digest of the manifest the registry now has under
    /// the tag, when the engine said it.
    async fn push_image(
        &self,
        image: &str,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<Option<String>, RuntimeError>;

    /// [`Self::pull_image`] with `credentials` instead of those the runtime
    /// knows (a build's pull secret). A runtime that cannot take explicit
    /// credentials refuses, rather than pull with others.
    async fn pull_image_with(
        &self,
        image: &str,
        credentials: &crate::auth::RegistryCredentials,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<(), RuntimeError> {
        let _ = (image, credentials, progress);
        Err(RuntimeError::new(
            RuntimeErrorKind::Rejected,
            "this container runtime takes no explicit registry credentials",
        ))
    }

    /// [`Self::push_image`] with `credentials` instead of those the runtime
    /// knows (a build's push secret); refused like [`Self::pull_image_with`].
    async fn push_image_with(
        &self,
        image: &str,
        credentials: &crate::auth::RegistryCredentials,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<Option<String>, RuntimeError> {
        let _ = (image, credentials, progress);
        Err(RuntimeError::new(
            RuntimeErrorKind::Rejected,
            "this container runtime takes no explicit registry credentials",
        ))
    }

    /// Create a container; returns its ID.
    async fn create_container(&self, spec: &ContainerSpec) -> Result<String, RuntimeError>;

    /// Attach to a created container's streams, before it starts.
    async fn attach_container(&self, container: &str, stdin: bool) -> Result<Attachment, RuntimeError>;

    /// Start a created container.
    async fn start_container(&self, container: &str) -> Result<(), RuntimeError>;

    /// Wait for a container to stop and return how it ended.
    async fn wait_container(&self, container: &str) -> Result<ExitStatus, RuntimeError>;

    /// Extract a tar archive into a directory of a (created or stopped) container.
    async fn upload_archive(&self, container: &str, path: &str, archive: ByteStream) -> Result<(), RuntimeError>;

    /// A tar archive of a path in a container; `Ok(None)` when the path does not exist.
    async fn download_archive(&self, container: &str, path: &str) -> Result<Option<ByteStream>, RuntimeError>;

    /// Commit a container's filesystem as a new image layer; returns the image ID.
    async fn commit_container(&self, container: &str, spec: &CommitSpec) -> Result<String, RuntimeError>;

    /// What changed in a (stopped) container's filesystem since it was
    /// created from its image, as the engine lists it: paths absolute,
    /// parents of changes among them when their own metadata changed.
    async fn container_changes(&self, container: &str) -> Result<Vec<ContainerChange>, RuntimeError>;

    /// What a (stopped) container changed since it was created from its
    /// image, as one tar stream of the entries of its layer, when the
    /// runtime has it at hand (a daemonless runtime's upper directory);
    /// `Ok(None)` when it does not offer that, and the engine reads the
    /// changes path by path ([`Self::container_changes`]).
    ///
    /// The stream is in layer order, as `s2i_oci::layer::LayerWriter` writes
    /// one (depth first, siblings by name, each directory before what it
    /// holds, every parent of an entry listed), deletions are OCI whiteouts
    /// (`.wh.<name>`) and a directory that hides what the image had in it
    /// has an opaque marker (`.wh..wh..opq`); modes, times and numeric
    /// owners are as they are inside the container; no root entry, no
    /// mount points the runtime made. A failure while streaming ends the
    /// stream with an error, never with a short archive that looks whole.
    async fn changes_layer(&self, container: &str) -> Result<Option<ByteStream>, RuntimeError> {
        let _ = container;
        Ok(None)
    }

    /// A (stopped) container's whole filesystem as a tar stream, owners and
    /// modes as they are (`GET /containers/{id}/export`).
    async fn export_container(&self, container: &str) -> Result<ByteStream, RuntimeError>;

    /// Whether [`ContainerRuntime::download_archive`] gives every entry its
    /// real owner (Docker), or the container user's (Podman, as `podman cp`
    /// does): reading a build's changes path by path needs the real owners,
    /// else the container's export is read.
    fn archives_keep_owners(&self) -> bool;

    /// An image as a `docker-archive` tar stream (what `docker save` writes):
    /// its config exactly as stored and its layers.
    async fn export_image(&self, image: &str) -> Result<ByteStream, RuntimeError>;

    /// Load the images of a `docker-archive` tar stream (what `docker load`
    /// reads), tagged as its `manifest.json` says.
    async fn load_image(&self, archive: ByteStream) -> Result<(), RuntimeError>;

    /// Whether [`ContainerRuntime::load_image`] needs every layer of an
    /// image in the archive (Podman), or takes an archive that leaves out
    /// the layers the engine already has (Docker), which is faster.
    fn load_needs_every_layer(&self) -> bool;

    /// Stop (if running) and remove a container with its anonymous volumes.
    async fn remove_container(&self, container: &str) -> Result<(), RuntimeError>;

    /// Remove an image (not forced: an image in use stays).
    async fn remove_image(&self, image: &str) -> Result<(), RuntimeError>;

    /// Point `repository:tag` at an image.
    async fn tag_image(&self, image: &str, repository: &str, tag: &str) -> Result<(), RuntimeError>;

    /// Whether a network of that name (or ID) exists.
    async fn network_exists(&self, network: &str) -> Result<bool, RuntimeError>;

    /// Whether a container of that name (or ID) exists.
    async fn container_exists(&self, container: &str) -> Result<bool, RuntimeError>;

    /// What is at a path of a (created or stopped) container; `Ok(None)` when nothing is.
    async fn stat_path(&self, container: &str, path: &str) -> Result<Option<PathStat>, RuntimeError>;

    /// Build an image from a tar build context; `output` receives the build's
    /// log lines. Returns the new image's ID.
    async fn build_image(
        &self,
        context: ByteStream,
        spec: &ImageBuildSpec,
        output: &(dyn Fn(String) + Send + Sync),
    ) -> Result<String, RuntimeError>;

    /// Running containers that carry every one of `labels` (all running
    /// containers when `labels` is empty), sorted by name.
    async fn list_containers(&self, labels: &BTreeMap<String, String>) -> Result<Vec<ContainerSummary>, RuntimeError>;

    /// IDs of the containers in any state (created, running, stopped) that
    /// carry every one of `labels`, sorted; e.g. those a killed build left.
    async fn containers_with_labels(&self, labels: &BTreeMap<String, String>) -> Result<Vec<String>, RuntimeError>;

    /// The containers in any state that carry the label `key`, whatever its
    /// value, with their labels (one listing); e.g. every build container
    /// with its owner. Addresses and ports may be left empty.
    async fn labelled_containers(&self, key: &str) -> Result<Vec<ContainerSummary>, RuntimeError>;
}
