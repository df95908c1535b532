//! Validation of Services and Endpoints, with the rules and messages of the
//! Kubernetes API server, and the warnings for what a cluster does with a
//! service that this machine does not (load balancers, node ports, DNS
//! aliases), or what a cluster would refuse that a laptop needs (loopback
//! endpoints).

use std::collections::BTreeSet;
use std::net::IpAddr;

use s2i_store::labels::{label_value_errors, qualified_name_errors};

use super::{FieldError, FieldErrors, validate_namespace};
use crate::endpoints::{EndpointAddress, EndpointPort, Endpoints};
use crate::host::{dns1123_label_errors, dns1123_subdomain_errors};
use crate::route::TargetPort;
use crate::service::{CLUSTER_IP_NONE, Service, ServicePort, ServiceSpec, service_type};

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const PORT_RANGE: &str = "must be between 1 and 65535, inclusive";
const IP_FORMAT: &str = "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)";
const DNS1035_FORMAT: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const ONLY_LOAD_BALANCER: &str = "may only be used when `type` is 'LoadBalancer'";
const EXTERNAL_NAME_FORBIDS: &str = "may not be set for ExternalName services";
/// The longest `ClientIP` affinity timeout, a day.
const MAX_CLIENT_IP_TIMEOUT: i32 = 86400;

/// Validates a service as the API server does on create, after its
/// defaults ([`ServiceSpec::apply_defaults`]): name (a DNS-1035 label),
/// ports (names, numbers, protocols, target ports, node ports), type and
/// the fields that depend on it, cluster addresses, session affinity,
/// traffic policies, IP families and the selector's labels.
pub fn validate_service(service: &Service) -> Result<(), FieldErrors> {
    let mut errors = Vec::new();
    validate_service_into(&defaulted(service), true, &mut errors);
    FieldErrors(errors).into_result()
}

/// Validates an update of `old` to `service`: the rules of a create, and a
/// cluster address that may not change once set. A service stored without
/// ports (which older versions allowed) may stay so.
pub fn validate_service_update(service: &Service, old: &Service) -> Result<(), FieldErrors> {
    let service = &defaulted(service);
    let mut errors = Vec::new();
    validate_service_into(service, !old.spec.ports.is_empty(), &mut errors);
    let (new_ip, old_ip) = (&service.spec.cluster_ip, &old.spec.cluster_ip);
    if !old_ip.is_empty() && new_ip != old_ip && !service.spec.is_external_name() && !old.spec.is_external_name() {
        errors.push(FieldError::invalid("spec.clusterIPs[0]", new_ip, "may not change once set"));
    }
    FieldErrors(errors).into_result()
}

fn defaulted(service: &Service) -> Service {
    let mut service = service.clone();
    service.spec.apply_defaults();
    service
}

fn validate_service_into(service: &Service, ports_required: bool, errors: &mut Vec<FieldError>) {
    let name = &service.metadata.name;
    if name.is_empty() {
        errors.push(FieldError::required("metadata.name", ""));
    } else if name.len() > 63
        || !name.starts_with(|c: char| c.is_ascii_lowercase())
        || !dns1123_label_errors(name).is_empty()
    {
        errors.push(FieldError::invalid("metadata.name", name, DNS1035_FORMAT));
    }
    validate_namespace(&service.metadata.namespace, errors);
    let spec = &service.spec;
    let kind = spec.service_type.as_str();
    if !service_type::ALL.contains(&kind) {
        errors.push(FieldError::not_supported("spec.type", kind, service_type::ALL));
    }
    if ports_required && spec.ports.is_empty() && !spec.is_headless() && !spec.is_external_name() {
        errors.push(FieldError::required("spec.ports", ""));
    }
    validate_ports(spec, errors);
    validate_cluster_ips(spec, errors);
    if spec.is_external_name() {
        let cname = spec.external_name.trim_end_matches('.');
        if cname.is_empty() {
            errors.push(FieldError::required("spec.externalName", ""));
        } else {
            errors.extend(
                dns1123_subdomain_errors(cname)
                    .into_iter()
                    .map(|detail| FieldError::invalid("spec.externalName", &spec.external_name, detail)),
            );
        }
    }
    validate_session_affinity(spec, errors);
    for (index, ip) in spec.external_ips.iter().enumerate() {
        errors.extend(endpoint_ip_errors(&format!("spec.externalIPs[{index}]"), ip, false));
    }
    validate_load_balancer_fields(spec, errors);
    validate_traffic_policies(spec, errors);
    validate_ip_families(spec, errors);
    if let Some(distribution) = &spec.traffic_distribution {
        let supported = ["PreferClose", "PreferSameNode", "PreferSameZone"];
        if !supported.contains(&distribution.as_str()) {
            errors.push(FieldError::not_supported("spec.trafficDistribution", distribution, &supported));
        }
    }
    validate_selector(spec, errors);
}

