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

/// What `delete all` deletes: the kinds of `get all`, an object before what
/// it points at (a route before its service, which would warn that the
/// route loses it; a config before its builds, which go with it).
const DELETE_ALL: &[&str] = &["routes", "services", "buildconfigs", "builds", "imagestreams"];

/// What `export all` prints: what an application needs on a cluster (the
/// Endpoints of services without a selector, no Builds, which are records).
const EXPORT_ALL: &[&str] = &["imagestreams", "buildconfigs", "services", "endpoints", "routes"];

/// The kinds of the object verbs, with the registry of their names.
fn kinds() -> &'static Kinds {
    static KINDS_OF_THE_VERBS: OnceLock<Kinds> = OnceLock::new();
    KINDS_OF_THE_VERBS.get_or_init(|| Kinds::new(KINDS, GET_ALL, DELETE_ALL, EXPORT_ALL))
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

/// Completion of object names, read from the store as they are typed: a
/// function per shell, added after the script clap writes.
const OBJECT_NAMES_BASH: &str = include_str!("../completion_objects.bash");
const OBJECT_NAMES_ZSH: &str = include_str!("../completion_objects.zsh");
const OBJECT_NAMES_FISH: &str = include_str!("../completion_objects.fish");

/// How clap's zsh script ends: it completes with `_s2i` when loaded from
/// `fpath`, or registers `_s2i`. The names' script takes over that ending,
/// so that `_s2i_objects` is what completes `s2i`.
const ZSH_DISPATCH: &str = "\nif [ \"$funcstack[1]\" = \"_s2i\" ]; then";

fn completion(shell: CompletionShell) {
    let (generator, names) = match shell {
        CompletionShell::Bash => (clap_complete::Shell::Bash, OBJECT_NAMES_BASH),
        CompletionShell::Zsh => (clap_complete::Shell::Zsh, OBJECT_NAMES_ZSH),
        CompletionShell::Fish => (clap_complete::Shell::Fish, OBJECT_NAMES_FISH),
    };
    // Generated into memory first: clap's writer panics when stdout closes early (`| head`).
    let script = completion_script(generator, names);
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(script.as_bytes());
    let _ = stdout.flush();
}

/// clap's script for `generator` with the object names' functions `names` added.
fn completion_script(generator: clap_complete::Shell, names: &str) -> String {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(generator, &mut command, "s2i", &mut script);
    let mut script = String::from_utf8_lossy(&script).into_owned();
    if generator == clap_complete::Shell::Zsh
        && let Some(end) = script.rfind(ZSH_DISPATCH)
    {
        script.truncate(end + 1);
    }
    script.push_str(&names.replace(TAKES_VALUE, &takes_value(&command, generator)));
    script
}

/// Where the names' scripts take the function that says whether an option takes a value.
const TAKES_VALUE: &str = "@TAKES_VALUE@";

/// The commands whose objects the names' scripts complete.
const NAMED_COMMANDS: &[&[&str]] = &[
    &["get"],
    &["describe"],
    &["delete"],
    &["export"],
    &["start-build"],
    &["logs"],
    &["cancel-build"],
    &["tag"],
    &["route", "export"],
];

/// `-s` and `--long` of the options of `args` that take a value.
fn value_options<'a>(args: impl Iterator<Item = &'a clap::Arg>) -> String {
    let options = args.filter(|arg| !arg.is_positional() && arg.get_action().takes_values()).flat_map(|arg| {
        let short = arg.get_short().map(|short| format!("-{short}"));
        short.into_iter().chain(arg.get_long().map(|long| format!("--{long}")))
    });
    options.collect::<Vec<_>>().join(" ")
}

/// `_s2i_takes_value COMMAND WORD` (`__s2i_takes_value` in fish): whether
/// `WORD` is an option of `COMMAND` (or a global one) that takes a value,
/// so that the names' scripts skip the value and leave its completion to
/// clap's. Made from the definition, as clap's own script is: `-f` is a
/// file of `delete` but `--follow` of `logs`.
fn takes_value(command: &clap::Command, shell: clap_complete::Shell) -> String {
    let globals = value_options(command.get_arguments().filter(|arg| arg.is_global_set()));
    let commands = NAMED_COMMANDS.iter().map(|path| {
        let sub = path.iter().fold(command, |command, name| {
            command.find_subcommand(name).expect("the names' scripts complete commands that exist")
        });
        (path.join(" "), value_options(sub.get_arguments().filter(|arg| !arg.is_global_set())))
    });
    let mut out = String::from(
        "# Whether an option of a command (or a global one) takes a value, made\n\
         # from s2i's definition: the word after it is its value.\n",
    );
    if shell == clap_complete::Shell::Fish {
        out.push_str(&format!("function __s2i_takes_value\n    set -l options {globals}\n    switch $argv[1]\n"));
        for (path, options) in commands.filter(|(_, options)| !options.is_empty()) {
            out.push_str(&format!("        case '{path}'\n            set -a options {options}\n"));
        }
        out.push_str("    end\n    contains -- $argv[2] $options\nend\n");
    } else {
        out.push_str("_s2i_takes_value() {\n    local options=\"\"\n    case \"$1\" in\n");
        for (path, options) in commands.filter(|(_, options)| !options.is_empty()) {
            out.push_str(&format!("        '{path}') options='{options}' ;;\n"));
        }
        out.push_str(&format!("    esac\n    [[ \" $options {globals} \" == *\" $2 \"* ]]\n}}\n"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delete_all_deletes_the_kinds_of_get_all() {
        let mut get = GET_ALL.to_vec();
        let mut delete = DELETE_ALL.to_vec();
        get.sort_unstable();
        delete.sort_unstable();
        assert_eq!(get, delete);
    }

    #[test]
    fn the_zsh_script_ends_on_the_object_names_dispatch() {
        let script = completion_script(clap_complete::Shell::Zsh, OBJECT_NAMES_ZSH);
        assert!(script.contains("\n_s2i() {"), "clap's completion function is kept");
        assert_eq!(script.matches(ZSH_DISPATCH).count(), 1, "clap's own dispatch is replaced");
        let dispatch = &script[script.find(ZSH_DISPATCH).unwrap()..];
        assert!(dispatch.contains("_s2i_objects \"$@\"") && !dispatch.contains("compdef _s2i s2i"), "{dispatch}");
    }
}
