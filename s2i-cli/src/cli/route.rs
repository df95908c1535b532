//! The command line of routes and services: `route create|serve|render|export`,
//! `service create`, and `expose`.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

/// After `s2i service create --help`.
pub(super) const CREATE_SERVICE_EXAMPLES: &str = "\
Examples:
  # A process on this machine, listening on port 3000 (a service, and an
  # Endpoints object of the same name with the address)
  s2i service create api --endpoint 127.0.0.1:3000

  # The running containers labelled app=web, port 8080 inside them
  s2i service create web --selector app=web --port 8080

Routes point at services by name: s2i expose service web";

/// After `s2i expose --help`.
pub(super) const EXPOSE_EXAMPLES: &str = "\
Examples:
  # A route to the service web at web-<namespace>.apps.localhost
  s2i expose service web

  # At a host name of your own, for one path
  s2i expose svc/web --hostname shop.apps.localhost --path /cart";

/// `s2i route …`.
#[derive(Debug, Subcommand)]
pub enum RouteCommand {
    /// Create a route to a service: http, edge, passthrough or reencrypt
    #[command(after_help = CREATE_ROUTE_EXAMPLES)]
    Create(RouteCreateArgs),
    /// Run HAProxy on loopback for the routes of the store, following their changes
    #[command(after_help = SERVE_EXAMPLES)]
    Serve(RouteServeArgs),
    /// Render the HAProxy router of routes and services: haproxy.cfg, map files and certificates
    #[command(after_help = RENDER_EXAMPLES)]
    Render(RouteRenderArgs),
    /// Print a route for a cluster: an OpenShift Route, an Ingress, or Gateway API objects
    #[command(after_help = EXPORT_EXAMPLES)]
    Export(RouteExportArgs),
}

const CREATE_ROUTE_EXAMPLES: &str = "\
Examples:
  # A plain HTTP route to the service `web`, at web-<namespace>.apps.localhost
  s2i route create http --service web

  # TLS ended by the router with its own certificate; plain HTTP redirected to https
  s2i route create edge web-secure --service web --hostname www.example.test \\
      --cert tls.crt --key tls.key --insecure-policy Redirect

  # A 3:1 split between two versions
  s2i route create http ab --service web --weight 3 --alternate web-v2=1

Here --cert and --key are the route's serving certificate and key (route create
does not talk to the container engine). Routes without --hostname get
<name>-<namespace>.<domain>, the domain from $S2I_ROUTE_DOMAIN, else apps.localhost.";

const SERVE_EXAMPLES: &str = "\
Examples:
  # Serve the routes of the store on http://*.apps.localhost:9080 and https://…:9443
  s2i route serve

  # In another terminal: routes and services created or changed are served within a second
  s2i expose service web
  curl http://web-default.apps.localhost:9080/

The router serves the routes of every namespace, writes their admission
status back to the store (s2i get routes shows it), and follows the running
containers of services with a selector. Ctrl-C or SIGTERM stops HAProxy.";

const RENDER_EXAMPLES: &str = "\
Examples:
  # Render the routes and services of the store, then run HAProxy on the result
  s2i route render --out router
  cd router && haproxy -f haproxy.cfg

  # Render routes and services from files instead (the store is not read or changed)
  s2i route render -f app.yaml --out router

Objects in files without metadata.namespace are in the --namespace namespace;
routes without a host get <name>-<namespace>.<domain>.";

const EXPORT_EXAMPLES: &str = "\
Examples:
  # The route `web` as a networking.k8s.io/v1 Ingress
  s2i route export web --to ingress

  # As Gateway API objects attached to the Gateway `public` in `gateways`
  s2i route export shop/web --to gateway --gateway gateways/public

  # A route of a file, not of the store
  s2i route export web --to openshift -f app.yaml";

/// The kinds of route `s2i route create` makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RouteType {
    /// Plain HTTP.
    Http,
    /// TLS ended at the router; plain HTTP to the endpoints.
    Edge,
    /// TLS passed to the endpoints untouched, chosen by SNI.
    Passthrough,
    /// TLS ended at the router, and again from the router to the endpoints.
    Reencrypt,
}

/// `s2i route create`.
#[derive(Debug, Args)]
pub struct RouteCreateArgs {
    /// The kind of route
    #[arg(value_name = "TYPE")]
    pub route_type: RouteType,
    /// Name of the route (default: the service's name)
    pub name: Option<String>,
    /// The service the route sends traffic to
    #[arg(long, value_name = "SERVICE")]
    pub service: String,
    /// Host, path, port and wildcard policy.
    #[command(flatten)]
    pub at: RouteAtArgs,
    /// CA certificates served after the certificate (its chain), PEM file
    #[arg(long = "ca-cert", value_name = "FILE")]
    pub ca_cert: Option<PathBuf>,
    /// CA that signs the endpoints' certificates, PEM file (reencrypt)
    #[arg(long = "dest-ca-cert", value_name = "FILE")]
    pub dest_ca_cert: Option<PathBuf>,
    /// What plain HTTP gets: None (503), Allow (served too), Redirect (302 to https)
    #[arg(long, value_name = "POLICY", value_parser = ["None", "Allow", "Redirect"])]
    pub insecure_policy: Option<String>,
    /// Weight of the service, 0 to 256 (default 100)
    #[arg(long, value_name = "N")]
    pub weight: Option<i32>,
    /// Another service sharing the traffic by weight, SERVICE=WEIGHT (repeatable, up to 3)
    #[arg(long = "alternate", value_name = "SERVICE=WEIGHT")]
    pub alternates: Vec<String>,
}

