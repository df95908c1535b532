//! The Route object, field for field as `route.openshift.io/v1` has it.
//!
//! Reading a route applies the API server's defaults (docs/compatibility.md#route-defaults):
//! `to.kind` and `alternateBackends[].kind` become `Service`, a missing weight
//! becomes 100, an empty `wildcardPolicy` becomes `None`, an empty
//! `tls.termination` becomes `edge` (unless a destination CA is given) and the
//! legacy capitalised terminations are lower-cased. Writing a route writes those
//! defaults out, as `oc get route -o yaml` shows them. Values outside an
//! enumeration are refused while reading, with the API server's message.

use std::fmt;

use serde::de::{self, Deserializer};
use serde::{Deserialize, Serialize, Serializer};

use s2i_store::{KindInfo, ObjectKey, ObjectMeta, Resource};

/// `apiVersion` of a Route.
pub const ROUTE_API_VERSION: &str = "route.openshift.io/v1";
/// `kind` of a Route.
pub const ROUTE_KIND: &str = "Route";
/// The only kind a route may point at.
pub const SERVICE_KIND: &str = "Service";
/// The weight of a backend that does not give one.
pub const DEFAULT_WEIGHT: i32 = 100;
/// The condition type admission writes.
pub const CONDITION_ADMITTED: &str = "Admitted";

impl Resource for Route {
    const INFO: KindInfo = KindInfo {
        group: "route.openshift.io",
        version: "v1",
        kind: ROUTE_KIND,
        plural: "routes",
        short_names: &["route"],
        namespaced: true,
    };
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

/// A Route: a host name (and optionally a path) at which a router exposes one
/// or more services.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Name, namespace, creation time, uid, labels and annotations.
    pub metadata: ObjectMeta,
    /// What the user asked for.
    pub spec: RouteSpec,
    /// What routers made of it.
    pub status: RouteStatus,
}

impl Route {
    /// A route with an empty status.
    pub fn new(metadata: ObjectMeta, spec: RouteSpec) -> Self {
        Route { metadata, spec, status: RouteStatus::default() }
    }

    /// `namespace/name`.
    pub fn key(&self) -> ObjectKey {
        self.metadata.key()
    }

    /// The TLS termination, `None` for plain HTTP.
    pub fn termination(&self) -> Option<TlsTermination> {
        self.spec.tls.as_ref().map(|tls| tls.termination)
    }

    /// What happens to plain HTTP requests; `None` when the route has no TLS
    /// or leaves the policy empty.
    pub fn insecure_policy(&self) -> InsecureEdgeTerminationPolicy {
        self.spec.tls.as_ref().and_then(|tls| tls.insecure_edge_termination_policy).unwrap_or_default()
    }

    /// Whether the route serves every host one label under its host's domain.
    pub fn is_wildcard(&self) -> bool {
        self.spec.wildcard_policy == WildcardPolicy::Subdomain
    }

    /// `to` followed by `alternateBackends`.
    pub fn backends(&self) -> impl Iterator<Item = &RouteTargetReference> {
        std::iter::once(&self.spec.to).chain(&self.spec.alternate_backends)
    }
}

/// `spec` of a Route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    /// The host name; generated from name and namespace when empty and no
    /// `subdomain` is given (see [`crate::host::assign_host`]).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    /// A name under the router's domain, used when `host` is empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub subdomain: String,
    /// Path prefix the route serves; empty serves every path.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    /// The primary backend.
    pub to: RouteTargetReference,
    /// Up to three more backends sharing the traffic by weight.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alternate_backends: Vec<RouteTargetReference>,
    /// Which endpoint port to send traffic to; all ports when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<RoutePort>,
    /// TLS; plain HTTP when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    /// Whether the route also serves the sibling hosts of its host.
    #[serde(default)]
    pub wildcard_policy: WildcardPolicy,
    /// Headers to set or delete on requests and responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_headers: Option<RouteHttpHeaders>,
}

