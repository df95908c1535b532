//! The `build.openshift.io/v1` objects: [`BuildConfig`] and [`Build`], with
//! OpenShift's field names, `omitempty` rules and enumeration values.
//!
//! Every field of OpenShift's `BuildConfigSpec` and `BuildSpec` is here,
//! also those a local build does not act on (the Docker, Custom and
//! JenkinsPipeline strategies, webhook triggers, build volumes, cluster
//! settings): they are kept as written, so that a file applied here and read
//! back is the file a cluster takes. The types do not refuse unknown fields
//! themselves: input documents are typed through `s2i_store::codec`, which
//! treats them as kubectl's `--validate` does (by default an error naming
//! the field's path).

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use s2i_store::{KindInfo, ObjectMeta, Resource};

/// The API group of build objects.
pub const GROUP: &str = "build.openshift.io";
/// The API group and version of build objects.
pub const API_VERSION: &str = "build.openshift.io/v1";

/// Trigger type: a build when the watched image stream tag changes.
pub const TRIGGER_IMAGE_CHANGE: &str = "ImageChange";
/// Trigger type: one build when the BuildConfig is first created.
pub const TRIGGER_CONFIG_CHANGE: &str = "ConfigChange";

/// The phase of a build (`status.phase`, and the type of its conditions),
/// with OpenShift's names. A build moves from `New` to one of the four final
/// phases, only ever through the crate's one write path of phases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BuildPhase {
    /// Created, waiting for its run policy (or for its executor).
    #[default]
    New,
    /// Admitted: its executor is preparing the build.
    Pending,
    /// The build container runs.
    Running,
    /// Succeeded.
    Complete,
    /// The build itself failed.
    Failed,
    /// A system problem kept it from completing.
    Error,
    /// Cancelled by the user.
    Cancelled,
}

impl BuildPhase {
    /// The phases, in the order a build goes through them.
    pub const ALL: [BuildPhase; 7] =
        [Self::New, Self::Pending, Self::Running, Self::Complete, Self::Failed, Self::Error, Self::Cancelled];

    /// The name OpenShift gives it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::New => "New",
            Self::Pending => "Pending",
            Self::Running => "Running",
            Self::Complete => "Complete",
            Self::Failed => "Failed",
            Self::Error => "Error",
            Self::Cancelled => "Cancelled",
        }
    }

    /// Whether the phase is final.
    pub const fn is_terminal(self) -> bool {
        matches!(self, Self::Complete | Self::Failed | Self::Error | Self::Cancelled)
    }
}

impl std::fmt::Display for BuildPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for BuildPhase {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL.into_iter().find(|phase| phase.as_str() == text).ok_or_else(|| format!("no build phase {text:?}"))
    }
}

impl PartialEq<str> for BuildPhase {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for BuildPhase {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// The status of a condition (`status.conditions[].status`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConditionStatus {
    /// The condition holds: the build is in that phase.
    True,
    /// It does not.
    False,
    /// Not known.
    #[default]
    Unknown,
}

impl ConditionStatus {
    /// As written: `True`, `False` or `Unknown`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::True => "True",
            Self::False => "False",
            Self::Unknown => "Unknown",
        }
    }
}

impl std::fmt::Display for ConditionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for ConditionStatus {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

/// How the builds of a BuildConfig run relative to each other (`spec.runPolicy`).
///
/// A value outside the enumeration is kept as written ([`RunPolicy::Other`])
/// so that validation can refuse it with the API server's message; an empty
/// one is the default, `Serial`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub enum RunPolicy {
    /// One at a time, in build-number order (the default).
    #[default]
    Serial,
    /// As soon as they are created.
    Parallel,
    /// Like `Serial`, but a new build cancels the older queued ones.
    SerialLatestOnly,
    /// Anything else, as written (refused by validation).
    Other(String),
}

impl RunPolicy {
    /// The policy named `text` (`Serial` for an empty one).
    pub fn parse(text: &str) -> Self {
        match text {
            "" | "Serial" => Self::Serial,
            "Parallel" => Self::Parallel,
            "SerialLatestOnly" => Self::SerialLatestOnly,
            other => Self::Other(other.to_owned()),
        }
    }

    /// As written.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Serial => "Serial",
            Self::Parallel => "Parallel",
            Self::SerialLatestOnly => "SerialLatestOnly",
            Self::Other(text) => text,
        }
    }
}

impl std::fmt::Display for RunPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl PartialEq<&str> for RunPolicy {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl Serialize for RunPolicy {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RunPolicy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self::parse(&String::deserialize(deserializer)?))
    }
}

