//! skynet-style search paths (`./lualib/?.lua;./lualib/?/init.lua`), confined
//! to the directories they name.
//!
//! A name is looked up by substituting it for `?` in each template in turn.
//! The file found must, once symlinks are resolved, still lie under the
//! template's own directory (the part before the first `?`), be a regular
//! file no larger than `MAX_FILE`, and be text (not a precompiled chunk).

use std::fmt;
use std::fs::Metadata;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Largest source file loaded.
pub const MAX_FILE: u64 = 1 << 20;

/// One `;`-separated list of templates.
///
/// Shared, not copied, when cloned: every service's `require` holds the
/// node's path, and a copy of its strings in each would cost every idle
/// service a few hundred bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SearchPath {
    templates: std::sync::Arc<[String]>,
}

/// Why a name was not found or refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LookupError {
    /// The name has characters or parts a module name cannot have.
    BadName(String),
    /// Nothing found; the candidates tried.
    NotFound(Vec<String>),
    /// A file was found but refused.
    Refused {
        /// The file.
        path: String,
        /// Why.
        why: String,
    },
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookupError::BadName(n) => write!(f, "invalid name '{n}'"),
            LookupError::NotFound(tried) => {
                for t in tried {
                    write!(f, "\n\tno file '{t}'")?;
                }
                Ok(())
            }
            LookupError::Refused { path, why } => write!(f, "refused '{path}': {why}"),
        }
    }
}

impl std::error::Error for LookupError {}

/// What tells one state of a file from another without reading it: the
/// device and inode (so a path made to lead elsewhere is a different file),
/// the size, and the modification and change times (a change time cannot be
/// set back by hand). A file with the identity it had when it was read still
/// holds the bytes read then.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileId {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

impl FileId {
    /// The identity `meta` describes.
    pub fn of(meta: &Metadata) -> FileId {
        FileId {
            dev: meta.dev(),
            ino: meta.ino(),
            len: meta.len(),
            mtime: (meta.mtime(), meta.mtime_nsec()),
            ctime: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// The identity of the file at `path` now (symlinks followed), if there
    /// is one.
    pub fn read(path: &Path) -> Option<FileId> {
        std::fs::metadata(path).ok().map(|m| FileId::of(&m))
    }
}

/// A file a search path found, checked and read.
#[derive(Clone, Debug)]
pub struct Found {
    /// The path, as the template made it (not resolved).
    pub path: PathBuf,
    /// The file's bytes.
    pub text: Arc<[u8]>,
    /// The file's identity, taken before it was read.
    pub id: FileId,
    /// Which template found it.
    template: usize,
}

/// Checks a module or service name: dot- or slash-separated identifiers
/// (letters, digits, `_`, `-`), at most 128 bytes.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && name.split(['.', '/']).all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        })
}

impl SearchPath {
    /// Parses `a/?.lua;b/?/init.lua`. Templates without `?` are ignored.
    pub fn parse(spec: &str) -> SearchPath {
        SearchPath {
            templates: spec
                .split(';')
                .map(str::trim)
                .filter(|t| t.contains('?'))
                .map(str::to_string)
                .collect(),
        }
    }

    /// The templates.
    pub fn templates(&self) -> &[String] {
        &self.templates
    }

    /// The search path a service asked for by setting `package.path` to
    /// `spec`, kept to the templates of `allowed` (the operator's
    /// `lua_path` and `luaservice`): the service may reorder and choose
    /// among the directories the operator named for code, never add one.
    /// Returns the path and the templates left out.
    pub fn chosen(spec: &str, allowed: &SearchPath) -> (SearchPath, Vec<String>) {
        let (mut kept, mut left) = (Vec::new(), Vec::new());
        for t in SearchPath::parse(spec).templates.iter().cloned() {
            if allowed.templates.contains(&t) {
                if !kept.contains(&t) {
                    kept.push(t);
                }
            } else if !left.contains(&t) {
                left.push(t);
            }
        }
        (
            SearchPath {
                templates: kept.into(),
            },
            left,
        )
    }

    /// The templates as a `package.path` string.
    pub fn spec(&self) -> String {
        self.templates.join(";")
    }

    /// Finds `name` (with `.` standing for `/` when `dots_are_dirs`) and
    /// returns its path and bytes.
    pub fn find_with(
        &self,
        name: &str,
        dots_are_dirs: bool,
    ) -> Result<(PathBuf, Vec<u8>), LookupError> {
        self.lookup(name, dots_are_dirs)
            .map(|found| (found.path, found.text.to_vec()))
    }

    /// Finds `name` (with `.` standing for `/` when `dots_are_dirs`): the
    /// first template whose candidate exists decides, and its file must pass
    /// every check or the lookup fails.
    pub fn lookup(&self, name: &str, dots_are_dirs: bool) -> Result<Found, LookupError> {
        let rel = relative(name, dots_are_dirs)?;
        let mut tried = Vec::new();
        for (i, t) in self.templates.iter().enumerate() {
            let candidate = t.replace('?', &rel);
            let root = template_root(t);
            let path = PathBuf::from(&candidate);
            let Ok(meta) = std::fs::metadata(&path) else {
                tried.push(candidate);
                continue;
            };
            let refused = |why: &str| LookupError::Refused {
                path: candidate.clone(),
                why: why.to_string(),
            };
            let real = path.canonicalize().map_err(|e| refused(&e.to_string()))?;
            let real_root = root
                .canonicalize()
                .map_err(|e| refused(&format!("root: {e}")))?;
            if !real.starts_with(&real_root) {
                return Err(refused("it resolves outside its search directory"));
            }
            if !meta.is_file() {
                return Err(refused("not a regular file"));
            }
            if meta.len() > MAX_FILE {
                return Err(refused(&format!("larger than {MAX_FILE} bytes")));
            }
            let bytes = std::fs::read(&real).map_err(|e| refused(&e.to_string()))?;
            if bytes.first() == Some(&0x1b) {
                return Err(refused("precompiled chunks are not loaded"));
            }
            return Ok(Found {
                path,
                text: bytes.into(),
                id: FileId::of(&meta),
                template: i,
            });
        }
        Err(LookupError::NotFound(tried))
    }

