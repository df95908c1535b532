//! The operations that touch container file systems and processes, as
//! requests a [`crate::host::Host`] carries out: in this process (root), or
//! in the rootless helper, which runs them as root of a user namespace so
//! that files keep the owners they have inside the container.
//!
//! Requests and replies are plain serialisable data; open files (a
//! container's stdio, the pipe of an archive) travel beside them.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;

use s2i_core::runtime::PathStat;
use s2i_oci::digest::Digest;
use s2i_oci::layer::{Compression, LayerOptions, LayerWriter};
use s2i_oci::layout::OciLayout;
use s2i_oci::spool::LayerSpooler;
use serde::{Deserialize, Serialize};

use crate::confined::Root;
use crate::layers::LayerCache;
use crate::options::{Flavor, RuntimeProgram};
use crate::rootfs::{self, MountTarget, Rootfs, RootfsKind};
use crate::users::{self, ExecUser};

/// A layer to unpack: its diff ID and blob.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LayerBlob {
    pub(crate) diff_id: Digest,
    pub(crate) blob: PathBuf,
}

/// How the OCI runtime is called for one container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RuntimeCall {
    pub(crate) program: RuntimeProgram,
    /// The runtime's state directory (`--root`).
    pub(crate) state_root: PathBuf,
    pub(crate) id: String,
    /// Whether the container has memory or CPU limits, so needs cgroups.
    #[serde(default)]
    pub(crate) cgroups: bool,
}

/// A request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub(crate) enum Request {
    /// Make a container's root file system (unpacking the layers it needs).
    PrepareRootfs {
        storage: PathBuf,
        layer_cache: PathBuf,
        layers: Vec<LayerBlob>,
        targets: Vec<MountTarget>,
        prefer: Option<RootfsKind>,
    },
    /// Resolve a `USER` value with the root file system's passwd and group files.
    ResolveUser { rootfs: Rootfs, user: String },
    /// Check that `exec` will find the program.
    CheckExecutable { rootfs: Rootfs, argv0: String, path_env: Option<String>, cwd: String },
    /// Make a directory (and its parents), owned by `uid:gid` when new.
    MakeDir { rootfs: Rootfs, path: String, uid: u32, gid: u32 },
    /// Extract the tar of the attached reader into a directory (which must exist).
    Upload { rootfs: Rootfs, path: String },
    /// Write a tar of a path to the attached writer; replies when it is written.
    Download { rootfs: Rootfs, path: String },
    /// What is at a path.
    Stat { rootfs: Rootfs, path: String },
    /// Start the container with the attached stdin, stdout and stderr.
    Run { call: RuntimeCall, bundle: PathBuf, log: PathBuf },
    /// Wait for a started container's runtime process.
    Wait { id: String },
    /// Kill and forget a container in the runtime.
    Delete { call: RuntimeCall },
    /// List what changed in the container since it was created.
    ListChanges { rootfs: Rootfs },
    /// Write the container's changes as a tar in layer order (times as they
    /// are, not compressed) to the attached writer; replies when it is written.
    StreamChanges { rootfs: Rootfs },
    /// Write the container's changes as a layer blob into the layout.
    WriteLayer { rootfs: Rootfs, layout: PathBuf, epoch: Option<u64>, gzip: bool },
    /// Unmount and remove a container's storage.
    Remove { storage: PathBuf, trash: PathBuf },
}

/// A written layer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LayerInfo {
    pub(crate) diff_id: Digest,
    pub(crate) digest: Digest,
    pub(crate) size: u64,
    pub(crate) uncompressed_size: u64,
    pub(crate) gzip: bool,
    pub(crate) entries: u64,
}

/// A path the container changed, as engines list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ChangedPath {
    /// Absolute (`/etc/motd`).
    pub(crate) path: String,
    pub(crate) kind: ChangedKind,
}

/// How a path changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum ChangedKind {
    /// A directory of the upper layer: its own entry changed (or is new);
    /// what changed below it is listed too.
    Directory,
    /// Anything else the upper layer holds: written whole.
    Written,
    /// Removed (or, for a directory, removed and made again: opaque).
    Deleted,
}

