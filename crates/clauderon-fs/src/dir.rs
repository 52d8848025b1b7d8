//! A folder inside a session's place, held as a descriptor: every name is opened relative to
//! it, without following links (see the crate's documentation).

use crate::{Found, FsError, Place, Refusal, names};
use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::os::unix::fs::MetadataExt;
use std::time::SystemTime;

/// What an entry of a folder is, as the entry itself (a link is a link, not what it names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Folder,
    Symlink,
    /// A FIFO, socket or device.
    Special,
}

/// One entry of a folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub kind: EntryKind,
}

/// What an open expects, to name what it found instead.
#[derive(Clone, Copy)]
enum Want {
    Folder,
    File,
}

/// An open folder inside a session's place.
#[derive(Debug)]
pub struct ConfinedDir {
    fd: OwnedFd,
    place: Place,
    rel: String,
}

impl ConfinedDir {
    pub(crate) fn new(fd: OwnedFd, place: Place, rel: String) -> Self {
        ConfinedDir { fd, place, rel }
    }

    pub fn place(&self) -> Place {
        self.place
    }

    /// The folder's path relative to the root (`""` for the root).
    pub fn rel(&self) -> &str {
        &self.rel
    }

    /// `name` inside this folder, relative to the root.
    pub fn child(&self, name: &str) -> String {
        if self.rel.is_empty() { name.to_string() } else { format!("{}/{name}", self.rel) }
    }

    fn refused(&self, name: &str, found: Found) -> FsError {
        FsError::Refused(Refusal { place: self.place, path: self.child(name), found })
    }

    fn check_name(&self, name: &str) -> Result<(), FsError> {
        match names(name)?.len() {
            1 => Ok(()),
            _ => Err(FsError::BadPath { path: name.to_string() }),
        }
    }

