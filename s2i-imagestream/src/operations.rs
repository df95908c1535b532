//! The operations a user asks for, end to end: resolve what needs the engine
//! or a registry, change the store in one transaction, then follow the tag
//! changes ([`crate::mirror`]). A command line or any other front end calls
//! these and renders the outcome.
//!
//! The rule for async code here: engine and registry I/O is awaited (the
//! registry's blocking client on tokio's blocking pool, see
//! [`RegistryClient::call`]), and never inside a store transaction; store
//! transactions are short, touch nothing but the store, and are called
//! inline — also on a current-thread runtime, where they can only ever wait
//! for another process's equally short transaction.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use s2i_core::reference::ImageReference;

use crate::engine::resolve_in_engine;
use crate::error::{Error, Result};
use crate::mirror::{EngineAccess, MirrorReport, follow_tag_changes};
use crate::registry::{RegistryCalls, RegistryClient, import_failure};
use crate::repository::{RepositoryImport, repository_import, tags_to_import};
use crate::streams::{
    self, ImportFailure, ImportResult, StreamTag, StreamWrite, TagOutcome, TagRequest, TagSource, write_stream,
};
use crate::types::{
    IMPORT_MODE_LEGACY, INSECURE_REPOSITORY_ANNOTATION, ImageStream, KIND_DOCKER_IMAGE, ObjectReference,
    REFERENCE_POLICY_SOURCE, TagImportPolicy, TagReference, TagReferencePolicy,
};
use s2i_store::{Store, Tx};

/// The result of an operation, and what following its tag changes did.
#[derive(Debug)]
pub struct Outcome<T> {
    /// What the operation did in the store.
    pub value: T,
    /// What the engine and registries did.
    pub mirror: MirrorReport,
    /// Why the engine or a registry could not follow (the store change is kept
    /// and followed by a later run).
    pub mirror_error: Option<Error>,
}

/// `import-image`: (re-)import a tag from its `DockerImage` source. Made
/// with [`ImportRequest::new`], then the fields a request sets.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImportRequest {
    /// The tag to import into.
    pub destination: StreamTag,
    /// The pull spec to import; the tag's current source when `None`.
    pub from: Option<String>,
    /// Allow creating the stream or tag, or changing the tag's source.
    pub confirm: bool,
    /// Allow plain HTTP / unverified TLS.
    pub insecure: bool,
    /// `Source` or `Local` (kept from the tag when `None`).
    pub reference_policy: Option<String>,
    /// `Legacy` or `PreserveOriginal` (`Legacy` when `None`).
    pub import_mode: Option<String>,
    /// Re-import periodically (`importPolicy.scheduled`); kept from the tag when `None`.
    pub scheduled: Option<bool>,
    /// Import the whole repository `from` names (`oc import-image --all`):
    /// it becomes the stream's `spec.dockerImageRepository` (changing one
    /// needs `confirm`), and its tags are imported into the stream's status.
    pub all: bool,
}

impl ImportRequest {
    /// Import `destination` again from its current source, keeping its policies.
    pub fn new(destination: StreamTag) -> Self {
        Self {
            destination,
            from: None,
            confirm: false,
            insecure: false,
            reference_policy: None,
            import_mode: None,
            scheduled: None,
            all: false,
        }
    }
}

/// Where a `DockerImage` source of a stream without a registry is looked up
/// first when a tag's source is resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// The local engine, then the registry: `s2i tag` (unless `--scheduled`)
    /// and `apply`, whose sources are often images built here and never pushed.
    EngineFirst,
    /// The registry, then the engine: `import-image` and scheduled tags,
    /// which ask what the registry serves now (an engine keeps the image it
    /// pulled or pushed last, and Podman one digest per image it stores).
    RegistryFirst,
}

/// What a scheduled re-import found ([`ImageStreams::import_scheduled`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduledResult {
    /// The source names a new image; the tag moved to it (a tag change that
    /// triggers builds).
    Updated {
        /// The new image (its digest).
        image: String,
    },
    /// The source still names the tag's current image.
    Unchanged,
    /// The import failed; the tag keeps its image and records the failure.
    Failed(ImportFailure),
}