fn validate_ports(spec: &ServiceSpec, errors: &mut Vec<FieldError>) {
    let mut names = BTreeSet::new();
    let mut numbers = BTreeSet::new();
    let mut node_ports = BTreeSet::new();
    for (index, port) in spec.ports.iter().enumerate() {
        let field = format!("spec.ports[{index}]");
        if !port.name.is_empty() {
            let problems = dns1123_label_errors(&port.name);
            if !problems.is_empty() {
                errors.push(FieldError::invalid(format!("{field}.name"), &port.name, problems.join(", ")));
            }
            if !names.insert(port.name.as_str()) {
                errors.push(FieldError::duplicate(format!("{field}.name"), &port.name));
            }
        } else if spec.ports.len() > 1 {
            errors.push(FieldError::required(
                format!("{field}.name"),
                "ports of a service with several ports need names",
            ));
        }
        if !(1..=65535).contains(&port.port) {
            errors.push(FieldError::invalid_number(format!("{field}.port"), port.port, PORT_RANGE));
        }
        validate_protocol(&format!("{field}.protocol"), &port.protocol, errors);
        match &port.target_port {
            Some(TargetPort::Number(number)) if !(1..=65535).contains(number) => {
                errors.push(FieldError::invalid_number(format!("{field}.targetPort"), number, PORT_RANGE))
            }
            Some(TargetPort::Name(target)) => errors.extend(
                port_name_errors(target)
                    .into_iter()
                    .map(|detail| FieldError::invalid(format!("{field}.targetPort"), target, detail)),
            ),
            _ => {}
        }
        if let Some(app_protocol) = &port.app_protocol {
            errors.extend(
                qualified_name_errors(app_protocol)
                    .into_iter()
                    .map(|detail| FieldError::invalid(format!("{field}.appProtocol"), app_protocol, detail)),
            );
        }
        if port.node_port != 0 {
            if !(1..=65535).contains(&port.node_port) {
                errors.push(FieldError::invalid_number(format!("{field}.nodePort"), port.node_port, PORT_RANGE));
            }
            if spec.service_type == service_type::CLUSTER_IP {
                errors.push(FieldError::forbidden(
                    format!("{field}.nodePort"),
                    "may not be used when `type` is 'ClusterIP'",
                ));
            } else if !node_ports.insert((port.node_port, port.protocol.as_str())) {
                errors.push(FieldError::duplicate(
                    format!("{field}.nodePort"),
                    &format!("{}/{}", port.node_port, port.protocol),
                ));
            }
        }
        if !numbers.insert((port.port, port.protocol.as_str())) {
            errors.push(FieldError::duplicate(field, &format!("{}/{}", port.port, port.protocol)));
        }
    }
}

fn validate_protocol(field: &str, protocol: &str, errors: &mut Vec<FieldError>) {
    if protocol.is_empty() {
        errors.push(FieldError::required(field, ""));
    } else if !PROTOCOLS.contains(&protocol) {
        errors.push(FieldError::not_supported(field, protocol, PROTOCOLS));
    }
}

