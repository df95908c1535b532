//! [`OciRuntime`]: the [`ContainerRuntime`] without a daemon.

use std::collections::{BTreeMap, HashMap};
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::StreamExt;
use s2i_core::runtime::{
    Attachment, ByteStream, ChangeKind, CommitSpec, ContainerChange, ContainerPort, ContainerRuntime, ContainerSpec,
    ContainerSummary, ExitStatus, ImageBuildSpec, ImageInfo, OutputChunk, OutputKind, PathStat, PullProgress,
    RuntimeError, RuntimeErrorKind, RuntimeInfo,
};
use s2i_oci::image::{ConfigChanges, HistoryStep, ImageParts, ManifestFormat};
use s2i_oci::layer::{Compression, LayerSummary};
use s2i_oci::transport::{ArchiveImage, ImageLocation};
use tokio::sync::watch;

use crate::containers::{ContainerState, RunSettings, StateDir, Status};
use crate::error::{Error, Result};
use crate::helper::{HelperClient, Mapping};
use crate::host::{Host, unexpected};
use crate::ops::{ChangedKind, LayerBlob, Ops, Request, Response, RuntimeCall};
use crate::options::{Dirs, Flavor, OciOptions, Privilege, RuntimeProgram};
use crate::pull::CredentialSource;
use crate::rootfs::{Rootfs, RootfsKind};
use crate::spec::{Bind, Bundle, Limits, Network};
use crate::store::{ImageStore, StoredImage};
use crate::users::ExecUser;

/// Containers run by an OCI runtime (runc or crun) on images of s2i's own
/// store, without a daemon; see the [crate docs](crate).
///
/// Cheap to clone: clones share the backend (and its rootless helper).
#[derive(Clone)]
pub struct OciRuntime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for OciRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OciRuntime")
            .field("runtime", &self.inner.program.path)
            .field("store", &self.inner.dirs.store)
            .finish_non_exhaustive()
    }
}

struct Inner {
    program: RuntimeProgram,
    dirs: Dirs,
    store: ImageStore,
    states: StateDir,
    host: Host,
    /// The layer cache for this process's id mapping.
    layer_cache: PathBuf,
    /// The id mapping of the helper (rootless), if there is one.
    mapping: Option<Mapping>,
    /// Running in a user namespace (helper or not).
    in_user_namespace: bool,
    /// Containers of this process: their pending stdio and their exit.
    live: Mutex<HashMap<String, Live>>,
    /// A test may ask for the copy fallback.
    prefer: Option<RootfsKind>,
    /// The credentials file looked at first for registries.
    auth_file: Option<PathBuf>,
    /// Held shared by each creation, exclusively by each removal: a removal
    /// waits for the creations under way, whose caller may have gone (a
    /// cancelled build removes its container by name while the root file
    /// system is still being mounted).
    creating: tokio::sync::RwLock<()>,
}

#[derive(Default)]
struct Live {
    /// The container's ends of its stdio, between attach and start.
    stdio: Option<[OwnedFd; 3]>,
    /// The exit, once known.
    exit: Option<watch::Receiver<Option<ExitStatus>>>,
}

fn other(message: impl Into<String>) -> RuntimeError {
    RuntimeError::new(RuntimeErrorKind::Other, message)
}

fn rejected(message: impl Into<String>) -> RuntimeError {
    RuntimeError::new(RuntimeErrorKind::Rejected, message)
}

fn io_error(action: &str) -> impl FnOnce(std::io::Error) -> RuntimeError + '_ {
    move |e| other(format!("cannot {action}: {e}"))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> std::result::Result<T, RuntimeError> {
    tokio::task::spawn_blocking(work).await.map_err(|e| other(format!("a blocking task failed: {e}")))
}

impl OciRuntime {
    /// Find the OCI runtime, open the image store and the state directory,
    /// and (without root) start the rootless helper.
    pub async fn connect(options: &OciOptions) -> Result<Self> {
        let options = options.clone();
        tokio::task::spawn_blocking(move || Self::connect_blocking(&options))
            .await
            .map_err(|e| Error::Io { action: "connect".into(), source: std::io::Error::other(e.to_string()) })?
    }

    fn connect_blocking(options: &OciOptions) -> Result<Self> {
        let program = RuntimeProgram::find(options.runtime.as_deref())?;
        let dirs = Dirs::resolve(options)?;
        let store = ImageStore::open(&dirs.store)?;
        let states = StateDir::new(dirs.state.clone());
        states.ensure().map_err(|e| Error::Directory {
            path: dirs.state.clone(),
            what: "container state".into(),
            reason: e.to_string(),
            help: "give a writable directory with --oci-state-dir, or set XDG_RUNTIME_DIR".into(),
        })?;
        std::fs::create_dir_all(&dirs.storage).map_err(Error::io(format!("create {}", dirs.storage.display())))?;
        crate::build::remove_abandoned_contexts(&dirs.storage.join("contexts"));
        let privilege = crate::options::privilege();
        let (host, mapping, layer_cache) = match privilege {
            Privilege::Root => (Host::Local(Arc::new(Ops::default())), None, dirs.layers.clone()),
            Privilege::NamespaceRoot => {
                let maps = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default()
                    + &std::fs::read_to_string("/proc/self/gid_map").unwrap_or_default();
                (Host::Local(Arc::new(Ops::default())), None, dirs.layers.join(mapping_set(&maps)))
            }
            Privilege::User => {
                let client = HelperClient::start(crate::helper::mapping())?;
                let set = mapping_set(&format!("{}{}", client.uid_map, client.gid_map));
                let mapping = client.mapping.clone();
                (Host::Helper(Arc::new(client)), Some(mapping), dirs.layers.join(set))
            }
        };
        Ok(Self {
            inner: Arc::new(Inner {
                program,
                store,
                states,
                host,
                layer_cache,
                mapping,
                in_user_namespace: privilege != Privilege::Root,
                live: Mutex::new(HashMap::new()),
                prefer: std::env::var("S2I_OCI_ROOTFS").ok().and_then(|v| match v.as_str() {
                    "copy" => Some(RootfsKind::Copy),
                    "fuse-overlayfs" => Some(RootfsKind::FuseOverlay),
                    _ => None,
                }),
                dirs,
                auth_file: options.auth_file.clone(),
                creating: tokio::sync::RwLock::new(()),
            }),
        })
    }

    /// Where build contexts are unpacked.
    pub(crate) fn contexts_dir(&self) -> PathBuf {
        self.inner.dirs.storage.join("contexts")
    }

    /// The image store this backend runs images from.
    pub fn store(&self) -> &ImageStore {
        &self.inner.store
    }

    /// The runtime program in use.
    pub fn runtime_program(&self) -> &std::path::Path {
        &self.inner.program.path
    }

    fn call_of(&self, id: &str, limits: &Limits) -> RuntimeCall {
        RuntimeCall {
            cgroups: !limits.is_empty(),
            program: self.inner.program.clone(),
            state_root: self.inner.states.runtime_root(),
            id: id.to_owned(),
        }
    }

