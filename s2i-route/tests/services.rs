//! Services and Endpoints as a cluster has them: files as `oc get -o yaml`
//! prints them go into the store and come back with their fields, what we
//! write is what Kubernetes' own types take, the API server's rules and
//! messages, where traffic goes, and stores written by older versions.

#![cfg(feature = "store")]

mod cluster;
mod common;

use std::path::Path;

use s2i_route::endpoints::Endpoints;
use s2i_route::store::*;
use s2i_route::validation::{
    endpoints_warnings, service_warnings, validate_endpoints, validate_endpoints_update, validate_service,
    validate_service_update,
};
use s2i_route::*;
use s2i_store::codec::read_documents;
use s2i_store::{Error as StoreError, Store};
use serde_json::{Value, json};

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

fn data(name: &str) -> (String, String) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/openshift").join(name);
    (name.to_owned(), std::fs::read_to_string(path).unwrap())
}

/// The files of `tests/data/openshift`, by name.
fn fixtures() -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/openshift");
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|entry| entry.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names.len(), 6, "{names:?}");
    names
}

/// The documents of a fixture, as JSON values.
fn documents(text: &str) -> Vec<Value> {
    read_documents("fixture", text).unwrap().into_iter().map(|document| document.value).collect()
}

#[test]
fn the_fixtures_are_what_kubernetes_types_hold() {
    for name in &fixtures() {
        let (file, text) = data(name);
        for document in documents(&text) {
            cluster::judge(&file, &document);
        }
    }
}

#[test]
fn a_service_as_oc_prints_it_goes_through_the_store_with_its_fields() {
    for name in &fixtures() {
        let (file, text) = data(name);
        let (_dir, store) = store();
        for (document, given) in read_documents(&file, &text).unwrap().into_iter().zip(documents(&text)) {
            let kind = document.kind.clone();
            let stored: Value = match kind.as_str() {
                "Service" => {
                    let mut service: Service = document.decode().unwrap();
                    let (stored, action) = store.write(|tx| apply_service(tx, service.clone())).unwrap();
                    assert_eq!(action, WriteAction::Created, "{file}: the cluster's resourceVersion is not ours");
                    // Applied again, the cluster's resourceVersion is a stale one here, as it would be on
                    // another cluster: a conflict, unless the file leaves it out.
                    let stale = store.write(|tx| apply_service(tx, service.clone()));
                    assert!(matches!(stale, Err(StoreError::Conflict { .. })), "{file}: {stale:?}");
                    service.metadata.resource_version.clear();
                    let (_, again) = store.write(|tx| apply_service(tx, service.clone())).unwrap();
                    assert_eq!(again, WriteAction::Unchanged, "{file}: the same file again changes nothing");
                    serde_json::to_value(&stored).unwrap()
                }
                "Endpoints" => {
                    let mut endpoints: Endpoints = document.decode().unwrap();
                    endpoints.metadata.resource_version.clear();
                    let (stored, _) = store.write(|tx| apply_endpoints(tx, endpoints.clone())).unwrap();
                    let (_, again) = store.write(|tx| apply_endpoints(tx, endpoints.clone())).unwrap();
                    assert_eq!(again, WriteAction::Unchanged, "{file}");
                    serde_json::to_value(&stored).unwrap()
                }
                other => panic!("{file}: {other}"),
            };
            // The spec (or subsets) as the cluster wrote it; labels and annotations kept.
            for part in ["spec", "subsets"] {
                assert_eq!(stored.get(part), given.get(part), "{file}: {part}");
            }
            for part in ["labels", "annotations", "name", "namespace"] {
                assert_eq!(stored["metadata"].get(part), given["metadata"].get(part), "{file}: metadata.{part}");
            }
            // What the cluster owns is not kept: status, managed fields, its uid and versions.
            assert!(stored.get("status").is_none(), "{file}");
            assert!(stored["metadata"].get("managedFields").is_none(), "{file}");
            assert_ne!(stored["metadata"]["uid"], given["metadata"]["uid"], "{file}: the store's own uid");
            cluster::judge(&format!("{file} as stored"), &stored);
        }
    }
}

