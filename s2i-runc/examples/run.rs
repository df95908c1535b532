//! Run one command in a container of an image of s2i's image store and
//! print its output, without a daemon (as root, or rootless):
//!
//! ```sh
//! cargo run -p s2i-runc --example run -- s2i-fixtures/busybox-builder:latest id
//! cargo run -p s2i-runc --example run        # a busybox image made here, in a temporary store
//! ```
//!
//! The store is `S2I_OCI_STORE_DIR` (default: the user's data directory);
//! copy an image into it with `s2i build --engine oci` (a builder given as
//! `docker-archive:FILE` or `oci:DIR`) or `skopeo copy … oci:STORE:IMAGE`.
//! Without arguments, the example writes an image of the host's static
//! `/bin/busybox` (Debian's busybox-static) into a temporary store and runs
//! a shell's `echo` in it.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::BTreeMap;

use futures::StreamExt;
use s2i_core::ContainerRuntime;
use s2i_core::runtime::{ContainerSpec, OutputKind};
use s2i_oci::image::{ConfigChanges, HistoryStep, ImageParts, ManifestFormat, assemble};
use s2i_oci::layer::{LayerEntry, LayerOptions, LayerWriter};
use s2i_oci::spec::ImageConfig;
use s2i_runc::{ImageStore, OciOptions, OciRuntime};

/// An image of one static busybox, `/bin/sh` a link to it, named `busybox:example`.
fn busybox_image(store: &ImageStore) -> Result<String, Box<dyn std::error::Error>> {
    let busybox =
        std::fs::read("/bin/busybox").map_err(|e| format!("/bin/busybox: {e} (apt-get install busybox-static)"))?;
    let mut writer = LayerWriter::new(store.layout().blob_writer()?, LayerOptions::default());
    writer.append(&LayerEntry::file("bin/busybox", busybox.len() as u64, 0o755), &mut &busybox[..])?;
    writer.append(&LayerEntry::symlink("bin/sh", "busybox"), &mut std::io::empty())?;
    let (blob, layer) = writer.finish()?;
    blob.commit()?;
    let base = ImageConfig { architecture: "amd64".into(), os: "linux".into(), ..Default::default() };
    let changes = ConfigChanges { env: vec![("PATH".into(), "/bin".into())], ..Default::default() };
    let image = assemble(&ImageParts {
        base_config: &base,
        base_layers: &[],
        layer: &layer,
        changes: &changes,
        history: HistoryStep { created_by: "examples/run.rs".into(), comment: None },
        epoch: Some(0),
        format: ManifestFormat::Oci,
        annotations: BTreeMap::new(),
    })?;
    store.add(&image, Some("busybox:example"))?;
    Ok("busybox:example".into())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    s2i_runc::helper::run_if_requested();
    let mut args = std::env::args().skip(1);
    let temporary = tempfile::tempdir()?;
    let (runtime, image, command) = match args.next() {
        Some(image) => (OciRuntime::connect(&OciOptions::from_env()).await?, image, args.collect::<Vec<_>>()),
        None => {
            let options = OciOptions {
                store_dir: Some(temporary.path().join("store")),
                cache_dir: Some(temporary.path().join("cache")),
                state_dir: Some(temporary.path().join("state")),
                ..OciOptions::from_env()
            };
            let runtime = OciRuntime::connect(&options).await?;
            let store = runtime.store().clone();
            let image = tokio::task::spawn_blocking(move || busybox_image(&store).map_err(|e| e.to_string())).await??;
            let command = ["sh", "-c", "echo hello from a container without a daemon, as $(busybox id -u)"];
            (runtime, image, command.map(String::from).to_vec())
        }
    };
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
