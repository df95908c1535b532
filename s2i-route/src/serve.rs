//! A router for the routes of a store: [`StoreRouter`] keeps a [`Router`]
//! (HAProxy) serving what the store holds, as OpenShift's router follows the
//! API server.
//!
//! Each [`StoreRouter::sync`] is one cheap poll: the store's revision (one
//! counter; any write moves it: routes, services, Endpoints objects) and,
//! for services with a selector, the running containers that carry its
//! labels. When either changed (or HAProxy
//! exited), the routes are admitted, rendered and HAProxy reloaded if the
//! files changed ([`Router::reconcile`]), and the routes whose `Admitted`
//! condition changed get a status write ([`store::write_admission`]). A
//! caller calls `sync` on a timer; that is the whole router loop.

use jiff::Timestamp;
use s2i_core::runtime::ContainerRuntime;
use s2i_store::Store;

use crate::containers::service_endpoints;
use crate::endpoints::Endpoints;
use crate::error::Error;
use crate::route::Route;
use crate::router::{Reconciled, Router};
use crate::service::{ResolvedEndpoint, Service, ServiceEndpoints, fixed_endpoints};
use crate::store::{self, list_endpoints, list_routes, list_services};
use s2i_store::ObjectKey;

/// Why a [`StoreRouter::sync`] reconciled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncReason {
    /// The first sync.
    Start,
    /// Routes or services changed in the store.
    StoreChanged,
    /// The endpoints of a service changed (containers started or stopped).
    EndpointsChanged,
    /// HAProxy was not running.
    NotRunning,
}

/// What one [`StoreRouter::sync`] that reconciled did.
#[derive(Debug, Clone)]
pub struct Synced {
    /// Why it reconciled.
    pub reason: SyncReason,
    /// The admission, the render's warnings, and what happened to HAProxy.
    pub reconciled: Reconciled,
    /// How many routes got a new status.
    pub statuses_written: usize,
}

/// A [`Router`] fed from a store; see the [module docs](self).
#[derive(Debug)]
pub struct StoreRouter {
    router: Router,
    seen_revision: Option<u64>,
    routes: Vec<Route>,
    services: Vec<Service>,
    endpoints_objects: Vec<Endpoints>,
    endpoints: Option<ServiceEndpoints>,
    endpoint_warnings: Vec<String>,
}

impl StoreRouter {
    /// Serves the store's routes with `router` (not running yet: the first
    /// [`sync`](Self::sync) starts HAProxy).
    pub fn new(router: Router) -> Self {
        StoreRouter {
            router,
            seen_revision: None,
            routes: Vec::new(),
            services: Vec::new(),
            endpoints_objects: Vec::new(),
            endpoints: None,
            endpoint_warnings: Vec::new(),
        }
    }

    /// The router.
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The routes as last read from the store.
    pub fn routes(&self) -> &[Route] {
        &self.routes
    }

    /// The endpoints as last resolved.
    pub fn endpoints(&self) -> Option<&ServiceEndpoints> {
        self.endpoints.as_ref()
    }

    /// What the last endpoint resolution could not do (an engine that did
    /// not answer; its services keep the endpoints they had).
    pub fn endpoint_warnings(&self) -> &[String] {
        &self.endpoint_warnings
    }

    /// Stops HAProxy.
    pub fn stop(&mut self) {
        self.router.stop();
    }

    /// One poll; `Ok(None)` when nothing changed. Selector services need
    /// `runtime`; without one they have no endpoints. On an error the
    /// previous configuration stays in effect, and the same inputs are not
    /// tried again until something changes (or HAProxy is not running).
    pub async fn sync(
        &mut self,
        store: &Store,
        runtime: Option<&dyn ContainerRuntime>,
    ) -> Result<Option<Synced>, Error> {
        let first = self.seen_revision.is_none();
        if first {
            // Documents of older versions first, so that they read as this one's.
            store::migrate(store)?;
        }
        let revision = store.read(|tx| tx.revision())?;
        let store_changed = self.seen_revision != Some(revision);
        if store_changed {
            let (routes, services, endpoints_objects, revision) = store.read(|tx| {
                Ok::<_, s2i_store::Error>((
                    list_routes(tx, None)?,
                    list_services(tx, None)?,
                    list_endpoints(tx, None)?,
                    tx.revision()?,
                ))
            })?;
            self.routes = routes;
            self.services = services;
            self.endpoints_objects = endpoints_objects;
            self.seen_revision = Some(revision);
        }
        let endpoints = self.resolve(runtime).await;
        let endpoints_changed = self.endpoints.as_ref() != Some(&endpoints);
        let running = self.router.is_running();
        let reason = match () {
            _ if first => SyncReason::Start,
            _ if store_changed => SyncReason::StoreChanged,
            _ if endpoints_changed => SyncReason::EndpointsChanged,
            _ if !running => SyncReason::NotRunning,
            _ => return Ok(None),
        };
        self.endpoints = Some(endpoints.clone());
        let now = Timestamp::now();
        let reconciled = self.router.reconcile(&self.routes, &endpoints, now)?;
        let statuses_written =
            store.write(|tx| store::write_admission(tx, &self.routes, &reconciled.admission, now))?;
        Ok(Some(Synced { reason, reconciled, statuses_written }))
    }

    /// The endpoints of every service: without selector from its Endpoints
    /// object, with one from the running containers. A service whose containers cannot be listed
    /// keeps its previous endpoints (and a warning says why).
    async fn resolve(&mut self, runtime: Option<&dyn ContainerRuntime>) -> ServiceEndpoints {
        let mut resolved = ServiceEndpoints::default();
        let mut warnings = Vec::new();
        for service in &self.services {
            let key = service.key();
            let found = match runtime {
                Some(runtime) => {
                    service_endpoints(service, &self.endpoints_objects, runtime).await.map_err(|e| e.to_string())
                }
                None if service.spec.selector.is_empty() => Ok(fixed_endpoints(service, &self.endpoints_objects)),
                None => Err(format!("cannot find the containers of service {key}: no container engine is reachable")),
            };
            match found {
                Ok(endpoints) => resolved.insert(key, endpoints),
                Err(why) => {
                    warnings.push(why);
                    resolved.insert(key.clone(), self.previous_endpoints(&key));
                }
            }
        }
        self.endpoint_warnings = warnings;
        resolved
    }

    fn previous_endpoints(&self, key: &ObjectKey) -> Vec<ResolvedEndpoint> {
        self.endpoints.as_ref().and_then(|all| all.services.get(key)).cloned().unwrap_or_default()
    }
}
