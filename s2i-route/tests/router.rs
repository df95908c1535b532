//! The router runner against real HAProxy, with plain HTTP servers on
//! loopback as endpoints: start, reload on change, nothing on no change,
//! restart after a crash, failures, and a clean stop.

#![cfg(feature = "router")]

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{now, require_haproxy};
use s2i_route::haproxy::RouterConfig;
use s2i_route::router::{ReconcileAction, Router, RouterEvent, RouterOptions};
use s2i_route::*;

/// An HTTP server on 127.0.0.1 answering every request with its name; stops when dropped.
struct Backend {
    port: u16,
    stop: Arc<AtomicBool>,
}

impl Backend {
    fn start(name: &'static str) -> Backend {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if flag.load(Ordering::Relaxed) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(stream.try_clone().unwrap());
                    let mut line = String::new();
                    // Serve requests until the client closes (keep-alive).
                    while reader.read_line(&mut line).unwrap_or(0) > 0 {
                        let mut header = String::new();
                        while reader.read_line(&mut header).unwrap_or(0) > 0 && header.trim() != "" {
                            header.clear();
                        }
                        let body = format!("{name}\n");
                        let response = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}", body.len());
                        if stream.write_all(response.as_bytes()).is_err() {
                            break;
                        }
                        line.clear();
                    }
                });
            }
        });
        Backend { port, stop }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// `curl` a URL with `host` resolved to 127.0.0.1: (status, body).
fn get(host: &str, port: u16, path: &str) -> (u16, String) {
    let output = Command::new("curl")
        .args(["-s", "-m", "5", "-w", "\n%{http_code}", "--resolve", &format!("{host}:{port}:127.0.0.1")])
        .arg(format!("http://{host}:{port}{path}"))
        .output()
        .expect("curl is needed: sudo apt-get install curl");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (status.trim().parse().unwrap_or(0), body.to_owned())
}

fn route(name: &str, host: &str, service: &str) -> Route {
    let mut route = common::route_at("dev", name, 0, host, "");
    route.spec.to.name = service.into();
    route
}

/// A service of a backend on this machine, and its Endpoints object.
fn service(name: &str, port: u16) -> (Service, Endpoints) {
    common::fixed_service("dev", name, &[&format!("127.0.0.1:{port}")])
}

fn resolved(services: &[(Service, Endpoints)]) -> ServiceEndpoints {
    let (services, endpoints): (Vec<Service>, Vec<Endpoints>) = services.iter().cloned().unzip();
    ServiceEndpoints::fixed(&services, &endpoints)
}

struct Setup {
    router: Router,
    http: u16,
    events: Arc<Mutex<Vec<RouterEvent>>>,
    _dir: tempfile::TempDir,
}

fn setup_with(haproxy: PathBuf) -> Result<Setup, s2i_route::Error> {
    let dir = tempfile::tempdir().unwrap();
    let mut config = RouterConfig::new(s2i_route::tls::generate_default_certificate("apps.localhost").unwrap());
    config.http_port = free_port();
    config.https_port = free_port();
    config.stats_port = Some(free_port());
    let http = config.http_port;
    let events = Arc::new(Mutex::new(Vec::new()));
    let sink = events.clone();
    let mut options = RouterOptions::new(dir.path().join("router"), config);
    options.haproxy = haproxy;
    let router = Router::new(options, Arc::new(move |event| sink.lock().unwrap().push(event)))?;
    Ok(Setup { router, http, events, _dir: dir })
}

fn setup() -> Setup {
    require_haproxy();
    setup_with("haproxy".into()).unwrap()
}

fn pid_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default().contains(") Z ")
}

