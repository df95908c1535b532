//! Services: what routes point at, and the endpoints their traffic goes to.
//!
//! A [`Service`] is a Kubernetes `v1` Service (name, ports, label selector)
//! with one addition for a laptop, `spec.endpoints`: fixed `HOST:PORT`
//! addresses for a service that has no containers behind a selector (a
//! process on the host, a container started by hand). A service takes its
//! endpoints from its selector or from `spec.endpoints`, never both.
//!
//! Routes name an *endpoint* port (`spec.port.targetPort`), as on OpenShift:
//! an endpoint port number, or the name of the service port that leads to it.
//! [`ServiceEndpoints`] holds the endpoints of every service, resolved, for
//! admission-free consumers (the renderer, the matcher, exports).

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::error::Error;
use crate::route::{SERVICE_KIND, TargetPort, check_type_meta};
use s2i_store::{KindInfo, ObjectKey, ObjectMeta, Resource};

/// `apiVersion` of a Service.
pub const SERVICE_API_VERSION: &str = "v1";

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
    /// Ports, selector and fixed endpoints.
    pub spec: ServiceSpec,
}

impl Service {
    /// A service.
    pub fn new(metadata: ObjectMeta, spec: ServiceSpec) -> Self {
        Service { metadata, spec }
    }

    /// `namespace/name`.
    pub fn key(&self) -> ObjectKey {
        self.metadata.key()
    }
}

/// `spec` of a Service.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceSpec {
    /// The service's ports and the endpoint ports they lead to.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<ServicePort>,
    /// Labels of the running containers that are the endpoints.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub selector: BTreeMap<String, String>,
    /// Fixed endpoints, `HOST:PORT` (an s2i addition to the Kubernetes Service).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<Endpoint>,
}

/// A port of a service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServicePort {
    /// Name; routes may name it in `spec.port.targetPort`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// `TCP` (the only protocol a router carries).
    #[serde(default = "tcp")]
    pub protocol: String,
    /// The port clients of the service use (on a cluster).
    pub port: i32,
    /// The endpoint port it leads to; `port` when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_port: Option<TargetPort>,
}

fn tcp() -> String {
    "TCP".to_owned()
}

impl ServicePort {
    /// A TCP port leading to an endpoint port number.
    pub fn new(name: impl Into<String>, port: i32, target_port: Option<i32>) -> Self {
        ServicePort { name: name.into(), protocol: tcp(), port, target_port: target_port.map(TargetPort::Number) }
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

/// A fixed endpoint: `HOST:PORT`, `HOST` an IP address or a DNS name,
/// IPv6 addresses in brackets (`[::1]:8080`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Endpoint {
    /// IP address or DNS name.
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
            if host.parse::<IpAddr>().is_err() && !crate::host::dns1123_subdomain_errors(host).is_empty() {
                return Err(invalid("the host is neither an IP address nor a lowercase DNS name"));
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

/// How a Service is read: `apiVersion` and `kind` are checked when present.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ServiceIn {
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    metadata: ObjectMeta,
    #[serde(default)]
    spec: ServiceSpec,
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
        check_type_meta(wire.api_version.as_deref(), wire.kind.as_deref(), SERVICE_API_VERSION, SERVICE_KIND)
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
    /// `spec.endpoints` of the service.
    Fixed,
}

/// An endpoint of a service, resolved to an address the router can reach.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResolvedEndpoint {
    /// IP address or DNS name.
    pub address: String,
    /// TCP port.
    pub port: u16,
    /// Name of the service port leading to this endpoint port, empty if none.
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
    /// port number, a name matches the service port name (or the number it spells).
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

    /// The endpoints of services that have no selector: their fixed endpoints.
    /// Services with a selector are left out; `containers::resolve_endpoints`
    /// (feature `containers`) adds them.
    pub fn fixed(services: &[Service]) -> Self {
        let mut resolved = ServiceEndpoints::default();
        for service in services.iter().filter(|service| service.spec.selector.is_empty()) {
            resolved.insert(service.key(), fixed_endpoints(service));
        }
        resolved
    }
}

/// The fixed endpoints of a service, each named after the service port that
/// leads to its port number.
pub fn fixed_endpoints(service: &Service) -> Vec<ResolvedEndpoint> {
    service
        .spec
        .endpoints
        .iter()
        .map(|endpoint| ResolvedEndpoint {
            address: endpoint.host.clone(),
            port: endpoint.port,
            port_name: port_name_for(service, endpoint.port),
            source: EndpointSource::Fixed,
        })
        .collect()
}

fn port_name_for(service: &Service, port: u16) -> String {
    service
        .spec
        .ports
        .iter()
        .find(|candidate| candidate.target_number() == Some(i32::from(port)))
        .map(|candidate| candidate.name.clone())
        .unwrap_or_default()
}
