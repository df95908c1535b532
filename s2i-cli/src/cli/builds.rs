//! The command line of build configs and builds: `start-build`,
//! `cancel-build`, `logs`, `controller` and the hidden `run-build`.

use std::path::PathBuf;

use clap::Args;
use s2i_oci::transport::ImageLocation;

use super::location::parse_location;

pub(super) const START_BUILD_EXAMPLES: &str = "\
Examples:
  # Start a build and return at once; follow it later
  s2i start-build app
  s2i logs build/app-1 --follow

  # Build and stream the log; exit non-zero unless it completes
  s2i start-build app --follow

  # Build a local directory instead of the config's git source
  s2i start-build app --from-dir . --wait

  # Build a branch, with an extra variable
  s2i start-build app --commit dev --env DEBUG=1 --wait

  # Write the image reproducibly, also to an OCI layout, with its SBOM
  s2i start-build app --source-date-epoch 1700000000 --output oci:out:app --sbom app.spdx.json --wait";

pub(super) const LOGS_EXAMPLES: &str = "\
Examples:
  s2i logs build/app-1
  s2i logs build/app-1 --follow
  s2i logs bc/app          # the latest build of the config";

/// `s2i start-build`.
#[derive(Debug, Args)]
pub struct StartBuildArgs {
    /// The build config
    #[arg(value_name = "BUILDCONFIG")]
    pub name: String,
    /// Stream the build's log until it ends (and the builds it triggers); exit non-zero unless they complete
    #[arg(short = 'F', long)]
    pub follow: bool,
    /// Wait for the build (and the builds it triggers) to end; exit non-zero unless they complete
    #[arg(short, long)]
    pub wait: bool,
    /// Build this directory instead of the config's source (binary input; the git source is dropped)
    #[arg(long, value_name = "DIR", conflicts_with = "from_file")]
    pub from_dir: Option<PathBuf>,
    /// Build this one file (binary input), named as the config's binary.asFile or the file's own name
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
    /// Environment variable for the build, replacing the config's of the same name (repeatable)
    #[arg(short, long = "env", value_name = "NAME=VALUE")]
    pub env: Vec<String>,
    /// The commit (or branch or tag) of the config's git source to build
    #[arg(long, value_name = "REF", conflicts_with_all = ["from_dir", "from_file"])]
    pub commit: Option<String>,
    /// Also write the image to LOCATION (repeatable; kept with the build): oci:DIR:REF, oci-archive:FILE:REF, docker-archive:FILE:NAME:TAG (REF and NAME:TAG optional), docker://HOST/REPO:TAG or docker-daemon:NAME:TAG
    #[arg(long = "output", value_name = "LOCATION", value_parser = parse_location)]
    pub outputs: Vec<ImageLocation>,
    /// The build's epoch in seconds since 1970 (else $SOURCE_DATE_EPOCH, else a git source's commit time): s2i writes the image itself, the same for the same inputs
    #[arg(long, value_name = "SECONDS", env = "SOURCE_DATE_EPOCH", hide_env_values = true)]
    pub source_date_epoch: Option<String>,
    /// Write the build's SPDX 2.3 SBOM (JSON) to FILE when it completes, and attach it to oci: and docker:// outputs
    #[arg(long, value_name = "FILE")]
    pub sbom: Option<PathBuf>,
    /// Write the build's in-toto statement with SLSA v1 provenance to FILE when it completes, and attach it likewise
    #[arg(long, value_name = "FILE")]
    pub provenance: Option<PathBuf>,
}

/// `s2i cancel-build`.
#[derive(Debug, Args)]
pub struct CancelBuildArgs {
    /// Builds to cancel: NAME-N (or build/NAME-N), or bc/NAME for every queued or running build of a config
    #[arg(required = true, value_name = "BUILD")]
    pub builds: Vec<String>,
}

/// `s2i logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// build/NAME-N, or bc/NAME for the latest build of a config
    #[arg(value_name = "TYPE/NAME")]
    pub target: String,
    /// Keep printing the log until the build ends
    #[arg(short, long)]
    pub follow: bool,
}

/// `s2i controller`.
#[derive(Debug, Args)]
pub struct ControllerArgs {
    /// How often the event log is read, in milliseconds
    #[arg(long, value_name = "MS", default_value_t = 1000, value_parser = clap::value_parser!(u64).range(50..=60000))]
    pub interval: u64,
    /// How often each scheduled tag (`s2i import-image --scheduled`) is re-imported, in seconds
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = s2i_imagestream::operations::ImportSchedule::DEFAULT_INTERVAL.as_secs(),
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    pub import_interval: u64,
    /// Serve the BuildConfigs' webhooks on 127.0.0.1:PORT, at OpenShift's paths
    /// (/apis/build.openshift.io/v1/namespaces/NS/buildconfigs/NAME/webhooks/SECRET/TYPE);
    /// 0 picks a free port
    #[arg(long, value_name = "PORT")]
    pub webhook_port: Option<u16>,
}

/// `s2i run-build`.
#[derive(Debug, Args)]
pub struct RunBuildArgs {
    /// The build
    #[arg(value_name = "BUILD")]
    pub name: String,
}
