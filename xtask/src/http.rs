//! A minimal HTTP/1.0 client, enough to fetch the demo's page and to ask an
//! engine's unix socket whether it answers.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A response: status code and body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) status: u16,
    pub(crate) body: String,
}

/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// `GET path` from `addr` once.
pub(crate) fn get(addr: SocketAddr, path: &str) -> Result<Response> {
    let stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    exchange(stream, &addr.to_string(), path)
}

/// `GET path` from the server on the unix socket `socket` once.
pub(crate) fn get_unix(socket: &Path, path: &str) -> Result<Response> {
    let stream = UnixStream::connect(socket)?;
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    exchange(stream, "localhost", path)
}

fn exchange(mut stream: impl Read + Write, host: &str, path: &str) -> Result<Response> {
    let request = format!("GET {path} HTTP/1.0\r\nHost: {host}\r\nUser-Agent: s2i-xtask\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes())?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw)
}

/// `GET path` from `addr`, retrying until a response arrives or `patience`
/// runs out (a server in a fresh container takes a moment to listen).
pub(crate) fn get_with_retry(addr: SocketAddr, path: &str, patience: Duration) -> Result<Response> {
    let started = Instant::now();
    loop {
        match get(addr, path) {
            Ok(response) => return Ok(response),
            Err(err) if started.elapsed() >= patience => {
                return Err(err.context(format!("no HTTP answer from {addr} within {}s", patience.as_secs())));
            }
            Err(_) => sleep(Duration::from_millis(200)),
        }
    }
}

fn parse_response(raw: &[u8]) -> Result<Response> {
    if raw.is_empty() {
        bail!("the connection closed without a response");
    }
    let split =
        raw.windows(4).position(|window| window == b"\r\n\r\n").context("the response has no end of headers")?;
    let head = String::from_utf8_lossy(&raw[..split]);
    let status_line = head.lines().next().unwrap_or_default();
    let mut parts = status_line.split_whitespace();
    let version = parts.next().unwrap_or_default();
    if !version.starts_with("HTTP/") {
        bail!("not an HTTP response: {status_line:?}");
    }
    let status =
        parts.next().and_then(|code| code.parse().ok()).with_context(|| format!("bad status line {status_line:?}"))?;
    let body = String::from_utf8_lossy(&raw[split + 4..]).into_owned();
    Ok(Response { status, body })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn parses_status_and_body() {
        let response = parse_response(b"HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n<h1>Hi</h1>\n").unwrap();
        assert_eq!(response, Response { status: 200, body: "<h1>Hi</h1>\n".to_owned() });
        assert_eq!(parse_response(b"HTTP/1.1 404 Not Found\r\n\r\n").unwrap().status, 404);
    }

    #[test]
    fn rejects_what_is_not_a_response() {
        assert!(parse_response(b"").is_err());
        assert!(parse_response(b"HTTP/1.0 200 OK\r\n").is_err());
        assert!(parse_response(b"SSH-2.0-OpenSSH\r\n\r\n").is_err());
    }

    #[test]
    fn fetches_from_a_local_server() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = Vec::new();
            let mut buffer = [0u8; 1024];
            while !request.ends_with(b"\r\n\r\n") {
                let n = stream.read(&mut buffer).unwrap();
                assert!(n > 0, "the client closed before the end of its request");
                request.extend_from_slice(&buffer[..n]);
            }
            let request = String::from_utf8(request).unwrap();
            stream.write_all(b"HTTP/1.0 200 OK\r\n\r\nhello").unwrap();
            request
        });
        let response = get_with_retry(addr, "/", Duration::from_secs(5)).unwrap();
        assert_eq!(response.body, "hello");
        assert!(server.join().unwrap().starts_with("GET / HTTP/1.0\r\n"));
    }

    #[test]
    fn fetches_from_a_unix_socket() {
        let socket = std::env::temp_dir().join(format!("s2i-xtask-http-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&socket);
        let listener = std::os::unix::net::UnixListener::bind(&socket).unwrap();
        let server = std::thread::spawn(move || {
            let (mut stream, _) = listener.accept().unwrap();
            let mut request = [0u8; 1024];
            let n = stream.read(&mut request).unwrap();
            stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK").unwrap();
            String::from_utf8_lossy(&request[..n]).into_owned()
        });
        let response = get_unix(&socket, "/_ping").unwrap();
        std::fs::remove_file(&socket).unwrap();
        assert_eq!(response, Response { status: 200, body: "OK".to_owned() });
        assert!(server.join().unwrap().starts_with("GET /_ping HTTP/1.0\r\n"));
    }
}
