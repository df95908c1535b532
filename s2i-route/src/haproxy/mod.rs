//! The OpenShift router's HAProxy configuration, rendered from admitted
//! routes and resolved endpoints (docs/compatibility.md#haproxy-layout).
//!
//! [`render`] returns every file of a router directory, laid out as
//! OpenShift's router lays out `/var/lib/haproxy`:
//!
//! ```text
//! haproxy.cfg                      global, defaults, stats, frontends, one backend per route
//! conf/default.pem                 the default certificate (key + certificate)
//! conf/os_http_be.map              host+path regex → backend, plain-HTTP port
//! conf/os_edge_reencrypt_be.map    host+path regex → backend, after TLS termination
//! conf/os_route_http_redirect.map  host+path regex → 1 (Redirect) or 0
//! conf/os_tcp_be.map               SNI regex → passthrough backend (OpenShift also lists
//!                                  path-less reencrypt routes there, unused except that a
//!                                  wildcard passthrough route's SNI would then pick them: left out)
//! conf/os_sni_passthrough.map      SNI regex → 1, for passthrough routes
//! conf/os_wildcard_domain.map      wildcard host regex → 1
//! conf/cert_config.map             crt-list: route certificate → SNI filter
//! router/certs/<ns>:<name>.pem     key + certificate + CA chain of a route
//! router/cacerts/<ns>:<name>.pem   destination CA of a reencrypt route
//! router/allowlists/<ns>:<name>.txt  source allowlists longer than 61 entries
//! run/                             sockets, created when HAProxy runs
//! ```
//!
//! Frontends: `public` (plain HTTP), `public_ssl` (TLS, routed by SNI:
//! passthrough straight to the endpoints, otherwise on to `fe_sni` or, without
//! SNI, `fe_no_sni`, which terminate TLS), and `stats` (with `/healthz`).
//! Paths inside the files are relative to the directory, so the same inputs
//! give the same bytes wherever the directory is; run HAProxy from it
//! (`cd DIR && haproxy -f haproxy.cfg`), as `router::Router` does.

pub mod maps;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::Path;

use md5::{Digest, Md5};

use crate::admission::AdmittedRoute;
use crate::annotations::{ALLOWLIST_INLINE_MAX, Balance, ForwardedHeaders, TimeUnit, TimeUnits};
use crate::error::Error;
use crate::route::{InsecureEdgeTerminationPolicy, TlsTermination};
use crate::service::{EndpointSource, ResolvedEndpoint, ServiceEndpoints};
use maps::{host_path_key, sni_key, sort_map_lines};

/// The main configuration file.
pub const CONFIG_FILE: &str = "haproxy.cfg";
/// The default certificate.
pub const DEFAULT_CERTIFICATE_FILE: &str = "conf/default.pem";
/// Where HAProxy's sockets go.
pub const RUN_DIR: &str = "run";

const HTTP_MAP: &str = "conf/os_http_be.map";
const TERMINATED_MAP: &str = "conf/os_edge_reencrypt_be.map";
const REDIRECT_MAP: &str = "conf/os_route_http_redirect.map";
const TCP_MAP: &str = "conf/os_tcp_be.map";
const SNI_MAP: &str = "conf/os_sni_passthrough.map";
const WILDCARD_MAP: &str = "conf/os_wildcard_domain.map";
const CERT_LIST: &str = "conf/cert_config.map";
const SNI_SOCKET: &str = "run/haproxy-sni.sock";
const NO_SNI_SOCKET: &str = "run/haproxy-no-sni.sock";
const MANAGED_DIRS: [&str; 4] = ["conf", "router/certs", "router/cacerts", "router/allowlists"];
/// Mozilla's "intermediate" cipher list, the router's default.
const CIPHERS: &str = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384";

/// Router-wide timeouts (the router's `ROUTER_*_TIMEOUT` settings).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Connecting to an endpoint (5s).
    pub connect: TimeUnits,
    /// Client inactivity (30s).
    pub client: TimeUnits,
    /// Client half-closed (1s).
    pub client_fin: TimeUnits,
    /// Endpoint inactivity (30s); routes override it with `timeout`.
    pub server: TimeUnits,
    /// Endpoint half-closed (1s).
    pub server_fin: TimeUnits,
    /// Receiving a whole request (10s).
    pub http_request: TimeUnits,
    /// Idle keep-alive connection (300s).
    pub http_keep_alive: TimeUnits,
    /// Websocket and passthrough tunnels (1h); routes override it with `timeout-tunnel`.
    pub tunnel: TimeUnits,
    /// Waiting for the TLS ClientHello or the HTTP request line (5s).
    pub inspect_delay: TimeUnits,
}

