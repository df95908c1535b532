//! Draws build events: indicatif spinners on a terminal, plain lines otherwise.
//! Everything goes to stderr; stdout is kept for results (an image ID, usage text).

use std::io::Write;
use std::sync::Mutex;
use std::time::Duration;

use indicatif::{HumanBytes, MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use s2i_core::events::{BuildEvent, EventSink, Level, Stage};
use s2i_core::runtime::OutputKind;

/// How much to show.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Verbosity {
    /// `--loglevel`.
    pub(crate) loglevel: u8,
    /// `-q`: hide the scripts' stdout.
    pub(crate) quiet: bool,
    /// Send script stdout to our stdout (for `s2i usage`).
    pub(crate) script_stdout_to_stdout: bool,
}

struct State {
    spinner: Option<ProgressBar>,
    stage_text: String,
}

/// The event sink of the command line.
pub(crate) struct Printer {
    verbosity: Verbosity,
    multi: Option<MultiProgress>,
    state: Mutex<State>,
}

impl Printer {
    /// A printer drawing spinners when stderr is a terminal.
    pub(crate) fn new(verbosity: Verbosity) -> Self {
        let interactive = console::Term::stderr().is_term() && std::env::var_os("S2I_NO_PROGRESS").is_none();
        let multi = interactive.then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        Self { verbosity, multi, state: Mutex::new(State { spinner: None, stage_text: String::new() }) }
    }

    /// Print a line to stderr without breaking the spinner.
    pub(crate) fn line(&self, text: &str) {
        match &self.multi {
            Some(multi) => {
                let _ = multi.println(text);
            }
            None => {
                let mut stderr = std::io::stderr().lock();
                let _ = writeln!(stderr, "{text}");
            }
        }
    }

    /// Stop drawing; called before the final result or error is printed.
    pub(crate) fn finish(&self) {
        let mut state = self.state.lock().expect("printer lock");
        if let Some(spinner) = state.spinner.take() {
            spinner.finish_and_clear();
        }
    }

