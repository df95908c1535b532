//! Endpoints: the addresses behind a service without selector, as the
//! Kubernetes `v1` Endpoints kind holds them.
//!
//! An [`Endpoints`] object has the name of its service and lists *subsets*:
//! addresses (IP addresses) that all listen on the same ports. Its ports are
//! named after the service's ports, which is how a cluster pairs a service
//! port with the port its traffic goes to. For a service with a selector a
//! cluster writes this object itself (from the pods); here the router finds
//! the containers instead, and a hand-written object for such a service is
//! not used.
//!
//! Why Endpoints and not `discovery.k8s.io/v1` EndpointSlices: one object
//! per service, of the service's name, is what `oc get endpoints` shows and
//! what a user writes for a service without selector; a cluster mirrors it
//! into EndpointSlices by itself (its EndpointSliceMirroring controller), so
//! the same file works there. Kubernetes 1.33 deprecated the kind in favour
//! of slices; the API server still serves it (with a warning).

use std::collections::{BTreeMap, BTreeSet};

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use crate::error::Error;
use crate::route::check_type_meta;
use crate::service::{Endpoint, EndpointSource, ResolvedEndpoint, Service, ServicePort};
use s2i_store::{KindInfo, ObjectKey, ObjectMeta, ObjectReference, Resource};

/// `kind` of an Endpoints object.
pub const ENDPOINTS_KIND: &str = "Endpoints";
/// `apiVersion` of an Endpoints object.
pub const ENDPOINTS_API_VERSION: &str = "v1";

impl Resource for Endpoints {
    const INFO: KindInfo = KindInfo {
        group: "",
        version: ENDPOINTS_API_VERSION,
        kind: ENDPOINTS_KIND,
        plural: "endpoints",
        short_names: &["ep"],
        namespaced: true,
    };
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// The endpoints of the service of the same name and namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Endpoints {
    /// Name (the service's) and namespace.
    pub metadata: ObjectMeta,
    /// Sets of addresses with the ports they all listen on.
    pub subsets: Vec<EndpointSubset>,
}

/// `subsets[]`: addresses that share their ports.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSubset {
    /// Addresses ready for traffic.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<EndpointAddress>,
    /// Addresses not ready (no traffic goes there).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_ready_addresses: Vec<EndpointAddress>,
    /// The ports every address of the subset listens on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<EndpointPort>,
}

/// `subsets[].addresses[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointAddress {
    /// The IP address.
    pub ip: String,
    /// A host name for DNS records of headless services.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    /// The node it runs on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_name: Option<String>,
    /// What is behind the address (a Pod on a cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_ref: Option<ObjectReference>,
}

/// `subsets[].ports[]`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointPort {
    /// The name of the service port it serves (required when the subset
    /// has several ports).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The port number.
    pub port: i32,
    /// `TCP` (the default), `UDP` or `SCTP`.
    #[serde(default = "tcp")]
    pub protocol: String,
    /// The application protocol.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_protocol: Option<String>,
}

fn tcp() -> String {
    "TCP".to_owned()
}

impl Endpoints {
    /// Endpoints with `subsets`.
    pub fn new(metadata: ObjectMeta, subsets: Vec<EndpointSubset>) -> Self {
        Endpoints { metadata, subsets }
    }

    /// `namespace/name`.
    pub fn key(&self) -> ObjectKey {
        self.metadata.key()
    }

    /// The Endpoints object of `service` for fixed addresses: each address
    /// goes to the service's TCP port that leads to its port number (its
    /// `targetPort`), or, when the service has one TCP port, to that one;
    /// the object's ports carry the service ports' names. Addresses with the
    /// same ports share a subset, as the API server packs them.
    pub fn for_service(service: &Service, addresses: &[Endpoint]) -> Result<Endpoints, Error> {
        let mut named = Vec::new();
        for address in addresses {
            let number = i32::from(address.port);
            let Some(port) = service_port_for(service, number) else {
                let message = if service.spec.ports.iter().all(|port| !is_tcp(&port.protocol)) {
                    format!("service {} has no TCP port to carry it", service.metadata.name)
                } else {
                    format!(
                        "no port of service {} leads to port {number}: give it a port with target port {number}",
                        service.metadata.name
                    )
                };
                return Err(Error::InvalidEndpoint { endpoint: address.to_string(), message });
            };
            let port = EndpointPort {
                name: port.name.clone(),
                port: number,
                protocol: tcp(),
                app_protocol: port.app_protocol.clone(),
            };
            named.push((address.host.clone(), port));
        }
        Ok(Endpoints::new(ObjectMeta::named(&service.metadata.namespace, &service.metadata.name), pack_subsets(named)))
    }

