//! Routes and services in the store through the CLI: `s2i service create`,
//! `s2i expose`, `s2i route create`, the generic `get`/`describe`/`delete`/
//! `apply` verbs, admission status, and bad input that leaves the store as it was.

mod support;

use std::path::Path;

use support::*;

/// `s2i` on a store of its own, in namespace `shop`.
fn s2i_at(store: &Path, args: &[&str]) -> Run {
    Run::from(s2i_in(store, "shop").env_remove("S2I_ROUTE_DOMAIN").args(args).output().expect("s2i runs"))
}

fn json(store: &Path, args: &[&str]) -> serde_json::Value {
    let mut all = args.to_vec();
    all.extend(["-o", "json"]);
    serde_json::from_str(&s2i_at(store, &all).ok().stdout).unwrap()
}

fn admitted(route: &serde_json::Value) -> (String, String) {
    let condition = &route["status"]["ingress"][0]["conditions"][0];
    assert_eq!(condition["type"], "Admitted", "{route:#}");
    (condition["status"].as_str().unwrap().to_owned(), condition["reason"].as_str().unwrap_or_default().to_owned())
}

/// A self-signed certificate and key for `host`, written to `dir`.
fn certificate(dir: &Path, host: &str) -> (String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec![host.to_owned()]).unwrap().self_signed(&key).unwrap();
    let (cert_file, key_file) = (dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::write(&cert_file, cert.pem()).unwrap();
    std::fs::write(&key_file, key.serialize_pem()).unwrap();
    (cert_file.display().to_string(), key_file.display().to_string())
}

