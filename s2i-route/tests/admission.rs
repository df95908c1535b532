//! Table tests of router admission (docs/compatibility.md#router-admission).

mod common;

use common::{now, wildcard};
use jiff::Timestamp;
use s2i_route::admission::{AdmissionConfig, NamespaceOwnership, RejectionReason, admit};
use s2i_route::route::{ConditionStatus, LocalObjectReference};
use s2i_route::*;

fn r(namespace: &str, name: &str, minute: u32, host: &str, path: &str) -> Route {
    common::route_at(namespace, name, minute, host, path)
}

fn tls(route: Route, termination: TlsTermination) -> Route {
    common::with_tls(route, termination, None)
}

/// `name: ok` or `name: Reason: message`, in the order of `routes`.
fn decide(routes: &[Route], config: &AdmissionConfig) -> Vec<String> {
    let admission = admit(routes, config, now());
    routes
        .iter()
        .map(|route| {
            let outcome = admission.outcome(&route.key()).unwrap();
            match &outcome.rejection {
                None => format!("{}: ok", route.metadata.name),
                Some(rejection) => format!("{}: {}: {}", route.metadata.name, rejection.reason, rejection.message),
            }
        })
        .collect()
}

fn wildcards_allowed() -> AdmissionConfig {
    let mut config = AdmissionConfig::default();
    config.allow_wildcard_routes = true;
    config
}