/// Where a new route serves, for `s2i route create` and `s2i expose`.
#[derive(Debug, Args)]
pub struct RouteAtArgs {
    /// Host name (default: NAME-NAMESPACE.DOMAIN, the domain from $S2I_ROUTE_DOMAIN, else apps.localhost)
    #[arg(long, value_name = "HOST")]
    pub hostname: Option<String>,
    /// Path prefix the route serves (default: every path; not with passthrough)
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// Endpoint port: a service port name or a container port number (default: route create, every port; expose, the service's first port)
    #[arg(long, value_name = "PORT")]
    pub port: Option<String>,
    /// None, or Subdomain: also serve every host one label under the host's domain
    #[arg(long, value_name = "POLICY", value_parser = ["None", "Subdomain"])]
    pub wildcard_policy: Option<String>,
}

/// Listener ports of a router.
#[derive(Debug, Args)]
pub struct RouterPorts {
    /// Plain-HTTP port the router listens on (loopback)
    #[arg(long, value_name = "PORT", default_value_t = 9080, value_parser = clap::value_parser!(u16).range(1..))]
    pub http_port: u16,
    /// TLS port the router listens on (loopback)
    #[arg(long, value_name = "PORT", default_value_t = 9443, value_parser = clap::value_parser!(u16).range(1..))]
    pub https_port: u16,
    /// Port of the stats page and /healthz (loopback)
    #[arg(long, value_name = "PORT", default_value_t = 1936, value_parser = clap::value_parser!(u16).range(1..))]
    pub stats_port: u16,
    /// Admit wildcard routes (wildcardPolicy: Subdomain)
    #[arg(long)]
    pub allow_wildcard_routes: bool,
}

/// `s2i route serve`.
#[derive(Debug, Args)]
pub struct RouteServeArgs {
    /// Ports and admission.
    #[command(flatten)]
    pub ports: RouterPorts,
    /// The router directory (default: a temporary directory, removed when the router stops)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Where route objects come from: the store, or files.
#[derive(Debug, Args)]
pub struct RouteFiles {
    /// Read Routes and Services from this YAML or JSON file instead of the store (`-` for stdin; repeatable)
    #[arg(short = 'f', long = "filename", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Domain of subdomain routes, the default certificate, and (with -f) generated hosts (default $S2I_ROUTE_DOMAIN, else apps.localhost)
    #[arg(long, value_name = "DOMAIN")]
    pub domain: Option<String>,
}

/// `s2i route render`.
#[derive(Debug, Args)]
pub struct RouteRenderArgs {
    /// Where the routes and services come from.
    #[command(flatten)]
    pub input: RouteFiles,
    /// The router directory to write (created if needed; files of earlier renders are replaced)
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Ports and admission.
    #[command(flatten)]
    pub ports: RouterPorts,
}

/// Export formats.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ExportFormat {
    /// A route.openshift.io/v1 Route.
    Openshift,
    /// A networking.k8s.io/v1 Ingress.
    Ingress,
    /// Gateway API HTTPRoute or TLSRoute, and BackendTLSPolicy.
    Gateway,
}

/// `s2i route export`.
#[derive(Debug, Args)]
pub struct RouteExportArgs {
    /// The route: NAME (in the --namespace namespace) or NAMESPACE/NAME
    pub route: String,
    /// What to export to
    #[arg(long = "to", value_name = "FORMAT")]
    pub to: ExportFormat,
    /// Gateway the Gateway API routes attach to: NAME or NAMESPACE/NAME
    #[arg(long, value_name = "GATEWAY", default_value = "gateway")]
    pub gateway: String,
    /// Where the routes and services come from.
    #[command(flatten)]
    pub input: RouteFiles,
}

/// `s2i service …`.
#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Create a service: fixed endpoints (an Endpoints object of its name), or the running containers that carry some labels
    #[command(after_help = CREATE_SERVICE_EXAMPLES)]
    Create(ServiceCreateArgs),
}

/// `s2i service create`.
#[derive(Debug, Args)]
pub struct ServiceCreateArgs {
    /// Name of the service
    pub name: String,
    /// A fixed endpoint, IP:PORT (repeatable; an IPv6 address goes in brackets), kept in the Endpoints object of the service's name
    #[arg(long = "endpoint", value_name = "IP:PORT")]
    pub endpoints: Vec<String>,
    /// Labels of the running containers that are the endpoints, KEY=VALUE (repeatable, or comma-separated)
    #[arg(long = "selector", value_name = "KEY=VALUE", value_delimiter = ',')]
    pub selector: Vec<String>,
    /// A port of the service, PORT or PORT:TARGET_PORT (repeatable); named as kubectl names them (80:8080 is `80-8080`); with --endpoint and no --port, one port per port of the endpoints
    #[arg(long = "port", value_name = "PORT[:TARGET_PORT]")]
    pub ports: Vec<String>,
}

/// `s2i expose`.
#[derive(Debug, Args)]
pub struct ExposeArgs {
    /// What to expose: `service NAME`, or `svc/NAME`
    #[arg(value_name = "KIND")]
    pub kind: String,
    /// The service's name
    pub name: Option<String>,
    /// Name of the route (default: the service's name)
    #[arg(long = "name", value_name = "NAME")]
    pub route_name: Option<String>,
    /// Host, path, port and wildcard policy.
    #[command(flatten)]
    pub at: RouteAtArgs,
}
