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
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use crate::digest::Digest;
use crate::error::Error;
use crate::layout::{OciLayout, REFERENCE_HELP, validate_reference};
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

    /// Check, without writing anything, that an image can be written to
    /// this location and read back from it as written; `referrers` says
    /// whether documents go with it as OCI referrers, `base` is the
    /// directory relative paths start from. For a writer that refuses a bad
    /// output before the work that makes the image:
    ///
    /// - `oci:DIR`: DIR is an OCI image layout or an empty directory, and
    ///   writable; or it can be made (its nearest existing ancestor is a
    ///   writable directory);
    /// - `oci-archive:FILE`, `docker-archive:FILE`: FILE is not a directory,
    ///   and its directory exists and is writable (the archive is written
    ///   there as a temporary file and renamed into place);
    /// - without a `REF`, `oci:DIR` and `oci-archive:FILE` read the one
    ///   manifest `index.json` lists (skopeo refuses a layout that lists
    ///   more): no referrers, and DIR holds no named image (an unnamed one
    ///   is replaced, see [`OciLayout::write_unnamed_image`]).
    ///
    /// Registries and engines are not checked here.
    pub fn check_writable(&self, base: &Path, referrers: bool) -> Result<(), Error> {
        let refuse = |reason: String, help: String| Error::InvalidTransport { input: self.to_string(), reason, help };
        let unnamed = matches!(self, Self::Oci { reference: None, .. } | Self::OciArchive { reference: None, .. });
        if unnamed && referrers {
            return Err(refuse(
                "read without a name, a layout must list one manifest (skopeo refuses more), and the image's \
                 referrers (an SBOM, provenance) would be listed beside it"
                    .to_owned(),
                format!("name the image, e.g. {self}:latest"),
            ));
        }
        match self {
            Self::Oci { dir, reference } => {
                let dir = resolve(base, dir);
                let is_layout = check_layout_directory(&dir).map_err(|(reason, help)| refuse(reason, help))?;
                if is_layout && reference.is_none() {
                    let names = OciLayout::open(&dir)?.references()?;
                    if !names.is_empty() {
                        return Err(refuse(
                            format!(
                                "{} holds images named {}: without a name the image would be one more, and a \
                                 layout that lists more than one cannot be read without a name",
                                dir.display(),
                                names.join(", ")
                            ),
                            format!("name the image, e.g. {self}:latest, or write into a new directory"),
                        ));
                    }
                }
                Ok(())
            }
            Self::OciArchive { file, .. } | Self::DockerArchive { file, .. } => {
                check_archive_file(&resolve(base, file), self.transport())
                    .map_err(|(reason, help)| refuse(reason, help))
            }
            Self::DockerDaemon(_) | Self::Registry(_) => Ok(()),
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

/// Why a path check refused: the reason and what to do.
type Refusal = (String, String);

fn resolve(base: &Path, path: &Path) -> PathBuf {
    if path.is_absolute() { path.to_owned() } else { base.join(path) }
}

/// Whether `path` can be written to and entered, asking the system (which
/// knows of read-only mounts and ACLs) rather than reading mode bits.
fn writable(path: &Path) -> bool {
    use rustix::fs::{Access, access};
    access(path, Access::WRITE_OK | Access::EXEC_OK).is_ok()
}

/// `path` or its nearest ancestor that exists, with what it is.
fn nearest_existing(path: &Path) -> Result<(PathBuf, fs::Metadata), Refusal> {
    for candidate in path.ancestors() {
        let candidate = if candidate.as_os_str().is_empty() { Path::new(".") } else { candidate };
        match fs::metadata(candidate) {
            Ok(metadata) => return Ok((candidate.to_owned(), metadata)),
            Err(e) if matches!(e.kind(), io::ErrorKind::NotFound | io::ErrorKind::NotADirectory) => {}
            Err(e) => {
                return Err((
                    format!("cannot look at {}: {e}", candidate.display()),
                    "name a path this user can read and write".to_owned(),
                ));
            }
        }
    }
    Err((format!("no part of {} exists", path.display()), "name a path in an existing directory".to_owned()))
}

/// Check the directory of an `oci:` output; whether it is a layout already.
fn check_layout_directory(dir: &Path) -> Result<bool, Refusal> {
    let (existing, metadata) = nearest_existing(dir)?;
    let not_writable = |path: &Path| {
        (format!("{} is not writable", path.display()), "name a directory this user can write to".to_owned())
    };
    if existing != dir {
        if dir.symlink_metadata().is_ok() {
            return Err((
                format!("{} is a symbolic link to nothing", dir.display()),
                "name the directory the link should point to, or remove the link".to_owned(),
            ));
        }
        if !metadata.is_dir() {
            return Err((
                format!("{} is a file, so the directory {} cannot be made", existing.display(), dir.display()),
                "name a directory that is not inside a file".to_owned(),
            ));
        }
        return if writable(&existing) { Ok(false) } else { Err(not_writable(&existing)) };
    }
    if !metadata.is_dir() {
        return Err((
            format!("{} is a file; an OCI image layout is a directory", dir.display()),
            "name a new directory or an OCI image layout, or write one tar file with oci-archive:FILE[:REF]".to_owned(),
        ));
    }
    let is_layout = dir.join("oci-layout").is_file();
    if !is_layout {
        let empty = fs::read_dir(dir).map(|mut entries| entries.next().is_none()).unwrap_or(false);
        if !empty {
            return Err((
                format!(
                    "{} is a directory of other files, not an OCI image layout (it has no oci-layout)",
                    dir.display()
                ),
                "name a new or empty directory, or an OCI image layout".to_owned(),
            ));
        }
    }
    // Blobs are made in blobs/, filed in blobs/sha256, index.json replaced in the root.
    for path in [dir.to_owned(), dir.join("blobs"), dir.join("blobs").join("sha256")] {
        if path.exists() && !writable(&path) {
            return Err(not_writable(&path));
        }
    }
    Ok(is_layout)
}

/// Check the file of an archive output.
fn check_archive_file(file: &Path, transport: &str) -> Result<(), Refusal> {
    let names_directory = file.as_os_str().as_encoded_bytes().ends_with(b"/") || file.file_name().is_none();
    if names_directory || file.is_dir() {
        let what = if file.is_dir() { "is" } else { "names" };
        return Err((
            format!("{} {what} a directory, and {transport}: writes a file", file.display()),
            format!("name a file, e.g. {transport}:{}", file.join("image.tar").display()),
        ));
    }
    let parent = match file.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let (existing, metadata) = nearest_existing(parent)?;
    if !metadata.is_dir() {
        return Err((
            format!("{} is a file, not a directory", existing.display()),
            "name a file in an existing directory".to_owned(),
        ));
    }
    if existing != parent {
        return Err((
            format!("the directory {} does not exist", parent.display()),
            "make the directory first, or name a file in an existing directory".to_owned(),
        ));
    }
    if !writable(parent) {
        return Err((
            format!(
                "the directory {} is not writable (the archive is written there as a temporary file, then renamed)",
                parent.display()
            ),
            "name a file in a directory this user can write to".to_owned(),
        ));
    }
    Ok(())
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
    fn what_cannot_be_written_is_refused_before_anything_is_written() {
        use crate::spec::{Descriptor, media_type};
        let base = tempfile::tempdir().unwrap();
        let path = |name: &str| base.path().join(name);
        fs::write(path("file"), "x").unwrap();
        fs::create_dir_all(path("other")).unwrap();
        fs::write(path("other/index.html"), "x").unwrap();
        fs::create_dir(path("empty")).unwrap();
        let manifest = Descriptor::of(media_type::OCI_MANIFEST, b"{}");
        let named = OciLayout::create(path("named")).unwrap();
        named.add_bytes(b"{}").unwrap();
        named.set_reference(&manifest, Some("app")).unwrap();
        let unnamed = OciLayout::create(path("unnamed")).unwrap();
        unnamed.add_bytes(b"{}").unwrap();
        unnamed.set_reference(&manifest, None).unwrap();
        let check =
            |input: &str, referrers: bool| ImageLocation::parse(input).unwrap().check_writable(base.path(), referrers);

        for good in [
            "oci:new/sub:app",
            "oci:empty",
            "oci:named:other",
            "oci:unnamed",
            "oci-archive:a.tar",
            "oci-archive:file",
            "docker-archive:a.tar:app:1",
            "docker://127.0.0.1:5000/app:1",
            "docker-daemon:app:1",
        ] {
            check(good, false).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        let absolute = format!("oci:{}:app", path("abs").display());
        assert!(check(&absolute, true).is_ok(), "a named image takes referrers");
        let refused: &[(&str, bool, &str, &str)] = &[
            ("oci:file/layout:app", false, "file is a file, so the directory", "not inside a file"),
            ("oci:file", false, "is a file; an OCI image layout is a directory", "oci-archive:"),
            ("oci:other", false, "not an OCI image layout", "empty directory"),
            ("oci:named", false, "holds images named app", "oci:named:latest"),
            ("oci:new", true, "referrers", "oci:new:latest"),
            ("oci-archive:a.tar", true, "referrers", "oci-archive:a.tar:latest"),
            ("oci-archive:empty", false, "is a directory, and oci-archive: writes a file", "empty/image.tar"),
            ("docker-archive:out/", false, "names a directory", "out/image.tar"),
            ("oci-archive:missing/a.tar", false, "missing does not exist", "make the directory first"),
            ("docker-archive:file/a.tar", false, "file is a file, not a directory", "existing directory"),
        ];
        for (input, referrers, reason, help) in refused {
            let Err(Error::InvalidTransport { input: shown, reason: why, help: what }) = check(input, *referrers)
            else {
                panic!("{input} is refused")
            };
            assert_eq!(shown, *input);
            assert!(why.contains(reason), "{input}: {why}");
            assert!(what.contains(help), "{input}: {what}");
        }
        std::os::unix::fs::symlink(path("nowhere"), path("dangling")).unwrap();
        let dangling = check("oci:dangling:app", false).unwrap_err().to_string();
        assert!(dangling.contains("a symbolic link to nothing"), "{dangling}");
        assert!(!path("new").exists() && !path("missing").exists(), "checking makes nothing");
        assert_eq!(fs::read_dir(path("empty")).unwrap().count(), 0);

        // Permissions do not hold root back: only another user sees the refusal.
        if !rustix::process::geteuid().is_root() {
            use std::os::unix::fs::PermissionsExt;
            fs::create_dir(path("locked")).unwrap();
            fs::set_permissions(path("locked"), fs::Permissions::from_mode(0o555)).unwrap();
            let layout = check("oci:locked/layout:app", false).unwrap_err().to_string();
            let archive = check("oci-archive:locked/a.tar", false).unwrap_err().to_string();
            fs::set_permissions(path("locked"), fs::Permissions::from_mode(0o755)).unwrap();
            assert!(layout.contains("is not writable"), "{layout}");
            assert!(archive.contains("is not writable"), "{archive}");
        }
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
