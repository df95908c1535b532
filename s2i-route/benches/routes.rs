//! Admission, rendering and matching at 10,000 routes.
//!
//! `cargo bench -p s2i-route --bench routes`; `cargo xtask bench routes` runs
//! it and checks the targets: admission ≤ 1 s, rendering ≤ 1 s, a match
//! lookup's median ≤ 2 µs.

#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use jiff::Timestamp;
use s2i_route::admission::{AdmissionConfig, admit};
use s2i_route::haproxy::{RouterConfig, render};
use s2i_route::matching::RouteTable;
use s2i_route::service::{EndpointSource, ResolvedEndpoint};
use s2i_route::*;

const ROUTES: usize = 10_000;
const NAMESPACES: usize = 100;

/// A route mix like a busy cluster's: most plain HTTP, a quarter edge (one
/// in ten of those with its own certificate), some passthrough and
/// reencrypt, some sharing a host on different paths, some wildcards, and
/// some conflicting with older routes.
fn routes() -> Vec<Route> {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let base: Timestamp = "2026-01-01T00:00:00Z".parse().unwrap();
    let mut routes = Vec::with_capacity(ROUTES);
    for index in 0..ROUTES {
        let namespace = format!("ns{}", index % NAMESPACES);
        let name = format!("route{index}");
        let mut metadata = ObjectMeta::named(&namespace, &name);
        metadata.uid = format!("uid-{index:05}");
        metadata.creation_timestamp = Some(base + jiff::SignedDuration::from_secs(index as i64));
        // Every fourth route shares its host with the previous ones on another path;
        // every 50th repeats an older route's host and path (a conflict).
        let app = index / 4;
        let host = format!("app{app}-{namespace}.apps.example.com");
        let path = match index % 4 {
            0 => String::new(),
            1 => "/api".to_owned(),
            2 => "/static".to_owned(),
            _ => format!("/v{}/items", index % 7),
        };
        let (host, path) = if index % 50 == 49 {
            (format!("app{}-{namespace}.apps.example.com", app - 1), String::new())
        } else {
            (host, path)
        };
        let service = format!("svc{}", index % 500);
        let mut spec = RouteSpec { host, path, to: RouteTargetReference::service(&service, 100), ..Default::default() };
        match index % 20 {
            0..=4 => {
                let mut tls = TlsConfig::new(TlsTermination::Edge);
                tls.insecure_edge_termination_policy = Some(InsecureEdgeTerminationPolicy::Redirect);
                if index % 50 == 0 {
                    let key = rcgen::KeyPair::generate().unwrap();
                    let cert = rcgen::CertificateParams::new(vec![spec.host.clone()])
                        .unwrap()
                        .signed_by(&key, &issuer)
                        .unwrap();
                    tls.certificate = cert.pem();
                    tls.key = key.serialize_pem();
                }
                spec.tls = Some(tls);
            }
            5 | 6 if spec.path.is_empty() => spec.tls = Some(TlsConfig::new(TlsTermination::Passthrough)),
            7 => spec.tls = Some(TlsConfig::new(TlsTermination::Reencrypt)),
            8 => spec.alternate_backends = vec![RouteTargetReference::service(format!("svc{}", (index + 1) % 500), 25)],
            _ => {}
        }
        if index % 997 == 0 && spec.tls.is_none() {
            spec.host = format!("wild{index}.w{namespace}.apps.example.com");
            spec.path.clear();
            spec.wildcard_policy = WildcardPolicy::Subdomain;
        }
        routes.push(Route::new(metadata, spec));
    }
    routes
}

fn endpoints(routes: &[Route]) -> ServiceEndpoints {
    let mut endpoints = ServiceEndpoints::default();
    for (index, route) in routes.iter().enumerate() {
        for backend in route.backends() {
            let list = (0..2)
                .map(|n| ResolvedEndpoint {
                    address: format!("10.{}.{}.{}", index % 250, n, index % 200 + 1),
                    port: 8080,
                    port_name: "http".into(),
                    source: EndpointSource::Container(format!("{}-{n}", backend.name)),
                })
                .collect();
            endpoints.insert(ObjectKey::new(&route.metadata.namespace, &backend.name), list);
        }
    }
    endpoints
}

fn bench(c: &mut Criterion) {
    let routes = routes();
    let mut config = AdmissionConfig::default();
    config.allow_wildcard_routes = true;
    let now: Timestamp = "2026-06-01T00:00:00Z".parse().unwrap();
    let admission = admit(&routes, &config, now);
    assert!(admission.admitted.len() > ROUTES * 9 / 10, "most routes are admitted: {}", admission.admitted.len());
    let endpoints = endpoints(&routes);
    let router = RouterConfig::new(s2i_route::tls::generate_default_certificate("apps.example.com").unwrap());
    let table = RouteTable::new(&admission.admitted);
    let requests: Vec<(String, &str)> = (0..1024)
        .map(|i| {
            let namespace = format!("ns{}", i % NAMESPACES);
            let host = format!("app{}-{namespace}.apps.example.com:9080", (i * 37) % (ROUTES / 4));
            let path = ["/", "/api/v1/users", "/static/css/site.css", "/v3/items/42", "/nothing"][i % 5];
            (host, path)
        })
        .collect();

    let mut group = c.benchmark_group("routes");
    group.sample_size(10).measurement_time(Duration::from_secs(4));
    group.bench_function("admit_10000", |b| b.iter(|| black_box(admit(black_box(&routes), &config, now))));
    group.bench_function("render_10000", |b| {
        b.iter(|| black_box(render(black_box(&admission.admitted), &endpoints, &router).unwrap()))
    });
    group.finish();

    let mut group = c.benchmark_group("routes");
    group.sample_size(100).measurement_time(Duration::from_secs(3));
    let mut next = 0usize;
    group.bench_function("match_lookup", |b| {
        b.iter(|| {
            next = (next + 1) & 1023;
            let (host, path) = &requests[next];
            black_box(table.http(black_box(host), black_box(path)));
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
