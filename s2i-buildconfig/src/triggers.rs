//! Triggers: which builds start when an image stream tag moves, when a
//! BuildConfig is applied, and how `--no-triggers` keeps tag changes from
//! starting anything.
//!
//! - **ImageChange, from the event log.** The consumer [`TRIGGER_CONSUMER`]
//!   reads the store's `TagChanged` events in commit order. For each event
//!   it finds the BuildConfigs whose (unpaused) ImageChange trigger watches
//!   that tag, and instantiates a build for each one whose
//!   `status.imageChangeTriggers[].lastTriggeredImageID` differs from the
//!   tag's new image — all in the transaction that advances the consumer's
//!   cursor ([`Store::consume_next`]). So every tag event starts each
//!   triggered build exactly once, whichever process (or how many at once)
//!   follows the log. Events older than a config's last apply are skipped for
//!   it ([`keys::TRIGGERS_SEQ`]): [`on_applied`] already judged the state then.
//! - **On apply** ([`on_applied`]): a config with a ConfigChange trigger and
//!   `lastVersion` 0 gets its first build; otherwise each ImageChange trigger
//!   whose tag already has an image it has not built starts one build, as
//!   OpenShift's trigger controller does for a new config.
//! - **`--no-triggers`** ([`s2i_imagestream::suppression`]): the transaction of a tag
//!   change also marks each of its events; the consumer, reaching such an
//!   event, records its image as seen by the watching configs (so later
//!   events compare against it) and starts nothing. Marking the configs at
//!   once would not do: events of earlier changes, consumed later, would
//!   overwrite the mark.

use crate::error::Result;
use crate::generator::{Instantiation, full_reference, instantiate, resolve_istag};
use crate::types::*;
use s2i_imagestream::streams::{TAG_CHANGED, TagChange};
use s2i_imagestream::types::{ImageStream, REFERENCE_POLICY_LOCAL};
use s2i_store::{ConsumerStart, Event, Resource, Store, Tx};

/// The name of the event consumer that starts triggered builds.
pub const TRIGGER_CONSUMER: &str = "build-triggers";

/// A build a trigger started.
#[derive(Debug, Clone, PartialEq)]
pub struct Started {
    /// The new build (phase `New`).
    pub build: Build,
    /// Why, for people: `an image change of app-artifact:latest`, `a config change`.
    pub cause: String,
}

/// A trigger that could not start a build. Front ends may add how to start
/// such a build by hand (with binary input).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TriggerWarning {
    /// The config is paused: the change of a tag it watches starts nothing.
    #[error("buildconfig {namespace}/{config} is paused: the change of {tag} starts no build")]
    Paused {
        /// The config's namespace.
        namespace: String,
        /// The config.
        config: String,
        /// The tag that changed, as the config names it.
        tag: String,
    },
    /// The config builds binary input, which a tag change cannot give.
    #[error("buildconfig {namespace}/{config} builds binary input: the change of {tag} cannot start it")]
    TagChangeNeedsInput {
        /// The config's namespace.
        namespace: String,
        /// The config.
        config: String,
        /// The tag that changed, as the config names it.
        tag: String,
    },
    /// A new config with a ConfigChange trigger builds binary input.
    #[error("buildconfig {namespace}/{config} builds binary input: its ConfigChange trigger cannot start it")]
    ConfigChangeNeedsInput {
        /// The config's namespace.
        namespace: String,
        /// The config.
        config: String,
    },
    /// The config's strategy cannot be run here (a Docker, Custom or
    /// JenkinsPipeline strategy): its triggers start nothing.
    #[error(
        "buildconfig {namespace}/{config} has a {strategy} strategy, which a local build cannot run: {trigger} starts no build"
    )]
    StrategyNotRun {
        /// The config's namespace.
        namespace: String,
        /// The config.
        config: String,
        /// The strategy, e.g. `Docker`.
        strategy: String,
        /// What would have started it: `the change of ruby:3.3`, `its ConfigChange trigger`.
        trigger: String,
    },
    /// A new config whose watched tags have images builds binary input.
    #[error("buildconfig {namespace}/{config} builds binary input: its ImageChange triggers cannot start it")]
    ImageChangeNeedsInput {
        /// The config's namespace.
        namespace: String,
        /// The config.
        config: String,
    },
}

/// What processing triggers did.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct TriggerReport {
    /// The builds started.
    pub(crate) started: Vec<Started>,
    /// Triggers that could not start a build.
    pub(crate) warnings: Vec<TriggerWarning>,
}

