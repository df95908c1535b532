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
    let mut request = BuildRequest::new(&session.context.namespace, &args.name);
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
    let printer = Printer::new(&session.context, args.follow);
    let print = |event: &Event| printer.print(event);
    let builds = session.builds(&print);
    builds.refresh(Some(&namespace)).await?;
    let name = match parse_target(&args.target, false)? {
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
        match parse_target(target, true)? {
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
        assert!(matches!(parse_target("build/app-1", false), Ok(Target::Build(n)) if n == "app-1"));
        assert!(matches!(parse_target("bc/app", false), Ok(Target::Config(n)) if n == "app"));
        assert!(matches!(parse_target("app-1", true), Ok(Target::Build(n)) if n == "app-1"));
        assert!(parse_target("app-1", false).is_err());
        assert!(parse_target("pod/x", false).is_err());
    }
}
