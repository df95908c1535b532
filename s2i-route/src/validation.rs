//! API validation of routes and services, with the API server's rules and
//! messages (docs/compatibility.md#route-validation).
//!
//! This is what a store runs before it keeps an object: shape, the TLS
//! matrix, header grammar, annotation values. The *content* of TLS material
//! (does the PEM parse, does the key match) is the router's business, checked
//! at admission ([`crate::tls`]); a route can be valid here and still not be
//! admitted.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::LazyLock;

use crate::annotations::{self, ALLOW_NON_DNS_COMPLIANT_HOST};
use crate::host::{dns1123_label_errors, dns1123_subdomain_errors};
use crate::route::{
    HeaderActionType, InsecureEdgeTerminationPolicy, Route, RouteHttpHeader, RouteTargetReference, TargetPort,
    TlsTermination, WildcardPolicy,
};

mod services;

pub use services::{
    endpoints_warnings, service_warnings, validate_endpoints, validate_endpoints_update, validate_service,
    validate_service_update,
};

/// One problem with one field, written as the Kubernetes API writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field's path, e.g. `spec.tls.termination`.
    pub field: String,
    /// What is wrong.
    pub kind: FieldErrorKind,
}

/// The kinds of field problems the API reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldErrorKind {
    /// The field must be set (`detail` may say more).
    Required {
        /// Extra detail, possibly empty.
        detail: String,
    },
    /// The value is not acceptable.
    Invalid {
        /// The value as written (quoted when a string).
        value: String,
        /// Why.
        detail: String,
    },
    /// The value is not one of an enumeration.
    NotSupported {
        /// The value, quoted.
        value: String,
        /// The values that are.
        supported: Vec<String>,
    },
    /// The field may not be set here.
    Forbidden {
        /// Why.
        detail: String,
    },
    /// The value repeats another.
    Duplicate {
        /// The value, quoted.
        value: String,
    },
}

impl FieldError {
    /// `Required value`.
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError { field: field.into(), kind: FieldErrorKind::Required { detail: detail.into() } }
    }

    /// `Invalid value` of a string (written quoted).
    pub fn invalid(field: impl Into<String>, value: &str, detail: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::Invalid { value: format!("{value:?}"), detail: detail.into() },
        }
    }

    /// `Invalid value` of a number (written bare).
    pub(crate) fn invalid_number(
        field: impl Into<String>,
        value: impl fmt::Display,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::Invalid { value: value.to_string(), detail: detail.into() },
        }
    }

    /// `Unsupported value`.
    pub(crate) fn not_supported(field: impl Into<String>, value: &str, supported: &[&str]) -> Self {
        FieldError {
            field: field.into(),
            kind: FieldErrorKind::NotSupported {
                value: format!("{value:?}"),
                supported: supported.iter().map(|value| (*value).to_owned()).collect(),
            },
        }
    }

    /// `Forbidden`.
    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        FieldError { field: field.into(), kind: FieldErrorKind::Forbidden { detail: detail.into() } }
    }

    /// `Duplicate value`.
    pub fn duplicate(field: impl Into<String>, value: &str) -> Self {
        FieldError { field: field.into(), kind: FieldErrorKind::Duplicate { value: format!("{value:?}") } }
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: ", self.field)?;
        match &self.kind {
            FieldErrorKind::Required { detail } if detail.is_empty() => f.write_str("Required value"),
            FieldErrorKind::Required { detail } => write!(f, "Required value: {detail}"),
            FieldErrorKind::Invalid { value, detail } => write!(f, "Invalid value: {value}: {detail}"),
            FieldErrorKind::NotSupported { value, supported } => {
                let supported: Vec<String> = supported.iter().map(|value| format!("{value:?}")).collect();
                write!(f, "Unsupported value: {value}: supported values: {}", supported.join(", "))
            }
            FieldErrorKind::Forbidden { detail } => write!(f, "Forbidden: {detail}"),
            FieldErrorKind::Duplicate { value } => write!(f, "Duplicate value: {value}"),
        }
    }
}

/// Every problem found in one object; written one per line.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldErrors(pub Vec<FieldError>);

impl FieldErrors {
    /// No problems.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok` when there are no problems.
    pub(crate) fn into_result(self) -> Result<(), FieldErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(self) }
    }
}

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, error) in self.0.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            write!(f, "  * {error}")?;
        }
        Ok(())
    }
}

