//! Checks of the build containers' host options that can fail before any
//! container exists: `-v`, `--add-host` and `--cap-drop` values, and whether
//! the `--network` names something the engine has.

use std::net::IpAddr;

use super::Engine;
use crate::error::{Error, Result};
use crate::runtime::HostOptions;

impl Engine {
    /// `--network`: a built-in mode, an existing container for `container:NAME`, or an existing network.
    pub(crate) async fn check_network(&self, host: &HostOptions) -> Result<()> {
        let Some(network) = host.network_mode.as_deref() else { return Ok(()) };
        if matches!(network, "bridge" | "host" | "none" | "default") {
            return Ok(());
        }
        if let Some(container) = network.strip_prefix("container:") {
            let exists = self
                .runtime
                .container_exists(container)
                .await
                .map_err(|e| Error::runtime(format!("look up container {container}"), e))?;
            return if exists {
                Ok(())
            } else {
                Err(Error::option(
                    "--network",
                    format!("container {container:?} does not exist"),
                    "give a running container's name or ID after container:, or use bridge, host or none",
                ))
            };
        }
        let exists = self
            .runtime
            .network_exists(network)
            .await
            .map_err(|e| Error::runtime(format!("look up network {network}"), e))?;
        if exists { Ok(()) } else { Err(Error::NetworkNotFound { network: network.to_owned() }) }
    }
}

/// Check `-v`, `--add-host` and `--cap-drop` values before any container exists.
pub(crate) fn validate_host_options(host: &HostOptions) -> Result<()> {
    for bind in &host.binds {
        let parts: Vec<&str> = bind.split(':').collect();
        let valid_opts = |opts: &str| {
            opts.split(',').all(|o| {
                matches!(
                    o,
                    "ro" | "rw"
                        | "z"
                        | "Z"
                        | "shared"
                        | "rshared"
                        | "slave"
                        | "rslave"
                        | "private"
                        | "rprivate"
                        | "nocopy"
                        | "delegated"
                        | "cached"
                        | "consistent"
                )
            })
        };
        let ok = match parts.as_slice() {
            [src, dst] => !src.is_empty() && dst.starts_with('/'),
            [src, dst, opts] => !src.is_empty() && dst.starts_with('/') && valid_opts(opts),
            _ => false,
        };
        if !ok {
            return Err(Error::option(
                "--volume",
                format!("{bind:?} is not SOURCE:/CONTAINER/PATH[:OPTIONS]"),
                "e.g. -v /host/cache:/opt/cache:ro or -v cache-volume:/opt/cache",
            ));
        }
    }
    for entry in &host.extra_hosts {
        let ok = entry.split_once(':').is_some_and(|(name, ip)| {
            !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
                && (ip == "host-gateway" || ip.parse::<IpAddr>().is_ok())
        });
        if !ok {
            return Err(Error::option(
                "--add-host",
                format!("{entry:?} is not HOST:IP"),
                "e.g. --add-host registry.local:10.0.0.5",
            ));
        }
    }
    for cap in &host.cap_drop {
        if cap.is_empty() || !cap.chars().all(|c| c.is_ascii_alphabetic() || c == '_') {
            return Err(Error::option(
                "--cap-drop",
                format!("{cap:?} is not a capability name"),
                "give capability names such as NET_RAW or ALL",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_options_are_validated() {
        let host = |f: fn(&mut HostOptions)| {
            let mut h = HostOptions::default();
            f(&mut h);
            validate_host_options(&h)
        };
        assert!(host(|h| h.binds = vec!["/a:/b".into(), "vol:/c:ro,z".into()]).is_ok());
        assert!(host(|h| h.binds = vec!["/a".into()]).is_err());
        assert!(host(|h| h.binds = vec!["/a:relative".into()]).is_err());
        assert!(host(|h| h.binds = vec!["/a:/b:bogus".into()]).is_err());
        assert!(
            host(|h| h.extra_hosts = vec!["db:10.0.0.1".into(), "v6:::1".into(), "gw:host-gateway".into()]).is_ok()
        );
        assert!(host(|h| h.extra_hosts = vec!["db".into()]).is_err());
        assert!(host(|h| h.extra_hosts = vec!["db:notanip".into()]).is_err());
        assert!(host(|h| h.cap_drop = vec!["NET_RAW".into(), "all".into()]).is_ok());
        assert!(host(|h| h.cap_drop = vec!["NET RAW".into()]).is_err());
    }
}