/// Labels and annotations OpenShift puts on builds (and s2i's own).
pub mod keys {
    /// Label and annotation: the BuildConfig a build came from.
    pub const BUILD_CONFIG_NAME: &str = "openshift.io/build-config.name";
    /// Legacy label with the BuildConfig's name.
    pub const BUILD_CONFIG_LEGACY: &str = "buildconfig";
    /// Label: the run policy in effect for the build.
    pub const START_POLICY: &str = "openshift.io/build.start-policy";
    /// Annotation: the build's number.
    pub const BUILD_NUMBER: &str = "openshift.io/build.number";
    /// Annotation of a BuildConfig: `"true"` blocks new builds.
    pub const PAUSED: &str = "openshift.io/build-config.paused";
    /// s2i's annotation: the process that runs the build (`pid=… host=… boot=… start=…`).
    pub const EXECUTOR: &str = "s2i-rs.github.io/executor";
    /// s2i's annotation: when the executor last said it was alive (RFC 3339).
    pub const HEARTBEAT: &str = "s2i-rs.github.io/heartbeat";
    /// s2i's annotation of a BuildConfig: the event-log position up to which its
    /// image change triggers were evaluated when it was applied.
    pub const TRIGGERS_SEQ: &str = "s2i-rs.github.io/triggers-evaluated-at-event";
    /// s2i's annotation of a Build: where s2i also writes its image, a JSON
    /// list of locations (`["oci:/abs/dir:ref", "docker://host/repo:tag"]`).
    pub const OUTPUTS: &str = "s2i-rs.github.io/outputs";
    /// s2i's annotation of a Build: the file its SPDX SBOM is written to.
    pub const SBOM: &str = "s2i-rs.github.io/sbom";
    /// s2i's annotation of a Build: the file its provenance statement is written to.
    pub const PROVENANCE: &str = "s2i-rs.github.io/provenance";
    /// s2i's annotation of a Build: its epoch (seconds since 1970); s2i writes the image reproducibly.
    pub const SOURCE_DATE_EPOCH: &str = "s2i-rs.github.io/source-date-epoch";
    /// Label on every container a build creates: `<namespace>/<build>`.
    pub const CONTAINER_LABEL: &str = "io.openshift.build.name";
}

/// The reasons (`status.reason`) and messages of the reference.
pub mod reasons {
    /// Cancelled by the user.
    pub const CANCELLED_BUILD: (&str, &str) = ("CancelledBuild", "The build was cancelled by the user.");
    /// The process running the build went away (OpenShift: the pod was deleted).
    pub const BUILD_POD_DELETED: &str = "BuildPodDeleted";
    /// The executor could not be started (OpenShift: the pod could not be created).
    pub const CANNOT_CREATE_BUILD_POD: (&str, &str) = ("CannotCreateBuildPod", "Failed creating build pod.");
    /// A referenced image could not be resolved.
    pub const INVALID_IMAGE_REFERENCE: (&str, &str) =
        ("InvalidImageReference", "Referenced image could not be resolved.");
    /// The output could not be resolved.
    pub const INVALID_OUTPUT_REFERENCE: (&str, &str) =
        ("InvalidOutputReference", "Output image could not be resolved.");
    /// The post-commit hook failed.
    pub const POST_COMMIT_HOOK_FAILED: (&str, &str) =
        ("PostCommitHookFailed", "Build failed because of post commit hook.");
    /// The output's push secret does not exist (or holds no registry credentials).
    pub const MISSING_PUSH_SECRET: (&str, &str) = ("MissingPushSecret", "Missing push secret.");
    /// The push failed.
    pub const PUSH_IMAGE_FAILED: (&str, &str) =
        ("PushImageToRegistryFailed", "Failed to push the image to the registry.");
    /// The builder image could not be pulled.
    pub const PULL_BUILDER_IMAGE_FAILED: (&str, &str) = ("PullBuilderImageFailed", "Failed pulling builder image.");
    /// The source could not be fetched.
    pub const FETCH_SOURCE_FAILED: (&str, &str) = ("FetchSourceFailed", "Failed to fetch the input source.");
    /// `source.images` could not be copied.
    pub const FETCH_IMAGE_CONTENT_FAILED: (&str, &str) =
        ("FetchImageContentFailed", "Failed to extract image content.");
    /// The context directory does not exist.
    pub const INVALID_CONTEXT_DIRECTORY: (&str, &str) =
        ("InvalidContextDirectory", "The supplied context directory does not exist.");
    /// assemble failed (S2I's own reason).
    pub const ASSEMBLE_FAILED: (&str, &str) = ("AssembleFailed", "Assemble script failed.");
    /// The scripts could not be found or fetched (S2I's own reason).
    pub const INSTALL_SCRIPTS_FAILED: (&str, &str) = ("InstallScriptsFailed", "Failed to install specified scripts.");
    /// The build container ran out of memory.
    pub const OUT_OF_MEMORY_KILLED: (&str, &str) =
        ("OutOfMemoryKilled", "The build pod was killed due to an out of memory condition.");
    /// Anything else (also a build stopped by its deadline, as in OpenShift).
    pub const GENERIC_BUILD_FAILED: (&str, &str) =
        ("GenericBuildFailed", "Generic Build failure - check logs for details.");
}

