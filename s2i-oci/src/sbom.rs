//! A software bill of materials of the result image, as an SPDX 2.3 JSON
//! document, made from plain data: the image, the builder image it was made
//! from, the source, every file of the layer s2i wrote (with SHA-1 and
//! SHA-256, as SPDX asks) and the packages the application's lock files
//! name (see [`crate::lockfiles`]).
//!
//! [`SbomCollector`] gathers the files while the layer is written (it is a
//! [`FileObserver`]): a path and two digests per file, and the lock files'
//! packages. [`write_spdx_document`] streams the document from them into a
//! writer, so a layer of many files never has its document built in memory.
//! The document is a function of its inputs: no random identifiers (the
//! namespace ends in a hash of the document), `created` is the build's epoch
//! when there is one, and no path of the building machine.
//!
//! Relationships: the document DESCRIBES the image; the image CONTAINS the
//! builder image and the layer s2i wrote, and is GENERATED_FROM the source;
//! the layer CONTAINS each of its files (so it is the package whose files
//! were analysed, with their verification code); the source DEPENDS_ON each
//! package of its lock files.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, Write};

use serde::{Serialize, Serializer};
use sha1::Digest as _;

use crate::digest::{Digest, HashingWriter};
use crate::error::{Error, Result};
use crate::layer::{FileObserver, ObservedFile};
use crate::lockfiles::{self, LockedPackage, MAX_LOCK_FILE_SIZE};
use crate::reference::ImageReference;

/// Where document namespaces of this tool live.
const NAMESPACE_BASE: &str = "https://github.com/s2i-rs/s2i/spdx";

/// A regular file of the layer: all an SBOM keeps of it, as raw digests
/// (one of these per file stays in memory until the document is written).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFile {
    /// Its path in the image (lossy UTF-8 for other names).
    pub path: Box<str>,
    /// SHA-256 of its content.
    pub sha256: [u8; 32],
    /// SHA-1 of its content (SPDX requires it of every file).
    pub sha1: [u8; 20],
}

/// A lock file that could not be read; the SBOM lists no packages from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockFileProblem {
    /// The lock file's path in the image.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

/// Collects what an SBOM lists while a layer is written.
#[derive(Debug, Default)]
pub struct SbomCollector {
    files: Vec<LayerFile>,
    /// By purl: the package and the lock file that named it first.
    packages: BTreeMap<String, (LockedPackage, String)>,
    problems: Vec<LockFileProblem>,
}

impl SbomCollector {
    /// An empty collector.
    pub fn new() -> Self {
        Self::default()
    }

    /// The layer's regular files, in layer order.
    pub fn files(&self) -> &[LayerFile] {
        &self.files
    }

    /// The packages found in lock files, by purl.
    pub fn packages(&self) -> impl Iterator<Item = &LockedPackage> {
        self.packages.values().map(|(package, _)| package)
    }

    /// Lock files that could not be read (for warnings).
    pub fn problems(&self) -> &[LockFileProblem] {
        &self.problems
    }
}

impl FileObserver for SbomCollector {
    fn wants_content(&mut self, path: &[u8], size: u64) -> bool {
        if !lockfiles::is_lock_file(path) {
            return false;
        }
        if size > MAX_LOCK_FILE_SIZE {
            self.problems.push(LockFileProblem {
                path: String::from_utf8_lossy(path).into_owned(),
                reason: format!("it is {size} bytes, more than the {MAX_LOCK_FILE_SIZE} read"),
            });
            return false;
        }
        true
    }

