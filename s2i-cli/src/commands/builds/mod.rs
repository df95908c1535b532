//! Build configs and builds: `s2i start-build`, `s2i cancel-build`, `s2i
//! logs`, `s2i controller`, the hidden `s2i run-build` that runs one build
//! in the background, and (in `kinds`) their kinds in the object verbs.
//!
//! The work is `s2i_buildconfig`'s (`Builds`); this module turns flags into
//! requests; `build_events` draws the library's events, and `worker` starts
//! worker processes for it.

pub(crate) mod kinds;
mod webhooks;

use std::io::Write as _;
use std::time::Duration;

use s2i_buildconfig::types::*;
use s2i_buildconfig::{BinaryInput, BuildRequest, Cancellation, Event, Followed, get_build};
use s2i_imagestream::operations::ImportSchedule;
use s2i_store::Resource as _;

use super::build_events::{Printer, status_text};
use super::engine::{ConnectError, cancellation, cancelled_code, connect_engine};
use super::session::{Context, Session};
use crate::cli::{CancelBuildArgs, ControllerArgs, GlobalArgs, LogsArgs, RunBuildArgs, StartBuildArgs};
use crate::failure::Failure;
use crate::hints;

/// Hands log lines to stdout as they come.
fn stdout_lines() -> impl FnMut(&str) {
    let mut stdout = std::io::stdout();
    move |line: &str| {
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
    }
}

// ---------------------------------------------------------------------------
// The commands.

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
    // The engine is needed to run the build: the library asks it before a build is created.
    session.runtime()?;
    let printer = Printer::new(&session.context, args.follow);
    let print = |event: &Event| printer.print(event);
    let builds = session.builds(&print);
    let config = config_to_start(&args.name)?;
    let mut request = BuildRequest::new(&session.context.namespace, &config);
    request.env = parse_env(&args.env)?;
    request.commit = args.commit.clone();
    request.binary = match (&args.from_dir, &args.from_file) {
        (Some(dir), _) => Some(BinaryInput::Dir(dir.clone())),
        (None, Some(file)) => Some(BinaryInput::File(file.clone())),
        (None, None) => None,
    };
    request.image.outputs = args.outputs.clone();
    request.image.sbom = args.sbom.clone();
    request.image.provenance = args.provenance.clone();
    request.image.source_date_epoch = super::build::parse_epoch(args.source_date_epoch.as_deref())?;
    let build = builds.start(&request).await.map_err(|e| match e {
        s2i_buildconfig::Error::EngineUnreachable { reason } => hints::engine_unreachable(&reason, false),
        other => other.into(),
    })?;
    println!("build/{} started", build.metadata.name);
    if !(args.wait || args.follow) {
        builds.launch(&build)?;
        return Ok(0);
    }
    let (token, received) = cancellation();
    let mut lines = stdout_lines();
    let log = args.follow.then_some(&mut lines as &mut dyn FnMut(&str));
    let failed = builds.run_chain(&build, log, &token).await?;
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
    // A busy engine may be slow to answer: a few attempts before the build is given up.
    let connected =
        s2i_core::retry::retry(3, Duration::from_secs(2), |_: &ConnectError| true, |_| connect_engine(global, None))
            .await;
    let runtime = connected.map_err(|e| e.to_string());
    let session = Session::with_engine(context, runtime, None);
    let printer = Printer::new(&session.context, false);
    let print = |event: &Event| printer.print(event);
    let (token, received) = cancellation();
    let ended = session.builds(&print).run(&session.context.namespace, &args.name, &token).await?;
    if token.is_cancelled() {
        return Ok(cancelled_code(&received));
    }
    Ok(if ended.status.phase == BuildPhase::Complete { 0 } else { 1 })
}

fn ignore_hangups() {
    tokio::spawn(async {
        if let Ok(mut hangups) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            while hangups.recv().await.is_some() {}
        }
    });
}

/// `TYPE/NAME` of `s2i logs`, `s2i cancel-build` and `s2i start-build`: a build, or a config.
#[derive(Debug)]
enum Target {
    Build(String),
    Config(String),
}

/// `text` as oc reads it: `KIND/NAME`, the kind by any of its names (`bc`,
/// `buildconfig`, `buildconfigs.build.openshift.io`, `build`, `builds`, …);
/// a bare `NAME` is a `bare` (build or config), or names no kind (`None`).
fn parse_target(text: &str, bare: Option<fn(String) -> Target>) -> Result<Target, Failure> {
    let usage = "write build/NAME-N, or bc/NAME for a build config";
    let Some((kind, name)) = text.split_once('/') else {
        return match bare {
            Some(target) if !text.is_empty() => Ok(target(text.to_owned())),
            _ => Err(Failure::message(format!("{text:?} names no kind"), usage.into())),
        };
    };
    if name.is_empty() || name.contains('/') {
        return Err(Failure::message(format!("{text:?} is not of the form KIND/NAME"), usage.into()));
    }
    if Build::INFO.is_named(kind) {
        Ok(Target::Build(name.to_owned()))
    } else if BuildConfig::INFO.is_named(kind) {
        Ok(Target::Config(name.to_owned()))
    } else {
        Err(Failure::message(format!("{text:?}: {kind:?} is not a build or a build config"), usage.into()))
    }
}

/// The build config `s2i start-build` is given: `NAME` or `bc/NAME`, as oc takes it.
fn config_to_start(text: &str) -> Result<String, Failure> {
    match parse_target(text, Some(Target::Config))? {
        Target::Config(name) => Ok(name),
        Target::Build(name) => Err(Failure::message(
            format!("{text:?} is a build: start-build starts a build of a build config"),
            format!(
                "name its config, e.g. s2i start-build bc/CONFIG (`s2i get build {name} -o \
                 jsonpath={{.status.config.name}}` prints it)"
            ),
        )),
    }
}

