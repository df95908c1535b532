//! Routes and services in the object store ([`s2i_imagestream::store`]).
//!
//! This is the API server's side of the two kinds, as OpenShift's
//! openshift-apiserver and Kubernetes do it, plus the router writing back
//! what it admitted:
//!
//! - **create** ([`create_route`]): the status is cleared, `generation` is 1,
//!   a route without host (and without subdomain, not a wildcard route) gets
//!   `<name>-<namespace>.<domain>` and the annotation
//!   `openshift.io/host.generated: "true"`, then the route is validated
//!   ([`validate_route`]);
//! - **update** ([`update_route`]): the status is kept (it is the router's),
//!   an empty host keeps the stored one, the update rules of
//!   [`validate_route_update`] apply (`wildcardPolicy` is immutable, …), and
//!   `generation` grows by one when — and only when — the spec changed; a
//!   `metadata.resourceVersion` in the request must be the stored one;
//! - **status** ([`write_route_status`]): only `status` is replaced; spec,
//!   labels, annotations and generation are left as stored;
//! - **admission** ([`admit_routes`]): every route of the store is admitted
//!   with [`admit`] (oldest first, as the store's `creationTimestamp` and
//!   `uid` say) and the routes whose `Admitted` condition changed get a
//!   status write.
//!
//! Errors are the store's: an object the API rules refuse is
//! [`StoreError::InvalidObject`], with every field problem named as the
//! Kubernetes API names it.
//!
//! ```
//! use s2i_imagestream::Store;
//! use s2i_route::admission::AdmissionConfig;
//! use s2i_route::store::{admit_routes, create_route, create_service, get_route};
//! use s2i_route::{Endpoint, ObjectMeta, Route, RouteSpec, RouteTargetReference, Service, ServiceSpec};
//!
//! # fn main() -> Result<(), s2i_imagestream::Error> {
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path())?;
//! let service = Service::new(
//!     ObjectMeta::named("shop", "web"),
//!     ServiceSpec { endpoints: vec![Endpoint::new("127.0.0.1", 8080)], ..Default::default() },
//! );
//! let route = Route::new(
//!     ObjectMeta::named("shop", "web"),
//!     RouteSpec { to: RouteTargetReference::service("web", 100), ..Default::default() },
//! );
//! store.write(|tx| {
//!     create_service(tx, service.clone())?;
//!     create_route(tx, route.clone(), "apps.localhost")?;
//!     admit_routes(tx, &AdmissionConfig::default(), "2026-01-01T00:00:00Z".parse().unwrap())
//! })?;
//! let stored = store.read(|tx| get_route(tx, "shop", "web"))?.unwrap();
//! assert_eq!(stored.spec.host, "web-shop.apps.localhost");
//! assert_eq!(stored.metadata.generation, 1);
//! let admitted = stored.status.for_router("default").unwrap().condition("Admitted").unwrap();
//! assert_eq!(admitted.status, s2i_route::route::ConditionStatus::True);
//! # Ok(())
//! # }
//! ```

use jiff::Timestamp;
use s2i_imagestream::Error as StoreError;
use s2i_imagestream::store::{StoredObject, Tx};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::admission::{Admission, AdmissionConfig, admit};
use crate::annotations::HOST_GENERATED;
use crate::host::assign_host;
use crate::meta::ObjectMeta;
use crate::route::{ROUTE_KIND, Route};
use crate::service::Service;
use crate::validation::{FieldErrors, validate_route, validate_route_update, validate_service};

/// `kind` of a Service.
pub const SERVICE_KIND: &str = "Service";

/// Results of the store functions.
pub type StoreResult<T> = Result<T, StoreError>;

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

// ---------------------------------------------------------------------------
// Reading.

/// A route, if it exists.
pub fn get_route(tx: &Tx<'_>, namespace: &str, name: &str) -> StoreResult<Option<Route>> {
    tx.get(ROUTE_KIND, namespace, name)?.map(|object| object.decode()).transpose()
}

/// The routes of a namespace (every namespace when `None`), sorted by namespace and name.
pub fn list_routes(tx: &Tx<'_>, namespace: Option<&str>) -> StoreResult<Vec<Route>> {
    tx.list(ROUTE_KIND, namespace)?.iter().map(StoredObject::decode).collect()
}

