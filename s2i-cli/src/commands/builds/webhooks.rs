//! The webhook server of `s2i controller --webhook-port`: HTTP/1.1 on
//! 127.0.0.1, each request handed to `Builds::webhook`, which decides and
//! starts builds; this module only reads requests and writes answers.

use std::time::Duration;

use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use s2i_buildconfig::Builds;
use s2i_buildconfig::webhooks::{WebhookRequest, parse_path};
use tokio::net::{TcpListener, TcpStream};

use crate::failure::Failure;

/// The largest payload read (GitHub sends at most 25 MB; pushes are far smaller).
const MAX_BODY: usize = 25 * 1024 * 1024;
/// How long one connection may take, so that a stalled client cannot hold up the controller.
const CONNECTION_TIMEOUT: Duration = Duration::from_secs(30);

/// Listen on 127.0.0.1:`port` (0: a free port).
pub(super) async fn bind(port: u16) -> Result<TcpListener, Failure> {
    TcpListener::bind(("127.0.0.1", port)).await.map_err(|e| {
        Failure::message(
            format!("cannot serve webhooks on 127.0.0.1:{port}: {e}"),
            "choose another --webhook-port (0 picks a free one), or stop the process that listens on it".into(),
        )
    })
}

/// The next connection; never, without a listener.
pub(super) async fn accept(listener: Option<&TcpListener>) -> std::io::Result<TcpStream> {
    match listener {
        Some(listener) => listener.accept().await.map(|(stream, _)| stream),
        None => std::future::pending().await,
    }
}

/// Serve one connection (one request: no keep-alive) to its end.
pub(super) async fn serve_connection(builds: &Builds<'_>, stream: TcpStream) {
    let service = hyper::service::service_fn(|request| answer(builds, request));
    let connection =
        hyper::server::conn::http1::Builder::new().keep_alive(false).serve_connection(TokioIo::new(stream), service);
    match tokio::time::timeout(CONNECTION_TIMEOUT, connection).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("warning: webhook connection: {e}"),
        Err(_) => eprintln!(
            "warning: webhook connection closed after {}s without a complete request",
            CONNECTION_TIMEOUT.as_secs()
        ),
    }
}

async fn answer(
    builds: &Builds<'_>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let (parts, body) = request.into_parts();
    let mut webhook = WebhookRequest::new(parts.method.as_str(), parts.uri.path());
    for (name, value) in &parts.headers {
        webhook = webhook.header(name.as_str(), String::from_utf8_lossy(value.as_bytes()));
    }
    // Said without the path: it holds the secret.
    let shown = match parse_path(&webhook.path) {
        Ok(hook) => format!("{} webhook of bc/{} in {}", hook.kind.trigger_type(), hook.config, hook.namespace),
        Err(_) => "request for an unknown path".to_owned(),
    };
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            eprintln!("webhook: {shown}: the payload could not be read: {e}");
            return Ok(json_response(413, br#"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the payload could not be read","reason":"RequestEntityTooLarge","code":413}"#.to_vec()));
        }
    };
    let webhook = webhook.body(body.to_vec());
    let response = builds.webhook(&webhook).await;
    for warning in &response.warnings {
        eprintln!("warning: {shown}: {warning}");
    }
    if response.build.is_none() {
        eprintln!("webhook: {shown}: {} {}", response.status, response.message());
    }
    Ok(json_response(response.status, serde_json::to_vec(&response.body).unwrap_or_default()))
}

fn json_response(status: u16, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response
        .headers_mut()
        .insert(hyper::header::CONTENT_TYPE, hyper::header::HeaderValue::from_static("application/json"));
    response
}
