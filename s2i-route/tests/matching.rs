//! Table tests of request matching (docs/compatibility.md#map-files-and-matching), and a check that
//! the matcher decides exactly as HAProxy does with the rendered map files.

mod common;

use common::{now, wildcard, with_tls as tls};
use s2i_route::admission::{AdmissionConfig, admit};
use s2i_route::haproxy::{RouterConfig, backend_name, render};
use s2i_route::matching::{HttpOutcome, HttpsOutcome, RouteTable};
use s2i_route::*;

fn r(name: &str, minute: u32, host: &str, path: &str) -> Route {
    let mut route = common::route_at("shop", name, minute, host, path);
    route.spec.to.name = name.into();
    route
}

fn config() -> AdmissionConfig {
    let mut config = AdmissionConfig::default();
    config.allow_wildcard_routes = true;
    config
}

fn http(table: &RouteTable, host: &str, path: &str) -> String {
    match table.http(host, path) {
        HttpOutcome::Serve(entry) => entry.key.name.clone(),
        HttpOutcome::Redirect(entry) => format!("302 ({})", entry.key.name),
        HttpOutcome::NotFound => "503".into(),
    }
}

fn https(table: &RouteTable, sni: Option<&str>, host: &str, path: &str) -> String {
    match table.https(sni, host, path) {
        HttpsOutcome::Passthrough(entry) => format!("passthrough {}", entry.key.name),
        HttpsOutcome::Terminate(entry) => entry.key.name.clone(),
        HttpsOutcome::NotFound => "503".into(),
    }
}

#[test]
fn paths_match_on_segment_boundaries_longest_first() {
    let routes = [
        r("root", 1, "www.example.com", ""),
        r("foo", 2, "www.example.com", "/foo"),
        r("foobar", 3, "www.example.com", "/foo/bar"),
        r("dir", 4, "dir.example.com", "/foo/"),
        r("slash", 5, "slash.example.com", "/"),
    ];
    let admission = admit(&routes, &config(), now());
    assert_eq!(admission.admitted.len(), 5);
    let table = RouteTable::new(&admission.admitted);
    // (host, path, route)
    let cases = [
        ("www.example.com", "/", "root"),
        ("www.example.com", "/foo", "foo"),
        ("www.example.com", "/foo/", "foo"),
        ("www.example.com", "/foo/baz", "foo"),
        ("www.example.com", "/foobar", "root"),
        ("www.example.com", "/foo/bar", "foobar"),
        ("www.example.com", "/foo/bar/x?q=1", "foobar"),
        ("www.example.com", "/foo/barx", "foo"),
        ("www.example.com", "/Foo", "root"),
        ("dir.example.com", "/foo/x", "dir"),
        ("dir.example.com", "/foo/", "dir"),
        ("dir.example.com", "/foo", "503"),
        ("slash.example.com", "/anything", "slash"),
        ("WWW.Example.COM:9080", "/foo", "foo"),
        ("www.example.com.", "/foo", "foo"),
        ("other.example.com", "/", "503"),
    ];
    for (host, path, expected) in cases {
        assert_eq!(http(&table, host, path), expected, "{host}{path}");
    }
}

#[test]
fn exact_hosts_come_before_wildcards_of_one_label() {
    let routes = [
        wildcard(r("star", 1, "wildcard.acme.test", "")),
        r("api", 2, "api.acme.test", ""),
        r("apipath", 3, "api.acme.test", "/v1"),
    ];
    let admission = admit(&routes, &config(), now());
    let table = RouteTable::new(&admission.admitted);
    let cases = [
        ("api.acme.test", "/", "api"),
        ("api.acme.test", "/v1/x", "apipath"),
        ("www.acme.test", "/", "star"),
        ("wildcard.acme.test", "/", "star"),
        ("acme.test", "/", "503"),
        ("a.b.acme.test", "/", "503"),
    ];
    for (host, path, expected) in cases {
        assert_eq!(http(&table, host, path), expected, "{host}{path}");
    }
}

