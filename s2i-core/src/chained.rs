//! Chained builds: the toolchain stays in the builder image, and the image
//! that ships is a slim runtime image that receives only the built artifacts.
//!
//! - In one invocation (`--runtime-image`, the reference's "extended build"):
//!   assemble runs in the builder; the paths named by `-a/--runtime-artifact`
//!   (or the runtime image's `io.openshift.s2i.assemble-input-files` label)
//!   flow from the stopped builder container into a container of the runtime
//!   image as one tar stream; its `assemble-runtime` runs; that container is
//!   committed.
//! - In two invocations (`--source-image IMAGE:/PATH[:DIR]`, like a
//!   BuildConfig's `source.images`): a path of an image is copied into the
//!   build's source tree before assemble.
//!
//! # Example
//!
//! Both modes from the library: a toolchain builder with a runtime image in
//! one build, then the same result in two builds chained through an image.
//!
//! ```no_run
//! use std::sync::Arc;
//! use s2i_core::chained::{ArtifactMapping, SourceImage};
//! use s2i_core::{BuildOptions, CancellationToken, ContainerRuntime, Engine, NoEvents};
//!
//! async fn chain(runtime: Arc<dyn ContainerRuntime>) -> Result<(), s2i_core::Error> {
//!     let engine = Engine::new(runtime, Arc::new(NoEvents));
//!     let cancel = CancellationToken::new();
//!
//!     // One invocation: the WAR built by Maven goes into a Tomcat image.
//!     let mut one = BuildOptions::new(Some("./app".into()), "builders/maven:3");
//!     one.tag = Some("app:latest".into());
//!     one.runtime_image = Some("runtimes/tomcat:10".into());
//!     one.runtime_artifacts = vec![ArtifactMapping {
//!         source: "/opt/app/target/app.war".into(),
//!         destination: "webapps".into(),
//!     }];
//!     engine.build(&one, &cancel).await?;
//!
//!     // Two invocations: build the artifact image, then copy the WAR out of it.
//!     let mut artifact = BuildOptions::new(Some("./app".into()), "builders/maven:3");
//!     artifact.tag = Some("app-artifact:latest".into());
//!     engine.build(&artifact, &cancel).await?;
//!     let mut app = BuildOptions::new(None, "builders/tomcat:10");
//!     app.tag = Some("app:latest".into());
//!     app.source_images = vec![SourceImage::parse("app-artifact:latest:/opt/app/target/app.war")?];
//!     engine.build(&app, &cancel).await?;
//!     Ok(())
//! }
//! ```

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::inject::parse_mappings;
use crate::plan::ResolvedImage;
use crate::scripts::{ResolvedScripts, clean_unix};

/// Label of a runtime image naming the paths it takes from the builder.
pub const ASSEMBLE_INPUT_FILES_LABEL: &str = "io.openshift.s2i.assemble-input-files";
/// Label of a runtime image naming the user assemble-runtime runs as.
pub const ASSEMBLE_RUNTIME_USER_LABEL: &str = "io.openshift.s2i.assemble-runtime-user";

/// A path of the builder container after assemble, and where it goes in the runtime image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArtifactMapping {
    /// Absolute path in the builder container.
    pub source: String,
    /// Directory relative to the runtime image's `WORKDIR` (`.` for the WORKDIR itself).
    pub destination: String,
}

/// Parse `-a/--runtime-artifact` values (`SRC[:DEST]`, `;`-separated).
pub fn parse_runtime_artifacts(value: &str) -> Result<Vec<ArtifactMapping>> {
    Ok(parse_mappings("--runtime-artifact", value)?
        .into_iter()
        .map(|(source, destination)| ArtifactMapping { source, destination })
        .collect())
}

/// Check mappings with the reference's rules and messages.
pub fn validate_mappings(mappings: &[ArtifactMapping]) -> Result<()> {
    for m in mappings {
        let invalid = |why: &str| {
            Error::option(
                "--runtime-artifact",
                format!("invalid runtime artifacts mapping: {:?} -> {:?}: {why}", m.source, m.destination),
                "write /absolute/path/in/builder[:relative/dir/in/runtime], e.g. -a /opt/app/app.jar:lib",
            )
        };
        if !m.source.starts_with('/') {
            return Err(invalid("source must be an absolute path"));
        }
        if m.destination.starts_with('/') {
            return Err(invalid("destination must be a relative path"));
        }
        if m.destination == ".." || m.destination.starts_with("../") {
            return Err(invalid("destination cannot start with '..'"));
        }
    }
    Ok(())
}

/// A path copied out of an image into the build's source (`--source-image`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceImage {
    /// The image.
    pub image: String,
    /// Absolute path in the image.
    pub path: String,
    /// Directory of the source tree it is copied into (`.` for the root).
    pub destination: String,
}

