//! Routes: the `route` kind of the object verbs, `s2i route create`, `serve`,
//! `render` and `export`. The rules (host generation, validation, update
//! rules, admission, HAProxy) are `s2i-route`'s; this module turns flags into
//! objects and results into lines.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use miette::Diagnostic;
use s2i_core::{CancellationToken, ContainerRuntime};
use s2i_route::admission::{Admission, AdmissionConfig, admit};
use s2i_route::containers::resolve_endpoints;
use s2i_route::endpoints::{ENDPOINTS_KIND, Endpoints};
use s2i_route::export::{ExportTarget, GatewayRef, export_route};
use s2i_route::haproxy::{RouterConfig, load_or_generate_default_certificate, render};
use s2i_route::route::{CONDITION_ADMITTED, ConditionStatus, ROUTE_KIND, SERVICE_KIND};
use s2i_route::router::{ReconcileAction, Router, RouterEvent, RouterOptions};
use s2i_route::serve::{StoreRouter, SyncReason, Synced};
use s2i_route::service::ServiceEndpoints;
use s2i_route::store::{
    admit_routes, apply_route, create_route, delete_route, get_route, get_service, list_endpoints, list_routes,
    list_services, missing_services, prepare_new_endpoints, prepare_new_route, prepare_new_service, route_not_found,
    service_not_found,
};
use s2i_route::validation::route_warnings;
use s2i_route::{
    InsecureEdgeTerminationPolicy, ObjectMeta, Route, RoutePort, RouteSpec, RouteTargetReference, Service, TargetPort,
    TlsConfig, TlsTermination, WildcardPolicy, host,
};
use s2i_store::codec::Document;
use s2i_store::{Resource, Tx};
use serde::Deserialize;
use serde_json::Value;

use super::objects::{self, Applied, ApplyOps, BoxFuture, DocumentError, Kind, LibResult, or_none, to_value};
use super::session::{Context, Session};
use super::{Failure, connect_engine};
use crate::cli::{
    ExportFormat, GlobalArgs, RouteAtArgs, RouteCommand, RouteCreateArgs, RouteExportArgs, RouteFiles, RouteRenderArgs,
    RouteServeArgs, RouteType, RouterPorts,
};
use crate::signals;

const GROUP: &str = Route::INFO.group;
/// How often `s2i route serve` looks at the store and the containers.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

// ---------------------------------------------------------------------------
// Shared with services.

/// A stored object's JSON as its type; the verbs only hand in what `get`/`list` made.
pub(super) fn decode<T: for<'de> Deserialize<'de>>(value: &Value) -> Result<T, s2i_imagestream::Error> {
    serde_json::from_value(value.clone()).map_err(|e| s2i_imagestream::Error::InvalidObject {
        kind: value["kind"].as_str().unwrap_or_default().to_owned(),
        name: value["metadata"]["name"].as_str().unwrap_or_default().to_owned(),
        message: e.to_string(),
        help: "this is a bug in s2i; please report it".into(),
    })
}

/// A library error of the route crate where the verbs want a store error.
fn as_store_error(error: s2i_route::Error) -> s2i_imagestream::Error {
    match error {
        s2i_route::Error::Store(error) => error.into(),
        other => s2i_imagestream::Error::InvalidRequest {
            message: other.to_string(),
            help: other.help().map(|help| help.to_string()).unwrap_or_default(),
        },
    }
}

/// The domain generated hosts end in: `$S2I_ROUTE_DOMAIN`, else `apps.localhost`.
fn route_domain() -> Result<String, s2i_imagestream::Error> {
    host::router_domain_from_env().map_err(as_store_error)
}

/// How routes are admitted when they change: the router `default` of this
/// machine, with the router's defaults and the domain of `$S2I_ROUTE_DOMAIN`.
fn admission_config() -> Result<AdmissionConfig, s2i_imagestream::Error> {
    Ok(AdmissionConfig { router_domain: route_domain()?, ..Default::default() })
}