const MAX_HEADER_ACTIONS: usize = 20;
const MAX_HEADER_NAME: usize = 255;
const MAX_HEADER_VALUE: usize = 16384;
const FORBIDDEN_HEADERS: [&str; 4] = ["strict-transport-security", "proxy", "cookie", "set-cookie"];
const HEADER_NAME_MESSAGE: &str = "name must be a valid HTTP header name as defined in RFC 2616 section 4.2";
const REQUEST_VALUE_MESSAGE: &str = "Either header value provided is not in correct format or the converter specified is not allowed. The dynamic header value  may use HAProxy's %[] syntax and otherwise must be a valid HTTP header value as defined in https://datatracker.ietf.org/doc/html/rfc7230#section-3.2 Sample fetchers allowed are req.hdr, ssl_c_der. Converters allowed are lower, base64.";
const RESPONSE_VALUE_MESSAGE: &str = "Either header value provided is not in correct format or the converter specified is not allowed. The dynamic header value  may use HAProxy's %[] syntax and otherwise must be a valid HTTP header value as defined in https://datatracker.ietf.org/doc/html/rfc7230#section-3.2 Sample fetchers allowed are res.hdr, ssl_c_der. Converters allowed are lower, base64.";

/// The grammar of header values: literal text without `%` and control
/// characters, `%%`, or `%[fetch(,converter)*]` with an optional `{+Q}`-style flag list.
fn header_value_regex(side: &str) -> regex::Regex {
    let pattern = format!(
        r"^(?:%(?:%|(?:\{{[-+]?[QXE](?:,[-+]?[QXE])*\}})?\[(?:{side}\.hdr\([0-9A-Za-z-]+\)|ssl_c_der)(?:,(?:lower|base64))*\])|[^%[:cntrl:]])+$"
    );
    regex::Regex::new(&pattern).expect("the header value grammar is a valid regex")
}

static REQUEST_VALUE: LazyLock<regex::Regex> = LazyLock::new(|| header_value_regex("req"));
static RESPONSE_VALUE: LazyLock<regex::Regex> = LazyLock::new(|| header_value_regex("res"));

fn is_header_token(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|byte| byte.is_ascii_alphanumeric() || b"-!#$%&'*+.^_`|~".contains(&byte))
}

/// Validates a route as the API server does on create.
pub fn validate_route(route: &Route) -> Result<(), FieldErrors> {
    let mut errors = Vec::new();
    validate_route_into(route, true, true, &mut errors);
    FieldErrors(errors).into_result()
}

/// Validates an update of `old` to `route`: `wildcardPolicy` may not
/// change; the per-label host check runs only if the host changed and the old
/// host passed it; the path's `#`/space ban only if the path changed.
pub fn validate_route_update(route: &Route, old: &Route) -> Result<(), FieldErrors> {
    let mut errors = Vec::new();
    if route.spec.wildcard_policy != old.spec.wildcard_policy {
        errors.push(FieldError::invalid(
            "spec.wildcardPolicy",
            route.spec.wildcard_policy.as_str(),
            "field is immutable",
        ));
    }
    let old_labels_valid = old.spec.host.split('.').all(|label| dns1123_label_errors(label).is_empty());
    let check_labels = route.spec.host != old.spec.host && (old.spec.host.is_empty() || old_labels_valid);
    validate_route_into(route, check_labels, route.spec.path != old.spec.path, &mut errors);
    FieldErrors(errors).into_result()
}

/// Things worth saying about a valid route that do not make it invalid.
pub fn route_warnings(route: &Route) -> Vec<String> {
    let mut warnings = Vec::new();
    if !route.spec.host.is_empty() && !route.spec.subdomain.is_empty() {
        warnings.push("spec.host is set; spec.subdomain may be ignored".to_owned());
    }
    warnings.extend(annotations::parse(&route.metadata.annotations).warnings);
    warnings
}

