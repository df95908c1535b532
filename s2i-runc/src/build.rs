//! Image builds from a build context, without a daemon: what `s2i build`
//! sends for builder images with `ONBUILD` triggers. The context is
//! unpacked, its Dockerfile read ([`crate::dockerfile`]) and run in one
//! container: `FROM` makes it from an image of the store, the base's
//! `ONBUILD` triggers run right after, `RUN` runs a process in it, `COPY`
//! and `ADD` write into it from the context (honouring `.dockerignore`),
//! and the other instructions change the image's configuration. The result
//! is the base's layers plus **one** layer with every change of the build
//! (Docker makes one per instruction), named as the build asks, with the
//! triggers of this Dockerfile as its own.
//!
//! Not supported, each with an error that says so: more than one `FROM`
//! (multi-stage), `FROM scratch`, `COPY --from`, `ADD` of URLs and of
//! archives compressed other than with gzip, and build arguments from
//! outside (an `ARG` takes its default).
//!
//! The build runs in a task of its own: when the caller gives up on it
//! (Ctrl-C), it stops at once and its container and context go.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};

use s2i_core::runtime::{
    ByteStream, ContainerRuntime, ContainerSpec, HostOptions, ImageBuildSpec, RuntimeError, RuntimeErrorKind,
};
use s2i_oci::image::{ConfigChanges, HistoryStep};
use s2i_oci::layer::{Compression, EntryKind, LayerEntry, LayerOptions, LayerWriter};
use s2i_oci::spec::{ContainerConfig, EmptyObject};
use tokio_util::sync::CancellationToken;

use crate::confined::{self, Root};
use crate::dockerfile::{self, Instruction};
use crate::ops::{Request, Response};
use crate::runtime::OciRuntime;
use crate::store::StoredImage;

/// The label every container of an image build carries.
const BUILD_LABEL: &str = "io.openshift.s2i.build.onbuild";

fn failed(message: impl Into<String>) -> RuntimeError {
    RuntimeError::new(RuntimeErrorKind::Rejected, message)
}

/// Build the context's Dockerfile; `output` gets the build's lines.
pub(crate) async fn build(
    runtime: &OciRuntime,
    context: ByteStream,
    spec: &ImageBuildSpec,
    output: &(dyn Fn(String) + Send + Sync),
) -> Result<String, RuntimeError> {
    let (lines, mut received) = tokio::sync::mpsc::unbounded_channel::<String>();
    let cancel = CancellationToken::new();
    // Dropped with this future (a cancelled build), the guard stops the task, which then cleans up.
    let guard = cancel.clone().drop_guard();
    let task = tokio::spawn(run(runtime.clone(), context, spec.clone(), lines, cancel));
    while let Some(line) = received.recv().await {
        output(line);
    }
    let result =
        task.await.map_err(|e| RuntimeError::new(RuntimeErrorKind::Other, format!("the image build failed: {e}")));
    guard.disarm();
    result?
}

/// What a build made that must go when it ends.
#[derive(Default)]
struct Leftovers {
    container: Option<String>,
    context: Option<PathBuf>,
}

async fn run(
    runtime: OciRuntime,
    context: ByteStream,
    spec: ImageBuildSpec,
    lines: tokio::sync::mpsc::UnboundedSender<String>,
    cancel: CancellationToken,
) -> Result<String, RuntimeError> {
    let mut leftovers = Leftovers::default();
    let say = |line: String| {
        let _ = lines.send(line);
    };
    let result = tokio::select! {
        biased;
        _ = cancel.cancelled() => Err(RuntimeError::new(RuntimeErrorKind::Other, "the image build was cancelled")),
        result = steps(&runtime, context, &spec, &say, &mut leftovers) => result,
    };
    if let Some(container) = leftovers.container.take() {
        let _ = runtime.remove_container(&container).await;
    }
    if let Some(dir) = leftovers.context.take() {
        let _ = tokio::task::spawn_blocking(move || confined::remove_tree(&dir)).await;
    }
    result
}

/// The state of a build between instructions.
struct Build<'a> {
    runtime: &'a OciRuntime,
    escape: char,
    context: PathBuf,
    ignore: Ignore,
    base: StoredImage,
    container: crate::containers::ContainerState,
    config: ContainerConfig,
    author: Option<String>,
    args: BTreeMap<String, String>,
    shell: Vec<String>,
    cmd_set: bool,
    on_build: Vec<String>,
    steps: usize,
    done: Vec<String>,
}