    /// A second descriptor of the same folder.
    pub(crate) fn reopen(&self) -> Result<ConfinedDir, FsError> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        rustix::fs::openat(&self.fd, ".", flags, Mode::empty())
            .map(|fd| ConfinedDir::new(fd, self.place, self.rel.clone()))
            .map_err(|e| FsError::io(self.place, &self.rel, "open", e))
    }

    /// Why opening `name` failed with `e`: a refusal when the entry is a link or of the wrong
    /// kind (looked at only to report; nothing was followed), else the error itself.
    fn classify(&self, name: &str, want: Want, op: &'static str, e: Errno) -> FsError {
        match self.kind(name) {
            Err(refused @ FsError::Refused(_)) => refused,
            Ok(Some(EntryKind::Folder)) if matches!(want, Want::File) => self.refused(name, Found::Folder),
            Ok(Some(EntryKind::Special)) => self.refused(name, Found::Special),
            Ok(Some(EntryKind::File)) if matches!(want, Want::Folder) => {
                self.refused(name, Found::NotAFolder)
            }
            _ => FsError::io(self.place, &self.child(name), op, e),
        }
    }

    /// What the entry `name` is, or `None` when there is none. A link is refused.
    pub fn kind(&self, name: &str) -> Result<Option<EntryKind>, FsError> {
        self.check_name(name)?;
        match self.entry_kind(name) {
            Ok(Some(EntryKind::Symlink)) => Err(self.refused(name, Found::Symlink)),
            other => other,
        }
    }

    fn entry_kind(&self, name: &str) -> Result<Option<EntryKind>, FsError> {
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(Some(match FileType::from_raw_mode(st.st_mode) {
                FileType::RegularFile => EntryKind::File,
                FileType::Directory => EntryKind::Folder,
                FileType::Symlink => EntryKind::Symlink,
                _ => EntryKind::Special,
            })),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(FsError::io(self.place, &self.child(name), "look at", e)),
        }
    }

    /// The entries of this folder (`.` and `..` left out, names that are not UTF-8 skipped), each
    /// as what it is itself: links are listed as links, for the caller to refuse.
    pub fn entries(&self) -> Result<Vec<Entry>, FsError> {
        let io = |e| FsError::io(self.place, &self.rel, "list", e);
        let mut dir = rustix::fs::Dir::read_from(&self.fd).map_err(io)?;
        let mut out = Vec::new();
        while let Some(entry) = dir.read() {
            let entry = entry.map_err(io)?;
            let Ok(name) = entry.file_name().to_str() else { continue };
            if name == "." || name == ".." {
                continue;
            }
            // Gone since the listing: nothing to report.
            if let Some(kind) = self.entry_kind(name)? {
                out.push(Entry { name: name.to_string(), kind });
            }
        }
        Ok(out)
    }

    /// The existing folder `name`, or `None`.
    pub fn dir(&self, name: &str) -> Result<Option<ConfinedDir>, FsError> {
        self.check_name(name)?;
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::openat(&self.fd, name, flags, Mode::empty()) {
            Ok(fd) => Ok(Some(ConfinedDir::new(fd, self.place, self.child(name)))),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(self.classify(name, Want::Folder, "open", e)),
        }
    }

    /// The folder `name`, made with `mode` when missing.
    pub fn create_dir(&self, name: &str, mode: u32) -> Result<ConfinedDir, FsError> {
        if let Some(dir) = self.dir(name)? {
            return Ok(dir);
        }
        match rustix::fs::mkdirat(&self.fd, name, Mode::from_bits_truncate(mode)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(self.classify(name, Want::Folder, "create", e)),
        }
        let dir = self
            .dir(name)?
            .ok_or_else(|| FsError::io(self.place, &self.child(name), "create", Errno::NOENT))?;
        // mkdir's mode passed through the umask; the caller asked for this one.
        dir.set_mode(mode)?;
        Ok(dir)
    }

    /// Set this folder's permission bits (on the descriptor: never through a link).
    pub fn set_mode(&self, mode: u32) -> Result<(), FsError> {
        rustix::fs::fchmod(&self.fd, Mode::from_bits_truncate(mode))
            .map_err(|e| FsError::io(self.place, &self.rel, "set the mode of", e))
    }

    /// The regular file `name` with one link, or `None`. Opened without blocking, so a FIFO
    /// planted in its place is refused rather than waited on.
    pub fn file(&self, name: &str) -> Result<Option<ConfinedFile>, FsError> {
        self.check_name(name)?;
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        let fd = match rustix::fs::openat(&self.fd, name, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(Errno::NOENT) => return Ok(None),
            Err(e) => return Err(self.classify(name, Want::File, "open", e)),
        };
        let file = std::fs::File::from(fd);
        let meta = file.metadata().map_err(|e| self.std_io(name, "look at", e))?;
        if meta.is_dir() {
            return Err(self.refused(name, Found::Folder));
        }
        if !meta.is_file() {
            return Err(self.refused(name, Found::Special));
        }
        if meta.nlink() > 1 {
            return Err(self.refused(name, Found::HardLink));
        }
        Ok(Some(ConfinedFile { file, place: self.place, rel: self.child(name), meta }))
    }

    fn std_io(&self, name: &str, op: &'static str, e: std::io::Error) -> FsError {
        FsError::Io { place: self.place, path: self.child(name), op, reason: e.to_string() }
    }

    /// Replace the file `name` with `bytes` (mode `mode`): a new file beside it, then a rename
    /// over it. A link at `name` is refused; one swapped in after that look is replaced by the
    /// rename, never written through.
    pub fn write(&self, name: &str, bytes: &[u8], mode: u32) -> Result<(), FsError> {
        match self.kind(name)? {
            Some(EntryKind::Folder) => return Err(self.refused(name, Found::Folder)),
            Some(EntryKind::Special) => return Err(self.refused(name, Found::Special)),
            _ => {}
        }
        let (tmp, fd) = self.temp_file(name, mode)?;
        let written = (|| {
            // The mode passed through the umask at creation; set the one asked for.
            rustix::fs::fchmod(&fd, Mode::from_bits_truncate(mode))
                .map_err(|e| FsError::io(self.place, &self.child(&tmp), "set the mode of", e))?;
            let mut file = std::fs::File::from(fd);
            file.write_all(bytes).map_err(|e| self.std_io(&tmp, "write", e))?;
            rustix::fs::renameat(&self.fd, tmp.as_str(), &self.fd, name)
                .map_err(|e| self.classify(name, Want::File, "replace", e))
        })();
        if written.is_err() {
            let _ = rustix::fs::unlinkat(&self.fd, tmp.as_str(), AtFlags::empty());
        }
        written
    }

    /// A new, empty file beside `name` that nothing else had: `O_CREAT | O_EXCL` never opens an
    /// existing entry (a planted link included).
    fn temp_file(&self, name: &str, mode: u32) -> Result<(String, OwnedFd), FsError> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let mut last = Errno::EXIST;
        for _ in 0..16 {
            let tmp = format!(".{name}.clauderon-{:016x}", rand::random::<u64>());
            match rustix::fs::openat(&self.fd, tmp.as_str(), flags, Mode::from_bits_truncate(mode)) {
                Ok(fd) => return Ok((tmp, fd)),
                Err(Errno::EXIST) => continue,
                Err(e) => {
                    last = e;
                    break;
                }
            }
        }
        Err(FsError::io(self.place, &self.child(name), "create a temporary file for", last))
    }

    /// Rename the entry `name` to `new_name` in this folder (the entry, not what it names).
    pub fn rename(&self, name: &str, new_name: &str) -> Result<(), FsError> {
        self.check_name(name)?;
        self.check_name(new_name)?;
        rustix::fs::renameat(&self.fd, name, &self.fd, new_name)
            .map_err(|e| FsError::io(self.place, &self.child(name), "rename", e))
    }
}

/// A regular file opened inside a session's place.
#[derive(Debug)]
pub struct ConfinedFile {
    file: std::fs::File,
    meta: std::fs::Metadata,
    place: Place,
    rel: String,
}

impl ConfinedFile {
    /// Its path relative to the root.
    pub fn rel(&self) -> &str {
        &self.rel
    }

    pub fn modified(&self) -> Option<SystemTime> {
        self.meta.modified().ok()
    }

    pub fn len(&self) -> u64 {
        self.meta.len()
    }

    pub fn is_empty(&self) -> bool {
        self.meta.len() == 0
    }

    /// All its bytes, refusing a file larger than `limit` (a session could plant a huge one).
    pub fn read(mut self, limit: u64) -> Result<Vec<u8>, FsError> {
        let too_large = || FsError::TooLarge { place: self.place, path: self.rel.clone(), limit };
        if self.meta.len() > limit {
            return Err(too_large());
        }
        let mut bytes = Vec::new();
        (&mut self.file).take(limit.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| FsError::Io {
            place: self.place,
            path: self.rel.clone(),
            op: "read",
            reason: e.to_string(),
        })?;
        if bytes.len() as u64 > limit {
            return Err(too_large());
        }
        Ok(bytes)
    }
}
