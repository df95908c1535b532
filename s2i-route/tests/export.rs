//! Exports of a route for a cluster: OpenShift Route, Ingress, Gateway API.

mod cluster;

use s2i_route::export::{ExportTarget, GatewayRef, export_route, gateway_duration};
use s2i_route::route::{RouteHttpHeader, RouteHttpHeaderAction, RouteHttpHeaderActions, RouteHttpHeaders};
use s2i_route::*;

fn route(yaml: &str) -> Route {
    serde_norway::from_str(yaml).unwrap()
}

fn services() -> Vec<Service> {
    let text = r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
  selector: {app: web}
---
apiVersion: v1
kind: Service
metadata: {name: canary, namespace: shop}
spec:
  ports: [{name: "8081", port: 8081}]
"#;
    text.split("---").map(|document| serde_norway::from_str(document).unwrap()).collect()
}

const WEB: &str = r#"
apiVersion: route.openshift.io/v1
kind: Route
metadata:
  name: web
  namespace: shop
  uid: 1234
  resourceVersion: "7"
  generation: 2
  creationTimestamp: 2026-01-01T00:00:00Z
  labels: {app: web}
  annotations:
    openshift.io/host.generated: "true"
    haproxy.router.openshift.io/timeout: 90s
    haproxy.router.openshift.io/rewrite-target: /
    haproxy.router.openshift.io/hsts_header: max-age=300
    haproxy.router.openshift.io/balance: leastconn
spec:
  host: web-shop.apps.localhost
  path: /store
  to: {name: web, weight: 3}
  alternateBackends: [{name: canary, weight: 1}]
  port: {targetPort: 8080}
  tls:
    termination: edge
    insecureEdgeTerminationPolicy: Redirect
    certificate: CERT
    key: KEY
status:
  ingress: [{host: web-shop.apps.localhost, routerName: default}]
"#;

#[test]
fn openshift_export_drops_what_the_cluster_owns() {
    let export = export_route(&route(WEB), &services(), ExportTarget::OpenShift, &GatewayRef::default());
    let yaml = export.to_yaml().unwrap();
    assert_eq!(export.documents.len(), 1);
    for gone in [
        "uid:",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "status:",
        "host.generated",
        "host: web-shop",
        "namespace:",
    ] {
        assert!(!yaml.contains(gone), "{gone} in\n{yaml}");
    }
    for kept in [
        "apiVersion: route.openshift.io/v1",
        "kind: Route",
        "path: /store",
        "weight: 3",
        "name: canary",
        "termination: edge",
        "haproxy.router.openshift.io/timeout: 90s",
    ] {
        assert!(yaml.contains(kept), "{kept} missing in\n{yaml}");
    }
    assert_eq!(export.warnings.len(), 1);
    assert!(export.warnings[0].contains("generated for this machine's domain"), "{:?}", export.warnings);
    // What comes out reads back as a valid route, in whatever namespace it is applied.
    let mut back: Route = serde_norway::from_str(&yaml).unwrap();
    back.metadata.namespace = "elsewhere".into();
    assert!(s2i_route::validation::validate_route(&back).is_ok());
}

#[test]
fn ingress_export_resolves_the_service_port_and_warns() {
    let export = export_route(&route(WEB), &services(), ExportTarget::Ingress, &GatewayRef::default());
    let yaml = export.to_yaml().unwrap();
    let expected_ingress = r#"apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: web
  labels:
    app: web
  annotations:
    haproxy.router.openshift.io/balance: leastconn
    haproxy.router.openshift.io/hsts_header: max-age=300
    haproxy.router.openshift.io/rewrite-target: /
    haproxy.router.openshift.io/timeout: 90s
    route.openshift.io/termination: edge
spec:
  tls:
  - hosts:
    - web-shop.apps.localhost
    secretName: web-tls
  rules:
  - host: web-shop.apps.localhost
    http:
      paths:
      - path: /store
        pathType: Prefix
        backend:
          service:
            name: web
            port:
              name: http
"#;
    let documents: Vec<&str> = yaml.split("---\n").collect();
    assert_eq!(documents.len(), 2, "{yaml}");
    assert!(documents[0].starts_with("apiVersion: v1\nkind: Secret\n"), "{}", documents[0]);
    assert!(
        documents[0].contains("type: kubernetes.io/tls") && documents[0].contains("tls.crt: |\n    CERT\n"),
        "{}",
        documents[0]
    );
    assert_eq!(documents[1], expected_ingress);
    let warnings = export.warnings.join("\n");
    for needle in [
        "was generated for this machine's domain",
        "Ingress has no weighted backends: only web is kept; alternateBackends canary are dropped",
        "TLS termination edge is kept in the annotation route.openshift.io/termination",
        "annotation haproxy.router.openshift.io/balance has no Ingress (only OpenShift's ingress-to-route copies it) equivalent",
    ] {
        assert!(warnings.contains(needle), "{needle}\n{warnings}");
    }
}

