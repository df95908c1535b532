//! Route annotations that tune the router (docs/compatibility.md#router-annotations).
//!
//! OpenShift's router ignores a value it cannot use and keeps its default.
//! Here every value is checked: [`parse`] returns the settings it understood,
//! an error for every value that is wrong (validation refuses the route, so a
//! typo never goes unnoticed), and warnings for settings that are valid but
//! have no effect.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::LazyLock;

use crate::validation::FieldError;

/// Backend balancing algorithm.
pub const BALANCE: &str = "haproxy.router.openshift.io/balance";
/// Turns the sticky-session cookie off.
pub const DISABLE_COOKIES: &str = "haproxy.router.openshift.io/disable_cookies";
/// Name of the sticky-session cookie.
pub const COOKIE_NAME: &str = "router.openshift.io/cookie_name";
/// `SameSite` attribute of the secure sticky-session cookie.
pub const COOKIE_SAME_SITE: &str = "router.openshift.io/cookie-same-site";
/// Server timeout (tunnel timeout of passthrough routes without `timeout-tunnel`).
pub const TIMEOUT: &str = "haproxy.router.openshift.io/timeout";
/// Tunnel timeout (websockets, passthrough).
pub const TIMEOUT_TUNNEL: &str = "haproxy.router.openshift.io/timeout-tunnel";
/// Interval of backend health checks.
pub const HEALTH_CHECK_INTERVAL: &str = "router.openshift.io/haproxy.health.check.interval";
/// Source addresses allowed to reach the route.
pub const IP_ALLOWLIST: &str = "haproxy.router.openshift.io/ip_allowlist";
/// Legacy name of [`IP_ALLOWLIST`].
pub const IP_WHITELIST: &str = "haproxy.router.openshift.io/ip_whitelist";
/// Turns per-source rate limiting on.
pub const RATE_LIMIT: &str = "haproxy.router.openshift.io/rate-limit-connections";
/// Most concurrent TCP connections per source address.
pub const RATE_LIMIT_CONCURRENT_TCP: &str = "haproxy.router.openshift.io/rate-limit-connections.concurrent-tcp";
/// Most new TCP connections per source address in 3 s.
pub const RATE_LIMIT_RATE_TCP: &str = "haproxy.router.openshift.io/rate-limit-connections.rate-tcp";
/// Most HTTP requests per source address in 10 s.
pub const RATE_LIMIT_RATE_HTTP: &str = "haproxy.router.openshift.io/rate-limit-connections.rate-http";
/// Most concurrent connections per endpoint.
pub const POD_CONCURRENT_CONNECTIONS: &str = "haproxy.router.openshift.io/pod-concurrent-connections";
/// `Strict-Transport-Security` value for edge and reencrypt routes.
pub const HSTS_HEADER: &str = "haproxy.router.openshift.io/hsts_header";
/// Handling of `X-Forwarded-*` and `Forwarded` headers.
pub const SET_FORWARDED_HEADERS: &str = "haproxy.router.openshift.io/set-forwarded-headers";
/// Replaces the matched path prefix.
pub const REWRITE_TARGET: &str = "haproxy.router.openshift.io/rewrite-target";
/// Applies the router's header-name case adjustments to the route's backend.
pub const H1_ADJUST_CASE: &str = "haproxy.router.openshift.io/h1-adjust-case";
/// Relaxes the API's per-label host check.
pub const ALLOW_NON_DNS_COMPLIANT_HOST: &str = "route.openshift.io/allow-non-dns-compliant-host";
/// Set when the host was generated.
pub const HOST_GENERATED: &str = "openshift.io/host.generated";
/// Pool size of OpenShift's dynamic configuration manager.
pub const POOL_SIZE: &str = "router.openshift.io/pool-size";

/// Annotations OpenShift reads from Ingresses (ingress-to-route), not from routes.
pub const INGRESS_ONLY: [&str; 3] = [
    "route.openshift.io/termination",
    "route.openshift.io/destination-ca-certificate-secret",
    "route.openshift.io/reconcile-labels",
];
/// Set on an IngressController, not on routes.
pub const HARD_STOP_AFTER: &str = "ingress.operator.openshift.io/hard-stop-after";

