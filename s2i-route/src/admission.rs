//! Router admission: which routes a router serves, at which host, and why
//! not the others (docs/compatibility.md#router-admission).
//!
//! [`admit`] takes routes as data, each with its creation time and uid, and
//! decides the same way whatever the order it is given them in: routes are
//! considered oldest first (creation time, then uid), as OpenShift's router
//! ends up deciding after any sequence of events. Per route, in the order of
//! OpenShift's plugin chain:
//!
//! 1. API validation (a route that breaks it is `RouteNotAdmitted`);
//! 2. a host: `spec.host`, or `spec.subdomain` under the router's domain
//!    (`NoHostValue` without either), allowed/denied domains and wildcard
//!    permission (`RouteNotAdmitted`);
//! 3. with wildcard routes allowed, host and wildcard claims across
//!    namespaces (`HostAlreadyClaimed`);
//! 4. the strict DNS check of the host (`InvalidHost`);
//! 5. unique host and path, with namespace ownership and passthrough owning
//!    its host (`HostAlreadyClaimed`);
//! 6. extended validation of the TLS material (`ExtendedValidationFailed`).
//!    As in OpenShift, a route refused here keeps the host it claimed.

use std::collections::{BTreeMap, HashMap};

use jiff::Timestamp;

use crate::annotations::{self, RouteAnnotations};
use crate::host::{dns1123_label_errors, dns1123_subdomain_errors, effective_host, wildcard_key};
use crate::route::{
    CONDITION_ADMITTED, ConditionStatus, Route, RouteIngress, RouteIngressCondition, TlsTermination, WildcardPolicy,
};
use crate::tls::{ValidatedTls, validate_route_tls};
use crate::validation::validate_route;
use s2i_store::ObjectKey;

/// Who may share a host (IngressController `routeAdmission.namespaceOwnership`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NamespaceOwnership {
    /// A host belongs to the namespace of its oldest route; only routes of
    /// that namespace (with other paths) may share it.
    #[default]
    Strict,
    /// Any namespace may share a host, one route per host and path.
    InterNamespaceAllowed,
}

/// Router-wide admission settings: start from `AdmissionConfig::default()`
/// (OpenShift's router defaults) and set what differs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AdmissionConfig {
    /// The router's name, the key of its `status.ingress` entry.
    pub router_name: String,
    /// The domain `spec.subdomain` routes are served under.
    pub router_domain: String,
    /// A name to point DNS at to reach the router, written into status.
    pub canonical_hostname: String,
    /// Whether `wildcardPolicy: Subdomain` routes are admitted.
    pub allow_wildcard_routes: bool,
    /// Who may share a host.
    pub namespace_ownership: NamespaceOwnership,
    /// Domains whose hosts are refused (wins over `allowed_domains`).
    pub denied_domains: Vec<String>,
    /// If not empty, only hosts in these domains are admitted.
    pub allowed_domains: Vec<String>,
}

impl Default for AdmissionConfig {
    fn default() -> Self {
        AdmissionConfig {
            router_name: "default".to_owned(),
            router_domain: crate::host::DEFAULT_ROUTER_DOMAIN.to_owned(),
            canonical_hostname: String::new(),
            allow_wildcard_routes: false,
            namespace_ownership: NamespaceOwnership::Strict,
            denied_domains: Vec::new(),
            allowed_domains: Vec::new(),
        }
    }
}

/// Why a route was not admitted (the condition's `reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectionReason {
    /// Invalid, outside the allowed domains, or a wildcard route where they are not allowed.
    RouteNotAdmitted,
    /// Another, older route holds the host (and path).
    HostAlreadyClaimed,
    /// No host and no subdomain.
    NoHostValue,
    /// The host fails the router's DNS check.
    InvalidHost,
    /// The TLS material does not pass extended validation.
    ExtendedValidationFailed,
    /// `tls.externalCertificate` names a secret the router cannot read.
    ExternalCertificateGetFailed,
}

impl RejectionReason {
    /// The reason as written in status.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectionReason::RouteNotAdmitted => "RouteNotAdmitted",
            RejectionReason::HostAlreadyClaimed => "HostAlreadyClaimed",
            RejectionReason::NoHostValue => "NoHostValue",
            RejectionReason::InvalidHost => "InvalidHost",
            RejectionReason::ExtendedValidationFailed => "ExtendedValidationFailed",
            RejectionReason::ExternalCertificateGetFailed => "ExternalCertificateGetFailed",
        }
    }
}

