//! One writer of image names at a time on a Podman engine.
//!
//! Podman (4.3 at least) tags and untags by reading an image's names and
//! writing the whole list back, so two clients changing names of the same
//! image at once can each drop the other's change: of 20 parallel `docker
//! tag`s of one image, 3 stayed. Clients that take the lock at
//! [`image_names_lock`] around each change of names never overlap; s2i does
//! (threads of one process through an in-process lock, processes through the
//! file's lock), and checks afterwards that a tag held, for clients that do
//! not take the lock.

use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, OwnedMutexGuard};

/// The lock file of the engine at `endpoint` (`unix:///run/podman/podman.sock`):
/// `s2i-image-names.lock` beside the socket, so that every client of one
/// engine finds the same file and it goes with the engine's runtime
/// directory. `None` for engines not reached through a Unix socket (they are
/// serialised within the process only).
pub fn image_names_lock(endpoint: &str) -> Option<PathBuf> {
    let socket = PathBuf::from(endpoint.strip_prefix("unix://")?);
    Some(socket.parent()?.join("s2i-image-names.lock"))
}

/// How long a change of names waits for another process's lock before it
/// goes ahead anyway (the check after each tag still catches a lost name).
const WAIT: Duration = Duration::from_secs(30);
/// How often a waiting process tries the file's lock again.
const POLL: Duration = Duration::from_millis(10);

/// The in-process lock and the file, shared by the clones of one runtime.
#[derive(Debug, Clone)]
pub(crate) struct NamesLock {
    local: Arc<Mutex<()>>,
    file: Option<PathBuf>,
}

/// Held while names change; releases both locks when dropped.
pub(crate) struct NamesGuard {
    _local: OwnedMutexGuard<()>,
    /// Unlocked when closed.
    _file: Option<File>,
}

impl NamesLock {
    pub(crate) fn new(endpoint: &str) -> Self {
        Self { local: Arc::default(), file: image_names_lock(endpoint) }
    }

    /// Both locks; the file's only when it can be opened (a socket directory
    /// this user cannot write leaves the in-process lock alone).
    pub(crate) async fn acquire(&self) -> NamesGuard {
        let local = Arc::clone(&self.local).lock_owned().await;
        let file = self
            .file
            .as_ref()
            .and_then(|path| OpenOptions::new().create(true).truncate(false).write(true).open(path).ok());
        let started = Instant::now();
        if let Some(file) = &file {
            // A holder is one request long; waiting beyond `WAIT` means a stuck
            // client, and a change without the lock is still checked.
            while !matches!(file.try_lock(), Ok(())) && started.elapsed() < WAIT {
                tokio::time::sleep(POLL).await;
            }
        }
        NamesGuard { _local: local, _file: file }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lock_lives_beside_a_unix_socket_only() {
        assert_eq!(
            image_names_lock("unix:///run/podman/podman.sock"),
            Some(PathBuf::from("/run/podman/s2i-image-names.lock"))
        );
        assert_eq!(image_names_lock("tcp://127.0.0.1:2375"), None);
    }

    #[tokio::test]
    async fn a_second_process_waits_for_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let endpoint = format!("unix://{}", dir.path().join("podman.sock").display());
        let held = NamesLock::new(&endpoint).acquire().await;
        // Another runtime (as another process would) cannot take the file's lock meanwhile.
        let path = image_names_lock(&endpoint).unwrap();
        let other = File::options().write(true).open(&path).unwrap();
        assert!(other.try_lock().is_err());
        drop(held);
        assert!(other.try_lock().is_ok());
    }
}