    async fn find(&self, query: &str) -> std::result::Result<ContainerState, RuntimeError> {
        let states = self.inner.states.clone();
        let owned = query.to_owned();
        blocking(move || states.find(&owned))
            .await?
            .map_err(io_error("read the container state"))?
            .ok_or_else(|| RuntimeError::new(RuntimeErrorKind::NotFound, format!("no such container: {query}")))
    }

    async fn save(&self, state: &ContainerState) -> std::result::Result<(), RuntimeError> {
        let states = self.inner.states.clone();
        let state = state.clone();
        blocking(move || states.save(&state)).await?.map_err(io_error("write the container state"))
    }

    async fn resolve_image(&self, image: &str) -> std::result::Result<Option<StoredImage>, RuntimeError> {
        let store = self.inner.store.clone();
        let query = image.to_owned();
        blocking(move || store.resolve(&query)).await?.map_err(Error::into_runtime)
    }

    /// A description of where the backend runs, for `info`.
    fn mode(&self) -> String {
        match (&self.inner.mapping, self.inner.in_user_namespace) {
            (None, false) => "root".to_owned(),
            (None, true) => "root of a user namespace".to_owned(),
            (Some(Mapping::Subordinate { uid: (_, start, count), .. }), _) => {
                format!("rootless, ids 1-{count} mapped to {start}-{}", start + count - 1)
            }
            (Some(Mapping::Single), _) => {
                "rootless, one id (no /etc/subuid range: processes run as the container's root)".to_owned()
            }
        }
    }