#[test]
fn what_this_machine_does_differently_is_a_warning() {
    let service = |name: &str| -> Service {
        let (_, text) = data(name);
        read_documents(name, &text).unwrap().remove(0).decode().unwrap()
    };
    assert!(service_warnings(&service("service-clusterip.yaml")).is_empty());
    let balancer = service_warnings(&service("service-loadbalancer.yaml")).join("\n");
    assert!(balancer.contains("spec.type is LoadBalancer: no load balancer is made on this machine"), "{balancer}");
    assert!(balancer.contains("spec.ports[1]: the router carries TCP only, so UDP port 9090"), "{balancer}");
    let alias = service_warnings(&service("service-externalname.yaml")).join("\n");
    assert!(
        alias.contains("spec.type is ExternalName: \"payments.example.net\" is a DNS alias on a cluster"),
        "{alias}"
    );
    let headless = service_warnings(&service("service-headless.yaml")).join("\n");
    assert!(headless.contains("spec.ports[0].targetPort \"postgres\": containers on this machine"), "{headless}");

    let mut node_port = service("service-clusterip.yaml");
    node_port.spec.service_type = "NodePort".into();
    node_port.spec.external_name = "ignored.example.com".into();
    let warnings = service_warnings(&node_port).join("\n");
    assert!(warnings.contains("spec.type is NodePort: nothing listens on node ports"), "{warnings}");
    assert!(warnings.contains("spec.externalName is ignored when spec.type is not \"ExternalName\""), "{warnings}");

    let (_, text) = data("endpoints-headless.yaml");
    let endpoints: Endpoints = read_documents("e", &text).unwrap().remove(0).decode().unwrap();
    let warnings = endpoints_warnings(&endpoints, Some(&service("service-headless.yaml")));
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0].contains("service \"db\" has a selector, so its endpoints are its containers"));
    let orphan = endpoints_warnings(&endpoints, None);
    assert!(orphan[0].contains("there is no service \"db\" in namespace \"shop\""), "{orphan:?}");
}

fn service_yaml(spec: &str) -> Service {
    serde_norway::from_str(&format!(
        "apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: shop}}\nspec: {spec}\n"
    ))
    .unwrap()
}

