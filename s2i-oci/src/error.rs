//! The crate's error type: every variant has a stable diagnostic code
//! (`s2i_oci::…`) and a help line that says what to do.

use std::io;
use std::path::PathBuf;

use miette::Diagnostic;

/// Something this crate could not read, write or accept.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file or stream failed.
    #[error("cannot {action}: {source}")]
    #[diagnostic(code(s2i_oci::io), help("check that the path exists, is writable and that the disk has room"))]
    Io {
        /// What was being done (`write the blob into /out/layout`, …).
        action: String,
        /// The system's error.
        #[source]
        source: io::Error,
    },

    /// A digest is not `sha256:` and 64 lowercase hex digits.
    #[error("invalid digest {input:?}: {reason}")]
    #[diagnostic(code(s2i_oci::invalid_digest), help("write a digest as sha256:<64 lowercase hex digits>"))]
    InvalidDigest {
        /// The text.
        input: String,
        /// What is wrong.
        reason: String,
    },

    /// A JSON document does not parse as what it should be.
    #[error("cannot read {what}: {source}")]
    #[diagnostic(
        code(s2i_oci::invalid_json),
        help("the document is not valid OCI/Docker image JSON; recreate the image or layout it came from")
    )]
    InvalidJson {
        /// Which document.
        what: String,
        /// The parse error.
        #[source]
        source: serde_json::Error,
    },

    /// A layer entry cannot be written as given.
    #[error("the layer entry {path:?} is invalid: {reason}")]
    #[diagnostic(code(s2i_oci::invalid_entry), help("{help}"))]
    InvalidEntry {
        /// The entry's path (lossy UTF-8).
        path: String,
        /// What is wrong.
        reason: String,
        /// What to do.
        help: String,
    },

    /// Layer entries were handed over out of order.
    #[error("the layer entry {path:?} comes after {previous:?}, but must come before it")]
    #[diagnostic(
        code(s2i_oci::unsorted_entries),
        help(
            "hand entries to LayerWriter in layer order (see layer::entry_order), or collect them in a LayerSpooler, which sorts"
        )
    )]
    UnsortedEntries {
        /// The entry written before (lossy UTF-8).
        previous: String,
        /// The entry out of order (lossy UTF-8).
        path: String,
    },

    /// A tar stream could not be read.
    #[error("cannot read the tar stream {what}: {reason}")]
    #[diagnostic(code(s2i_oci::invalid_tar), help("the stream is not a valid tar archive, or was cut short"))]
    InvalidTar {
        /// Which stream.
        what: String,
        /// What is wrong.
        reason: String,
    },

    /// A directory is not a valid OCI image layout.
    #[error("{path} is not a valid OCI image layout: {reason}")]
    #[diagnostic(code(s2i_oci::invalid_layout), help("{help}"))]
    InvalidLayout {
        /// The layout's directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
        /// What to do.
        help: String,
    },

    /// No manifest of a layout or archive has the requested name.
    #[error("{location} has no image named {reference:?}{}", available_list(available))]
    #[diagnostic(
        code(s2i_oci::reference_not_found),
        help("name one of the images it holds, or none when it holds exactly one")
    )]
    ReferenceNotFound {
        /// The layout or archive.
        location: String,
        /// The name asked for (empty: none given).
        reference: String,
        /// The names it holds.
        available: Vec<String>,
    },

    /// A blob the documents name is not there.
    #[error("{location} has no blob {digest}")]
    #[diagnostic(
        code(s2i_oci::blob_not_found),
        help("the layout or archive is incomplete; write the image into it again")
    )]
    BlobNotFound {
        /// The layout or archive.
        location: String,
        /// The missing blob.
        digest: String,
    },

    /// An archive (`oci-archive:`, `docker-archive:`) is not what it should be.
    #[error("{path} is not a valid {format}: {reason}")]
    #[diagnostic(code(s2i_oci::invalid_archive), help("{help}"))]
    InvalidArchive {
        /// The archive.
        path: PathBuf,
        /// `docker-archive` or `oci-archive`.
        format: String,
        /// What is wrong.
        reason: String,
        /// What to do.
        help: String,
    },

    /// An image cannot be assembled from the given parts.
    #[error("cannot assemble the image: {reason}")]
    #[diagnostic(code(s2i_oci::invalid_image), help("{help}"))]
    InvalidImage {
        /// What is wrong.
        reason: String,
        /// What to do.
        help: String,
    },

    /// A transport reference (`oci:DIR:REF`, `docker://…`) does not parse.
    #[error("invalid image location {input:?}: {reason}")]
    #[diagnostic(code(s2i_oci::invalid_transport), help("{help}"))]
    InvalidTransport {
        /// What the user wrote.
        input: String,
        /// What is wrong.
        reason: String,
        /// The expected form.
        help: String,
    },

    /// An overlayfs upper directory uses a feature that cannot become a layer.
    #[error("cannot turn the overlay upper directory entry {path} into a layer entry: {reason}")]
    #[diagnostic(code(s2i_oci::unsupported_overlay), help("{help}"))]
    UnsupportedOverlay {
        /// The entry on the host.
        path: PathBuf,
        /// What it uses.
        reason: String,
        /// What to do.
        help: String,
    },
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An [`Error::Io`] for `action`.
    pub(crate) fn io(action: impl Into<String>) -> impl FnOnce(io::Error) -> Error {
        let action = action.into();
        move |source| Error::Io { action, source }
    }
}

fn available_list(available: &[String]) -> String {
    if available.is_empty() { String::new() } else { format!(" (it holds {})", available.join(", ")) }
}
