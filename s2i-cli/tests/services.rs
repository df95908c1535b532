//! Services and Endpoints through the CLI, judged by Kubernetes' and Gateway
//! API's own types: what `get -o yaml|json` and `route export` print is
//! what a cluster takes; files as `oc get -o yaml` prints them apply; a
//! store of the previous version is migrated when a command opens it.

mod support;

#[path = "../../s2i-route/tests/cluster/mod.rs"]
mod cluster;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::*;

/// `s2i` on a store of its own, in namespace `shop`.
fn s2i_at(store: &Path, args: &[&str]) -> Run {
    Run::from(s2i_in(store, "shop").env_remove("S2I_ROUTE_DOMAIN").args(args).output().expect("s2i runs"))
}

/// The output of `get … -o json`, judged; and the same with `-o yaml`, judged and equal.
fn judged(store: &Path, args: &[&str]) -> Value {
    let mut json_args = args.to_vec();
    json_args.extend(["-o", "json"]);
    let value: Value = serde_json::from_str(&s2i_at(store, &json_args).ok().stdout).unwrap();
    cluster::judge(&json_args.join(" "), &value);
    let mut yaml_args = args.to_vec();
    yaml_args.extend(["-o", "yaml"]);
    let yaml = s2i_at(store, &yaml_args).ok().stdout;
    cluster::judge_documents(&yaml_args.join(" "), &yaml);
    assert_eq!(serde_norway::from_str::<Value>(&yaml).unwrap(), value, "yaml and json say the same");
    value
}

fn openshift_file(name: &str) -> PathBuf {
    workspace().join("s2i-route/tests/data/openshift").join(name)
}

#[test]
fn service_create_writes_a_service_and_its_endpoints_that_a_cluster_takes() {
    let store = tempfile::tempdir().unwrap();
    let s = store.path();
    let run = s2i_at(s, &["service", "create", "api", "--endpoint", "127.0.0.1:3000", "--endpoint", "[::1]:3000"]).ok();
    assert_eq!(run.stdout, "service/api created\nendpoints/api created\n");
    s2i_at(s, &["service", "create", "web", "--selector", "app=web", "--port", "80:8080"]).ok();

    let service = judged(s, &["get", "svc", "api"]);
    assert_eq!(
        service["spec"]["ports"],
        serde_json::json!([{"name": "3000", "protocol": "TCP", "port": 3000, "targetPort": 3000}])
    );
    assert!(service["spec"].get("endpoints").is_none());
    let endpoints = judged(s, &["get", "ep", "api"]);
    assert_eq!(
        endpoints["subsets"],
        serde_json::json!([{"addresses": [{"ip": "127.0.0.1"}, {"ip": "::1"}], "ports": [{"name": "3000", "port": 3000, "protocol": "TCP"}]}])
    );
    let list = judged(s, &["get", "services"]);
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    judged(s, &["get", "endpoints", "-A"]);
    assert_eq!(s2i_at(s, &["get", "ep"]).ok().stdout, "NAME   ENDPOINTS\napi    127.0.0.1:3000,[::1]:3000\n");
    assert_eq!(s2i_at(s, &["get", "endpoints", "api", "-o", "name"]).ok().stdout, "endpoints/api\n");

    let described = s2i_at(s, &["describe", "svc", "api"]).ok().stdout;
    assert!(described.contains("Type:             ClusterIP\n"), "{described}");
    assert!(described.contains("Endpoints:        127.0.0.1:3000, [::1]:3000\n"), "{described}");
    let described = s2i_at(s, &["describe", "ep", "api"]).ok().stdout;
    assert!(
        described.contains("Service:          api\n") && described.contains("Addresses:        127.0.0.1,::1\n"),
        "{described}"
    );

    // Exports of a route to these services are what a cluster takes too.
    s2i_at(s, &["expose", "svc", "web", "--hostname", "web.example.com"]).ok();
    s2i_at(
        s,
        &[
            "route",
            "create",
            "edge",
            "api",
            "--service",
            "api",
            "--hostname",
            "api.example.com",
            "--insecure-policy",
            "Redirect",
        ],
    )
    .ok();
    for route in ["web", "api"] {
        for target in ["ingress", "gateway"] {
            let yaml = s2i_at(s, &["route", "export", route, "--to", target]).ok().stdout;
            let kinds = cluster::judge_documents(&format!("{route} --to {target}"), &yaml);
            assert!(!kinds.is_empty(), "{yaml}");
        }
    }

    // Deleting a service deletes its Endpoints object, as a cluster's endpoints controller does.
    let run = s2i_at(s, &["delete", "svc", "api"]).ok();
    assert_eq!(run.stdout, "service \"api\" deleted\nendpoints \"api\" deleted\n");
    assert!(s2i_at(s, &["get", "ep", "api"]).failed().stderr.contains("Endpoints \"api\" not found"));
    assert!(run.stderr.contains("warning: route shop/api still points at service \"api\""), "{}", run.stderr);
}