/// `s2i logs`.
pub(crate) async fn logs(global: &GlobalArgs, args: LogsArgs) -> Result<i32, Failure> {
    let session = Session::open(global, None).await?;
    let namespace = session.context.namespace.clone();
    let printer = Printer::new(&session.context, args.follow);
    let print = |event: &Event| printer.print(event);
    let builds = session.builds(&print);
    builds.refresh(Some(&namespace)).await?;
    let name = match parse_target(&args.target, None)? {
        Target::Build(name) => {
            session.context.store.read(|tx| get_build(tx, &namespace, &name))?;
            name
        }
        Target::Config(config) => builds.latest_build(&namespace, &config)?,
    };
    let mut lines = stdout_lines();
    match builds.follow_log(&namespace, &name, args.follow, &mut lines).await? {
        Followed::Ended(build) if args.follow && build.status.phase != BuildPhase::Complete => {
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
    let printer = Printer::new(&session.context, false);
    let print = |event: &Event| printer.print(event);
    let builds = session.builds(&print);
    builds.refresh(Some(&namespace)).await?;
    let mut names = Vec::new();
    for target in &args.builds {
        match parse_target(target, Some(Target::Build))? {
            Target::Build(name) => names.push(name),
            Target::Config(config) => {
                names.extend(builds.active_builds(&namespace, &config)?.into_iter().map(|b| b.metadata.name));
            }
        }
    }
    let mut code = 0;
    for name in &names {
        match builds.cancel(&namespace, name).await {
            Ok(Cancellation::Ended(build)) if build.status.phase == BuildPhase::Cancelled => {
                println!("build.{GROUP}/{name} cancelled");
            }
            Ok(Cancellation::Ended(build)) => println!("build.{GROUP}/{name} {}", status_text(&build).to_lowercase()),
            Ok(Cancellation::Deleted) => println!("build.{GROUP}/{name} deleted"),
            Ok(_) => eprintln!(
                "warning: build {name} is marked for cancellation; its process has not stopped it yet (s2i get \
                 build {name} shows when it does)"
            ),
            Err(s2i_buildconfig::Error::NotCancellable { name, phase, .. }) => {
                let failure = Failure::message(
                    format!("build {name:?} already ended: {phase}"),
                    "only queued and running builds can be cancelled".into(),
                );
                eprintln!("{:?}", failure.report);
                code = 1;
            }
            Err(e) => {
                eprintln!("{:?}", Failure::from(e).report);
                code = 1;
            }
        }
    }
    Ok(code)
}

/// `s2i controller`: [`Builds::tick`] until a signal stops it; with
/// `--webhook-port`, webhook requests are answered between ticks.
pub(crate) async fn controller(global: &GlobalArgs, args: ControllerArgs) -> Result<i32, Failure> {
    let session = Session::open(global, None).await?;
    let listener = match args.webhook_port {
        Some(port) => Some(webhooks::bind(port).await?),
        None => None,
    };
    let (token, _received) = cancellation();
    eprintln!("Watching {} for image changes (Ctrl-C stops)", session.context.store.dir().display());
    // The record tells `s2i apply` that webhook triggers are served; dropped (removed) on the way out.
    let _serving = match &listener {
        Some(listener) => {
            let port = listener.local_addr().map_err(|e| Failure::internal(&e.to_string()))?.port();
            eprintln!("Serving webhooks on http://127.0.0.1:{port}/apis/build.openshift.io/v1/namespaces/…");
            let record = s2i_buildconfig::webhooks::record_serving(session.context.store.dir(), port);
            Some(record.map_err(|e| Failure::internal(&format!("recording the webhook server: {e}")))?)
        }
        None => None,
    };
    let printer = Printer::new(&session.context, false);
    let print = |event: &Event| printer.print(event);
    let builds = session.builds(&print);
    let mut schedule = ImportSchedule::new(Duration::from_secs(args.import_interval));
    while !token.is_cancelled() {
        builds.tick(&mut schedule).await?;
        let pause = tokio::time::sleep(Duration::from_millis(args.interval));
        tokio::pin!(pause);
        loop {
            tokio::select! {
                _ = &mut pause => break,
                _ = token.cancelled() => break,
                accepted = webhooks::accept(listener.as_ref()) => match accepted {
                    Ok(stream) => tokio::select! {
                        _ = webhooks::serve_connection(&builds, stream) => {}
                        _ = token.cancelled() => {}
                    },
                    Err(e) => eprintln!("warning: accepting a webhook connection: {e}"),
                },
            }
        }
    }
    eprintln!("Controller stopped; builds it started go on in their own processes");
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        let target = |text: &str, bare: Option<fn(String) -> Target>| format!("{:?}", parse_target(text, bare).ok());
        assert_eq!(target("build/app-1", None), r#"Some(Build("app-1"))"#);
        assert_eq!(target("builds.build.openshift.io/app-1", None), r#"Some(Build("app-1"))"#);
        for config in ["bc/app", "BuildConfig/app", "buildconfig/app", "buildconfigs.build.openshift.io/app"] {
            assert_eq!(target(config, None), r#"Some(Config("app"))"#, "{config}");
        }
        assert_eq!(target("app-1", Some(Target::Build)), r#"Some(Build("app-1"))"#);
        assert_eq!(target("app", Some(Target::Config)), r#"Some(Config("app"))"#);
        for wrong in ["app-1", "pod/x", "bc/", "bc/a/b", "buildconfigs.image.openshift.io/app"] {
            assert_eq!(target(wrong, None), "None", "{wrong}");
        }
        assert_eq!(config_to_start("bc/app").ok().as_deref(), Some("app"));
        assert!(config_to_start("build/app-1").is_err());
    }
}
