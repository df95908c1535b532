//! `--callback-url`: the outcome of a build, POSTed as JSON to a URL the
//! caller names, once the build has ended and been cleaned up.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;

use super::{BuildResult, Engine};
use crate::error::Result;
use crate::events::EventSinkExt;
use crate::retry::retry;

impl Engine {
    /// POST the outcome to `url` as JSON; retried on transport errors with the same body.
    pub(crate) async fn callback(&self, url: &str, result: &Result<BuildResult>) {
        #[derive(Serialize)]
        struct Body<'a> {
            success: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            labels: Option<&'a BTreeMap<String, String>>,
        }
        let body = match result {
            Ok(r) => Body { success: true, labels: Some(&r.labels).filter(|l| !l.is_empty()) },
            Err(_) => Body { success: false, labels: None },
        };
        let body = serde_json::to_vec(&body).expect("the callback body serialises");
        let url = url.to_owned();
        let attempt = |_| {
            let (url, body) = (url.clone(), body.clone());
            async move {
                tokio::task::spawn_blocking(move || post_json(&url, &body))
                    .await
                    .unwrap_or_else(|e| Err(CallbackError::Transport(e.to_string())))
            }
        };
        let transient = |e: &CallbackError| matches!(e, CallbackError::Transport(_));
        match retry(3, Duration::from_secs(1), transient, attempt).await {
            Ok(()) => self.events.detail(format!("Posted the build result to {url}")),
            Err(CallbackError::Transport(e)) => self.events.warn(format!("callback to {url} failed: {e}")),
            Err(CallbackError::Status(code)) => self.events.warn(format!("callback to {url} answered HTTP {code}")),
        }
    }
}

/// Failure of a callback POST.
enum CallbackError {
    /// The request did not get an answer (retried).
    Transport(String),
    /// The server answered with this status (not retried).
    Status(u16),
}

fn post_json(url: &str, body: &[u8]) -> std::result::Result<(), CallbackError> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(30)))
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body)
        .map_err(|e| CallbackError::Transport(e.to_string()))?;
    match response.status().as_u16() {
        code if code < 300 => Ok(()),
        code => Err(CallbackError::Status(code)),
    }
}
