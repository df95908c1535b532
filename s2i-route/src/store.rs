//! Routes and services in the object store of [`s2i_store`] (feature `store`).
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
//! Services and their Endpoints objects follow the API server too: defaults
//! ([`ServiceSpec::apply_defaults`](crate::service::ServiceSpec::apply_defaults))
//! and validation on create and update, a cluster address kept when an
//! update leaves it out, and deleting a service deletes the Endpoints object
//! of its name, as a cluster's endpoints controller does.
//!
//! The rules are [`Strategy`]s of the store ([`RouteRules`],
//! [`ServiceRules`], [`EndpointsRules`]): the store's create, update and
//! apply do the generic part (existence, `resourceVersion` conflicts,
//! store-owned metadata, "unchanged").
//!
//! Documents written by older versions are rewritten by [`migrate`] (the
//! steps of [`MIGRATIONS`]), which a program runs after opening a store.
//!
//! Errors are the store's: an object the API rules refuse is
//! [`StoreError::InvalidObject`], with every field problem named as the
//! Kubernetes API names it.
//!
//! ```
//! use s2i_store::Store;
//! use s2i_route::admission::AdmissionConfig;
//! use s2i_route::store::{admit_routes, create_route, create_service_with_endpoints, get_route, migrate};
//! use s2i_route::{Endpoint, ObjectMeta, Route, RouteSpec, RouteTargetReference, Service, ServicePort, ServiceSpec};
//!
//! # fn main() -> Result<(), s2i_store::Error> {
//! let dir = tempfile::tempdir().unwrap();
//! let store = Store::open(dir.path())?;
//! migrate(&store)?; // documents of older versions, rewritten once
//! let service = Service::new(
//!     ObjectMeta::named("shop", "web"),
//!     ServiceSpec { ports: vec![ServicePort::new("http", 80, Some(8080))], ..Default::default() },
//! );
//! let route = Route::new(
//!     ObjectMeta::named("shop", "web"),
//!     RouteSpec { to: RouteTargetReference::service("web", 100), ..Default::default() },
//! );
//! store.write(|tx| {
//!     // A service without selector, and its Endpoints object: a process on this machine.
//!     create_service_with_endpoints(tx, service.clone(), &[Endpoint::new("127.0.0.1", 8080)])?;
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
use s2i_store::Error as StoreError;
use s2i_store::{Resource, Strategy, Tx};

use crate::admission::{Admission, AdmissionConfig, admit};
use crate::annotations::HOST_GENERATED;
use crate::endpoints::{ENDPOINTS_KIND, Endpoints};
use crate::host::assign_host;
use crate::route::{ROUTE_KIND, Route, SERVICE_KIND};
use crate::service::{Endpoint, Service};
use crate::validation::{
    FieldErrors, validate_endpoints, validate_endpoints_update, validate_route, validate_route_update,
    validate_service, validate_service_update,
};
use s2i_store::ObjectMeta;

mod migrations;

pub use migrations::{MIGRATIONS, migrate};

pub use s2i_store::WriteAction;

/// Results of the store functions.
pub type StoreResult<T> = Result<T, StoreError>;

// ---------------------------------------------------------------------------
// Reading.

/// A route, if it exists.
pub fn get_route(tx: &Tx<'_>, namespace: &str, name: &str) -> StoreResult<Option<Route>> {
    tx.get_as(namespace, name)
}

/// The routes of a namespace (every namespace when `None`), sorted by namespace and name.
pub fn list_routes(tx: &Tx<'_>, namespace: Option<&str>) -> StoreResult<Vec<Route>> {
    tx.list_as(namespace)
}

/// A service, if it exists.
pub fn get_service(tx: &Tx<'_>, namespace: &str, name: &str) -> StoreResult<Option<Service>> {
    tx.get_as(namespace, name)
}

/// The services of a namespace (every namespace when `None`), sorted by namespace and name.
pub fn list_services(tx: &Tx<'_>, namespace: Option<&str>) -> StoreResult<Vec<Service>> {
    tx.list_as(namespace)
}

/// The error for a route that is not there.
pub fn route_not_found(namespace: &str, name: &str) -> StoreError {
    StoreError::NotFound {
        kind: ROUTE_KIND.into(),
        namespace: namespace.into(),
        name: name.into(),
        help: format!("list the routes of namespace {namespace}"),
    }
}

