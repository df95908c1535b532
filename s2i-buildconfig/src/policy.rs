//! Run policies across processes, decided in store transactions: which build
//! of a BuildConfig may start now, which queued builds a `SerialLatestOnly`
//! build cancels, and which finished builds history pruning deletes.

use crate::error::Result;
use crate::generator::set_phase;
use crate::types::*;
use s2i_store::{Resource, Tx};

/// The builds of a BuildConfig, oldest (lowest number) first.
pub fn builds_of(tx: &Tx<'_>, namespace: &str, config: &str) -> Result<Vec<Build>> {
    let mut builds: Vec<Build> =
        tx.list_as::<Build>(Some(namespace))?.into_iter().filter(|b| b.config_name() == Some(config)).collect();
    builds.sort_by_key(Build::number);
    Ok(builds)
}

/// Whether a build may start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Admission {
    /// It may start now.
    Run,
    /// It waits for these builds to finish.
    Wait(Vec<String>),
}

/// Decide whether `build` may leave `New` under the run policy it was created with:
///
/// - `Serial` and `SerialLatestOnly`: when every earlier build of its config has finished;
/// - `Parallel`: at once, unless an earlier build of another policy (the
///   config's policy was switched) is still queued or running.
pub(crate) fn admit(tx: &Tx<'_>, build: &Build) -> Result<Admission> {
    let Some(config) = build.config_name() else { return Ok(Admission::Run) };
    let number = build.number();
    let blockers: Vec<String> = builds_of(tx, &build.metadata.namespace, config)?
        .into_iter()
        .filter(|other| other.number() < number && other.is_active())
        .filter(|other| build.start_policy() != RunPolicy::Parallel || other.start_policy() != RunPolicy::Parallel)
        .map(|other| other.metadata.name)
        .collect();
    Ok(if blockers.is_empty() { Admission::Run } else { Admission::Wait(blockers) })
}

/// `SerialLatestOnly`: cancel the builds of `config` older than `number` that are still queued (`New`).
pub(crate) fn cancel_queued(tx: &Tx<'_>, namespace: &str, config: &str, number: i64) -> Result<Vec<String>> {
    let now = tx.now().to_owned();
    let mut cancelled = Vec::new();
    for mut build in builds_of(tx, namespace, config)? {
        if build.number() < number && build.status.phase == BuildPhase::New {
            build.status.cancelled = true;
            let (reason, message) = reasons::CANCELLED_BUILD;
            set_phase(&mut build, BuildPhase::Cancelled, reason, message, &now)?;
            cancelled.push(build.metadata.name.clone());
            tx.update_as(&build)?;
        }
    }
    Ok(cancelled)
}

/// History pruning after a build of `config` finished: keep the newest
/// `successfulBuildsHistoryLimit` complete builds and the newest
/// `failedBuildsHistoryLimit` failed, errored or cancelled ones; delete the
/// others. Returns the names deleted (their logs are the caller's to remove).
pub(crate) fn prune(tx: &Tx<'_>, namespace: &str, config: &str) -> Result<Vec<String>> {
    let Some(bc) = tx.get_as::<BuildConfig>(namespace, config)? else { return Ok(Vec::new()) };
    let mut builds = builds_of(tx, namespace, config)?;
    builds.reverse();
    let mut deleted = Vec::new();
    let (mut complete, mut failed) = (0i64, 0i64);
    for build in builds {
        let (count, limit) = match build.status.phase {
            BuildPhase::Complete => (&mut complete, bc.spec.successful_builds_history_limit),
            BuildPhase::Failed | BuildPhase::Error | BuildPhase::Cancelled => {
                (&mut failed, bc.spec.failed_builds_history_limit)
            }
            _ => continue,
        };
        *count += 1;
        if let Some(limit) = limit
            && *count > i64::from(limit)
        {
            tx.delete(Build::KIND, namespace, &build.metadata.name)?;
            deleted.push(build.metadata.name);
        }
    }
    Ok(deleted)
}
