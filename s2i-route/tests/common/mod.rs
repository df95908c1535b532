//! Route builders shared by the table tests.

#![allow(dead_code, unreachable_pub)]

use jiff::Timestamp;
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