/// The error for a service that is not there.
pub fn service_not_found(namespace: &str, name: &str) -> StoreError {
    StoreError::NotFound {
        kind: SERVICE_KIND.into(),
        namespace: namespace.into(),
        name: name.into(),
        help: format!("create it (with fixed endpoints or a selector), or list the services of namespace {namespace}"),
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

// ---------------------------------------------------------------------------
// Routes.

/// The API server's rules for routes, as a store [`Strategy`]: generated
/// hosts live under `domain`.
#[derive(Debug, Clone, Copy)]
pub struct RouteRules<'a> {
    /// The router domain of generated hosts.
    pub domain: &'a str,
}

impl Strategy<Route> for RouteRules<'_> {
    type Error = StoreError;

    fn prepare_create(&self, _: &Tx<'_>, route: &mut Route) -> StoreResult<()> {
        prepare_new_route(route, self.domain)
    }

    /// The status stays the router's, an empty host keeps the stored one (and
    /// whether it was generated), the update rules apply, and `generation`
    /// grows by one when the spec changed.
    fn prepare_update(&self, _: &Tx<'_>, route: &mut Route, old: &Route) -> StoreResult<()> {
        let annotations = &mut route.metadata.annotations;
        if route.spec.host.is_empty() {
            route.spec.host = old.spec.host.clone();
            if let Some(generated) = old.metadata.annotations.get(HOST_GENERATED) {
                annotations.entry(HOST_GENERATED.to_owned()).or_insert_with(|| generated.clone());
            }
        } else if route.spec.host != old.spec.host {
            annotations.remove(HOST_GENERATED);
        }
        route.status = old.status.clone();
        validate_route_update(route, old).map_err(|errors| invalid(ROUTE_KIND, &route.metadata, &errors))?;
        route.metadata.generation = old.metadata.generation.max(1) + i64::from(route.spec != old.spec);
        Ok(())
    }

    fn unchanged(&self, route: &Route, old: &Route) -> bool {
        route.spec == old.spec
            && route.metadata.labels == old.metadata.labels
            && route.metadata.annotations == old.metadata.annotations
    }
}

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
pub fn create_route(tx: &Tx<'_>, route: Route, domain: &str) -> StoreResult<Route> {
    tx.create_with(route, &RouteRules { domain })
}

/// Updates a stored route with the API server's update rules (see the
/// [module docs](self)); the status stays the router's.
pub fn update_route(tx: &Tx<'_>, route: Route) -> StoreResult<(Route, WriteAction)> {
    let (namespace, name) = (route.metadata.namespace.clone(), route.metadata.name.clone());
    // Updates never generate hosts: the domain is not needed.
    tx.update_with(route, &RouteRules { domain: "" }).map_err(|error| match error {
        StoreError::NotFound { .. } => route_not_found(&namespace, &name),
        other => other,
    })
}

/// Creates a route whose backends all name services of the store, as `oc
/// create route` and `oc expose` require (a route applied from a file may
/// name a service that comes later), then admits every route of the store
/// ([`admit_routes`]). Returns the route as stored and the admission.
pub fn create_route_to_services(
    tx: &Tx<'_>,
    route: Route,
    config: &AdmissionConfig,
    now: Timestamp,
) -> StoreResult<(Route, Admission)> {
    if let Some(name) = missing_services(tx, &route)?.first() {
        return Err(service_not_found(&route.metadata.namespace, name));
    }
    let created = create_route(tx, route, &config.router_domain)?;
    let admission = admit_routes(tx, config, now)?;
    Ok((created, admission))
}

/// Creates the route, or updates it when it exists.
pub fn apply_route(tx: &Tx<'_>, route: Route, domain: &str) -> StoreResult<(Route, WriteAction)> {
    tx.apply_with(route, &RouteRules { domain })
}

