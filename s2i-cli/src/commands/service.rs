//! Services and their Endpoints objects: the `service` and `endpoints`
//! kinds of the object verbs, and `s2i service create`. The API server's
//! rules for them are `s2i_route::store`'s.

use std::collections::{BTreeMap, BTreeSet};

use s2i_route::endpoints::Endpoints;
use s2i_route::store::{
    apply_endpoints, apply_service, create_service_with_endpoints, delete_endpoints, delete_service,
    endpoints_not_found, get_endpoints, get_service, list_endpoints, list_services, routes_to_service,
    service_not_found,
};
use s2i_route::validation::{endpoints_warnings, service_warnings};
use s2i_route::{Endpoint, ObjectMeta, Service, ServicePort, ServiceSpec, TargetPort};
use s2i_store::codec::Document;
use s2i_store::{Applied, Resource, Tx};
use serde_json::Value;

use super::kind::{ApplyOps, BoxFuture, DocumentError, Kind, LibResult, decode, parse_in_namespace, to_value};
use super::session::{Context, Session};
use crate::cli::{GlobalArgs, ServiceCommand, ServiceCreateArgs};
use crate::failure::Failure;
use crate::render::{Description, or_none, pairs};

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
    wide: None,
    describe: Some(|tx, value| describe_service(tx, &decode(value)?)),
    apply: Some(ApplyOps { parse: parse_service, write: write_service, after: after_services }),
    delete: Ok(delete_service_hook),
    refresh: None,
    export: Some(|value| Ok((to_value(&decode::<Service>(value)?.for_export()), Vec::new()))),
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
    // Rows are made from the object alone: a service without selector names the object that holds its endpoints.
    let endpoints = if service.spec.selector.is_empty() {
        format!("endpoints/{}", service.metadata.name)
    } else {
        "<selector>".into()
    };
    vec![service.metadata.name.clone(), or_none(&ports.join(",")), pairs(&service.spec.selector, ","), endpoints]
}

fn describe_service(tx: &Tx<'_>, service: &Service) -> LibResult<String> {
    let mut out = Description::new(18);
    let spec = &service.spec;
    out.metadata(&service.metadata);
    out.field("Selector", &pairs(&spec.selector, ","));
    out.field("Type", spec.effective_type());
    if !spec.cluster_ip.is_empty() {
        out.field("IP", &spec.cluster_ip);
    }
    if spec.is_external_name() {
        out.field("External Name", &spec.external_name);
    }
    for port in &spec.ports {
        let name = if port.name.is_empty() { "<unset>" } else { port.name.as_str() };
        out.field("Port", &format!("{name}  {}", port_text(port)));
    }
    out.field("Session Affinity", &or_none(&spec.session_affinity));
    out.field("Endpoints", &service_endpoints_text(tx, service)?);
    let routes: Vec<String> = routes_to_service(tx, service)?
        .iter()
        .map(|route| format!("{} ({})", route.metadata.name, or_none(&route.spec.host)))
        .collect();
    out.field("Routes", &or_none(&routes.join(", ")));
    Ok(out.finish())
}

fn parse_service(document: Document<'_>, namespace: &str) -> Result<Value, DocumentError> {
    let legacy = document.value["spec"].get("endpoints").is_some();
    match parse_in_namespace::<Service>(document, namespace) {
        Ok(service) => Ok(to_value(&service)),
        // The shape older versions of s2i wrote: say where the addresses go now.
        Err(DocumentError::Yaml(error)) if legacy => Err(DocumentError::invalid(s2i_imagestream::Error::InvalidRequest {
            message: error.to_string(),
            help: "a Kubernetes Service has no spec.endpoints: move the addresses into an Endpoints object of the same name (kind: Endpoints, subsets: [{addresses: [{ip: 127.0.0.1}], ports: [{name: PORT-NAME, port: 8080}]}]), or make both with `s2i service create NAME --endpoint HOST:PORT`; docs/routes.md shows both".into(),
        })),
        Err(other) => Err(other),
    }
}

fn write_service(tx: &Tx<'_>, value: Value) -> LibResult<Applied> {
    let (stored, action) = apply_service(tx, decode(&value)?)?;
    Ok(Applied::of(&stored, action))
}

