//! What the object commands share: the open store and namespace, and for
//! commands that change things, the container engine and a registry client
//! with the user's registry credentials. `s2i store …`.

use std::path::PathBuf;
use std::sync::Arc;

use s2i_buildconfig::{Builds, Event};
use s2i_core::ContainerRuntime;

use s2i_core::auth::CredentialFiles;
use s2i_imagestream::mirror::{EngineAccess, MirrorReport};
use s2i_imagestream::operations::{ImageStreams, Outcome};
use s2i_imagestream::registry::{RegistryAuth, RegistryClient};
use s2i_store::Store;

use super::engine::connect_engine;
use super::worker::WorkerProcess;
use crate::cli::{GlobalArgs, StoreCommand};
use crate::failure::Failure;
use crate::hints;

/// The store and the namespace of a command.
pub(crate) struct Context {
    pub(crate) store: Store,
    pub(crate) namespace: String,
    pub(crate) loglevel: u8,
    /// `--no-triggers`.
    pub(crate) no_triggers: bool,
    /// The global options, for the processes a command starts (build workers).
    pub(crate) global: GlobalArgs,
}

impl Context {
    /// Open the store of `--store` / `S2I_STORE` (default: the user's data directory).
    pub(crate) fn open(global: &GlobalArgs) -> Result<Self, Failure> {
        s2i_store::validate_namespace(&global.namespace)?;
        let dir = store_dir(global)?;
        let store = Store::open(&dir)?;
        // Documents that older versions of the kinds wrote, rewritten once.
        s2i_route::store::migrate(&store)?;
        s2i_imagestream::migrations::migrate(&store)?;
        Ok(Self {
            store,
            namespace: global.namespace.clone(),
            loglevel: global.loglevel,
            no_triggers: global.no_triggers,
            global: global.clone(),
        })
    }
}

fn store_dir(global: &GlobalArgs) -> Result<PathBuf, Failure> {
    match &global.store {
        Some(dir) => Ok(dir.clone()),
        None => Ok(s2i_store::default_dir()?),
    }
}

/// A context plus what changes need: the engine (or why it is unreachable) and registries.
pub(crate) struct Session {
    pub(crate) context: Context,
    runtime: Result<Arc<dyn ContainerRuntime>, String>,
    registry: RegistryClient,
    worker: WorkerProcess,
}

impl Session {
    /// Open the store and connect to the engine; an unreachable engine is
    /// remembered, and only an error for operations that need it.
    pub(crate) async fn open(global: &GlobalArgs, dockercfg_path: Option<&PathBuf>) -> Result<Self, Failure> {
        let context = Context::open(global)?;
        let runtime = match connect_engine(global, dockercfg_path.map(|p| p.as_path())).await {
            Ok(runtime) => Ok(runtime),
            Err(e) => Err(e.to_string()),
        };
        Ok(Self::with_engine(context, runtime, dockercfg_path))
    }

    /// A session on an engine already connected (e.g. the one a build ran on).
    pub(crate) fn with_engine(
        context: Context,
        runtime: Result<Arc<dyn ContainerRuntime>, String>,
        dockercfg_path: Option<&PathBuf>,
    ) -> Self {
        let worker = WorkerProcess::new(&context.global);
        Self { context, runtime, registry: registry_client(dockercfg_path), worker }
    }

    /// The image-stream operations of this session.
    pub(crate) fn image_streams(&self) -> ImageStreams<'_> {
        let engine: EngineAccess<'_> = match &self.runtime {
            Ok(runtime) => Ok(runtime.as_ref()),
            Err(why) => Err(why.clone()),
        };
        ImageStreams::new(&self.context.store, engine, &self.registry)
            .with_triggers(!self.context.no_triggers)
            .with_event_consumers(&[s2i_buildconfig::TRIGGER_CONSUMER])
    }

    /// The build operations of this session, reporting to `events`; build
    /// workers are `s2i run-build` processes.
    pub(crate) fn builds<'a>(&'a self, events: &'a dyn Fn(&Event)) -> Builds<'a> {
        Builds::new(&self.context.store, self.runtime.clone(), &self.registry, &self.worker)
            .with_triggers(!self.context.no_triggers)
            .with_events(events)
    }

    /// The engine, or the failure of a command that needs it.
    pub(crate) fn runtime(&self) -> Result<Arc<dyn ContainerRuntime>, Failure> {
        match &self.runtime {
            Ok(runtime) => Ok(runtime.clone()),
            Err(why) => Err(hints::engine_unreachable(why, true)),
        }
    }

    /// Print what following the tag changes did (warnings always, the rest with
    /// `--loglevel 1`) and return the operation's value; an engine or registry
    /// that could not follow is the command's failure (the store keeps the change).
    pub(crate) fn report<T>(&self, outcome: Outcome<T>) -> (T, Result<(), Failure>) {
        print_mirror(&outcome.mirror, self.context.loglevel);
        (outcome.value, outcome.mirror_error.map_or(Ok(()), |e| Err(Failure::from(e))))
    }
}

pub(crate) fn print_mirror(report: &MirrorReport, loglevel: u8) {
    if loglevel > 0 {
        for line in &report.done {
            eprintln!("I: {line}");
        }
    }
    for line in &report.warnings {
        eprintln!("warning: {line}");
    }
}

/// A registry client with the credentials the engine uses too: the files of
/// [`s2i_docker::ConnectOptions::auth_sources`] (`--dockercfg-path`,
/// `REGISTRY_AUTH_FILE`, Podman's `auth.json`, Docker's `config.json`).
fn registry_client(dockercfg_path: Option<&PathBuf>) -> RegistryClient {
    let mut options = s2i_docker::ConnectOptions::from_env();
    options.docker_config = dockercfg_path.cloned();
    let config = CredentialFiles::load(&options.auth_sources()).map_err(|e| e.to_string());
    RegistryClient::new(move |registry: &str| {
        let config = config.as_ref().map_err(Clone::clone)?;
        let credentials = config.credentials_for_registry(registry).map_err(|e| e.to_string())?;
        Ok(credentials.map(|c| RegistryAuth {
            username: c.username,
            password: c.password,
            identity_token: c.identity_token,
        }))
    })
}

/// `s2i store path|check`.
pub(crate) fn store_command(global: &GlobalArgs, command: StoreCommand) -> Result<i32, Failure> {
    match command {
        StoreCommand::Path => {
            println!("{}", store_dir(global)?.display());
            Ok(0)
        }
        StoreCommand::Check => {
            let context = Context::open(global)?;
            let problems = s2i_imagestream::operations::check(&context.store)?;
            if problems.is_empty() {
                println!("{}: ok (schema version {})", context.store.file().display(), context.store.schema_version()?);
                Ok(0)
            } else {
                for problem in &problems {
                    println!("{problem}");
                }
                eprintln!("{} problem(s) in {}", problems.len(), context.store.file().display());
                Ok(1)
            }
        }
    }
}
