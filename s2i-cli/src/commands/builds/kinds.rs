//! The build kinds in the object verbs (`get`, `describe`, `apply`,
//! `delete` of `buildconfigs` and `builds`): their tables and descriptions,
//! as `oc` shows them, and the hooks that apply, delete and refresh them
//! through `s2i_buildconfig`.

use std::path::Path;

use s2i_buildconfig::types::*;
use s2i_buildconfig::webhooks::{HookKind, serving, url_path};
use s2i_buildconfig::{
    AppliedBuild, AppliedConfig, Builds, Event, Kept, apply_build, apply_build_config, builds_of, check_build,
    check_build_config, executor_of, get_build, get_build_config, list_build_configs, list_builds,
};
use s2i_imagestream::registry::RegistryClient;
use s2i_store::codec::Document;
use s2i_store::{Applied, Resource, Tx, WriteAction};
use serde_json::Value;

use crate::commands::build_events::{Printer, status_text};
use crate::commands::engine::connect_engine;
use crate::commands::kind::{
    ApplyOps, BoxFuture, DocumentError, Kind, LibResult, decode, parse_in_namespace, to_value,
};
use crate::commands::session::{Context, Session};
use crate::commands::worker::WorkerProcess;
use crate::failure::Failure;
use crate::render::{Description, or_none, time_text};

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

/// For the verbs that read (`get`, `describe`) the build kinds: mark the
/// builds whose process is gone; the engine is reached only when one was.
fn refresh<'a>(context: &'a Context) -> BoxFuture<'a, Result<(), Failure>> {
    Box::pin(async move {
        let (registry, worker) = (RegistryClient::anonymous(), WorkerProcess::new(&context.global));
        let printer = Printer::new(context, false);
        let print = |event: &Event| printer.print(event);
        let not_connected = Err("not connected".to_owned());
        let reaped = Builds::new(&context.store, not_connected, &registry, &worker).reap(Some(&context.namespace))?;
        if reaped.is_empty() {
            return Ok(());
        }
        let runtime = connect_engine(&context.global, None).await;
        let runtime = runtime.map_err(|e| e.to_string());
        Builds::new(&context.store, runtime, &registry, &worker).with_events(&print).clean_up(&reaped).await;
        Ok(())
    })
}

// ---------------------------------------------------------------------------
// BuildConfig.

pub(crate) const BUILD_CONFIG: Kind = Kind {
    info: BuildConfig::INFO,
    columns: &["NAME", "TYPE", "FROM", "LATEST"],
    get: |tx, namespace, name| Ok(to_value(&get_build_config(tx, namespace, name)?)),
    list: Some(|tx, namespace| Ok(list_build_configs(tx, namespace)?.iter().map(to_value).collect())),
    row: |value| decode(value).map(|config| config_row(&config)).unwrap_or_default(),
    wide: None,
    describe: Some(|tx, value| describe_config(tx, &decode(value)?)),
    apply: Some(ApplyOps { parse: parse_config, write: write_config, after: after_configs }),
    delete: Ok(delete_config),
    refresh: Some(refresh),
    export: None,
};

fn config_row(config: &BuildConfig) -> Vec<String> {
    vec![
        config.metadata.name.clone(),
        config.spec.strategy.kind.clone(),
        source_short(&config.spec.source, config.spec.revision.as_ref()),
        config.status.last_version.to_string(),
    ]
}

fn parse_config(document: Document<'_>, namespace: &str) -> Result<Value, DocumentError> {
    let config: BuildConfig = parse_in_namespace(document, namespace)?;
    check_build_config(&config).map_err(DocumentError::invalid)?;
    Ok(to_value(&config))
}

fn write_config(tx: &Tx<'_>, value: Value) -> LibResult<Applied> {
    let AppliedConfig { config, action, .. } = apply_build_config(tx, decode(&value)?)?;
    Ok(Applied::of(&config, action))
}

