//! The judges of what s2i writes for a cluster: the `k8s-openapi` and
//! `gateway-api` crates, Kubernetes' and Gateway API's own types.
//!
//! Those types ignore fields they do not know, where a cluster in strict
//! mode (`kubectl apply`'s default) refuses them. So an object passes only
//! when it parses as the type *and* the type, written again, still holds
//! every field and value of ours: what it dropped is what a cluster would
//! refuse. `apiVersion` and `kind` take part in that comparison too, so a
//! wrong version is caught even where the type does not check it.
//!
//! What the API server checks beyond the types is checked here too: the
//! port of every service backend ([`backend_ports`]).
//!
//! Shared by the tests of s2i-route and s2i-cli (included with `#[path]`).

#![allow(dead_code, unreachable_pub)]

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use gateway_api::backendtlspolicies::BackendTlsPolicy;
pub use gateway_api::httproutes::HttpRoute;
pub use gateway_api::tlsroutes::TlsRoute;
pub use k8s_openapi::api::core::v1::{ConfigMap, Endpoints, Secret, Service};
pub use k8s_openapi::api::networking::v1::Ingress;

/// `ours` as the cluster type `T`; panics, naming `what` and the first
/// field a cluster would not keep, unless `T` takes all of it.
pub fn accepted<T: DeserializeOwned + Serialize>(what: &str, ours: &Value) -> T {
    let parsed: T = serde_json::from_value(ours.clone())
        .unwrap_or_else(|e| panic!("{what}: a cluster refuses it: {e}\n{}", pretty(ours)));
    let theirs = serde_json::to_value(&parsed).unwrap();
    if let Err(path) = contained(ours, &theirs, "") {
        panic!("{what}: {path} is not a field a cluster keeps\nours:\n{}\ntheirs:\n{}", pretty(ours), pretty(&theirs));
    }
    parsed
}

/// Every document of YAML text, judged as the type its `kind` names (the
/// kinds s2i writes for clusters); a kind without a judge is an error, so
/// that a new export cannot pass unjudged. Returns the kinds, in order.
pub fn judge_documents(what: &str, yaml: &str) -> Vec<String> {
    let mut kinds = Vec::new();
    for document in serde_norway::Deserializer::from_str(yaml) {
        let value: Value = serde::Deserialize::deserialize(document).unwrap();
        if value.is_null() {
            continue;
        }
        let kind = value["kind"].as_str().unwrap_or_default().to_owned();
        let label = format!("{what}: {kind} {}", value["metadata"]["name"]);
        judge(&label, &value);
        kinds.push(kind);
    }
    kinds
}

/// One object, judged by the type its `kind` names; a `List` item by item.
pub fn judge(what: &str, value: &Value) {
    match value["kind"].as_str().unwrap_or_default() {
        "Service" => {
            accepted::<Service>(what, value);
        }
        "Endpoints" => {
            accepted::<Endpoints>(what, value);
        }
        "ConfigMap" => {
            accepted::<ConfigMap>(what, value);
        }
        "Secret" => {
            accepted::<Secret>(what, value);
        }
        "Ingress" => {
            accepted::<Ingress>(what, value);
            backend_ports(what, value);
        }
        "HTTPRoute" => {
            accepted::<HttpRoute>(what, value);
            backend_ports(what, value);
        }
        "TLSRoute" => {
            accepted::<TlsRoute>(what, value);
            backend_ports(what, value);
        }
        "BackendTLSPolicy" => {
            accepted::<BackendTlsPolicy>(what, value);
        }
        // The Route is OpenShift's, which neither crate has; s2i-route's own tests read it back.
        "Route" => {}
        "List" => {
            for (index, item) in value["items"].as_array().into_iter().flatten().enumerate() {
                judge(&format!("{what}: items[{index}]"), item);
            }
        }
        other => panic!("{what}: no judge for kind {other:?}"),
    }
}

/// Panics, naming `what`, unless every service backend names its port as
/// a cluster requires: an Ingress backend a port name or number (the API
/// server's validation), a Gateway API backend of kind Service a port
/// number (the CRD's rule "Must have port for Service reference").
pub fn backend_ports(what: &str, value: &Value) {
    let spec = &value["spec"];
    let list = |value: &Value| value.as_array().cloned().unwrap_or_default();
    if value["kind"] == "Ingress" {
        let mut services = vec![spec["defaultBackend"]["service"].clone()];
        for rule in list(&spec["rules"]) {
            services.extend(list(&rule["http"]["paths"]).iter().map(|path| path["backend"]["service"].clone()));
        }
        for service in services.iter().filter(|service| !service.is_null()) {
            let port = &service["port"];
            assert!(
                port["name"].is_string() || port["number"].is_number(),
                "{what}: a cluster refuses an Ingress backend without a port: {service}"
            );
        }
        return;
    }
    for backend in list(&spec["rules"]).iter().flat_map(|rule| list(&rule["backendRefs"])) {
        let service = backend["group"].as_str().unwrap_or_default().is_empty()
            && backend["kind"].as_str().unwrap_or("Service") == "Service";
        assert!(
            !service || backend["port"].is_number(),
            "{what}: a cluster refuses a Service backendRef without a port: {backend}"
        );
    }
}

/// `Ok` when every field of `ours` is in `theirs` with the same value
/// (objects may have more fields; lists must be as long); else the path of
/// the first difference.
fn contained(ours: &Value, theirs: &Value, path: &str) -> Result<(), String> {
    match (ours, theirs) {
        (Value::Object(ours), Value::Object(theirs)) => {
            for (key, value) in ours {
                let here = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                match theirs.get(key) {
                    Some(their) => contained(value, their, &here)?,
                    None => return Err(here),
                }
            }
            Ok(())
        }
        (Value::Array(ours), Value::Array(theirs)) if ours.len() == theirs.len() => {
            for (index, (value, their)) in ours.iter().zip(theirs).enumerate() {
                contained(value, their, &format!("{path}[{index}]"))?;
            }
            Ok(())
        }
        (Value::Number(ours), Value::Number(theirs)) if ours.as_f64() == theirs.as_f64() => Ok(()),
        _ if ours == theirs => Ok(()),
        _ => Err(format!("{path} (ours {ours}, theirs {theirs})")),
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_default()
}