async fn steps(
    runtime: &OciRuntime,
    context: ByteStream,
    spec: &ImageBuildSpec,
    say: &(dyn Fn(String) + Send + Sync),
    leftovers: &mut Leftovers,
) -> Result<String, RuntimeError> {
    let owned = runtime.new_context_dir().await?;
    leftovers.context = Some(owned.clone());
    // The owner file stays beside the context, out of what COPY sees.
    let dir = owned.join("context");
    tokio::fs::create_dir(&dir)
        .await
        .map_err(|e| failed(format!("cannot make a directory for the build context: {e}")))?;
    let unpack_dir = dir.clone();
    let reader = tokio_util::io::SyncIoBridge::new(tokio_util::io::StreamReader::new(context));
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        let mut reader = reader;
        let root = Root::open(&unpack_dir)?;
        crate::fsops::extract(&mut reader, &root, "/", crate::fsops::Whiteouts::Literal)?;
        // The stream must be read to its end for the producer to finish.
        std::io::copy(&mut reader, &mut std::io::sink())?;
        Ok(())
    })
    .await
    .map_err(|e| failed(e.to_string()))?
    .map_err(|e| failed(format!("cannot unpack the build context: {e}")))?;

    let dockerfile_path = dir.join(confined::components(&spec.dockerfile).join("/"));
    let text = tokio::fs::read_to_string(&dockerfile_path)
        .await
        .map_err(|e| failed(format!("cannot read the Dockerfile {} of the build context: {e}", spec.dockerfile)))?;
    let file = dockerfile::parse(&text).map_err(|e| failed(format!("{}: {e}", spec.dockerfile)))?;
    let ignore = Ignore::read(&dir);

    // ARGs before FROM, then FROM.
    let mut pre_args: BTreeMap<String, String> = BTreeMap::new();
    let mut instructions = file.instructions.into_iter();
    let from = loop {
        let Some(instruction) = instructions.next() else { return Err(failed("the Dockerfile has no FROM")) };
        match instruction.keyword.as_str() {
            "ARG" => {
                let (name, value) = instruction.args.split_once('=').unwrap_or((&instruction.args, ""));
                pre_args
                    .insert(name.trim().to_owned(), dockerfile::word(value, file.escape, &|_| None).map_err(failed)?);
            }
            "FROM" => break instruction,
            other => return Err(failed(format!("line {}: {other} comes before FROM", instruction.line))),
        }
    };
    let rest: Vec<Instruction> = instructions.collect();
    if let Some(second) = rest.iter().find(|i| i.keyword == "FROM") {
        return Err(failed(format!(
            "line {}: a second FROM (a multi-stage build) is not supported by --engine oci",
            second.line
        )));
    }
    let image_text = from.args.split_whitespace().next().unwrap_or_default();
    let image_name = dockerfile::word(image_text, file.escape, &|name| pre_args.get(name).cloned()).map_err(failed)?;
    if image_name == "scratch" {
        return Err(failed("FROM scratch is not supported by --engine oci: start from an image"));
    }
    let base = runtime.image(&image_name).await?.ok_or_else(|| {
        RuntimeError::new(RuntimeErrorKind::NotFound, format!("FROM {image_name}: no such image in s2i's image store"))
    })?;
    let triggers: Vec<Instruction> = base
        .config
        .config
        .as_ref()
        .map(|c| c.on_build.clone())
        .unwrap_or_default()
        .iter()
        .map(|t| dockerfile::instruction(from.line, t))
        .collect::<Result<_, _>>()
        .map_err(failed)?;
    let total = 1 + triggers.len() + rest.len();
    say(format!("STEP 1/{total}: FROM {image_name}"));

    let mut labels = BTreeMap::from([(BUILD_LABEL.to_owned(), "true".to_owned())]);
    labels.insert(s2i_core::owner::OWNER_LABEL.to_owned(), s2i_core::owner::ProcessOwner::current().to_string());
    let mut host = HostOptions::default();
    host.network_mode = spec.network_mode.clone();
    host.limits = spec.limits.clone();
    let container_spec = ContainerSpec {
        name: Some(s2i_core::container_name(&format!("onbuild_{image_name}"))),
        image: base.id.to_string(),
        entrypoint: Some(Vec::new()),
        cmd: vec!["/bin/sh".to_owned()],
        labels,
        host,
        ..ContainerSpec::default()
    };
    let id = runtime.create_container(&container_spec).await?;
    leftovers.container = Some(id.clone());
    let container = runtime.container_state(&id).await?;
    let config = base.config.config.clone().unwrap_or_default();
    let mut build = Build {
        runtime,
        escape: file.escape,
        context: dir.clone(),
        ignore,
        config,
        author: base.config.extra.get("author").and_then(|a| a.as_str()).map(str::to_owned),
        args: BTreeMap::new(),
        shell: vec!["/bin/sh".to_owned(), "-c".to_owned()],
        cmd_set: false,
        on_build: Vec::new(),
        steps: 1,
        done: vec![format!("FROM {image_name}")],
        base,
        container,
    };
    if !triggers.is_empty() {
        say(format!("Executing {} build trigger(s) of {image_name}", triggers.len()));
    }
    for trigger in &triggers {
        if matches!(trigger.keyword.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
            return Err(failed(format!("the trigger {trigger} of {image_name} is not allowed as a trigger")));
        }
        build.step(trigger, total, say, true).await?;
    }
    for instruction in &rest {
        build.step(instruction, total, say, false).await?;
    }

    let mut config = build.base.config.clone();
    let mut container_config = build.config.clone();
    container_config.labels.extend(spec.labels.iter().map(|(k, v)| (k.clone(), v.clone())));
    container_config.on_build = build.on_build.clone();
    config.config = Some(container_config);
    if let Some(author) = &build.author {
        config.extra.insert("author".to_owned(), serde_json::Value::String(author.clone()));
    }
    let history = HistoryStep { created_by: format!("s2i image build: {}", build.done.join("; ")), comment: None };
    let image_id = runtime
        .commit_with(&build.container, &build.base, config, ConfigChanges::default(), history, spec.tag.clone())
        .await?;
    say(format!("Successfully built {}", &image_id[..image_id.len().min(19)]));
    Ok(image_id)
}