fn after_configs<'a>(session: &'a Session, applied: &'a [Applied]) -> BoxFuture<'a, Result<Vec<String>, Failure>> {
    Box::pin(async move {
        // What a config keeps is said once, when it is created or changed: an unchanged
        // config was reported when it was written, and re-applying a file is routine.
        for object in applied.iter().filter(|object| object.action != WriteAction::Unchanged) {
            let config = session.context.store.read(|tx| get_build_config(tx, &object.namespace, &object.name))?;
            if let Ok(warnings) = check_build_config(&config) {
                // Webhook triggers only while no controller serves them.
                let served = s2i_buildconfig::webhooks::serving(session.context.store.dir()).is_some();
                for warning in warnings.into_iter().filter(|w| !(served && matches!(w, Kept::WebhookTriggers(_)))) {
                    let text = kept_text(&warning).replace("{name}", &object.name);
                    eprintln!("warning: buildconfig.{GROUP}/{}: {text}", object.name);
                }
            }
        }
        let printer = Printer::new(&session.context, false);
        let print = |event: &Event| printer.print(event);
        let configs: Vec<(&str, &str)> = applied.iter().map(|a| (a.namespace.as_str(), a.name.as_str())).collect();
        session.builds(&print).configs_applied(&configs)?;
        Ok(Vec::new())
    })
}

/// What a config keeps and a local build does not act on, for people.
fn kept_text(kept: &Kept) -> String {
    match kept {
        Kept::WebhookTriggers(types) => format!(
            "{} webhook trigger{} kept: webhook triggers wait for `s2i controller --webhook-port` (none runs \
             now); until then start builds with `s2i start-build {{name}}` or an ImageChange trigger",
            types.join(", "),
            if types.len() == 1 { " is" } else { "s are" },
        ),
        other => other.to_string(),
    }
}

fn delete_config<'a>(session: &'a Session, name: &'a str) -> BoxFuture<'a, Result<String, Failure>> {
    Box::pin(async move {
        let printer = Printer::new(&session.context, false);
        let print = |event: &Event| printer.print(event);
        session.builds(&print).delete_config(&session.context.namespace, name)?;
        Ok(format!("buildconfig.{GROUP} \"{name}\" deleted"))
    })
}

/// The column of the values of `oc describe bc` and `oc describe build`.
const WIDTH: usize = 24;

fn describe_config(tx: &Tx<'_>, config: &BuildConfig) -> LibResult<String> {
    let mut out = Description::new(WIDTH);
    out.metadata(&config.metadata);
    out.field("Latest Version", &config.status.last_version.to_string());
    out.line("");
    describe_common(
        &mut out,
        &config.spec.strategy,
        &config.spec.source,
        &config.spec.output,
        &config.spec.resources,
        &config.spec.post_commit,
        config.spec.completion_deadline_seconds,
    );
    out.field("Run Policy", config.spec.run_policy.as_str());
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
    let triggers = out.lines(&triggers);
    out.field("Triggered by", &triggers);
    describe_webhooks(&mut out, config, tx.store_dir());
    out.field("Builds History Limit", "");
    let limit = |l: Option<i32>| l.map_or("all".to_owned(), |l| l.to_string());
    out.line(&format!("  Successful:           {}", limit(config.spec.successful_builds_history_limit)));
    out.line(&format!("  Failed:               {}", limit(config.spec.failed_builds_history_limit)));
    if config.is_paused() {
        out.field("Paused", "true (no build can start)");
    }
    let builds = builds_of(tx, &config.metadata.namespace, &config.metadata.name)?;
    out.line("");
    if builds.is_empty() {
        out.line("No builds.");
    } else {
        let now = s2i_store::timestamp::format(&s2i_store::timestamp::now());
        out.line(&format!("{:<28}{:<32}{:<10}Creation Time", "Build", "Status", "Duration"));
        for build in builds.iter().rev() {
            out.line(&format!(
                "{:<28}{:<32}{:<10}{}",
                build.metadata.name,
                status_text(build).to_lowercase(),
                build_duration(build, &now),
                time_text(build.metadata.creation_timestamp)
            ));
        }
    }
    Ok(out.finish())
}

/// The webhook URLs, as `oc describe bc` lists them (the secret a
/// placeholder): on the port of the `s2i controller --webhook-port` that
/// serves this store, else how to start one.
fn describe_webhooks(out: &mut Description, config: &BuildConfig, store_dir: &Path) {
    let (namespace, name) = (&config.metadata.namespace, &config.metadata.name);
    let port = serving(store_dir);
    let mut any = false;
    for kind in HookKind::ALL {
        for settings in config.spec.triggers.iter().filter_map(|trigger| kind.settings(trigger)) {
            any = true;
            out.line(&format!("Webhook {}:", kind.trigger_type()));
            let path = url_path(namespace, name, "<secret>", kind);
            let host = port.map_or_else(|| "127.0.0.1:<webhook-port>".to_owned(), |port| format!("127.0.0.1:{port}"));
            out.line(&format!("  {:<22}http://{host}{path}", "URL:"));
            if kind == HookKind::Generic {
                out.line(&format!("  {:<22}{}", "AllowEnv:", settings.allow_env));
            }
        }
    }
    if any && port.is_none() {
        out.line("No webhook server runs for this store: start one with `s2i controller --webhook-port PORT`");
    }
}