#[test]
fn services_are_validated_with_the_api_servers_messages() {
    // (spec, the message of one of its problems)
    let table = [
        ("{}", "spec.ports: Required value"),
        (
            "{type: Balancer, ports: [{port: 80}]}",
            "spec.type: Unsupported value: \"Balancer\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"",
        ),
        (
            "{ports: [{port: 80, nodePort: 30080}]}",
            "spec.ports[0].nodePort: Forbidden: may not be used when `type` is 'ClusterIP'",
        ),
        ("{ports: [{name: a, port: 80}, {name: b, port: 80}]}", "spec.ports[1]: Duplicate value: \"80/TCP\""),
        (
            "{ports: [{port: 80, appProtocol: 'not valid'}]}",
            "spec.ports[0].appProtocol: Invalid value: \"not valid\": name part must consist of alphanumeric characters",
        ),
        (
            "{ports: [{port: 80, targetPort: 70000}]}",
            "spec.ports[0].targetPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
        ),
        (
            "{ports: [{port: 80}], clusterIP: 10.0.0.300}",
            "spec.clusterIPs[0]: Invalid value: \"10.0.0.300\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        ),
        (
            "{ports: [{port: 80}], clusterIP: None, type: NodePort}",
            "spec.clusterIPs[0]: Invalid value: \"None\": may not be set to 'None' for NodePort services",
        ),
        (
            "{ports: [{port: 80}], clusterIP: 10.0.0.1, clusterIPs: [10.0.0.2]}",
            "spec.clusterIPs: Invalid value: \"10.0.0.2\": element [0] must match clusterIP",
        ),
        (
            "{type: ExternalName, externalName: 'Not_A_Name'}",
            "spec.externalName: Invalid value: \"Not_A_Name\": a lowercase RFC 1123 subdomain",
        ),
        (
            "{type: ExternalName, externalName: db.example.com, clusterIP: 10.0.0.1}",
            "spec.clusterIPs: Forbidden: may not be set for ExternalName services",
        ),
        (
            "{ports: [{port: 80}], sessionAffinity: Sticky}",
            "spec.sessionAffinity: Unsupported value: \"Sticky\": supported values: \"ClientIP\", \"None\"",
        ),
        (
            "{ports: [{port: 80}], sessionAffinity: ClientIP, sessionAffinityConfig: {clientIP: {timeoutSeconds: 0}}}",
            "spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than 86400",
        ),
        (
            "{ports: [{port: 80}], sessionAffinityConfig: {clientIP: {timeoutSeconds: 60}}}",
            "spec.sessionAffinityConfig: Invalid value: \"{\\\"clientIP\\\":{\\\"timeoutSeconds\\\":60}}\": must not be set when session affinity is None",
        ),
        (
            "{ports: [{port: 80}], externalIPs: [127.0.0.1]}",
            "spec.externalIPs[0]: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ),
        (
            "{ports: [{port: 80}], loadBalancerSourceRanges: [10.0.0.0/8]}",
            "spec.loadBalancerSourceRanges: Forbidden: may only be used when `type` is 'LoadBalancer'",
        ),
        (
            "{ports: [{port: 80}], type: LoadBalancer, loadBalancerSourceRanges: [10.0.0.0]}",
            "spec.loadBalancerSourceRanges[0]: Invalid value: \"10.0.0.0\": must be a list of IP ranges",
        ),
        (
            "{ports: [{port: 80}], loadBalancerClass: example.com/lb}",
            "spec.loadBalancerClass: Forbidden: may only be used when `type` is 'LoadBalancer'",
        ),
        (
            "{ports: [{port: 80}], allocateLoadBalancerNodePorts: false}",
            "spec.allocateLoadBalancerNodePorts: Forbidden: may only be used when `type` is 'LoadBalancer'",
        ),
        (
            "{ports: [{port: 80}], externalTrafficPolicy: Local}",
            "spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set for externally-accessible services",
        ),
        (
            "{ports: [{port: 80}], type: NodePort, externalTrafficPolicy: Nearest}",
            "spec.externalTrafficPolicy: Unsupported value: \"Nearest\": supported values: \"Cluster\", \"Local\"",
        ),
        (
            "{ports: [{port: 80}], type: NodePort, healthCheckNodePort: 31000}",
            "spec.healthCheckNodePort: Invalid value: 31000: may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        ),
        (
            "{ports: [{port: 80}], internalTrafficPolicy: Node}",
            "spec.internalTrafficPolicy: Unsupported value: \"Node\": supported values: \"Cluster\", \"Local\"",
        ),
        (
            "{ports: [{port: 80}], ipFamilies: [IPv5]}",
            "spec.ipFamilies[0]: Unsupported value: \"IPv5\": supported values: \"IPv4\", \"IPv6\"",
        ),
        ("{ports: [{port: 80}], ipFamilies: [IPv4, IPv4]}", "spec.ipFamilies[1]: Duplicate value: \"IPv4\""),
        (
            "{ports: [{port: 80}], ipFamilies: [IPv4, IPv6], ipFamilyPolicy: SingleStack}",
            "spec.ipFamilyPolicy: Invalid value: \"SingleStack\": must be RequireDualStack or PreferDualStack when multiple IP families are specified",
        ),
        (
            "{ports: [{port: 80}], clusterIP: 'fd00::1', ipFamilies: [IPv4]}",
            "spec.clusterIPs[0]: Invalid value: \"fd00::1\": expected an IPv4 value as indicated by `ipFamilies[0]`",
        ),
        (
            "{ports: [{port: 80}], trafficDistribution: Anywhere}",
            "spec.trafficDistribution: Unsupported value: \"Anywhere\": supported values: \"PreferClose\", \"PreferSameNode\", \"PreferSameZone\"",
        ),
        (
            "{ports: [{port: 80}], selector: {'app/x/y': web}}",
            "spec.selector: Invalid value: \"app/x/y\": a qualified name must consist of alphanumeric characters",
        ),
        (
            "{ports: [{port: 80}], selector: {app: 'web app'}}",
            "spec.selector: Invalid value: \"web app\": a valid label must be an empty string or consist of alphanumeric characters",
        ),
    ];
    for (spec, expected) in table {
        let error = validate_service(&service_yaml(spec)).unwrap_err().to_string();
        assert!(error.contains(expected), "{spec}:\n{error}\nwanted: {expected}");
    }
    // Headless and ExternalName services may have no ports.
    validate_service(&service_yaml("{clusterIP: None, selector: {app: web}}")).unwrap();
    validate_service(&service_yaml("{type: ExternalName, externalName: 'db.example.com.'}")).unwrap();

    // An address once set stays; leaving it out of an update keeps it (see the store test).
    let old = service_yaml("{ports: [{port: 80}], clusterIP: 10.0.0.1}");
    let moved = service_yaml("{ports: [{port: 80}], clusterIP: 10.0.0.2}");
    let error = validate_service_update(&moved, &old).unwrap_err().to_string();
    assert!(error.contains("spec.clusterIPs[0]: Invalid value: \"10.0.0.2\": may not change once set"), "{error}");
    // A service stored without ports by an older version may be updated as it is.
    let portless = service_yaml("{selector: {app: web}}");
    validate_service_update(&portless, &portless).unwrap();
}

#[test]
fn the_store_applies_the_api_servers_defaults_and_keeps_allocated_values() {
    let (_dir, store) = store();
    let created =
        store.write(|tx| create_service(tx, service_yaml("{ports: [{port: 8080}], selector: {app: web}}"))).unwrap();
    let spec = serde_json::to_value(&created.spec).unwrap();
    assert_eq!(
        spec,
        json!({
            "ports": [{"protocol": "TCP", "port": 8080, "targetPort": 8080}],
            "selector": {"app": "web"},
            "type": "ClusterIP",
            "sessionAffinity": "None",
            "internalTrafficPolicy": "Cluster",
        })
    );
    let affinity = store
        .write(|tx| {
            let mut service = service_yaml("{ports: [{port: 80}], type: LoadBalancer, sessionAffinity: ClientIP}");
            service.metadata.name = "lb".into();
            create_service(tx, service)
        })
        .unwrap();
    assert_eq!(affinity.spec.session_affinity_config.unwrap().client_ip.unwrap().timeout_seconds, Some(10800));
    assert_eq!(affinity.spec.external_traffic_policy, "Cluster");
    assert_eq!(affinity.spec.allocate_load_balancer_node_ports, Some(true));

    // An update without the cluster address or node ports keeps them, as `kubectl apply` of a trimmed file does.
    let (_, text) = data("service-loadbalancer.yaml");
    let mut full: Service = read_documents("lb", &text).unwrap().remove(0).decode().unwrap();
    full.metadata.resource_version.clear();
    store.write(|tx| apply_service(tx, full.clone())).unwrap();
    let mut trimmed = full.clone();
    trimmed.spec.cluster_ip.clear();
    trimmed.spec.cluster_ips.clear();
    trimmed.spec.health_check_node_port = 0;
    for port in &mut trimmed.spec.ports {
        port.node_port = 0;
    }
    let (kept, action) = store.write(|tx| apply_service(tx, trimmed.clone())).unwrap();
    assert_eq!(action, WriteAction::Unchanged, "{:#?}", kept.spec);
}

#[test]
fn endpoints_are_validated_as_the_api_server_does_but_for_loopback() {
    let endpoints = |subsets: &str| -> Endpoints {
        serde_norway::from_str(&format!(
            "apiVersion: v1\nkind: Endpoints\nmetadata: {{name: web, namespace: shop}}\nsubsets: {subsets}\n"
        ))
        .unwrap()
    };
    let table = [
        ("[{ports: [{port: 80}]}]", "subsets[0]: Required value: must specify `addresses` or `notReadyAddresses`"),
        (
            "[{addresses: [{ip: 'web.internal'}]}]",
            "subsets[0].addresses[0].ip: Invalid value: \"web.internal\": must be a valid IP address",
        ),
        (
            "[{addresses: [{ip: 0.0.0.0}]}]",
            "subsets[0].addresses[0].ip: Invalid value: \"0.0.0.0\": may not be unspecified (0.0.0.0)",
        ),
        ("[{addresses: [{ip: 224.0.0.5}]}]", "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"),
        (
            "[{addresses: [{ip: 10.0.0.1, hostname: Web_1}]}]",
            "subsets[0].addresses[0].hostname: Invalid value: \"Web_1\"",
        ),
        (
            "[{addresses: [{ip: 10.0.0.1}], ports: [{port: 80}, {name: b, port: 81}]}]",
            "subsets[0].ports[0].name: Required value",
        ),
        (
            "[{addresses: [{ip: 10.0.0.1}], ports: [{port: 0}]}]",
            "subsets[0].ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive",
        ),
        (
            "[{addresses: [{ip: 10.0.0.1}], ports: [{port: 80, protocol: QUIC}]}]",
            "subsets[0].ports[0].protocol: Unsupported value: \"QUIC\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
        ),
    ];
    for (subsets, expected) in table {
        let error = validate_endpoints(&endpoints(subsets)).unwrap_err().to_string();
        assert!(error.contains(expected), "{subsets}:\n{error}\nwanted: {expected}");
    }
    // Loopback and link-local addresses are what a laptop needs: accepted, with what a cluster says.
    let local = endpoints(
        "[{addresses: [{ip: 127.0.0.1}, {ip: '::1'}, {ip: 169.254.1.1}], ports: [{name: http, port: 8080}]}]",
    );
    validate_endpoints(&local).unwrap();
    let service = service_yaml("{ports: [{name: http, port: 80, targetPort: 8080}]}");
    let warnings = endpoints_warnings(&local, Some(&service));
    assert_eq!(
        warnings,
        [
            "subsets[0].addresses[0].ip: a cluster refuses 127.0.0.1: may not be in the loopback range (127.0.0.0/8, ::1/128)",
            "subsets[0].addresses[1].ip: a cluster refuses ::1: may not be in the loopback range (127.0.0.0/8, ::1/128)",
            "subsets[0].addresses[2].ip: a cluster refuses 169.254.1.1: may not be in the link-local range (169.254.0.0/16, fe80::/10)",
        ]
    );
    let unnamed = endpoints("[{addresses: [{ip: 10.0.0.1}], ports: [{name: web, port: 8080}]}]");
    assert!(endpoints_warnings(&unnamed, Some(&service))[0].contains("name \"web\" names no port of service \"web\""));
    // A host name stored by an older version stays acceptable on update.
    let named = endpoints("[{addresses: [{ip: app.internal}], ports: [{name: http, port: 8080}]}]");
    assert!(validate_endpoints(&named).is_err());
    validate_endpoints_update(&named, &named).unwrap();
}

#[test]
fn fixed_addresses_become_an_endpoints_object_named_after_the_service_ports() {
    let service = service_yaml("{ports: [{name: http, port: 80, targetPort: 8080}, {name: admin, port: 9000}]}");
    let addresses: Vec<Endpoint> = ["10.0.0.2:8080", "10.0.0.1:8080", "10.0.0.1:9000", "[fd00::5]:8080"]
        .iter()
        .map(|a| a.parse().unwrap())
        .collect();
    let endpoints = Endpoints::for_service(&service, &addresses).unwrap();
    assert_eq!(
        serde_json::to_value(&endpoints).unwrap(),
        json!({
            "apiVersion": "v1",
            "kind": "Endpoints",
            "metadata": {"name": "web", "namespace": "shop"},
            "subsets": [
                {
                    "addresses": [{"ip": "10.0.0.1"}],
                    "ports": [{"name": "admin", "port": 9000, "protocol": "TCP"}, {"name": "http", "port": 8080, "protocol": "TCP"}]
                },
                {
                    "addresses": [{"ip": "10.0.0.2"}, {"ip": "fd00::5"}],
                    "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]
                }
            ]
        })
    );
    validate_endpoints(&endpoints).unwrap();
    cluster::judge("for_service", &serde_json::to_value(&endpoints).unwrap());

    // Traffic: every ready address on each of its ports, named as the service port.
    let resolved = ServiceEndpoints::fixed(std::slice::from_ref(&service), &[endpoints]);
    let authorities: Vec<(String, String)> =
        resolved.get("shop", "web").unwrap().iter().map(|e| (e.authority(), e.port_name.clone())).collect();
    assert_eq!(
        authorities,
        [
            ("10.0.0.1:8080".to_owned(), "http".to_owned()),
            ("10.0.0.1:9000".to_owned(), "admin".to_owned()),
            ("10.0.0.2:8080".to_owned(), "http".to_owned()),
            ("[fd00::5]:8080".to_owned(), "http".to_owned()),
        ]
    );

    let error = Endpoints::for_service(&service, &["10.0.0.1:3000".parse().unwrap()]).unwrap_err().to_string();
    assert!(error.contains("no port of service web leads to port 3000"), "{error}");
    // One TCP port carries every address, whatever its port (its name pairs them on a cluster).
    let one = service_yaml("{ports: [{name: http, port: 80, targetPort: 8080}]}");
    let single = Endpoints::for_service(&one, &["127.0.0.1:3000".parse().unwrap()]).unwrap();
    assert_eq!(single.subsets[0].ports[0].name, "http");
    assert_eq!(single.subsets[0].ports[0].port, 3000);

    for bad in ["localhost:80", "app.internal:80", "127.0.0.1", "[::1]:0"] {
        assert!(bad.parse::<Endpoint>().is_err(), "{bad}");
    }
    let error = "localhost:3000".parse::<Endpoint>().unwrap_err().to_string();
    assert!(error.contains("for this machine write 127.0.0.1 or [::1]"), "{error}");
}

#[test]
fn a_service_without_selector_goes_to_its_endpoints_object_and_deleting_it_deletes_them() {
    let (_dir, store) = store();
    let service = service_yaml("{ports: [{name: http, port: 80, targetPort: 8080}]}");
    let (created, endpoints) = store
        .write(|tx| create_service_with_endpoints(tx, service.clone(), &["127.0.0.1:8080".parse().unwrap()]))
        .unwrap();
    let endpoints = endpoints.unwrap();
    assert_eq!(endpoints.metadata.name, "web");
    assert!(!endpoints.metadata.uid.is_empty() && endpoints.metadata.uid != created.metadata.uid);
    let again = store.write(|tx| create_service_with_endpoints(tx, service.clone(), &[]));
    assert!(matches!(again, Err(StoreError::AlreadyExists { .. })), "{again:?}");

    let (services, objects) =
        store.read(|tx| Ok::<_, StoreError>((list_services(tx, None)?, list_endpoints(tx, None)?))).unwrap();
    let resolved = ServiceEndpoints::fixed(&services, &objects);
    assert_eq!(resolved.get("shop", "web").unwrap()[0].authority(), "127.0.0.1:8080");

    // Deleting the Endpoints object leaves the service without endpoints; applying it again restores them.
    let deleted = store.write(|tx| delete_endpoints(tx, "shop", "web")).unwrap();
    let objects = store.read(|tx| list_endpoints(tx, None)).unwrap();
    assert_eq!(ServiceEndpoints::fixed(&services, &objects).get("shop", "web"), Some(&[][..]));
    store.write(|tx| apply_endpoints(tx, deleted.clone())).unwrap();

    // Deleting the service deletes the Endpoints object of its name, as a cluster's endpoints controller does.
    let (_, gone) = store.write(|tx| delete_service(tx, "shop", "web")).unwrap();
    assert_eq!(gone.map(|e| e.subsets), Some(deleted.subsets));
    assert!(store.read(|tx| get_endpoints(tx, "shop", "web")).unwrap().is_none());
    let error = store.write(|tx| delete_endpoints(tx, "shop", "web")).unwrap_err();
    assert!(matches!(error, StoreError::NotFound { .. }), "{error:?}");
}

/// A store as the previous version left it: services with `spec.endpoints`, written directly.
fn old_store() -> (tempfile::TempDir, Store, Vec<s2i_store::StoredObject>) {
    let (dir, store) = store();
    let old = [
        // `s2i service create api --endpoint 127.0.0.1:3000` (no ports).
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "shop"},
               "spec": {"endpoints": ["127.0.0.1:3000"]}}),
        // Ports and several addresses, IPv6 among them, and one port no service port leads to.
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web", "namespace": "shop", "labels": {"app": "web"}},
               "spec": {"ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080}, {"name": "admin", "protocol": "TCP", "port": 9000}],
                        "endpoints": ["10.0.0.1:8080", "[fd00::5]:8080", "10.0.0.1:9000", "10.0.0.9:7000"]}}),
        // A host name, which an Endpoints object cannot hold on a cluster.
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "named", "namespace": "dev"},
               "spec": {"ports": [{"protocol": "TCP", "port": 80}], "endpoints": ["app.internal:80"]}}),
        // A selector service, as older versions stored it (no defaults).
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "sel", "namespace": "shop"},
               "spec": {"ports": [{"protocol": "TCP", "port": 8080}], "selector": {"app": "sel"}}}),
    ];
    let stored = store
        .write(|tx| {
            old.iter()
                .map(|body| {
                    let meta = &body["metadata"];
                    let (namespace, name) = (meta["namespace"].as_str().unwrap(), meta["name"].as_str().unwrap());
                    tx.create("Service", namespace, name, body.clone())
                })
                .collect::<Result<Vec<_>, _>>()
        })
        .unwrap();
    (dir, store, stored)
}

