#![doc = include_str!("../README.md")]
//!
//! ## The modules
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
//!   laid out as OpenShift's router does, and `router` (feature `router`) to
//!   run HAProxy on it;
//! - [`export`]: the same route for a cluster, as a Route, an Ingress or
//!   Gateway API objects, with a warning for each setting that cannot carry over;
//! - [`annotations`] and [`tls`]: the router's per-route settings and its
//!   checks of TLS material;
//! - `store` (feature `store`): routes and services in the object store of
//!   [`s2i_store`], with the API server's create, update and status rules;
//!   `containers` (feature `containers`): endpoints of selector services;
//!   `serve` (feature `serve`): a router that follows the store.
//!
//! Admission, rendering, matching and exports are functions of the routes and
//! services handed in (from the store, or built in code). Nothing prints: the
//! router reports through `router::RouterEvent`s.

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
