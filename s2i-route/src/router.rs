//! A router on this machine: HAProxy run on the rendered configuration,
//! reloaded when routes or endpoints change.
//!
//! [`Router::reconcile`] is the whole loop body of a router: admit the routes,
//! render, and if the files changed, check them with `haproxy -c` and start
//! HAProxy (master-worker mode) or reload it (`SIGUSR2`; established
//! connections finish on the old workers). A caller polls its store and calls
//! `reconcile` with what it finds; coalescing changes is its business (the
//! OpenShift router reloads at most every 5 s). [`Router::stop`] (and dropping
//! the router) ends HAProxy with `SIGTERM` and removes its sockets.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use jiff::Timestamp;

use crate::admission::{Admission, AdmissionConfig, admit};
use crate::error::Error;
use crate::haproxy::{CONFIG_FILE, RUN_DIR, RenderedConfig, RouterConfig, render};
use crate::route::Route;
use crate::service::ServiceEndpoints;

/// How long HAProxy gets to start or reload.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// How long HAProxy gets to exit after `SIGTERM`.
const STOP_TIMEOUT: Duration = Duration::from_secs(5);
/// How many of HAProxy's last lines an error shows.
const KEPT_LINES: usize = 30;

/// Where and how a router runs; made with [`RouterOptions::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouterOptions {
    /// The router directory (created if needed).
    pub dir: PathBuf,
    /// The HAProxy program: a path, or a name looked up on `PATH`.
    pub haproxy: PathBuf,
    /// Listeners, certificates, timeouts.
    pub config: RouterConfig,
    /// Admission settings.
    pub admission: AdmissionConfig,
}

impl RouterOptions {
    /// A router in `dir` with `config`, running the `haproxy` of `PATH` and
    /// admitting routes with the router's defaults.
    pub fn new(dir: impl Into<PathBuf>, config: RouterConfig) -> Self {
        Self { dir: dir.into(), haproxy: "haproxy".into(), config, admission: AdmissionConfig::default() }
    }
}

/// What a router reports while it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouterEvent {
    /// HAProxy wrote a line.
    Output(String),
    /// HAProxy started (its master process).
    Started {
        /// Process ID of the master.
        pid: u32,
    },
    /// HAProxy took a new configuration.
    Reloaded,
    /// HAProxy had exited on its own and was started again.
    Restarted {
        /// How it had ended.
        exit: String,
    },
    /// HAProxy stopped.
    Stopped,
}

/// Receives [`RouterEvent`]s, from any thread.
pub type RouterEvents = Arc<dyn Fn(RouterEvent) + Send + Sync>;

/// What [`Router::reconcile`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReconcileAction {
    /// HAProxy was started on the configuration.
    Started,
    /// HAProxy took the changed configuration.
    Reloaded,
    /// Nothing changed.
    Unchanged,
}

/// The outcome of one [`Router::reconcile`].
#[derive(Debug, Clone)]
pub struct Reconciled {
    /// Which routes are served, and why not the others (write it into their status).
    pub admission: Admission,
    /// What rendering noticed (routes without endpoints, …).
    pub warnings: Vec<String>,
    /// What happened to HAProxy.
    pub action: ReconcileAction,
}

