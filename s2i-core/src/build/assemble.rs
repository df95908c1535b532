//! Executing a plan in a builder container: `Engine::execute` runs assemble
//! attempts until one produces a container to commit — the input streamed
//! into the container's stdin, or unpacked by the engine when the builder has
//! no `tar` or no `/bin/sh`; artifacts of the previous image dropped for a
//! clean build when they cannot be used — then commits it (or hands it to the
//! runtime stage of a chained build). Also here: uploading `--inject` files
//! and looking up the numeric owner of files put into a container.

use std::path::PathBuf;
use std::time::Duration;

use super::{BuildResult, Engine, proxy_secrets, shipped_scripts};
use crate::archive::{ArchiveStats, InputArchive, SourceTree};
use crate::env::{self, EnvVar};
use crate::error::{Error, Result};
use crate::events::{EventSinkExt, Stage};
use crate::exec::{self, Cleanup, RunEnd, StageTimer, sh_quote};
use crate::incremental;
use crate::inject;
use crate::plan::BuildPlan;
use crate::runtime::ContainerSpec;

/// What assembling produced: the stopped container to commit.
struct Assembled {
    container: String,
    stats: ArchiveStats,
}

/// Why an assemble attempt did not produce a container to commit.
enum AttemptError {
    /// The builder has no `tar` (or no `/bin/sh`): deliver the input with the engine instead.
    MissingTool { shell: bool },
    /// The artifacts of the previous image could not be used: build clean.
    Artifacts(Error),
    /// Anything else ends the build.
    Fatal(Error),
}

impl From<Error> for AttemptError {
    fn from(e: Error) -> Self {
        AttemptError::Fatal(e)
    }
}

/// How the input archive reaches the build container.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Delivery {
    /// Streamed into the container's stdin and unpacked by its own `tar`.
    Stdin,
    /// Unpacked by the engine before the container starts; `shell` says whether `/bin/sh` exists.
    Upload { shell: bool },
}

impl Engine {
    /// Run the plan: assemble in a builder container (falling back to the
    /// engine's archive upload when the builder lacks `tar` or `/bin/sh`, and
    /// to a clean build when the artifacts cannot be used), then commit.
    pub(crate) async fn execute(&self, plan: &BuildPlan, cleanup: &Cleanup) -> Result<BuildResult> {
        for var in &plan.env {
            self.events.debug(format!("Build environment: {}", env::redact(var)));
        }
        let mut use_artifacts = plan.incremental.is_some();
        let mut delivery = Delivery::Stdin;
        let assembled = loop {
            match self.assemble(plan, delivery, use_artifacts, cleanup).await {
                Ok(assembled) => break assembled,
                Err(AttemptError::Artifacts(e)) if use_artifacts => {
                    incremental::clean_build(
                        self.events.as_ref(),
                        &format!("error saving previous build artifacts: {e}"),
                    );
                    use_artifacts = false;
                }
                Err(AttemptError::MissingTool { shell }) if delivery == Delivery::Stdin => {
                    let what = if shell { "tar" } else { "/bin/sh" };
                    self.events.info(format!(
                        "The builder image has no {what}: the engine unpacks the source into it instead"
                    ));
                    delivery = Delivery::Upload { shell };
                }
                Err(AttemptError::MissingTool { .. }) => {
                    return Err(Error::option(
                        "builder image",
                        format!("{} cannot run assemble", plan.builder.name),
                        "the builder needs /bin/sh or an executable assemble",
                    ));
                }
                Err(AttemptError::Artifacts(e) | AttemptError::Fatal(e)) => return Err(e),
            }
        };
        let committed = match &plan.runtime {
            None => self.commit(plan, &assembled.container).await?,
            Some(runtime) => {
                let builder_labels = self.image_metadata(&assembled.container).await?;
                if let Some(stage) = &plan.builder_stage {
                    self.commit_builder_stage(plan, &assembled.container, stage).await?;
                }
                self.runtime_stage(plan, runtime, &assembled.container, builder_labels, cleanup).await?
            }
        };
        if let Some(previous) = plan.incremental.as_ref().filter(|_| plan.remove_previous_image) {
            // The save-artifacts container still uses the previous image.
            cleanup.run(self.runtime.as_ref(), self.events.as_ref()).await;
            if previous.id != committed.image_id {
                match self.runtime.remove_image(&previous.id).await {
                    Ok(()) => self.events.info(format!("Removed the previous image {}", exec::short_id(&previous.id))),
                    Err(e) => self.events.warn(format!("Unable to remove previous image: {e}")),
                }
            }
        }
        let written = committed.written.unwrap_or_default();
        Ok(BuildResult {
            image_id: committed.image_id,
            tag: plan.output.as_ref().map(ToString::to_string),
            labels: committed.labels,
            workdir: None,
            archive: assembled.stats,
            incremental: use_artifacts,
            elapsed: Duration::ZERO,
            epoch: plan.image.as_ref().and_then(|i| i.epoch),
            manifest_digest: written.manifest_digest,
            outputs: written.outputs,
            sbom: written.sbom,
            provenance: written.provenance,
            ..BuildResult::default()
        })
    }

