#![doc = include_str!("../README.md")]
//!
//! ## The modules
//!
//! A build's result is the builder image's layers, unchanged, plus one layer
//! made from what `assemble` changed, with a config derived from the
//! builder's:
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