fn describe_common(
    out: &mut Description,
    strategy: &BuildStrategy,
    source: &BuildSource,
    output: &BuildOutput,
    resources: &ResourceRequirements,
    hook: &BuildPostCommitSpec,
    deadline: Option<i64>,
) {
    out.field("Strategy", &strategy.kind);
    if let Some(git) = &source.git {
        out.field("URL", &git.uri);
        if !git.git_ref.is_empty() {
            out.field("Ref", &git.git_ref);
        }
    }
    if let Some(binary) = &source.binary {
        let name = if binary.as_file.is_empty() { "a directory or file".to_owned() } else { binary.as_file.clone() };
        out.field("Binary", &format!("provided on build ({name})"));
    }
    if !source.context_dir.is_empty() {
        out.field("Context Dir", &source.context_dir);
    }
    for image in &source.images {
        let paths: Vec<String> =
            image.paths.iter().map(|p| format!("{} -> {}", p.source_path, p.destination_dir)).collect();
        out.field("Image Source", &format!("copies {} from {}", paths.join(", "), reference_text(&image.from)));
    }
    if let Some(source_strategy) = &strategy.source_strategy {
        out.field("From Image", &reference_text(&source_strategy.from));
        if source_strategy.incremental == Some(true) {
            out.field("Incremental Build", "yes");
        }
        if source_strategy.force_pull {
            out.field("Force Pull", "yes");
        }
        if !source_strategy.scripts.is_empty() {
            out.field("Scripts", &source_strategy.scripts);
        }
        if !source_strategy.env.is_empty() {
            let env: Vec<String> = source_strategy.env.iter().map(|v| format!("{}={}", v.name, v.value)).collect();
            let env = out.lines(&env);
            out.field("Environment", &env);
        }
    }
    match &output.to {
        Some(to) => out.field("Output to", &reference_text(to)),
        None => out.field("Output to", "<none> (the image is removed after the build)"),
    }
    if !output.image_labels.is_empty() {
        let labels: Vec<String> = output.image_labels.iter().map(|l| format!("{}={}", l.name, l.value)).collect();
        let labels = out.lines(&labels);
        out.field("Image Labels", &labels);
    }
    if !resources.limits.is_empty() {
        let limits: Vec<String> = resources.limits.iter().map(|(k, v)| format!("{k}={}", v.0)).collect();
        out.field("Resource Limits", &limits.join(", "));
    }
    if !hook.is_empty() {
        let (entrypoint, cmd) = hook.container_command();
        let words: Vec<String> = entrypoint.iter().flatten().chain(cmd.iter()).map(|w| format!("{w:?}")).collect();
        out.field("Post Commit Hook", &format!("[{}]", words.join(", ")));
    }
    if let Some(seconds) = deadline {
        out.field("Completion Deadline", &format!("{seconds}s"));
    }
}

// ---------------------------------------------------------------------------
// Build.

pub(crate) const BUILD: Kind = Kind {
    info: Build::INFO,
    columns: &["NAME", "TYPE", "FROM", "STATUS", "STARTED", "DURATION"],
    get: |tx, namespace, name| Ok(to_value(&get_build(tx, namespace, name)?)),
    list: Some(|tx, namespace| Ok(list_builds(tx, namespace)?.iter().map(to_value).collect())),
    row: |value| decode(value).map(|build| build_row(&build)).unwrap_or_default(),
    wide: None,
    describe: Some(|tx, value| describe_build(tx, &decode(value)?)),
    apply: Some(ApplyOps { parse: parse_build, write: write_build, after: after_builds }),
    delete: Ok(delete_one_build),
    refresh: Some(refresh),
    export: None,
};

