//! Connect to the container engine as the docker CLI would (`DOCKER_HOST`,
//! `DOCKER_TLS_VERIFY`, `DOCKER_CERT_PATH`, `DOCKER_API_VERSION`, or the
//! default sockets of Docker and Podman) and print what answered.
//!
//! ```sh
//! cargo run -p s2i-docker --example ping
//! DOCKER_HOST=unix:///run/s2i-podman/podman.sock cargo run -p s2i-docker --example ping
//! ```
//!
//! Exits non-zero, saying why, when no engine answers.

// An example shows its result on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::process::ExitCode;

use miette::Diagnostic;
use s2i_core::ContainerRuntime;
use s2i_docker::{ConnectOptions, DockerRuntime};

// One thread is enough: the runtime never blocks the executor.
#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let runtime = match DockerRuntime::connect(&ConnectOptions::from_env()).await {
        Ok(runtime) => runtime,
        Err(error) => {
            // Errors carry a stable code and a help line saying what to do.
            eprintln!("error: {error}");
            if let Some(help) = error.help() {
                eprintln!("help: {help}");
            }
            return ExitCode::FAILURE;
        }
    };
    match runtime.info().await {
        Ok(info) => {
            println!("{} {}", info.name, info.version);
            println!("API version {} at {}", info.api_version, info.endpoint);
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: the engine did not answer: {error}");
            ExitCode::FAILURE
        }
    }
}