fn validate_route_into(route: &Route, check_host_labels: bool, check_path_chars: bool, errors: &mut Vec<FieldError>) {
    let meta = &route.metadata;
    errors.extend(
        dns1123_subdomain_errors(&meta.name)
            .into_iter()
            .map(|detail| FieldError::invalid("metadata.name", &meta.name, detail)),
    );
    validate_namespace(&meta.namespace, errors);

    let spec = &route.spec;
    let passthrough = route.termination() == Some(TlsTermination::Passthrough);
    if check_path_chars && spec.path.contains(['#', ' ']) {
        errors.push(FieldError::invalid("spec.path", &spec.path, "path must not contain # or spaces"));
    }
    if !spec.host.is_empty() {
        if !dns1123_subdomain_errors(&spec.host).is_empty() {
            errors.push(FieldError::invalid(
                "spec.host",
                &spec.host,
                "host must conform to DNS 952 subdomain conventions",
            ));
        }
        let relaxed = meta.annotations.get(ALLOW_NON_DNS_COMPLIANT_HOST).is_some_and(|value| value == "true");
        if check_host_labels && !relaxed {
            for label in spec.host.split('.') {
                errors.extend(
                    dns1123_label_errors(label)
                        .into_iter()
                        .map(|detail| FieldError::invalid("spec.host", &spec.host, detail)),
                );
            }
        }
    }
    if !spec.subdomain.is_empty() {
        if spec.subdomain.len() > 253 {
            errors.push(FieldError::invalid("spec.subdomain", &spec.subdomain, "must be no more than 253 characters"));
        }
        for label in spec.subdomain.split('.') {
            let label_errors = dns1123_label_errors(label);
            if !label_errors.is_empty() {
                errors.push(FieldError::invalid("spec.subdomain", label, label_errors.join(", ")));
            }
        }
    }
    if spec.wildcard_policy == WildcardPolicy::Subdomain && spec.host.is_empty() {
        errors.push(FieldError::invalid(
            "spec.wildcardPolicy",
            "Subdomain",
            "host name not specified for wildcard policy",
        ));
    }
    if let Some(headers) = &spec.http_headers {
        let actions = &headers.actions;
        if passthrough && (!actions.request.is_empty() || !actions.response.is_empty()) {
            errors.push(FieldError::invalid(
                "spec.tls.termination",
                "passthrough",
                "only edge and re-encrypt routes are supported for providing customized headers.",
            ));
        }
        validate_headers(
            "spec.httpHeaders.actions.response",
            &actions.response,
            &RESPONSE_VALUE,
            RESPONSE_VALUE_MESSAGE,
            errors,
        );
        validate_headers(
            "spec.httpHeaders.actions.request",
            &actions.request,
            &REQUEST_VALUE,
            REQUEST_VALUE_MESSAGE,
            errors,
        );
    }
    if !spec.path.is_empty() && !spec.path.starts_with('/') {
        errors.push(FieldError::invalid("spec.path", &spec.path, "path must begin with /"));
    }
    if !spec.path.is_empty() && passthrough {
        errors.push(FieldError::invalid("spec.path", &spec.path, "passthrough termination does not support paths"));
    }
    validate_target("spec.to", &spec.to, errors);
    if spec.alternate_backends.len() > 3 {
        errors.push(FieldError::required("spec.alternateBackends", "cannot specify more than 3 alternate backends"));
    }
    let mut seen = BTreeSet::from([spec.to.name.as_str()]);
    for (index, backend) in spec.alternate_backends.iter().enumerate() {
        let field = format!("spec.alternateBackends[{index}]");
        validate_target(&field, backend, errors);
        if !backend.name.is_empty() && !seen.insert(backend.name.as_str()) {
            errors.push(FieldError::duplicate(format!("{field}.name"), &backend.name));
        }
    }
    if let Some(port) = &spec.port {
        match &port.target_port {
            TargetPort::Number(0) => errors.push(FieldError::required("spec.port.targetPort", "")),
            TargetPort::Name(name) if name.is_empty() => errors.push(FieldError::required("spec.port.targetPort", "")),
            _ => {}
        }
    }
    validate_tls(route, errors);
    errors.extend(annotations::parse(&meta.annotations).errors);
}

fn validate_namespace(namespace: &str, errors: &mut Vec<FieldError>) {
    if namespace.is_empty() {
        errors.push(FieldError::required("metadata.namespace", ""));
    } else {
        errors.extend(
            dns1123_label_errors(namespace)
                .into_iter()
                .map(|detail| FieldError::invalid("metadata.namespace", namespace, detail)),
        );
    }
}

fn validate_target(field: &str, target: &RouteTargetReference, errors: &mut Vec<FieldError>) {
    if target.name.is_empty() {
        errors.push(FieldError::required(format!("{field}.name"), ""));
    }
    if target.kind != crate::route::SERVICE_KIND {
        errors.push(FieldError::invalid(format!("{field}.kind"), &target.kind, "must reference a Service"));
    }
    if !(0..=256).contains(&target.weight) {
        errors.push(FieldError::invalid_number(
            format!("{field}.weight"),
            target.weight,
            "weight must be an integer between 0 and 256",
        ));
    }
}