    fn file(&mut self, file: ObservedFile<'_>) {
        let path = String::from_utf8_lossy(file.path).into_owned();
        if let Some(content) = &file.content {
            match lockfiles::parse(file.path, content) {
                Ok(packages) => {
                    for package in packages {
                        self.packages.entry(package.purl()).or_insert_with(|| (package, path.clone()));
                    }
                }
                Err(reason) => self.problems.push(LockFileProblem { path: path.clone(), reason }),
            }
        }
        let mut sha256 = [0; 32];
        hex::decode_to_slice(file.sha256.hex(), &mut sha256).expect("a digest is 64 hex digits");
        let mut sha1 = [0; 20];
        hex::decode_to_slice(file.sha1, &mut sha1).expect("the layer writer gives SHA-1 as 40 hex digits");
        self.files.push(LayerFile { path: path.into_boxed_str(), sha256, sha1 });
    }
}

/// The image an SBOM or provenance statement speaks of, or its builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Its name (`registry/repository:tag`).
    pub name: String,
    /// Its manifest digest (or, for an image only an engine has, its ID).
    pub digest: Option<Digest>,
}

/// Where the source came from, by what defines its content only: the
/// documents never name a path of the building machine, so the same
/// content gives the same documents wherever it lies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceRef {
    /// A git repository at a commit.
    Git {
        /// The repository URL (without credentials); `None` for a repository
        /// of the building machine, whose path says nothing of the content.
        url: Option<String>,
        /// The commit id.
        commit: String,
    },
    /// A directory, by a digest of its content.
    Directory {
        /// A digest of its content (e.g. the input tar's).
        digest: Digest,
    },
}

impl SourceRef {
    /// The SPDX download location (also SLSA's `uri`) of a remote repository
    /// at its commit: `git+<url>@<commit>`.
    pub(crate) fn download_location(&self) -> Option<String> {
        match self {
            SourceRef::Git { url: Some(url), commit } => Some(format!("git+{url}@{commit}")),
            _ => None,
        }
    }
}

/// The inputs of [`spdx_document`].
#[derive(Debug)]
pub struct SbomInputs<'a> {
    /// The result image.
    pub image: &'a ImageRef,
    /// The builder image.
    pub builder: &'a ImageRef,
    /// The source.
    pub source: &'a SourceRef,
    /// The diff ID of the layer s2i wrote (the one the collector saw), if known.
    pub layer_diff_id: Option<&'a Digest>,
    /// The build's epoch: the document's `created`. `None` uses the current time.
    pub epoch: Option<u64>,
    /// The tool, as SPDX creators name it (`s2i-0.1.0`).
    pub tool: &'a str,
    /// The layer's files and packages.
    pub collector: &'a SbomCollector,
}

/// The SPDX 2.3 JSON document; see the [module docs](self). A document of a
/// large layer is better streamed with [`write_spdx_document`].
pub fn spdx_document(inputs: &SbomInputs<'_>) -> Result<Vec<u8>> {
    // Sized up front: a vector grown by doubling leaves its smaller copies
    // in the heap, nearly as much again as the document.
    write_document(inputs, Vec::with_capacity)
}

/// Writes the SPDX 2.3 JSON document into `out` and gives it back; see the
/// [module docs](self). The document is serialised twice, hashed then
/// written, and never held whole.
pub fn write_spdx_document<W: Write>(inputs: &SbomInputs<'_>, out: W) -> Result<W> {
    write_document(inputs, |_| out)
}

/// Writes the document into what `out` makes of its size in bytes.
fn write_document<W: Write>(inputs: &SbomInputs<'_>, out: impl FnOnce(usize) -> W) -> Result<W> {
    let created = whole_seconds(inputs.epoch)?;
    let verification_code = verification_code(&inputs.collector.files);
    let mut document = Document { inputs, created: &created, namespace: None, verification_code: &verification_code };
    // The namespace is unique to the content: a hash of the document without it.
    let mut hashing = HashingWriter::new(io::sink());
    serde_json::to_writer(&mut hashing, &document).map_err(write_error)?;
    let (_, hash, hashed_size) = hashing.finish();
    let namespace = format!("{NAMESPACE_BASE}/{}-{}", namespace_name(&inputs.image.name), &hash.hex()[..32]);
    document.namespace = Some(&namespace);
    // The namespace needs no escaping, so the field adds exactly this.
    let size =
        usize::try_from(hashed_size).unwrap_or(usize::MAX) + r#","documentNamespace":"""#.len() + namespace.len();
    // serde_json writes in small pieces.
    let mut out = io::BufWriter::new(out(size));
    serde_json::to_writer(&mut out, &document).map_err(write_error)?;
    out.into_inner().map_err(|e| write_error(e.into_error()))
}

