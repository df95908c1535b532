//! The same route for a cluster (docs/compatibility.md#exports): as a Route
//! for OpenShift, as a `networking.k8s.io/v1` Ingress, or as Gateway API
//! objects (HTTPRoute, TLSRoute, BackendTLSPolicy), with a warning for every
//! setting that does not carry over.
//!
//! Routes name an *endpoint* port while Ingress and Gateway API name a
//! *service* port, so those exports look the port up in the route's services.
//! A cluster refuses an Ingress backend without a port, and a Gateway API
//! backend of kind Service without a port number: when neither the route's
//! `spec.port.targetPort` nor a given service says which, the export is
//! refused ([`Export::check`]).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::annotations::{self, HOST_GENERATED, TimeUnit, TimeUnits};
use crate::host::wildcard_key;
use crate::route::{InsecureEdgeTerminationPolicy, Route, RouteHttpHeader, TargetPort, TlsTermination};
use crate::service::Service;
use s2i_store::codec::to_yaml_documents;

/// What to export to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportTarget {
    /// A Route for OpenShift (or MicroShift).
    OpenShift,
    /// A `networking.k8s.io/v1` Ingress (and a TLS Secret when the route has a certificate).
    Ingress,
    /// Gateway API: HTTPRoute or TLSRoute (and BackendTLSPolicy for reencrypt).
    Gateway,
}

/// The Gateway an exported HTTPRoute or TLSRoute attaches to. It needs the
/// listeners `http` (HTTP), `https` (HTTPS, TLS terminated) and
/// `tls-passthrough` (TLS, passthrough).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayRef {
    /// The Gateway's name.
    pub name: String,
    /// Its namespace; the route's own when `None`.
    pub namespace: Option<String>,
}

impl Default for GatewayRef {
    fn default() -> Self {
        GatewayRef { name: "gateway".to_owned(), namespace: None }
    }
}

/// An export: the objects, and what could not carry over.
#[derive(Debug, Clone, PartialEq)]
pub struct Export {
    /// The objects, in the order to apply them.
    pub documents: Vec<ExportDocument>,
    /// One line per setting that does not carry over (or carries over differently).
    pub warnings: Vec<String>,
    /// Backends the documents name without the port a cluster requires:
    /// a cluster would refuse them, so [`Export::to_yaml`] refuses too.
    pub missing_ports: Vec<MissingPort>,
}

/// A backend service of an export whose port is unknown where the target
/// requires one (Ingress: a name or number; Gateway API: a number).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissingPort {
    /// `namespace/name` of the route.
    pub route: String,
    /// The export target: `Ingress` or `Gateway API`.
    pub target: &'static str,
    /// The service.
    pub service: String,
    /// Why no port is known, e.g. `service web has no ports`.
    pub reason: String,
}

impl MissingPort {
    /// The refusal, as the crate's error.
    pub fn to_error(&self) -> crate::Error {
        crate::Error::ExportWithoutPort {
            route: self.route.clone(),
            target: self.target,
            service: self.service.clone(),
            reason: self.reason.clone(),
        }
    }
}

impl Export {
    /// `Ok` when a cluster takes the documents; else the first backend
    /// without the port it needs ([`crate::Error::ExportWithoutPort`]).
    pub fn check(&self) -> Result<(), crate::Error> {
        self.missing_ports.first().map_or(Ok(()), |missing| Err(missing.to_error()))
    }

    /// The objects as YAML documents; refused as [`Export::check`] refuses.
    pub fn to_yaml(&self) -> Result<String, crate::Error> {
        self.check()?;
        to_yaml_documents(&self.documents).map_err(|err| crate::Error::WriteYaml { message: err.to_string() })
    }
}

