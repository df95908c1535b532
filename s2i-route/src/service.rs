//! Services: what routes point at, and the endpoints their traffic goes to.
//!
//! A [`Service`] is exactly a Kubernetes `v1` Service: every field of its
//! spec is kept, as a cluster stores it, whether this machine acts on it or
//! not (what it does not act on, and a user would miss, is a warning of
//! [`crate::validation::service_warnings`]). Its `status` belongs to a
//! cluster: read from input and dropped.
//!
//! Where the traffic of a service goes is decided as on a cluster:
//!
//! - a service with a `selector` goes to the running containers that carry
//!   those labels (`containers::resolve_endpoints`, feature `containers`);
//! - a service without one goes to the addresses of the [`Endpoints`]
//!   object of the same name, written by hand (or by `s2i service create
//!   --endpoint`), as Kubernetes does for a service without selector.
//!
//! Routes name an *endpoint* port (`spec.port.targetPort`), as on OpenShift:
//! an endpoint port number, or the name of the port (the service port's
//! name, which the Endpoints object's ports repeat). [`ServiceEndpoints`]
//! holds the endpoints of every service, resolved, for admission-free
//! consumers (the renderer, the matcher, exports).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::endpoints::Endpoints;
use crate::error::Error;
use crate::route::{
    DEFAULT_WEIGHT, Route, RoutePort, RouteSpec, RouteTargetReference, SERVICE_KIND, TargetPort, check_type_meta,
};
use s2i_store::{KindInfo, ObjectKey, ObjectMeta, Resource, ServerOwned};

/// `apiVersion` of a Service.
pub const SERVICE_API_VERSION: &str = "v1";

/// `spec.type` values.
pub mod service_type {
    /// A virtual address inside the cluster (the default).
    pub const CLUSTER_IP: &str = "ClusterIP";
    /// A port on every node, plus a cluster address.
    pub const NODE_PORT: &str = "NodePort";
    /// An external load balancer, plus node ports and a cluster address.
    pub const LOAD_BALANCER: &str = "LoadBalancer";
    /// A DNS alias (`spec.externalName`), no address of its own.
    pub const EXTERNAL_NAME: &str = "ExternalName";
    /// Every value the API accepts.
    pub const ALL: &[&str] = &[CLUSTER_IP, EXTERNAL_NAME, LOAD_BALANCER, NODE_PORT];
}

/// `spec.clusterIP` of a headless service: no virtual address, clients get
/// the endpoints' addresses.
pub const CLUSTER_IP_NONE: &str = "None";

impl Resource for Service {
    const INFO: KindInfo = KindInfo {
        group: "",
        version: SERVICE_API_VERSION,
        kind: SERVICE_KIND,
        plural: "services",
        short_names: &["svc"],
        namespaced: true,
    };
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// A service: a stable name for a set of endpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Name and namespace (routes reach services of their own namespace).
    pub metadata: ObjectMeta,
    /// Everything a cluster's Service spec holds.
    pub spec: ServiceSpec,
}

impl Service {
    /// A service.
    pub fn new(metadata: ObjectMeta, spec: ServiceSpec) -> Self {
        Service { metadata, spec }
    }

    /// The service as a file for another namespace or cluster: what a
    /// cluster allocates (`clusterIP` and `clusterIPs`, except `None`, which
    /// makes a headless service; node ports; `healthCheckNodePort`) is left
    /// out, since the cluster it is applied to allocates its own and refuses
    /// values that are taken. Metadata is `s2i_store::export`'s rule.
    pub fn for_export(mut self) -> Self {
        s2i_store::export::strip_metadata(&mut self.metadata);
        let spec = &mut self.spec;
        if !spec.is_headless() {
            spec.cluster_ip.clear();
            spec.cluster_ips.clear();
        }
        spec.health_check_node_port = 0;
        for port in &mut spec.ports {
            port.node_port = 0;
        }
        self
    }