impl Default for Timeouts {
    fn default() -> Self {
        let seconds = |value| TimeUnits::new(value, TimeUnit::Seconds);
        Timeouts {
            connect: seconds(5),
            client: seconds(30),
            client_fin: seconds(1),
            server: seconds(30),
            server_fin: seconds(1),
            http_request: seconds(10),
            http_keep_alive: seconds(300),
            tunnel: TimeUnits::new(1, TimeUnit::Hours),
            inspect_delay: seconds(5),
        }
    }
}

/// Router-wide settings; made with [`RouterConfig::new`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RouterConfig {
    /// Address every listener binds to (loopback by default).
    pub bind_address: IpAddr,
    /// The plain-HTTP port (OpenShift: 80).
    pub http_port: u16,
    /// The TLS port (OpenShift: 443).
    pub https_port: u16,
    /// The stats page and `/healthz`; none when `None`.
    pub stats_port: Option<u16>,
    /// Served when no route certificate matches the SNI: key and certificate, PEM.
    pub default_certificate: String,
    /// Timeouts.
    pub timeouts: Timeouts,
    /// Most connections at once (`maxconn`; HAProxy needs about twice as
    /// many file descriptors, so keep it under half of `ulimit -Hn`).
    pub max_connections: u32,
    /// HAProxy threads; HAProxy's own choice when `None`.
    pub threads: Option<u32>,
    /// Balancing of HTTP backends with one active service (`random`).
    pub load_balance_algorithm: Balance,
    /// Balancing of passthrough backends with one active service (`source`).
    pub tcp_balance_scheme: Balance,
    /// Sticky-session cookie name; a hash of the route's key when `None`.
    pub cookie_name: Option<String>,
    /// How `X-Forwarded-*` headers are set unless a route says otherwise.
    pub set_forwarded_headers: ForwardedHeaders,
    /// Header names whose case HTTP/1 backends that ask for it
    /// (`h1-adjust-case`) get exactly as written here (e.g. `X-Forwarded-For`).
    pub header_case_adjustments: Vec<String>,
    /// No HTTP/2 (no `h2` ALPN) towards clients or reencrypt endpoints.
    pub disable_http2: bool,
    /// Refuse TLS clients whose SNI matches no certificate.
    pub strict_sni: bool,
    /// Longest time old processes may finish their connections after a reload.
    pub hard_stop_after: Option<TimeUnits>,
    /// Health-check interval of endpoints (when a route has more than one).
    pub backend_check_interval: TimeUnits,
}

impl RouterConfig {
    /// Defaults for a laptop: loopback, HTTP on 9080, HTTPS on 9443, stats on
    /// 1936, 2000 connections (OpenShift: ports 80/443, 20000 connections).
    pub fn new(default_certificate: String) -> Self {
        RouterConfig {
            bind_address: IpAddr::from([127, 0, 0, 1]),
            http_port: 9080,
            https_port: 9443,
            stats_port: Some(1936),
            default_certificate,
            timeouts: Timeouts::default(),
            max_connections: 2000,
            threads: None,
            load_balance_algorithm: Balance::Random,
            tcp_balance_scheme: Balance::Source,
            cookie_name: None,
            set_forwarded_headers: ForwardedHeaders::Append,
            header_case_adjustments: Vec::new(),
            disable_http2: false,
            strict_sni: false,
            hard_stop_after: None,
            backend_check_interval: TimeUnits::new(5000, TimeUnit::Milliseconds),
        }
    }
}

/// One rendered file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedFile {
    /// Its text.
    pub contents: String,
    /// Whether it holds a private key (written readable by the owner only).
    pub secret: bool,
}

/// Every file of a router directory, by path relative to it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RenderedConfig {
    /// The files.
    pub files: BTreeMap<String, RenderedFile>,
    /// Things the router will do that a user may not expect (a route
    /// without endpoints answers 503, …).
    pub warnings: Vec<String>,
}

impl RenderedConfig {
    /// `haproxy.cfg`.
    pub fn haproxy_cfg(&self) -> &str {
        self.files.get(CONFIG_FILE).map_or("", |file| file.contents.as_str())
    }

    /// A file's text.
    pub fn file(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(|file| file.contents.as_str())
    }

