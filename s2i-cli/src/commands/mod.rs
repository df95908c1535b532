//! The commands: turn flags into library calls, run them, render the outcome.
//!
//! This module is the composition point: it lists the kinds of the object
//! verbs and sends each command to its module. Nothing below imports it;
//! the modules below form no cycle (`tests/modules.rs` checks it):
//!
//! - leaves: `kind` (what a kind brings to the verbs), `engine` (connecting
//!   to `--engine docker|podman|oci`, signals), `worker` (build worker
//!   processes), `session` (the store, engine and registry a command works
//!   with), `build_events` (drawing what builds report);
//! - the verbs over any kinds: `objects`;
//! - one module per command group, each holding its kinds: `imagestream`,
//!   `service`, `secrets`, `route/`, `builds/`; and `build` (with
//!   `daemonless`, what `--engine oci` adds around a build), `create`.

mod build;
mod build_events;
mod builds;
mod create;
mod daemonless;
mod engine;
mod imagestream;
mod kind;
mod objects;
mod route;
mod secrets;
mod service;
mod session;
mod worker;

use std::io::Write;
use std::sync::OnceLock;

use clap::CommandFactory;

use crate::cli::{Cli, Command, CompletionShell};
use kind::{Kind, Kinds};

/// The kinds, in the order `s2i get --help` lists them.
const KINDS: &[&Kind] = &[
    &imagestream::IMAGE_STREAM,
    &imagestream::IMAGE_STREAM_TAG,
    &imagestream::IMAGE_STREAM_IMAGE,
    &imagestream::IMAGE,
    &route::kind::ROUTE,
    &service::SERVICE,
    &service::ENDPOINTS,
    &builds::kinds::BUILD_CONFIG,
    &builds::kinds::BUILD,
    &secrets::SECRET,
    &secrets::CONFIG_MAP,
];

/// What `get all` shows: the kinds `oc get all` shows that s2i has.
const GET_ALL: &[&str] = &["imagestreams", "buildconfigs", "builds", "services", "routes"];

/// What `export all` prints: what an application needs on a cluster (the
/// Endpoints of services without a selector, no Builds, which are records).
const EXPORT_ALL: &[&str] = &["imagestreams", "buildconfigs", "services", "endpoints", "routes"];

/// The kinds of the object verbs, with the registry of their names.
fn kinds() -> &'static Kinds {
    static KINDS_OF_THE_VERBS: OnceLock<Kinds> = OnceLock::new();
    KINDS_OF_THE_VERBS.get_or_init(|| Kinds::new(KINDS, GET_ALL, EXPORT_ALL))
}

/// Run a parsed command line; returns the exit code.
pub(crate) async fn run(cli: Cli) -> i32 {
    let global = &cli.global;
    let result = match cli.command {
        Command::Build(args) => build::build(global, *args).await,
        Command::Rebuild(args) => build::rebuild(global, *args).await,
        Command::Usage(args) => build::usage(global, args).await,
        Command::Generate(args) => build::generate(global, args).await,
        Command::Create(crate::cli::CreateArgs { object: Some(object), .. }) => {
            secrets::create_object(global, object).await
        }
        Command::Create(args) => create::create(args),
        Command::Secret(command) => secrets::run(global, command).await,
        Command::Route(command) => route::run(global, command, kinds()).await,
        Command::Service(command) => service::run(global, command).await,
        Command::Expose(args) => route::expose(global, args).await,
        Command::Get(args) => objects::get(global, args, kinds()).await,
        Command::Describe(args) => objects::describe(global, args, kinds()).await,
        Command::Delete(args) => objects::delete(global, args, kinds()).await,
        Command::Apply(args) => objects::apply(global, args, kinds()).await,
        Command::Export(args) => objects::export(global, args, kinds()).await,
        Command::Tag(args) => imagestream::tag(global, args).await,
        Command::ImportImage(args) => imagestream::import_image(global, args).await,
        Command::StartBuild(args) => builds::start_build(global, args).await,
        Command::CancelBuild(args) => builds::cancel_build(global, args).await,
        Command::Logs(args) => builds::logs(global, args).await,
        Command::Controller(args) => builds::controller(global, args).await,
        Command::RunBuild(args) => builds::run_build(global, args).await,
        Command::Store(command) => session::store_command(global, command),
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

/// Bash completion of object names, read from the store as they are typed.
const OBJECT_NAMES_BASH: &str = include_str!("../completion_objects.bash");

fn completion(shell: CompletionShell) {
    let shell = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    let mut command = Cli::command();
    let mut stdout = std::io::stdout().lock();
    clap_complete::generate(shell, &mut command, "s2i", &mut stdout);
    if shell == clap_complete::Shell::Bash {
        // Names of stored objects after a kind, which a static script cannot know.
        let _ = stdout.write_all(OBJECT_NAMES_BASH.as_bytes());
    }
    let _ = stdout.flush();
}
