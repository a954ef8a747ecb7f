//! `lfs.dir` (the iterator and the directory object), file locks
//! (`lock`, `unlock`) and directory locks (`lock_dir`).

use std::os::unix::ffi::OsStrExt;
use std::sync::Arc;

use mlua::{AnyUserData, Lua, MetaMethod, MultiValue, UserData, UserDataMethods, Value, Variadic};
use rustix::fs::FlockOperation;
use skyhold_lua::budget::Budget;
use skyhold_lua::files::cap_std::fs::ReadDir;
use skyhold_lua::files::{self, Access, Fail, FileError, Named, OpenSlot, Out, ServiceFiles};

use crate::{ok, path, Lfs};

const DIR_METHODS: &str = "skyhold.lfs.dir";
const LOCK_METHODS: &str = "skyhold.lfs.lock";

/// An open directory of `lfs.dir`.
pub struct DirObject {
    /// `.` and `..`, which `readdir` gives and Rust's listing leaves out.
    dots: Vec<&'static str>,
    entries: Option<ReadDir>,
    slot: Option<OpenSlot>,
}

impl DirObject {
    fn close(&mut self) {
        self.entries = None;
        self.slot = None;
    }
}

fn index_from(registry_key: &'static str) -> impl Fn(&Lua, (Value, Value)) -> mlua::Result<Value> {
    move |lua, (_, key)| {
        let methods: mlua::Table = lua.named_registry_value(registry_key)?;
        methods.raw_get::<Value>(key)
    }
}

impl UserData for DirObject {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_meta_function(MetaMethod::Index, index_from(DIR_METHODS));
        m.add_meta_method_mut(MetaMethod::Close, |_, this, _: MultiValue| {
            this.close();
            Ok(())
        });
    }
}

/// `dir_obj:next()` and the iterator: the next name, or nothing at the end
/// (which closes the directory).
fn dir_next(lua: &Lua, args: &[Value]) -> Out {
    let ud = match args.first() {
        Some(Value::UserData(ud)) if ud.is::<DirObject>() => ud.clone(),
        other => {
            return Err(Fail::Arg(
                1,
                format!(
                    "directory metatable expected, got {}",
                    files::type_name(other)
                ),
            ))
        }
    };
    if let Some(b) = Budget::of(lua) {
        b.charge(1)?;
    }
    let mut d = ud.borrow_mut::<DirObject>()?;
    if d.entries.is_none() {
        return Err(Fail::Arg(1, "closed directory".into()));
    }
    if let Some(dot) = d.dots.pop() {
        return Ok(MultiValue::from_vec(vec![Value::String(
            lua.create_string(dot)?,
        )]));
    }
    let next = d.entries.as_mut().and_then(Iterator::next);
    match next {
        Some(Ok(entry)) => {
            let name = entry.file_name();
            Ok(MultiValue::from_vec(vec![Value::String(
                lua.create_string(name.as_bytes())?,
            )]))
        }
        Some(Err(e)) => Ok(files::fail_result(lua, &FileError::Io(e).describe().0, 0)?),
        None => {
            d.close();
            Ok(MultiValue::new())
        }
    }
}

fn dir_close(_: &Lua, args: &[Value]) -> Out {
    if let Some(Value::UserData(ud)) = args.first() {
        if let Ok(mut d) = ud.borrow_mut::<DirObject>() {
            d.close();
        }
    }
    Ok(MultiValue::new())
}

/// `lfs.dir(path)`: `iter, dir_obj` (and `nil, dir_obj` for the generic
/// `for`'s closing value).
pub(crate) fn dir(lua: &Lua, lfs: &Lfs, args: Variadic<Value>) -> Out {
    let p = path(&args, 1)?;
    let opened = lfs.files.slot().and_then(|slot| {
        let r = lfs.files.resolve(&p, Access::Read)?;
        let entries = r
            .dir()
            .read_dir(r.rel())
            .map_err(|e| FileError::from_io(e, Access::Read))?;
        Ok(DirObject {
            dots: vec!["..", "."],
            entries: Some(entries),
            slot: Some(slot),
        })
    });
    let d = match opened {
        Ok(d) => d,
        Err(e) => {
            lfs.files.failure(&p, &e);
            return Err(Fail::Raise(format!(
                "cannot open {}: {}",
                files::show_path(&p),
                e.describe().0
            )));
        }
    };
    let ud = lua.create_userdata(d)?;
    let methods: mlua::Table = lua.named_registry_value(DIR_METHODS)?;
    let iter: Value = methods.raw_get("next")?;
    Ok(MultiValue::from_vec(vec![
        iter,
        Value::UserData(ud.clone()),
        Value::Nil,
        Value::UserData(ud),
    ]))
}

