//! Build configs and builds: their kinds in the object verbs, `s2i
//! start-build`, `s2i cancel-build`, `s2i logs`, `s2i controller`, the hidden
//! `s2i run-build` that runs one build in the background, and starting the
//! builds that tag changes trigger.
//!
//! The work is the library's (`s2i_imagestream::builds`); this module turns
//! flags into requests, starts processes, and prints.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use s2i_buildconfig::binary;
use s2i_buildconfig::configs::{
    AppliedConfig, apply_build_config, cancel_build as cancel_one, check_build_config, delete_build,
    delete_build_config, get_build, get_build_config,
};
use s2i_buildconfig::executor::{Executor, clean_up_reaped, executor_of, reap, register};
use s2i_buildconfig::generator::{BuildRequest, instantiate, set_phase};
use s2i_buildconfig::logs::{Followed, follow, input_path, log_path, open_append, remove_files};
use s2i_buildconfig::policy::builds_of;
use s2i_buildconfig::run::Runner;
use s2i_buildconfig::triggers::{Started, TriggerReport, on_applied, process_events};
use s2i_buildconfig::types::*;
use s2i_core::CancellationToken;
use s2i_imagestream::operations::{ImportSchedule, ScheduledResult};
use s2i_store::codec::Document;
use s2i_store::{Resource, Store, Tx};
use serde_json::Value;

use super::imagestream::typed;
use super::objects::{Applied, ApplyOps, BoxFuture, DocumentError, Kind, LibResult, or_none, time_text, to_value};
use super::session::{Context, Session};
use super::{Failure, cancellation, cancelled_code};
use crate::cli::{CancelBuildArgs, ControllerArgs, GlobalArgs, LogsArgs, RunBuildArgs, StartBuildArgs};

// ---------------------------------------------------------------------------
// Times, as oc shows them.

/// A duration as Go prints one rounded to seconds: `0s`, `15s`, `1m3s`, `2h0m5s`.
pub(crate) fn go_duration(seconds: i64) -> String {
    let seconds = seconds.max(0);
    let (h, m, s) = (seconds / 3600, seconds / 60 % 60, seconds % 60);
    match (h, m) {
        (0, 0) => format!("{s}s"),
        (0, _) => format!("{m}m{s}s"),
        _ => format!("{h}h{m}m{s}s"),
    }
}

/// How long ago, as Docker's `HumanDuration` says it (`2 minutes ago`).
pub(crate) fn ago(time: &str, now: jiff::Timestamp) -> String {
    let Ok(then) = time.parse::<jiff::Timestamp>() else { return String::new() };
    let seconds = now.duration_since(then).as_secs().max(0);
    let (minutes, hours) = (seconds / 60, seconds / 3600);
    let text = if seconds < 1 {
        "Less than a second".to_owned()
    } else if seconds == 1 {
        "1 second".to_owned()
    } else if seconds < 60 {
        format!("{seconds} seconds")
    } else if minutes == 1 {
        "About a minute".to_owned()
    } else if minutes < 60 {
        format!("{minutes} minutes")
    } else if hours == 1 {
        "About an hour".to_owned()
    } else if hours < 48 {
        format!("{hours} hours")
    } else if hours < 24 * 7 * 2 {
        format!("{} days", hours / 24)
    } else if hours < 24 * 30 * 3 {
        format!("{} weeks", hours / 24 / 7)
    } else if hours < 24 * 365 * 2 {
        format!("{} months", hours / 24 / 30)
    } else {
        format!("{} years", hours / 24 / 365)
    };
    format!("{text} ago")
}

fn seconds_between(start: &str, end: &str) -> i64 {
    let (Ok(start), Ok(end)) = (start.parse::<jiff::Timestamp>(), end.parse::<jiff::Timestamp>()) else { return 0 };
    end.duration_since(start).as_secs()
}

/// How long a build ran (or has been running).
fn build_duration(build: &Build, now: &str) -> String {
    if build.status.duration > 0 {
        return go_duration(build.status.duration / 1_000_000_000);
    }
    match (&build.status.start_timestamp, &build.status.completion_timestamp) {
        (Some(start), Some(end)) => go_duration(seconds_between(start, end)),
        (Some(start), None) => go_duration(seconds_between(start, now)),
        _ => String::new(),
    }
}

// ---------------------------------------------------------------------------
// Short descriptions.

/// `Git@ref` (with the commit when known), `Binary`, `Image` — oc's FROM column.
fn source_short(source: &BuildSource, revision: Option<&SourceRevision>) -> String {
    let commit = revision.and_then(|r| r.git.as_ref()).map(|g| g.commit.as_str()).filter(|c| !c.is_empty());
    if let Some(git) = &source.git {
        let mut text = "Git".to_owned();
        match commit {
            Some(commit) => text.push_str(&format!("@{}", &commit[..commit.len().min(7)])),
            None if !git.git_ref.is_empty() => text.push_str(&format!("@{}", git.git_ref)),
            None => {}
        }
        text
    } else if source.binary.is_some() {
        "Binary".into()
    } else if !source.images.is_empty() {
        "Image".into()
    } else {
        String::new()
    }
}

fn reference_text(reference: &ObjectReference) -> String {
    let name = if reference.namespace.is_empty() {
        reference.name.clone()
    } else {
        format!("{}/{}", reference.namespace, reference.name)
    };
    format!("{} {name}", reference.kind)
}