#[test]
fn a_router_starts_reloads_on_change_and_stops() {
    let (one, two) = (Backend::start("one"), Backend::start("two"));
    let mut s = setup();
    let endpoints = resolved(&[service("one", one.port), service("two", two.port)]);
    let mut routes = vec![route("a", "a.test", "one")];

    let first = s.router.reconcile(&routes, &endpoints, now()).unwrap();
    assert_eq!(first.action, ReconcileAction::Started);
    assert!(first.admission.outcome(&routes[0].key()).unwrap().admitted());
    let pid = s.router.pid().unwrap();
    assert_eq!(get("a.test", s.http, "/"), (200, "one\n".into()));
    assert_eq!(get("b.test", s.http, "/").0, 503);
    let stats = s.router.options().config.stats_port.unwrap();
    assert_eq!(get("localhost", stats, "/healthz").0, 200);

    // The same input: HAProxy is left alone.
    assert_eq!(s.router.reconcile(&routes, &endpoints, now()).unwrap().action, ReconcileAction::Unchanged);

    // A new route: reloaded, same master process.
    routes.push(route("b", "b.test", "two"));
    assert_eq!(s.router.reconcile(&routes, &endpoints, now()).unwrap().action, ReconcileAction::Reloaded);
    assert_eq!(s.router.pid(), Some(pid));
    assert_eq!(get("b.test", s.http, "/"), (200, "two\n".into()));
    assert_eq!(get("a.test", s.http, "/"), (200, "one\n".into()));

    // Endpoints change: reloaded too.
    let moved = resolved(&[service("one", two.port), service("two", two.port)]);
    assert_eq!(s.router.reconcile(&routes, &moved, now()).unwrap().action, ReconcileAction::Reloaded);
    assert_eq!(get("a.test", s.http, "/"), (200, "two\n".into()));

    s.router.stop();
    assert_eq!(s.router.pid(), None);
    assert!(!pid_alive(pid), "HAProxy {pid} is still running");
    assert_eq!(get("a.test", s.http, "/").0, 0, "nothing listens any more");
    assert!(std::fs::read_dir(s.router.dir().join("run")).unwrap().next().is_none(), "sockets are removed");
    let events = s.events.lock().unwrap();
    assert!(matches!(events.iter().find(|e| !matches!(e, RouterEvent::Output(_))), Some(RouterEvent::Started { .. })));
    assert_eq!(events.iter().filter(|e| matches!(e, RouterEvent::Reloaded)).count(), 2);
    assert!(matches!(events.last(), Some(RouterEvent::Stopped)));
    assert!(events.iter().any(|e| matches!(e, RouterEvent::Output(line) if line.contains("Loading success"))));
}

#[test]
fn dropping_a_router_stops_haproxy() {
    let mut s = setup();
    s.router.reconcile(&[], &ServiceEndpoints::default(), now()).unwrap();
    let pid = s.router.pid().unwrap();
    drop(s.router);
    assert!(!pid_alive(pid), "HAProxy {pid} outlived its router");
}