#[test]
fn a_store_of_the_previous_version_is_migrated_once() {
    let (dir, store, before) = old_store();
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(migrate(&store).unwrap(), ["s2i-route/service-endpoints"]);
    assert!(migrate(&store).unwrap().is_empty(), "once");
    assert!(store.check().unwrap().is_empty(), "{:?}", store.check());

    let (services, objects) =
        store.read(|tx| Ok::<_, StoreError>((list_services(tx, None)?, list_endpoints(tx, None)?))).unwrap();
    for service in &services {
        let old = before.iter().find(|o| o.name == service.metadata.name).unwrap();
        assert_eq!(service.metadata.uid, old.uid, "{}: the service keeps its identity", service.metadata.name);
        assert_eq!(service.metadata.creation_timestamp, Some(old.creation_timestamp));
        assert!(
            service.metadata.resource_version.parse::<u64>().unwrap() > old.resource_version,
            "and its version moves"
        );
        validate_service(service).unwrap();
        cluster::judge(&service.metadata.name, &serde_json::to_value(service).unwrap());
    }
    let get =
        |namespace: &str, name: &str| services.iter().find(|s| s.key() == ObjectKey::new(namespace, name)).unwrap();
    // No ports: one per address port, named by its number, as `kubectl create service --tcp` names them.
    assert_eq!(
        serde_json::to_value(&get("shop", "api").spec.ports).unwrap(),
        json!([{"name": "3000", "protocol": "TCP", "port": 3000, "targetPort": 3000}])
    );
    assert_eq!(get("shop", "web").metadata.labels["app"], "web");
    assert_eq!(get("shop", "sel").spec.service_type, "ClusterIP", "every service gets the defaults");
    assert_eq!(objects.len(), 3, "a selector service gets no Endpoints object: {objects:?}");

    // Traffic goes where it went: the same addresses, ports and port names as the old router's.
    let resolved = ServiceEndpoints::fixed(&services, &objects);
    let served = |namespace: &str, name: &str| -> Vec<(String, String)> {
        resolved.get(namespace, name).unwrap().iter().map(|e| (e.authority(), e.port_name.clone())).collect()
    };
    let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
        list.iter().map(|(a, n)| ((*a).into(), (*n).into())).collect()
    };
    assert_eq!(served("shop", "api"), pairs(&[("127.0.0.1:3000", "3000")]));
    assert_eq!(
        served("shop", "web"),
        pairs(&[
            ("10.0.0.1:8080", "http"),
            ("10.0.0.1:9000", "admin"),
            ("10.0.0.9:7000", ""),
            ("[fd00::5]:8080", "http")
        ])
    );
    assert_eq!(served("dev", "named"), pairs(&[("app.internal:80", "")]));

    // The migrated objects apply again as they are (a host name passes as a stored value).
    let named = objects.iter().find(|e| e.metadata.name == "named").unwrap().clone();
    assert!(endpoints_warnings(&named, Some(get("dev", "named")))[0].contains("\"app.internal\" is not an IP address"));
    let (_, action) = store.write(|tx| apply_endpoints(tx, named.clone())).unwrap();
    assert_eq!(action, WriteAction::Unchanged);
    for service in &services {
        let (_, action) = store.write(|tx| apply_service(tx, service.clone())).unwrap();
        assert_eq!(action, WriteAction::Unchanged, "{}", service.metadata.name);
    }
    for endpoints in objects.iter().filter(|e| e.metadata.name != "named") {
        validate_endpoints(endpoints).unwrap();
        cluster::judge(&endpoints.metadata.name, &serde_json::to_value(endpoints).unwrap());
    }
}