#[test]
fn services_and_routes_are_created_listed_described_and_deleted() {
    let store = tempfile::tempdir().unwrap();
    let s = store.path();
    let run = s2i_at(s, &["service", "create", "web", "--endpoint", "127.0.0.1:8080", "--port", "80:8080"]).ok();
    assert_eq!(run.stdout, "service/web created\nendpoints/web created\n");
    s2i_at(s, &["service", "create", "web-v2", "--selector", "app=web,track=v2", "--port", "8080"]).ok();

    // oc expose: the route is named after the service, on its first port, at a generated host.
    let run = s2i_at(s, &["expose", "service", "web"]).ok();
    assert_eq!(run.stdout, "route.route.openshift.io/web exposed\n");
    let web = json(s, &["get", "route", "web"]);
    assert_eq!(web["spec"]["host"], "web-shop.apps.localhost");
    assert_eq!(web["spec"]["port"]["targetPort"], "80-8080");
    assert_eq!(web["metadata"]["generation"], 1);
    assert_eq!(web["metadata"]["annotations"]["openshift.io/host.generated"], "true");
    assert_eq!(admitted(&web), ("True".into(), String::new()));

    // An edge route with its own certificate, redirecting plain HTTP.
    let certs = tempfile::tempdir().unwrap();
    let (cert, key) = certificate(certs.path(), "secure.example.test");
    let run = s2i_at(
        s,
        &[
            "route",
            "create",
            "edge",
            "secure",
            "--service",
            "web",
            "--hostname",
            "secure.example.test",
            "--cert",
            &cert,
            "--key",
            &key,
            "--insecure-policy",
            "Redirect",
        ],
    )
    .ok();
    assert_eq!(run.stdout, "route.route.openshift.io/secure created\n");
    let secure = json(s, &["get", "route", "secure"]);
    assert_eq!(secure["spec"]["tls"]["termination"], "edge");
    assert!(secure["spec"]["tls"]["certificate"].as_str().unwrap().starts_with("-----BEGIN CERTIFICATE-----"));
    assert_eq!(admitted(&secure), ("True".into(), String::new()));

    // A weighted split, and a newer route for a host that is taken: created, not admitted.
    s2i_at(s, &["route", "create", "http", "ab", "--service", "web", "--weight", "3", "--alternate", "web-v2=1"]).ok();
    let run =
        s2i_at(s, &["route", "create", "http", "late", "--service", "web", "--hostname", "web-shop.apps.localhost"])
            .ok();
    assert!(
        run.stderr.contains(
            "warning: route shop/late is not admitted: HostAlreadyClaimed: route web already exposes web-shop.apps.localhost and is older"
        ),
        "{}",
        run.stderr
    );

    let table = s2i_at(s, &["get", "routes"]).ok().stdout;
    assert_eq!(
        table,
        "\
NAME     HOST/PORT                 PATH   SERVICES               PORT      TERMINATION     WILDCARD   ADMITTED
ab       ab-shop.apps.localhost           web(75%),web-v2(25%)   <all>                     None       True
late     web-shop.apps.localhost          web                    <all>                     None       False (HostAlreadyClaimed)
secure   secure.example.test              web                    <all>     edge/Redirect   None       True
web      web-shop.apps.localhost          web                    80-8080                   None       True
"
    );
    let table = s2i_at(s, &["get", "svc"]).ok().stdout;
    assert_eq!(
        table,
        "\
NAME     PORT(S)        SELECTOR           ENDPOINTS
web      80->8080/TCP   <none>             endpoints/web
web-v2   8080/TCP       app=web,track=v2   <selector>
"
    );
    assert_eq!(s2i_at(s, &["get", "ep"]).ok().stdout, "NAME   ENDPOINTS\nweb    127.0.0.1:8080\n");
    assert_eq!(
        s2i_at(s, &["get", "routes", "-o", "name"]).ok().stdout.lines().next(),
        Some("route.route.openshift.io/ab")
    );
    assert_eq!(s2i_at(s, &["get", "services", "web", "-o", "name"]).ok().stdout, "service/web\n");
    assert!(s2i_at(s, &["get", "routes", "-A"]).ok().stdout.starts_with("NAMESPACE   NAME"));

    let described = flat(&s2i_at(s, &["describe", "route", "late"]).ok().stdout);
    assert!(described.contains("Requested Host: web-shop.apps.localhost"), "{described}");
    assert!(described.contains("rejected by router default: HostAlreadyClaimed"), "{described}");
    assert!(described.contains("Service: web Weight: 100 (100%) Endpoints: 127.0.0.1:8080"), "{described}");
    let described = flat(&s2i_at(s, &["describe", "svc", "web-v2"]).ok().stdout);
    assert!(described.contains("Endpoints: the running containers with app=web,track=v2"), "{described}");
    assert!(described.contains("Routes: ab (ab-shop.apps.localhost)"), "{described}");

    // Export and render read the store.
    let run = s2i_at(s, &["route", "export", "web", "--to", "ingress"]).ok();
    assert!(run.stdout.contains("kind: Ingress") && run.stdout.contains("name: '80-8080'"), "{}", run.stdout);
    let run = s2i_at(s, &["route", "export", "shop/secure", "--to", "openshift"]).ok();
    assert!(run.stdout.contains("host: secure.example.test") && !run.stdout.contains("status:"), "{}", run.stdout);
    let out = tempfile::tempdir().unwrap();
    let run = s2i_at(s, &["route", "render", "--out", out.path().to_str().unwrap()]).ok();
    assert!(
        run.stdout.contains("shop/late    web-shop.apps.localhost  False     HostAlreadyClaimed"),
        "{}",
        run.stdout
    );
    assert!(run.stderr.contains("Wrote the router for 3 of 4 route(s)"), "{}", run.stderr);
    let certificates: Vec<_> = std::fs::read_dir(out.path().join("router/certs")).unwrap().flatten().collect();
    assert_eq!(certificates.len(), 1, "the edge route's own certificate");

    // Deleting the holder of the host admits the next oldest route.
    let run = s2i_at(s, &["delete", "route", "web"]).ok();
    assert_eq!(run.stdout, "route.route.openshift.io \"web\" deleted\n");
    assert_eq!(admitted(&json(s, &["get", "route", "late"])), ("True".into(), String::new()));
    let run = s2i_at(s, &["delete", "svc", "web-v2"]).ok();
    assert_eq!(run.stdout, "service \"web-v2\" deleted\n");
    assert!(run.stderr.contains("warning: route shop/ab still points at service \"web-v2\""), "{}", run.stderr);
    let run = s2i_at(s, &["get", "route", "web"]).failed();
    assert!(run.stderr.contains("Route \"web\" not found in namespace \"shop\""), "{}", run.stderr);
}

const APP: &str = r#"apiVersion: image.openshift.io/v1
kind: ImageStream
metadata:
  name: web
---
apiVersion: v1
kind: Service
metadata:
  name: web
  labels: {app: web}
spec:
  ports:
  - name: http
    port: 80
    targetPort: 8080
  selector:
    app: web
