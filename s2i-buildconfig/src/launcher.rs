//! Starting the process that runs a build in the background. The library
//! does not know how to start one (which program, with which arguments): the
//! front end does, through [`WorkerLauncher`].

use std::fs::File;
use std::path::Path;

/// Starts worker processes: each runs one build, by calling
/// [`crate::Builds::run`] on the same store, and then ends.
pub trait WorkerLauncher {
    /// Start the process that runs build `namespace/build` of the store in
    /// `store_dir`, and return without waiting for it. `log` is the build's
    /// log file, open for appending: the process's output (stdout and
    /// stderr) belongs there; its stdin is best closed. The process must
    /// outlive its caller's interrupts (its own process group), and whoever
    /// started it should reap it when it ends.
    ///
    /// An error (the program cannot be started) is recorded on the build,
    /// which ends `Error` with reason `CannotCreateBuildPod` and the error's
    /// text as message.
    fn launch(&self, store_dir: &Path, namespace: &str, build: &str, log: File) -> std::io::Result<()>;
}