#[cfg(feature = "serve")]
#[test]
fn the_store_router_migrates_a_store_it_is_handed() {
    use s2i_route::haproxy::RouterConfig;
    use s2i_route::router::{Router, RouterOptions};
    use s2i_route::serve::StoreRouter;

    common::require_haproxy();
    let (_dir, store, _) = old_store();
    let work = tempfile::tempdir().unwrap();
    let mut config = RouterConfig::new(s2i_route::tls::generate_default_certificate("apps.localhost").unwrap());
    let free = || std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    config.http_port = free();
    config.https_port = free();
    config.stats_port = None;
    let options = RouterOptions::new(work.path().join("router"), config);
    let mut router = StoreRouter::new(Router::new(options, std::sync::Arc::new(|_| {})).unwrap());
    futures::executor::block_on(router.sync(&store, None)).unwrap();
    let endpoints = router.endpoints().unwrap();
    assert_eq!(endpoints.get("shop", "api").unwrap()[0].authority(), "127.0.0.1:3000");
    assert_eq!(store.object_migrations().unwrap(), ["s2i-route/service-endpoints"]);
    router.stop();
}

#[test]
fn a_field_a_cluster_does_not_know_is_caught_by_the_judge() {
    let service = json!({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"ports": [{"port": 80}], "endpoints": ["127.0.0.1:80"]}
    });
    let caught = std::panic::catch_unwind(|| cluster::judge("old shape", &service)).unwrap_err();
    let message = caught.downcast_ref::<String>().unwrap();
    assert!(message.contains("spec.endpoints is not a field a cluster keeps"), "{message}");
    let wrong_version = json!({
        "apiVersion": "gateway.networking.k8s.io/v1alpha2", "kind": "HTTPRoute", "metadata": {"name": "web"}, "spec": {}
    });
    let caught = std::panic::catch_unwind(|| cluster::judge("version", &wrong_version)).unwrap_err();
    assert!(caught.downcast_ref::<String>().unwrap().contains("apiVersion"), "a wrong version is caught");
}