    /// `namespace/name`.
    pub fn key(&self) -> ObjectKey {
        self.metadata.key()
    }

    /// The endpoint port a route to the service uses when none is asked
    /// for, as `oc expose` chooses it: the first port's name, else the
    /// container port it leads to. `None` for a service without ports.
    pub fn route_port(&self) -> Option<RoutePort> {
        let port = self.spec.ports.first()?;
        let target = if port.name.is_empty() {
            port.target_port.clone().unwrap_or(TargetPort::Number(port.port))
        } else {
            TargetPort::Name(port.name.clone())
        };
        Some(RoutePort { target_port: target })
    }

    /// The route `oc expose service` makes of the service: `name`, in the
    /// service's namespace, with its labels, sending all traffic to it on
    /// [`Service::route_port`]; host, path and TLS are the caller's to set.
    pub fn exposed_as(&self, name: &str) -> Route {
        let mut metadata = ObjectMeta::named(&self.metadata.namespace, name);
        metadata.labels = self.metadata.labels.clone();
        let spec = RouteSpec {
            to: RouteTargetReference::service(&self.metadata.name, DEFAULT_WEIGHT),
            port: self.route_port(),
            ..RouteSpec::default()
        };
        Route::new(metadata, spec)
    }
}

/// `spec` of a Service: every field of Kubernetes' `ServiceSpec`, written
/// as a cluster writes it (empty values left out).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceSpec {
    /// The service's ports and the endpoint ports they lead to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ServicePort>,
    /// Labels of the running containers that are the endpoints; without
    /// one, the endpoints are those of the Endpoints object of the same name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub selector: BTreeMap<String, String>,
    /// The virtual address on a cluster; `None` makes a headless service.
    /// Nothing allocates one here.
    #[serde(default, rename = "clusterIP", skip_serializing_if = "String::is_empty")]
    pub cluster_ip: String,
    /// The virtual addresses, one per IP family (the first is `clusterIP`).
    #[serde(default, rename = "clusterIPs", skip_serializing_if = "Vec::is_empty")]
    pub cluster_ips: Vec<String>,
    /// `ClusterIP` (the default), `NodePort`, `LoadBalancer` or `ExternalName`.
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub service_type: String,
    /// Addresses of the nodes that also accept the service's traffic.
    #[serde(default, rename = "externalIPs", skip_serializing_if = "Vec::is_empty")]
    pub external_ips: Vec<String>,
    /// `None` (the default) or `ClientIP`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub session_affinity: String,
    /// The address asked of a load balancer (deprecated by Kubernetes).
    #[serde(default, rename = "loadBalancerIP", skip_serializing_if = "String::is_empty")]
    pub load_balancer_ip: String,
    /// The client ranges a load balancer admits.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub load_balancer_source_ranges: Vec<String>,
    /// The DNS name an `ExternalName` service aliases.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub external_name: String,
    /// `Cluster` or `Local`: which endpoints traffic from outside reaches.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub external_traffic_policy: String,
    /// The node port of a load balancer's health check.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub health_check_node_port: i32,
    /// Whether endpoints that are not ready are published too.
    #[serde(default, skip_serializing_if = "is_false")]
    pub publish_not_ready_addresses: bool,
    /// Settings of `ClientIP` session affinity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_affinity_config: Option<SessionAffinityConfig>,
    /// `IPv4` and/or `IPv6`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ip_families: Vec<String>,
    /// `SingleStack`, `PreferDualStack` or `RequireDualStack`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_family_policy: Option<String>,
    /// Whether a `LoadBalancer` service gets node ports.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allocate_load_balancer_node_ports: Option<bool>,
    /// Which load balancer implementation serves a `LoadBalancer` service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_class: Option<String>,
    /// `Cluster` or `Local`: which endpoints traffic from inside reaches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal_traffic_policy: Option<String>,
    /// A preference for nearby endpoints (`PreferClose`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub traffic_distribution: Option<String>,
}

