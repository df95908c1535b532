//! Pushing what s2i wrote: blobs (streamed from files, never held in
//! memory), an image of an [`OciLayout`] under a tag, and referrers.
//!
//! A blob goes through these steps, the cheapest first:
//!
//! 1. `HEAD /v2/<repository>/blobs/<digest>`: the repository has it — nothing
//!    is sent (a rebuilt image sends only what changed);
//! 2. `POST /v2/<repository>/blobs/uploads/?mount=<digest>&from=<other>`
//!    when another repository of the same registry may hold it (the
//!    builder's): `201` is a cross-repository mount, no data moves;
//! 3. otherwise the upload session the registry opened (`202` with a
//!    `Location`) gets the blob in one monolithic `PUT …?digest=<digest>`,
//!    its body streamed from the file with its length.
//!
//! Referrers (image-spec 1.1): an artifact manifest whose `subject` is the
//! image is put by its digest. A registry with the referrers API says so
//! with an `OCI-Subject` header and indexes it itself; for any other (such
//! as distribution 2.8) the referrers tag schema is kept: the tag
//! `<alg>-<hex>` of the subject's digest holds an OCI index listing the
//! artifacts, which s2i reads, extends and puts back.

use std::fs::File;
use std::path::PathBuf;

use super::{
    Manifest, RegistryClient, RegistryError, RegistryErrorKind, UploadStart, authorize, check_status, header,
    read_limited, session_url,
};
use crate::digest::Digest;
use crate::layout::OciLayout;
use crate::spec::{self, Descriptor, EMPTY_JSON, ImageIndex, media_type};

/// Where a blob's bytes come from.
#[derive(Debug, Clone, Copy)]
pub enum BlobSource<'a> {
    /// A file (a layout's blob), streamed.
    File(&'a std::path::Path),
    /// Small bytes (a config, an SBOM).
    Bytes(&'a [u8]),
}

/// What happened to one blob of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobOutcome {
    /// The repository had it; nothing was sent.
    Present,
    /// Mounted from this repository of the same registry; nothing was sent.
    Mounted(String),
    /// Sent.
    Uploaded,
}

/// One blob handled by a push, for progress and reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobPushed {
    /// The blob.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// What was done.
    pub outcome: BlobOutcome,
}

/// What [`RegistryClient::push_image`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePushed {
    /// The manifest's digest, as the registry stored it.
    pub digest: Digest,
    /// Each blob (config and layers), in manifest order.
    pub blobs: Vec<BlobPushed>,
}

/// Where an image goes: a repository of a registry, under a tag.
#[derive(Debug, Clone, Copy)]
pub struct PushTarget<'a> {
    /// Registry host with optional port (`docker.io` for Docker Hub).
    pub registry: &'a str,
    /// Repository path.
    pub repository: &'a str,
    /// Tag, or the manifest's digest when `None`.
    pub tag: Option<&'a str>,
    /// Allow HTTPS without verification and plain HTTP (loopback registries always are).
    pub insecure: bool,
}