/// Kubernetes' rule for a port name a target port refers to (an IANA
/// service name): the problems of `name`, none when valid.
fn port_name_errors(name: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if name.len() > 15 {
        errors.push("must be no more than 15 characters".to_owned());
    }
    if !name.bytes().all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-') {
        errors.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_owned());
    }
    if name.contains("--") {
        errors.push("must not contain consecutive hyphens".to_owned());
    }
    if !name.bytes().any(|byte| byte.is_ascii_alphabetic()) {
        errors.push("must contain at least one letter (a-z)".to_owned());
    }
    if name.starts_with('-') || name.ends_with('-') {
        errors.push("must not begin or end with a hyphen".to_owned());
    }
    errors
}

fn validate_cluster_ips(spec: &ServiceSpec, errors: &mut Vec<FieldError>) {
    if spec.is_external_name() {
        if !spec.cluster_ips.is_empty() || !spec.cluster_ip.is_empty() {
            errors.push(FieldError::forbidden("spec.clusterIPs", EXTERNAL_NAME_FORBIDS));
        }
        return;
    }
    if !spec.cluster_ip.is_empty() && spec.cluster_ips.first().is_some_and(|first| *first != spec.cluster_ip) {
        errors.push(FieldError::invalid(
            "spec.clusterIPs",
            &spec.cluster_ips.join(","),
            "element [0] must match clusterIP",
        ));
    }
    if spec.cluster_ips.len() > 2 {
        errors.push(FieldError::invalid(
            "spec.clusterIPs",
            &spec.cluster_ips.join(","),
            "may only hold up to 2 values",
        ));
    }
    let mut families = BTreeSet::new();
    for (index, ip) in spec.cluster_ips.iter().enumerate() {
        let field = format!("spec.clusterIPs[{index}]");
        if ip == CLUSTER_IP_NONE {
            if index > 0 || spec.cluster_ips.len() > 1 {
                errors.push(FieldError::invalid(field, ip, "must be empty when the first element is 'None'"));
            } else if [service_type::NODE_PORT, service_type::LOAD_BALANCER].contains(&spec.service_type.as_str()) {
                errors.push(FieldError::invalid(
                    field,
                    ip,
                    format!("may not be set to 'None' for {} services", spec.service_type),
                ));
            }
            continue;
        }
        match ip.parse::<IpAddr>() {
            Ok(address) => {
                if !families.insert(address.is_ipv4()) {
                    errors.push(FieldError::invalid(field, ip, "may specify no more than one IP for each IP family"));
                }
            }
            Err(_) => errors.push(FieldError::invalid(field, ip, IP_FORMAT)),
        }
    }
}

fn validate_session_affinity(spec: &ServiceSpec, errors: &mut Vec<FieldError>) {
    let affinity = spec.session_affinity.as_str();
    if !["ClientIP", "None"].contains(&affinity) {
        errors.push(FieldError::not_supported("spec.sessionAffinity", affinity, &["ClientIP", "None"]));
    }
    match (affinity, &spec.session_affinity_config) {
        ("ClientIP", config) => {
            let timeout = config.as_ref().and_then(|c| c.client_ip.as_ref()).and_then(|c| c.timeout_seconds);
            if let Some(seconds) = timeout.filter(|seconds| !(1..=MAX_CLIENT_IP_TIMEOUT).contains(seconds)) {
                errors.push(FieldError::invalid_number(
                    "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                    seconds,
                    format!("must be greater than 0 and less than {MAX_CLIENT_IP_TIMEOUT}"),
                ));
            }
        }
        ("None", Some(config)) => errors.push(FieldError::invalid(
            "spec.sessionAffinityConfig",
            &serde_json::to_string(config).unwrap_or_default(),
            "must not be set when session affinity is None",
        )),
        _ => {}
    }
}