/// `oc get builds`'s columns.
fn build_row(build: &Build) -> Vec<String> {
    let now = jiff::Timestamp::now();
    vec![
        build.metadata.name.clone(),
        build.spec.strategy.kind.clone(),
        source_short(&build.spec.source, build.spec.revision.as_ref()),
        status_text(build),
        build.status.start_timestamp.as_deref().map(|t| ago(t, now)).unwrap_or_default(),
        build_duration(build, &now.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
    ]
}

fn parse_build(document: Document<'_>, namespace: &str) -> Result<Value, DocumentError> {
    let build: Build = parse_in_namespace(document, namespace)?;
    check_build(&build).map_err(DocumentError::invalid)?;
    Ok(to_value(&build))
}

fn write_build(tx: &Tx<'_>, value: Value) -> LibResult<Applied> {
    let AppliedBuild { build, action, .. } = apply_build(tx, decode(&value)?)?;
    Ok(Applied::of(&build, action))
}

/// A created build runs, as OpenShift's build controller runs every new
/// build: in a worker process.
fn after_builds<'a>(session: &'a Session, applied: &'a [Applied]) -> BoxFuture<'a, Result<Vec<String>, Failure>> {
    Box::pin(async move {
        let printer = Printer::new(&session.context, false);
        let print = |event: &Event| printer.print(event);
        let builds = session.builds(&print);
        for object in applied {
            let build = session.context.store.read(|tx| get_build(tx, &object.namespace, &object.name))?;
            // Said once, as for configs (an unchanged build was reported when it was written).
            let warnings = match object.action {
                s2i_store::WriteAction::Unchanged => Ok(Vec::new()),
                _ => check_build(&build),
            };
            if let Ok(warnings) = warnings {
                for warning in warnings {
                    eprintln!("warning: build.{GROUP}/{}: {}", object.name, kept_text(&warning));
                }
            }
            if object.action != s2i_store::WriteAction::Created {
                continue;
            }
            builds.launch(&build)?;
            println!("build/{} started", object.name);
        }
        Ok(Vec::new())
    })
}

fn delete_one_build<'a>(session: &'a Session, name: &'a str) -> BoxFuture<'a, Result<String, Failure>> {
    Box::pin(async move {
        let printer = Printer::new(&session.context, false);
        let print = |event: &Event| printer.print(event);
        session.builds(&print).delete_build(&session.context.namespace, name)?;
        Ok(format!("build.{GROUP} \"{name}\" deleted"))
    })
}

fn describe_build(_tx: &Tx<'_>, build: &Build) -> LibResult<String> {
    let mut out = Description::new(WIDTH);
    out.metadata(&build.metadata);
    out.line("");
    let mut status = status_text(build);
    if !build.status.message.is_empty() {
        status.push_str(&format!(": {}", build.status.message));
    }
    if build.status.cancelled && build.is_active() {
        status.push_str(" (cancellation requested)");
    }
    out.field("Status", &status);
    out.field("Started", &or_none(build.status.start_timestamp.as_deref().unwrap_or_default()));
    let now = s2i_store::timestamp::format(&s2i_store::timestamp::now());
    out.field("Duration", &or_none(&build_duration(build, &now)));
    for stage in &build.status.stages {
        out.line(&format!(
            "  {:<22}{}",
            format!("{}:", stage.name),
            go_duration((stage.duration_milliseconds + 500) / 1000)
        ));
    }
    out.line("");
    if let Some(config) = build.config_name() {
        out.field("Build Config", config);
    }
    if let Some(executor) = executor_of(build) {
        out.field("Run by", &format!("s2i process {} on {}", executor.pid, executor.host));
    }
    out.line("");
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
        out.field("Commit", &commit);
        if !git.author.name.is_empty() {
            out.field("Author", &format!("{} <{}>", git.author.name, git.author.email));
        }
    }
    if !build.status.output_docker_image_reference.is_empty() {
        out.field("Output Image", &build.status.output_docker_image_reference);
    }
    if let Some(to) = &build.status.output.to {
        out.field("Output Image Digest", &to.image_digest);
    }
    out.line("");
    for cause in &build.spec.triggered_by {
        out.field("Build trigger cause", &cause.message);
        if let Some(change) = &cause.image_change_build {
            out.field("Image ID", &change.image_id);
            if let Some(from) = &change.from_ref {
                let name = if from.namespace.is_empty() {
                    from.name.clone()
                } else {
                    format!("{}/{}", from.namespace, from.name)
                };
                out.field("Image Name/Kind", &format!("{name} / {}", from.kind));
            }
        }
    }
    if !build.status.log_snippet.is_empty() {
        out.line("");
        out.line("Log Tail:");
        for line in build.status.log_snippet.lines() {
            out.line(&format!("    {line}"));
        }
    }
    Ok(out.finish())
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
}