impl RegistryClient {
    /// Make `descriptor`'s blob available in the target repository: present,
    /// mounted from `mount_from` (another repository of the same registry),
    /// or uploaded from `source`.
    pub fn push_blob(
        &self,
        target: &PushTarget<'_>,
        descriptor: &Descriptor,
        source: BlobSource<'_>,
        mount_from: Option<&str>,
    ) -> Result<BlobPushed, RegistryError> {
        let PushTarget { registry, repository, insecure, .. } = *target;
        let digest = descriptor.digest.to_string();
        let done = |outcome| BlobPushed { digest: descriptor.digest.clone(), size: descriptor.size, outcome };
        if self.has_blob(registry, repository, &digest, insecure)? {
            return Ok(done(BlobOutcome::Present));
        }
        let start = match mount_from.filter(|from| *from != repository) {
            Some(from) => match self.start_upload(registry, repository, Some((&digest, from)), insecure)? {
                UploadStart::Mounted => return Ok(done(BlobOutcome::Mounted(from.to_owned()))),
                // Not there: the registry opened a session instead, which the upload uses.
                UploadStart::Session(location) => {
                    (location, format!("repository:{repository}:pull,push repository:{from}:pull"))
                }
            },
            None => match self.start_upload(registry, repository, None, insecure)? {
                UploadStart::Session(location) => (location, format!("repository:{repository}:pull,push")),
                UploadStart::Mounted => unreachable!("a plain upload start is never a mount"),
            },
        };
        let (location, scope) = start;
        let path: Option<PathBuf> = match source {
            BlobSource::File(path) => Some(path.to_owned()),
            BlobSource::Bytes(_) => None,
        };
        // The same scope as the session's start, so that its authorization is reused.
        let response = self.send(registry, insecure, &scope, &|agent, base, auth| {
            let url = session_url(base, &location);
            let separator = if url.contains('?') { '&' } else { '?' };
            let request = authorize(agent.put(format!("{url}{separator}digest={digest}")), auth)
                .header("Content-Type", "application/octet-stream")
                // A large layer takes as long as it takes; the connect timeout still applies.
                .config()
                .timeout_global(None)
                .build();
            match (&path, source) {
                (Some(path), _) => request.send(File::open(path)?),
                (None, BlobSource::Bytes(bytes)) => request.send(bytes),
                (None, BlobSource::File(_)) => unreachable!("files have a path"),
            }
        })?;
        let status = response.status().as_u16();
        let stored = header(&response, "docker-content-digest");
        let body = read_limited(response, 1024 * 1024).unwrap_or_default();
        check_status(registry, status, &body, &format!("upload blob {digest} into {repository}"))?;
        if let Some(stored) = stored.filter(|s| s != &digest) {
            return Err(RegistryError::new(
                RegistryErrorKind::Other,
                registry,
                format!("the registry stored the blob {digest} as {stored}"),
            ));
        }
        Ok(done(BlobOutcome::Uploaded))
    }

    /// Push the image `manifest` of `layout` to `target`: its blobs
    /// ([`RegistryClient::push_blob`], with `mount_from` as mount sources),
    /// then the manifest. `progress` hears of each blob.
    pub fn push_image(
        &self,
        layout: &OciLayout,
        manifest: &Descriptor,
        target: &PushTarget<'_>,
        mount_from: Option<&str>,
        progress: &mut dyn FnMut(&BlobPushed),
    ) -> Result<ImagePushed, RegistryError> {
        let local = |e: crate::Error| RegistryError::new(RegistryErrorKind::Other, target.registry, e.to_string());
        let bytes = layout.read_blob(manifest).map_err(local)?;
        let document: spec::ImageManifest = spec::from_json(&bytes, "the image manifest").map_err(local)?;
        let mut blobs = Vec::new();
        for descriptor in std::iter::once(&document.config).chain(&document.layers) {
            let path = layout.blob_path(&descriptor.digest);
            let pushed = self.push_blob(target, descriptor, BlobSource::File(&path), mount_from)?;
            progress(&pushed);
            blobs.push(pushed);
        }
        let digest = self.put_document(target, &manifest.media_type, bytes, &manifest.digest)?;
        Ok(ImagePushed { digest, blobs })
    }

    /// Attach `content` to the manifest `subject` in the target repository as
    /// an artifact of `artifact_type`; returns the artifact manifest's
    /// descriptor (see the [module docs](self) for the referrers API and its
    /// fallback).
    pub fn push_referrer(
        &self,
        target: &PushTarget<'_>,
        subject: &Descriptor,
        artifact_type: &str,
        content: &[u8],
        annotations: std::collections::BTreeMap<String, String>,
    ) -> Result<Descriptor, RegistryError> {
        let (bytes, mut descriptor) =
            crate::layout::artifact_manifest(subject, artifact_type, artifact_type, content, annotations.clone());
        let digest_target = PushTarget { tag: None, ..*target };
        self.push_blob(
            &digest_target,
            &Descriptor::of(media_type::OCI_EMPTY, EMPTY_JSON),
            BlobSource::Bytes(EMPTY_JSON),
            None,
        )?;
        self.push_blob(&digest_target, &Descriptor::of(artifact_type, content), BlobSource::Bytes(content), None)?;
        let manifest =
            Manifest { digest: descriptor.digest.to_string(), media_type: media_type::OCI_MANIFEST.to_owned(), bytes };
        let put =
            self.put_manifest(target.registry, target.repository, &manifest.digest, &manifest, target.insecure)?;
        descriptor.annotations = annotations;
        if !put.subject_indexed {
            self.add_to_referrers_tag(target, &subject.digest, &descriptor)?;
        }
        Ok(descriptor)
    }

