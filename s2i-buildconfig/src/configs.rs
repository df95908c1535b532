//! Writing build objects as a client asks: applying a BuildConfig (defaults,
//! validation, server-owned status kept), deleting configs (their builds go
//! with them, as owner references make OpenShift's garbage collector do) and
//! builds, and cancelling builds.

use crate::error::{Error, Result};
use crate::generator::set_phase;
use crate::policy::builds_of;
use crate::triggers::mark_applied;
use crate::types::*;
use crate::validation::{set_defaults, validate_build_config};
use s2i_store::{Resource, Tx, WriteAction};

/// What [`apply_build_config`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedConfig {
    /// The config as stored.
    pub config: BuildConfig,
    /// Whether it was created, changed, or found as asked.
    pub action: WriteAction,
    /// Settings kept for OpenShift that a local build does not use.
    pub warnings: Vec<String>,
}

/// Check a BuildConfig as a client wrote it (its `apiVersion`, then the
/// rules with the defaults applied as on create); returns the warnings. Used
/// before anything is written.
pub fn check_build_config(config: &BuildConfig) -> Result<Vec<String>> {
    if !config.api_version.is_empty() && config.api_version != API_VERSION {
        return Err(Error::InvalidObject {
            kind: BuildConfig::KIND,
            name: config.metadata.name.clone(),
            message: format!("apiVersion is {:?}", config.api_version),
            help: format!("build configs are {API_VERSION}"),
        });
    }
    let mut config = config.clone();
    set_defaults(&mut config, None);
    validate_build_config(&config)
}

/// Create or update a BuildConfig: defaults, validation, then the write. The
/// status is the server's (kept on update); a non-empty
/// `metadata.resourceVersion` must match the stored one.
pub fn apply_build_config(tx: &Tx<'_>, desired: BuildConfig) -> Result<AppliedConfig> {
    let namespace = desired.metadata.namespace.clone();
    let name = desired.metadata.name.clone();
    let old: Option<BuildConfig> = tx.get_as(&namespace, &name)?;
    let mut config = desired;
    set_defaults(&mut config, old.as_ref());
    let warnings = validate_build_config(&config)?;
    config.status = old.as_ref().map(|o| o.status.clone()).unwrap_or_default();
    config.metadata.annotations.remove(keys::TRIGGERS_SEQ);
    if let Some(old) = &old {
        let expected = &config.metadata.resource_version;
        if !expected.is_empty() && *expected != old.metadata.resource_version {
            return Err(s2i_store::Error::Conflict {
                kind: BuildConfig::KIND.into(),
                namespace,
                name,
                expected: expected.clone(),
                actual: old.metadata.resource_version.parse().unwrap_or(0),
            }
            .into());
        }
        let mut old_annotations = old.metadata.annotations.clone();
        old_annotations.remove(keys::TRIGGERS_SEQ);
        if old.spec == config.spec
            && old.metadata.labels == config.metadata.labels
            && old_annotations == config.metadata.annotations
        {
            return Ok(AppliedConfig { config: old.clone(), action: WriteAction::Unchanged, warnings });
        }
        config.metadata.resource_version = old.metadata.resource_version.clone();
        config.metadata.generation = old.metadata.generation + 1;
    } else {
        config.metadata.generation = 1;
        config.metadata.resource_version.clear();
    }
    mark_applied(tx, &mut config)?;
    let (stored, action) = match old {
        Some(_) => (tx.update_as(&config)?, WriteAction::Configured),
        None => (tx.create_as(&config)?, WriteAction::Created),
    };
    Ok(AppliedConfig { config: stored, action, warnings })
}

/// Delete a BuildConfig and its builds; returns the names of the builds
/// deleted (their logs are the caller's to remove). A running build whose
/// object is deleted is stopped by its executor.
pub(crate) fn delete_build_config(tx: &Tx<'_>, namespace: &str, name: &str) -> Result<Vec<String>> {
    if tx.delete(BuildConfig::KIND, namespace, name)?.is_none() {
        return Err(Error::not_found(BuildConfig::KIND, namespace, name));
    }
    let mut deleted = Vec::new();
    for build in builds_of(tx, namespace, name)? {
        tx.delete(Build::KIND, namespace, &build.metadata.name)?;
        deleted.push(build.metadata.name);
    }
    Ok(deleted)
}

/// Delete one build (a running one is stopped by its executor).
pub(crate) fn delete_build(tx: &Tx<'_>, namespace: &str, name: &str) -> Result<Build> {
    let build = get_build(tx, namespace, name)?;
    tx.delete(Build::KIND, namespace, name)?;
    Ok(build)
}

/// The build `namespace/name`, or an error that names it.
pub fn get_build(tx: &Tx<'_>, namespace: &str, name: &str) -> Result<Build> {
    tx.get_as(namespace, name)?.ok_or_else(|| Error::not_found(Build::KIND, namespace, name))
}

/// The builds of `namespace` (every namespace when `None`) in the order `oc
/// get builds` lists them: by namespace, then by config, then by number.
pub fn list_builds(tx: &Tx<'_>, namespace: Option<&str>) -> Result<Vec<Build>> {
    let mut builds = tx.list_as::<Build>(namespace)?;
    builds.sort_by(|a, b| {
        (&a.metadata.namespace, a.config_name(), a.number()).cmp(&(&b.metadata.namespace, b.config_name(), b.number()))
    });
    Ok(builds)
}

/// The build configs of `namespace` (every namespace when `None`), by namespace and name.
pub fn list_build_configs(tx: &Tx<'_>, namespace: Option<&str>) -> Result<Vec<BuildConfig>> {
    Ok(tx.list_as(namespace)?)
}

/// The build config `namespace/name`, or an error that names it.
pub fn get_build_config(tx: &Tx<'_>, namespace: &str, name: &str) -> Result<BuildConfig> {
    tx.get_as(namespace, name)?.ok_or_else(|| Error::not_found(BuildConfig::KIND, namespace, name))
}

/// `s2i cancel-build`: ask for the build's cancellation (`status.cancelled`).
/// A queued build is cancelled at once; a running one by its executor, which
/// polls for it. Fails for a build that has already ended.
pub(crate) fn cancel_build(tx: &Tx<'_>, namespace: &str, name: &str) -> Result<Build> {
    let mut build = get_build(tx, namespace, name)?;
    if build.is_terminal() {
        return Err(Error::NotCancellable { name: name.into(), phase: build.status.phase });
    }
    build.status.cancelled = true;
    if build.status.phase == BuildPhase::New {
        let (reason, message) = reasons::CANCELLED_BUILD;
        set_phase(&mut build, BuildPhase::Cancelled, reason, message, tx.now())?;
    }
    Ok(tx.update_as(&build)?)
}
