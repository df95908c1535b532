//! Build logs: one file per build, `<store>/logs/<namespace>/<build>.log`,
//! holding s2i's progress lines and everything the build containers print
//! (stdout and stderr, merged as a pod's log is). [`BuildLog`] is the event
//! sink an executor writes through; it also times the OpenShift stages of the
//! build from the engine's events. [`LogReader`] reads a log as it grows.

use std::fs::{File, OpenOptions};
use std::io::{SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use s2i_core::events::{BuildEvent, EventSink, Level, Stage};

use crate::error::{Error, Result};
use crate::types::{Build, StageInfo, StepInfo};

/// How many lines `status.logSnippet` keeps.
pub(crate) const SNIPPET_LINES: usize = 5;

/// The log file of a build.
pub(crate) fn log_path(store_dir: &Path, namespace: &str, build: &str) -> PathBuf {
    store_dir.join("logs").join(namespace).join(format!("{build}.log"))
}

/// The directory holding the binary input of a build (`--from-dir`, `--from-file`).
pub(crate) fn input_path(store_dir: &Path, namespace: &str, build: &str) -> PathBuf {
    store_dir.join("inputs").join(namespace).join(build)
}

/// The directory under which a build's engine keeps its working directory:
/// in the store directory, so that the working directory of a build whose
/// process was killed is removed with the build's other files.
pub(crate) fn work_path(store_dir: &Path, namespace: &str, build: &str) -> PathBuf {
    store_dir.join("work").join(namespace).join(build)
}

/// Remove what a build left in the store directory (its log, binary input and working directory).
pub(crate) fn remove_files(store_dir: &Path, namespace: &str, build: &str) {
    let _ = std::fs::remove_file(log_path(store_dir, namespace, build));
    remove_scratch(store_dir, namespace, build);
}

/// Remove a build's binary input and working directory (not its log).
pub(crate) fn remove_scratch(store_dir: &Path, namespace: &str, build: &str) {
    let _ = std::fs::remove_dir_all(input_path(store_dir, namespace, build));
    let _ = std::fs::remove_dir_all(work_path(store_dir, namespace, build));
}

fn io_error(action: &'static str, path: &Path, e: std::io::Error) -> Error {
    Error::StoreFile { action, path: path.to_owned(), source: e }
}

/// Open a build's log for appending, creating it (and its directory) when needed.
pub(crate) fn open_append(path: &Path) -> Result<File> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io_error("create", parent, e))?;
    }
    OpenOptions::new().create(true).append(true).open(path).map_err(|e| io_error("open", path, e))
}

