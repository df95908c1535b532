//! `cargo xtask demo`: the first thing to run in a fresh checkout.
//!
//! It makes the engine and fixtures available, builds the `s2i` binary,
//! builds `examples/hello-web` into an image with the `httpd-demo` builder,
//! runs it, fetches its page and prints it. The container and the image are
//! removed at the end, also when a step fails.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail, ensure};

use crate::workspace::{self, Profile};
use crate::{cmd, fixtures, http};

/// The application source, relative to the workspace root.
const SOURCE: &str = "examples/hello-web";
/// The builder image, as a user would type it.
const BUILDER: &str = "s2i-fixtures/httpd-demo";
/// The image the demo builds (and removes).
const APP_IMAGE: &str = "s2i-demo/hello-web:latest";
/// The port the builder's `run` script serves on.
const APP_PORT: &str = "8080/tcp";
/// What the page must contain.
const EXPECTED: &str = "Hello from s2i";

/// `cargo xtask demo`.
pub(crate) fn run() -> Result<()> {
    fixtures::run()?;
    let s2i = workspace::build_s2i(Profile::Debug)?;

    let mut cleanup = Cleanup { container: None, image: APP_IMAGE };

    let mut build = Command::new(&s2i);
    build.current_dir(workspace::root()).args(["build", SOURCE, BUILDER, APP_IMAGE]);
    println!("\ndemo: $ {}", cmd::display(&build));
    cmd::run(&mut build)?;
    ensure!(
        cmd::succeeds(cmd::docker().args(["image", "inspect", APP_IMAGE])),
        "`s2i build` exited 0 but there is no image {APP_IMAGE}"
    );

    println!("\ndemo: running {APP_IMAGE}, its port 8080 published on 127.0.0.1");
    let container = cmd::stdout(cmd::docker().args(["run", "--detach", "--publish", "127.0.0.1::8080", APP_IMAGE]))?;
    let container = cleanup.container.insert(container).clone();
    let ports = cmd::stdout(cmd::docker().args(["port", &container, APP_PORT]))?;
    let addr = published_address(&ports)?;

    println!("demo: GET http://{addr}/");
    let response =
        http::get_with_retry(addr, "/", Duration::from_secs(10)).with_context(|| container_logs(&container))?;
    println!("demo: HTTP {}\n", response.status);
    println!("{}", response.body.trim_end());
    if response.status != 200 || !response.body.contains(EXPECTED) {
        bail!(
            "the page is not the expected one (HTTP {}, wanted {EXPECTED:?} in the body)\n{}",
            response.status,
            container_logs(&container)
        );
    }
    println!("\ndemo: the application image built by s2i serves the page");
    Ok(())
}

/// The 127.0.0.1 address in `docker port` output such as `127.0.0.1:49153`.
fn published_address(docker_port: &str) -> Result<SocketAddr> {
    docker_port
        .lines()
        .filter_map(|line| line.trim().parse::<SocketAddr>().ok())
        .find(|addr| addr.ip().is_loopback())
        .with_context(|| format!("no 127.0.0.1 port in `docker port` output {docker_port:?}"))
}

fn container_logs(container: &str) -> String {
    match cmd::output(cmd::docker().args(["logs", container])) {
        Ok(out) => format!(
            "the container's log:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(err) => format!("(no container log: {err})"),
    }
}

/// Removes what the demo made, however it ends.
struct Cleanup {
    container: Option<String>,
    image: &'static str,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        if let Some(container) = &self.container
            && cmd::succeeds(cmd::docker().args(["rm", "--force", "--volumes", container]))
        {
            println!("demo: removed container {}", &container[..container.len().min(12)]);
        }
        if cmd::succeeds(cmd::docker().args(["image", "rm", self.image])) {
            println!("demo: removed image {}", self.image);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_loopback_port() {
        let addr = published_address("127.0.0.1:49153\n").unwrap();
        assert_eq!(addr, "127.0.0.1:49153".parse().unwrap());
        let addr = published_address("[::]:49154\n127.0.0.1:49155\n").unwrap();
        assert_eq!(addr.port(), 49155);
        assert!(published_address("").is_err());
    }
}
