#![doc = include_str!("../README.md")]
//!
//! ## In detail
//!
//! [`OciRuntime`] implements [`s2i_core::runtime::ContainerRuntime`]
//! without a daemon:
//!
//! - **Images** live in [`ImageStore`], an OCI layout in the user's data
//!   directory; an image ID is its config's digest.
//! - **Registries** are reached by `s2i-oci`'s registry client: a pull
//!   copies only the blobs the store lacks, a push only those the registry
//!   lacks, with the caller's credentials or those `s2i_core::auth` reads.
//! - **Layers** are unpacked once into a content-addressed cache (the
//!   user's cache directory, `layers/<diff_id>`).
//! - **Containers** are a root file system — the image's layers under an
//!   overlayfs mount (fuse-overlayfs, or a copy, where the kernel refuses)
//!   — and a runtime bundle whose `config.json` is made from the image and
//!   the create request; `runc run` (or `crun run`) runs them with their
//!   stdio piped to s2i. Archives are read and written on the root file
//!   system from the host, every path confined to it.
//! - **Commits** turn the upper directory into one normalised layer with
//!   `s2i-oci` and add the image to the store.
//! - **Without root**, a helper in a user namespace of its own does the file
//!   system and process work ([`helper`]); programs call
//!   [`helper::run_if_requested`] first thing in `main`.
//! - **`ONBUILD`** builders are built from their generated Dockerfile by
//!   this crate's own interpreter of the instructions.
//!
//! Nothing here talks to a container engine's daemon.

mod build;
mod confined;
mod containers;
mod copy;
mod dockerfile;
mod error;
mod fsops;
pub mod helper;
mod host;
mod layers;
mod lower;
mod ops;
mod options;
mod pull;
mod rootfs;
mod runtime;
mod spec;
mod store;
mod transfer;
mod users;

pub use error::{Error, Result};
pub use options::OciOptions;
pub use runtime::OciRuntime;
pub use store::{ImageStore, StoredImage, short_name};