fn validate_load_balancer_fields(spec: &ServiceSpec, errors: &mut Vec<FieldError>) {
    let load_balancer = spec.service_type == service_type::LOAD_BALANCER;
    if !spec.load_balancer_source_ranges.is_empty() && !load_balancer {
        errors.push(FieldError::forbidden("spec.loadBalancerSourceRanges", ONLY_LOAD_BALANCER));
    }
    for (index, range) in spec.load_balancer_source_ranges.iter().enumerate() {
        if !is_cidr(range.trim()) {
            errors.push(FieldError::invalid(
                format!("spec.loadBalancerSourceRanges[{index}]"),
                range,
                "must be a list of IP ranges. For example, 10.240.0.0/24,10.250.0.0/24 ",
            ));
        }
    }
    if let Some(class) = &spec.load_balancer_class {
        if !load_balancer {
            errors.push(FieldError::forbidden("spec.loadBalancerClass", ONLY_LOAD_BALANCER));
        }
        errors.extend(
            qualified_name_errors(class)
                .into_iter()
                .map(|detail| FieldError::invalid("spec.loadBalancerClass", class, detail)),
        );
    }
    if spec.allocate_load_balancer_node_ports.is_some() && !load_balancer {
        errors.push(FieldError::forbidden("spec.allocateLoadBalancerNodePorts", ONLY_LOAD_BALANCER));
    }
    if !spec.load_balancer_ip.is_empty() && spec.load_balancer_ip.parse::<IpAddr>().is_err() {
        errors.push(FieldError::invalid("spec.loadBalancerIP", &spec.load_balancer_ip, IP_FORMAT));
    }
}

fn is_cidr(text: &str) -> bool {
    let Some((address, bits)) = text.split_once('/') else { return false };
    let Ok(address) = address.parse::<IpAddr>() else { return false };
    let limit = if address.is_ipv4() { 32 } else { 128 };
    bits.parse::<u8>().is_ok_and(|bits| bits <= limit)
}

fn validate_traffic_policies(spec: &ServiceSpec, errors: &mut Vec<FieldError>) {
    let policies = ["Cluster", "Local"];
    let external = spec.external_traffic_policy.as_str();
    if !spec.externally_accessible() {
        if !external.is_empty() {
            errors.push(FieldError::invalid(
                "spec.externalTrafficPolicy",
                external,
                "may only be set for externally-accessible services",
            ));
        }
    } else if !policies.contains(&external) {
        errors.push(FieldError::not_supported("spec.externalTrafficPolicy", external, &policies));
    }
    let health_check = spec.service_type == service_type::LOAD_BALANCER && external == "Local";
    if spec.health_check_node_port != 0 {
        if !health_check {
            errors.push(FieldError::invalid_number(
                "spec.healthCheckNodePort",
                spec.health_check_node_port,
                "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
            ));
        } else if !(1..=65535).contains(&spec.health_check_node_port) {
            errors.push(FieldError::invalid_number(
                "spec.healthCheckNodePort",
                spec.health_check_node_port,
                PORT_RANGE,
            ));
        }
    }
    if let Some(internal) = spec.internal_traffic_policy.as_ref().filter(|policy| !policies.contains(&policy.as_str()))
    {
        errors.push(FieldError::not_supported("spec.internalTrafficPolicy", internal, &policies));
    }
}