    /// Writes the files into `dir` (created if needed): only files whose
    /// contents differ are rewritten (atomically), files of earlier renders
    /// that are no longer wanted are removed, and `run/` is created. Returns
    /// whether anything changed.
    pub fn write_to(&self, dir: &Path) -> Result<bool, Error> {
        let io = |action: &'static str, path: &Path| {
            let path = path.to_owned();
            move |source| Error::Io { action, path, source }
        };
        let mut changed = false;
        for sub in MANAGED_DIRS.iter().chain(&[RUN_DIR]) {
            let path = dir.join(sub);
            std::fs::create_dir_all(&path).map_err(io("create the directory", &path))?;
        }
        for (relative, file) in &self.files {
            let path = dir.join(relative);
            if std::fs::read(&path).is_ok_and(|existing| existing == file.contents.as_bytes()) {
                continue;
            }
            let temporary = path.with_extension("s2i-tmp");
            write_file(&temporary, file).map_err(io("write", &temporary))?;
            std::fs::rename(&temporary, &path).map_err(io("replace", &path))?;
            changed = true;
        }
        for sub in MANAGED_DIRS {
            let path = dir.join(sub);
            for entry in std::fs::read_dir(&path).map_err(io("list", &path))? {
                let entry = entry.map_err(io("list", &path))?;
                let relative = format!("{sub}/{}", entry.file_name().to_string_lossy());
                if entry.file_type().map_err(io("inspect", &entry.path()))?.is_file()
                    && !self.files.contains_key(&relative)
                {
                    std::fs::remove_file(entry.path()).map_err(io("remove", &entry.path()))?;
                    changed = true;
                }
            }
        }
        Ok(changed)
    }
}

fn write_file(path: &Path, file: &RenderedFile) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mode = if file.secret { 0o600 } else { 0o644 };
    let mut handle = std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(mode).open(path)?;
    handle.write_all(file.contents.as_bytes())?;
    handle.sync_all()
}

/// HAProxy's single-quoted string: nothing inside is interpreted; a quote is
/// closed, escaped and reopened.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

fn md5_hex(text: &str) -> String {
    hex::encode(Md5::digest(text.as_bytes()))
}

/// The backend name prefix of a termination.
pub(crate) fn backend_prefix(termination: Option<TlsTermination>) -> &'static str {
    match termination {
        None => "be_http",
        Some(TlsTermination::Edge) => "be_edge_http",
        Some(TlsTermination::Reencrypt) => "be_secure",
        Some(TlsTermination::Passthrough) => "be_tcp",
    }
}

/// `<prefix>:<namespace>:<name>`.
pub fn backend_name(route: &AdmittedRoute) -> String {
    let key = route.key();
    format!("{}:{}:{}", backend_prefix(route.route.termination()), key.namespace, key.name)
}

/// `<namespace>:<name>`: the route's key in file names.
fn file_key(route: &AdmittedRoute) -> String {
    let key = route.key();
    format!("{}:{}", key.namespace, key.name)
}

/// A server of a backend.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightedEndpoint {
    /// HAProxy's server name: `pod:<container>:<svc>:<port name>:<ip>:<port>`,
    /// or `ept:<svc>:<port name>:<ip>:<port>` for fixed endpoints.
    pub id: String,
    /// The endpoint.
    pub endpoint: ResolvedEndpoint,
    /// Its weight, 0 to 256.
    pub weight: u32,
}

/// The servers of a route's backend with their weights: with one
/// service that has endpoints and weight, each of its endpoints gets 1;
/// otherwise each endpoint gets its service's weight over the service's
/// endpoint count, scaled so the largest becomes 256 (a positive weight never
/// becomes 0). Endpoints are those serving the route's target port; the
/// second value is a warning when weights lost precision.
pub fn endpoint_weights(
    route: &AdmittedRoute,
    endpoints: &ServiceEndpoints,
) -> (Vec<WeightedEndpoint>, Option<String>) {
    let namespace = &route.route.metadata.namespace;
    let target = route.route.spec.port.as_ref().map(|port| &port.target_port);
    let services: Vec<(&str, i32, Vec<&ResolvedEndpoint>)> = route
        .route
        .backends()
        .map(|backend| {
            let matching = endpoints
                .get(namespace, &backend.name)
                .unwrap_or_default()
                .iter()
                .filter(|endpoint| endpoint.serves(target))
                .collect();
            (backend.name.as_str(), backend.weight, matching)
        })
        .collect();
    let active: Vec<usize> =
        (0..services.len()).filter(|&index| services[index].1 > 0 && !services[index].2.is_empty()).collect();
    let max_share = services
        .iter()
        .filter(|(_, weight, list)| *weight > 0 && !list.is_empty())
        .map(|(_, weight, list)| f64::from(*weight) / list.len() as f64)
        .fold(0.0, f64::max);
    let mut lost_precision = false;
    let mut servers = Vec::new();
    for (index, (service, weight, list)) in services.iter().enumerate() {
        for endpoint in list {
            let weight = if active.len() == 1 {
                u32::from(active[0] == index)
            } else if *weight <= 0 || max_share == 0.0 {
                0
            } else {
                let scaled = (f64::from(*weight) / list.len() as f64 * 256.0 / max_share) as u32;
                if scaled == 0 {
                    lost_precision = true;
                    1
                } else {
                    scaled
                }
            };
            let port_name = &endpoint.port_name;
            let id = match &endpoint.source {
                EndpointSource::Container(container) => {
                    format!("pod:{container}:{service}:{port_name}:{}:{}", endpoint.address, endpoint.port)
                }
                EndpointSource::Fixed => format!("ept:{service}:{port_name}:{}:{}", endpoint.address, endpoint.port),
            };
            servers.push(WeightedEndpoint { id, endpoint: (*endpoint).clone(), weight });
        }
    }
    let warning = lost_precision
        .then(|| format!("route {}: some endpoint weights were rounded up to 1; the split is not exact", route.key()));
    (servers, warning)
}

