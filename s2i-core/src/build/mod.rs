//! Running a build: options in, plan made, plan executed on a [`ContainerRuntime`].
//!
//! This module holds the [`Engine`], `build()` (which always cleans up, and
//! then posts the callback) and the small helpers its parts share. The parts:
//! `options` (what a caller hands in and gets back), `planning` (with
//! `images` and `host`: everything resolved before a container runs),
//! `assemble` (running the plan in a builder container), `commit`,
//! `callback`, `run` (usage, running an image or a command) and `rebuild`.
//! Chained and `ONBUILD` builds run from [`crate::chained`] and `onbuild`,
//! beside their types.

use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::StreamExt;
use tokio_util::sync::CancellationToken;

use crate::archive::ArchiveFile;
use crate::env::{self, EnvVar};
use crate::error::{Error, Result};
use crate::events::{BuildEvent, EventSink, EventSinkExt, Stage};
use crate::exec::{Cleanup, Workdir};
use crate::labels::SourceInfo;
use crate::plan::{BuildPlan, Strategy};
use crate::reference::ImageReference;
use crate::runtime::ContainerRuntime;
use crate::scripts::{ResolvedScripts, ScriptLocation};

mod assemble;
mod callback;
mod commit;
mod host;
mod images;
mod options;
mod outputs;
mod planning;
mod publish;
mod push;
mod rebuild;
mod reproducible;
mod write;

pub(crate) use commit::Committed;
mod run;

pub use options::{
    BuildEpoch, BuildOptions, BuildResult, BuilderImage, DEFAULT_ARTIFACTS_TIMEOUT, DEFAULT_DESTINATION,
    DEPRECATED_DESTINATION_LABEL, DESTINATION_LABEL, EpochSource, PullPolicy, PushedImage, SourceOrigin, UsageOptions,
    WrittenOutput,
};
pub use publish::{RegistryPush, RegistryPushed, push_engine_image};
pub use reproducible::check_output;
/// Where a build writes its image (`--output`), as skopeo names image locations.
pub use s2i_oci::transport::ImageLocation;

/// The build engine: runs builds on a container runtime and reports to an event sink.
#[derive(Clone)]
pub struct Engine {
    pub(crate) runtime: Arc<dyn ContainerRuntime>,
    pub(crate) events: Arc<dyn EventSink>,
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Engine").finish_non_exhaustive()
    }
}

impl Engine {
    /// An engine on `runtime`, reporting to `events`.
    pub fn new(runtime: Arc<dyn ContainerRuntime>, events: Arc<dyn EventSink>) -> Self {
        Self { runtime, events }
    }

    /// The runtime the engine runs on.
    pub fn runtime(&self) -> &Arc<dyn ContainerRuntime> {
        &self.runtime
    }

    /// The event sink the engine reports to.
    pub fn events(&self) -> &Arc<dyn EventSink> {
        &self.events
    }

    /// Build an image. Every container the build creates is removed before this
    /// returns, whether the build succeeds, fails or is cancelled through `cancel`.
    pub async fn build(&self, options: &BuildOptions, cancel: &CancellationToken) -> Result<BuildResult> {
        let started = Instant::now();
        let cleanup = Cleanup::default();
        let cancelled = Arc::new(AtomicBool::new(false));
        let mut workdir = Workdir::new(options.temp_root.as_deref())?;
        // Failures are worded by the stage they happen in.
        let stages = Arc::new(StageTracker { events: self.events.clone(), current: Mutex::new(None) });
        let tracked = Engine { runtime: self.runtime.clone(), events: stages.clone() };
        let result = tokio::select! {
            biased;
            _ = cancel.cancelled() => {
                cancelled.store(true, Ordering::Relaxed);
                Err(Error::Cancelled)
            }
            result = tracked.build_inner(options, &workdir.path, &cleanup, &cancelled) => result,
        };
        let result = result.map_err(|e| e.engine_stopped_during(*stages.current.lock().expect("stage lock")));
        cleanup.run(self.runtime.as_ref(), self.events.as_ref()).await;
        let kept = options.save_temp_dir.then(|| workdir.keep());
        if let Some(path) = &kept {
            self.events.info(format!("Temporary directory kept: {}", path.display()));
        }
        let result = result.map(|mut r| {
            r.workdir = kept;
            r.elapsed = started.elapsed();
            r
        });
        if let Some(url) = options.callback_url.as_deref().filter(|u| !u.is_empty()) {
            self.callback(url, &result).await;
        }
        result
    }

    async fn build_inner(
        &self,
        options: &BuildOptions,
        workdir: &Path,
        cleanup: &Cleanup,
        cancelled: &Arc<AtomicBool>,
    ) -> Result<BuildResult> {
        // Before anything is pulled or run: a bad output would fail only after assemble.
        outputs::check_outputs(options)?;
        let plan = self.plan(options, workdir, cancelled).await?;
        if options.save_temp_dir {
            write_plan(workdir, &plan)?;
        }
        let mut result = match plan.strategy {
            Strategy::Sti => self.execute(&plan, cleanup).await?,
            Strategy::OnBuild => self.execute_onbuild(&plan).await?,
        };
        result.builder = BuilderImage {
            name: plan.builder.name.clone(),
            id: plan.builder.info.id.clone(),
            digest: registry_digest(&plan.builder),
        };
        result.source = plan.source.as_ref().map(|s| {
            let info = &s.prepared.info;
            SourceOrigin {
                location: env::redact_url_userinfo(&info.location),
                commit: Some(info.commit_id.clone()).filter(|c| !c.is_empty()),
                git_ref: Some(info.git_ref.clone()).filter(|r| !r.is_empty()),
            }
        });
        result.builder_stage = plan.builder_stage.clone();
        self.publish(options, &plan, &mut result).await?;
        Ok(result)
    }