impl Build<'_> {
    /// The value of a variable for substitutions: the environment first, then build arguments.
    fn variable(&self, name: &str) -> Option<String> {
        self.config
            .env
            .iter()
            .find_map(|e| e.split_once('=').filter(|(n, _)| *n == name).map(|(_, v)| v.to_owned()))
            .or_else(|| self.args.get(name).cloned())
    }

    fn words(&self, text: &str) -> Result<Vec<String>, RuntimeError> {
        dockerfile::words(text, self.escape, &|n| self.variable(n), true).map_err(failed)
    }

    fn word(&self, text: &str) -> Result<String, RuntimeError> {
        dockerfile::word(text, self.escape, &|n| self.variable(n)).map_err(failed)
    }

    /// A command in exec form, or the shell form through `SHELL`.
    fn command(&self, args: &str) -> Vec<String> {
        dockerfile::json_args(args).unwrap_or_else(|| self.shell.iter().cloned().chain([args.to_owned()]).collect())
    }

    async fn step(
        &mut self,
        instruction: &Instruction,
        total: usize,
        say: &(dyn Fn(String) + Send + Sync),
        trigger: bool,
    ) -> Result<(), RuntimeError> {
        self.steps += 1;
        say(format!("STEP {}/{total}: {instruction}{}", self.steps, if trigger { " (build trigger)" } else { "" }));
        let at = |e: RuntimeError| {
            RuntimeError::new(e.kind, format!("line {}, {}: {}", instruction.line, instruction.keyword, e.message))
        };
        self.apply(instruction, say).await.map_err(at)?;
        self.done.push(instruction.to_string());
        Ok(())
    }

    async fn apply(
        &mut self,
        instruction: &Instruction,
        say: &(dyn Fn(String) + Send + Sync),
    ) -> Result<(), RuntimeError> {
        let args = instruction.args.as_str();
        match instruction.keyword.as_str() {
            "RUN" => self.run(args, say).await,
            "COPY" | "ADD" => self.copy(args, instruction.keyword == "ADD").await,
            "ENV" => {
                let pairs = dockerfile::key_values(args, self.escape, &|n| self.variable(n)).map_err(failed)?;
                for (name, value) in pairs {
                    self.config.env.retain(|e| e.split_once('=').map_or(e.as_str(), |(n, _)| n) != name);
                    self.config.env.push(format!("{name}={value}"));
                }
                Ok(())
            }
            "ARG" => {
                let (name, default) = args.split_once('=').map_or((args.trim(), None), |(n, v)| (n.trim(), Some(v)));
                let value = default.map(|d| self.word(d)).transpose()?.unwrap_or_default();
                self.args.insert(name.to_owned(), value);
                Ok(())
            }
            "LABEL" => {
                let pairs = dockerfile::key_values(args, self.escape, &|n| self.variable(n)).map_err(failed)?;
                self.config.labels.extend(pairs);
                Ok(())
            }
            "EXPOSE" => {
                for port in self.words(args)? {
                    let (number, protocol) = port.split_once('/').unwrap_or((&port, "tcp"));
                    if number.parse::<u16>().is_err() || !matches!(protocol, "tcp" | "udp" | "sctp") {
                        return Err(failed(format!("{port:?} is not a port")));
                    }
                    self.config.exposed_ports.insert(format!("{number}/{protocol}"), EmptyObject {});
                }
                Ok(())
            }
            "WORKDIR" => {
                let dir = self.word(args)?;
                let dir = if dir.starts_with('/') { dir } else { format!("{}/{dir}", self.working_dir()) };
                let dir = confined::clean(&dir);
                self.runtime.make_dir(&self.container, &dir, 0, 0).await?;
                self.config.working_dir = dir;
                Ok(())
            }
            "USER" => {
                self.config.user = self.word(args)?;
                Ok(())
            }
            "ENTRYPOINT" => {
                self.config.entrypoint = Some(self.command(args));
                if !self.cmd_set {
                    self.config.cmd = None;
                }
                Ok(())
            }
            "CMD" => {
                self.config.cmd = Some(self.command(args));
                self.cmd_set = true;
                Ok(())
            }
            "VOLUME" => {
                let volumes = dockerfile::json_args(args).map_or_else(|| self.words(args), Ok)?;
                for volume in volumes {
                    self.config.volumes.insert(volume, EmptyObject {});
                }
                Ok(())
            }
            "STOPSIGNAL" => {
                self.config.stop_signal = self.word(args)?;
                Ok(())
            }
            "SHELL" => {
                self.shell = dockerfile::json_args(args)
                    .filter(|s| !s.is_empty())
                    .ok_or_else(|| failed("SHELL takes a JSON array, e.g. [\"/bin/bash\", \"-c\"]"))?;
                self.config.extra.insert("Shell".to_owned(), serde_json::json!(self.shell));
                Ok(())
            }
            "MAINTAINER" => {
                self.author = Some(args.to_owned());
                Ok(())
            }
            "ONBUILD" => {
                let trigger = dockerfile::instruction(0, args).map_err(failed)?;
                if matches!(trigger.keyword.as_str(), "ONBUILD" | "FROM" | "MAINTAINER") {
                    return Err(failed(format!("ONBUILD {} is not allowed", trigger.keyword)));
                }
                self.on_build.push(args.to_owned());
                Ok(())
            }
            "HEALTHCHECK" => {
                self.config.extra.insert("Healthcheck".to_owned(), healthcheck(args)?);
                Ok(())
            }
            other => Err(failed(format!("unknown instruction {other}"))),
        }
    }

    fn working_dir(&self) -> String {
        if self.config.working_dir.is_empty() { "/".to_owned() } else { self.config.working_dir.clone() }
    }

    async fn run(&mut self, args: &str, say: &(dyn Fn(String) + Send + Sync)) -> Result<(), RuntimeError> {
        let command = self.command(args);
        let user = self.runtime.exec_user(&self.container, &self.config.user).await?;
        // Build arguments are in the environment of RUN, below the image's variables.
        let arg_entries: Vec<String> = self
            .args
            .iter()
            .filter(|(name, _)| !self.config.env.iter().any(|e| e.split_once('=').is_some_and(|(n, _)| n == *name)))
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        let env = self.runtime.process_env(&self.container, arg_entries.iter().chain(&self.config.env));
        let status = self
            .runtime
            .run_process(&self.container, self.steps, &command, &env, &user, &self.working_dir(), say)
            .await?;
        if status.code != 0 {
            let mut message = format!("the command {:?} returned a non-zero code: {}", command.join(" "), status.code);
            if let Some(error) = status.error {
                message.push_str(&format!(" ({error})"));
            }
            return Err(RuntimeError::new(RuntimeErrorKind::Other, message));
        }
        Ok(())
    }

    async fn copy(&mut self, args: &str, add: bool) -> Result<(), RuntimeError> {
        let keyword = if add { "ADD" } else { "COPY" };
        let (flags, rest) = dockerfile::leading_flags(args);
        let mut chown = None;
        let mut chmod = None;
        for (name, value) in flags {
            match name.as_str() {
                "chown" => chown = Some(self.word(&value)?),
                "chmod" => {
                    chmod = Some(
                        u32::from_str_radix(&value, 8)
                            .map_err(|_| failed(format!("--chmod={value} is not an octal mode")))?,
                    )
                }
                "from" => {
                    return Err(failed(format!(
                        "{keyword} --from (a multi-stage build) is not supported by --engine oci"
                    )));
                }
                other => return Err(failed(format!("{keyword} has no --{other} option"))),
            }
        }
        let mut paths = dockerfile::json_args(rest).map_or_else(|| self.words(rest), Ok)?;
        if paths.len() < 2 {
            return Err(failed(format!("{keyword} needs at least one source and a destination")));
        }
        let destination = paths.pop().expect("two or more");
        let (uid, gid) = match &chown {
            Some(user) => {
                let user = self.runtime.exec_user(&self.container, user).await?;
                (user.uid, user.gid)
            }
            None => (0, 0),
        };
        let mut sources: Vec<(String, PathBuf)> = Vec::new();
        for pattern in &paths {
            if add && (pattern.starts_with("http://") || pattern.starts_with("https://")) {
                return Err(failed("ADD from a URL is not supported by --engine oci; download it in a RUN step"));
            }
            let matched = self.matching(pattern)?;
            if matched.is_empty() {
                return Err(failed(format!("{keyword} failed: no source files were specified by {pattern:?}")));
            }
            sources.extend(matched);
        }
        let into_dir =
            destination.ends_with('/') || sources.len() > 1 || paths.iter().any(|p| p.contains(['*', '?', '[']));
        let destination =
            if destination.starts_with('/') { destination } else { format!("{}/{destination}", self.working_dir()) };
        let destination_clean = confined::clean(&destination);
        let existing = self.stat(&destination_clean).await?;
        let dest_is_dir = into_dir || existing.as_ref().is_some_and(|s| s.is_dir);
        for (relative, host) in sources {
            let meta = std::fs::symlink_metadata(&host).map_err(|e| failed(format!("{relative}: {e}")))?;
            if add
                && meta.is_file()
                && let Some(compression) = archive_kind(&host)
            {
                self.runtime.make_dir(&self.container, &destination_clean, uid, gid).await?;
                self.upload_archive(&host, compression, &destination_clean).await?;
                continue;
            }
            if meta.is_dir() {
                // A directory's contents go into the destination.
                self.runtime.make_dir(&self.container, &destination_clean, uid, gid).await?;
                self.upload_tree(&host, &relative, &destination_clean, None, (uid, gid), chmod).await?;
                continue;
            }
            let name = Path::new(&relative).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            let (dir, file_name) = if dest_is_dir {
                (destination_clean.clone(), name)
            } else {
                let parts = confined::components(&destination_clean);
                let (last, parents) = parts.split_last().ok_or_else(|| failed("the destination is /"))?;
                (format!("/{}", parents.join("/")), (*last).to_owned())
            };
            self.runtime.make_dir(&self.container, &dir, uid, gid).await?;
            self.upload_tree(&host, &relative, &dir, Some(file_name), (uid, gid), chmod).await?;
        }
        Ok(())
    }

    /// The context paths a source pattern names (cleaned, inside the context, not ignored).
    fn matching(&self, pattern: &str) -> Result<Vec<(String, PathBuf)>, RuntimeError> {
        let clean = confined::components(pattern).join("/");
        if !clean.contains(['*', '?', '[']) {
            let host = if clean.is_empty() { self.context.clone() } else { self.context.join(&clean) };
            if std::fs::symlink_metadata(&host).is_err() || (!clean.is_empty() && self.ignore.excludes(&clean)) {
                return Err(failed(format!(
                    "{pattern:?}: file not found in the build context (or excluded by .dockerignore)"
                )));
            }
            return Ok(vec![(if clean.is_empty() { ".".to_owned() } else { clean }, host)]);
        }
        let glob = globset::GlobBuilder::new(&clean)
            .literal_separator(true)
            .build()
            .map_err(|e| failed(format!("{pattern:?}: {e}")))?
            .compile_matcher();
        let mut found = Vec::new();
        let mut pending = vec![String::new()];
        while let Some(dir) = pending.pop() {
            let host = if dir.is_empty() { self.context.clone() } else { self.context.join(&dir) };
            let Ok(entries) = std::fs::read_dir(&host) else { continue };
            let mut names: Vec<String> =
                entries.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
            names.sort();
            for name in names {
                let path = if dir.is_empty() { name } else { format!("{dir}/{name}") };
                if self.ignore.excludes(&path) {
                    continue;
                }
                if glob.is_match(&path) {
                    found.push((path.clone(), self.context.join(&path)));
                } else if self.context.join(&path).is_dir() {
                    pending.push(path);
                }
            }
        }
        found.sort();
        Ok(found)
    }

    async fn stat(&self, path: &str) -> Result<Option<s2i_core::runtime::PathStat>, RuntimeError> {
        let request = Request::Stat { rootfs: self.container.rootfs.clone(), path: path.to_owned() };
        match self.runtime.host_call(request, Vec::new()).await? {
            Response::Stat { stat } => Ok(stat),
            other => Err(crate::host::unexpected(&other)),
        }
    }

    /// Upload `host` (a file, or a directory's contents) into the container
    /// directory `dir`, owned by `owner`; a file is named `name`.
    async fn upload_tree(
        &self,
        host: &Path,
        relative: &str,
        dir: &str,
        name: Option<String>,
        owner: (u32, u32),
        chmod: Option<u32>,
    ) -> Result<(), RuntimeError> {
        let (reader, writer) = std::io::pipe().map_err(|e| failed(e.to_string()))?;
        let host = host.to_owned();
        let base = relative.to_owned();
        let ignore = self.ignore.clone();
        let producer = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let out = std::io::BufWriter::new(writer);
            let options = LayerOptions { compression: Compression::None, ..LayerOptions::default() };
            let mut tar = LayerWriter::new(out, options);
            match name {
                Some(name) => append(&mut tar, &host, name.as_bytes(), owner, chmod)?,
                None => append_contents(&mut tar, &host, &[], &base, &ignore, owner, chmod)?,
            }
            let (mut out, _) = tar.finish().map_err(std::io::Error::other)?;
            out.flush()
        });
        self.upload(dir, reader.into()).await?;
        producer.await.map_err(|e| failed(e.to_string()))?.map_err(|e| failed(format!("read {relative}: {e}")))
    }

    /// Extract a (gzip) tar archive of the context into `dir`, its owners kept.
    async fn upload_archive(&self, host: &Path, gzip: bool, dir: &str) -> Result<(), RuntimeError> {
        let (reader, mut writer) = std::io::pipe().map_err(|e| failed(e.to_string()))?;
        let host = host.to_owned();
        let producer = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let file = std::fs::File::open(&host)?;
            let mut input: Box<dyn Read> =
                if gzip { Box::new(flate2::read::GzDecoder::new(file)) } else { Box::new(file) };
            std::io::copy(&mut input, &mut writer).map(drop)
        });
        self.upload(dir, reader.into()).await?;
        producer.await.map_err(|e| failed(e.to_string()))?.map_err(|e| failed(format!("read the archive: {e}")))
    }

    async fn upload(&self, dir: &str, reader: OwnedFd) -> Result<(), RuntimeError> {
        let request = Request::Upload { rootfs: self.container.rootfs.clone(), path: dir.to_owned() };
        self.runtime.host_call(request, vec![reader]).await.map(drop)
    }
}

