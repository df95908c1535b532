//! Making the places images live follow the streams: the consumer
//! [`MIRROR_CONSUMER`] reads the `TagChanged` events of the store's log, in
//! order, and for each one makes the tag's home match the stream *as it is
//! now*:
//!
//! - a stream without a registry: the engine tag `<namespace>/<stream>:<tag>`
//!   points at the tag's current image, or is removed with the tag;
//! - a stream with a registry (annotation [`crate::types::REGISTRY_ANNOTATION`]):
//!   the registry's `<namespace>/<stream>:<tag>` gets the image's manifest,
//!   its blobs mounted from the source repository of the same registry.
//!
//! Events are followed under the consumer's lease ([`Store::try_lease`]):
//! one process at a time reads the next event and the stream as it is then
//! (a read transaction), calls the engine or registry with no transaction
//! open, and then marks the event done (a short write transaction). So the
//! engine and registry end up in the order the store committed, processes
//! never follow the same event at once, and no s2i process waits for the
//! store while an engine pulls or a registry answers. When the engine or
//! registry cannot be reached, the event stays for the next run; a process
//! killed while following leaves its event to the next holder (following is
//! idempotent: the tag is made to match the stream as it is *then*). A tag
//! that cannot be followed (its image is nowhere to be had) is reported as a
//! warning and skipped, so it never blocks the others.
//!
//! A process that finds the lease held waits until the holder has followed
//! the changes it made (the holder follows every event, in order), or takes
//! the lease over when the holder is gone.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use s2i_core::reference::ImageReference;
use s2i_core::runtime::ContainerRuntime;

use crate::engine::{self, Followed};
use crate::error::{Error, Result};
use crate::registry::{RegistryCalls, RegistryClient, RegistryErrorKind};
use crate::streams::{TAG_CHANGED, TagChange};
use crate::types::{INSECURE_REPOSITORY_ANNOTATION, Image, ImageStream, TagEvent};
use s2i_store::{ConsumerLease, ConsumerStart, Event, Resource, Store, Tx};

/// The name of the consumer that follows tag changes.
pub const MIRROR_CONSUMER: &str = "mirror";
/// How many consumed events the log keeps before they are dropped in one go.
const COMPACT_AT: u64 = 1000;

/// The local container engine, or why it cannot be used.
pub type EngineAccess<'a> = std::result::Result<&'a dyn ContainerRuntime, String>;

/// What following the pending tag changes did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MirrorReport {
    /// What was done, one line per tag change (`dev/app:prod -> sha256:…`).
    pub done: Vec<String>,
    /// Tags that could not be followed, with why.
    pub warnings: Vec<String>,
}

/// Follow every pending tag change (see the module doc).
///
/// Works on any tokio runtime, a current-thread one included: engine calls
/// are awaited, registry calls run on the blocking pool, and no store
/// transaction is open while either is waited for.
///
/// Afterwards the log is compacted: events every consumer has passed are
/// dropped, and none while this one or one of `consumers` (the other
/// consumers of tag changes) has never consumed.
pub async fn follow_tag_changes(
    store: &Store,
    engine: &EngineAccess<'_>,
    registry: &RegistryClient,
    consumers: &[&str],
) -> Result<MirrorReport> {
    if let Ok(runtime) = engine {
        prefetch(store, *runtime).await?;
    }
    let mut report = MirrorReport::default();
    let Some(lease) = take_lease(store).await? else {
        // Another process followed everything committed before this call.
        return Ok(report);
    };
    while let Some(event) = lease.next()? {
        let step = store.read(|tx| plan(tx, &event))?;
        // An error leaves the event unfollowed; dropping the lease releases it.
        let followed = act(step, engine, registry).await?;
        lease.advance(&event)?;
        match followed {
            Some(Followed::Done(line)) => report.done.push(line),
            Some(Followed::Warning(line)) => report.warnings.push(line),
            None => {}
        }
    }
    lease.release()?;
    let mut required = vec![MIRROR_CONSUMER];
    required.extend_from_slice(consumers);
    store.compact_events(&required, COMPACT_AT)?;
    Ok(report)
}

