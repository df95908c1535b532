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
//!   settings a user writes ([`SETTING_ANNOTATIONS`]), and the annotations a
//!   server sets as status ([`SERVER_ANNOTATIONS`]).
//!
//! Everything else — labels, other annotations, finalizers, the spec — is
//! kept as it is.

use serde_json::Value;

use crate::meta::ObjectMeta;

/// The prefix of the annotations this tool writes for itself.
pub const INTERNAL_PREFIX: &str = "s2i-rs.github.io/";

/// Annotations under [`INTERNAL_PREFIX`] that users write as settings (an
/// image stream's registry) and that an export keeps.
pub const SETTING_ANNOTATIONS: &[&str] = &["s2i-rs.github.io/registry"];

/// Annotations a server writes as status: an image stream's time of its last
/// repository import (an export that kept it would keep a cluster from
/// importing the repository).
pub const SERVER_ANNOTATIONS: &[&str] = &["openshift.io/image.dockerRepositoryCheck"];

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
    metadata.annotations.retain(|key, _| !SERVER_ANNOTATIONS.contains(&key.as_str()));
}

/// The object (as JSON) ready to apply elsewhere; see the module's rule.
/// A document without `metadata` is returned without `status` only.
pub fn apply_ready(object: &Value) -> Value {
    let mut object = object.clone();
    let Some(fields) = object.as_object_mut() else { return object };
    fields.remove("status");
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
    fn annotations_that_were_all_internal_leave_no_empty_map() {
        let stored =
            json!({"kind": "Build", "metadata": {"name": "b", "annotations": {"s2i-rs.github.io/executor": "pid=1"}}});
        assert_eq!(apply_ready(&stored), json!({"kind": "Build", "metadata": {"name": "b"}}));
    }
}