#[test]
fn a_crashed_haproxy_is_started_again() {
    let backend = Backend::start("one");
    let mut s = setup();
    let endpoints = resolved(&[service("one", backend.port)]);
    let routes = [route("a", "a.test", "one")];
    s.router.reconcile(&routes, &endpoints, now()).unwrap();
    let pid = s.router.pid().unwrap();
    assert!(Command::new("kill").args(["-KILL", &pid.to_string()]).status().unwrap().success());
    std::thread::sleep(Duration::from_millis(200));
    let again = s.router.reconcile(&routes, &endpoints, now()).unwrap();
    assert_eq!(again.action, ReconcileAction::Started);
    assert_ne!(s.router.pid(), Some(pid));
    assert!(s.events.lock().unwrap().iter().any(|e| matches!(e, RouterEvent::Restarted { .. })));
    // The killed master's workers lose their master and exit; the new one serves.
    let mut served = false;
    for _ in 0..50 {
        if get("a.test", s.http, "/") == (200, "one\n".into()) {
            served = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(served);
}

#[test]
fn a_port_in_use_is_reported_with_haproxys_words() {
    let mut s = setup();
    let taken = TcpListener::bind(("127.0.0.1", s.http)).unwrap();
    let error = s.router.reconcile(&[], &ServiceEndpoints::default(), now()).unwrap_err();
    drop(taken);
    let text = error.to_string();
    assert!(text.starts_with("HAProxy did not start"), "{text}");
    assert!(text.contains("cannot bind socket"), "{text}");
    assert_eq!(s.router.pid(), None);
}

#[test]
fn a_missing_haproxy_is_a_clear_error() {
    let error = setup_with("/nonexistent/haproxy".into()).err().unwrap();
    assert!(matches!(error, s2i_route::Error::HaproxyMissing { .. }), "{error}");
    let report = format!("{:?}", miette::Report::new(error));
    assert!(report.contains("apt-get install haproxy"), "{report}");
}

#[test]
fn a_configuration_haproxy_refuses_keeps_the_previous_one() {
    require_haproxy();
    // A wrapper that passes everything to HAProxy but fails every check after the first.
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("checks");
    let wrapper = dir.path().join("haproxy");
    std::fs::write(
        &wrapper,
        format!(
            "#!/bin/sh\nif [ \"$1\" = -c ]; then\n  if [ -e {c} ]; then echo '[ALERT] refused by the test' >&2; exit 1; fi\n  touch {c}\nfi\nexec haproxy \"$@\"\n",
            c = counter.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&wrapper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let backend = Backend::start("one");
    let mut s = setup_with(wrapper).unwrap();
    let endpoints = resolved(&[service("one", backend.port)]);
    s.router.reconcile(&[route("a", "a.test", "one")], &endpoints, now()).unwrap();
    let before = std::fs::read_to_string(s.router.dir().join("haproxy.cfg")).unwrap();
    let error = s.router.reconcile(&[route("b", "b.test", "one")], &endpoints, now()).unwrap_err();
    assert!(error.to_string().contains("refused by the test"), "{error}");
    assert_eq!(std::fs::read_to_string(s.router.dir().join("haproxy.cfg")).unwrap(), before, "the files are restored");
    assert_eq!(get("a.test", s.http, "/"), (200, "one\n".into()), "the old configuration still serves");
}

#[cfg(feature = "serve")]
#[test]
fn a_store_router_follows_the_store_and_writes_status_back() {
    use s2i_route::serve::{StoreRouter, SyncReason};
    use s2i_route::store::{create_endpoints, create_route, create_service, get_route, update_route};

    let (one, two) = (Backend::start("one"), Backend::start("two"));
    let s = setup();
    let http = s.http;
    let store_dir = tempfile::tempdir().unwrap();
    let store = s2i_store::Store::open(store_dir.path()).unwrap();
    store
        .write(|tx| {
            for (service, endpoints) in [service("one", one.port), service("two", two.port)] {
                create_service(tx, service)?;
                create_endpoints(tx, endpoints)?;
            }
            create_route(tx, route("a", "a.test", "one"), "apps.test")
        })
        .unwrap();
    let mut router = StoreRouter::new(s.router);
    let sync = |router: &mut StoreRouter| futures::executor::block_on(router.sync(&store, None)).unwrap();

    let first = sync(&mut router).expect("the first sync reconciles");
    assert_eq!(first.reason, SyncReason::Start);
    assert_eq!(first.reconciled.action, ReconcileAction::Started);
    assert_eq!(first.statuses_written, 1);
    assert_eq!(get("a.test", http, "/"), (200, "one\n".into()));
    let admitted = store.read(|tx| get_route(tx, "dev", "a")).unwrap().unwrap();
    assert_eq!(admitted.metadata.generation, 1, "a status write leaves the generation");
    assert!(admitted.status.for_router("default").is_some());

    // Its own status write moved the store: one more look finds nothing to do, then quiet.
    let settle = sync(&mut router).expect("the status write is a store change");
    assert_eq!((settle.reconciled.action, settle.statuses_written), (ReconcileAction::Unchanged, 0));
    assert!(sync(&mut router).is_none());

    // A change in the store: HAProxy reloads and serves it.
    let moved = route("a", "a.test", "two");
    store.write(|tx| update_route(tx, moved.clone())).unwrap();
    let changed = sync(&mut router).unwrap();
    assert_eq!((changed.reason, changed.reconciled.action), (SyncReason::StoreChanged, ReconcileAction::Reloaded));
    assert_eq!(get("a.test", http, "/"), (200, "two\n".into()));

    // A newer route for the same host and path: not admitted, and the store says why.
    store.write(|tx| create_route(tx, route("late", "a.test", "one"), "apps.test")).unwrap();
    let late = sync(&mut router).unwrap();
    assert_eq!(late.statuses_written, 1);
    let stored = store.read(|tx| get_route(tx, "dev", "late")).unwrap().unwrap();
    let condition = stored.status.for_router("default").unwrap().condition("Admitted").unwrap();
    assert_eq!(condition.reason, "HostAlreadyClaimed");

    let pid = router.router().pid().unwrap();
    router.stop();
    assert!(!pid_alive(pid), "HAProxy {pid} is still running");
}