fn validate_ip_families(spec: &ServiceSpec, errors: &mut Vec<FieldError>) {
    if spec.is_external_name() {
        if !spec.ip_families.is_empty() {
            errors.push(FieldError::forbidden("spec.ipFamilies", EXTERNAL_NAME_FORBIDS));
        }
        if spec.ip_family_policy.is_some() {
            errors.push(FieldError::forbidden("spec.ipFamilyPolicy", EXTERNAL_NAME_FORBIDS));
        }
        return;
    }
    let families = ["IPv4", "IPv6"];
    let mut seen = BTreeSet::new();
    for (index, family) in spec.ip_families.iter().enumerate() {
        let field = format!("spec.ipFamilies[{index}]");
        if !families.contains(&family.as_str()) {
            errors.push(FieldError::not_supported(field, family, &families));
        } else if !seen.insert(family.as_str()) {
            errors.push(FieldError::duplicate(field, family));
        }
    }
    if spec.ip_families.len() > 2 {
        errors.push(FieldError::invalid(
            "spec.ipFamilies",
            &spec.ip_families.join(","),
            "may only hold up to 2 values",
        ));
    }
    if let Some(policy) = &spec.ip_family_policy {
        let policies = ["PreferDualStack", "RequireDualStack", "SingleStack"];
        if !policies.contains(&policy.as_str()) {
            errors.push(FieldError::not_supported("spec.ipFamilyPolicy", policy, &policies));
        } else if policy == "SingleStack" && (spec.ip_families.len() > 1 || spec.cluster_ips.len() > 1) {
            errors.push(FieldError::invalid(
                "spec.ipFamilyPolicy",
                policy,
                "must be RequireDualStack or PreferDualStack when multiple IP families are specified",
            ));
        }
    }
    for (index, ip) in spec.cluster_ips.iter().enumerate() {
        let (Ok(address), Some(family)) = (ip.parse::<IpAddr>(), spec.ip_families.get(index)) else { continue };
        let actual = if address.is_ipv4() { "IPv4" } else { "IPv6" };
        if family != actual {
            errors.push(FieldError::invalid(
                format!("spec.clusterIPs[{index}]"),
                ip,
                format!("expected an {family} value as indicated by `ipFamilies[{index}]`"),
            ));
        }
    }
}

fn validate_selector(spec: &ServiceSpec, errors: &mut Vec<FieldError>) {
    for (key, value) in &spec.selector {
        errors.extend(
            qualified_name_errors(key).into_iter().map(|detail| FieldError::invalid("spec.selector", key, detail)),
        );
        errors.extend(
            label_value_errors(value).into_iter().map(|detail| FieldError::invalid("spec.selector", value, detail)),
        );
    }
}

/// What this machine does differently with `service` than a cluster would,
/// where a user would notice: no load balancer or node ports, no DNS alias,
/// only TCP carried, containers without port names. Each is one line,
/// naming the field.
pub fn service_warnings(service: &Service) -> Vec<String> {
    let spec = &service.spec;
    let mut warnings = Vec::new();
    match spec.service_type.as_str() {
        service_type::LOAD_BALANCER => warnings.push(
            "spec.type is LoadBalancer: no load balancer is made on this machine; routes reach the service as they reach a ClusterIP one".to_owned(),
        ),
        service_type::NODE_PORT => warnings.push(
            "spec.type is NodePort: nothing listens on node ports on this machine; routes reach the service as they reach a ClusterIP one".to_owned(),
        ),
        service_type::EXTERNAL_NAME => warnings.push(format!(
            "spec.type is ExternalName: {:?} is a DNS alias on a cluster; on this machine nothing resolves it, and routes to the service go to its Endpoints object (without one they answer 503)",
            spec.external_name
        )),
        _ => {}
    }
    if !spec.is_external_name() && !spec.external_name.is_empty() {
        warnings.push(format!("spec.externalName is ignored when spec.type is not {:?}", service_type::EXTERNAL_NAME));
    }
    if !spec.external_ips.is_empty() {
        warnings.push(format!(
            "spec.externalIPs: nothing listens on {} on this machine; routes reach the service",
            spec.external_ips.join(", ")
        ));
    }
    for (index, port) in spec.ports.iter().enumerate() {
        if !port.protocol.eq_ignore_ascii_case("TCP") && PROTOCOLS.contains(&port.protocol.as_str()) {
            warnings.push(format!(
                "spec.ports[{index}]: the router carries TCP only, so {} port {} has no endpoints on this machine",
                port.protocol, port.port
            ));
        }
        if let (Some(TargetPort::Name(name)), false) = (&port.target_port, spec.selector.is_empty()) {
            warnings.push(format!(
                "spec.ports[{index}].targetPort {name:?}: containers on this machine have no named ports, so this port reaches none; give the container port number"
            ));
        }
    }
    warnings
}

// ---------------------------------------------------------------------------
// Endpoints.

