//! Who runs a build, and noticing when that process is gone.
//!
//! A build is run by one process, its *executor*: `s2i start-build --wait`
//! itself, or the detached worker `s2i start-build` launches. The executor
//! writes who it is into the build's [`keys::EXECUTOR`] annotation
//! (`pid=… host=… boot=… start=…`, the start being the process's start time
//! in clock ticks since boot, so a reused pid is told apart) and refreshes
//! [`keys::HEARTBEAT`] while it works.
//!
//! [`reap`] finds the queued or running builds whose executor is gone and
//! marks them `Error` with reason `BuildPodDeleted` — locally the "pod" is
//! that process. On the same machine the process table decides at once; for
//! an executor on another host (a store on a shared disk) a heartbeat older
//! than [`HEARTBEAT_STALE`] does. A build that never got an executor (the
//! process that created it died before starting one) is marked `Error` with
//! reason `CannotCreateBuildPod` after [`START_GRACE`].

use std::time::Duration;

use crate::error::{Error, Result};
use crate::generator::set_phase;
use crate::types::*;
use s2i_store::{ProcessIdentity, Resource, Tx};

/// How often an executor refreshes its heartbeat.
pub(crate) const HEARTBEAT_EVERY: Duration = Duration::from_secs(10);
/// A heartbeat older than this means the executor is gone (when its process cannot be checked).
pub(crate) const HEARTBEAT_STALE: Duration = Duration::from_secs(60);
/// How long a new build may wait for its executor to register.
pub(crate) const START_GRACE: Duration = Duration::from_secs(30);

/// The identity of an executor process (see [`ProcessIdentity`]; its text
/// form is the [`keys::EXECUTOR`] annotation).
pub type Executor = ProcessIdentity;

/// The executor recorded on a build, if any.
pub fn executor_of(build: &Build) -> Option<Executor> {
    build.metadata.annotations.get(keys::EXECUTOR).and_then(|text| Executor::parse(text))
}

/// Seconds between an RFC 3339 time and `now` (RFC 3339); `None` when either does not parse.
fn age(time: &str, now: &str) -> Option<Duration> {
    let Ok(then) = time.parse::<jiff::Timestamp>() else { return None };
    since(then, now)
}

/// Seconds between `then` and `now` (RFC 3339); `None` when `now` does not parse.
fn since(then: jiff::Timestamp, now: &str) -> Option<Duration> {
    let Ok(now) = now.parse::<jiff::Timestamp>() else { return None };
    Some(Duration::from_secs(now.duration_since(then).as_secs().max(0) as u64))
}

/// Why an active build has no live executor, or `None` when it has one.
pub(crate) fn orphaned(build: &Build, now: &str) -> Option<(&'static str, String)> {
    if build.is_terminal() {
        return None;
    }
    match executor_of(build) {
        Some(executor) => {
            let alive = match executor.is_running_here() {
                Some(alive) => alive,
                None => {
                    let beat = match build.metadata.annotations.get(keys::HEARTBEAT) {
                        Some(beat) => age(beat, now),
                        None => build.metadata.creation_timestamp.and_then(|t| since(t, now)),
                    };
                    beat.is_none_or(|age| age < HEARTBEAT_STALE)
                }
            };
            (!alive).then(|| {
                (
                    reasons::BUILD_POD_DELETED,
                    format!(
                        "The s2i process that ran this build (pid {} on {}) exited before the build completed.",
                        executor.pid, executor.host
                    ),
                )
            })
        }
        None => {
            let waited = build.metadata.creation_timestamp.and_then(|t| since(t, now));
            waited.is_some_and(|w| w > START_GRACE).then(|| {
                let (reason, message) = reasons::CANNOT_CREATE_BUILD_POD;
                (reason, format!("{message} No s2i process started to run this build."))
            })
        }
    }
}

/// A build marked `Error` because its process is gone ([`crate::Builds::reap`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Reaped {
    /// The build as stored now.
    pub build: Build,
    /// Its executor, when it had one.
    pub executor: Option<Executor>,
}

/// Mark every queued or running build without a live executor `Error` (see
/// the module doc). The builds of `namespace`, or of every namespace when `None`.
pub(crate) fn reap(tx: &Tx<'_>, namespace: Option<&str>) -> Result<Vec<Reaped>> {
    let now = tx.now().to_owned();
    let mut reaped = Vec::new();
    for mut build in tx.list_as::<Build>(namespace)? {
        let Some((reason, message)) = orphaned(&build, &now) else { continue };
        let executor = executor_of(&build);
        set_phase(&mut build, BuildPhase::Error, reason, &message, &now)?;
        let stored = tx.update_as(&build)?;
        reaped.push(Reaped { build: stored, executor });
    }
    Ok(reaped)
}