/// Renders the router's files; see the [module docs](self).
pub fn render(
    admitted: &[AdmittedRoute],
    endpoints: &ServiceEndpoints,
    config: &RouterConfig,
) -> Result<RenderedConfig, Error> {
    check_default_certificate(&config.default_certificate)?;
    let mut rendered = RenderedConfig::default();
    let mut maps: BTreeMap<&str, Vec<String>> =
        [HTTP_MAP, TERMINATED_MAP, REDIRECT_MAP, TCP_MAP, SNI_MAP, WILDCARD_MAP, CERT_LIST]
            .map(|map| (map, Vec::new()))
            .into();
    let mut backends = String::new();

    let mut certificate_users: BTreeMap<&str, usize> = BTreeMap::new();
    for route in admitted {
        if let Some(serving) = route.tls.as_ref().and_then(|tls| tls.serving.as_ref()) {
            *certificate_users.entry(serving.pem.as_str()).or_default() += 1;
        }
    }

    for route in admitted {
        let spec = &route.route.spec;
        let wildcard = route.route.is_wildcard();
        let termination = route.route.termination();
        let policy = route.route.insecure_policy();
        let backend = backend_name(route);
        let key = host_path_key(&route.host, &spec.path, wildcard);
        let mut add = |map: &'static str, line: String| maps.get_mut(map).expect("every map is listed").push(line);

        let redirect = u8::from(policy == InsecureEdgeTerminationPolicy::Redirect);
        add(REDIRECT_MAP, format!("{key} {redirect}"));
        match termination {
            None => add(HTTP_MAP, format!("{key} {backend}")),
            Some(TlsTermination::Edge | TlsTermination::Reencrypt) => {
                add(TERMINATED_MAP, format!("{key} {backend}"));
                if policy == InsecureEdgeTerminationPolicy::Allow {
                    add(HTTP_MAP, format!("{key} {backend}"));
                }
            }
            Some(TlsTermination::Passthrough) => {
                add(TCP_MAP, format!("{} {backend}", host_path_key(&route.host, "", wildcard)));
                add(SNI_MAP, format!("{} 1", sni_key(&route.host, wildcard)));
            }
        }
        if wildcard {
            add(WILDCARD_MAP, format!("{} 1", host_path_key(&route.host, "", true)));
        }
        if let Some(tls) = &route.tls {
            if let Some(serving) = &tls.serving {
                let path = format!("router/certs/{}.pem", file_key(route));
                let filter =
                    if wildcard { format!("*.{}", crate::host::wildcard_key(&route.host)) } else { route.host.clone() };
                let alpn =
                    if config.disable_http2 || certificate_users.get(serving.pem.as_str()).copied().unwrap_or(0) > 1 {
                        String::new()
                    } else {
                        " [alpn h2,http/1.1]".to_owned()
                    };
                add(CERT_LIST, format!("{path}{alpn} {filter}"));
                rendered.files.insert(path, RenderedFile { contents: serving.pem.clone(), secret: true });
            }
            if let Some(ca) = &tls.destination_ca {
                let path = format!("router/cacerts/{}.pem", file_key(route));
                rendered.files.insert(path, RenderedFile { contents: ca.clone(), secret: false });
            }
        }
        render_backend(route, endpoints, config, &mut backends, &mut rendered);
    }

    for (map, mut lines) in maps {
        if map != CERT_LIST {
            sort_map_lines(&mut lines);
        }
        let mut contents = lines.join("\n");
        if !contents.is_empty() {
            contents.push('\n');
        }
        rendered.files.insert(map.to_owned(), RenderedFile { contents, secret: false });
    }
    rendered.files.insert(
        DEFAULT_CERTIFICATE_FILE.to_owned(),
        RenderedFile { contents: config.default_certificate.clone(), secret: true },
    );
    let mut cfg = main_sections(config, admitted.len());
    cfg.push_str(&backends);
    rendered.files.insert(CONFIG_FILE.to_owned(), RenderedFile { contents: cfg, secret: false });
    Ok(rendered)
}