impl SourceImage {
    /// Parse `IMAGE:/PATH[:DESTDIR]`; the image reference ends at the first `:/`.
    pub fn parse(value: &str) -> Result<Self> {
        let invalid = |why: &str| {
            Error::option(
                "--source-image",
                format!("{value:?} {why}"),
                "write IMAGE:/PATH[:DESTDIR], e.g. app-artifact:latest:/opt/app/bin:deploy",
            )
        };
        let Some((image, rest)) = value.split_once(":/") else {
            return Err(invalid("has no :/PATH"));
        };
        if image.is_empty() {
            return Err(invalid("names no image"));
        }
        crate::reference::ImageReference::parse(image)
            .map_err(|source| Error::InvalidImageReference { what: "--source-image image".into(), source })?;
        let (path, destination) = match rest.split_once(':') {
            Some((path, dest)) => (format!("/{path}"), dest.to_owned()),
            None => (format!("/{rest}"), ".".to_owned()),
        };
        let destination = if destination.is_empty() { ".".to_owned() } else { clean_unix(&destination) };
        if destination.starts_with('/') || destination == ".." || destination.starts_with("../") {
            return Err(invalid("has a destination outside the source tree; give a relative directory"));
        }
        let path = clean_unix(&path);
        if path == "/" {
            return Err(invalid("copies the whole image; name a file or directory in it"));
        }
        Ok(Self { image: image.to_owned(), path, destination })
    }
}

/// The runtime stage of a chained build, as planned.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RuntimeStage {
    /// The runtime image.
    pub image: ResolvedImage,
    /// What is copied from the builder.
    pub artifacts: Vec<ArtifactMapping>,
    /// `assemble-runtime` (optional) and `run`, resolved against the runtime image.
    pub scripts: ResolvedScripts,
    /// User assemble-runtime runs as; the image's `USER` when `None`.
    pub user: Option<String>,
    /// The runtime image's `WORKDIR` (`/` when unset): where the artifacts go.
    pub workdir: String,
    /// Path of `assemble-runtime` in the runtime container, if there is one.
    pub assemble_runtime_path: Option<String>,
    /// `CMD` of the output image.
    pub run_command: Vec<String>,
}

/// A source image, as planned.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PlannedSourceImage {
    /// The image.
    pub image: ResolvedImage,
    /// Absolute path in it.
    pub path: String,
    /// Directory of the source tree it goes into.
    pub destination: String,
}

/// The name under which the builder stage of an incremental chained build is
/// kept (the next build takes its artifacts from it): the output's tag with `-builder` appended.
pub fn builder_stage_name(output: &crate::reference::ImageReference) -> String {
    let tag = output.tag_or_default();
    let mut stage_tag = format!("{tag}-builder");
    if stage_tag.len() > 128 {
        stage_tag = format!("{}-builder", &tag[..120]);
    }
    format!("{}:{stage_tag}", output.name())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mappings_are_validated_with_the_reference_messages() {
        let ok = parse_runtime_artifacts("/opt/app/bin:.;/opt/app/info.txt:meta").unwrap();
        assert_eq!(ok[1], ArtifactMapping { source: "/opt/app/info.txt".into(), destination: "meta".into() });
        assert!(validate_mappings(&ok).is_ok());
        let message = |v: &str| validate_mappings(&parse_runtime_artifacts(v).unwrap()).unwrap_err().to_string();
        assert!(message("relative:dst").contains("source must be an absolute path"));
        assert!(message("/a:/abs").contains("destination must be a relative path"));
        assert!(message("/a:../up").contains("destination cannot start with '..'"));
    }

    #[test]
    fn source_images_split_at_the_first_colon_slash() {
        let s = SourceImage::parse("127.0.0.1:5000/team/app-artifact:1.0:/opt/app/bin:deploy").unwrap();
        assert_eq!(s.image, "127.0.0.1:5000/team/app-artifact:1.0");
        assert_eq!(s.path, "/opt/app/bin");
        assert_eq!(s.destination, "deploy");
        let s = SourceImage::parse("artifact:/opt/app").unwrap();
        assert_eq!((s.image.as_str(), s.path.as_str(), s.destination.as_str()), ("artifact", "/opt/app", "."));
        for bad in ["artifact", ":/opt", "artifact:/", "artifact:/x:/abs", "artifact:/x:../up", "Bad:/x"] {
            assert!(SourceImage::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn builder_stage_names() {
        let r = crate::reference::ImageReference::parse("registry.local:5000/team/app").unwrap();
        assert_eq!(builder_stage_name(&r), "registry.local:5000/team/app:latest-builder");
        let r = crate::reference::ImageReference::parse("app:v2").unwrap();
        assert_eq!(builder_stage_name(&r), "app:v2-builder");
    }
}