pub(super) fn pairs(map: &BTreeMap<String, String>, separator: &str) -> String {
    if map.is_empty() {
        "<none>".into()
    } else {
        map.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(separator)
    }
}

pub(super) fn field(out: &mut String, name: &str, value: &str) {
    let _ = writeln!(out, "{:<18}{value}", format!("{name}:"));
}

/// Creates `route` (refusing backends that name no service), then admits the
/// routes of the store, in one transaction; prints the outcome the way
/// `oc` does (`route.route.openshift.io/NAME <verb>`) and warnings on stderr.
pub(super) fn create_and_admit(context: &Context, route: Route, verb: &str) -> Result<i32, Failure> {
    let config = admission_config()?;
    let (created, admission) = context.store.write(|tx| {
        if let Some(name) = missing_services(tx, &route)?.first() {
            return Err(service_not_found(&route.metadata.namespace, name));
        }
        let created = create_route(tx, route.clone(), &config.router_domain)?;
        let admission = admit_routes(tx, &config, tx.time())?;
        Ok((created, admission))
    })?;
    println!("route.{GROUP}/{} {verb}", created.metadata.name);
    warn_about(&created, &admission, &[]);
    Ok(0)
}

/// Warnings about a route as stored: ineffective settings, services that do
/// not exist, and whether the router admitted it.
fn warn_about(route: &Route, admission: &Admission, missing: &[String]) {
    let key = route.key();
    for warning in route_warnings(route) {
        eprintln!("warning: route {key}: {warning}");
    }
    for service in missing {
        eprintln!(
            "warning: route {key} points at service {service:?}, which does not exist: it answers 503 until you create it (s2i service create {service} --endpoint HOST:PORT)"
        );
    }
    if let Some(rejection) = admission.outcome(&key).and_then(|outcome| outcome.rejection.as_ref()) {
        eprintln!("warning: route {key} is not admitted: {}: {}", rejection.reason, rejection.message);
    }
}

// ---------------------------------------------------------------------------
// The `route` kind of get/describe/delete/apply.

pub(crate) const ROUTE: Kind = Kind {
    info: Route::INFO,
    columns: &["NAME", "HOST/PORT", "PATH", "SERVICES", "PORT", "TERMINATION", "WILDCARD", "ADMITTED"],
    get: |tx, namespace, name| {
        let route = get_route(tx, namespace, name)?.ok_or_else(|| route_not_found(namespace, name))?;
        Ok(to_value(&route))
    },
    list: Some(|tx, namespace| Ok(list_routes(tx, namespace)?.iter().map(to_value).collect())),
    row: |value| decode::<Route>(value).map(|route| route_row(&route)).unwrap_or_default(),
    describe: Some(|tx, value| describe_route(tx, &decode(value)?)),
    apply: Some(ApplyOps { parse: parse_route, write: write_route, after: after_routes }),
    delete: Some(delete_route_hook),
};

/// The `Admitted` condition this machine's router wrote, if any.
fn admitted_condition(route: &Route) -> Option<&s2i_route::route::RouteIngressCondition> {
    this_router(route).and_then(|ingress| ingress.condition(CONDITION_ADMITTED))
}

/// The status this machine's router (the default of [`AdmissionConfig`]) wrote, if any.
fn this_router(route: &Route) -> Option<&s2i_route::route::RouteIngress> {
    route.status.for_router(&AdmissionConfig::default().router_name)
}

/// Each backend of `route` with its share of the traffic, in whole percent.
fn backend_shares(route: &Route) -> impl Iterator<Item = (&s2i_route::route::RouteTargetReference, i64)> {
    let total: i64 = route.backends().map(|backend| i64::from(backend.weight)).sum();
    route.backends().map(move |backend| (backend, if total == 0 { 0 } else { i64::from(backend.weight) * 100 / total }))
}