#[test]
fn the_plain_http_port_follows_termination_and_policy() {
    use InsecureEdgeTerminationPolicy::*;
    let routes = [
        r("plain", 1, "plain.test", ""),
        tls(r("edge-none", 2, "none.test", ""), TlsTermination::Edge, Some(None)),
        tls(r("edge-empty", 3, "empty.test", ""), TlsTermination::Edge, Option::None),
        tls(r("edge-allow", 4, "allow.test", ""), TlsTermination::Edge, Some(Allow)),
        tls(r("edge-redirect", 5, "redirect.test", ""), TlsTermination::Edge, Some(Redirect)),
        tls(r("reencrypt-allow", 6, "re.test", ""), TlsTermination::Reencrypt, Some(Allow)),
        tls(r("pt-redirect", 7, "pt.test", ""), TlsTermination::Passthrough, Some(Redirect)),
        tls(r("pt-none", 8, "ptn.test", ""), TlsTermination::Passthrough, Option::None),
        // A redirecting edge route on a path, a plain route on the rest of the host.
        r("mixed-plain", 9, "mixed.test", ""),
        tls(r("mixed-edge", 10, "mixed.test", "/secure"), TlsTermination::Edge, Some(Redirect)),
    ];
    let admission = admit(&routes, &config(), now());
    assert_eq!(admission.admitted.len(), routes.len(), "{:#?}", admission.outcomes);
    let table = RouteTable::new(&admission.admitted);
    let cases = [
        ("plain.test", "plain", "503"),
        ("none.test", "503", "edge-none"),
        ("empty.test", "503", "edge-empty"),
        ("allow.test", "edge-allow", "edge-allow"),
        ("redirect.test", "302 (edge-redirect)", "edge-redirect"),
        ("re.test", "reencrypt-allow", "reencrypt-allow"),
        ("pt.test", "302 (pt-redirect)", "passthrough pt-redirect"),
        ("ptn.test", "503", "passthrough pt-none"),
    ];
    for (host, on_http, on_https) in cases {
        assert_eq!(http(&table, host, "/"), on_http, "http://{host}/");
        assert_eq!(https(&table, Some(host), host, "/"), on_https, "https://{host}/");
    }
    assert_eq!(http(&table, "mixed.test", "/secure/x"), "302 (mixed-edge)");
    assert_eq!(http(&table, "mixed.test", "/other"), "mixed-plain");
    assert_eq!(
        https(&table, Some("mixed.test"), "mixed.test", "/other"),
        "503",
        "plain routes are not served on HTTPS"
    );
    // Passthrough is chosen by SNI; without SNI (or with another one) TLS is terminated and the Host header decides.
    assert_eq!(https(&table, Option::None, "pt.test", "/"), "503");
    assert_eq!(https(&table, Some("allow.test"), "redirect.test", "/"), "edge-redirect");
    assert_eq!(https(&table, Some("PT.TEST"), "x", "/"), "passthrough pt-redirect");
}

#[test]
fn traffic_shares_follow_the_weights() {
    let mut route = r("ab", 1, "ab.test", "");
    route.spec.to.weight = 75;
    route.spec.alternate_backends = vec![RouteTargetReference::service("b", 25), RouteTargetReference::service("c", 0)];
    let admission = admit(&[route], &config(), now());
    let table = RouteTable::new(&admission.admitted);
    let HttpOutcome::Serve(entry) = table.http("ab.test", "/") else { panic!() };
    assert_eq!(entry.traffic_shares(), [("ab".to_owned(), 0.75), ("b".to_owned(), 0.25), ("c".to_owned(), 0.0)]);
}

/// Picks items by a counter scrambled with a multiplicative hash: varied and
/// the same on every run.
struct Picker(u64);