/// An exported object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum ExportDocument {
    /// A Route.
    Route(Box<Route>),
    /// An Ingress.
    Ingress(Ingress),
    /// A Secret (TLS material).
    Secret(Secret),
    /// A ConfigMap (a CA bundle).
    ConfigMap(ConfigMap),
    /// A Gateway API HTTPRoute.
    HttpRoute(GatewayRoute<HttpRouteRule>),
    /// A Gateway API TLSRoute.
    TlsRoute(GatewayRoute<TlsRouteRule>),
    /// A Gateway API BackendTLSPolicy.
    BackendTlsPolicy(BackendTlsPolicy),
}

/// Metadata of an exported object: identity, labels and annotations only.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ExportMeta {
    /// Name.
    pub name: String,
    /// Namespace: empty, and left out, so that the file applies to the
    /// namespace it is applied in (`oc apply -n ANY -f`).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// Labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A `networking.k8s.io/v1` Ingress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ingress {
    /// `networking.k8s.io/v1`.
    pub api_version: &'static str,
    /// `Ingress`.
    pub kind: &'static str,
    /// Metadata.
    pub metadata: ExportMeta,
    /// Spec.
    pub spec: IngressSpec,
}

/// `spec` of an Ingress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngressSpec {
    /// TLS hosts and their secret.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tls: Vec<IngressTls>,
    /// The host rule.
    pub rules: Vec<IngressRule>,
}

/// `spec.tls[]` of an Ingress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressTls {
    /// Hosts.
    pub hosts: Vec<String>,
    /// The `kubernetes.io/tls` Secret; the controller's default certificate when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_name: Option<String>,
}

/// `spec.rules[]` of an Ingress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngressRule {
    /// Host; every host when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Paths.
    pub http: IngressHttp,
}

/// `http` of an Ingress rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngressHttp {
    /// Paths.
    pub paths: Vec<IngressPath>,
}

/// A path of an Ingress rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngressPath {
    /// The path.
    pub path: String,
    /// `Prefix`.
    pub path_type: &'static str,
    /// The service.
    pub backend: IngressBackend,
}

/// `backend` of an Ingress path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngressBackend {
    /// The service and port.
    pub service: IngressServiceBackend,
}

/// A service backend of an Ingress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngressServiceBackend {
    /// Service name.
    pub name: String,
    /// Service port, by name or number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<IngressServicePort>,
}

/// A service port of an Ingress backend: by name or by number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IngressServicePort {
    /// By name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// By number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub number: Option<i32>,
}

/// A `v1` Secret, written with `stringData`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Secret {
    /// `v1`.
    pub api_version: &'static str,
    /// `Secret`.
    pub kind: &'static str,
    /// Metadata.
    pub metadata: ExportMeta,
    /// `kubernetes.io/tls` or `Opaque`.
    #[serde(rename = "type")]
    pub secret_type: &'static str,
    /// The data, as text.
    pub string_data: BTreeMap<String, String>,
}

/// A `v1` ConfigMap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfigMap {
    /// `v1`.
    pub api_version: &'static str,
    /// `ConfigMap`.
    pub kind: &'static str,
    /// Metadata.
    pub metadata: ExportMeta,
    /// The data.
    pub data: BTreeMap<String, String>,
}

/// A Gateway API route (HTTPRoute or TLSRoute).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayRoute<R> {
    /// `gateway.networking.k8s.io/v1`.
    pub api_version: &'static str,
    /// `HTTPRoute` or `TLSRoute`.
    pub kind: &'static str,
    /// Metadata.
    pub metadata: ExportMeta,
    /// Spec.
    pub spec: GatewayRouteSpec<R>,
}

/// `spec` of a Gateway API route.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayRouteSpec<R> {
    /// The Gateway listeners it attaches to.
    pub parent_refs: Vec<ParentRef>,
    /// Hosts; every host of the listener when empty.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    /// Rules.
    pub rules: Vec<R>,
}

/// A Gateway listener reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentRef {
    /// Gateway name.
    pub name: String,
    /// Gateway namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Listener name.
    pub section_name: String,
}