fn is_zero(value: &i32) -> bool {
    *value == 0
}

fn is_false(value: &bool) -> bool {
    !*value
}

impl ServiceSpec {
    /// `spec.type`, `ClusterIP` when unset.
    pub fn effective_type(&self) -> &str {
        if self.service_type.is_empty() { service_type::CLUSTER_IP } else { &self.service_type }
    }

    /// A headless service (`clusterIP: None`).
    pub fn is_headless(&self) -> bool {
        self.cluster_ip == CLUSTER_IP_NONE
    }

    /// An `ExternalName` service.
    pub fn is_external_name(&self) -> bool {
        self.service_type == service_type::EXTERNAL_NAME
    }

    /// Reachable from outside a cluster: node ports, a load balancer, or
    /// external addresses of a `ClusterIP` service.
    pub fn externally_accessible(&self) -> bool {
        match self.effective_type() {
            service_type::NODE_PORT | service_type::LOAD_BALANCER => true,
            service_type::CLUSTER_IP => !self.external_ips.is_empty(),
            _ => false,
        }
    }

    /// Fills in what the API server defaults when it stores a service: the
    /// type (`ClusterIP`), session affinity (`None`, and the `ClientIP`
    /// timeout of 10800 seconds), port protocols (`TCP`) and target ports
    /// (the port), the traffic policies (`Cluster`), node ports of a load
    /// balancer, and `clusterIP`/`clusterIPs` from each other.
    pub fn apply_defaults(&mut self) {
        if self.service_type.is_empty() {
            self.service_type = service_type::CLUSTER_IP.to_owned();
        }
        if self.session_affinity.is_empty() {
            self.session_affinity = "None".to_owned();
        }
        if self.session_affinity == "ClientIP" {
            let config = self.session_affinity_config.get_or_insert_with(Default::default);
            let client_ip = config.client_ip.get_or_insert_with(Default::default);
            client_ip.timeout_seconds.get_or_insert(DEFAULT_CLIENT_IP_TIMEOUT);
        }
        for port in &mut self.ports {
            if port.protocol.is_empty() {
                port.protocol = tcp();
            }
            let unset = match &port.target_port {
                None => true,
                Some(TargetPort::Number(number)) => *number == 0,
                Some(TargetPort::Name(name)) => name.is_empty(),
            };
            if unset {
                port.target_port = Some(TargetPort::Number(port.port));
            }
        }
        if self.externally_accessible() && self.external_traffic_policy.is_empty() {
            self.external_traffic_policy = "Cluster".to_owned();
        }
        if !self.is_external_name() && self.internal_traffic_policy.is_none() {
            self.internal_traffic_policy = Some("Cluster".to_owned());
        }
        if self.service_type == service_type::LOAD_BALANCER && self.allocate_load_balancer_node_ports.is_none() {
            self.allocate_load_balancer_node_ports = Some(true);
        }
        if self.cluster_ips.is_empty() && !self.cluster_ip.is_empty() {
            self.cluster_ips = vec![self.cluster_ip.clone()];
        } else if self.cluster_ip.is_empty() && !self.cluster_ips.is_empty() {
            self.cluster_ip = self.cluster_ips[0].clone();
        }
    }
}

/// The `ClientIP` affinity timeout Kubernetes defaults to: three hours.
pub const DEFAULT_CLIENT_IP_TIMEOUT: i32 = 10800;

/// `spec.sessionAffinityConfig`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionAffinityConfig {
    /// Settings of `ClientIP` affinity.
    #[serde(default, rename = "clientIP", skip_serializing_if = "Option::is_none")]
    pub client_ip: Option<ClientIpConfig>,
}

/// `spec.sessionAffinityConfig.clientIP`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ClientIpConfig {
    /// How long a client sticks to an endpoint, 1 to 86400 seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<i32>,
}

