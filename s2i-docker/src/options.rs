//! Connection settings, and how they are read from the environment.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use s2i_core::auth::AuthSources;

use crate::error::Error;

/// Docker's default socket.
pub const DEFAULT_DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// Podman's rootful socket, tried when Docker's socket is missing and no endpoint is set.
pub const PODMAN_SYSTEM_SOCKET: &str = "/run/podman/podman.sock";

/// Default time limit of one request to the engine.
///
/// It is long because one request can legitimately take long: uploading a
/// large archive, committing a large container, or waiting for a build script.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2 * 60 * 60);

/// Default time limit for the first contact with the engine.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(20);

/// How to reach a container engine, and where the registry credentials are.
///
/// Build one with [`ConnectOptions::from_env`] (or [`ConnectOptions::from_env_map`]
/// in tests), then override fields with command-line options. Nothing is read
/// from the environment after that: [`DockerRuntime::connect`](crate::DockerRuntime::connect)
/// uses only these fields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// Engine endpoint: `unix:///path`, `tcp://host:port`, `http://host:port` or
    /// `https://host:port` (`-U/--url`, `DOCKER_HOST`). When `None`, Docker's
    /// socket ([`docker_socket`](Self::docker_socket)) is used if it exists,
    /// else rootless Podman's (`$XDG_RUNTIME_DIR/podman/podman.sock`), else
    /// rootful Podman's ([`PODMAN_SYSTEM_SOCKET`]).
    pub host: Option<String>,
    /// Docker's socket, the first tried when no endpoint is set:
    /// [`DEFAULT_DOCKER_SOCKET`] unless changed.
    pub docker_socket: PathBuf,
    /// API version to use as is, e.g. `1.41` (`DOCKER_API_VERSION`); negotiated with the engine when `None`.
    pub api_version: Option<String>,
    /// Use TLS for `tcp://` without verifying the engine's certificate, unless
    /// [`tls_verify`](Self::tls_verify) is also set (`--tls`, `DOCKER_TLS`).
    pub tls: bool,
    /// Use TLS for `tcp://` and verify the engine's certificate (`--tlsverify`, `DOCKER_TLS_VERIFY`).
    pub tls_verify: bool,
    /// Directory with `ca.pem`, `cert.pem` and `key.pem` (`DOCKER_CERT_PATH`);
    /// defaults to the Docker configuration directory.
    pub cert_path: Option<PathBuf>,
    /// TLS client certificate (`--cert`); default `cert.pem` in the certificate directory, if it exists.
    pub cert: Option<PathBuf>,
    /// TLS client key (`--key`); default `key.pem` in the certificate directory, if it exists.
    pub key: Option<PathBuf>,
    /// CA certificate to verify the engine with (`--ca`); default `ca.pem` in the
    /// certificate directory if it exists, else the system's roots.
    pub ca: Option<PathBuf>,
    /// A registry credentials file looked at before all others
    /// (`--dockercfg-path`); see [`auth_sources`](Self::auth_sources).
    pub docker_config: Option<PathBuf>,
    /// `REGISTRY_AUTH_FILE`: the credentials file of Podman and the other
    /// containers tools, looked at after [`docker_config`](Self::docker_config).
    pub registry_auth_file: Option<PathBuf>,
    /// `XDG_CONFIG_HOME`, for `containers/auth.json` (default `~/.config`).
    pub xdg_config_home: Option<PathBuf>,
    /// The Docker configuration directory (`DOCKER_CONFIG`); default `~/.docker`.
    pub docker_config_dir: Option<PathBuf>,
    /// The user's home directory (`HOME`), for `~/.docker`.
    pub home: Option<PathBuf>,
    /// `XDG_RUNTIME_DIR`, where rootless Podman has its socket.
    pub xdg_runtime_dir: Option<PathBuf>,
    /// Directories to find `docker-credential-*` helpers in, like `PATH`; the process's `PATH` when `None`.
    pub search_path: Option<OsString>,
    /// Time limit of one request to the engine; see [`DEFAULT_TIMEOUT`].
    pub timeout: Duration,
    /// Time limit for the first contact with the engine; see [`DEFAULT_CONNECT_TIMEOUT`].
    pub connect_timeout: Duration,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        Self {
            host: None,
            docker_socket: PathBuf::from(DEFAULT_DOCKER_SOCKET),
            api_version: None,
            tls: false,
            tls_verify: false,
            cert_path: None,
            cert: None,
            key: None,
            ca: None,
            docker_config: None,
            registry_auth_file: None,
            xdg_config_home: None,
            docker_config_dir: None,
            home: None,
            xdg_runtime_dir: None,
            search_path: None,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

impl ConnectOptions {
    /// Settings from the process environment: `DOCKER_HOST`, `DOCKER_API_VERSION`,
    /// `DOCKER_TLS`, `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`, `DOCKER_CONFIG`,
    /// `REGISTRY_AUTH_FILE`, `HOME`, `XDG_RUNTIME_DIR`, `XDG_CONFIG_HOME` and
    /// `PATH`. Empty variables count as unset.
    pub fn from_env() -> Self {
        Self::from_lookup(|name| std::env::var_os(name))
    }

    /// Settings from the given variables instead of the process environment;
    /// see [`ConnectOptions::from_env`]. Variables not listed are unset.
    pub fn from_env_map<I, K, V>(vars: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<OsString>,
    {
        let vars: HashMap<String, OsString> = vars.into_iter().map(|(k, v)| (k.into(), v.into())).collect();
        Self::from_lookup(|name| vars.get(name).cloned())
    }

    fn from_lookup(get: impl Fn(&str) -> Option<OsString>) -> Self {
        let get = |name: &str| get(name).filter(|value| !value.is_empty());
        let string = |name: &str| get(name).map(|value| value.to_string_lossy().into_owned());
        Self {
            host: string("DOCKER_HOST"),
            api_version: string("DOCKER_API_VERSION"),
            tls: get("DOCKER_TLS").is_some(),
            tls_verify: get("DOCKER_TLS_VERIFY").is_some(),
            cert_path: get("DOCKER_CERT_PATH").map(PathBuf::from),
            docker_config_dir: get("DOCKER_CONFIG").map(PathBuf::from),
            registry_auth_file: get("REGISTRY_AUTH_FILE").map(PathBuf::from),
            xdg_config_home: get("XDG_CONFIG_HOME").map(PathBuf::from),
            home: get("HOME").map(PathBuf::from),
            xdg_runtime_dir: get("XDG_RUNTIME_DIR").map(PathBuf::from),
            search_path: get("PATH"),
            ..Self::default()
        }
    }

    /// The Docker configuration directory: `DOCKER_CONFIG`, else `~/.docker`.
    pub fn config_dir(&self) -> Option<PathBuf> {
        self.docker_config_dir.clone().or_else(|| self.home.as_ref().map(|home| home.join(".docker")))
    }

    /// Docker's client configuration file: `--dockercfg-path` when given, else `config.json` in
    /// [`config_dir`](Self::config_dir).
    pub fn docker_config_file(&self) -> Option<PathBuf> {
        self.docker_config.clone().or_else(|| self.config_dir().map(|dir| dir.join("config.json")))
    }

    /// Where registry credentials are looked up, in order (see [`s2i_core::auth`]):
    /// `--dockercfg-path`, `REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
    /// `$XDG_CONFIG_HOME/containers/auth.json`, then Docker's `config.json`.
    pub fn auth_sources(&self) -> AuthSources {
        AuthSources {
            explicit: self.docker_config.clone(),
            registry_auth_file: self.registry_auth_file.clone(),
            xdg_runtime_dir: self.xdg_runtime_dir.clone(),
            xdg_config_home: self.xdg_config_home.clone(),
            docker_config_dir: self.docker_config_dir.clone(),
            home: self.home.clone(),
            uid: AuthSources::from_lookup(|_| None).uid,
            search_path: self.search_path.clone(),
        }
    }

    /// Where the engine is and how to talk to it.
    pub(crate) fn endpoint(&self) -> Result<Endpoint, Error> {
        let host = self.host.as_deref().map(str::trim).filter(|h| !h.is_empty());
        let Some(host) = host else {
            let candidates = self.default_sockets();
            return match candidates.iter().find(|path| path.exists()) {
                Some(path) => Ok(Endpoint::Unix(path.clone())),
                None => Err(Error::Unreachable {
                    endpoint: format!("unix://{}", self.docker_socket.display()),
                    message: format!(
                        "no engine socket exists (tried {})",
                        candidates.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
                    ),
                }),
            };
        };
        let invalid = |reason: &str| Error::InvalidHost { host: host.to_owned(), reason: reason.to_owned() };
        let (scheme, rest) =
            host.split_once("://").ok_or_else(|| invalid("it has no scheme (unix://, tcp://, http:// or https://)"))?;
        match scheme.to_ascii_lowercase().as_str() {
            "unix" => {
                if rest.is_empty() {
                    return Err(invalid("the socket path is empty"));
                }
                Ok(Endpoint::Unix(PathBuf::from(rest)))
            }
            scheme @ ("tcp" | "http" | "https") => {
                let tls = match scheme {
                    "https" => true,
                    "http" => false,
                    _ => self.tls || self.tls_verify,
                };
                let authority = rest.strip_suffix('/').unwrap_or(rest);
                if authority.is_empty() {
                    return Err(invalid("the address is empty"));
                }
                if authority.contains('/') {
                    return Err(invalid("a path after host:port is not supported"));
                }
                let has_port = match authority.rsplit_once(':') {
                    Some((_, port)) if !authority.ends_with(']') => {
                        port.parse::<u16>().map_err(|_| invalid("the port is not a number from 0 to 65535"))?;
                        true
                    }
                    _ => false,
                };
                let address = if has_port {
                    authority.to_owned()
                } else {
                    format!("{authority}:{}", if tls { 2376 } else { 2375 })
                };
                Ok(Endpoint::Tcp { address, tls: tls.then(|| self.tls_settings()) })
            }
            "ssh" => Err(invalid(
                "ssh:// endpoints are not supported; forward the engine's socket (`ssh -nNT -L /tmp/engine.sock:/var/run/docker.sock user@host`) and use unix:///tmp/engine.sock",
            )),
            "npipe" => Err(invalid("Windows named pipes are not supported")),
            _ => Err(invalid(&format!("the scheme {scheme}:// is not supported"))),
        }
    }

    fn tls_settings(&self) -> TlsSettings {
        // `--tls` alone turns verification off; `https://` without flags verifies.
        let verify = self.tls_verify || !self.tls;
        let dir = self.cert_path.clone().or_else(|| self.config_dir());
        let default = |name: &str| dir.as_ref().map(|d| d.join(name)).filter(|p| p.exists());
        TlsSettings {
            verify,
            ca: self.ca.clone().or_else(|| default("ca.pem")),
            cert: self.cert.clone().or_else(|| default("cert.pem")),
            key: self.key.clone().or_else(|| default("key.pem")),
        }
    }

    /// The sockets tried, in order, when no endpoint is set.
    fn default_sockets(&self) -> Vec<PathBuf> {
        let mut candidates = vec![self.docker_socket.clone()];
        if let Some(dir) = &self.xdg_runtime_dir {
            candidates.push(dir.join("podman/podman.sock"));
        }
        candidates.push(PathBuf::from(PODMAN_SYSTEM_SOCKET));
        candidates
    }
}

/// A resolved engine endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// A unix socket.
    Unix(PathBuf),
    /// A TCP address `host:port`, with TLS settings when TLS is on.
    Tcp { address: String, tls: Option<TlsSettings> },
}

impl Endpoint {
    /// The endpoint as a URL, for messages.
    pub(crate) fn url(&self) -> String {
        match self {
            Endpoint::Unix(path) => format!("unix://{}", path.display()),
            Endpoint::Tcp { address, tls: None } => format!("tcp://{address}"),
            Endpoint::Tcp { address, tls: Some(_) } => format!("https://{address}"),
        }
    }
}

/// TLS settings of a TCP endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TlsSettings {
    /// Verify the engine's certificate.
    pub(crate) verify: bool,
    /// CA certificate file.
    pub(crate) ca: Option<PathBuf>,
    /// Client certificate file.
    pub(crate) cert: Option<PathBuf>,
    /// Client key file.
    pub(crate) key: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(vars: &[(&str, &str)]) -> ConnectOptions {
        ConnectOptions::from_env_map(vars.iter().map(|(k, v)| (*k, *v)))
    }

    #[test]
    fn env_map_fills_fields_and_ignores_empty_values() {
        let o = options(&[
            ("DOCKER_HOST", "tcp://1.2.3.4:2376"),
            ("DOCKER_API_VERSION", "1.41"),
            ("DOCKER_TLS_VERIFY", "1"),
            ("DOCKER_TLS", ""),
            ("DOCKER_CERT_PATH", "/certs"),
            ("HOME", "/home/u"),
        ]);
        assert_eq!(o.host.as_deref(), Some("tcp://1.2.3.4:2376"));
        assert_eq!(o.api_version.as_deref(), Some("1.41"));
        assert!(o.tls_verify);
        assert!(!o.tls);
        assert_eq!(o.cert_path, Some(PathBuf::from("/certs")));
        assert_eq!(o.docker_config_file(), Some(PathBuf::from("/home/u/.docker/config.json")));
        assert_eq!(o.timeout, DEFAULT_TIMEOUT);
    }

    #[test]
    fn docker_config_dir_wins_over_home() {
        let o = options(&[("DOCKER_CONFIG", "/cfg"), ("HOME", "/home/u")]);
        assert_eq!(o.docker_config_file(), Some(PathBuf::from("/cfg/config.json")));
        let o = ConnectOptions { docker_config: Some("/x.json".into()), ..o };
        assert_eq!(o.docker_config_file(), Some(PathBuf::from("/x.json")));
    }

    #[test]
    fn hosts_parse_into_endpoints() {
        let endpoint = |host: &str, tls: bool, tls_verify: bool| {
            ConnectOptions { host: Some(host.into()), tls, tls_verify, ..ConnectOptions::default() }.endpoint()
        };
        assert_eq!(endpoint("unix:///tmp/x.sock", false, false).unwrap(), Endpoint::Unix("/tmp/x.sock".into()));
        assert_eq!(
            endpoint("tcp://127.0.0.1:2375", false, false).unwrap(),
            Endpoint::Tcp { address: "127.0.0.1:2375".into(), tls: None }
        );
        assert_eq!(
            endpoint("http://example.com/", true, true).unwrap(),
            Endpoint::Tcp { address: "example.com:2375".into(), tls: None }
        );
        let Endpoint::Tcp { address, tls: Some(tls) } = endpoint("tcp://example.com", false, true).unwrap() else {
            panic!("expected TLS")
        };
        assert_eq!(address, "example.com:2376");
        assert!(tls.verify);
        let Endpoint::Tcp { tls: Some(tls), .. } = endpoint("tcp://[::1]", true, false).unwrap() else {
            panic!("expected TLS")
        };
        assert!(!tls.verify, "--tls alone does not verify");
        let Endpoint::Tcp { tls: Some(tls), .. } = endpoint("https://h:1", false, false).unwrap() else {
            panic!("expected TLS")
        };
        assert!(tls.verify, "https:// verifies by default");
        let Endpoint::Tcp { tls: Some(tls), .. } = endpoint("https://h:1", true, false).unwrap() else {
            panic!("expected TLS")
        };
        assert!(!tls.verify);
        for bad in [
            "ssh://u@h",
            "npipe:////./pipe/docker",
            "ftp://h",
            "127.0.0.1:2375",
            "tcp://h:99999",
            "tcp://h:1/x",
            "unix://",
        ] {
            assert!(matches!(endpoint(bad, false, false), Err(Error::InvalidHost { .. })), "{bad}");
        }
    }

    #[test]
    fn default_certificates_come_from_the_cert_path_when_present() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), "x").unwrap();
        let o = ConnectOptions {
            host: Some("tcp://h:1".into()),
            tls_verify: true,
            cert_path: Some(dir.path().to_owned()),
            ..ConnectOptions::default()
        };
        let Endpoint::Tcp { tls: Some(tls), .. } = o.endpoint().unwrap() else { panic!("expected TLS") };
        assert_eq!(tls.ca, Some(dir.path().join("ca.pem")));
        assert_eq!(tls.cert, None, "missing default files are skipped");
        assert_eq!(tls.key, None);
    }

    #[test]
    fn podman_sockets_follow_docker_socket() {
        let sockets = options(&[("XDG_RUNTIME_DIR", "/run/user/1000")]).default_sockets();
        assert_eq!(
            sockets,
            vec![
                PathBuf::from(DEFAULT_DOCKER_SOCKET),
                PathBuf::from("/run/user/1000/podman/podman.sock"),
                PathBuf::from(PODMAN_SYSTEM_SOCKET)
            ]
        );
        assert_eq!(options(&[]).default_sockets(), [PathBuf::from(DEFAULT_DOCKER_SOCKET), PODMAN_SYSTEM_SOCKET.into()]);
    }

    #[test]
    fn without_an_endpoint_the_first_existing_socket_wins() {
        let dir = tempfile::tempdir().unwrap();
        let xdg = dir.path().join("xdg");
        let podman = xdg.join("podman/podman.sock");
        std::fs::create_dir_all(podman.parent().unwrap()).unwrap();
        std::fs::write(&podman, "").unwrap();
        let docker = dir.path().join("docker.sock");
        let mut o = options(&[("XDG_RUNTIME_DIR", xdg.to_str().unwrap()), ("DOCKER_HOST", "")]);
        o.docker_socket = docker.clone();
        assert_eq!(o.endpoint().unwrap(), Endpoint::Unix(podman.clone()), "no Docker socket: rootless Podman's");

        std::fs::write(&docker, "").unwrap();
        assert_eq!(o.endpoint().unwrap(), Endpoint::Unix(docker.clone()), "Docker's socket comes first");

        std::fs::remove_file(&docker).unwrap();
        std::fs::remove_file(&podman).unwrap();
        match o.endpoint() {
            // A machine with rootful Podman's socket finds that one.
            Ok(endpoint) => assert_eq!(endpoint, Endpoint::Unix(PODMAN_SYSTEM_SOCKET.into())),
            Err(Error::Unreachable { endpoint, message }) => {
                assert_eq!(endpoint, format!("unix://{}", docker.display()));
                for tried in [docker.display().to_string(), podman.display().to_string(), PODMAN_SYSTEM_SOCKET.into()] {
                    assert!(message.contains(&tried), "{message}");
                }
            }
            Err(e) => panic!("{e:?}"),
        }
    }
}