    /// Why the runtime cannot apply `limits` here, if it cannot: a limit is
    /// applied or the build refused, never dropped.
    fn limits_unavailable(&self, limits: &Limits) -> Option<String> {
        if limits.is_empty() || !self.inner.in_user_namespace {
            return None;
        }
        let program = &self.inner.program;
        let name = &program.name;
        if program.flavor == Flavor::Crun {
            // Without root, crun makes cgroups only through systemd, and runs on
            // without them when it cannot.
            return Some(format!(
                "memory and CPU limits cannot be applied: {name} ({}) without root applies them only through systemd, and would run the build without them; run as root, or drop the limits",
                program.path.display()
            ));
        }
        if !delegated_cgroups() {
            return Some(format!(
                "memory and CPU limits cannot be applied: {name} ({}) without root needs cgroup v2 delegated to the user, and this machine has {}; run as root, or drop the limits",
                program.path.display(),
                if std::path::Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
                    "none delegated"
                } else {
                    "cgroup v1"
                }
            ));
        }
        None
    }

    async fn create(&self, spec: &ContainerSpec) -> std::result::Result<String, RuntimeError> {
        let host = &spec.host;
        let network = network_of(host.network_mode.as_deref())?;
        if host.publish_all_ports && network == Network::None {
            return Err(rejected("publishing ports needs a network, and --network none has none"));
        }
        let no_new_privileges = security_options(&host.security_opt)?;
        let limits = Limits {
            memory: host.limits.memory_bytes.filter(|m| *m > 0),
            memory_swap: host.limits.memory_swap_bytes.filter(|m| *m != 0),
            nano_cpus: host.limits.nano_cpus.filter(|n| *n > 0),
        };
        if let Some(reason) = self.limits_unavailable(&limits) {
            return Err(rejected(reason));
        }
        let binds: Vec<Bind> =
            host.binds.iter().map(|b| Bind::parse(b)).collect::<std::result::Result<_, _>>().map_err(rejected)?;
        let extra_hosts: Vec<(String, String)> = host
            .extra_hosts
            .iter()
            .map(|entry| {
                let (name, ip) = entry.split_once(':').ok_or_else(|| rejected(format!("{entry:?} is not HOST:IP")))?;
                let ip = match (ip, network) {
                    ("host-gateway", Network::Host) => "127.0.0.1",
                    ("host-gateway", Network::None) => {
                        return Err(rejected(
                            "host-gateway names the host's address, and --network none has no network",
                        ));
                    }
                    (ip, _) => ip,
                };
                Ok((name.to_owned(), ip.to_owned()))
            })
            .collect::<std::result::Result<_, RuntimeError>>()?;
        let image = self.resolve_image(&spec.image).await?.ok_or_else(|| {
            RuntimeError::new(RuntimeErrorKind::NotFound, format!("no such image in s2i's image store: {}", spec.image))
        })?;
        let config = image.config.config.clone().unwrap_or_default();
        let entrypoint = spec.entrypoint.clone().unwrap_or_else(|| config.entrypoint.clone().unwrap_or_default());
        let cmd = if !spec.cmd.is_empty() {
            spec.cmd.clone()
        } else if spec.entrypoint.is_some() {
            Vec::new()
        } else {
            config.cmd.clone().unwrap_or_default()
        };
        let args: Vec<String> = entrypoint.into_iter().chain(cmd).collect();
        if args.is_empty() {
            return Err(rejected(format!("no command specified: {} has neither ENTRYPOINT nor CMD", spec.image)));
        }
        if image.config.rootfs.diff_ids.len() != image.layers.len() {
            return Err(other(format!(
                "the image {} lists {} layers but has {} diff IDs",
                spec.image,
                image.layers.len(),
                image.config.rootfs.diff_ids.len()
            )));
        }

        let id = crate::containers::new_id().map_err(io_error("make a container ID"))?;
        let name = spec.name.clone().unwrap_or_else(|| format!("s2i_{}", &id[..12]));
        let states = self.inner.states.clone();
        let (claim_id, claim_name) = (id.clone(), name.clone());
        if !blocking(move || states.claim_name(&claim_name, &claim_id))
            .await?
            .map_err(io_error("name the container"))?
        {
            return Err(rejected(format!("Conflict. The container name {name:?} is already in use")));
        }
        let storage = self.inner.dirs.storage.join(&id);
        let hostname = id[..12].to_owned();
        let mut state = ContainerState {
            id: id.clone(),
            name: name.clone(),
            image: image.id.to_string(),
            image_name: spec.image.clone(),
            labels: spec.labels.clone(),
            created: jiff::Timestamp::now().to_string(),
            rootfs: Rootfs { storage: storage.clone(), kind: RootfsKind::Overlay, image_layers: Vec::new() },
            settings: RunSettings {
                network,
                binds,
                cap_drop: host.cap_drop.clone(),
                no_new_privileges,
                limits,
                shm_size: host.limits.shm_size_bytes,
                hostname,
            },
            command: args.clone(),
            argv0: args[0].clone(),
            path_env: None,
            cwd: "/".to_owned(),
            exposed_ports: config.exposed_ports.keys().cloned().collect(),
            rootless: matches!(self.inner.host, Host::Helper(_)),
            status: Status::Created,
        };
        // The state exists before anything else does: a killed process's leftovers are found by it.
        let dir = self.inner.states.dir(&id);
        tokio::fs::create_dir_all(self.inner.states.etc(&id))
            .await
            .map_err(io_error("create the container's state"))?;
        if let Err(e) = self.save(&state).await {
            self.inner.states.release_name(&name);
            let _ = tokio::fs::remove_dir_all(&dir).await;
            return Err(e);
        }
        let prepared = self.prepare(&mut state, &image, spec, &config, &extra_hosts).await;
        if let Err(e) = prepared {
            let _ = self.remove(&id).await;
            return Err(e);
        }
        self.inner.live.lock().expect("live lock").insert(id.clone(), Live::default());
        Ok(id)
    }

    /// Make the root file system, resolve the user, write the `/etc` files and the bundle.
    async fn prepare(
        &self,
        state: &mut ContainerState,
        image: &StoredImage,
        spec: &ContainerSpec,
        config: &s2i_oci::spec::ContainerConfig,
        extra_hosts: &[(String, String)],
    ) -> std::result::Result<(), RuntimeError> {
        let layout = self.inner.store.layout().clone();
        let layers: Vec<LayerBlob> = image
            .layers
            .iter()
            .zip(&image.config.rootfs.diff_ids)
            .map(|(layer, diff_id)| LayerBlob { diff_id: diff_id.clone(), blob: layout.blob_path(&layer.digest) })
            .collect();
        let targets = crate::spec::mount_targets(&state.settings.binds);
        let request = Request::PrepareRootfs {
            storage: state.rootfs.storage.clone(),
            layer_cache: self.inner.layer_cache.clone(),
            layers,
            targets,
            prefer: self.inner.prefer,
        };
        state.rootfs = match self.inner.host.call(request, Vec::new()).await? {
            Response::Rootfs { rootfs } => rootfs,
            other => return Err(unexpected(&other)),
        };
        self.save(state).await?;

        let user = self.exec_user(state, &spec.user.clone().unwrap_or_else(|| config.user.clone())).await?;
        let cwd =
            spec.working_dir.clone().filter(|w| !w.is_empty()).unwrap_or_else(|| {
                if config.working_dir.is_empty() { "/".to_owned() } else { config.working_dir.clone() }
            });
        let cwd = crate::confined::clean(&cwd);
        self.make_dir(state, &cwd, 0, 0).await?;
        let env = self.process_env(state, config.env.iter().chain(&spec.env));
        state.path_env = env.iter().find_map(|e| e.strip_prefix("PATH=").map(str::to_owned));
        state.cwd = cwd.clone();

        let etc = self.inner.states.etc(&state.id);
        let hostname = state.settings.hostname.clone();
        let hosts = crate::spec::hosts_file(state.settings.network, &hostname, extra_hosts);
        let hostname_file = match state.settings.network {
            Network::None => format!("{hostname}\n"),
            Network::Host => format!("{}\n", rustix::system::uname().nodename().to_string_lossy()),
        };
        let resolv = tokio::fs::read("/etc/resolv.conf").await.unwrap_or_default();
        for (file, content) in
            [("hosts", hosts.into_bytes()), ("hostname", hostname_file.into_bytes()), ("resolv.conf", resolv)]
        {
            tokio::fs::write(etc.join(file), content).await.map_err(io_error("write the container's /etc files"))?;
        }
        let args = state.command.clone();
        self.write_bundle(state, &self.inner.states.dir(&state.id), &args, &env, &user, &cwd).await?;
        self.save(state).await
    }

    /// The process user of `user_text` in the container (root for every
    /// user when only root is mapped).
    pub(crate) async fn exec_user(
        &self,
        state: &ContainerState,
        user_text: &str,
    ) -> std::result::Result<ExecUser, RuntimeError> {
        let request = Request::ResolveUser { rootfs: state.rootfs.clone(), user: user_text.to_owned() };
        let user = match self.inner.host.call(request, Vec::new()).await? {
            Response::User { user } => user,
            other => return Err(unexpected(&other)),
        };
        if self.inner.mapping == Some(Mapping::Single) {
            // Only root is mapped: every process is the container's root (runc's rootless mode).
            return Ok(ExecUser { uid: 0, gid: 0, groups: Vec::new() });
        }
        Ok(user)
    }

    /// Make a directory of the container (when missing) owned by `uid:gid`.
    pub(crate) async fn make_dir(
        &self,
        state: &ContainerState,
        path: &str,
        uid: u32,
        gid: u32,
    ) -> std::result::Result<(), RuntimeError> {
        if path == "/" {
            return Ok(());
        }
        let request = Request::MakeDir { rootfs: state.rootfs.clone(), path: path.to_owned(), uid, gid };
        self.inner.host.call(request, Vec::new()).await.map(drop)
    }

    /// A process environment: Docker's `PATH` and `HOSTNAME`, then `entries` in order.
    pub(crate) fn process_env<'a>(
        &self,
        state: &ContainerState,
        entries: impl Iterator<Item = &'a String>,
    ) -> Vec<String> {
        let mut env: Vec<String> = Vec::new();
        let mut set = |entry: &str| {
            let name = entry.split_once('=').map_or(entry, |(n, _)| n);
            env.retain(|e| e.split_once('=').map_or(e.as_str(), |(n, _)| n) != name);
            env.push(entry.to_owned());
        };
        set(&format!("PATH={}", crate::fsops::DEFAULT_PATH));
        match state.settings.network {
            Network::None => set(&format!("HOSTNAME={}", state.settings.hostname)),
            Network::Host => set(&format!("HOSTNAME={}", rustix::system::uname().nodename().to_string_lossy())),
        }
        for entry in entries {
            set(entry);
        }
        env
    }

    /// Write a runtime bundle (`config.json`) for a process of the container into `dir`.
    pub(crate) async fn write_bundle(
        &self,
        state: &ContainerState,
        dir: &std::path::Path,
        args: &[String],
        env: &[String],
        user: &ExecUser,
        cwd: &str,
    ) -> std::result::Result<(), RuntimeError> {
        let rootfs_path = state.rootfs.root();
        let etc = self.inner.states.etc(&state.id);
        let settings = &state.settings;
        let bundle = Bundle {
            rootfs: &rootfs_path,
            args,
            env,
            cwd,
            user,
            hostname: &settings.hostname,
            network: settings.network,
            binds: &settings.binds,
            cap_drop: &settings.cap_drop,
            no_new_privileges: settings.no_new_privileges,
            limits: &settings.limits,
            shm_size: settings.shm_size,
            etc_files: &etc,
            in_user_namespace: self.inner.in_user_namespace,
            tty_group_mapped: self.inner.mapping != Some(Mapping::Single),
        };
        let config_json = crate::spec::config(&bundle);
        let bytes = serde_json::to_vec_pretty(&config_json).map_err(|e| other(e.to_string()))?;
        tokio::fs::create_dir_all(dir).await.map_err(io_error("make the bundle directory"))?;
        tokio::fs::write(dir.join("config.json"), bytes).await.map_err(io_error("write the container's config.json"))
    }

    /// Check that the program a process runs exists, as a start error worded like Docker's.
    async fn check_executable(
        &self,
        state: &ContainerState,
        argv0: &str,
        path_env: Option<String>,
        cwd: &str,
    ) -> std::result::Result<(), RuntimeError> {
        let check = Request::CheckExecutable {
            rootfs: state.rootfs.clone(),
            argv0: argv0.to_owned(),
            path_env,
            cwd: cwd.to_owned(),
        };
        match self.inner.host.call(check, Vec::new()).await {
            Ok(_) => Ok(()),
            Err(e) => {
                Err(rejected(format!("OCI runtime create failed: unable to start container process: {}", e.message)))
            }
        }
    }

    /// Run the bundle in `bundle` as runtime container `runtime_id` with
    /// `stdio`; returns a receiver of its exit.
    async fn launch(
        &self,
        state: &ContainerState,
        runtime_id: &str,
        bundle: PathBuf,
        stdio: Vec<OwnedFd>,
    ) -> std::result::Result<(u32, watch::Receiver<Option<ExitStatus>>), RuntimeError> {
        let log = bundle.join("runtime.log");
        let request = Request::Run { call: self.call_of(runtime_id, &state.settings.limits), bundle, log: log.clone() };
        let pid = match self.inner.host.call(request, stdio).await? {
            Response::Started { pid } => pid,
            other => return Err(unexpected(&other)),
        };
        let (sender, receiver) = watch::channel(None);
        let runtime = self.clone();
        let memory_limited = state.settings.limits.memory.is_some();
        let runtime_id = runtime_id.to_owned();
        tokio::spawn(async move {
            let exit = runtime.inner.host.call(Request::Wait { id: runtime_id }, Vec::new()).await;
            let status = match exit {
                Ok(Response::Exited { exit }) => {
                    let log_error = blocking(move || crate::ops::runtime_log_error(&log)).await.ok().flatten();
                    let error = exit.runtime_error.or(log_error).filter(|_| exit.code != 0);
                    ExitStatus { code: exit.code, oom_killed: memory_limited && exit.code == 137, error }
                }
                Ok(other) => ExitStatus { code: -1, oom_killed: false, error: Some(unexpected(&other).message) },
                Err(e) => ExitStatus { code: -1, oom_killed: false, error: Some(e.message) },
            };
            let _ = sender.send(Some(status));
        });
        Ok((pid, receiver))
    }

    async fn start(&self, container: &str) -> std::result::Result<(), RuntimeError> {
        let mut state = self.find(container).await?;
        if state.status != Status::Created {
            return Err(rejected(format!("container {} was started before; create a new one", state.name)));
        }
        self.check_executable(&state, &state.argv0.clone(), state.path_env.clone(), &state.cwd.clone()).await?;
        let stdio = self.inner.live.lock().expect("live lock").get_mut(&state.id).and_then(|l| l.stdio.take());
        let fds: Vec<OwnedFd> = match stdio {
            Some(stdio) => stdio.into(),
            None => null_stdio()?,
        };
        let (pid, receiver) = self.launch(&state, &state.id.clone(), self.inner.states.dir(&state.id), fds).await?;
        state.status = Status::Running { pid };
        self.save(&state).await?;
        self.inner.live.lock().expect("live lock").entry(state.id.clone()).or_default().exit = Some(receiver.clone());
        // The state records the exit for other processes (and for a wait after this one).
        let runtime = self.clone();
        tokio::spawn(async move {
            let mut receiver = receiver;
            let waited = receiver.wait_for(Option::is_some).await.ok().map(|status| status.clone());
            if let Some(Some(status)) = waited {
                state.status = Status::Exited { code: status.code, oom_killed: status.oom_killed, error: status.error };
                let _ = runtime.save(&state).await;
            }
        });
        Ok(())
    }

    /// Run one more process in a container's root file system (a `RUN` of
    /// an `ONBUILD` build) to its end, relaying its output lines.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn run_process(
        &self,
        state: &ContainerState,
        step: usize,
        args: &[String],
        env: &[String],
        user: &ExecUser,
        cwd: &str,
        output: &(dyn Fn(String) + Send + Sync),
    ) -> std::result::Result<ExitStatus, RuntimeError> {
        let path_env = env.iter().find_map(|e| e.strip_prefix("PATH=").map(str::to_owned));
        self.make_dir(state, cwd, 0, 0).await?;
        self.check_executable(state, &args[0], path_env, cwd).await?;
        let bundle = self.inner.states.dir(&state.id).join("steps").join(step.to_string());
        self.write_bundle(state, &bundle, args, env, user, cwd).await?;
        let (stdout_reader, stdout_writer) = pipe()?;
        let (stderr_reader, stderr_writer) = pipe()?;
        let stdin = std::fs::File::open("/dev/null").map(OwnedFd::from).map_err(io_error("open /dev/null"))?;
        let runtime_id = format!("{}-{step}", state.id);
        let (_, mut receiver) =
            self.launch(state, &runtime_id, bundle, vec![stdin, stdout_writer, stderr_writer]).await?;
        let mut stream = futures::stream::select(
            reader_stream(stdout_reader)?.map(|item| (OutputKind::Stdout, item)),
            reader_stream(stderr_reader)?.map(|item| (OutputKind::Stderr, item)),
        );
        let mut partial: [Vec<u8>; 2] = [Vec::new(), Vec::new()];
        while let Some((kind, item)) = stream.next().await {
            let Ok(bytes) = item else { break };
            let i = usize::from(kind == OutputKind::Stderr);
            partial[i].extend_from_slice(&bytes);
            while let Some(position) = partial[i].iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = partial[i].drain(..=position).collect();
                output(String::from_utf8_lossy(&line[..line.len() - 1]).into_owned());
            }
        }
        for rest in partial.iter().filter(|p| !p.is_empty()) {
            output(String::from_utf8_lossy(rest).into_owned());
        }
        let status = receiver.wait_for(Option::is_some).await.map_err(|_| other("the step's watcher ended"))?;
        Ok(status.clone().expect("waited for it"))
    }

    async fn remove(&self, container: &str) -> std::result::Result<(), RuntimeError> {
        let state = self.find(container).await?;
        let id = state.id.clone();
        // The container and the steps of an ONBUILD build, as the runtime knows them.
        let runtime_root = self.inner.states.runtime_root();
        let prefix = format!("{id}-");
        let listed_root = runtime_root.clone();
        let mut runtime_ids: Vec<String> = blocking(move || {
            std::fs::read_dir(&listed_root)
                .map(|entries| {
                    entries
                        .flatten()
                        .map(|e| e.file_name().to_string_lossy().into_owned())
                        .filter(|n| n.starts_with(&prefix))
                        .collect()
                })
                .unwrap_or_default()
        })
        .await?;
        runtime_ids.insert(0, id.clone());
        let mut delete_error = None;
        for runtime_id in &runtime_ids {
            // A container of a process that was killed may run on in a namespace only its owner may signal.
            let (root, kill_id) = (runtime_root.clone(), runtime_id.clone());
            blocking(move || {
                if let Some((pid, start)) = crate::containers::runtime_init(&root, &kill_id)
                    && crate::containers::process_alive(pid, start)
                    && let Some(pid) = rustix::process::Pid::from_raw(pid as i32)
                {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
            })
            .await?;
            // The file system is unmounted and removed even when the runtime fails to delete.
            let deleted = self
                .inner
                .host
                .call(Request::Delete { call: self.call_of(runtime_id, &state.settings.limits) }, Vec::new())
                .await;
            if let Err(e) = deleted {
                delete_error.get_or_insert(e);
            }
        }
        let receiver = self.inner.live.lock().expect("live lock").get(&id).and_then(|l| l.exit.clone());
        if let Some(mut receiver) = receiver {
            let _ = tokio::time::timeout(std::time::Duration::from_secs(10), receiver.wait_for(Option::is_some)).await;
        }
        self.inner
            .host
            .call(
                Request::Remove { storage: state.rootfs.storage.clone(), trash: self.inner.dirs.trash.clone() },
                Vec::new(),
            )
            .await
            .map_err(|e| other(format!("cannot remove the file system of container {}: {}", state.name, e.message)))?;
        let states = self.inner.states.clone();
        blocking(move || states.forget(&state)).await?.map_err(io_error("remove the container's state"))?;
        self.inner.live.lock().expect("live lock").remove(&id);
        delete_error.map_or(Ok(()), Err)
    }

    async fn commit(&self, container: &str, spec: &CommitSpec) -> std::result::Result<String, RuntimeError> {
        let state = self.find(container).await?;
        let image = self.resolve_image(&state.image).await?.ok_or_else(|| {
            RuntimeError::new(RuntimeErrorKind::NotFound, format!("the image of container {} is gone", state.name))
        })?;
        // As an engine's commit: the image's config, the container's labels, then the commit's.
        let mut config = image.config.clone();
        let container_config = config.config.get_or_insert_with(Default::default);
        container_config.labels.extend(state.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
        let changes = ConfigChanges {
            cmd: Some(spec.cmd.clone()),
            entrypoint: Some(spec.entrypoint.clone()),
            env: spec
                .env
                .iter()
                .map(|e| e.split_once('=').map_or((e.clone(), String::new()), |(n, v)| (n.to_owned(), v.to_owned())))
                .collect(),
            user: Some(spec.user.clone()),
            labels: spec.labels.clone(),
            working_dir: None,
            exposed_ports: Vec::new(),
        };
        let name = spec.repository.as_ref().map(|r| format!("{r}:{}", spec.tag.as_deref().unwrap_or("latest")));
        let history = HistoryStep { created_by: state.command.join(" "), comment: Some("s2i commit".to_owned()) };
        self.commit_with(&state, &image, config, changes, history, name).await
    }

    fn summary(&self, state: &ContainerState) -> ContainerSummary {
        let ports = if state.settings.network == Network::Host {
            state
                .exposed_ports
                .iter()
                .filter_map(|p| {
                    let (number, protocol) = p.split_once('/').unwrap_or((p, "tcp"));
                    let port = number.parse().ok()?;
                    Some(ContainerPort {
                        container_port: port,
                        protocol: protocol.to_owned(),
                        host_ip: Some("0.0.0.0".to_owned()),
                        host_port: Some(port),
                    })
                })
                .collect()
        } else {
            Vec::new()
        };
        ContainerSummary {
            id: state.id.clone(),
            name: state.name.clone(),
            labels: state.labels.clone(),
            addresses: BTreeMap::new(),
            ports,
        }
    }

    async fn all_states(&self) -> std::result::Result<Vec<ContainerState>, RuntimeError> {
        let states = self.inner.states.clone();
        blocking(move || states.all()).await?.map_err(io_error("list the containers"))
    }

    fn running(&self, state: &ContainerState) -> bool {
        matches!(state.status, Status::Running { .. })
            && crate::containers::runtime_init(&self.inner.states.runtime_root(), &state.id)
                .is_some_and(|(pid, start)| crate::containers::process_alive(pid, start))
    }
}

/// A cache set per id mapping: the same files have other owners under another mapping.
fn mapping_set(maps: &str) -> String {
    let normalised: String = maps.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("userns-{}", &s2i_oci::digest::Digest::of(normalised.as_bytes()).hex()[..12])
}

/// Whether this user may create cgroups (cgroup v2 with delegation).
fn delegated_cgroups() -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/self/cgroup") else { return false };
    let Some(path) = text.lines().find_map(|l| l.strip_prefix("0::")) else { return false };
    let dir = std::path::Path::new("/sys/fs/cgroup").join(path.trim_start_matches('/'));
    rustix::fs::access(dir.join("cgroup.procs"), rustix::fs::Access::WRITE_OK).is_ok()
        && std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers").is_ok()
}

