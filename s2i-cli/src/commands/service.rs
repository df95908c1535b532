//! Services: the `service` kind of the object verbs, `s2i service create`
//! and `s2i expose service`.

use std::collections::BTreeMap;

use s2i_route::route::DEFAULT_WEIGHT;
use s2i_route::store::{
    apply_service, create_service, delete_service, get_service, list_routes, list_services, service_not_found,
};
use s2i_route::{
    Endpoint, ObjectMeta, Route, RoutePort, RouteTargetReference, Service, ServicePort, ServiceSpec, TargetPort,
};
use s2i_store::codec::Document;
use s2i_store::{Resource, Tx};
use serde_json::Value;

use super::Failure;
use super::objects::{Applied, ApplyOps, BoxFuture, DocumentError, Kind, LibResult, or_none, to_value};
use super::route::{create_and_admit, decode, field, pairs, parse_in_namespace, route_spec, service_endpoints_text};
use super::session::{Context, Session};
use crate::cli::{ExposeArgs, GlobalArgs, ServiceCommand, ServiceCreateArgs};

pub(crate) const CREATE_SERVICE_EXAMPLES: &str = "\
Examples:
  # A process on this machine, listening on port 3000
  s2i service create api --endpoint 127.0.0.1:3000

  # The running containers labelled app=web, port 8080 inside them
  s2i service create web --selector app=web --port 8080

Routes point at services by name: s2i expose service web";

pub(crate) const EXPOSE_EXAMPLES: &str = "\
Examples:
  # A route to the service web at web-<namespace>.apps.localhost
  s2i expose service web

  # At a host name of your own, for one path
  s2i expose svc/web --hostname shop.apps.localhost --path /cart";

// ---------------------------------------------------------------------------
// The `service` kind of get/describe/delete/apply.

pub(crate) const SERVICE: Kind = Kind {
    info: Service::INFO,
    columns: &["NAME", "PORT(S)", "SELECTOR", "ENDPOINTS"],
    get: |tx, namespace, name| {
        let service = get_service(tx, namespace, name)?.ok_or_else(|| service_not_found(namespace, name))?;
        Ok(to_value(&service))
    },
    list: Some(|tx, namespace| Ok(list_services(tx, namespace)?.iter().map(to_value).collect())),
    row: |value| decode::<Service>(value).map(|service| service_row(&service)).unwrap_or_default(),
    describe: Some(|tx, value| describe_service(tx, &decode(value)?)),
    apply: Some(ApplyOps { parse: parse_service, write: write_service, after: after_services }),
    delete: Some(delete_service_hook),
};

fn port_text(port: &ServicePort) -> String {
    match &port.target_port {
        Some(target) if *target != TargetPort::Number(port.port) => {
            format!("{}->{target}/{}", port.port, port.protocol)
        }
        _ => format!("{}/{}", port.port, port.protocol),
    }
}

fn service_row(service: &Service) -> Vec<String> {
    let ports: Vec<String> = service.spec.ports.iter().map(port_text).collect();
    let endpoints = if service.spec.selector.is_empty() {
        let fixed: Vec<String> = service.spec.endpoints.iter().map(ToString::to_string).collect();
        or_none(&fixed.join(","))
    } else {
        "<selector>".into()
    };
    vec![service.metadata.name.clone(), or_none(&ports.join(",")), pairs(&service.spec.selector, ","), endpoints]
}

fn describe_service(tx: &Tx<'_>, service: &Service) -> LibResult<String> {
    let mut out = String::new();
    let meta = &service.metadata;
    field(&mut out, "Name", &meta.name);
    field(&mut out, "Namespace", &meta.namespace);
    field(&mut out, "Created", &meta.creation_timestamp.map(|t| t.to_string()).unwrap_or_else(|| "<none>".into()));
    field(&mut out, "Labels", &pairs(&meta.labels, "\n                  "));
    field(&mut out, "Annotations", &pairs(&meta.annotations, "\n                  "));
    field(&mut out, "Selector", &pairs(&service.spec.selector, ","));
    for port in &service.spec.ports {
        let name = if port.name.is_empty() { "<unset>" } else { port.name.as_str() };
        field(&mut out, "Port", &format!("{name}  {}", port_text(port)));
    }
    field(&mut out, "Endpoints", &service_endpoints_text(service));
    let routes: Vec<String> = routes_to(tx, service)?
        .iter()
        .map(|route| format!("{} ({})", route.metadata.name, or_none(&route.spec.host)))
        .collect();
    field(&mut out, "Routes", &or_none(&routes.join(", ")));
    Ok(out)
}

/// The routes of the service's namespace that send traffic to it.
fn routes_to(tx: &Tx<'_>, service: &Service) -> s2i_imagestream::Result<Vec<Route>> {
    let name = &service.metadata.name;
    Ok(list_routes(tx, Some(&service.metadata.namespace))?
        .into_iter()
        .filter(|route| route.backends().any(|backend| backend.name == *name))
        .collect())
}

