//! Endpoints of selector services from the running containers that carry
//! the selector's labels, through [`s2i_core::ContainerRuntime`] (feature
//! `containers`).

use s2i_core::runtime::{ContainerRuntime, ContainerSummary};

use crate::endpoints::Endpoints;
use crate::error::Error;
use crate::service::{EndpointSource, ResolvedEndpoint, Service, ServiceEndpoints, fixed_endpoints};

/// The endpoints of a service with a selector, from the containers that match it.
///
/// Each service port leads to a container port (its `targetPort`, or `port`);
/// a service without ports uses every TCP port the container exposes. A
/// container port published on the host is reached there (`0.0.0.0` and `::`
/// mean loopback), which also works where the host cannot reach container
/// addresses (Docker Desktop, rootless engines); otherwise the container's
/// address on its first network (by name) is used. Containers with neither
/// are skipped.
pub(crate) fn container_endpoints(service: &Service, containers: &[ContainerSummary]) -> Vec<ResolvedEndpoint> {
    let mut endpoints = Vec::new();
    for container in containers {
        if !service.spec.selector.iter().all(|(key, value)| container.labels.get(key) == Some(value)) {
            continue;
        }
        let wanted: Vec<(u16, String)> = if service.spec.ports.is_empty() {
            container
                .ports
                .iter()
                .filter(|port| port.protocol.eq_ignore_ascii_case("tcp"))
                .map(|port| (port.container_port, String::new()))
                .collect()
        } else {
            service
                .spec
                .ports
                .iter()
                .filter_map(|port| {
                    let number = u16::try_from(port.target_number()?).ok()?;
                    Some((number, port.name.clone()))
                })
                .collect()
        };
        for (port, port_name) in wanted {
            let published = container.ports.iter().find(|candidate| {
                candidate.container_port == port
                    && candidate.host_port.is_some()
                    && candidate.protocol.eq_ignore_ascii_case("tcp")
            });
            let (address, reached_port) = match published {
                Some(published) => {
                    let host_ip = match published.host_ip.as_deref() {
                        None | Some("0.0.0.0") | Some("") => "127.0.0.1",
                        Some("::") => "::1",
                        Some(ip) => ip,
                    };
                    (host_ip.to_owned(), published.host_port.unwrap_or(port))
                }
                None => match container.addresses.values().next() {
                    Some(ip) => (ip.clone(), port),
                    None => continue,
                },
            };
            endpoints.push(ResolvedEndpoint {
                address,
                port: reached_port,
                port_name,
                source: EndpointSource::Container(container.name.clone()),
            });
        }
    }
    endpoints
}

/// The endpoints of one service: without selector, those of its Endpoints
/// object among `endpoints`; with one, those of the running containers that
/// carry the labels (asked of the runtime).
pub async fn service_endpoints(
    service: &Service,
    endpoints: &[Endpoints],
    runtime: &dyn ContainerRuntime,
) -> Result<Vec<ResolvedEndpoint>, Error> {
    if service.spec.selector.is_empty() {
        return Ok(fixed_endpoints(service, endpoints));
    }
    let containers = runtime
        .list_containers(&service.spec.selector)
        .await
        .map_err(|source| Error::ListContainers { service: service.key().to_string(), source })?;
    Ok(container_endpoints(service, &containers))
}

/// The endpoints of every service (see [`service_endpoints`]).
pub async fn resolve_endpoints(
    services: &[Service],
    endpoints: &[Endpoints],
    runtime: &dyn ContainerRuntime,
) -> Result<ServiceEndpoints, Error> {
    let mut resolved = ServiceEndpoints::default();
    for service in services {
        resolved.insert(service.key(), service_endpoints(service, endpoints, runtime).await?);
    }
    Ok(resolved)
}
