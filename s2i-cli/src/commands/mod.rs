//! The commands: turn flags into library options, run, render the outcome.

mod build;
mod builds;
mod create;
mod daemonless;
mod engine;
mod imagestream;
pub(crate) mod objects;
mod route;
pub(crate) mod service;
mod session;

use std::io::Write;

use clap::CommandFactory;
use miette::Diagnostic;
use s2i_core::{BuildEvent, CancellationToken};

use crate::cli::{Cli, Command, CompletionShell, GlobalArgs};
use crate::signals;

/// A failure, with the process exit code it maps to.
pub(crate) struct Failure {
    report: miette::Report,
    code: i32,
}

impl Failure {
    fn new<E: Diagnostic + Send + Sync + 'static>(error: E, code: i32) -> Self {
        Self { report: miette::Report::new(error), code }
    }

    /// A failure that is a bug of s2i.
    pub(crate) fn internal(message: &str) -> Self {
        Self { report: miette::miette!(help = "this is a bug in s2i; please report it", "{message}"), code: 1 }
    }
    /// A failure of the command line itself (exit code 1): what is wrong and what to do.
    fn message(message: String, help: String) -> Self {
        Self::new(CommandError { message, help }, 1)
    }
}

/// A request the command line refuses before any library is involved.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{message}")]
#[diagnostic(code(s2i::command), help("{help}"))]
struct CommandError {
    message: String,
    help: String,
}

impl From<s2i_core::Error> for Failure {
    fn from(error: s2i_core::Error) -> Self {
        let code = error.exit_code();
        Self::new(error, code)
    }
}

impl From<s2i_route::Error> for Failure {
    fn from(error: s2i_route::Error) -> Self {
        match error {
            s2i_route::Error::Store(error) => error.into(),
            other => Self::new(other, 1),
        }
    }
}

impl From<s2i_imagestream::Error> for Failure {
    fn from(error: s2i_imagestream::Error) -> Self {
        match error {
            s2i_imagestream::Error::Store(error) => error.into(),
            other => Self::new(other, 1),
        }
    }
}

impl From<s2i_buildconfig::Error> for Failure {
    /// The builds' error, with help that names this command line's commands
    /// and flags where the library says what to do in general.
    fn from(error: s2i_buildconfig::Error) -> Self {
        use s2i_buildconfig::{Error as E, InputProblem, Instead};
        let error = match error {
            E::Store(error) => return error.into(),
            E::ImageStream(error) => return error.into(),
            other => other,
        };
        let help = match &error {
            E::NotFound { kind: "BuildConfig", namespace, .. } => {
                format!("list the build configs with `s2i get bc --namespace {namespace}`")
            }
            E::NotFound { namespace, .. } => format!("list the builds with `s2i get builds --namespace {namespace}`"),
            E::PhaseFinal { .. } => "start a new build with `s2i start-build`".to_owned(),
            E::BinaryInputMissing { name, .. } => {
                format!("start it with `s2i start-build {name} --from-dir DIR` (or --from-file FILE)")
            }
            E::NoGitSource { .. } => "drop --commit".to_owned(),
            E::RunElsewhere { name, .. } => format!("follow it with `s2i logs build/{name} --follow`"),
            E::NoBuilds { config, .. } => {
                return Self::message(error.to_string(), format!("start one with `s2i start-build {config}`"));
            }
            E::BinaryInput { problem, .. } => {
                let help = match problem {
                    InputProblem::Unreadable(_) => "give an existing path",
                    InputProblem::NotADirectory => "use --from-file for a single file",
                    InputProblem::NotAFile => "give --from-file a file, or use --from-dir for a directory",
                    _ => "give the path of a file",
                };
                return Self::message(error.to_string(), help.to_owned());
            }
            E::StoreFile { .. } => "check that the store directory is writable (--store DIR or S2I_STORE)".to_owned(),
            E::EngineUnreachable { .. } => {
                "start it (e.g. `cargo xtask docker`), or point DOCKER_HOST or --url at a running one".to_owned()
            }
            E::Launch(_) => "check that the s2i binary can be run".to_owned(),
            E::Unsupported { instead: Some(instead), field, .. } => match instead {
                Instead::StartBuild => {
                    "start builds with `s2i start-build NAME`, or with an ImageChange trigger; keep \
                                        the webhook in the copy of the file you apply to OpenShift"
                        .to_owned()
                }
                Instead::RequestEnvironment => {
                    "give the value directly, or pass it with `s2i start-build NAME --env NAME=VALUE`".to_owned()
                }
                _ if field.ends_with(".volumes") => {
                    "drop the volumes; for files the build needs, use `s2i build --inject`".to_owned()
                }
                _ => "for files the build needs but the image must not keep, use `s2i build --inject`".to_owned(),
            },
            _ => return Self::new(error, 1),
        };
        Self::new(WithHelp { error, help }, 1)
    }
}