fn parse_service(document: Document<'_>, namespace: &str) -> Result<Value, DocumentError> {
    parse_in_namespace::<Service>(document, namespace, |service| &mut service.metadata)
}

fn write_service(tx: &Tx<'_>, value: Value) -> LibResult<Applied> {
    let service: Service = decode(&value)?;
    let (stored, action) = apply_service(tx, service)?;
    Ok(Applied { namespace: stored.metadata.namespace, name: stored.metadata.name, verb: action.as_str() })
}

fn after_services<'a>(_: &'a Session, _: &'a [Applied]) -> BoxFuture<'a, Result<Vec<String>, Failure>> {
    // Admission does not depend on services; a running router picks the change up.
    Box::pin(async { Ok(Vec::new()) })
}

fn delete_service_hook<'a>(session: &'a Session, name: &'a str) -> BoxFuture<'a, Result<String, Failure>> {
    Box::pin(async move {
        let namespace = &session.context.namespace;
        let routes = session.context.store.write(|tx| {
            let service = delete_service(tx, namespace, name)?;
            routes_to(tx, &service)
        })?;
        for route in routes {
            eprintln!(
                "warning: route {} still points at service {name:?}: it answers 503 until the service exists again",
                route.key()
            );
        }
        Ok(format!("service \"{name}\" deleted"))
    })
}

// ---------------------------------------------------------------------------
// s2i service create

pub(super) async fn run(global: &GlobalArgs, command: ServiceCommand) -> Result<i32, Failure> {
    match command {
        ServiceCommand::Create(args) => create(global, args),
    }
}

/// `--port PORT[:TARGET_PORT]`, named as `kubectl create service --tcp` names it.
fn parse_port(text: &str) -> Result<ServicePort, Failure> {
    let bad = || {
        Failure::message(
            format!("--port {text:?} is not PORT or PORT:TARGET_PORT"),
            "give port numbers from 1 to 65535, e.g. --port 8080 or --port 80:8080".into(),
        )
    };
    let number = |part: &str| part.trim().parse::<u16>().ok().filter(|n| *n > 0).map(i32::from).ok_or_else(bad);
    let (port, target) = match text.split_once(':') {
        Some((port, target)) => (number(port)?, Some(number(target)?)),
        None => (number(text)?, None),
    };
    Ok(ServicePort::new(text.trim().replace(':', "-"), port, target))
}

/// `--selector KEY=VALUE`.
fn parse_selector(items: &[String]) -> Result<BTreeMap<String, String>, Failure> {
    items
        .iter()
        .map(|item| {
            item.split_once('=').map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned())).ok_or_else(|| {
                Failure::message(
                    format!("--selector {item:?} is not KEY=VALUE"),
                    "give the label the containers carry, e.g. --selector app=web".into(),
                )
            })
        })
        .collect()
}

fn create(global: &GlobalArgs, args: ServiceCreateArgs) -> Result<i32, Failure> {
    if args.endpoints.is_empty() && args.selector.is_empty() {
        return Err(Failure::message(
            format!("service {} needs endpoints", args.name),
            "give fixed endpoints (--endpoint HOST:PORT) or the labels of its containers (--selector KEY=VALUE)".into(),
        ));
    }
    let endpoints: Vec<Endpoint> =
        args.endpoints.iter().map(|e| e.parse::<Endpoint>()).collect::<Result<_, s2i_route::Error>>()?;
    let spec = ServiceSpec {
        ports: args.ports.iter().map(|p| parse_port(p)).collect::<Result<_, _>>()?,
        selector: parse_selector(&args.selector)?,
        endpoints,
    };
    let service = Service::new(ObjectMeta::named(&global.namespace, &args.name), spec);
    let context = Context::open(global)?;
    let created = context.store.write(|tx| create_service(tx, service.clone()))?;
    println!("service/{} created", created.metadata.name);
    Ok(0)
}

// ---------------------------------------------------------------------------
// s2i expose

/// The endpoint port a route to `service` uses when none is asked for: the
/// first port's name, else the container port it leads to (as `oc expose`).
fn default_port(service: &Service) -> Option<RoutePort> {
    let port = service.spec.ports.first()?;
    let target = if port.name.is_empty() {
        port.target_port.clone().unwrap_or(TargetPort::Number(port.port))
    } else {
        TargetPort::Name(port.name.clone())
    };
    Some(RoutePort { target_port: target })
}

/// `s2i expose service NAME` (or `svc/NAME`).
pub(super) async fn expose(global: &GlobalArgs, args: ExposeArgs) -> Result<i32, Failure> {
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
    let spec = route_spec(&args.at, RouteTargetReference::service(&name, DEFAULT_WEIGHT), default_port(&service));
    let mut metadata = ObjectMeta::named(namespace, args.route_name.clone().unwrap_or_else(|| name.clone()));
    metadata.labels = service.metadata.labels.clone();
    create_and_admit(&context, Route::new(metadata, spec), "exposed")
}