---
apiVersion: route.openshift.io/v1
kind: Route
metadata:
  name: web
  annotations:
    haproxy.router.openshift.io/timeout: 60s
    note: "yes"
spec:
  to:
    name: web
  port:
    targetPort: http
"#;

#[test]
fn apply_and_get_round_trip_with_image_streams_in_the_same_file() {
    let store = tempfile::tempdir().unwrap();
    let s = store.path();
    let files = source(&[("app.yaml", APP)]);
    let file = files.path().join("app.yaml");
    let run = s2i_at(s, &["apply", "-f", file.to_str().unwrap()]).ok();
    assert_eq!(
        run.stdout,
        "imagestream.image.openshift.io/web created\nservice/web created\nroute.route.openshift.io/web created\n"
    );
    let route = json(s, &["get", "route", "web"]);
    assert_eq!(route["spec"]["host"], "web-shop.apps.localhost");
    assert_eq!(admitted(&route), ("True".into(), String::new()), "apply admits");

    // What get writes, apply reads back as the same object: nothing changes.
    let yaml = s2i_at(s, &["get", "route", "web", "-o", "yaml"]).ok().stdout;
    assert!(yaml.contains("    note: 'yes'\n"), "strings YAML 1.1 would read as booleans are quoted:\n{yaml}");
    let service_yaml = s2i_at(s, &["get", "svc", "web", "-o", "yaml"]).ok().stdout;
    let written = files.path().join("written.yaml");
    std::fs::write(&written, format!("{yaml}---\n{service_yaml}")).unwrap();
    let run = s2i_at(s, &["apply", "-f", written.to_str().unwrap()]).ok();
    assert_eq!(run.stdout, "route.route.openshift.io/web unchanged\nservice/web unchanged\n");
    assert_eq!(json(s, &["get", "route", "web"]), route);

    // A change of the spec: configured, generation 2, the host kept, the status kept.
    let changed = yaml.replace("targetPort: http", "targetPort: 8080");
    std::fs::write(&written, changed).unwrap();
    let run = s2i_at(s, &["apply", "-f", written.to_str().unwrap()]).ok();
    assert_eq!(run.stdout, "route.route.openshift.io/web configured\n");
    let after = json(s, &["get", "route", "web"]);
    assert_eq!(after["metadata"]["generation"], 2);
    assert_eq!(after["spec"]["port"]["targetPort"], 8080);
    assert_eq!(after["spec"]["host"], route["spec"]["host"]);
    assert_eq!(after["metadata"]["uid"], route["metadata"]["uid"]);
    assert_eq!(after["status"], route["status"]);

    // The list form of get, applied: unchanged again.
    let list = s2i_at(s, &["get", "routes", "-o", "yaml"]).ok().stdout;
    assert!(list.starts_with("apiVersion: v1\nkind: List\nmetadata:\n  resourceVersion: ''\nitems:\n- apiVersion: route.openshift.io/v1\n"), "{list}");
    std::fs::write(&written, list).unwrap();
    assert_eq!(
        s2i_at(s, &["apply", "-f", written.to_str().unwrap()]).ok().stdout,
        "route.route.openshift.io/web unchanged\n"
    );

    // A route to a service that does not exist is kept (OpenShift allows it) with a warning.
    let orphan =
        "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {name: orphan}\nspec: {to: {name: nowhere}}\n";
    std::fs::write(&written, orphan).unwrap();
    let run = s2i_at(s, &["apply", "-f", written.to_str().unwrap()]).ok();
    assert!(
        run.stderr.contains("warning: route shop/orphan points at service \"nowhere\", which does not exist"),
        "{}",
        run.stderr
    );
}

/// Every route and service of the store, to compare before and after.
fn snapshot(store: &Path) -> String {
    let routes = s2i_at(store, &["get", "routes", "-A", "-o", "json"]).ok().stdout;
    let services = s2i_at(store, &["get", "services", "-A", "-o", "json"]).ok().stdout;
    routes + &services
}

