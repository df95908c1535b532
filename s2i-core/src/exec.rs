//! Running build containers: attach, feed stdin, relay output, wait; and the
//! bookkeeping that makes sure every container a build creates goes away.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::archive::{self, ArchiveProgress, ArchiveStats, InputArchive};
use crate::error::{Error, Result};
use crate::events::{BuildEvent, EventSink, EventSinkExt, Stage};
use crate::owner::{OWNER_FILE, OWNER_LABEL, ProcessOwner};
use crate::runtime::{
    ByteStream, ContainerRuntime, ContainerSpec, ExitStatus, OutputChunk, OutputKind, RuntimeError, RuntimeErrorKind,
    StdinWriter,
};

/// Output lines kept to explain a failed script.
const TAIL_LINES: usize = 20;

/// Containers a build created, removed whatever happens.
#[derive(Default)]
pub(crate) struct Cleanup {
    containers: Mutex<Vec<String>>,
}

impl Cleanup {
    pub(crate) fn add(&self, id: &str) {
        self.containers.lock().expect("cleanup lock").push(id.to_owned());
    }

    /// The container named `name` now has the ID `id`.
    fn created(&self, name: &str, id: &str) {
        let mut containers = self.containers.lock().expect("cleanup lock");
        containers.retain(|c| c != name);
        containers.push(id.to_owned());
    }

    /// Remove one container now (a failed attempt), and forget it.
    pub(crate) async fn remove_now(&self, runtime: &dyn ContainerRuntime, events: &dyn EventSink, id: &str) {
        self.containers.lock().expect("cleanup lock").retain(|c| c != id);
        remove(runtime, events, id).await;
    }

    /// Remove every container still registered.
    pub(crate) async fn run(&self, runtime: &dyn ContainerRuntime, events: &dyn EventSink) {
        let ids: Vec<String> = std::mem::take(&mut *self.containers.lock().expect("cleanup lock"));
        for id in ids {
            remove(runtime, events, &id).await;
        }
    }
}

/// Attempts at removing one container: an engine can refuse while the
/// container is between states (Podman: "container state improper" while it
/// starts or stops), and a refusal there must not leave it behind.
const REMOVE_ATTEMPTS: u32 = 5;

async fn remove(runtime: &dyn ContainerRuntime, events: &dyn EventSink, id: &str) {
    let removed = crate::retry::retry(
        REMOVE_ATTEMPTS,
        Duration::from_millis(500),
        |e: &RuntimeError| !e.is_not_found() && e.kind != RuntimeErrorKind::Unreachable,
        |_| runtime.remove_container(id),
    )
    .await;
    match removed {
        Ok(()) => events.debug(format!("Removed container {}", short_id(id))),
        Err(e) if e.is_not_found() => {}
        Err(e) if e.kind == RuntimeErrorKind::Unreachable => events.warn(format!(
            "could not remove container {} (the engine does not answer); the next s2i run removes it",
            short_id(id)
        )),
        Err(e) => events.warn(format!("could not remove container {}: {e}", short_id(id))),
    }
}

/// The working directory of one build; removed on drop unless kept. Its
/// name and [`OWNER_FILE`] name this process, so that the next run removes it
/// when this one is killed (see [`crate::owner`]).
pub(crate) struct Workdir {
    dir: Option<tempfile::TempDir>,
    pub(crate) path: PathBuf,
}

impl Workdir {
    pub(crate) fn new(root: Option<&Path>) -> Result<Self> {
        let root = root.map_or_else(std::env::temp_dir, Path::to_owned);
        let owner = ProcessOwner::current();
        let dir =
            tempfile::Builder::new().prefix(&crate::owner::workdir_prefix(&owner)).tempdir_in(&root).map_err(|e| {
                Error::io("create a working directory in", &root, "make the temp directory writable, or set TMPDIR", e)
            })?;
        let owner_file = dir.path().join(OWNER_FILE);
        std::fs::write(&owner_file, owner.to_string())
            .map_err(|e| Error::io("write", &owner_file, "make the temp directory writable, or set TMPDIR", e))?;
        let path = dir.path().to_owned();
        Ok(Self { dir: Some(dir), path })
    }

    /// Keep the directory: it no longer names an owner, so no later run removes it.
    pub(crate) fn keep(&mut self) -> PathBuf {
        if let Some(dir) = self.dir.take() {
            let _ = std::fs::write(dir.path().join(OWNER_FILE), "kept (--save-temp-dir)\n");
            let _ = dir.keep();
        }
        self.path.clone()
    }
}