/// A port of a service: every field of Kubernetes' `ServicePort`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePort {
    /// Name; routes may name it in `spec.port.targetPort`, and the ports of
    /// the service's Endpoints object repeat it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `TCP` (the default, and the only protocol a router carries), `UDP`
    /// or `SCTP`.
    #[serde(default = "tcp")]
    pub protocol: String,
    /// The application protocol (`http`, `kubernetes.io/h2c`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
    /// The port clients of the service use (on a cluster).
    pub port: i32,
    /// The endpoint port it leads to, by number or container port name;
    /// `port` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<TargetPort>,
    /// The port on every node (`NodePort` and `LoadBalancer` services).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub node_port: i32,
}

fn tcp() -> String {
    "TCP".to_owned()
}

impl ServicePort {
    /// A TCP port leading to an endpoint port number.
    pub fn new(name: impl Into<String>, port: i32, target_port: Option<i32>) -> Self {
        ServicePort {
            name: name.into(),
            protocol: tcp(),
            app_protocol: None,
            port,
            target_port: target_port.map(TargetPort::Number),
            node_port: 0,
        }
    }

    /// Ports for these port numbers, each leading to the same number and
    /// named by it, as `kubectl create service clusterip NAME --tcp=N` names them.
    pub fn for_numbers(numbers: impl IntoIterator<Item = u16>) -> Vec<ServicePort> {
        numbers
            .into_iter()
            .map(|number| ServicePort::new(number.to_string(), i32::from(number), Some(i32::from(number))))
            .collect()
    }

    /// The endpoint port number this port leads to, when it is a number.
    pub fn target_number(&self) -> Option<i32> {
        match &self.target_port {
            None => Some(self.port),
            Some(TargetPort::Number(number)) => Some(*number),
            Some(TargetPort::Name(_)) => None,
        }
    }
}

/// An address given as `HOST:PORT`, the host an IP address (IPv6 in
/// brackets: `[::1]:8080`): how `s2i service create --endpoint` and code
/// name the fixed endpoints of a service, which [`Endpoints::for_service`]
/// turns into an Endpoints object.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    /// IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
}

impl Endpoint {
    /// An endpoint.
    pub fn new(host: impl Into<String>, port: u16) -> Self {
        Endpoint { host: host.into(), port }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

impl std::str::FromStr for Endpoint {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let invalid = |message: &str| Error::InvalidEndpoint { endpoint: text.to_owned(), message: message.to_owned() };
        let (host, port) = if let Some(rest) = text.strip_prefix('[') {
            let (host, port) =
                rest.split_once("]:").ok_or_else(|| invalid("an IPv6 address is written [ADDRESS]:PORT"))?;
            if host.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(invalid("the part in brackets is not an IPv6 address"));
            }
            (host, port)
        } else {
            let (host, port) = text.rsplit_once(':').ok_or_else(|| invalid("it has no :PORT"))?;
            if host.contains(':') {
                return Err(invalid("write an IPv6 address in brackets, [ADDRESS]:PORT"));
            }
            if host.parse::<IpAddr>().is_err() {
                return Err(invalid(if host == "localhost" {
                    "the host is a name, and an Endpoints object holds IP addresses (as on a cluster); for this machine write 127.0.0.1 or [::1]"
                } else {
                    "the host is not an IP address, and an Endpoints object holds IP addresses (as on a cluster)"
                }));
            }
            (host, port)
        };
        let port: u16 = port.parse().map_err(|_| invalid("the port is not a number from 1 to 65535"))?;
        if port == 0 {
            return Err(invalid("the port is not a number from 1 to 65535"));
        }
        Ok(Endpoint { host: host.to_owned(), port })
    }
}

impl Serialize for Endpoint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(|err: Error| de::Error::custom(err.to_string()))
    }
}

/// How a Service is written.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ServiceOut<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: &'a ObjectMeta,
    spec: &'a ServiceSpec,
}