impl From<s2i_store::Error> for Failure {
    /// The store's error, with help that names this command line's flags
    /// where the library can only say what to do in general.
    fn from(error: s2i_store::Error) -> Self {
        use s2i_store::Error as E;
        let help = match &error {
            E::NoDataDirectory => "choose a directory with --store DIR or S2I_STORE=DIR".to_owned(),
            E::StoreOpen { .. } => {
                "check that the directory exists and is writable, or choose another with --store DIR or S2I_STORE=DIR"
                    .to_owned()
            }
            E::StoreTooNew { .. } => {
                "use the s2i that wrote it (or a newer one), or choose another store with --store DIR".to_owned()
            }
            E::StoreBusy { .. } => {
                "run the command again; if this persists, look for a hung s2i process (ps aux | grep s2i)".to_owned()
            }
            E::Database { .. } => "if the disk is full or read-only, fix that and retry; if the file is damaged, \
                                   `s2i store check` shows what is wrong"
                .to_owned(),
            E::InvalidName { what, help, .. } if what == "namespace" => {
                format!("{help} (--namespace or S2I_NAMESPACE)")
            }
            E::InvalidObject { kind, name, message, .. } if message.starts_with("the stored document") => {
                format!("delete it (s2i delete {} {name}) and create it again", kind.to_lowercase())
            }
            E::UnknownKind { known, .. } => {
                return Self::message(error.to_string(), format!("the kinds are: {known}"));
            }
            _ => return Self::new(error, 1),
        };
        Self::new(WithHelp { error, help }, 1)
    }
}

impl From<s2i_store::codec::DocumentError> for Failure {
    fn from(error: s2i_store::codec::DocumentError) -> Self {
        Self::new(error, 1)
    }
}

/// A library's error with the command line's own help line.
#[derive(Debug)]
struct WithHelp<E> {
    error: E,
    help: String,
}

impl<E: std::fmt::Display> std::fmt::Display for WithHelp<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl<E: std::error::Error + 'static> std::error::Error for WithHelp<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

impl<E: Diagnostic + 'static> Diagnostic for WithHelp<E> {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.error.code()
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(&self.help))
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.error.source_code()
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.error.labels()
    }
}

impl From<s2i_docker::Error> for Failure {
    fn from(error: s2i_docker::Error) -> Self {
        Self::new(error, 1)
    }
}

/// Run a parsed command line; returns the exit code.
pub(crate) async fn run(cli: Cli) -> i32 {
    let result = match cli.command {
        Command::Build(args) => build::build(&cli.global, *args).await,
        Command::Rebuild(args) => build::rebuild(&cli.global, *args).await,
        Command::Usage(args) => build::usage(&cli.global, args).await,
        Command::Generate(args) => build::generate(&cli.global, args).await,
        Command::Create(args) => create::create(args),
        Command::Route(command) => route::run(&cli.global, command).await,
        Command::Service(command) => service::run(&cli.global, command).await,
        Command::Expose(args) => service::expose(&cli.global, args).await,
        Command::Get(args) => objects::get(&cli.global, args).await,
        Command::Describe(args) => objects::describe(&cli.global, args).await,
        Command::Delete(args) => objects::delete(&cli.global, args).await,
        Command::Apply(args) => objects::apply(&cli.global, args).await,
        Command::Tag(args) => imagestream::tag(&cli.global, args).await,
        Command::ImportImage(args) => imagestream::import_image(&cli.global, args).await,
        Command::StartBuild(args) => builds::start_build(&cli.global, args).await,
        Command::CancelBuild(args) => builds::cancel_build(&cli.global, args).await,
        Command::Logs(args) => builds::logs(&cli.global, args).await,
        Command::Controller(args) => builds::controller(&cli.global, args).await,
        Command::RunBuild(args) => builds::run_build(&cli.global, args).await,
        Command::Store(command) => session::store_command(&cli.global, command),
        Command::Version => {
            println!("s2i v{}", env!("CARGO_PKG_VERSION"));
            Ok(0)
        }
        Command::Completion { shell } => {
            completion(shell);
            Ok(0)
        }
    };
    match result {
        Ok(code) => code,
        Err(failure) => {
            eprintln!("{:?}", failure.report);
            failure.code
        }
    }
}

fn completion(shell: CompletionShell) {
    let shell = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    let mut command = Cli::command();
    let mut stdout = std::io::stdout().lock();
    clap_complete::generate(shell, &mut command, "s2i", &mut stdout);
    let _ = stdout.flush();
}

pub(crate) async fn connect(
    global: &GlobalArgs,
    dockercfg: Option<&std::path::Path>,
) -> Result<std::sync::Arc<dyn s2i_core::ContainerRuntime>, Failure> {
    Ok(connect_engine(global, dockercfg).await?)
}

/// Connects to the container engine the global options (and environment) name.
pub(crate) async fn connect_engine(
    global: &GlobalArgs,
    dockercfg: Option<&std::path::Path>,
) -> Result<std::sync::Arc<dyn s2i_core::ContainerRuntime>, engine::ConnectError> {
    let runtime = engine::connect(global, dockercfg).await?;
    remove_leftovers(runtime.as_ref()).await;
    Ok(runtime)
}

/// Every run that talks to the engine removes what killed runs left (cheap: one listing).
pub(crate) async fn remove_leftovers(runtime: &dyn s2i_core::ContainerRuntime) {
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

pub(crate) fn cancelled_code(received: &tokio::sync::watch::Receiver<Option<signals::Received>>) -> i32 {
    received.borrow().map_or(130, signals::Received::exit_code)
}