/// How often a process waiting for another holder of the lease looks again.
const LEASE_POLL: Duration = Duration::from_millis(50);
/// How long it waits for a live holder before giving up (the changes stay
/// for the holder, or the next run).
const LEASE_WAIT: Duration = Duration::from_secs(300);

/// The mirror's lease, or `None` when another process holds it and has
/// followed every event committed before this call.
async fn take_lease(store: &Store) -> Result<Option<ConsumerLease<'_>>> {
    let target = store.read(|tx| tx.last_seq())?;
    let started = Instant::now();
    loop {
        if let Some(lease) = store.try_lease(MIRROR_CONSUMER, ConsumerStart::Beginning)? {
            return Ok(Some(lease));
        }
        if store.read(|tx| tx.cursor(MIRROR_CONSUMER))?.unwrap_or(0) >= target {
            return Ok(None);
        }
        if started.elapsed() >= LEASE_WAIT {
            let holder = store.lease_holder(MIRROR_CONSUMER)?.unwrap_or_default();
            return Err(s2i_store::Error::ConsumerLeased { consumer: MIRROR_CONSUMER.into(), holder }.into());
        }
        tokio::time::sleep(LEASE_POLL).await;
    }
}

/// Pull the images pending changes will need into the engine before the
/// write lock is taken: a pull can take minutes, and other s2i processes wait
/// for the lock. What is still missing when a change is followed is pulled
/// then; failures here are left for that moment to report.
async fn prefetch(store: &Store, runtime: &dyn ContainerRuntime) -> Result<()> {
    let wanted: Vec<(Option<String>, String)> = store.read(|tx| {
        let cursor = tx.cursor(MIRROR_CONSUMER)?.unwrap_or(0);
        let mut wanted = Vec::new();
        for event in tx.events_after(cursor, 1000)? {
            if event.kind != ImageStream::KIND || event.action != TAG_CHANGED {
                continue;
            }
            let Ok(change) = serde_json::from_value::<TagChange>(event.data.clone()) else { continue };
            let Some(stream) = tx.get_as::<ImageStream>(&event.namespace, &event.name)? else { continue };
            if stream.registry().is_some() {
                continue;
            }
            // Only an image from a registry can be pulled; an engine-only image is there or gone.
            let Some(item) = stream.latest(&change.tag) else { continue };
            if ImageReference::parse(&item.docker_image_reference).is_ok_and(|r| r.registry.is_some()) {
                let id = tx.get_as::<Image>("", &item.image)?.and_then(|i| i.engine_id().map(str::to_owned));
                wanted.push((id, item.docker_image_reference.clone()));
            }
        }
        Ok::<_, Error>(wanted)
    })?;
    let mut seen = BTreeSet::new();
    for (id, pull_spec) in wanted {
        if !seen.insert(pull_spec.clone()) {
            continue;
        }
        let known = match &id {
            Some(id) => runtime.inspect_image(id).await.ok().flatten().is_some(),
            None => false,
        };
        let present = known || runtime.inspect_image(&pull_spec).await.ok().flatten().is_some();
        if !present {
            // A failure is reported when the change is followed.
            let _ = runtime.pull_image(&pull_spec, &|_| {}).await;
        }
    }
    Ok(())
}

/// What following one event takes, read from the store as it is now.
enum Step {
    /// Not a tag change: nothing to do.
    Nothing,
    /// A tag change that cannot be read: a warning.
    Unreadable(u64),
    /// A tag of a stream that keeps its images in a registry.
    Registry { stream: Box<ImageStream>, tag: String, desired: Option<TagEvent> },
    /// A tag of a stream whose images live in the engine.
    Engine { namespace: String, name: String, tag: String, desired: Option<TagEvent>, engine_id: Option<String> },
}