#[test]
fn host_claims_table() {
    let strict = AdmissionConfig::default();
    let mut shared = AdmissionConfig::default();
    shared.namespace_ownership = NamespaceOwnership::InterNamespaceAllowed;
    // (case, config, routes, decisions)
    let table: Vec<(&str, &AdmissionConfig, Vec<Route>, Vec<&str>)> = vec![
        (
            "oldest wins the same host and path",
            &strict,
            vec![r("a", "new", 5, "h.test", ""), r("a", "old", 1, "h.test", "")],
            vec!["new: HostAlreadyClaimed: route old already exposes h.test and is older", "old: ok"],
        ),
        (
            "a tie in time is broken by uid",
            &strict,
            vec![r("a", "zz", 1, "h.test", ""), r("a", "aa", 1, "h.test", "")],
            vec!["zz: HostAlreadyClaimed: route aa already exposes h.test and is older", "aa: ok"],
        ),
        (
            "one namespace shares a host on different paths",
            &strict,
            vec![
                r("a", "root", 1, "h.test", ""),
                r("a", "api", 2, "h.test", "/api"),
                r("a", "api2", 3, "h.test", "/api/v2"),
            ],
            vec!["root: ok", "api: ok", "api2: ok"],
        ),
        (
            "strict: another namespace may not use the host, even on another path",
            &strict,
            vec![r("a", "root", 1, "h.test", ""), r("b", "api", 2, "h.test", "/api")],
            vec![
                "root: ok",
                "api: HostAlreadyClaimed: a route in another namespace holds h.test and is older than api",
            ],
        ),
        (
            "strict: the owner is the namespace of the oldest route",
            &strict,
            vec![r("b", "api", 2, "h.test", "/api"), r("a", "root", 1, "h.test", ""), r("a", "x", 3, "h.test", "/x")],
            vec![
                "api: HostAlreadyClaimed: a route in another namespace holds h.test and is older than api",
                "root: ok",
                "x: ok",
            ],
        ),
        (
            "inter-namespace: other namespaces share the host on other paths",
            &shared,
            vec![
                r("a", "root", 1, "h.test", ""),
                r("b", "api", 2, "h.test", "/api"),
                r("c", "dup", 3, "h.test", "/api"),
            ],
            vec![
                "root: ok",
                "api: ok",
                "dup: HostAlreadyClaimed: a route in another namespace holds h.test and is older than dup",
            ],
        ),
        (
            "passthrough owns the whole host against newer TLS routes",
            &strict,
            vec![
                tls(r("a", "pt", 1, "h.test", ""), TlsTermination::Passthrough),
                tls(r("a", "edge", 2, "h.test", "/x"), TlsTermination::Edge),
            ],
            vec!["pt: ok", "edge: HostAlreadyClaimed: route pt already exposes h.test and is older"],
        ),
        (
            "passthrough owns the whole host against older TLS routes too",
            &strict,
            vec![
                tls(r("a", "edge", 1, "h.test", "/x"), TlsTermination::Edge),
                tls(r("a", "pt", 2, "h.test", ""), TlsTermination::Passthrough),
            ],
            vec!["edge: ok", "pt: HostAlreadyClaimed: route edge already exposes h.test and is older"],
        ),
        (
            "a plain route coexists with passthrough on another path",
            &strict,
            vec![tls(r("a", "pt", 1, "h.test", ""), TlsTermination::Passthrough), r("a", "plain", 2, "h.test", "/x")],
            vec!["pt: ok", "plain: ok"],
        ),
        (
            "a plain route on the passthrough route's path conflicts",
            &strict,
            vec![tls(r("a", "pt", 1, "h.test", ""), TlsTermination::Passthrough), r("a", "plain", 2, "h.test", "")],
            vec!["pt: ok", "plain: HostAlreadyClaimed: route pt already exposes h.test and is older"],
        ),
        (
            "no host",
            &strict,
            vec![r("a", "none", 1, "", "")],
            vec!["none: NoHostValue: no host value was defined for the route"],
        ),
        (
            "subdomain routes are served under the router domain",
            &strict,
            vec![
                {
                    let mut route = r("a", "sub", 1, "", "");
                    route.spec.subdomain = "frontend".into();
                    route
                },
                r("a", "same", 2, "frontend.apps.localhost", ""),
            ],
            vec!["sub: ok", "same: HostAlreadyClaimed: route sub already exposes frontend.apps.localhost and is older"],
        ),
        (
            "a generated host with a first label over 63 characters is invalid at the router",
            &strict,
            vec![{
                let mut route = r("a", "x", 1, "", "");
                route.spec.host = format!("{}.apps.localhost", "l".repeat(64));
                route
                    .metadata
                    .annotations
                    .insert("route.openshift.io/allow-non-dns-compliant-host".into(), "true".into());
                route
            }],
            vec![
                "x: InvalidHost: host name validation errors: spec.host: Invalid value: \"llllllllllllllllllllllllllllllllllllllllllllllllllllllllllllllll.apps.localhost\": must be no more than 63 characters",
            ],
        ),
        (
            "wildcard routes are refused unless allowed",
            &strict,
            vec![wildcard(r("a", "w", 1, "www.acme.test", ""))],
            vec!["w: RouteNotAdmitted: wildcard routes are not allowed"],
        ),
        (
            "an invalid route is not admitted",
            &strict,
            vec![r("a", "bad", 1, "h.test", "nopath")],
            vec![
                "bad: RouteNotAdmitted: the route is invalid: spec.path: Invalid value: \"nopath\": path must begin with /",
            ],
        ),
        (
            "external certificates cannot be read",
            &strict,
            vec![{
                let mut route = tls(r("a", "ext", 1, "h.test", ""), TlsTermination::Edge);
                route.spec.tls.as_mut().unwrap().external_certificate =
                    Some(LocalObjectReference { name: "tls".into() });
                route
            }],
            vec![
                "ext: ExternalCertificateGetFailed: secret \"tls\" cannot be read: s2i keeps no secrets; put the certificate and key in spec.tls instead",
            ],
        ),
    ];
    for (case, config, routes, expected) in table {
        assert_eq!(decide(&routes, config), expected, "{case}");
    }
}

