//! The one place where library errors become failures of this command line.
//!
//! The libraries' help lines say what to do in general; their errors carry
//! the data (variant, kind, image, registry, network…) that this module
//! turns into what to type here: `s2i` commands and flags, and the
//! engine's own commands — `podman …` for a Podman user, `docker …` for a
//! Docker user, both when the engine is not known (it could not be reached).

use std::sync::OnceLock;

use s2i_core::reference::ImageReference;
use s2i_core::runtime::RuntimeErrorKind;

use s2i_imagestream::{Image, ImageStream};
use s2i_store::Resource;

use crate::failure::Failure;

/// The container engine a command talks to, for the commands a hint names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Engine {
    /// Docker (or an engine that speaks as Docker).
    Docker,
    /// Podman's Docker-compatible service.
    Podman,
    /// No daemon (`--engine oci`): images in s2i's own store, registries reached by s2i.
    Oci,
}

static ENGINE: OnceLock<Engine> = OnceLock::new();

/// Remember the engine this command connected to (the first one counts).
pub(crate) fn connected_to(engine: Engine) {
    let _ = ENGINE.set(engine);
}

/// `docker SUBCOMMAND` or `podman SUBCOMMAND` for `engine`; both, as
/// alternatives, when it is not known.
fn engine_command(engine: Option<Engine>, subcommand: &str) -> String {
    match engine {
        Some(Engine::Docker) => format!("`docker {subcommand}`"),
        Some(Engine::Podman) => format!("`podman {subcommand}`"),
        None | Some(Engine::Oci) => format!("`docker {subcommand}` or `podman {subcommand}`"),
    }
}

/// The registry of an image reference (`docker.io` when it names none).
fn registry_of(image: &str) -> String {
    ImageReference::parse(image).map_or_else(|_| "<registry>".to_owned(), |r| r.registry_or_default().to_owned())
}

impl From<s2i_core::Error> for Failure {
    fn from(error: s2i_core::Error) -> Self {
        let code = error.exit_code();
        match core_help(&error, ENGINE.get().copied()) {
            Some(help) => Self::with_help(error, help, code),
            None => Self::new(error, code),
        }
    }
}