/// One scheduled re-import.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledImport {
    /// The tag re-imported.
    pub tag: StreamTag,
    /// What it found.
    pub result: ScheduledResult,
}

/// When each scheduled tag is due for its next re-import: when first
/// seen, then every `interval`, like OpenShift's scheduled importer
/// (`scheduledImageImportMinimumIntervalSeconds`, 15 minutes by default).
#[derive(Debug, Clone)]
pub struct ImportSchedule {
    interval: Duration,
    last: BTreeMap<StreamTag, Instant>,
    /// The scheduled tags as of a store revision: listing every stream is
    /// only redone when the store changed.
    known: Option<(u64, Vec<StreamTag>)>,
}

impl ImportSchedule {
    /// OpenShift's default interval between two imports of a scheduled tag.
    pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15 * 60);

    /// A schedule that re-imports each tag every `interval`.
    pub fn new(interval: Duration) -> Self {
        Self { interval, last: BTreeMap::new(), known: None }
    }

    /// Of the tags `scheduled` now, those due at `now`: not imported by this
    /// schedule yet, or `interval` ago or more. They count as imported at
    /// `now`; tags no longer scheduled are forgotten.
    pub fn due(&mut self, scheduled: &[StreamTag], now: Instant) -> Vec<StreamTag> {
        self.last.retain(|tag, _| scheduled.contains(tag));
        let mut due = Vec::new();
        for tag in scheduled {
            let is_due = self.last.get(tag).is_none_or(|last| now.saturating_duration_since(*last) >= self.interval);
            if is_due {
                self.last.insert(tag.clone(), now);
                due.push(tag.clone());
            }
        }
        due
    }
}

/// The image-stream operations over a store, an engine and registries.
pub struct ImageStreams<'a> {
    store: &'a Store,
    engine: EngineAccess<'a>,
    registry: &'a RegistryClient,
    triggers: bool,
    consumers: &'a [&'a str],
    push_credentials: Option<&'a s2i_core::auth::CredentialFiles>,
}

impl std::fmt::Debug for ImageStreams<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageStreams").field("store", &self.store.dir()).finish_non_exhaustive()
    }
}

impl<'a> ImageStreams<'a> {
    /// Operations on `store`, following tag changes in `engine` and `registry`.
    pub fn new(store: &'a Store, engine: EngineAccess<'a>, registry: &'a RegistryClient) -> Self {
        Self { store, engine, registry, triggers: true, consumers: &[], push_credentials: None }
    }

