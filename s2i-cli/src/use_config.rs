//! `s2i build --use-config`: flags restored from `./.s2ifile` (or the legacy
//! `./.stifile`) before the command line's, and saved back after.
//!
//! The file is JSON: `{"source":…, "builderImage":…, "tag":…, "flags":{"long-name": "value", …}}`.
//! Repeated flags are stored as `name-0`, `name-1`, …; a flag given on the
//! command line replaces every stored value of it.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;

use clap::parser::ValueSource;
use clap::{ArgAction, ArgMatches, CommandFactory, FromArgMatches};
use serde::{Deserialize, Serialize};

use crate::cli::{Cli, Command};

/// The saved configuration.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Saved {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    builder_image: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tag: Option<String>,
    #[serde(default)]
    flags: BTreeMap<String, String>,
}

const FILE: &str = ".s2ifile";
const LEGACY_FILE: &str = ".stifile";

/// Parse the command line, applying and saving `.s2ifile` for `build --use-config`.
pub(crate) fn parse(args: Vec<OsString>) -> Result<Cli, clap::Error> {
    let matches = Cli::command().try_get_matches_from(&args)?;
    let cli = from_matches(&matches)?;
    let Command::Build(build) = &cli.command else { return Ok(cli) };
    if !build.use_config {
        return Ok(cli);
    }
    let saved = load();
    let sub = matches.subcommand_matches("build").expect("a build command");
    let mut argv = args;
    for (name, value) in &saved.flags {
        let long = base_name(name);
        let command = Cli::command();
        let build_command = command.find_subcommand("build").expect("build exists");
        let Some(arg) = build_command.get_arguments().find(|a| a.get_long() == Some(long)) else {
            eprintln!("WARNING: {FILE}: unknown flag {long:?} ignored");
            continue;
        };
        if sub.value_source(arg.get_id().as_str()) == Some(ValueSource::CommandLine) {
            continue;
        }
        match arg.get_action() {
            ArgAction::SetTrue if value == "true" => argv.push(format!("--{long}").into()),
            ArgAction::SetTrue => {}
            _ => argv.push(format!("--{long}={value}").into()),
        }
    }
    let given = ["source", "image", "tag"].iter().filter(|id| sub.contains_id(id)).count();
    let stored = [&saved.source, &saved.builder_image, &saved.tag];
    for value in stored.into_iter().skip(given).map_while(|v| v.as_ref()) {
        argv.push(value.into());
    }
    let matches = Cli::command().try_get_matches_from(&argv)?;
    let cli = from_matches(&matches)?;
    if let Err(e) = save(matches.subcommand_matches("build").expect("a build command")) {
        eprintln!("WARNING: could not save {FILE}: {e}");
    }
    Ok(cli)
}

/// The command line of `matches`, with what only the matches know.
fn from_matches(matches: &ArgMatches) -> Result<Cli, clap::Error> {
    let mut cli = Cli::from_arg_matches(matches)?;
    cli.global.namespace_given = matches.value_source("namespace") == Some(ValueSource::CommandLine);
    Ok(cli)
}

/// `env-3` → `env`.
fn base_name(name: &str) -> &str {
    match name.rsplit_once('-') {
        Some((base, index)) if index.chars().all(|c| c.is_ascii_digit()) && !index.is_empty() => base,
        _ => name,
    }
}

fn load() -> Saved {
    for (file, legacy) in [(FILE, false), (LEGACY_FILE, true)] {
        let Ok(text) = std::fs::read_to_string(file) else { continue };
        if legacy {
            eprintln!("DEPRECATED: restoring flags from {LEGACY_FILE}; it will be saved as {FILE}");
        }
        return match serde_json::from_str(&text) {
            Ok(saved) => saved,
            Err(e) => {
                eprintln!("WARNING: {file} is not valid ({e}); it is ignored and will be rewritten");
                Saved::default()
            }
        };
    }
    Saved::default()
}

fn save(sub: &ArgMatches) -> std::io::Result<()> {
    let command = Cli::command();
    let build = command.find_subcommand("build").expect("build exists");
    let mut saved = Saved::default();
    let raw = |id: &str| -> Vec<String> {
        sub.get_raw(id).map(|values| values.map(|v| v.to_string_lossy().into_owned()).collect()).unwrap_or_default()
    };
    // The file is often committed: credentials in a source URL stay out of it
    // (a credential helper provides them to the next build).
    saved.source = raw("source").into_iter().next().map(|s| s2i_core::git::source_without_credentials(&s));
    saved.builder_image = raw("image").into_iter().next();
    saved.tag = raw("tag").into_iter().next();
    for arg in build.get_arguments() {
        let id = arg.get_id().as_str();
        let Some(long) = arg.get_long() else { continue };
        if long == "use-config" || sub.value_source(id) != Some(ValueSource::CommandLine) {
            continue;
        }
        match arg.get_action() {
            ArgAction::SetTrue => {
                saved.flags.insert(long.to_owned(), "true".to_owned());
            }
            ArgAction::Append => {
                for (index, value) in raw(id).into_iter().enumerate() {
                    saved.flags.insert(format!("{long}-{index}"), value);
                }
            }
            _ => {
                if let Some(value) = raw(id).into_iter().next() {
                    saved.flags.insert(long.to_owned(), value);
                }
            }
        }
    }
    let text = serde_json::to_string_pretty(&saved).expect("serialises");
    std::fs::write(Path::new(FILE), text + "\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_given_is_the_command_lines_own() {
        let given = |args: &[&str]| parse(args.iter().map(OsString::from).collect()).unwrap().global.namespace_given;
        assert!(given(&["s2i", "apply", "-f", "x.yaml", "-n", "dev"]));
        assert!(given(&["s2i", "--namespace=dev", "delete", "-f", "x.yaml"]));
        assert!(!given(&["s2i", "apply", "-f", "x.yaml"]));
    }

    #[test]
    fn indexed_names() {
        assert_eq!(base_name("env-0"), "env");
        assert_eq!(base_name("pull-policy"), "pull-policy");
        assert_eq!(base_name("cap-drop-12"), "cap-drop");
    }
}