/// How a container's runtime process ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ExitInfo {
    /// Exit code (128 + signal for a signal).
    pub(crate) code: i64,
    /// The runtime's own error, when it failed rather than the process.
    pub(crate) runtime_error: Option<String>,
}

/// A reply.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "kebab-case")]
pub(crate) enum Response {
    Done,
    Rootfs { rootfs: Rootfs },
    User { user: ExecUser },
    Stat { stat: Option<PathStat> },
    Found { found: bool },
    Started { pid: u32 },
    Exited { exit: ExitInfo },
    Layer { layer: LayerInfo },
    Changes { changes: Vec<ChangedPath> },
    Failed { not_found: bool, message: String },
}

impl Response {
    fn failed(message: impl Into<String>) -> Self {
        Response::Failed { not_found: false, message: message.into() }
    }

    fn from_io(action: &str, e: &io::Error) -> Self {
        Response::Failed { not_found: crate::confined::is_missing(e), message: format!("{action}: {e}") }
    }
}

/// Carries out requests; see the [module docs](self).
#[derive(Debug, Default)]
pub(crate) struct Ops {
    children: Mutex<HashMap<String, Child>>,
    /// The containers started here and not deleted yet.
    started: Mutex<HashMap<String, RuntimeCall>>,
}

impl Ops {
    /// Carry out `request`; `reply` is called once (a download replies
    /// before it streams).
    pub(crate) fn handle(&self, request: Request, mut fds: Vec<OwnedFd>, reply: &mut dyn FnMut(Response)) {
        let mut fd = |what: &str| -> Result<OwnedFd, Response> {
            if fds.is_empty() { Err(Response::failed(format!("the request has no {what}"))) } else { Ok(fds.remove(0)) }
        };
        let response = match request {
            Request::PrepareRootfs { storage, layer_cache, layers, targets, prefer } => {
                match prepare_rootfs(&storage, &layer_cache, &layers, &targets, prefer) {
                    Ok(rootfs) => Response::Rootfs { rootfs },
                    Err(e) => {
                        let _ = rootfs::remove(&storage);
                        Response::failed(e.to_string())
                    }
                }
            }
            Request::ResolveUser { rootfs, user } => match resolve_user(&rootfs, &user) {
                Ok(Ok(user)) => Response::User { user },
                Ok(Err(message)) => Response::failed(message),
                Err(e) => Response::from_io("read the image's users", &e),
            },
            Request::CheckExecutable { rootfs, argv0, path_env, cwd } => {
                match Root::open(&rootfs.root())
                    .map(|root| crate::fsops::check_executable(&root, &argv0, path_env.as_deref(), &cwd))
                {
                    Ok(Ok(())) => Response::Done,
                    Ok(Err(message)) => Response::failed(message),
                    Err(e) => Response::from_io("open the root file system", &e),
                }
            }
            Request::MakeDir { rootfs, path, uid, gid } => {
                match Root::open(&rootfs.root()).and_then(|root| root.make_dirs(&path, 0o755, Some((uid, gid)))) {
                    Ok(_) => Response::Done,
                    Err(e) => Response::from_io(&format!("make {path}"), &e),
                }
            }
            Request::Upload { rootfs, path } => match fd("archive") {
                Err(response) => response,
                Ok(input) => upload(&rootfs, &path, input),
            },
            Request::Download { rootfs, path } => match fd("archive") {
                Err(response) => response,
                Ok(output) => download(&rootfs, &path, output),
            },
            Request::Stat { rootfs, path } => {
                match Root::open(&rootfs.root()).and_then(|root| crate::fsops::stat(&root, &path)) {
                    Ok(stat) => Response::Stat { stat },
                    Err(e) => Response::from_io(&format!("look at {path}"), &e),
                }
            }
            Request::Run { call, bundle, log } => {
                let stdio: Result<Vec<OwnedFd>, Response> = (0..3).map(|_| fd("stdio")).collect();
                match stdio {
                    Err(response) => response,
                    Ok(stdio) => self.run(&call, &bundle, &log, stdio),
                }
            }
            Request::Wait { id } => self.wait(&id),
            Request::Delete { call } => {
                self.started.lock().expect("started lock").remove(&call.id);
                delete(&call)
            }
            Request::ListChanges { rootfs } => match list_changes(&rootfs) {
                Ok(changes) => Response::Changes { changes },
                Err(message) => Response::failed(message),
            },
            Request::StreamChanges { rootfs } => match fd("archive") {
                Err(response) => response,
                Ok(output) => match stream_changes(&rootfs, output) {
                    Ok(()) => Response::Done,
                    Err(message) => Response::failed(message),
                },
            },
            Request::WriteLayer { rootfs, layout, epoch, gzip } => match write_layer(&rootfs, &layout, epoch, gzip) {
                Ok(layer) => Response::Layer { layer },
                Err(message) => Response::failed(message),
            },
            Request::Remove { storage, trash } => match rootfs::remove_deferred(&storage, &trash) {
                Ok(()) => Response::Done,
                Err(e) => Response::from_io(&format!("remove {}", storage.display()), &e),
            },
        };
        reply(response);
    }

