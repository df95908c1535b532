//! `s2i route render` and `s2i route export` on files.

mod support;

use support::*;

const APP: &str = r#"
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec:
  ports: [{name: http, port: 80, targetPort: 8080}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: web, namespace: shop}
subsets:
- addresses: [{ip: 127.0.0.1}]
  ports: [{name: http, port: 8080}]
---
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: web, namespace: shop}
spec:
  to: {name: web}
  port: {targetPort: http}
  tls: {termination: edge, insecureEdgeTerminationPolicy: Redirect}
"#;

fn app_file() -> tempfile::TempDir {
    source(&[("app.yaml", APP)])
}

#[test]
fn render_writes_the_router_and_reports_admission() {
    let dir = app_file();
    let out = dir.path().join("router");
    let run = run_s2i([
        "route",
        "render",
        "-f",
        dir.path().join("app.yaml").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--domain",
        "apps.test",
        "--http-port",
        "18080",
    ])
    .ok();
    assert_eq!(
        run.stdout, "ROUTE     HOST                ADMITTED  REASON\nshop/web  web-shop.apps.test  True\n",
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("haproxy -c: the configuration is valid"), "{}", run.stderr);
    let cfg = std::fs::read_to_string(out.join("haproxy.cfg")).unwrap();
    assert!(cfg.contains("  bind 127.0.0.1:18080\n") && cfg.contains("\nbackend be_edge_http:shop:web\n"), "{cfg}");
    let map = std::fs::read_to_string(out.join("conf/os_route_http_redirect.map")).unwrap();
    assert_eq!(map, "^web-shop\\.apps\\.test\\.?(:[0-9]+)?(/.*)?$ 1\n");

    // A second render keeps the default certificate.
    let before = std::fs::read(out.join("conf/default.pem")).unwrap();
    run_s2i(["route", "render", "-f", dir.path().join("app.yaml").to_str().unwrap(), "--out", out.to_str().unwrap()])
        .ok();
    assert_eq!(std::fs::read(out.join("conf/default.pem")).unwrap(), before);
}

#[test]
fn invalid_input_fails_naming_the_file_document_and_field() {
    let dir = source(&[
        (
            "bad-enum.yaml",
            "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {name: a}\nspec: {to: {name: s}, tls: {termination: edged}}\n",
        ),
        (
            "bad-route.yaml",
            "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {name: a}\nspec: {to: {name: s}, path: api}\n",
        ),
        (
            "bad-annotation.yaml",
            "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {name: a, annotations: {haproxy.router.openshift.io/balance: fastest}}\nspec: {to: {name: s}}\n",
        ),
    ]);
    // (file, parts of the error)
    let table = [
        (
            "bad-enum.yaml",
            vec!["bad-enum.yaml: spec.tls.termination: Unsupported value: \"edged\"", "line 4 column 42"],
        ),
        (
            "bad-route.yaml",
            vec!["invalid Route \"default/a\": spec.path: Invalid value: \"api\": path must begin with /"],
        ),
        ("bad-annotation.yaml", vec!["metadata.annotations[haproxy.router.openshift.io/balance]", "\"fastest\""]),
        ("missing.yaml", vec!["cannot read", "missing.yaml"]),
    ];
    for (file, needles) in table {
        let out = dir.path().join("out");
        let run =
            run_s2i(["route", "render", "-f", dir.path().join(file).to_str().unwrap(), "--out", out.to_str().unwrap()])
                .failed();
        assert_eq!(run.code, 1);
        for needle in needles {
            assert!(run.stderr.contains(needle), "{file}: {needle}\n{}", run.stderr);
        }
    }
    let run = run_s2i(["route", "render", "-f", "x.yaml", "--out", "o", "--domain", "Bad_Domain"]).failed();
    assert!(run.stderr.contains("--domain=\"Bad_Domain\" is not a DNS domain"), "{}", run.stderr);
}