/// The network of `--network`: the host's unless `none`.
fn network_of(mode: Option<&str>) -> std::result::Result<Network, RuntimeError> {
    match mode {
        None | Some("host") => Ok(Network::Host),
        Some("none") => Ok(Network::None),
        Some(mode @ ("bridge" | "default")) => Err(rejected(format!(
            "the {mode} network needs a container engine's daemon, which --engine oci does without; use --network host (the default) or --network none"
        ))),
        Some(mode) if mode.starts_with("container:") => Err(rejected(format!(
            "joining another container's network ({mode}) needs a container engine's daemon; use --network host or --network none"
        ))),
        Some(other) => Err(RuntimeError::new(
            RuntimeErrorKind::NotFound,
            format!("network {other} not found: --engine oci has only the host's network and none"),
        )),
    }
}

/// `--security-opt` values this backend applies: whether `no-new-privileges` is set.
fn security_options(options: &[String]) -> std::result::Result<bool, RuntimeError> {
    let mut no_new_privileges = false;
    for option in options {
        match option.as_str() {
            "no-new-privileges" | "no-new-privileges:true" | "no-new-privileges=true" => no_new_privileges = true,
            "no-new-privileges:false" | "no-new-privileges=false" => no_new_privileges = false,
            // No seccomp profile, AppArmor profile or SELinux label is applied: these ask for nothing more.
            "seccomp=unconfined"
            | "seccomp:unconfined"
            | "apparmor=unconfined"
            | "apparmor:unconfined"
            | "label=disable"
            | "label:disable" => {}
            other => {
                return Err(rejected(format!(
                    "the security option {other:?} is not supported by --engine oci (it applies no seccomp, AppArmor or SELinux profile)"
                )));
            }
        }
    }
    Ok(no_new_privileges)
}

