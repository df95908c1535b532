//! Run one command in a container of an image of s2i's image store and
//! print its output, without a daemon:
//!
//! ```sh
//! cargo run -p s2i-runc --example run -- s2i-fixtures/busybox-builder:latest id
//! ```
//!
//! The store is `S2I_OCI_STORE_DIR` (default: the user's data directory);
//! put an image into it with `skopeo copy docker-daemon:IMAGE oci:STORE:IMAGE`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use futures::StreamExt;
use s2i_core::ContainerRuntime;
use s2i_core::runtime::{ContainerSpec, OutputKind};
use s2i_runc::{OciOptions, OciRuntime};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    s2i_runc::helper::run_if_requested();
    let mut args = std::env::args().skip(1);
    let (Some(image), command) = (args.next(), args.collect::<Vec<_>>()) else {
        return Err("usage: run IMAGE [COMMAND…]".into());
    };
    let runtime = OciRuntime::connect(&OciOptions::from_env()).await?;
    let spec = ContainerSpec {
        image,
        entrypoint: (!command.is_empty()).then(Vec::new),
        cmd: command,
        ..ContainerSpec::default()
    };
    let id = runtime.create_container(&spec).await?;
    let result = async {
        let attachment = runtime.attach_container(&id, false).await?;
        runtime.start_container(&id).await?;
        let mut output = attachment.output;
        while let Some(chunk) = output.next().await {
            let chunk = chunk?;
            let text = String::from_utf8_lossy(&chunk.bytes);
            match chunk.kind {
                OutputKind::Stdout => print!("{text}"),
                OutputKind::Stderr => eprint!("{text}"),
            }
        }
        runtime.wait_container(&id).await
    }
    .await;
    runtime.remove_container(&id).await?;
    let status = result?;
    if status.code != 0 {
        return Err(format!(
            "exited with {}{}",
            status.code,
            status.error.map(|e| format!(": {e}")).unwrap_or_default()
        )
        .into());
    }
    Ok(())
}