fn write_error(error: impl Into<io::Error>) -> Error {
    Error::Io { action: "write the SBOM".to_owned(), source: error.into() }
}

/// SPDX's package verification code of the layer: the SHA-1 of its files'
/// SHA-1s in lowercase hex, sorted and concatenated.
fn verification_code(files: &[LayerFile]) -> String {
    let mut sha1s: Vec<&[u8; 20]> = files.iter().map(|file| &file.sha1).collect();
    // Bytes sort as their lowercase hex does.
    sha1s.sort_unstable();
    let mut hash = sha1::Sha1::new();
    let mut hex = [0; 40];
    for sha1 in sha1s {
        hex::encode_to_slice(sha1, &mut hex).expect("40 hex digits for 20 bytes");
        hash.update(hex);
    }
    hex::encode(hash.finalize())
}

// The document, serialised from the inputs as it is written.

/// The document; `namespace` is left out for the hash that makes it.
struct Document<'a> {
    inputs: &'a SbomInputs<'a>,
    created: &'a str,
    namespace: Option<&'a str>,
    verification_code: &'a str,
}

impl Serialize for Document<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let inputs = self.inputs;
        let collector = inputs.collector;
        let mut document = serializer.serialize_struct("Document", 9)?;
        document.serialize_field("spdxVersion", "SPDX-2.3")?;
        document.serialize_field("dataLicense", "CC0-1.0")?;
        document.serialize_field("SPDXID", &Id::Document)?;
        document.serialize_field("name", &inputs.image.name)?;
        match self.namespace {
            Some(namespace) => document.serialize_field("documentNamespace", namespace)?,
            None => document.skip_field("documentNamespace")?,
        }
        let creators = [format!("Tool: {}", inputs.tool)];
        document.serialize_field("creationInfo", &CreationInfo { created: self.created, creators: &creators })?;
        let fixed = [
            image_package(Id::Image, inputs.image),
            image_package(Id::Builder, inputs.builder),
            layer_package(inputs.layer_diff_id, self.verification_code),
            source_package(inputs.source),
        ];
        document.serialize_field(
            "packages",
            &Seq(|| fixed.iter().map(Cow::Borrowed).chain(collector.packages.values().enumerate().map(locked_package))),
        )?;
        document.serialize_field(
            "files",
            &Seq(|| collector.files.iter().enumerate().map(|(position, file)| FileEntry { position, file })),
        )?;
        document.serialize_field(
            "relationships",
            &Seq(|| {
                let fixed = [
                    Relationship::new(Id::Document, "DESCRIBES", Id::Image),
                    Relationship::new(Id::Image, "CONTAINS", Id::Builder),
                    Relationship::new(Id::Image, "CONTAINS", Id::Layer),
                    Relationship::new(Id::Image, "GENERATED_FROM", Id::Source),
                ];
                let packages =
                    (0..collector.packages.len()).map(|n| Relationship::new(Id::Source, "DEPENDS_ON", Id::Package(n)));
                let files = (0..collector.files.len()).map(|n| Relationship::new(Id::Layer, "CONTAINS", Id::File(n)));
                fixed.into_iter().chain(packages).chain(files)
            }),
        )?;
        document.end()
    }
}

/// A JSON array of what `F` makes, made again for each serialisation.
struct Seq<F>(F);

impl<F, I> Serialize for Seq<F>
where
    F: Fn() -> I,
    I: Iterator<Item: Serialize>,
{
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_seq((self.0)())
    }
}