/// This command line's help for a build engine's error talking to `engine`;
/// `None` where the library's help says it.
fn core_help(error: &s2i_core::Error, engine: Option<Engine>) -> Option<String> {
    use s2i_core::Error as E;
    let run = |subcommand: &str| engine_command(engine, subcommand);
    let help = match error {
        E::ImageNotFound { image, policy, runtime_image } if engine == Some(Engine::Oci) => {
            let flag = if *runtime_image { "--runtime-pull-policy" } else { "--pull-policy" };
            format!(
                "the pull policy is {policy} and s2i's image store has no {image}: use {flag} if-not-present to \
                 pull it from its registry, or give it by location (oci:DIR, oci-archive:FILE, docker-archive:FILE)"
            )
        }
        E::ImageNotFound { image, policy, runtime_image } => {
            let flag = if *runtime_image { "--runtime-pull-policy" } else { "--pull-policy" };
            format!(
                "the pull policy is {policy}: build or load {image} first ({} lists what the engine has), or use \
                     {flag} if-not-present to pull it",
                run("images")
            )
        }
        E::PullFailed { image, kind: RuntimeErrorKind::Unauthorized, .. } => {
            let login = run(&format!("login {}", registry_of(image)));
            match engine {
                Some(Engine::Oci) => format!(
                    "log in to the registry ({login}), or name a credentials file that has an entry for it with \
                     --dockercfg-path or REGISTRY_AUTH_FILE"
                ),
                Some(Engine::Podman) => format!(
                    "log in to the registry ({login}), or check the credentials in Podman's auth.json \
                         (REGISTRY_AUTH_FILE)"
                ),
                _ => format!("log in to the registry ({login}), or check the credentials in ~/.docker/config.json"),
            }
        }
        E::PullFailed { kind: RuntimeErrorKind::Unreachable, .. } => {
            "the container engine cannot be reached; start it, or point DOCKER_HOST at it".to_owned()
        }
        E::NetworkNotFound { network } => format!(
            "create it ({}), or use bridge, host, none or container:NAME",
            run(&format!("network create {network}"))
        ),
        E::NotBuiltByS2i { .. } => {
            "rebuild works on images built by s2i; build this one with `s2i build` instead".to_owned()
        }
        E::ChainedAsDockerfile => {
            "build the chained image with s2i build, or write a multi-stage Dockerfile yourself".to_owned()
        }
        E::NoTagToPush => {
            "name the image in its registry, e.g. `s2i build . builder registry.example.com/team/app:1 --push`"
                .to_owned()
        }
        E::PushFailed { image, registry, kind, .. } => push_help(engine, image, registry, *kind),
        E::Runtime { source, .. } => match source.kind {
            RuntimeErrorKind::Unreachable => start_an_engine(),
            RuntimeErrorKind::Unauthorized => format!(
                "log in to the registry ({}), or name a credentials file with --dockercfg-path or \
                     REGISTRY_AUTH_FILE",
                run("login <registry>")
            ),
            RuntimeErrorKind::NotFound => {
                format!("check the name; {} and {} list what the engine has", run("images"), run("ps -a"))
            }
            _ => format!("see the engine's message above; {} shows the engine's state", run("info")),
        },
        E::AuthFile { .. } => format!(
            "fix the file (JSON as {} {} it), remove it, or point --dockercfg-path or REGISTRY_AUTH_FILE at \
                 another one",
            run("login"),
            if engine.is_some() { "writes" } else { "write" }
        ),
        E::CredentialHelper { helper, server, .. } => format!(
            "install docker-credential-{helper} on PATH and log in again ({}), or remove it from \
                 credsStore/credHelpers of the credentials file",
            run(&format!("login {server}"))
        ),
        E::EngineStopped { .. } => {
            let how = match engine {
                Some(Engine::Podman) => "`podman system service --time=0`".to_owned(),
                Some(Engine::Docker) => "`sudo systemctl start docker` or `sudo dockerd &`".to_owned(),
                None | Some(Engine::Oci) => {
                    "`sudo systemctl start docker` or `sudo dockerd &` for Docker, `podman system service \
                             --time=0` for Podman"
                        .to_owned()
                }
            };
            format!(
                "start the engine again ({how}) and build again; the containers this build left are removed by the \
                     next s2i run"
            )
        }
        _ => return None,
    };
    Some(help)
}

/// A refused push: how to log in or reach the registry, and how to push the image the build made.
fn push_help(engine: Option<Engine>, tag: &str, registry: &str, kind: RuntimeErrorKind) -> String {
    if engine == Some(Engine::Oci) {
        let again = format!("then build again with --push (the image stays in s2i's image store as {tag})");
        return match kind {
            RuntimeErrorKind::Unauthorized => format!(
                "log in to {registry} ({}), or name a credentials file that has an entry for it with \
                 --dockercfg-path or REGISTRY_AUTH_FILE; {again}",
                engine_command(engine, &format!("login {registry}"))
            ),
            _ => format!(
                "check that the registry {registry} runs, that this machine reaches it, and that the name is one \
                 you may push to; {again}"
            ),
        };
    }
    let push = engine_command(engine, &format!("push {tag}"));
    match kind {
        RuntimeErrorKind::Unauthorized => format!(
            "log in to {registry} ({}), or name a credentials file that has an entry for it with --dockercfg-path or \
             REGISTRY_AUTH_FILE; then push the built image with {push} (or build again with --push)",
            engine_command(engine, &format!("login {registry}"))
        ),
        RuntimeErrorKind::Unreachable => format!(
            "the container engine stopped answering: start it again, then push the built image with {push} (or build \
             again with --push)"
        ),
        _ => format!(
            "check that the registry {registry} runs and that the container engine can reach it (a registry on plain \
             HTTP must be listed as insecure in the engine's configuration, except on 127.0.0.1 for Docker), and that \
             the name is one you may push to; then push the built image with {push} (or build again with --push)"
        ),
    }
}

/// How to start an engine, or reach another one.
fn start_an_engine() -> String {
    "start a container engine (`sudo dockerd &`, `systemctl start docker`, or `podman system service` for Podman), or \
     point DOCKER_HOST at a running one"
        .to_owned()
}