fn image_info(image: &StoredImage) -> ImageInfo {
    let config = image.config.config.clone().unwrap_or_default();
    let repo_digests = image
        .names
        .iter()
        .filter_map(|n| s2i_core::reference::ImageReference::parse(n).ok())
        .map(|r| format!("{}@{}", r.name(), image.manifest.digest))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    ImageInfo {
        id: image.id.to_string(),
        repo_tags: image.names.clone(),
        repo_digests,
        user: config.user,
        entrypoint: config.entrypoint.unwrap_or_default(),
        cmd: config.cmd.unwrap_or_default(),
        env: config.env,
        labels: config.labels,
        working_dir: config.working_dir,
        on_build: config.on_build,
        size: image.layers.iter().map(|l| l.size).sum(),
    }
}

/// A container's stdin whose shutdown closes the pipe: the end of file the
/// trait promises (a pipe's own shutdown does nothing until it is dropped).
struct ClosingStdin(Option<tokio::net::unix::pipe::Sender>);

impl ClosingStdin {
    fn open(&mut self) -> std::io::Result<std::pin::Pin<&mut tokio::net::unix::pipe::Sender>> {
        match self.0.as_mut() {
            Some(sender) => Ok(std::pin::Pin::new(sender)),
            None => Err(std::io::Error::new(std::io::ErrorKind::BrokenPipe, "stdin was shut down")),
        }
    }
}

