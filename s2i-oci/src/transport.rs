//! Where an image goes (or comes from), written as the container transports
//! of skopeo, buildah and podman (containers-transports(5)):
//!
//! | form | meaning |
//! | --- | --- |
//! | `docker-daemon:NAME:TAG` (or `docker-daemon:sha256:ID` to read) | the engine's image store |
//! | `oci:DIR[:REF]` | an OCI image layout directory, the image named `REF` in it |
//! | `oci-archive:FILE[:REF]` | the same as a tar file |
//! | `docker-archive:FILE[:NAME[:TAG]]` (or `:@N` to read the N-th image) | what `docker save` writes |
//! | `docker://HOST[:PORT]/REPO[:TAG\|@DIGEST]` | a registry |
//!
//! As in skopeo, a path ends at its **first** colon: everything after it is
//! the reference (`oci:out:app:1.0` is the image `app:1.0` in `out`). A
//! directory or file whose name has a colon is therefore not expressible;
//! name it through a link without one. A `REF` is letters and digits joined
//! by `.`, `_`, `-`, `:`, `@`, `+` or `--`, with `/` between components.
//! Registry names follow the distribution reference grammar, parsed by
//! [`crate::reference`] (the workspace's one parser): lowercase repository,
//! tag of at most 128 word characters, digests; `docker.io` is the registry
//! of names without one.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::digest::Digest;
use crate::error::Error;
use crate::layout::{REFERENCE_HELP, validate_reference};
use crate::reference::ImageReference;

/// The transports this crate parses, as written before the colon.
pub const TRANSPORTS: &[&str] = &["docker", "docker-archive", "docker-daemon", "oci", "oci-archive"];

/// An image location with its transport.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageLocation {
    /// `docker-daemon:NAME:TAG`: the engine's image store.
    DockerDaemon(DaemonImage),
    /// `oci:DIR[:REF]`.
    Oci {
        /// The layout directory.
        dir: PathBuf,
        /// The image's name in the layout.
        reference: Option<String>,
    },
    /// `oci-archive:FILE[:REF]`.
    OciArchive {
        /// The tar file.
        file: PathBuf,
        /// The image's name in the archive's layout.
        reference: Option<String>,
    },
    /// `docker-archive:FILE[:NAME[:TAG]]` or `docker-archive:FILE:@N`.
    DockerArchive {
        /// The tar file.
        file: PathBuf,
        /// Which image: by name, by position, or the only one.
        image: ArchiveImage,
    },
    /// `docker://NAME`: a registry.
    Registry(ImageReference),
}

/// An image of the engine's store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonImage {
    /// By name, tagged or by digest.
    Named(ImageReference),
    /// By image ID (`sha256:…`), to read.
    Id(Digest),
}

/// Which image of a `docker-archive`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveImage {
    /// The only one (reading), or unnamed (writing).
    Only,
    /// By name; the tag defaults to `latest`.
    Named(ImageReference),
    /// The N-th of `manifest.json`, from 0 (reading only).
    Position(usize),
}