/// An SPDX element id.
#[derive(Debug, Clone, Copy)]
enum Id {
    Document,
    Image,
    Builder,
    Layer,
    Source,
    /// A package of a lock file, by position.
    Package(usize),
    /// A file of the layer, by position.
    File(usize),
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Id::Document => f.write_str("SPDXRef-DOCUMENT"),
            Id::Image => f.write_str("SPDXRef-Image"),
            Id::Builder => f.write_str("SPDXRef-Builder"),
            Id::Layer => f.write_str("SPDXRef-Layer"),
            Id::Source => f.write_str("SPDXRef-Source"),
            Id::Package(n) => write!(f, "SPDXRef-Package-{n}"),
            Id::File(n) => write!(f, "SPDXRef-File-{n}"),
        }
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Bytes as lowercase hex, without allocating (digests of up to 32 bytes).
struct Hex<'a>(&'a [u8]);

impl Serialize for Hex<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        let mut buffer = [0; 64];
        let hex = &mut buffer[..self.0.len() * 2];
        hex::encode_to_slice(self.0, hex).expect("twice as many hex digits as bytes");
        serializer.serialize_str(std::str::from_utf8(hex).expect("hex digits are ASCII"))
    }
}

#[derive(Serialize)]
struct CreationInfo<'a> {
    created: &'a str,
    creators: &'a [String],
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Package<'a> {
    #[serde(rename = "SPDXID")]
    id: Id,
    name: Cow<'a, str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    version_info: Option<Cow<'a, str>>,
    download_location: Cow<'a, str>,
    files_analyzed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    package_verification_code: Option<VerificationCode<'a>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    checksums: Vec<Checksum<&'a str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_info: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    comment: Option<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    external_refs: Vec<ExternalRef>,
    primary_package_purpose: &'static str,
}

impl<'a> Package<'a> {
    /// A package with no files analysed and no download location.
    fn new(id: Id, name: impl Into<Cow<'a, str>>, purpose: &'static str) -> Self {
        Package {
            id,
            name: name.into(),
            version_info: None,
            download_location: Cow::Borrowed("NOASSERTION"),
            files_analyzed: false,
            package_verification_code: None,
            checksums: Vec::new(),
            source_info: None,
            comment: None,
            external_refs: Vec::new(),
            primary_package_purpose: purpose,
        }
    }
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct VerificationCode<'a> {
    package_verification_code_value: &'a str,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct Checksum<V> {
    algorithm: &'static str,
    checksum_value: V,
}

#[derive(Clone, Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalRef {
    reference_category: &'static str,
    reference_type: &'static str,
    reference_locator: String,
}

fn purl_ref(purl: String) -> ExternalRef {
    ExternalRef { reference_category: "PACKAGE-MANAGER", reference_type: "purl", reference_locator: purl }
}

fn image_package(id: Id, image: &ImageRef) -> Package<'_> {
    let mut package = Package::new(id, image.name.as_str(), "CONTAINER");
    if let Some(digest) = &image.digest {
        package.version_info = Some(Cow::Owned(digest.to_string()));
        package.checksums.push(Checksum { algorithm: "SHA256", checksum_value: digest.hex() });
    }
    package.external_refs.extend(oci_purl(image).map(purl_ref));
    package
}

/// The layer s2i wrote, the package whose files the document lists.
fn layer_package<'a>(diff_id: Option<&'a Digest>, verification_code: &'a str) -> Package<'a> {
    let mut package = Package::new(Id::Layer, "layer", "ARCHIVE");
    package.files_analyzed = true;
    package.package_verification_code = Some(VerificationCode { package_verification_code_value: verification_code });
    if let Some(diff_id) = diff_id {
        package.version_info = Some(Cow::Owned(diff_id.to_string()));
        package.checksums.push(Checksum { algorithm: "SHA256", checksum_value: diff_id.hex() });
    }
    package.comment = Some("the layer s2i wrote from what assemble made; the version is its diff ID");
    package
}

