//! `s2i route create` and `s2i expose`: a route from flags, created with
//! `s2i_route::store::create_route_to_services` (which refuses a route to a
//! service that does not exist) and admitted with every route of the store.

use std::path::Path;

use s2i_route::store::{create_route_to_services, get_service, service_not_found};
use s2i_route::{
    InsecureEdgeTerminationPolicy, ObjectMeta, Route, RoutePort, RouteSpec, RouteTargetReference, TargetPort,
    TlsConfig, TlsTermination, WildcardPolicy,
};
use s2i_store::Resource;

use super::router::{admission_config, warn_about};
use crate::cli::{ExposeArgs, GlobalArgs, RouteAtArgs, RouteCreateArgs, RouteType};
use crate::commands::session::Context;
use crate::failure::Failure;

/// Creates `route` and admits the routes of the store, in one transaction;
/// prints the outcome the way `oc` does (`route.route.openshift.io/NAME
/// <verb>`) and warnings on stderr.
fn create_and_admit(context: &Context, route: Route, verb: &str) -> Result<i32, Failure> {
    let config = admission_config()?;
    let (created, admission) =
        context.store.write(|tx| create_route_to_services(tx, route.clone(), &config, tx.time()))?;
    println!("{}/{} {verb}", Route::INFO.qualified_name(), created.metadata.name);
    warn_about(&created, &admission, &[]);
    Ok(0)
}

fn read_pem(flag: &str, path: &Path) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| {
        Failure::message(
            format!("cannot read {flag} {}: {e}", path.display()),
            format!("give {flag} the path of a PEM file"),
        )
    })
}

/// `--alternate SERVICE=WEIGHT`.
fn parse_alternate(text: &str) -> Result<RouteTargetReference, Failure> {
    let bad = || {
        Failure::message(
            format!("--alternate {text:?} is not SERVICE=WEIGHT"),
            "write the service and its weight (0 to 256), e.g. --alternate web-v2=25".into(),
        )
    };
    let (name, weight) = text.split_once('=').ok_or_else(bad)?;
    let weight: i32 = weight.trim().parse().map_err(|_| bad())?;
    if name.trim().is_empty() {
        return Err(bad());
    }
    Ok(RouteTargetReference::service(name.trim(), weight))
}

/// `--hostname`, `--path`, `--port` and `--wildcard-policy` on the spec of a new route.
fn place(spec: &mut RouteSpec, at: &RouteAtArgs) {
    spec.host = at.hostname.clone().unwrap_or_default();
    spec.path = at.path.clone().unwrap_or_default();
    if let Some(port) = &at.port {
        spec.port = Some(RoutePort { target_port: TargetPort::from(port.as_str()) });
    }
    spec.wildcard_policy = match at.wildcard_policy.as_deref() {
        Some("Subdomain") => WildcardPolicy::Subdomain,
        _ => WildcardPolicy::None,
    };
}

/// The route `s2i route create` asks for.
fn route_from_args(global: &GlobalArgs, args: &RouteCreateArgs) -> Result<Route, Failure> {
    let name = args.name.clone().unwrap_or_else(|| args.service.clone());
    let to = RouteTargetReference::service(&args.service, args.weight.unwrap_or(s2i_route::route::DEFAULT_WEIGHT));
    let mut spec = RouteSpec { to, ..RouteSpec::default() };
    place(&mut spec, &args.at);
    spec.alternate_backends = args.alternates.iter().map(|a| parse_alternate(a)).collect::<Result<_, _>>()?;
    let termination = match args.route_type {
        RouteType::Http => None,
        RouteType::Edge => Some(TlsTermination::Edge),
        RouteType::Passthrough => Some(TlsTermination::Passthrough),
        RouteType::Reencrypt => Some(TlsTermination::Reencrypt),
    };
    let files = [
        ("--cert", global.cert.as_ref()),
        ("--key", global.key.as_ref()),
        ("--ca-cert", args.ca_cert.as_ref()),
        ("--dest-ca-cert", args.dest_ca_cert.as_ref()),
    ];
    match termination {
        None => {
            let given: Vec<&str> = files.iter().filter(|(_, path)| path.is_some()).map(|(flag, _)| *flag).collect();
            if !given.is_empty() || args.insecure_policy.is_some() {
                let mut flags = given;
                if args.insecure_policy.is_some() {
                    flags.push("--insecure-policy");
                }
                let verb = if flags.len() == 1 { "is" } else { "are" };
                return Err(Failure::message(
                    format!("{} {verb} for TLS routes, not http routes", flags.join(", ")),
                    "create an edge, passthrough or reencrypt route: s2i route create edge …".into(),
                ));
            }
        }
        Some(termination) => {
            let mut tls = TlsConfig::new(termination);
            let read = |index: usize| -> Result<String, Failure> {
                let (flag, path) = files[index];
                path.map_or(Ok(String::new()), |path| read_pem(flag, path))
            };
            tls.certificate = read(0)?;
            tls.key = read(1)?;
            tls.ca_certificate = read(2)?;
            tls.destination_ca_certificate = read(3)?;
            tls.insecure_edge_termination_policy = match args.insecure_policy.as_deref() {
                None => None,
                Some(policy) => Some(
                    policy
                        .parse::<InsecureEdgeTerminationPolicy>()
                        .map_err(|e| Failure::message(e, "use None, Allow or Redirect".into()))?,
                ),
            };
            spec.tls = Some(tls);
        }
    }
    Ok(Route::new(ObjectMeta::named(&global.namespace, name), spec))
}

/// `s2i route create TYPE [NAME] --service SERVICE …`.
pub(super) fn create(global: &GlobalArgs, args: RouteCreateArgs) -> Result<i32, Failure> {
    let route = route_from_args(global, &args)?;
    let context = Context::open(global)?;
    create_and_admit(&context, route, "created")
}

/// `s2i expose service NAME` (or `svc/NAME`).
pub(crate) async fn expose(global: &GlobalArgs, args: ExposeArgs) -> Result<i32, Failure> {
    let (kind, name) = match (args.kind.split_once('/'), &args.name) {
        (Some((kind, name)), None) => (kind.to_owned(), name.to_owned()),
        (None, Some(name)) => (args.kind.clone(), name.clone()),
        _ => {
            return Err(Failure::message(
                format!("cannot tell what to expose from {:?}", args.kind),
                "write s2i expose service NAME (or s2i expose svc/NAME)".into(),
            ));
        }
    };
    if !["service", "services", "svc"].contains(&kind.to_ascii_lowercase().as_str()) {
        return Err(Failure::message(
            format!("cannot expose a {kind}: s2i exposes services"),
            "create a service for it first (s2i service create NAME --endpoint HOST:PORT), then s2i expose service NAME"
                .into(),
        ));
    }
    let context = Context::open(global)?;
    let namespace = &context.namespace;
    let service = context
        .store
        .read(|tx| get_service(tx, namespace, &name))?
        .ok_or_else(|| service_not_found(namespace, &name))?;
    let mut route = service.exposed_as(args.route_name.as_deref().unwrap_or(&name));
    place(&mut route.spec, &args.at);
    create_and_admit(&context, route, "exposed")
}