/// Lua's error for something that is no open io file, as `lfs` says it.
pub(crate) fn check_file(args: &[Value], func: &str) -> Result<(), Fail> {
    let first = args.first().cloned().unwrap_or(Value::Nil);
    match files::with_open_file(&first, |_| ()) {
        None => Err(Fail::Arg(
            1,
            format!("FILE* expected, got {}", files::type_name(args.first())),
        )),
        Some(None) => Err(Fail::Raise(format!("{func}: closed file"))),
        Some(Some(())) => Ok(()),
    }
}

fn flock(lua: &Lua, args: &[Value], op: FlockOperation, func: &str) -> Out {
    check_file(args, func)?;
    let r = files::with_open_file(&args[0], |f| rustix::fs::flock(f, op))
        .flatten()
        .unwrap_or(Ok(()));
    match r {
        Ok(()) => ok(),
        Err(e) => {
            let text = files::roots::strerror(&std::io::Error::from(e));
            Ok(MultiValue::from_vec(vec![
                Value::Nil,
                Value::String(lua.create_string(text)?),
            ]))
        }
    }
}

/// `lfs.lock(file, mode [, start [, length]])`: the whole file (see the
/// crate's notes), shared for `r`, exclusive for `w`, never waiting.
pub(crate) fn lock(lua: &Lua, _: &Lfs, args: Variadic<Value>) -> Out {
    check_file(&args, "lock")?;
    let mode = args.get(1).and_then(files::path_arg).ok_or_else(|| {
        Fail::Arg(
            2,
            format!("string expected, got {}", files::type_name(args.get(1))),
        )
    })?;
    let op = match mode.first() {
        Some(b'r') => FlockOperation::NonBlockingLockShared,
        Some(b'w') => FlockOperation::NonBlockingLockExclusive,
        _ => return Err(Fail::Raise("lock: invalid mode".into())),
    };
    flock(lua, &args, op, "lock")
}

/// `lfs.unlock(file [, start [, length]])`.
pub(crate) fn unlock(lua: &Lua, _: &Lfs, args: Variadic<Value>) -> Out {
    flock(lua, &args, FlockOperation::Unlock, "unlock")
}

/// A lock of `lfs.lock_dir`: the symlink `lockfile.lfs`, removed by
/// `free` or when collected.
pub struct DirLock {
    files: Arc<ServiceFiles>,
    /// The lock file's whole path, while held.
    path: Option<Vec<u8>>,
}

impl DirLock {
    fn free(&mut self) {
        if let Some(p) = self.path.take() {
            if let Ok(r) = self.files.resolve(&p, Access::Write) {
                let _ = r.dir().remove_file(r.rel());
            }
        }
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        self.free();
    }
}

impl UserData for DirLock {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_meta_function(MetaMethod::Index, index_from(LOCK_METHODS));
    }
}

/// `lfs.lock_dir(path [, seconds_stale])`: a lock object, or `nil` and
/// the system's message (`File exists` while another holds it).
pub(crate) fn lock_dir(lua: &Lua, lfs: &Lfs, args: Variadic<Value>) -> Out {
    let mut p = path(&args, 1)?;
    p.extend_from_slice(b"/lockfile.lfs");
    let made = lfs.files.resolve(&p, Access::Write).and_then(|r| {
        r.dir()
            .symlink_contents("lock", r.rel())
            .map_err(|e| FileError::from_io(e, Access::Write))?;
        Ok(r.full().as_os_str().as_bytes().to_vec())
    });
    match made {
        Ok(full) => {
            let ud = lua.create_userdata(DirLock {
                files: lfs.files.clone(),
                path: Some(full),
            })?;
            Ok(MultiValue::from_vec(vec![Value::UserData(ud)]))
        }
        Err(e) => {
            let (msg, _) = lfs.files.failure(&p, &e);
            let text = match e {
                FileError::Refused { .. } => msg,
                FileError::Io(_) => e.describe().0,
            };
            Ok(MultiValue::from_vec(vec![
                Value::Nil,
                Value::String(lua.create_string(text)?),
            ]))
        }
    }
}

/// Registers the methods of directory objects and directory locks.
pub(crate) fn register(lua: &Lua, lfs: &Lfs) -> mlua::Result<()> {
    let dir_methods = lua.create_table()?;
    dir_methods.raw_set(
        "next",
        files::function(lua, &lfs.errors, Named::method("next"), |lua, args| {
            dir_next(lua, &args)
        })?,
    )?;
    dir_methods.raw_set(
        "close",
        files::function(lua, &lfs.errors, Named::method("close"), |lua, args| {
            dir_close(lua, &args)
        })?,
    )?;
    lua.set_named_registry_value(DIR_METHODS, dir_methods)?;
    let lock_methods = lua.create_table()?;
    lock_methods.raw_set(
        "free",
        lua.create_function(|_, ud: AnyUserData| {
            if let Ok(mut l) = ud.borrow_mut::<DirLock>() {
                l.free();
            }
            Ok(())
        })?,
    )?;
    lua.set_named_registry_value(LOCK_METHODS, lock_methods)
}