impl tokio::io::AsyncWrite for ClosingStdin {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut().open() {
            Ok(sender) => sender.poll_write(context, buf),
            Err(e) => std::task::Poll::Ready(Err(e)),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut().0.as_mut() {
            Some(sender) => std::pin::Pin::new(sender).poll_flush(context),
            None => std::task::Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _context: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        self.get_mut().0 = None;
        std::task::Poll::Ready(Ok(()))
    }
}

/// A pipe: (read end, write end).
fn pipe() -> std::result::Result<(OwnedFd, OwnedFd), RuntimeError> {
    let (reader, writer) = std::io::pipe().map_err(io_error("make a pipe"))?;
    Ok((reader.into(), writer.into()))
}

/// The read end of a pipe as a byte stream.
fn reader_stream(fd: OwnedFd) -> std::result::Result<ByteStream, RuntimeError> {
    let receiver = tokio::net::unix::pipe::Receiver::from_owned_fd(fd).map_err(io_error("read a pipe"))?;
    Ok(Box::pin(tokio_util::io::ReaderStream::new(receiver)))
}

/// `stream`, written by a host request that replies when it is done,
/// followed by an error when that reply is not one `succeeded` accepts: a
/// write that failed half way ends the stream with an error, not with a
/// short archive that looks whole.
fn ended_by_reply(
    stream: impl futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static,
    reply: tokio::task::JoinHandle<std::result::Result<Response, RuntimeError>>,
    succeeded: fn(&Response) -> bool,
) -> ByteStream {
    let outcome = futures::stream::once(async move {
        let failed = match reply.await {
            Ok(Ok(response)) if succeeded(&response) => return None,
            Ok(Ok(response)) => unexpected(&response).message,
            Ok(Err(e)) => e.message,
            Err(e) => e.to_string(),
        };
        Some(Err(std::io::Error::other(failed)))
    })
    .filter_map(futures::future::ready);
    Box::pin(stream.chain(outcome))
}

#[async_trait::async_trait]
impl ContainerRuntime for OciRuntime {
    async fn info(&self) -> std::result::Result<RuntimeInfo, RuntimeError> {
        let program = &self.inner.program;
        Ok(RuntimeInfo {
            name: program.name.clone(),
            version: program.version.clone(),
            api_version: format!("OCI runtime spec {}", program.spec_version),
            endpoint: format!("{} ({})", program.path.display(), self.mode()),
        })
    }

    async fn inspect_image(&self, image: &str) -> std::result::Result<Option<ImageInfo>, RuntimeError> {
        Ok(self.resolve_image(image).await?.as_ref().map(image_info))
    }