    /// The artifacts that refer to `subject` in the target repository: from
    /// the referrers API, else from the referrers tag.
    pub fn referrers(&self, target: &PushTarget<'_>, subject: &Digest) -> Result<Vec<Descriptor>, RegistryError> {
        let PushTarget { registry, repository, insecure, .. } = *target;
        let scope = format!("repository:{repository}:pull");
        let response = self.send(registry, insecure, &scope, &|agent, base, auth| {
            authorize(agent.get(format!("{base}/v2/{repository}/referrers/{subject}")), auth)
                .header("Accept", media_type::OCI_INDEX)
                .call()
        })?;
        let status = response.status().as_u16();
        let body = read_limited(response, super::MAX_MANIFEST_BYTES)
            .map_err(|e| RegistryError::new(RegistryErrorKind::Other, registry, e))?;
        // A registry without the API answers 404 (or 405) for the path.
        let index = if status == 200 && is_index(&body) {
            Some(body)
        } else {
            self.referrers_tag(target, subject)?.map(|m| m.bytes)
        };
        let Some(index) = index else { return Ok(Vec::new()) };
        let index: ImageIndex = spec::from_json(&index, "the referrers index")
            .map_err(|e| RegistryError::new(RegistryErrorKind::Other, registry, e.to_string()))?;
        Ok(index.manifests)
    }

    /// Put a document (a manifest) under the target's tag, or its digest.
    fn put_document(
        &self,
        target: &PushTarget<'_>,
        media_type: &str,
        bytes: Vec<u8>,
        digest: &Digest,
    ) -> Result<Digest, RegistryError> {
        let manifest = Manifest { digest: digest.to_string(), media_type: media_type.to_owned(), bytes };
        let reference = target.tag.map_or_else(|| digest.to_string(), str::to_owned);
        let put = self.put_manifest(target.registry, target.repository, &reference, &manifest, target.insecure)?;
        match put.digest {
            Some(stored) if stored != manifest.digest => Err(RegistryError::new(
                RegistryErrorKind::Other,
                target.registry,
                format!("the registry stored the manifest {} as {stored}", manifest.digest),
            )),
            _ => Ok(digest.clone()),
        }
    }

    /// The index under the subject's referrers tag, if there is one.
    fn referrers_tag(&self, target: &PushTarget<'_>, subject: &Digest) -> Result<Option<Manifest>, RegistryError> {
        match self.get_manifest(target.registry, target.repository, &referrers_tag(subject), target.insecure) {
            Ok(manifest) => Ok(Some(manifest)),
            Err(e) if e.kind == RegistryErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Add `artifact` to the index under the subject's referrers tag.
    fn add_to_referrers_tag(
        &self,
        target: &PushTarget<'_>,
        subject: &Digest,
        artifact: &Descriptor,
    ) -> Result<(), RegistryError> {
        let mut index = match self.referrers_tag(target, subject)? {
            Some(existing) => spec::from_json::<ImageIndex>(&existing.bytes, "the referrers index")
                .map_err(|e| RegistryError::new(RegistryErrorKind::Other, target.registry, e.to_string()))?,
            None => ImageIndex::default(),
        };
        if index.manifests.iter().any(|d| d.digest == artifact.digest) {
            return Ok(());
        }
        index.manifests.push(artifact.clone());
        let bytes = spec::to_json(&index);
        let digest = Digest::of(&bytes);
        let tag = referrers_tag(subject);
        self.put_document(&PushTarget { tag: Some(&tag), ..*target }, media_type::OCI_INDEX, bytes, &digest)?;
        Ok(())
    }
}

/// The referrers tag of a subject: `sha256-<hex>`.
pub fn referrers_tag(subject: &Digest) -> String {
    format!("{}-{}", subject.algorithm(), subject.hex())
}

fn is_index(body: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| v.get("manifests").is_some_and(|m| m.is_array()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referrers_tags_follow_the_schema() {
        let digest = Digest::of(b"x");
        assert_eq!(referrers_tag(&digest), format!("sha256-{}", digest.hex()));
        assert!(is_index(br#"{"schemaVersion":2,"manifests":[]}"#));
        assert!(!is_index(br#"{"errors":[]}"#));
    }
}
