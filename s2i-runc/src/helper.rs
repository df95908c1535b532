//! The rootless helper: for a user without root, container file systems
//! and processes are handled by a helper process that is root of a user
//! namespace of its own, with a mount namespace of its own:
//!
//! - with ranges in `/etc/subuid` and `/etc/subgid` (and `newuidmap` /
//!   `newgidmap` installed), the namespace maps root to the user and ids 1
//!   and up to the user's ranges, so files keep the owners they have inside
//!   the container (as rootless Podman does);
//! - otherwise only root is mapped, to the user (runc's rootless mode):
//!   every process of a container runs as the container's root, which is
//!   the user, and everything it writes belongs to root in the layer.
//!
//! The helper is this very program, started again: `unshare(1)` makes the
//! namespaces and runs it; once the parent has written the id maps, it
//! starts itself once more, now with a root's capabilities in the
//! namespace. A program that embeds the backend calls
//! [`run_if_requested`] first thing in `main` for that. The helper and
//! the parent talk over a socket pair: requests and replies as JSON
//! messages, open files (stdio, archive pipes) passed beside them.
//!
//! Its mounts live in its mount namespace: when it exits (its parent went
//! away and the socket closed), they go with it; it deletes the containers
//! it started before it exits.

use std::collections::HashMap;
use std::io::{self, IoSlice, IoSliceMut, Read};
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustix::net::{
    AddressFamily, RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags, SendAncillaryBuffer, SendAncillaryMessage,
    SendFlags, SocketFlags, SocketType,
};
use s2i_core::runtime::{RuntimeError, RuntimeErrorKind};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ops::{Ops, Request, Response};

/// The environment variable that makes this program the helper (its value is the stage).
const HELPER_ENV: &str = "S2I_RUNC_HELPER";
/// The argument the helper is started with (a program that does not know it refuses it).
const HELPER_ARG: &str = "--s2i-runc-helper";
/// The largest message.
const MAX_MESSAGE: usize = 1 << 20;
/// Open files one message carries at most.
const MAX_FDS: usize = 4;

/// A message between the parent and the helper.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "message", rename_all = "kebab-case")]
enum Message {
    /// The helper runs (stage 1: in the namespaces, before the maps; stage 2: ready).
    Hello { stage: u8, uid_map: String, gid_map: String },
    /// The parent wrote the id maps.
    Mapped,
    /// A request.
    Call { id: u64, request: Request },
    /// Its reply.
    Reply { id: u64, response: Response },
}

fn send(socket: BorrowedFd<'_>, message: &Message, fds: &[BorrowedFd<'_>]) -> io::Result<()> {
    let bytes = serde_json::to_vec(message).map_err(io::Error::other)?;
    if bytes.len() > MAX_MESSAGE {
        return Err(io::Error::other("a helper message is too large"));
    }
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    if !fds.is_empty() && !control.push(SendAncillaryMessage::ScmRights(fds)) {
        return Err(io::Error::other("too many open files for one helper message"));
    }
    rustix::net::sendmsg(socket, &[IoSlice::new(&bytes)], &mut control, SendFlags::NOSIGNAL)?;
    Ok(())
}