/// Every route annotation the router reads.
pub const KNOWN: [&str; 22] = [
    BALANCE,
    DISABLE_COOKIES,
    COOKIE_NAME,
    COOKIE_SAME_SITE,
    TIMEOUT,
    TIMEOUT_TUNNEL,
    HEALTH_CHECK_INTERVAL,
    IP_ALLOWLIST,
    IP_WHITELIST,
    RATE_LIMIT,
    RATE_LIMIT_CONCURRENT_TCP,
    RATE_LIMIT_RATE_TCP,
    RATE_LIMIT_RATE_HTTP,
    POD_CONCURRENT_CONNECTIONS,
    HSTS_HEADER,
    SET_FORWARDED_HEADERS,
    REWRITE_TARGET,
    H1_ADJUST_CASE,
    ALLOW_NON_DNS_COMPLIANT_HOST,
    HOST_GENERATED,
    POOL_SIZE,
    HARD_STOP_AFTER,
];

/// Allowlists longer than this go to a file.
pub const ALLOWLIST_INLINE_MAX: usize = 61;
/// HAProxy's largest timeout.
const MAX_TIMEOUT_MS: u64 = 2_147_483_647;

/// The router settings a route's annotations ask for; `None`/`false` keeps
/// the router's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RouteAnnotations {
    /// `haproxy.router.openshift.io/balance`.
    pub balance: Option<Balance>,
    /// `haproxy.router.openshift.io/disable_cookies`.
    pub disable_cookies: bool,
    /// `router.openshift.io/cookie_name`.
    pub cookie_name: Option<String>,
    /// `router.openshift.io/cookie-same-site`.
    pub cookie_same_site: Option<SameSite>,
    /// `haproxy.router.openshift.io/timeout`.
    pub timeout: Option<TimeUnits>,
    /// `haproxy.router.openshift.io/timeout-tunnel`.
    pub timeout_tunnel: Option<TimeUnits>,
    /// `router.openshift.io/haproxy.health.check.interval`.
    pub health_check_interval: Option<TimeUnits>,
    /// Allowed sources: `ip_allowlist`, else `ip_whitelist`.
    pub ip_allowlist: Option<Vec<String>>,
    /// Rate limits, when `rate-limit-connections` is true.
    pub rate_limit: Option<RateLimit>,
    /// `haproxy.router.openshift.io/pod-concurrent-connections` (0: unlimited).
    pub pod_concurrent_connections: Option<u32>,
    /// `haproxy.router.openshift.io/hsts_header`.
    pub hsts_header: Option<String>,
    /// `haproxy.router.openshift.io/set-forwarded-headers`.
    pub set_forwarded_headers: Option<ForwardedHeaders>,
    /// `haproxy.router.openshift.io/rewrite-target`.
    pub rewrite_target: Option<String>,
    /// `haproxy.router.openshift.io/h1-adjust-case`.
    pub h1_adjust_case: bool,
    /// `route.openshift.io/allow-non-dns-compliant-host`.
    pub allow_non_dns_compliant_host: bool,
    /// `openshift.io/host.generated`.
    pub host_generated: bool,
    /// `router.openshift.io/pool-size`.
    pub pool_size: Option<u32>,
}

/// Per-source limits (a stick table of source addresses).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RateLimit {
    /// Reject when a source has this many connections open.
    pub concurrent_tcp: Option<u32>,
    /// Reject when a source opened this many connections in 3 s.
    pub rate_tcp: Option<u32>,
    /// Reject when a source sent this many HTTP requests in 10 s (not for passthrough).
    pub rate_http: Option<u32>,
}

/// Backend balancing algorithms a route may ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Balance {
    /// Each server in turn, by weight.
    RoundRobin,
    /// The server with the fewest connections.
    LeastConn,
    /// A hash of the source address.
    Source,
    /// Random, by weight.
    Random,
}

impl Balance {
    /// HAProxy's name.
    pub fn as_str(self) -> &'static str {
        match self {
            Balance::RoundRobin => "roundrobin",
            Balance::LeastConn => "leastconn",
            Balance::Source => "source",
            Balance::Random => "random",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "roundrobin" => Some(Balance::RoundRobin),
            "leastconn" => Some(Balance::LeastConn),
            "source" => Some(Balance::Source),
            "random" => Some(Balance::Random),
            _ => None,
        }
    }
}

/// `SameSite` of the secure sticky-session cookie.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SameSite {
    /// `Lax`.
    Lax,
    /// `Strict`.
    Strict,
    /// `None`.
    None,
}