/// `oc get route`'s columns, and whether the router admitted the route.
fn route_row(route: &Route) -> Vec<String> {
    let ingress = this_router(route);
    let host = match ingress {
        Some(ingress) if route.spec.host.is_empty() && !ingress.host.is_empty() => ingress.host.clone(),
        _ => route.spec.host.clone(),
    };
    let services = if route.spec.alternate_backends.is_empty() {
        route.spec.to.name.clone()
    } else {
        backend_shares(route)
            .map(|(backend, share)| format!("{}({share}%)", backend.name))
            .collect::<Vec<_>>()
            .join(",")
    };
    let port = route.spec.port.as_ref().map_or("<all>".to_owned(), |port| port.target_port.to_string());
    let termination = match &route.spec.tls {
        None => String::new(),
        Some(tls) => match tls.insecure_edge_termination_policy {
            Some(policy) => format!("{}/{policy}", tls.termination),
            None => tls.termination.to_string(),
        },
    };
    let admitted = match admitted_condition(route) {
        None => "Pending".to_owned(),
        Some(condition) if condition.status == ConditionStatus::True => "True".to_owned(),
        Some(condition) => format!("False ({})", condition.reason),
    };
    vec![
        route.metadata.name.clone(),
        host,
        route.spec.path.clone(),
        services,
        port,
        termination,
        route.spec.wildcard_policy.to_string(),
        admitted,
    ]
}

fn describe_route(tx: &Tx<'_>, route: &Route) -> LibResult<String> {
    let mut out = String::new();
    let meta = &route.metadata;
    field(&mut out, "Name", &meta.name);
    field(&mut out, "Namespace", &meta.namespace);
    field(&mut out, "Created", &meta.creation_timestamp.map(|t| t.to_string()).unwrap_or_else(|| "<none>".into()));
    field(&mut out, "Labels", &pairs(&meta.labels, "\n                  "));
    field(&mut out, "Annotations", &pairs(&meta.annotations, "\n                  "));
    let requested = if route.spec.host.is_empty() && !route.spec.subdomain.is_empty() {
        format!("{} (subdomain)", route.spec.subdomain)
    } else {
        or_none(&route.spec.host)
    };
    field(&mut out, "Requested Host", &requested);
    for ingress in &route.status.ingress {
        let Some(condition) = ingress.condition(CONDITION_ADMITTED) else { continue };
        let since = condition.last_transition_time.map(|t| format!(" since {t}")).unwrap_or_default();
        let line = match condition.status {
            ConditionStatus::True => format!("exposed on router {} at {}{since}", ingress.router_name, ingress.host),
            _ => format!(
                "rejected by router {}: {} ({}){since}",
                ingress.router_name, condition.reason, condition.message
            ),
        };
        let _ = writeln!(out, "{:<18}{line}", "");
    }
    if route.status.ingress.is_empty() {
        let _ = writeln!(out, "{:<18}not yet admitted by a router", "");
    }
    field(&mut out, "Path", &or_none(&route.spec.path));
    field(&mut out, "TLS Termination", &route.termination().map_or("<none>".into(), |t| t.to_string()));
    field(
        &mut out,
        "Insecure Policy",
        &route
            .spec
            .tls
            .as_ref()
            .and_then(|tls| tls.insecure_edge_termination_policy)
            .map_or("<none>".into(), |p| p.to_string()),
    );
    field(
        &mut out,
        "Endpoint Port",
        &route.spec.port.as_ref().map_or("<all endpoint ports>".into(), |p| p.target_port.to_string()),
    );
    field(&mut out, "Wildcard Policy", route.spec.wildcard_policy.as_str());
    for (backend, share) in backend_shares(route) {
        let _ = writeln!(out);
        field(&mut out, "Service", &backend.name);
        field(&mut out, "Weight", &format!("{} ({share}%)", backend.weight));
        let endpoints = match get_service(tx, &meta.namespace, &backend.name)? {
            None => "<the service does not exist>".to_owned(),
            Some(service) => super::service::service_endpoints_text(tx, &service)?,
        };
        field(&mut out, "Endpoints", &endpoints);
    }
    Ok(out)
}

