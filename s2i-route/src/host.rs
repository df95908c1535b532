//! Host names: DNS rules, host generation and the router's domain
//! (docs/compatibility.md#host-names).

use crate::annotations::HOST_GENERATED;
use crate::error::Error;
use crate::route::{Route, WildcardPolicy};

/// The domain generated hosts end in when `S2I_ROUTE_DOMAIN` is not set:
/// browsers and curl resolve every `*.localhost` name to the loopback address.
pub const DEFAULT_ROUTER_DOMAIN: &str = "apps.localhost";

/// The environment variable that sets the router's domain.
pub const ROUTER_DOMAIN_ENV: &str = "S2I_ROUTE_DOMAIN";

const LABEL_MAX: usize = 63;
const SUBDOMAIN_MAX: usize = 253;
const LABEL_FORMAT: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_FORMAT: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/// The router's domain: `S2I_ROUTE_DOMAIN` when set and not empty, else
/// [`DEFAULT_ROUTER_DOMAIN`].
pub fn router_domain_from_env() -> Result<String, Error> {
    match std::env::var(ROUTER_DOMAIN_ENV) {
        Ok(value) if !value.trim().is_empty() => check_domain(ROUTER_DOMAIN_ENV, &value),
        _ => Ok(DEFAULT_ROUTER_DOMAIN.to_owned()),
    }
}

/// A router domain given in `setting`, without a trailing dot, if it is a DNS name.
pub fn check_domain(setting: &str, value: &str) -> Result<String, Error> {
    let domain = value.trim().trim_end_matches('.').to_owned();
    let errors = dns1123_subdomain_errors(&domain);
    if errors.is_empty() {
        Ok(domain)
    } else {
        Err(Error::InvalidDomain { setting: setting.to_owned(), value: value.to_owned(), message: errors.join(", ") })
    }
}

/// Kubernetes' DNS-1123 label check: the problems of `text`, none when valid.
pub(crate) fn dns1123_label_errors(text: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if text.len() > LABEL_MAX {
        errors.push(format!("must be no more than {LABEL_MAX} characters"));
    }
    if !is_label_shaped(text) {
        errors.push(LABEL_FORMAT.to_owned());
    }
    errors
}

/// Kubernetes' DNS-1123 subdomain check: the problems of `text`, none when valid.
pub(crate) fn dns1123_subdomain_errors(text: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if text.len() > SUBDOMAIN_MAX {
        errors.push(format!("must be no more than {SUBDOMAIN_MAX} characters"));
    }
    if !text.split('.').all(is_label_shaped) {
        errors.push(SUBDOMAIN_FORMAT.to_owned());
    }
    errors
}

/// `[a-z0-9]([-a-z0-9]*[a-z0-9])?`, any length.
fn is_label_shaped(label: &str) -> bool {
    let bytes = label.as_bytes();
    let edge = |byte: &u8| byte.is_ascii_lowercase() || byte.is_ascii_digit();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => edge(first) && edge(last) && bytes.iter().all(|byte| edge(byte) || *byte == b'-'),
        _ => false,
    }
}

/// The host OpenShift generates for a route: `<name>-<namespace>.<domain>`,
/// dots in the name turned into dashes.
pub(crate) fn generated_host(name: &str, namespace: &str, domain: &str) -> String {
    format!("{}-{namespace}.{domain}", name.replace('.', "-"))
}

/// Gives a route the generated host when it has neither host nor subdomain
/// and is not a wildcard route, and marks it with the annotation
/// `openshift.io/host.generated: "true"`, as the API server does on create.
/// Returns whether it did. The result can be an invalid host (a first label
/// over 63 characters): validation then says so, as the router would.
pub fn assign_host(route: &mut Route, domain: &str) -> bool {
    let spec = &route.spec;
    if !spec.host.is_empty() || !spec.subdomain.is_empty() || spec.wildcard_policy == WildcardPolicy::Subdomain {
        return false;
    }
    route.spec.host = generated_host(&route.metadata.name, &route.metadata.namespace, domain);
    route.metadata.annotations.insert(HOST_GENERATED.to_owned(), "true".to_owned());
    true
}

/// The host a router serves a route at: `spec.host`, else `spec.subdomain`
/// under the router's domain, else nothing.
pub fn effective_host(route: &Route, domain: &str) -> String {
    if !route.spec.host.is_empty() {
        route.spec.host.clone()
    } else if !route.spec.subdomain.is_empty() {
        format!("{}.{domain}", route.spec.subdomain)
    } else {
        String::new()
    }
}