impl SameSite {
    /// The attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            SameSite::Lax => "Lax",
            SameSite::Strict => "Strict",
            SameSite::None => "None",
        }
    }
}

/// How the router sets `X-Forwarded-*` and `Forwarded`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForwardedHeaders {
    /// Add to what the client sent.
    #[default]
    Append,
    /// Replace what the client sent.
    Replace,
    /// Set only the headers the client did not send.
    IfNone,
    /// Leave them alone.
    Never,
}

impl ForwardedHeaders {
    /// The annotation value.
    pub fn as_str(self) -> &'static str {
        match self {
            ForwardedHeaders::Append => "append",
            ForwardedHeaders::Replace => "replace",
            ForwardedHeaders::IfNone => "if-none",
            ForwardedHeaders::Never => "never",
        }
    }

    /// Reads an annotation value.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "append" => Some(ForwardedHeaders::Append),
            "replace" => Some(ForwardedHeaders::Replace),
            "if-none" => Some(ForwardedHeaders::IfNone),
            "never" => Some(ForwardedHeaders::Never),
            _ => None,
        }
    }
}

/// A duration as the router writes timeouts: `[1-9][0-9]*(us|ms|s|m|h|d)?`,
/// no unit meaning milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeUnits {
    /// The number.
    pub value: u64,
    /// The unit.
    pub unit: TimeUnit,
}

/// Units of [`TimeUnits`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeUnit {
    /// Microseconds.
    Microseconds,
    /// Milliseconds (also no unit).
    Milliseconds,
    /// Seconds.
    Seconds,
    /// Minutes.
    Minutes,
    /// Hours.
    Hours,
    /// Days.
    Days,
}

impl TimeUnit {
    fn suffix(self) -> &'static str {
        match self {
            TimeUnit::Microseconds => "us",
            TimeUnit::Milliseconds => "ms",
            TimeUnit::Seconds => "s",
            TimeUnit::Minutes => "m",
            TimeUnit::Hours => "h",
            TimeUnit::Days => "d",
        }
    }

    fn micros(self) -> u64 {
        match self {
            TimeUnit::Microseconds => 1,
            TimeUnit::Milliseconds => 1_000,
            TimeUnit::Seconds => 1_000_000,
            TimeUnit::Minutes => 60_000_000,
            TimeUnit::Hours => 3_600_000_000,
            TimeUnit::Days => 86_400_000_000,
        }
    }
}

impl TimeUnits {
    /// A duration.
    pub fn new(value: u64, unit: TimeUnit) -> Self {
        TimeUnits { value, unit }
    }

    /// Reads `[1-9][0-9]*(us|ms|s|m|h|d)?`.
    pub fn parse(text: &str) -> Option<Self> {
        let digits = text.bytes().take_while(u8::is_ascii_digit).count();
        let (number, suffix) = text.split_at(digits);
        if number.is_empty() || number.starts_with('0') {
            return None;
        }
        let unit = match suffix {
            "" | "ms" => TimeUnit::Milliseconds,
            "us" => TimeUnit::Microseconds,
            "s" => TimeUnit::Seconds,
            "m" => TimeUnit::Minutes,
            "h" => TimeUnit::Hours,
            "d" => TimeUnit::Days,
            _ => return None,
        };
        Some(TimeUnits { value: number.parse().ok()?, unit })
    }

    /// The duration.
    pub fn as_duration(self) -> std::time::Duration {
        std::time::Duration::from_micros(self.value.saturating_mul(self.unit.micros()))
    }

    /// As HAProxy takes it: values above its maximum become `2147483647ms`.
    pub(crate) fn to_haproxy(self) -> String {
        let millis = self.value.saturating_mul(self.unit.micros()) / 1_000;
        if millis > MAX_TIMEOUT_MS { format!("{MAX_TIMEOUT_MS}ms") } else { self.to_string() }
    }
}

impl fmt::Display for TimeUnits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.value, self.unit.suffix())
    }
}

/// What [`parse`] makes of a route's annotations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedAnnotations {
    /// The settings.
    pub settings: RouteAnnotations,
    /// Values that are wrong.
    pub errors: Vec<FieldError>,
    /// Settings that are valid but have no effect.
    pub warnings: Vec<String>,
}

