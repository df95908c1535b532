//! Kinds: what the store and a front end need to know about a type of
//! object ([`KindInfo`]), and the trait a typed object implements
//! ([`Resource`]).

use std::fmt;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::meta::ObjectMeta;

/// A kind of object as plain data: its API group and version, its names, and
/// whether its objects live in a namespace. The names are those a user may
/// type for it (see [`crate::KindRegistry::resolve`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KindInfo {
    /// The API group, e.g. `image.openshift.io`; empty for the core group.
    pub group: &'static str,
    /// The API version within the group, e.g. `v1`.
    pub version: &'static str,
    /// The kind, e.g. `ImageStream`.
    pub kind: &'static str,
    /// The plural resource name, e.g. `imagestreams`.
    pub plural: &'static str,
    /// Short names, e.g. `is`.
    pub short_names: &'static [&'static str],
    /// Whether objects live in a namespace (else they are cluster-scoped).
    pub namespaced: bool,
}

impl KindInfo {
    /// `apiVersion` of the kind's objects: `group/version`, or `version` for the core group.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() { self.version.to_owned() } else { format!("{}/{}", self.group, self.version) }
    }

    /// Whether a document's `apiVersion` names this kind's version: its
    /// own (`build.openshift.io/v1`), or, for OpenShift's kinds (groups
    /// ending in `.openshift.io`), the legacy `v1` they were served as
    /// before API groups, which OpenShift's catalog still ships and its API
    /// server still takes. Objects are kept under the kind's own version.
    pub fn accepts_api_version(&self, api_version: &str) -> bool {
        api_version == self.api_version() || (api_version == "v1" && self.group.ends_with(".openshift.io"))
    }

    /// Check a document's `apiVersion` (empty: the kind's own) with
    /// [`Self::accepts_api_version`]; the error says which versions the kind has.
    pub fn check_api_version(&self, api_version: &str) -> Result<(), String> {
        if api_version.is_empty() || self.accepts_api_version(api_version) {
            return Ok(());
        }
        Err(format!(
            "no matches for kind {:?} in version {api_version:?}: {} objects are {:?}",
            self.kind,
            self.kind,
            self.api_version()
        ))
    }

    /// How objects of the kind are named in messages, as kubectl writes them:
    /// `route.route.openshift.io`, or `service` for the core group.
    pub fn qualified_name(&self) -> String {
        let name = self.kind.to_ascii_lowercase();
        if self.group.is_empty() { name } else { format!("{name}.{}", self.group) }
    }

    /// Whether `name` names this kind: its kind, plural or a short name, in
    /// any case, optionally followed by `.<group>` (`is`, `ImageStream`,
    /// `imagestreams.image.openshift.io`).
    pub fn is_named(&self, name: &str) -> bool {
        let wanted = name.to_ascii_lowercase();
        let (wanted, group) = match wanted.split_once('.') {
            Some((kind, group)) => (kind, Some(group)),
            None => (wanted.as_str(), None),
        };
        let named = self.kind.eq_ignore_ascii_case(wanted)
            || self.plural.eq_ignore_ascii_case(wanted)
            || self.short_names.iter().any(|short| short.eq_ignore_ascii_case(wanted));
        named && group.is_none_or(|group| group.eq_ignore_ascii_case(self.group))
    }
}

impl fmt::Display for KindInfo {
    /// `plural (short, names)`, as lists of kinds show it; `plural` alone
    /// for a kind without short names.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.short_names {
            [] => f.write_str(self.plural),
            short => write!(f, "{} ({})", self.plural, short.join(", ")),
        }
    }
}

/// A kind the store can keep as a typed Rust value.
///
/// The type serialises to the object's JSON (with `apiVersion`, `kind` and
/// `metadata` fields); the typed [`Tx`](crate::Tx) helpers fill in
/// `apiVersion` and `kind` from [`Resource::INFO`].
pub trait Resource: Serialize + DeserializeOwned {
    /// What the kind is.
    const INFO: KindInfo;
    /// The kind's name (`INFO.kind`), e.g. `ImageStream`.
    const KIND: &'static str = Self::INFO.kind;
    /// The object's metadata.
    fn metadata(&self) -> &ObjectMeta;
    /// The object's metadata, to change.
    fn metadata_mut(&mut self) -> &mut ObjectMeta;
}