/// The pull spec consumers of `namespace/stream:tag` get for the image of a tag change.
fn changed_pull_spec(tx: &Tx<'_>, namespace: &str, stream: &str, change: &TagChange) -> Result<Option<String>> {
    let Some(new) = &change.new else { return Ok(None) };
    let local = tx
        .get_as::<ImageStream>(namespace, stream)?
        .filter(|_| !new.image.is_empty())
        .filter(|s| s.spec_tag(&change.tag).is_some_and(|t| t.reference_policy.kind == REFERENCE_POLICY_LOCAL))
        .map(|s| format!("{}@{}", s.repository(), new.image));
    Ok(Some(local.unwrap_or_else(|| new.docker_image_reference.clone())))
}

fn last_triggered<'a>(config: &'a BuildConfig, tag: &ImageStreamTagReference) -> &'a str {
    config
        .status
        .image_change_triggers
        .iter()
        .find(|t| full_reference(&config.metadata.namespace, &t.from) == *tag)
        .map_or("", |t| t.last_triggered_image_id.as_str())
}

fn triggers_seq(config: &BuildConfig) -> u64 {
    config.metadata.annotations.get(keys::TRIGGERS_SEQ).and_then(|s| s.parse().ok()).unwrap_or(0)
}

fn shown_tag(config_namespace: &str, tag: &ImageStreamTagReference) -> String {
    if tag.namespace == config_namespace { tag.name.clone() } else { format!("{}/{}", tag.namespace, tag.name) }
}

/// The configs watching `tag` with an unpaused trigger.
fn watchers(tx: &Tx<'_>, tag: &ImageStreamTagReference) -> Result<Vec<BuildConfig>> {
    Ok(tx
        .list_as::<BuildConfig>(None)?
        .into_iter()
        .filter(|config| config.watched_tags().iter().any(|(watched, paused)| watched == tag && !paused))
        .collect())
}

/// What one `TagChanged` event starts (see the module doc).
pub(crate) fn on_event(tx: &Tx<'_>, event: &Event) -> Result<TriggerReport> {
    let mut report = TriggerReport::default();
    if event.kind != ImageStream::KIND || event.action != TAG_CHANGED {
        return Ok(report);
    }
    let suppressed = s2i_imagestream::suppression::take(tx, event.seq)?;
    let Ok(change) = serde_json::from_value::<TagChange>(event.data.clone()) else { return Ok(report) };
    let Some(pull_spec) = changed_pull_spec(tx, &event.namespace, &event.name, &change)? else { return Ok(report) };
    let tag =
        ImageStreamTagReference { namespace: event.namespace.clone(), name: format!("{}:{}", event.name, change.tag) };
    for mut config in watchers(tx, &tag)? {
        if event.seq <= triggers_seq(&config) || last_triggered(&config, &tag) == pull_spec {
            continue;
        }
        if suppressed {
            mark_seen(tx, &mut config, &tag, &pull_spec)?;
            continue;
        }
        let shown = shown_tag(&config.metadata.namespace, &tag);
        let (namespace, name) = (config.metadata.namespace.clone(), config.metadata.name.clone());
        if config.is_paused() {
            report.warnings.push(TriggerWarning::Paused { namespace, config: name, tag: shown });
            continue;
        }
        if config.spec.source.binary.is_some() {
            report.warnings.push(TriggerWarning::TagChangeNeedsInput { namespace, config: name, tag: shown });
            continue;
        }
        if let Some((_, strategy)) = config.spec.strategy.not_run_here() {
            let (strategy, trigger) = (strategy.to_owned(), format!("the change of {shown}"));
            report.warnings.push(TriggerWarning::StrategyNotRun { namespace, config: name, strategy, trigger });
            continue;
        }
        let mut request = Instantiation::new(&namespace, &name, causes::IMAGE_CHANGE);
        request.cause.image_change_build = Some(image_change_cause(&config, &tag, &pull_spec));
        request.triggered_by_image = Some((tag.clone(), pull_spec.clone()));
        let build = instantiate(tx, &request)?;
        report.started.push(Started { build, cause: format!("an image change of {shown}") });
    }
    Ok(report)
}

fn image_change_cause(config: &BuildConfig, tag: &ImageStreamTagReference, pull_spec: &str) -> ImageChangeCause {
    ImageChangeCause {
        image_id: pull_spec.to_owned(),
        from_ref: Some(ObjectReference {
            kind: "ImageStreamTag".into(),
            namespace: if tag.namespace == config.metadata.namespace { String::new() } else { tag.namespace.clone() },
            name: tag.name.clone(),
            ..ObjectReference::default()
        }),
    }
}

