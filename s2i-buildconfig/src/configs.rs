//! Writing build objects as a client asks: applying a BuildConfig (defaults,
//! validation, server-owned status kept), deleting configs (their builds go
//! with them, as owner references make OpenShift's garbage collector do) and
//! builds, and cancelling builds.

use crate::error::{Error, Result};
use crate::generator::set_phase;
use crate::kept::Kept;
use crate::policy::builds_of;
use crate::triggers::mark_applied;
use crate::types::*;
use crate::validation::{set_common_defaults, set_defaults, validate_build, validate_build_config};
use s2i_store::{Resource, Tx, WriteAction};

/// What [`apply_build_config`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedConfig {
    /// The config as stored.
    pub config: BuildConfig,
    /// Whether it was created, changed, or found as asked.
    pub action: WriteAction,
    /// Settings kept for OpenShift that a local build does not act on.
    pub warnings: Vec<Kept>,
}

/// Check a BuildConfig as a client wrote it (its `apiVersion` — the legacy
/// `v1` counts — then the rules with the defaults applied as on create);
/// returns what it keeps that a local build does not act on. Used before
/// anything is written.
pub fn check_build_config(config: &BuildConfig) -> Result<Vec<Kept>> {
    check_type_meta::<BuildConfig>(&config.api_version, &config.metadata)?;
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

/// What [`apply_build`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedBuild {
    /// The build as stored.
    pub build: Build,
    /// Whether it was created, changed, or found as asked.
    pub action: WriteAction,
    /// Settings kept that a local build does not act on.
    pub warnings: Vec<Kept>,
}

/// Check a Build as a client wrote it (`apiVersion`, then the rules of its
/// spec with the defaults applied); returns what it keeps. Used before
/// anything is written.
pub fn check_build(build: &Build) -> Result<Vec<Kept>> {
    check_type_meta::<Build>(&build.api_version, &build.metadata)?;
    let mut build = build.clone();
    set_common_defaults(&mut build.spec.source, &mut build.spec.strategy);
    validate_build(&build)
}

/// Create a Build from a client's object (as `oc create -f build.yaml`
/// does; its status is the server's, so it starts `New` and runs like any
/// new build), or update one: as on OpenShift, a build's spec cannot change
/// but for `output.pushSecret`; labels and annotations can. A non-empty
/// `metadata.resourceVersion` must match the stored one.
pub fn apply_build(tx: &Tx<'_>, desired: Build) -> Result<AppliedBuild> {
    let (namespace, name) = (desired.metadata.namespace.clone(), desired.metadata.name.clone());
    let mut build = desired;
    build.api_version = API_VERSION.into();
    build.kind = Build::KIND.into();
    set_common_defaults(&mut build.spec.source, &mut build.spec.strategy);
    let warnings = validate_build(&build)?;
    let Some(old) = tx.get_as::<Build>(&namespace, &name)? else {
        build.status = BuildStatus::default();
        // What the executor writes is its own.
        build.metadata.annotations.remove(keys::EXECUTOR);
        build.metadata.annotations.remove(keys::HEARTBEAT);
        build.metadata.resource_version.clear();
        set_phase(&mut build, BuildPhase::New, "", "", tx.now())?;
        let stored = tx.create_as(&build)?;
        return Ok(AppliedBuild { build: stored, action: WriteAction::Created, warnings });
    };
    let expected = &build.metadata.resource_version;
    if !expected.is_empty() && *expected != old.metadata.resource_version {
        return Err(s2i_store::Error::Conflict {
            kind: Build::KIND.into(),
            namespace,
            name,
            expected: expected.clone(),
            actual: old.metadata.resource_version.parse().unwrap_or(0),
        }
        .into());
    }
    let mut spec = build.spec.clone();
    spec.output.push_secret = old.spec.output.push_secret.clone();
    if spec != old.spec {
        return Err(Error::InvalidObject {
            kind: Build::KIND,
            name,
            message: "spec: Invalid value: field is immutable (only spec.output.pushSecret may change)".into(),
            help: "start a new build of its config instead, or delete this one first".into(),
        });
    }
    let mut updated = old.clone();
    updated.spec.output.push_secret = build.spec.output.push_secret;
    updated.metadata.labels = build.metadata.labels;
    let kept = |key: &str| old.metadata.annotations.get(key).map(|value| (key.to_owned(), value.clone()));
    let mut annotations = build.metadata.annotations;
    annotations.extend([keys::EXECUTOR, keys::HEARTBEAT].into_iter().filter_map(kept));
    updated.metadata.annotations = annotations;
    if updated == old {
        return Ok(AppliedBuild { build: old, action: WriteAction::Unchanged, warnings });
    }
    Ok(AppliedBuild { build: tx.update_as(&updated)?, action: WriteAction::Configured, warnings })
}

/// Check the `apiVersion` a client wrote for a build object, and that it
/// has a name (`apply` cannot generate one, as `kubectl apply` cannot).
pub(crate) fn check_type_meta<T: Resource>(api_version: &str, metadata: &s2i_store::ObjectMeta) -> Result<()> {
    T::INFO.check_api_version(api_version).map_err(|message| Error::InvalidObject {
        kind: T::KIND,
        name: metadata.name.clone(),
        message,
        help: format!("write apiVersion: {API_VERSION}"),
    })?;
    if metadata.name.is_empty() && !metadata.generate_name.is_empty() {
        return Err(Error::InvalidObject {
            kind: T::KIND,
            name: String::new(),
            message: "metadata.name: Required value: cannot use generate name with apply".into(),
            help: "give the object a name".into(),
        });
    }
    Ok(())
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