impl std::fmt::Display for RejectionReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A route that was not admitted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Why, as a reason.
    pub reason: RejectionReason,
    /// Why, in words.
    pub message: String,
}

/// What admission decided for one route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteOutcome {
    /// The host the router serves it at (empty when it has none).
    pub host: String,
    /// The wildcard policy applied.
    pub wildcard_policy: WildcardPolicy,
    /// `None` when admitted.
    pub rejection: Option<Rejection>,
}

impl RouteOutcome {
    /// Whether the route was admitted.
    pub fn admitted(&self) -> bool {
        self.rejection.is_none()
    }
}

/// A route the router serves, with what rendering needs already worked out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdmittedRoute {
    /// The route.
    pub route: Route,
    /// The host it is served at.
    pub host: String,
    /// Its router settings.
    pub annotations: RouteAnnotations,
    /// Its validated TLS material (`None` for plain HTTP).
    pub tls: Option<ValidatedTls>,
}

impl AdmittedRoute {
    /// `namespace/name`.
    pub fn key(&self) -> ObjectKey {
        self.route.key()
    }
}

/// The outcome of admitting a set of routes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Admission {
    /// The router's name.
    pub router_name: String,
    /// The router's canonical hostname.
    pub canonical_hostname: String,
    /// The decision for every route.
    pub outcomes: BTreeMap<ObjectKey, RouteOutcome>,
    /// The admitted routes, sorted by key.
    pub admitted: Vec<AdmittedRoute>,
}

impl Admission {
    /// The decision for a route.
    pub fn outcome(&self, key: &ObjectKey) -> Option<&RouteOutcome> {
        self.outcomes.get(key)
    }

    /// Writes this router's entry of `route.status.ingress` (the
    /// `Admitted` condition), keeping `lastTransitionTime` when nothing
    /// changed. Returns whether the status changed. A route admission did not
    /// see is left alone.
    pub fn write_status(&self, route: &mut Route, now: Timestamp) -> bool {
        let Some(outcome) = self.outcomes.get(&route.key()) else { return false };
        let (status, reason, message) = match &outcome.rejection {
            None => (ConditionStatus::True, String::new(), String::new()),
            Some(rejection) => {
                (ConditionStatus::False, rejection.reason.as_str().to_owned(), rejection.message.clone())
            }
        };
        let previous = route.status.for_router(&self.router_name);
        let previous_condition = previous.and_then(|ingress| ingress.condition(CONDITION_ADMITTED));
        let unchanged =
            previous_condition.is_some_and(|c| c.status == status && c.reason == reason && c.message == message);
        let last_transition_time =
            if unchanged { previous_condition.and_then(|condition| condition.last_transition_time) } else { Some(now) };
        let ingress = RouteIngress {
            host: outcome.host.clone(),
            router_name: self.router_name.clone(),
            conditions: vec![RouteIngressCondition {
                condition_type: CONDITION_ADMITTED.to_owned(),
                status,
                reason,
                message,
                last_transition_time,
            }],
            wildcard_policy: outcome.wildcard_policy,
            router_canonical_hostname: self.canonical_hostname.clone(),
        };
        if previous == Some(&ingress) {
            return false;
        }
        match route.status.ingress.iter_mut().find(|entry| entry.router_name == self.router_name) {
            Some(entry) => *entry = ingress,
            None => route.status.ingress.push(ingress),
        }
        true
    }
}

/// Orders routes as OpenShift does: older first, ties broken by uid.
fn older_first(a: &Route, b: &Route) -> std::cmp::Ordering {
    let time = |route: &Route| route.metadata.creation_timestamp.unwrap_or(Timestamp::MAX);
    time(a).cmp(&time(b)).then_with(|| a.metadata.uid.cmp(&b.metadata.uid)).then_with(|| a.key().cmp(&b.key()))
}

/// A route holding a claim, for conflict checks and messages.
#[derive(Debug, Clone, Copy)]
struct Holder<'a> {
    route: &'a Route,
}

impl Holder<'_> {
    fn namespace(&self) -> &str {
        &self.route.metadata.namespace
    }
    fn name(&self) -> &str {
        &self.route.metadata.name
    }
    fn path(&self) -> &str {
        &self.route.spec.path
    }
}