/// The causes `triggeredBy[].message` records.
pub mod causes {
    /// Started by hand.
    pub const MANUAL: &str = "Manually triggered";
    /// A ConfigChange trigger.
    pub const CONFIG_CHANGE: &str = "Build configuration change";
    /// An ImageChange trigger.
    pub const IMAGE_CHANGE: &str = "Image change";
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

// ---------------------------------------------------------------------------
// BuildConfig.

/// The definition of a build: source, strategy, output, triggers, limits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildConfig {
    /// `build.openshift.io/v1`.
    #[serde(default)]
    pub api_version: String,
    /// `BuildConfig`.
    #[serde(default)]
    pub kind: String,
    /// Name, namespace, labels, annotations.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// What to build and when.
    #[serde(default)]
    pub spec: BuildConfigSpec,
    /// The server's record: the last build number and the triggers' last images.
    #[serde(default)]
    pub status: BuildConfigStatus,
}

impl Resource for BuildConfig {
    const INFO: KindInfo = KindInfo {
        group: GROUP,
        version: "v1",
        kind: "BuildConfig",
        plural: "buildconfigs",
        short_names: &["bc"],
        namespaced: true,
    };
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// `BuildConfig.spec`: the common build spec plus triggers, run policy and history limits.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildConfigSpec {
    /// What starts builds besides a start by hand.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<BuildTriggerPolicy>,
    /// `Serial` (default), `Parallel` or `SerialLatestOnly`.
    #[serde(default)]
    pub run_policy: RunPolicy,
    /// Service account of the build (a cluster setting; kept, not used locally).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_account: String,
    /// Where the source comes from.
    #[serde(default)]
    pub source: BuildSource,
    /// A specific revision (normally set on builds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<SourceRevision>,
    /// How the image is built.
    #[serde(default)]
    pub strategy: BuildStrategy,
    /// Where the image goes.
    #[serde(default)]
    pub output: BuildOutput,
    /// Resource limits of the build containers.
    #[serde(default)]
    pub resources: ResourceRequirements,
    /// A command run in the new image before it is pushed.
    #[serde(default)]
    pub post_commit: BuildPostCommitSpec,
    /// How long a build may run once started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_deadline_seconds: Option<i64>,
    /// Node selector (a cluster setting; kept, not used locally). `null` and `{}` differ.
    #[serde(default)]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Mount the cluster's trusted CAs (a cluster setting; kept, not used locally).
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "mountTrustedCA")]
    pub mount_trusted_ca: Option<bool>,
    /// How many complete builds are kept (5 when unset at creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successful_builds_history_limit: Option<i32>,
    /// How many failed, errored or cancelled builds are kept (5 when unset at creation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_builds_history_limit: Option<i32>,
}

/// `BuildConfig.status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildConfigStatus {
    /// The number of the latest build; never goes backwards.
    #[serde(default)]
    pub last_version: i64,
    /// One entry per ImageChange trigger: the image it last started a build for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_change_triggers: Vec<ImageChangeTriggerStatus>,
}

/// The state of one ImageChange trigger.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageChangeTriggerStatus {
    /// The pull spec of the image the trigger last saw (despite the name, a pull spec).
    #[serde(default, rename = "lastTriggeredImageID", skip_serializing_if = "String::is_empty")]
    pub last_triggered_image_id: String,
    /// The watched tag.
    #[serde(default)]
    pub from: ImageStreamTagReference,
    /// When it last changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_trigger_time: Option<String>,
}

/// A tag of an image stream, by namespace and `stream:tag` name.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageStreamTagReference {
    /// Namespace of the stream (empty: the BuildConfig's).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// `stream:tag`.
    #[serde(default)]
    pub name: String,
}

/// Trigger types of webhooks: a build for each accepted POST from a git
/// host (GitHub, GitLab, Bitbucket) or any client (Generic).
pub const WEBHOOK_TRIGGER_TYPES: [&str; 4] = ["GitHub", "Generic", "GitLab", "Bitbucket"];

/// One trigger of a BuildConfig.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildTriggerPolicy {
    /// `ImageChange`, `ConfigChange`, `GitHub`, `Generic`, `GitLab` or `Bitbucket`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// A GitHub webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<WebHookTrigger>,
    /// A generic webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generic: Option<WebHookTrigger>,
    /// The ImageChange trigger's settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_change: Option<ImageChangeTrigger>,
    /// A GitLab webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gitlab: Option<WebHookTrigger>,
    /// A Bitbucket webhook.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bitbucket: Option<WebHookTrigger>,
}

impl BuildTriggerPolicy {
    /// Whether this is a webhook trigger.
    pub fn is_webhook(&self) -> bool {
        WEBHOOK_TRIGGER_TYPES.contains(&self.kind.as_str())
    }