/// A backend of a route: a service and its share of the traffic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteTargetReference {
    /// Always `Service`.
    #[serde(default = "service_kind", deserialize_with = "kind_or_service")]
    pub kind: String,
    /// The service's name, in the route's namespace.
    pub name: String,
    /// Relative weight, 0 to 256; 0 sends no new traffic.
    #[serde(default = "default_weight", deserialize_with = "weight_or_default")]
    pub weight: i32,
}

impl RouteTargetReference {
    /// A service with a weight.
    pub fn service(name: impl Into<String>, weight: i32) -> Self {
        RouteTargetReference { kind: SERVICE_KIND.to_owned(), name: name.into(), weight }
    }
}

impl Default for RouteTargetReference {
    fn default() -> Self {
        RouteTargetReference::service("", DEFAULT_WEIGHT)
    }
}

fn service_kind() -> String {
    SERVICE_KIND.to_owned()
}

fn default_weight() -> i32 {
    DEFAULT_WEIGHT
}

fn kind_or_service<'de, D: Deserializer<'de>>(deserializer: D) -> Result<String, D::Error> {
    let kind = Option::<String>::deserialize(deserializer)?.unwrap_or_default();
    Ok(if kind.is_empty() { service_kind() } else { kind })
}

fn weight_or_default<'de, D: Deserializer<'de>>(deserializer: D) -> Result<i32, D::Error> {
    Ok(Option::<i32>::deserialize(deserializer)?.unwrap_or(DEFAULT_WEIGHT))
}

/// `spec.port`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutePort {
    /// The endpoint port, by name or number (not the service port).
    pub target_port: TargetPort,
}

/// A port given by number or by name (Kubernetes' IntOrString).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TargetPort {
    /// A port number.
    Number(i32),
    /// A port name.
    Name(String),
}

impl fmt::Display for TargetPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetPort::Number(number) => write!(f, "{number}"),
            TargetPort::Name(name) => f.write_str(name),
        }
    }
}

impl From<&str> for TargetPort {
    /// A number when the text is one, else a name.
    fn from(text: &str) -> Self {
        text.parse().map(TargetPort::Number).unwrap_or_else(|_| TargetPort::Name(text.to_owned()))
    }
}

/// `spec.tls`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", try_from = "TlsConfigWire")]
pub struct TlsConfig {
    /// Where TLS ends.
    pub termination: TlsTermination,
    /// Serving certificate (PEM, leaf only).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub certificate: String,
    /// Private key of `certificate` (PEM).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub key: String,
    /// Intermediate/CA certificates served after the leaf (PEM).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ca_certificate: String,
    /// CA that signs the endpoints' certificates, for `reencrypt` (PEM).
    #[serde(rename = "destinationCACertificate", skip_serializing_if = "String::is_empty")]
    pub destination_ca_certificate: String,
    /// What the plain-HTTP port does with the route's host.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insecure_edge_termination_policy: Option<InsecureEdgeTerminationPolicy>,
    /// Serving certificate from a `kubernetes.io/tls` Secret of the namespace.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_certificate: Option<LocalObjectReference>,
}

impl TlsConfig {
    /// A TLS block with only a termination.
    pub fn new(termination: TlsTermination) -> Self {
        TlsConfig {
            termination,
            certificate: String::new(),
            key: String::new(),
            ca_certificate: String::new(),
            destination_ca_certificate: String::new(),
            insecure_edge_termination_policy: None,
            external_certificate: None,
        }
    }
}

/// How `spec.tls` is read: the termination may be empty and is defaulted.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TlsConfigWire {
    #[serde(default, deserialize_with = "parsed_or_empty")]
    termination: Option<TlsTermination>,
    #[serde(default)]
    certificate: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    ca_certificate: String,
    #[serde(default, rename = "destinationCACertificate")]
    destination_ca_certificate: String,
    #[serde(default, deserialize_with = "parsed_or_empty")]
    insecure_edge_termination_policy: Option<InsecureEdgeTerminationPolicy>,
    #[serde(default)]
    external_certificate: Option<LocalObjectReference>,
}

impl TryFrom<TlsConfigWire> for TlsConfig {
    type Error = String;

