//! Progress events. The engine never prints: it reports what it does through
//! an [`EventSink`], and the caller decides how to show it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::runtime::{OutputKind, PullProgress};

/// A step of a build, for progress display and timing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Stage {
    /// Making the builder (or another) image available locally.
    PullImage,
    /// Cloning or locating the source.
    FetchSource,
    /// Resolving and downloading the scripts.
    InstallScripts,
    /// Running `save-artifacts` in the previous image.
    SaveArtifacts,
    /// Streaming the input archive into the build container.
    UploadSource,
    /// Running `assemble` (or `usage`).
    Assemble,
    /// Running `assemble-runtime` in the runtime image.
    AssembleRuntime,
    /// Committing the container as the output image.
    Commit,
    /// Pushing the output image to its registry.
    Push,
}

impl Stage {
    /// A short human-readable name.
    pub fn label(self) -> &'static str {
        match self {
            Stage::PullImage => "pull image",
            Stage::FetchSource => "fetch source",
            Stage::InstallScripts => "install scripts",
            Stage::SaveArtifacts => "save artifacts",
            Stage::UploadSource => "upload source",
            Stage::Assemble => "assemble",
            Stage::AssembleRuntime => "assemble-runtime",
            Stage::Commit => "commit",
            Stage::Push => "push",
        }
    }
}

/// How much a message matters; callers filter by it (`--loglevel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Something the user should act on, though the build goes on.
    Warning,
    /// A normal step worth telling (shown at `--loglevel 0`).
    Info,
    /// Detail of what the engine decided (`--loglevel 1`).
    Detail,
    /// Low-level tracing (`--loglevel 2` and up).
    Debug,
}

/// Something that happened during a build.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum BuildEvent {
    /// A stage began.
    StageStarted {
        /// The stage.
        stage: Stage,
        /// What it works on, e.g. the image name.
        subject: String,
    },
    /// A stage ended successfully.
    StageFinished {
        /// The stage.
        stage: Stage,
        /// How long it took.
        elapsed: Duration,
    },
    /// Progress of an image pull.
    Pull {
        /// The image being pulled.
        image: String,
        /// The engine's progress report.
        progress: PullProgress,
    },
    /// Progress of an image push.
    Push {
        /// The image being pushed.
        image: String,
        /// The engine's progress report.
        progress: PullProgress,
    },
    /// Progress of the input archive: files and bytes sent so far.
    Upload {
        /// Entries written so far.
        files: u64,
        /// Bytes of file content written so far.
        bytes: u64,
        /// The archive is complete.
        done: bool,
    },
    /// A line of output from a build container.
    Output {
        /// The stream it came from.
        kind: OutputKind,
        /// The line, without its newline.
        line: String,
    },
    /// Containers and working directories that killed s2i processes left were removed.
    LeftoversRemoved {
        /// How many containers.
        containers: usize,
        /// How many working directories.
        temp_dirs: usize,
        /// The pids of the processes that left them.
        pids: Vec<u32>,
    },
    /// A message from the engine.
    Message {
        /// How much it matters.
        level: Level,
        /// The text.
        text: String,
    },
}

/// Receives build events. Implemented for closures.
pub trait EventSink: Send + Sync {
    /// Handle one event. Must not block for long: the engine calls it inline.
    fn emit(&self, event: BuildEvent);
}

impl<F: Fn(BuildEvent) + Send + Sync> EventSink for F {
    fn emit(&self, event: BuildEvent) {
        self(event)
    }
}

/// An event sink that drops everything.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoEvents;

impl EventSink for NoEvents {
    fn emit(&self, _event: BuildEvent) {}
}

/// Helpers to emit messages.
pub(crate) trait EventSinkExt {
    fn message(&self, level: Level, text: impl Into<String>);
    fn warn(&self, text: impl Into<String>) {
        self.message(Level::Warning, text)
    }
    fn info(&self, text: impl Into<String>) {
        self.message(Level::Info, text)
    }
    fn detail(&self, text: impl Into<String>) {
        self.message(Level::Detail, text)
    }
    fn debug(&self, text: impl Into<String>) {
        self.message(Level::Debug, text)
    }
}

impl<T: EventSink + ?Sized> EventSinkExt for T {
    fn message(&self, level: Level, text: impl Into<String>) {
        self.emit(BuildEvent::Message { level, text: text.into() })
    }
}