    /// The webhook settings of the trigger's type, when it is a webhook trigger and has them.
    pub fn webhook(&self) -> Option<&WebHookTrigger> {
        match self.kind.as_str() {
            "GitHub" => self.github.as_ref(),
            "Generic" => self.generic.as_ref(),
            "GitLab" => self.gitlab.as_ref(),
            "Bitbucket" => self.bitbucket.as_ref(),
            _ => None,
        }
    }
}

/// `triggers[].github|generic|gitlab|bitbucket`: the secret a webhook's URL carries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebHookTrigger {
    /// The secret, inline (deprecated in favour of `secretReference`).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub secret: String,
    /// Generic webhooks only: the payload's `env` is added to the build.
    #[serde(default, skip_serializing_if = "is_false")]
    pub allow_env: bool,
    /// A Secret whose key `WebHookSecretKey` is the secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_reference: Option<LocalObjectReference>,
}

/// `triggers[].imageChange`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageChangeTrigger {
    /// Deprecated; the state is in `status.imageChangeTriggers`.
    #[serde(default, rename = "lastTriggeredImageID", skip_serializing_if = "String::is_empty")]
    pub last_triggered_image_id: String,
    /// The watched `ImageStreamTag`; the strategy's `from` when omitted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<ObjectReference>,
    /// A paused trigger starts nothing.
    #[serde(default, skip_serializing_if = "is_false")]
    pub paused: bool,
}

// ---------------------------------------------------------------------------
// The common spec.

/// A reference to another object (Kubernetes' `ObjectReference`): `kind`
/// `DockerImage`, `ImageStreamTag` or `ImageStreamImage`, `name` a pull spec,
/// `[stream:]tag` or `[stream@]digest`, `namespace` the referenced stream's
/// when not the object's own.
pub use s2i_store::ObjectReference;

/// A reference by name to an object of the same namespace (a Secret, …).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalObjectReference {
    /// Its name.
    #[serde(default)]
    pub name: String,
}

/// `spec.source`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildSource {
    /// `Git`, `Binary`, `Dockerfile`, `Image` or `None` (computed on write).
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Binary input: a directory or file given when a build is started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub binary: Option<BinaryBuildSource>,
    /// An inline Dockerfile (used by the Docker strategy; kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dockerfile: Option<String>,
    /// A git repository.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitBuildSource>,
    /// Paths copied out of images into the source.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub images: Vec<ImageSource>,
    /// Sub-directory of the source to build.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub context_dir: String,
    /// The Secret the source is fetched with: `kubernetes.io/basic-auth`
    /// (user name and password or token) or `kubernetes.io/ssh-auth` (a key,
    /// and `known_hosts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_secret: Option<LocalObjectReference>,
    /// Secrets whose keys are files for assemble only: injected into the
    /// build container and removed before the image is committed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretBuildSource>,
    /// ConfigMaps whose keys are files added to the source (they stay in the image).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub config_maps: Vec<ConfigMapBuildSource>,
}

/// `source.secrets[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretBuildSource {
    /// The Secret.
    #[serde(default)]
    pub secret: LocalObjectReference,
    /// Where its keys go as files: relative to the source (the working
    /// directory of assemble), or absolute; the working directory when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub destination_dir: String,
}

/// `source.configMaps[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMapBuildSource {
    /// The ConfigMap.
    #[serde(default)]
    pub config_map: LocalObjectReference,
    /// Where its keys go as files, relative to the source; its root when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub destination_dir: String,
}

/// `source.binary`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BinaryBuildSource {
    /// The name a `--from-file` file gets in the source.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub as_file: String,
}

/// `source.git`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitBuildSource {
    /// The repository.
    #[serde(default)]
    pub uri: String,
    /// Branch, tag or commit.
    #[serde(default, rename = "ref", skip_serializing_if = "String::is_empty")]
    pub git_ref: String,
    /// Proxy for http:// clones (a cluster's setting; kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_proxy: Option<String>,
    /// Proxy for https:// clones (kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https_proxy: Option<String>,
    /// Hosts cloned without proxy (kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_proxy: Option<String>,
}

/// `source.images[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageSource {
    /// The image: `ImageStreamTag`, `ImageStreamImage` or `DockerImage`.
    #[serde(default)]
    pub from: ObjectReference,
    /// Names this image replaces in a multi-stage Dockerfile (Docker strategy; kept).
    #[serde(default, rename = "as", skip_serializing_if = "Vec::is_empty")]
    pub as_names: Vec<String>,
    /// What to copy.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub paths: Vec<ImageSourcePath>,
    /// Pull credentials (kept; locally the build's pull credentials are used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_secret: Option<LocalObjectReference>,
}

/// `source.images[].paths[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageSourcePath {
    /// Absolute path in the image; ending in `/.` copies the directory's contents.
    #[serde(default)]
    pub source_path: String,
    /// Directory of the source it goes into (relative).
    #[serde(default)]
    pub destination_dir: String,
}