    fn run(&self, call: &RuntimeCall, bundle: &Path, log: &Path, mut stdio: Vec<OwnedFd>) -> Response {
        let stderr = stdio.pop().expect("three");
        let stdout = stdio.pop().expect("three");
        let stdin = stdio.pop().expect("three");
        let mut command = runtime_command(call);
        command
            .arg(format!("--log={}", log.display()))
            .arg("--log-format=json")
            .arg("run")
            .arg("--bundle")
            .arg(bundle)
            .arg(&call.id)
            .stdin(Stdio::from(stdin))
            .stdout(Stdio::from(stdout))
            .stderr(Stdio::from(stderr));
        match command.spawn() {
            Ok(child) => {
                let pid = child.id();
                self.children.lock().expect("children lock").insert(call.id.clone(), child);
                self.started.lock().expect("started lock").insert(call.id.clone(), call.clone());
                Response::Started { pid }
            }
            Err(e) => Response::failed(format!("start {}: {e}", call.program.path.display())),
        }
    }

    /// Delete every container started here (the parent went away).
    pub(crate) fn delete_all(&self) {
        let started: Vec<RuntimeCall> = self.started.lock().expect("started lock").drain().map(|(_, c)| c).collect();
        for call in started {
            let _ = delete(&call);
        }
        for (_, mut child) in self.children.lock().expect("children lock").drain() {
            let _ = child.wait();
        }
    }

    fn wait(&self, id: &str) -> Response {
        let child = self.children.lock().expect("children lock").remove(id);
        let Some(mut child) = child else {
            return Response::Failed { not_found: true, message: format!("container {id} was not started here") };
        };
        match child.wait() {
            Ok(status) => {
                use std::os::unix::process::ExitStatusExt;
                let code = status.code().map_or_else(|| 128 + i64::from(status.signal().unwrap_or(9)), i64::from);
                Response::Exited { exit: ExitInfo { code, runtime_error: None } }
            }
            Err(e) => Response::failed(format!("wait for container {id}: {e}")),
        }
    }
}

/// The runtime program with its global options.
fn runtime_command(call: &RuntimeCall) -> Command {
    let mut command = match call.program.flavor {
        Flavor::Crun if crate::options::hybrid_cgroup_controllers().is_some() => {
            hiding_unified_cgroups(&call.program.path)
        }
        _ => Command::new(&call.program.path),
    };
    command.arg(format!("--root={}", call.state_root.display()));
    if call.program.flavor == Flavor::Crun {
        // Without limits a build needs no cgroup at all: crun makes none. With
        // limits, the cgroupfs manager (a build has no systemd session to ask).
        command.arg(if call.cgroups { "--cgroup-manager=cgroupfs" } else { "--cgroup-manager=disabled" });
    }
    command
}

