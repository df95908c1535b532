//! Container images written by s2i itself: plain data in, bytes out.
//!
//! A build's result is the builder image's layers, unchanged, plus one layer
//! made from what `assemble` changed, with a config derived from the
//! builder's. This crate writes all of it without any engine, so that the
//! same inputs always give the same digests and a runtime without a daemon
//! can use it unchanged:
//!
//! - [`layer`]: the normalised layer writer (sorted entries, parent
//!   directories, times clamped to the build's epoch, numeric owners, OCI
//!   whiteouts), computing the diff ID and the gzip blob's digest in one
//!   streaming pass; [`spool`] sorts entries that arrive in walk order and
//!   rewrites any tar stream; [`overlay`] reads an overlayfs upper directory,
//!   [`changes`] a container's changes as an engine lists them;
//! - [`image`]: the result image's config and manifest (OCI or Docker schema 2);
//! - [`layout`]: OCI image layouts, with SBOM and provenance as referrers;
//!   [`archive`]: `oci-archive` and `docker-archive` files, written and read;
//! - [`transport`]: image locations as skopeo writes them (`oci:DIR:REF`, …),
//!   with [`reference`](mod@reference), the workspace's one image-reference parser;
//! - [`sbom`] (SPDX 2.3, with [`lockfiles`]) and [`provenance`] (in-toto, SLSA v1);
//! - [`spec`] and [`digest`]: the OCI documents and content digests.
//!
//! Everything is synchronous and streams through `std::io::Read`/`Write`
//! with bounded buffers; async callers run it on blocking threads. Nothing
//! here talks to an engine, and nothing talks to a registry unless the
//! `registry` feature adds [`registry`], the workspace's one OCI distribution
//! client (pushes with mounts and referrers, manifests, tags). `docker-daemon:`
//! is parsed here and written by the crates that talk to engines.
//!
//! # Example
//!
//! Write a one-layer image into an OCI layout, twice, and get the same digest:
//!
//! ```
//! use std::collections::BTreeMap;
//! use s2i_oci::image::{assemble, ConfigChanges, HistoryStep, ImageParts, ManifestFormat};
//! use s2i_oci::layer::{LayerEntry, LayerOptions, LayerWriter};
//! use s2i_oci::layout::OciLayout;
//! use s2i_oci::spec::ImageConfig;
//!
//! fn write(dir: &std::path::Path) -> s2i_oci::Result<s2i_oci::Digest> {
//!     let layout = OciLayout::create(dir)?;
//!     let epoch = 1_700_000_000; // SOURCE_DATE_EPOCH
//!     let mut writer = LayerWriter::new(layout.blob_writer()?, LayerOptions { epoch: Some(epoch), ..Default::default() });
//!     let script = b"#!/bin/sh\necho hello\n";
//!     writer.append(&LayerEntry::file("usr/bin/hello", script.len() as u64, 0o755), &mut &script[..])?;
//!     let (blob, layer) = writer.finish()?;
//!     blob.commit()?;
//!
//!     let base = ImageConfig { architecture: "amd64".into(), os: "linux".into(), ..Default::default() };
//!     let changes = ConfigChanges { cmd: Some(vec!["/usr/bin/hello".into()]), ..Default::default() };
//!     let image = assemble(&ImageParts {
//!         base_config: &base,
//!         base_layers: &[],
//!         layer: &layer,
//!         changes: &changes,
//!         history: HistoryStep { created_by: "example".into(), comment: None },
//!         epoch: Some(epoch),
//!         format: ManifestFormat::Oci,
//!         annotations: BTreeMap::new(),
//!     })?;
//!     Ok(layout.write_image(&image, Some("hello"))?.digest)
//! }
//!
//! let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
//! assert_eq!(write(a.path())?, write(b.path())?);
//! # Ok::<(), s2i_oci::Error>(())
//! ```

pub mod archive;
pub mod changes;
pub mod digest;
pub mod error;
pub mod image;
pub mod layer;
pub mod layout;
pub mod lockfiles;
pub mod overlay;
pub mod provenance;
pub mod reference;
#[cfg(feature = "registry")]
pub mod registry;
pub mod sbom;
pub mod spec;
pub mod spool;
mod tarball;
pub mod transport;

pub use digest::Digest;
pub use error::{Error, Result};