/// `spec.revision`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceRevision {
    /// `Git`.
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// The git commit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub git: Option<GitSourceRevision>,
}

/// `revision.git`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GitSourceRevision {
    /// Commit ID (or the ref asked for).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub commit: String,
    /// Author.
    #[serde(default)]
    pub author: SourceControlUser,
    /// Committer.
    #[serde(default)]
    pub committer: SourceControlUser,
    /// Commit message.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// A person of a commit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceControlUser {
    /// Name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Email.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
}

/// `spec.strategy`: exactly one strategy.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildStrategy {
    /// `Source`, `Docker`, `Custom` or `JenkinsPipeline` (computed on write).
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Docker strategy (kept; a local build cannot run it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_strategy: Option<DockerBuildStrategy>,
    /// Source-to-Image: the strategy s2i runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_strategy: Option<SourceBuildStrategy>,
    /// Custom strategy (kept; a local build cannot run it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom_strategy: Option<CustomBuildStrategy>,
    /// Jenkins pipeline strategy (kept; deprecated by OpenShift, not run locally).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jenkins_pipeline_strategy: Option<JenkinsPipelineBuildStrategy>,
}

impl BuildStrategy {
    /// The image the strategy builds from (`sourceStrategy.from`,
    /// `dockerStrategy.from` or `customStrategy.from`).
    pub fn from_image(&self) -> Option<&ObjectReference> {
        if let Some(source) = &self.source_strategy {
            return Some(&source.from);
        }
        if let Some(docker) = &self.docker_strategy {
            return docker.from.as_ref();
        }
        self.custom_strategy.as_ref().map(|custom| &custom.from)
    }

    /// The field of a strategy a local build cannot run, and its name
    /// (`spec.strategy.dockerStrategy`, `Docker`); `None` for a sourceStrategy.
    pub fn not_run_here(&self) -> Option<(&'static str, &'static str)> {
        if self.source_strategy.is_some() {
            None
        } else if self.docker_strategy.is_some() {
            Some(("spec.strategy.dockerStrategy", "Docker"))
        } else if self.custom_strategy.is_some() {
            Some(("spec.strategy.customStrategy", "Custom"))
        } else if self.jenkins_pipeline_strategy.is_some() {
            Some(("spec.strategy.jenkinsPipelineStrategy", "JenkinsPipeline"))
        } else {
            None
        }
    }
}

/// `strategy.dockerStrategy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DockerBuildStrategy {
    /// Replaces the (last) `FROM` of the Dockerfile (`kind` defaults to `ImageStreamTag`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<ObjectReference>,
    /// Pull credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_secret: Option<LocalObjectReference>,
    /// Build without the layer cache.
    #[serde(default, skip_serializing_if = "is_false")]
    pub no_cache: bool,
    /// Environment, added as `ENV` after `FROM`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Always pull the base image.
    #[serde(default, skip_serializing_if = "is_false")]
    pub force_pull: bool,
    /// The Dockerfile, relative to the context directory.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub dockerfile_path: String,
    /// `--build-arg`s.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub build_args: Vec<EnvVar>,
    /// `None`, `SkipLayers` or `SkipLayersAndWarn`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_optimization_policy: Option<String>,
    /// Volumes mounted while the image builds.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<BuildVolume>,
}

/// `strategy.customStrategy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomBuildStrategy {
    /// The image that builds.
    #[serde(default)]
    pub from: ObjectReference,
    /// Pull credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_secret: Option<LocalObjectReference>,
    /// Environment of the builder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Mount the engine's socket.
    #[serde(default, skip_serializing_if = "is_false")]
    pub expose_docker_socket: bool,
    /// Always pull the builder.
    #[serde(default, skip_serializing_if = "is_false")]
    pub force_pull: bool,
    /// Secrets mounted into the builder.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<SecretSpec>,
    /// The version of the `BUILD` object the builder is given.
    #[serde(default, rename = "buildAPIVersion", skip_serializing_if = "String::is_empty")]
    pub build_api_version: String,
}

/// `customStrategy.secrets[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretSpec {
    /// The Secret.
    #[serde(default)]
    pub secret_source: LocalObjectReference,
    /// Where it is mounted.
    #[serde(default)]
    pub mount_path: String,
}

/// `strategy.jenkinsPipelineStrategy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JenkinsPipelineBuildStrategy {
    /// A Jenkinsfile of the source.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub jenkinsfile_path: String,
    /// An inline Jenkinsfile.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub jenkinsfile: String,
    /// Environment of the pipeline.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
}

/// A volume mounted while a build runs (`sourceStrategy.volumes[]`,
/// `dockerStrategy.volumes[]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildVolume {
    /// Its name (a DNS-1123 label, unique).
    #[serde(default)]
    pub name: String,
    /// What is mounted.
    #[serde(default)]
    pub source: BuildVolumeSource,
    /// Where.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub mounts: Vec<BuildVolumeMount>,
}

