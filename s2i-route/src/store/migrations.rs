//! Stored routes and services written by older versions, rewritten once
//! per store ([`migrate`]).
//!
//! `s2i-route/service-endpoints`: services once held their fixed addresses
//! in `spec.endpoints` (`["127.0.0.1:8080", …]`), a field Kubernetes does
//! not have, so that a cluster refused the files. Each such service becomes
//! a clean Service (the API server's defaults applied; ports derived from
//! the addresses when it had none, named by their numbers as `kubectl
//! create service` names them) plus an Endpoints object of its name with
//! those addresses. The service keeps its uid and creation time and gets a
//! new resourceVersion (its document changed, so an update based on the old
//! one is a conflict); the Endpoints object is new (uid, resourceVersion
//! and creation time of the migration). An address that was a host name,
//! which an Endpoints object cannot hold on a cluster, is kept as it was:
//! the router still resolves it, updates keep accepting it, and apply warns.
//! Services without `spec.endpoints` only get the defaults.

use s2i_store::{ObjectMigration, Store, Tx};
use serde_json::Value;

use super::StoreResult;
use std::collections::BTreeSet;

use crate::endpoints::{ENDPOINTS_KIND, EndpointPort, EndpointSubset, Endpoints, pack_subsets, service_port_for};
use crate::route::SERVICE_KIND;
use crate::service::{Service, ServicePort};

/// The object migrations of this crate, in order. Append only.
pub const MIGRATIONS: &[ObjectMigration] = &[ObjectMigration {
    id: "s2i-route/service-endpoints",
    description: "fixed spec.endpoints of services become Endpoints objects",
    run: split_service_endpoints,
}];

/// Runs the steps of [`MIGRATIONS`] this store has not run yet; returns
/// their ids. Programs that open a store call it once after opening (the
/// router of [`crate::serve`] calls it on its first sync).
pub fn migrate(store: &Store) -> StoreResult<Vec<&'static str>> {
    store.migrate_objects(MIGRATIONS)
}

fn split_service_endpoints(tx: &Tx<'_>) -> StoreResult<()> {
    for stored in tx.list(SERVICE_KIND, None)? {
        let mut body = stored.body.clone();
        let fixed = body
            .get_mut("spec")
            .and_then(Value::as_object_mut)
            .and_then(|spec| spec.remove("endpoints"))
            .and_then(|value| serde_json::from_value::<Vec<String>>(value).ok())
            .unwrap_or_default();
        let addresses: Vec<(String, u16)> = fixed.iter().filter_map(|text| split_host_port(text)).collect();
        let mut service: Service = serde_json::from_value(body).map_err(|e| s2i_store::Error::InvalidObject {
            kind: SERVICE_KIND.into(),
            name: format!("{}/{}", stored.namespace, stored.name),
            message: format!("the stored document does not match the Service schema: {e}"),
            help: "delete the service and create it again".into(),
        })?;
        if service.spec.ports.is_empty() && !addresses.is_empty() {
            let numbers: BTreeSet<u16> = addresses.iter().map(|(_, port)| *port).collect();
            service.spec.ports = ServicePort::for_numbers(numbers);
        }
        service.spec.apply_defaults();
        let document = serde_json::to_value(&service).map_err(|e| s2i_store::Error::InvalidObject {
            kind: SERVICE_KIND.into(),
            name: stored.name.clone(),
            message: e.to_string(),
            help: "this is a bug in s2i; please report it".into(),
        })?;
        if document != stored.body {
            tx.update(SERVICE_KIND, &stored.namespace, &stored.name, document, None)?;
        }
        if addresses.is_empty() || tx.get(ENDPOINTS_KIND, &stored.namespace, &stored.name)?.is_some() {
            continue;
        }
        let endpoints = Endpoints::new(service.metadata.clone(), subsets(&service, &addresses));
        let mut document = serde_json::to_value(&endpoints).unwrap_or_default();
        // Only the name and namespace carry over: the rest of the metadata is the service's.
        document["metadata"] = serde_json::json!({"name": stored.name, "namespace": stored.namespace});
        tx.create(ENDPOINTS_KIND, &stored.namespace, &stored.name, document)?;
    }
    Ok(())
}

/// `HOST:PORT` or `[IPv6]:PORT`, as older versions wrote them.
fn split_host_port(text: &str) -> Option<(String, u16)> {
    let (host, port) = match text.strip_prefix('[') {
        Some(rest) => rest.split_once("]:")?,
        None => text.rsplit_once(':')?,
    };
    Some((host.to_owned(), port.parse().ok()?))
}

/// The subsets of the addresses, each port named after the service port
/// that leads to it (unnamed when none does and the service has several,
/// as the older router matched them), packed as the API server packs them.
fn subsets(service: &Service, addresses: &[(String, u16)]) -> Vec<EndpointSubset> {
    pack_subsets(addresses.iter().map(|(host, port)| {
        let number = i32::from(*port);
        let name = service_port_for(service, number).map(|found| found.name.clone()).unwrap_or_default();
        (host.clone(), EndpointPort { name, port: number, protocol: "TCP".into(), app_protocol: None })
    }))
}
