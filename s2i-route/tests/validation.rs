//! Table tests of API validation and defaulting (docs/compatibility.md#route-validation).

use s2i_route::route::{
    HeaderActionType, LocalObjectReference, RouteHttpHeader, RouteHttpHeaderAction, RouteHttpHeaderActions,
    RouteHttpHeaders,
};
use s2i_route::validation::{
    route_warnings, service_warnings, validate_route, validate_route_update, validate_service,
};
use s2i_route::*;

fn route() -> Route {
    let mut metadata = ObjectMeta::named("shop", "web");
    metadata.uid = "uid-web".into();
    Route::new(metadata, RouteSpec { to: RouteTargetReference::service("web", 100), ..Default::default() })
}

fn tls(termination: TlsTermination) -> TlsConfig {
    TlsConfig::new(termination)
}

fn header(name: &str, value: Option<&str>) -> RouteHttpHeader {
    RouteHttpHeader {
        name: name.into(),
        action: match value {
            Some(value) => RouteHttpHeaderAction::set(value),
            None => RouteHttpHeaderAction::delete(),
        },
    }
}

fn errors(route: &Route) -> Vec<String> {
    match validate_route(route) {
        Ok(()) => Vec::new(),
        Err(errors) => errors.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn invalid_routes_get_the_api_servers_messages() {
    type Edit = fn(&mut Route);
    // (case, edit, the one expected message)
    let table: Vec<(&str, Edit, &str)> = vec![
        (
            "upper-case name",
            |r| r.metadata.name = "Web".into(),
            "metadata.name: Invalid value: \"Web\": a lowercase RFC 1123 subdomain",
        ),
        ("no namespace", |r| r.metadata.namespace.clear(), "metadata.namespace: Required value"),
        (
            "host not DNS",
            |r| r.spec.host = "www_example.com".into(),
            "spec.host: Invalid value: \"www_example.com\": host must conform to DNS 952 subdomain conventions",
        ),
        (
            "host trailing dot",
            |r| r.spec.host = "www.example.com.".into(),
            "spec.host: Invalid value: \"www.example.com.\": host must conform to DNS 952 subdomain conventions",
        ),
        (
            "path without slash",
            |r| r.spec.path = "api".into(),
            "spec.path: Invalid value: \"api\": path must begin with /",
        ),
        (
            "path with #",
            |r| r.spec.path = "/a#b".into(),
            "spec.path: Invalid value: \"/a#b\": path must not contain # or spaces",
        ),
        (
            "path with space",
            |r| r.spec.path = "/a b".into(),
            "spec.path: Invalid value: \"/a b\": path must not contain # or spaces",
        ),
        (
            "passthrough with path",
            |r| {
                r.spec.tls = Some(tls(TlsTermination::Passthrough));
                r.spec.path = "/x".into()
            },
            "spec.path: Invalid value: \"/x\": passthrough termination does not support paths",
        ),
        ("no service name", |r| r.spec.to.name.clear(), "spec.to.name: Required value"),
        (
            "not a service",
            |r| r.spec.to.kind = "Pod".into(),
            "spec.to.kind: Invalid value: \"Pod\": must reference a Service",
        ),
        (
            "weight too big",
            |r| r.spec.to.weight = 257,
            "spec.to.weight: Invalid value: 257: weight must be an integer between 0 and 256",
        ),
        (
            "negative weight",
            |r| r.spec.to.weight = -1,
            "spec.to.weight: Invalid value: -1: weight must be an integer between 0 and 256",
        ),
        (
            "four alternates",
            |r| {
                r.spec.alternate_backends = (1..=4).map(|i| RouteTargetReference::service(format!("b{i}"), 1)).collect()
            },
            "spec.alternateBackends: Required value: cannot specify more than 3 alternate backends",
        ),
        (
            "alternate without name",
            |r| r.spec.alternate_backends = vec![RouteTargetReference::service("", 1)],
            "spec.alternateBackends[0].name: Required value",
        ),
        (
            "alternate repeats to",
            |r| r.spec.alternate_backends = vec![RouteTargetReference::service("web", 1)],
            "spec.alternateBackends[0].name: Duplicate value: \"web\"",
        ),
        (
            "target port 0",
            |r| r.spec.port = Some(RoutePort { target_port: TargetPort::Number(0) }),
            "spec.port.targetPort: Required value",
        ),
        (
            "target port empty",
            |r| r.spec.port = Some(RoutePort { target_port: TargetPort::Name(String::new()) }),
            "spec.port.targetPort: Required value",
        ),
        (
            "wildcard without host",
            |r| r.spec.wildcard_policy = WildcardPolicy::Subdomain,
            "spec.wildcardPolicy: Invalid value: \"Subdomain\": host name not specified for wildcard policy",
        ),
        (
            "subdomain label too long",
            |r| r.spec.subdomain = "a".repeat(64),
            "spec.subdomain: Invalid value: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\": must be no more than 63 characters",
        ),
        (
            "passthrough with certificate",
            |r| {
                let mut t = tls(TlsTermination::Passthrough);
                t.certificate = "x".into();
                r.spec.tls = Some(t)
            },
            "spec.tls.certificate: Invalid value: \"redacted certificate data\": passthrough termination does not support certificates",
        ),
        (
            "passthrough with key",
            |r| {
                let mut t = tls(TlsTermination::Passthrough);
                t.key = "x".into();
                r.spec.tls = Some(t)
            },
            "spec.tls.key: Invalid value: \"redacted key data\": passthrough termination does not support certificates",
        ),
        (
            "passthrough with CA",
            |r| {
                let mut t = tls(TlsTermination::Passthrough);
                t.ca_certificate = "x".into();
                r.spec.tls = Some(t)
            },
            "spec.tls.caCertificate: Invalid value: \"redacted ca certificate data\": passthrough termination does not support certificates",
        ),
        (
            "passthrough with destination CA",
            |r| {
                let mut t = tls(TlsTermination::Passthrough);
                t.destination_ca_certificate = "x".into();
                r.spec.tls = Some(t)
            },
            "spec.tls.destinationCACertificate: Invalid value: \"redacted destination ca certificate data\": passthrough termination does not support certificates",
        ),
        (
            "passthrough allowing HTTP",
            |r| {
                let mut t = tls(TlsTermination::Passthrough);
                t.insecure_edge_termination_policy = Some(InsecureEdgeTerminationPolicy::Allow);
                r.spec.tls = Some(t)
            },
            "spec.tls.insecureEdgeTerminationPolicy: Invalid value: \"Allow\": invalid value for InsecureEdgeTerminationPolicy option, acceptable values are None, Redirect, or empty",
        ),
        (
            "edge with destination CA",
            |r| {
                let mut t = tls(TlsTermination::Edge);
                t.destination_ca_certificate = "x".into();
                r.spec.tls = Some(t)
            },
            "spec.tls.destinationCACertificate: Invalid value: \"redacted destination ca certificate data\": edge termination does not support destination certificates",
        ),
        (
            "certificate and external certificate",
            |r| {
                let mut t = tls(TlsTermination::Edge);
                t.certificate = "x".into();
                t.external_certificate = Some(LocalObjectReference { name: "s".into() });
                r.spec.tls = Some(t)
            },
            "spec.tls.externalCertificate: Invalid value: \"s\": cannot specify both tls.certificate and tls.externalCertificate",
        ),
        (
            "passthrough with headers",
            |r| {
                r.spec.tls = Some(tls(TlsTermination::Passthrough));
                r.spec.http_headers = Some(RouteHttpHeaders {
                    actions: RouteHttpHeaderActions { request: vec![header("X-A", Some("1"))], response: vec![] },
                })
            },
            "spec.tls.termination: Invalid value: \"passthrough\": only edge and re-encrypt routes are supported for providing customized headers.",
        ),
        (
            "forbidden header",
            |r| {
                r.spec.http_headers = Some(RouteHttpHeaders {
                    actions: RouteHttpHeaderActions { request: vec![header("Cookie", Some("a"))], response: vec![] },
                })
            },
            "spec.httpHeaders.actions.request[0].name: Forbidden: the following headers may not be modified using this API: strict-transport-security, proxy, cookie, set-cookie",
        ),
        (
            "header name not a token",
            |r| {
                r.spec.http_headers = Some(RouteHttpHeaders {
                    actions: RouteHttpHeaderActions { request: vec![], response: vec![header("X A", None)] },
                })
            },
            "spec.httpHeaders.actions.response[0].name: Invalid value: \"X A\": name must be a valid HTTP header name as defined in RFC 2616 section 4.2",
        ),
        (
            "duplicate header",
            |r| {
                r.spec.http_headers = Some(RouteHttpHeaders {
                    actions: RouteHttpHeaderActions {
                        request: vec![],
                        response: vec![header("X-A", None), header("X-A", None)],
                    },
                })
            },
            "spec.httpHeaders.actions.response[1].name: Duplicate value: \"X-A\"",
        ),
        (
            "set without value",
            |r| {
                r.spec.http_headers = Some(RouteHttpHeaders {
                    actions: RouteHttpHeaderActions {
                        request: vec![RouteHttpHeader {
                            name: "X-A".into(),
                            action: RouteHttpHeaderAction { action_type: HeaderActionType::Set, set: None },
                        }],
                        response: vec![],
                    },
                })
            },
            "spec.httpHeaders.actions.request[0].action.set: Required value: set is required when type is Set, and forbidden otherwise",
        ),
        (
            "response fetch on the request side",
            |r| {
                r.spec.http_headers = Some(RouteHttpHeaders {
                    actions: RouteHttpHeaderActions {
                        request: vec![header("X-A", Some("%[res.hdr(host)]"))],
                        response: vec![],
                    },
                })
            },
            "spec.httpHeaders.actions.request[0].action.set.value: Invalid value: \"%[res.hdr(host)]\": Either header value provided is not in correct format or the converter specified is not allowed.",
        ),
        (
            "21 header actions",
            |r| {
                r.spec.http_headers = Some(RouteHttpHeaders {
                    actions: RouteHttpHeaderActions {
                        request: (0..21).map(|i| header(&format!("X-{i}"), None)).collect(),
                        response: vec![],
                    },
                })
            },
            "spec.httpHeaders.actions.request: Invalid value: 21 items: request headers list can't exceed 20 items",
        ),
        (
            "bad annotation",
            |r| {
                r.metadata.annotations.insert("haproxy.router.openshift.io/timeout".into(), "fast".into());
            },
            "metadata.annotations[haproxy.router.openshift.io/timeout]: Invalid value: \"fast\": must be a duration",
        ),
    ];
    for (case, edit, expected) in table {
        let mut r = route();
        edit(&mut r);
        let found = errors(&r);
        // A host that is no DNS name also fails the per-label rule, as on OpenShift.
        let count = if case.starts_with("host") { 2 } else { 1 };
        assert_eq!(found.len(), count, "{case}: {found:#?}");
        assert!(found[0].starts_with(expected), "{case}:\n  found    {}\n  expected {expected}", found[0]);
    }
}

#[test]
fn valid_routes_pass() {
    type Edit = fn(&mut Route);
    let table: Vec<(&str, Edit)> = vec![
        ("minimal", |_| {}),
        ("host, path, port", |r| {
            r.spec.host = "www.example.com".into();
            r.spec.path = "/api".into();
            r.spec.port = Some(RoutePort { target_port: TargetPort::Name("http".into()) })
        }),
        ("weights 0 and 256", |r| {
            r.spec.to.weight = 0;
            r.spec.alternate_backends = vec![RouteTargetReference::service("b", 256)]
        }),
        ("three alternates", |r| {
            r.spec.alternate_backends = (1..=3).map(|i| RouteTargetReference::service(format!("b{i}"), 1)).collect()
        }),
        ("passthrough redirect", |r| {
            let mut t = tls(TlsTermination::Passthrough);
            t.insecure_edge_termination_policy = Some(InsecureEdgeTerminationPolicy::Redirect);
            r.spec.tls = Some(t)
        }),
        ("reencrypt with destination CA", |r| {
            let mut t = tls(TlsTermination::Reencrypt);
            t.destination_ca_certificate = "pem".into();
            r.spec.tls = Some(t)
        }),
        ("wildcard", |r| {
            r.spec.host = "wildcard.shop.example.com".into();
            r.spec.wildcard_policy = WildcardPolicy::Subdomain
        }),
        ("long label allowed by annotation", |r| {
            r.spec.host = format!("{}.example.com", "a".repeat(70));
            r.metadata.annotations.insert("route.openshift.io/allow-non-dns-compliant-host".into(), "true".into());
        }),
        ("dynamic header values", |r| {
            r.spec.http_headers = Some(RouteHttpHeaders {
                actions: RouteHttpHeaderActions {
                    request: vec![
                        header("X-Forwarded-Client-Cert", Some("%{+Q}[ssl_c_der,base64]")),
                        header("X-Host", Some("%[req.hdr(host),lower] and 100%%")),
                    ],
                    response: vec![header("X-Powered-By", None), header("X-Frame-Options", Some("DENY"))],
                },
            })
        }),
    ];
    for (case, edit) in table {
        let mut r = route();
        edit(&mut r);
        assert_eq!(errors(&r), Vec::<String>::new(), "{case}");
    }
}

#[test]
fn a_label_over_63_characters_needs_the_annotation() {
    let mut r = route();
    r.spec.host = format!("{}.example.com", "a".repeat(64));
    let found = errors(&r);
    assert_eq!(found, [format!("spec.host: Invalid value: {:?}: must be no more than 63 characters", r.spec.host)]);
}

#[test]
fn updates_keep_wildcard_policy_and_grandfather_old_hosts_and_paths() {
    let mut old = route();
    old.spec.host = "www.example.com".into();
    let mut new = old.clone();
    new.spec.wildcard_policy = WildcardPolicy::Subdomain;
    let error = validate_route_update(&new, &old).unwrap_err().to_string();
    assert!(error.contains("spec.wildcardPolicy: Invalid value: \"Subdomain\": field is immutable"), "{error}");

    // An old route whose host already broke the label rule may keep such a host.
    let long = format!("{}.example.com", "a".repeat(64));
    let mut old = route();
    old.spec.host = long.clone();
    old.spec.path = "/a b".into();
    let mut new = old.clone();
    new.spec.to.weight = 5;
    assert!(validate_route_update(&new, &old).is_ok(), "unchanged host and path are not re-checked");
    new.spec.host = format!("{}.example.com", "b".repeat(64));
    assert!(validate_route_update(&new, &old).is_ok(), "the old host was already label-invalid");
    new.spec.path = "/c d".into();
    assert!(validate_route_update(&new, &old).is_err(), "a changed path is checked");
    assert!(validate_route(&old).is_err(), "the same route is refused on create");
}

#[test]
fn reading_applies_the_api_servers_defaults() {
    // (tls block, termination after reading)
    let table = [
        ("{}", "edge"),
        ("{termination: Edge}", "edge"),
        ("{termination: Reencrypt}", "reencrypt"),
        ("{termination: Passthrough}", "passthrough"),
        ("{termination: ''}", "edge"),
    ];
    for (block, termination) in table {
        let text = format!(
            "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {{name: a, namespace: b}}\nspec:\n  to: {{name: s, kind: ''}}\n  alternateBackends: [{{name: t}}]\n  tls: {block}\n"
        );
        let r: Route = serde_norway::from_str(&text).unwrap();
        assert_eq!(r.termination().unwrap().as_str(), termination, "{block}");
        assert_eq!((r.spec.to.kind.as_str(), r.spec.to.weight), ("Service", 100));
        assert_eq!(r.spec.alternate_backends[0].weight, 100);
        assert_eq!(r.spec.wildcard_policy, WildcardPolicy::None);
    }
    // An empty termination with a destination CA is not defaulted.
    let text = "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {name: a}\nspec: {to: {name: s}, tls: {destinationCACertificate: x}}\n";
    let error = serde_norway::from_str::<Route>(text).unwrap_err().to_string();
    assert!(
        error.contains("Unsupported value: \"\": supported values: \"edge\", \"passthrough\", \"reencrypt\""),
        "{error}"
    );
    for (field, value, message) in [
        ("wildcardPolicy", "Domain", "Unsupported value: \"Domain\": supported values: \"None\", \"Subdomain\""),
        ("tls", "{insecureEdgeTerminationPolicy: redirect}", "acceptable values are None, Allow, Redirect, or empty"),
    ] {
        let text = format!(
            "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {{name: a}}\nspec: {{to: {{name: s}}, {field}: {value}}}\n"
        );
        let error = serde_norway::from_str::<Route>(&text).unwrap_err().to_string();
        assert!(error.contains(message), "{field}: {error}");
    }
}

#[test]
fn routes_write_exactly_route_openshift_io_v1() {
    let text = r#"apiVersion: route.openshift.io/v1
kind: Route
metadata:
  name: www
  namespace: shop
  uid: 6c1a
  creationTimestamp: '2026-01-01T00:00:00Z'
  annotations:
    haproxy.router.openshift.io/timeout: 60s
spec:
  host: www.example.com
  path: /
  to:
    kind: Service
    name: frontend
    weight: 100
  alternateBackends:
  - kind: Service
    name: canary
    weight: 0
  port:
    targetPort: 8080
  tls:
    termination: reencrypt
    certificate: CERT
    key: KEY
    destinationCACertificate: CA
    insecureEdgeTerminationPolicy: Redirect
  wildcardPolicy: None
status:
  ingress:
  - host: www.example.com
    routerName: default
    conditions:
    - type: Admitted
      status: 'True'
      lastTransitionTime: '2026-01-01T00:00:01Z'
    wildcardPolicy: None
"#;
    let r: Route = serde_norway::from_str(text).unwrap();
    assert_eq!(r.spec.port.as_ref().unwrap().target_port, TargetPort::Number(8080));
    assert_eq!(s2i_store::codec::to_yaml(&r).unwrap(), text, "reading and writing round-trips byte for byte");
    let json = serde_json::to_value(&r).unwrap();
    assert_eq!(json["apiVersion"], "route.openshift.io/v1");
    assert_eq!(json["spec"]["tls"]["insecureEdgeTerminationPolicy"], "Redirect");
    assert_eq!(json["status"]["ingress"][0]["conditions"][0]["status"], "True");

    let wrong = text.replace("route.openshift.io/v1", "route.openshift.io/v2");
    let error = serde_norway::from_str::<Route>(&wrong).unwrap_err().to_string();
    assert!(
        error.contains("apiVersion is \"route.openshift.io/v2\"; a Route has apiVersion \"route.openshift.io/v1\""),
        "{error}"
    );
}

#[test]
fn warnings_for_ignored_subdomain_and_ineffective_annotations() {
    let mut r = route();
    r.spec.host = "www.example.com".into();
    r.spec.subdomain = "www".into();
    r.metadata.annotations.insert("router.openshift.io/pool-size".into(), "4".into());
    let warnings = route_warnings(&r);
    assert_eq!(warnings[0], "spec.host is set; spec.subdomain may be ignored");
    assert!(warnings[1].contains("pool-size has no effect"), "{warnings:?}");
}

#[test]
fn services_are_validated() {
    let yaml = |spec: &str| -> Service {
        serde_norway::from_str(&format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: shop}}\nspec: {spec}\n"
        ))
        .unwrap()
    };
    assert!(
        validate_service(&yaml("{ports: [{name: http, port: 80, targetPort: 8080}], selector: {app: web}}")).is_ok()
    );
    // A Kubernetes Service has no spec.endpoints: fixed addresses are an Endpoints object of their own.
    let old_shape = "apiVersion: v1\nkind: Service\nmetadata: {name: web}\nspec: {endpoints: ['127.0.0.1:8080']}\n";
    // Unknown fields are found where input is read, by the codec (strict by default).
    let document = s2i_store::codec::read_documents("old.yaml", old_shape).unwrap().remove(0);
    let error = document.decode::<Service>().unwrap_err().to_string();
    assert!(error.contains("unknown field \"spec.endpoints\""), "{error}");
    // (spec, part of the message)
    let table = [
        ("{type: ExternalName}", "spec.externalName: Required value"),
        ("{ports: [{port: 0}]}", "spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"),
        (
            "{ports: [{port: 80}, {port: 81}]}",
            "spec.ports[0].name: Required value: ports of a service with several ports need names",
        ),
        ("{ports: [{name: a, port: 80}, {name: a, port: 81}]}", "spec.ports[1].name: Duplicate value: \"a\""),
        (
            "{ports: [{port: 80, protocol: HTTP}]}",
            "spec.ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
        ),
        (
            "{ports: [{port: 80, targetPort: HTTP_1}], selector: {app: web}}",
            "spec.ports[0].targetPort: Invalid value: \"HTTP_1\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
        ),
    ];
    // A named target port is valid (a cluster's containers name their ports); here it is a warning.
    let named = yaml("{ports: [{port: 80, targetPort: http}], selector: {app: web}}");
    assert!(validate_service(&named).is_ok());
    assert!(service_warnings(&named)[0].contains("containers on this machine have no named ports"));
    for (spec, expected) in table {
        let error = validate_service(&yaml(spec)).unwrap_err().to_string();
        assert!(error.contains(expected), "{spec}: {error}");
    }
    let mut bad_name = yaml("{}");
    bad_name.metadata.name = "1web".into();
    assert!(validate_service(&bad_name).unwrap_err().to_string().contains("a DNS-1035 label"));
}