/// `volumes[].source`: one of a Secret, a ConfigMap or a CSI volume, as
/// Kubernetes' volume sources (kept whole).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildVolumeSource {
    /// `Secret`, `ConfigMap` or `CSI`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// A Secret volume (`secretName`, `items`, `defaultMode`, `optional`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<Value>,
    /// A ConfigMap volume (`name`, `items`, `defaultMode`, `optional`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map: Option<Value>,
    /// A CSI volume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub csi: Option<Value>,
}

/// `volumes[].mounts[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildVolumeMount {
    /// An absolute path in the build container.
    #[serde(default)]
    pub destination_path: String,
}

/// `strategy.sourceStrategy`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceBuildStrategy {
    /// The builder image (`kind` defaults to `ImageStreamTag`).
    #[serde(default)]
    pub from: ObjectReference,
    /// A `kubernetes.io/dockerconfigjson` (or `dockercfg`) Secret with
    /// credentials for pulling the builder and the build's other images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pull_secret: Option<LocalObjectReference>,
    /// Environment of the build and the image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// URL of the S2I scripts.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub scripts: String,
    /// Reuse the previous image's artifacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incremental: Option<bool>,
    /// Always pull the builder image.
    #[serde(default, skip_serializing_if = "is_false")]
    pub force_pull: bool,
    /// Volumes mounted while assemble runs (kept; not mounted locally).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<BuildVolume>,
}

/// An environment variable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    /// Name.
    #[serde(default)]
    pub name: String,
    /// Value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
    /// A value from a Secret's or ConfigMap's key, or a field of the build pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<EnvVarSource>,
}

/// `env[].valueFrom`: where a variable's value comes from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvVarSource {
    /// A field of the build pod (`metadata.name`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_ref: Option<Value>,
    /// A resource of a container (refused by OpenShift for builds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_field_ref: Option<Value>,
    /// A key of a ConfigMap.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_key_ref: Option<KeySelector>,
    /// A key of a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_key_ref: Option<KeySelector>,
}

/// `valueFrom.configMapKeyRef` / `secretKeyRef`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeySelector {
    /// The ConfigMap or Secret.
    #[serde(default)]
    pub name: String,
    /// The key.
    #[serde(default)]
    pub key: String,
    /// When true, a missing object or key leaves the variable unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optional: Option<bool>,
}

/// `spec.output`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildOutput {
    /// `ImageStreamTag` or `DockerImage`; no output when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<ObjectReference>,
    /// A `kubernetes.io/dockerconfigjson` (or `dockercfg`) Secret with
    /// credentials for pushing the output.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_secret: Option<LocalObjectReference>,
    /// Labels added to the output image.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub image_labels: Vec<ImageLabel>,
}

/// `output.imageLabels[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageLabel {
    /// The label.
    #[serde(default)]
    pub name: String,
    /// Its value.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub value: String,
}

/// `spec.resources` (`corev1.ResourceRequirements`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ResourceRequirements {
    /// Limits of the build containers: `cpu` and `memory` apply locally; others are kept.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, Quantity>,
    /// Requests (scheduling hints of a cluster; checked, not applied locally).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, Quantity>,
    /// Dynamically allocated resources (a cluster's; kept).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claims: Vec<Value>,
}

/// A Kubernetes quantity as written (`512Mi`, `500m`, `1`); YAML numbers are accepted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Quantity(pub String);

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Quantity;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a quantity such as 512Mi, 2Gi, 500m or 1")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Quantity, E> {
                Ok(Quantity(v.to_owned()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// `spec.postCommit`: `script`, or `command` (+`args`), or `args` alone.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuildPostCommitSpec {
    /// The command (replaces the image's entrypoint).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    /// Arguments: of `command`, of the script (`$1`…), or of the image's entrypoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// A shell script, run with `/bin/sh -ic`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub script: String,
}

impl BuildPostCommitSpec {
    /// Whether there is a hook to run.
    pub fn is_empty(&self) -> bool {
        self.command.is_empty() && self.args.is_empty() && self.script.is_empty()
    }

    /// The hook as `(entrypoint override, command)`, OpenShift's way: a script
    /// runs as `/bin/sh -ic SCRIPT /bin/sh ARGS…`; a command replaces the
    /// entrypoint; arguments alone go to the image's entrypoint.
    pub fn container_command(&self) -> (Option<Vec<String>>, Vec<String>) {
        if !self.script.is_empty() {
            let mut cmd = vec![self.script.clone(), "/bin/sh".to_owned()];
            cmd.extend(self.args.iter().cloned());
            (Some(vec!["/bin/sh".into(), "-ic".into()]), cmd)
        } else if !self.command.is_empty() {
            (Some(self.command.clone()), self.args.clone())
        } else {
            (None, self.args.clone())
        }
    }
}

// ---------------------------------------------------------------------------
// Build.

/// One run of a BuildConfig.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Build {
    /// `build.openshift.io/v1`.
    #[serde(default)]
    pub api_version: String,
    /// `Build`.
    #[serde(default)]
    pub kind: String,
    /// Name (`<config>-<n>`), labels, annotations, owner.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// What this build does (immutable once created, but for image resolution).
    #[serde(default)]
    pub spec: BuildSpec,
    /// How it went.
    #[serde(default)]
    pub status: BuildStatus,
}

