//! Object metadata, as Kubernetes writes it: the one `ObjectMeta` of the
//! workspace, owner references, and the `namespace/name` key.

use std::collections::BTreeMap;
use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The namespace used when none is given.
pub const DEFAULT_NAMESPACE: &str = "default";

/// The `metadata` of an object.
///
/// A store owns `name`, `namespace`, `uid`, `resourceVersion` and
/// `creationTimestamp` and writes them on every write; the rest is the
/// kind's. Rules that order objects (route admission: oldest first) use
/// [`creation_timestamp`](Self::creation_timestamp) then [`uid`](Self::uid).
///
/// Reading is lenient where a cluster's output is concerned: what an API
/// server adds to the metadata it prints (`managedFields`, `selfLink`,
/// `deletionTimestamp`, `deletionGracePeriodSeconds`), so that
/// `kubectl get -o yaml` writes it back, is read and ignored, as an apply
/// ignores it ([`crate::codec`] skips it in input documents). A kind's
/// `status` follows the same rule with [`ServerOwned`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectMeta {
    /// The object's name, unique per kind and namespace.
    #[serde(default)]
    pub name: String,
    /// A prefix a server makes a unique name from when `name` is empty
    /// (kept; `apply` needs a name, as `kubectl apply` does).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub generate_name: String,
    /// Its namespace; empty for cluster-scoped kinds.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Identity assigned by the store on create.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// The store revision of the last write of this object. Sent back on update,
    /// a stale value makes the update fail instead of overwriting newer data.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    /// Kind-defined generation of the desired state (`0` = unset).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generation: i64,
    /// When the object was created, assigned by the store (written with
    /// second precision, see [`crate::timestamp`]).
    #[serde(default, skip_serializing_if = "Option::is_none", with = "crate::timestamp::option")]
    pub creation_timestamp: Option<Timestamp>,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
    /// The objects this one belongs to (a Build to its BuildConfig).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owner_references: Vec<OwnerReference>,
    /// Finalizers: what must happen before a cluster deletes the object
    /// (kept for the cluster; a local delete does not wait for them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub finalizers: Vec<String>,
}

/// `metadata.ownerReferences[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OwnerReference {
    /// The owner's API version, e.g. `build.openshift.io/v1`.
    #[serde(default)]
    pub api_version: String,
    /// The owner's kind.
    #[serde(default)]
    pub kind: String,
    /// The owner's name.
    #[serde(default)]
    pub name: String,
    /// The owner's uid.
    #[serde(default)]
    pub uid: String,
    /// The owner manages this object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub controller: Option<bool>,
}

/// A reference to another object, Kubernetes' `ObjectReference` (every
/// field optional, as the API has it): the `targetRef` of an endpoint
/// address, the `from` of an image stream tag or a build, a build's config.
/// Fields a kind does not use are kept as given, so a file read and written
/// again keeps them. (Unknown fields are left to the reader's validation.)
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObjectReference {
    /// The referent's kind, e.g. `Pod`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub kind: String,
    /// Its namespace.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Its name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Its uid.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub uid: String,
    /// Its API version.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub api_version: String,
    /// The resourceVersion referred to.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_version: String,
    /// A field of the referent, e.g. `spec.containers{web}`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub field_path: String,
}

impl ObjectReference {
    /// A reference of `kind` (`DockerImage`, `ImageStreamTag`, …) to `name`.
    pub fn new(kind: &str, name: impl Into<String>) -> Self {
        Self { kind: kind.into(), name: name.into(), ..Self::default() }
    }
}

/// A part of an object that its server owns, read from input and dropped:
/// the `status` of a kind whose status nobody writes here (a Service's
/// `status.loadBalancer`), so that an object as `kubectl get -o yaml` prints
/// it applies as it would on a cluster, where the status of a request is
/// ignored too. A kind's input type declares the field with this type
/// (`#[serde(default)] status: ServerOwned`); it is never written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ServerOwned;

impl<'de> Deserialize<'de> for ServerOwned {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        // Read as a whole value (not skipped as an unknown field would be),
        // so that field validation does not take its contents for mistakes.
        serde_json::Value::deserialize(deserializer)?;
        Ok(ServerOwned)
    }
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

impl ObjectMeta {
    /// Metadata with just a namespace and a name.
    pub fn named(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self { namespace: namespace.into(), name: name.into(), ..Self::default() }
    }

    /// The `namespace/name` key of the object.
    pub fn key(&self) -> ObjectKey {
        ObjectKey { namespace: self.namespace.clone(), name: self.name.clone() }
    }
}

/// `namespace/name`: how objects of one kind are told apart.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectKey {
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
}

