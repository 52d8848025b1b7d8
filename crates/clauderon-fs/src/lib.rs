//! Confined file IO in a session's HOME or worktree (issue 11 §4): the one owner of every file
//! the daemon, a backend or the agents crate reads from or writes into a place a session can
//! write.
//!
//! A session can replace anything in its HOME with a symlink to a host path (`~/.claude` ->
//! the user's `~/.claude`), a FIFO that blocks whoever opens it, or a hard link. So here:
//!
//! - The root (a session's HOME, worktree) is a path from clauderon's own record, never from
//!   the session; it is opened once as a directory, its last component without following a link.
//! - Every component below it is opened relative to its parent's descriptor with `O_NOFOLLOW`
//!   (`openat`), folders are made with `mkdirat`: a symlink on any component is **refused**, never
//!   followed, and the error names the path relative to the root (never what the link points at).
//! - Files are read through `O_NOFOLLOW | O_NONBLOCK` (a planted FIFO does not hang the daemon)
//!   and must be regular files with one link.
//! - Writes go to a temporary file made `O_CREAT | O_EXCL | O_NOFOLLOW` in the same directory
//!   descriptor, then `renameat` over the name: a rename replaces whatever entry is there (a link
//!   a session swapped in after any check included) and never writes through it. There is no
//!   check-then-use: the checks that exist only choose the error to report.
//!
//! Why rustix rather than cap-std: cap-std confines paths *beneath* a root but follows symlinks
//! that stay inside it, and its no-follow option covers only the last component; here no link is
//! ever followed, so each component is opened by hand, which rustix's safe `openat` family makes
//! a few lines (no `unsafe`, and rustix is already in the build).

mod dir;

pub use dir::{ConfinedDir, ConfinedFile, Entry, EntryKind};

use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;
use std::path::{Path, PathBuf};

/// Which of a session's places a path is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The session's HOME (`<data>/homes/<name>`). (The daemon reads its worktree and git dirs
    /// only through `git`: `clauderon_backend::host_git`.)
    Home,
}

impl Place {
    /// A stable name for events and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Place::Home => "home",
        }
    }
}

impl std::fmt::Display for Place {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Place::Home => "HOME",
        })
    }
}

/// What was found where clauderon expected a plain file or folder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    Symlink,
    /// A FIFO, socket or device.
    Special,
    /// A file (or anything not a folder) where a folder belongs.
    NotAFolder,
    /// A folder where a file belongs.
    Folder,
    /// A regular file with more than one name: it may be a host file linked in.
    HardLink,
}

impl Found {
    /// A stable name for events and APIs.
    pub fn as_str(self) -> &'static str {
        match self {
            Found::Symlink => "symlink",
            Found::Special => "special-file",
            Found::NotAFolder => "not-a-folder",
            Found::Folder => "folder",
            Found::HardLink => "hard-link",
        }
    }
}

impl std::fmt::Display for Found {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Found::Symlink => "a symlink",
            Found::Special => "a special file (FIFO, socket or device)",
            Found::NotAFolder => "a file where a folder belongs",
            Found::Folder => "a folder where a file belongs",
            Found::HardLink => "a hard link",
        })
    }
}

/// Something a session planted that clauderon will not open: where, relative to the root, and
/// what. Never what a link points at, nor any content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub place: Place,
    /// Relative to the place's root, `/`-separated.
    pub path: String,
    pub found: Found,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the session's {} has {} at {}; clauderon does not follow links or open special files a session planted",
            self.place, self.found, self.path
        )
    }
}

/// What went wrong with a confined operation.
#[derive(Debug, thiserror::Error)]
pub enum FsError {
    /// The session planted a link (or a FIFO, a hard link…) on the path: refused, not followed.
    #[error("{0}")]
    Refused(Refusal),
    /// The operating system refused (permissions, disk full…). `reason` is the error's text.
    #[error("cannot {op} {path} in the session's {place}: {reason}")]
    Io { place: Place, path: String, op: &'static str, reason: String },
    /// A file is larger than clauderon reads.
    #[error("{path} in the session's {place} is larger than {limit} bytes; clauderon does not read it")]
    TooLarge { place: Place, path: String, limit: u64 },
    /// A caller passed a path that is not plain relative names (`..`, `/x`, empty): a bug.
    #[error("`{path}` is not a relative path of plain names")]
    BadPath { path: String },
}

impl FsError {
    /// The refusal, when a session planted something.
    pub fn refusal(&self) -> Option<&Refusal> {
        match self {
            FsError::Refused(r) => Some(r),
            _ => None,
        }
    }