#[test]
fn wildcard_claims_table() {
    let allowed = wildcards_allowed();
    let mut shared = wildcards_allowed();
    shared.namespace_ownership = NamespaceOwnership::InterNamespaceAllowed;
    let table: Vec<(&str, &AdmissionConfig, Vec<Route>, Vec<&str>)> = vec![
        (
            "a wildcard and a specific host of one namespace coexist",
            &allowed,
            vec![wildcard(r("a", "w", 1, "www.acme.test", "")), r("a", "api", 2, "api.acme.test", "")],
            vec!["w: ok", "api: ok"],
        ),
        (
            "an older wildcard blocks a host of another namespace",
            &allowed,
            vec![wildcard(r("a", "w", 1, "www.acme.test", "")), r("b", "api", 2, "api.acme.test", "")],
            vec!["w: ok", "api: HostAlreadyClaimed: a route in another namespace holds host api.acme.test"],
        ),
        (
            "an older host blocks a wildcard of another namespace",
            &allowed,
            vec![r("b", "api", 1, "api.acme.test", ""), wildcard(r("a", "w", 2, "www.acme.test", ""))],
            vec!["api: ok", "w: HostAlreadyClaimed: a route in another namespace holds host www.acme.test"],
        ),
        (
            "in one namespace the blocking route is named",
            &allowed,
            vec![wildcard(r("a", "w1", 1, "www.acme.test", "")), wildcard(r("a", "w2", 2, "ftp.acme.test", ""))],
            vec!["w1: ok", "w2: HostAlreadyClaimed: wildcard route a/w1 has host *.acme.test, blocking ftp.acme.test"],
        ),
        (
            "two wildcards of one namespace on different paths coexist",
            &allowed,
            vec![wildcard(r("a", "w1", 1, "www.acme.test", "/a")), wildcard(r("a", "w2", 2, "ftp.acme.test", "/b"))],
            vec!["w1: ok", "w2: ok"],
        ),
        (
            "a wildcard and a specific route with the same host and path conflict",
            &allowed,
            vec![wildcard(r("a", "w", 1, "www.acme.test", "")), r("a", "www", 2, "www.acme.test", "")],
            vec!["w: ok", "www: HostAlreadyClaimed: route w already exposes www.acme.test and is older"],
        ),
        (
            "with inter-namespace ownership only paths count",
            &shared,
            vec![
                wildcard(r("a", "w", 1, "www.acme.test", "")),
                r("b", "api", 2, "api.acme.test", ""),
                wildcard(r("c", "w2", 3, "x.acme.test", "")),
            ],
            vec!["w: ok", "api: ok", "w2: HostAlreadyClaimed: a route in another namespace holds host x.acme.test"],
        ),
        (
            "a wildcard covers one label only: other domains are free",
            &allowed,
            vec![
                wildcard(r("a", "w", 1, "www.acme.test", "")),
                r("b", "deep", 2, "a.b.acme.test", ""),
                r("b", "apex", 3, "acme.test", ""),
            ],
            vec!["w: ok", "deep: ok", "apex: ok"],
        ),
    ];
    for (case, config, routes, expected) in table {
        assert_eq!(decide(&routes, config), expected, "{case}");
    }
}

#[test]
fn domain_lists() {
    let mut config = AdmissionConfig::default();
    config.denied_domains = vec!["private.test".into()];
    config.allowed_domains = vec!["test".into()];
    let routes = [
        r("a", "ok", 1, "www.shop.test", ""),
        r("a", "denied", 2, "db.private.test", ""),
        r("a", "outside", 3, "www.example.com", ""),
    ];
    assert_eq!(
        decide(&routes, &config),
        [
            "ok: ok",
            "denied: RouteNotAdmitted: host db.private.test is in a denied domain",
            "outside: RouteNotAdmitted: host www.example.com is not in an allowed domain",
        ]
    );
}

#[test]
fn the_result_does_not_depend_on_the_order_routes_come_in() {
    let mut routes = vec![
        r("a", "r1", 3, "h.test", ""),
        r("b", "r2", 1, "h.test", "/x"),
        r("a", "r3", 2, "h.test", "/y"),
        r("b", "r4", 4, "h.test", "/z"),
        tls(r("c", "r5", 0, "p.test", ""), TlsTermination::Passthrough),
        tls(r("c", "r6", 7, "p.test", "/q"), TlsTermination::Edge),
        r("d", "r7", 7, "q.test", ""),
        r("d", "r8", 7, "q.test", ""),
    ];
    let first = admit(&routes, &AdmissionConfig::default(), now());
    for rotation in 1..routes.len() {
        routes.rotate_left(1);
        let again = admit(&routes, &AdmissionConfig::default(), now());
        assert_eq!(again.outcomes, first.outcomes, "rotation {rotation}");
        assert_eq!(again.admitted, first.admitted);
    }
    routes.reverse();
    assert_eq!(admit(&routes, &AdmissionConfig::default(), now()).outcomes, first.outcomes);
    let admitted: Vec<&str> = first.admitted.iter().map(|a| a.route.metadata.name.as_str()).collect();
    assert_eq!(admitted, ["r2", "r4", "r5", "r7"], "sorted by key");
}