/// A service, if it exists.
pub fn get_service(tx: &Tx<'_>, namespace: &str, name: &str) -> StoreResult<Option<Service>> {
    tx.get(SERVICE_KIND, namespace, name)?.map(|object| object.decode()).transpose()
}

/// The services of a namespace (every namespace when `None`), sorted by namespace and name.
pub fn list_services(tx: &Tx<'_>, namespace: Option<&str>) -> StoreResult<Vec<Service>> {
    tx.list(SERVICE_KIND, namespace)?.iter().map(StoredObject::decode).collect()
}

/// The error for a route that is not there.
pub fn route_not_found(namespace: &str, name: &str) -> StoreError {
    StoreError::NotFound {
        kind: ROUTE_KIND.into(),
        namespace: namespace.into(),
        name: name.into(),
        help: format!("list the routes with `s2i get routes --namespace {namespace}`"),
    }
}

/// The error for a service that is not there.
pub fn service_not_found(namespace: &str, name: &str) -> StoreError {
    StoreError::NotFound {
        kind: SERVICE_KIND.into(),
        namespace: namespace.into(),
        name: name.into(),
        help: format!(
            "create it with `s2i service create {name} --endpoint HOST:PORT` (or --selector LABEL=VALUE), or list the services with `s2i get services --namespace {namespace}`"
        ),
    }
}

/// The error for an object the API rules refuse: the field problems as
/// Kubernetes writes them (one, or `[first, second, …]`).
fn invalid(kind: &str, metadata: &ObjectMeta, errors: &FieldErrors) -> StoreError {
    let lines: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
    let message = match lines.as_slice() {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    };
    StoreError::InvalidObject {
        kind: kind.into(),
        name: format!("{}/{}", metadata.namespace, metadata.name),
        message,
        help: "fix the fields named; each problem says what the API accepts (docs/routes.md has the rules)".into(),
    }
}

fn body<T: Serialize>(kind: &str, metadata: &ObjectMeta, object: &T) -> StoreResult<serde_json::Value> {
    serde_json::to_value(object).map_err(|e| StoreError::InvalidObject {
        kind: kind.into(),
        name: metadata.name.clone(),
        message: e.to_string(),
        help: "this is a bug in s2i; please report it".into(),
    })
}

/// A `resourceVersion` sent with an update must be the stored one.
fn check_version(kind: &str, sent: &ObjectMeta, stored: &ObjectMeta) -> StoreResult<()> {
    if sent.resource_version.is_empty() || sent.resource_version == stored.resource_version {
        return Ok(());
    }
    Err(StoreError::Conflict {
        kind: kind.into(),
        namespace: stored.namespace.clone(),
        name: stored.name.clone(),
        expected: sent.resource_version.clone(),
        actual: stored.resource_version.parse().unwrap_or_default(),
    })
}

/// Stores a new object of `kind`; returns it as stored.
fn create_object<T: Serialize + DeserializeOwned>(
    tx: &Tx<'_>,
    kind: &str,
    metadata: &ObjectMeta,
    object: &T,
) -> StoreResult<T> {
    let document = body(kind, metadata, object)?;
    tx.create(kind, &metadata.namespace, &metadata.name, document)?.decode()
}

/// Replaces an object of `kind` that is at `version`; returns it as stored.
fn replace_object<T: Serialize + DeserializeOwned>(
    tx: &Tx<'_>,
    kind: &str,
    metadata: &ObjectMeta,
    object: &T,
    version: &str,
) -> StoreResult<T> {
    let document = body(kind, metadata, object)?;
    tx.update(kind, &metadata.namespace, &metadata.name, document, Some(version))?.decode()
}

/// The transaction's clock as a timestamp.
pub fn tx_time(tx: &Tx<'_>) -> Timestamp {
    tx.now().parse().unwrap_or_else(|_| Timestamp::now())
}

// ---------------------------------------------------------------------------
// Routes.