/// Times a stage and reports its start and end.
pub(crate) struct StageTimer {
    stage: Stage,
    started: Instant,
}

impl StageTimer {
    pub(crate) fn start(events: &dyn EventSink, stage: Stage, subject: &str) -> Self {
        events.emit(BuildEvent::StageStarted { stage, subject: subject.to_owned() });
        Self { stage, started: Instant::now() }
    }

    pub(crate) fn finish(self, events: &dyn EventSink) {
        events.emit(BuildEvent::StageFinished { stage: self.stage, elapsed: self.started.elapsed() });
    }
}

/// Create a container and register it for cleanup.
pub(crate) async fn create_container(
    runtime: &dyn ContainerRuntime,
    events: &dyn EventSink,
    cleanup: &Cleanup,
    spec: &ContainerSpec,
) -> Result<String> {
    // Registered by name first: when the build is cancelled while the request
    // is in flight, the engine may still create the container, and cleanup
    // then removes it by that name.
    if let Some(name) = &spec.name {
        cleanup.add(name);
    }
    // The owner label lets the next run remove the container when this process is killed.
    let mut spec = spec.clone();
    spec.labels.insert(OWNER_LABEL.to_owned(), owner_label().to_owned());
    let spec = &spec;
    let id = runtime
        .create_container(spec)
        .await
        .map_err(|e| Error::runtime(format!("create a container from {}", spec.image), e))?;
    match &spec.name {
        Some(name) => cleanup.created(name, &id),
        None => cleanup.add(&id),
    }
    let command: Vec<&str> = spec.entrypoint.iter().flatten().chain(&spec.cmd).map(String::as_str).collect();
    events.debug(format!("Created container {} ({})", short_id(&id), command.join(" ")));
    Ok(id)
}

/// This process as an [`OWNER_LABEL`] value, read once.
fn owner_label() -> &'static str {
    static LABEL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    LABEL.get_or_init(|| ProcessOwner::current().to_string())
}

/// Start the archive producer on a blocking thread, reporting progress and dropped artifacts as events.
pub(crate) fn spawn_archive(
    events: Arc<dyn EventSink>,
    archive: InputArchive,
) -> (ByteStream, tokio::task::JoinHandle<Result<ArchiveStats>>) {
    archive::spawn_producer(move |writer| {
        let mut last = Instant::now();
        let mut dropped = 0u64;
        let mut kept = 0u64;
        let mut progress = |p: ArchiveProgress<'_>| match p {
            ArchiveProgress::Totals(stats) => {
                if last.elapsed() >= Duration::from_millis(100) {
                    last = Instant::now();
                    events.emit(BuildEvent::Upload { files: stats.entries, bytes: stats.bytes, done: false });
                }
            }
            ArchiveProgress::DroppedEntry { what, path, reason } => {
                dropped += 1;
                if dropped <= 50 {
                    let kind = if what == "the artifacts" { "artifact".to_owned() } else { format!("entry of {what}") };
                    events.warn(format!("Dropped {kind} {path:?}: {reason}"));
                } else if dropped == 51 {
                    events.warn("More artifacts were dropped; only the first 50 are listed");
                }
            }
            ArchiveProgress::KeptOutsideLink { path, target } => {
                kept += 1;
                if kept <= 50 {
                    events.warn(format!("Kept {path} as a symlink: it points outside the source ({target})"));
                } else if kept == 51 {
                    events.warn("More symlinks point outside the source; only the first 50 are listed");
                }
            }
        };
        let stats = archive::write_archive(archive, writer, &mut progress)?;
        events.emit(BuildEvent::Upload { files: stats.entries, bytes: stats.bytes, done: true });
        if stats.artifacts > 0 || stats.artifacts_dropped > 0 {
            events.info(format!(
                "Restored the artifacts of the previous image: {} entries{}",
                stats.artifacts,
                if stats.artifacts_dropped > 0 {
                    format!(" ({} dropped, see above)", stats.artifacts_dropped)
                } else {
                    String::new()
                }
            ));
        }
        if stats.skipped_special > 0 {
            events.detail(format!("Left out {} sockets, FIFOs or device files of the source", stats.skipped_special));
        }
        Ok(stats)
    })
}

/// How an attached run ended.
pub(crate) enum RunEnd {
    /// The container exited.
    Exited {
        /// Exit status.
        status: ExitStatus,
        /// The last lines of its output.
        tail: Vec<String>,
    },
    /// The stdin stream failed (the producer's error tells why); the container was left running.
    FeedFailed,
}