/// The default certificate of a router directory: `conf/default.pem` when
/// it exists (and holds a key and a certificate), else a new self-signed one
/// for `*.domain` (written by the next [`RenderedConfig::write_to`]), so a
/// directory keeps its certificate across renders.
pub fn load_or_generate_default_certificate(dir: &Path, domain: &str) -> Result<String, Error> {
    let path = dir.join(DEFAULT_CERTIFICATE_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            check_default_certificate(&text)?;
            Ok(text)
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => crate::tls::generate_default_certificate(domain)
            .map_err(|message| Error::DefaultCertificate { what: "cannot be generated", message }),
        Err(source) => Err(Error::Io { action: "read", path, source }),
    }
}

fn check_default_certificate(pem_text: &str) -> Result<(), Error> {
    let blocks = pem::parse_many(pem_text).map_err(|err| Error::DefaultCertificate {
        what: "is invalid",
        message: format!("the PEM data does not parse: {err}"),
    })?;
    let has = |tag: &str| blocks.iter().any(|block| block.tag() == tag);
    let has_key = ["PRIVATE KEY", "RSA PRIVATE KEY", "EC PRIVATE KEY"].iter().any(|tag| has(tag));
    if !has("CERTIFICATE") || !has_key {
        return Err(Error::DefaultCertificate {
            what: "is invalid",
            message: "it must hold a private key and a certificate".to_owned(),
        });
    }
    Ok(())
}

