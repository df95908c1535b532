//! The worker processes of background builds: `s2i run-build NAME`, started
//! by [`WorkerProcess`] for `s2i_buildconfig`, which does not know the
//! command line.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use s2i_buildconfig::WorkerLauncher;

use crate::cli::GlobalArgs;

/// Starts `s2i run-build NAME` with the global options of this command.
pub(crate) struct WorkerProcess {
    global: GlobalArgs,
}

impl WorkerProcess {
    /// Workers that get this command's global options.
    pub(crate) fn new(global: &GlobalArgs) -> Self {
        Self { global: global.clone() }
    }

    /// The command that runs one build in the background: `s2i run-build NAME`
    /// with the global options of this command (the store made absolute).
    fn command(&self, store_dir: &Path, namespace: &str, name: &str) -> Command {
        let global = &self.global;
        let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("s2i"));
        let mut command = Command::new(exe);
        let store = std::path::absolute(store_dir).unwrap_or_else(|_| store_dir.to_owned());
        command.arg("--store").arg(store).arg("--namespace").arg(namespace);
        command.arg("--loglevel").arg(global.loglevel.to_string());
        if let Some(url) = &global.url {
            command.arg("--url").arg(url);
        }
        for (flag, value) in [("--cert", &global.cert), ("--key", &global.key), ("--ca", &global.ca)] {
            if let Some(path) = value {
                command.arg(flag).arg(std::path::absolute(path).unwrap_or_else(|_| path.clone()));
            }
        }
        if global.tls {
            command.arg("--tls");
        }
        if global.tlsverify {
            command.arg("--tlsverify");
        }
        if global.no_triggers {
            command.arg("--no-triggers");
        }
        if let Some(engine) = global.engine.and_then(|e| clap::ValueEnum::to_possible_value(&e)) {
            command.arg("--engine").arg(engine.get_name());
        }
        if let Some(runtime) = &global.oci_runtime {
            command.arg("--oci-runtime").arg(runtime);
        }
        command.arg("run-build").arg(name);
        command
    }
}

impl WorkerLauncher for WorkerProcess {
    /// Its own process group (a Ctrl-C of this terminal does not reach it),
    /// stdin closed, stdout and stderr appended to the build's log.
    fn launch(&self, store_dir: &Path, namespace: &str, build: &str, log: std::fs::File) -> std::io::Result<()> {
        let stderr = log.try_clone()?;
        let mut command = self.command(store_dir, namespace, build);
        command.stdin(Stdio::null()).stdout(log).stderr(stderr).process_group(0);
        let mut child = command.spawn().map_err(|source| {
            let exe = std::env::current_exe().unwrap_or_default();
            std::io::Error::new(source.kind(), WorkerNotStarted { exe, source })
        })?;
        // Reap it when it ends, so that a long-lived parent leaves no zombie.
        std::thread::spawn(move || {
            let _ = child.wait();
        });
        Ok(())
    }
}

/// The worker process could not be started.
#[derive(Debug, thiserror::Error)]
#[error("cannot start the build process {}: {source}", exe.display())]
struct WorkerNotStarted {
    exe: PathBuf,
    #[source]
    source: std::io::Error,
}