/// How a Service is read: `apiVersion` and `kind` are checked when present;
/// a `status` (a cluster's) is read and dropped.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ServiceIn {
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    metadata: ObjectMeta,
    #[serde(default)]
    spec: ServiceSpec,
    #[serde(default)]
    #[allow(dead_code)]
    status: ServerOwned,
}

impl Serialize for Service {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        ServiceOut { api_version: SERVICE_API_VERSION, kind: SERVICE_KIND, metadata: &self.metadata, spec: &self.spec }
            .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Service {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = ServiceIn::deserialize(deserializer)?;
        check_type_meta(wire.api_version.as_deref(), wire.kind.as_deref(), &Service::INFO)
            .map_err(de::Error::custom)?;
        Ok(Service { metadata: wire.metadata, spec: wire.spec })
    }
}

/// Where an endpoint came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EndpointSource {
    /// A running container, by name.
    Container(String),
    /// An address of the service's Endpoints object.
    Fixed,
}

/// An endpoint of a service, resolved to an address the router can reach.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedEndpoint {
    /// IP address (or, in a store migrated from older versions, a DNS name).
    pub address: String,
    /// TCP port.
    pub port: u16,
    /// Name of the port (the service port's), empty if none.
    pub port_name: String,
    /// Where it came from.
    pub source: EndpointSource,
}

impl ResolvedEndpoint {
    /// `address:port` (`[address]:port` for IPv6).
    pub fn authority(&self) -> String {
        Endpoint::new(self.address.clone(), self.port).to_string()
    }

    /// Whether the endpoint serves a route's `spec.port.targetPort` (every
    /// endpoint does when the route names no port): a number matches the
    /// port number, a name matches the port name (or the number it spells).
    pub fn serves(&self, target: Option<&TargetPort>) -> bool {
        match target {
            None => true,
            Some(TargetPort::Number(number)) => i32::from(self.port) == *number,
            Some(TargetPort::Name(name)) => {
                self.port_name == *name || name.parse::<u16>().is_ok_and(|number| number == self.port)
            }
        }
    }
}

/// The resolved endpoints of services, by `namespace/name`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEndpoints {
    /// Endpoints per service, sorted; a service without endpoints maps to an empty list.
    pub services: BTreeMap<ObjectKey, Vec<ResolvedEndpoint>>,
}

impl ServiceEndpoints {
    /// The endpoints of a service; `None` when the service is unknown.
    pub fn get(&self, namespace: &str, name: &str) -> Option<&[ResolvedEndpoint]> {
        self.services.get(&ObjectKey::new(namespace, name)).map(Vec::as_slice)
    }

    /// Records the endpoints of a service (sorted, duplicates removed).
    pub fn insert(&mut self, key: ObjectKey, mut endpoints: Vec<ResolvedEndpoint>) {
        endpoints.sort();
        endpoints.dedup();
        self.services.insert(key, endpoints);
    }

    /// The endpoints of the services that have no selector: the addresses
    /// of their Endpoints objects (`endpoints`, matched by namespace and
    /// name; a service without one has none). Services with a selector are
    /// left out; `containers::resolve_endpoints` (feature `containers`)
    /// adds them.
    pub fn fixed(services: &[Service], endpoints: &[Endpoints]) -> Self {
        let mut resolved = ServiceEndpoints::default();
        for service in services.iter().filter(|service| service.spec.selector.is_empty()) {
            resolved.insert(service.key(), fixed_endpoints(service, endpoints));
        }
        resolved
    }
}

/// The endpoints of a service without selector: the ready addresses of the
/// Endpoints object of its namespace and name among `endpoints`, on each
/// TCP port of their subset.
pub fn fixed_endpoints(service: &Service, endpoints: &[Endpoints]) -> Vec<ResolvedEndpoint> {
    endpoints
        .iter()
        .find(|object| {
            object.metadata.namespace == service.metadata.namespace && object.metadata.name == service.metadata.name
        })
        .map(Endpoints::resolved)
        .unwrap_or_default()
}