fn main_sections(config: &RouterConfig, route_count: usize) -> String {
    let mut cfg = String::new();
    let bind = |port: u16| match config.bind_address {
        IpAddr::V4(address) => format!("{address}:{port}"),
        IpAddr::V6(address) => format!("[{address}]:{port}"),
    };
    let t = &config.timeouts;
    let _ = writeln!(cfg, "# The OpenShift router's configuration for {route_count} route(s), rendered by s2i.");
    let _ = writeln!(cfg, "# Paths are relative to this file's directory, wherever haproxy runs from.");
    cfg.push_str("global\n");
    // Before any path: maps, certificates and the stats socket are found next to this file.
    cfg.push_str("  default-path config\n");
    let _ = writeln!(cfg, "  maxconn {}", config.max_connections);
    if let Some(threads) = config.threads {
        let _ = writeln!(cfg, "  nbthread {threads}");
    }
    if let Some(after) = config.hard_stop_after {
        let _ = writeln!(cfg, "  hard-stop-after {}", after.to_haproxy());
    }
    cfg.push_str("  stats socket unix@run/haproxy.sock mode 600 level admin expose-fd listeners\n");
    cfg.push_str("  stats timeout 2m\n");
    cfg.push_str("  tune.maxrewrite 8192\n  tune.bufsize 32768\n");
    for name in &config.header_case_adjustments {
        let _ = writeln!(cfg, "  h1-case-adjust {} {name}", name.to_ascii_lowercase());
    }
    cfg.push_str("  ssl-default-bind-options ssl-min-ver TLSv1.2\n");
    cfg.push_str("  tune.ssl.default-dh-param 2048\n");
    let _ = writeln!(cfg, "  ssl-default-bind-ciphers {CIPHERS}");
    cfg.push('\n');

    cfg.push_str("defaults\n");
    let _ = writeln!(cfg, "  maxconn {}", config.max_connections);
    for (name, value) in [
        ("connect", t.connect),
        ("client", t.client),
        ("client-fin", t.client_fin),
        ("server", t.server),
        ("server-fin", t.server_fin),
        ("http-request", t.http_request),
        ("http-keep-alive", t.http_keep_alive),
        ("tunnel", t.tunnel),
    ] {
        let _ = writeln!(cfg, "  timeout {name} {}", value.to_haproxy());
    }
    if !config.header_case_adjustments.is_empty() {
        cfg.push_str("  option h1-case-adjust-bogus-client\n");
    }
    cfg.push('\n');

    if let Some(port) = config.stats_port {
        cfg.push_str("listen stats\n");
        let _ = writeln!(cfg, "  bind {}", bind(port));
        cfg.push_str("  mode http\n  monitor-uri /healthz\n  stats enable\n  stats uri /\n\n");
    }

    let inspect = config.timeouts.inspect_delay.to_haproxy();
    let redirect_port = if config.https_port == 443 { String::new() } else { format!(":{}", config.https_port) };
    cfg.push_str("frontend public\n");
    let _ = writeln!(cfg, "  bind {}", bind(config.http_port));
    cfg.push_str("  mode http\n");
    let _ = writeln!(cfg, "  tcp-request inspect-delay {inspect}");
    cfg.push_str("  tcp-request content accept if HTTP\n");
    cfg.push_str("  http-request del-header Proxy\n");
    cfg.push_str("  http-request set-header Host %[req.hdr(Host),lower]\n");
    let _ = writeln!(cfg, "  acl secure_redirect base,map_reg_int({REDIRECT_MAP}) -m bool");
    let _ = writeln!(
        cfg,
        "  http-request redirect location https://%[req.hdr(Host),field(1,:)]{redirect_port}%[pathq] code 302 if secure_redirect"
    );
    // Looked up by a rule parsed with the rest (`default-path` applies), not inside
    // `use_backend`, whose expression HAProxy resolves after the file, against its cwd.
    let _ = writeln!(cfg, "  http-request set-var(txn.route_backend) base,map_reg({HTTP_MAP})");
    cfg.push_str("  use_backend %[var(txn.route_backend)]\n");
    cfg.push_str("  default_backend openshift_default\n\n");

    cfg.push_str("frontend public_ssl\n");
    let _ = writeln!(cfg, "  bind {}", bind(config.https_port));
    cfg.push_str("  mode tcp\n");
    let _ = writeln!(cfg, "  tcp-request inspect-delay {inspect}");
    // The condition waits for the client hello, so the SNI is there to look up.
    let _ = writeln!(
        cfg,
        "  tcp-request content set-var(txn.passthrough_backend) req.ssl_sni,lower,map_reg({TCP_MAP}) if {{ req_ssl_hello_type 1 }}"
    );
    cfg.push_str("  tcp-request content accept if { req_ssl_hello_type 1 }\n");
    cfg.push_str("  acl sni req.ssl_sni -m found\n");
    let _ = writeln!(cfg, "  acl sni_passthrough req.ssl_sni,lower,map_reg({SNI_MAP}) -m found");
    cfg.push_str("  use_backend %[var(txn.passthrough_backend)] if sni sni_passthrough\n");
    cfg.push_str("  use_backend be_sni if sni\n");
    cfg.push_str("  default_backend be_no_sni\n\n");

    let strict = if config.strict_sni { " strict-sni" } else { "" };
    for (backend, frontend, socket, certificates) in [
        ("be_sni", "fe_sni", SNI_SOCKET, format!("crt {DEFAULT_CERTIFICATE_FILE} crt-list {CERT_LIST}{strict}")),
        ("be_no_sni", "fe_no_sni", NO_SNI_SOCKET, format!("crt {DEFAULT_CERTIFICATE_FILE}")),
    ] {
        let _ = writeln!(cfg, "backend {backend}\n  mode tcp\n  server {frontend} unix@{socket} weight 1 send-proxy\n");
        let _ = writeln!(cfg, "frontend {frontend}");
        let _ = writeln!(cfg, "  bind unix@{socket} ssl {certificates} accept-proxy");
        cfg.push_str("  mode http\n");
        cfg.push_str("  http-request del-header Proxy\n");
        cfg.push_str("  http-request set-header Host %[req.hdr(Host),lower]\n");
        let _ = writeln!(cfg, "  http-request set-var(txn.route_backend) base,map_reg({TERMINATED_MAP})");
        cfg.push_str("  use_backend %[var(txn.route_backend)]\n");
        cfg.push_str("  default_backend openshift_default\n\n");
    }

    cfg.push_str("backend openshift_default\n  mode http\n  option forwardfor\n  option http-pretend-keepalive\n");
    cfg.push_str(
        "  http-request return status 503 content-type text/plain string \"Application is not available: no route serves this host and path.\"\n",
    );
    cfg
}

