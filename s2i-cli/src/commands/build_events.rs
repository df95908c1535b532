//! Drawing what `s2i_buildconfig::Builds` reports, for every command that
//! starts, runs or reaps builds, and starting the builds a command's tag
//! changes trigger.

use s2i_buildconfig::types::{Build, BuildPhase};
use s2i_buildconfig::{Event, Started, TriggerWarning, Warning};
use s2i_imagestream::operations::ScheduledResult;

use super::session::{Context, Session, print_mirror};
use crate::failure::Failure;

/// Prints the [`Event`]s of a command's `Builds` on stderr.
pub(crate) struct Printer {
    /// The command's namespace: builds of others say theirs.
    namespace: String,
    loglevel: u8,
    /// Build logs go to stdout: a build that completed says nothing more.
    following: bool,
}

impl Printer {
    pub(crate) fn new(context: &Context, following: bool) -> Self {
        Self { namespace: context.namespace.clone(), loglevel: context.loglevel, following }
    }

    pub(crate) fn print(&self, event: &Event) {
        match event {
            Event::Started(Started { build, cause }) => {
                eprintln!("{} started by {cause}", self.shown(build));
            }
            Event::Ended(build) if build.status.phase != BuildPhase::Complete => {
                let mut line = format!("{} {}", self.shown(build), status_text(build));
                if !build.status.message.is_empty() {
                    line.push_str(&format!(": {}", build.status.message));
                }
                eprintln!("{line}");
            }
            Event::Ended(build) if !self.following => eprintln!("{} complete", self.shown(build)),
            Event::Mirrored(report) => print_mirror(report, self.loglevel),
            Event::Imported(import) => {
                let tag = &import.tag;
                match &import.result {
                    ScheduledResult::Updated { image } => eprintln!("Scheduled import: {tag} moved to {image}"),
                    ScheduledResult::Failed(failure) => {
                        eprintln!("warning: scheduled import of {tag} failed ({}): {}", failure.reason, failure.message)
                    }
                    _ => {}
                }
            }
            Event::Warning(Warning::Trigger(warning)) => eprintln!("warning: {}", trigger_warning(warning)),
            Event::Warning(Warning::CleanUp(warning)) => eprintln!("warning: {warning}"),
            Event::Warning(Warning::Mirror(error)) => eprintln!("warning: {error}"),
            _ => {}
        }
    }

    /// `build/NAME`, with its namespace when it is not the command's.
    fn shown(&self, build: &Build) -> String {
        if build.metadata.namespace == self.namespace {
            format!("build/{}", build.metadata.name)
        } else {
            format!("build/{} (namespace {})", build.metadata.name, build.metadata.namespace)
        }
    }
}

/// A build's phase, with the reason unless it completed: `Failed (AssembleFailed)`.
pub(crate) fn status_text(build: &Build) -> String {
    let mut text = build.status.phase.to_string();
    if !build.status.reason.is_empty() && build.status.phase != BuildPhase::Complete {
        text.push_str(&format!(" ({})", build.status.reason));
    }
    text
}

/// A trigger's warning, with how to start a build of binary input by hand.
fn trigger_warning(warning: &TriggerWarning) -> String {
    match warning {
        TriggerWarning::TagChangeNeedsInput { config, .. } | TriggerWarning::ConfigChangeNeedsInput { config, .. } => {
            format!("{warning} (run `s2i start-build {config} --from-dir DIR`)")
        }
        other => other.to_string(),
    }
}

/// After a command moved tags: start the builds their changes trigger, in
/// the background (nothing with `--no-triggers`).
pub(crate) async fn after_tag_changes(session: &Session) -> Result<(), Failure> {
    let printer = Printer::new(&session.context, false);
    let print = |event: &Event| printer.print(event);
    Ok(session.builds(&print).start_triggered()?)
}
