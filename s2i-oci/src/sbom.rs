//! A software bill of materials of the result image, as an SPDX 2.3 JSON
//! document, made from plain data: the image, the builder image it was made
//! from, the source, every file of the layer s2i wrote (with SHA-1 and
//! SHA-256, as SPDX asks) and the packages the application's lock files
//! name (see [`crate::lockfiles`]).
//!
//! [`SbomCollector`] gathers the files while the layer is written (it is a
//! [`FileObserver`]); only lock files are kept in memory. The document is a
//! function of its inputs: no random identifiers (the namespace ends in a
//! hash of the document), `created` is the build's epoch when there is one.
//!
//! Relationships: the document DESCRIBES the image; the image CONTAINS the
//! builder image and each file of the layer, and is GENERATED_FROM the
//! source; the source DEPENDS_ON each package of its lock files.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::digest::Digest;
use crate::error::{Error, Result};
use crate::layer::{FileObserver, ObservedFile};
use crate::lockfiles::{self, LockedPackage, MAX_LOCK_FILE_SIZE};
use crate::reference::ImageReference;

/// Where document namespaces of this tool live.
const NAMESPACE_BASE: &str = "https://github.com/s2i-rs/s2i/spdx";

/// A regular file of the layer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerFile {
    /// Its path in the image (lossy UTF-8 for other names).
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// SHA-256.
    pub sha256: Digest,
    /// SHA-1 in hex.
    pub sha1: String,
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
        self.files.push(LayerFile { path, size: file.size, sha256: file.sha256.clone(), sha1: file.sha1.to_owned() });
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

/// Where the source came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceRef {
    /// A git repository at a commit.
    Git {
        /// The repository URL (without credentials).
        url: String,
        /// The commit id.
        commit: String,
    },
    /// A directory, by a digest of its content.
    Directory {
        /// A name for it (its base name; not a host path).
        name: String,
        /// A digest of its content (e.g. the input tar's).
        digest: Digest,
    },
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
    /// The build's epoch: the document's `created`. `None` uses the current time.
    pub epoch: Option<u64>,
    /// The tool, as SPDX creators name it (`s2i-0.1.0`).
    pub tool: &'a str,
    /// The layer's files and packages.
    pub collector: &'a SbomCollector,
}

/// The SPDX 2.3 JSON document; see the [module docs](self).
pub fn spdx_document(inputs: &SbomInputs<'_>) -> Result<Vec<u8>> {
    let created = whole_seconds(inputs.epoch)?;
    let mut packages =
        vec![image_package("SPDXRef-Image", inputs.image), image_package("SPDXRef-Builder", inputs.builder)];
    packages.push(source_package(inputs.source));
    let mut relationships = vec![
        relationship("SPDXRef-DOCUMENT", "DESCRIBES", "SPDXRef-Image"),
        relationship("SPDXRef-Image", "CONTAINS", "SPDXRef-Builder"),
        relationship("SPDXRef-Image", "GENERATED_FROM", "SPDXRef-Source"),
    ];
    for (position, (package, lock_file)) in inputs.collector.packages.values().enumerate() {
        let id = format!("SPDXRef-Package-{position}");
        let mut entry = json!({
            "SPDXID": id,
            "name": match &package.namespace {
                Some(namespace) => format!("{namespace}:{}", package.name),
                None => package.name.clone(),
            },
        });
        if let Some(version) = &package.version {
            entry["versionInfo"] = json!(version);
        }
        entry["downloadLocation"] = json!("NOASSERTION");
        entry["filesAnalyzed"] = json!(false);
        entry["sourceInfo"] = json!(format!("named by /{lock_file}"));
        entry["externalRefs"] = json!([purl_ref(&package.purl())]);
        entry["primaryPackagePurpose"] = json!("LIBRARY");
        packages.push(entry);
        relationships.push(relationship("SPDXRef-Source", "DEPENDS_ON", &id));
    }
    let mut files = Vec::new();
    for (position, file) in inputs.collector.files.iter().enumerate() {
        let id = format!("SPDXRef-File-{position}");
        files.push(json!({
            "SPDXID": id,
            "fileName": format!("./{}", file.path),
            "checksums": [
                {"algorithm": "SHA1", "checksumValue": file.sha1},
                {"algorithm": "SHA256", "checksumValue": file.sha256.hex()},
            ],
        }));
        relationships.push(relationship("SPDXRef-Image", "CONTAINS", &id));
    }

    let mut document = json!({
        "spdxVersion": "SPDX-2.3",
        "dataLicense": "CC0-1.0",
        "SPDXID": "SPDXRef-DOCUMENT",
        "name": inputs.image.name,
        "documentNamespace": "",
        "creationInfo": {"created": created, "creators": [format!("Tool: {}", inputs.tool)]},
        "packages": packages,
        "files": files,
        "relationships": relationships,
    });
    // The namespace is unique to the content: a hash of the document without it.
    let hash = Digest::of(&serde_json::to_vec(&document).expect("JSON values serialise"));
    document["documentNamespace"] =
        json!(format!("{NAMESPACE_BASE}/{}-{}", namespace_name(&inputs.image.name), &hash.hex()[..32]));
    Ok(serde_json::to_vec(&document).expect("JSON values serialise"))
}