/// `program` run in a mount namespace of its own where the cgroup v2
/// hierarchy of a hybrid machine (`/sys/fs/cgroup/unified`) is covered by an
/// empty tmpfs. crun refuses every container on a hybrid machine whose v2
/// hierarchy has controllers, even one that needs no cgroup; without it in
/// sight crun sees cgroup v1, which it supports (and where, as root, it
/// applies limits). The namespace, and the tmpfs, end with the runtime.
/// util-linux's `unshare` and `mount` do it (root of the helper's user
/// namespace may, too); the arguments that follow are the program's.
fn hiding_unified_cgroups(program: &Path) -> Command {
    let find = |name: &str| crate::options::find_program(name).unwrap_or_else(|| PathBuf::from(name));
    let mut command = Command::new(find("unshare"));
    command
        .args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
        .arg(r#"mount="$1"; shift; "$mount" -t tmpfs -o size=1m,mode=0755,nosuid,nodev,noexec tmpfs /sys/fs/cgroup/unified && exec "$@""#)
        .arg("s2i-hide-cgroup2")
        .arg(find("mount"))
        .arg(program);
    command
}

/// The first error the runtime logged (JSON lines with `level` and `msg`), if any.
pub(crate) fn runtime_log_error(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines().find_map(|line| {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        (value["level"] == "error").then(|| value["msg"].as_str().unwrap_or_default().trim().to_owned())
    })
}

fn delete(call: &RuntimeCall) -> Response {
    let output = runtime_command(call).arg("delete").arg("--force").arg(&call.id).stdin(Stdio::null()).output();
    match output {
        Ok(output) if output.status.success() => Response::Done,
        Ok(output) => {
            let message = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            let gone = ["does not exist", "not exist", "no such file", "not found"]
                .iter()
                .any(|m| message.to_ascii_lowercase().contains(m));
            if gone { Response::Done } else { Response::failed(format!("{} delete: {message}", call.program.name)) }
        }
        Err(e) => Response::failed(format!("run {}: {e}", call.program.path.display())),
    }
}

fn prepare_rootfs(
    storage: &Path,
    layer_cache: &Path,
    layers: &[LayerBlob],
    targets: &[MountTarget],
    prefer: Option<RootfsKind>,
) -> io::Result<Rootfs> {
    let cache = LayerCache::new(layer_cache.to_owned());
    let mut dirs: Vec<PathBuf> = Vec::with_capacity(layers.len());
    for layer in layers.iter().rev() {
        let dir = cache.ensure(&layer.diff_id, &layer.blob)?;
        // A layer that comes again below its topmost place adds nothing (and
        // overlayfs refuses a directory twice).
        if !dirs.contains(&dir) {
            dirs.push(dir);
        }
    }
    rootfs::create(storage, dirs, targets, prefer)
}

fn resolve_user(rootfs: &Rootfs, user: &str) -> io::Result<Result<ExecUser, String>> {
    let root = Root::open(&rootfs.root())?;
    let read = |path: &str| -> io::Result<Option<String>> {
        Ok(root.read_file(path, 4 << 20)?.map(|b| String::from_utf8_lossy(&b).into_owned()))
    };
    Ok(users::resolve(user, read("/etc/passwd")?.as_deref(), read("/etc/group")?.as_deref()))
}

fn upload(rootfs: &Rootfs, path: &str, input: OwnedFd) -> Response {
    let root = match Root::open(&rootfs.root()) {
        Ok(root) => root,
        Err(e) => return Response::from_io("open the root file system", &e),
    };
    match root.open_path(path, rustix::fs::OFlags::PATH) {
        Ok(fd) => {
            let is_dir = rustix::fs::fstat(&fd).is_ok_and(|s| rustix::fs::FileType::from_raw_mode(s.st_mode).is_dir());
            if !is_dir {
                return Response::failed(format!("{path} is not a directory"));
            }
        }
        Err(e) if crate::confined::is_missing(&e) => {
            return Response::Failed { not_found: true, message: format!("could not find the directory {path}") };
        }
        Err(e) => return Response::from_io(&format!("open {path}"), &e),
    }
    let mut reader = io::BufReader::new(File::from(input));
    match crate::fsops::extract(&mut reader, &root, path, crate::fsops::Whiteouts::Literal) {
        Ok(_) => Response::Done,
        Err(e) => Response::from_io(&format!("extract the archive into {path}"), &e),
    }
}

fn download(rootfs: &Rootfs, path: &str, output: OwnedFd) -> Response {
    let root = match Root::open(&rootfs.root()) {
        Ok(root) => root,
        Err(e) => return Response::from_io("open the root file system", &e),
    };
    match root.lstat(&crate::confined::clean(path)) {
        Ok(Some(_)) => {}
        Ok(None) => return Response::Found { found: false },
        Err(e) => return Response::from_io(&format!("look at {path}"), &e),
    }
    let mut out = io::BufWriter::new(File::from(output));
    // The reply comes when all is written: a failure half way is an error, not a short archive.
    match crate::fsops::archive(&root, path, &mut out).and_then(|found| io::Write::flush(&mut out).map(|()| found)) {
        Ok(found) => Response::Found { found },
        Err(e) => Response::from_io(&format!("archive {path}"), &e),
    }
}

/// The container's changes as the entries of the layer a commit writes:
/// whiteouts and opaque directories are deletions, the rest is listed
/// path by path, so that reading each one's own entry rebuilds that layer.
fn list_changes(rootfs: &Rootfs) -> Result<Vec<ChangedPath>, String> {
    use s2i_oci::layer::EntryKind;
    let mut spooler = LayerSpooler::new_in(&rootfs.storage);
    rootfs::add_changes(rootfs, &mut spooler).map_err(|e| format!("read the container's changes: {e}"))?;
    // An opaque directory is listed once, as deleted: with changes below
    // it, that says it was made again (as engines list it).
    let mut changes: std::collections::BTreeMap<String, ChangedKind> = std::collections::BTreeMap::new();
    for entry in spooler.entries() {
        let path = format!("/{}", String::from_utf8_lossy(&entry.path));
        let kind = match entry.kind {
            EntryKind::Whiteout | EntryKind::Opaque => ChangedKind::Deleted,
            EntryKind::Dir => ChangedKind::Directory,
            _ => ChangedKind::Written,
        };
        let listed = changes.entry(path).or_insert(kind);
        if kind == ChangedKind::Deleted {
            *listed = kind;
        }
    }
    Ok(changes.into_iter().map(|(path, kind)| ChangedPath { path, kind }).collect())
}

/// The container's changes, as the layer a commit writes but with times
/// as they are and no compression, written to `output` as they are read
/// (file contents straight from the upper directory; the copy fallback's
/// spooled in the container's storage).
fn stream_changes(rootfs: &Rootfs, output: OwnedFd) -> Result<(), String> {
    let mut spooler = LayerSpooler::new_in(&rootfs.storage);
    rootfs::add_changes(rootfs, &mut spooler).map_err(|e| format!("read the container's changes: {e}"))?;
    let out = io::BufWriter::with_capacity(256 * 1024, File::from(output));
    let options = LayerOptions { compression: Compression::None, ..LayerOptions::default() };
    let mut writer = LayerWriter::new(out, options);
    spooler.write_to(&mut writer).map_err(|e| format!("write the container's changes: {e}"))?;
    let (mut out, _) = writer.finish().map_err(|e| format!("write the container's changes: {e}"))?;
    io::Write::flush(&mut out).map_err(|e| format!("write the container's changes: {e}"))
}

fn write_layer(rootfs: &Rootfs, layout: &Path, epoch: Option<u64>, gzip: bool) -> Result<LayerInfo, String> {
    let mut spooler = LayerSpooler::new_in(&rootfs.storage);
    let entries =
        rootfs::add_changes(rootfs, &mut spooler).map_err(|e| format!("read the container's changes: {e}"))?;
    let layout = OciLayout::open(layout).map_err(|e| e.to_string())?;
    let sink = layout.blob_writer().map_err(|e| e.to_string())?;
    let compression = if gzip { Compression::Gzip } else { Compression::None };
    let mut writer = LayerWriter::new(sink, LayerOptions { epoch, compression, ..LayerOptions::default() });
    spooler.write_to(&mut writer).map_err(|e| format!("write the layer: {e}"))?;
    let (blob, summary) = writer.finish().map_err(|e| format!("write the layer: {e}"))?;
    blob.commit().map_err(|e| format!("store the layer: {e}"))?;
    Ok(LayerInfo {
        diff_id: summary.diff_id,
        digest: summary.digest,
        size: summary.size,
        uncompressed_size: summary.uncompressed_size,
        gzip,
        entries: entries.max(summary.entries),
    })
}
