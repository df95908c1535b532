//! Route builders shared by the table tests.

#![allow(dead_code, unreachable_pub)]

use jiff::Timestamp;
use s2i_route::endpoints::{EndpointAddress, EndpointPort, EndpointSubset};
use s2i_route::*;

/// `namespace/name` created at `minute` past midnight of 2026-01-01, uid
/// `uid-<name>`, to service `svc`.
pub fn route_at(namespace: &str, name: &str, minute: u32, host: &str, path: &str) -> Route {
    let mut metadata = ObjectMeta::named(namespace, name);
    metadata.uid = format!("uid-{name}");
    metadata.creation_timestamp = Some(format!("2026-01-01T00:{minute:02}:00Z").parse().unwrap());
    let spec = RouteSpec {
        host: host.into(),
        path: path.into(),
        to: RouteTargetReference::service("svc", 100),
        ..Default::default()
    };
    Route::new(metadata, spec)
}

/// The route with TLS of a termination and plain-HTTP policy.
pub fn with_tls(mut route: Route, termination: TlsTermination, policy: Option<InsecureEdgeTerminationPolicy>) -> Route {
    let mut config = TlsConfig::new(termination);
    config.insecure_edge_termination_policy = policy;
    route.spec.tls = Some(config);
    route
}

/// The route as a wildcard route.
pub fn wildcard(mut route: Route) -> Route {
    route.spec.wildcard_policy = WildcardPolicy::Subdomain;
    route
}

/// The route with annotations added.
pub fn annotate(mut route: Route, pairs: &[(&str, &str)]) -> Route {
    for (key, value) in pairs {
        route.metadata.annotations.insert((*key).into(), (*value).into());
    }
    route
}

/// "Now" for admission in the tables.
pub fn now() -> Timestamp {
    "2026-02-01T00:00:00Z".parse().unwrap()
}

/// Fails (never skips) without HAProxy.
pub fn require_haproxy() {
    let ok = std::process::Command::new("haproxy").arg("-v").output().is_ok_and(|out| out.status.success());
    assert!(ok, "HAProxy is needed: install it with `sudo apt-get install haproxy` (or `cargo xtask packages`)");
}

/// The Endpoints object `namespace/name` with `(ip, port name, port)`
/// addresses: one subset per named port, in the order given.
pub fn endpoints(namespace: &str, name: &str, addresses: &[(&str, &str, i32)]) -> Endpoints {
    let mut subsets: Vec<EndpointSubset> = Vec::new();
    for (ip, port_name, port) in addresses {
        let port = EndpointPort { name: (*port_name).into(), port: *port, protocol: "TCP".into(), app_protocol: None };
        let address = EndpointAddress { ip: (*ip).into(), ..Default::default() };
        match subsets.iter_mut().find(|subset| subset.ports == [port.clone()]) {
            Some(subset) => subset.addresses.push(address),
            None => subsets.push(EndpointSubset { addresses: vec![address], ports: vec![port], ..Default::default() }),
        }
    }
    Endpoints::new(ObjectMeta::named(namespace, name), subsets)
}

/// A service without selector with one port for each port number of
/// `addresses` (`IP:PORT`), and its Endpoints object, as `s2i service
/// create NAME --endpoint IP:PORT…` makes them.
pub fn fixed_service(namespace: &str, name: &str, addresses: &[&str]) -> (Service, Endpoints) {
    let addresses: Vec<Endpoint> = addresses.iter().map(|text| text.parse().unwrap()).collect();
    let numbers: std::collections::BTreeSet<u16> = addresses.iter().map(|address| address.port).collect();
    let spec = ServiceSpec { ports: ServicePort::for_numbers(numbers), ..Default::default() };
    let service = Service::new(ObjectMeta::named(namespace, name), spec);
    let endpoints = Endpoints::for_service(&service, &addresses).unwrap();
    (service, endpoints)
}