/// The next message; `None` when the other side closed the socket.
fn receive(socket: BorrowedFd<'_>, buffer: &mut [u8]) -> io::Result<Option<(Message, Vec<OwnedFd>)>> {
    let mut space = [MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(MAX_FDS))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let received = loop {
        match rustix::net::recvmsg(socket, &mut [IoSliceMut::new(buffer)], &mut control, RecvFlags::CMSG_CLOEXEC) {
            Ok(received) => break received,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    let mut fds = Vec::new();
    for message in control.drain() {
        if let RecvAncillaryMessage::ScmRights(received) = message {
            fds.extend(received);
        }
    }
    if received.bytes == 0 {
        return Ok(None);
    }
    let message = serde_json::from_slice(&buffer[..received.bytes]).map_err(io::Error::other)?;
    Ok(Some((message, fds)))
}

/// Run the helper when this process was started as one, and exit; return
/// at once otherwise. Programs that use the backend without root call it
/// first thing in `main`, before any thread starts.
pub fn run_if_requested() {
    let Some(stage) = std::env::var_os(HELPER_ENV) else { return };
    if std::env::args_os().nth(1).as_deref() != Some(std::ffi::OsStr::new(HELPER_ARG)) {
        return;
    }
    let socket: OwnedFd = io::stdin().as_fd().try_clone_to_owned().unwrap_or_else(|_| std::process::exit(70));
    let code = match stage.to_str() {
        Some("1") => stage_one(&socket),
        Some("2") => stage_two(socket),
        _ => 70,
    };
    std::process::exit(code);
}

fn maps() -> (String, String) {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    (read("/proc/self/uid_map"), read("/proc/self/gid_map"))
}

/// In the new namespaces, unmapped: say so, wait for the maps, start again.
fn stage_one(socket: &OwnedFd) -> i32 {
    let (uid_map, gid_map) = maps();
    if send(socket.as_fd(), &Message::Hello { stage: 1, uid_map, gid_map }, &[]).is_err() {
        return 71;
    }
    let mut buffer = vec![0u8; 4096];
    match receive(socket.as_fd(), &mut buffer) {
        Ok(Some((Message::Mapped, _))) => {}
        _ => return 72,
    }
    // Started again with the maps in place, the program has root's capabilities in the namespace.
    use std::os::unix::process::CommandExt;
    let error = Command::new("/proc/self/exe").arg(HELPER_ARG).env(HELPER_ENV, "2").exec();
    // The parent shows the helper's stderr when the start fails.
    let _ = std::io::Write::write_fmt(
        &mut std::io::stderr(),
        format_args!("the rootless helper cannot start again: {error}\n"),
    );
    73
}

/// Root of the namespace: serve requests until the parent goes away.
fn stage_two(socket: OwnedFd) -> i32 {
    let socket = Arc::new(socket);
    let (uid_map, gid_map) = maps();
    if send(socket.as_fd(), &Message::Hello { stage: 2, uid_map, gid_map }, &[]).is_err() {
        return 74;
    }
    let ops = Arc::new(Ops::default());
    let sending = Arc::new(Mutex::new(()));
    let mut buffer = vec![0u8; MAX_MESSAGE];
    loop {
        match receive(socket.as_fd(), &mut buffer) {
            Ok(Some((Message::Call { id, request }, fds))) => {
                let (ops, socket, sending) = (ops.clone(), socket.clone(), sending.clone());
                std::thread::spawn(move || {
                    ops.handle(request, fds, &mut |response| {
                        let _guard = sending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                        let _ = send(socket.as_fd(), &Message::Reply { id, response }, &[]);
                    });
                });
            }
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => break,
        }
    }
    // The parent is gone: nothing of its containers may run on.
    ops.delete_all();
    0
}

/// How ids are mapped in the helper's namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Mapping {
    /// Root to the user, 1.. to subordinate ranges.
    Subordinate { uid: (u32, u32, u32), gid: (u32, u32, u32) },
    /// Only root, to the user.
    Single,
}

/// The parent's side of the helper.
#[derive(Debug)]
pub(crate) struct HelperClient {
    socket: Arc<OwnedFd>,
    sending: Mutex<()>,
    pending: Arc<Mutex<Pending>>,
    next: AtomicU64,
    child: Mutex<Child>,
    /// The maps the helper reported (`/proc/self/uid_map` in its namespace).
    pub(crate) uid_map: String,
    pub(crate) gid_map: String,
    pub(crate) mapping: Mapping,
}

#[derive(Debug, Default)]
struct Pending {
    waiting: HashMap<u64, tokio::sync::oneshot::Sender<Response>>,
    /// Why the helper stopped answering, once it did.
    gone: Option<String>,
}

impl Drop for HelperClient {
    fn drop(&mut self) {
        // Closing the socket ends the helper; it removes what it started.
        let _ = rustix::net::shutdown(self.socket.as_fd(), rustix::net::Shutdown::Both);
        if let Ok(mut child) = self.child.lock() {
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            while std::time::Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The user's subordinate range in `/etc/subuid` or `/etc/subgid` (by name or id).
fn subordinate_range(file: &str, name: Option<&str>, id: u32) -> Option<(u32, u32)> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines().find_map(|line| {
        let mut fields = line.trim().split(':');
        let (owner, start, count) = (fields.next()?, fields.next()?, fields.next()?);
        let matches = Some(owner) == name || owner.parse::<u32>().ok() == Some(id);
        (matches && !line.trim_start().starts_with('#')).then(|| Some((start.parse().ok()?, count.parse().ok()?)))?
    })
}

/// The name of a user id in `/etc/passwd`.
fn user_name(uid: u32) -> Option<String> {
    let text = std::fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.get(2)?.parse::<u32>().ok()? == uid).then(|| fields[0].to_owned())
    })
}

