//! LuaFileSystem (`lfs`, the 1.8 API) for skyhold services, confined to
//! the node's file roots.
//!
//! Every path goes through the service's [`ServiceFiles`]: reads
//! (`attributes`, `symlinkattributes`, `dir`, `chdir`) only under a read
//! root or the write root, changes (`mkdir`, `rmdir`, `touch`, `link`,
//! `lock_dir`) only under the write root; anything else fails with the
//! message of a refusal and a line in the audit log.
//!
//! Where skyhold differs from the C library, and why:
//! - `currentdir` is the service's own current directory: it starts as the
//!   node's working directory (where relative paths are taken from), and
//!   `chdir` changes it for this service only, and only to a directory
//!   under a root. The process's directory is never changed (services
//!   share one process).
//! - `lock`/`unlock` lock the whole file (`flock`) whatever `start` and
//!   `length` say: a byte-range lock of the C library (`fcntl`) belongs to
//!   the process, so it would not keep two services apart.
//! - `dir` counts against `file_max_open` while it is open.
#![forbid(unsafe_code)]

mod attributes;
mod dirs;

use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use mlua::{Lua, MultiValue, Table, Value, Variadic};
use skyhold_core::Context;
use skyhold_lua::files::{self, Access, Fail, FileError, Named, Out, ServiceFiles, StringErrors};
use skyhold_lua::host::ModuleFactory;

/// The version string the module reports.
pub const VERSION: &str = "LuaFileSystem 1.8.0";

/// The `lfs` module factory, for the node's list of native modules.
pub fn module() -> ModuleFactory {
    Arc::new(|lua: &Lua, ctx: &Context| create(lua, files::of_or_none(lua, ctx)).map(Value::Table))
}

/// One function of the module.
type LfsFn = fn(&Lua, &Lfs, Variadic<Value>) -> Out;

/// What the functions share.
#[derive(Clone)]
pub(crate) struct Lfs {
    pub(crate) files: Arc<ServiceFiles>,
    pub(crate) errors: StringErrors,
}

/// A path argument, or Lua's error for a missing one.
pub(crate) fn path(args: &[Value], n: usize) -> Result<Vec<u8>, Fail> {
    let v = args.get(n - 1);
    v.and_then(files::path_arg)
        .ok_or_else(|| Fail::Arg(n, format!("string expected, got {}", files::type_name(v))))
}

/// `true`.
pub(crate) fn ok() -> Out {
    Ok(MultiValue::from_vec(vec![Value::Boolean(true)]))
}

/// The failure of a `pushresult`-style function: `nil, why, errno`, where
/// `why` is the system's text, or a refusal's (`path: not under…`).
pub(crate) fn fail(lua: &Lua, lfs: &Lfs, path: &[u8], e: &FileError) -> Out {
    let (msg, errno) = lfs.files.failure(path, e);
    let text = match e {
        FileError::Refused { .. } => msg,
        FileError::Io(_) => e.describe().0,
    };
    Ok(files::fail_result(lua, &text, errno)?)
}

impl Lfs {
    /// `f` as the library function `global` (`lfs.mkdir`), whose own
    /// name is `own` (`mkdir`): Lua names it by `global` in an argument
    /// error when its caller gives no name (a call through `pcall`).
    fn function(
        &self,
        lua: &Lua,
        global: &'static str,
        own: &'static str,
        f: LfsFn,
    ) -> mlua::Result<mlua::Function> {
        let lfs = self.clone();
        files::function(
            lua,
            &self.errors,
            Named::field(global, own),
            move |lua, args| f(lua, &lfs, args),
        )
    }
}

fn mkdir(lua: &Lua, lfs: &Lfs, args: Variadic<Value>) -> Out {
    use skyhold_lua::files::cap_std::fs::{DirBuilder, DirBuilderExt};
    let p = path(&args, 1)?;
    let r = match lfs.files.resolve(&p, Access::Write) {
        Ok(r) => r,
        Err(e) => return fail(lua, lfs, &p, &e),
    };
    let mut b = DirBuilder::new();
    b.mode(0o775);
    match r.dir().create_dir_with(r.rel(), &b) {
        Ok(()) => ok(),
        Err(e) => fail(lua, lfs, &p, &FileError::from_io(e, Access::Write)),
    }
}

fn rmdir(lua: &Lua, lfs: &Lfs, args: Variadic<Value>) -> Out {
    let p = path(&args, 1)?;
    let r = match lfs.files.resolve(&p, Access::Write) {
        Ok(r) => r,
        Err(e) => return fail(lua, lfs, &p, &e),
    };
    match r.dir().remove_dir(r.rel()) {
        Ok(()) => ok(),
        Err(e) => fail(lua, lfs, &p, &FileError::from_io(e, Access::Write)),
    }
}

fn seconds(v: Option<&Value>) -> Option<std::time::SystemTime> {
    let secs = match v? {
        Value::Integer(i) => *i as f64,
        Value::Number(n) => *n,
        Value::String(s) => s.to_str().ok()?.trim().parse().ok()?,
        _ => return None,
    };
    let d = std::time::Duration::from_secs_f64(secs.abs().trunc());
    Some(if secs < 0.0 {
        std::time::UNIX_EPOCH - d
    } else {
        std::time::UNIX_EPOCH + d
    })
}