/// Validates an Endpoints object as the API server does, but for loopback
/// and link-local addresses, which a laptop needs and a cluster refuses
/// ([`endpoints_warnings`] says so): the name (a DNS-1123 subdomain), a
/// subset's addresses (IP addresses, not unspecified or link-local
/// multicast; host names; node names) and ports (names when there are
/// several, numbers, protocols).
pub fn validate_endpoints(endpoints: &Endpoints) -> Result<(), FieldErrors> {
    let mut errors = Vec::new();
    validate_endpoints_into(endpoints, &BTreeSet::new(), &mut errors);
    FieldErrors(errors).into_result()
}

/// Validates an update of `old` to `endpoints`: the rules of a create,
/// except that an address `old` holds already passes (a store upgraded
/// from older versions may hold host names where addresses belong).
pub fn validate_endpoints_update(endpoints: &Endpoints, old: &Endpoints) -> Result<(), FieldErrors> {
    let stored: BTreeSet<&str> = old
        .subsets
        .iter()
        .flat_map(|subset| subset.addresses.iter().chain(&subset.not_ready_addresses))
        .map(|address| address.ip.as_str())
        .collect();
    let mut errors = Vec::new();
    validate_endpoints_into(endpoints, &stored, &mut errors);
    FieldErrors(errors).into_result()
}

fn validate_endpoints_into(endpoints: &Endpoints, kept: &BTreeSet<&str>, errors: &mut Vec<FieldError>) {
    let name = &endpoints.metadata.name;
    if name.is_empty() {
        errors.push(FieldError::required("metadata.name", ""));
    } else {
        errors.extend(
            dns1123_subdomain_errors(name).into_iter().map(|detail| FieldError::invalid("metadata.name", name, detail)),
        );
    }
    validate_namespace(&endpoints.metadata.namespace, errors);
    for (index, subset) in endpoints.subsets.iter().enumerate() {
        let field = format!("subsets[{index}]");
        if subset.addresses.is_empty() && subset.not_ready_addresses.is_empty() {
            errors.push(FieldError::required(field.clone(), "must specify `addresses` or `notReadyAddresses`"));
        }
        for (list, addresses) in [("addresses", &subset.addresses), ("notReadyAddresses", &subset.not_ready_addresses)]
        {
            for (at, address) in addresses.iter().enumerate() {
                validate_address(&format!("{field}.{list}[{at}]"), address, kept, errors);
            }
        }
        for (at, port) in subset.ports.iter().enumerate() {
            validate_endpoint_port(&format!("{field}.ports[{at}]"), port, subset.ports.len() > 1, errors);
        }
    }
}

fn validate_address(field: &str, address: &EndpointAddress, kept: &BTreeSet<&str>, errors: &mut Vec<FieldError>) {
    if !kept.contains(address.ip.as_str()) {
        errors.extend(endpoint_ip_errors(&format!("{field}.ip"), &address.ip, true));
    }
    if !address.hostname.is_empty() {
        errors.extend(
            dns1123_label_errors(&address.hostname)
                .into_iter()
                .map(|detail| FieldError::invalid(format!("{field}.hostname"), &address.hostname, detail)),
        );
    }
    if let Some(node) = &address.node_name {
        errors.extend(
            dns1123_subdomain_errors(node)
                .into_iter()
                .map(|detail| FieldError::invalid(format!("{field}.nodeName"), node, detail)),
        );
    }
}

fn validate_endpoint_port(field: &str, port: &EndpointPort, name_required: bool, errors: &mut Vec<FieldError>) {
    if port.name.is_empty() {
        if name_required {
            errors.push(FieldError::required(format!("{field}.name"), ""));
        }
    } else {
        errors.extend(
            dns1123_label_errors(&port.name)
                .into_iter()
                .map(|detail| FieldError::invalid(format!("{field}.name"), &port.name, detail)),
        );
    }
    if !(1..=65535).contains(&port.port) {
        errors.push(FieldError::invalid_number(format!("{field}.port"), port.port, PORT_RANGE));
    }
    validate_protocol(&format!("{field}.protocol"), &port.protocol, errors);
    if let Some(app_protocol) = &port.app_protocol {
        errors.extend(
            qualified_name_errors(app_protocol)
                .into_iter()
                .map(|detail| FieldError::invalid(format!("{field}.appProtocol"), app_protocol, detail)),
        );
    }
}