/// The mapping this user gets: subordinate ranges when both files list the
/// user and the setuid helpers exist, else root only.
pub(crate) fn mapping() -> Mapping {
    let uid = rustix::process::getuid().as_raw();
    let gid = rustix::process::getgid().as_raw();
    let name = user_name(uid);
    let ranges = (
        subordinate_range("/etc/subuid", name.as_deref(), uid),
        subordinate_range("/etc/subgid", name.as_deref(), uid),
    );
    let tools =
        crate::options::find_program("newuidmap").is_some() && crate::options::find_program("newgidmap").is_some();
    match ranges {
        (Some((us, uc)), Some((gs, gc))) if tools && uc > 0 && gc > 0 => {
            Mapping::Subordinate { uid: (uid, us, uc), gid: (gid, gs, gc) }
        }
        _ => Mapping::Single,
    }
}

impl HelperClient {
    /// Start the helper (blocking: a few milliseconds).
    pub(crate) fn start(mapping: Mapping) -> Result<Self> {
        let unshare = crate::options::find_program("unshare").ok_or_else(|| Error::Rootless {
            reason: "the unshare program (util-linux) is not installed".to_owned(),
            help: "install util-linux, or run s2i as root".to_owned(),
        })?;
        let (parent, child_end) =
            rustix::net::socketpair(AddressFamily::UNIX, SocketType::SEQPACKET, SocketFlags::CLOEXEC, None)
                .map_err(|e| Error::io("make the helper's socket")(e.into()))?;
        // The helper is this program (its path: a process in the new namespace may not read our /proc).
        let program = std::env::current_exe().map_err(|e| Error::Rootless {
            reason: format!("the program's own path is unknown: {e}"),
            help: "run s2i from its file".to_owned(),
        })?;
        if program.to_string_lossy().ends_with(" (deleted)") {
            return Err(Error::Rootless {
                reason: format!("the program's file {} was replaced since it started", program.display()),
                help: "run the command again".to_owned(),
            });
        }
        let mut child = Command::new(unshare)
            .args(["--user", "--mount", "--propagation", "private", "--"])
            .arg(program)
            .arg(HELPER_ARG)
            .env(HELPER_ENV, "1")
            .stdin(Stdio::from(child_end))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::Rootless {
                reason: format!("unshare does not run: {e}"),
                help: "check util-linux's unshare".to_owned(),
            })?;
        let stderr = child.stderr.take();
        let diagnostics = Arc::new(Mutex::new(Vec::new()));
        if let Some(mut stderr) = stderr {
            let diagnostics = diagnostics.clone();
            std::thread::spawn(move || {
                let mut buffer = [0u8; 1024];
                while let Ok(read) = stderr.read(&mut buffer) {
                    if read == 0 {
                        break;
                    }
                    let mut kept = diagnostics.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                    kept.extend_from_slice(&buffer[..read]);
                    let excess = kept.len().saturating_sub(4096);
                    kept.drain(..excess);
                }
            });
        }
        let fail = |child: &mut Child, reason: String| {
            let _ = child.kill();
            let _ = child.wait();
            std::thread::sleep(Duration::from_millis(20));
            let said = String::from_utf8_lossy(&diagnostics.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
                .trim()
                .to_owned();
            let reason = if said.is_empty() { reason } else { format!("{reason}: {said}") };
            Error::Rootless {
                reason,
                help: "check that user namespaces are allowed (sysctl user.max_user_namespaces, kernel.unprivileged_userns_clone) and that the program calls s2i_runc::helper::run_if_requested() first in main".to_owned(),
            }
        };
        let mut buffer = vec![0u8; 8192];
        let socket = parent.as_fd();
        // Reads must not hang on a helper that never speaks.
        rustix::net::sockopt::set_socket_timeout(
            socket,
            rustix::net::sockopt::Timeout::Recv,
            Some(Duration::from_secs(20)),
        )
        .map_err(|e| Error::io("set the helper socket's timeout")(e.into()))?;
        match receive(socket, &mut buffer) {
            Ok(Some((Message::Hello { stage: 1, .. }, _))) => {}
            Ok(_) => return Err(fail(&mut child, "the helper did not start".to_owned())),
            Err(e) => return Err(fail(&mut child, format!("the helper did not start ({e})"))),
        }
        if let Err(reason) = write_maps(child.id(), &mapping) {
            return Err(fail(&mut child, reason));
        }
        if let Err(e) = send(socket, &Message::Mapped, &[]) {
            return Err(fail(&mut child, format!("the helper went away ({e})")));
        }
        let (uid_map, gid_map) = match receive(socket, &mut buffer) {
            Ok(Some((Message::Hello { stage: 2, uid_map, gid_map }, _))) => (uid_map, gid_map),
            Ok(_) => return Err(fail(&mut child, "the helper did not become root of its namespace".to_owned())),
            Err(e) => return Err(fail(&mut child, format!("the helper did not become root of its namespace ({e})"))),
        };
        rustix::net::sockopt::set_socket_timeout(socket, rustix::net::sockopt::Timeout::Recv, None)
            .map_err(|e| Error::io("set the helper socket's timeout")(e.into()))?;
        let socket = Arc::new(parent);
        let pending = Arc::new(Mutex::new(Pending::default()));
        {
            let (socket, pending) = (socket.clone(), pending.clone());
            std::thread::spawn(move || read_replies(&socket, &pending));
        }
        Ok(Self {
            socket,
            sending: Mutex::new(()),
            pending,
            next: AtomicU64::new(1),
            child: Mutex::new(child),
            uid_map,
            gid_map,
            mapping,
        })
    }