    fn try_from(wire: TlsConfigWire) -> Result<Self, String> {
        let termination = match wire.termination {
            Some(termination) => termination,
            None if wire.destination_ca_certificate.is_empty() => TlsTermination::Edge,
            None => return Err("".parse::<TlsTermination>().expect_err("an empty termination is not one")),
        };
        let insecure_edge_termination_policy = wire.insecure_edge_termination_policy;
        Ok(TlsConfig {
            termination,
            certificate: wire.certificate,
            key: wire.key,
            ca_certificate: wire.ca_certificate,
            destination_ca_certificate: wire.destination_ca_certificate,
            insecure_edge_termination_policy,
            external_certificate: wire.external_certificate,
        })
    }
}

/// A reference to an object in the same namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LocalObjectReference {
    /// Its name.
    pub name: String,
}

/// Where TLS of a route ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TlsTermination {
    /// The router terminates TLS and speaks plain HTTP to the endpoints.
    Edge,
    /// The router terminates TLS and opens new TLS connections to the endpoints.
    Reencrypt,
    /// The router passes the TLS stream to the endpoints untouched, chosen by SNI.
    Passthrough,
}

impl TlsTermination {
    /// The API value: `edge`, `reencrypt` or `passthrough`.
    pub fn as_str(self) -> &'static str {
        match self {
            TlsTermination::Edge => "edge",
            TlsTermination::Reencrypt => "reencrypt",
            TlsTermination::Passthrough => "passthrough",
        }
    }
}

impl fmt::Display for TlsTermination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for TlsTermination {
    type Err = String;

    /// Also accepts the legacy capitalised values, as the API server defaults them.
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "edge" | "Edge" => Ok(TlsTermination::Edge),
            "reencrypt" | "Reencrypt" => Ok(TlsTermination::Reencrypt),
            "passthrough" | "Passthrough" => Ok(TlsTermination::Passthrough),
            other => Err(format!(
                "spec.tls.termination: Unsupported value: {other:?}: supported values: \"edge\", \"passthrough\", \"reencrypt\""
            )),
        }
    }
}

/// What the plain-HTTP port does for a TLS route.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum InsecureEdgeTerminationPolicy {
    /// Plain HTTP is not served (503).
    #[default]
    None,
    /// Plain HTTP is served too (edge and reencrypt only).
    Allow,
    /// Plain HTTP answers 302 to the `https` URL.
    Redirect,
}

impl InsecureEdgeTerminationPolicy {
    /// The API value.
    pub fn as_str(self) -> &'static str {
        match self {
            InsecureEdgeTerminationPolicy::None => "None",
            InsecureEdgeTerminationPolicy::Allow => "Allow",
            InsecureEdgeTerminationPolicy::Redirect => "Redirect",
        }
    }
}

impl fmt::Display for InsecureEdgeTerminationPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for InsecureEdgeTerminationPolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "None" => Ok(InsecureEdgeTerminationPolicy::None),
            "Allow" => Ok(InsecureEdgeTerminationPolicy::Allow),
            "Redirect" => Ok(InsecureEdgeTerminationPolicy::Redirect),
            other => Err(format!(
                "spec.tls.insecureEdgeTerminationPolicy: Invalid value: {other:?}: invalid value for \
                 InsecureEdgeTerminationPolicy option, acceptable values are None, Allow, Redirect, or empty"
            )),
        }
    }
}

/// Whether a route serves sibling hosts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WildcardPolicy {
    /// Only the host itself.
    #[default]
    None,
    /// Every host one label under the host's domain: host `www.acme.test`
    /// serves `*.acme.test`.
    Subdomain,
}

impl WildcardPolicy {
    /// The API value.
    pub fn as_str(self) -> &'static str {
        match self {
            WildcardPolicy::None => "None",
            WildcardPolicy::Subdomain => "Subdomain",
        }
    }
}

impl fmt::Display for WildcardPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for WildcardPolicy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "" | "None" => Ok(WildcardPolicy::None),
            "Subdomain" => Ok(WildcardPolicy::Subdomain),
            other => Err(format!(
                "spec.wildcardPolicy: Unsupported value: {other:?}: supported values: \"None\", \"Subdomain\""
            )),
        }
    }
}

