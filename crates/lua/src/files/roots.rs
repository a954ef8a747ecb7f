//! The node's file roots and how a path a service names is found in one.
//!
//! A root is a directory the operator names in the config; the node opens
//! it once at boot and keeps the handle. A path resolves only if, taken
//! against the service's current directory with `.` and `..` folded, it
//! lies in a root; the file is then opened *relative to that root's
//! handle*, one component at a time, by `cap-std`, which refuses any step
//! (a `..`, a symlink, an absolute link target) that would leave the root,
//! and which is not fooled by a path swapped between a check and an open
//! (there is no check apart from the open).

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use cap_std::fs::Dir;

/// Files a service may have open at once, unless `file_max_open` says.
pub const DEFAULT_MAX_OPEN: usize = 64;
/// Bytes one read call may return, unless `file_max_read` says.
pub const DEFAULT_MAX_READ: usize = 16 << 20;

/// The two files `skynet.dns` reads, readable with `file_dns = true`.
pub const DNS_FILES: &[&str] = &["/etc/resolv.conf", "/etc/hosts"];

/// The audit action of a refused read.
pub const ACTION_READ: &str = "file_read";
/// The audit action of a refused write.
pub const ACTION_WRITE: &str = "file_write";
/// The audit action of a file limit met (open files, bytes read).
pub const ACTION_LIMIT: &str = "file_limit";

/// What a service wants to do at a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Read (files, attributes, directory listings): under a read root or
    /// the write root.
    Read,
    /// Create, change or remove: under the write root only.
    Write,
}

impl Access {
    /// The audit action for a refusal of this access.
    pub fn action(self) -> &'static str {
        match self {
            Access::Read => ACTION_READ,
            Access::Write => ACTION_WRITE,
        }
    }
}

/// Why a file operation failed.
#[derive(Debug)]
pub enum FileError {
    /// The runtime refused it: the path is outside the roots, or a limit
    /// was met. Audited.
    Refused {
        /// The audit action (`file_read`, `file_write`, `file_limit`).
        action: &'static str,
        /// Why, as the caller reads it after the path.
        why: String,
        /// The errno Lua code is given (`EACCES`, `EMFILE`).
        errno: i32,
    },
    /// The operating system said no (no such file, not a directory…).
    Io(io::Error),
}

/// `EACCES`, the errno of a path outside the roots.
pub const EACCES: i32 = 13;
/// `EMFILE`, the errno of too many open files.
pub const EMFILE: i32 = 24;
/// `EBADF`, the errno of reading a file opened for writing only (and back).
pub const EBADF: i32 = 9;
/// `ENOENT`, the errno of an empty path.
pub const ENOENT: i32 = 2;

impl FileError {
    /// The text after `path: ` that the caller sees, and the errno.
    pub fn describe(&self) -> (String, i32) {
        match self {
            FileError::Refused { why, errno, .. } => (why.clone(), *errno),
            FileError::Io(e) => (strerror(e), e.raw_os_error().unwrap_or(0)),
        }
    }

    /// An error from an operation through a root's handle: an attempt to
    /// leave the root becomes a refusal, anything else stays the system's.
    pub fn from_io(e: io::Error, access: Access) -> FileError {
        // cap-std reports a step out of its directory as PermissionDenied
        // with no errno of the system behind it.
        if e.kind() == io::ErrorKind::PermissionDenied && e.raw_os_error().is_none() {
            return FileError::Refused {
                action: access.action(),
                why: "leads out of its file root (through a symlink or '..')".into(),
                errno: EACCES,
            };
        }
        FileError::Io(e)
    }
}

/// The system's text for an error, as C's `strerror` gives it: Rust's
/// own text with its ` (os error N)` removed.
pub fn strerror(e: &io::Error) -> String {
    let text = e.to_string();
    match (text.rfind(" (os error "), e.raw_os_error()) {
        (Some(i), Some(_)) => text[..i].to_string(),
        _ => text,
    }
}

/// One root: where it is (canonical) and the handle everything under it is
/// opened through.
#[derive(Debug)]
struct Root {
    path: PathBuf,
    dir: Dir,
}

impl Root {
    fn open(key: &str, path: &Path) -> Result<Root, String> {
        let canonical = std::fs::canonicalize(path)
            .map_err(|e| format!("config key {key}: {}: {}", path.display(), strerror(&e)))?;
        if !canonical.is_dir() {
            return Err(format!(
                "config key {key}: {} is not a directory",
                path.display()
            ));
        }
        let dir = Dir::open_ambient_dir(&canonical, cap_std::ambient_authority())
            .map_err(|e| format!("config key {key}: {}: {}", path.display(), strerror(&e)))?;
        Ok(Root {
            path: canonical,
            dir,
        })
    }
}

