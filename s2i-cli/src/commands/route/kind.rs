//! The `route` kind of the object verbs: `oc get route`'s table, `oc
//! describe route`'s text, apply and delete with the API server's rules
//! (`s2i_route::store`), and the admission of every route that follows.

use s2i_route::Route;
use s2i_route::admission::AdmissionConfig;
use s2i_route::export::{ExportDocument, ExportTarget, GatewayRef, export_route};
use s2i_route::route::{
    CONDITION_ADMITTED, ConditionStatus, RouteIngress, RouteIngressCondition, RouteTargetReference,
};
use s2i_route::store::{
    admit_routes, apply_route, delete_route, get_route, get_service, list_routes, missing_services, route_not_found,
};
use s2i_store::codec::Document;
use s2i_store::{Applied, Resource, Tx};
use serde_json::Value;

use super::router::{admission_config, route_domain, warn_about};
use crate::commands::kind::{
    ApplyOps, BoxFuture, DocumentError, Kind, LibResult, decode, parse_in_namespace, to_value,
};
use crate::commands::service::service_endpoints_text;
use crate::commands::session::Session;
use crate::failure::Failure;
use crate::render::{Description, or_none};

const GROUP: &str = Route::INFO.group;

pub(crate) const ROUTE: Kind = Kind {
    info: Route::INFO,
    columns: &["NAME", "HOST/PORT", "PATH", "SERVICES", "PORT", "TERMINATION", "WILDCARD", "ADMITTED"],
    get: |tx, namespace, name| {
        let route = get_route(tx, namespace, name)?.ok_or_else(|| route_not_found(namespace, name))?;
        Ok(to_value(&route))
    },
    list: Some(|tx, namespace| Ok(list_routes(tx, namespace)?.iter().map(to_value).collect())),
    row: |value| decode::<Route>(value).map(|route| route_row(&route)).unwrap_or_default(),
    wide: None,
    describe: Some(|tx, value| describe_route(tx, &decode(value)?)),
    apply: Some(ApplyOps { parse: parse_route, write: write_route, after: after_routes }),
    delete: Ok(delete_route_hook),
    refresh: None,
    export: Some(export_route_object),
};

/// `s2i export routes`: the route as `s2i route export --to openshift`
/// writes it (a host generated for this machine's domain left to the cluster).
fn export_route_object(value: &Value) -> LibResult<(Value, Vec<String>)> {
    let route: Route = decode(value)?;
    let export = export_route(&route, &[], ExportTarget::OpenShift, &GatewayRef::default());
    let object = match export.documents.into_iter().next() {
        Some(ExportDocument::Route(route)) => to_value(&route),
        _ => unreachable!("an OpenShift export is one Route"),
    };
    Ok((object, export.warnings))
}

/// The `Admitted` condition this machine's router wrote, if any.
fn admitted_condition(route: &Route) -> Option<&RouteIngressCondition> {
    this_router(route).and_then(|ingress| ingress.condition(CONDITION_ADMITTED))
}

/// The status this machine's router (the default of [`AdmissionConfig`]) wrote, if any.
fn this_router(route: &Route) -> Option<&RouteIngress> {
    route.status.for_router(&AdmissionConfig::default().router_name)
}

/// Each backend of `route` with its share of the traffic, in whole percent.
fn backend_shares(route: &Route) -> impl Iterator<Item = (&RouteTargetReference, i64)> {
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
    let mut out = Description::new(18);
    let meta = &route.metadata;
    out.metadata(meta);
    let requested = if route.spec.host.is_empty() && !route.spec.subdomain.is_empty() {
        format!("{} (subdomain)", route.spec.subdomain)
    } else {
        or_none(&route.spec.host)
    };
    out.field("Requested Host", &requested);
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
        out.continued(&line);
    }
    if route.status.ingress.is_empty() {
        out.continued("not yet admitted by a router");
    }
    out.field("Path", &or_none(&route.spec.path));
    out.field("TLS Termination", &route.termination().map_or("<none>".into(), |t| t.to_string()));
    let insecure = route.spec.tls.as_ref().and_then(|tls| tls.insecure_edge_termination_policy);
    out.field("Insecure Policy", &insecure.map_or("<none>".into(), |p| p.to_string()));
    let port = route.spec.port.as_ref().map_or("<all endpoint ports>".into(), |p| p.target_port.to_string());
    out.field("Endpoint Port", &port);
    out.field("Wildcard Policy", route.spec.wildcard_policy.as_str());
    for (backend, share) in backend_shares(route) {
        out.line("");
        out.field("Service", &backend.name);
        out.field("Weight", &format!("{} ({share}%)", backend.weight));
        let endpoints = match get_service(tx, &meta.namespace, &backend.name)? {
            None => "<the service does not exist>".to_owned(),
            Some(service) => service_endpoints_text(tx, &service)?,
        };
        out.field("Endpoints", &endpoints);
    }
    Ok(out.finish())
}

fn parse_route(document: Document<'_>, namespace: &str) -> Result<Value, DocumentError> {
    Ok(to_value(&parse_in_namespace::<Route>(document, namespace)?))
}

fn write_route(tx: &Tx<'_>, value: Value) -> LibResult<Applied> {
    let (stored, action) = apply_route(tx, decode(&value)?, &route_domain()?)?;
    Ok(Applied::of(&stored, action))
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
            Ok::<_, s2i_store::Error>((admission, routes))
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
