//! Incremental builds: `save-artifacts` runs in the previous image and its
//! stdout flows, as it is produced, into the new build's input archive under
//! `artifacts/` (see [`crate::archive`] for the checks on every entry). No
//! host directory holds the artifacts, and memory does not grow with them.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use serde::{Deserialize, Serialize};
use tokio_util::io::{StreamReader, SyncIoBridge};

use crate::archive::TarInput;
use crate::error::{Error, Result};
use crate::events::{EventSink, EventSinkExt};
use crate::exec::{self, Cleanup, LineSplitter};
use crate::runtime::{ContainerRuntime, ContainerSpec, HostOptions, OutputKind};

/// The image of the previous build, whose artifacts an incremental build reuses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreviousImage {
    /// Its name, as the engine knows it.
    pub name: String,
    /// Its ID.
    pub id: String,
    /// Path of `save-artifacts` inside it.
    pub save_artifacts: String,
    /// User `save-artifacts` runs as; the image's `USER` when `None`.
    pub user: Option<String>,
}

/// Chunks of artifacts buffered between the container and the archive writer.
const CHANNEL_CHUNKS: usize = 8;

/// Start `save-artifacts` in the previous image and return its stdout as the
/// artifacts of the input archive. Its stderr is relayed as output lines.
/// The container is registered with `cleanup`.
pub(crate) async fn start(
    runtime: &Arc<dyn ContainerRuntime>,
    events: &Arc<dyn EventSink>,
    cleanup: &Cleanup,
    previous: &PreviousImage,
    host: &HostOptions,
    labels: &std::collections::BTreeMap<String, String>,
    stall_timeout: Duration,
) -> Result<TarInput> {
    let spec = ContainerSpec {
        labels: labels.clone(),
        name: Some(exec::container_name(&previous.name)),
        image: previous.id.clone(),
        // Run the script itself: no shell and no entrypoint in between, as the reference does.
        entrypoint: Some(Vec::new()),
        cmd: vec![previous.save_artifacts.clone()],
        user: previous.user.clone(),
        host: host.clone(),
        ..Default::default()
    };
    let container = exec::create_container(runtime.as_ref(), events.as_ref(), cleanup, &spec).await?;
    let attachment =
        runtime.attach_container(&container, false).await.map_err(|e| Error::runtime("attach to save-artifacts", e))?;
    runtime.start_container(&container).await.map_err(|e| Error::runtime("start save-artifacts", e))?;
    events.info(format!("Saving artifacts of {}", previous.name));

    let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<bytes::Bytes>>(CHANNEL_CHUNKS);
    let (status_sender, status_receiver) = std::sync::mpsc::channel::<std::result::Result<(), String>>();
    let runtime = runtime.clone();
    let events = events.clone();
    tokio::spawn(async move {
        let mut output = attachment.output;
        let mut stderr = LineSplitter::new(events.clone(), Vec::new());
        let outcome = loop {
            match tokio::time::timeout(stall_timeout, output.next()).await {
                Err(_) => {
                    let message = format!("save-artifacts sent nothing for {} s", stall_timeout.as_secs());
                    let _ = sender.send(Err(std::io::Error::new(std::io::ErrorKind::TimedOut, message.clone()))).await;
                    break Err(message);
                }
                Ok(None) => break Ok(()),
                Ok(Some(Ok(chunk))) => match chunk.kind {
                    OutputKind::Stdout => {
                        if sender.send(Ok(chunk.bytes)).await.is_err() {
                            // The archive writer gave up; the container is removed with the build.
                            break Err("the artifacts were not read to the end".to_owned());
                        }
                    }
                    OutputKind::Stderr => stderr.push(&chunk),
                },
                Ok(Some(Err(e))) => {
                    let _ = sender.send(Err(std::io::Error::other(e.message.clone()))).await;
                    break Err(e.message);
                }
            }
        };
        stderr.finish();
        drop(sender);
        let status = match outcome {
            Err(message) => Err(message),
            Ok(()) => match runtime.wait_container(&container).await {
                Ok(status) if status.code == 0 => Ok(()),
                Ok(status) => {
                    let tail = stderr.tail();
                    let last = tail.last().map(|l| format!(": {l}")).unwrap_or_default();
                    Err(format!("save-artifacts exited with code {}{last}", status.code))
                }
                Err(e) => Err(e.message),
            },
        };
        let _ = status_sender.send(status);
    });

    let stream = futures::stream::unfold(receiver, |mut r| async move { r.recv().await.map(|item| (item, r)) });
    let reader = SyncIoBridge::new(StreamReader::new(Box::pin(stream)));
    Ok(TarInput::artifacts(
        Box::new(reader),
        Box::new(move || {
            status_receiver
                .recv_timeout(Duration::from_secs(120))
                .unwrap_or_else(|_| Err("save-artifacts did not finish".to_owned()))
        }),
    ))
}

/// Warn that the build goes on without artifacts.
pub(crate) fn clean_build(events: &dyn EventSink, why: &str) {
    events.warn(format!("Clean build will be performed: {why}"));
}