    /// The other consumers of the store's event log that read tag changes
    /// (e.g. the build triggers of `s2i-buildconfig`): while one of them has
    /// never consumed, following tag changes drops no event from the log.
    /// Consumers that have consumed are always waited for.
    pub fn with_event_consumers(mut self, consumers: &'a [&'a str]) -> Self {
        self.consumers = consumers;
        self
    }

    /// Push to registry-backed streams ([`Self::record_build`]) with these
    /// credentials when they have an entry for the registry (a build's push
    /// secret), before those of the login files (`docker login`, `podman login`).
    pub fn with_push_credentials(mut self, credentials: &'a s2i_core::auth::CredentialFiles) -> Self {
        self.push_credentials = Some(credentials);
        self
    }

    /// With `false` (`--no-triggers`), the tag changes of these operations
    /// start nothing: their events are marked as such in the transaction of
    /// the change ([`crate::suppression::suppress_since`]).
    pub fn with_triggers(mut self, triggers: bool) -> Self {
        self.triggers = triggers;
        self
    }

    /// A write transaction of an operation: `write`, then (with triggers off)
    /// the suppression of the triggers of the tag changes it made.
    fn write<T>(&self, mut write: impl FnMut(&Tx<'_>) -> Result<T>) -> Result<T> {
        self.store.write(|tx| {
            let before = tx.last_seq()?;
            let value = write(tx)?;
            if !self.triggers {
                crate::suppression::suppress_since(tx, before)?;
            }
            Ok(value)
        })
    }

    /// The store.
    pub fn store(&self) -> &Store {
        self.store
    }

    /// Follow the pending tag changes now.
    pub async fn follow(&self) -> Result<MirrorReport> {
        follow_tag_changes(self.store, &self.engine, self.registry, self.consumers).await
    }

    async fn finish<T>(&self, value: T) -> Outcome<T> {
        match self.follow().await {
            Ok(mirror) => Outcome { value, mirror, mirror_error: None },
            Err(e) => Outcome { value, mirror: MirrorReport::default(), mirror_error: Some(e) },
        }
    }

    /// Resolve a `DockerImage` source for `destination`. A stream with a
    /// registry asks the source's registry. A stream without one also looks
    /// in the local engine: first with [`Lookup::EngineFirst`], else when the
    /// registry cannot give the image.
    pub(crate) async fn resolve_source(
        &self,
        pull_spec: &str,
        destination: &StreamTag,
        insecure: bool,
        import_mode: &str,
        lookup: Lookup,
    ) -> Result<ImportResult> {
        let stream: Option<ImageStream> =
            self.store.read(|tx| tx.get_as(&destination.namespace, &destination.stream))?;
        let stream = stream.unwrap_or_else(|| ImageStream::new(&destination.namespace, &destination.stream));
        let in_engine = || async {
            match (&self.engine, stream.registry()) {
                (Ok(runtime), None) => resolve_in_engine(*runtime, pull_spec).await,
                _ => Ok(None),
            }
        };
        if lookup == Lookup::EngineFirst
            && let Some(resolved) = in_engine().await?
        {
            return Ok(Ok(resolved));
        }
        let (spec, mode) = (pull_spec.to_owned(), import_mode.to_owned());
        let result = self.registry.call(move |registry| registry.import(&spec, insecure, &mode)).await;
        if lookup == Lookup::RegistryFirst
            && result.is_err()
            && let Some(resolved) = in_engine().await?
        {
            return Ok(Ok(resolved));
        }
        Ok(result.map_err(|e| {
            let mut failure = import_failure(e);
            if stream.registry().is_none() && self.engine.is_ok() {
                failure.message = format!("the engine does not have {pull_spec}, and {}", failure.message);
            }
            failure
        }))
    }

    /// `tag`: point the request's destinations at its source.
    pub async fn tag(&self, request: &TagRequest) -> Result<Outcome<Vec<TagOutcome>>> {
        let mut imports = BTreeMap::new();
        if let (TagSource::DockerImage(spec), false) = (&request.source, request.reference) {
            let mode = request.import_mode.as_deref().unwrap_or(IMPORT_MODE_LEGACY);
            // A scheduled tag follows its registry from the start.
            let lookup = if request.scheduled { Lookup::RegistryFirst } else { Lookup::EngineFirst };
            for destination in &request.destinations {
                let result = self.resolve_source(spec, destination, request.insecure, mode, lookup).await?;
                imports.insert(destination.clone(), result);
            }
        }
        let outcomes = self.write(|tx| streams::tag(tx, request, &imports))?;
        Ok(self.finish(outcomes).await)
    }

    /// `import-image`: import the destination tag's source now (see
    /// [`ImportRequest`]). A tag without a spec tag, of a stream with
    /// `spec.dockerImageRepository`, imports that repository again
    /// ([`ImageStreams::import_repository`]).
    pub async fn import_image(&self, request: &ImportRequest) -> Result<Outcome<StreamWrite>> {
        let destination = &request.destination;
        let stream: Option<ImageStream> =
            self.store.read(|tx| tx.get_as(&destination.namespace, &destination.stream))?;
        if request.all {
            return self.import_all(request, stream).await;
        }
        let current = stream.as_ref().and_then(|s| s.spec_tag(&destination.tag)).cloned();
        // A tag no spec tag names, of a stream with a repository: the
        // repository is imported again (as `oc import-image STREAM` does).
        if request.from.is_none()
            && current.is_none()
            && let Some(write) = self.import_repository(&destination.namespace, &destination.stream, true).await?
        {
            return Ok(self.finish(write).await);
        }
        let current_source = current.as_ref().and_then(|t| t.from.as_ref());
        if let Some(from) = current_source.filter(|f| f.kind != KIND_DOCKER_IMAGE) {
            return Err(Error::NotImported {
                tag: destination.display_from(&destination.namespace),
                kind: from.kind.clone(),
                name: from.name.clone(),
            });
        }
        let source = match (&request.from, current_source) {
            (Some(from), Some(current)) if *from != current.name && !request.confirm => {
                return Err(Error::InvalidRequest {
                    message: format!(
                        "tag {} imports from {}, not {from}",
                        destination.display_from(&destination.namespace),
                        current.name
                    ),
                    help: "add --confirm to change the tag's source".into(),
                });
            }
            (Some(from), _) => from.clone(),
            (None, Some(current)) => current.name.clone(),
            (None, None) => {
                return Err(Error::InvalidRequest {
                    message: format!(
                        "{} has no source to import from",
                        destination.display_from(&destination.namespace)
                    ),
                    help: "name one with --from PULLSPEC --confirm".into(),
                });
            }
        };
        if current.is_none() && !request.confirm {
            let what = match stream {
                None => format!("image stream {:?}", destination.stream),
                Some(_) => format!("tag {}", destination.display_from(&destination.namespace)),
            };
            return Err(Error::InvalidRequest {
                message: format!("the {what} does not exist yet"),
                help: format!("add --confirm to create it and import {source}"),
            });
        }
        ImageReference::parse(&source).map_err(|e| Error::InvalidRequest {
            message: e.to_string(),
            help: "write the source as [registry/]repository[:tag][@digest]".into(),
        })?;
        let mode = request.import_mode.clone().unwrap_or_else(|| IMPORT_MODE_LEGACY.into());
        let result = self.resolve_source(&source, destination, request.insecure, &mode, Lookup::RegistryFirst).await?;
        let reference_policy = match (&request.reference_policy, &current) {
            (Some(policy), _) => policy.clone(),
            (None, Some(tag)) if !tag.reference_policy.kind.is_empty() => tag.reference_policy.kind.clone(),
            _ => REFERENCE_POLICY_SOURCE.into(),
        };
        let spec = TagReference {
            name: destination.tag.clone(),
            annotations: current.as_ref().and_then(|t| t.annotations.clone()),
            from: Some(ObjectReference::new(KIND_DOCKER_IMAGE, source)),
            reference: false,
            generation: Some(0),
            import_policy: TagImportPolicy {
                insecure: request.insecure,
                scheduled: request
                    .scheduled
                    .unwrap_or_else(|| current.as_ref().is_some_and(|t| t.import_policy.scheduled)),
                import_mode: mode,
            },
            reference_policy: TagReferencePolicy { kind: reference_policy },
        };
        let imports = BTreeMap::from([(destination.tag.clone(), result)]);
        let write = self.write(|tx| {
            let mut stream: ImageStream = tx
                .get_as(&destination.namespace, &destination.stream)?
                .unwrap_or_else(|| ImageStream::new(&destination.namespace, &destination.stream));
            stream.spec.tags.retain(|t| t.name != destination.tag);
            stream.spec.tags.push(spec.clone());
            stream.metadata.resource_version.clear();
            write_stream(tx, stream, &imports)
        })?;
        Ok(self.finish(write).await)
    }

    /// `import-image --all`: the repository `from` names becomes the
    /// stream's `spec.dockerImageRepository` and is imported now.
    async fn import_all(&self, request: &ImportRequest, stream: Option<ImageStream>) -> Result<Outcome<StreamWrite>> {
        let destination = &request.destination;
        let current = stream.as_ref().map(|s| s.spec.docker_image_repository.clone()).unwrap_or_default();
        let repository = match &request.from {
            Some(from) => from.clone(),
            None if !current.is_empty() => current.clone(),
            None => {
                return Err(Error::InvalidRequest {
                    message: format!("image stream {:?} names no repository to import", destination.stream),
                    help: "name one with --from REPOSITORY --confirm".into(),
                });
            }
        };
        let parsed = ImageReference::parse(&repository).map_err(|e| Error::InvalidRequest {
            message: e.to_string(),
            help: "write the repository as [registry/]repository".into(),
        })?;
        if parsed.tag.is_some() || parsed.digest.is_some() {
            return Err(Error::InvalidRequest {
                message: format!("--all imports a whole repository; {repository} names one image"),
                help: "leave the tag or digest out of --from".into(),
            });
        }
        if repository != current && !request.confirm {
            let message = match &stream {
                None => format!("the image stream {:?} does not exist yet", destination.stream),
                Some(_) if current.is_empty() => {
                    format!("image stream {:?} does not import a repository yet", destination.stream)
                }
                Some(_) => format!("image stream {:?} imports {current}, not {repository}", destination.stream),
            };
            return Err(Error::InvalidRequest { message, help: format!("add --confirm to import {repository}") });
        }
        if repository != current || request.insecure {
            self.write(|tx| {
                let mut stream: ImageStream = tx
                    .get_as(&destination.namespace, &destination.stream)?
                    .unwrap_or_else(|| ImageStream::new(&destination.namespace, &destination.stream));
                stream.spec.docker_image_repository = repository.clone();
                if request.insecure {
                    stream.metadata.annotations.insert(INSECURE_REPOSITORY_ANNOTATION.into(), "true".into());
                }
                stream.metadata.resource_version.clear();
                write_stream(tx, stream, &BTreeMap::new())
            })?;
        }
        let write = self.import_repository(&destination.namespace, &destination.stream, true).await?;
        let write = match write {
            Some(write) => write,
            None => return Err(streams::stream_not_found(&destination.namespace, &destination.stream)),
        };
        Ok(self.finish(write).await)
    }

    /// Create or update a stream as written by a client (e.g. `apply -f`),
    /// then import the tags that need it.
    pub async fn apply_stream(&self, stream: ImageStream) -> Result<Outcome<StreamWrite>> {
        let empty = BTreeMap::new();
        let mut write = self.write(|tx| write_stream(tx, stream.clone(), &empty))?;
        write.pending_imports.clear();
        let failures = self
            .import_pending(&write.stream.metadata.namespace, &write.stream.metadata.name, Lookup::EngineFirst)
            .await?;
        write.failed_imports.extend(failures);
        if let Some(stream) =
            self.store.read(|tx| tx.get_as(&write.stream.metadata.namespace, &write.stream.metadata.name))?
        {
            write.stream = stream;
        }
        Ok(self.finish(write).await)
    }

    /// Import every tag of stream `namespace/name` whose source has not been
    /// imported at its generation (OpenShift's import controller does this; docs/compatibility.md#imports).
    /// Returns the failed imports, by tag; they are also recorded as the
    /// tags' conditions.
    pub async fn import_pending(
        &self,
        namespace: &str,
        name: &str,
        lookup: Lookup,
    ) -> Result<Vec<(String, ImportFailure)>> {
        let mut failures = Vec::new();
        if let Some(write) = self.import_repository(namespace, name, false).await? {
            failures.extend(write.failed_imports);
        }
        let Some(stream) = self.store.read(|tx| tx.get_as::<ImageStream>(namespace, name))? else {
            return Ok(failures);
        };
        for import in streams::pending_imports(&stream) {
            let destination =
                StreamTag { namespace: namespace.to_owned(), stream: name.to_owned(), tag: import.tag.clone() };
            let mode = stream
                .spec_tag(&import.tag)
                .map(|t| t.import_policy.import_mode.clone())
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| IMPORT_MODE_LEGACY.into());
            let result = self.resolve_source(&import.from, &destination, import.insecure, &mode, lookup).await?;
            if let Some(recorded) =
                self.write(|tx| streams::record_import(tx, &destination, import.generation, &result))?
            {
                failures.extend(recorded.failed_imports);
            }
        }
        Ok(failures)
    }

    /// Import the repository of stream `namespace/name`'s
    /// `spec.dockerImageRepository` (see [`crate::repository`]): when it has
    /// not been imported yet, or, with `again`, anyway (`import-image
    /// STREAM`). The registry is asked with no transaction open; the tags are
    /// then recorded in one. `None` when the stream has no repository to
    /// import (or is gone).
    pub async fn import_repository(&self, namespace: &str, name: &str, again: bool) -> Result<Option<StreamWrite>> {
        let Some(stream) = self.store.read(|tx| tx.get_as::<ImageStream>(namespace, name))? else {
            return Ok(None);
        };
        let Some(import) = repository_import(&stream, again) else { return Ok(None) };
        let result = self.list_and_import(&stream, &import).await;
        let write =
            self.write(|tx| streams::record_repository_import(tx, namespace, name, &import.repository, &result))?;
        Ok(write)
    }

    /// The tags a repository import takes, each imported; or why the
    /// repository could not be listed.
    async fn list_and_import(
        &self,
        stream: &ImageStream,
        import: &RepositoryImport,
    ) -> std::result::Result<Vec<(String, ImportResult)>, ImportFailure> {
        let reference = ImageReference::parse(&import.repository).map_err(|e| ImportFailure {
            reason: "InternalError".into(),
            message: format!("spec.dockerImageRepository: {e}"),
        })?;
        let normalized = reference.normalized();
        let (registry, path, insecure) =
            (normalized.registry_or_default().to_owned(), normalized.repository.clone(), import.insecure);
        let listed = self
            .registry
            .call(move |client| client.list_tags(&registry, &path, insecure))
            .await
            .map_err(import_failure)?;
        let mut imported = Vec::new();
        for tag in tags_to_import(listed) {
            // The spec's tag of that name is the user's: not imported from here.
            if stream.spec_tag(&tag).is_some() {
                continue;
            }
            let spec = format!("{}:{tag}", import.repository);
            let result = self
                .registry
                .call(move |client| client.import(&spec, insecure, IMPORT_MODE_LEGACY))
                .await
                .map_err(import_failure);
            imported.push((tag, result));
        }
        Ok(imported)
    }

    /// Every scheduled tag of the store, in all namespaces ([`streams::scheduled_tags`]).
    pub fn scheduled_tags(&self) -> Result<Vec<StreamTag>> {
        self.store.read(|tx| {
            let streams = tx.list_as::<ImageStream>(None)?;
            Ok(streams
                .iter()
                .flat_map(|stream| {
                    streams::scheduled_tags(stream).into_iter().map(|tag| StreamTag {
                        namespace: stream.metadata.namespace.clone(),
                        stream: stream.metadata.name.clone(),
                        tag,
                    })
                })
                .collect())
        })
    }

    /// The scheduled tags due at `now` by `schedule` ([`ImportSchedule::due`]);
    /// the store's streams are listed again only when it changed since the last call.
    pub fn due_scheduled(&self, schedule: &mut ImportSchedule, now: Instant) -> Result<Vec<StreamTag>> {
        let revision = self.store.read(|tx| tx.revision())?;
        let tags = match schedule.known.take() {
            Some((known, tags)) if known == revision => tags,
            _ => self.scheduled_tags()?,
        };
        let due = schedule.due(&tags, now);
        schedule.known = Some((revision, tags));
        Ok(due)
    }

    /// Re-import `tags` from their sources: as OpenShift's scheduled
    /// importer does, each gets a new generation and is imported again. A
    /// source that names the same image leaves the history as it is; a new
    /// image moves the tag. Tags that are no longer scheduled are skipped.
    pub async fn import_scheduled(&self, tags: &[StreamTag]) -> Result<Outcome<Vec<ScheduledImport>>> {
        let mut by_stream: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for tag in tags {
            by_stream.entry((tag.namespace.clone(), tag.stream.clone())).or_default().push(tag.tag.clone());
        }
        let mut imports = Vec::new();
        for ((namespace, name), wanted) in by_stream {
            let (due, before) = self.write(|tx| {
                let Some(stream) = tx.get_as::<ImageStream>(&namespace, &name)? else {
                    return Ok((Vec::new(), BTreeMap::new()));
                };
                let scheduled = streams::scheduled_tags(&stream);
                let due: Vec<String> = wanted.iter().filter(|tag| scheduled.contains(tag)).cloned().collect();
                let before = latest_images(&stream, &due);
                if !due.is_empty() {
                    let mut new = stream.clone();
                    for spec in &mut new.spec.tags {
                        if due.contains(&spec.name) {
                            spec.generation = Some(0);
                        }
                    }
                    new.metadata.resource_version.clear();
                    write_stream(tx, new, &BTreeMap::new())?;
                }
                Ok((due, before))
            })?;
            if due.is_empty() {
                continue;
            }
            let failures: BTreeMap<String, ImportFailure> =
                self.import_pending(&namespace, &name, Lookup::RegistryFirst).await?.into_iter().collect();
            let after = match self.store.read(|tx| tx.get_as::<ImageStream>(&namespace, &name))? {
                Some(stream) => latest_images(&stream, &due),
                None => BTreeMap::new(),
            };
            for tag in due {
                let result = match (failures.get(&tag), after.get(&tag)) {
                    (Some(failure), _) => ScheduledResult::Failed(failure.clone()),
                    (None, Some(image)) if before.get(&tag) != Some(image) => {
                        ScheduledResult::Updated { image: image.clone() }
                    }
                    _ => ScheduledResult::Unchanged,
                };
                let tag = StreamTag { namespace: namespace.clone(), stream: name.clone(), tag };
                imports.push(ScheduledImport { tag, result });
            }
        }
        Ok(self.finish(imports).await)
    }

    /// Follow the pending tag changes, as an [`Outcome`] without a value.
    pub async fn follow_now(&self) -> Outcome<()> {
        self.finish(()).await
    }

    /// Delete a tag and its history.
    pub async fn delete_tag(&self, tag: &StreamTag) -> Result<Outcome<StreamWrite>> {
        let write = self.store.write(|tx| streams::delete_tag(tx, tag))?;
        Ok(self.finish(write).await)
    }

    /// Delete a stream.
    pub async fn delete_stream(&self, namespace: &str, name: &str) -> Result<Outcome<ImageStream>> {
        let stream = self.store.write(|tx| streams::delete_stream(tx, namespace, name))?;
        Ok(self.finish(stream).await)
    }

    /// Record an engine image (a build's result) as the new current image of
    /// `destination`: its history, not its spec ([`streams::record_image`];
    /// the image's labels stay in its own metadata). A stream
    /// that keeps its images in a registry gets the image pushed there first
    /// (as `<registry>/<namespace>/<stream>:<tag>`, by s2i's registry client
    /// with the push credentials given, else those of the login files), then
    /// records the digest the registry serves.
    pub async fn record_build(&self, destination: &StreamTag, image: &str) -> Result<Outcome<StreamWrite>> {
        let stream: Option<ImageStream> =
            self.store.read(|tx| tx.get_as(&destination.namespace, &destination.stream))?;
        let runtime = self.engine.as_ref().map_err(|why| Error::Engine {
            operation: format!("inspect {image}"),
            message: why.clone(),
            change_kept: false,
            help: "start the container engine".into(),
        })?;
        if let Some((stream, target)) = stream.as_ref().and_then(|s| Some((s, push_target(s, destination)?))) {
            runtime
                .tag_image(image, &stream.repository(), &destination.tag)
                .await
                .map_err(|e| crate::engine::engine_error(&format!("tag {image} as {target}"), &e))?;
            self.push(*runtime, stream, image, &target).await?;
            return self.record_pushed(destination, &target).await;
        }
        let resolved = resolve_in_engine(*runtime, image).await?.ok_or_else(|| Error::NotFound {
            kind: "engine image".into(),
            namespace: String::new(),
            name: image.into(),
            referenced: false,
            help: "the container engine does not have this image; build it or pull it first".into(),
        })?;
        let write = self.write(|tx| streams::record_image(tx, destination, &resolved))?;
        Ok(self.finish(write).await)
    }

    /// Push engine image `image` to `target` with s2i's registry client (the
    /// image writer's `docker://` push: blobs the registry has are not sent,
    /// an OCI manifest), the push credentials first, then the login files.
    async fn push(
        &self,
        runtime: &dyn s2i_core::ContainerRuntime,
        stream: &ImageStream,
        image: &str,
        target: &str,
    ) -> Result<()> {
        let failed = |message: String, help: String| Error::Push { target: target.to_owned(), message, help };
        let reference = s2i_core::reference::ImageReference::parse(target)
            .map_err(|e| failed(e.to_string(), "check the stream's registry annotation".into()))?;
        let id = if image.starts_with("sha256:") {
            image.to_owned()
        } else {
            match runtime.inspect_image(image).await {
                Ok(Some(info)) => info.id,
                Ok(None) => return Err(failed(format!("the engine has no image {image}"), "build it first".into())),
                Err(e) => return Err(crate::engine::engine_error(&format!("inspect {image}"), &e)),
            }
        };
        let mut push = s2i_core::build::RegistryPush::new(id, reference, std::env::temp_dir());
        push.credentials = self.push_credentials.cloned();
        push.insecure =
            stream.metadata.annotations.get(crate::types::INSECURE_REPOSITORY_ANNOTATION).is_some_and(|v| v == "true");
        s2i_core::build::push_engine_image(runtime, &s2i_core::NoEvents, &push).await.map(drop).map_err(|e| {
            use miette::Diagnostic;
            let help = e.help().map(|h| h.to_string()).unwrap_or_default();
            match e {
                s2i_core::Error::OutputFailed { message, .. } => failed(message, help),
                other => failed(other.to_string(), help),
            }
        })
    }

    /// Record an image pushed to the registry of `destination`'s stream (the
    /// push path of [`Self::record_build`]): its manifest is resolved there,
    /// then recorded as the tag's new current image.
    async fn record_pushed(&self, destination: &StreamTag, pull_spec: &str) -> Result<Outcome<StreamWrite>> {
        let stream: Option<ImageStream> =
            self.store.read(|tx| tx.get_as(&destination.namespace, &destination.stream))?;
        let insecure = stream
            .as_ref()
            .and_then(|s| s.metadata.annotations.get(crate::types::INSECURE_REPOSITORY_ANNOTATION))
            .is_some_and(|v| v == "true");
        let spec = pull_spec.to_owned();
        let resolved =
            self.registry.call(move |registry| registry.import(&spec, insecure, IMPORT_MODE_LEGACY)).await.map_err(
                |e| Error::Registry {
                    operation: format!("resolve the pushed image {pull_spec}"),
                    kind: e.kind,
                    message: e.to_string(),
                    help: "check that the registry is reachable and that the push succeeded".into(),
                },
            )?;
        let write = self.write(|tx| streams::record_image(tx, destination, &resolved))?;
        Ok(self.finish(write).await)
    }
}