/// The API server's rule for endpoint addresses (and external IPs): an IP
/// address that is not unspecified, loopback, link-local or link-local
/// multicast. With `laptop`, loopback and link-local addresses pass (they
/// are warnings).
fn endpoint_ip_errors(field: &str, ip: &str, laptop: bool) -> Vec<FieldError> {
    let Ok(address) = ip.parse::<IpAddr>() else {
        return vec![FieldError::invalid(field, ip, IP_FORMAT)];
    };
    let mut errors = Vec::new();
    if address.is_unspecified() {
        errors.push(FieldError::invalid(field, ip, format!("may not be unspecified ({ip})")));
    }
    if !laptop {
        errors.extend(special_address(address).map(|detail| FieldError::invalid(field, ip, detail)));
    }
    if is_link_local_multicast(address) {
        errors.push(FieldError::invalid(
            field,
            ip,
            "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)",
        ));
    }
    errors
}

/// Why a cluster refuses `address` as an endpoint although a laptop uses it.
fn special_address(address: IpAddr) -> Option<&'static str> {
    let link_local = match address {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => (v6.segments()[0] & 0xffc0) == 0xfe80,
    };
    if address.is_loopback() {
        Some("may not be in the loopback range (127.0.0.0/8, ::1/128)")
    } else if link_local {
        Some("may not be in the link-local range (169.254.0.0/16, fe80::/10)")
    } else {
        None
    }
}

fn is_link_local_multicast(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => v4.octets()[..3] == [224, 0, 0],
        IpAddr::V6(v6) => (v6.segments()[0] & 0xff0f) == 0xff02,
    }
}

/// What a cluster would do differently with `endpoints`, given the service
/// of the same name (`None` when there is none): addresses it refuses
/// (loopback, link-local), a service that takes its endpoints from a
/// selector (the object is not used), or none at all, and ports whose
/// names match no port of the service.
pub fn endpoints_warnings(endpoints: &Endpoints, service: Option<&Service>) -> Vec<String> {
    let mut warnings = Vec::new();
    for (index, subset) in endpoints.subsets.iter().enumerate() {
        for (list, addresses) in [("addresses", &subset.addresses), ("notReadyAddresses", &subset.not_ready_addresses)]
        {
            for (at, address) in addresses.iter().enumerate() {
                let field = format!("subsets[{index}].{list}[{at}].ip");
                match address.ip.parse::<IpAddr>() {
                    Ok(ip) => {
                        if let Some(why) = special_address(ip) {
                            warnings.push(format!("{field}: a cluster refuses {}: {why}", address.ip));
                        }
                    }
                    Err(_) => warnings.push(format!(
                        "{field}: {:?} is not an IP address; the router resolves it, a cluster refuses it",
                        address.ip
                    )),
                }
            }
        }
    }
    let name = &endpoints.metadata.name;
    let Some(service) = service else {
        warnings.push(format!(
            "there is no service {name:?} in namespace {:?}: nothing sends traffic to these endpoints until it exists",
            endpoints.metadata.namespace
        ));
        return warnings;
    };
    if !service.spec.selector.is_empty() {
        warnings.push(format!(
            "service {name:?} has a selector, so its endpoints are its containers and this object is not used (on a cluster the endpoints controller replaces it)"
        ));
        return warnings;
    }
    let names: BTreeSet<&str> = service.spec.ports.iter().map(|port: &ServicePort| port.name.as_str()).collect();
    for (index, subset) in endpoints.subsets.iter().enumerate() {
        for (at, port) in subset.ports.iter().enumerate() {
            if !names.contains(port.name.as_str()) {
                warnings.push(format!(
                    "subsets[{index}].ports[{at}].name {:?} names no port of service {name:?}: on a cluster the service's traffic does not reach it (routes that name the endpoint port do)",
                    port.name
                ));
            }
        }
    }
    warnings
}
