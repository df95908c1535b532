//! `s2i create`: the skeleton of a new builder image project — a Dockerfile,
//! the S2I scripts, a test application and a test that builds it with s2i,
//! runs it and checks that it serves the application.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The base image of the skeleton's Dockerfile unless told otherwise (the reference's).
pub const DEFAULT_BASE_IMAGE: &str = "openshift/base-centos7";

/// One file of the skeleton: path, mode, template text.
const FILES: &[(&str, u32, &str)] = &[
    ("Dockerfile", 0o644, include_str!("skeleton/Dockerfile")),
    ("Makefile", 0o644, include_str!("skeleton/Makefile")),
    ("README.md", 0o644, include_str!("skeleton/README.md")),
    ("s2i/bin/assemble", 0o755, include_str!("skeleton/assemble")),
    ("s2i/bin/run", 0o755, include_str!("skeleton/run")),
    ("s2i/bin/save-artifacts", 0o755, include_str!("skeleton/save-artifacts")),
    ("s2i/bin/usage", 0o755, include_str!("skeleton/usage")),
    ("test/run", 0o755, include_str!("skeleton/test-run")),
    ("test/test-app/index.html", 0o644, include_str!("skeleton/index.html")),
];

/// Write the skeleton of a builder image named `image_name`, built `FROM base_image`,
/// into `destination` (created; existing files are never overwritten).
/// Returns the files written.
pub fn create(image_name: &str, base_image: &str, destination: &Path) -> Result<Vec<PathBuf>> {
    crate::reference::ImageReference::parse(image_name)
        .map_err(|source| Error::InvalidImageReference { what: "image name".into(), source })?;
    crate::reference::ImageReference::parse(base_image)
        .map_err(|source| Error::InvalidImageReference { what: "base image (--from)".into(), source })?;
    if let Some(existing) = FILES.iter().map(|(p, _, _)| destination.join(p)).find(|p| p.exists()) {
        return Err(Error::option(
            "destination",
            format!("{} already exists", existing.display()),
            "create the project in a new directory, or move the existing files away",
        ));
    }
    let mut written = Vec::new();
    for (rel, mode, template) in FILES {
        let path = destination.join(rel);
        let text = template.replace("{{IMAGE_NAME}}", image_name).replace("{{BASE_IMAGE}}", base_image);
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(path.parent().expect("files are in a directory"))?;
            std::fs::write(&path, &text)?;
            #[cfg(unix)]
            std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(*mode))?;
            Ok(())
        };
        write().map_err(|e| Error::io("write", &path, "give a writable destination directory", e))?;
        written.push(path);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_every_file_once() {
        let dir = tempfile::tempdir().unwrap();
        let files = create("acme/static-builder", "s2i-fixtures/base", &dir.path().join("p")).unwrap();
        assert_eq!(files.len(), FILES.len());
        let dockerfile = std::fs::read_to_string(dir.path().join("p/Dockerfile")).unwrap();
        assert!(dockerfile.starts_with("FROM s2i-fixtures/base\n"), "{dockerfile}");
        let test = std::fs::read_to_string(dir.path().join("p/test/run")).unwrap();
        assert!(test.contains("acme/static-builder"));
        assert!(create("acme/static-builder", "x", &dir.path().join("p")).is_err(), "no overwrite");
        assert!(create("Bad Name", "x", &dir.path().join("q")).is_err());
    }
}
