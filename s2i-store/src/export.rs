//! An object as a file to apply elsewhere: in another namespace of this
//! store, or on a cluster (`oc apply -n ANY -f`). What a server owns, and
//! what only makes sense in this store, is left out:
//!
//! - `status`;
//! - the metadata a server assigns: `uid`, `resourceVersion` (a stale one
//!   would make a later apply conflict), `creationTimestamp`, `generation`,
//!   `managedFields`, `selfLink` and deletion times;
//! - `namespace`, so that the file applies to the namespace it is applied in;
//! - `ownerReferences`: they name owners by this store's uids, which no other
//!   server has (a cluster's garbage collector would delete the object);
//! - this tool's bookkeeping annotations (`s2i-rs.github.io/…`), except the
//!   settings a user writes ([`SETTING_ANNOTATIONS`]), the annotations a
//!   server sets as status ([`SERVER_ANNOTATIONS`]) and those a client
//!   writes for itself on apply ([`CLIENT_ANNOTATIONS`]);
//! - in the references of an Endpoints object to what serves its addresses
//!   (`subsets[].addresses[].targetRef`, `notReadyAddresses` too), what
//!   [`strip_reference`] leaves out: the referent's `uid` and
//!   `resourceVersion`, and its namespace when it is the object's own.
//!
//! Everything else — labels, other annotations, finalizers, the spec — is
//! kept as it is.

use serde_json::Value;

use crate::meta::{ObjectMeta, ObjectReference};

/// The prefix of the annotations this tool writes for itself.
pub const INTERNAL_PREFIX: &str = "s2i-rs.github.io/";

/// Annotations under [`INTERNAL_PREFIX`] that users write as settings (an
/// image stream's registry) and that an export keeps.
pub const SETTING_ANNOTATIONS: &[&str] = &["s2i-rs.github.io/registry"];

/// Annotations a server writes as status: an image stream's time of its last
/// repository import (an export that kept it would keep a cluster from
/// importing the repository), and the endpoints controller's time of the
/// change an Endpoints object last followed.
pub const SERVER_ANNOTATIONS: &[&str] =
    &["openshift.io/image.dockerRepositoryCheck", "endpoints.kubernetes.io/last-change-trigger-time"];

/// Annotations a client writes for itself when it applies a file: kubectl's
/// copy of the file it last applied, which names the namespace it was
/// applied in. `kubectl apply` writes its own from the export; a kept one
/// would misdirect the three-way merge of later applies (`oc create` keeps
/// it as it is).
pub const CLIENT_ANNOTATIONS: &[&str] = &["kubectl.kubernetes.io/last-applied-configuration"];

/// Leaves out of typed metadata what [`apply_ready`] leaves out.
pub fn strip_metadata(metadata: &mut ObjectMeta) {
    metadata.namespace.clear();
    metadata.uid.clear();
    metadata.resource_version.clear();
    metadata.generation = 0;
    metadata.creation_timestamp = None;
    metadata.owner_references.clear();
    metadata
        .annotations
        .retain(|key, _| !key.starts_with(INTERNAL_PREFIX) || SETTING_ANNOTATIONS.contains(&key.as_str()));
    metadata
        .annotations
        .retain(|key, _| !SERVER_ANNOTATIONS.contains(&key.as_str()) && !CLIENT_ANNOTATIONS.contains(&key.as_str()));
}

/// Leaves out of a reference from an object in `namespace` what only this
/// server knows: the referent's `uid` and `resourceVersion` (no other server
/// has them), and its namespace when it is `namespace` (the export names no
/// namespace, so the reference follows the object to where it is applied).
/// A reference to another namespace keeps it.
pub fn strip_reference(reference: &mut ObjectReference, namespace: &str) {
    reference.uid.clear();
    reference.resource_version.clear();
    if reference.namespace == namespace {
        reference.namespace.clear();
    }
}