/// What a cluster would do with the applied services that this machine does not.
fn after_services<'a>(session: &'a Session, applied: &'a [Applied]) -> BoxFuture<'a, Result<Vec<String>, Failure>> {
    // Admission does not depend on services; a running router picks the change up.
    Box::pin(async move {
        let services = session.context.store.read(|tx| {
            let mut services = Vec::new();
            for object in applied {
                services.extend(get_service(tx, &object.namespace, &object.name)?);
            }
            Ok::<_, s2i_store::Error>(services)
        })?;
        for service in &services {
            for warning in service_warnings(service) {
                eprintln!("warning: service {}: {warning}", service.key());
            }
        }
        Ok(Vec::new())
    })
}

fn delete_service_hook<'a>(session: &'a Session, name: &'a str) -> BoxFuture<'a, Result<String, Failure>> {
    Box::pin(async move {
        let namespace = &session.context.namespace;
        let (endpoints, routes) = session.context.store.write(|tx| {
            let (service, endpoints) = delete_service(tx, namespace, name)?;
            Ok::<_, s2i_store::Error>((endpoints, routes_to_service(tx, &service)?))
        })?;
        for route in routes {
            eprintln!(
                "warning: route {} still points at service {name:?}: it answers 503 until the service exists again",
                route.key()
            );
        }
        let mut message = format!("service \"{name}\" deleted");
        if endpoints.is_some() {
            message.push_str(&format!("\nendpoints \"{name}\" deleted"));
        }
        Ok(message)
    })
}

// ---------------------------------------------------------------------------
// The `endpoints` kind of get/describe/delete/apply.

pub(crate) const ENDPOINTS: Kind = Kind {
    info: Endpoints::INFO,
    columns: &["NAME", "ENDPOINTS"],
    get: |tx, namespace, name| {
        let endpoints = get_endpoints(tx, namespace, name)?.ok_or_else(|| endpoints_not_found(namespace, name))?;
        Ok(to_value(&endpoints))
    },
    list: Some(|tx, namespace| Ok(list_endpoints(tx, namespace)?.iter().map(to_value).collect())),
    row: |value| decode::<Endpoints>(value).map(|endpoints| endpoints_row(&endpoints)).unwrap_or_default(),
    wide: None,
    describe: Some(|tx, value| describe_endpoints(tx, &decode(value)?)),
    apply: Some(ApplyOps { parse: parse_endpoints, write: write_endpoints, after: after_endpoints }),
    delete: Ok(delete_endpoints_hook),
    refresh: None,
    export: None,
};

/// The addresses as `kubectl get endpoints` shows them: the first three, then how many more.
fn endpoints_row(endpoints: &Endpoints) -> Vec<String> {
    let addresses = endpoints.addresses_text();
    let shown = match addresses.len() {
        0 => "<none>".to_owned(),
        1..=3 => addresses.join(","),
        more => format!("{} + {} more...", addresses[..3].join(","), more - 3),
    };
    vec![endpoints.metadata.name.clone(), shown]
}

fn describe_endpoints(tx: &Tx<'_>, endpoints: &Endpoints) -> LibResult<String> {
    let mut out = Description::new(18);
    let meta = &endpoints.metadata;
    out.metadata(meta);
    let service = match get_service(tx, &meta.namespace, &meta.name)? {
        None => "<none: nothing sends traffic here>".to_owned(),
        Some(service) if !service.spec.selector.is_empty() => {
            format!("{} (with a selector: its containers are its endpoints, not these)", service.metadata.name)
        }
        Some(service) => service.metadata.name,
    };
    out.field("Service", &service);
    for subset in &endpoints.subsets {
        let ips = |addresses: &[s2i_route::endpoints::EndpointAddress]| {
            or_none(&addresses.iter().map(|address| address.ip.as_str()).collect::<Vec<_>>().join(","))
        };
        out.field("Addresses", &ips(&subset.addresses));
        out.field("NotReadyAddresses", &ips(&subset.not_ready_addresses));
        for port in &subset.ports {
            let name = if port.name.is_empty() { "<unset>" } else { port.name.as_str() };
            out.field("Port", &format!("{name}  {}/{}", port.port, port.protocol));
        }
    }
    if endpoints.subsets.is_empty() {
        out.field("Subsets", "<none>");
    }
    Ok(out.finish())
}

fn parse_endpoints(document: Document<'_>, namespace: &str) -> Result<Value, DocumentError> {
    Ok(to_value(&parse_in_namespace::<Endpoints>(document, namespace)?))
}