fn render_backend(
    route: &AdmittedRoute,
    endpoints: &ServiceEndpoints,
    config: &RouterConfig,
    out: &mut String,
    rendered: &mut RenderedConfig,
) {
    let notes = &route.annotations;
    let termination = route.route.termination();
    let passthrough = termination == Some(TlsTermination::Passthrough);
    let key = route.key();
    let (servers, precision_warning) = endpoint_weights(route, endpoints);
    rendered.warnings.extend(precision_warning);
    for backend in route.route.backends() {
        if endpoints.get(&key.namespace, &backend.name).is_none() {
            rendered.warnings.push(format!("route {key}: service {} not found; it has no endpoints", backend.name));
        }
    }
    let active_services = route.route.backends().filter(|backend| backend.weight > 0).count();
    let active_endpoints = servers.iter().filter(|server| server.weight > 0).count();
    if active_endpoints == 0 {
        rendered.warnings.push(format!("route {key}: no endpoint to send traffic to; requests get 503"));
    }

    let _ = writeln!(out, "\nbackend {}", backend_name(route));
    let balance = notes.balance.unwrap_or(if active_services > 1 {
        Balance::RoundRobin
    } else if passthrough {
        config.tcp_balance_scheme
    } else {
        config.load_balance_algorithm
    });
    let forwarded = notes.set_forwarded_headers.unwrap_or(config.set_forwarded_headers);
    if passthrough {
        out.push_str("  mode tcp\n");
    } else {
        out.push_str("  mode http\n  option redispatch\n");
        match forwarded {
            ForwardedHeaders::Append => out.push_str("  option forwardfor\n"),
            ForwardedHeaders::IfNone => out.push_str("  option forwardfor if-none\n"),
            ForwardedHeaders::Replace | ForwardedHeaders::Never => {}
        }
        if notes.h1_adjust_case {
            if config.header_case_adjustments.is_empty() {
                rendered.warnings.push(format!(
                    "route {key}: h1-adjust-case has no effect: the router has no header case adjustments"
                ));
            } else {
                out.push_str("  option h1-case-adjust-bogus-server\n");
            }
        }
    }
    let _ = writeln!(out, "  balance {}", balance.as_str());
    if let Some(allowlist) = &notes.ip_allowlist {
        if allowlist.len() > ALLOWLIST_INLINE_MAX {
            let path = format!("router/allowlists/{}.txt", file_key(route));
            let _ = writeln!(out, "  acl allowlist src -f {path}");
            rendered
                .files
                .insert(path, RenderedFile { contents: format!("{}\n", allowlist.join("\n")), secret: false });
        } else {
            let _ = writeln!(out, "  acl allowlist src {}", allowlist.join(" "));
        }
        out.push_str("  tcp-request content reject if !allowlist\n");
    }
    if passthrough {
        if let Some(tunnel) = notes.timeout_tunnel.or(notes.timeout) {
            let _ = writeln!(out, "  timeout tunnel {}", tunnel.to_haproxy());
        }
    } else {
        if let Some(timeout) = notes.timeout {
            let _ = writeln!(out, "  timeout server {}", timeout.to_haproxy());
        }
        if let Some(tunnel) = notes.timeout_tunnel {
            let _ = writeln!(out, "  timeout tunnel {}", tunnel.to_haproxy());
        }
    }
    if let Some(limits) = notes.rate_limit {
        out.push_str("  stick-table type ip size 100k expire 30s store conn_cur,conn_rate(3s),http_req_rate(10s)\n");
        out.push_str("  tcp-request content track-sc2 src\n");
        if let Some(limit) = limits.concurrent_tcp {
            let _ = writeln!(out, "  tcp-request content reject if {{ src_conn_cur ge {limit} }}");
        }
        if let Some(limit) = limits.rate_tcp {
            let _ = writeln!(out, "  tcp-request content reject if {{ src_conn_rate ge {limit} }}");
        }
        if let (Some(limit), false) = (limits.rate_http, passthrough) {
            let _ = writeln!(out, "  tcp-request content reject if {{ src_http_req_rate ge {limit} }}");
        }
    }
    if passthrough {
        out.push_str("  hash-type consistent\n");
    }
    out.push_str("  timeout check 5000ms\n");
    if !passthrough {
        render_http_rules(route, forwarded, config, out);
    }
    let check = if active_endpoints > 1 {
        let interval = notes.health_check_interval.unwrap_or(config.backend_check_interval);
        format!(" check inter {}", interval.to_haproxy())
    } else {
        String::new()
    };
    let maxconn =
        notes.pod_concurrent_connections.filter(|n| *n > 0).map(|n| format!(" maxconn {n}")).unwrap_or_default();
    let reencrypt = if termination == Some(TlsTermination::Reencrypt) {
        let alpn = if config.disable_http2 { "" } else { " alpn h2,http/1.1" };
        let verify = match route.tls.as_ref().and_then(|tls| tls.destination_ca.as_ref()) {
            Some(_) => format!(" verify required ca-file router/cacerts/{}.pem", file_key(route)),
            None => {
                rendered.warnings.push(format!(
                    "route {key}: reencrypt without destinationCACertificate: the endpoints' certificates are not verified"
                ));
                " verify none".to_owned()
            }
        };
        format!(" ssl{alpn}{verify}")
    } else {
        String::new()
    };
    for server in &servers {
        if passthrough && server.weight == 0 {
            continue;
        }
        let address = &server.endpoint.address;
        let port = server.endpoint.port;
        if passthrough {
            let _ = writeln!(out, "  server {} {address}:{port} weight {}{check}{maxconn}", server.id, server.weight);
        } else {
            let _ = writeln!(
                out,
                "  server {} {address}:{port} cookie {} weight {}{reencrypt}{check}{maxconn}",
                server.id,
                md5_hex(&server.id),
                server.weight
            );
        }
    }
}