/// Attach to a created container, start it, feed `stdin`, relay its output as
/// events and wait for it.
pub(crate) async fn run_attached(
    runtime: &dyn ContainerRuntime,
    events: &Arc<dyn EventSink>,
    secrets: &[String],
    container: &str,
    stdin: Option<ByteStream>,
    what: &str,
) -> Result<RunEnd> {
    let attachment = runtime
        .attach_container(container, stdin.is_some())
        .await
        .map_err(|e| Error::runtime(format!("attach to the {what} container"), e))?;
    runtime.start_container(container).await.map_err(|e| Error::runtime(format!("start {what}"), e))?;
    let mut writer = match (stdin, attachment.stdin) {
        (Some(stream), Some(sink)) => Some(tokio::spawn(feed_stdin(stream, sink))),
        _ => None,
    };
    let mut output = attachment.output;
    let mut lines = LineSplitter::new(events.clone(), secrets.to_vec());
    let mut read_error = None;
    loop {
        tokio::select! {
            chunk = output.next() => match chunk {
                Some(Ok(chunk)) => lines.push(&chunk),
                // Podman resets the attach connection when the container exits while its
                // stdin is still being written (an assemble that fails at once, e.g. without
                // tar): the exit status, not the reset, says what happened.
                Some(Err(e)) => {
                    read_error = Some(e);
                    break;
                }
                None => break,
            },
            result = async { writer.as_mut().expect("guarded").await }, if writer.is_some() => {
                writer = None;
                if let Ok(Err(FeedError::Source)) = result {
                    lines.finish();
                    return Ok(RunEnd::FeedFailed);
                }
            }
        }
    }
    lines.finish();
    if read_error.is_some()
        && let Some(writer) = writer.take()
    {
        // Without its connection the stdin writer can only fail; the container sees the end of its input.
        writer.abort();
    }
    let status = match (runtime.wait_container(container).await, read_error) {
        (Ok(status), None) => status,
        (Ok(status), Some(e)) => {
            let lost = format!("the engine closed the output of {what} early ({e}); it exited with {}", status.code);
            if status.code == 0 {
                events.warn(lost)
            } else {
                events.debug(lost)
            }
            status
        }
        (Err(_), Some(e)) => return Err(Error::runtime(format!("read the output of {what}"), e)),
        (Err(e), None) => return Err(Error::runtime(format!("wait for {what}"), e)),
    };
    if let Some(writer) = writer {
        // The container has exited; its stdin is gone, so the writer ends promptly.
        let _ = tokio::time::timeout(Duration::from_secs(10), writer).await;
    }
    Ok(RunEnd::Exited { status, tail: lines.tail() })
}

/// The error for a script that exited non-zero.
pub(crate) fn script_failed(script: &str, image: &str, status: &ExitStatus, tail: &[String]) -> Error {
    let mut help = String::new();
    if !tail.is_empty() {
        help.push_str(&format!("last lines of its output:\n{}\n", tail.join("\n")));
    }
    if status.oom_killed {
        help.push_str("the container ran out of memory\n");
    }
    if let Some(error) = status.error.as_deref().filter(|e| !e.is_empty()) {
        help.push_str(&format!("the engine says: {error}\n"));
    }
    help.push_str(&format!("fix the {script} script or the source it builds, then build again"));
    Error::ScriptFailed {
        script: script.to_owned(),
        code: status.code,
        image: image.to_owned(),
        oom_killed: status.oom_killed,
        help,
    }
}

/// Why feeding stdin stopped early.
enum FeedError {
    /// The archive producer failed.
    Source,
    /// The container stopped reading.
    Sink,
}

async fn feed_stdin(mut stream: ByteStream, mut sink: StdinWriter) -> std::result::Result<(), FeedError> {
    while let Some(chunk) = stream.next().await {
        let chunk: Bytes = chunk.map_err(|_| FeedError::Source)?;
        sink.write_all(&chunk).await.map_err(|_| FeedError::Sink)?;
    }
    sink.flush().await.map_err(|_| FeedError::Sink)?;
    sink.shutdown().await.map_err(|_| FeedError::Sink)?;
    Ok(())
}

