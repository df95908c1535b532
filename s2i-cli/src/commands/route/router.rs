//! This machine's router as commands that change routes or run it see it:
//! the domain of generated hosts, how routes are admitted, the listeners'
//! ports, and the warnings a changed route gets.

use s2i_route::Route;
use s2i_route::admission::{Admission, AdmissionConfig};
use s2i_route::haproxy::RouterConfig;
use s2i_route::host;
use s2i_route::validation::route_warnings;

use crate::cli::RouterPorts;
use crate::failure::Failure;

/// The domain generated hosts end in: `$S2I_ROUTE_DOMAIN`, else `apps.localhost`.
pub(super) fn route_domain() -> Result<String, s2i_route::Error> {
    host::router_domain_from_env()
}

/// How routes are admitted when they change: the router `default` of this
/// machine, with the router's defaults and the domain of `$S2I_ROUTE_DOMAIN`.
pub(super) fn admission_config() -> Result<AdmissionConfig, s2i_route::Error> {
    let mut config = AdmissionConfig::default();
    config.router_domain = route_domain()?;
    Ok(config)
}

/// How a router that `s2i route serve` runs or `s2i route render` writes
/// admits routes: under `domain`, wildcard routes when the flag says so.
pub(super) fn router_admission(domain: String, ports: &RouterPorts) -> AdmissionConfig {
    let mut config = AdmissionConfig::default();
    config.router_domain = domain;
    config.allow_wildcard_routes = ports.allow_wildcard_routes;
    config
}

/// Warnings about a route as stored: ineffective settings, services that do
/// not exist, and whether the router admitted it.
pub(super) fn warn_about(route: &Route, admission: &Admission, missing: &[String]) {
    let key = route.key();
    for warning in route_warnings(route) {
        eprintln!("warning: route {key}: {warning}");
    }
    for service in missing {
        eprintln!(
            "warning: route {key} points at service {service:?}, which does not exist: it answers 503 until you create it (s2i service create {service} --endpoint HOST:PORT)"
        );
    }
    if let Some(rejection) = admission.outcome(&key).and_then(|outcome| outcome.rejection.as_ref()) {
        eprintln!("warning: route {key} is not admitted: {}: {}", rejection.reason, rejection.message);
    }
}

/// The three listeners need three ports.
pub(super) fn check_ports(ports: &RouterPorts) -> Result<(), Failure> {
    let (http, https, stats) = (ports.http_port, ports.https_port, ports.stats_port);
    if http == https || http == stats || https == stats {
        return Err(Failure::message(
            format!("--http-port {http}, --https-port {https} and --stats-port {stats} must be three different ports"),
            "give each listener a port of its own".into(),
        ));
    }
    Ok(())
}

pub(super) fn router_config(ports: &RouterPorts, default_certificate: String) -> RouterConfig {
    let mut config = RouterConfig::new(default_certificate);
    config.http_port = ports.http_port;
    config.https_port = ports.https_port;
    config.stats_port = Some(ports.stats_port);
    config
}