/// Reads one document as `T`, in `namespace` when it names none (`apply`'s `parse`).
pub(super) fn parse_in_namespace<T: for<'de> Deserialize<'de> + serde::Serialize>(
    document: Document<'_>,
    namespace: &str,
    metadata: fn(&mut T) -> &mut ObjectMeta,
) -> Result<Value, DocumentError> {
    let mut object = document.decode::<T>().map_err(DocumentError::Yaml)?;
    let meta = metadata(&mut object);
    if meta.namespace.is_empty() {
        meta.namespace = namespace.to_owned();
    }
    Ok(to_value(&object))
}

fn parse_route(document: Document<'_>, namespace: &str) -> Result<Value, DocumentError> {
    parse_in_namespace::<Route>(document, namespace, |route| &mut route.metadata)
}

fn write_route(tx: &Tx<'_>, value: Value) -> LibResult<Applied> {
    let route: Route = decode(&value)?;
    let (stored, action) = apply_route(tx, route, &route_domain()?)?;
    Ok(Applied { namespace: stored.metadata.namespace, name: stored.metadata.name, verb: action.as_str() })
}

fn after_routes<'a>(session: &'a Session, applied: &'a [Applied]) -> BoxFuture<'a, Result<Vec<String>, Failure>> {
    Box::pin(async move {
        let config = admission_config()?;
        let (admission, routes) = session.context.store.write(|tx| {
            let admission = admit_routes(tx, &config, tx.time())?;
            let mut routes = Vec::new();
            for object in applied {
                if let Some(route) = get_route(tx, &object.namespace, &object.name)? {
                    let missing = missing_services(tx, &route)?;
                    routes.push((route, missing));
                }
            }
            Ok::<_, s2i_imagestream::Error>((admission, routes))
        })?;
        for (route, missing) in &routes {
            warn_about(route, &admission, missing);
        }
        Ok(Vec::new())
    })
}

fn delete_route_hook<'a>(session: &'a Session, name: &'a str) -> BoxFuture<'a, Result<String, Failure>> {
    Box::pin(async move {
        let config = admission_config()?;
        let namespace = &session.context.namespace;
        session.context.store.write(|tx| {
            delete_route(tx, namespace, name)?;
            admit_routes(tx, &config, tx.time())
        })?;
        Ok(format!("route.{GROUP} \"{name}\" deleted"))
    })
}

// ---------------------------------------------------------------------------
// s2i route …