/// `status.logSnippet`: the last lines, each at most 120 characters
/// (longer ones keep their first 58 and last 59 around `...`).
pub(crate) fn snippet(lines: &[String]) -> String {
    let start = lines.len().saturating_sub(SNIPPET_LINES);
    lines[start..]
        .iter()
        .map(|line| {
            let chars: Vec<char> = line.chars().collect();
            if chars.len() > 120 {
                let head: String = chars[..58].iter().collect();
                let tail: String = chars[chars.len() - 59..].iter().collect();
                format!("{head}...{tail}")
            } else {
                line.clone()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// One timed stage or step.
#[derive(Debug, Clone)]
struct Timed {
    name: &'static str,
    started_at: String,
    started: Instant,
    took: Option<Duration>,
}

/// The OpenShift stages of a build, timed from the engine's events.
#[derive(Debug, Default)]
struct StageClock {
    stages: Vec<(Timed, Vec<Timed>)>,
}

/// The stage order OpenShift reports.
const STAGE_ORDER: [&str; 5] = ["FetchInputs", "PullImages", "Build", "PostCommit", "PushImage"];

impl StageClock {
    fn start(&mut self, stage: &'static str, step: &'static str) {
        let now = Instant::now();
        let at = s2i_store::timestamp::format(&s2i_store::timestamp::now());
        let index = match self.stages.iter().position(|(s, _)| s.name == stage) {
            Some(index) => index,
            None => {
                self.stages.push((Timed { name: stage, started_at: at.clone(), started: now, took: None }, Vec::new()));
                self.stages.len() - 1
            }
        };
        let steps = &mut self.stages[index].1;
        if !steps.iter().any(|s| s.name == step && s.took.is_none()) {
            steps.push(Timed { name: step, started_at: at, started: now, took: None });
        }
    }

    fn finish(&mut self, stage: &'static str, step: &'static str) {
        let Some((timed, steps)) = self.stages.iter_mut().find(|(s, _)| s.name == stage) else { return };
        if let Some(step) = steps.iter_mut().rev().find(|s| s.name == step && s.took.is_none()) {
            step.took = Some(step.started.elapsed());
        }
        timed.took = Some(timed.started.elapsed());
    }

    fn report(&self) -> Vec<StageInfo> {
        let millis = |t: &Timed| i64::try_from(t.took.unwrap_or_else(|| t.started.elapsed()).as_millis()).unwrap_or(0);
        let mut stages: Vec<StageInfo> = self
            .stages
            .iter()
            .map(|(stage, steps)| StageInfo {
                name: stage.name.into(),
                start_time: Some(stage.started_at.clone()),
                duration_milliseconds: millis(stage),
                steps: steps
                    .iter()
                    .map(|s| StepInfo {
                        name: s.name.into(),
                        start_time: Some(s.started_at.clone()),
                        duration_milliseconds: millis(s),
                    })
                    .collect(),
            })
            .collect();
        stages.sort_by_key(|s| STAGE_ORDER.iter().position(|n| *n == s.name).unwrap_or(STAGE_ORDER.len()));
        stages
    }
}

struct LogState {
    file: File,
    lines: Vec<String>,
    clock: StageClock,
    builder: String,
}

/// The log of a build being run, and the event sink of its engine.
pub(crate) struct BuildLog {
    path: PathBuf,
    loglevel: u8,
    state: Mutex<LogState>,
}

impl std::fmt::Debug for BuildLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BuildLog").field("path", &self.path).finish_non_exhaustive()
    }
}

/// The lines kept in memory for the snippet.
const KEPT_LINES: usize = 64;

impl BuildLog {
    /// Append to the log at `path`. `loglevel` is the build's `BUILD_LOGLEVEL`:
    /// 1 adds the engine's decisions, 2 and up its debugging detail.
    pub(crate) fn open(path: &Path, loglevel: u8) -> Result<Self> {
        let file = open_append(path)?;
        Ok(Self {
            path: path.to_owned(),
            loglevel,
            state: Mutex::new(LogState {
                file,
                lines: Vec::new(),
                clock: StageClock::default(),
                builder: String::new(),
            }),
        })
    }

    /// Append a line.
    pub(crate) fn line(&self, text: &str) {
        let mut state = self.state.lock().expect("the log lock");
        for line in text.lines() {
            let _ = writeln!(state.file, "{line}");
            state.lines.push(line.to_owned());
        }
        let excess = state.lines.len().saturating_sub(KEPT_LINES);
        state.lines.drain(..excess);
    }

    /// The name under which the engine pulls the builder image (to tell its pull from others).
    pub(crate) fn set_builder(&self, engine_name: &str) {
        self.state.lock().expect("the log lock").builder = engine_name.to_owned();
    }

    /// Start timing a stage step (`PostCommit`/`RunPostCommitHook`, `PushImage`/`PushImage`, …).
    pub(crate) fn start_stage(&self, stage: &'static str, step: &'static str) {
        self.state.lock().expect("the log lock").clock.start(stage, step);
    }

    /// Finish timing a stage step.
    pub(crate) fn finish_stage(&self, stage: &'static str, step: &'static str) {
        self.state.lock().expect("the log lock").clock.finish(stage, step);
    }

    /// The stages timed so far.
    pub(crate) fn stages(&self) -> Vec<StageInfo> {
        self.state.lock().expect("the log lock").clock.report()
    }

    /// The snippet of the lines written so far.
    pub(crate) fn snippet(&self) -> String {
        snippet(&self.state.lock().expect("the log lock").lines)
    }

    fn stage_names(&self, stage: Stage, subject: &str) -> Option<(&'static str, &'static str)> {
        match stage {
            Stage::FetchSource => Some(("FetchInputs", "FetchGitSource")),
            Stage::PullImage => {
                let builder = self.state.lock().expect("the log lock").builder.clone();
                Some(("PullImages", if subject == builder { "PullBaseImage" } else { "PullInputImage" }))
            }
            Stage::InstallScripts => None,
            Stage::SaveArtifacts | Stage::UploadSource | Stage::Assemble | Stage::AssembleRuntime | Stage::Commit => {
                Some(("Build", "DockerBuild"))
            }
            Stage::Push => Some(("PushImage", "PushImage")),
        }
    }
}

impl EventSink for BuildLog {
    fn emit(&self, event: BuildEvent) {
        match event {
            BuildEvent::StageStarted { stage, subject } => {
                if let Some((name, step)) = self.stage_names(stage, &subject) {
                    self.start_stage(name, step);
                }
                if !matches!(stage, Stage::PullImage | Stage::Commit | Stage::InstallScripts) {
                    let subject = if subject.is_empty() { String::new() } else { format!(" {subject}") };
                    self.line(&format!("==> {}{subject}", stage.label()));
                }
            }
            BuildEvent::StageFinished { stage, .. } => {
                if let Some((name, step)) = self.stage_names(stage, "") {
                    let mut state = self.state.lock().expect("the log lock");
                    // A pull's step is the open one of its stage.
                    let open = state
                        .clock
                        .stages
                        .iter()
                        .find(|(s, _)| s.name == name)
                        .and_then(|(_, steps)| steps.iter().rev().find(|s| s.took.is_none()).map(|s| s.name));
                    state.clock.finish(name, open.unwrap_or(step));
                }
            }
            BuildEvent::Output { line, .. } => self.line(&line),
            BuildEvent::Message { level, text } => {
                let shown = match level {
                    Level::Warning | Level::Info => true,
                    Level::Detail => self.loglevel >= 1,
                    Level::Debug => self.loglevel >= 2,
                };
                if shown {
                    let prefix = if level == Level::Warning { "WARNING: " } else { "" };
                    self.line(&format!("{prefix}{text}"));
                }
            }
            BuildEvent::Pull { .. } | BuildEvent::Upload { .. } => {}
            _ => {}
        }
    }
}

/// How following a log ended ([`crate::Builds::follow_log`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Followed {
    /// The build ended (or its log was only read up to now); its final state.
    Ended(Box<Build>),
    /// The build was deleted while it was followed.
    Deleted,
}

/// Reads a build's log as it grows, whole lines at a time (a line being
/// written is handed over once complete).
#[derive(Debug)]
pub(crate) struct LogReader {
    path: PathBuf,
    offset: u64,
}

impl LogReader {
    /// The log of `namespace/build`, from its start.
    pub(crate) fn new(store_dir: &Path, namespace: &str, build: &str) -> Self {
        Self { path: log_path(store_dir, namespace, build), offset: 0 }
    }

    /// Hand each whole line appended since the last call to `on_line`
    /// (without its newline). A log not written yet has no lines.
    pub(crate) async fn read_lines(&mut self, on_line: &mut dyn FnMut(&str)) -> Result<()> {
        use tokio::io::{AsyncReadExt, AsyncSeekExt};
        let path = &self.path;
        let mut file = match tokio::fs::File::open(path).await {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_error("read", path, e)),
        };
        file.seek(SeekFrom::Start(self.offset)).await.map_err(|e| io_error("read", path, e))?;
        let mut buffer = Vec::new();
        file.read_to_end(&mut buffer).await.map_err(|e| io_error("read", path, e))?;
        let end = buffer.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        for line in buffer[..end].split_inclusive(|b| *b == b'\n') {
            on_line(&String::from_utf8_lossy(&line[..line.len() - 1]));
        }
        self.offset += end as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_keep_five_shortened_lines() {
        let lines: Vec<String> = (1..=7).map(|i| format!("line {i}")).collect();
        assert_eq!(snippet(&lines), "line 3\nline 4\nline 5\nline 6\nline 7");
        let long = format!("{}{}", "a".repeat(100), "b".repeat(100));
        let short = snippet(&[long]);
        assert_eq!(short.len(), 58 + 3 + 59);
        assert!(short.starts_with(&"a".repeat(58)) && short.ends_with(&"b".repeat(59)), "{short}");
    }

    #[test]
    fn the_log_records_lines_and_stages() {
        let dir = tempfile::tempdir().unwrap();
        let log = BuildLog::open(&log_path(dir.path(), "ns", "app-1"), 0).unwrap();
        log.set_builder("builder:latest");
        log.emit(BuildEvent::StageStarted { stage: Stage::PullImage, subject: "builder:latest".into() });
        log.emit(BuildEvent::StageFinished { stage: Stage::PullImage, elapsed: Duration::ZERO });
        log.emit(BuildEvent::StageStarted { stage: Stage::Assemble, subject: "builder:latest".into() });
        log.emit(BuildEvent::Output { kind: s2i_core::runtime::OutputKind::Stderr, line: "compiling".into() });
        log.emit(BuildEvent::Message { level: Level::Detail, text: "hidden".into() });
        log.emit(BuildEvent::StageFinished { stage: Stage::Assemble, elapsed: Duration::ZERO });
        let text = std::fs::read_to_string(log_path(dir.path(), "ns", "app-1")).unwrap();
        assert_eq!(text, "==> assemble builder:latest\ncompiling\n");
        let stages = log.stages();
        let names: Vec<_> = stages.iter().map(|s| (s.name.as_str(), s.steps[0].name.as_str())).collect();
        assert_eq!(names, [("PullImages", "PullBaseImage"), ("Build", "DockerBuild")]);
    }

    #[tokio::test]
    async fn a_growing_log_is_read_in_whole_lines() {
        let dir = tempfile::tempdir().unwrap();
        let mut reader = LogReader::new(dir.path(), "ns", "app-1");
        let mut lines = Vec::new();
        reader.read_lines(&mut |line| lines.push(line.to_owned())).await.unwrap();
        assert!(lines.is_empty(), "no log yet");
        let mut file = open_append(&log_path(dir.path(), "ns", "app-1")).unwrap();
        write!(file, "one\ntw").unwrap();
        reader.read_lines(&mut |line| lines.push(line.to_owned())).await.unwrap();
        write!(file, "o\n\nthree\n").unwrap();
        reader.read_lines(&mut |line| lines.push(line.to_owned())).await.unwrap();
        assert_eq!(lines, ["one", "two", "", "three"]);
    }
}
