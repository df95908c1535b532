//! Instantiation: a BuildConfig and an [`Instantiation`] become a new Build, in
//! one store transaction that also bumps the config's `status.lastVersion`,
//! records the image every ImageChange trigger now sees, and (for
//! `SerialLatestOnly`) cancels the older builds still queued.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::policy;
use crate::types::*;
use crate::validation::{KIND_DOCKER_IMAGE, KIND_IMAGE_STREAM_TAG, set_common_defaults};
use s2i_imagestream::names::split_istag_name;
use s2i_imagestream::types::ImageStream;
use s2i_store::{ObjectMeta, OwnerReference, Resource, Tx};

/// What a new build is asked for with (OpenShift's `BuildRequest` as the
/// API server gets it: from a user, or from a trigger).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Instantiation {
    /// Namespace of the BuildConfig.
    pub(crate) namespace: String,
    /// Name of the BuildConfig.
    pub(crate) name: String,
    /// Why: `Manually triggered`, `Image change`, …
    pub(crate) cause: BuildTriggerCause,
    /// The image that triggered the build: its tag and its pull spec. The
    /// build uses exactly that image where it refers to that tag.
    pub(crate) triggered_by_image: Option<(ImageStreamTagReference, String)>,
    /// Extra environment (`--env`), replacing variables of the same name.
    pub(crate) env: Vec<EnvVar>,
    /// A commit (or ref) of the git source to build (`--commit`).
    pub(crate) commit: Option<String>,
    /// The revision a webhook named (`spec.revision`; its commit is built).
    pub(crate) revision: Option<SourceRevision>,
    /// Binary input (`--from-dir`/`--from-file`): the git source is dropped.
    pub(crate) binary: Option<BinaryBuildSource>,
    /// Only instantiate if the config's `lastVersion` is still this (ConfigChange).
    pub(crate) last_version: Option<i64>,
    /// How s2i also writes the image (`--output`, …), kept as annotations.
    pub(crate) image: crate::request::ImageWriting,
}

impl Instantiation {
    /// A request for `namespace/name` with a cause message.
    pub(crate) fn new(namespace: &str, name: &str, message: &str) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
            cause: BuildTriggerCause { message: message.into(), ..BuildTriggerCause::default() },
            ..Self::default()
        }
    }
}

