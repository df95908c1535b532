//! Routes end to end with real HAProxy: two web apps built with `s2i build`
//! and running as containers, exposed through a host route, a path route, an
//! edge route with its own certificate that redirects plain HTTP, a 3:1
//! weighted A/B route, and a passthrough route chosen by SNI; requests with
//! curl against 127.0.0.1. Then the same apps behind `s2i route serve`, with
//! services and routes made by the CLI, changed while it serves, and stopped
//! with SIGTERM.

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use s2i_route::haproxy::RouterConfig;
use s2i_route::router::{Router, RouterOptions};
use s2i_route::*;
use support::*;

/// Fails (never skips) without HAProxy or curl.
fn require_programs() {
    for (program, install) in
        [("haproxy", "sudo apt-get install haproxy (or cargo xtask packages)"), ("curl", "sudo apt-get install curl")]
    {
        let ok = Command::new(program)
            .arg(if program == "haproxy" { "-v" } else { "--version" })
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(ok, "{program} is needed: {install}");
    }
}

/// A CA that issues server certificates.
struct Ca {
    pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        let key = rcgen::KeyPair::generate().unwrap();
        let pem = params.self_signed(&key).unwrap().pem();
        Ca { pem, issuer: rcgen::Issuer::new(params, key) }
    }

    /// (certificate, key) for `host`.
    fn issue(&self, host: &str) -> (rcgen::Certificate, rcgen::KeyPair) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![host.to_owned()]).unwrap().signed_by(&key, &self.issuer).unwrap();
        (cert, key)
    }
}

/// A TLS server on 127.0.0.1 that answers every HTTP request with `body`;
/// the passthrough route's endpoint. Stops when dropped.
struct TlsBackend {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl TlsBackend {
    fn start(ca: &Ca, host: &str, body: &'static str) -> TlsBackend {
        let (cert, key) = ca.issue(host);
        let config = tls_server_config(&cert, &key);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let config = config.clone();
                std::thread::spawn(move || {
                    let connection = rustls::ServerConnection::new(config).unwrap();
                    let mut tls = rustls::StreamOwned::new(connection, stream);
                    let mut reader = BufReader::new(&mut tls);
                    let mut line = String::new();
                    while reader.read_line(&mut line).unwrap_or(0) > 0 && line.trim() != "" {
                        line.clear();
                    }
                    let response =
                        format!("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                    let _ = tls.write_all(response.as_bytes());
                    tls.conn.send_close_notify();
                    let _ = tls.flush();
                });
            }
        });
        TlsBackend { port, stop }
    }
}

impl Drop for TlsBackend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// curl with `host` resolved to 127.0.0.1; returns (status, body, redirect URL).
fn curl(url_host: &str, port: u16, url: &str, extra: &[&str]) -> (u16, String, String) {
    let output = Command::new("curl")
        .args([
            "-s",
            "-m",
            "10",
            "-w",
            "\n%{http_code} %{redirect_url}",
            "--resolve",
            &format!("{url_host}:{port}:127.0.0.1"),
        ])
        .args(extra)
        .arg(url)
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, tail) = text.rsplit_once('\n').unwrap_or(("", "000 "));
    let (status, location) = tail.split_once(' ').unwrap_or((tail, ""));
    (status.parse().unwrap_or(0), body.to_owned(), location.trim().to_owned())
}

/// Builds a web app serving `index.html` with `s2i build` on the httpd-demo builder.
fn build_app(name: &str) -> Image {
    let builder = fixture("httpd-demo");
    let image = Image::fresh(name);
    let src = source(&[("index.html", &format!("{name}\n"))]);
    run_s2i(["build", src.path().to_str().unwrap(), &builder, &image.0]).ok();
    image
}

fn route(name: &str, host: &str, service: &str) -> Route {
    let mut metadata = ObjectMeta::named("demo", name);
    metadata.uid = name.into();
    metadata.creation_timestamp = Some("2026-01-01T00:00:00Z".parse().unwrap());
    Route::new(
        metadata,
        RouteSpec { host: host.into(), to: RouteTargetReference::service(service, 100), ..Default::default() },
    )
}