/// A path found in a root: the root's handle and the path relative to it.
pub struct Resolved<'a> {
    root: &'a Root,
    rel: PathBuf,
}

impl Resolved<'_> {
    /// The root's directory handle: open `rel` through it, never by name.
    pub fn dir(&self) -> &Dir {
        &self.root.dir
    }

    /// The path under the root (`.` for the root itself).
    pub fn rel(&self) -> &Path {
        &self.rel
    }

    /// The whole path, for messages and a service's current directory: the
    /// root's own path for the root itself (not `root/.`).
    pub fn full(&self) -> PathBuf {
        if self.rel == Path::new(".") {
            self.root.path.clone()
        } else {
            self.root.path.join(&self.rel)
        }
    }
}

/// Counters of the node's file access.
#[derive(Debug, Default)]
pub struct FileCounters {
    /// Files and directories opened.
    pub opened: AtomicU64,
    /// Operations refused because of where they pointed.
    pub refused: AtomicU64,
    /// Operations refused by a limit (open files, bytes per read).
    pub limits: AtomicU64,
    /// Bytes read.
    pub bytes_read: AtomicU64,
    /// Bytes written.
    pub bytes_written: AtomicU64,
}

/// The node's file roots and limits (`file_read_roots`, `file_write_root`,
/// `file_dns`, `file_max_open`, `file_max_read`). The default has no root:
/// no file can be reached.
#[derive(Debug)]
pub struct FileRoots {
    read: Vec<Root>,
    write: Option<Root>,
    dns: bool,
    start_dir: PathBuf,
    /// Files (and directory iterators) one service may have open at once.
    pub max_open: usize,
    /// Bytes one read call may return.
    pub max_read: usize,
    counters: FileCounters,
}

impl Default for FileRoots {
    fn default() -> Self {
        FileRoots {
            read: Vec::new(),
            write: None,
            dns: false,
            start_dir: PathBuf::from("/"),
            max_open: DEFAULT_MAX_OPEN,
            max_read: DEFAULT_MAX_READ,
            counters: FileCounters::default(),
        }
    }
}