impl ImageLocation {
    /// Parse `TRANSPORT:DETAILS`; see the [module docs](self).
    pub fn parse(input: &str) -> Result<Self, Error> {
        let fail = |reason: String, help: &str| Error::InvalidTransport {
            input: input.to_owned(),
            reason,
            help: help.to_owned(),
        };
        let Some((transport, details)) = input.split_once(':') else {
            return Err(fail(
                "it names no transport".to_owned(),
                "write TRANSPORT:DETAILS, e.g. oci:./out:app, oci-archive:app.tar, docker-archive:app.tar:app:latest, docker-daemon:app:latest or docker://registry.example.com/app:latest",
            ));
        };
        match transport {
            "docker" => {
                const HELP: &str =
                    "write docker://[HOST[:PORT]/]REPOSITORY[:TAG|@DIGEST], e.g. docker://quay.io/team/app:1.0";
                let name = details
                    .strip_prefix("//")
                    .ok_or_else(|| fail("a registry location starts with docker://".to_owned(), HELP))?;
                let name = ImageReference::parse(name).map_err(|e| fail(e.reason, HELP))?;
                Ok(Self::Registry(name.or_tag("latest")))
            }
            "docker-daemon" => {
                const HELP: &str =
                    "write docker-daemon:NAME:TAG (or docker-daemon:sha256:ID to read), e.g. docker-daemon:app:latest";
                if let Ok(id) = Digest::parse(details) {
                    return Ok(Self::DockerDaemon(DaemonImage::Id(id)));
                }
                let name = ImageReference::parse(details).map_err(|e| fail(e.reason, HELP))?;
                match (&name.tag, &name.digest) {
                    (None, None) => Err(fail("the name has neither a tag nor a digest".to_owned(), HELP)),
                    (Some(_), Some(_)) => Err(fail("the name has both a tag and a digest".to_owned(), HELP)),
                    _ => Ok(Self::DockerDaemon(DaemonImage::Named(name))),
                }
            }
            "oci" | "oci-archive" => {
                let help = if transport == "oci" {
                    "write oci:DIR[:REF], e.g. oci:./out:app (the directory ends at the first colon)"
                } else {
                    "write oci-archive:FILE[:REF], e.g. oci-archive:app.tar:app (the file ends at the first colon)"
                };
                let (path, reference) = match details.split_once(':') {
                    Some((path, reference)) => (path, Some(reference)),
                    None => (details, None),
                };
                if path.is_empty() {
                    return Err(fail("the path is empty".to_owned(), help));
                }
                if let Some(reference) = reference {
                    validate_reference(reference)
                        .map_err(|reason| fail(format!("{reason} ({REFERENCE_HELP})"), help))?;
                }
                let reference = reference.map(str::to_owned);
                Ok(if transport == "oci" {
                    Self::Oci { dir: PathBuf::from(path), reference }
                } else {
                    Self::OciArchive { file: PathBuf::from(path), reference }
                })
            }
            "docker-archive" => {
                const HELP: &str = "write docker-archive:FILE[:NAME[:TAG]], e.g. docker-archive:app.tar:app:latest (the file ends at the first colon)";
                let (path, rest) = match details.split_once(':') {
                    Some((path, rest)) => (path, Some(rest)),
                    None => (details, None),
                };
                if path.is_empty() {
                    return Err(fail("the path is empty".to_owned(), HELP));
                }
                let image = match rest {
                    None => ArchiveImage::Only,
                    Some(position) if position.starts_with('@') => ArchiveImage::Position(
                        position[1..]
                            .parse()
                            .map_err(|_| fail(format!("{position:?} is not @ and an image number"), HELP))?,
                    ),
                    Some(name) => {
                        let name = ImageReference::parse(name).map_err(|e| fail(e.reason, HELP))?;
                        if name.digest.is_some() {
                            return Err(fail("a docker-archive name cannot have a digest".to_owned(), HELP));
                        }
                        ArchiveImage::Named(name.or_tag("latest"))
                    }
                };
                Ok(Self::DockerArchive { file: PathBuf::from(path), image })
            }
            other => Err(fail(
                format!("the transport {other:?} is not supported"),
                &format!("use one of {}", TRANSPORTS.iter().map(|t| format!("{t}:")).collect::<Vec<_>>().join(", ")),
            )),
        }
    }

    /// The transport's name.
    pub fn transport(&self) -> &'static str {
        match self {
            Self::DockerDaemon(_) => "docker-daemon",
            Self::Oci { .. } => "oci",
            Self::OciArchive { .. } => "oci-archive",
            Self::DockerArchive { .. } => "docker-archive",
            Self::Registry(_) => "docker",
        }
    }
}