/// FNV-1a, 32 bits, as library-go's namer hashes names.
fn fnv32a(text: &str) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    for byte in text.bytes() {
        hash ^= u32::from(byte);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

/// `<base>-<suffix>`, shortened to `max` characters the way library-go's
/// namer does: the base is cut and an 8-hex FNV-32a hash of it inserted.
pub(crate) fn get_name(base: &str, suffix: &str, max: usize) -> String {
    let name = format!("{base}-{suffix}");
    if name.len() <= max {
        return name;
    }
    let hash = |s: &str| format!("{:08x}", fnv32a(s));
    match max.checked_sub(10 + suffix.len()) {
        Some(base_len) => format!("{}-{}-{suffix}", &base[..base_len.min(base.len())], hash(base)),
        None => {
            let prefix = &base[..base.len().min(max.saturating_sub(9))];
            let short = format!("{prefix}-{}", hash(&name));
            short[..short.len().min(max)].to_owned()
        }
    }
}

/// The name of build number `number` of `config`.
pub(crate) fn build_name(config: &str, number: i64) -> String {
    get_name(config, &number.to_string(), 253)
}

/// A label value: at most 63 characters, as OpenShift truncates them.
fn label_value(value: &str) -> String {
    value.chars().take(63).collect()
}

/// The pull spec consumers get for `namespace/stream:tag` now (through its
/// reference policy), with the image's digest; `None` when the tag has no image.
pub(crate) fn resolve_istag(tx: &Tx<'_>, namespace: &str, istag: &str) -> Result<Option<(String, String)>> {
    let Ok((stream, tag)) = split_istag_name(istag) else { return Ok(None) };
    let Some(stream) = tx.get_as::<ImageStream>(namespace, stream)? else { return Ok(None) };
    let Some(latest) = stream.latest(tag) else { return Ok(None) };
    Ok(stream.resolve_pull_spec(tag).map(|spec| (spec, latest.image.clone())))
}

/// The pull spec of an image of a stream by digest (`stream@sha256:…`, a unique prefix allowed).
pub(crate) fn resolve_isimage(tx: &Tx<'_>, namespace: &str, name: &str) -> Result<Option<(String, String)>> {
    use s2i_imagestream::Error as StreamError;
    match s2i_imagestream::views::get_isimage(tx, namespace, name) {
        Ok(isimage) => {
            let image = isimage.image;
            Ok(Some((image.docker_image_reference.clone(), image.metadata.name.clone())))
        }
        Err(StreamError::NotFound { .. }) | Err(StreamError::InvalidName { .. }) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The phase machine's one write path: set the phase with its reason and
/// message, and the conditions as the API server keeps them (the current
/// phase's condition `True`, the others `False`). Refuses to leave a terminal phase.
pub(crate) fn set_phase(build: &mut Build, phase: BuildPhase, reason: &str, message: &str, now: &str) -> Result<()> {
    if build.is_terminal() && build.status.phase != phase {
        return Err(Error::PhaseFinal { name: build.metadata.name.clone(), phase: build.status.phase });
    }
    build.status.phase = phase;
    build.status.reason = reason.into();
    build.status.message = message.into();
    if !build.status.conditions.iter().any(|c| c.kind == phase) {
        build.status.conditions.push(BuildCondition { kind: phase, ..BuildCondition::default() });
    }
    for condition in &mut build.status.conditions {
        let status = if condition.kind == phase { ConditionStatus::True } else { ConditionStatus::False };
        if condition.status != status {
            condition.last_transition_time = Some(now.into());
        }
        condition.status = status;
        condition.last_update_time = Some(now.into());
        if condition.kind == phase {
            condition.reason = reason.into();
            condition.message = message.into();
        } else {
            condition.reason.clear();
            condition.message.clear();
        }
    }
    if phase.is_terminal() {
        build.status.completion_timestamp = Some(now.into());
        if let Some(start) = build.status.start_timestamp.as_deref() {
            build.status.duration = duration_nanos(start, now);
        }
    }
    Ok(())
}

/// Nanoseconds between two RFC 3339 timestamps (0 when they do not parse).
pub(crate) fn duration_nanos(start: &str, end: &str) -> i64 {
    let (Ok(start), Ok(end)) = (start.parse::<jiff::Timestamp>(), end.parse::<jiff::Timestamp>()) else { return 0 };
    let span = end.duration_since(start);
    i64::try_from(span.as_nanos()).unwrap_or(0).max(0)
}

/// Where the output of a build goes, as a pull spec (`status.outputDockerImageReference`).
pub(crate) fn output_reference(tx: &Tx<'_>, namespace: &str, output: &BuildOutput) -> Result<String> {
    let Some(to) = &output.to else { return Ok(String::new()) };
    if to.kind != KIND_IMAGE_STREAM_TAG {
        return Ok(to.name.clone());
    }
    let namespace = if to.namespace.is_empty() { namespace } else { &to.namespace };
    let Ok((stream_name, tag)) = split_istag_name(&to.name) else { return Ok(String::new()) };
    let stream =
        tx.get_as::<ImageStream>(namespace, stream_name)?.unwrap_or_else(|| ImageStream::new(namespace, stream_name));
    Ok(format!("{}:{tag}", stream.repository()))
}

/// Create the next build of a BuildConfig (see the module doc). Returns it as stored.
pub(crate) fn instantiate(tx: &Tx<'_>, request: &Instantiation) -> Result<Build> {
    let mut config: BuildConfig = tx
        .get_as(&request.namespace, &request.name)?
        .ok_or_else(|| Error::not_found(BuildConfig::KIND, &request.namespace, &request.name))?;
    if config.is_paused() {
        return Err(Error::Paused { namespace: request.namespace.clone(), name: request.name.clone() });
    }
    if let Some(expected) = request.last_version
        && expected != config.status.last_version
    {
        return Err(s2i_store::Error::Conflict {
            kind: BuildConfig::KIND.into(),
            namespace: request.namespace.clone(),
            name: request.name.clone(),
            expected: format!("lastVersion {expected}"),
            actual: config.status.last_version.max(0) as u64,
        }
        .into());
    }
    if config.spec.source.binary.is_some() && request.binary.is_none() {
        return Err(Error::BinaryInputMissing { namespace: request.namespace.clone(), name: request.name.clone() });
    }
    let now = tx.now().to_owned();
    config.status.last_version += 1;
    let number = config.status.last_version;
    let name = build_name(&config.metadata.name, number);

    // Metadata: the config's labels, plus OpenShift's labels and annotations.
    let mut metadata = ObjectMeta::named(&request.namespace, &name);
    metadata.labels = config.metadata.labels.clone();
    let policy = config.spec.run_policy.clone();
    metadata.labels.insert(keys::BUILD_CONFIG_NAME.into(), label_value(&config.metadata.name));
    metadata.labels.insert(keys::BUILD_CONFIG_LEGACY.into(), label_value(&config.metadata.name));
    metadata.labels.insert(keys::START_POLICY.into(), policy.as_str().to_owned());
    metadata.annotations.insert(keys::BUILD_CONFIG_NAME.into(), config.metadata.name.clone());
    metadata.annotations.insert(keys::BUILD_NUMBER.into(), number.to_string());
    request.image.annotate(&mut metadata.annotations);
    metadata.owner_references = vec![OwnerReference {
        api_version: API_VERSION.into(),
        kind: BuildConfig::KIND.into(),
        name: config.metadata.name.clone(),
        uid: config.metadata.uid.clone(),
        controller: Some(true),
    }];

    // Spec: the common spec of the config, with the request applied.
    let source_spec = &config.spec;
    let mut spec = BuildSpec {
        service_account: if source_spec.service_account.is_empty() {
            "builder".into()
        } else {
            source_spec.service_account.clone()
        },
        source: source_spec.source.clone(),
        revision: source_spec.revision.clone(),
        strategy: source_spec.strategy.clone(),
        output: source_spec.output.clone(),
        resources: source_spec.resources.clone(),
        post_commit: source_spec.post_commit.clone(),
        completion_deadline_seconds: source_spec.completion_deadline_seconds,
        node_selector: source_spec.node_selector.clone(),
        mount_trusted_ca: source_spec.mount_trusted_ca,
        triggered_by: vec![request.cause.clone()],
    };
    if let Some(binary) = &request.binary {
        spec.source.git = None;
        spec.source.binary = Some(binary.clone());
    }
    if let Some(commit) = &request.commit {
        let git = spec
            .source
            .git
            .as_mut()
            .ok_or_else(|| Error::NoGitSource { namespace: request.namespace.clone(), name: request.name.clone() })?;
        git.git_ref = commit.clone();
        spec.revision = Some(SourceRevision {
            kind: "Git".into(),
            git: Some(GitSourceRevision { commit: commit.clone(), ..GitSourceRevision::default() }),
        });
    }
    if let Some(revision) = &request.revision {
        spec.revision = Some(revision.clone());
    }
    if let Some(strategy) = &mut spec.strategy.source_strategy {
        for var in &request.env {
            strategy.env.retain(|existing| existing.name != var.name);
            strategy.env.push(var.clone());
        }
    }
    // The triggering image is used exactly where the build refers to its tag.
    if let Some((istag, pull_spec)) = &request.triggered_by_image {
        let same = |from: &ObjectReference| {
            let ns = if from.namespace.is_empty() { &request.namespace } else { &from.namespace };
            from.kind == KIND_IMAGE_STREAM_TAG && *ns == istag.namespace && from.name == istag.name
        };
        if let Some(strategy) = &mut spec.strategy.source_strategy
            && same(&strategy.from)
        {
            strategy.from = ObjectReference::new(KIND_DOCKER_IMAGE, pull_spec.clone());
        }
        for image in &mut spec.source.images {
            if same(&image.from) {
                image.from = ObjectReference::new(KIND_DOCKER_IMAGE, pull_spec.clone());
            }
        }
    }
    set_common_defaults(&mut spec.source, &mut spec.strategy);

    let mut build = Build {
        api_version: API_VERSION.into(),
        kind: Build::KIND.into(),
        metadata,
        spec,
        status: BuildStatus::default(),
    };
    build.status.config = Some(ObjectReference {
        kind: BuildConfig::KIND.into(),
        namespace: request.namespace.clone(),
        name: config.metadata.name.clone(),
        ..ObjectReference::default()
    });
    build.status.output_docker_image_reference = output_reference(tx, &request.namespace, &build.spec.output)?;
    set_phase(&mut build, BuildPhase::New, "", "", &now)?;

    // The config's record of what every ImageChange trigger now sees.
    record_trigger_images(tx, &mut config, request.triggered_by_image.as_ref())?;
    tx.update_as(&config)?;
    if policy == RunPolicy::SerialLatestOnly {
        policy::cancel_queued(tx, &request.namespace, &config.metadata.name, number)?;
    }
    Ok(tx.create_as(&build)?)
}

/// Set `status.imageChangeTriggers`: one entry per ImageChange trigger, with
/// the triggering image for the tag that fired and the current image for the others.
pub(crate) fn record_trigger_images(
    tx: &Tx<'_>,
    config: &mut BuildConfig,
    fired: Option<&(ImageStreamTagReference, String)>,
) -> Result<()> {
    let now = tx.now().to_owned();
    let mut before: BTreeMap<ImageStreamTagReference, ImageChangeTriggerStatus> = config
        .status
        .image_change_triggers
        .drain(..)
        .map(|t| (full_reference(&config.metadata.namespace, &t.from), t))
        .collect();
    for (watched, _) in config.watched_tags() {
        let mut entry = before.remove(&watched).unwrap_or_else(|| ImageChangeTriggerStatus {
            from: display_reference(&config.metadata.namespace, &watched),
            ..ImageChangeTriggerStatus::default()
        });
        let image = match fired {
            Some((tag, pull_spec)) if *tag == watched => Some(pull_spec.clone()),
            _ => resolve_istag(tx, &watched.namespace, &watched.name)?.map(|(spec, _)| spec),
        };
        if let Some(image) = image
            && image != entry.last_triggered_image_id
        {
            entry.last_triggered_image_id = image;
            entry.last_trigger_time = Some(now.clone());
        }
        config.status.image_change_triggers.push(entry);
    }
    Ok(())
}

/// A trigger's `from` with the namespace filled in.
pub(crate) fn full_reference(namespace: &str, from: &ImageStreamTagReference) -> ImageStreamTagReference {
    ImageStreamTagReference {
        namespace: if from.namespace.is_empty() { namespace.to_owned() } else { from.namespace.clone() },
        name: from.name.clone(),
    }
}

/// A trigger's `from` as written in status: no namespace when it is the config's.
fn display_reference(namespace: &str, from: &ImageStreamTagReference) -> ImageStreamTagReference {
    ImageStreamTagReference {
        namespace: if from.namespace == namespace { String::new() } else { from.namespace.clone() },
        name: from.name.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_shortened_like_library_go() {
        assert_eq!(build_name("app", 3), "app-3");
        let long = "a".repeat(260);
        let name = build_name(&long, 12);
        assert_eq!(name.len(), 253);
        assert!(name.ends_with("-12"), "{name}");
        let hash = format!("{:08x}", fnv32a(&long));
        assert!(name.contains(&format!("-{hash}-12")), "{name}");
        assert_eq!(get_name("base", "suffix", 8).len(), 8);
        assert_eq!(fnv32a(""), 0x811c_9dc5);
        assert_eq!(fnv32a("a"), 0xe40c_292c);
    }

    #[test]
    fn phases_keep_conditions_and_finality() {
        let mut build = Build::default();
        set_phase(&mut build, BuildPhase::New, "", "", "2026-01-01T00:00:00Z").unwrap();
        set_phase(&mut build, BuildPhase::Running, "", "", "2026-01-01T00:00:01Z").unwrap();
        build.status.start_timestamp = Some("2026-01-01T00:00:01Z".into());
        set_phase(&mut build, BuildPhase::Failed, "AssembleFailed", "Assemble script failed.", "2026-01-01T00:00:04Z")
            .unwrap();
        let current: Vec<_> = build.status.conditions.iter().filter(|c| c.status == "True").collect();
        assert_eq!(current.len(), 1);
        assert_eq!(current[0].kind, "Failed");
        assert_eq!(current[0].reason, "AssembleFailed");
        assert!(build.status.conditions.iter().filter(|c| c.status == "False").all(|c| c.reason.is_empty()));
        assert_eq!(build.status.duration, 3_000_000_000);
        let again = set_phase(&mut build, BuildPhase::Complete, "", "", "2026-01-01T00:00:05Z");
        assert!(again.unwrap_err().to_string().contains("terminal state"));
    }
}