fn status_text(build: &Build) -> String {
    let mut text = build.status.phase.to_string();
    if !build.status.reason.is_empty() && build.status.phase != BuildPhase::Complete {
        text.push_str(&format!(" ({})", build.status.reason));
    }
    text
}

// ---------------------------------------------------------------------------
// Keeping builds honest: the ones whose process is gone are marked Error.

/// Mark the builds of `namespace` (all when `None`) whose executor is gone,
/// note it in their logs and remove their containers (when the engine is at hand).
async fn refresh_async(
    store: &Store,
    namespace: Option<&str>,
    runtime: Option<&dyn s2i_core::ContainerRuntime>,
) -> Result<(), Failure> {
    let reaped = store.write(|tx| reap(tx, namespace))?;
    if !reaped.is_empty() {
        for warning in clean_up_reaped(store.dir(), runtime, &reaped).await {
            eprintln!("warning: {warning}");
        }
    }
    Ok(())
}

/// [`refresh_async`] for the verbs that read (`get`, `describe`): only for
/// the build kinds; the engine is reached only when a build was marked.
pub(crate) async fn refresh_for(context: &Context, kind: &str) -> Result<(), Failure> {
    if kind != Build::KIND && kind != BuildConfig::KIND {
        return Ok(());
    }
    let namespace = context.namespace.clone();
    let reaped = context.store.write(|tx| reap(tx, Some(&namespace)))?;
    if reaped.is_empty() {
        return Ok(());
    }
    let runtime = super::connect_engine(&context.global, None).await.ok();
    let runtime = runtime.as_ref().map(|r| r as &dyn s2i_core::ContainerRuntime);
    for warning in clean_up_reaped(context.store.dir(), runtime, &reaped).await {
        eprintln!("warning: {warning}");
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// BuildConfig.

pub(crate) const BUILD_CONFIG: Kind = Kind {
    info: BuildConfig::INFO,
    columns: &["NAME", "TYPE", "FROM", "LATEST"],
    get: |tx, namespace, name| Ok(to_value(&get_build_config(tx, namespace, name)?)),
    list: Some(|tx, namespace| Ok(tx.list_as::<BuildConfig>(namespace)?.iter().map(to_value).collect())),
    row: |value| {
        let config: BuildConfig = typed(value);
        vec![
            config.metadata.name.clone(),
            config.spec.strategy.kind.clone(),
            source_short(&config.spec.source, config.spec.revision.as_ref()),
            config.status.last_version.to_string(),
        ]
    },
    describe: Some(|tx, value| describe_config(tx, &typed(value))),
    apply: Some(ApplyOps { parse: parse_config, write: write_config, after: after_configs }),
    delete: Some(delete_config),
};

fn parse_config(document: Document<'_>, namespace: &str) -> Result<Value, DocumentError> {
    let mut config = document.decode::<BuildConfig>().map_err(DocumentError::Yaml)?;
    if config.metadata.namespace.is_empty() {
        config.metadata.namespace = namespace.to_owned();
    }
    check_build_config(&config).map_err(|e| DocumentError::Invalid(e.into()))?;
    Ok(to_value(&config))
}

fn write_config(tx: &Tx<'_>, value: Value) -> LibResult<Applied> {
    let config: BuildConfig = typed(&value);
    let AppliedConfig { config, verb, .. } = apply_build_config(tx, config)?;
    Ok(Applied { namespace: config.metadata.namespace.clone(), name: config.metadata.name.clone(), verb })
}

fn after_configs<'a>(session: &'a Session, applied: &'a [Applied]) -> BoxFuture<'a, Result<Vec<String>, Failure>> {
    Box::pin(async move {
        let mut report = TriggerReport::default();
        for object in applied {
            let config = session.context.store.read(|tx| get_build_config(tx, &object.namespace, &object.name))?;
            if let Ok(warnings) = check_build_config(&config) {
                for warning in warnings {
                    eprintln!("warning: buildconfig.{GROUP}/{}: {warning}", object.name);
                }
            }
            if session.context.no_triggers {
                continue;
            }
            let one = session.context.store.write(|tx| on_applied(tx, &object.namespace, &object.name))?;
            report.started.extend(one.started);
            report.warnings.extend(one.warnings);
        }
        launch_started(session, report)?;
        Ok(Vec::new())
    })
}

fn delete_config<'a>(session: &'a Session, name: &'a str) -> BoxFuture<'a, Result<String, Failure>> {
    Box::pin(async move {
        let namespace = session.context.namespace.clone();
        let deleted = session.context.store.write(|tx| delete_build_config(tx, &namespace, name))?;
        for build in &deleted {
            remove_files(session.context.store.dir(), &namespace, build);
        }
        Ok(format!("buildconfig.{GROUP} \"{name}\" deleted"))
    })
}

fn describe_config(tx: &Tx<'_>, config: &BuildConfig) -> LibResult<String> {
    let mut out = String::new();
    let field = |out: &mut String, name: &str, value: &str| {
        let _ = writeln!(out, "{:<24}{value}", format!("{name}:"));
    };
    describe_meta(&mut out, &config.metadata);
    field(&mut out, "Latest Version", &config.status.last_version.to_string());
    let _ = writeln!(out);
    describe_common(
        &mut out,
        &config.spec.strategy,
        &config.spec.source,
        &config.spec.output,
        &config.spec.resources,
        &config.spec.post_commit,
        config.spec.completion_deadline_seconds,
    );
    field(&mut out, "Run Policy", config.spec.run_policy.as_str());
    let mut triggers = Vec::new();
    if config.has_config_change_trigger() {
        triggers.push("Config".to_owned());
    }
    for (tag, paused) in config.watched_tags() {
        let last = config
            .status
            .image_change_triggers
            .iter()
            .find(|t| t.from.name == tag.name)
            .map(|t| t.last_triggered_image_id.clone())
            .filter(|i| !i.is_empty());
        let name = if tag.namespace == config.metadata.namespace {
            tag.name.clone()
        } else {
            format!("{}/{}", tag.namespace, tag.name)
        };
        let mut text = format!("ImageChange on {name}");
        if paused {
            text.push_str(" (paused)");
        }
        if let Some(last) = last {
            text.push_str(&format!(" (last image {last})"));
        }
        triggers.push(text);
    }
    field(
        &mut out,
        "Triggered by",
        &if triggers.is_empty() { "<none>".into() } else { triggers.join("\n                        ") },
    );
    field(&mut out, "Builds History Limit", "");
    let limit = |l: Option<i32>| l.map_or("all".to_owned(), |l| l.to_string());
    let _ = writeln!(out, "  Successful:           {}", limit(config.spec.successful_builds_history_limit));
    let _ = writeln!(out, "  Failed:               {}", limit(config.spec.failed_builds_history_limit));
    if config.is_paused() {
        field(&mut out, "Paused", "true (no build can start)");
    }
    let builds = builds_of(tx, &config.metadata.namespace, &config.metadata.name)?;
    let _ = writeln!(out);
    if builds.is_empty() {
        let _ = writeln!(out, "No builds.");
    } else {
        let now = s2i_store::timestamp::format(&s2i_store::timestamp::now());
        let _ = writeln!(out, "{:<28}{:<32}{:<10}Creation Time", "Build", "Status", "Duration");
        for build in builds.iter().rev() {
            let _ = writeln!(
                out,
                "{:<28}{:<32}{:<10}{}",
                build.metadata.name,
                status_text(build).to_lowercase(),
                build_duration(build, &now),
                time_text(build.metadata.creation_timestamp)
            );
        }
    }
    Ok(out)
}

fn describe_meta(out: &mut String, meta: &s2i_store::ObjectMeta) {
    let pairs = |map: &BTreeMap<String, String>| {
        if map.is_empty() {
            "<none>".to_owned()
        } else {
            map.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n                        ")
        }
    };
    let _ = writeln!(out, "{:<24}{}", "Name:", meta.name);
    let _ = writeln!(out, "{:<24}{}", "Namespace:", meta.namespace);
    let _ = writeln!(out, "{:<24}{}", "Created:", or_none(&time_text(meta.creation_timestamp)));
    let _ = writeln!(out, "{:<24}{}", "Labels:", pairs(&meta.labels));
    let _ = writeln!(out, "{:<24}{}", "Annotations:", pairs(&meta.annotations));
}

fn describe_common(
    out: &mut String,
    strategy: &BuildStrategy,
    source: &BuildSource,
    output: &BuildOutput,
    resources: &ResourceRequirements,
    hook: &BuildPostCommitSpec,
    deadline: Option<i64>,
) {
    let field = |out: &mut String, name: &str, value: &str| {
        let _ = writeln!(out, "{:<24}{value}", format!("{name}:"));
    };
    field(out, "Strategy", &strategy.kind);
    if let Some(git) = &source.git {
        field(out, "URL", &git.uri);
        if !git.git_ref.is_empty() {
            field(out, "Ref", &git.git_ref);
        }
    }
    if let Some(binary) = &source.binary {
        let name = if binary.as_file.is_empty() { "a directory or file".to_owned() } else { binary.as_file.clone() };
        field(out, "Binary", &format!("provided on build ({name})"));
    }
    if !source.context_dir.is_empty() {
        field(out, "Context Dir", &source.context_dir);
    }
    for image in &source.images {
        let paths: Vec<String> =
            image.paths.iter().map(|p| format!("{} -> {}", p.source_path, p.destination_dir)).collect();
        field(out, "Image Source", &format!("copies {} from {}", paths.join(", "), reference_text(&image.from)));
    }
    if let Some(source_strategy) = &strategy.source_strategy {
        field(out, "From Image", &reference_text(&source_strategy.from));
        if source_strategy.incremental == Some(true) {
            field(out, "Incremental Build", "yes");
        }
        if source_strategy.force_pull {
            field(out, "Force Pull", "yes");
        }
        if !source_strategy.scripts.is_empty() {
            field(out, "Scripts", &source_strategy.scripts);
        }
        if !source_strategy.env.is_empty() {
            let env: Vec<String> = source_strategy.env.iter().map(|v| format!("{}={}", v.name, v.value)).collect();
            field(out, "Environment", &env.join("\n                        "));
        }
    }
    match &output.to {
        Some(to) => field(out, "Output to", &reference_text(to)),
        None => field(out, "Output to", "<none> (the image is removed after the build)"),
    }
    if !output.image_labels.is_empty() {
        let labels: Vec<String> = output.image_labels.iter().map(|l| format!("{}={}", l.name, l.value)).collect();
        field(out, "Image Labels", &labels.join("\n                        "));
    }
    if !resources.limits.is_empty() {
        let limits: Vec<String> = resources.limits.iter().map(|(k, v)| format!("{k}={}", v.0)).collect();
        field(out, "Resource Limits", &limits.join(", "));
    }
    if !hook.is_empty() {
        let (entrypoint, cmd) = hook.container_command();
        let words: Vec<String> = entrypoint.iter().flatten().chain(cmd.iter()).map(|w| format!("{w:?}")).collect();
        field(out, "Post Commit Hook", &format!("[{}]", words.join(", ")));
    }
    if let Some(seconds) = deadline {
        field(out, "Completion Deadline", &format!("{seconds}s"));
    }
}

// ---------------------------------------------------------------------------
// Build.

pub(crate) const BUILD: Kind = Kind {
    info: Build::INFO,
    columns: &["NAME", "TYPE", "FROM", "STATUS", "STARTED", "DURATION"],
    get: |tx, namespace, name| Ok(to_value(&get_build(tx, namespace, name)?)),
    list: Some(|tx, namespace| {
        let mut builds = tx.list_as::<Build>(namespace)?;
        // Like oc: by config, then by number.
        builds.sort_by(|a, b| {
            (&a.metadata.namespace, a.config_name(), a.number()).cmp(&(
                &b.metadata.namespace,
                b.config_name(),
                b.number(),
            ))
        });
        Ok(builds.iter().map(to_value).collect())
    }),
    row: |value| {
        let build: Build = typed(value);
        let now = jiff::Timestamp::now();
        vec![
            build.metadata.name.clone(),
            build.spec.strategy.kind.clone(),
            source_short(&build.spec.source, build.spec.revision.as_ref()),
            status_text(&build),
            build.status.start_timestamp.as_deref().map(|t| ago(t, now)).unwrap_or_default(),
            build_duration(&build, &now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
        ]
    },
    describe: Some(|tx, value| describe_build(tx, &typed(value))),
    apply: None,
    delete: Some(delete_one_build),
};

fn delete_one_build<'a>(session: &'a Session, name: &'a str) -> BoxFuture<'a, Result<String, Failure>> {
    Box::pin(async move {
        let namespace = session.context.namespace.clone();
        session.context.store.write(|tx| delete_build(tx, &namespace, name))?;
        remove_files(session.context.store.dir(), &namespace, name);
        Ok(format!("build.{GROUP} \"{name}\" deleted"))
    })
}

fn describe_build(_tx: &Tx<'_>, build: &Build) -> LibResult<String> {
    let mut out = String::new();
    let field = |out: &mut String, name: &str, value: &str| {
        let _ = writeln!(out, "{:<24}{value}", format!("{name}:"));
    };
    describe_meta(&mut out, &build.metadata);
    let _ = writeln!(out);
    let mut status = status_text(build);
    if !build.status.message.is_empty() {
        status.push_str(&format!(": {}", build.status.message));
    }
    if build.status.cancelled && build.is_active() {
        status.push_str(" (cancellation requested)");
    }
    field(&mut out, "Status", &status);
    field(&mut out, "Started", &or_none(build.status.start_timestamp.as_deref().unwrap_or_default()));
    let now = s2i_store::timestamp::format(&s2i_store::timestamp::now());
    field(&mut out, "Duration", &or_none(&build_duration(build, &now)));
    for stage in &build.status.stages {
        let _ = writeln!(
            out,
            "  {:<22}{}",
            format!("{}:", stage.name),
            go_duration((stage.duration_milliseconds + 500) / 1000)
        );
    }
    let _ = writeln!(out);
    if let Some(config) = build.config_name() {
        field(&mut out, "Build Config", config);
    }
    if let Some(executor) = executor_of(build) {
        field(&mut out, "Run by", &format!("s2i process {} on {}", executor.pid, executor.host));
    }
    let _ = writeln!(out);
    describe_common(
        &mut out,
        &build.spec.strategy,
        &build.spec.source,
        &build.spec.output,
        &build.spec.resources,
        &build.spec.post_commit,
        build.spec.completion_deadline_seconds,
    );
    if let Some(git) = build.spec.revision.as_ref().and_then(|r| r.git.as_ref()) {
        let mut commit = git.commit.clone();
        if !git.message.is_empty() {
            commit.push_str(&format!(" ({})", git.message));
        }
        field(&mut out, "Commit", &commit);
        if !git.author.name.is_empty() {
            field(&mut out, "Author", &format!("{} <{}>", git.author.name, git.author.email));
        }
    }
    if !build.status.output_docker_image_reference.is_empty() {
        field(&mut out, "Output Image", &build.status.output_docker_image_reference);
    }
    if let Some(to) = &build.status.output.to {
        field(&mut out, "Output Image Digest", &to.image_digest);
    }
    let _ = writeln!(out);
    for cause in &build.spec.triggered_by {
        field(&mut out, "Build trigger cause", &cause.message);
        if let Some(change) = &cause.image_change_build {
            field(&mut out, "Image ID", &change.image_id);
            if let Some(from) = &change.from_ref {
                let name = if from.namespace.is_empty() {
                    from.name.clone()
                } else {
                    format!("{}/{}", from.namespace, from.name)
                };
                field(&mut out, "Image Name/Kind", &format!("{name} / {}", from.kind));
            }
        }
    }
    if !build.status.log_snippet.is_empty() {
        let _ = writeln!(out);
        field(&mut out, "Log Tail", "");
        for line in build.status.log_snippet.lines() {
            let _ = writeln!(out, "    {line}");
        }
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// Running builds.

/// The command that runs one build in the background: `s2i run-build NAME`
/// with the global options of this command (the store made absolute).
fn worker_command(global: &GlobalArgs, store_dir: &Path, namespace: &str, name: &str) -> std::process::Command {
    let exe = std::env::current_exe().unwrap_or_else(|_| PathBuf::from("s2i"));
    let mut command = std::process::Command::new(exe);
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
    command.arg("run-build").arg(name);
    command
}

/// Start the process that runs a build in the background: its own process
/// group (a Ctrl-C of this terminal does not reach it), stdin closed,
/// stdout and stderr appended to the build's log. A failure to start marks
/// the build `Error` (`CannotCreateBuildPod`).
fn launch(context: &Context, namespace: &str, name: &str) -> Result<(), Failure> {
    use std::os::unix::process::CommandExt;
    let dir = context.store.dir().to_owned();
    let started = open_append(&log_path(&dir, namespace, name)).and_then(|log| {
        let stderr = log.try_clone().map_err(|e| s2i_buildconfig::Error::StoreFile {
            action: "open",
            path: log_path(&dir, namespace, name),
            source: e,
        })?;
        let mut command = worker_command(&context.global, &dir, namespace, name);
        command.stdin(std::process::Stdio::null()).stdout(log).stderr(stderr).process_group(0);
        command.spawn().map_err(|e| {
            let exe = std::env::current_exe().unwrap_or_default();
            s2i_buildconfig::Error::Launch(std::io::Error::new(e.kind(), WorkerNotStarted { exe, source: e }))
        })
    });
    match started {
        Ok(mut child) => {
            // Reap it when it ends, so that a long-lived parent leaves no zombie.
            std::thread::spawn(move || {
                let _ = child.wait();
            });
            Ok(())
        }
        Err(e) => {
            let message = e.to_string();
            let _ = context.store.write(|tx| {
                if let Some(mut build) = tx.get_as::<Build>(namespace, name)?
                    && build.is_active()
                {
                    let (reason, _) = reasons::CANNOT_CREATE_BUILD_POD;
                    set_phase(&mut build, BuildPhase::Error, reason, &message, tx.now())?;
                    tx.update_as(&build)?;
                }
                Ok::<_, s2i_buildconfig::Error>(())
            });
            Err(e.into())
        }
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

/// Start the processes of builds triggers created, and say so.
fn launch_started(session: &Session, report: TriggerReport) -> Result<(), Failure> {
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    for Started { build, cause } in report.started {
        launch(&session.context, &build.metadata.namespace, &build.metadata.name)?;
        eprintln!("{} started by {cause}", shown_build(&session.context.namespace, &build));
    }
    Ok(())
}

fn shown_build(namespace: &str, build: &Build) -> String {
    if build.metadata.namespace == namespace {
        format!("build/{}", build.metadata.name)
    } else {
        format!("build/{} (namespace {})", build.metadata.name, build.metadata.namespace)
    }
}

/// After a command moved tags: start the builds their changes trigger, in
/// the background (nothing with `--no-triggers`).
pub(crate) async fn after_tag_changes(session: &Session) -> Result<(), Failure> {
    if session.context.no_triggers {
        return Ok(());
    }
    let report = process_events(&session.context.store)?;
    launch_started(session, report)
}

/// Run one build in this process; with `follow`, copy its log to stdout meanwhile.
async fn run_here(
    session: &Session,
    namespace: &str,
    name: &str,
    follow_log: bool,
    cancel: &CancellationToken,
) -> Result<Build, Failure> {
    let runtime = session.runtime()?;
    let runner = Runner::new(session.context.store.dir(), runtime, session.registry())
        .with_triggers(!session.context.no_triggers);
    let follower = follow_log.then(|| {
        let (dir, namespace, name) = (session.context.store.dir().to_owned(), namespace.to_owned(), name.to_owned());
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = std::thread::spawn(move || {
            let Ok(store) = Store::open(&dir) else { return };
            let mut stdout = std::io::stdout();
            let _ = follow(&store, &namespace, &name, &mut stdout, true, Duration::from_millis(200), &|| {
                flag.load(Ordering::Relaxed)
            });
        });
        (handle, stop)
    });
    let result = runner.run(namespace, name, cancel).await;
    if let Some((handle, stop)) = follower {
        if result.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        let _ = tokio::task::spawn_blocking(move || handle.join()).await;
    }
    Ok(result?)
}

/// Run builds in this process, then the builds their outputs trigger, until
/// none is left; returns the builds that did not complete.
async fn run_chain(
    session: &Session,
    first: Build,
    follow_log: bool,
    cancel: &CancellationToken,
) -> Result<Vec<Build>, Failure> {
    let mut queue = vec![first];
    let mut failed = Vec::new();
    while !queue.is_empty() {
        let build = queue.remove(0);
        let ended = run_here(session, &build.metadata.namespace, &build.metadata.name, follow_log, cancel).await?;
        let shown = shown_build(&session.context.namespace, &ended);
        if ended.status.phase != BuildPhase::Complete {
            let mut line = format!("{shown} {}", status_text(&ended));
            if !ended.status.message.is_empty() {
                line.push_str(&format!(": {}", ended.status.message));
            }
            eprintln!("{line}");
            failed.push(ended);
        } else if !follow_log {
            eprintln!("{shown} complete");
        }
        if cancel.is_cancelled() {
            break;
        }
        if !session.context.no_triggers {
            let report = process_events(&session.context.store)?;
            for warning in &report.warnings {
                eprintln!("warning: {warning}");
            }
            let me = Executor::current();
            for Started { build, cause } in report.started {
                // This process runs it after the others: it says so now.
                let (namespace, name) = (&build.metadata.namespace, &build.metadata.name);
                session.context.store.write(|tx| register(tx, namespace, name, &me))?;
                eprintln!("{} started by {cause}", shown_build(&session.context.namespace, &build));
                queue.push(build);
            }
        }
    }
    Ok(failed)
}

fn parse_env(values: &[String]) -> Result<Vec<EnvVar>, Failure> {
    values
        .iter()
        .map(|value| {
            let var = s2i_core::env::parse_env_arg(value)?;
            Ok(EnvVar { name: var.name, value: var.value, value_from: None })
        })
        .collect()
}

/// `s2i start-build`.
pub(crate) async fn start_build(global: &GlobalArgs, args: StartBuildArgs) -> Result<i32, Failure> {
    let session = Session::open(global, None).await?;
    let namespace = session.context.namespace.clone();
    // The engine is needed to run the build: find out now, before a build is created.
    let runtime = session.runtime()?;
    runtime.info().await.map_err(|e| {
        Failure::message(
            format!("the container engine cannot be reached: {e}"),
            "start it (e.g. `cargo xtask docker`)".into(),
        )
    })?;
    refresh_async(&session.context.store, Some(&namespace), Some(runtime.as_ref())).await?;
    let config = session.context.store.read(|tx| get_build_config(tx, &namespace, &args.name))?;
    let mut request = BuildRequest::new(&namespace, &args.name, causes::MANUAL);
    request.env = parse_env(&args.env)?;
    request.commit = args.commit.clone();
    let binary_input = match (&args.from_dir, &args.from_file) {
        (Some(dir), _) => Some((dir.clone(), None)),
        (None, Some(file)) => {
            let as_file = config
                .spec
                .source
                .binary
                .as_ref()
                .map(|b| b.as_file.clone())
                .filter(|n| !n.is_empty())
                .or_else(|| file.file_name().map(|n| n.to_string_lossy().into_owned()))
                .ok_or_else(|| {
                    Failure::message(format!("{} has no file name", file.display()), "give the path of a file".into())
                })?;
            Some((file.clone(), Some(as_file)))
        }
        (None, None) => None,
    };
    if let Some((_, as_file)) = &binary_input {
        request.binary = Some(BinaryBuildSource { as_file: as_file.clone().unwrap_or_default() });
        // Check the input before a build exists.
        let (path, _) = binary_input.as_ref().expect("set above");
        let meta = std::fs::metadata(path).map_err(|e| {
            Failure::message(format!("cannot read {}: {e}", path.display()), "give an existing path".into())
        })?;
        if as_file.is_none() && !meta.is_dir() {
            return Err(Failure::message(
                format!("{} is not a directory", path.display()),
                "use --from-file for a single file".into(),
            ));
        }
    }
    let build = session.context.store.write(|tx| instantiate(tx, &request))?;
    let name = build.metadata.name.clone();
    if let Some((path, as_file)) = &binary_input {
        let target = input_path(session.context.store.dir(), &namespace, &name);
        let copied = match as_file {
            Some(as_file) => binary::snapshot_file(path, &target, as_file),
            None => binary::snapshot_dir(path, &target),
        };
        if let Err(e) = copied {
            let message = e.to_string();
            let _ = std::fs::remove_dir_all(&target);
            session.context.store.write(|tx| {
                let mut build = get_build(tx, &namespace, &name)?;
                let (reason, _) = reasons::FETCH_SOURCE_FAILED;
                set_phase(&mut build, BuildPhase::Error, reason, &message, tx.now())?;
                Ok::<_, s2i_buildconfig::Error>(tx.update_as(&build)?)
            })?;
            return Err(e.into());
        }
    }
    println!("build/{name} started");
    if !(args.wait || args.follow) {
        launch(&session.context, &namespace, &name)?;
        return Ok(0);
    }
    let (token, received) = cancellation();
    let failed = run_chain(&session, build, args.follow, &token).await?;
    if token.is_cancelled() {
        return Ok(cancelled_code(&received));
    }
    match failed.first() {
        None => Ok(0),
        Some(build) => Err(Failure::message(
            format!(
                "build {} did not complete: {}{}",
                build.metadata.name,
                status_text(build),
                if build.status.message.is_empty() { String::new() } else { format!(": {}", build.status.message) }
            ),
            format!("see its log: s2i logs build/{}", build.metadata.name),
        )),
    }
}

/// `s2i run-build`: run one build here; what `s2i start-build` starts in the
/// background, with stdout and stderr on the build's log.
pub(crate) async fn run_build(global: &GlobalArgs, args: RunBuildArgs) -> Result<i32, Failure> {
    // The terminal this was started from may go away; the build goes on.
    ignore_hangups();
    let context = Context::open(global)?;
    let namespace = context.namespace.clone();
    // A busy engine may be slow to answer: a few attempts before the build is given up.
    let connected = s2i_core::retry::retry(
        3,
        Duration::from_secs(2),
        |_: &s2i_docker::Error| true,
        |_| super::connect_engine(global, None),
    )
    .await;
    let runtime = connected.map(|r| Arc::new(r) as Arc<dyn s2i_core::ContainerRuntime>).map_err(|e| e.to_string());
    let session = Session::with_engine(context, runtime, None);
    if let Err(failure) = session.runtime() {
        let message = format!("The container engine cannot be reached: {}", failure_text(&failure));
        let _ = session.context.store.write(|tx| {
            let mut build = get_build(tx, &namespace, &args.name)?;
            if build.is_active() {
                let (reason, _) = reasons::CANNOT_CREATE_BUILD_POD;
                set_phase(&mut build, BuildPhase::Error, reason, &message, tx.now())?;
                tx.update_as(&build)?;
            }
            Ok::<_, s2i_buildconfig::Error>(())
        });
        return Err(failure);
    }
    let (token, received) = cancellation();
    let ended = run_here(&session, &namespace, &args.name, false, &token).await?;
    if !session.context.no_triggers && !token.is_cancelled() {
        let report = process_events(&session.context.store)?;
        launch_started(&session, report)?;
    }
    if token.is_cancelled() {
        return Ok(cancelled_code(&received));
    }
    Ok(if ended.status.phase == BuildPhase::Complete { 0 } else { 1 })
}

fn failure_text(failure: &Failure) -> String {
    failure.report.to_string()
}

fn ignore_hangups() {
    tokio::spawn(async {
        if let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            while hangups.recv().await.is_some() {}
        }
    });
}

/// `TYPE/NAME` of `s2i logs` and `s2i cancel-build`: a build, or a config.
enum Target {
    Build(String),
    Config(String),
}

fn parse_target(text: &str, default_build: bool) -> Result<Target, Failure> {
    let (kind, name) = match text.split_once('/') {
        Some((kind, name)) => (kind, name),
        None if default_build => ("build", text),
        None => {
            return Err(Failure::message(
                format!("{text:?} names no kind"),
                "write build/NAME-N, or bc/NAME for the latest build of a config".into(),
            ));
        }
    };
    if name.is_empty() {
        return Err(Failure::message(format!("{text:?} names no object"), "write build/NAME-N or bc/NAME".into()));
    }
    match kind.to_ascii_lowercase().as_str() {
        "build" | "builds" | "build.build.openshift.io" => Ok(Target::Build(name.to_owned())),
        "bc" | "buildconfig" | "buildconfigs" | "buildconfig.build.openshift.io" => Ok(Target::Config(name.to_owned())),
        other => Err(Failure::message(
            format!("{other:?} is not build or bc"),
            "write build/NAME-N, or bc/NAME for the latest build of a config".into(),
        )),
    }
}

/// `s2i logs`.
pub(crate) async fn logs(global: &GlobalArgs, args: LogsArgs) -> Result<i32, Failure> {
    let session = Session::open(global, None).await?;
    let namespace = session.context.namespace.clone();
    refresh_async(&session.context.store, Some(&namespace), session.runtime_if_reachable()).await?;
    let name = match parse_target(&args.target, false)? {
        Target::Build(name) => {
            session.context.store.read(|tx| get_build(tx, &namespace, &name))?;
            name
        }
        Target::Config(config) => {
            let bc = session.context.store.read(|tx| get_build_config(tx, &namespace, &config))?;
            if bc.status.last_version == 0 {
                return Err(Failure::message(
                    format!("buildconfig {config} has no builds yet"),
                    format!("start one with `s2i start-build {config}`"),
                ));
            }
            s2i_buildconfig::generator::build_name(&config, bc.status.last_version)
        }
    };
    let dir = session.context.store.dir().to_owned();
    let follow_flag = args.follow;
    // The log is followed on a blocking thread; builds it finds orphaned are
    // cleaned up here, on the runtime, before it reads on (so that their log
    // gets the lines the clean-up writes).
    let (reaped_tx, mut reaped_rx) =
        tokio::sync::mpsc::unbounded_channel::<(Vec<_>, tokio::sync::oneshot::Sender<()>)>();
    let following = tokio::task::spawn_blocking({
        let dir = dir.clone();
        move || {
            let store = Store::open(&dir)?;
            let mut stdout = std::io::stdout();
            let last_reap = std::cell::Cell::new(std::time::Instant::now());
            follow(&store, &namespace, &name, &mut stdout, follow_flag, Duration::from_millis(250), &|| {
                // While following, a build whose process died must still end.
                if last_reap.get().elapsed() > Duration::from_secs(2) {
                    last_reap.set(std::time::Instant::now());
                    if let Ok(reaped) = store.write(|tx| reap(tx, Some(&namespace)))
                        && !reaped.is_empty()
                    {
                        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
                        if reaped_tx.send((reaped, done_tx)).is_ok() {
                            let _ = done_rx.blocking_recv();
                        }
                    }
                }
                false
            })
        }
    });
    tokio::pin!(following);
    let runtime = session.runtime_if_reachable();
    let followed = loop {
        tokio::select! {
            Some((reaped, done)) = reaped_rx.recv() => {
                for warning in clean_up_reaped(&dir, runtime, &reaped).await {
                    eprintln!("warning: {warning}");
                }
                let _ = done.send(());
            }
            joined = &mut following => break joined,
        }
    }
    .map_err(|e| Failure::internal(&e.to_string()))??;
    match followed {
        Followed::Ended(build) if follow_flag && build.status.phase != BuildPhase::Complete => {
            eprintln!("build/{} {}", build.metadata.name, status_text(&build));
            Ok(1)
        }
        Followed::Ended(_) => Ok(0),
        Followed::Deleted => Err(Failure::message(
            "the build was deleted while its log was followed".into(),
            "list the builds with `s2i get builds`".into(),
        )),
    }
}

/// `s2i cancel-build`.
pub(crate) async fn cancel_build(global: &GlobalArgs, args: CancelBuildArgs) -> Result<i32, Failure> {
    let session = Session::open(global, None).await?;
    let namespace = session.context.namespace.clone();
    refresh_async(&session.context.store, Some(&namespace), session.runtime_if_reachable()).await?;
    let mut names = Vec::new();
    for target in &args.builds {
        match parse_target(target, true)? {
            Target::Build(name) => names.push(name),
            Target::Config(config) => {
                let builds = session.context.store.read(|tx| {
                    get_build_config(tx, &namespace, &config)?;
                    builds_of(tx, &namespace, &config)
                })?;
                names.extend(builds.into_iter().filter(Build::is_active).map(|b| b.metadata.name));
            }
        }
    }
    let mut code = 0;
    for name in &names {
        match session.context.store.write(|tx| cancel_one(tx, &namespace, name)) {
            Ok(_) => {}
            Err(e) => {
                eprintln!("{:?}", miette::Report::new(e));
                code = 1;
                continue;
            }
        }
        // The executor stops the build and removes its containers; wait for it.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            refresh_async(&session.context.store, Some(&namespace), session.runtime_if_reachable()).await?;
            let build = session.context.store.read(|tx| tx.get_as::<Build>(&namespace, name))?;
            match build {
                Some(build) if build.is_terminal() => {
                    if build.status.phase == BuildPhase::Cancelled {
                        println!("build.{GROUP}/{name} cancelled");
                    } else {
                        println!("build.{GROUP}/{name} {}", status_text(&build).to_lowercase());
                    }
                    break;
                }
                None => {
                    println!("build.{GROUP}/{name} deleted");
                    break;
                }
                Some(_) if std::time::Instant::now() > deadline => {
                    eprintln!(
                        "warning: build {name} is marked for cancellation; its process has not stopped it yet \
                         (s2i get build {name} shows when it does)"
                    );
                    break;
                }
                Some(_) => tokio::time::sleep(Duration::from_millis(200)).await,
            }
        }
    }
    Ok(code)
}

/// The controller's scheduled imports: re-import the tags that are due and
/// say what moved or failed (an unchanged tag says nothing). A failure is the
/// tag's, recorded on it; the controller goes on.
async fn import_scheduled_tags(session: &Session, schedule: &mut ImportSchedule) -> Result<(), Failure> {
    let streams = session.image_streams();
    let due = streams.due_scheduled(schedule, std::time::Instant::now())?;
    if due.is_empty() {
        return Ok(());
    }
    let (imports, mirrored) = session.report(streams.import_scheduled(&due).await?);
    for import in imports {
        let tag = &import.tag;
        match import.result {
            ScheduledResult::Updated { image } => eprintln!("Scheduled import: {tag} moved to {image}"),
            ScheduledResult::Unchanged => {}
            ScheduledResult::Failed(failure) => {
                eprintln!("warning: scheduled import of {tag} failed ({}): {}", failure.reason, failure.message)
            }
        }
    }
    if let Err(failure) = mirrored {
        eprintln!("warning: {}", failure.report);
    }
    Ok(())
}

/// `s2i controller`.
pub(crate) async fn controller(global: &GlobalArgs, args: ControllerArgs) -> Result<i32, Failure> {
    let session = Session::open(global, None).await?;
    let (token, _received) = cancellation();
    eprintln!("Watching {} for image changes (Ctrl-C stops)", session.context.store.dir().display());
    let mut schedule = ImportSchedule::new(Duration::from_secs(args.import_interval));
    while !token.is_cancelled() {
        refresh_async(&session.context.store, None, session.runtime_if_reachable()).await?;
        import_scheduled_tags(&session, &mut schedule).await?;
        if !session.context.no_triggers {
            let report = process_events(&session.context.store)?;
            launch_started(&session, report)?;
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(args.interval)) => {}
            _ = token.cancelled() => {}
        }
    }
    eprintln!("Controller stopped; builds it started go on in their own processes");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_go() {
        assert_eq!(go_duration(0), "0s");
        assert_eq!(go_duration(15), "15s");
        assert_eq!(go_duration(63), "1m3s");
        assert_eq!(go_duration(3605), "1h0m5s");
    }

    #[test]
    fn relative_times_read_like_docker() {
        let now: jiff::Timestamp = "2026-01-01T12:00:00Z".parse().unwrap();
        assert_eq!(ago("2026-01-01T12:00:00Z", now), "Less than a second ago");
        assert_eq!(ago("2026-01-01T11:59:30Z", now), "30 seconds ago");
        assert_eq!(ago("2026-01-01T11:59:00Z", now), "About a minute ago");
        assert_eq!(ago("2026-01-01T11:00:00Z", now), "About an hour ago");
        assert_eq!(ago("2025-12-30T12:00:00Z", now), "2 days ago");
    }

    #[test]
    fn targets() {
        assert!(matches!(parse_target("build/app-1", false), Ok(Target::Build(n)) if n == "app-1"));
        assert!(matches!(parse_target("bc/app", false), Ok(Target::Config(n)) if n == "app"));
        assert!(matches!(parse_target("app-1", true), Ok(Target::Build(n)) if n == "app-1"));
        assert!(parse_target("app-1", false).is_err());
        assert!(parse_target("pod/x", false).is_err());
    }
}