/// A rule of an HTTPRoute.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteRule {
    /// Path matches.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub matches: Vec<HttpRouteMatch>,
    /// Filters.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<serde_json::Value>,
    /// Services and weights.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub backend_refs: Vec<BackendRef>,
    /// Timeouts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeouts: Option<BTreeMap<String, String>>,
}

/// A path match of an HTTPRoute rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpRouteMatch {
    /// `{type: PathPrefix, value: …}`.
    pub path: PathMatch,
}

/// A path match.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PathMatch {
    /// `PathPrefix`.
    #[serde(rename = "type")]
    pub match_type: &'static str,
    /// The path.
    pub value: String,
}

/// A rule of a TLSRoute.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TlsRouteRule {
    /// Services and weights.
    pub backend_refs: Vec<BackendRef>,
}

/// A service backend of a Gateway API route.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BackendRef {
    /// Service name.
    pub name: String,
    /// Service port.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// Weight (always written: Gateway API's default is 1, the Route's 100).
    pub weight: i32,
}

/// A Gateway API BackendTLSPolicy.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendTlsPolicy {
    /// `gateway.networking.k8s.io/v1`.
    pub api_version: &'static str,
    /// `BackendTLSPolicy`.
    pub kind: &'static str,
    /// Metadata.
    pub metadata: ExportMeta,
    /// Spec.
    pub spec: serde_json::Value,
}

const GATEWAY_API: &str = "gateway.networking.k8s.io/v1";

/// Exports a route; `services` are looked up for ports (those of other
/// namespaces are ignored).
pub fn export_route(route: &Route, services: &[Service], target: ExportTarget, gateway: &GatewayRef) -> Export {
    let mut exporter =
        Exporter { route, services, warnings: Vec::new(), documents: Vec::new(), missing_ports: Vec::new() };
    match target {
        ExportTarget::OpenShift => exporter.openshift(),
        ExportTarget::Ingress => exporter.ingress(),
        ExportTarget::Gateway => exporter.gateway(gateway),
    }
    Export { documents: exporter.documents, warnings: exporter.warnings, missing_ports: exporter.missing_ports }
}

struct Exporter<'a> {
    route: &'a Route,
    services: &'a [Service],
    warnings: Vec<String>,
    documents: Vec<ExportDocument>,
    missing_ports: Vec<MissingPort>,
}

/// A service port as Ingress and Gateway API name it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct ServicePortRef {
    name: Option<String>,
    number: Option<i32>,
}

impl<'a> Exporter<'a> {
    fn meta(&self, name: String, annotations: BTreeMap<String, String>) -> ExportMeta {
        ExportMeta { name, namespace: String::new(), labels: self.route.metadata.labels.clone(), annotations }
    }

    fn warn(&mut self, message: impl Into<String>) {
        self.warnings.push(message.into());
    }

    fn openshift(&mut self) {
        let mut route = self.route.clone();
        route.status = Default::default();
        let metadata = &mut route.metadata;
        s2i_store::export::strip_metadata(metadata);
        if metadata.annotations.remove(HOST_GENERATED).as_deref() == Some("true") {
            self.warnings.push(format!(
                "spec.host {} was generated for this machine's domain; it is left out so the cluster generates one from its own domain",
                route.spec.host
            ));
            route.spec.host.clear();
        }
        self.documents.push(ExportDocument::Route(Box::new(route)));
    }

    /// The host rule of an Ingress or the hostnames of a Gateway API route.
    fn host(&mut self, what: &str) -> Option<String> {
        let spec = &self.route.spec;
        if spec.host.is_empty() {
            if !spec.subdomain.is_empty() {
                self.warn(format!(
                    "spec.subdomain {:?} has no {what} equivalent: the export has no host and matches every host; set one",
                    spec.subdomain
                ));
            } else {
                self.warn(format!("the route has no host: the {what} matches every host; set one"));
            }
            return None;
        }
        if self.route.metadata.annotations.get(HOST_GENERATED).is_some_and(|value| value == "true") {
            self.warn(format!(
                "spec.host {} was generated for this machine's domain; change it to a name the cluster serves",
                spec.host
            ));
        }
        Some(if self.route.is_wildcard() { format!("*.{}", wildcard_key(&spec.host)) } else { spec.host.clone() })
    }

