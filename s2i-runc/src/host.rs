//! Where [`crate::ops`] requests are carried out: in this process, on
//! tokio's blocking pool (root), or by the rootless helper
//! ([`crate::helper`]). The backend calls [`Host::call`] either way.

use std::os::fd::OwnedFd;
use std::sync::Arc;

use s2i_core::runtime::{RuntimeError, RuntimeErrorKind};

use crate::helper::HelperClient;
use crate::ops::{Ops, Request, Response};

/// Carries out requests; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) enum Host {
    /// In this process.
    Local(Arc<Ops>),
    /// In the rootless helper.
    Helper(Arc<HelperClient>),
}

impl Host {
    /// Send `request` (with `fds`) and wait for its reply. A `Failed` reply
    /// is an error (`NotFound` when it says so).
    pub(crate) async fn call(&self, request: Request, fds: Vec<OwnedFd>) -> Result<Response, RuntimeError> {
        let response = match self {
            Host::Local(ops) => {
                let ops = ops.clone();
                let (sender, receiver) = tokio::sync::oneshot::channel();
                let work = tokio::task::spawn_blocking(move || {
                    let mut sender = Some(sender);
                    ops.handle(request, fds, &mut |response| {
                        if let Some(sender) = sender.take() {
                            let _ = sender.send(response);
                        }
                    });
                });
                match receiver.await {
                    Ok(response) => response,
                    Err(_) => {
                        let why = work.await.err().map_or_else(|| "it gave no answer".to_owned(), |e| e.to_string());
                        return Err(RuntimeError::new(
                            RuntimeErrorKind::Other,
                            format!("a container operation failed: {why}"),
                        ));
                    }
                }
            }
            Host::Helper(client) => client.call(request, fds).await?,
        };
        match response {
            Response::Failed { not_found: true, message } => {
                Err(RuntimeError::new(RuntimeErrorKind::NotFound, message))
            }
            Response::Failed { not_found: false, message } => Err(RuntimeError::new(RuntimeErrorKind::Other, message)),
            response => Ok(response),
        }
    }
}

/// An unexpected reply, as an error.
pub(crate) fn unexpected(response: &Response) -> RuntimeError {
    RuntimeError::new(RuntimeErrorKind::Other, format!("unexpected reply of a container operation: {response:?}"))
}