/// Go's `strconv.ParseBool`, which the router uses.
fn parse_bool(text: &str) -> Option<bool> {
    match text {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

static HSTS: LazyLock<regex::Regex> = LazyLock::new(|| {
    let token = "(?:includeSubDomains|preload)";
    regex::Regex::new(&format!(r#"(?i)^(?:{token}\s*;\s*)*max-age\s*=\s*(?:\d+|"\d+")(?:\s*;\s*{token})*$"#))
        .expect("the HSTS grammar is a valid regex")
});

/// Reads the router annotations of a route.
pub fn parse(annotations: &BTreeMap<String, String>) -> ParsedAnnotations {
    let mut parsed = ParsedAnnotations::default();
    let settings = &mut parsed.settings;
    let errors = &mut parsed.errors;
    let field = |key: &str| format!("metadata.annotations[{key}]");
    let invalid = |errors: &mut Vec<FieldError>, key: &str, value: &str, detail: &str| {
        errors.push(FieldError::invalid(field(key), value, detail));
    };
    let get = |key: &str| annotations.get(key).map(String::as_str);
    let boolean = |errors: &mut Vec<FieldError>, key: &str| -> bool {
        match get(key) {
            None => false,
            Some(value) => parse_bool(value).unwrap_or_else(|| {
                errors.push(FieldError::invalid(
                    field(key),
                    value,
                    "must be true or false (also 1/0, t/f, TRUE/FALSE)",
                ));
                false
            }),
        }
    };
    let count = |errors: &mut Vec<FieldError>, key: &str| -> Option<u32> {
        let value = get(key)?;
        match value.parse::<u32>() {
            Ok(number) if i32::try_from(number).is_ok() => Some(number),
            _ => {
                errors.push(FieldError::invalid(field(key), value, "must be a whole number, 0 or more"));
                None
            }
        }
    };
    let time = |errors: &mut Vec<FieldError>, key: &str| -> Option<TimeUnits> {
        let value = get(key)?;
        let parsed = TimeUnits::parse(value);
        if parsed.is_none() {
            errors.push(FieldError::invalid(
                field(key),
                value,
                "must be a duration like 30s, 500ms, 5m, 1h or 2d (a number from 1 up, then us, ms, s, m, h or d; no unit means ms)",
            ));
        }
        parsed
    };

    if let Some(value) = get(BALANCE) {
        settings.balance = Balance::parse(value);
        if settings.balance.is_none() {
            invalid(errors, BALANCE, value, "must be one of roundrobin, leastconn, source, random");
        }
    }
    settings.disable_cookies = boolean(errors, DISABLE_COOKIES);
    if let Some(value) = get(COOKIE_NAME) {
        if !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') {
            settings.cookie_name = Some(value.to_owned());
        } else {
            invalid(errors, COOKIE_NAME, value, "must be letters, digits, '_' and '-' only ([a-zA-Z0-9_-]+)");
        }
    }
    if let Some(value) = get(COOKIE_SAME_SITE) {
        settings.cookie_same_site = match value {
            "Lax" => Some(SameSite::Lax),
            "Strict" => Some(SameSite::Strict),
            "None" => Some(SameSite::None),
            _ => {
                invalid(errors, COOKIE_SAME_SITE, value, "must be Lax, Strict or None");
                None
            }
        };
    }
    settings.timeout = time(errors, TIMEOUT);
    settings.timeout_tunnel = time(errors, TIMEOUT_TUNNEL);
    settings.health_check_interval = time(errors, HEALTH_CHECK_INTERVAL);

    let allowlist = get(IP_ALLOWLIST).map(|value| (IP_ALLOWLIST, value));
    let whitelist = get(IP_WHITELIST).map(|value| (IP_WHITELIST, value));
    for (key, value) in allowlist.into_iter().chain(whitelist) {
        let entries = parse_allowlist(value);
        match entries {
            Ok(entries) if settings.ip_allowlist.is_none() => settings.ip_allowlist = Some(entries),
            Ok(_) => parsed.warnings.push(format!("{IP_WHITELIST} is ignored: {IP_ALLOWLIST} takes precedence")),
            Err(detail) => invalid(errors, key, value, &detail),
        }
    }

    let limited = boolean(errors, RATE_LIMIT);
    let limits = RateLimit {
        concurrent_tcp: count(errors, RATE_LIMIT_CONCURRENT_TCP),
        rate_tcp: count(errors, RATE_LIMIT_RATE_TCP),
        rate_http: count(errors, RATE_LIMIT_RATE_HTTP),
    };
    if limited {
        settings.rate_limit = Some(limits);
    } else {
        for key in [RATE_LIMIT_CONCURRENT_TCP, RATE_LIMIT_RATE_TCP, RATE_LIMIT_RATE_HTTP] {
            if annotations.contains_key(key) {
                parsed.warnings.push(format!("{key} has no effect unless {RATE_LIMIT} is \"true\""));
            }
        }
    }
    settings.pod_concurrent_connections = count(errors, POD_CONCURRENT_CONNECTIONS);
    if let Some(value) = get(HSTS_HEADER) {
        if HSTS.is_match(value) {
            settings.hsts_header = Some(value.to_owned());
        } else {
            invalid(
                errors,
                HSTS_HEADER,
                value,
                "must be max-age=<seconds>, optionally with ;includeSubDomains and ;preload",
            );
        }
    }
    if let Some(value) = get(SET_FORWARDED_HEADERS) {
        settings.set_forwarded_headers = ForwardedHeaders::parse(value);
        if settings.set_forwarded_headers.is_none() {
            invalid(errors, SET_FORWARDED_HEADERS, value, "must be one of append, replace, if-none, never");
        }
    }
    if let Some(value) = get(REWRITE_TARGET) {
        if !value.starts_with('/') {
            invalid(errors, REWRITE_TARGET, value, "must be a path starting with /");
        } else if value.contains(|c: char| c.is_whitespace() || c.is_control() || "'\"\\#%".contains(c)) {
            invalid(errors, REWRITE_TARGET, value, "must not contain whitespace, quotes, backslashes, # or %");
        } else {
            settings.rewrite_target = Some(value.to_owned());
        }
    }
    settings.h1_adjust_case = boolean(errors, H1_ADJUST_CASE);
    if let Some(value) = get(ALLOW_NON_DNS_COMPLIANT_HOST) {
        match value {
            "true" => settings.allow_non_dns_compliant_host = true,
            "false" => {}
            _ => invalid(errors, ALLOW_NON_DNS_COMPLIANT_HOST, value, "must be \"true\" or \"false\""),
        }
    }
    if let Some(value) = get(HOST_GENERATED) {
        match value {
            "true" => settings.host_generated = true,
            "false" => {}
            _ => invalid(errors, HOST_GENERATED, value, "must be \"true\" or \"false\""),
        }
    }
    for key in annotations.keys() {
        let router_prefix = key.starts_with("haproxy.router.openshift.io/") || key.starts_with("router.openshift.io/");
        if INGRESS_ONLY.contains(&key.as_str()) {
            parsed
                .warnings
                .push(format!("{key} has no effect on a route: OpenShift reads it from Ingresses (ingress-to-route)"));
        } else if key == HARD_STOP_AFTER {
            parsed.warnings.push(format!(
                "{key} has no effect on a route: it is set on an IngressController (s2i: the router's hard-stop-after setting)"
            ));
        } else if router_prefix && !KNOWN.contains(&key.as_str()) {
            parsed.warnings.push(format!("{key} is not an annotation the router knows; it is ignored (a typo?)"));
        }
    }
    settings.pool_size = count(errors, POOL_SIZE);
    if settings.pool_size.is_some() {
        parsed.warnings.push(format!(
            "{POOL_SIZE} has no effect: it sizes OpenShift's dynamic configuration manager, which s2i's router does not have"
        ));
    }
    parsed
}

/// Space-separated IPv4/IPv6 addresses and CIDRs.
fn parse_allowlist(value: &str) -> Result<Vec<String>, String> {
    if value.trim() != value {
        return Err("must not start or end with whitespace (OpenShift ignores such a list entirely)".to_owned());
    }
    if value.is_empty() {
        return Err("must list at least one address or CIDR, separated by spaces".to_owned());
    }
    let mut entries = Vec::new();
    for entry in value.split(' ').filter(|entry| !entry.is_empty()) {
        let (address, prefix) = match entry.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (entry, None),
        };
        let Ok(ip) = address.parse::<IpAddr>() else {
            return Err(format!(
                "{entry:?} is not an IPv4/IPv6 address or CIDR; separate entries with single spaces, not commas"
            ));
        };
        if let Some(prefix) = prefix {
            let max = if ip.is_ipv4() { 32 } else { 128 };
            if !prefix.parse::<u8>().is_ok_and(|bits| bits <= max) {
                return Err(format!("{entry:?} has a prefix length that is not a number from 0 to {max}"));
            }
        }
        entries.push(entry.to_owned());
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_one(key: &str, value: &str) -> ParsedAnnotations {
        parse(&BTreeMap::from([(key.to_owned(), value.to_owned())]))
    }

    #[test]
    fn time_units_follow_the_router_grammar_and_are_clipped() {
        // (text, parses, haproxy form)
        let table = [
            ("30s", Some("30s")),
            ("500", Some("500ms")),
            ("500ms", Some("500ms")),
            ("100us", Some("100us")),
            ("5m", Some("5m")),
            ("2h", Some("2h")),
            ("1d", Some("1d")),
            ("25d", Some("2147483647ms")),
            ("0", None),
            ("05s", None),
            ("-1s", None),
            ("5 s", None),
            ("5sec", None),
            ("", None),
            ("1.5s", None),
        ];
        for (text, want) in table {
            assert_eq!(TimeUnits::parse(text).map(TimeUnits::to_haproxy).as_deref(), want, "{text}");
        }
        assert_eq!(TimeUnits::parse("90s").unwrap().as_duration(), std::time::Duration::from_secs(90));
    }

    #[test]
    fn every_annotation_is_parsed() {
        let annotations: BTreeMap<String, String> = [
            (BALANCE, "leastconn"),
            (DISABLE_COOKIES, "T"),
            (COOKIE_NAME, "my_cookie-1"),
            (COOKIE_SAME_SITE, "Strict"),
            (TIMEOUT, "60s"),
            (TIMEOUT_TUNNEL, "1h"),
            (HEALTH_CHECK_INTERVAL, "2s"),
            (IP_ALLOWLIST, "10.0.0.0/8 192.168.1.7 ::1 fd00::/8"),
            (RATE_LIMIT, "true"),
            (RATE_LIMIT_CONCURRENT_TCP, "10"),
            (RATE_LIMIT_RATE_TCP, "20"),
            (RATE_LIMIT_RATE_HTTP, "30"),
            (POD_CONCURRENT_CONNECTIONS, "5"),
            (HSTS_HEADER, "max-age=31536000;includeSubDomains;preload"),
            (SET_FORWARDED_HEADERS, "if-none"),
            (REWRITE_TARGET, "/api/"),
            (H1_ADJUST_CASE, "1"),
            (ALLOW_NON_DNS_COMPLIANT_HOST, "true"),
            (HOST_GENERATED, "true"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let parsed = parse(&annotations);
        assert_eq!(parsed.errors, []);
        assert_eq!(parsed.warnings, Vec::<String>::new());
        let s = parsed.settings;
        assert_eq!(s.balance, Some(Balance::LeastConn));
        assert!(s.disable_cookies);
        assert_eq!(s.cookie_name.as_deref(), Some("my_cookie-1"));
        assert_eq!(s.cookie_same_site, Some(SameSite::Strict));
        assert_eq!(s.timeout.map(|t| t.to_string()).as_deref(), Some("60s"));
        assert_eq!(s.timeout_tunnel.map(|t| t.to_string()).as_deref(), Some("1h"));
        assert_eq!(s.health_check_interval.map(|t| t.to_string()).as_deref(), Some("2s"));
        assert_eq!(s.ip_allowlist.unwrap(), ["10.0.0.0/8", "192.168.1.7", "::1", "fd00::/8"]);
        assert_eq!(s.rate_limit, Some(RateLimit { concurrent_tcp: Some(10), rate_tcp: Some(20), rate_http: Some(30) }));
        assert_eq!(s.pod_concurrent_connections, Some(5));
        assert_eq!(s.hsts_header.as_deref(), Some("max-age=31536000;includeSubDomains;preload"));
        assert_eq!(s.set_forwarded_headers, Some(ForwardedHeaders::IfNone));
        assert_eq!(s.rewrite_target.as_deref(), Some("/api/"));
        assert!(s.h1_adjust_case && s.allow_non_dns_compliant_host && s.host_generated);
    }

    #[test]
    fn invalid_values_are_errors_naming_the_annotation() {
        // (annotation, value, part of the message)
        let table = [
            (BALANCE, "fastest", "roundrobin, leastconn"),
            (DISABLE_COOKIES, "yes", "true or false"),
            (COOKIE_NAME, "my cookie", "[a-zA-Z0-9_-]+"),
            (COOKIE_SAME_SITE, "lax", "Lax, Strict or None"),
            (TIMEOUT, "5 s", "duration like 30s"),
            (TIMEOUT_TUNNEL, "0", "duration like 30s"),
            (HEALTH_CHECK_INTERVAL, "soon", "duration like 30s"),
            (IP_ALLOWLIST, "10.0.0.1,10.0.0.2", "not commas"),
            (IP_ALLOWLIST, " 10.0.0.1", "whitespace"),
            (IP_WHITELIST, "10.0.0.0/33", "prefix length"),
            (RATE_LIMIT, "on", "true or false"),
            (RATE_LIMIT_CONCURRENT_TCP, "-1", "whole number"),
            (POD_CONCURRENT_CONNECTIONS, "many", "whole number"),
            (HSTS_HEADER, "includeSubDomains", "max-age="),
            (SET_FORWARDED_HEADERS, "always", "append, replace"),
            (REWRITE_TARGET, "api", "starting with /"),
            (REWRITE_TARGET, "/a b", "whitespace"),
            (H1_ADJUST_CASE, "maybe", "true or false"),
            (ALLOW_NON_DNS_COMPLIANT_HOST, "yes", "\"true\""),
            (POOL_SIZE, "x", "whole number"),
        ];
        for (key, value, needle) in table {
            let parsed = parse_one(key, value);
            assert_eq!(parsed.errors.len(), 1, "{key}={value:?}: {:?}", parsed.errors);
            let message = parsed.errors[0].to_string();
            assert!(
                message.starts_with(&format!("metadata.annotations[{key}]: Invalid value: {value:?}: ")),
                "{message}"
            );
            assert!(message.contains(needle), "{key}={value:?}: {message}");
        }
    }

    #[test]
    fn hsts_tokens_in_any_order_any_case_and_quoted_max_age() {
        for good in
            ["max-age=0", "MAX-AGE = \"300\"", "preload; max-age=1 ;includesubdomains", "includeSubDomains;max-age=5"]
        {
            assert!(parse_one(HSTS_HEADER, good).errors.is_empty(), "{good}");
        }
        for bad in ["max-age", "max-age=abc", "max-age=1;bogus", ""] {
            assert!(!parse_one(HSTS_HEADER, bad).errors.is_empty(), "{bad}");
        }
    }

    #[test]
    fn unknown_and_misplaced_annotations_warn() {
        let annotations: BTreeMap<String, String> = [
            ("haproxy.router.openshift.io/timout", "5s"),
            ("route.openshift.io/termination", "edge"),
            (HARD_STOP_AFTER, "1h"),
            ("example.com/owner", "me"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        let parsed = parse(&annotations);
        assert_eq!(parsed.errors, []);
        let warnings = parsed.warnings.join("\n");
        assert!(
            warnings.contains("haproxy.router.openshift.io/timout is not an annotation the router knows"),
            "{warnings}"
        );
        assert!(warnings.contains("route.openshift.io/termination has no effect on a route"), "{warnings}");
        assert!(warnings.contains("hard-stop-after has no effect on a route"), "{warnings}");
        assert!(!warnings.contains("example.com"), "other annotations are not the router's business");
    }

    #[test]
    fn allowlist_wins_over_whitelist_and_ineffective_settings_warn() {
        let annotations: BTreeMap<String, String> =
            [(IP_ALLOWLIST, "10.0.0.1"), (IP_WHITELIST, "10.0.0.2"), (RATE_LIMIT_RATE_HTTP, "5"), (POOL_SIZE, "3")]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        let parsed = parse(&annotations);
        assert_eq!(parsed.errors, []);
        assert_eq!(parsed.settings.ip_allowlist.unwrap(), ["10.0.0.1"]);
        assert_eq!(parsed.settings.rate_limit, None);
        assert_eq!(parsed.warnings.len(), 3, "{:?}", parsed.warnings);
        assert!(parsed.warnings[0].contains("ip_whitelist is ignored"));
        assert!(parsed.warnings[1].contains("has no effect unless"));
        assert!(parsed.warnings[2].contains("dynamic configuration manager"));
    }
}