/// Whether a context file is a tar archive ADD unpacks: `Some(gzip)`.
fn archive_kind(path: &Path) -> Option<bool> {
    let mut head = [0u8; 512];
    let mut file = std::fs::File::open(path).ok()?;
    let read = file.read(&mut head).ok()?;
    if read >= 2 && head[..2] == [0x1f, 0x8b] {
        return Some(true);
    }
    (read >= 262 && &head[257..262] == b"ustar").then_some(false)
}

/// One context file (or link, or empty directory) as a tar entry named `name`.
fn append(
    tar: &mut LayerWriter<'_, std::io::BufWriter<std::io::PipeWriter>>,
    host: &Path,
    name: &[u8],
    owner: (u32, u32),
    chmod: Option<u32>,
) -> std::io::Result<()> {
    use std::os::unix::fs::{MetadataExt, PermissionsExt};
    let meta = std::fs::symlink_metadata(host)?;
    let mode = chmod.unwrap_or(meta.permissions().mode() & 0o7777);
    let mut entry = LayerEntry {
        path: name.to_vec(),
        kind: EntryKind::Dir,
        mode,
        uid: u64::from(owner.0),
        gid: u64::from(owner.1),
        mtime: u64::try_from(meta.mtime()).unwrap_or(0),
        xattrs: BTreeMap::new(),
    };
    let result = if meta.is_dir() {
        tar.append(&entry, &mut std::io::empty())
    } else if meta.file_type().is_symlink() {
        use std::os::unix::ffi::OsStrExt;
        entry.kind = EntryKind::Symlink { target: std::fs::read_link(host)?.as_os_str().as_bytes().to_vec() };
        tar.append(&entry, &mut std::io::empty())
    } else if meta.is_file() {
        entry.kind = EntryKind::File { size: meta.len() };
        tar.append(&entry, &mut std::fs::File::open(host)?)
    } else {
        // Sockets, pipes and devices of a build context are left out, as Docker leaves them.
        return Ok(());
    };
    result.map_err(std::io::Error::other)
}