#[test]
fn gateway_export_of_an_edge_route_with_redirect() {
    let gateway = GatewayRef { name: "public".into(), namespace: Some("gateways".into()) };
    let export = export_route(&route(WEB), &services(), ExportTarget::Gateway, &gateway);
    let yaml = export.to_yaml().unwrap();
    let documents: Vec<&str> = yaml.split("---\n").collect();
    assert_eq!(documents.len(), 3, "{yaml}");
    assert_eq!(
        documents[0],
        r#"apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: web
  labels:
    app: web
spec:
  parentRefs:
  - name: public
    namespace: gateways
    sectionName: https
  hostnames:
  - web-shop.apps.localhost
  rules:
  - matches:
    - path:
        type: PathPrefix
        value: /store
    filters:
    - type: URLRewrite
      urlRewrite:
        path:
          type: ReplacePrefixMatch
          replacePrefixMatch: /
    - type: ResponseHeaderModifier
      responseHeaderModifier:
        set:
        - name: Strict-Transport-Security
          value: max-age=300
    backendRefs:
    - name: web
      port: 80
      weight: 3
    - name: canary
      port: 8080
      weight: 1
    timeouts:
      backendRequest: 1m30s
"#
    );
    assert!(
        documents[1].contains("name: web-redirect") && documents[1].contains("sectionName: http\n"),
        "{}",
        documents[1]
    );
    assert!(
        documents[1].contains(
            "    - type: RequestRedirect\n      requestRedirect:\n        scheme: https\n        statusCode: 302\n"
        ),
        "{}",
        documents[1]
    );
    assert!(documents[2].contains("kind: Secret") && documents[2].contains("name: web-tls"));
    let warnings = export.warnings.join("\n");
    for needle in [
        "annotation haproxy.router.openshift.io/balance has no Gateway API equivalent",
        "service canary has no port leading to endpoint port 8080; port 8080 is used",
        "list it in certificateRefs of the Gateway's https listener",
    ] {
        assert!(warnings.contains(needle), "{needle}\n{warnings}");
    }
    assert!(!warnings.contains("timeout has no"), "timeout, rewrite-target and hsts carry over");
}

#[test]
fn gateway_export_of_passthrough_and_reencrypt() {
    let passthrough = route(
        "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {name: db, namespace: shop}\nspec:\n  host: db.example.com\n  to: {name: web}\n  tls: {termination: passthrough, insecureEdgeTerminationPolicy: Redirect}\n",
    );
    let export = export_route(&passthrough, &services(), ExportTarget::Gateway, &GatewayRef::default());
    let yaml = export.to_yaml().unwrap();
    assert!(yaml.starts_with("apiVersion: gateway.networking.k8s.io/v1\nkind: TLSRoute\n"), "{yaml}");
    assert!(yaml.contains("sectionName: tls-passthrough") && yaml.contains("hostnames:\n  - db.example.com"), "{yaml}");
    assert!(yaml.contains("name: db-redirect"), "Redirect of passthrough becomes a redirecting HTTPRoute\n{yaml}");

    let mut reencrypt = route(
        "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {name: api, namespace: shop}\nspec:\n  host: api.example.com\n  to: {name: web}\n  tls: {termination: reencrypt, destinationCACertificate: CA}\n",
    );
    reencrypt.spec.http_headers = Some(RouteHttpHeaders {
        actions: RouteHttpHeaderActions {
            request: vec![
                RouteHttpHeader { name: "X-Static".into(), action: RouteHttpHeaderAction::set("yes") },
                RouteHttpHeader { name: "X-Dyn".into(), action: RouteHttpHeaderAction::set("%[req.hdr(host)]") },
            ],
            response: vec![RouteHttpHeader { name: "Server".into(), action: RouteHttpHeaderAction::delete() }],
        },
    });
    let export = export_route(&reencrypt, &services(), ExportTarget::Gateway, &GatewayRef::default());
    let yaml = export.to_yaml().unwrap();
    for needle in [
        "kind: ConfigMap\nmetadata:\n  name: api-destination-ca\ndata:\n  ca.crt: CA\n",
        "kind: BackendTLSPolicy",
        "targetRefs:\n  - group: ''\n    kind: Service\n    name: web",
        "caCertificateRefs:\n    - group: ''\n      kind: ConfigMap\n      name: api-destination-ca\n    hostname: web.shop.svc",
        "requestHeaderModifier:\n        set:\n        - name: X-Static\n          value: 'yes'\n",
        "responseHeaderModifier:\n        remove:\n        - Server",
    ] {
        assert!(yaml.contains(needle), "{needle}\n{yaml}");
    }
    assert!(
        export.warnings.iter().any(|w| w.contains("header X-Dyn is set with an HAProxy expression")),
        "{:?}",
        export.warnings
    );
    assert!(
        export.warnings.iter().any(|w| w.contains("validation hostnames name the namespace \"shop\"")),
        "{:?}",
        export.warnings
    );
    assert!(export.warnings.iter().any(|w| w.contains("default certificate")), "{:?}", export.warnings);
}