/// Deletes a route; returns it as it was.
pub fn delete_route(tx: &Tx<'_>, namespace: &str, name: &str) -> StoreResult<Route> {
    tx.delete_as(namespace, name)?.ok_or_else(|| route_not_found(namespace, name))
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
    // The stored document as it is, but its status: defaults applied on read stay unwritten.
    let mut document = stored.body;
    let status = serde_json::to_value(&route.status).map_err(|e| StoreError::InvalidObject {
        kind: ROUTE_KIND.into(),
        name: route.metadata.name.clone(),
        message: e.to_string(),
        help: "this is a bug in s2i; please report it".into(),
    })?;
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

/// The API server's rules for services, as a store [`Strategy`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ServiceRules;

impl Strategy<Service> for ServiceRules {
    type Error = StoreError;

    fn prepare_create(&self, _: &Tx<'_>, service: &mut Service) -> StoreResult<()> {
        prepare_new_service(service)
    }

    /// What an update leaves out that a cluster allocated stays (the
    /// cluster address, node ports), the defaults apply, then the update
    /// rules.
    fn prepare_update(&self, _: &Tx<'_>, service: &mut Service, old: &Service) -> StoreResult<()> {
        keep_allocated(service, old);
        service.spec.apply_defaults();
        service.metadata.generation = 0;
        validate_service_update(service, old).map_err(|errors| invalid(SERVICE_KIND, &service.metadata, &errors))
    }

    fn unchanged(&self, service: &Service, old: &Service) -> bool {
        service.spec == old.spec
            && service.metadata.labels == old.metadata.labels
            && service.metadata.annotations == old.metadata.annotations
    }
}

/// An update that leaves out values a cluster allocates keeps the stored
/// ones, as the API server does: `clusterIP`/`clusterIPs` (unless the
/// service becomes an `ExternalName` one), node ports of ports that stay,
/// the health check node port.
fn keep_allocated(service: &mut Service, old: &Service) {
    let (spec, old) = (&mut service.spec, &old.spec);
    if spec.cluster_ip.is_empty() && spec.cluster_ips.is_empty() && !spec.is_external_name() {
        spec.cluster_ip = old.cluster_ip.clone();
        spec.cluster_ips = old.cluster_ips.clone();
    }
    for port in spec.ports.iter_mut().filter(|port| port.node_port == 0) {
        if let Some(kept) =
            old.ports.iter().find(|candidate| candidate.port == port.port && candidate.protocol == port.protocol)
        {
            port.node_port = kept.node_port;
        }
    }
    if spec.health_check_node_port == 0 && spec.external_traffic_policy == old.external_traffic_policy {
        spec.health_check_node_port = old.health_check_node_port;
    }
}

/// Prepares a service for creation: the API server's defaults, no
/// generation, validation. The store sets uid, resourceVersion and
/// creationTimestamp when it creates the service.
pub fn prepare_new_service(service: &mut Service) -> StoreResult<()> {
    service.metadata.generation = 0;
    service.spec.apply_defaults();
    validate_service(service).map_err(|errors| invalid(SERVICE_KIND, &service.metadata, &errors))
}

/// Creates a service; fails when it exists.
pub fn create_service(tx: &Tx<'_>, service: Service) -> StoreResult<Service> {
    tx.create_with(service, &ServiceRules)
}

/// Creates a service without selector and, when `addresses` are given, its
/// Endpoints object (see [`Endpoints::for_service`]), in the caller's
/// transaction; fails when either exists, or when the service has a
/// selector and addresses too (its endpoints are its containers).
pub fn create_service_with_endpoints(
    tx: &Tx<'_>,
    service: Service,
    addresses: &[Endpoint],
) -> StoreResult<(Service, Option<Endpoints>)> {
    if !addresses.is_empty() && !service.spec.selector.is_empty() {
        return Err(StoreError::InvalidObject {
            kind: SERVICE_KIND.into(),
            name: format!("{}/{}", service.metadata.namespace, service.metadata.name),
            message: "a service with a selector takes its endpoints from its containers, not from fixed addresses"
                .into(),
            help: "give either the selector or the addresses".into(),
        });
    }
    let created = create_service(tx, service)?;
    if addresses.is_empty() {
        return Ok((created, None));
    }
    let endpoints = Endpoints::for_service(&created, addresses).map_err(|error| StoreError::InvalidObject {
        kind: ENDPOINTS_KIND.into(),
        name: format!("{}/{}", created.metadata.namespace, created.metadata.name),
        message: error.to_string(),
        help: "give the service a port for each address's port".into(),
    })?;
    let endpoints = create_endpoints(tx, endpoints)?;
    Ok((created, Some(endpoints)))
}

/// Replaces a stored service's spec, labels and annotations.
pub fn update_service(tx: &Tx<'_>, service: Service) -> StoreResult<(Service, WriteAction)> {
    let (namespace, name) = (service.metadata.namespace.clone(), service.metadata.name.clone());
    tx.update_with(service, &ServiceRules).map_err(|error| match error {
        StoreError::NotFound { .. } => service_not_found(&namespace, &name),
        other => other,
    })
}

/// Creates the service, or updates it when it exists.
pub fn apply_service(tx: &Tx<'_>, service: Service) -> StoreResult<(Service, WriteAction)> {
    tx.apply_with(service, &ServiceRules)
}

/// Deletes a service, and the Endpoints object of its name when there is
/// one (as a cluster's endpoints controller deletes it, whoever wrote it);
/// returns both as they were. Routes pointing at the service stay (they
/// answer 503).
pub fn delete_service(tx: &Tx<'_>, namespace: &str, name: &str) -> StoreResult<(Service, Option<Endpoints>)> {
    let service = tx.delete_as(namespace, name)?.ok_or_else(|| service_not_found(namespace, name))?;
    let endpoints = tx.delete_as::<Endpoints>(namespace, name)?;
    Ok((service, endpoints))
}

// ---------------------------------------------------------------------------
// Endpoints.

/// The API server's rules for Endpoints objects, as a store [`Strategy`]
/// (see [`validate_endpoints`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct EndpointsRules;

impl Strategy<Endpoints> for EndpointsRules {
    type Error = StoreError;

    fn prepare_create(&self, _: &Tx<'_>, endpoints: &mut Endpoints) -> StoreResult<()> {
        prepare_new_endpoints(endpoints)
    }

    fn prepare_update(&self, _: &Tx<'_>, endpoints: &mut Endpoints, old: &Endpoints) -> StoreResult<()> {
        endpoints.metadata.generation = 0;
        validate_endpoints_update(endpoints, old)
            .map_err(|errors| invalid(ENDPOINTS_KIND, &endpoints.metadata, &errors))
    }

    fn unchanged(&self, endpoints: &Endpoints, old: &Endpoints) -> bool {
        endpoints.subsets == old.subsets
            && endpoints.metadata.labels == old.metadata.labels
            && endpoints.metadata.annotations == old.metadata.annotations
    }
}

/// Prepares an Endpoints object for creation: no generation, validation.
pub fn prepare_new_endpoints(endpoints: &mut Endpoints) -> StoreResult<()> {
    endpoints.metadata.generation = 0;
    validate_endpoints(endpoints).map_err(|errors| invalid(ENDPOINTS_KIND, &endpoints.metadata, &errors))
}

/// An Endpoints object, if it exists.
pub fn get_endpoints(tx: &Tx<'_>, namespace: &str, name: &str) -> StoreResult<Option<Endpoints>> {
    tx.get_as(namespace, name)
}

/// The Endpoints objects of a namespace (every namespace when `None`), sorted by namespace and name.
pub fn list_endpoints(tx: &Tx<'_>, namespace: Option<&str>) -> StoreResult<Vec<Endpoints>> {
    tx.list_as(namespace)
}

/// Creates an Endpoints object; fails when it exists.
pub fn create_endpoints(tx: &Tx<'_>, endpoints: Endpoints) -> StoreResult<Endpoints> {
    tx.create_with(endpoints, &EndpointsRules)
}

/// Creates the Endpoints object, or updates it when it exists.
pub fn apply_endpoints(tx: &Tx<'_>, endpoints: Endpoints) -> StoreResult<(Endpoints, WriteAction)> {
    tx.apply_with(endpoints, &EndpointsRules)
}

/// Deletes an Endpoints object; returns it as it was. Its service stays
/// (without endpoints: routes to it answer 503).
pub fn delete_endpoints(tx: &Tx<'_>, namespace: &str, name: &str) -> StoreResult<Endpoints> {
    tx.delete_as(namespace, name)?.ok_or_else(|| endpoints_not_found(namespace, name))
}

/// The error for an Endpoints object that is not there.
pub fn endpoints_not_found(namespace: &str, name: &str) -> StoreError {
    StoreError::NotFound {
        kind: ENDPOINTS_KIND.into(),
        namespace: namespace.into(),
        name: name.into(),
        help: "a service without selector has the Endpoints object of its name; a service with one has its containers"
            .into(),
    }
}

/// The routes of the service's namespace that send traffic to it: one of
/// their backends names it.
pub fn routes_to_service(tx: &Tx<'_>, service: &Service) -> StoreResult<Vec<Route>> {
    let name = &service.metadata.name;
    Ok(list_routes(tx, Some(&service.metadata.namespace))?
        .into_iter()
        .filter(|route| route.backends().any(|backend| backend.name == *name))
        .collect())
}

/// The backends of `route` that name no service of the store.
pub fn missing_services(tx: &Tx<'_>, route: &Route) -> StoreResult<Vec<String>> {
    let mut missing = Vec::new();
    for backend in route.backends() {
        if tx.get(Service::KIND, &route.metadata.namespace, &backend.name)?.is_none()
            && !missing.contains(&backend.name)
        {
            missing.push(backend.name.clone());
        }
    }
    Ok(missing)
}
