//! Routes as a downstream tool uses them, through the public API only and
//! with no feature needed (`cargo test -p s2i-route --no-default-features
//! --test downstream`): objects read from YAML with `s2i_store::codec`,
//! validated on create and update, admitted, rendered for HAProxy and
//! exported for a cluster.

use s2i_route::admission::{AdmissionConfig, RejectionReason, admit};
use s2i_route::export::{ExportDocument, ExportTarget, GatewayRef, export_route};
use s2i_route::haproxy::{RouterConfig, render};
use s2i_route::tls::generate_default_certificate;
use s2i_route::validation::{validate_route, validate_route_update, validate_service};
use s2i_route::{Endpoints, Route, Service, ServiceEndpoints, TlsTermination, WildcardPolicy};
use s2i_store::codec::read_documents;

/// What a tool would read from a file: two namespaces want one host.
const OBJECTS: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: team-a}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: web, namespace: team-a}
subsets:
- addresses: [{ip: 127.0.0.1}, {ip: 127.0.0.2}]
  ports: [{name: http, port: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: team-b}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: web, namespace: team-b}
subsets:
- addresses: [{ip: 127.0.0.3}]
  ports: [{name: http, port: 8080}]
---
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: www, namespace: team-a, uid: a-1, creationTimestamp: "2026-03-01T10:00:00Z"}
spec:
  host: www.example.com
  to: {name: web}
  tls: {insecureEdgeTerminationPolicy: Redirect}
---
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: www, namespace: team-b, uid: b-1, creationTimestamp: "2026-03-02T10:00:00Z"}
spec:
  host: www.example.com
  path: /b
  to: {name: web, weight: 10}
"#;

fn read() -> (Vec<Route>, Vec<Service>, Vec<Endpoints>) {
    let (mut routes, mut services, mut endpoints) = (Vec::new(), Vec::new(), Vec::new());
    for document in read_documents("objects.yaml", OBJECTS).expect("the YAML parses") {
        match document.kind.as_str() {
            "Route" => routes.push(document.decode::<Route>().expect("a route")),
            "Service" => services.push(document.decode::<Service>().expect("a service")),
            "Endpoints" => endpoints.push(document.decode::<Endpoints>().expect("endpoints")),
            other => panic!("unexpected kind {other}"),
        }
    }
    (routes, services, endpoints)
}

#[test]
fn read_validate_admit_render_export() {
    let (routes, services, addresses) = read();

    // Reading applies the API server's defaults.
    let www = &routes[0];
    assert_eq!((www.spec.to.kind.as_str(), www.spec.to.weight), ("Service", 100));
    assert_eq!(www.termination(), Some(TlsTermination::Edge), "an empty termination is edge");
    assert_eq!(www.spec.wildcard_policy, WildcardPolicy::None);
    for route in &routes {
        validate_route(route).unwrap_or_else(|errors| panic!("{}: {errors}", route.key()));
    }
    for service in &services {
        validate_service(service).unwrap_or_else(|errors| panic!("{}: {errors}", service.key()));
    }

    // Validation refuses what the API server refuses, with its messages.
    let mut passthrough = routes[1].clone();
    passthrough.spec.tls = Some(s2i_route::TlsConfig::new(TlsTermination::Passthrough));
    let errors = validate_route(&passthrough).expect_err("passthrough with a path").to_string();
    assert!(errors.contains("passthrough termination does not support paths"), "{errors}");
    let mut wildcard = routes[1].clone();
    wildcard.spec.wildcard_policy = WildcardPolicy::Subdomain;
    let errors = validate_route_update(&wildcard, &routes[1]).expect_err("wildcardPolicy is immutable").to_string();
    assert!(errors.contains("spec.wildcardPolicy"), "{errors}");

    // Admission: the host belongs to team-a, whose route is older, whatever
    // the order the routes come in.
    let now = "2026-04-01T00:00:00Z".parse().unwrap();
    let reversed: Vec<Route> = routes.iter().rev().cloned().collect();
    for given in [&routes, &reversed] {
        let admission = admit(given, &AdmissionConfig::default(), now);
        assert_eq!(admission.admitted.len(), 1);
        assert_eq!(admission.admitted[0].key(), routes[0].key());
        let refused = admission.outcome(&routes[1].key()).unwrap().rejection.clone().expect("team-b is refused");
        assert_eq!(refused.reason, RejectionReason::HostAlreadyClaimed);
    }

    // The status OpenShift would write on each route.
    let admission = admit(&routes, &AdmissionConfig::default(), now);
    let mut written = routes.clone();
    for route in &mut written {
        assert!(admission.write_status(route, now), "a first status is a change");
        assert!(!admission.write_status(route, now), "the same status again is not");
    }
    let condition = &written[1].status.ingress[0].conditions[0];
    assert_eq!((condition.condition_type.as_str(), condition.reason.as_str()), ("Admitted", "HostAlreadyClaimed"));

    // Rendering is a function of its inputs: the same bytes twice.
    let config = RouterConfig::new(generate_default_certificate("apps.localhost").unwrap());
    let endpoints = ServiceEndpoints::fixed(&services, &addresses);
    let rendered = render(&admission.admitted, &endpoints, &config).unwrap();
    assert_eq!(rendered, render(&admission.admitted, &endpoints, &config).unwrap());
    let cfg = rendered.haproxy_cfg();
    assert!(cfg.contains("backend be_edge_http:team-a:www"), "{cfg}");
    assert!(!cfg.contains("team-b"), "a refused route has no backend:\n{cfg}");
    assert!(cfg.contains("127.0.0.1:8080") && cfg.contains("127.0.0.2:8080"), "{cfg}");
    let redirect = rendered.file("conf/os_route_http_redirect.map").unwrap();
    assert!(redirect.contains("www\\.example\\.com") && redirect.trim_end().ends_with(" 1"), "{redirect}");
    let dir = tempfile::tempdir().unwrap();
    assert!(rendered.write_to(dir.path()).unwrap(), "a first write changes the directory");
    assert!(!rendered.write_to(dir.path()).unwrap(), "the same files again change nothing");
    assert!(dir.path().join("conf/default.pem").is_file());

    // Exports: an Ingress names the service port the route's endpoint port
    // is behind; Gateway API gets a redirect route for the plain listener.
    let ingress = export_route(www, &services, ExportTarget::Ingress, &GatewayRef::default());
    let yaml = ingress.to_yaml().unwrap();
    assert!(yaml.contains("kind: Ingress") && yaml.contains("name: http"), "{yaml}");
    let gateway = export_route(www, &services, ExportTarget::Gateway, &GatewayRef::default());
    let http_routes = gateway.documents.iter().filter(|doc| matches!(doc, ExportDocument::HttpRoute(_))).count();
    assert_eq!(http_routes, 2, "the route and its redirect: {:?}", gateway.documents);
    assert!(gateway.to_yaml().unwrap().contains("statusCode: 302"));
}