impl Resource for Build {
    const INFO: KindInfo =
        KindInfo { group: GROUP, version: "v1", kind: "Build", plural: "builds", short_names: &[], namespaced: true };
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// `Build.spec`: the BuildConfig's common spec, plus what triggered it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildSpec {
    /// Service account (`builder` by default; not used locally).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub service_account: String,
    /// Where the source comes from.
    #[serde(default)]
    pub source: BuildSource,
    /// The revision built (filled in from the clone when the build runs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<SourceRevision>,
    /// How the image is built; image stream references are resolved to
    /// `DockerImage` pull specs when the build runs.
    #[serde(default)]
    pub strategy: BuildStrategy,
    /// Where the image goes.
    #[serde(default)]
    pub output: BuildOutput,
    /// Resource limits.
    #[serde(default)]
    pub resources: ResourceRequirements,
    /// The post-commit hook.
    #[serde(default)]
    pub post_commit: BuildPostCommitSpec,
    /// Deadline, in seconds from the start of the build.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_deadline_seconds: Option<i64>,
    /// Node selector (not used locally).
    #[serde(default)]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Mount trusted CAs (not used locally).
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "mountTrustedCA")]
    pub mount_trusted_ca: Option<bool>,
    /// Why the build was started.
    #[serde(default)]
    pub triggered_by: Vec<BuildTriggerCause>,
}

/// `spec.triggeredBy[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildTriggerCause {
    /// `Manually triggered`, `Build configuration change`, `Image change`, …
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// The generic webhook that started it.
    #[serde(default, rename = "genericWebHook", skip_serializing_if = "Option::is_none")]
    pub generic_web_hook: Option<WebHookCause>,
    /// The GitHub webhook that started it.
    #[serde(default, rename = "githubWebHook", skip_serializing_if = "Option::is_none")]
    pub github_web_hook: Option<WebHookCause>,
    /// The image change that started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_change_build: Option<ImageChangeCause>,
    /// The GitLab webhook that started it.
    #[serde(default, rename = "gitlabWebHook", skip_serializing_if = "Option::is_none")]
    pub gitlab_web_hook: Option<WebHookCause>,
    /// The Bitbucket webhook that started it.
    #[serde(default, rename = "bitbucketWebHook", skip_serializing_if = "Option::is_none")]
    pub bitbucket_web_hook: Option<WebHookCause>,
}

/// `triggeredBy[].*WebHook`: the revision a webhook named.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebHookCause {
    /// The pushed revision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<SourceRevision>,
    /// The secret (written `<redacted>` by OpenShift).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub secret: String,
}

/// `triggeredBy[].imageChangeBuild`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageChangeCause {
    /// The pull spec of the new image.
    #[serde(default, rename = "imageID", skip_serializing_if = "String::is_empty")]
    pub image_id: String,
    /// The tag that changed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_ref: Option<ObjectReference>,
}

/// `Build.status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildStatus {
    /// Where the build is.
    #[serde(default)]
    pub phase: BuildPhase,
    /// Cancellation was asked for.
    #[serde(default, skip_serializing_if = "is_false")]
    pub cancelled: bool,
    /// Why the build is in its phase (failures, cancellation).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// The same for people.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// When it started running.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_timestamp: Option<String>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completion_timestamp: Option<String>,
    /// How long it ran, in nanoseconds.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub duration: i64,
    /// Where the output goes, as a pull spec.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub output_docker_image_reference: String,
    /// The BuildConfig.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<ObjectReference>,
    /// What was produced.
    #[serde(default)]
    pub output: BuildStatusOutput,
    /// Timed stages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stages: Vec<StageInfo>,
    /// The last lines of the log of a failed build.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub log_snippet: String,
    /// One condition per phase; the current one is `True`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<BuildCondition>,
}

/// `status.output`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildStatusOutput {
    /// The pushed (or recorded) image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<BuildStatusOutputTo>,
}

/// `status.output.to`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildStatusOutputTo {
    /// The image's digest (its image ID for an image only the engine has).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_digest: String,
}

/// `status.stages[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StageInfo {
    /// `FetchInputs`, `PullImages`, `Build`, `PostCommit` or `PushImage`.
    #[serde(default)]
    pub name: String,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// How long it took.
    #[serde(default)]
    pub duration_milliseconds: i64,
    /// Its steps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepInfo>,
}