    /// A small text file of a container, or `None` when it does not exist.
    async fn read_small_file(&self, container: &str, path: &str) -> Result<Option<String>> {
        let Some(mut archive) = self
            .runtime
            .download_archive(container, path)
            .await
            .map_err(|e| Error::runtime(format!("read {path}"), e))?
        else {
            return Ok(None);
        };
        let mut data = Vec::new();
        while let Some(chunk) = archive.next().await {
            let chunk = chunk.map_err(|e| Error::io("read", path, "check the engine", e))?;
            data.extend_from_slice(&chunk);
            if data.len() > 4 * 1024 * 1024 {
                return Ok(None);
            }
        }
        let mut tar = tar::Archive::new(data.as_slice());
        let mut entries = tar.entries().map_err(|e| Error::io("read", path, "check the engine", e))?;
        let Some(entry) = entries.next() else { return Ok(None) };
        let mut entry = entry.map_err(|e| Error::io("read", path, "check the engine", e))?;
        let mut text = String::new();
        std::io::Read::read_to_string(&mut entry, &mut text)
            .map_err(|e| Error::io("read", path, "check the engine", e))?;
        Ok(Some(text))
    }
}

/// The registry digest the engine knows for an image under its own name (else any), if it knows one.
fn registry_digest(image: &crate::plan::ResolvedImage) -> Option<String> {
    let wanted = ImageReference::parse(&image.name).ok().map(|r| r.normalized().name());
    let same_name = |entry: &&String| {
        let name = entry.split_once('@').map(|(name, _)| name);
        let name = name.and_then(|n| ImageReference::parse(n).ok()).map(|r| r.normalized().name());
        name.is_some() && name == wanted
    };
    image.info.repo_digests.iter().find(same_name).or_else(|| image.info.repo_digests.first()).cloned()
}

/// An event sink that remembers the stage running now.
struct StageTracker {
    events: Arc<dyn EventSink>,
    current: Mutex<Option<Stage>>,
}

impl EventSink for StageTracker {
    fn emit(&self, event: BuildEvent) {
        if let BuildEvent::StageStarted { stage, .. } = &event {
            *self.current.lock().expect("stage lock") = Some(*stage);
        }
        self.events.emit(event);
    }
}

/// Secrets to mask in output: the userinfo of URLs in `*proxy*` variables.
pub(crate) fn proxy_secrets(env: &[EnvVar]) -> Vec<String> {
    env.iter()
        .filter(|v| v.name.to_ascii_lowercase().contains("proxy"))
        .flat_map(|v| {
            v.value
                .split([',', ' '])
                .filter_map(|url| {
                    let rest = url.split_once("://")?.1;
                    let authority = rest.split(['/', '?', '#']).next()?;
                    authority.rsplit_once('@').map(|(userinfo, _)| userinfo.to_owned())
                })
                .filter(|u| !u.is_empty())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The scripts that are shipped into the container (not already in the image), as `scripts/NAME` files.
pub(crate) fn shipped_scripts(scripts: &ResolvedScripts) -> Vec<ArchiveFile> {
    scripts
        .scripts
        .values()
        .filter_map(|s| match &s.location {
            ScriptLocation::Shipped { contents, .. } => {
                Some(ArchiveFile { path: format!("scripts/{}", s.script), contents: contents.clone(), mode: 0o755 })
            }
            ScriptLocation::Image { .. } => None,
        })
        .collect()
}

/// Parse an image reference; `what` names the input in the error.
pub(crate) fn parse_image(what: &str, name: &str) -> Result<ImageReference> {
    ImageReference::parse(name).map_err(|source| Error::InvalidImageReference { what: what.to_owned(), source })
}

/// `--save-temp-dir`: the plan as `plan.json` (proxy credentials redacted) and the shipped scripts.
fn write_plan(workdir: &Path, plan: &BuildPlan) -> Result<()> {
    let path = workdir.join("plan.json");
    let mut value = serde_json::to_value(plan).expect("plans serialise");
    // Proxy credentials never reach the disk in clear.
    if let Some(env) = value.get_mut("env").and_then(|e| e.as_array_mut()) {
        for (entry, var) in env.iter_mut().zip(&plan.env) {
            if let Some((_, value)) = env::redact(var).split_once('=') {
                entry["value"] = serde_json::Value::String(value.to_owned());
            }
        }
    }
    let text = serde_json::to_vec_pretty(&value).expect("plans serialise");
    std::fs::write(&path, text).map_err(|e| Error::io("write", &path, "check the temp directory", e))?;
    for script in shipped_scripts(&plan.scripts) {
        let path = workdir.join(&script.path);
        let write = std::fs::create_dir_all(path.parent().expect("scripts/ parent"))
            .and_then(|()| std::fs::write(&path, &script.contents));
        write.map_err(|e| Error::io("write", &path, "check the temp directory", e))?;
    }
    Ok(())
}

/// The source info recorded for a build, for callers that label images themselves.
pub fn source_info_of(plan: &BuildPlan) -> SourceInfo {
    plan.source.as_ref().map(|s| s.prepared.info.clone()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxy_secrets_are_collected() {
        let env = vec![
            EnvVar { name: "HTTP_PROXY".into(), value: "http://u:p@proxy:3128".into() },
            EnvVar { name: "no_proxy".into(), value: "localhost".into() },
            EnvVar { name: "TOKEN".into(), value: "http://a:b@x".into() },
        ];
        assert_eq!(proxy_secrets(&env), vec!["u:p".to_owned()]);
    }
}