impl FileRoots {
    /// The config keys read into file roots.
    pub const KEYS: &'static [&'static str] = &[
        "file_read_roots",
        "file_write_root",
        "file_dns",
        "file_max_open",
        "file_max_read",
    ];

    /// Roots from config values: `read` and `write` as written in the
    /// config (a `;`- or `,`-separated list, and one directory), taken
    /// relative to `base` (the config file's directory). Relative paths
    /// that services name are taken against `start_dir` (the node's working
    /// directory, as in skynet). Each root must be an existing directory.
    pub fn from_config(
        read: Option<&str>,
        write: Option<&str>,
        base: &Path,
        start_dir: &Path,
    ) -> Result<FileRoots, String> {
        let mut roots = FileRoots {
            start_dir: start_dir.to_path_buf(),
            ..FileRoots::default()
        };
        for p in read
            .unwrap_or("")
            .split([';', ','])
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            roots
                .read
                .push(Root::open("file_read_roots", &base.join(p))?);
        }
        if let Some(w) = write.map(str::trim).filter(|w| !w.is_empty()) {
            if w.contains(';') {
                return Err("config key file_write_root: names one directory".into());
            }
            roots.write = Some(Root::open("file_write_root", &base.join(w))?);
        }
        Ok(roots)
    }

    /// Sets one of the limit keys (`file_dns`, `file_max_open`,
    /// `file_max_read`) from its config value.
    pub fn set(&mut self, key: &str, value: &str) -> Result<(), String> {
        let number = |v: &str| -> Result<usize, String> {
            v.trim()
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("config key {key}: '{v}' is not a positive number"))
        };
        match key {
            "file_dns" => match value.trim() {
                "true" => self.dns = true,
                "false" => self.dns = false,
                other => {
                    return Err(format!(
                        "config key file_dns: '{other}' is not true or false"
                    ))
                }
            },
            "file_max_open" => self.max_open = number(value)?,
            "file_max_read" => self.max_read = number(value)?,
            _ => return Err(format!("config key {key}: not a file limit")),
        }
        Ok(())
    }

    /// True if a write root is configured.
    pub fn has_write_root(&self) -> bool {
        self.write.is_some()
    }

    /// True if anything at all can be reached: a root, or the DNS files.
    pub fn any(&self) -> bool {
        !self.read.is_empty() || self.write.is_some() || self.dns
    }

    /// The directory relative paths start from.
    pub fn start_dir(&self) -> &Path {
        &self.start_dir
    }

    /// The node's file counters.
    pub fn counters(&self) -> &FileCounters {
        &self.counters
    }

    /// Counts bytes read.
    pub fn count_read(&self, n: usize) {
        self.counters
            .bytes_read
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts bytes written.
    pub fn count_written(&self, n: usize) {
        self.counters
            .bytes_written
            .fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Counts a refusal (of a place, or by a limit).
    pub(crate) fn count_refusal(&self, e: &FileError) {
        if let FileError::Refused { action, .. } = e {
            let c = if *action == ACTION_LIMIT {
                &self.counters.limits
            } else {
                &self.counters.refused
            };
            c.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts an open.
    pub(crate) fn count_open(&self) {
        self.counters.opened.fetch_add(1, Ordering::Relaxed);
    }

    /// Finds `path` (as a service gave it, relative to `cwd`) in a root
    /// that allows `access`, or says why not.
    pub fn resolve(
        &self,
        cwd: &Path,
        path: &[u8],
        access: Access,
    ) -> Result<Resolved<'_>, FileError> {
        let full = absolute(cwd, path, access)?;
        let candidates: Vec<&Root> = match access {
            Access::Write => self.write.iter().collect(),
            Access::Read => self.write.iter().chain(self.read.iter()).collect(),
        };
        let found = find_root(&candidates, &full).or_else(|| {
            // A path through a symlink outside the roots (`/var/run` for
            // `/run`) is found by the real place it names; the open still
            // goes through the root's handle.
            let real = real_path(&full)?;
            find_root(&candidates, &real)
        });
        match found {
            Some((root, rel)) => Ok(Resolved { root, rel }),
            None => Err(self.outside(&full, access)),
        }
    }

    fn outside(&self, full: &Path, access: Access) -> FileError {
        let why = match access {
            Access::Read if !self.any() => {
                "not under a file root (no file_read_roots configured)".to_string()
            }
            Access::Read => "not under a file root (file_read_roots)".to_string(),
            Access::Write if self.write.is_none() => {
                "not under a file root for writing (no file_write_root configured)".to_string()
            }
            Access::Write
                if self
                    .read
                    .iter()
                    .any(|r| full.starts_with(&r.path)) =>
            {
                "under a read-only file root (file_read_roots); writes go only under file_write_root"
                    .to_string()
            }
            Access::Write => "not under the file write root (file_write_root)".to_string(),
        };
        FileError::Refused {
            action: access.action(),
            why,
            errno: EACCES,
        }
    }

    /// The one of `skynet.dns`'s files that `path` names, if `file_dns`
    /// allows it.
    pub fn dns_file(&self, cwd: &Path, path: &[u8]) -> Option<&'static str> {
        if !self.dns {
            return None;
        }
        let full = absolute(cwd, path, Access::Read).ok()?;
        DNS_FILES.iter().copied().find(|f| full == Path::new(f))
    }

    /// Opens `path` for the io library: read-only for `Access::Read`, else
    /// with `options`. The DNS files come straight from the system.
    pub fn open(
        &self,
        cwd: &Path,
        path: &[u8],
        options: &cap_std::fs::OpenOptions,
        access: Access,
    ) -> Result<std::fs::File, FileError> {
        if access == Access::Read {
            if let Some(f) = self.dns_file(cwd, path) {
                return std::fs::File::open(f).map_err(FileError::Io);
            }
        }
        let r = self.resolve(cwd, path, access)?;
        r.dir()
            .open_with(r.rel(), options)
            .map(cap_std::fs::File::into_std)
            .map_err(|e| FileError::from_io(e, access))
    }

    /// Opens `path` for reading.
    pub fn open_read(&self, cwd: &Path, path: &[u8]) -> Result<std::fs::File, FileError> {
        let mut o = cap_std::fs::OpenOptions::new();
        o.read(true);
        self.open(cwd, path, &o, Access::Read)
    }

    /// Opens `path` for writing (created if missing, emptied).
    pub fn open_write(&self, cwd: &Path, path: &[u8]) -> Result<std::fs::File, FileError> {
        let mut o = cap_std::fs::OpenOptions::new();
        o.write(true).create(true).truncate(true);
        self.open(cwd, path, &o, Access::Write)
    }

    /// The directory per-service message logs (`logon`) go to: `logpath`
    /// as a service names a path (relative to the node's working
    /// directory, as skynet takes it), or the write root itself when
    /// unset; it must lie under the write root and be a directory there.
    /// Its whole path, or why it cannot be used.
    pub fn log_dir(&self, logpath: Option<&str>) -> Result<PathBuf, String> {
        let Some(w) = &self.write else {
            return Err(
                "no file_write_root is configured: per-service message logs go only under it \
                 (set file_write_root, and logpath to a directory under it or leave it unset)"
                    .into(),
            );
        };
        let Some(dir) = logpath.map(str::trim).filter(|p| !p.is_empty()) else {
            return Ok(w.path.clone());
        };
        let r = self
            .resolve(&self.start_dir, dir.as_bytes(), Access::Write)
            .map_err(|e| format!("logpath {dir}: {}", e.describe().0))?;
        match r.dir().metadata(r.rel()) {
            Ok(m) if m.is_dir() => Ok(r.full()),
            Ok(_) => Err(format!("logpath {dir}: not a directory")),
            Err(e) => Err(format!("logpath {dir}: {}", strerror(&e))),
        }
    }

    /// Opens the message log `name` (`0000000a.log`) in [`Self::log_dir`]
    /// for appending, created if missing, through the write root's handle
    /// (so no symlink leads it out), readable by the node's user only when
    /// made. The file and its whole path.
    pub fn open_log(
        &self,
        logpath: Option<&str>,
        name: &str,
    ) -> Result<(std::fs::File, String), String> {
        let dir = self.log_dir(logpath)?;
        let path = dir.join(name);
        let r = self
            .resolve(&self.start_dir, path.as_os_str().as_bytes(), Access::Write)
            .map_err(|e| format!("{}: {}", path.display(), e.describe().0))?;
        let mut o = cap_std::fs::OpenOptions::new();
        // Readable by the node's user only: it holds what services said.
        cap_std::fs::OpenOptionsExt::mode(&mut o, 0o600);
        o.append(true).create(true);
        let f = r
            .dir()
            .open_with(r.rel(), &o)
            .map_err(|e| FileError::from_io(e, Access::Write))
            .map_err(|e| format!("{}: {}", path.display(), e.describe().0))?;
        self.count_open();
        Ok((f.into_std(), r.full().display().to_string()))
    }

    /// True if `target`, the text of a symlink to be made at `link` (a
    /// path under a root), names a place inside a root if followed.
    pub fn link_target_inside(&self, link: &Path, target: &[u8]) -> bool {
        let Some(dir) = link.parent() else {
            return false;
        };
        let Ok(full) = absolute(dir, target, Access::Read) else {
            return false;
        };
        let all: Vec<&Root> = self.write.iter().chain(self.read.iter()).collect();
        find_root(&all, &full).is_some()
    }
}

/// `path` against `cwd`, with `.` and `..` folded (a `..` at `/` stays
/// there). A NUL byte, which C would silently cut the path at, is refused.
fn absolute(cwd: &Path, path: &[u8], access: Access) -> Result<PathBuf, FileError> {
    if path.contains(&0) {
        return Err(FileError::Refused {
            action: access.action(),
            why: "a file path may not contain a NUL byte".into(),
            errno: EACCES,
        });
    }
    if path.is_empty() {
        return Err(FileError::Io(io::Error::from_raw_os_error(ENOENT)));
    }
    let p = Path::new(OsStr::from_bytes(path));
    let joined = if p.is_absolute() {
        p.to_path_buf()
    } else {
        cwd.join(p)
    };
    let mut out = PathBuf::from("/");
    for c in joined.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::ParentDir => {
                out.pop();
            }
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    Ok(out)
}

/// The root (the deepest, if roots nest) that holds `full`, and the path
/// under it.
fn find_root<'a>(roots: &[&'a Root], full: &Path) -> Option<(&'a Root, PathBuf)> {
    roots
        .iter()
        .filter(|r| full.starts_with(&r.path))
        .max_by_key(|r| r.path.components().count())
        .map(|r| {
            let rel = full.strip_prefix(&r.path).unwrap_or(Path::new(""));
            let rel = if rel.as_os_str().is_empty() {
                PathBuf::from(".")
            } else {
                rel.to_path_buf()
            };
            (*r, rel)
        })
}