    /// Whether a lookup of `name` now would find `found` again, told without
    /// reading anything: its file has the identity it had, and no template
    /// before the one that found it has a candidate now.
    pub fn still_finds(&self, name: &str, dots_are_dirs: bool, found: &Found) -> bool {
        let Ok(rel) = relative(name, dots_are_dirs) else {
            return false;
        };
        let Some(earlier) = self.templates.get(..found.template) else {
            return false;
        };
        FileId::read(&found.path) == Some(found.id)
            && earlier
                .iter()
                .all(|t| std::fs::metadata(t.replace('?', &rel)).is_err())
    }

    /// The search path a service's `require` uses, as skynet's loader
    /// makes it: when the `luaservice` template that found the service
    /// `name` ends in a fixed file name (`./service/?/init.lua`), that
    /// service's directory (`./service/<name>/?.lua`) comes first. Its
    /// files are held to the same rules as every template's: inside that
    /// directory once symlinks are resolved.
    pub fn for_service(&self, luaservice: &SearchPath, name: &str, found: &Found) -> SearchPath {
        let Some(t) = luaservice.templates.get(found.template) else {
            return self.clone();
        };
        let Some(slash) = t.rfind('/') else {
            return self.clone();
        };
        if t[slash + 1..].contains('?') {
            return self.clone();
        }
        let mut templates = vec![format!("{}?.lua", t[..=slash].replace('?', name))];
        templates.extend(self.templates.iter().cloned());
        SearchPath {
            templates: templates.into(),
        }
    }

    /// Finds a service script by name (`luaservice`).
    pub fn find(&self, name: &str) -> Result<(PathBuf, Vec<u8>), LookupError> {
        self.find_with(name, false)
    }
}

/// `name` as the part of a path it stands for, if it is a valid name.
fn relative(name: &str, dots_are_dirs: bool) -> Result<String, LookupError> {
    if !valid_name(name) {
        return Err(LookupError::BadName(name.chars().take(130).collect()));
    }
    Ok(if dots_are_dirs {
        name.replace('.', "/")
    } else {
        name.to_string()
    })
}

/// The directory part of a template, before the first `?`.
fn template_root(t: &str) -> PathBuf {
    let before = &t[..t.find('?').unwrap_or(t.len())];
    let p = Path::new(before);
    if before.ends_with('/') {
        p.to_path_buf()
    } else {
        p.parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chosen_path_keeps_only_the_operators_templates() {
        let allowed = SearchPath::parse("./lualib/?.lua;./examples/?.lua");
        let (p, left) = SearchPath::chosen(
            "./examples/?.lua;/tmp/?.lua;./lualib/?.lua;./examples/?.lua",
            &allowed,
        );
        assert_eq!(p.templates(), ["./examples/?.lua", "./lualib/?.lua"]);
        assert_eq!(left, ["/tmp/?.lua"]);
    }

    #[test]
    fn names_are_checked() {
        assert!(valid_name("skynet.manager"));
        assert!(valid_name("http/httpd"));
        assert!(!valid_name("../etc/passwd"));
        assert!(!valid_name("/etc/passwd"));
        assert!(!valid_name("a..b"));
        assert!(!valid_name("a\0b"));
        assert!(!valid_name(""));
    }

    #[test]
    fn roots_are_the_directory_before_the_mark() {
        assert_eq!(template_root("./lualib/?.lua"), PathBuf::from("./lualib/"));
        assert_eq!(
            template_root("./lualib/?/init.lua"),
            PathBuf::from("./lualib/")
        );
        assert_eq!(template_root("svc/x?.lua"), PathBuf::from("svc"));
    }

    #[test]
    fn a_service_found_as_init_lua_searches_its_directory_first() {
        let dir = std::env::temp_dir().join(format!("skyhold-svcdir-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("svc/a")).unwrap();
        std::fs::write(dir.join("svc/a/init.lua"), "return 1").unwrap();
        std::fs::write(dir.join("svc/b.lua"), "return 1").unwrap();
        let d = dir.display();
        let luaservice = SearchPath::parse(&format!("{d}/svc/?.lua;{d}/svc/?/init.lua"));
        let lua_path = SearchPath::parse("lib/?.lua");
        let a = luaservice.lookup("a", false).unwrap();
        let with = lua_path.for_service(&luaservice, "a", &a);
        assert_eq!(
            with.templates(),
            [format!("{d}/svc/a/?.lua"), "lib/?.lua".into()]
        );
        let b = luaservice.lookup("b", false).unwrap();
        assert_eq!(
            lua_path.for_service(&luaservice, "b", &b).templates(),
            ["lib/?.lua"]
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