/// The contents of a context directory, depth first in name order.
fn append_contents(
    tar: &mut LayerWriter<'_, std::io::BufWriter<std::io::PipeWriter>>,
    dir: &Path,
    prefix: &[u8],
    context_path: &str,
    ignore: &Ignore,
    owner: (u32, u32),
    chmod: Option<u32>,
) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let mut names: Vec<std::ffi::OsString> =
        std::fs::read_dir(dir)?.map(|e| e.map(|e| e.file_name())).collect::<Result<_, _>>()?;
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in names {
        let in_context = if context_path == "." || context_path.is_empty() {
            name.to_string_lossy().into_owned()
        } else {
            format!("{context_path}/{}", name.to_string_lossy())
        };
        if ignore.excludes(&in_context) {
            continue;
        }
        let entry_name: Vec<u8> =
            if prefix.is_empty() { name.as_bytes().to_vec() } else { [prefix, b"/", name.as_bytes()].concat() };
        let host = dir.join(&name);
        append(tar, &host, &entry_name, owner, chmod)?;
        if std::fs::symlink_metadata(&host)?.is_dir() {
            append_contents(tar, &host, &entry_name, &in_context, ignore, owner, chmod)?;
        }
    }
    Ok(())
}

/// A Dockerfile `HEALTHCHECK` as the image config keeps it.
fn healthcheck(args: &str) -> Result<serde_json::Value, RuntimeError> {
    if args.trim().eq_ignore_ascii_case("NONE") {
        return Ok(serde_json::json!({"Test": ["NONE"]}));
    }
    let (flags, rest) = dockerfile::leading_flags(args);
    let Some(command) = rest.strip_prefix("CMD").or_else(|| rest.strip_prefix("cmd")) else {
        return Err(failed("HEALTHCHECK takes NONE or [OPTIONS] CMD command"));
    };
    let test: Vec<String> = match dockerfile::json_args(command) {
        Some(exec) => std::iter::once("CMD".to_owned()).chain(exec).collect(),
        None => vec!["CMD-SHELL".to_owned(), command.trim().to_owned()],
    };
    let mut value = serde_json::json!({ "Test": test });
    for (name, text) in flags {
        let key = match name.as_str() {
            "interval" => "Interval",
            "timeout" => "Timeout",
            "start-period" => "StartPeriod",
            "start-interval" => "StartInterval",
            "retries" => {
                let retries = text.parse::<u64>().map_err(|_| failed(format!("--retries={text} is not a number")))?;
                value["Retries"] = serde_json::json!(retries);
                continue;
            }
            other => return Err(failed(format!("HEALTHCHECK has no --{other} option"))),
        };
        value[key] = serde_json::json!(
            duration_nanos(&text).ok_or_else(|| failed(format!("--{name}={text} is not a duration")))?
        );
    }
    Ok(value)
}