/// The wildcard-aware claims OpenShift's host admitter keeps when wildcard
/// routes are allowed.
#[derive(Default)]
struct WildcardClaims<'a> {
    claimed_hosts: HashMap<String, Vec<Holder<'a>>>,
    claimed_wildcards: HashMap<String, Vec<Holder<'a>>>,
    blocked_wildcards: HashMap<String, Vec<Holder<'a>>>,
}

impl<'a> WildcardClaims<'a> {
    /// The older route that blocks `route` at `host`, as a message, or `None`
    /// after recording its claims.
    fn claim(&mut self, route: &'a Route, host: &str, namespace_check: bool) -> Option<(String, String)> {
        let namespace = route.metadata.namespace.as_str();
        let wildcard = route.is_wildcard();
        let key = wildcard_key(host).to_owned();
        let shared = |holder: &Holder<'_>| !namespace_check || holder.namespace() == namespace;
        for holder in self.claimed_hosts.get(host).into_iter().flatten() {
            if shared(holder) && (wildcard || holder.path() != route.spec.path) {
                continue;
            }
            return Some((
                holder.namespace().to_owned(),
                format!("route {}/{} has host {host}", holder.namespace(), holder.name()),
            ));
        }
        for holder in self.claimed_wildcards.get(&key).into_iter().flatten() {
            if shared(holder) && (!wildcard || holder.path() != route.spec.path) {
                continue;
            }
            return Some((
                holder.namespace().to_owned(),
                format!("wildcard route {}/{} has host *.{key}, blocking {host}", holder.namespace(), holder.name()),
            ));
        }
        if wildcard {
            for holder in self.blocked_wildcards.get(&key).into_iter().flatten() {
                if shared(holder) {
                    continue;
                }
                return Some((
                    holder.namespace().to_owned(),
                    format!(
                        "route {}/{} has host {}, blocking *.{key}",
                        holder.namespace(),
                        holder.name(),
                        holder.route.spec.host
                    ),
                ));
            }
            self.claimed_wildcards.entry(key).or_default().push(Holder { route });
        } else {
            self.claimed_hosts.entry(host.to_owned()).or_default().push(Holder { route });
            self.blocked_wildcards.entry(key).or_default().push(Holder { route });
        }
        None
    }
}

/// The routes active on one host (OpenShift's host index).
#[derive(Default)]
struct HostIndex<'a> {
    /// Namespace of the oldest active route (the owner, under strict ownership).
    owner: Option<String>,
    /// Active routes by path.
    by_path: HashMap<&'a str, Holder<'a>>,
    /// An active passthrough route with TLS, if any.
    passthrough: Option<Holder<'a>>,
    /// An active route with TLS, if any.
    with_tls: Option<Holder<'a>>,
}

/// Decides which routes a router admits; see the [module docs](self).
pub fn admit(routes: &[Route], config: &AdmissionConfig, now: Timestamp) -> Admission {
    let mut order: Vec<&Route> = routes.iter().collect();
    order.sort_by(|a, b| older_first(a, b));

    let namespace_check = config.namespace_ownership == NamespaceOwnership::Strict;
    let mut wildcard_claims = WildcardClaims::default();
    let mut hosts: HashMap<String, HostIndex<'_>> = HashMap::new();
    let mut admission = Admission {
        router_name: config.router_name.clone(),
        canonical_hostname: config.canonical_hostname.clone(),
        ..Default::default()
    };

    for route in order {
        let host = effective_host(route, &config.router_domain);
        let mut outcome =
            RouteOutcome { host: host.clone(), wildcard_policy: route.spec.wildcard_policy, rejection: None };
        match decide(route, &host, config, namespace_check, &mut wildcard_claims, &mut hosts, now) {
            Ok(admitted) => admission.admitted.push(admitted),
            Err(rejection) => outcome.rejection = Some(rejection),
        }
        admission.outcomes.insert(route.key(), outcome);
    }
    admission.admitted.sort_by_key(AdmittedRoute::key);
    admission
}

fn reject(reason: RejectionReason, message: impl Into<String>) -> Rejection {
    Rejection { reason, message: message.into() }
}

fn in_domain(host: &str, domain: &str) -> bool {
    let domain = domain.trim_start_matches("*.").trim_start_matches('.');
    host == domain || host.strip_suffix(domain).is_some_and(|rest| rest.ends_with('.'))
}

fn was_admitted(route: &Route, router_name: &str) -> bool {
    route
        .status
        .for_router(router_name)
        .and_then(|ingress| ingress.condition(CONDITION_ADMITTED))
        .is_some_and(|condition| condition.status == ConditionStatus::True)
}

