//! Builder images with `ONBUILD` triggers: such an image expects to be built
//! *from*, so the build is an image build of a generated Dockerfile over the
//! source, as the reference's onbuild strategy does. Unlike the reference, the
//! output gets the same `io.openshift.s2i.build.*` labels as any build, so
//! `s2i rebuild` works on it.
//!
//! This module holds the build context, the Dockerfile, the labels, and the
//! execution (`Engine::execute_onbuild`), which sends them to the engine's
//! image build.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::archive::{ArchiveFile, InputArchive, SourceTree};
use crate::build::{BuildResult, Engine};
use crate::env::EnvVar;
use crate::error::{Error, Result};
use crate::events::{BuildEvent, Stage};
use crate::exec::{self, StageTimer};
use crate::plan::BuildPlan;
use crate::runtime::ImageBuildSpec;
use crate::scripts::{Script, ScriptLocation};

/// Names of the file that becomes the entrypoint, in order of preference.
const ENTRYPOINT_CANDIDATES: [&str; 8] =
    ["run", "run.sh", "start", "start.sh", "exec", "exec.sh", "execute", "execute.sh"];

/// The build context: the source at its root, plus the shipped `assemble` and
/// `run` scripts and the generated `Dockerfile`. Files of the source with
/// those names are replaced.
pub(crate) fn context(plan: &BuildPlan) -> Result<InputArchive> {
    let mut files = Vec::new();
    for script in [Script::Assemble, Script::Run] {
        if let Some(ScriptLocation::Shipped { contents, .. }) = plan.scripts.get(script).map(|s| &s.location) {
            files.push(ArchiveFile { path: script.to_string(), contents: contents.clone(), mode: 0o755 });
        }
    }
    let entrypoint = entrypoint(plan, &files)?;
    let dockerfile = dockerfile(plan, files.iter().any(|f| f.path == "assemble"), &entrypoint);
    files.push(ArchiveFile { path: "Dockerfile".into(), contents: dockerfile.into_bytes(), mode: 0o644 });
    let source = plan.source.as_ref().map(|s| {
        let mut filter = s.filter.clone();
        filter.moved.extend(files.iter().map(|f| f.path.clone()));
        SourceTree { root: s.prepared.root.clone(), filter, follow_symlinks: s.prepared.follow_symlinks }
    });
    Ok(InputArchive { dirs: Vec::new(), files, source, source_dir: String::new(), ..Default::default() })
}

/// The first regular, executable file of the source root (or a shipped script)
/// named like an entrypoint.
fn entrypoint(plan: &BuildPlan, shipped: &[ArchiveFile]) -> Result<String> {
    for name in ENTRYPOINT_CANDIDATES {
        if shipped.iter().any(|f| f.path == name) {
            return Ok(name.to_owned());
        }
        if let Some(source) = &plan.source {
            if source.filter.excludes(name) {
                continue;
            }
            let path = source.prepared.root.join(name);
            if let Ok(meta) = std::fs::metadata(&path) {
                #[cfg(unix)]
                let executable = std::os::unix::fs::PermissionsExt::mode(&meta.permissions()) & 0o111 != 0;
                #[cfg(not(unix))]
                let executable = true;
                if meta.is_file() && executable {
                    return Ok(name.to_owned());
                }
            }
        }
    }
    Err(Error::option(
        "source",
        format!(
            "no valid entrypoint specified: the builder {} uses ONBUILD, and the source has none of {}",
            plan.builder.name,
            ENTRYPOINT_CANDIDATES.join(", ")
        ),
        "add an executable run (or run.sh, start, …) script to the source root, or a run script to .s2i/bin",
    ))
}

fn dockerfile(plan: &BuildPlan, assemble: bool, entrypoint: &str) -> String {
    let mut out = format!("FROM {}\n", plan.builder.engine_name);
    if !plan.env.is_empty() {
        out.push_str(&env_instruction(&plan.env));
    }
    if assemble {
        out.push_str("RUN sh assemble\n");
    }
    out.push_str(&format!("ENTRYPOINT [\"./{entrypoint}\"]\n"));
    out
}

/// One `ENV` instruction, `NAME="value"` pairs, values escaped for the Dockerfile.
pub(crate) fn env_instruction(env: &[EnvVar]) -> String {
    let pairs: Vec<String> = env.iter().map(|v| format!("{}=\"{}\"", v.name, dockerfile_escape(&v.value))).collect();
    format!("ENV {}\n", pairs.join(" \\\n    "))
}

/// Escape `\`, `"` and `$` for a double-quoted Dockerfile word; newlines become `\n`.
pub(crate) fn dockerfile_escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('$', "\\$").replace('\n', "\\n")
}

/// Labels of an onbuild output image (the engine adds them at build time).
pub(crate) fn labels(plan: &BuildPlan) -> BTreeMap<String, String> {
    // The builder's own labels are inherited through FROM; only the generated ones are added.
    plan.labels
        .iter()
        .filter(|(k, v)| plan.builder.info.labels.get(*k) != Some(v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

impl Engine {
    /// Build a builder with `ONBUILD` triggers: an image build of a generated Dockerfile.
    pub(crate) async fn execute_onbuild(&self, plan: &BuildPlan) -> Result<BuildResult> {
        let context = context(plan)?;
        let (stream, producer) = exec::spawn_archive(self.events.clone(), context);
        let stage = StageTimer::start(self.events.as_ref(), Stage::Assemble, &plan.builder.name);
        let labels = labels(plan);
        let spec = ImageBuildSpec {
            tag: plan.output.as_ref().map(ToString::to_string),
            dockerfile: "Dockerfile".into(),
            labels: labels.clone(),
            network_mode: plan.host.network_mode.clone(),
            limits: plan.host.limits.clone(),
        };
        let events = self.events.clone();
        let output = move |line: String| {
            events.emit(BuildEvent::Output { kind: crate::runtime::OutputKind::Stdout, line });
        };
        let built = self.runtime.build_image(stream, &spec, &output).await;
        let stats = exec::finish_producer(producer, built.is_ok()).await;
        let image_id = built.map_err(|e| Error::ScriptFailed {
            script: "the ONBUILD image build".into(),
            code: 1,
            image: plan.builder.name.clone(),
            oom_killed: false,
            help: format!("the engine says: {}\nfix the source or the builder's ONBUILD triggers", e.message),
        })?;
        let stats = stats?;
        stage.finish(self.events.as_ref());
        let mut all_labels = plan.builder.info.labels.clone();
        all_labels.extend(labels);
        Ok(BuildResult {
            image_id,
            tag: plan.output.as_ref().map(ToString::to_string),
            labels: all_labels,
            workdir: None,
            archive: stats,
            incremental: false,
            elapsed: Duration::ZERO,
            ..BuildResult::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_values_are_escaped() {
        let env = vec![
            EnvVar { name: "A".into(), value: "plain".into() },
            EnvVar { name: "B".into(), value: "q\"d$x\\y\nz".into() },
        ];
        assert_eq!(env_instruction(&env), "ENV A=\"plain\" \\\n    B=\"q\\\"d\\$x\\\\y\\nz\"\n");
    }
}
