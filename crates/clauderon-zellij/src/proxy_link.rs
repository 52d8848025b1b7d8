//! The proxy's Unix socket as `full` sandboxes reach it. The daemon makes a new socket file each
//! time it starts, and a sandbox that bound the old file would lose the proxy with a restart; so
//! sandboxes bind a folder of the backend's own (`<data>/zellij/proxy/`) holding a hard link to
//! the current socket, which the backend renews whenever the socket changes.

use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often the link is checked against the daemon's socket.
pub const CHECK_EVERY: Duration = Duration::from_millis(100);

#[derive(Debug, Clone)]
pub struct ProxyLink {
    pub socket: PathBuf,
    pub dir: PathBuf,
}

impl ProxyLink {
    pub fn new(socket: PathBuf, state_dir: &Path) -> Self {
        ProxyLink { socket, dir: state_dir.join("proxy") }
    }

    /// The link, at the same path inside the sandbox and out.
    pub fn link(&self) -> PathBuf {
        self.dir.join("proxy.sock")
    }

    /// Make the link name the daemon's current socket. `Ok(false)` while there is no socket.
    pub fn refresh(&self) -> Result<bool, crate::ZellijError> {
        let Ok(target) = std::fs::metadata(&self.socket) else { return Ok(false) };
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(|e| crate::ZellijError::file("creating", &self.dir, e))?;
        let link = self.link();
        if let Ok(current) = std::fs::metadata(&link)
            && current.ino() == target.ino()
            && current.dev() == target.dev()
        {
            return Ok(true);
        }
        let _ = std::fs::remove_file(&link);
        std::fs::hard_link(&self.socket, &link)
            .map_err(|e| crate::ZellijError::file("linking the proxy socket to", &link, e))?;
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::io::{Read, Write};
    use std::os::unix::net::{UnixListener, UnixStream};

    fn answer_once(listener: UnixListener, word: &'static [u8]) {
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            // Closed before the answer ends: once the reader has it, nothing listens here.
            drop(listener);
            s.write_all(word).unwrap();
        });
    }

    #[test]
    fn the_link_follows_a_socket_made_again() {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("proxy.sock");
        let link = ProxyLink::new(socket.clone(), &dir.path().join("zellij"));
        assert!(!link.refresh().unwrap(), "no socket yet");
        answer_once(UnixListener::bind(&socket).unwrap(), b"first");
        assert!(link.refresh().unwrap());
        let mut got = String::new();
        UnixStream::connect(link.link()).unwrap().read_to_string(&mut got).unwrap();
        assert_eq!(got, "first");
        std::fs::remove_file(&socket).unwrap();
        answer_once(UnixListener::bind(&socket).unwrap(), b"second");
        assert!(UnixStream::connect(link.link()).is_err(), "the old link reaches nothing");
        link.refresh().unwrap();
        let mut got = String::new();
        UnixStream::connect(link.link()).unwrap().read_to_string(&mut got).unwrap();
        assert_eq!(got, "second");
    }
}