/// Reads a string with `T`'s `FromStr` inside the deserializer (a visitor),
/// so that a YAML reader reports the position of the value itself. The
/// message leaves out the field path (`spec.tls.termination: `) that the
/// reader puts in front.
struct FromStrVisitor<T>(std::marker::PhantomData<T>);

impl<T: std::str::FromStr<Err = String>> de::Visitor<'_> for FromStrVisitor<T> {
    type Value = T;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str("a string")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<T, E> {
        text.parse().map_err(|message: String| {
            let detail = match message.split_once(": ") {
                Some((field, detail)) if field.contains('.') => detail.to_owned(),
                _ => message,
            };
            E::custom(detail)
        })
    }
}

fn parse_str<'de, D: Deserializer<'de>, T: std::str::FromStr<Err = String>>(deserializer: D) -> Result<T, D::Error> {
    deserializer.deserialize_str(FromStrVisitor(std::marker::PhantomData))
}

/// An optional enumeration where an empty string (or null) means "not set".
fn parsed_or_empty<'de, D: Deserializer<'de>, T: std::str::FromStr<Err = String>>(
    deserializer: D,
) -> Result<Option<T>, D::Error> {
    struct Visitor<T>(std::marker::PhantomData<T>);
    impl<'de, T: std::str::FromStr<Err = String>> de::Visitor<'de> for Visitor<T> {
        type Value = Option<T>;
        fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
            formatter.write_str("a string")
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
            deserializer.deserialize_str(self)
        }
        fn visit_str<E: de::Error>(self, text: &str) -> Result<Self::Value, E> {
            if text.is_empty() {
                return Ok(None);
            }
            FromStrVisitor(std::marker::PhantomData).visit_str(text).map(Some)
        }
    }
    deserializer.deserialize_option(Visitor(std::marker::PhantomData))
}

/// Serialises a type as its API string and reads it with its `FromStr`.
macro_rules! string_enum_serde {
    ($($ty:ty),*) => {$(
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                parse_str(deserializer)
            }
        }
    )*};
}

string_enum_serde!(TlsTermination, InsecureEdgeTerminationPolicy, WildcardPolicy, HeaderActionType);

/// `spec.httpHeaders`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteHttpHeaders {
    /// The header actions.
    #[serde(default)]
    pub actions: RouteHttpHeaderActions,
}

/// `spec.httpHeaders.actions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteHttpHeaderActions {
    /// Actions on responses, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub response: Vec<RouteHttpHeader>,
    /// Actions on requests, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub request: Vec<RouteHttpHeader>,
}

/// One header action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteHttpHeader {
    /// Header name.
    pub name: String,
    /// What to do with it.
    pub action: RouteHttpHeaderAction,
}

/// `action` of a header: `Set` with a value, or `Delete`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteHttpHeaderAction {
    /// `Set` or `Delete`.
    #[serde(rename = "type")]
    pub action_type: HeaderActionType,
    /// The value, required for `Set` and forbidden otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set: Option<RouteSetHttpHeader>,
}

impl RouteHttpHeaderAction {
    /// `Set` to a value.
    pub fn set(value: impl Into<String>) -> Self {
        RouteHttpHeaderAction {
            action_type: HeaderActionType::Set,
            set: Some(RouteSetHttpHeader { value: value.into() }),
        }
    }

    /// `Delete`.
    pub fn delete() -> Self {
        RouteHttpHeaderAction { action_type: HeaderActionType::Delete, set: None }
    }
}

/// The value a `Set` action writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteSetHttpHeader {
    /// Literal text or HAProxy `%[…]` expressions (see docs/compatibility.md#header-actions).
    pub value: String,
}

/// A header action.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HeaderActionType {
    /// Set the header.
    Set,
    /// Delete the header.
    Delete,
}

impl HeaderActionType {
    /// The API value.
    pub fn as_str(self) -> &'static str {
        match self {
            HeaderActionType::Set => "Set",
            HeaderActionType::Delete => "Delete",
        }
    }
}