    fn find_service(&self, name: &str) -> Option<&'a Service> {
        self.services.iter().find(|service| {
            service.metadata.namespace == self.route.metadata.namespace && service.metadata.name == name
        })
    }

    /// The service port that leads to the route's target (endpoint) port.
    fn service_port(&mut self, service_name: &str) -> ServicePortRef {
        let target = self.route.spec.port.as_ref().map(|port| port.target_port.clone());
        let Some(service) = self.find_service(service_name) else {
            // The route's target port is the best guess: a service port's
            // name is its endpoints' port name, and its number often the same.
            return match target {
                Some(TargetPort::Number(number)) => {
                    self.warn(format!(
                        "service {service_name} was not given, so its port cannot be looked up; port {number} is used"
                    ));
                    ServicePortRef { name: None, number: Some(number) }
                }
                Some(TargetPort::Name(name)) => {
                    self.warn(format!(
                        "service {service_name} was not given, so its port cannot be looked up; port {name} is used"
                    ));
                    ServicePortRef { name: Some(name), number: None }
                }
                None => ServicePortRef::default(),
            };
        };
        let ports = &service.spec.ports;
        let port_ref = |port: &crate::service::ServicePort| ServicePortRef {
            name: Some(port.name.clone()).filter(|name| !name.is_empty()),
            number: Some(port.port),
        };
        let found = match &target {
            None if ports.len() == 1 => Some(port_ref(&ports[0])),
            None if ports.len() > 1 => {
                let first = port_ref(&ports[0]);
                self.warn(format!(
                    "the route sends to every port of service {service_name}; the export uses its first port, {}",
                    ports[0].port
                ));
                Some(first)
            }
            None => None,
            Some(TargetPort::Number(number)) => {
                ports.iter().find(|port| port.target_number() == Some(*number)).map(port_ref)
            }
            Some(TargetPort::Name(name)) => ports
                .iter()
                .find(|port| port.name == *name || port.target_port == Some(TargetPort::Name(name.clone())))
                .map(port_ref),
        };
        if let Some(found) = found {
            return found;
        }
        match target {
            Some(TargetPort::Number(number)) => {
                self.warn(format!(
                    "service {service_name} has no port leading to endpoint port {number}; port {number} is used, so the cluster's service needs a port {number}"
                ));
                ServicePortRef { name: None, number: Some(number) }
            }
            Some(TargetPort::Name(name)) => {
                self.warn(format!("service {service_name} has no port named {name}; the export names port {name}"));
                ServicePortRef { name: Some(name), number: None }
            }
            None => ServicePortRef::default(),
        }
    }

    /// Record that `service` lacks the port `target` needs, saying why.
    fn port_missing(&mut self, target: &'static str, service: &str) {
        let namespace = &self.route.metadata.namespace;
        let target_port = self.route.spec.port.as_ref().map(|port| &port.target_port);
        // A port is missing only without a service, or with a service that
        // has no ports, or (Gateway API) has no port of the route's port name.
        let reason = match (self.find_service(service), target_port) {
            (Some(found), _) if found.spec.ports.is_empty() => format!("service {service} has no ports"),
            (Some(_), Some(TargetPort::Name(name))) => format!("service {service} has no port named {name:?}"),
            (_, Some(TargetPort::Name(name))) => {
                format!(
                    "no service {service} was given in namespace {namespace:?} to look up the number of port {name:?}"
                )
            }
            _ => format!(
                "no service {service} was given in namespace {namespace:?}, and the route names no port (spec.port.targetPort)"
            ),
        };
        self.missing_ports.push(MissingPort {
            route: format!("{namespace}/{}", self.route.metadata.name),
            target,
            service: service.to_owned(),
            reason,
        });
    }

    /// Router annotations that the export target does not understand.
    fn warn_router_annotations(&mut self, target: &str, carried: &[&str]) {
        let ignored: Vec<&String> = self
            .route
            .metadata
            .annotations
            .keys()
            .filter(|key| key.starts_with("haproxy.router.openshift.io/") || key.starts_with("router.openshift.io/"))
            .filter(|key| !carried.contains(&key.as_str()))
            .collect();
        for key in ignored {
            self.warn(format!("annotation {key} has no {target} equivalent"));
        }
    }

    fn tls_secret(&mut self, name: String) -> Option<String> {
        let tls = self.route.spec.tls.as_ref()?;
        if tls.certificate.is_empty() || tls.termination == TlsTermination::Passthrough {
            return None;
        }
        let mut certificate = tls.certificate.trim_end().to_owned();
        certificate.push('\n');
        if !tls.ca_certificate.is_empty() {
            certificate.push_str(tls.ca_certificate.trim_end());
            certificate.push('\n');
        }
        let data = BTreeMap::from([("tls.crt".to_owned(), certificate), ("tls.key".to_owned(), tls.key.clone())]);
        self.documents.push(ExportDocument::Secret(Secret {
            api_version: "v1",
            kind: "Secret",
            metadata: self.meta(name.clone(), BTreeMap::new()),
            secret_type: "kubernetes.io/tls",
            string_data: data,
        }));
        Some(name)
    }

    fn warn_path(&mut self) {
        let path = &self.route.spec.path;
        if path.len() > 1 && path.ends_with('/') {
            self.warn(format!(
                "path {path:?} ends in '/': the route does not serve {:?}, but a Prefix match does",
                path.trim_end_matches('/')
            ));
        }
    }

    fn ingress(&mut self) {
        let route = self.route;
        let name = route.metadata.name.clone();
        let mut annotations = route.metadata.annotations.clone();
        annotations.remove(HOST_GENERATED);
        let host = self.host("Ingress");
        self.warn_path();
        let port = self.service_port(&route.spec.to.name);
        if !route.spec.alternate_backends.is_empty() {
            let names: Vec<&str> = route.spec.alternate_backends.iter().map(|backend| backend.name.as_str()).collect();
            self.warn(format!(
                "Ingress has no weighted backends: only {} is kept; alternateBackends {} are dropped",
                route.spec.to.name,
                names.join(", ")
            ));
        }
        if route.spec.http_headers.is_some() {
            self.warn("spec.httpHeaders has no Ingress equivalent");
        }
        let mut tls = Vec::new();
        if let Some(route_tls) = &route.spec.tls {
            annotations.insert("route.openshift.io/termination".to_owned(), route_tls.termination.as_str().to_owned());
            self.warn(format!(
                "TLS termination {} is kept in the annotation route.openshift.io/termination, which only OpenShift's ingress-to-route reads",
                route_tls.termination
            ));
            if route.insecure_policy() != InsecureEdgeTerminationPolicy::Redirect {
                self.warn(format!(
                    "insecureEdgeTerminationPolicy {} has no Ingress equivalent (OpenShift's ingress-to-route makes it Redirect)",
                    route.insecure_policy()
                ));
            }
            if !route_tls.destination_ca_certificate.is_empty() {
                let secret = format!("{name}-destination-ca");
                annotations.insert("route.openshift.io/destination-ca-certificate-secret".to_owned(), secret.clone());
                let data = BTreeMap::from([("tls.crt".to_owned(), route_tls.destination_ca_certificate.clone())]);
                self.documents.push(ExportDocument::Secret(Secret {
                    api_version: "v1",
                    kind: "Secret",
                    metadata: self.meta(secret, BTreeMap::new()),
                    secret_type: "Opaque",
                    string_data: data,
                }));
            }
            let secret_name = self.tls_secret(format!("{name}-tls"));
            tls.push(IngressTls { hosts: host.iter().cloned().collect(), secret_name });
        }
        self.warn_router_annotations("Ingress (only OpenShift's ingress-to-route copies it)", &[]);
        let backend = IngressServiceBackend {
            name: route.spec.to.name.clone(),
            port: match (port.name, port.number) {
                (Some(name), _) => Some(IngressServicePort { name: Some(name), number: None }),
                (None, Some(number)) => Some(IngressServicePort { name: None, number: Some(number) }),
                (None, None) => {
                    self.port_missing("Ingress", &route.spec.to.name);
                    None
                }
            },
        };
        let path = if route.spec.path.is_empty() { "/".to_owned() } else { route.spec.path.clone() };
        let ingress = Ingress {
            api_version: "networking.k8s.io/v1",
            kind: "Ingress",
            metadata: self.meta(name, annotations),
            spec: IngressSpec {
                tls,
                rules: vec![IngressRule {
                    host,
                    http: IngressHttp {
                        paths: vec![IngressPath {
                            path,
                            path_type: "Prefix",
                            backend: IngressBackend { service: backend },
                        }],
                    },
                }],
            },
        };
        self.documents.push(ExportDocument::Ingress(ingress));
    }

    fn backend_refs(&mut self) -> Vec<BackendRef> {
        let backends: Vec<(String, i32)> = self.route.backends().map(|b| (b.name.clone(), b.weight)).collect();
        backends
            .into_iter()
            .map(|(name, weight)| {
                let number = self.service_port(&name).number;
                if number.is_none() {
                    self.port_missing("Gateway API", &name);
                }
                BackendRef { name, port: number, weight }
            })
            .collect()
    }

    fn parent(&self, gateway: &GatewayRef, section: &str) -> ParentRef {
        ParentRef { name: gateway.name.clone(), namespace: gateway.namespace.clone(), section_name: section.to_owned() }
    }

    fn gateway(&mut self, gateway: &GatewayRef) {
        let route = self.route;
        let name = route.metadata.name.clone();
        let host = self.host("Gateway API route");
        if route.is_wildcard() {
            self.warn(format!(
                "hostname {} also matches deeper names in Gateway API (a.b.{}); the route matches one label only",
                host.clone().unwrap_or_default(),
                wildcard_key(&route.spec.host)
            ));
        }
        let hostnames: Vec<String> = host.into_iter().collect();
        let termination = route.termination();
        let policy = route.insecure_policy();
        let notes = annotations::parse(&route.metadata.annotations).settings;
        let matches = if route.spec.path.is_empty() {
            Vec::new()
        } else {
            vec![HttpRouteMatch { path: PathMatch { match_type: "PathPrefix", value: route.spec.path.clone() } }]
        };
        self.warn_path();

        if termination == Some(TlsTermination::Passthrough) {
            let backend_refs = self.backend_refs();
            self.documents.push(ExportDocument::TlsRoute(GatewayRoute {
                api_version: GATEWAY_API,
                kind: "TLSRoute",
                metadata: self.meta(name.clone(), BTreeMap::new()),
                spec: GatewayRouteSpec {
                    parent_refs: vec![self.parent(gateway, "tls-passthrough")],
                    hostnames: hostnames.clone(),
                    rules: vec![TlsRouteRule { backend_refs }],
                },
            }));
            if policy == InsecureEdgeTerminationPolicy::Redirect {
                self.push_redirect(gateway, &name, &hostnames, &matches);
            }
            self.warn_router_annotations("Gateway API", &[]);
            return;
        }

        let mut filters = Vec::new();
        let mut carried = vec![];
        if let Some(target) = &notes.rewrite_target {
            carried.push(annotations::REWRITE_TARGET);
            if route.spec.path.is_empty() {
                self.warn("rewrite-target without spec.path rewrites nothing in Gateway API (no prefix to replace)");
            } else {
                filters.push(serde_json::json!({
                    "type": "URLRewrite",
                    "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": target}}
                }));
            }
        }
        let mut request_set = Vec::new();
        let mut request_remove = Vec::new();
        let mut response_set = Vec::new();
        let mut response_remove = Vec::new();
        if let Some(headers) = &route.spec.http_headers {
            self.header_actions(&headers.actions.request, &mut request_set, &mut request_remove);
            self.header_actions(&headers.actions.response, &mut response_set, &mut response_remove);
        }
        if termination.is_some()
            && let Some(hsts) = &notes.hsts_header
        {
            carried.push(annotations::HSTS_HEADER);
            response_set.push(serde_json::json!({"name": "Strict-Transport-Security", "value": hsts}));
        }
        for (kind, field, set, remove) in [
            ("RequestHeaderModifier", "requestHeaderModifier", request_set, request_remove),
            ("ResponseHeaderModifier", "responseHeaderModifier", response_set, response_remove),
        ] {
            if set.is_empty() && remove.is_empty() {
                continue;
            }
            let mut modifier = serde_json::Map::new();
            if !set.is_empty() {
                modifier.insert("set".into(), serde_json::Value::Array(set));
            }
            if !remove.is_empty() {
                modifier.insert("remove".into(), serde_json::Value::Array(remove));
            }
            filters.push(serde_json::json!({"type": kind, field: modifier}));
        }
        let mut timeouts = None;
        if let Some(timeout) = notes.timeout {
            carried.push(annotations::TIMEOUT);
            match gateway_duration(timeout) {
                Some(duration) => timeouts = Some(BTreeMap::from([("backendRequest".to_owned(), duration)])),
                None => {
                    self.warn(format!("timeout {timeout} cannot be written as a Gateway API duration; it is dropped"))
                }
            }
        }
        self.warn_router_annotations("Gateway API", &carried);

        let backend_refs = self.backend_refs();
        let rule = HttpRouteRule { matches: matches.clone(), filters, backend_refs, timeouts };
        let sections: Vec<&str> = match (termination, policy) {
            (None, _) => vec!["http"],
            (Some(_), InsecureEdgeTerminationPolicy::Allow) => vec!["https", "http"],
            (Some(_), _) => vec!["https"],
        };
        let parent_refs = sections.iter().map(|section| self.parent(gateway, section)).collect();
        self.documents.push(ExportDocument::HttpRoute(GatewayRoute {
            api_version: GATEWAY_API,
            kind: "HTTPRoute",
            metadata: self.meta(name.clone(), BTreeMap::new()),
            spec: GatewayRouteSpec { parent_refs, hostnames: hostnames.clone(), rules: vec![rule] },
        }));
        if termination.is_some() && policy == InsecureEdgeTerminationPolicy::Redirect {
            self.push_redirect(gateway, &name, &hostnames, &matches);
        }
        if let Some(secret) = self.tls_secret(format!("{name}-tls")) {
            self.warn(format!(
                "the certificate is in Secret {secret}: list it in certificateRefs of the Gateway's https listener (listeners are not part of the route)"
            ));
        } else if termination.is_some() {
            self.warn(
                "the route uses the router's default certificate: the Gateway's https listener needs one for the host",
            );
        }
        if termination == Some(TlsTermination::Reencrypt) {
            self.backend_tls_policies(&name);
        }
    }

    fn header_actions(
        &mut self,
        actions: &[RouteHttpHeader],
        set: &mut Vec<serde_json::Value>,
        remove: &mut Vec<serde_json::Value>,
    ) {
        for header in actions {
            match &header.action.set {
                Some(value) if value.value.contains('%') => self.warn(format!(
                    "header {} is set with an HAProxy expression ({}), which Gateway API cannot carry; it is dropped",
                    header.name, value.value
                )),
                Some(value) => set.push(serde_json::json!({"name": header.name, "value": value.value})),
                None => remove.push(serde_json::Value::String(header.name.clone())),
            }
        }
    }

    fn push_redirect(&mut self, gateway: &GatewayRef, name: &str, hostnames: &[String], matches: &[HttpRouteMatch]) {
        let rule = HttpRouteRule {
            matches: matches.to_vec(),
            filters: vec![serde_json::json!({
                "type": "RequestRedirect",
                "requestRedirect": {"scheme": "https", "statusCode": 302}
            })],
            backend_refs: Vec::new(),
            timeouts: None,
        };
        self.documents.push(ExportDocument::HttpRoute(GatewayRoute {
            api_version: GATEWAY_API,
            kind: "HTTPRoute",
            metadata: self.meta(format!("{name}-redirect"), BTreeMap::new()),
            spec: GatewayRouteSpec {
                parent_refs: vec![self.parent(gateway, "http")],
                hostnames: hostnames.to_vec(),
                rules: vec![rule],
            },
        }));
    }

    fn backend_tls_policies(&mut self, name: &str) {
        let route = self.route;
        let namespace = route.metadata.namespace.clone();
        let tls = route.spec.tls.as_ref().expect("reencrypt routes have tls");
        let validation_ref = if tls.destination_ca_certificate.is_empty() {
            self.warn(
                "no destinationCACertificate: the BackendTLSPolicy trusts the system CAs (wellKnownCACertificates: System)",
            );
            serde_json::json!({"wellKnownCACertificates": "System"})
        } else {
            let config_map = format!("{name}-destination-ca");
            self.documents.push(ExportDocument::ConfigMap(ConfigMap {
                api_version: "v1",
                kind: "ConfigMap",
                metadata: self.meta(config_map.clone(), BTreeMap::new()),
                data: BTreeMap::from([("ca.crt".to_owned(), tls.destination_ca_certificate.clone())]),
            }));
            serde_json::json!({"caCertificateRefs": [{"group": "", "kind": "ConfigMap", "name": config_map}]})
        };
        let services: Vec<String> = route.backends().map(|backend| backend.name.clone()).collect();
        if !services.is_empty() {
            self.warn(format!(
                "the BackendTLSPolicy validation hostnames name the namespace {namespace:?} \
                 (SERVICE.{namespace}.svc); change them when the files are applied in another namespace"
            ));
        }
        for service in services {
            let mut validation = validation_ref.clone();
            validation["hostname"] = serde_json::Value::String(format!("{service}.{namespace}.svc"));
            self.documents.push(ExportDocument::BackendTlsPolicy(BackendTlsPolicy {
                api_version: GATEWAY_API,
                kind: "BackendTLSPolicy",
                metadata: self.meta(format!("{name}-{service}"), BTreeMap::new()),
                spec: serde_json::json!({
                    "targetRefs": [{"group": "", "kind": "Service", "name": service}],
                    "validation": validation,
                }),
            }));
        }
    }
}

/// A Gateway API duration (`^([0-9]{1,5}(h|m|s|ms)){1,4}$`) for a router
/// timeout; `None` when it cannot be written (microseconds, too long).
pub fn gateway_duration(time: TimeUnits) -> Option<String> {
    let millis = match time.unit {
        TimeUnit::Microseconds => return None,
        TimeUnit::Milliseconds => time.value,
        TimeUnit::Seconds => time.value.checked_mul(1_000)?,
        TimeUnit::Minutes => time.value.checked_mul(60_000)?,
        TimeUnit::Hours => time.value.checked_mul(3_600_000)?,
        TimeUnit::Days => time.value.checked_mul(86_400_000)?,
    };
    let mut parts = Vec::new();
    let mut rest = millis;
    for (unit, size) in [("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        let count = rest / size;
        rest %= size;
        if count > 0 {
            if count > 99_999 {
                return None;
            }
            parts.push(format!("{count}{unit}"));
        }
    }
    Some(parts.concat())
}