fn decide<'a>(
    route: &'a Route,
    host: &str,
    config: &AdmissionConfig,
    namespace_check: bool,
    wildcard_claims: &mut WildcardClaims<'a>,
    hosts: &mut HashMap<String, HostIndex<'a>>,
    now: Timestamp,
) -> Result<AdmittedRoute, Rejection> {
    use RejectionReason::*;
    if let Err(errors) = validate_route(route) {
        let invalid_host_only = errors.0.iter().all(|error| error.field == "spec.host");
        if !invalid_host_only {
            let lines: Vec<String> = errors.0.iter().map(ToString::to_string).collect();
            return Err(reject(RouteNotAdmitted, format!("the route is invalid: {}", lines.join("; "))));
        }
    }
    if host.is_empty() {
        return Err(reject(NoHostValue, "no host value was defined for the route"));
    }
    if config.denied_domains.iter().any(|domain| in_domain(host, domain)) {
        return Err(reject(RouteNotAdmitted, format!("host {host} is in a denied domain")));
    }
    if !config.allowed_domains.is_empty() && !config.allowed_domains.iter().any(|domain| in_domain(host, domain)) {
        return Err(reject(RouteNotAdmitted, format!("host {host} is not in an allowed domain")));
    }
    if route.is_wildcard() && !config.allow_wildcard_routes {
        return Err(reject(RouteNotAdmitted, "wildcard routes are not allowed"));
    }
    if config.allow_wildcard_routes
        && let Some((owner_namespace, message)) = wildcard_claims.claim(route, host, namespace_check)
    {
        let message = if owner_namespace == route.metadata.namespace {
            message
        } else {
            format!("a route in another namespace holds host {host}")
        };
        return Err(reject(HostAlreadyClaimed, message));
    }

    let mut host_errors: Vec<String> = dns1123_subdomain_errors(host);
    for label in host.split('.') {
        host_errors.extend(dns1123_label_errors(label));
    }
    if !host_errors.is_empty() {
        let errors: Vec<String> =
            host_errors.iter().map(|error| format!("spec.host: Invalid value: {host:?}: {error}")).collect();
        return Err(reject(InvalidHost, format!("host name validation errors: {}", errors.join(", "))));
    }

    let index = hosts.entry(host.to_owned()).or_default();
    let namespace = route.metadata.namespace.as_str();
    if namespace_check && index.owner.as_deref().is_some_and(|owner| owner != namespace) {
        return Err(reject(
            HostAlreadyClaimed,
            format!("a route in another namespace holds {host} and is older than {}", route.metadata.name),
        ));
    }
    let termination = route.termination();
    let conflict = index
        .by_path
        .get(route.spec.path.as_str())
        .copied()
        .or_else(|| if termination.is_some() { index.passthrough } else { None });
    let conflict =
        conflict.or_else(|| if termination == Some(TlsTermination::Passthrough) { index.with_tls } else { None });
    if let Some(holder) = conflict {
        let message = if was_admitted(route, &config.router_name) && !was_admitted(holder.route, &config.router_name) {
            format!("replaced by older route {}", holder.name())
        } else if holder.namespace() == namespace {
            format!("route {} already exposes {host} and is older", holder.name())
        } else {
            format!("a route in another namespace holds {host} and is older than {}", route.metadata.name)
        };
        return Err(reject(HostAlreadyClaimed, message));
    }
    let holder = Holder { route };
    index.owner.get_or_insert_with(|| namespace.to_owned());
    index.by_path.insert(route.spec.path.as_str(), holder);
    if termination == Some(TlsTermination::Passthrough) {
        index.passthrough.get_or_insert(holder);
    }
    if termination.is_some() {
        index.with_tls.get_or_insert(holder);
    }

    let tls = match &route.spec.tls {
        None => None,
        Some(tls) => {
            if let Some(secret) = &tls.external_certificate {
                return Err(reject(
                    ExternalCertificateGetFailed,
                    format!(
                        "secret {:?} cannot be read: s2i keeps no secrets; put the certificate and key in spec.tls instead",
                        secret.name
                    ),
                ));
            }
            Some(validate_route_tls(tls, now).map_err(|error| reject(ExtendedValidationFailed, error.to_string()))?)
        }
    };
    Ok(AdmittedRoute {
        route: route.clone(),
        host: host.to_owned(),
        annotations: annotations::parse(&route.metadata.annotations).settings,
        tls,
    })
}