/// `30s`, `1m30s`, `500ms`, `1h` in nanoseconds.
fn duration_nanos(text: &str) -> Option<u64> {
    let mut total: u64 = 0;
    let mut number = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let value: u64 = number.parse().ok()?;
        number.clear();
        let unit = match (c, chars.peek()) {
            ('m', Some('s')) => {
                chars.next();
                1_000_000
            }
            ('u' | 'µ', Some('s')) => {
                chars.next();
                1_000
            }
            ('n', Some('s')) => {
                chars.next();
                1
            }
            ('h', _) => 3_600_000_000_000,
            ('m', _) => 60_000_000_000,
            ('s', _) => 1_000_000_000,
            _ => return None,
        };
        total += value * unit;
    }
    number.is_empty().then_some(total)
}

/// `.dockerignore` of a context: patterns (`**` allowed), `!` exceptions,
/// the last matching pattern decides; a directory excluded excludes what it holds.
#[derive(Debug, Clone, Default)]
struct Ignore {
    patterns: Vec<(globset::GlobMatcher, bool)>,
}

impl Ignore {
    fn read(context: &Path) -> Self {
        let Ok(text) = std::fs::read_to_string(context.join(".dockerignore")) else { return Self::default() };
        let mut patterns = Vec::new();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let (negated, pattern) = match line.strip_prefix('!') {
                Some(rest) => (true, rest.trim()),
                None => (false, line),
            };
            let clean = confined::components(pattern).join("/");
            if let Ok(glob) = globset::GlobBuilder::new(&clean).literal_separator(true).build() {
                patterns.push((glob.compile_matcher(), negated));
            }
        }
        Self { patterns }
    }

    fn excludes(&self, path: &str) -> bool {
        let mut excluded = false;
        for (glob, negated) in &self.patterns {
            let mut matched = glob.is_match(path);
            // A pattern that names a parent directory covers what it holds.
            let mut parent = path;
            while !matched && let Some((up, _)) = parent.rsplit_once('/') {
                matched = glob.is_match(up);
                parent = up;
            }
            if matched {
                excluded = !negated;
            }
        }
        excluded
    }
}