#[test]
fn a_previously_admitted_route_displaced_by_an_older_one_says_so() {
    let mut current = r("a", "current", 5, "h.test", "");
    let config = AdmissionConfig::default();
    let admission = admit(std::slice::from_ref(&current), &config, now());
    assert!(admission.write_status(&mut current, now()));
    let older = r("a", "older", 1, "h.test", "");
    assert_eq!(
        decide(&[current, older], &config),
        ["current: HostAlreadyClaimed: replaced by older route older", "older: ok",]
    );
}

#[test]
fn status_is_written_per_router_and_keeps_the_transition_time() {
    let mut route = r("a", "web", 1, "h.test", "");
    route.status.ingress.push(s2i_route::route::RouteIngress { router_name: "other".into(), ..Default::default() });
    let mut config = AdmissionConfig::default();
    config.canonical_hostname = "router.laptop".into();
    let t1: Timestamp = "2026-02-01T00:00:00Z".parse().unwrap();
    let t2: Timestamp = "2026-02-02T00:00:00Z".parse().unwrap();
    let admission = admit(std::slice::from_ref(&route), &config, t1);
    assert!(admission.write_status(&mut route, t1));
    let ingress = route.status.for_router("default").unwrap().clone();
    assert_eq!(route.status.ingress.len(), 2, "the other router's entry stays");
    assert_eq!(ingress.host, "h.test");
    assert_eq!(ingress.router_canonical_hostname, "router.laptop");
    let condition = ingress.condition("Admitted").unwrap();
    assert_eq!((condition.status, condition.last_transition_time), (ConditionStatus::True, Some(t1)));

    // Nothing changed: nothing is written, the time stays.
    let admission = admit(std::slice::from_ref(&route), &config, t2);
    assert!(!admission.write_status(&mut route, t2));
    assert_eq!(
        route.status.for_router("default").unwrap().condition("Admitted").unwrap().last_transition_time,
        Some(t1)
    );

    // A conflict: False with the reason, a new transition time.
    let older = r("a", "older", 0, "h.test", "");
    let admission = admit(&[route.clone(), older], &config, t2);
    assert!(admission.write_status(&mut route, t2));
    let condition = route.status.for_router("default").unwrap().condition("Admitted").unwrap().clone();
    assert_eq!(condition.status, ConditionStatus::False);
    assert_eq!(condition.reason, RejectionReason::HostAlreadyClaimed.as_str());
    assert_eq!(condition.message, "replaced by older route older");
    assert_eq!(condition.last_transition_time, Some(t2));
    let yaml = serde_norway::to_string(&route.status).unwrap();
    assert!(yaml.contains("reason: HostAlreadyClaimed"), "{yaml}");
}

#[test]
fn extended_validation_refuses_bad_certificates_and_keeps_the_claim() {
    let mut bad = tls(r("a", "bad", 1, "h.test", ""), TlsTermination::Edge);
    bad.spec.tls.as_mut().unwrap().certificate =
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n".into();
    bad.spec.tls.as_mut().unwrap().key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".into();
    let later = r("a", "later", 2, "h.test", "");
    let decisions = decide(&[bad, later], &AdmissionConfig::default());
    assert!(decisions[0].starts_with("bad: ExtendedValidationFailed: spec.tls.certificate: Invalid value: \"redacted certificate data\": a CERTIFICATE block is not an X.509 certificate"), "{decisions:?}");
    assert_eq!(decisions[1], "later: HostAlreadyClaimed: route bad already exposes h.test and is older");
}

#[test]
fn admitted_routes_carry_their_settings() {
    let mut route = r("a", "web", 1, "h.test", "");
    route.metadata.annotations.insert("haproxy.router.openshift.io/balance".into(), "leastconn".into());
    let admission = admit(&[route], &AdmissionConfig::default(), now());
    let admitted = &admission.admitted[0];
    assert_eq!(admitted.host, "h.test");
    assert_eq!(admitted.annotations.balance, Some(s2i_route::annotations::Balance::LeastConn));
    assert!(admitted.tls.is_none());
}