#[test]
fn export_prints_yaml_for_each_target_and_warns_on_stderr() {
    let dir = app_file();
    let file = dir.path().join("app.yaml");
    let file = file.to_str().unwrap();
    let run = run_s2i(["route", "export", "shop/web", "--to", "openshift", "-f", file]).ok();
    assert!(run.stdout.starts_with("apiVersion: route.openshift.io/v1\nkind: Route\n"), "{}", run.stdout);
    assert!(!run.stdout.contains("host:"), "the generated host is left to the cluster:\n{}", run.stdout);
    let run = run_s2i(["route", "export", "shop/web", "--to", "ingress", "-f", file]).ok();
    assert!(run.stdout.contains("kind: Ingress") && run.stdout.contains("name: http"), "{}", run.stdout);
    assert!(run.stderr.contains("warning: "), "{}", run.stderr);
    let run = run_s2i(["route", "export", "shop/web", "--to", "gateway", "--gateway", "infra/public", "-f", file]).ok();
    assert!(run.stdout.contains("kind: HTTPRoute") && run.stdout.contains("namespace: infra"), "{}", run.stdout);
    assert!(run.stdout.contains("name: web-redirect"), "{}", run.stdout);

    let run = run_s2i(["route", "export", "web", "--to", "gateway", "-f", file]).failed();
    assert!(run.stderr.contains("route default/web not found in"), "{}", run.stderr);
    let run = run_s2i(["route", "export", "shop/web", "--to", "nginx", "-f", file]).failed();
    assert!(run.stderr.contains("invalid value 'nginx'"), "{}", run.stderr);
}

/// Without its service, a route's target port is the backend's port; with
/// neither, a cluster would refuse the backend, and so does the export.
#[test]
fn export_without_the_service_takes_the_target_port_or_refuses() {
    let dir = source(&[(
        "routes.yaml",
        "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {name: named, namespace: shop}\n\
         spec: {host: n.example.com, to: {name: web}, port: {targetPort: http}}\n---\n\
         apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {name: bare, namespace: shop}\n\
         spec: {host: b.example.com, to: {name: web}}\n",
    )]);
    let file = dir.path().join("routes.yaml");
    let file = file.to_str().unwrap();
    let run = run_s2i(["route", "export", "shop/named", "--to", "ingress", "-f", file]).ok();
    assert!(
        run.stdout.contains("            name: web\n            port:\n              name: http\n"),
        "{}",
        run.stdout
    );
    let run = run_s2i(["route", "export", "shop/named", "--to", "gateway", "-f", file]).failed();
    assert!(run.stderr.contains("route shop/named cannot be exported to Gateway API"), "{}", run.stderr);
    for target in ["ingress", "gateway"] {
        let run = run_s2i(["route", "export", "shop/bare", "--to", target, "-f", file]).failed();
        assert_eq!(run.stdout, "", "nothing a cluster would refuse is written");
        assert!(run.stderr.contains("without a port of service web"), "{}", run.stderr);
        assert!(run.stderr.contains("spec.port.targetPort"), "{}", run.stderr);
    }
}

#[test]
fn render_of_files_orders_admission_by_the_files_creation_times() {
    let text = r#"
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: a-newer, creationTimestamp: "2026-02-01T00:00:00Z"}
spec: {host: www.example.test, to: {name: web}}
---
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: b-older, creationTimestamp: "2026-01-01T00:00:00Z"}
spec: {host: www.example.test, to: {name: web}}
---
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: c-ageless}
spec: {host: www.example.test, to: {name: web}}
"#;
    let dir = source(&[("routes.yaml", text)]);
    let out = dir.path().join("router");
    let run = run_s2i([
        "route",
        "render",
        "-f",
        dir.path().join("routes.yaml").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ])
    .ok();
    let lines: Vec<&str> = run.stdout.lines().collect();
    assert!(
        lines[1].starts_with("default/a-newer") && lines[1].contains("HostAlreadyClaimed: route b-older"),
        "{}",
        run.stdout
    );
    assert!(lines[2].starts_with("default/b-older") && lines[2].contains("  True"), "{}", run.stdout);
    assert!(lines[3].starts_with("default/c-ageless") && lines[3].contains("route b-older"), "{}", run.stdout);
}