    /// Send a request and wait for its reply.
    pub(crate) async fn call(
        &self,
        request: Request,
        fds: Vec<OwnedFd>,
    ) -> std::result::Result<Response, RuntimeError> {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let (sender, receiver) = tokio::sync::oneshot::channel();
        {
            let mut pending = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if let Some(why) = &pending.gone {
                return Err(gone(why));
            }
            pending.waiting.insert(id, sender);
        }
        {
            let _guard = self.sending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(AsFd::as_fd).collect();
            if let Err(e) = send(self.socket.as_fd(), &Message::Call { id, request }, &borrowed) {
                self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).waiting.remove(&id);
                return Err(gone(&e.to_string()));
            }
        }
        // Our copies of the files go now: the helper has its own.
        drop(fds);
        receiver.await.map_err(|_| {
            let why = self.pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).gone.clone();
            gone(why.as_deref().unwrap_or("it stopped"))
        })
    }
}

fn gone(why: &str) -> RuntimeError {
    RuntimeError::new(RuntimeErrorKind::Unreachable, format!("the rootless helper does not answer ({why})"))
}

fn read_replies(socket: &OwnedFd, pending: &Mutex<Pending>) {
    let mut buffer = vec![0u8; MAX_MESSAGE];
    let why = loop {
        match receive(socket.as_fd(), &mut buffer) {
            Ok(Some((Message::Reply { id, response }, _))) => {
                let sender = pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner).waiting.remove(&id);
                if let Some(sender) = sender {
                    let _ = sender.send(response);
                }
            }
            Ok(Some(_)) => {}
            Ok(None) => break "it exited".to_owned(),
            Err(e) => break e.to_string(),
        }
    };
    let mut pending = pending.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    pending.gone = Some(why);
    pending.waiting.clear();
}

