#![doc = include_str!("../README.md")]
//!
//! ## In detail
//!
//! [`DockerRuntime`] implements [`s2i_core::runtime::ContainerRuntime`] for
//! Docker, and for Podman through its Docker-compatible service.
//!
//! Connecting takes a [`ConnectOptions`], usually read from the environment
//! (`DOCKER_HOST`, `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`, `DOCKER_API_VERSION`,
//! `DOCKER_CONFIG`) and then adjusted from the command line. Without an
//! endpoint, Docker's socket is used, or Podman's when only Podman's exists.
//! Endpoints can be `unix://`, `tcp://`, `http://` or `https://`; TLS uses the
//! client certificate, key and CA from `DOCKER_CERT_PATH` or explicit paths.
//!
//! Registry credentials for pulls and pushes come from the files `docker
//! login` and `podman login` write, including credential helpers, looked up
//! by [`s2i_core::auth`] in the order [`ConnectOptions::auth_sources`] gives.
//!
//! Archives stream in both directions: nothing here holds a whole archive in
//! memory.

mod error;
mod names_lock;
mod options;
mod podman;
mod runtime;
mod tls;

pub use error::Error;
pub use names_lock::image_names_lock;
pub use options::{
    ConnectOptions, DEFAULT_CONNECT_TIMEOUT, DEFAULT_DOCKER_SOCKET, DEFAULT_TIMEOUT, PODMAN_SYSTEM_SOCKET,
};
pub use runtime::DockerRuntime;