    /// The ready addresses on each TCP port of their subset, for the router.
    pub fn resolved(&self) -> Vec<ResolvedEndpoint> {
        let mut resolved = Vec::new();
        for subset in &self.subsets {
            for address in &subset.addresses {
                for port in subset.ports.iter().filter(|port| is_tcp(&port.protocol)) {
                    let Ok(number) = u16::try_from(port.port) else { continue };
                    resolved.push(ResolvedEndpoint {
                        address: address.ip.clone(),
                        port: number,
                        port_name: port.name.clone(),
                        source: EndpointSource::Fixed,
                    });
                }
            }
        }
        resolved
    }

    /// The ready addresses with their ports, `IP:PORT` (IPv6 in brackets),
    /// in the object's order, as `kubectl get endpoints` lists them.
    pub fn addresses_text(&self) -> Vec<String> {
        let mut text = Vec::new();
        for subset in &self.subsets {
            for address in &subset.addresses {
                if subset.ports.is_empty() {
                    text.push(address.ip.clone());
                }
                for port in &subset.ports {
                    match u16::try_from(port.port) {
                        Ok(number) => text.push(Endpoint::new(address.ip.clone(), number).to_string()),
                        Err(_) => text.push(format!("{}:{}", address.ip, port.port)),
                    }
                }
            }
        }
        text
    }
}

fn is_tcp(protocol: &str) -> bool {
    protocol.eq_ignore_ascii_case("TCP")
}

/// The TCP port of `service` that an address's port `number` serves: the
/// one whose target port is that number, else the service's only TCP port.
pub(crate) fn service_port_for(service: &Service, number: i32) -> Option<&ServicePort> {
    let mut tcp = service.spec.ports.iter().filter(|port| is_tcp(&port.protocol));
    let by_target = tcp.clone().find(|port| port.target_number() == Some(number));
    by_target.or_else(|| match (tcp.next(), tcp.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    })
}

/// Subsets of `(address, port)` pairs as the API server packs them: each
/// address with all its ports, addresses with the same ports in one
/// subset, everything sorted.
pub(crate) fn pack_subsets(pairs: impl IntoIterator<Item = (String, EndpointPort)>) -> Vec<EndpointSubset> {
    let mut by_address: BTreeMap<String, BTreeSet<EndpointPort>> = BTreeMap::new();
    for (address, port) in pairs {
        by_address.entry(address).or_default().insert(port);
    }
    let mut by_ports: BTreeMap<Vec<EndpointPort>, Vec<EndpointAddress>> = BTreeMap::new();
    for (ip, ports) in by_address {
        by_ports.entry(ports.into_iter().collect()).or_default().push(EndpointAddress { ip, ..Default::default() });
    }
    by_ports
        .into_iter()
        .map(|(ports, addresses)| EndpointSubset { addresses, not_ready_addresses: Vec::new(), ports })
        .collect()
}

/// How an Endpoints object is written.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EndpointsOut<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: &'a ObjectMeta,
    #[serde(skip_serializing_if = "<[EndpointSubset]>::is_empty")]
    subsets: &'a [EndpointSubset],
}

/// How an Endpoints object is read: `apiVersion` and `kind` are checked when present.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EndpointsIn {
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    metadata: ObjectMeta,
    #[serde(default)]
    subsets: Vec<EndpointSubset>,
}

impl Serialize for Endpoints {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        EndpointsOut {
            api_version: ENDPOINTS_API_VERSION,
            kind: ENDPOINTS_KIND,
            metadata: &self.metadata,
            subsets: &self.subsets,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Endpoints {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = EndpointsIn::deserialize(deserializer)?;
        check_type_meta(wire.api_version.as_deref(), wire.kind.as_deref(), &Endpoints::INFO)
            .map_err(de::Error::custom)?;
        Ok(Endpoints { metadata: wire.metadata, subsets: wire.subsets })
    }
}