fn touch(lua: &Lua, lfs: &Lfs, args: Variadic<Value>) -> Out {
    let p = path(&args, 1)?;
    let (atime, mtime) = if args.len() <= 1 {
        let now = std::time::SystemTime::now();
        (now, now)
    } else {
        let a = seconds(args.get(1)).unwrap_or(std::time::UNIX_EPOCH);
        let m = match args.get(2) {
            None | Some(Value::Nil) => a,
            v => seconds(v).unwrap_or(a),
        };
        (a, m)
    };
    let r = match lfs.files.resolve(&p, Access::Write) {
        Ok(r) => r,
        Err(e) => return fail(lua, lfs, &p, &e),
    };
    let file = match r.dir().open(r.rel()) {
        Ok(f) => f.into_std(),
        Err(e) => return fail(lua, lfs, &p, &FileError::from_io(e, Access::Write)),
    };
    let times = std::fs::FileTimes::new()
        .set_accessed(atime)
        .set_modified(mtime);
    match file.set_times(times) {
        Ok(()) => ok(),
        Err(e) => fail(lua, lfs, &p, &FileError::Io(e)),
    }
}

fn link(lua: &Lua, lfs: &Lfs, args: Variadic<Value>) -> Out {
    let old = path(&args, 1)?;
    let new = path(&args, 2)?;
    let symbolic = !matches!(args.get(2), None | Some(Value::Nil | Value::Boolean(false)));
    let to = match lfs.files.resolve(&new, Access::Write) {
        Ok(r) => r,
        Err(e) => return fail(lua, lfs, &new, &e),
    };
    let r = if symbolic {
        // The link's text is kept as given; it must name a place inside a
        // root, where any later open through a root can follow it.
        if !lfs.files.roots().link_target_inside(&to.full(), &old) {
            let e = FileError::Refused {
                action: files::roots::ACTION_WRITE,
                why: "a symlink may only point inside the file roots".into(),
                errno: files::roots::EACCES,
            };
            return fail(lua, lfs, &old, &e);
        }
        let target = std::path::Path::new(std::ffi::OsStr::from_bytes(&old));
        to.dir().symlink_contents(target, to.rel())
    } else {
        // A hard link shares the file: both names must be writable ones.
        let from = match lfs.files.resolve(&old, Access::Write) {
            Ok(r) => r,
            Err(e) => return fail(lua, lfs, &old, &e),
        };
        from.dir().hard_link(from.rel(), to.dir(), to.rel())
    };
    match r {
        Ok(()) => ok(),
        Err(e) => fail(lua, lfs, &new, &FileError::from_io(e, Access::Write)),
    }
}

fn currentdir(lua: &Lua, lfs: &Lfs, _: Variadic<Value>) -> Out {
    let cwd = lfs.files.cwd();
    Ok(MultiValue::from_vec(vec![Value::String(
        lua.create_string(cwd.as_os_str().as_bytes())?,
    )]))
}

fn chdir(lua: &Lua, lfs: &Lfs, args: Variadic<Value>) -> Out {
    let p = path(&args, 1)?;
    match files::is_dir_under_root(&lfs.files, &p) {
        Ok(dir) => {
            lfs.files.set_cwd(dir);
            ok()
        }
        Err(e) => {
            let (msg, _) = lfs.files.failure(&p, &e);
            let why = match &e {
                FileError::Refused { .. } => msg,
                FileError::Io(_) => e.describe().0,
            };
            let text = format!(
                "Unable to change working directory to '{}'\n{why}\n",
                files::show_path(&p)
            );
            Ok(MultiValue::from_vec(vec![
                Value::Nil,
                Value::String(lua.create_string(text)?),
            ]))
        }
    }
}

fn setmode(lua: &Lua, _: &Lfs, args: Variadic<Value>) -> Out {
    dirs::check_file(&args, "setmode")?;
    match args.get(1).and_then(files::path_arg).as_deref() {
        Some(b"binary") | Some(b"text") => Ok(MultiValue::from_vec(vec![
            Value::Boolean(true),
            Value::String(lua.create_string("binary")?),
        ])),
        Some(other) => Err(Fail::Arg(
            2,
            format!("invalid option '{}'", String::from_utf8_lossy(other)),
        )),
        None => Err(Fail::Arg(
            2,
            format!("string expected, got {}", files::type_name(args.get(1))),
        )),
    }
}

/// Builds `lfs` for one service.
pub fn create(lua: &Lua, files: Arc<ServiceFiles>) -> mlua::Result<Table> {
    let lfs = Lfs {
        files,
        errors: StringErrors::new(lua)?,
    };
    dirs::register(lua, &lfs)?;
    let t = lua.create_table()?;
    let fns: [(&'static str, &'static str, LfsFn); 13] = [
        ("lfs.attributes", "attributes", attributes::attributes),
        (
            "lfs.symlinkattributes",
            "symlinkattributes",
            attributes::symlinkattributes,
        ),
        ("lfs.chdir", "chdir", chdir),
        ("lfs.currentdir", "currentdir", currentdir),
        ("lfs.dir", "dir", dirs::dir),
        ("lfs.link", "link", link),
        ("lfs.lock", "lock", dirs::lock),
        ("lfs.unlock", "unlock", dirs::unlock),
        ("lfs.lock_dir", "lock_dir", dirs::lock_dir),
        ("lfs.mkdir", "mkdir", mkdir),
        ("lfs.rmdir", "rmdir", rmdir),
        ("lfs.setmode", "setmode", setmode),
        ("lfs.touch", "touch", touch),
    ];
    for (global, name, f) in fns {
        t.raw_set(name, lfs.function(lua, global, name, f)?)?;
    }
    t.raw_set("_VERSION", VERSION)?;
    t.raw_set(
        "_DESCRIPTION",
        "LuaFileSystem is a Lua library developed to complement the set of functions \
         related to file systems offered by the standard Lua distribution",
    )?;
    // The C library sets the global too.
    lua.globals().set("lfs", t.clone())?;
    Ok(t)
}

#[cfg(test)]
mod tests;