impl std::str::FromStr for HeaderActionType {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "Set" => Ok(HeaderActionType::Set),
            "Delete" => Ok(HeaderActionType::Delete),
            other => Err(format!("action.type: Invalid value: {other:?}: type must be \"Set\" or \"Delete\"")),
        }
    }
}

/// `status` of a Route: one entry per router that looked at it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteStatus {
    /// Per-router outcomes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<RouteIngress>,
}

impl RouteStatus {
    /// The entry of a router.
    pub fn for_router(&self, router_name: &str) -> Option<&RouteIngress> {
        self.ingress.iter().find(|ingress| ingress.router_name == router_name)
    }
}

/// What one router made of a route.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteIngress {
    /// The host the router serves the route at.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    /// The router's name.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub router_name: String,
    /// Conditions, keyed by type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<RouteIngressCondition>,
    /// The wildcard policy the router applied.
    #[serde(default)]
    pub wildcard_policy: WildcardPolicy,
    /// A name to point DNS at (CNAME) to reach the router.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub router_canonical_hostname: String,
}

impl RouteIngress {
    /// The condition of a type.
    pub fn condition(&self, condition_type: &str) -> Option<&RouteIngressCondition> {
        self.conditions.iter().find(|condition| condition.condition_type == condition_type)
    }
}

/// A condition of a route at a router.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteIngressCondition {
    /// `Admitted` (or `UnservableInFutureVersions`).
    #[serde(rename = "type")]
    pub condition_type: String,
    /// `True`, `False` or `Unknown`.
    pub status: ConditionStatus,
    /// Machine-readable reason, e.g. `HostAlreadyClaimed`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    /// Human-readable detail.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    /// When the status last changed.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "s2i_store::timestamp::option")]
    pub last_transition_time: Option<jiff::Timestamp>,
}

/// Status of a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConditionStatus {
    /// The condition holds.
    True,
    /// It does not.
    False,
    /// Not known.
    Unknown,
}

/// How a Route is written: `apiVersion` and `kind` first.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RouteOut<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: &'a ObjectMeta,
    spec: &'a RouteSpec,
    #[serde(skip_serializing_if = "is_empty_status")]
    status: &'a RouteStatus,
}

fn is_empty_status(status: &&RouteStatus) -> bool {
    status.ingress.is_empty()
}

/// How a Route is read: `apiVersion` and `kind` are checked when present.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RouteIn {
    #[serde(default)]
    api_version: Option<String>,
    #[serde(default)]
    kind: Option<String>,
    metadata: ObjectMeta,
    spec: RouteSpec,
    #[serde(default)]
    status: RouteStatus,
}

impl Serialize for Route {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RouteOut {
            api_version: ROUTE_API_VERSION,
            kind: ROUTE_KIND,
            metadata: &self.metadata,
            spec: &self.spec,
            status: &self.status,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Route {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let wire = RouteIn::deserialize(deserializer)?;
        check_type_meta(wire.api_version.as_deref(), wire.kind.as_deref(), &Route::INFO).map_err(de::Error::custom)?;
        Ok(Route { metadata: wire.metadata, spec: wire.spec, status: wire.status })
    }
}

/// Checks `apiVersion` and `kind` of an object being read as `api_version`/`kind`.
/// OpenShift's kinds also take the legacy `v1` ([`KindInfo::accepts_api_version`]).
pub(crate) fn check_type_meta(api_version: Option<&str>, kind: Option<&str>, info: &KindInfo) -> Result<(), String> {
    let (want_api_version, want_kind) = (info.api_version(), info.kind);
    if let Some(found) = api_version.filter(|found| !info.accepts_api_version(found)) {
        return Err(format!("apiVersion is {found:?}; a {want_kind} has apiVersion {want_api_version:?}"));
    }
    if let Some(found) = kind.filter(|found| *found != want_kind) {
        return Err(format!("kind is {found:?}, expected {want_kind:?}"));
    }
    Ok(())
}
