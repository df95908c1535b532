//! What a build is started with ([`crate::Builds::start`]).

use std::path::PathBuf;

use crate::types::EnvVar;

/// A request for a new build of a BuildConfig, as `oc start-build` makes it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BuildRequest {
    /// The BuildConfig's namespace.
    pub namespace: String,
    /// The BuildConfig.
    pub config: String,
    /// Extra environment of the build, replacing variables of the same name.
    pub env: Vec<EnvVar>,
    /// A commit (or ref) of the git source to build instead of the configured one.
    pub commit: Option<String>,
    /// Binary input: replaces the git source (a config with `source.binary` needs it).
    pub binary: Option<BinaryInput>,
}

impl BuildRequest {
    /// A build of `namespace/config` as configured.
    pub fn new(namespace: impl Into<String>, config: impl Into<String>) -> Self {
        Self { namespace: namespace.into(), config: config.into(), env: Vec::new(), commit: None, binary: None }
    }

    /// With one more environment variable.
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push(EnvVar { name: name.into(), value: value.into(), value_from: None });
        self
    }

    /// Building `commit` (a commit or ref of the git source).
    pub fn commit(mut self, commit: impl Into<String>) -> Self {
        self.commit = Some(commit.into());
        self
    }

    /// With binary input.
    pub fn binary(mut self, input: BinaryInput) -> Self {
        self.binary = Some(input);
        self
    }
}

/// Binary input of a build: taken (copied into the store directory) when
/// the build is started, not when it runs; `.git` is left out.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BinaryInput {
    /// A directory: its contents are the source.
    Dir(PathBuf),
    /// One file: the source holds it alone, named by the config's
    /// `source.binary.asFile`, else by its own file name.
    File(PathBuf),
}