/// A running HAProxy master and the thread reading its messages.
struct Process {
    child: Child,
    lines: Receiver<String>,
    recent: VecDeque<String>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Process {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn recent_output(&self) -> String {
        self.recent.iter().cloned().collect::<Vec<_>>().join("\n")
    }

    /// Waits for the master to say how loading went.
    fn wait_loaded(&mut self, what: &str) -> Result<(), Error> {
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match self.lines.recv_timeout(Duration::from_millis(100)) {
                Ok(line) => {
                    let success = line.contains("Loading success");
                    let failure = line.contains("Loading failure");
                    self.keep(line);
                    if success {
                        return Ok(());
                    }
                    if failure {
                        return Err(Error::HaproxyFailed { what: what.to_owned(), output: self.recent_output() });
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    // Its stderr closed: it is exiting.
                    let status = self.child.wait().map(|status| status.to_string()).unwrap_or_default();
                    return Err(Error::HaproxyFailed {
                        what: format!("{what} (it exited: {status})"),
                        output: self.recent_output(),
                    });
                }
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.collect_last_words();
                return Err(Error::HaproxyFailed {
                    what: format!("{what} (it exited: {status})"),
                    output: self.recent_output(),
                });
            }
            if Instant::now() > deadline {
                return Err(Error::HaproxyFailed {
                    what: format!("{what} within {} s", READY_TIMEOUT.as_secs()),
                    output: self.recent_output(),
                });
            }
        }
    }

    /// After HAProxy exited: keeps what it wrote until its stderr closes (at
    /// most a second), so an error shows its last messages.
    fn collect_last_words(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(1);
        while let Ok(line) = self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            self.keep(line);
        }
    }

    fn keep(&mut self, line: String) {
        self.recent.push_back(line);
        if self.recent.len() > KEPT_LINES {
            self.recent.pop_front();
        }
    }

    /// Keeps the lines already written.
    fn drain(&mut self) {
        while let Ok(line) = self.lines.try_recv() {
            self.keep(line);
        }
    }

    fn signal(&self, signal: rustix::process::Signal) -> std::io::Result<()> {
        rustix::process::kill_process(rustix::process::Pid::from_child(&self.child), signal)
            .map_err(std::io::Error::from)
    }