    pub(crate) fn io(place: Place, path: &str, op: &'static str, e: Errno) -> FsError {
        FsError::Io { place, path: display_rel(path), op, reason: std::io::Error::from(e).to_string() }
    }
}

fn display_rel(path: &str) -> String {
    if path.is_empty() { ".".to_string() } else { path.to_string() }
}

/// The plain names of `rel` (`a/b/c`); an empty path is the root itself.
fn names(rel: &str) -> Result<Vec<&str>, FsError> {
    if rel.is_empty() {
        return Ok(Vec::new());
    }
    let parts: Vec<&str> = rel.split('/').collect();
    if parts.iter().any(|p| p.is_empty() || *p == "." || *p == ".." || p.contains('\0')) {
        return Err(FsError::BadPath { path: rel.to_string() });
    }
    Ok(parts)
}

/// `rel` split into its folder's names and its own name.
fn split(rel: &str) -> Result<(Vec<&str>, &str), FsError> {
    let mut parts = names(rel)?;
    let name = parts.pop().ok_or_else(|| FsError::BadPath { path: rel.to_string() })?;
    Ok((parts, name))
}

/// One of a session's places, opened from clauderon's record: every operation below it goes
/// through descriptors, never through a path the kernel would resolve with links.
#[derive(Debug)]
pub struct SessionRoot {
    top: ConfinedDir,
    path: PathBuf,
}

impl SessionRoot {
    /// Open the root at `path` (from clauderon's record: its parents are trusted, only its last
    /// component is opened without following a link).
    pub fn open(path: &Path, place: Place) -> Result<Self, FsError> {
        Self::open_existing(path, place)?.ok_or_else(|| FsError::io(place, "", "open", Errno::NOENT))
    }

    /// [`SessionRoot::open`], or `None` when there is nothing at `path`.
    pub fn open_existing(path: &Path, place: Place) -> Result<Option<Self>, FsError> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::openat(rustix::fs::CWD, path, flags, Mode::empty()) {
            Ok(fd) => Ok(Some(SessionRoot {
                top: ConfinedDir::new(fd, place, String::new()),
                path: path.to_path_buf(),
            })),
            Err(Errno::NOENT) => Ok(None),
            Err(Errno::LOOP | Errno::NOTDIR) => {
                // Linux says ENOTDIR for a link opened with O_DIRECTORY | O_NOFOLLOW: look, to name it.
                let link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
                let found = if link { Found::Symlink } else { Found::NotAFolder };
                Err(FsError::Refused(Refusal { place, path: ".".into(), found }))
            }
            Err(e) => Err(FsError::io(place, "", "open", e)),
        }
    }

    /// The root's path on the host (for messages and for what callers record).
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn place(&self) -> Place {
        self.top.place()
    }

    /// `rel` as a host path, for messages only: never open it.
    pub fn host_path(&self, rel: &str) -> PathBuf {
        self.path.join(rel)
    }

    /// The root as a folder.
    pub fn top(&self) -> &ConfinedDir {
        &self.top
    }

    /// The existing folder `rel` (`""` is the root), or `None` when a component is missing.
    pub fn dir(&self, rel: &str) -> Result<Option<ConfinedDir>, FsError> {
        let mut cur = self.top.reopen()?;
        for name in names(rel)? {
            match cur.dir(name)? {
                Some(next) => cur = next,
                None => return Ok(None),
            }
        }
        Ok(Some(cur))
    }

    /// The folder `rel`, made (with `mode`) where missing.
    pub fn create_dirs(&self, rel: &str, mode: u32) -> Result<ConfinedDir, FsError> {
        let mut cur = self.top.reopen()?;
        for name in names(rel)? {
            cur = cur.create_dir(name, mode)?;
        }
        Ok(cur)
    }

    /// The regular file `rel`, or `None` when it (or a folder on the way) is missing.
    pub fn open_file(&self, rel: &str) -> Result<Option<ConfinedFile>, FsError> {
        let (dirs, name) = split(rel)?;
        match self.dir(&dirs.join("/"))? {
            Some(dir) => dir.file(name),
            None => Ok(None),
        }
    }

    /// The bytes of the regular file `rel` (at most `limit`), or `None` when it is missing.
    pub fn read(&self, rel: &str, limit: u64) -> Result<Option<Vec<u8>>, FsError> {
        match self.open_file(rel)? {
            Some(file) => file.read(limit).map(Some),
            None => Ok(None),
        }
    }

    /// What is at `rel` (a link is refused), or `None`.
    pub fn kind(&self, rel: &str) -> Result<Option<EntryKind>, FsError> {
        let (dirs, name) = split(rel)?;
        match self.dir(&dirs.join("/"))? {
            Some(dir) => dir.kind(name),
            None => Ok(None),
        }
    }

    /// Replace the file `rel` with `bytes` (mode `mode`), its folders made 0700 where missing.
    pub fn write(&self, rel: &str, bytes: &[u8], mode: u32) -> Result<(), FsError> {
        let (dirs, name) = split(rel)?;
        self.create_dirs(&dirs.join("/"), 0o700)?.write(name, bytes, mode)
    }

    /// Rename `rel` to `new_name` in the same folder (the entry itself, never what it names).
    pub fn rename_in_place(&self, rel: &str, new_name: &str) -> Result<(), FsError> {
        let (dirs, name) = split(rel)?;
        let dir = self
            .dir(&dirs.join("/"))?
            .ok_or_else(|| FsError::io(self.place(), rel, "rename", Errno::NOENT))?;
        dir.rename(name, new_name)
    }
}

#[cfg(test)]
mod tests;