fn plan(tx: &Tx<'_>, event: &Event) -> Result<Step> {
    if event.kind != ImageStream::KIND || event.action != TAG_CHANGED {
        return Ok(Step::Nothing);
    }
    let Ok(change) = serde_json::from_value::<TagChange>(event.data.clone()) else {
        return Ok(Step::Unreadable(event.seq));
    };
    let stream: Option<ImageStream> = tx.get_as(&event.namespace, &event.name)?;
    let desired = stream.as_ref().and_then(|s| s.latest(&change.tag)).cloned();
    if let Some(stream) = stream.filter(|s| s.registry().is_some()) {
        return Ok(Step::Registry { stream: Box::new(stream), tag: change.tag, desired });
    }
    let engine_id = match desired.as_ref().filter(|item| !item.image.is_empty()) {
        Some(item) => tx.get_as::<Image>("", &item.image)?.and_then(|i| i.engine_id().map(str::to_owned)),
        None => None,
    };
    Ok(Step::Engine {
        namespace: event.namespace.clone(),
        name: event.name.clone(),
        tag: change.tag,
        desired,
        engine_id,
    })
}

async fn act(step: Step, engine: &EngineAccess<'_>, registry: &RegistryClient) -> Result<Option<Followed>> {
    match step {
        Step::Nothing => Ok(None),
        Step::Unreadable(seq) => {
            Ok(Some(Followed::Warning(format!("event {seq} has no readable tag change; skipped"))))
        }
        Step::Registry { stream, tag, desired } => follow_in_registry(registry, *stream, tag, desired).await.map(Some),
        Step::Engine { namespace, name, tag, desired, engine_id } => {
            let runtime = match engine {
                Ok(runtime) => *runtime,
                Err(why) => {
                    return Err(Error::Engine {
                        operation: format!("follow the change of {namespace}/{name}:{tag}"),
                        message: why.clone(),
                        change_kept: true,
                        help: engine::CATCH_UP_HELP.into(),
                    });
                }
            };
            engine::follow(runtime, &namespace, &name, &tag, desired.as_ref(), engine_id.as_deref()).await.map(Some)
        }
    }
}

async fn follow_in_registry(
    client: &RegistryClient,
    stream: ImageStream,
    tag: String,
    desired: Option<TagEvent>,
) -> Result<Followed> {
    let registry = stream.registry().expect("only registry streams come here").to_owned();
    let repository = format!("{}/{}", stream.metadata.namespace, stream.metadata.name);
    let target = format!("{registry}/{repository}:{tag}");
    let insecure = stream.metadata.annotations.get(INSECURE_REPOSITORY_ANNOTATION).is_some_and(|v| v == "true");
    let transient = |operation: String, e: crate::registry::RegistryError| Error::Registry {
        operation,
        kind: e.kind,
        message: e.to_string(),
        help: format!(
            "check that the registry {registry} is running and reachable, then run the command again; the store keeps \
             the change and the registry catches up on the next s2i command"
        ),
    };
    let Some(item) = desired else {
        let (at, repo) = (registry.clone(), repository.clone());
        return match client.call(move |client| client.delete_tag(&at, &repo, &tag, insecure)).await {
            Ok(()) => Ok(Followed::Done(format!("removed {target}"))),
            Err(e) if e.kind == RegistryErrorKind::Unreachable => Err(transient(format!("delete {target}"), e)),
            Err(e) => Ok(Followed::Warning(e.to_string())),
        };
    };
    if item.image.is_empty() {
        return Ok(Followed::Warning(format!(
            "{target}: the tag refers to {} without importing it; the registry tag is left as it is",
            item.docker_image_reference
        )));
    }
    let source = ImageReference::parse(&item.docker_image_reference).ok();
    let Some(source) = source.filter(|s| s.registry.as_deref() == Some(registry.as_str())) else {
        return Ok(Followed::Warning(format!(
            "{target}: the image {} is not in the stream's registry {registry}; s2i does not copy layers between \
             registries (push it to {registry} first)",
            item.docker_image_reference
        )));
    };
    let (at, repo, image) = (registry.clone(), repository.clone(), item.image.clone());
    let copied =
        client.call(move |client| client.copy_to_tag(&at, &source.repository, &image, &repo, &tag, insecure)).await;
    match copied {
        Ok(()) => Ok(Followed::Done(format!("{target} -> {}", item.image))),
        Err(e) if e.kind == RegistryErrorKind::Unreachable => Err(transient(format!("tag {target}"), e)),
        Err(e) => Ok(Followed::Warning(format!("{target}: {e}"))),
    }
}
