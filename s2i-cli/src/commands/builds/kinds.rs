//! The build kinds in the object verbs (`get`, `describe`, `apply`,
//! `delete` of `buildconfigs` and `builds`): their tables and descriptions,
//! as `oc` shows them, and the hooks that apply and delete them through
//! `s2i_buildconfig`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use s2i_buildconfig::types::*;
use s2i_buildconfig::{
    AppliedBuild, AppliedConfig, Event, Kept, apply_build, apply_build_config, builds_of, check_build,
    check_build_config, executor_of, get_build, get_build_config,
};
use s2i_store::codec::Document;
use s2i_store::{Resource, Tx};
use serde_json::Value;

use super::Printer;
use crate::commands::Failure;
use crate::commands::imagestream::typed;
use crate::commands::objects::{
    Applied, ApplyOps, BoxFuture, DocumentError, Kind, LibResult, or_none, time_text, to_value,
};
use crate::commands::session::Session;

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

pub(super) fn status_text(build: &Build) -> String {
    let mut text = build.status.phase.to_string();
    if !build.status.reason.is_empty() && build.status.phase != BuildPhase::Complete {
        text.push_str(&format!(" ({})", build.status.reason));
    }
    text
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
        for object in applied {
            let config = session.context.store.read(|tx| get_build_config(tx, &object.namespace, &object.name))?;
            if let Ok(warnings) = check_build_config(&config) {
                for warning in warnings {
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
            "{} webhook trigger{} kept: webhook triggers wait for `s2i controller --webhook-port`; until then start \
             builds with `s2i start-build {{name}}` or an ImageChange trigger",
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
    apply: Some(ApplyOps { parse: parse_build, write: write_build, after: after_builds }),
    delete: Some(delete_one_build),
};

fn parse_build(document: Document<'_>, namespace: &str) -> Result<Value, DocumentError> {
    let mut build = document.decode::<Build>().map_err(DocumentError::Yaml)?;
    if build.metadata.namespace.is_empty() {
        build.metadata.namespace = namespace.to_owned();
    }
    check_build(&build).map_err(|e| DocumentError::Invalid(e.into()))?;
    Ok(to_value(&build))
}

fn write_build(tx: &Tx<'_>, value: Value) -> LibResult<Applied> {
    let build: Build = typed(&value);
    let AppliedBuild { build, verb, .. } = apply_build(tx, build)?;
    Ok(Applied { namespace: build.metadata.namespace.clone(), name: build.metadata.name.clone(), verb })
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
            if let Ok(warnings) = check_build(&build) {
                for warning in warnings {
                    eprintln!("warning: build.{GROUP}/{}: {}", object.name, kept_text(&warning));
                }
            }
            if object.verb != "created" {
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