fn write_endpoints(tx: &Tx<'_>, value: Value) -> LibResult<Applied> {
    let (stored, action) = apply_endpoints(tx, decode(&value)?)?;
    Ok(Applied::of(&stored, action))
}

/// What a cluster would refuse or do otherwise with the applied Endpoints
/// objects (loopback addresses, no service, a selector service).
fn after_endpoints<'a>(session: &'a Session, applied: &'a [Applied]) -> BoxFuture<'a, Result<Vec<String>, Failure>> {
    Box::pin(async move {
        let found = session.context.store.read(|tx| {
            let mut found = Vec::new();
            for object in applied {
                if let Some(endpoints) = get_endpoints(tx, &object.namespace, &object.name)? {
                    let service = get_service(tx, &object.namespace, &object.name)?;
                    found.push((endpoints, service));
                }
            }
            Ok::<_, s2i_store::Error>(found)
        })?;
        for (endpoints, service) in &found {
            for warning in endpoints_warnings(endpoints, service.as_ref()) {
                eprintln!("warning: endpoints {}: {warning}", endpoints.key());
            }
        }
        Ok(Vec::new())
    })
}

fn delete_endpoints_hook<'a>(session: &'a Session, name: &'a str) -> BoxFuture<'a, Result<String, Failure>> {
    Box::pin(async move {
        let namespace = &session.context.namespace;
        let service = session.context.store.write(|tx| {
            delete_endpoints(tx, namespace, name)?;
            get_service(tx, namespace, name)
        })?;
        if service.is_some_and(|service| service.spec.selector.is_empty()) {
            eprintln!(
                "warning: service {namespace}/{name} has no endpoints now: routes to it answer 503 until its Endpoints object exists again"
            );
        }
        Ok(format!("endpoints \"{name}\" deleted"))
    })
}

/// A service's endpoints for people: its selector, or the addresses of its Endpoints object.
pub(crate) fn service_endpoints_text(tx: &Tx<'_>, service: &Service) -> s2i_store::Result<String> {
    if !service.spec.selector.is_empty() {
        return Ok(format!("the running containers with {}", pairs(&service.spec.selector, ",")));
    }
    let endpoints = get_endpoints(tx, &service.metadata.namespace, &service.metadata.name)?;
    Ok(or_none(&endpoints.map(|endpoints| endpoints.addresses_text().join(", ")).unwrap_or_default()))
}

// ---------------------------------------------------------------------------
// s2i service create

pub(crate) async fn run(global: &GlobalArgs, command: ServiceCommand) -> Result<i32, Failure> {
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
    let addresses: Vec<Endpoint> =
        args.endpoints.iter().map(|e| e.parse::<Endpoint>()).collect::<Result<_, s2i_route::Error>>()?;
    let selector = parse_selector(&args.selector)?;
    let mut ports: Vec<ServicePort> = args.ports.iter().map(|p| parse_port(p)).collect::<Result<_, _>>()?;
    if ports.is_empty() {
        if addresses.is_empty() {
            return Err(Failure::message(
                format!("service {} needs a port", args.name),
                "give the port of the containers, e.g. --port 8080 (or --port 80:8080 for port 80 leading to 8080)"
                    .into(),
            ));
        }
        // As `kubectl create service --tcp N` would: one port per port of the addresses.
        ports = ServicePort::for_numbers(addresses.iter().map(|address| address.port).collect::<BTreeSet<u16>>());
    }
    let spec = ServiceSpec { ports, selector, ..Default::default() };
    let service = Service::new(ObjectMeta::named(&global.namespace, &args.name), spec);
    let context = Context::open(global)?;
    let (created, endpoints) =
        context.store.write(|tx| create_service_with_endpoints(tx, service.clone(), &addresses))?;
    println!("service/{} created", created.metadata.name);
    if let Some(endpoints) = endpoints {
        println!("endpoints/{} created", endpoints.metadata.name);
        // Loopback addresses are what this command is for on a laptop; say what a cluster thinks only when asked.
        if context.loglevel > 0 {
            for warning in endpoints_warnings(&endpoints, Some(&created)) {
                eprintln!("I: endpoints {}: {warning}", endpoints.key());
            }
        }
    }
    Ok(0)
}