/// Prepares a route for creation as the API server does: status cleared,
/// `generation` 1, the host generated under `domain` when the route needs
/// one, then validation. The store sets uid, resourceVersion and
/// creationTimestamp when it creates the route.
pub fn prepare_new_route(route: &mut Route, domain: &str) -> StoreResult<()> {
    route.status = Default::default();
    route.metadata.generation = 1;
    assign_host(route, domain);
    validate_route(route).map_err(|errors| invalid(ROUTE_KIND, &route.metadata, &errors))
}

/// Creates a route (see [`prepare_new_route`]); fails when it exists.
pub fn create_route(tx: &Tx<'_>, mut route: Route, domain: &str) -> StoreResult<Route> {
    prepare_new_route(&mut route, domain)?;
    create_object(tx, ROUTE_KIND, &route.metadata, &route)
}

/// Updates a stored route with the API server's update rules (see the
/// [module docs](self)); the status stays the router's.
pub fn update_route(tx: &Tx<'_>, mut route: Route) -> StoreResult<(Route, WriteAction)> {
    let (namespace, name) = (route.metadata.namespace.clone(), route.metadata.name.clone());
    let old = get_route(tx, &namespace, &name)?.ok_or_else(|| route_not_found(&namespace, &name))?;
    check_version(ROUTE_KIND, &route.metadata, &old.metadata)?;
    let annotations = &mut route.metadata.annotations;
    if route.spec.host.is_empty() {
        // An update that sends no host keeps the stored one (and whether it was generated).
        route.spec.host = old.spec.host.clone();
        if let Some(generated) = old.metadata.annotations.get(HOST_GENERATED) {
            annotations.entry(HOST_GENERATED.to_owned()).or_insert_with(|| generated.clone());
        }
    } else if route.spec.host != old.spec.host {
        annotations.remove(HOST_GENERATED);
    }
    route.status = old.status.clone();
    validate_route_update(&route, &old).map_err(|errors| invalid(ROUTE_KIND, &route.metadata, &errors))?;
    let spec_changed = route.spec != old.spec;
    if !spec_changed
        && route.metadata.labels == old.metadata.labels
        && route.metadata.annotations == old.metadata.annotations
    {
        return Ok((old, WriteAction::Unchanged));
    }
    let metadata = &mut route.metadata;
    metadata.generation = old.metadata.generation.max(1) + i64::from(spec_changed);
    metadata.uid = old.metadata.uid.clone();
    metadata.creation_timestamp = old.metadata.creation_timestamp;
    let stored = replace_object(tx, ROUTE_KIND, &route.metadata, &route, &old.metadata.resource_version)?;
    Ok((stored, WriteAction::Configured))
}

/// Creates the route, or updates it when it exists.
pub fn apply_route(tx: &Tx<'_>, route: Route, domain: &str) -> StoreResult<(Route, WriteAction)> {
    if tx.get(ROUTE_KIND, &route.metadata.namespace, &route.metadata.name)?.is_some() {
        update_route(tx, route)
    } else {
        Ok((create_route(tx, route, domain)?, WriteAction::Created))
    }
}

/// Deletes a route; returns it as it was.
pub fn delete_route(tx: &Tx<'_>, namespace: &str, name: &str) -> StoreResult<Route> {
    tx.delete(ROUTE_KIND, namespace, name)?.ok_or_else(|| route_not_found(namespace, name))?.decode()
}

/// Writes `route.status` over the stored route's status, and nothing else
/// (the `status` subresource). With `metadata.resourceVersion` set, the
/// stored route must still be that version.
pub fn write_route_status(tx: &Tx<'_>, route: &Route) -> StoreResult<Route> {
    let (namespace, name) = (&route.metadata.namespace, &route.metadata.name);
    let stored = tx.get(ROUTE_KIND, namespace, name)?.ok_or_else(|| route_not_found(namespace, name))?;
    // The store refuses the write (`Conflict`) when the route is not that version any more.
    let expected = match route.metadata.resource_version.as_str() {
        "" => stored.resource_version.to_string(),
        sent => sent.to_owned(),
    };
    let mut document = stored.body;
    let status = body(ROUTE_KIND, &route.metadata, &route.status)?;
    if let Some(fields) = document.as_object_mut() {
        if route.status.ingress.is_empty() {
            fields.remove("status");
        } else {
            fields.insert("status".into(), status);
        }
    }
    tx.update(ROUTE_KIND, namespace, name, document, Some(&expected))?.decode()
}

