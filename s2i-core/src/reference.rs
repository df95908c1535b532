//! Image references (pull specs): the workspace's one parser for them lives in
//! `s2i-oci` (which also parses the transports of `--output`); it is
//! re-exported here so that `s2i_core::reference::ImageReference` keeps
//! working for callers of the build engine.

pub use s2i_oci::reference::*;
