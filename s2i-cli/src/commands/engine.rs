//! Which container engine a command runs on (`--engine`, `S2I_ENGINE`):
//! Docker's or Podman's API through `s2i-docker`, or no daemon at all
//! through `s2i-runc` (`--oci-runtime`); the connection to it; and
//! Ctrl-C/SIGTERM for the commands that run containers.

use std::sync::Arc;

use miette::Diagnostic;
use s2i_core::{BuildEvent, CancellationToken, ContainerRuntime};

use crate::cli::{EngineKind, GlobalArgs};
use crate::failure::Failure;
use crate::hints::{self, Engine};
use crate::signals;

/// Why no engine could be connected.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ConnectError {
    /// Docker's or Podman's API.
    #[error(transparent)]
    Api(s2i_docker::Error),
    /// The API is unreachable and no engine was chosen, but an OCI runtime is installed.
    #[error("{error}")]
    ApiOrOci { error: s2i_docker::Error, runtime: String },
    /// The daemonless backend.
    #[error(transparent)]
    Oci(s2i_runc::Error),
}

impl Diagnostic for ConnectError {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        match self {
            Self::Api(error) | Self::ApiOrOci { error, .. } => error.code(),
            Self::Oci(error) => error.code(),
        }
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        match self {
            Self::Api(error) => error.help(),
            Self::ApiOrOci { error, runtime } => {
                let own = error.help().map(|h| format!("{h}; ")).unwrap_or_default();
                Some(Box::new(format!(
                    "{own}or build without a daemon: --engine oci (or S2I_ENGINE=oci) runs containers with {runtime}"
                )))
            }
            Self::Oci(error) => error.help(),
        }
    }
}

impl From<ConnectError> for Failure {
    fn from(error: ConnectError) -> Self {
        match error {
            // The API's errors get this command line's help, as everywhere else.
            ConnectError::Api(error) => error.into(),
            other => Self::new(other, 1),
        }
    }
}

/// Connects to the container engine the global options (and environment) name.
pub(crate) async fn connect(
    global: &GlobalArgs,
    dockercfg: Option<&std::path::Path>,
) -> Result<Arc<dyn ContainerRuntime>, Failure> {
    Ok(connect_engine(global, dockercfg).await?)
}

/// Connects to the container engine the global options (and environment)
/// name, and removes what killed runs left behind.
pub(crate) async fn connect_engine(
    global: &GlobalArgs,
    dockercfg: Option<&std::path::Path>,
) -> Result<Arc<dyn ContainerRuntime>, ConnectError> {
    let runtime = choose(global, dockercfg).await?;
    remove_leftovers(runtime.as_ref()).await;
    Ok(runtime)
}

/// Every run that talks to the engine removes what killed runs left (cheap: one listing).
pub(crate) async fn remove_leftovers(runtime: &dyn ContainerRuntime) {
    let report = |event: BuildEvent| match event {
        BuildEvent::LeftoversRemoved { containers, temp_dirs, pids } => {
            eprintln!("{}", crate::printer::leftovers_line(containers, temp_dirs, &pids));
        }
        BuildEvent::Message { level: s2i_core::Level::Warning, text } => eprintln!("WARNING: {text}"),
        _ => {}
    };
    s2i_core::owner::remove_leftovers(runtime, &std::env::temp_dir(), &report).await;
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

/// The engine the global options (and environment) choose.
async fn choose(
    global: &GlobalArgs,
    dockercfg: Option<&std::path::Path>,
) -> Result<Arc<dyn ContainerRuntime>, ConnectError> {
    if global.engine == Some(EngineKind::Oci) {
        return connect_oci(global, dockercfg).await.map(|runtime| Arc::new(runtime) as Arc<dyn ContainerRuntime>);
    }
    match connect_api(global, dockercfg).await {
        Ok(runtime) => Ok(Arc::new(runtime)),
        Err(error @ s2i_docker::Error::Unreachable { .. }) if global.engine.is_none() => {
            match oci_runtime_installed(global) {
                Some(runtime) => Err(ConnectError::ApiOrOci { error, runtime }),
                None => Err(ConnectError::Api(error)),
            }
        }
        Err(error) => Err(ConnectError::Api(error)),
    }
}

/// The daemonless backend (`--engine oci`) with the global options, and
/// `dockercfg` (`--dockercfg-path`) as the first registry credentials file.
pub(crate) async fn connect_oci(
    global: &GlobalArgs,
    dockercfg: Option<&std::path::Path>,
) -> Result<s2i_runc::OciRuntime, ConnectError> {
    let mut options = s2i_runc::OciOptions::from_env();
    options.auth_file = dockercfg.map(std::path::Path::to_owned);
    hints::connected_to(Engine::Oci);
    if let Some(runtime) = &global.oci_runtime {
        options.runtime = Some(runtime.clone());
    }
    s2i_runc::OciRuntime::connect(&options).await.map_err(ConnectError::Oci)
}

/// Docker's or Podman's API (`--url`, TLS flags, the environment), also
/// where a daemonless build's `docker-daemon:` output is loaded.
pub(crate) async fn connect_api(
    global: &GlobalArgs,
    dockercfg: Option<&std::path::Path>,
) -> Result<s2i_docker::DockerRuntime, s2i_docker::Error> {
    let mut options = s2i_docker::ConnectOptions::from_env();
    if let Some(url) = &global.url {
        options.host = Some(url.clone());
    }
    if global.engine == Some(EngineKind::Podman) && options.host.is_none() {
        options.host = podman_socket(&options).map(|socket| format!("unix://{}", socket.display()));
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
    Ok(runtime)
}

/// Podman's socket: the user's (rootless), else the system's; the first that exists.
fn podman_socket(options: &s2i_docker::ConnectOptions) -> Option<std::path::PathBuf> {
    let rootless = options.xdg_runtime_dir.as_ref().map(|dir| dir.join("podman/podman.sock"));
    rootless.into_iter().chain([std::path::PathBuf::from(s2i_docker::PODMAN_SYSTEM_SOCKET)]).find(|path| path.exists())
}

/// The OCI runtime `--engine oci` would use, when one is installed.
fn oci_runtime_installed(global: &GlobalArgs) -> Option<String> {
    let wanted: Vec<std::path::PathBuf> = match &global.oci_runtime {
        Some(runtime) => vec![runtime.clone()],
        None => vec!["runc".into(), "crun".into()],
    };
    let path = std::env::var_os("PATH").unwrap_or_default();
    wanted.iter().find_map(|program| {
        if program.components().count() > 1 {
            return program.is_file().then(|| program.display().to_string());
        }
        std::env::split_paths(&path).map(|dir| dir.join(program)).find(|p| p.is_file()).map(|p| p.display().to_string())
    })
}
