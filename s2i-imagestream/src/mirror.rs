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
//! Each event is claimed, followed and marked done in one store transaction
//! ([`Store::consume_next`]), so processes never follow the same event twice
//! and the engine/registry end up in the order the store committed. When the
//! engine or registry cannot be reached, the event stays for the next run; a
//! tag that cannot be followed (its image is nowhere to be had) is reported
//! as a warning and skipped, so it never blocks the others.

use std::collections::BTreeSet;

use s2i_core::reference::ImageReference;
use s2i_core::runtime::ContainerRuntime;

use crate::engine::{self, Followed};
use crate::error::{Error, Result};
use crate::registry::{RegistryClient, RegistryErrorKind};
use crate::store::{ConsumerStart, Event, Resource, Store, Tx};
use crate::streams::{TAG_CHANGED, TagChange};
use crate::types::{INSECURE_REPOSITORY_ANNOTATION, Image, ImageStream, TagEvent};

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
/// Needs a multi-threaded tokio runtime: the store is blocking and holds its
/// write lock while the engine or registry is called.
pub async fn follow_tag_changes(
    store: &Store,
    engine: &EngineAccess<'_>,
    registry: &RegistryClient,
) -> Result<MirrorReport> {
    if let Ok(runtime) = engine {
        prefetch(store, *runtime).await?;
    }
    tokio::task::block_in_place(|| {
        let handle = tokio::runtime::Handle::current();
        let mut report = MirrorReport::default();
        while let Some((_, followed)) = store.consume_next(MIRROR_CONSUMER, ConsumerStart::Beginning, |tx, event| {
            handle.block_on(follow_event(tx, event, engine, registry))
        })? {
            match followed {
                Some(Followed::Done(line)) => report.done.push(line),
                Some(Followed::Warning(line)) => report.warnings.push(line),
                None => {}
            }
        }
        // The log's consumers are this one and the build triggers.
        store.compact_events(&[MIRROR_CONSUMER, crate::builds::triggers::TRIGGER_CONSUMER], COMPACT_AT)?;
        Ok(report)
    })
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

async fn follow_event(
    tx: &Tx<'_>,
    event: &Event,
    engine: &EngineAccess<'_>,
    registry: &RegistryClient,
) -> Result<Option<Followed>> {
    if event.kind != ImageStream::KIND || event.action != TAG_CHANGED {
        return Ok(None);
    }
    let Ok(change) = serde_json::from_value::<TagChange>(event.data.clone()) else {
        return Ok(Some(Followed::Warning(format!("event {} has no readable tag change; skipped", event.seq))));
    };
    let stream: Option<ImageStream> = tx.get_as(&event.namespace, &event.name)?;
    let desired = stream.as_ref().and_then(|s| s.latest(&change.tag));
    if let Some(stream) = stream.as_ref().filter(|s| s.registry().is_some()) {
        return follow_in_registry(registry, stream, &change.tag, desired).map(Some);
    }
    let runtime = match engine {
        Ok(runtime) => *runtime,
        Err(why) => {
            return Err(Error::Engine {
                operation: format!("follow the change of {}/{}:{}", event.namespace, event.name, change.tag),
                message: why.clone(),
                help: "start the container engine (e.g. `cargo xtask docker`) and run the command again; the store \
                       keeps the change and the engine's tags catch up on the next s2i command"
                    .into(),
            });
        }
    };
    engine::follow(runtime, tx, &event.namespace, &event.name, &change.tag, desired).await.map(Some)
}

fn follow_in_registry(
    client: &RegistryClient,
    stream: &ImageStream,
    tag: &str,
    desired: Option<&TagEvent>,
) -> Result<Followed> {
    let registry = stream.registry().expect("only registry streams come here");
    let repository = format!("{}/{}", stream.metadata.namespace, stream.metadata.name);
    let target = format!("{registry}/{repository}:{tag}");
    let insecure = stream.metadata.annotations.get(INSECURE_REPOSITORY_ANNOTATION).is_some_and(|v| v == "true");
    let transient = |operation: String, e: crate::registry::RegistryError| Error::Registry {
        operation,
        message: e.to_string(),
        help: format!(
            "check that the registry {registry} is running and reachable, then run the command again; the store keeps \
             the change and the registry catches up on the next s2i command"
        ),
    };
    let Some(item) = desired else {
        return match client.delete_tag(registry, &repository, tag, insecure) {
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
    let Some(source) = source.filter(|s| s.registry.as_deref() == Some(registry)) else {
        return Ok(Followed::Warning(format!(
            "{target}: the image {} is not in the stream's registry {registry}; s2i does not copy layers between \
             registries (push it to {registry} first)",
            item.docker_image_reference
        )));
    };
    match client.copy_to_tag(registry, &source.repository, &item.image, &repository, tag, insecure) {
        Ok(()) => Ok(Followed::Done(format!("{target} -> {}", item.image))),
        Err(e) if e.kind == RegistryErrorKind::Unreachable => Err(transient(format!("tag {target}"), e)),
        Err(e) => Ok(Followed::Warning(format!("{target}: {e}"))),
    }
}