/// `stages[].steps[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StepInfo {
    /// `FetchGitSource`, `PullBaseImage`, `PullInputImage`, `DockerBuild`,
    /// `RunPostCommitHook`, `PushImage` or `PushDockerImage`.
    #[serde(default)]
    pub name: String,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// How long it took.
    #[serde(default)]
    pub duration_milliseconds: i64,
}

/// `status.conditions[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildCondition {
    /// The phase it is about.
    #[serde(rename = "type", default)]
    pub kind: BuildPhase,
    /// `True` for the current phase, else `False`.
    #[serde(default)]
    pub status: ConditionStatus,
    /// Last write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_update_time: Option<String>,
    /// Last change of `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<String>,
    /// Reason, on the current condition.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Message, on the current condition.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

// ---------------------------------------------------------------------------
// Helpers.

impl BuildConfig {
    /// Whether `openshift.io/build-config.paused` is `"true"`.
    pub fn is_paused(&self) -> bool {
        self.metadata.annotations.get(keys::PAUSED).is_some_and(|v| v == "true")
    }

    /// Whether the config has a ConfigChange trigger.
    pub fn has_config_change_trigger(&self) -> bool {
        self.spec.triggers.iter().any(|t| t.kind == TRIGGER_CONFIG_CHANGE)
    }

    /// The image stream tags the ImageChange triggers watch, with whether each is paused:
    /// `(namespace, "stream:tag", paused)`, the namespace filled in.
    pub fn watched_tags(&self) -> Vec<(ImageStreamTagReference, bool)> {
        let namespace = &self.metadata.namespace;
        self.spec
            .triggers
            .iter()
            .filter(|t| t.kind == TRIGGER_IMAGE_CHANGE)
            .filter_map(|t| {
                let trigger = t.image_change.clone().unwrap_or_default();
                let from = match &trigger.from {
                    Some(from) => from.clone(),
                    None => self.spec.strategy.from_image()?.clone(),
                };
                if from.kind != "ImageStreamTag" || from.name.is_empty() {
                    return None;
                }
                let ns = if from.namespace.is_empty() { namespace.clone() } else { from.namespace.clone() };
                Some((ImageStreamTagReference { namespace: ns, name: from.name.clone() }, trigger.paused))
            })
            .collect()
    }
}

impl Build {
    /// The build's number (`openshift.io/build.number`), 0 when unknown.
    pub fn number(&self) -> i64 {
        self.metadata.annotations.get(keys::BUILD_NUMBER).and_then(|n| n.parse().ok()).unwrap_or(0)
    }

    /// The BuildConfig it came from, if any.
    pub fn config_name(&self) -> Option<&str> {
        self.metadata
            .annotations
            .get(keys::BUILD_CONFIG_NAME)
            .or_else(|| self.metadata.labels.get(keys::BUILD_CONFIG_NAME))
            .map(String::as_str)
    }

    /// The run policy it was created under.
    pub fn start_policy(&self) -> RunPolicy {
        self.metadata.labels.get(keys::START_POLICY).map_or(RunPolicy::Serial, |label| RunPolicy::parse(label))
    }

    /// Whether the build has reached a final phase.
    pub fn is_terminal(&self) -> bool {
        self.status.phase.is_terminal()
    }

    /// Whether the build is queued or running.
    pub fn is_active(&self) -> bool {
        !self.is_terminal()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enumerations_are_written_as_openshift_writes_them() {
        let status: BuildStatus = serde_json::from_str(
            r#"{"phase":"Failed","conditions":[{"type":"New","status":"False"},{"type":"Failed","status":"True"}]}"#,
        )
        .unwrap();
        assert_eq!(status.phase, BuildPhase::Failed);
        assert_eq!(status.conditions[1].status, ConditionStatus::True);
        let written = serde_json::to_string(&status).unwrap();
        assert_eq!(
            written,
            r#"{"phase":"Failed","output":{},"conditions":[{"type":"New","status":"False"},{"type":"Failed","status":"True"}]}"#
        );
        for phase in BuildPhase::ALL {
            assert_eq!(serde_json::to_value(phase).unwrap(), phase.as_str());
            assert_eq!(phase.as_str().parse::<BuildPhase>(), Ok(phase));
        }
        assert!(serde_json::from_str::<BuildStatus>(r#"{"phase":"Sleeping"}"#).is_err());
    }

    #[test]
    fn run_policies_keep_what_validation_refuses() {
        let spec: BuildConfigSpec = serde_json::from_str(r#"{"runPolicy":"Sometimes"}"#).unwrap();
        assert_eq!(spec.run_policy, RunPolicy::Other("Sometimes".into()));
        let spec: BuildConfigSpec = serde_json::from_str(r#"{"runPolicy":""}"#).unwrap();
        assert_eq!(spec.run_policy, RunPolicy::Serial);
        let spec: BuildConfigSpec = serde_json::from_str(r#"{"runPolicy":"SerialLatestOnly"}"#).unwrap();
        assert_eq!(serde_json::to_value(&spec).unwrap()["runPolicy"], "SerialLatestOnly");
    }
}