fn render_http_rules(route: &AdmittedRoute, forwarded: ForwardedHeaders, config: &RouterConfig, out: &mut String) {
    let notes = &route.annotations;
    let spec = &route.route.spec;
    let termination = route.route.termination();
    match forwarded {
        ForwardedHeaders::Append => out.push_str(
            "  http-request add-header X-Forwarded-Host %[req.hdr(host)]\n\
             \x20 http-request add-header X-Forwarded-Port %[dst_port]\n\
             \x20 http-request add-header X-Forwarded-Proto http if !{ ssl_fc }\n\
             \x20 http-request add-header X-Forwarded-Proto https if { ssl_fc }\n\
             \x20 http-request add-header X-Forwarded-Proto-Version h2 if { ssl_fc_alpn -i h2 }\n\
             \x20 http-request add-header Forwarded for=%[src];host=%[req.hdr(host)];proto=%[req.hdr(X-Forwarded-Proto)]\n",
        ),
        ForwardedHeaders::Replace => out.push_str(
            "  http-request set-header X-Forwarded-For %[src]\n\
             \x20 http-request set-header X-Forwarded-Host %[req.hdr(host)]\n\
             \x20 http-request set-header X-Forwarded-Port %[dst_port]\n\
             \x20 http-request set-header X-Forwarded-Proto http if !{ ssl_fc }\n\
             \x20 http-request set-header X-Forwarded-Proto https if { ssl_fc }\n\
             \x20 http-request set-header X-Forwarded-Proto-Version h2 if { ssl_fc_alpn -i h2 }\n\
             \x20 http-request set-header Forwarded for=%[src];host=%[req.hdr(host)];proto=%[req.hdr(X-Forwarded-Proto)]\n",
        ),
        ForwardedHeaders::IfNone => out.push_str(
            "  http-request set-header X-Forwarded-Host %[req.hdr(host)] if !{ req.hdr(X-Forwarded-Host) -m found }\n\
             \x20 http-request set-header X-Forwarded-Port %[dst_port] if !{ req.hdr(X-Forwarded-Port) -m found }\n\
             \x20 http-request set-header X-Forwarded-Proto http if !{ ssl_fc } !{ req.hdr(X-Forwarded-Proto) -m found }\n\
             \x20 http-request set-header X-Forwarded-Proto https if { ssl_fc } !{ req.hdr(X-Forwarded-Proto) -m found }\n\
             \x20 http-request set-header X-Forwarded-Proto-Version h2 if { ssl_fc_alpn -i h2 } !{ req.hdr(X-Forwarded-Proto-Version) -m found }\n\
             \x20 http-request set-header Forwarded for=%[src];host=%[req.hdr(host)];proto=%[req.hdr(X-Forwarded-Proto)] if !{ req.hdr(Forwarded) -m found }\n",
        ),
        ForwardedHeaders::Never => {}
    }
    if let Some(target) = &notes.rewrite_target {
        let path = maps::escape_regex(&spec.path);
        let (pattern, replacement) = if target == "/" {
            (format!("^{path}/?(.*)$"), format!("{target}\\1"))
        } else {
            (format!("^{path}(.*)$"), format!("{target}\\1"))
        };
        let _ = writeln!(out, "  http-request replace-path {} {}", quote(&pattern), quote(&replacement));
    }
    if !notes.disable_cookies {
        let name = notes
            .cookie_name
            .clone()
            .or_else(|| config.cookie_name.clone())
            .unwrap_or_else(|| md5_hex(&file_key(route)));
        let _ = write!(out, "  cookie {name} insert indirect nocache httponly");
        if termination.is_some() && route.route.insecure_policy() != InsecureEdgeTerminationPolicy::Allow {
            let same_site = notes.cookie_same_site.map_or("None", |same_site| same_site.as_str());
            let _ = write!(out, " secure attr SameSite={same_site}");
        }
        out.push('\n');
    }
    if termination.is_some()
        && let Some(hsts) = &notes.hsts_header
    {
        let _ = writeln!(out, "  http-response set-header Strict-Transport-Security {}", quote(hsts));
    }
    if let Some(headers) = &spec.http_headers {
        for (side, actions) in [("request", &headers.actions.request), ("response", &headers.actions.response)] {
            for header in actions {
                match &header.action.set {
                    Some(set) => {
                        let _ = writeln!(out, "  http-{side} set-header {} {}", quote(&header.name), quote(&set.value));
                    }
                    None => {
                        let _ = writeln!(out, "  http-{side} del-header {}", quote(&header.name));
                    }
                }
            }
        }
    }
}