#[test]
fn bad_input_is_refused_and_the_store_is_left_as_it_was() {
    let store = tempfile::tempdir().unwrap();
    let s = store.path();
    s2i_at(s, &["service", "create", "web", "--endpoint", "127.0.0.1:8080"]).ok();
    s2i_at(s, &["expose", "svc/web"]).ok();
    let before = snapshot(s);
    let files = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = files.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let malformed =
        write("malformed.yaml", "apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports: [80\n");
    let invalid_second = write(
        "second.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: fine}\nspec: {ports: [{port: 1}]}\n---\napiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {name: bad}\nspec:\n  to: {name: fine}\n  path: no-slash\n",
    );
    let bad_weight = write(
        "weight.yaml",
        "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {name: w}\nspec:\n  to: {name: web, weight: heavy}\n",
    );
    let immutable = write(
        "immutable.yaml",
        "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {name: web}\nspec:\n  host: www.example.test\n  to: {name: web}\n  wildcardPolicy: Subdomain\n",
    );
    // (arguments, parts of the report)
    let table: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["route", "create", "http", "a", "--service", "web", "--path", "api"],
            vec!["invalid Route \"shop/a\": spec.path: Invalid value: \"api\": path must begin with /", "help:"],
        ),
        (
            vec!["route", "create", "edge", "--service", "nope"],
            vec!["Service \"nope\" not found in namespace \"shop\"", "s2i service create nope --endpoint HOST:PORT"],
        ),
        (
            vec!["route", "create", "http", "ab", "--service", "web", "--alternate", "gone=1"],
            vec!["Service \"gone\" not found"],
        ),
        (
            vec!["route", "create", "http", "w", "--service", "web", "--alternate", "web-v2"],
            vec!["is not SERVICE=WEIGHT"],
        ),
        (
            vec!["route", "create", "http", "c", "--service", "web", "--cert", "x.pem"],
            vec!["--cert is for TLS routes, not http routes"],
        ),
        (
            vec!["route", "create", "passthrough", "p", "--service", "web", "--path", "/x"],
            vec!["passthrough termination does not support paths"],
        ),
        (
            vec!["route", "create", "edge", "e", "--service", "web", "--cert", "/nonexistent.pem"],
            vec!["cannot read --cert /nonexistent.pem"],
        ),
        (
            vec!["route", "create", "http", "web", "--service", "web"],
            vec!["Route \"web\" already exists in namespace \"shop\""],
        ),
        (vec!["expose", "service", "nope"], vec!["Service \"nope\" not found"]),
        (vec!["expose", "deployment", "web"], vec!["cannot expose a deployment"]),
        (vec!["service", "create", "empty"], vec!["service empty needs endpoints", "--endpoint HOST:PORT"]),
        (
            vec!["service", "create", "x", "--endpoint", "nowhere"],
            vec!["invalid endpoint \"nowhere\": it has no :PORT"],
        ),
        (vec!["service", "create", "x", "--selector", "app"], vec!["--selector \"app\" is not KEY=VALUE"]),
        (
            vec!["service", "create", "Bad_Name", "--endpoint", "127.0.0.1:1"],
            vec!["invalid Service \"shop/Bad_Name\": metadata.name"],
        ),
        (vec!["apply", "-f", &malformed], vec!["malformed.yaml", "line 7 column 1", "fix the YAML syntax"]),
        (vec!["apply", "-f", &invalid_second], vec!["invalid Route \"shop/bad\": spec.path"]),
        (
            vec!["apply", "-f", &bad_weight],
            vec!["spec.to.weight: invalid type: string \"heavy\", expected i32 at line 5 column 27", "╭─["],
        ),
        (
            vec!["apply", "-f", &immutable],
            vec!["spec.wildcardPolicy: Invalid value: \"Subdomain\": field is immutable"],
        ),
        (vec!["get", "route", "nope"], vec!["Route \"nope\" not found in namespace \"shop\""]),
        (vec!["route", "serve", "--http-port", "9000", "--stats-port", "9000"], vec!["must be three different ports"]),
        (vec!["route", "serve", "--http-port", "0"], vec!["invalid value '0' for '--http-port <PORT>'"]),
        (vec!["delete", "route", "nope"], vec!["Route \"nope\" not found"]),
    ];
    for (args, needles) in table {
        let run = s2i_at(s, &args).failed();
        // 1 for a refused request, 2 for a command line clap refuses.
        assert!(matches!(run.code, 1 | 2), "{args:?}: exit {}: {}", run.code, run.stderr);
        for needle in needles {
            assert!(run.stderr.contains(needle), "{args:?}: {needle:?} in\n{}", run.stderr);
        }
        assert_eq!(snapshot(s), before, "{args:?} changed the store");
    }
}