pub(super) async fn run(global: &GlobalArgs, command: RouteCommand) -> Result<i32, Failure> {
    match command {
        RouteCommand::Create(args) => create(global, args),
        RouteCommand::Serve(args) => serve(global, args).await,
        RouteCommand::Render(args) => render_routes(global, args).await,
        RouteCommand::Export(args) => export(global, args),
    }
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

/// The spec of a new route to `to` from `--hostname`, `--path`, `--port`
/// and `--wildcard-policy`; `default_port` when `--port` is not given.
pub(super) fn route_spec(at: &RouteAtArgs, to: RouteTargetReference, default_port: Option<RoutePort>) -> RouteSpec {
    RouteSpec {
        host: at.hostname.clone().unwrap_or_default(),
        path: at.path.clone().unwrap_or_default(),
        to,
        port: match &at.port {
            Some(port) => Some(RoutePort { target_port: TargetPort::from(port.as_str()) }),
            None => default_port,
        },
        wildcard_policy: match at.wildcard_policy.as_deref() {
            Some("Subdomain") => WildcardPolicy::Subdomain,
            _ => WildcardPolicy::None,
        },
        ..Default::default()
    }
}

/// The route `s2i route create` asks for.
fn route_from_args(global: &GlobalArgs, args: &RouteCreateArgs) -> Result<Route, Failure> {
    let name = args.name.clone().unwrap_or_else(|| args.service.clone());
    let to = RouteTargetReference::service(&args.service, args.weight.unwrap_or(s2i_route::route::DEFAULT_WEIGHT));
    let mut spec = route_spec(&args.at, to, None);
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
fn create(global: &GlobalArgs, args: RouteCreateArgs) -> Result<i32, Failure> {
    let route = route_from_args(global, &args)?;
    let context = Context::open(global)?;
    create_and_admit(&context, route, "created")
}

/// The domain of a render: `--domain`, else `$S2I_ROUTE_DOMAIN`, else `apps.localhost`.
fn render_domain(input: &RouteFiles) -> Result<String, Failure> {
    Ok(match &input.domain {
        Some(domain) => host::check_domain("--domain", domain)?,
        None => host::router_domain_from_env()?,
    })
}

/// Routes, services and Endpoints objects of files, as the router and the exports use them.
#[derive(Default)]
struct FileObjects {
    routes: Vec<Route>,
    services: Vec<Service>,
    endpoints: Vec<Endpoints>,
}

/// Routes, services and Endpoints objects from files, read as `s2i apply`
/// reads them and prepared as the store would create them (hosts, defaults,
/// validation). Other kinds are skipped with a warning.
fn objects_from_files(files: &[PathBuf], namespace: &str, domain: &str) -> Result<FileObjects, Failure> {
    let mut objects = FileObjects::default();
    for path in files {
        let (file, text) = objects::read_input(path)?;
        for document in objects::parse_documents(&file, &text, namespace)? {
            match document.kind.info.kind {
                ROUTE_KIND => {
                    let mut route: Route = decode(&document.value)?;
                    // What a file says of the routes' age (uid, creationTimestamp) is kept:
                    // it orders their admission.
                    prepare_new_route(&mut route, domain)?;
                    if objects.routes.iter().any(|r| r.key() == route.key()) {
                        return Err(duplicate(&file, "route", &route.key().to_string()));
                    }
                    objects.routes.push(route);
                }
                SERVICE_KIND => {
                    let mut service: Service = decode(&document.value)?;
                    prepare_new_service(&mut service)?;
                    if objects.services.iter().any(|s| s.key() == service.key()) {
                        return Err(duplicate(&file, "service", &service.key().to_string()));
                    }
                    objects.services.push(service);
                }
                ENDPOINTS_KIND => {
                    let mut endpoints: Endpoints = decode(&document.value)?;
                    prepare_new_endpoints(&mut endpoints)?;
                    if objects.endpoints.iter().any(|e| e.key() == endpoints.key()) {
                        return Err(duplicate(&file, "endpoints", &endpoints.key().to_string()));
                    }
                    objects.endpoints.push(endpoints);
                }
                other => eprintln!(
                    "warning: {file}: skipping {other} {:?}: only routes, services and endpoints are read",
                    document.value["metadata"]["name"].as_str().unwrap_or_default()
                ),
            }
        }
    }
    Ok(objects)
}

fn duplicate(file: &str, kind: &str, key: &str) -> Failure {
    Failure::message(
        format!("{file}: {kind} {key} is defined twice"),
        "keep one definition; names are unique per kind and namespace".into(),
    )
}

/// The three listeners need three ports.
fn check_ports(ports: &RouterPorts) -> Result<(), Failure> {
    let (http, https, stats) = (ports.http_port, ports.https_port, ports.stats_port);
    if http == https || http == stats || https == stats {
        return Err(Failure::message(
            format!("--http-port {http}, --https-port {https} and --stats-port {stats} must be three different ports"),
            "give each listener a port of its own".into(),
        ));
    }
    Ok(())
}

fn router_config(ports: &RouterPorts, default_certificate: String) -> RouterConfig {
    let mut config = RouterConfig::new(default_certificate);
    config.http_port = ports.http_port;
    config.https_port = ports.https_port;
    config.stats_port = Some(ports.stats_port);
    config
}

/// `s2i route render --out DIR [-f FILE…]`.
async fn render_routes(global: &GlobalArgs, args: RouteRenderArgs) -> Result<i32, Failure> {
    check_ports(&args.ports)?;
    let domain = render_domain(&args.input)?;
    let FileObjects { routes, services, endpoints } = if args.input.files.is_empty() {
        let context = Context::open(global)?;
        context.store.read(|tx| {
            Ok::<_, s2i_imagestream::Error>(FileObjects {
                routes: list_routes(tx, None)?,
                services: list_services(tx, None)?,
                endpoints: list_endpoints(tx, None)?,
            })
        })?
    } else {
        s2i_store::validate_namespace(&global.namespace)?;
        objects_from_files(&args.input.files, &global.namespace, &domain)?
    };
    let endpoints = if services.iter().any(|service| !service.spec.selector.is_empty()) {
        let runtime = super::connect(global, None).await?;
        resolve_endpoints(&services, &endpoints, runtime.as_ref()).await?
    } else {
        ServiceEndpoints::fixed(&services, &endpoints)
    };
    let config = router_config(&args.ports, load_or_generate_default_certificate(&args.out, &domain)?);
    let admission_config = AdmissionConfig {
        router_domain: domain,
        allow_wildcard_routes: args.ports.allow_wildcard_routes,
        ..Default::default()
    };
    let admission = admit(&routes, &admission_config, jiff::Timestamp::now());
    let rendered = render(&admission.admitted, &endpoints, &config)?;
    rendered.write_to(&args.out)?;

    print_admission(&admission);
    for warning in &rendered.warnings {
        eprintln!("warning: {warning}");
    }
    eprintln!(
        "Wrote the router for {} of {} route(s) to {}; run it with: cd {} && haproxy -f haproxy.cfg",
        admission.admitted.len(),
        admission.outcomes.len(),
        args.out.display(),
        args.out.display()
    );
    check_with_haproxy(&args.out)
}

/// `haproxy -c` on the directory when HAProxy is installed.
fn check_with_haproxy(dir: &Path) -> Result<i32, Failure> {
    let output = std::process::Command::new("haproxy").args(["-c", "-f", "haproxy.cfg"]).current_dir(dir).output();
    match output {
        Err(_) => {
            eprintln!(
                "HAProxy is not installed, so the configuration was not checked (Debian: sudo apt-get install haproxy)"
            );
            Ok(0)
        }
        Ok(output) if output.status.success() => {
            eprintln!("haproxy -c: the configuration is valid");
            Ok(0)
        }
        Ok(output) => {
            let text =
                format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
            Err(s2i_route::Error::ConfigRejected { dir: dir.to_owned(), output: text.trim().to_owned() }.into())
        }
    }
}

/// The admission table: ROUTE HOST ADMITTED REASON.
fn print_admission(admission: &Admission) {
    let mut rows = vec![["ROUTE".to_owned(), "HOST".to_owned(), "ADMITTED".to_owned(), "REASON".to_owned()]];
    for (key, outcome) in &admission.outcomes {
        let (admitted, reason) = match &outcome.rejection {
            None => ("True".to_owned(), String::new()),
            Some(rejection) => ("False".to_owned(), format!("{}: {}", rejection.reason, rejection.message)),
        };
        rows.push([key.to_string(), outcome.host.clone(), admitted, reason]);
    }
    let mut widths = [0; 4];
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    for row in &rows {
        let text = format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}",
            row[0],
            row[1],
            row[2],
            row[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        println!("{}", text.trim_end());
    }
}

/// `s2i route export NAME --to … [-f FILE…]`.
fn export(global: &GlobalArgs, args: RouteExportArgs) -> Result<i32, Failure> {
    let (namespace, name) = args.route.split_once('/').unwrap_or((&global.namespace, &args.route));
    let (route, services) = if args.input.files.is_empty() {
        let context = Context::open(global)?;
        context.store.read(|tx| {
            let route = get_route(tx, namespace, name)?.ok_or_else(|| route_not_found(namespace, name))?;
            Ok::<_, s2i_imagestream::Error>((route, list_services(tx, Some(namespace))?))
        })?
    } else {
        s2i_store::validate_namespace(&global.namespace)?;
        let domain = render_domain(&args.input)?;
        let FileObjects { routes, services, .. } = objects_from_files(&args.input.files, &global.namespace, &domain)?;
        let route = routes
            .into_iter()
            .find(|route| route.metadata.namespace == namespace && route.metadata.name == name)
            .ok_or_else(|| s2i_route::Error::RouteNotFound {
                route: format!("{namespace}/{name}"),
                context: format!(
                    " in {}",
                    args.input.files.iter().map(|file| file.display().to_string()).collect::<Vec<_>>().join(", ")
                ),
            })?;
        (route, services)
    };
    let target = match args.to {
        ExportFormat::Openshift => ExportTarget::OpenShift,
        ExportFormat::Ingress => ExportTarget::Ingress,
        ExportFormat::Gateway => ExportTarget::Gateway,
    };
    let gateway = match args.gateway.split_once('/') {
        Some((namespace, name)) => GatewayRef { name: name.to_owned(), namespace: Some(namespace.to_owned()) },
        None => GatewayRef { name: args.gateway.clone(), namespace: None },
    };
    let export = export_route(&route, &services, target, &gateway);
    print!("{}", export.to_yaml()?);
    for warning in &export.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(0)
}

// ---------------------------------------------------------------------------
// s2i route serve

/// `s2i route serve`: HAProxy on loopback following the store until SIGINT/SIGTERM.
async fn serve(global: &GlobalArgs, args: RouteServeArgs) -> Result<i32, Failure> {
    check_ports(&args.ports)?;
    let context = Context::open(global)?;
    let domain = host::router_domain_from_env()?;
    let temporary = match &args.dir {
        Some(_) => None,
        None => Some(tempfile_dir()?),
    };
    let dir = args.dir.clone().unwrap_or_else(|| temporary.as_ref().expect("made above").path().to_owned());
    let config = router_config(&args.ports, load_or_generate_default_certificate(&dir, &domain)?);
    let (http, https, stats) = (config.http_port, config.https_port, args.ports.stats_port);
    let loglevel = global.loglevel;
    let events: s2i_route::router::RouterEvents = Arc::new(move |event| match event {
        RouterEvent::Output(line) if loglevel > 0 => eprintln!("haproxy: {line}"),
        RouterEvent::Output(_) => {}
        RouterEvent::Started { pid } => eprintln!("HAProxy started (pid {pid})"),
        RouterEvent::Reloaded => {}
        RouterEvent::Restarted { exit } => eprintln!("HAProxy had exited ({exit}); starting it again"),
        RouterEvent::Stopped => eprintln!("HAProxy stopped"),
    });
    let options = RouterOptions {
        dir: dir.clone(),
        haproxy: "haproxy".into(),
        config,
        admission: AdmissionConfig {
            router_domain: domain,
            allow_wildcard_routes: args.ports.allow_wildcard_routes,
            ..Default::default()
        },
    };
    let router = Router::new(options, events)?;
    // The engine is only needed for services with a selector; without one they have no endpoints.
    let runtime: Option<Arc<dyn ContainerRuntime>> = match connect_engine(global, None).await {
        Ok(runtime) => Some(runtime),
        Err(e) => {
            if loglevel > 0 {
                eprintln!("I: no container engine ({e}); services with a selector have no endpoints");
            }
            None
        }
    };
    let token = CancellationToken::new();
    let _signals = signals::install_for_server(token.clone(), "\nStopping the router...");
    let mut router = StoreRouter::new(router);
    eprintln!(
        "Serving the routes of {} on http://127.0.0.1:{http} and https://127.0.0.1:{https} (stats: http://127.0.0.1:{stats}/); Ctrl-C stops",
        context.store.dir().display()
    );
    eprintln!("Router directory: {}", dir.display());
    let result = serve_loop(&context, &mut router, runtime.as_deref(), &token, http, https).await;
    router.stop();
    drop(temporary);
    result.map(|()| {
        eprintln!("Stopped.");
        0
    })
}

fn tempfile_dir() -> Result<tempfile::TempDir, Failure> {
    tempfile::Builder::new().prefix("s2i-router-").tempdir().map_err(|e| {
        Failure::message(
            format!("cannot create a temporary router directory: {e}"),
            "give one with --dir DIR, or free space in the temporary directory ($TMPDIR)".into(),
        )
    })
}

async fn serve_loop(
    context: &Context,
    router: &mut StoreRouter,
    runtime: Option<&dyn ContainerRuntime>,
    token: &CancellationToken,
    http: u16,
    https: u16,
) -> Result<(), Failure> {
    let mut last_error: Option<String> = None;
    let mut last_endpoint_warnings: Vec<String> = Vec::new();
    let mut started = false;
    while !token.is_cancelled() {
        match router.sync(&context.store, runtime).await {
            Ok(Some(synced)) => {
                started = true;
                last_error = None;
                report_sync(&synced, http, https);
            }
            Ok(None) => {}
            // HAProxy never started: nothing to serve with, so say why and stop.
            Err(error) if !started => return Err(error.into()),
            Err(error) => {
                let text = error.to_string();
                if last_error.as_ref() != Some(&text) {
                    eprintln!("{:?}", miette::Report::new(error));
                    eprintln!("The previous configuration stays in effect.");
                    last_error = Some(text);
                }
            }
        }
        if router.endpoint_warnings() != last_endpoint_warnings {
            for warning in router.endpoint_warnings() {
                eprintln!("warning: {warning}");
            }
            last_endpoint_warnings = router.endpoint_warnings().to_vec();
        }
        tokio::select! {
            _ = token.cancelled() => {}
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
    Ok(())
}

/// What changed, the routes served with their URLs, and those not admitted.
fn report_sync(synced: &Synced, http: u16, https: u16) {
    let reconciled = &synced.reconciled;
    match reconciled.action {
        ReconcileAction::Unchanged if synced.statuses_written == 0 => return,
        ReconcileAction::Started => {}
        ReconcileAction::Reloaded => {
            let why = match synced.reason {
                SyncReason::EndpointsChanged => "endpoints changed",
                _ => "routes or services changed",
            };
            eprintln!("HAProxy reloaded: {why}");
        }
        ReconcileAction::Unchanged => {}
    }
    let admission = &reconciled.admission;
    eprintln!("Serving {} of {} route(s):", admission.admitted.len(), admission.outcomes.len());
    for admitted in &admission.admitted {
        let route = &admitted.route;
        let host = if route.is_wildcard() {
            format!("*.{}", host::wildcard_key(&admitted.host))
        } else {
            admitted.host.clone()
        };
        let path = if route.spec.path.is_empty() { "/" } else { route.spec.path.as_str() };
        let backends: Vec<&str> = route.backends().map(|b| b.name.as_str()).collect();
        let tls = route.termination().map(|t| format!(" ({t})")).unwrap_or_default();
        let url = match route.termination() {
            None => format!("http://{host}:{http}{path}"),
            Some(_) if route.insecure_policy() == InsecureEdgeTerminationPolicy::Allow => {
                format!("http(s)://{host}:{http}|{https}{path}")
            }
            Some(_) => format!("https://{host}:{https}{path}"),
        };
        eprintln!("  {url}  {} -> {}{tls}", route.key(), backends.join(", "));
    }
    for (key, outcome) in &admission.outcomes {
        if let Some(rejection) = &outcome.rejection {
            eprintln!("  not admitted: {key}: {}: {}", rejection.reason, rejection.message);
        }
    }
    for warning in &reconciled.warnings {
        eprintln!("warning: {warning}");
    }
}
