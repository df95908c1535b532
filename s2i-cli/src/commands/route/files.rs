//! `s2i route render` and `s2i route export`: the routes and services of
//! the store, or of files (read as `s2i apply` reads them and prepared as
//! the store would create them), rendered for HAProxy or exported for a
//! cluster.

use std::path::{Path, PathBuf};

use s2i_route::admission::{Admission, admit};
use s2i_route::containers::resolve_endpoints;
use s2i_route::endpoints::{ENDPOINTS_KIND, Endpoints};
use s2i_route::export::{ExportTarget, GatewayRef, export_route};
use s2i_route::haproxy::{load_or_generate_default_certificate, render};
use s2i_route::route::{ROUTE_KIND, SERVICE_KIND};
use s2i_route::service::ServiceEndpoints;
use s2i_route::store::{
    get_route, list_endpoints, list_routes, list_services, prepare_new_endpoints, prepare_new_route,
    prepare_new_service, route_not_found,
};
use s2i_route::{Route, Service, host};

use super::router::{check_ports, router_admission, router_config};
use crate::cli::{ExportFormat, GlobalArgs, RouteExportArgs, RouteFiles, RouteRenderArgs};
use crate::commands::engine::connect;
use crate::commands::kind::{Kinds, decode};
use crate::commands::objects::{parse_documents, read_input};
use crate::commands::session::Context;
use crate::failure::Failure;
use crate::render::Table;

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
fn objects_from_files(files: &[PathBuf], namespace: &str, domain: &str, kinds: &Kinds) -> Result<FileObjects, Failure> {
    let mut objects = FileObjects::default();
    for path in files {
        let (file, text) = read_input(path)?;
        for document in parse_documents(&file, &text, namespace, kinds)? {
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

/// `s2i route render --out DIR [-f FILE…]`.
pub(super) async fn render_routes(global: &GlobalArgs, args: RouteRenderArgs, kinds: &Kinds) -> Result<i32, Failure> {
    check_ports(&args.ports)?;
    let domain = render_domain(&args.input)?;
    let FileObjects { routes, services, endpoints } = if args.input.files.is_empty() {
        let context = Context::open(global)?;
        context.store.read(|tx| {
            Ok::<_, s2i_store::Error>(FileObjects {
                routes: list_routes(tx, None)?,
                services: list_services(tx, None)?,
                endpoints: list_endpoints(tx, None)?,
            })
        })?
    } else {
        s2i_store::validate_namespace(&global.namespace)?;
        objects_from_files(&args.input.files, &global.namespace, &domain, kinds)?
    };
    let endpoints = if services.iter().any(|service| !service.spec.selector.is_empty()) {
        let runtime = connect(global, None).await?;
        resolve_endpoints(&services, &endpoints, runtime.as_ref()).await?
    } else {
        ServiceEndpoints::fixed(&services, &endpoints)
    };
    let config = router_config(&args.ports, load_or_generate_default_certificate(&args.out, &domain)?);
    let admission_config = router_admission(domain, &args.ports);
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
    let mut table = Table::new(2, ["ROUTE", "HOST", "ADMITTED", "REASON"]);
    for (key, outcome) in &admission.outcomes {
        let (admitted, reason) = match &outcome.rejection {
            None => ("True".to_owned(), String::new()),
            Some(rejection) => ("False".to_owned(), format!("{}: {}", rejection.reason, rejection.message)),
        };
        table.row(vec![key.to_string(), outcome.host.clone(), admitted, reason]);
    }
    print!("{}", table.render());
}

/// `s2i route export NAME --to … [-f FILE…]`.
pub(super) fn export(global: &GlobalArgs, args: RouteExportArgs, kinds: &Kinds) -> Result<i32, Failure> {
    let (namespace, name) = args.route.split_once('/').unwrap_or((&global.namespace, &args.route));
    let (route, services) = if args.input.files.is_empty() {
        let context = Context::open(global)?;
        context.store.read(|tx| {
            let route = get_route(tx, namespace, name)?.ok_or_else(|| route_not_found(namespace, name))?;
            Ok::<_, s2i_store::Error>((route, list_services(tx, Some(namespace))?))
        })?
    } else {
        s2i_store::validate_namespace(&global.namespace)?;
        let domain = render_domain(&args.input)?;
        let FileObjects { routes, services, .. } =
            objects_from_files(&args.input.files, &global.namespace, &domain, kinds)?;
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