impl From<s2i_docker::Error> for Failure {
    fn from(error: s2i_docker::Error) -> Self {
        match error {
            // A credentials file is s2i-core's to read; its hint is worded there.
            s2i_docker::Error::Credentials(error) => (*error).into(),
            other => Self::new(other, 1),
        }
    }
}

impl From<s2i_runc::Error> for Failure {
    /// The daemonless engine's errors carry their own help (`--engine oci`).
    fn from(error: s2i_runc::Error) -> Self {
        Self::new(error, 1)
    }
}

impl From<s2i_store::Error> for Failure {
    /// The store's error, with help that names this command line's commands
    /// and flags where the library can only say what to do in general.
    fn from(error: s2i_store::Error) -> Self {
        use s2i_store::Error as E;
        let help = match &error {
            E::NoDataDirectory => "choose a directory with --store DIR or S2I_STORE=DIR".to_owned(),
            E::StoreOpen { .. } => {
                "check that the directory exists and is writable, or choose another with --store DIR or S2I_STORE=DIR"
                    .to_owned()
            }
            E::StoreTooNew { .. } => {
                "use the s2i that wrote it (or a newer one), or choose another store with --store DIR".to_owned()
            }
            E::StoreBusy { .. } => {
                "run the command again; if this persists, look for a hung s2i process (ps aux | grep s2i)".to_owned()
            }
            E::Database { .. } => "if the disk is full or read-only, fix that and retry; if the file is damaged, \
                                   `s2i store check` shows what is wrong"
                .to_owned(),
            E::InvalidName { what, help, .. } if what == "namespace" => {
                format!("{help} (--namespace or S2I_NAMESPACE)")
            }
            E::InvalidObject { kind, name, message, .. } if message.starts_with("the stored document") => {
                format!("delete it (s2i delete {} {name}) and create it again", kind.to_lowercase())
            }
            E::NotFound { kind, namespace, .. } if kind == s2i_route::route::ROUTE_KIND => {
                format!("list the routes with `s2i get routes --namespace {namespace}`")
            }
            E::NotFound { kind, namespace, name, .. } if kind == s2i_route::route::SERVICE_KIND => format!(
                "create it with `s2i service create {name} --endpoint HOST:PORT` (or --selector LABEL=VALUE), or list \
                 the services with `s2i get services --namespace {namespace}`"
            ),
            E::UnknownKind { known, .. } => {
                return Self::message(error.to_string(), format!("the kinds are: {known}"));
            }
            _ => return Self::new(error, 1),
        };
        Self::with_help(error, help, 1)
    }
}

impl From<s2i_store::codec::DocumentError> for Failure {
    fn from(error: s2i_store::codec::DocumentError) -> Self {
        Self::new(error, 1)
    }
}

impl From<s2i_imagestream::Error> for Failure {
    fn from(error: s2i_imagestream::Error) -> Self {
        use s2i_imagestream::Error as E;
        let error = match error {
            E::Store(error) => return error.into(),
            other => other,
        };
        let help = match &error {
            E::NotFound { kind, namespace, referenced: false, .. } if kind == ImageStream::KIND => {
                format!("list the streams with `s2i get imagestreams --namespace {namespace}`")
            }
            E::TagWithoutImage { stream, tag, .. } => {
                format!("tag {tag} has no imported image yet (see `s2i describe imagestream {stream}`)")
            }
            E::NotFound { kind, name, help, .. } if kind == s2i_imagestream::types::KIND_ISIMAGE => {
                let stream = name.split_once('@').map_or(name.as_str(), |(stream, _)| stream);
                format!("{help}; see `s2i describe imagestream {stream}`")
            }
            E::NotFound { kind, .. } if kind == Image::KIND => {
                "images are named by digest; list them with `s2i get images`".to_owned()
            }
            E::ImageInUse { .. } => "delete those tags first (s2i tag -d STREAM:TAG)".to_owned(),
            E::ImportFailed { .. } => format!(
                "the tag keeps its previous image and records the failure in its conditions; fix the source (name, \
                 registry, credentials with {}) and run `s2i import-image` again",
                engine_command(ENGINE.get().copied(), "login")
            ),
            E::NotImported { .. } => {
                "import into another tag, or retag it with `s2i tag --source=docker PULLSPEC STREAM:TAG`".to_owned()
            }
            E::Engine { change_kept: true, .. } => "start the container engine (e.g. `cargo xtask docker`) and run \
                                                    the command again; the store keeps the change and the engine's \
                                                    tags catch up on the next s2i command"
                .to_owned(),
            E::Engine { change_kept: false, .. } => "start the container engine (e.g. `cargo xtask docker`)".to_owned(),
            _ => return Self::new(error, 1),
        };
        Self::with_help(error, help, 1)
    }
}

