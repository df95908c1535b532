//! Render the configuration of an OpenShift router from two routes, with no
//! feature enabled: no store, no container engine, no HAProxy needed.
//!
//! ```sh
//! cargo run -p s2i-route --no-default-features --example render [-- OUT_DIR]
//! ```
//!
//! Prints `haproxy.cfg` and the other files of the router directory; with
//! `OUT_DIR`, also writes them there, so that `cd OUT_DIR && haproxy -c -f
//! haproxy.cfg` can check them and `haproxy -f haproxy.cfg` serve them.

// An example shows its result on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use s2i_route::admission::{AdmissionConfig, admit};
use s2i_route::haproxy::{RouterConfig, render};
use s2i_route::tls::generate_default_certificate;
use s2i_route::validation::validate_route;
use s2i_route::{
    Endpoints, InsecureEdgeTerminationPolicy, ObjectMeta, Route, RouteSpec, RouteTargetReference, Service,
    ServiceEndpoints, ServicePort, ServiceSpec, TlsConfig, TlsTermination,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let now = jiff::Timestamp::now();

    // The services the routes lead to, and their Endpoints objects: the
    // addresses behind them (a selector would find running containers
    // instead, with the `containers` feature).
    let frontend = Service::new(
        ObjectMeta::named("demo", "frontend"),
        ServiceSpec { ports: vec![ServicePort::new("http", 80, Some(8080))], ..Default::default() },
    );
    let api = Service::new(
        ObjectMeta::named("demo", "api"),
        ServiceSpec { ports: vec![ServicePort::new("http", 80, Some(9000))], ..Default::default() },
    );
    let endpoints = [
        Endpoints::for_service(&frontend, &["127.0.0.1:8080".parse()?, "127.0.0.2:8080".parse()?])?,
        Endpoints::for_service(&api, &["127.0.0.1:9000".parse()?])?,
    ];
    let services = [frontend, api];

    // An edge route for the site (TLS ends at the router, with its default
    // certificate; plain HTTP is redirected), and a plain route for /api.
    let mut site = Route::new(
        ObjectMeta::named("demo", "site"),
        RouteSpec {
            host: "shop.apps.localhost".into(),
            to: RouteTargetReference::service("frontend", 100),
            ..Default::default()
        },
    );
    let mut edge = TlsConfig::new(TlsTermination::Edge);
    edge.insecure_edge_termination_policy = Some(InsecureEdgeTerminationPolicy::Redirect);
    site.spec.tls = Some(edge);
    let api_route = Route::new(
        ObjectMeta::named("demo", "api"),
        RouteSpec {
            host: "shop.apps.localhost".into(),
            path: "/api".into(),
            to: RouteTargetReference::service("api", 100),
            ..Default::default()
        },
    );

    // Routes given in code have no creation time or uid: the store sets
    // those. Admission orders routes by them, so set them here.
    let mut routes = vec![site, api_route];
    for (index, route) in routes.iter_mut().enumerate() {
        route.metadata.uid = format!("example-{index}");
        route.metadata.creation_timestamp = Some(now);
        validate_route(route).map_err(|errors| format!("route {} is invalid:\n{errors}", route.key()))?;
    }

    let admission = admit(&routes, &AdmissionConfig::default(), now);
    for route in &routes {
        let outcome = admission.outcome(&route.key()).expect("every route has an outcome");
        match &outcome.rejection {
            None => eprintln!("admitted {} at {}", route.key(), outcome.host),
            Some(rejection) => eprintln!("refused {}: {} ({})", route.key(), rejection.message, rejection.reason),
        }
    }

    let config = RouterConfig::new(generate_default_certificate("apps.localhost")?);
    let rendered = render(&admission.admitted, &ServiceEndpoints::fixed(&services, &endpoints), &config)?;
    for warning in &rendered.warnings {
        eprintln!("warning: {warning}");
    }

    println!("{}", rendered.haproxy_cfg());
    for (path, file) in &rendered.files {
        let secret = if file.secret { " (a private key: written readable by its owner only)" } else { "" };
        eprintln!("{path:<32} {:>5} bytes{secret}", file.contents.len());
    }
    if let Some(dir) = std::env::args_os().nth(1) {
        rendered.write_to(std::path::Path::new(&dir))?;
        eprintln!("written to {}", std::path::Path::new(&dir).display());
    }
    Ok(())
}