#[test]
fn two_apps_built_with_s2i_served_through_haproxy_routes() {
    require_programs();
    require_engine();
    let (image_a, image_b) = (build_app("app-a"), build_app("app-b"));
    let selector_value = unique("route-e2e");
    let label = format!("s2i-test-route={selector_value}");
    let container_a = Container::run("s2i-route-a", &["--label", &label, &image_a.0]);
    let container_b = Container::run("s2i-route-b", &[&image_b.0]);
    let _ = &container_a;

    let ca = Ca::new("s2i route e2e CA");
    let passthrough_backend = TlsBackend::start(&ca, "db.test", "passthrough-backend\n");

    // Service A by label selector (resolved from the running container),
    // service B and the TLS backend by their Endpoints objects.
    let fixed = |name: &str, address: Endpoint| {
        let ports = ServicePort::for_numbers([address.port]);
        let service = Service::new(ObjectMeta::named("demo", name), ServiceSpec { ports, ..Default::default() });
        let endpoints = s2i_route::Endpoints::for_service(&service, &[address]).unwrap();
        (service, endpoints)
    };
    let (app_b, app_b_endpoints) = fixed("app-b", Endpoint::new(container_b.ip(), 8080));
    let (db, db_endpoints) = fixed("db", Endpoint::new("127.0.0.1", passthrough_backend.port));
    let services = vec![
        Service::new(
            ObjectMeta::named("demo", "app-a"),
            ServiceSpec {
                ports: vec![ServicePort::new("http", 80, Some(8080))],
                selector: [("s2i-test-route".to_owned(), selector_value.clone())].into(),
                ..Default::default()
            },
        ),
        app_b,
        db,
    ];
    for service in &services {
        s2i_route::validation::validate_service(service).unwrap();
    }
    let fixed_endpoints = [app_b_endpoints, db_endpoints];
    let endpoints = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let runtime = s2i_docker::DockerRuntime::connect(&s2i_docker::ConnectOptions::from_env()).await.unwrap();
        s2i_route::containers::resolve_endpoints(&services, &fixed_endpoints, &runtime).await.unwrap()
    });
    let a_endpoints = endpoints.get("demo", "app-a").unwrap();
    assert_eq!(a_endpoints.len(), 1, "the selector finds the running container: {a_endpoints:?}");
    assert_eq!(a_endpoints[0].port_name, "http");

    let (edge_cert, edge_key) = ca.issue("secure.test");
    let mut edge = route("secure", "secure.test", "app-a");
    let mut tls = TlsConfig::new(TlsTermination::Edge);
    tls.certificate = edge_cert.pem();
    tls.key = edge_key.serialize_pem();
    tls.insecure_edge_termination_policy = Some(InsecureEdgeTerminationPolicy::Redirect);
    edge.spec.tls = Some(tls);
    let mut path_route = route("shop-b", "shop.test", "app-b");
    path_route.spec.path = "/b".into();
    path_route.metadata.annotations.insert("haproxy.router.openshift.io/rewrite-target".into(), "/".into());
    let mut ab = route("ab", "ab.test", "app-a");
    ab.spec.to.weight = 3;
    ab.spec.alternate_backends = vec![RouteTargetReference::service("app-b", 1)];
    let mut passthrough = route("db", "db.test", "db");
    passthrough.spec.tls = Some(TlsConfig::new(TlsTermination::Passthrough));
    let routes =
        vec![route("a", "a.test", "app-a"), route("shop", "shop.test", "app-a"), path_route, edge, ab, passthrough];
    for route in &routes {
        s2i_route::validation::validate_route(route).unwrap();
    }

    let dir = tempfile::tempdir().unwrap();
    let mut config = RouterConfig::new(s2i_route::tls::generate_default_certificate("apps.localhost").unwrap());
    let (http, https) = (free_port(), free_port());
    config.http_port = http;
    config.https_port = https;
    config.stats_port = None;
    let options = RouterOptions::new(dir.path(), config);
    let mut router = Router::new(options, Arc::new(|_| {})).unwrap();
    let reconciled = router.reconcile(&routes, &endpoints, jiff::Timestamp::now()).unwrap();
    assert_eq!(reconciled.admission.admitted.len(), routes.len(), "{:#?}", reconciled.admission.outcomes);
    assert_eq!(reconciled.warnings, Vec::<String>::new());

    // The apps start serving a moment after their containers start.
    let mut ready = false;
    for _ in 0..100 {
        if curl("a.test", http, &format!("http://a.test:{http}/"), &[]).0 == 200 {
            ready = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(ready, "app-a never answered through the router");

    // A host route.
    assert_eq!(curl("a.test", http, &format!("http://a.test:{http}/"), &[]).1, "app-a\n");
    // A path route (its prefix rewritten away) next to the host's root route.
    assert_eq!(curl("shop.test", http, &format!("http://shop.test:{http}/b/index.html"), &[]).1, "app-b\n");
    assert_eq!(curl("shop.test", http, &format!("http://shop.test:{http}/b"), &[]).1, "app-b\n");
    assert_eq!(curl("shop.test", http, &format!("http://shop.test:{http}/bee"), &[]).0, 404, "app-a has no /bee");
    assert_eq!(curl("shop.test", http, &format!("http://shop.test:{http}/"), &[]).1, "app-a\n");
    // No route: 503.
    assert_eq!(curl("none.test", http, &format!("http://none.test:{http}/"), &[]).0, 503);

    // The edge route: served over TLS with its own certificate (curl trusts only our CA)...
    let ca_file = dir.path().join("test-ca.pem");
    std::fs::write(&ca_file, &ca.pem).unwrap();
    let ca_arg = ca_file.to_str().unwrap();
    let (status, body, _) = curl("secure.test", https, &format!("https://secure.test:{https}/"), &["--cacert", ca_arg]);
    assert_eq!((status, body.as_str()), (200, "app-a\n"));
    // ... and plain HTTP redirected to https with 302.
    let (status, _, location) = curl("secure.test", http, &format!("http://secure.test:{http}/x/y?q=1"), &[]);
    assert_eq!(status, 302);
    assert_eq!(location, format!("https://secure.test:{https}/x/y?q=1"));

    // 3:1 over 400 requests, within ±10 % of the expected counts.
    let url = format!("http://ab.test:{http}/");
    let mut args = vec!["-s".to_owned(), "--resolve".to_owned(), format!("ab.test:{http}:127.0.0.1")];
    args.extend(std::iter::repeat_n(url, 400));
    let output = Command::new("curl").args(&args).output().unwrap();
    let bodies = String::from_utf8_lossy(&output.stdout);
    let a = bodies.lines().filter(|line| *line == "app-a").count();
    let b = bodies.lines().filter(|line| *line == "app-b").count();
    assert_eq!(a + b, 400, "{bodies}");
    assert!((270..=330).contains(&a) && (70..=130).contains(&b), "3:1 split expected, got {a}:{b}");

    // Passthrough by SNI: the TLS session is the backend's own (only its CA
    // is trusted, the router holds no certificate for db.test).
    let (status, body, _) = curl("db.test", https, &format!("https://db.test:{https}/"), &["--cacert", ca_arg]);
    assert_eq!((status, body.as_str()), (200, "passthrough-backend\n"));
    // Another SNI is terminated by the router with its default certificate: 503.
    assert_eq!(curl("other.test", https, &format!("https://other.test:{https}/"), &["--insecure"]).0, 503);

    router.stop();
    assert_eq!(curl("a.test", http, &format!("http://a.test:{http}/"), &[]).0, 0, "the router is gone");
}

/// `s2i route serve` running on a store, its stderr collected line by line;
/// stopped with SIGTERM (and waited for) when dropped.
struct Serve {
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Serve {
    fn start(store: &std::path::Path, namespace: &str, args: &[&str]) -> Serve {
        let mut child = s2i_in(store, namespace)
            .args(["route", "serve"])
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("s2i runs");
        let stderr = child.stderr.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        Serve { child, lines }
    }

    fn text(&self) -> String {
        self.lines.lock().unwrap().join("\n")
    }

    /// The first line containing `needle` after the first `skip` lines, waiting up to 30 s.
    fn wait_for(&self, needle: &str, skip: usize) -> (usize, String) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some((index, line)) =
                self.lines.lock().unwrap().iter().enumerate().skip(skip).find(|(_, line)| line.contains(needle))
            {
                return (index, line.clone());
            }
            assert!(Instant::now() < deadline, "s2i route serve never said {needle:?}:\n{}", self.text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// SIGTERM, then the exit code.
    fn terminate(&mut self) -> i32 {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            assert!(Instant::now() < deadline, "s2i route serve did not stop on SIGTERM:\n{}", self.text());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            self.terminate();
        }
    }
}

fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| !stat.contains(") Z "))
}

