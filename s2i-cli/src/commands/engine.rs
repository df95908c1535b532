//! The container engine a command talks to, and Ctrl-C/SIGTERM for the
//! commands that run containers.

use s2i_core::{BuildEvent, CancellationToken};

use crate::cli::GlobalArgs;
use crate::failure::Failure;
use crate::hints::{self, Engine};
use crate::signals;

/// Connects to the container engine the global options (and environment) name.
pub(crate) async fn connect(
    global: &GlobalArgs,
    dockercfg: Option<&std::path::Path>,
) -> Result<s2i_docker::DockerRuntime, Failure> {
    Ok(connect_engine(global, dockercfg).await?)
}

/// Connects to the container engine the global options (and environment)
/// name, and removes what killed runs left behind.
pub(crate) async fn connect_engine(
    global: &GlobalArgs,
    dockercfg: Option<&std::path::Path>,
) -> Result<s2i_docker::DockerRuntime, s2i_docker::Error> {
    let mut options = s2i_docker::ConnectOptions::from_env();
    if let Some(url) = &global.url {
        options.host = Some(url.clone());
    }
    options.tls |= global.tls;
    options.tls_verify |= global.tlsverify;
    if global.cert.is_some() {
        options.cert = global.cert.clone();
    }
    if global.key.is_some() {
        options.key = global.key.clone();
    }
    if global.ca.is_some() {
        options.ca = global.ca.clone();
    }
    if let Some(path) = dockercfg {
        options.docker_config = Some(path.to_owned());
    }
    let runtime = s2i_docker::DockerRuntime::connect(&options).await?;
    hints::connected_to(if runtime.is_podman() { Engine::Podman } else { Engine::Docker });
    // Every run that talks to the engine removes what killed runs left (cheap: one listing).
    let report = |event: BuildEvent| match event {
        BuildEvent::LeftoversRemoved { containers, temp_dirs, pids } => {
            eprintln!("{}", crate::printer::leftovers_line(containers, temp_dirs, &pids));
        }
        BuildEvent::Message { level: s2i_core::Level::Warning, text } => eprintln!("WARNING: {text}"),
        _ => {}
    };
    s2i_core::owner::remove_leftovers(&runtime, &std::env::temp_dir(), &report).await;
    Ok(runtime)
}

/// Cancel on Ctrl-C/SIGTERM; map a cancelled run to the signal's exit code.
pub(crate) fn cancellation() -> (CancellationToken, tokio::sync::watch::Receiver<Option<signals::Received>>) {
    let token = CancellationToken::new();
    let received = signals::install(token.clone());
    (token, received)
}

/// The exit code of a run cancelled by the signal received (130 when none was).
pub(crate) fn cancelled_code(received: &tokio::sync::watch::Receiver<Option<signals::Received>>) -> i32 {
    received.borrow().map_or(130, signals::Received::exit_code)
}
