//! `s2i route render` and `s2i route export`: routes and services read from
//! files, handed to `s2i-route`.

use std::io::Read;

use s2i_route::admission::{AdmissionConfig, admit};
use s2i_route::export::{ExportTarget, GatewayRef, export_route};
use s2i_route::haproxy::{RouterConfig, load_or_generate_default_certificate, render};
use s2i_route::objects::Objects;
use s2i_route::service::{ServiceEndpoints, resolve_endpoints};
use s2i_route::validation::{route_warnings, validate_route, validate_service};
use s2i_route::{Error, host};

use super::{Failure, connect};
use crate::cli::{ExportFormat, GlobalArgs, RouteCommand, RouteExportArgs, RouteFiles, RouteRenderArgs};

/// Namespace of objects that name none.
const DEFAULT_NAMESPACE: &str = "default";

pub(super) async fn run(global: &GlobalArgs, command: RouteCommand) -> Result<i32, Failure> {
    match command {
        RouteCommand::Render(args) => render_routes(global, args).await,
        RouteCommand::Export(args) => export(args),
    }
}

/// Reads, defaults and validates the objects of the files.
fn read_objects(input: &RouteFiles) -> Result<(Objects, String), Failure> {
    let domain = match &input.domain {
        Some(domain) => host::check_domain("--domain", domain)?,
        None => host::router_domain_from_env()?,
    };
    let mut objects = Objects::default();
    for file in &input.files {
        let (name, text) = if file.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).map_err(|source| Error::Io {
                action: "read",
                path: file.clone(),
                source,
            })?;
            ("-".to_owned(), text)
        } else {
            let text = std::fs::read_to_string(file).map_err(|source| Error::Io {
                action: "read",
                path: file.clone(),
                source,
            })?;
            (file.display().to_string(), text)
        };
        objects.read(&text, &name, DEFAULT_NAMESPACE)?;
    }
    for route in &mut objects.routes {
        host::assign_host(route, &domain);
        validate_route(route).map_err(|errors| Error::InvalidRoute { route: route.key().to_string(), errors })?;
        for warning in route_warnings(route) {
            eprintln!("WARNING: route {}: {warning}", route.key());
        }
    }
    for service in &objects.services {
        validate_service(service)
            .map_err(|errors| Error::InvalidService { service: service.key().to_string(), errors })?;
    }
    Ok((objects, domain))
}

async fn render_routes(global: &GlobalArgs, args: RouteRenderArgs) -> Result<i32, Failure> {
    let (objects, domain) = read_objects(&args.input)?;
    let endpoints = if objects.services.iter().any(|service| !service.spec.selector.is_empty()) {
        let runtime = connect(global, None).await?;
        resolve_endpoints(&objects.services, &runtime).await?
    } else {
        ServiceEndpoints::fixed(&objects.services)
    };
    let mut config = RouterConfig::new(load_or_generate_default_certificate(&args.out, &domain)?);
    config.http_port = args.http_port;
    config.https_port = args.https_port;
    config.stats_port = Some(args.stats_port);
    let admission_config = AdmissionConfig {
        router_domain: domain,
        allow_wildcard_routes: args.allow_wildcard_routes,
        ..Default::default()
    };
    let admission = admit(&objects.routes, &admission_config, jiff::Timestamp::now());
    let rendered = render(&admission.admitted, &endpoints, &config)?;
    rendered.write_to(&args.out)?;

    let rows: Vec<[String; 4]> = admission
        .outcomes
        .iter()
        .map(|(key, outcome)| {
            let (admitted, reason) = match &outcome.rejection {
                None => ("True".to_owned(), String::new()),
                Some(rejection) => ("False".to_owned(), format!("{}: {}", rejection.reason, rejection.message)),
            };
            [key.to_string(), outcome.host.clone(), admitted, reason]
        })
        .collect();
    print_table(&["ROUTE", "HOST", "ADMITTED", "REASON"], &rows);
    for warning in &rendered.warnings {
        eprintln!("WARNING: {warning}");
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
fn check_with_haproxy(dir: &std::path::Path) -> Result<i32, Failure> {
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
            Err(Error::ConfigRejected { dir: dir.to_owned(), output: text.trim().to_owned() }.into())
        }
    }
}

fn print_table(header: &[&str; 4], rows: &[[String; 4]]) {
    let mut widths = header.map(str::len);
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.len());
        }
    }
    let line = |cells: [&str; 4]| {
        let text = format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            w0 = widths[0],
            w1 = widths[1],
            w2 = widths[2]
        );
        println!("{}", text.trim_end());
    };
    line(*header);
    for row in rows {
        line([&row[0], &row[1], &row[2], &row[3]]);
    }
}

fn split_key(text: &str) -> (&str, &str) {
    text.split_once('/').unwrap_or((DEFAULT_NAMESPACE, text))
}

fn export(args: RouteExportArgs) -> Result<i32, Failure> {
    let (objects, _) = read_objects(&args.input)?;
    let (namespace, name) = split_key(&args.route);
    let route = objects.route(namespace, name).ok_or_else(|| Error::RouteNotFound {
        route: format!("{namespace}/{name}"),
        context: format!(
            " in {}",
            args.input.files.iter().map(|file| file.display().to_string()).collect::<Vec<_>>().join(", ")
        ),
    })?;
    let target = match args.to {
        ExportFormat::Openshift => ExportTarget::OpenShift,
        ExportFormat::Ingress => ExportTarget::Ingress,
        ExportFormat::Gateway => ExportTarget::Gateway,
    };
    let gateway = match args.gateway.split_once('/') {
        Some((namespace, name)) => GatewayRef { name: name.to_owned(), namespace: Some(namespace.to_owned()) },
        None => GatewayRef { name: args.gateway.clone(), namespace: None },
    };
    let export = export_route(route, &objects.services, target, &gateway);
    let yaml = export.to_yaml()?;
    print!("{yaml}");
    for warning in &export.warnings {
        eprintln!("WARNING: {warning}");
    }
    Ok(0)
}