/// curl until the body is `want` (the router reloads, apps start), at most 30 s.
fn curl_until(host: &str, port: u16, path: &str, want: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body, _) = curl(host, port, &format!("http://{host}:{port}{path}"), &[]);
        if body == want {
            return;
        }
        assert!(Instant::now() < deadline, "http://{host}{path} never answered {want:?} (last: {status} {body:?})");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn s2i_route_serve_follows_the_store_and_the_containers_and_stops_on_sigterm() {
    require_programs();
    require_engine();
    let (image_a, image_b) = (build_app("serve-a"), build_app("serve-b"));
    let (label_a, label_b) = (format!("s2i-test-serve={}", unique("a")), format!("s2i-test-serve={}", unique("b")));
    let _container_a = Container::run("s2i-serve-a", &["--label", &label_a, &image_a.0]);

    let store = tempfile::tempdir().unwrap();
    let (s, ns) = (store.path(), "demo");
    let cli = |args: &[&str]| run_in_store(s, ns, args).ok();
    cli(&["service", "create", "app-a", "--selector", &label_a, "--port", "8080"]);
    cli(&["service", "create", "app-b", "--selector", &label_b, "--port", "8080"]);
    cli(&["expose", "service", "app-a", "--hostname", "a.test"]);
    cli(&["route", "create", "http", "ab", "--service", "app-a", "--hostname", "ab.test", "--alternate", "app-b=0"]);

    let (http, https, stats) = (free_port(), free_port(), free_port());
    let mut serve = Serve::start(
        s,
        ns,
        &["--http-port", &http.to_string(), "--https-port", &https.to_string(), "--stats-port", &stats.to_string()],
    );
    let (_, started) = serve.wait_for("HAProxy started (pid ", 0);
    let pid: u32 = started.trim_start_matches("HAProxy started (pid ").trim_end_matches(')').parse().unwrap();
    let (_, dir) = serve.wait_for("Router directory: ", 0);
    let dir = std::path::PathBuf::from(dir.trim_start_matches("Router directory: "));
    serve.wait_for("Serving 2 of 2 route(s):", 0);
    curl_until("a.test", http, "/", "serve-a\n");
    assert_eq!(curl("ab.test", http, &format!("http://ab.test:{http}/"), &[]).1, "serve-a\n");

    // The router wrote the admission status back to the store.
    let table = run_in_store(s, ns, ["get", "routes"]).ok().stdout;
    assert_eq!(table.lines().filter(|line| line.ends_with("   True")).count(), 2, "{table}");

    // A new path route for a.test, by the CLI: a reload, and longest prefix wins.
    let seen = serve.lines.lock().unwrap().len();
    cli(&["expose", "svc/app-b", "--name", "a-index", "--hostname", "a.test", "--path", "/index.html"]);
    serve.wait_for("HAProxy reloaded: routes or services changed", seen);
    let seen = serve.lines.lock().unwrap().len();
    // serve-b has no running container yet: its route answers 503 …
    assert_eq!(curl("a.test", http, &format!("http://a.test:{http}/index.html"), &[]).0, 503);
    assert_eq!(curl("a.test", http, &format!("http://a.test:{http}/"), &[]).1, "serve-a\n");
    // … until one starts: the router notices the container and reloads.
    let _container_b = Container::run("s2i-serve-b", &["--label", &label_b, &image_b.0]);
    serve.wait_for("HAProxy reloaded: endpoints changed", seen);
    curl_until("a.test", http, "/index.html", "serve-b\n");
    assert_eq!(curl("a.test", http, &format!("http://a.test:{http}/"), &[]).1, "serve-a\n");

    // Weights changed through get -o yaml | edit | apply: all new traffic to serve-b.
    let yaml = run_in_store(s, ns, ["get", "route", "ab", "-o", "yaml"]).ok().stdout;
    let changed = yaml
        .replace("name: app-a\n    weight: 100\n", "name: app-a\n    weight: 0\n")
        .replace("name: app-b\n    weight: 0\n", "name: app-b\n    weight: 1\n");
    assert_eq!(changed.matches("weight: 0\n").count(), 1, "{changed}");
    assert_ne!(changed, yaml);
    let file = store.path().join("ab.yaml");
    std::fs::write(&file, changed).unwrap();
    let seen = serve.lines.lock().unwrap().len();
    assert_eq!(
        run_in_store(s, ns, ["apply", "-f", file.to_str().unwrap()]).ok().stdout,
        "route.route.openshift.io/ab configured\n"
    );
    serve.wait_for("HAProxy reloaded", seen);
    curl_until("ab.test", http, "/", "serve-b\n");
    for _ in 0..10 {
        assert_eq!(curl("ab.test", http, &format!("http://ab.test:{http}/"), &[]).1, "serve-b\n");
    }

    // SIGTERM: HAProxy is stopped, the temporary router directory removed, exit 0.
    assert!(process_alive(pid));
    assert_eq!(serve.terminate(), 0, "{}", serve.text());
    assert!(serve.text().contains("HAProxy stopped"), "{}", serve.text());
    assert!(!process_alive(pid), "HAProxy {pid} outlived s2i route serve");
    assert_eq!(curl("a.test", http, &format!("http://a.test:{http}/"), &[]).0, 0, "nothing listens any more");
    assert!(!dir.exists(), "{} was left behind", dir.display());
}