    async fn pull_image(
        &self,
        image: &str,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> std::result::Result<(), RuntimeError> {
        let credentials = CredentialSource::Files { explicit: self.inner.auth_file.clone() };
        self.pull_with(image, credentials, progress).await.map_err(Error::into_runtime)
    }

    async fn pull_image_with(
        &self,
        image: &str,
        credentials: &s2i_core::auth::RegistryCredentials,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> std::result::Result<(), RuntimeError> {
        let credentials = CredentialSource::Given(credentials.clone());
        self.pull_with(image, credentials, progress).await.map_err(Error::into_runtime)
    }

    async fn push_image(
        &self,
        image: &str,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> std::result::Result<Option<String>, RuntimeError> {
        let credentials = CredentialSource::Files { explicit: self.inner.auth_file.clone() };
        let digest = self.push_with(image, credentials, progress).await.map_err(Error::into_runtime)?;
        Ok(Some(digest.to_string()))
    }

    async fn push_image_with(
        &self,
        image: &str,
        credentials: &s2i_core::auth::RegistryCredentials,
        progress: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> std::result::Result<Option<String>, RuntimeError> {
        let credentials = CredentialSource::Given(credentials.clone());
        let digest = self.push_with(image, credentials, progress).await.map_err(Error::into_runtime)?;
        Ok(Some(digest.to_string()))
    }

    async fn create_container(&self, spec: &ContainerSpec) -> std::result::Result<String, RuntimeError> {
        // The creation runs to its end even when the caller stops waiting
        // (its mounts are made by blocking work that cannot be stopped); a
        // container nobody is told about is removed.
        let runtime = self.clone();
        let spec = spec.clone();
        let (sender, receiver) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let created = {
                let _creating = runtime.inner.creating.read().await;
                runtime.create(&spec).await
            };
            if let Err(Ok(id)) = sender.send(created) {
                let _ = runtime.remove_container(&id).await;
            }
        });
        receiver.await.unwrap_or_else(|_| Err(other("the container's creation stopped")))
    }

    async fn attach_container(&self, container: &str, stdin: bool) -> std::result::Result<Attachment, RuntimeError> {
        let state = self.find(container).await?;
        if state.status != Status::Created {
            return Err(rejected(format!("container {} has started; attach before it starts", state.name)));
        }
        let (stdin_reader, stdin_writer) = pipe()?;
        let (stdout_reader, stdout_writer) = pipe()?;
        let (stderr_reader, stderr_writer) = pipe()?;
        let container_stdin = if stdin {
            stdin_reader
        } else {
            drop(stdin_reader);
            std::fs::File::open("/dev/null").map(OwnedFd::from).map_err(io_error("open /dev/null"))?
        };
        self.inner.live.lock().expect("live lock").entry(state.id.clone()).or_default().stdio =
            Some([container_stdin, stdout_writer, stderr_writer]);
        let stdin_writer = if stdin {
            let sender =
                tokio::net::unix::pipe::Sender::from_owned_fd(stdin_writer).map_err(io_error("write a pipe"))?;
            Some(Box::pin(ClosingStdin(Some(sender))) as s2i_core::runtime::StdinWriter)
        } else {
            None
        };
        let chunks = |fd: OwnedFd, kind: OutputKind| -> std::result::Result<_, RuntimeError> {
            Ok(reader_stream(fd)?.map(move |item: std::io::Result<Bytes>| {
                item.map(|bytes| OutputChunk { kind, bytes })
                    .map_err(|e| other(format!("read the container's output: {e}")))
            }))
        };
        let output = futures::stream::select(
            chunks(stdout_reader, OutputKind::Stdout)?,
            chunks(stderr_reader, OutputKind::Stderr)?,
        );
        Ok(Attachment { stdin: stdin_writer, output: Box::pin(output) })
    }

    async fn start_container(&self, container: &str) -> std::result::Result<(), RuntimeError> {
        self.start(container).await
    }

    async fn wait_container(&self, container: &str) -> std::result::Result<ExitStatus, RuntimeError> {
        let state = self.find(container).await?;
        let receiver = self.inner.live.lock().expect("live lock").get(&state.id).and_then(|l| l.exit.clone());
        if let Some(mut receiver) = receiver {
            let status =
                receiver.wait_for(Option::is_some).await.map_err(|_| other("the container's watcher ended"))?;
            return Ok(status.clone().expect("waited for it"));
        }
        match state.status {
            Status::Exited { code, oom_killed, error } => Ok(ExitStatus { code, oom_killed, error }),
            Status::Created => Err(rejected(format!("container {} has not started", state.name))),
            Status::Running { .. } => Err(rejected(format!(
                "container {} was started by another s2i process, which alone can wait for it",
                state.name
            ))),
        }
    }

    async fn upload_archive(
        &self,
        container: &str,
        path: &str,
        archive: ByteStream,
    ) -> std::result::Result<(), RuntimeError> {
        let state = self.find(container).await?;
        let (reader, writer) = pipe()?;
        let sender = tokio::net::unix::pipe::Sender::from_owned_fd(writer).map_err(io_error("write a pipe"))?;
        let feed = tokio::spawn(async move {
            let mut sender = sender;
            let mut reader = tokio_util::io::StreamReader::new(archive);
            tokio::io::copy(&mut reader, &mut sender).await
        });
        let request = Request::Upload { rootfs: state.rootfs.clone(), path: path.to_owned() };
        let extracted = self.inner.host.call(request, vec![reader]).await;
        let fed = feed.await.map_err(|e| other(e.to_string()))?;
        match extracted {
            Err(e) if e.is_not_found() => Err(RuntimeError::new(
                RuntimeErrorKind::NotFound,
                format!("could not find the directory {path} in container {}", state.name),
            )),
            Err(e) => Err(e),
            Ok(_) => match fed {
                Ok(_) => Ok(()),
                Err(e) => Err(other(format!("read the archive for {path}: {e}"))),
            },
        }
    }

    async fn download_archive(
        &self,
        container: &str,
        path: &str,
    ) -> std::result::Result<Option<ByteStream>, RuntimeError> {
        let state = self.find(container).await?;
        let (reader, writer) = pipe()?;
        let host = self.inner.host.clone();
        let request = Request::Download { rootfs: state.rootfs.clone(), path: path.to_owned() };
        let replied = tokio::spawn(async move { host.call(request, vec![writer]).await });
        let mut stream = reader_stream(reader)?;
        // An archive has bytes; none means the reply says why.
        match stream.next().await {
            None => match replied.await.map_err(|e| other(e.to_string()))?? {
                Response::Found { found: false } => Ok(None),
                Response::Found { found: true } => Ok(Some(Box::pin(futures::stream::empty()))),
                reply => Err(unexpected(&reply)),
            },
            Some(Err(e)) => Err(other(format!("read the archive of {path}: {e}"))),
            Some(Ok(first)) => {
                let stream = futures::stream::once(futures::future::ready(Ok(first))).chain(stream);
                Ok(Some(ended_by_reply(stream, replied, |reply| matches!(reply, Response::Found { found: true }))))
            }
        }
    }

    async fn commit_container(&self, container: &str, spec: &CommitSpec) -> std::result::Result<String, RuntimeError> {
        self.commit(container, spec).await
    }

    async fn container_changes(&self, container: &str) -> std::result::Result<Vec<ContainerChange>, RuntimeError> {
        let state = self.find(container).await?;
        match self.inner.host.call(Request::ListChanges { rootfs: state.rootfs.clone() }, Vec::new()).await? {
            Response::Changes { changes } => Ok(changes
                .into_iter()
                .map(|changed| ContainerChange {
                    path: changed.path,
                    kind: match changed.kind {
                        // Only the directory's own entry: what changed below it is listed too.
                        ChangedKind::Directory => ChangeKind::Modified,
                        ChangedKind::Written => ChangeKind::Added,
                        ChangedKind::Deleted => ChangeKind::Deleted,
                    },
                })
                .collect()),
            other => Err(unexpected(&other)),
        }
    }

    async fn changes_layer(&self, container: &str) -> std::result::Result<Option<ByteStream>, RuntimeError> {
        // The upper directory (or the copy's differences), written in layer
        // order by the host as the stream is read; its reply, which comes
        // when all is written, ends the stream (an error as an error item).
        let state = self.find(container).await?;
        let (reader, writer) = pipe()?;
        let host = self.inner.host.clone();
        let request = Request::StreamChanges { rootfs: state.rootfs.clone() };
        let written = tokio::spawn(async move { host.call(request, vec![writer]).await });
        Ok(Some(ended_by_reply(reader_stream(reader)?, written, |reply| matches!(reply, Response::Done))))
    }

    async fn export_container(&self, container: &str) -> std::result::Result<ByteStream, RuntimeError> {
        // The root's contents, entries relative to it, as an engine's export has them.
        self.download_archive(container, "/.").await?.ok_or_else(|| {
            RuntimeError::new(RuntimeErrorKind::NotFound, format!("the container {container} has no root file system"))
        })
    }

    fn archives_keep_owners(&self) -> bool {
        // The archive API runs as root (of the helper's user namespace, rootless).
        true
    }

    async fn export_image(&self, image: &str) -> std::result::Result<ByteStream, RuntimeError> {
        let found = self.resolve_image(image).await?.ok_or_else(|| {
            RuntimeError::new(RuntimeErrorKind::NotFound, format!("no such image in s2i's image store: {image}"))
        })?;
        self.docker_archive(&found.id.to_string(), Vec::new()).map_err(Error::into_runtime)
    }

    async fn load_image(&self, archive: ByteStream) -> std::result::Result<(), RuntimeError> {
        // A docker-archive is read out of order (its manifest comes last): it is spooled first.
        let spooled = tempfile::Builder::new()
            .prefix(".s2i-load-")
            .suffix(".tar")
            .tempfile_in(self.inner.store.path())
            .map_err(io_error("make a file in s2i's image store"))?;
        let mut file = tokio::fs::File::from_std(spooled.reopen().map_err(io_error("open the spool file"))?);
        let mut archive = archive;
        while let Some(chunk) = archive.next().await {
            let chunk = chunk.map_err(io_error("read the image archive"))?;
            tokio::io::AsyncWriteExt::write_all(&mut file, &chunk)
                .await
                .map_err(io_error("spool the image archive"))?;
        }
        tokio::io::AsyncWriteExt::flush(&mut file).await.map_err(io_error("spool the image archive"))?;
        drop(file);
        let store = self.inner.store.clone();
        blocking(move || {
            let location = ImageLocation::DockerArchive { file: spooled.path().to_owned(), image: ArchiveImage::Only };
            let stored = store.import(&location, None);
            drop(spooled);
            stored
        })
        .await?
        .map(drop)
        .map_err(Error::into_runtime)
    }

    fn load_needs_every_layer(&self) -> bool {
        // The store imports whole archives: it does not look up the layers it has.
        true
    }

    async fn remove_container(&self, container: &str) -> std::result::Result<(), RuntimeError> {
        let _no_creation = self.inner.creating.write().await;
        self.remove(container).await
    }

    async fn remove_image(&self, image: &str) -> std::result::Result<(), RuntimeError> {
        let used: Vec<String> = self.all_states().await?.into_iter().map(|s| s.image).collect();
        let store = self.inner.store.clone();
        let query = image.to_owned();
        blocking(move || store.remove(&query, &|id| used.iter().any(|u| u == &id.to_string())))
            .await?
            .map_err(Error::into_runtime)
    }

    async fn tag_image(&self, image: &str, repository: &str, tag: &str) -> std::result::Result<(), RuntimeError> {
        let found = self.resolve_image(image).await?.ok_or_else(|| {
            RuntimeError::new(RuntimeErrorKind::NotFound, format!("no such image in s2i's image store: {image}"))
        })?;
        let store = self.inner.store.clone();
        let name = format!("{repository}:{tag}");
        blocking(move || store.tag(&found, &name)).await?.map_err(Error::into_runtime)
    }

    async fn network_exists(&self, network: &str) -> std::result::Result<bool, RuntimeError> {
        Ok(matches!(network, "host" | "none"))
    }

    async fn container_exists(&self, container: &str) -> std::result::Result<bool, RuntimeError> {
        match self.find(container).await {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    async fn stat_path(&self, container: &str, path: &str) -> std::result::Result<Option<PathStat>, RuntimeError> {
        let state = self.find(container).await?;
        match self
            .inner
            .host
            .call(Request::Stat { rootfs: state.rootfs.clone(), path: path.to_owned() }, Vec::new())
            .await?
        {
            Response::Stat { stat } => Ok(stat),
            other => Err(unexpected(&other)),
        }
    }

    async fn build_image(
        &self,
        context: ByteStream,
        spec: &ImageBuildSpec,
        output: &(dyn Fn(String) + Send + Sync),
    ) -> std::result::Result<String, RuntimeError> {
        crate::build::build(self, context, spec, output).await
    }

    async fn list_containers(
        &self,
        labels: &BTreeMap<String, String>,
    ) -> std::result::Result<Vec<ContainerSummary>, RuntimeError> {
        let mut found: Vec<ContainerSummary> = self
            .all_states()
            .await?
            .iter()
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
            .filter(|s| self.running(s))
            .map(|s| self.summary(s))
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        Ok(found)
    }

    async fn containers_with_labels(
        &self,
        labels: &BTreeMap<String, String>,
    ) -> std::result::Result<Vec<String>, RuntimeError> {
        let mut ids: Vec<String> = self
            .all_states()
            .await?
            .into_iter()
            .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
            .map(|s| s.id)
            .collect();
        ids.sort();
        Ok(ids)
    }

    async fn labelled_containers(&self, key: &str) -> std::result::Result<Vec<ContainerSummary>, RuntimeError> {
        let mut found: Vec<ContainerSummary> =
            self.all_states().await?.iter().filter(|s| s.labels.contains_key(key)).map(|s| self.summary(s)).collect();
        found.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.id.cmp(&b.id)));
        Ok(found)
    }
}

impl OciRuntime {
    /// The state of a container, for the build machinery.
    pub(crate) async fn container_state(&self, container: &str) -> std::result::Result<ContainerState, RuntimeError> {
        self.find(container).await
    }

    /// Carry out a host request, for the build machinery.
    pub(crate) async fn host_call(
        &self,
        request: Request,
        fds: Vec<OwnedFd>,
    ) -> std::result::Result<Response, RuntimeError> {
        self.inner.host.call(request, fds).await
    }

    /// Write a container's changes as a layer and add the image of
    /// `config` (the base's, as the build changed it) plus `changes` and
    /// that layer to the store, on the base's layers.
    pub(crate) async fn commit_with(
        &self,
        state: &ContainerState,
        base: &StoredImage,
        config: s2i_oci::spec::ImageConfig,
        changes: ConfigChanges,
        history: HistoryStep,
        name: Option<String>,
    ) -> std::result::Result<String, RuntimeError> {
        let store = self.inner.store.clone();
        let lock = blocking(move || store.writing_blobs()).await?.map_err(Error::into_runtime)?;
        let request = Request::WriteLayer {
            rootfs: state.rootfs.clone(),
            layout: self.inner.store.path().to_owned(),
            epoch: None,
            // Kept as a plain tar, as an engine keeps a commit: gzip costs
            // more than the rest of a large build, and a local store does
            // not need it (outputs carry the layer as it is).
            gzip: false,
        };
        let layer = match self.inner.host.call(request, Vec::new()).await? {
            Response::Layer { layer } => layer,
            other => return Err(unexpected(&other)),
        };
        let summary = LayerSummary {
            diff_id: layer.diff_id,
            uncompressed_size: layer.uncompressed_size,
            digest: layer.digest,
            size: layer.size,
            compression: if layer.gzip { Compression::Gzip } else { Compression::None },
            entries: layer.entries,
        };
        let store = self.inner.store.clone();
        let layers = base.layers.clone();
        let stored = blocking(move || {
            let assembled = s2i_oci::image::assemble(&ImageParts {
                base_config: &config,
                base_layers: &layers,
                layer: &summary,
                changes: &changes,
                history,
                epoch: None,
                format: ManifestFormat::Oci,
                annotations: BTreeMap::new(),
            })
            .map_err(|e| Error::Image {
                action: "assemble the image".into(),
                help: "check the image's configuration".into(),
                source: Box::new(e),
            })?;
            let stored = store.add(&assembled, name.as_deref());
            drop(lock);
            stored
        })
        .await?
        .map_err(Error::into_runtime)?;
        Ok(stored.id.to_string())
    }

    /// The image store, resolved off the async threads.
    pub(crate) async fn image(&self, query: &str) -> std::result::Result<Option<StoredImage>, RuntimeError> {
        self.resolve_image(query).await
    }
}

/// Stdin, stdout and stderr on `/dev/null`.
fn null_stdio() -> std::result::Result<Vec<OwnedFd>, RuntimeError> {
    let null = |write: bool| std::fs::OpenOptions::new().read(!write).write(write).open("/dev/null").map(OwnedFd::from);
    [null(false), null(true), null(true)]
        .into_iter()
        .collect::<std::io::Result<_>>()
        .map_err(io_error("open /dev/null"))
}