impl Picker {
    fn next(&mut self) -> u64 {
        self.0 += 1;
        self.0.wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_right(29)
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

/// HAProxy's `map_reg`: the value of the first line whose regex matches.
struct Map(Vec<(regex::Regex, String)>);

impl Map {
    fn parse(text: &str) -> Map {
        Map(text
            .lines()
            .map(|line| {
                let (key, value) = line.rsplit_once(' ').unwrap();
                (regex::Regex::new(key).unwrap(), value.to_owned())
            })
            .collect())
    }

    fn lookup(&self, subject: &str) -> Option<&str> {
        self.0.iter().find(|(regex, _)| regex.is_match(subject)).map(|(_, value)| value.as_str())
    }
}

#[test]
fn the_matcher_agrees_with_haproxy_on_the_rendered_maps() {
    let hosts = ["a.test", "b.test", "www.c.test", "x.c.test"];
    let paths = ["", "/", "/api", "/api/", "/api/v1", "/apix", "/static/css", "/a.b", "/v1+"];
    let terminations =
        [None, Some(TlsTermination::Edge), Some(TlsTermination::Reencrypt), Some(TlsTermination::Passthrough)];
    let policies = [None, Some(InsecureEdgeTerminationPolicy::Allow), Some(InsecureEdgeTerminationPolicy::Redirect)];
    for round in 0..60 {
        let mut random = Picker(round * 1_000);
        let mut routes = Vec::new();
        for index in 0..12 {
            let mut route = r(&format!("r{round}-{index}"), index, random.pick(&hosts), random.pick(&paths));
            let termination = terminations[(random.next() % 4) as usize];
            if let Some(termination) = termination {
                let mut policy = policies[(random.next() % 3) as usize];
                if termination == TlsTermination::Passthrough {
                    route.spec.path.clear();
                    if policy == Some(InsecureEdgeTerminationPolicy::Allow) {
                        policy = None;
                    }
                }
                route = tls(route, termination, policy);
            }
            if random.next().is_multiple_of(5) {
                route = wildcard(route);
            }
            routes.push(route);
        }
        let admission = admit(&routes, &config(), now());
        let table = RouteTable::new(&admission.admitted);
        let rendered = render(
            &admission.admitted,
            &ServiceEndpoints::default(),
            &RouterConfig::new(s2i_route::tls::generate_default_certificate("apps.localhost").unwrap()),
        )
        .unwrap();
        let map = |name: &str| Map::parse(rendered.file(&format!("conf/{name}")).unwrap());
        let (redirect, http_be, terminated, sni, tcp) = (
            map("os_route_http_redirect.map"),
            map("os_http_be.map"),
            map("os_edge_reencrypt_be.map"),
            map("os_sni_passthrough.map"),
            map("os_tcp_be.map"),
        );
        let request_hosts =
            ["a.test", "A.TEST:9080", "b.test.", "www.c.test", "x.c.test", "y.c.test", "c.test", "z.a.test"];
        let request_paths =
            ["/", "/api", "/api/", "/api/v1/x", "/apix", "/static/css/s.css", "/a.b", "/aXb", "/v1+", "/v11"];
        for host in request_hosts {
            for path in request_paths {
                let base = format!("{}{path}", host.to_ascii_lowercase());
                let haproxy_http = match redirect.lookup(&base) {
                    Some("1") => "302".to_owned(),
                    _ => http_be.lookup(&base).map_or("503".to_owned(), str::to_owned),
                };
                let ours = match table.http(host, path) {
                    HttpOutcome::Redirect(_) => "302".to_owned(),
                    HttpOutcome::Serve(entry) => {
                        backend_name(admission.admitted.iter().find(|a| a.key() == entry.key).unwrap())
                    }
                    HttpOutcome::NotFound => "503".to_owned(),
                };
                assert_eq!(ours, haproxy_http, "round {round}: http {base}\n{:#?}", admission.outcomes);

                let sni_name = host.split(':').next().unwrap().to_ascii_lowercase();
                let haproxy_https = if sni.lookup(&sni_name).is_some() {
                    format!("tcp {}", tcp.lookup(&sni_name).unwrap())
                } else {
                    terminated.lookup(&base).map_or("503".to_owned(), str::to_owned)
                };
                let ours = match table.https(Some(&sni_name), host, path) {
                    HttpsOutcome::Passthrough(entry) => {
                        format!(
                            "tcp {}",
                            backend_name(admission.admitted.iter().find(|a| a.key() == entry.key).unwrap())
                        )
                    }
                    HttpsOutcome::Terminate(entry) => {
                        backend_name(admission.admitted.iter().find(|a| a.key() == entry.key).unwrap())
                    }
                    HttpsOutcome::NotFound => "503".to_owned(),
                };
                assert_eq!(
                    ours,
                    haproxy_https,
                    "round {round}: https {base}\n{}\n{:#?}",
                    rendered.file("conf/os_edge_reencrypt_be.map").unwrap(),
                    admission
                        .admitted
                        .iter()
                        .map(|a| (
                            a.route.metadata.name.clone(),
                            a.host.clone(),
                            a.route.spec.path.clone(),
                            a.route.is_wildcard()
                        ))
                        .collect::<Vec<_>>()
                );
            }
        }
    }
}