/// The wildcard key of a host: everything after the first dot
/// (`www.acme.test` → `acme.test`); a wildcard route serves `*.<key>`.
pub fn wildcard_key(host: &str) -> &str {
    host.split_once('.').map_or("", |(_, key)| key)
}

/// A host as a router compares it: lower case, without `:port` and without
/// one trailing dot.
pub(crate) fn normalize_request_host(host: &str) -> String {
    let without_port = match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && port.bytes().all(|byte| byte.is_ascii_digit()) => name,
        _ => host,
    };
    without_port.strip_suffix('.').unwrap_or(without_port).to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::{RouteSpec, RouteTargetReference};
    use s2i_store::ObjectMeta;

    fn route(name: &str, namespace: &str) -> Route {
        Route::new(
            ObjectMeta::named(namespace, name),
            RouteSpec { to: RouteTargetReference::service("web", 100), ..Default::default() },
        )
    }

    #[test]
    fn generated_hosts_follow_name_dash_namespace_dot_domain() {
        // (name, namespace, domain, host)
        let table = [
            ("frontend", "shop", "apps.localhost", "frontend-shop.apps.localhost"),
            ("my.route", "shop", "apps.example.com", "my-route-shop.apps.example.com"),
            ("a", "b", "router.default.svc.cluster.local", "a-b.router.default.svc.cluster.local"),
        ];
        for (name, namespace, domain, host) in table {
            assert_eq!(generated_host(name, namespace, domain), host);
            let mut r = route(name, namespace);
            assert!(assign_host(&mut r, domain));
            assert_eq!(r.spec.host, host);
            assert_eq!(r.metadata.annotations.get(HOST_GENERATED).map(String::as_str), Some("true"));
        }
    }

    #[test]
    fn hosts_are_generated_only_without_host_subdomain_or_wildcard() {
        let mut with_host = route("a", "b");
        with_host.spec.host = "given.example.com".into();
        let mut with_subdomain = route("a", "b");
        with_subdomain.spec.subdomain = "frontend".into();
        let mut wildcard = route("a", "b");
        wildcard.spec.wildcard_policy = WildcardPolicy::Subdomain;
        for mut r in [with_host, with_subdomain, wildcard] {
            let before = r.clone();
            assert!(!assign_host(&mut r, "apps.localhost"));
            assert_eq!(r, before);
        }
    }

    #[test]
    fn long_names_make_a_first_label_over_63_characters() {
        let name = "a".repeat(40);
        let namespace = "n".repeat(30);
        let host = generated_host(&name, &namespace, "apps.localhost");
        let first = host.split('.').next().unwrap();
        assert_eq!(first.len(), 71);
        assert!(dns1123_label_errors(first).iter().any(|e| e == "must be no more than 63 characters"));
        assert!(dns1123_subdomain_errors(&host).is_empty(), "the subdomain rule alone allows it");
    }

    #[test]
    fn dns_labels_and_subdomains() {
        for good in ["a", "a-b", "0", "x1", &"a".repeat(63)] {
            assert!(dns1123_label_errors(good).is_empty(), "{good}");
        }
        for bad in ["", "-a", "a-", "A", "a_b", "a.b", &"a".repeat(64)] {
            assert!(!dns1123_label_errors(bad).is_empty(), "{bad}");
        }
        for good in ["a.b", "www.example.com", "1.2.3.4"] {
            assert!(dns1123_subdomain_errors(good).is_empty(), "{good}");
        }
        for bad in ["", "a..b", ".a", "a.", "Www.example.com", "a b"] {
            assert!(!dns1123_subdomain_errors(bad).is_empty(), "{bad}");
        }
    }

    #[test]
    fn effective_hosts_and_wildcard_keys() {
        let mut r = route("a", "b");
        assert_eq!(effective_host(&r, "apps.localhost"), "");
        r.spec.subdomain = "frontend".into();
        assert_eq!(effective_host(&r, "apps.localhost"), "frontend.apps.localhost");
        r.spec.host = "www.acme.test".into();
        assert_eq!(effective_host(&r, "apps.localhost"), "www.acme.test");
        assert_eq!(wildcard_key("www.acme.test"), "acme.test");
        assert_eq!(wildcard_key("localhost"), "");
    }

    #[test]
    fn request_hosts_are_normalized() {
        for (given, want) in [
            ("WWW.Example.COM", "www.example.com"),
            ("www.example.com:8080", "www.example.com"),
            ("www.example.com.", "www.example.com"),
            ("www.example.com.:443", "www.example.com"),
        ] {
            assert_eq!(normalize_request_host(given), want, "{given}");
        }
    }
}