/// After [`reap`]: say in each build's log what happened, and remove the
/// containers its process left (they carry [`keys::CONTAINER_LABEL`]).
/// Returns warnings for containers that could not be removed.
pub(crate) async fn clean_up_reaped(
    store_dir: &std::path::Path,
    runtime: Option<&dyn s2i_core::runtime::ContainerRuntime>,
    reaped: &[Reaped],
) -> Vec<String> {
    let mut warnings = Vec::new();
    for one in reaped {
        let build = &one.build;
        let (namespace, name) = (&build.metadata.namespace, &build.metadata.name);
        if let Ok(log) = crate::logs::BuildLog::open(&crate::logs::log_path(store_dir, namespace, name), 0) {
            log.line(&format!("error: {}", build.status.message));
            log.line(&format!("==> {} {}", build.status.phase, build.status.reason));
        }
        crate::logs::remove_scratch(store_dir, namespace, name);
        let Some(runtime) = runtime else { continue };
        let labels =
            std::collections::BTreeMap::from([(keys::CONTAINER_LABEL.to_owned(), format!("{namespace}/{name}"))]);
        if let Some(warning) = remove_labelled_containers(runtime, &labels, name).await {
            warnings.push(warning);
        }
    }
    warnings
}

/// Remove the containers with `labels` (those of build `name`), looking
/// again until none is left after a settling second. Podman completes the
/// requests of a client that died — a container created or started just as
/// the executor was killed — so one may appear after a first pass. A warning
/// when some could not be removed.
async fn remove_labelled_containers(
    runtime: &dyn s2i_core::runtime::ContainerRuntime,
    labels: &std::collections::BTreeMap<String, String>,
    name: &str,
) -> Option<String> {
    const SETTLE: std::time::Duration = std::time::Duration::from_secs(1);
    const GIVE_UP: std::time::Duration = std::time::Duration::from_secs(10);
    let started = std::time::Instant::now();
    let mut failure = None;
    loop {
        let containers = match runtime.containers_with_labels(labels).await {
            Ok(containers) => containers,
            Err(e) => return Some(format!("cannot list the containers of build {name}: {e}")),
        };
        if containers.is_empty() && started.elapsed() >= SETTLE {
            return None;
        }
        if started.elapsed() >= GIVE_UP {
            let left = containers.join(", ");
            return Some(failure.unwrap_or_else(|| format!("containers {left} of build {name} are left")));
        }
        for container in containers {
            if let Err(e) = runtime.remove_container(&container).await {
                failure = Some(format!("cannot remove container {container} of build {name}: {e}"));
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }
}

/// Record `me` as the executor of a build, unless another live process is
/// (see [`crate::run::Runner::run`]). A process that will run a queued build
/// later (the builds a foreground chain triggers) registers at once, so that
/// the build is not taken for one whose executor never started.
pub(crate) fn register(tx: &Tx<'_>, namespace: &str, name: &str, me: &Executor) -> Result<Build> {
    let mut build: Build = tx.get_as(namespace, name)?.ok_or_else(|| Error::not_found(Build::KIND, namespace, name))?;
    if build.is_terminal() {
        return Ok(build);
    }
    if let Some(other) = executor_of(&build)
        && !other.is_me()
    {
        return Err(Error::RunElsewhere {
            namespace: namespace.into(),
            name: name.into(),
            pid: other.pid,
            host: other.host.clone(),
        });
    }
    build.metadata.annotations.insert(keys::EXECUTOR.into(), me.to_string());
    build
        .metadata
        .annotations
        .insert(keys::HEARTBEAT.into(), s2i_store::timestamp::format(&s2i_store::timestamp::now()));
    Ok(tx.update_as(&build)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_annotation_round_trips() {
        let me = Executor::current();
        assert_eq!(Executor::parse(&me.to_string()), Some(me.clone()));
        assert!(me.is_me());
        assert_eq!(me.is_running_here(), Some(true), "{me:?}");
        let gone = Executor { pid: u32::MAX - 1, ..me.clone() };
        assert_eq!(gone.is_running_here(), Some(false));
        let reused = Executor { start: me.start + 1, ..me.clone() };
        assert_eq!(reused.is_running_here(), Some(false), "a reused pid is another process");
        let elsewhere = Executor { host: "elsewhere".into(), ..me };
        assert_eq!(elsewhere.is_running_here(), None);
        assert_eq!(Executor::parse("nonsense"), None);
    }

    #[test]
    fn orphans_by_heartbeat_and_grace() {
        let now = "2026-01-01T00:10:00Z";
        let mut build = Build::default();
        build.status.phase = BuildPhase::Running;
        build.metadata.creation_timestamp = Some("2026-01-01T00:00:00Z".parse().unwrap());
        assert_eq!(orphaned(&build, now).unwrap().0, "CannotCreateBuildPod");
        build.metadata.creation_timestamp = Some("2026-01-01T00:09:59Z".parse().unwrap());
        assert_eq!(orphaned(&build, now), None, "inside the grace period");
        let remote = Executor { pid: 1, host: "elsewhere".into(), boot: "b".into(), start: 1 };
        build.metadata.annotations.insert(keys::EXECUTOR.into(), remote.to_string());
        build.metadata.annotations.insert(keys::HEARTBEAT.into(), "2026-01-01T00:09:30Z".into());
        assert_eq!(orphaned(&build, now), None, "a fresh heartbeat");
        build.metadata.annotations.insert(keys::HEARTBEAT.into(), "2026-01-01T00:05:00Z".into());
        assert_eq!(orphaned(&build, now).unwrap().0, "BuildPodDeleted");
        build.status.phase = BuildPhase::Complete;
        assert_eq!(orphaned(&build, now), None, "finished builds are left alone");
    }
}
