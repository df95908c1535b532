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
//! Registry names follow the distribution reference grammar: lowercase
//! repository, tag of at most 128 word characters, `sha256:` digests;
//! `docker.io` is the registry of names without one.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::digest::Digest;
use crate::error::Error;
use crate::layout::{REFERENCE_HELP, validate_reference};

/// The transports this crate parses, as written before the colon.
pub const TRANSPORTS: &[&str] = &["docker", "docker-archive", "docker-daemon", "oci", "oci-archive"];

/// The registry of names that have none.
pub const DEFAULT_REGISTRY: &str = "docker.io";

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
    Registry(ImageName),
}

/// An image of the engine's store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DaemonImage {
    /// By name, tagged or by digest.
    Named(ImageName),
    /// By image ID (`sha256:…`), to read.
    Id(Digest),
}

/// Which image of a `docker-archive`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ArchiveImage {
    /// The only one (reading), or unnamed (writing).
    Only,
    /// By name; the tag defaults to `latest`.
    Named(ImageName),
    /// The N-th of `manifest.json`, from 0 (reading only).
    Position(usize),
}

/// A registry image name: `[registry/]repository[:tag][@digest]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageName {
    /// Registry host with optional port, as written; `None` means [`DEFAULT_REGISTRY`].
    pub registry: Option<String>,
    /// Repository path, as written (`busybox`, `team/app`).
    pub repository: String,
    /// Tag.
    pub tag: Option<String>,
    /// Digest.
    pub digest: Option<Digest>,
}

impl ImageName {
    /// Parse a name as the distribution reference grammar has it.
    pub fn parse(input: &str) -> Result<Self, String> {
        if input.is_empty() {
            return Err("the image name is empty".to_owned());
        }
        let (rest, digest) = match input.split_once('@') {
            Some((rest, digest)) => (rest, Some(Digest::parse(digest).map_err(|e| e.to_string())?)),
            None => (input, None),
        };
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(colon) => (&rest[..last_slash + colon], Some(&rest[last_slash + colon + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            let valid = !tag.is_empty()
                && tag.len() <= 128
                && tag.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
                && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
            if !valid {
                return Err(format!("the tag {tag:?} is not valid (up to 128 letters, digits, `_`, `.`, `-`)"));
            }
        }
        if name.len() > 255 {
            return Err("the name is longer than 255 characters".to_owned());
        }
        let mut components: Vec<&str> = name.split('/').collect();
        let registry = match components.first() {
            Some(first) if components.len() > 1 && (first.contains(['.', ':']) || *first == "localhost") => {
                let host = components.remove(0);
                validate_host(host)?;
                Some(host.to_owned())
            }
            _ => None,
        };
        for component in &components {
            validate_component(component)?;
        }
        Ok(Self { registry, repository: components.join("/"), tag: tag.map(str::to_owned), digest })
    }

    /// The registry host, [`DEFAULT_REGISTRY`] when none is written.
    pub fn registry_host(&self) -> &str {
        self.registry.as_deref().unwrap_or(DEFAULT_REGISTRY)
    }

    /// The name without tag or digest, as written (`registry/repository`).
    pub fn name(&self) -> String {
        match &self.registry {
            Some(registry) => format!("{registry}/{}", self.repository),
            None => self.repository.clone(),
        }
    }

    /// The same name with `tag` as tag when it has neither tag nor digest.
    pub fn or_tag(mut self, tag: &str) -> Self {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(tag.to_owned());
        }
        self
    }
}

impl fmt::Display for ImageName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

fn validate_host(host: &str) -> Result<(), String> {
    let (name, port) = match host.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (host, None),
    };
    if let Some(port) = port
        && port.parse::<u16>().is_err()
    {
        return Err(format!("the registry port {port:?} is not a number"));
    }
    let valid_label = |label: &str| {
        !label.is_empty()
            && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    if name.split('.').all(valid_label) { Ok(()) } else { Err(format!("the registry {host:?} is not a host name")) }
}

fn validate_component(component: &str) -> Result<(), String> {
    let bytes = component.as_bytes();
    let bad = || {
        format!(
            "the repository component {component:?} must be lowercase letters and digits, separated by `.`, `_`, `__` or dashes"
        )
    };
    if bytes.is_empty() || !bytes[0].is_ascii_alphanumeric() || !bytes[bytes.len() - 1].is_ascii_alphanumeric() {
        return Err(bad());
    }
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b.is_ascii_lowercase() || b.is_ascii_digit() {
            i += 1;
            continue;
        }
        let separator_len = match b {
            b'.' => 1,
            b'_' if bytes.get(i + 1) == Some(&b'_') => 2,
            b'_' => 1,
            b'-' => bytes[i..].iter().take_while(|&&c| c == b'-').count(),
            _ => return Err(bad()),
        };
        i += separator_len;
        if !bytes.get(i).is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
            return Err(bad());
        }
    }
    Ok(())
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
                let name = ImageName::parse(name).map_err(|reason| fail(reason, HELP))?;
                Ok(Self::Registry(name.or_tag("latest")))
            }
            "docker-daemon" => {
                const HELP: &str =
                    "write docker-daemon:NAME:TAG (or docker-daemon:sha256:ID to read), e.g. docker-daemon:app:latest";
                if let Ok(id) = Digest::parse(details) {
                    return Ok(Self::DockerDaemon(DaemonImage::Id(id)));
                }
                let name = ImageName::parse(details).map_err(|reason| fail(reason, HELP))?;
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
                        let name = ImageName::parse(name).map_err(|reason| fail(reason, HELP))?;
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
        assert_eq!(name.registry_host(), "docker.io");
    }

    #[test]
    fn refuses_bad_locations_with_their_reason() {
        let table: &[(&str, &str)] = &[
            ("app:latest", "the transport \"app\" is not supported"),
            ("nothing", "names no transport"),
            ("docker:busybox", "starts with docker://"),
            ("docker://Upper/app", "lowercase"),
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

    #[test]
    fn image_name_grammar() {
        for good in ["a", "a/b", "x/a-b__c.d/e", "my.registry:443/x/y", "localhost/x"] {
            assert!(ImageName::parse(good).is_ok(), "{good}");
        }
        for bad in ["A", "a/", "-a", "a..b", "a___b", "bad host!/x", "host:port/x"] {
            assert!(ImageName::parse(bad).is_err(), "{bad}");
        }
    }
}