/// Wait for the archive producer. When the container already failed, a
/// producer still blocked on its output is not the story.
pub(crate) async fn finish_producer<T: Default>(
    producer: tokio::task::JoinHandle<Result<T>>,
    container_ok: bool,
) -> Result<T> {
    match tokio::time::timeout(Duration::from_secs(30), producer).await {
        Ok(Ok(result)) => result,
        Ok(Err(e)) => Err(join_error(e)),
        Err(_) if !container_ok => Ok(T::default()),
        Err(_) => Err(Error::Io {
            action: "finish the input archive for".into(),
            path: PathBuf::from("assemble"),
            help: "the source tree may be on a stalled file system".into(),
            source: std::io::Error::new(std::io::ErrorKind::TimedOut, "timed out"),
        }),
    }
}

/// Splits container output into lines, relays them as events, keeps the last few.
pub(crate) struct LineSplitter {
    events: Arc<dyn EventSink>,
    secrets: Vec<String>,
    partial: [Vec<u8>; 2],
    tail: VecDeque<String>,
}

impl LineSplitter {
    /// A splitter that replaces each of `secrets` with `redacted` in every line.
    pub(crate) fn new(events: Arc<dyn EventSink>, secrets: Vec<String>) -> Self {
        Self { events, secrets, partial: [Vec::new(), Vec::new()], tail: VecDeque::new() }
    }

    fn index(kind: OutputKind) -> usize {
        match kind {
            OutputKind::Stdout => 0,
            OutputKind::Stderr => 1,
        }
    }

    pub(crate) fn push(&mut self, chunk: &OutputChunk) {
        let i = Self::index(chunk.kind);
        let mut rest: &[u8] = &chunk.bytes;
        while let Some(pos) = rest.iter().position(|b| *b == b'\n') {
            self.partial[i].extend_from_slice(&rest[..pos]);
            let line = std::mem::take(&mut self.partial[i]);
            self.emit(chunk.kind, &line);
            rest = &rest[pos + 1..];
        }
        self.partial[i].extend_from_slice(rest);
    }

    fn emit(&mut self, kind: OutputKind, line: &[u8]) {
        let mut line = String::from_utf8_lossy(line).trim_end_matches('\r').to_owned();
        for secret in &self.secrets {
            if line.contains(secret.as_str()) {
                line = line.replace(secret.as_str(), "redacted");
            }
        }
        if self.tail.len() == TAIL_LINES {
            self.tail.pop_front();
        }
        self.tail.push_back(line.clone());
        self.events.emit(BuildEvent::Output { kind, line });
    }

    pub(crate) fn finish(&mut self) {
        for kind in [OutputKind::Stdout, OutputKind::Stderr] {
            let line = std::mem::take(&mut self.partial[Self::index(kind)]);
            if !line.is_empty() {
                self.emit(kind, &line);
            }
        }
    }

    pub(crate) fn tail(&self) -> Vec<String> {
        self.tail.iter().cloned().collect()
    }
}

pub(crate) fn join_error(e: tokio::task::JoinError) -> Error {
    Error::Io {
        action: "finish a background task of".into(),
        path: PathBuf::from("the build"),
        help: "this is a bug in s2i; please report it".into(),
        source: std::io::Error::other(e.to_string()),
    }
}

/// `s2i_<image with non-alphanumerics as _>_<8 random hex digits>`, as the reference names build containers.
pub fn container_name(image: &str) -> String {
    use std::hash::{BuildHasher, Hasher};
    let sanitized: String = image.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher
        .write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
    format!("s2i_{sanitized}_{:08x}", hasher.finish() as u32)
}

/// The first 12 digits of an ID; a name as it is.
pub(crate) fn short_id(id: &str) -> &str {
    let id = id.strip_prefix("sha256:").unwrap_or(id);
    if id.bytes().all(|b| b.is_ascii_hexdigit()) { &id[..id.len().min(12)] } else { id }
}

