//! OpenShift Routes on a laptop: the `route.openshift.io/v1` model, the
//! router's admission rules, a real HAProxy router, and exports for clusters.
//!
//! A [`Route`] exposes a [`Service`] at a host name (and optionally a path),
//! over plain HTTP or TLS (edge, reencrypt, passthrough), splitting traffic
//! between up to four services by weight. This crate does what OpenShift's
//! API server and router do with routes, as plain functions over data:
//!
//! - [`validation`]: the API server's rules and messages, and defaulting on read;
//! - [`host`]: host generation (`<name>-<namespace>.<domain>`) and DNS rules;
//! - [`admission`]: which routes a router admits, oldest first, with the
//!   status conditions OpenShift writes;
//! - [`matching`]: which route serves a request (host or SNI, and path);
//! - [`haproxy`]: the router's configuration, map files and certificates,
//!   laid out as OpenShift's router does, and `router` to run HAProxy on it;
//! - [`export`]: the same route for a cluster, as a Route, an Ingress or
//!   Gateway API objects, with a warning for each setting that cannot carry over;
//! - `store`: routes and services in the object store of [`s2i_store`],
//!   with the API server's create, update and status rules; `serve`: a
//!   router that follows the store.
//!
//! Admission, rendering, matching and exports are functions of the routes and
//! services handed in (from the store, or built in code). Nothing prints: the
//! router reports through `router::RouterEvent`s.
//!
//! # Features
//!
//! The model, validation, admission, matching, HAProxy rendering and exports
//! need none: with `default-features = false` the crate depends on no
//! database, container engine or HTTP client. Each feature adds one meeting
//! point with the outside world:
//!
//! - `store` — the `store` module: routes and services kept in the
//!   embedded store of `s2i-store` (SQLite);
//! - `containers` — the `containers` module: endpoints of selector services
//!   from the running containers, through `s2i_core::ContainerRuntime`;
//! - `router` — the `router` module: HAProxy run on a rendered directory,
//!   reloaded when it changes;
//! - `serve` (needs the three above) — the `serve` module: a router that
//!   follows the store and the containers.
//!
//! All four are on by default.
//!
//! # Example
//!
//! Admit two routes that want the same host, and find which one serves a request:
//!
//! ```
//! use s2i_route::admission::{AdmissionConfig, admit};
//! use s2i_route::matching::{HttpOutcome, RouteTable};
//! use s2i_route::{ObjectMeta, Route, RouteSpec, RouteTargetReference};
//!
//! fn route(name: &str, created: &str, path: &str) -> Route {
//!     let mut metadata = ObjectMeta::named("shop", name);
//!     metadata.creation_timestamp = Some(created.parse().unwrap());
//!     metadata.uid = name.to_owned();
//!     let spec = RouteSpec {
//!         host: "www.example.com".into(),
//!         path: path.into(),
//!         to: RouteTargetReference::service(name, 100),
//!         ..Default::default()
//!     };
//!     Route::new(metadata, spec)
//! }
//!
//! let routes = [
//!     route("web", "2026-01-01T00:00:00Z", ""),
//!     route("api", "2026-01-02T00:00:00Z", "/api"),
//!     route("late", "2026-01-03T00:00:00Z", "/api"),
//! ];
//! let admission = admit(&routes, &AdmissionConfig::default(), "2026-02-01T00:00:00Z".parse().unwrap());
//! let late = admission.outcome(&routes[2].key()).unwrap();
//! assert_eq!(late.rejection.as_ref().unwrap().message, "route api already exposes www.example.com and is older");
//!
//! let table = RouteTable::new(&admission.admitted);
//! match table.http("www.example.com", "/api/v1/items") {
//!     HttpOutcome::Serve(entry) => assert_eq!(entry.key.name, "api"),
//!     other => panic!("{other:?}"),
//! }
//! ```

pub mod admission;
pub mod annotations;
#[cfg(feature = "containers")]
pub mod containers;
pub mod endpoints;
pub mod error;
pub mod export;
pub mod haproxy;
pub mod host;
pub mod matching;
pub mod route;
#[cfg(feature = "router")]
pub mod router;
#[cfg(feature = "serve")]
pub mod serve;
pub mod service;
#[cfg(feature = "store")]
pub mod store;
pub mod tls;
pub mod validation;

pub use endpoints::Endpoints;
pub use error::{Error, Result};
pub use route::{
    InsecureEdgeTerminationPolicy, Route, RoutePort, RouteSpec, RouteStatus, RouteTargetReference, TargetPort,
    TlsConfig, TlsTermination, WildcardPolicy,
};
pub use s2i_store::{ObjectKey, ObjectMeta};
pub use service::{Endpoint, Service, ServiceEndpoints, ServicePort, ServiceSpec};