impl From<s2i_route::Error> for Failure {
    fn from(error: s2i_route::Error) -> Self {
        use s2i_route::Error as E;
        let error = match error {
            E::Store(error) => return error.into(),
            other => other,
        };
        let help = match &error {
            E::ListContainers { .. } => format!(
                "check that the container engine runs ({}); start one with `cargo xtask docker`",
                engine_command(ENGINE.get().copied(), "info")
            ),
            E::HaproxyMissing { .. } => "install HAProxy (Debian: `sudo apt-get install haproxy`, or `cargo xtask \
                                         packages`), or point the router at the program"
                .to_owned(),
            _ => return Self::new(error, 1),
        };
        Self::with_help(error, help, 1)
    }
}

impl From<s2i_buildconfig::Error> for Failure {
    /// The builds' error, with help that names this command line's commands
    /// and flags where the library says what to do in general.
    fn from(error: s2i_buildconfig::Error) -> Self {
        use s2i_buildconfig::{Error as E, InputProblem};
        let error = match error {
            E::Store(error) => return error.into(),
            E::ImageStream(error) => return error.into(),
            other => other,
        };
        let help = match &error {
            E::NotFound { kind: "BuildConfig", namespace, .. } => {
                format!("list the build configs with `s2i get bc --namespace {namespace}`")
            }
            E::NotFound { namespace, .. } => format!("list the builds with `s2i get builds --namespace {namespace}`"),
            E::PhaseFinal { .. } => "start a new build with `s2i start-build`".to_owned(),
            E::BinaryInputMissing { name, .. } => {
                format!("start it with `s2i start-build {name} --from-dir DIR` (or --from-file FILE)")
            }
            E::NoGitSource { .. } => "drop --commit".to_owned(),
            E::RunElsewhere { name, .. } => format!("follow it with `s2i logs build/{name} --follow`"),
            E::NoBuilds { config, .. } => {
                return Self::message(error.to_string(), format!("start one with `s2i start-build {config}`"));
            }
            E::BinaryInput { problem, .. } => {
                let help = match problem {
                    InputProblem::Unreadable(_) => "give an existing path",
                    InputProblem::NotADirectory => "use --from-file for a single file",
                    InputProblem::NotAFile => "give --from-file a file, or use --from-dir for a directory",
                    _ => "give the path of a file",
                };
                return Self::message(error.to_string(), help.to_owned());
            }
            E::StoreFile { .. } => "check that the store directory is writable (--store DIR or S2I_STORE)".to_owned(),
            E::EngineUnreachable { .. } => {
                "start it (e.g. `cargo xtask docker`), or point DOCKER_HOST or --url at a running one".to_owned()
            }
            E::Launch(_) => "check that the s2i binary can be run".to_owned(),
            _ => return Self::new(error, 1),
        };
        Self::with_help(error, help, 1)
    }
}

/// An image stream library error of `s2i delete image`, whose image not
/// found gets its own hint.
pub(crate) fn deleting_image(error: s2i_imagestream::Error) -> Failure {
    match error {
        s2i_imagestream::Error::NotFound { ref kind, .. } if kind == Image::KIND => {
            Failure::with_help(error, "list the images with `s2i get images`".into(), 1)
        }
        other => other.into(),
    }
}