#[test]
fn wildcards_and_subdomains_are_explained() {
    let wildcard = route(
        "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {name: w, namespace: shop}\nspec: {host: www.acme.test, wildcardPolicy: Subdomain, to: {name: web}}\n",
    );
    let export = export_route(&wildcard, &services(), ExportTarget::Gateway, &GatewayRef::default());
    assert!(export.to_yaml().unwrap().contains("- '*.acme.test'"));
    assert!(export.warnings[0].contains("also matches deeper names"), "{:?}", export.warnings);
    let export = export_route(&wildcard, &services(), ExportTarget::Ingress, &GatewayRef::default());
    assert!(export.to_yaml().unwrap().contains("host: '*.acme.test'"));

    let sub = route(
        "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {name: s, namespace: shop}\nspec: {subdomain: frontend, to: {name: nowhere}, path: /a/, port: {targetPort: 8080}}\n",
    );
    let export = export_route(&sub, &[], ExportTarget::Ingress, &GatewayRef::default());
    let warnings = export.warnings.join("\n");
    assert!(warnings.contains("spec.subdomain \"frontend\" has no Ingress equivalent"), "{warnings}");
    assert!(
        warnings.contains("service nowhere was not given, so its port cannot be looked up; port 8080 is used"),
        "{warnings}"
    );
    assert!(warnings.contains("path \"/a/\" ends in '/'"), "{warnings}");
}

/// Ingress and Gateway API name a service port, which a cluster requires:
/// without the service, the route's target port is taken for it; without
/// either, the export is refused, naming the route, the service and the fix.
#[test]
fn backends_without_a_known_port_take_the_routes_or_are_refused() {
    use miette::Diagnostic;
    let with_port = |port: &str| {
        route(&format!(
            "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {{name: front, namespace: shop}}\nspec: {{host: front.example.com, to: {{name: api}}{port}}}\n"
        ))
    };
    let gateway = GatewayRef::default();
    let yaml_of = |route: &Route, target| {
        let yaml = export_route(route, &services(), target, &gateway).to_yaml().unwrap();
        cluster::judge_documents(&format!("{target:?}"), &yaml);
        yaml
    };
    let refusal = |route: &Route, services: &[Service], target| {
        let export = export_route(route, services, target, &gateway);
        assert_eq!(export.check().unwrap_err().to_string(), export.to_yaml().unwrap_err().to_string());
        let error = export.to_yaml().unwrap_err();
        assert_eq!(error.code().unwrap().to_string(), "s2i::route::export_without_port");
        let help = error.help().unwrap().to_string();
        assert!(help.contains("apply the Service first") && help.contains("spec.port.targetPort"), "{help}");
        error.to_string()
    };

    // A number is a port number of the service, a name its port's name.
    let number = with_port(", port: {targetPort: 8080}");
    assert!(yaml_of(&number, ExportTarget::Ingress).contains(
        "port:
              number: 8080
"
    ));
    assert!(yaml_of(&number, ExportTarget::Gateway).contains(
        "- name: api
      port: 8080
"
    ));
    let name = with_port(", port: {targetPort: http}");
    assert!(yaml_of(&name, ExportTarget::Ingress).contains(
        "port:
              name: http
"
    ));
    // Gateway API takes numbers only.
    assert_eq!(
        refusal(&name, &services(), ExportTarget::Gateway),
        "route shop/front cannot be exported to Gateway API without a port of service api: \
         no service api was given in namespace \"shop\" to look up the number of port \"http\""
    );

    // Neither the route nor a service says which port.
    let none = with_port("");
    for (target, shown) in [(ExportTarget::Ingress, "Ingress"), (ExportTarget::Gateway, "Gateway API")] {
        assert_eq!(
            refusal(&none, &services(), target),
            format!(
                "route shop/front cannot be exported to {shown} without a port of service api: no service api was \
                 given in namespace \"shop\", and the route names no port (spec.port.targetPort)"
            )
        );
    }
    // A service of another namespace is not the route's.
    let elsewhere: Vec<Service> = services()
        .into_iter()
        .map(|mut service| {
            service.metadata.namespace = "other".into();
            service.metadata.name = "api".into();
            service
        })
        .collect();
    assert!(refusal(&none, &elsewhere, ExportTarget::Ingress).contains("no service api was given"));

    // A service without ports, or without the port the route names.
    let mut portless = services();
    portless[0].metadata.name = "api".into();
    portless[0].spec.ports.clear();
    assert!(refusal(&none, &portless, ExportTarget::Ingress).ends_with(": service api has no ports"));
    let mut other_port = services();
    other_port[0].metadata.name = "api".into();
    let export = export_route(&name, &other_port, ExportTarget::Ingress, &gateway);
    assert!(export.to_yaml().unwrap().contains("name: http"), "the route's name is the service port's name");
    assert!(
        refusal(&with_port(", port: {targetPort: metrics}"), &other_port, ExportTarget::Gateway)
            .ends_with(": service api has no port named \"metrics\"")
    );

    // Every backend of a weighted route needs one.
    let weighted = route(
        "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {name: split, namespace: shop}\nspec: {host: s.example.com, to: {name: web}, alternateBackends: [{name: gone}]}\n",
    );
    assert!(refusal(&weighted, &services(), ExportTarget::Gateway).contains("without a port of service gone"));
}