#[test]
fn services_and_endpoints_as_oc_prints_them_apply_and_come_back() {
    let store = tempfile::tempdir().unwrap();
    let s = store.path();
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(openshift_file("")).unwrap().map(|entry| entry.unwrap().path()).collect();
    files.sort();
    let mut args = vec!["apply".to_owned()];
    for file in &files {
        args.extend(["-f".to_owned(), file.display().to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = s2i_at(s, &args).ok();
    assert_eq!(
        run.stdout,
        "endpoints/db created\nservice/web created\nservice/payments created\nservice/db created\nservice/storefront created\nservice/legacy-db created\nendpoints/legacy-db created\n"
    );
    for warning in [
        "warning: service shop/storefront: spec.type is LoadBalancer: no load balancer is made on this machine",
        "warning: service shop/storefront: spec.ports[1]: the router carries TCP only",
        "warning: service shop/payments: spec.type is ExternalName",
        "warning: service shop/db: spec.ports[0].targetPort \"postgres\": containers on this machine have no named ports",
        "warning: endpoints shop/db: service \"db\" has a selector, so its endpoints are its containers and this object is not used",
    ] {
        assert!(run.stderr.contains(warning), "{warning}\n{}", run.stderr);
    }
    assert!(!run.stderr.contains("endpoints shop/legacy-db"), "its addresses are fine for a cluster:\n{}", run.stderr);

    // What comes back has the cluster's spec, field for field, and a cluster takes it.
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        for document in serde_norway::Deserializer::from_str(&text) {
            let given: Value = serde::Deserialize::deserialize(document).unwrap();
            let kind = if given["kind"] == "Service" { "svc" } else { "ep" };
            let name = given["metadata"]["name"].as_str().unwrap();
            let stored = judged(s, &["get", kind, name]);
            for part in ["spec", "subsets"] {
                assert_eq!(stored.get(part), given.get(part), "{}: {part}", file.display());
            }
            assert_eq!(stored["metadata"]["labels"], given["metadata"]["labels"], "{}", file.display());
            assert!(stored.get("status").is_none() && stored["metadata"].get("managedFields").is_none());
        }
    }
    // The selector-less service's traffic goes to its Endpoints object's addresses.
    let described = s2i_at(s, &["describe", "svc", "legacy-db"]).ok().stdout;
    assert!(
        described.contains("Endpoints:        192.0.2.10:5432, 192.0.2.10:8080, 192.0.2.11:5432, 192.0.2.11:8080\n"),
        "{described}"
    );

    // Applying what get wrote changes nothing.
    let written = tempfile::tempdir().unwrap();
    let all = written.path().join("all.yaml");
    let services = s2i_at(s, &["get", "svc", "-o", "yaml"]).ok().stdout;
    let endpoints = s2i_at(s, &["get", "ep", "-o", "yaml"]).ok().stdout;
    std::fs::write(&all, format!("{services}---\n{endpoints}")).unwrap();
    let run = s2i_at(s, &["apply", "-f", all.to_str().unwrap()]).ok();
    assert!(run.stdout.lines().all(|line| line.ends_with(" unchanged")), "{}", run.stdout);

    // A file of the shape older versions wrote is refused, saying where the addresses go now.
    let old = written.path().join("old.yaml");
    std::fs::write(&old, "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec:\n  ports: [{port: 80}]\n  endpoints: ['127.0.0.1:80']\n").unwrap();
    let run = s2i_at(s, &["apply", "-f", old.to_str().unwrap()]).failed();
    assert!(run.stderr.contains("unknown field \"spec.endpoints\""), "{}", run.stderr);
    assert!(run.stderr.contains("move the addresses into an Endpoints object of the same name"), "{}", run.stderr);
    let run = s2i_at(s, &["service", "create", "x", "--endpoint", "localhost:3000"]).failed();
    assert!(run.stderr.contains("for this machine write 127.0.0.1 or [::1]"), "{}", run.stderr);
    let run = s2i_at(s, &["service", "create", "x", "--selector", "app=x"]).failed();
    assert!(run.stderr.contains("service x needs a port"), "{}", run.stderr);
}

#[test]
fn a_store_of_the_previous_version_is_migrated_by_the_first_command() {
    let store = tempfile::tempdir().unwrap();
    let s = store.path();
    {
        // What the previous version wrote: fixed addresses in spec.endpoints.
        let old = s2i_store::Store::open(s).unwrap();
        old.write(|tx| {
            tx.create(
                "Service",
                "shop",
                "api",
                serde_json::json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "api", "namespace": "shop"},
                                   "spec": {"ports": [{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 3000}],
                                            "endpoints": ["127.0.0.1:3000"]}}),
            )
        })
        .unwrap();
    }
    let service = judged(s, &["get", "svc", "api"]);
    assert!(service["spec"].get("endpoints").is_none(), "{service:#}");
    assert_eq!(service["spec"]["type"], "ClusterIP");
    let endpoints = judged(s, &["get", "ep", "api"]);
    assert_eq!(
        endpoints["subsets"],
        serde_json::json!([{"addresses": [{"ip": "127.0.0.1"}], "ports": [{"name": "http", "port": 3000, "protocol": "TCP"}]}])
    );
    let out = tempfile::tempdir().unwrap();
    s2i_at(s, &["expose", "svc", "api", "--hostname", "api.test"]).ok();
    let run = s2i_at(s, &["route", "render", "--out", out.path().to_str().unwrap()]).ok();
    assert!(run.stderr.contains("Wrote the router for 1 of 1 route(s)"), "{}", run.stderr);
    let cfg = std::fs::read_to_string(out.path().join("haproxy.cfg")).unwrap();
    assert!(cfg.contains("server ept:api:http:127.0.0.1:3000 127.0.0.1:3000"), "{cfg}");
}