    /// `SIGTERM`, then `SIGKILL` if HAProxy does not exit in time.
    fn stop(mut self) {
        let stopped = if self.child.try_wait().ok().flatten().is_some() {
            true
        } else {
            let _ = self.signal(rustix::process::Signal::TERM);
            let deadline = Instant::now() + STOP_TIMEOUT;
            loop {
                if self.child.try_wait().ok().flatten().is_some() {
                    break true;
                }
                if Instant::now() > deadline {
                    break false;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        if !stopped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

/// HAProxy serving routes from a directory; see the [module docs](self).
pub struct Router {
    options: RouterOptions,
    events: RouterEvents,
    process: Option<Process>,
    current: Option<RenderedConfig>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Router").field("dir", &self.options.dir).field("pid", &self.pid()).finish_non_exhaustive()
    }
}

impl Router {
    /// A router that is not running yet: checks that HAProxy runs and makes
    /// the directory. The first [`reconcile`](Self::reconcile) starts HAProxy.
    pub fn new(options: RouterOptions, events: RouterEvents) -> Result<Self, Error> {
        let version = Command::new(&options.haproxy)
            .arg("-v")
            .stdin(Stdio::null())
            .output()
            .map_err(|err| Error::HaproxyMissing { program: options.haproxy.clone(), message: err.to_string() })?;
        if !version.status.success() {
            return Err(Error::HaproxyMissing {
                program: options.haproxy.clone(),
                message: format!(
                    "`{} -v` failed: {}",
                    options.haproxy.display(),
                    String::from_utf8_lossy(&version.stderr).trim()
                ),
            });
        }
        std::fs::create_dir_all(&options.dir).map_err(|source| Error::Io {
            action: "create the directory",
            path: options.dir.clone(),
            source,
        })?;
        Ok(Router { options, events, process: None, current: None })
    }

    /// The router directory.
    pub fn dir(&self) -> &Path {
        &self.options.dir
    }

    /// The settings the router runs with.
    pub fn options(&self) -> &RouterOptions {
        &self.options
    }

    /// Process ID of HAProxy's master, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().map(Process::pid)
    }

    /// Whether HAProxy runs: started, and not exited since. A router whose
    /// HAProxy exited on its own starts it again on the next
    /// [`reconcile`](Self::reconcile).
    pub fn is_running(&mut self) -> bool {
        self.process.as_mut().is_some_and(|process| matches!(process.child.try_wait(), Ok(None)))
    }

    /// Admits `routes`, renders them with `endpoints` and brings HAProxy up
    /// to date; see the [module docs](self). On any error the previous
    /// configuration stays in effect.
    pub fn reconcile(
        &mut self,
        routes: &[Route],
        endpoints: &ServiceEndpoints,
        now: Timestamp,
    ) -> Result<Reconciled, Error> {
        let admission = admit(routes, &self.options.admission, now);
        let rendered = render(&admission.admitted, endpoints, &self.options.config)?;
        let warnings = rendered.warnings.clone();

        let exited = match self.process.as_mut().map(|process| process.child.try_wait()) {
            Some(Ok(Some(status))) => Some(status.to_string()),
            _ => None,
        };
        if let Some(exit) = &exited {
            if let Some(process) = self.process.take() {
                process.stop();
            }
            (self.events)(RouterEvent::Restarted { exit: exit.clone() });
        }
        if self.process.is_some() && self.current.as_ref() == Some(&rendered) {
            return Ok(Reconciled { admission, warnings, action: ReconcileAction::Unchanged });
        }

        rendered.write_to(&self.options.dir)?;
        if let Err(error) = self.check() {
            if let Some(previous) = &self.current {
                previous.write_to(&self.options.dir)?;
            }
            return Err(error);
        }
        let action = match &mut self.process {
            Some(process) => {
                process.drain();
                process.signal(rustix::process::Signal::USR2).map_err(|err| Error::HaproxyFailed {
                    what: "could not be signalled to reload".to_owned(),
                    output: err.to_string(),
                })?;
                process.wait_loaded("did not reload")?;
                (self.events)(RouterEvent::Reloaded);
                ReconcileAction::Reloaded
            }
            None => {
                let process = self.spawn()?;
                (self.events)(RouterEvent::Started { pid: process.pid() });
                self.process = Some(process);
                ReconcileAction::Started
            }
        };
        self.current = Some(rendered);
        Ok(Reconciled { admission, warnings, action })
    }

    /// `haproxy -c` on the directory.
    fn check(&self) -> Result<(), Error> {
        let output = Command::new(&self.options.haproxy)
            .args(["-c", "-f", CONFIG_FILE])
            .current_dir(&self.options.dir)
            .stdin(Stdio::null())
            .output()
            .map_err(|err| Error::HaproxyMissing { program: self.options.haproxy.clone(), message: err.to_string() })?;
        if output.status.success() {
            return Ok(());
        }
        let text = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
        Err(Error::ConfigRejected { dir: self.options.dir.clone(), output: text.trim().to_owned() })
    }

    fn spawn(&self) -> Result<Process, Error> {
        let mut child = Command::new(&self.options.haproxy)
            .args(["-W", "-f", CONFIG_FILE])
            .current_dir(&self.options.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|err| Error::HaproxyMissing { program: self.options.haproxy.clone(), message: err.to_string() })?;
        let stderr = child.stderr.take().expect("stderr is piped");
        let (sender, lines) = std::sync::mpsc::channel();
        let events = self.events.clone();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                events(RouterEvent::Output(line.clone()));
                let _ = sender.send(line);
            }
        });
        let mut process = Process { child, lines, recent: VecDeque::new(), reader: Some(reader) };
        if let Err(error) = process.wait_loaded("did not start") {
            process.stop();
            self.remove_sockets();
            return Err(error);
        }
        Ok(process)
    }

    fn remove_sockets(&self) {
        if let Ok(entries) = std::fs::read_dir(self.options.dir.join(RUN_DIR)) {
            for entry in entries.flatten() {
                let _ = std::fs::remove_file(entry.path());
            }
        }
    }

    /// Stops HAProxy (if it runs) and removes its sockets: `SIGTERM`, and
    /// `SIGKILL` after 5 s.
    pub fn stop(&mut self) {
        if let Some(process) = self.process.take() {
            process.stop();
            self.remove_sockets();
            (self.events)(RouterEvent::Stopped);
        }
        self.current = None;
    }
}

impl Drop for Router {
    fn drop(&mut self) {
        self.stop();
    }
}