fn validate_headers(
    field: &str,
    headers: &[RouteHttpHeader],
    value_grammar: &regex::Regex,
    value_message: &str,
    errors: &mut Vec<FieldError>,
) {
    if headers.len() > MAX_HEADER_ACTIONS {
        let side = field.rsplit('.').next().unwrap_or(field);
        errors.push(FieldError::invalid_number(
            field,
            format!("{} items", headers.len()),
            format!("{side} headers list can't exceed {MAX_HEADER_ACTIONS} items"),
        ));
        return;
    }
    let mut seen = BTreeSet::new();
    for (index, header) in headers.iter().enumerate() {
        let item = format!("{field}[{index}]");
        if !seen.insert(header.name.as_str()) {
            errors.push(FieldError::duplicate(format!("{item}.name"), &header.name));
        }
        if header.name.is_empty() {
            errors.push(FieldError::required(format!("{item}.name"), ""));
        } else if header.name.len() > MAX_HEADER_NAME {
            errors.push(FieldError::invalid(
                format!("{item}.name"),
                &header.name,
                format!("name exceeds the maximum length, which is {MAX_HEADER_NAME}"),
            ));
        } else if FORBIDDEN_HEADERS.contains(&header.name.to_ascii_lowercase().as_str()) {
            errors.push(FieldError::forbidden(
                format!("{item}.name"),
                format!("the following headers may not be modified using this API: {}", FORBIDDEN_HEADERS.join(", ")),
            ));
        } else if !is_header_token(&header.name) {
            errors.push(FieldError::invalid(format!("{item}.name"), &header.name, HEADER_NAME_MESSAGE));
        }
        let action = &header.action;
        if (action.action_type == HeaderActionType::Set) != action.set.is_some() {
            errors.push(FieldError::required(
                format!("{item}.action.set"),
                "set is required when type is Set, and forbidden otherwise",
            ));
        }
        if let Some(set) = &action.set {
            let value_field = format!("{item}.action.set.value");
            if set.value.is_empty() {
                errors.push(FieldError::required(value_field, ""));
            } else if set.value.len() > MAX_HEADER_VALUE {
                errors.push(FieldError::invalid(
                    value_field,
                    &set.value,
                    format!("value exceeds the maximum length, which is {MAX_HEADER_VALUE}"),
                ));
            } else if !value_grammar.is_match(&set.value) {
                errors.push(FieldError::invalid(value_field, &set.value, value_message));
            }
        }
    }
}

fn validate_tls(route: &Route, errors: &mut Vec<FieldError>) {
    let Some(tls) = &route.spec.tls else { return };
    let both = !tls.certificate.is_empty() && tls.external_certificate.as_ref().is_some_and(|r| !r.name.is_empty());
    let both_message = "cannot specify both tls.certificate and tls.externalCertificate";
    match tls.termination {
        TlsTermination::Reencrypt => {
            if both {
                let name = &tls.external_certificate.as_ref().map(|r| r.name.clone()).unwrap_or_default();
                errors.push(FieldError::invalid("spec.tls.externalCertificate", name, both_message));
            }
        }
        TlsTermination::Passthrough => {
            let unsupported = "passthrough termination does not support certificates";
            for (field, value, redacted) in [
                ("certificate", &tls.certificate, "redacted certificate data"),
                ("key", &tls.key, "redacted key data"),
                ("caCertificate", &tls.ca_certificate, "redacted ca certificate data"),
                (
                    "destinationCACertificate",
                    &tls.destination_ca_certificate,
                    "redacted destination ca certificate data",
                ),
            ] {
                if !value.is_empty() {
                    errors.push(FieldError::invalid(format!("spec.tls.{field}"), redacted, unsupported));
                }
            }
            if let Some(reference) = tls.external_certificate.as_ref().filter(|r| !r.name.is_empty()) {
                errors.push(FieldError::invalid("spec.tls.externalCertificate", &reference.name, unsupported));
            }
        }
        TlsTermination::Edge => {
            if !tls.destination_ca_certificate.is_empty() {
                errors.push(FieldError::invalid(
                    "spec.tls.destinationCACertificate",
                    "redacted destination ca certificate data",
                    "edge termination does not support destination certificates",
                ));
            }
            if both {
                let name = &tls.external_certificate.as_ref().map(|r| r.name.clone()).unwrap_or_default();
                errors.push(FieldError::invalid("spec.tls.externalCertificate", name, both_message));
            }
        }
    }
    if tls.termination == TlsTermination::Passthrough
        && tls.insecure_edge_termination_policy == Some(InsecureEdgeTerminationPolicy::Allow)
    {
        errors.push(FieldError::invalid(
            "spec.tls.insecureEdgeTerminationPolicy",
            "Allow",
            "invalid value for InsecureEdgeTerminationPolicy option, acceptable values are None, Redirect, or empty",
        ));
    }
}