/// Quote a word for `/bin/sh` when it needs it.
pub fn sh_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '.' | '_' | '-' | '+' | ':' | '=' | '@' | ','));
    if safe { word.to_owned() } else { format!("'{}'", word.replace('\'', r"'\''")) }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::runtime::*;

    #[test]
    fn container_names_follow_the_reference() {
        let name = container_name("docker.io/a/b:1");
        assert!(name.starts_with("s2i_docker_io_a_b_1_"), "{name}");
        assert_eq!(name.len(), "s2i_docker_io_a_b_1_".len() + 8);
    }

    #[test]
    fn shell_quoting() {
        assert_eq!(sh_quote("/usr/libexec/s2i/assemble"), "/usr/libexec/s2i/assemble");
        assert_eq!(sh_quote("/my dir/it's"), r"'/my dir/it'\''s'");
    }

    #[test]
    fn line_splitter_handles_partial_lines_and_redacts() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = seen.clone();
        let events: Arc<dyn EventSink> = Arc::new(move |e: BuildEvent| {
            if let BuildEvent::Output { line, .. } = e {
                sink.lock().unwrap().push(line);
            }
        });
        let mut s = LineSplitter::new(events, vec!["user:pw".into()]);
        let chunk = |b: &'static [u8]| OutputChunk { kind: OutputKind::Stdout, bytes: Bytes::from_static(b) };
        s.push(&chunk(b"he"));
        s.push(&chunk(b"llo\nproxy http://user:pw@p\r\n"));
        s.push(&chunk(b"tail"));
        s.finish();
        assert_eq!(*seen.lock().unwrap(), vec!["hello", "proxy http://redacted@p", "tail"]);
        assert_eq!(s.tail().len(), 3);
    }

    /// A fake engine. Its containers print `output`, then their attach
    /// connection breaks (as Podman's does when a container exits while its
    /// stdin is written), and they exit with `code`. A create records the
    /// container, then answers only when `create_answers`; a removal is
    /// refused `remove_refusals` times before it works.
    #[derive(Default)]
    struct Fake {
        output: &'static str,
        code: Option<i64>,
        create_answers: bool,
        remove_refusals: std::sync::atomic::AtomicU32,
        containers: Mutex<Vec<String>>,
    }

    fn refuse<T>() -> Result<T, RuntimeError> {
        Err(RuntimeError::new(RuntimeErrorKind::Other, "not used by run_attached"))
    }

    #[async_trait::async_trait]
    impl ContainerRuntime for Fake {
        async fn info(&self) -> Result<RuntimeInfo, RuntimeError> {
            refuse()
        }
        async fn inspect_image(&self, _: &str) -> Result<Option<ImageInfo>, RuntimeError> {
            refuse()
        }
        async fn pull_image(&self, _: &str, _: &(dyn Fn(PullProgress) + Send + Sync)) -> Result<(), RuntimeError> {
            refuse()
        }
        async fn push_image(
            &self,
            _: &str,
            _: &(dyn Fn(PullProgress) + Send + Sync),
        ) -> Result<Option<String>, RuntimeError> {
            refuse()
        }
        async fn create_container(&self, spec: &ContainerSpec) -> Result<String, RuntimeError> {
            let name = spec.name.clone().expect("a named container");
            self.containers.lock().unwrap().push(name.clone());
            if !self.create_answers {
                std::future::pending::<()>().await;
            }
            Ok(format!("id-of-{name}"))
        }
        async fn attach_container(&self, _: &str, _: bool) -> Result<Attachment, RuntimeError> {
            let chunk = OutputChunk { kind: OutputKind::Stderr, bytes: Bytes::from_static(self.output.as_bytes()) };
            let reset = RuntimeError::new(RuntimeErrorKind::Other, "Connection reset by peer (os error 104)");
            let output: OutputStream = Box::pin(futures::stream::iter([Ok(chunk), Err(reset)]));
            Ok(Attachment { stdin: Some(Box::pin(tokio::io::sink())), output })
        }
        async fn start_container(&self, _: &str) -> Result<(), RuntimeError> {
            Ok(())
        }
        async fn wait_container(&self, _: &str) -> Result<ExitStatus, RuntimeError> {
            match self.code {
                Some(code) => Ok(ExitStatus { code, ..ExitStatus::default() }),
                None => refuse(),
            }
        }
        async fn upload_archive(&self, _: &str, _: &str, _: ByteStream) -> Result<(), RuntimeError> {
            refuse()
        }
        async fn download_archive(&self, _: &str, _: &str) -> Result<Option<ByteStream>, RuntimeError> {
            refuse()
        }
        async fn commit_container(&self, _: &str, _: &CommitSpec) -> Result<String, RuntimeError> {
            refuse()
        }
        async fn container_changes(&self, _: &str) -> Result<Vec<ContainerChange>, RuntimeError> {
            refuse()
        }
        async fn export_container(&self, _: &str) -> Result<ByteStream, RuntimeError> {
            refuse()
        }
        fn archives_keep_owners(&self) -> bool {
            true
        }
        async fn export_image(&self, _: &str) -> Result<ByteStream, RuntimeError> {
            refuse()
        }
        async fn load_image(&self, _: ByteStream) -> Result<(), RuntimeError> {
            refuse()
        }
        fn load_needs_every_layer(&self) -> bool {
            false
        }
        async fn remove_container(&self, container: &str) -> Result<(), RuntimeError> {
            use std::sync::atomic::Ordering;
            if self.remove_refusals.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
                return Err(RuntimeError::new(RuntimeErrorKind::Other, "container state improper"));
            }
            let mut containers = self.containers.lock().unwrap();
            let before = containers.len();
            containers.retain(|name| name != container && format!("id-of-{name}") != container);
            if containers.len() == before {
                return Err(RuntimeError::new(RuntimeErrorKind::NotFound, format!("no container {container}")));
            }
            Ok(())
        }
        async fn remove_image(&self, _: &str) -> Result<(), RuntimeError> {
            refuse()
        }
        async fn tag_image(&self, _: &str, _: &str, _: &str) -> Result<(), RuntimeError> {
            refuse()
        }
        async fn network_exists(&self, _: &str) -> Result<bool, RuntimeError> {
            refuse()
        }
        async fn container_exists(&self, _: &str) -> Result<bool, RuntimeError> {
            refuse()
        }
        async fn stat_path(&self, _: &str, _: &str) -> Result<Option<PathStat>, RuntimeError> {
            refuse()
        }
        async fn build_image(
            &self,
            _: ByteStream,
            _: &ImageBuildSpec,
            _: &(dyn Fn(String) + Send + Sync),
        ) -> Result<String, RuntimeError> {
            refuse()
        }
        async fn containers_with_labels(&self, _: &BTreeMap<String, String>) -> Result<Vec<String>, RuntimeError> {
            refuse()
        }
        async fn labelled_containers(&self, _: &str) -> Result<Vec<ContainerSummary>, RuntimeError> {
            refuse()
        }
        async fn list_containers(&self, _: &BTreeMap<String, String>) -> Result<Vec<ContainerSummary>, RuntimeError> {
            refuse()
        }
    }

    #[tokio::test]
    async fn a_broken_attach_connection_yields_the_exit_status() {
        let events: Arc<dyn EventSink> = Arc::new(crate::NoEvents);
        let input = || -> Option<ByteStream> { Some(Box::pin(futures::stream::iter([Ok(Bytes::from_static(b"x"))]))) };
        let exited = Fake { output: "/bin/sh: 1: tar: not found\n", code: Some(127), ..Fake::default() };
        match run_attached(&exited, &events, &[], "c", input(), "assemble").await.unwrap() {
            RunEnd::Exited { status, tail } => {
                assert_eq!(status.code, 127);
                assert_eq!(tail, ["/bin/sh: 1: tar: not found"]);
            }
            RunEnd::FeedFailed => panic!("the feed did not fail"),
        }
        // When the engine cannot say how the container ended, the read error is the error.
        let gone = Fake::default();
        let error = run_attached(&gone, &events, &[], "c", input(), "assemble").await.err().expect("an error");
        assert!(error.to_string().contains("read the output of assemble"), "{error}");
    }

    #[tokio::test]
    async fn a_container_whose_create_was_cut_short_is_removed_by_name() {
        let engine = Fake::default();
        let cleanup = Cleanup::default();
        let spec = ContainerSpec { name: Some("s2i_lost".into()), ..ContainerSpec::default() };
        let cut_short = create_container(&engine, &crate::NoEvents, &cleanup, &spec);
        assert!(tokio::time::timeout(Duration::from_millis(10), cut_short).await.is_err());
        assert_eq!(*engine.containers.lock().unwrap(), ["s2i_lost"], "the engine made it");
        cleanup.run(&engine, &crate::NoEvents).await;
        assert!(engine.containers.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_refused_removal_is_tried_again() {
        let engine = Fake { create_answers: true, ..Fake::default() };
        engine.remove_refusals.store(REMOVE_ATTEMPTS - 1, std::sync::atomic::Ordering::SeqCst);
        let cleanup = Cleanup::default();
        let spec = ContainerSpec { name: Some("s2i_busy".into()), ..ContainerSpec::default() };
        assert_eq!(create_container(&engine, &crate::NoEvents, &cleanup, &spec).await.unwrap(), "id-of-s2i_busy");
        cleanup.run(&engine, &crate::NoEvents).await;
        assert!(engine.containers.lock().unwrap().is_empty());
    }
}
