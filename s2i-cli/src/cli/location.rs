//! The image locations `--output` takes, parsed for clap.

use s2i_oci::transport::ImageLocation;

/// A transport location (`oci:DIR`, `docker://…`), its error worded as one line with the fix.
pub(crate) fn parse_location(value: &str) -> Result<ImageLocation, String> {
    ImageLocation::parse(value).map_err(|e| match e {
        s2i_oci::Error::InvalidTransport { reason, help, .. } => format!("{reason} ({help})"),
        other => other.to_string(),
    })
}