    /// One attempt at running assemble.
    async fn assemble(
        &self,
        plan: &BuildPlan,
        delivery: Delivery,
        use_artifacts: bool,
        cleanup: &Cleanup,
    ) -> std::result::Result<Assembled, AttemptError> {
        let injecting = !plan.injections.is_empty();
        if injecting && delivery == (Delivery::Upload { shell: false }) {
            return Err(AttemptError::Fatal(Error::option(
                "--inject",
                format!("{} has no /bin/sh, which removing the injected files needs", plan.builder.name),
                "drop --inject, or use a builder image with /bin/sh",
            )));
        }
        let assemble = sh_quote(&plan.assemble_path);
        let mut script = match delivery {
            Delivery::Stdin => format!("tar -C {} -xf - && {assemble}", sh_quote(&plan.destination)),
            Delivery::Upload { .. } => assemble.clone(),
        };
        if injecting {
            script = format!(
                "if ! /bin/sh {s} check; then echo '{marker}' >&2; exit {code}; fi; {script}; s2i_status=$?; \
                 if ! /bin/sh {s} remove; then echo '{marker}' >&2; exit {code}; fi; exit $s2i_status",
                s = inject::REMOVAL_SCRIPT,
                marker = inject::REMOVAL_FAILED_MARKER,
                code = inject::REMOVAL_FAILED_EXIT,
            );
        }
        let (entrypoint, cmd) = match delivery {
            Delivery::Upload { shell: false } => (Vec::new(), vec![plan.assemble_path.clone()]),
            _ => (vec!["/bin/sh".to_owned(), "-c".to_owned()], vec![script]),
        };
        let spec = ContainerSpec {
            name: Some(exec::container_name(&plan.builder.name)),
            image: plan.builder.engine_name.clone(),
            entrypoint: Some(entrypoint),
            cmd,
            env: plan.env.iter().map(EnvVar::to_entry).collect(),
            user: plan.assemble_user.clone(),
            working_dir: None,
            stdin: delivery == Delivery::Stdin,
            labels: plan.container_labels.clone(),
            host: plan.host.clone(),
        };
        let container = exec::create_container(self.runtime.as_ref(), self.events.as_ref(), cleanup, &spec).await?;
        let owner = match delivery {
            Delivery::Stdin if !injecting => None,
            _ => Some(self.owner_in(&container, plan).await?),
        };
        if injecting {
            self.upload_injections(&container, plan, owner.unwrap_or((0, 0))).await?;
        }

        let artifacts = match plan.incremental.as_ref().filter(|_| use_artifacts) {
            Some(previous) => {
                let stage = StageTimer::start(self.events.as_ref(), Stage::SaveArtifacts, &previous.name);
                let input = incremental::start(
                    &self.runtime,
                    &self.events,
                    cleanup,
                    previous,
                    &plan.host,
                    &plan.container_labels,
                    plan.artifacts_timeout,
                )
                .await;
                stage.finish(self.events.as_ref());
                match input {
                    Ok(input) => Some(input),
                    Err(e) => {
                        cleanup.remove_now(self.runtime.as_ref(), self.events.as_ref(), &container).await;
                        return Err(AttemptError::Artifacts(e));
                    }
                }
            }
            None => None,
        };
        let mut extra = Vec::new();
        for source_image in &plan.source_images {
            extra.push(self.source_image_input(source_image, &plan.container_labels, cleanup).await?);
        }
        let archive = InputArchive {
            files: shipped_scripts(&plan.scripts),
            source: plan.source.as_ref().map(|s| SourceTree {
                root: s.prepared.root.clone(),
                filter: s.filter.clone(),
                follow_symlinks: s.prepared.follow_symlinks,
            }),
            artifacts,
            extra,
            owner: if delivery == Delivery::Stdin { None } else { owner },
            mtime_limit: plan.image.as_ref().and_then(|i| i.epoch).map(|e| e.seconds),
            ..Default::default()
        };
        let (stream, producer) = exec::spawn_archive(self.events.clone(), archive);
        let stage = StageTimer::start(self.events.as_ref(), Stage::Assemble, &plan.builder.name);
        let secrets = proxy_secrets(&plan.env);
        let end = match delivery {
            Delivery::Stdin => {
                exec::run_attached(self.runtime.as_ref(), &self.events, &secrets, &container, Some(stream), "assemble")
                    .await
            }
            Delivery::Upload { .. } => {
                let upload = self.runtime.upload_archive(&container, &plan.destination, stream).await;
                if let Err(e) = upload {
                    let produced = exec::finish_producer(producer, false).await;
                    cleanup.remove_now(self.runtime.as_ref(), self.events.as_ref(), &container).await;
                    return Err(match produced {
                        Err(e @ Error::Artifacts { .. }) => AttemptError::Artifacts(e),
                        Err(e) => AttemptError::Fatal(e),
                        Ok(_) if e.is_not_found() => AttemptError::Fatal(Error::option(
                            "--destination",
                            format!("{} does not exist in {}", plan.destination, plan.builder.name),
                            "use a destination directory that exists in the builder image",
                        )),
                        Ok(_) => AttemptError::Fatal(Error::runtime("upload the source", e)),
                    });
                }
                exec::run_attached(self.runtime.as_ref(), &self.events, &secrets, &container, None, "assemble").await
            }
        };
        let end = match end {
            Ok(end) => end,
            Err(Error::Runtime { source, .. })
                if delivery == Delivery::Stdin && mentions_missing_shell(&source.message) =>
            {
                drop(producer);
                cleanup.remove_now(self.runtime.as_ref(), self.events.as_ref(), &container).await;
                return Err(AttemptError::MissingTool { shell: false });
            }
            Err(e) => return Err(AttemptError::Fatal(e)),
        };
        let container_ok = matches!(&end, RunEnd::Exited { status, .. } if status.code == 0);
        let produced = match delivery {
            Delivery::Stdin => exec::finish_producer(producer, container_ok).await,
            // The upload completed before the start, so the producer has finished.
            Delivery::Upload { .. } => exec::finish_producer(producer, true).await,
        };
        match end {
            RunEnd::FeedFailed => {
                cleanup.remove_now(self.runtime.as_ref(), self.events.as_ref(), &container).await;
                match produced {
                    Err(e @ Error::Artifacts { .. }) => Err(AttemptError::Artifacts(e)),
                    Err(e) => Err(AttemptError::Fatal(e)),
                    Ok(_) => Err(AttemptError::Fatal(Error::Io {
                        action: "stream the input archive to".into(),
                        path: PathBuf::from("assemble"),
                        help: "the build container stopped reading its input".into(),
                        source: std::io::Error::new(std::io::ErrorKind::BrokenPipe, "broken pipe"),
                    })),
                }
            }
            RunEnd::Exited { status, tail } => {
                if status.code == 127 && delivery == Delivery::Stdin && tail.iter().any(|l| mentions_missing_tar(l)) {
                    cleanup.remove_now(self.runtime.as_ref(), self.events.as_ref(), &container).await;
                    return Err(AttemptError::MissingTool { shell: true });
                }
                if injecting
                    && status.code == inject::REMOVAL_FAILED_EXIT
                    && tail.iter().any(|l| l.contains(inject::REMOVAL_FAILED_MARKER))
                {
                    let why = tail
                        .iter()
                        .rev()
                        .find(|l| l.starts_with("s2i: ") && !l.contains(inject::REMOVAL_FAILED_MARKER))
                        .or_else(|| tail.iter().rev().find(|l| l.contains("rm") || l.contains("rmdir")))
                        .cloned()
                        .unwrap_or_else(|| "the injected files could not be removed after assemble".to_owned());
                    return Err(AttemptError::Fatal(Error::option(
                        "--inject",
                        format!("{}; nothing was committed", why.trim_start_matches("s2i: ")),
                        "inject into a directory the assemble user can write (e.g. under /tmp or the WORKDIR), \
                         and do not let assemble put files into injected directories",
                    )));
                }
                if status.code != 0 {
                    if let Err(e @ Error::Artifacts { .. }) = produced {
                        return Err(AttemptError::Artifacts(e));
                    }
                    return Err(AttemptError::Fatal(exec::script_failed(
                        "assemble",
                        &plan.builder.name,
                        &status,
                        &tail,
                    )));
                }
                let stats = produced?;
                stage.finish(self.events.as_ref());
                Ok(Assembled { container, stats })
            }
        }
    }

