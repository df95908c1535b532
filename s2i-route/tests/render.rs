//! The rendered router: layout, determinism, backends for every setting,
//! endpoint weights, and HAProxy's own check of the result.

use std::collections::BTreeMap;
use std::process::Command;

mod common;

use common::{annotate, now, require_haproxy};
use s2i_route::admission::{AdmissionConfig, AdmittedRoute, admit};
use s2i_route::haproxy::{RenderedConfig, RouterConfig, endpoint_weights, render};
use s2i_route::route::{RouteHttpHeader, RouteHttpHeaderAction, RouteHttpHeaderActions, RouteHttpHeaders};
use s2i_route::service::{EndpointSource, ResolvedEndpoint};
use s2i_route::*;

/// `haproxy -c` from the directory itself, and from another working directory.
fn haproxy_check(dir: &std::path::Path) {
    require_haproxy();
    let elsewhere = tempfile::tempdir().unwrap();
    let config = dir.join("haproxy.cfg");
    for (cwd, file) in [(dir, std::path::Path::new("haproxy.cfg")), (elsewhere.path(), config.as_path())] {
        let out = Command::new("haproxy").arg("-c").arg("-f").arg(file).current_dir(cwd).output().unwrap();
        assert!(
            out.status.success(),
            "haproxy -c refused the configuration from {}:\n{}{}",
            cwd.display(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn r(name: &str, host: &str) -> Route {
    let mut route = common::route_at("shop", name, 0, host, "");
    route.spec.to.name = "web".into();
    route
}

/// (certificate, key, CA) for `host`, from a fresh CA.
fn certificate(host: &str) -> (String, String, String) {
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name.push(rcgen::DnType::CommonName, "render test CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca_pem = ca_params.self_signed(&ca_key).unwrap().pem();
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![host.to_owned()]).unwrap().signed_by(&key, &issuer).unwrap();
    (cert.pem(), key.serialize_pem(), ca_pem)
}

fn services() -> Vec<Service> {
    let service = |name: &str| {
        Service::new(
            ObjectMeta::named("shop", name),
            ServiceSpec { ports: vec![ServicePort::new("http", 80, Some(8080))], ..Default::default() },
        )
    };
    vec![service("web"), service("api")]
}

/// The Endpoints objects of the services: api's second address listens on
/// a port that no service port names.
fn endpoints() -> Vec<Endpoints> {
    vec![
        common::endpoints("shop", "web", &[("10.0.0.1", "http", 8080), ("10.0.0.2", "http", 8080)]),
        common::endpoints("shop", "api", &[("10.0.1.1", "http", 8080), ("10.0.1.2", "", 9090)]),
    ]
}

/// One route of each kind, with every annotation somewhere.
fn every_feature() -> (Vec<Route>, Vec<Service>) {
    let (cert, key, ca) = certificate("secure.example.com");
    let mut edge = annotate(
        r("edge", "secure.example.com"),
        &[
            ("haproxy.router.openshift.io/hsts_header", "max-age=31536000;includeSubDomains;preload"),
            ("router.openshift.io/cookie_name", "session"),
            ("router.openshift.io/cookie-same-site", "Strict"),
            ("haproxy.router.openshift.io/timeout", "60s"),
            ("haproxy.router.openshift.io/timeout-tunnel", "2h"),
        ],
    );
    let mut edge_tls = TlsConfig::new(TlsTermination::Edge);
    edge_tls.certificate = cert;
    edge_tls.key = key;
    edge_tls.ca_certificate = ca.clone();
    edge_tls.insecure_edge_termination_policy = Some(InsecureEdgeTerminationPolicy::Redirect);
    edge.spec.tls = Some(edge_tls);
    edge.spec.http_headers = Some(RouteHttpHeaders {
        actions: RouteHttpHeaderActions {
            request: vec![RouteHttpHeader {
                name: "X-Client-Cert".into(),
                action: RouteHttpHeaderAction::set("%{+Q}[ssl_c_der,base64]"),
            }],
            response: vec![
                RouteHttpHeader { name: "X-Powered-By".into(), action: RouteHttpHeaderAction::delete() },
                RouteHttpHeader { name: "X-Note".into(), action: RouteHttpHeaderAction::set("it's fine") },
            ],
        },
    });

    let mut reencrypt =
        annotate(r("secure-api", "api.example.com"), &[("haproxy.router.openshift.io/balance", "leastconn")]);
    let mut re_tls = TlsConfig::new(TlsTermination::Reencrypt);
    re_tls.destination_ca_certificate = ca;
    re_tls.insecure_edge_termination_policy = Some(InsecureEdgeTerminationPolicy::Allow);
    reencrypt.spec.tls = Some(re_tls);
    reencrypt.spec.path = "/v1".into();
    reencrypt.spec.to = RouteTargetReference::service("api", 100);

    let mut passthrough = annotate(
        r("db", "db.example.com"),
        &[
            ("haproxy.router.openshift.io/timeout", "10m"),
            ("haproxy.router.openshift.io/rate-limit-connections", "true"),
            ("haproxy.router.openshift.io/rate-limit-connections.concurrent-tcp", "10"),
            ("haproxy.router.openshift.io/rate-limit-connections.rate-http", "100"),
        ],
    );
    passthrough.spec.tls = Some(TlsConfig::new(TlsTermination::Passthrough));

    let allowlist: Vec<String> = (0..70).map(|i| format!("10.1.{i}.0/24")).collect();
    let mut ab = annotate(
        r("ab", "www.example.com"),
        &[
            ("haproxy.router.openshift.io/ip_allowlist", &allowlist.join(" ")),
            ("haproxy.router.openshift.io/rewrite-target", "/"),
            ("haproxy.router.openshift.io/set-forwarded-headers", "replace"),
            ("router.openshift.io/haproxy.health.check.interval", "2s"),
            ("haproxy.router.openshift.io/pod-concurrent-connections", "50"),
            ("haproxy.router.openshift.io/rate-limit-connections", "true"),
            ("haproxy.router.openshift.io/rate-limit-connections.rate-tcp", "20"),
            ("haproxy.router.openshift.io/rate-limit-connections.rate-http", "30"),
        ],
    );
    ab.spec.path = "/shop".into();
    ab.spec.to.weight = 75;
    ab.spec.alternate_backends = vec![RouteTargetReference::service("api", 25)];
    ab.spec.port = Some(RoutePort { target_port: TargetPort::Name("http".into()) });

    let mut wildcard = annotate(
        r("star", "wildcard.apps.example.com"),
        &[
            ("haproxy.router.openshift.io/disable_cookies", "true"),
            ("haproxy.router.openshift.io/ip_whitelist", "127.0.0.1 ::1"),
            ("haproxy.router.openshift.io/set-forwarded-headers", "if-none"),
        ],
    );
    wildcard.spec.wildcard_policy = WildcardPolicy::Subdomain;
    let never =
        annotate(r("never", "never.example.com"), &[("haproxy.router.openshift.io/set-forwarded-headers", "never")]);
    let mut sub = r("sub", "");
    sub.spec.subdomain = "frontend".into();
    (vec![edge, reencrypt, passthrough, ab, wildcard, never, sub], services())
}

fn config() -> RouterConfig {
    let mut config = RouterConfig::new(s2i_route::tls::generate_default_certificate("apps.localhost").unwrap());
    config.header_case_adjustments = vec!["X-Forwarded-For".into()];
    config.hard_stop_after = Some(s2i_route::annotations::TimeUnits::parse("30s").unwrap());
    config.threads = Some(2);
    config
}

fn render_all() -> (Vec<AdmittedRoute>, RenderedConfig) {
    let (routes, services) = every_feature();
    let admission = admit(
        &routes,
        &{
            let mut config = AdmissionConfig::default();
            config.allow_wildcard_routes = true;
            config
        },
        now(),
    );
    assert_eq!(admission.admitted.len(), routes.len(), "{:#?}", admission.outcomes);
    let rendered = render(&admission.admitted, &ServiceEndpoints::fixed(&services, &endpoints()), &config()).unwrap();
    (admission.admitted, rendered)
}

fn backend<'a>(rendered: &'a RenderedConfig, name: &str) -> &'a str {
    let cfg = rendered.haproxy_cfg();
    let start = cfg.find(&format!("\nbackend {name}\n")).unwrap_or_else(|| panic!("no backend {name} in\n{cfg}"));
    let rest = &cfg[start + 1..];
    let end = rest[1..].find("\nbackend ").map_or(rest.len(), |end| end + 1);
    &rest[..end]
}

#[test]
fn haproxy_accepts_a_configuration_with_every_feature() {
    let (_, rendered) = render_all();
    let dir = tempfile::tempdir().unwrap();
    assert!(rendered.write_to(dir.path()).unwrap());
    haproxy_check(dir.path());
}

#[test]
fn the_layout_is_the_openshift_routers() {
    let (_, rendered) = render_all();
    let files: Vec<&str> = rendered.files.keys().map(String::as_str).collect();
    assert_eq!(
        files,
        [
            "conf/cert_config.map",
            "conf/default.pem",
            "conf/os_edge_reencrypt_be.map",
            "conf/os_http_be.map",
            "conf/os_route_http_redirect.map",
            "conf/os_sni_passthrough.map",
            "conf/os_tcp_be.map",
            "conf/os_wildcard_domain.map",
            "haproxy.cfg",
            "router/allowlists/shop:ab.txt",
            "router/cacerts/shop:secure-api.pem",
            "router/certs/shop:edge.pem",
        ]
    );
    let cfg = rendered.haproxy_cfg();
    for frontend in [
        "frontend public\n",
        "frontend public_ssl\n",
        "frontend fe_sni\n",
        "frontend fe_no_sni\n",
        "listen stats\n",
        "backend openshift_default\n",
    ] {
        assert!(cfg.contains(frontend), "{frontend}");
    }
    assert_eq!(
        rendered.file("conf/cert_config.map").unwrap(),
        "router/certs/shop:edge.pem [alpn h2,http/1.1] secure.example.com\n"
    );
    assert_eq!(rendered.file("conf/os_sni_passthrough.map").unwrap(), "^db\\.example\\.com$ 1\n");
    assert_eq!(
        rendered.file("conf/os_tcp_be.map").unwrap(),
        "^db\\.example\\.com\\.?(:[0-9]+)?(/.*)?$ be_tcp:shop:db\n"
    );
    assert_eq!(
        rendered.file("conf/os_http_be.map").unwrap(),
        concat!(
            "^www\\.example\\.com\\.?(:[0-9]+)?/shop(/.*)?$ be_http:shop:ab\n",
            "^never\\.example\\.com\\.?(:[0-9]+)?(/.*)?$ be_http:shop:never\n",
            "^frontend\\.apps\\.localhost\\.?(:[0-9]+)?(/.*)?$ be_http:shop:sub\n",
            "^api\\.example\\.com\\.?(:[0-9]+)?/v1(/.*)?$ be_secure:shop:secure-api\n",
            "^[^\\.]*\\.apps\\.example\\.com\\.?(:[0-9]+)?(/.*)?$ be_http:shop:star\n",
        )
    );
    assert_eq!(
        rendered.file("conf/os_edge_reencrypt_be.map").unwrap(),
        concat!(
            "^secure\\.example\\.com\\.?(:[0-9]+)?(/.*)?$ be_edge_http:shop:edge\n",
            "^api\\.example\\.com\\.?(:[0-9]+)?/v1(/.*)?$ be_secure:shop:secure-api\n",
        )
    );
    let redirect = rendered.file("conf/os_route_http_redirect.map").unwrap();
    assert!(redirect.contains("^secure\\.example\\.com\\.?(:[0-9]+)?(/.*)?$ 1\n"), "{redirect}");
    assert_eq!(redirect.lines().filter(|line| line.ends_with(" 0")).count(), 6);
    let pem = rendered.files.get("router/certs/shop:edge.pem").unwrap();
    assert!(pem.secret);
    let tags: Vec<String> =
        pem::parse_many(&pem.contents).unwrap().iter().map(|block| block.tag().to_owned()).collect();
    assert_eq!(tags, ["PRIVATE KEY", "CERTIFICATE", "CERTIFICATE"], "key, leaf, then CA");
    assert_eq!(rendered.file("router/allowlists/shop:ab.txt").unwrap().lines().count(), 70);
}

#[test]
fn rendering_is_deterministic_and_independent_of_the_directory() {
    let (_, first) = render_all();
    let (_, second) = render_all();
    // Certificates differ between the two (fresh keys); everything else must not.
    let strip = |rendered: &RenderedConfig| -> BTreeMap<String, String> {
        rendered
            .files
            .iter()
            .filter(|(path, _)| !path.ends_with(".pem"))
            .map(|(p, f)| (p.clone(), f.contents.clone()))
            .collect()
    };
    assert_eq!(strip(&first), strip(&second));

    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    first.write_to(a.path()).unwrap();
    first.write_to(b.path()).unwrap();
    for path in first.files.keys() {
        assert_eq!(std::fs::read(a.path().join(path)).unwrap(), std::fs::read(b.path().join(path)).unwrap(), "{path}");
    }
    assert!(!first.haproxy_cfg().contains(&a.path().display().to_string()));
}

#[test]
fn writing_changes_only_what_changed_and_removes_stale_files() {
    use std::os::unix::fs::PermissionsExt;
    let (admitted, rendered) = render_all();
    let dir = tempfile::tempdir().unwrap();
    assert!(rendered.write_to(dir.path()).unwrap());
    assert!(!rendered.write_to(dir.path()).unwrap(), "the same files again: nothing changes");
    let mode = std::fs::metadata(dir.path().join("router/certs/shop:edge.pem")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "private keys are readable by the owner only");
    assert!(dir.path().join("run").is_dir());

    let without_edge: Vec<AdmittedRoute> = admitted.into_iter().filter(|a| a.route.metadata.name != "edge").collect();
    let smaller = render(&without_edge, &ServiceEndpoints::fixed(&services(), &endpoints()), &config()).unwrap();
    assert!(smaller.write_to(dir.path()).unwrap());
    assert!(!dir.path().join("router/certs/shop:edge.pem").exists(), "a removed route's certificate goes");
    haproxy_check(dir.path());
}

#[test]
fn backends_carry_every_setting() {
    let (_, rendered) = render_all();
    let edge = backend(&rendered, "be_edge_http:shop:edge");
    for line in [
        "  mode http\n",
        "  balance random\n",
        "  timeout server 60s\n",
        "  timeout tunnel 2h\n",
        "  cookie session insert indirect nocache httponly secure attr SameSite=Strict\n",
        "  http-response set-header Strict-Transport-Security 'max-age=31536000;includeSubDomains;preload'\n",
        "  http-request set-header 'X-Client-Cert' '%{+Q}[ssl_c_der,base64]'\n",
        "  http-response del-header 'X-Powered-By'\n",
        "  http-response set-header 'X-Note' 'it'\\''s fine'\n",
        "  option forwardfor\n",
        "  http-request add-header X-Forwarded-Host %[req.hdr(host)]\n",
    ] {
        assert!(edge.contains(line), "edge lacks {line:?}:\n{edge}");
    }
    let web_ids = ["ept:web:http:10.0.0.1:8080", "ept:web:http:10.0.0.2:8080"];
    assert!(edge.contains(&format!("  server {} 10.0.0.1:8080 cookie ", web_ids[0])), "{edge}");
    assert!(
        edge.contains(" weight 1 check inter 5000ms\n"),
        "one active service: weight 1 each; two endpoints: checks\n{edge}"
    );

    let api = backend(&rendered, "be_secure:shop:secure-api");
    assert!(api.contains("  balance leastconn\n"));
    assert!(
        api.contains(
            " ssl alpn h2,http/1.1 verify required ca-file router/cacerts/shop:secure-api.pem check inter 5000ms\n"
        ),
        "{api}"
    );
    assert!(api.contains("cookie ") && !api.contains("secure attr"), "Allow keeps the cookie usable on HTTP:\n{api}");
    assert!(!api.contains("Strict-Transport-Security"));

    let db = backend(&rendered, "be_tcp:shop:db");
    for line in [
        "  mode tcp\n",
        "  balance source\n",
        "  timeout tunnel 10m\n",
        "  stick-table type ip size 100k expire 30s store conn_cur,conn_rate(3s),http_req_rate(10s)\n",
        "  tcp-request content track-sc2 src\n",
        "  tcp-request content reject if { src_conn_cur ge 10 }\n",
        "  hash-type consistent\n",
    ] {
        assert!(db.contains(line), "db lacks {line:?}:\n{db}");
    }
    assert!(!db.contains("src_http_req_rate") && !db.contains("cookie"), "{db}");

    let ab = backend(&rendered, "be_http:shop:ab");
    for line in [
        "  balance roundrobin\n",
        "  acl allowlist src -f router/allowlists/shop:ab.txt\n",
        "  tcp-request content reject if !allowlist\n",
        "  tcp-request content reject if { src_conn_rate ge 20 }\n",
        "  tcp-request content reject if { src_http_req_rate ge 30 }\n",
        "  http-request replace-path '^/shop/?(.*)$' '/\\1'\n",
        "  http-request set-header X-Forwarded-For %[src]\n",
    ] {
        assert!(ab.contains(line), "ab lacks {line:?}:\n{ab}");
    }
    assert!(!ab.contains("option forwardfor"));
    assert!(ab.contains(" check inter 2s maxconn 50\n"), "{ab}");
    // 75 over web's 2 endpoints (37.5 each) and 25 over api's endpoint on port 8080 (the only one named http).
    assert!(ab.contains("10.0.0.1:8080 cookie ") && ab.contains(" weight 256 check"), "{ab}");
    assert!(
        ab.contains("  server ept:api:http:10.0.1.1:8080 10.0.1.1:8080 cookie ") && ab.contains(" weight 170 check"),
        "{ab}"
    );
    assert!(!ab.contains("10.0.1.2:9090"), "the route's targetPort filters endpoints");

    let star = backend(&rendered, "be_http:shop:star");
    assert!(star.contains("  acl allowlist src 127.0.0.1 ::1\n") && !star.contains("\n  cookie "), "{star}");
    assert!(star.contains("  option forwardfor if-none\n"), "{star}");
    let never = backend(&rendered, "be_http:shop:never");
    assert!(!never.contains("forwardfor") && !never.contains("X-Forwarded"), "{never}");

    let cfg = rendered.haproxy_cfg();
    for line in [
        "  nbthread 2\n",
        "  hard-stop-after 30s\n",
        "  h1-case-adjust x-forwarded-for X-Forwarded-For\n",
        "  option h1-case-adjust-bogus-client\n",
    ] {
        assert!(cfg.contains(line), "{line}");
    }
    assert!(
        cfg.contains("redirect location https://%[req.hdr(Host),field(1,:)]:9443%[pathq] code 302 if secure_redirect")
    );
}

fn endpoint(address: &str, port: u16) -> ResolvedEndpoint {
    ResolvedEndpoint { address: address.into(), port, port_name: String::new(), source: EndpointSource::Fixed }
}

#[test]
fn endpoint_weights_follow_the_router() {
    let admitted = |weights: &[(&str, i32)]| {
        let mut route = r("w", "w.test");
        route.spec.to = RouteTargetReference::service(weights[0].0, weights[0].1);
        route.spec.alternate_backends =
            weights[1..].iter().map(|(name, weight)| RouteTargetReference::service(*name, *weight)).collect();
        admit(&[route], &AdmissionConfig::default(), now()).admitted.remove(0)
    };
    let mut endpoints = ServiceEndpoints::default();
    endpoints.insert(ObjectKey::new("shop", "a"), vec![endpoint("10.0.0.1", 80), endpoint("10.0.0.2", 80)]);
    endpoints.insert(ObjectKey::new("shop", "b"), (1..=4).map(|i| endpoint(&format!("10.0.1.{i}"), 80)).collect());
    endpoints.insert(ObjectKey::new("shop", "c"), (1..=200).map(|i| endpoint(&format!("10.0.2.{i}"), 80)).collect());
    endpoints.insert(ObjectKey::new("shop", "empty"), vec![]);
    let weights = |services: &[(&str, i32)]| {
        let (servers, warning) = endpoint_weights(&admitted(services), &endpoints);
        let mut by_service: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for server in servers {
            let service = server.id.split(':').nth(1).unwrap().to_owned();
            by_service.entry(service).or_default().push(server.weight);
        }
        (by_service.into_iter().map(|(s, w)| (s, w[0], w.len())).collect::<Vec<_>>(), warning.is_some())
    };
    // (services and weights, (service, weight of each endpoint, endpoints), precision warning)
    type Case = (Vec<(&'static str, i32)>, Vec<(&'static str, u32, usize)>, bool);
    let table: Vec<Case> = vec![
        (vec![("a", 20), ("b", 10)], vec![("a", 256, 2), ("b", 64, 4)], false),
        (vec![("a", 100)], vec![("a", 1, 2)], false),
        (vec![("a", 100), ("b", 0)], vec![("a", 1, 2), ("b", 0, 4)], false),
        (vec![("a", 0), ("b", 0)], vec![("a", 0, 2), ("b", 0, 4)], false),
        (vec![("a", 100), ("empty", 100)], vec![("a", 1, 2)], false),
        (vec![("a", 3), ("b", 1)], vec![("a", 256, 2), ("b", 42, 4)], false),
        (vec![("a", 256), ("c", 1)], vec![("a", 256, 2), ("c", 1, 200)], true),
    ];
    for (services, expected, warned) in table {
        let expected: Vec<(String, u32, usize)> = expected.into_iter().map(|(s, w, n)| (s.to_owned(), w, n)).collect();
        assert_eq!(weights(&services), (expected, warned), "{services:?}");
    }
}

#[test]
fn warnings_say_what_will_not_be_served() {
    let mut reencrypt = r("re", "re.test");
    reencrypt.spec.tls = Some(TlsConfig::new(TlsTermination::Reencrypt));
    reencrypt.spec.to = RouteTargetReference::service("missing", 100);
    let adjusted = annotate(r("adj", "adj.test"), &[("haproxy.router.openshift.io/h1-adjust-case", "true")]);
    let admission = admit(&[reencrypt, adjusted], &AdmissionConfig::default(), now());
    let rendered = render(
        &admission.admitted,
        &ServiceEndpoints::default(),
        &RouterConfig::new(s2i_route::tls::generate_default_certificate("apps.localhost").unwrap()),
    )
    .unwrap();
    let warnings = rendered.warnings.join("\n");
    for needle in [
        "route shop/re: service missing not found; it has no endpoints",
        "route shop/re: no endpoint to send traffic to; requests get 503",
        "route shop/re: reencrypt without destinationCACertificate: the endpoints' certificates are not verified",
        "route shop/adj: h1-adjust-case has no effect: the router has no header case adjustments",
    ] {
        assert!(warnings.contains(needle), "{needle}\n{warnings}");
    }
}

#[test]
fn a_bad_default_certificate_is_an_error() {
    let error = render(&[], &ServiceEndpoints::default(), &RouterConfig::new("not pem".into())).unwrap_err();
    assert!(error.to_string().contains("the router's default certificate is invalid"), "{error}");
}

#[test]
fn a_router_directory_keeps_its_default_certificate() {
    use s2i_route::haproxy::load_or_generate_default_certificate;
    let dir = tempfile::tempdir().unwrap();
    let first = load_or_generate_default_certificate(dir.path(), "apps.localhost").unwrap();
    let rendered = render(&[], &ServiceEndpoints::default(), &RouterConfig::new(first.clone())).unwrap();
    rendered.write_to(dir.path()).unwrap();
    assert_eq!(load_or_generate_default_certificate(dir.path(), "apps.localhost").unwrap(), first);
    std::fs::write(dir.path().join("conf/default.pem"), "junk").unwrap();
    let error = load_or_generate_default_certificate(dir.path(), "apps.localhost").unwrap_err();
    assert!(error.to_string().contains("default certificate is invalid"), "{error}");
}