/// The object (as JSON) ready to apply elsewhere; see the module's rule.
/// A document without `metadata` is returned without `status` only.
pub fn apply_ready(object: &Value) -> Value {
    let mut object = object.clone();
    let Some(fields) = object.as_object_mut() else { return object };
    fields.remove("status");
    let namespace = fields
        .get("metadata")
        .and_then(|metadata| metadata.get("namespace"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    if is_endpoints(fields) {
        strip_endpoint_references(fields, &namespace);
    }
    if let Some(metadata) = fields.get_mut("metadata") {
        // Typed, so that what ObjectMeta does not hold (managedFields,
        // selfLink, deletion times) goes too: one rule for JSON and types.
        if let Ok(mut typed) = serde_json::from_value::<ObjectMeta>(metadata.clone()) {
            strip_metadata(&mut typed);
            *metadata = serde_json::to_value(typed).expect("metadata is plain data");
        }
    }
    object
}

fn is_endpoints(fields: &serde_json::Map<String, Value>) -> bool {
    fields.get("apiVersion").and_then(Value::as_str) == Some("v1")
        && fields.get("kind").and_then(Value::as_str) == Some("Endpoints")
}

/// [`strip_reference`] on every address's `targetRef` of an Endpoints object.
fn strip_endpoint_references(fields: &mut serde_json::Map<String, Value>, namespace: &str) {
    let Some(subsets) = fields.get_mut("subsets").and_then(Value::as_array_mut) else { return };
    for subset in subsets {
        for list in ["addresses", "notReadyAddresses"] {
            let Some(addresses) = subset.get_mut(list).and_then(Value::as_array_mut) else { continue };
            for target in addresses.iter_mut().filter_map(|address| address.get_mut("targetRef")) {
                // Typed, as metadata is: the fields are ObjectReference's.
                if let Ok(mut reference) = serde_json::from_value::<ObjectReference>(target.clone()) {
                    strip_reference(&mut reference, namespace);
                    *target = serde_json::to_value(reference).expect("a reference is plain data");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_a_server_or_this_store_owns_is_left_out() {
        let stored = json!({
            "apiVersion": "image.openshift.io/v1",
            "kind": "ImageStream",
            "metadata": {
                "name": "app",
                "namespace": "dev",
                "uid": "0190-abc",
                "resourceVersion": "42",
                "generation": 3,
                "creationTimestamp": "2026-01-02T03:04:05Z",
                "managedFields": [{"manager": "kubectl"}],
                "selfLink": "/apis/x",
                "labels": {"app": "web"},
                "annotations": {
                    "s2i-rs.github.io/registry": "127.0.0.1:5000",
                    "s2i-rs.github.io/heartbeat": "2026-01-02T03:04:05Z",
                    "openshift.io/image.dockerRepositoryCheck": "2026-01-02T03:04:05Z",
                    "description": "kept"
                },
                "ownerReferences": [{"apiVersion": "v1", "kind": "X", "name": "o", "uid": "1"}],
                "finalizers": ["example.com/keep"]
            },
            "spec": {"lookupPolicy": {"local": false}},
            "status": {"dockerImageRepository": "x"}
        });
        let exported = apply_ready(&stored);
        assert_eq!(
            exported,
            json!({
                "apiVersion": "image.openshift.io/v1",
                "kind": "ImageStream",
                "metadata": {
                    "name": "app",
                    "labels": {"app": "web"},
                    "annotations": {"description": "kept", "s2i-rs.github.io/registry": "127.0.0.1:5000"},
                    "finalizers": ["example.com/keep"]
                },
                "spec": {"lookupPolicy": {"local": false}}
            })
        );
        assert_eq!(apply_ready(&exported), exported, "exporting twice changes nothing");
    }

    #[test]
    fn kubectls_record_of_the_applied_file_is_left_out() {
        // As `kubectl get -o yaml` prints an object kubectl applied in `shop`.
        let last_applied = r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"web","namespace":"shop"}}"#;
        let stored = json!({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {
                "name": "web",
                "namespace": "shop",
                "annotations": {"kubectl.kubernetes.io/last-applied-configuration": last_applied, "team": "a"}
            },
            "spec": {}
        });
        let exported = apply_ready(&stored);
        assert_eq!(exported["metadata"], json!({"name": "web", "annotations": {"team": "a"}}));
        assert!(!exported.to_string().contains("shop"), "{exported}");
    }

    #[test]
    fn endpoint_references_keep_no_uid_and_no_namespace_of_their_own() {
        let pod = |name: &str, namespace: &str| json!({"kind": "Pod", "namespace": namespace, "name": name, "uid": "1b2c", "resourceVersion": "7"});
        let stored = json!({
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {
                "name": "db",
                "namespace": "shop",
                "annotations": {"endpoints.kubernetes.io/last-change-trigger-time": "2026-12-01T10:00:00Z"}
            },
            "subsets": [{
                "addresses": [{"ip": "10.0.0.1", "targetRef": pod("db-0", "shop")}],
                "notReadyAddresses": [
                    {"ip": "10.0.0.2", "targetRef": pod("db-1", "shop")},
                    {"ip": "10.0.0.3", "targetRef": pod("db-2", "other")},
                    {"ip": "10.0.0.4"}
                ],
                "ports": [{"port": 5432}]
            }]
        });
        let exported = apply_ready(&stored);
        assert_eq!(
            exported["subsets"],
            json!([{
                "addresses": [{"ip": "10.0.0.1", "targetRef": {"kind": "Pod", "name": "db-0"}}],
                "notReadyAddresses": [
                    {"ip": "10.0.0.2", "targetRef": {"kind": "Pod", "name": "db-1"}},
                    // Another namespace's pod is named with its namespace.
                    {"ip": "10.0.0.3", "targetRef": {"kind": "Pod", "namespace": "other", "name": "db-2"}},
                    {"ip": "10.0.0.4"}
                ],
                "ports": [{"port": 5432}]
            }])
        );
        assert!(exported["metadata"].get("annotations").is_none(), "the controller's time is left out: {exported}");
        assert_eq!(apply_ready(&exported), exported, "exporting twice changes nothing");
        // Only Endpoints' addresses are references to strip.
        let other = json!({"apiVersion": "v1", "kind": "ConfigMap", "subsets": stored["subsets"].clone()});
        assert_eq!(apply_ready(&other), other);
    }

    #[test]
    fn annotations_that_were_all_internal_leave_no_empty_map() {
        let stored =
            json!({"kind": "Build", "metadata": {"name": "b", "annotations": {"s2i-rs.github.io/executor": "pid=1"}}});
        assert_eq!(apply_ready(&stored), json!({"kind": "Build", "metadata": {"name": "b"}}));
    }
}