impl OciRuntime {
    /// A directory for a build context (and its owner file), owned by this
    /// process (a killed process's is removed by the next [`OciRuntime::connect`]).
    pub(crate) async fn new_context_dir(&self) -> Result<PathBuf, RuntimeError> {
        let root = self.contexts_dir();
        tokio::task::spawn_blocking(move || -> std::io::Result<PathBuf> {
            std::fs::create_dir_all(&root)?;
            let owner = s2i_core::owner::ProcessOwner::current();
            let dir =
                tempfile::Builder::new().prefix(&format!("{}-{}-", owner.pid, owner.start)).tempdir_in(&root)?.keep();
            std::fs::write(dir.join(s2i_core::owner::OWNER_FILE), owner.to_string())?;
            Ok(dir)
        })
        .await
        .map_err(|e| failed(e.to_string()))?
        .map_err(|e| {
            RuntimeError::new(RuntimeErrorKind::Other, format!("cannot make a directory for the build context: {e}"))
        })
    }
}

/// Remove the build contexts under `root` whose process is gone.
pub(crate) fn remove_abandoned_contexts(root: &Path) {
    let Ok(entries) = std::fs::read_dir(root) else { return };
    for entry in entries.flatten() {
        let owner = std::fs::read_to_string(entry.path().join(s2i_core::owner::OWNER_FILE))
            .ok()
            .and_then(|text| s2i_core::owner::ProcessOwner::parse(&text));
        if owner.is_some_and(|o| o.is_running_here() == Some(false)) {
            let _ = confined::remove_tree(&entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dockerignore_patterns_and_exceptions() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".dockerignore"), "# comment\n*.log\nbuild/\n!keep.log\n**/secret\n").unwrap();
        let ignore = Ignore::read(dir.path());
        assert!(ignore.excludes("app.log"));
        assert!(!ignore.excludes("keep.log"), "an exception wins when it comes last");
        assert!(ignore.excludes("build/out/x"), "a directory covers what it holds");
        assert!(ignore.excludes("a/b/secret"));
        assert!(!ignore.excludes("src/main.py"));
        assert!(!Ignore::default().excludes("anything"));
    }

    #[test]
    fn durations_and_healthchecks() {
        assert_eq!(duration_nanos("1m30s"), Some(90_000_000_000));
        assert_eq!(duration_nanos("500ms"), Some(500_000_000));
        assert_eq!(duration_nanos("5x"), None);
        let check = healthcheck("--interval=30s --retries=3 CMD curl -f http://localhost/").unwrap();
        assert_eq!(check["Test"], serde_json::json!(["CMD-SHELL", "curl -f http://localhost/"]));
        assert_eq!(check["Interval"], 30_000_000_000u64);
        assert_eq!(check["Retries"], 3);
        assert_eq!(healthcheck("NONE").unwrap()["Test"], serde_json::json!(["NONE"]));
    }
}
