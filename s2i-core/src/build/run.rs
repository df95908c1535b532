//! Containers the engine runs besides a build's own: the builder's `usage`
//! script (`Engine::usage`), an image run for the user (`Engine::run_image`)
//! and a command in a new container of an image, such as a build hook
//! (`Engine::run_command`). Each container is removed whatever happens.

use tokio_util::sync::CancellationToken;

use super::planning::{check_destination, image_destination};
use super::{Engine, UsageOptions, parse_image, shipped_scripts};
use crate::archive::InputArchive;
use crate::env::{self, EnvVar};
use crate::error::{Error, Result};
use crate::events::EventSinkExt;
use crate::exec::{self, Cleanup, RunEnd, sh_quote};
use crate::runtime::{ContainerSpec, HostOptions, RuntimeErrorKind};
use crate::scripts::{Script, ScriptSources};

impl Engine {
    /// Run the builder image's `usage` script and relay its output. Nothing is
    /// committed and the container is removed.
    pub async fn usage(&self, options: &UsageOptions, cancel: &CancellationToken) -> Result<()> {
        let cleanup = Cleanup::default();
        let result = tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(Error::Cancelled),
            result = self.usage_inner(options, &cleanup) => result,
        };
        cleanup.run(self.runtime.as_ref(), self.events.as_ref()).await;
        result
    }

    async fn usage_inner(&self, options: &UsageOptions, cleanup: &Cleanup) -> Result<()> {
        let reference = parse_image("builder image", &options.builder_image)?;
        if let Some(dest) = &options.destination {
            check_destination(dest)?;
        }
        let builder = self.obtain_image(&reference, options.pull_policy).await?;
        options.allowed_uids.check_image(&builder.name, &builder.info, options.assemble_user.as_deref())?;
        let (image_default, note) = ScriptSources::image_default(&builder.info);
        if let Some(note) = note {
            self.events.warn(note);
        }
        let base_dir = options.working_dir.clone().unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
        let sources = ScriptSources {
            scripts_url: options.scripts_url.clone().filter(|u| !u.is_empty()),
            source_root: None,
            image_default,
            base_dir,
        };
        let scripts = self.resolve_scripts(&[Script::Usage], &[], sources).await?;
        let destination =
            options.destination.clone().unwrap_or_else(|| image_destination(&builder.info, self.events.as_ref()));
        let usage = scripts.get(Script::Usage).expect("usage is required").container_path(&destination);
        let spec = ContainerSpec {
            name: Some(exec::container_name(&builder.name)),
            image: builder.engine_name.clone(),
            entrypoint: Some(vec!["/bin/sh".into(), "-c".into()]),
            cmd: vec![format!("tar -C {} -xf - && {}", sh_quote(&destination), sh_quote(&usage))],
            env: env::dedupe(&options.env).iter().map(EnvVar::to_entry).collect(),
            user: options.assemble_user.clone().filter(|u| !u.is_empty()),
            stdin: true,
            ..Default::default()
        };
        let container = exec::create_container(self.runtime.as_ref(), self.events.as_ref(), cleanup, &spec).await?;
        let archive = InputArchive { files: shipped_scripts(&scripts), ..Default::default() };
        let (stream, producer) = exec::spawn_archive(self.events.clone(), archive);
        let end =
            exec::run_attached(self.runtime.as_ref(), &self.events, &[], &container, Some(stream), "usage").await?;
        let ok = matches!(&end, RunEnd::Exited { status, .. } if status.code == 0);
        let produced = exec::finish_producer(producer, ok).await;
        match end {
            RunEnd::Exited { status, tail } if status.code != 0 => {
                Err(exec::script_failed("usage", &builder.name, &status, &tail))
            }
            _ => produced.map(|_| ()),
        }
    }

    /// Run an image (`s2i build --run`): publish its ports, relay its output,
    /// wait until it exits or `cancel` fires, then remove the container.
    /// Returns its exit code (`None` when cancelled).
    pub async fn run_image(&self, image: &str, host: &HostOptions, cancel: &CancellationToken) -> Result<Option<i64>> {
        let cleanup = Cleanup::default();
        let spec = ContainerSpec {
            name: Some(exec::container_name(&format!("run_{image}"))),
            image: image.to_owned(),
            host: HostOptions {
                publish_all_ports: true,
                network_mode: host.network_mode.clone(),
                ..Default::default()
            },
            ..Default::default()
        };
        let result = tokio::select! {
            biased;
            _ = cancel.cancelled() => Ok(None),
            result = async {
                let container = exec::create_container(self.runtime.as_ref(), self.events.as_ref(), &cleanup, &spec).await?;
                self.events.info(format!("Running {image} as container {} (Ctrl-C stops it)", spec.name.as_deref().unwrap_or(&container)));
                match exec::run_attached(self.runtime.as_ref(), &self.events, &[], &container, None, "the image").await? {
                    RunEnd::Exited { status, .. } => Ok(Some(status.code)),
                    RunEnd::FeedFailed => Ok(None),
                }
            } => result,
        };
        cleanup.run(self.runtime.as_ref(), self.events.as_ref()).await;
        result
    }

    /// Run a command in a new container of `spec.image` (a build hook, e.g. a
    /// BuildConfig's `postCommit`): relay its output as [`BuildEvent::Output`](crate::BuildEvent::Output)
    /// lines, wait for it, and remove the container whatever happens.
    /// Returns how it ended; `Err(Error::Cancelled)` when `cancel` fired.
    pub async fn run_command(
        &self,
        spec: &ContainerSpec,
        cancel: &CancellationToken,
    ) -> Result<crate::runtime::ExitStatus> {
        let cleanup = Cleanup::default();
        let mut spec = spec.clone();
        if spec.name.is_none() {
            spec.name = Some(exec::container_name(&format!("hook_{}", exec::short_id(&spec.image))));
        }
        spec.stdin = false;
        let result = tokio::select! {
            biased;
            _ = cancel.cancelled() => Err(Error::Cancelled),
            result = async {
                let container = exec::create_container(self.runtime.as_ref(), self.events.as_ref(), &cleanup, &spec).await?;
                match exec::run_attached(self.runtime.as_ref(), &self.events, &[], &container, None, "the command").await? {
                    RunEnd::Exited { status, .. } => Ok(status),
                    // Nothing is fed to its stdin, so this does not happen; report it as what it would be.
                    RunEnd::FeedFailed => Err(Error::runtime(
                        "run the command",
                        crate::runtime::RuntimeError::new(RuntimeErrorKind::Other, "its input stream failed"),
                    )),
                }
            } => result,
        };
        cleanup.run(self.runtime.as_ref(), self.events.as_ref()).await;
        result
    }
}