impl ObjectKey {
    /// A key.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectKey { namespace: namespace.into(), name: name.into() }
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The namespace an object read from a file goes to, as `kubectl apply`
/// decides it: the one its `metadata.namespace` names (`named`), else the
/// caller's `namespace`. A namespace the caller asked for explicitly
/// (`explicit`: given for this call, not a default) is never overridden
/// silently: an object that names another one is
/// [`Error::NamespaceMismatch`], so that nothing is written where it was not
/// asked for. `kind` and `name` name the object in that error.
pub fn input_namespace<'a>(
    kind: &str,
    name: &str,
    named: &'a str,
    namespace: &'a str,
    explicit: bool,
) -> Result<&'a str> {
    match named {
        "" => Ok(namespace),
        named if named == namespace || !explicit => Ok(named),
        named => Err(Error::NamespaceMismatch {
            kind: kind.into(),
            name: name.into(),
            named: named.into(),
            requested: namespace.into(),
        }),
    }
}

/// Check a namespace name: a DNS-1123 label (`[a-z0-9]([-a-z0-9]*[a-z0-9])?`, at most 63 characters).
pub fn validate_namespace(namespace: &str) -> Result<()> {
    let bytes = namespace.as_bytes();
    let edge = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let ok = !bytes.is_empty()
        && bytes.len() <= 63
        && edge(bytes[0])
        && edge(bytes[bytes.len() - 1])
        && bytes.iter().all(|&b| edge(b) || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName {
            what: "namespace".into(),
            value: namespace.into(),
            reason: "a namespace is 1-63 lower-case letters, digits or '-', starting and ending with a letter or digit"
                .into(),
            help: "pick a name like `default`, `dev` or `team-a`".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespaces_are_dns_labels() {
        for good in ["default", "a", "team-a", "x1"] {
            validate_namespace(good).unwrap();
        }
        for bad in ["", "A", "-a", "a-", "a_b", "a.b", &"a".repeat(64)] {
            assert!(validate_namespace(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_explicit_namespace_is_never_overridden_by_a_file() {
        let of = |named, explicit| input_namespace("Service", "web", named, "other", explicit);
        assert_eq!(of("", true).unwrap(), "other");
        assert_eq!(of("other", true).unwrap(), "other");
        assert_eq!(of("myproj", false).unwrap(), "myproj", "a default namespace is only a default");
        let error = of("myproj", true).unwrap_err().to_string();
        assert_eq!(
            error,
            r#"Service "web": the namespace from the provided object "myproj" does not match the namespace "other""#
        );
    }

    #[test]
    fn metadata_is_written_as_kubernetes_writes_it() {
        let mut meta = ObjectMeta::named("shop", "web");
        meta.creation_timestamp = Some("2026-01-01T00:00:00.5Z".parse().unwrap());
        meta.owner_references.push(OwnerReference {
            kind: "BuildConfig".into(),
            name: "app".into(),
            ..Default::default()
        });
        let json = serde_json::to_value(&meta).unwrap();
        assert_eq!(json["creationTimestamp"], "2026-01-01T00:00:00Z");
        assert_eq!(json["ownerReferences"][0]["kind"], "BuildConfig");
        assert!(json.get("uid").is_none() && json.get("generation").is_none());
        let back: ObjectMeta = serde_json::from_value(json).unwrap();
        assert_eq!(back.key().to_string(), "shop/web");
        let empty: ObjectMeta = serde_json::from_str(r#"{"name": "a", "creationTimestamp": ""}"#).unwrap();
        assert_eq!(empty.creation_timestamp, None);
    }

    #[test]
    fn what_a_server_adds_is_read_and_ignored() {
        let printed = r#"{
            "name": "web", "namespace": "shop", "uid": "0b0c", "resourceVersion": "812",
            "creationTimestamp": "2026-03-01T10:00:00Z", "selfLink": "/api/v1/namespaces/shop/services/web",
            "managedFields": [{"manager": "kubectl", "operation": "Update", "fieldsV1": {"f:spec": {}}}],
            "labels": {"app": "web"}
        }"#;
        let meta: ObjectMeta = serde_json::from_str(printed).unwrap();
        assert_eq!(meta.labels["app"], "web");
        let written = serde_json::to_value(&meta).unwrap();
        assert!(written.get("managedFields").is_none() && written.get("selfLink").is_none(), "{written}");

        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Thing {
            #[allow(dead_code)]
            spec: u8,
            #[serde(default)]
            status: ServerOwned,
        }
        let thing: Thing =
            serde_json::from_str(r#"{"spec": 1, "status": {"loadBalancer": {"ingress": [{"ip": "192.0.2.7"}]}}}"#)
                .unwrap();
        assert_eq!(thing.status, ServerOwned);
        assert!(serde_json::from_str::<Thing>(r#"{"spec": 1, "stats": {}}"#).is_err(), "other fields stay refused");
    }
}
