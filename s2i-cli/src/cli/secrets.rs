//! The command line of Secrets and ConfigMaps: `secret create generic|docker-registry`
//! and `create configmap`.

use clap::{Args, Subcommand};

use super::objects::CreatedOutputArgs;

/// After `s2i secret create generic --help`.
pub(crate) const GENERIC_EXAMPLES: &str = "\
Examples:
  # Credentials a BuildConfig's source.sourceSecret clones with
  s2i secret create generic git-creds --type kubernetes.io/basic-auth \\
    --from-literal=username=builder --from-literal=password=\"$TOKEN\"

  # An SSH key, and the host keys to trust
  s2i secret create generic git-ssh --type kubernetes.io/ssh-auth \\
    --from-file=ssh-privatekey=$HOME/.ssh/id_ed25519 --from-file=known_hosts=./known_hosts

  # Files for assemble only (source.secrets): each file of the directory is a key
  s2i secret create generic settings --from-file=./build-settings/

  # Write the Secret to a file instead of storing it (as kubectl's habit)
  s2i secret create generic git-creds --from-literal=password=\"$TOKEN\" --dry-run=client -o yaml > secret.yaml";

/// After `s2i create --help`.
pub(crate) const CREATE_EXAMPLES: &str = "\
Examples:
  # A builder image project
  s2i create my-builder ./my-builder

  # A ConfigMap whose keys become files of a build's source (source.configMaps)
  s2i create configmap app-config --from-file=app.properties --from-literal=LOG_LEVEL=debug

  # Update it from the same command line: print it, then apply it
  s2i create configmap app-config --from-file=app.properties --dry-run=client -o yaml | s2i apply -f -";

/// `s2i create OBJECT`.
#[derive(Debug, Subcommand)]
pub enum CreateObject {
    /// Create a ConfigMap from literal values and files, as `kubectl create configmap`
    #[command(name = "configmap", visible_alias = "cm")]
    ConfigMap(ConfigMapCreateArgs),
}

/// Values of a Secret or ConfigMap given on the command line.
#[derive(Debug, Args)]
pub struct DataArgs {
    /// A value, KEY=VALUE (repeatable)
    #[arg(long = "from-literal", value_name = "KEY=VALUE")]
    pub literals: Vec<String>,
    /// A file's content, under the file's name or KEY; a directory gives each of its regular files (repeatable)
    #[arg(long = "from-file", value_name = "[KEY=]PATH")]
    pub files: Vec<String>,
}

/// `s2i create configmap`.
#[derive(Debug, Args)]
pub struct ConfigMapCreateArgs {
    /// Name of the ConfigMap
    pub name: String,
    /// Its values.
    #[command(flatten)]
    pub data: DataArgs,
    /// What is printed, and --dry-run.
    #[command(flatten)]
    pub print: CreatedOutputArgs,
}

/// `s2i secret …`.
#[derive(Debug, Subcommand)]
pub enum SecretCommand {
    /// Create a Secret
    #[command(subcommand)]
    Create(SecretCreateCommand),
}

/// `s2i secret create …`.
#[derive(Debug, Subcommand)]
pub enum SecretCreateCommand {
    /// A Secret from literal values and files, as `kubectl create secret generic`
    #[command(after_help = GENERIC_EXAMPLES)]
    Generic(SecretGenericArgs),
    /// A Secret with credentials for a registry (type kubernetes.io/dockerconfigjson), as `kubectl create secret docker-registry`
    #[command(name = "docker-registry")]
    DockerRegistry(SecretDockerRegistryArgs),
}

/// `s2i secret create generic`.
#[derive(Debug, Args)]
pub struct SecretGenericArgs {
    /// Name of the Secret
    pub name: String,
    /// Its values.
    #[command(flatten)]
    pub data: DataArgs,
    /// Its type: Opaque, kubernetes.io/basic-auth, kubernetes.io/ssh-auth, … (the keys a type needs are checked)
    #[arg(long = "type", value_name = "TYPE", default_value = "Opaque")]
    pub secret_type: String,
    /// What is printed, and --dry-run.
    #[command(flatten)]
    pub print: CreatedOutputArgs,
}

/// `s2i secret create docker-registry`.
#[derive(Debug, Args)]
pub struct SecretDockerRegistryArgs {
    /// Name of the Secret
    pub name: String,
    /// The registry
    #[arg(long, value_name = "SERVER", default_value = "https://index.docker.io/v1/")]
    pub docker_server: String,
    /// The user name
    #[arg(long, value_name = "USER", required = true)]
    pub docker_username: String,
    /// The password or token
    #[arg(long, value_name = "PASSWORD", required = true)]
    pub docker_password: String,
    /// An email address
    #[arg(long, value_name = "EMAIL")]
    pub docker_email: Option<String>,
    /// What is printed, and --dry-run.
    #[command(flatten)]
    pub print: CreatedOutputArgs,
}
