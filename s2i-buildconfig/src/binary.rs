//! Binary input ([`crate::BinaryInput`]; `s2i start-build --from-dir DIR` / `--from-file FILE`):
//! like `oc start-build` uploading it, the input is taken when the build is
//! started, not when it runs — a snapshot is copied into the store directory
//! ([`crate::logs::input_path`]) and removed with the build. `.git` is left
//! out, as `oc` leaves it out.

use std::path::Path;

use crate::error::{Error, InputProblem, Result};

fn io_error(action: &'static str, path: &Path, e: std::io::Error) -> Error {
    Error::Snapshot { action, path: path.to_owned(), source: e }
}

/// Copy the directory `from` into `to` (created); symlinks stay symlinks.
pub(crate) fn snapshot_dir(from: &Path, to: &Path) -> Result<()> {
    let meta = std::fs::metadata(from).map_err(|e| io_error("read", from, e))?;
    if !meta.is_dir() {
        return Err(Error::BinaryInput { path: from.to_owned(), problem: InputProblem::NotADirectory });
    }
    std::fs::create_dir_all(to).map_err(|e| io_error("create", to, e))?;
    copy_tree(from, to)
}

fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(from)
        .map_err(|e| io_error("read", from, e))?
        .collect::<std::io::Result<_>>()
        .map_err(|e| io_error("read", from, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name();
        if name == ".git" {
            continue;
        }
        let source = entry.path();
        let target = to.join(&name);
        let kind = entry.file_type().map_err(|e| io_error("read", &source, e))?;
        if kind.is_symlink() {
            let link = std::fs::read_link(&source).map_err(|e| io_error("read", &source, e))?;
            std::os::unix::fs::symlink(&link, &target).map_err(|e| io_error("create", &target, e))?;
        } else if kind.is_dir() {
            std::fs::create_dir(&target).map_err(|e| io_error("create", &target, e))?;
            let mode = std::fs::metadata(&source).map_err(|e| io_error("read", &source, e))?.permissions();
            copy_tree(&source, &target)?;
            std::fs::set_permissions(&target, mode).map_err(|e| io_error("set the mode of", &target, e))?;
        } else {
            std::fs::copy(&source, &target).map_err(|e| io_error("copy", &source, e))?;
        }
    }
    Ok(())
}

/// Copy the file `from` into the directory `to` (created) as `name`.
pub(crate) fn snapshot_file(from: &Path, to: &Path, name: &str) -> Result<()> {
    let meta = std::fs::metadata(from).map_err(|e| io_error("read", from, e))?;
    if !meta.is_file() {
        return Err(Error::BinaryInput { path: from.to_owned(), problem: InputProblem::NotAFile });
    }
    std::fs::create_dir_all(to).map_err(|e| io_error("create", to, e))?;
    let target = to.join(name);
    std::fs::copy(from, &target).map_err(|e| io_error("copy", from, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_directory_is_copied_without_git() {
        let from = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(from.path().join(".git/objects")).unwrap();
        std::fs::create_dir_all(from.path().join("src/bin")).unwrap();
        std::fs::write(from.path().join("src/bin/run.sh"), "echo hi\n").unwrap();
        std::fs::set_permissions(from.path().join("src/bin/run.sh"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::os::unix::fs::symlink("bin/run.sh", from.path().join("src/link")).unwrap();
        let to = tempfile::tempdir().unwrap();
        let target = to.path().join("input");
        snapshot_dir(from.path(), &target).unwrap();
        assert!(!target.join(".git").exists());
        assert_eq!(std::fs::read_to_string(target.join("src/bin/run.sh")).unwrap(), "echo hi\n");
        let mode = std::fs::metadata(target.join("src/bin/run.sh")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        assert_eq!(std::fs::read_link(target.join("src/link")).unwrap(), Path::new("bin/run.sh"));
        assert!(snapshot_dir(&from.path().join("src/bin/run.sh"), &to.path().join("x")).is_err());
    }

    #[test]
    fn a_file_gets_its_name() {
        let from = tempfile::tempdir().unwrap();
        std::fs::write(from.path().join("app.war"), "war").unwrap();
        let to = tempfile::tempdir().unwrap();
        snapshot_file(&from.path().join("app.war"), to.path(), "ROOT.war").unwrap();
        assert_eq!(std::fs::read_to_string(to.path().join("ROOT.war")).unwrap(), "war");
    }
}