impl ImportFailure {
    /// The failure as an error to report, for `tag` (`<stream>:<tag>`).
    pub fn to_error(&self, tag: &str) -> Error {
        Error::ImportFailed { tag: tag.to_owned(), reason: self.reason.clone(), message: self.message.clone() }
    }
}

/// Check the store's image streams (for `check`); see [`streams::check_streams`].
pub fn check(store: &Store) -> Result<Vec<String>> {
    let mut problems = store.check()?;
    problems.extend(store.read(streams::check_streams)?);
    Ok(problems)
}

/// Where a build recorded into `destination` is pushed when its stream keeps
/// its images in a registry: `<registry>/<namespace>/<stream>:<tag>`.
pub fn push_target(stream: &ImageStream, destination: &StreamTag) -> Option<String> {
    stream.registry().map(|_| format!("{}:{}", stream.repository(), destination.tag))
}

/// The newest image of each of `tags` that has one.
fn latest_images(stream: &ImageStream, tags: &[String]) -> BTreeMap<String, String> {
    tags.iter().filter_map(|tag| stream.latest(tag).map(|item| (tag.clone(), item.image.clone()))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(name: &str) -> StreamTag {
        StreamTag::parse(name, "dev").unwrap()
    }

    #[test]
    fn scheduled_tags_are_due_when_first_seen_then_every_interval() {
        let mut schedule = ImportSchedule::new(Duration::from_secs(60));
        let start = Instant::now();
        let (a, b) = (tag("app:1"), tag("app:2"));
        let both = [a.clone(), b.clone()];
        assert_eq!(schedule.due(&both[..1], start), &both[..1]);
        assert!(schedule.due(&both[..1], start + Duration::from_secs(59)).is_empty());
        // A tag scheduled later is due at once; the first one at its interval.
        assert_eq!(schedule.due(&both, start + Duration::from_secs(59)), &both[1..]);
        assert_eq!(schedule.due(&both, start + Duration::from_secs(60)), &both[..1]);
        // A tag no longer scheduled is forgotten: scheduled again, it is due at once.
        assert!(schedule.due(&both[1..], start + Duration::from_secs(61)).is_empty());
        assert_eq!(schedule.due(&both, start + Duration::from_secs(62)), &both[..1]);
    }
}