/// What a write did to an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteAction {
    /// The object did not exist and was created.
    Created,
    /// The object existed and was changed.
    Configured,
    /// The object existed as asked; nothing was written.
    Unchanged,
}

impl WriteAction {
    /// `created`, `configured` or `unchanged`, as `kubectl apply` says it.
    pub fn as_str(self) -> &'static str {
        match self {
            WriteAction::Created => "created",
            WriteAction::Configured => "configured",
            WriteAction::Unchanged => "unchanged",
        }
    }
}

impl fmt::Display for WriteAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What `apply` did to one object: its kind, where it is, and the write's
/// [`WriteAction`]. Displayed as `kubectl apply` reports it:
/// `route.route.openshift.io/web configured`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The kind.
    pub kind: KindInfo,
    /// Its namespace (empty for cluster-scoped kinds).
    pub namespace: String,
    /// Its name.
    pub name: String,
    /// What the write did.
    pub action: WriteAction,
}

impl Applied {
    /// What applying `object` of kind `T` did.
    pub fn of<T: Resource>(object: &T, action: WriteAction) -> Self {
        let meta = object.metadata();
        Self { kind: T::INFO, namespace: meta.namespace.clone(), name: meta.name.clone(), action }
    }
}

impl fmt::Display for Applied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} {}", self.kind.qualified_name(), self.name, self.action)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROUTE: KindInfo = KindInfo {
        group: "route.openshift.io",
        version: "v1",
        kind: "Route",
        plural: "routes",
        short_names: &["route"],
        namespaced: true,
    };
    const SERVICE: KindInfo = KindInfo {
        group: "",
        version: "v1",
        kind: "Service",
        plural: "services",
        short_names: &["svc"],
        namespaced: true,
    };

    #[test]
    fn names_and_versions() {
        assert_eq!(ROUTE.api_version(), "route.openshift.io/v1");
        assert_eq!(SERVICE.api_version(), "v1");
        assert_eq!(ROUTE.qualified_name(), "route.route.openshift.io");
        assert_eq!(SERVICE.qualified_name(), "service");
        for name in ["Route", "route", "ROUTES", "routes.route.openshift.io", "route.Route.OpenShift.io"] {
            assert!(ROUTE.is_named(name), "{name}");
        }
        for name in ["rt", "routes.example.com", "route."] {
            assert!(!ROUTE.is_named(name), "{name}");
        }
        assert!(SERVICE.is_named("svc") && SERVICE.is_named("services") && !SERVICE.is_named("svc.apps"));
        assert_eq!(SERVICE.to_string(), "services (svc)");
        // OpenShift's kinds take the legacy `v1`; core kinds have no other.
        assert!(ROUTE.accepts_api_version("v1") && ROUTE.accepts_api_version("route.openshift.io/v1"));
        assert!(!ROUTE.accepts_api_version("route.openshift.io/v2") && !SERVICE.accepts_api_version("apps/v1"));
        assert!(ROUTE.check_api_version("").is_ok());
        assert_eq!(
            ROUTE.check_api_version("extensions/v1beta1").unwrap_err(),
            "no matches for kind \"Route\" in version \"extensions/v1beta1\": Route objects are \"route.openshift.io/v1\""
        );
    }

    #[test]
    fn applied_objects_read_as_kubectl_reports_them() {
        let applied = |kind, action| Applied { kind, namespace: "shop".into(), name: "web".into(), action };
        assert_eq!(applied(ROUTE, WriteAction::Configured).to_string(), "route.route.openshift.io/web configured");
        assert_eq!(applied(SERVICE, WriteAction::Created).to_string(), "service/web created");
    }
}