/// A command that needs the engine, which cannot be reached; `or_another`
/// adds how to point at another one.
pub(crate) fn engine_unreachable(reason: &str, or_another: bool) -> Failure {
    let help = if or_another {
        "start it (e.g. `cargo xtask docker`), or point DOCKER_HOST or --url at a running one"
    } else {
        "start it (e.g. `cargo xtask docker`)"
    };
    Failure::message(format!("the container engine cannot be reached: {reason}"), help.into())
}

#[cfg(test)]
mod tests {
    use s2i_core::PullPolicy;

    use super::*;

    #[test]
    fn registries_of_images() {
        assert_eq!(registry_of("127.0.0.1:5000/team/app:1"), "127.0.0.1:5000");
        assert_eq!(registry_of("busybox"), "docker.io");
    }

    #[test]
    fn hints_name_the_commands_of_the_engine_in_use() {
        use s2i_core::Error as E;
        let missing = E::ImageNotFound { image: "app:1".into(), policy: PullPolicy::Never, runtime_image: false };
        assert_eq!(
            core_help(&missing, Some(Engine::Docker)).unwrap(),
            "the pull policy is never: build or load app:1 first (`docker images` lists what the engine has), or use \
             --pull-policy if-not-present to pull it"
        );
        let runtime = E::ImageNotFound { image: "rt:1".into(), policy: PullPolicy::Never, runtime_image: true };
        let help = core_help(&runtime, Some(Engine::Podman)).unwrap();
        assert!(help.contains("`podman images`") && help.contains("--runtime-pull-policy if-not-present"), "{help}");

        let refused = E::PullFailed {
            image: "127.0.0.1:5000/team/app:1".into(),
            kind: RuntimeErrorKind::Unauthorized,
            policy: PullPolicy::Always,
            message: "unauthorized".into(),
        };
        let help = core_help(&refused, Some(Engine::Podman)).unwrap();
        assert!(help.starts_with("log in to the registry (`podman login 127.0.0.1:5000`)"), "{help}");
        let help = core_help(&refused, Some(Engine::Docker)).unwrap();
        assert!(help.contains("(`docker login 127.0.0.1:5000`), or check the credentials in ~/.docker/config.json"));

        // Without a daemon: s2i's image store, and s2i's own login files.
        let help = core_help(&missing, Some(Engine::Oci)).unwrap();
        assert!(help.contains("s2i's image store has no app:1") && help.contains("docker-archive:FILE"), "{help}");
        let help = core_help(&refused, Some(Engine::Oci)).unwrap();
        assert!(help.contains("`docker login 127.0.0.1:5000` or `podman login 127.0.0.1:5000`"), "{help}");
        assert!(help.contains("--dockercfg-path or REGISTRY_AUTH_FILE"), "{help}");

        let network = E::NetworkNotFound { network: "net1".into() };
        assert_eq!(
            core_help(&network, Some(Engine::Docker)).unwrap(),
            "create it (`docker network create net1`), or use bridge, host, none or container:NAME"
        );
        let rebuild = E::NotBuiltByS2i { image: "x".into(), label: "io.openshift.s2i.build.image".into() };
        assert!(core_help(&rebuild, None).unwrap().contains("`s2i build`"));

        let push = E::PushFailed {
            image: "r.example/app:1".into(),
            registry: "r.example".into(),
            image_id: "abc".into(),
            kind: RuntimeErrorKind::Unauthorized,
            message: "denied".into(),
        };
        let help = core_help(&push, None).unwrap();
        assert!(help.contains("(`docker login r.example` or `podman login r.example`)"), "{help}");
        assert!(help.contains("`docker push r.example/app:1` or `podman push r.example/app:1`"), "{help}");
        let help = core_help(&push, Some(Engine::Podman)).unwrap();
        assert!(!help.contains("docker ") && help.contains("`podman push r.example/app:1`"), "{help}");

        let stopped = E::EngineStopped { stage: "assemble".into(), message: "gone".into() };
        assert_eq!(
            core_help(&stopped, None).unwrap(),
            "start the engine again (`sudo systemctl start docker` or `sudo dockerd &` for Docker, `podman system \
             service --time=0` for Podman) and build again; the containers this build left are removed by the next \
             s2i run"
        );
        assert!(core_help(&E::Cancelled, Some(Engine::Docker)).is_none(), "the library's help stays");
    }
}
