//! What the operations of [`crate::Builds`] report while they work: builds
//! started and ended, scheduled imports, and what went wrong without
//! stopping them. The library never prints; a front end draws these
//! ([`crate::Builds::with_events`]).

use s2i_imagestream::mirror::MirrorReport;
use s2i_imagestream::operations::ScheduledImport;

use crate::triggers::{Started, TriggerWarning};
use crate::types::Build;

/// Something an operation did or met.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event {
    /// A build was started: by a trigger (it runs in a worker process), or
    /// queued behind the current build of a chain run in this process.
    Started(Started),
    /// A build that a chain ran in this process ended (in any final phase).
    Ended(Build),
    /// Scheduled imports moved tags, and the engine or registries followed (what they did).
    Mirrored(MirrorReport),
    /// A scheduled re-import of a tag ran.
    Imported(ScheduledImport),
    /// Something went wrong; the operation went on.
    Warning(Warning),
}

/// What went wrong without stopping an operation.
#[derive(Debug)]
#[non_exhaustive]
pub enum Warning {
    /// After a build whose process is gone was marked `Error`, its
    /// containers could not all be removed.
    CleanUp(String),
    /// A trigger could not start a build.
    Trigger(TriggerWarning),
    /// The engine or a registry could not follow the tag changes of
    /// scheduled imports; the store keeps them, and a later run follows them.
    Mirror(s2i_imagestream::Error),
}

/// Events nobody listens to.
pub(crate) fn ignore(_: &Event) {}