/// Write the id maps of process `pid`'s user namespace.
fn write_maps(pid: u32, mapping: &Mapping) -> std::result::Result<(), String> {
    match mapping {
        Mapping::Subordinate { uid: (uid, us, uc), gid: (gid, gs, gc) } => {
            for (program, own, start, count) in [("newuidmap", uid, us, uc), ("newgidmap", gid, gs, gc)] {
                let output = Command::new(program)
                    .arg(pid.to_string())
                    .args(["0", &own.to_string(), "1", "1", &start.to_string(), &count.to_string()])
                    .stdin(Stdio::null())
                    .output()
                    .map_err(|e| format!("{program} does not run: {e}"))?;
                if !output.status.success() {
                    return Err(format!("{program} failed: {}", String::from_utf8_lossy(&output.stderr).trim()));
                }
            }
            Ok(())
        }
        Mapping::Single => {
            let uid = rustix::process::getuid().as_raw();
            let gid = rustix::process::getgid().as_raw();
            let write = |file: &str, text: String| {
                std::fs::write(format!("/proc/{pid}/{file}"), text)
                    .map_err(|e| format!("write /proc/{pid}/{file}: {e}"))
            };
            write("uid_map", format!("0 {uid} 1\n"))?;
            write("setgroups", "deny\n".to_owned())?;
            write("gid_map", format!("0 {gid} 1\n"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_and_files_cross_the_socket() {
        let (a, b) =
            rustix::net::socketpair(AddressFamily::UNIX, SocketType::SEQPACKET, SocketFlags::CLOEXEC, None).unwrap();
        let (reader, mut writer) = std::io::pipe().unwrap();
        let reader: OwnedFd = reader.into();
        send(a.as_fd(), &Message::Call { id: 7, request: Request::Wait { id: "c".into() } }, &[reader.as_fd()])
            .unwrap();
        drop(reader);
        let mut buffer = vec![0u8; 4096];
        let (message, fds) = receive(b.as_fd(), &mut buffer).unwrap().unwrap();
        assert!(matches!(message, Message::Call { id: 7, .. }));
        assert_eq!(fds.len(), 1);
        std::io::Write::write_all(&mut writer, b"through").unwrap();
        drop(writer);
        let mut text = String::new();
        std::fs::File::from(fds.into_iter().next().unwrap()).read_to_string(&mut text).unwrap();
        assert_eq!(text, "through");
        drop(a);
        assert!(receive(b.as_fd(), &mut buffer).unwrap().is_none(), "a closed socket is the end");
    }

    #[test]
    fn subordinate_ranges_are_found_by_name_or_id() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("subuid");
        std::fs::write(&file, "# comment\nalice:100000:65536\n1234:200000:1000\n").unwrap();
        let file = file.to_str().unwrap();
        assert_eq!(subordinate_range(file, Some("alice"), 1000), Some((100000, 65536)));
        assert_eq!(subordinate_range(file, Some("bob"), 1234), Some((200000, 1000)));
        assert_eq!(subordinate_range(file, Some("carol"), 99), None);
    }
}