/// Where `full` really is, following symlinks: the file itself, or for one
/// not yet made, its directory.
fn real_path(full: &Path) -> Option<PathBuf> {
    if let Ok(p) = std::fs::canonicalize(full) {
        return Some(p);
    }
    let parent = std::fs::canonicalize(full.parent()?).ok()?;
    Some(parent.join(full.file_name()?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_keeps_dot_dot_at_the_top() {
        let cwd = Path::new("/srv/game");
        let a = |p: &str| absolute(cwd, p.as_bytes(), Access::Read).unwrap();
        assert_eq!(a("proto/x"), Path::new("/srv/game/proto/x"));
        assert_eq!(a("../../../../etc/passwd"), Path::new("/etc/passwd"));
        assert_eq!(a("./a/./b/../c"), Path::new("/srv/game/a/c"));
        assert_eq!(a("/etc/../x"), Path::new("/x"));
        assert!(matches!(
            absolute(cwd, b"a\0b", Access::Read),
            Err(FileError::Refused { .. })
        ));
        assert!(matches!(
            absolute(cwd, b"", Access::Read),
            Err(FileError::Io(_))
        ));
    }

    #[test]
    fn strerror_is_the_systems_text() {
        let e = io::Error::from_raw_os_error(ENOENT);
        assert_eq!(strerror(&e), "No such file or directory");
        assert_eq!(strerror(&io::Error::other("plain")), "plain");
    }
}