fn source_package(source: &SourceRef) -> Package<'_> {
    match source {
        SourceRef::Git { url, commit } => {
            let mut package = Package::new(Id::Source, url.as_deref().unwrap_or("source"), "SOURCE");
            package.version_info = Some(Cow::Borrowed(commit));
            match source.download_location() {
                Some(location) => package.download_location = Cow::Owned(location),
                None => package.comment = Some("a git repository of the building machine; the version is the commit"),
            }
            package
        }
        SourceRef::Directory { digest } => {
            let mut package = Package::new(Id::Source, "source", "SOURCE");
            package.version_info = Some(Cow::Owned(digest.to_string()));
            package.comment = Some("a local directory; the version is a digest of its content");
            package
        }
    }
}

fn locked_package<'a>((position, (package, lock_file)): (usize, &'a (LockedPackage, String))) -> Cow<'a, Package<'a>> {
    let name = match &package.namespace {
        Some(namespace) => Cow::Owned(format!("{namespace}:{}", package.name)),
        None => Cow::Borrowed(package.name.as_str()),
    };
    let mut entry = Package::new(Id::Package(position), name, "LIBRARY");
    entry.version_info = package.version.as_deref().map(Cow::Borrowed);
    entry.source_info = Some(format!("named by /{lock_file}"));
    entry.external_refs.push(purl_ref(package.purl()));
    Cow::Owned(entry)
}

/// A file of the layer, as the document lists it.
struct FileEntry<'a> {
    position: usize,
    file: &'a LayerFile,
}

impl Serialize for FileEntry<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut entry = serializer.serialize_struct("File", 3)?;
        entry.serialize_field("SPDXID", &Id::File(self.position))?;
        entry.serialize_field("fileName", &DotSlash(&self.file.path))?;
        let checksums = [
            Checksum { algorithm: "SHA1", checksum_value: Hex(&self.file.sha1) },
            Checksum { algorithm: "SHA256", checksum_value: Hex(&self.file.sha256) },
        ];
        entry.serialize_field("checksums", &checksums)?;
        entry.end()
    }
}

/// A path written `./path`, as SPDX names files, without allocating.
struct DotSlash<'a>(&'a str);

impl Serialize for DotSlash<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("./{}", self.0))
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Relationship {
    spdx_element_id: Id,
    relationship_type: &'static str,
    related_spdx_element: Id,
}

impl Relationship {
    fn new(from: Id, kind: &'static str, to: Id) -> Self {
        Relationship { spdx_element_id: from, relationship_type: kind, related_spdx_element: to }
    }
}

/// `pkg:oci/<name>@sha256%3A<hex>?repository_url=<registry/repository>&tag=<tag>`.
pub(crate) fn oci_purl(image: &ImageRef) -> Option<String> {
    let name = ImageReference::parse(&image.name).ok()?;
    let last = name.repository.rsplit('/').next()?.to_ascii_lowercase();
    let mut purl = format!("pkg:oci/{last}");
    let named = name.digest.as_deref().and_then(|d| Digest::parse(d).ok());
    if let Some(digest) = image.digest.as_ref().or(named.as_ref()) {
        purl.push_str(&format!("@sha256%3A{}", digest.hex()));
    }
    let mut qualifiers = vec![format!("repository_url={}", name.name())];
    if let Some(tag) = &name.tag {
        qualifiers.push(format!("tag={tag}"));
    }
    Some(format!("{purl}?{}", qualifiers.join("&")))
}

/// The part of a namespace URI from an image name: letters, digits, `.`, `-`.
fn namespace_name(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '-' { c } else { '-' }).collect()
}