/// Writes the `Admitted` conditions `admission` decided into the routes it
/// was computed from (`routes`, as read), as status writes. A route changed
/// or deleted since it was read is skipped: its next admission covers it.
/// Returns how many routes got a new status.
pub fn write_admission(tx: &Tx<'_>, routes: &[Route], admission: &Admission, now: Timestamp) -> StoreResult<usize> {
    let mut written = 0;
    for route in routes {
        let mut route = route.clone();
        if !admission.write_status(&mut route, now) {
            continue;
        }
        match write_route_status(tx, &route) {
            Ok(_) => written += 1,
            Err(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => {}
            Err(error) => return Err(error),
        }
    }
    Ok(written)
}

/// Admits every route of the store (see [`admit`]) and writes the status of
/// those whose outcome changed, in the caller's transaction.
pub fn admit_routes(tx: &Tx<'_>, config: &AdmissionConfig, now: Timestamp) -> StoreResult<Admission> {
    let routes = list_routes(tx, None)?;
    let admission = admit(&routes, config, now);
    write_admission(tx, &routes, &admission, now)?;
    Ok(admission)
}

// ---------------------------------------------------------------------------
// Services.

/// Prepares a service for creation: no generation, validation. The store
/// sets uid, resourceVersion and creationTimestamp when it creates the service.
pub fn prepare_new_service(service: &mut Service) -> StoreResult<()> {
    service.metadata.generation = 0;
    validate_service(service).map_err(|errors| invalid(SERVICE_KIND, &service.metadata, &errors))
}

/// Creates a service; fails when it exists.
pub fn create_service(tx: &Tx<'_>, mut service: Service) -> StoreResult<Service> {
    prepare_new_service(&mut service)?;
    create_object(tx, SERVICE_KIND, &service.metadata, &service)
}

/// Replaces a stored service's spec, labels and annotations.
pub fn update_service(tx: &Tx<'_>, mut service: Service) -> StoreResult<(Service, WriteAction)> {
    let (namespace, name) = (service.metadata.namespace.clone(), service.metadata.name.clone());
    let old = get_service(tx, &namespace, &name)?.ok_or_else(|| service_not_found(&namespace, &name))?;
    check_version(SERVICE_KIND, &service.metadata, &old.metadata)?;
    validate_service(&service).map_err(|errors| invalid(SERVICE_KIND, &service.metadata, &errors))?;
    if service.spec == old.spec
        && service.metadata.labels == old.metadata.labels
        && service.metadata.annotations == old.metadata.annotations
    {
        return Ok((old, WriteAction::Unchanged));
    }
    service.metadata.generation = 0;
    let stored = replace_object(tx, SERVICE_KIND, &service.metadata, &service, &old.metadata.resource_version)?;
    Ok((stored, WriteAction::Configured))
}

/// Creates the service, or updates it when it exists.
pub fn apply_service(tx: &Tx<'_>, service: Service) -> StoreResult<(Service, WriteAction)> {
    if tx.get(SERVICE_KIND, &service.metadata.namespace, &service.metadata.name)?.is_some() {
        update_service(tx, service)
    } else {
        Ok((create_service(tx, service)?, WriteAction::Created))
    }
}

/// Deletes a service; returns it as it was. Routes pointing at it stay (they answer 503).
pub fn delete_service(tx: &Tx<'_>, namespace: &str, name: &str) -> StoreResult<Service> {
    tx.delete(SERVICE_KIND, namespace, name)?.ok_or_else(|| service_not_found(namespace, name))?.decode()
}

/// The backends of `route` that name no service of the store.
pub fn missing_services(tx: &Tx<'_>, route: &Route) -> StoreResult<Vec<String>> {
    let mut missing = Vec::new();
    for backend in route.backends() {
        if tx.get(SERVICE_KIND, &route.metadata.namespace, &backend.name)?.is_none() && !missing.contains(&backend.name)
        {
            missing.push(backend.name.clone());
        }
    }
    Ok(missing)
}