#[test]
fn gateway_durations() {
    use s2i_route::annotations::TimeUnits;
    for (given, want) in [
        ("90s", Some("1m30s")),
        ("500", Some("500ms")),
        ("2d", Some("48h")),
        ("100us", None),
        ("1h", Some("1h")),
        ("100000h", None),
    ] {
        assert_eq!(gateway_duration(TimeUnits::parse(given).unwrap()).as_deref(), want, "{given}");
    }
}

/// Routes with every setting an export handles, each exported to Ingress
/// and Gateway API: every document is one Kubernetes' and Gateway API's
/// own types take whole.
#[test]
fn every_export_is_what_the_cluster_types_hold() {
    let mut routes = vec![route(WEB)];
    for text in [
        "{name: db, namespace: shop}\nspec:\n  host: db.example.com\n  to: {name: web}\n  tls: {termination: passthrough, insecureEdgeTerminationPolicy: Redirect}\n",
        "{name: api, namespace: shop}\nspec:\n  host: api.example.com\n  path: /v1\n  to: {name: web}\n  port: {targetPort: http}\n  tls: {termination: reencrypt, destinationCACertificate: CA, insecureEdgeTerminationPolicy: Allow}\n",
        "{name: w, namespace: shop}\nspec: {host: www.acme.test, wildcardPolicy: Subdomain, to: {name: web}}\n",
        "{name: s, namespace: shop}\nspec: {subdomain: frontend, to: {name: nowhere}, path: /a/, port: {targetPort: 8080}}\n",
        "{name: plain, namespace: shop, annotations: {haproxy.router.openshift.io/timeout: 5m}}\nspec: {host: plain.example.com, to: {name: canary, weight: 0}, alternateBackends: [{name: web, weight: 10}], port: {targetPort: 8081}}\n",
    ] {
        routes.push(route(&format!("apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {text}")));
    }
    let mut headers = routes[2].clone();
    headers.metadata.name = "headers".into();
    headers.spec.http_headers = Some(RouteHttpHeaders {
        actions: RouteHttpHeaderActions {
            request: vec![RouteHttpHeader { name: "X-Static".into(), action: RouteHttpHeaderAction::set("yes") }],
            response: vec![RouteHttpHeader { name: "Server".into(), action: RouteHttpHeaderAction::delete() }],
        },
    });
    routes.push(headers);
    let gateway = GatewayRef { name: "public".into(), namespace: Some("gateways".into()) };
    let mut kinds = std::collections::BTreeSet::new();
    for route in &routes {
        for target in [ExportTarget::Ingress, ExportTarget::Gateway] {
            let yaml = export_route(route, &services(), target, &gateway).to_yaml().unwrap();
            kinds.extend(cluster::judge_documents(&format!("{} to {target:?}", route.metadata.name), &yaml));
        }
    }
    let kinds: Vec<&str> = kinds.iter().map(String::as_str).collect();
    assert_eq!(kinds, ["BackendTLSPolicy", "ConfigMap", "HTTPRoute", "Ingress", "Secret", "TLSRoute"]);
}