/// RFC 3339 in whole seconds (SPDX has no fractions): the epoch, or now.
pub(crate) fn whole_seconds(epoch: Option<u64>) -> Result<String> {
    let seconds = match epoch {
        Some(epoch) => i64::try_from(epoch).ok(),
        None => Some(jiff::Timestamp::now().as_second()),
    };
    seconds.and_then(|s| jiff::Timestamp::from_second(s).ok()).map(|t| t.to_string()).ok_or_else(|| {
        Error::InvalidImage {
            reason: format!("the epoch {epoch:?} is not a time"),
            help: "give SOURCE_DATE_EPOCH as seconds since 1970-01-01".to_owned(),
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::layer::{Compression, LayerEntry, LayerOptions, LayerWriter};

    fn collect() -> SbomCollector {
        let mut collector = SbomCollector::new();
        let mut writer =
            LayerWriter::new(Vec::new(), LayerOptions { compression: Compression::None, ..Default::default() })
                .with_observer(&mut collector);
        let requirements = b"flask==2.3.2\n";
        writer.append(&LayerEntry::dir("app", 0o755), &mut std::io::empty()).unwrap();
        writer.append(&LayerEntry::file("app/main.py", 9, 0o644), &mut &b"print(1)\n"[..]).unwrap();
        writer.append(&LayerEntry::file("app/package-lock.json", 5, 0o644), &mut &b"{bad}"[..]).unwrap();
        writer.append(&LayerEntry::file("app/requirements.txt", 13, 0o644), &mut &requirements[..]).unwrap();
        writer.finish().unwrap();
        collector
    }

    fn document(source: &SourceRef, collector: &SbomCollector) -> Value {
        let image = ImageRef { name: "app:latest".into(), digest: Some(Digest::of(b"manifest")) };
        let builder = ImageRef { name: "quay.io/s2i/python:3.12".into(), digest: Some(Digest::of(b"builder")) };
        let diff_id = Digest::of(b"layer");
        let inputs = SbomInputs {
            image: &image,
            builder: &builder,
            source,
            layer_diff_id: Some(&diff_id),
            epoch: Some(0),
            tool: "s2i-test",
            collector,
        };
        let bytes = spdx_document(&inputs).unwrap();
        assert_eq!(bytes, spdx_document(&inputs).unwrap(), "deterministic");
        serde_json::from_slice(&bytes).unwrap()
    }

    fn package<'a>(document: &'a Value, id: &str) -> &'a Value {
        document["packages"].as_array().unwrap().iter().find(|p| p["SPDXID"] == id).unwrap()
    }

    #[test]
    fn document_lists_files_packages_and_relationships() {
        let collector = collect();
        assert_eq!(collector.problems().len(), 1, "the broken package-lock.json is reported");
        let source = SourceRef::Git { url: Some("https://example.com/app.git".into()), commit: "0123abcd".into() };
        let document = document(&source, &collector);
        assert_eq!(document["spdxVersion"], "SPDX-2.3");
        assert_eq!(document["creationInfo"]["created"], "1970-01-01T00:00:00Z");
        assert!(
            document["documentNamespace"]
                .as_str()
                .unwrap()
                .starts_with("https://github.com/s2i-rs/s2i/spdx/app-latest-")
        );
        let files = document["files"].as_array().unwrap();
        assert_eq!(files.len(), 3);
        assert_eq!(files[0]["fileName"], "./app/main.py");
        assert_eq!(files[0]["checksums"][0]["checksumValue"], sha1_hex(b"print(1)\n"));
        assert_eq!(files[0]["checksums"][1]["checksumValue"], Digest::of(b"print(1)\n").hex());
        let purls: Vec<&str> = document["packages"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["externalRefs"][0]["referenceLocator"].as_str())
            .collect();
        assert!(purls.contains(&"pkg:pypi/flask@2.3.2"), "{purls:?}");
        assert!(
            purls.iter().any(|p| p.starts_with("pkg:oci/python@sha256%3A")
                && p.ends_with("?repository_url=quay.io/s2i/python&tag=3.12")),
            "{purls:?}"
        );
        let relationships = document["relationships"].as_array().unwrap();
        let has = |from: &str, kind: &str, to: &str| {
            relationships
                .iter()
                .any(|r| r["spdxElementId"] == from && r["relationshipType"] == kind && r["relatedSpdxElement"] == to)
        };
        assert!(has("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image"));
        assert!(has("SPDXRef-Image", "CONTAINS", "SPDXRef-Layer"));
        assert!(has("SPDXRef-Layer", "CONTAINS", "SPDXRef-File-0"));
        assert!(has("SPDXRef-Source", "DEPENDS_ON", "SPDXRef-Package-0"));
        let source = package(&document, "SPDXRef-Source");
        assert_eq!(source["name"], "https://example.com/app.git");
        assert_eq!(source["downloadLocation"], "git+https://example.com/app.git@0123abcd");

        let other = SourceRef::Directory { digest: Digest::of(b"tree") };
        let other = self::document(&other, &collector);
        assert_ne!(other["documentNamespace"], document["documentNamespace"]);
    }

    fn sha1_hex(bytes: &[u8]) -> String {
        hex::encode(sha1::Sha1::digest(bytes))
    }

    /// Files are in a package whose files were analysed, by SPDX's rules:
    /// only a package with `filesAnalyzed` may contain files, and it has the
    /// verification code of their SHA-1s.
    #[test]
    fn the_layer_holds_the_files_with_their_verification_code() {
        let collector = collect();
        let document = document(&SourceRef::Directory { digest: Digest::of(b"tree") }, &collector);
        for package in document["packages"].as_array().unwrap() {
            let contains_files = document["relationships"].as_array().unwrap().iter().any(|r| {
                r["spdxElementId"] == package["SPDXID"]
                    && r["relationshipType"] == "CONTAINS"
                    && r["relatedSpdxElement"].as_str().unwrap().starts_with("SPDXRef-File-")
            });
            assert_eq!(contains_files, package["filesAnalyzed"] == true, "{package}");
        }
        let layer = package(&document, "SPDXRef-Layer");
        let mut sha1s: Vec<String> =
            [&b"print(1)\n"[..], b"{bad}", b"flask==2.3.2\n"].iter().map(|content| sha1_hex(content)).collect();
        sha1s.sort();
        assert_eq!(
            layer["packageVerificationCode"]["packageVerificationCodeValue"],
            sha1_hex(sha1s.concat().as_bytes())
        );
        assert_eq!(layer["checksums"][0]["checksumValue"], Digest::of(b"layer").hex());
    }

    /// A source of the building machine is named by its content or commit only.
    #[test]
    fn local_sources_name_no_path_and_download_from_nowhere() {
        let collector = collect();
        for source in [
            SourceRef::Git { url: None, commit: "0123abcd".into() },
            SourceRef::Directory { digest: Digest::of(b"tree") },
        ] {
            let document = document(&source, &collector);
            let package = package(&document, "SPDXRef-Source");
            assert_eq!(package["name"], "source");
            assert_eq!(package["downloadLocation"], "NOASSERTION");
        }
    }

    #[test]
    fn written_and_returned_documents_are_the_same() {
        let collector = collect();
        let image = ImageRef { name: "app".into(), digest: None };
        let source = SourceRef::Directory { digest: Digest::of(b"tree") };
        let inputs = SbomInputs {
            image: &image,
            builder: &image,
            source: &source,
            layer_diff_id: None,
            epoch: Some(0),
            tool: "s2i-test",
            collector: &collector,
        };
        let written = write_spdx_document(&inputs, Vec::new()).unwrap();
        let returned = spdx_document(&inputs).unwrap();
        assert_eq!(written, returned);
        assert_eq!(returned.len(), returned.capacity(), "sized exactly, up front");
        let document: Value = serde_json::from_slice(&written).unwrap();
        assert!(package(&document, "SPDXRef-Layer").get("checksums").is_none(), "no diff ID, no checksum");
    }
}