    /// The numeric owner for files the engine unpacks into the build
    /// container: the assemble user (or the image's user), looked up in the
    /// image's `/etc/passwd` and `/etc/group` when named.
    async fn owner_in(&self, container: &str, plan: &BuildPlan) -> Result<(u64, u64)> {
        let user = plan.assemble_user.clone().unwrap_or_else(|| plan.builder.info.user.clone());
        self.owner_of(container, &user).await
    }

    /// The numeric owner of `user` in a container's image.
    pub(crate) async fn owner_of(&self, container: &str, user: &str) -> Result<(u64, u64)> {
        let user = user.to_owned();
        if let Some(owner) =
            inject::resolve_owner(&user, None, None).filter(|_| !user.contains(|c: char| c.is_alphabetic()))
        {
            return Ok(owner);
        }
        let passwd = self.read_small_file(container, "/etc/passwd").await?;
        let group = self.read_small_file(container, "/etc/group").await?;
        inject::resolve_owner(&user, passwd.as_deref(), group.as_deref()).ok_or_else(|| {
            Error::option(
                "--assemble-user",
                format!("user {user:?} is not in the builder image's /etc/passwd"),
                "use a numeric --assemble-user, or a builder image that defines the user",
            )
        })
    }

    /// Upload the injected files, the directories made for them, and the script that removes them.
    async fn upload_injections(&self, container: &str, plan: &BuildPlan, owner: (u64, u64)) -> Result<()> {
        let upload = inject::plan_upload(self.runtime.as_ref(), container, &plan.injections).await?;
        for inj in &plan.injections {
            self.events.detail(format!("Injecting {} into {}", inj.source.display(), inj.destination));
        }
        upload.notes.iter().for_each(|note| self.events.info(note));
        let (stream, producer) = crate::archive::spawn_producer(move |writer| {
            let mut tar = tar::Builder::new(writer);
            let header = |kind: tar::EntryType, mode: u32, size: u64| {
                let mut h = tar::Header::new_gnu();
                h.set_entry_type(kind);
                h.set_mode(mode);
                h.set_size(size);
                h.set_uid(owner.0);
                h.set_gid(owner.1);
                h
            };
            let io =
                |e: std::io::Error| Error::io("write the injections for", "the build container", "check the files", e);
            for dir in &upload.new_dirs {
                tar.append_data(&mut header(tar::EntryType::Directory, 0o755, 0), format!("{dir}/"), std::io::empty())
                    .map_err(io)?;
            }
            for (path, host) in &upload.files {
                let file = std::fs::File::open(host)
                    .map_err(|e| Error::io("read the injection", host, "make it readable", e))?;
                let size = file.metadata().map_err(io)?.len();
                tar.append_data(&mut header(tar::EntryType::Regular, 0o600, size), path, file).map_err(io)?;
            }
            let script = upload.removal_script.as_bytes();
            let removal = inject::REMOVAL_SCRIPT.trim_start_matches('/');
            tar.append_data(&mut header(tar::EntryType::Regular, 0o700, script.len() as u64), removal, script)
                .map_err(io)?;
            tar.finish().map_err(io)
        });
        let uploaded = self.runtime.upload_archive(container, "/", stream).await;
        let produced = exec::finish_producer(producer, uploaded.is_ok()).await;
        produced?;
        uploaded.map_err(|e| Error::runtime("upload the injected files", e))
    }
}

fn mentions_missing_shell(message: &str) -> bool {
    let lower = message.to_ascii_lowercase();
    lower.contains("/bin/sh") && (lower.contains("no such file") || lower.contains("not found"))
}

fn mentions_missing_tar(line: &str) -> bool {
    let lower = line.to_ascii_lowercase();
    lower.contains("tar") && (lower.contains("not found") || lower.contains("no such file"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_tools_are_recognised() {
        assert!(mentions_missing_tar("/bin/sh: 1: tar: not found"));
        assert!(mentions_missing_tar("sh: tar: command not found"));
        assert!(mentions_missing_shell(
            "OCI runtime create failed: exec: \"/bin/sh\": stat /bin/sh: no such file or directory"
        ));
        assert!(!mentions_missing_shell("permission denied"));
    }
}