fn image_package(id: &str, image: &ImageRef) -> Value {
    let mut package = json!({"SPDXID": id, "name": image.name});
    if let Some(digest) = &image.digest {
        package["versionInfo"] = json!(digest.to_string());
    }
    package["downloadLocation"] = json!("NOASSERTION");
    package["filesAnalyzed"] = json!(false);
    if let Some(digest) = &image.digest {
        package["checksums"] = json!([{"algorithm": "SHA256", "checksumValue": digest.hex()}]);
    }
    if let Some(purl) = oci_purl(image) {
        package["externalRefs"] = json!([purl_ref(&purl)]);
    }
    package["primaryPackagePurpose"] = json!("CONTAINER");
    package
}

fn source_package(source: &SourceRef) -> Value {
    match source {
        SourceRef::Git { url, commit } => json!({
            "SPDXID": "SPDXRef-Source",
            "name": url,
            "versionInfo": commit,
            "downloadLocation": format!("git+{url}@{commit}"),
            "filesAnalyzed": false,
            "primaryPackagePurpose": "SOURCE",
        }),
        SourceRef::Directory { name, digest } => json!({
            "SPDXID": "SPDXRef-Source",
            "name": name,
            "versionInfo": digest.to_string(),
            "downloadLocation": "NOASSERTION",
            "filesAnalyzed": false,
            "comment": "a local directory; the version is a digest of its content",
            "primaryPackagePurpose": "SOURCE",
        }),
    }
}

fn relationship(from: &str, kind: &str, to: &str) -> Value {
    json!({"spdxElementId": from, "relationshipType": kind, "relatedSpdxElement": to})
}

fn purl_ref(purl: &str) -> Value {
    json!({"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl", "referenceLocator": purl})
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

    #[test]
    fn document_lists_files_packages_and_relationships() {
        let collector = collect();
        assert_eq!(collector.problems().len(), 1, "the broken package-lock.json is reported");
        let image = ImageRef { name: "app:latest".into(), digest: Some(Digest::of(b"manifest")) };
        let builder = ImageRef { name: "quay.io/s2i/python:3.12".into(), digest: Some(Digest::of(b"builder")) };
        let source = SourceRef::Git { url: "https://example.com/app.git".into(), commit: "0123abcd".into() };
        let inputs = SbomInputs {
            image: &image,
            builder: &builder,
            source: &source,
            epoch: Some(0),
            tool: "s2i-test",
            collector: &collector,
        };
        let bytes = spdx_document(&inputs).unwrap();
        assert_eq!(bytes, spdx_document(&inputs).unwrap(), "deterministic");
        let document: Value = serde_json::from_slice(&bytes).unwrap();
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
        assert!(has("SPDXRef-Image", "CONTAINS", "SPDXRef-File-0"));
        assert!(has("SPDXRef-Source", "DEPENDS_ON", "SPDXRef-Package-0"));

        let other_source = SourceRef::Directory { name: "app".into(), digest: Digest::of(b"tree") };
        let other = SbomInputs { source: &other_source, ..inputs };
        let other: Value = serde_json::from_slice(&spdx_document(&other).unwrap()).unwrap();
        assert_ne!(other["documentNamespace"], document["documentNamespace"]);
    }
}