impl FromStr for ImageLocation {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Written as its text (`oci:out:app`), read back with [`ImageLocation::parse`].
impl serde::Serialize for ImageLocation {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ImageLocation {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for ImageLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let with_reference = |f: &mut fmt::Formatter<'_>, reference: &Option<String>| match reference {
            Some(reference) => write!(f, ":{reference}"),
            None => Ok(()),
        };
        match self {
            Self::DockerDaemon(DaemonImage::Named(name)) => write!(f, "docker-daemon:{name}"),
            Self::DockerDaemon(DaemonImage::Id(id)) => write!(f, "docker-daemon:{id}"),
            Self::Oci { dir, reference } => {
                write!(f, "oci:{}", dir.display())?;
                with_reference(f, reference)
            }
            Self::OciArchive { file, reference } => {
                write!(f, "oci-archive:{}", file.display())?;
                with_reference(f, reference)
            }
            Self::DockerArchive { file, image } => {
                write!(f, "docker-archive:{}", file.display())?;
                match image {
                    ArchiveImage::Only => Ok(()),
                    ArchiveImage::Named(name) => write!(f, ":{name}"),
                    ArchiveImage::Position(n) => write!(f, ":@{n}"),
                }
            }
            Self::Registry(name) => write!(f, "docker://{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn parses_and_prints_every_transport() {
        let table: &[(&str, &str)] = &[
            ("oci:out", "oci:out"),
            ("oci:out:app", "oci:out:app"),
            ("oci:/abs/dir:app:1.0", "oci:/abs/dir:app:1.0"),
            ("oci-archive:app.tar", "oci-archive:app.tar"),
            ("oci-archive:app.tar:team/app", "oci-archive:app.tar:team/app"),
            ("docker-archive:app.tar", "docker-archive:app.tar"),
            ("docker-archive:app.tar:app", "docker-archive:app.tar:app:latest"),
            ("docker-archive:app.tar:localhost:5000/app:1", "docker-archive:app.tar:localhost:5000/app:1"),
            ("docker-archive:app.tar:@1", "docker-archive:app.tar:@1"),
            ("docker://busybox", "docker://busybox:latest"),
            ("docker://quay.io/team/app:1.0", "docker://quay.io/team/app:1.0"),
            ("docker://127.0.0.1:5000/app", "docker://127.0.0.1:5000/app:latest"),
            ("docker-daemon:app:latest", "docker-daemon:app:latest"),
        ];
        for (input, printed) in table {
            let location = ImageLocation::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(location.to_string(), *printed, "{input}");
            assert_eq!(ImageLocation::parse(printed).unwrap(), location, "{printed} round-trips");
        }
        let with_digest = format!("docker://quay.io/app@{DIGEST}");
        assert_eq!(ImageLocation::parse(&with_digest).unwrap().to_string(), with_digest);
        let id = format!("docker-daemon:{DIGEST}");
        assert!(matches!(ImageLocation::parse(&id).unwrap(), ImageLocation::DockerDaemon(DaemonImage::Id(_))));
    }

    #[test]
    fn fields_of_parsed_locations() {
        let ImageLocation::Oci { dir, reference } = ImageLocation::parse("oci:out:app:1.0").unwrap() else {
            panic!("not oci")
        };
        assert_eq!((dir, reference.as_deref()), (PathBuf::from("out"), Some("app:1.0")));
        let ImageLocation::Registry(name) = ImageLocation::parse("docker://localhost:5000/a/b:t").unwrap() else {
            panic!("not docker")
        };
        assert_eq!(name.registry.as_deref(), Some("localhost:5000"));
        assert_eq!(name.repository, "a/b");
        assert_eq!(name.tag.as_deref(), Some("t"));
        let ImageLocation::Registry(name) = ImageLocation::parse("docker://busybox").unwrap() else { panic!() };
        assert_eq!(name.registry_or_default(), "docker.io");
    }

    #[test]
    fn refuses_bad_locations_with_their_reason() {
        let table: &[(&str, &str)] = &[
            ("app:latest", "the transport \"app\" is not supported"),
            ("nothing", "names no transport"),
            ("docker:busybox", "starts with docker://"),
            ("docker://Upper/app", "lower case"),
            ("docker://app:bad!tag", "tag"),
            ("docker-daemon:app", "neither a tag nor a digest"),
            ("oci:", "the path is empty"),
            ("oci:out:bad ref", "not allowed"),
            ("oci-archive::app", "the path is empty"),
            (
                "docker-archive:f.tar:app@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
                "digest",
            ),
            ("docker-archive:f.tar:@x", "image number"),
        ];
        for (input, reason) in table {
            let err = ImageLocation::parse(input).unwrap_err();
            assert!(matches!(err, Error::InvalidTransport { .. }));
            assert!(err.to_string().contains(reason), "{input}: {err}");
        }
        let Error::InvalidTransport { help, .. } = ImageLocation::parse("ftp:x").unwrap_err() else { panic!() };
        for transport in TRANSPORTS {
            assert!(help.contains(&format!("{transport}:")), "{help}");
        }
    }
}