    fn set_spinner(&self, state: &mut State, text: String) {
        state.stage_text.clone_from(&text);
        let Some(multi) = &self.multi else {
            self.line(&format!("==> {text}"));
            return;
        };
        let spinner = state.spinner.get_or_insert_with(|| {
            let bar = multi.add(ProgressBar::new_spinner());
            bar.set_style(
                ProgressStyle::with_template("{spinner:.cyan} {msg} {elapsed:.dim}").expect("valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(100));
            bar
        });
        spinner.set_message(text);
    }

    fn stage_started(&self, stage: Stage, subject: &str) {
        let text = match stage {
            Stage::PullImage => format!("Checking image {subject}"),
            Stage::FetchSource => format!("Fetching source {subject}"),
            Stage::InstallScripts => "Installing scripts".to_owned(),
            Stage::SaveArtifacts => format!("Saving artifacts of {subject}"),
            Stage::UploadSource => "Sending source".to_owned(),
            Stage::Assemble => format!("Running assemble in {subject}"),
            Stage::AssembleRuntime => format!("Running assemble-runtime in {subject}"),
            Stage::Commit => format!("Committing {subject}"),
            Stage::Push => format!("Pushing {subject}"),
        };
        let mut state = self.state.lock().expect("printer lock");
        let quiet_stage = matches!(stage, Stage::InstallScripts | Stage::PullImage);
        if self.multi.is_some() || !quiet_stage || self.verbosity.loglevel >= 1 {
            self.set_spinner(&mut state, text);
        }
    }

    /// Progress of a pull or push: on the spinner, or as lines at `--loglevel 2`.
    fn transfer(&self, verb: &str, image: &str, progress: s2i_core::runtime::PullProgress) {
        let mut state = self.state.lock().expect("printer lock");
        let amount = match (progress.current, progress.total) {
            (Some(current), Some(total)) if total > 0 => {
                format!(" {} / {}", HumanBytes(current), HumanBytes(total))
            }
            _ => String::new(),
        };
        let layer = progress.id.map(|id| format!(" {id}")).unwrap_or_default();
        let text = format!("{verb} {image}:{layer} {}{amount}", progress.status);
        if self.multi.is_some() {
            self.set_spinner(&mut state, text);
        } else if self.verbosity.loglevel >= 2 {
            self.line(&text);
        }
    }
}

impl EventSink for Printer {
    fn emit(&self, event: BuildEvent) {
        match event {
            BuildEvent::StageStarted { stage, subject } => self.stage_started(stage, &subject),
            BuildEvent::StageFinished { stage, elapsed } if self.verbosity.loglevel >= 1 => {
                self.line(&format!("     {} done in {:.2?}", stage.label(), elapsed));
            }
            BuildEvent::Pull { image, progress } => self.transfer("Pulling", &image, progress),
            BuildEvent::Push { image, progress } => self.transfer("Pushing", &image, progress),
            BuildEvent::Upload { files, bytes, done } => {
                let text = format!("{files} entries, {}", HumanBytes(bytes));
                let mut state = self.state.lock().expect("printer lock");
                if done {
                    if self.multi.is_some() || self.verbosity.loglevel >= 1 {
                        self.line(&format!("     source sent: {text}"));
                    }
                } else if let Some(spinner) = &state.spinner {
                    spinner.set_message(format!("{} — sending source: {text}", state.stage_text));
                } else {
                    let _ = &mut state;
                }
            }
            BuildEvent::Output { kind, line } => match kind {
                OutputKind::Stdout if self.verbosity.quiet => {}
                OutputKind::Stdout if self.verbosity.script_stdout_to_stdout => {
                    let print = || {
                        let mut stdout = std::io::stdout().lock();
                        let _ = writeln!(stdout, "{line}");
                    };
                    match &self.multi {
                        Some(multi) => multi.suspend(print),
                        None => print(),
                    }
                }
                _ => self.line(&line),
            },
            BuildEvent::LeftoversRemoved { containers, temp_dirs, pids } => {
                self.line(&leftovers_line(containers, temp_dirs, &pids));
            }
            BuildEvent::Message { level, text } => {
                let shown = match level {
                    Level::Warning => Some(format!("WARNING: {text}")),
                    Level::Info => Some(text),
                    Level::Detail if self.verbosity.loglevel >= 1 => Some(text),
                    Level::Debug if self.verbosity.loglevel >= 2 => Some(text),
                    _ => None,
                };
                if let Some(text) = shown {
                    self.line(&text);
                }
            }
            _ => {}
        }
    }
}

/// `removed 1 container and 1 temp dir left by a killed s2i (pid 1234)`.
pub(crate) fn leftovers_line(containers: usize, temp_dirs: usize, pids: &[u32]) -> String {
    let count = |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let what = match (containers, temp_dirs) {
        (0, dirs) => count(dirs, "temp dir", "temp dirs"),
        (containers, 0) => count(containers, "container", "containers"),
        (containers, dirs) => {
            format!("{} and {}", count(containers, "container", "containers"), count(dirs, "temp dir", "temp dirs"))
        }
    };
    let pids: Vec<String> = pids.iter().map(u32::to_string).collect();
    let whose = match pids.as_slice() {
        [pid] => format!("a killed s2i (pid {pid})"),
        pids => format!("killed s2i processes (pids {})", pids.join(", ")),
    };
    format!("removed {what} left by {whose}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leftovers_are_counted_in_words() {
        assert_eq!(leftovers_line(1, 1, &[1234]), "removed 1 container and 1 temp dir left by a killed s2i (pid 1234)");
        assert_eq!(leftovers_line(2, 0, &[1, 2]), "removed 2 containers left by killed s2i processes (pids 1, 2)");
        assert_eq!(leftovers_line(0, 3, &[7]), "removed 3 temp dirs left by a killed s2i (pid 7)");
    }
}
