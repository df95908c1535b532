//! Container images written by s2i itself: plain data in, bytes out.
//!
//! The crate assembles images without any engine: layers, configs,
//! manifests, layouts and archives are functions of their inputs, so the
//! same inputs always give the same digests.

pub mod archive;
pub mod digest;
pub mod error;
pub mod image;
pub mod layer;
pub mod layout;
pub mod lockfiles;
pub mod overlay;
pub mod provenance;
pub mod sbom;
pub mod spec;
pub mod spool;
mod tarball;
pub mod transport;

pub use digest::Digest;
pub use error::{Error, Result};