/// Record `pull_spec` as the image a config's trigger on `tag` has seen.
fn mark_seen(tx: &Tx<'_>, config: &mut BuildConfig, tag: &ImageStreamTagReference, pull_spec: &str) -> Result<()> {
    let namespace = config.metadata.namespace.clone();
    let now = tx.now().to_owned();
    match config.status.image_change_triggers.iter_mut().find(|t| full_reference(&namespace, &t.from) == *tag) {
        Some(entry) => {
            entry.last_triggered_image_id = pull_spec.to_owned();
            entry.last_trigger_time = Some(now);
        }
        None => config.status.image_change_triggers.push(ImageChangeTriggerStatus {
            last_triggered_image_id: pull_spec.to_owned(),
            from: ImageStreamTagReference {
                namespace: if tag.namespace == namespace { String::new() } else { tag.namespace.clone() },
                name: tag.name.clone(),
            },
            last_trigger_time: Some(now),
        }),
    }
    tx.update_as(config)?;
    Ok(())
}

/// Follow the event log as [`TRIGGER_CONSUMER`] until it is caught up,
/// starting the triggered builds (created in phase `New`; running them is the
/// caller's).
pub(crate) fn process_events(store: &Store) -> Result<TriggerReport> {
    let mut report = TriggerReport::default();
    while let Some((_, one)) = store.consume_next(TRIGGER_CONSUMER, ConsumerStart::Beginning, on_event)? {
        report.started.extend(one.started);
        report.warnings.extend(one.warnings);
    }
    Ok(report)
}

/// Judge a BuildConfig that was just applied (see the module doc). Its
/// [`keys::TRIGGERS_SEQ`] annotation must already name the event-log
/// position of the apply (see [`mark_applied`]).
pub(crate) fn on_applied(tx: &Tx<'_>, namespace: &str, name: &str) -> Result<TriggerReport> {
    let mut report = TriggerReport::default();
    let Some(config) = tx.get_as::<BuildConfig>(namespace, name)? else { return Ok(report) };
    if config.is_paused() {
        return Ok(report);
    }
    if let Some((_, strategy)) = config.spec.strategy.not_run_here() {
        let fires = config.has_config_change_trigger() && config.status.last_version == 0;
        if fires {
            report.warnings.push(TriggerWarning::StrategyNotRun {
                namespace: namespace.into(),
                config: name.into(),
                strategy: strategy.into(),
                trigger: "its ConfigChange trigger".into(),
            });
        }
        return Ok(report);
    }
    if config.has_config_change_trigger() && config.status.last_version == 0 {
        if config.spec.source.binary.is_some() {
            report
                .warnings
                .push(TriggerWarning::ConfigChangeNeedsInput { namespace: namespace.into(), config: name.into() });
            return Ok(report);
        }
        let mut request = Instantiation::new(namespace, name, causes::CONFIG_CHANGE);
        request.last_version = Some(0);
        let build = instantiate(tx, &request)?;
        report.started.push(Started { build, cause: "a config change".into() });
        return Ok(report);
    }
    let mut request: Option<Instantiation> = None;
    let mut shown = Vec::new();
    for (tag, paused) in config.watched_tags() {
        if paused {
            continue;
        }
        let Some((pull_spec, _)) = resolve_istag(tx, &tag.namespace, &tag.name)? else { continue };
        if last_triggered(&config, &tag) == pull_spec {
            continue;
        }
        if config.spec.source.binary.is_some() {
            report
                .warnings
                .push(TriggerWarning::ImageChangeNeedsInput { namespace: namespace.into(), config: name.into() });
            return Ok(report);
        }
        if request.is_none() {
            let mut first = Instantiation::new(namespace, name, causes::IMAGE_CHANGE);
            first.triggered_by_image = Some((tag.clone(), pull_spec.clone()));
            first.cause.image_change_build = Some(image_change_cause(&config, &tag, &pull_spec));
            request = Some(first);
        }
        shown.push(shown_tag(namespace, &tag));
    }
    if let Some(request) = request {
        let build = instantiate(tx, &request)?;
        report.started.push(Started { build, cause: format!("an image change of {}", shown.join(", ")) });
    }
    Ok(report)
}

/// Set a config's [`keys::TRIGGERS_SEQ`] to the current end of the event log
/// (call in the transaction that writes the config).
pub(crate) fn mark_applied(tx: &Tx<'_>, config: &mut BuildConfig) -> Result<()> {
    config.metadata.annotations.insert(keys::TRIGGERS_SEQ.into(), tx.last_seq()?.to_string());
    Ok(())
}
