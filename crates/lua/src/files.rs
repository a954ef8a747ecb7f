//! File access for services, confined to the node's file roots.
//!
//! With no root configured a service reaches no file (`io` is absent, as
//! before). The config names read-only roots (`file_read_roots`) and at
//! most one writable root (`file_write_root`); [`FileRoots`] finds a path
//! a service names in one of them, and opens it through the root's
//! directory handle so that no `..`, symlink or swapped path leads out
//! (see [`roots`]). Every refusal is an error to the caller that names the
//! key to change, a line in the audit log and a count.
//!
//! Two things use it: the sandbox's `io` library ([`iolib`]: `io.open`,
//! `io.lines`, `io.type` and Lua's file methods), and native modules such
//! as `lfs`, which take the service's [`ServiceFiles`] with [`of`] and go
//! through [`ServiceFiles::resolve`] and [`ServiceFiles::failure`].

pub mod iolib;
pub mod roots;
pub mod stream;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use mlua::{Lua, MultiValue, Table, Value};
use parking_lot::Mutex;
use skyhold_core::Context;

pub use cap_std;
pub use iolib::with_open_file;
pub use roots::{Access, FileError, FileRoots, Resolved, ACTION_LIMIT, EMFILE};

/// One service's view of the roots: its current directory (`lfs.chdir`
/// changes it for this service alone), its open files, and who to name in
/// the audit log.
pub struct ServiceFiles {
    roots: Arc<FileRoots>,
    cwd: Mutex<PathBuf>,
    open: AtomicUsize,
    ctx: Mutex<Option<Context>>,
}

impl ServiceFiles {
    /// A service's view of `roots`, starting in their start directory.
    pub fn new(roots: Arc<FileRoots>) -> Arc<ServiceFiles> {
        Arc::new(ServiceFiles {
            cwd: Mutex::new(roots.start_dir().to_path_buf()),
            roots,
            open: AtomicUsize::new(0),
            ctx: Mutex::new(None),
        })
    }

    /// Names the service refusals are written against.
    pub fn bind(&self, ctx: Context) {
        *self.ctx.lock() = Some(ctx);
    }

    /// The node's roots.
    pub fn roots(&self) -> &FileRoots {
        &self.roots
    }

    /// The directory relative paths are taken against.
    pub fn cwd(&self) -> PathBuf {
        self.cwd.lock().clone()
    }

    /// Changes it (for this service only).
    pub fn set_cwd(&self, dir: PathBuf) {
        *self.cwd.lock() = dir;
    }

    /// Finds `path` in a root that allows `access`.
    pub fn resolve(&self, path: &[u8], access: Access) -> Result<Resolved<'_>, FileError> {
        let cwd = self.cwd();
        self.roots.resolve(&cwd, path, access)
    }

    /// The message (`path: why`) and errno the caller gets for `e`; a
    /// refusal is also counted and written to the audit log.
    pub fn failure(&self, path: &[u8], e: &FileError) -> (String, i32) {
        let shown = show_path(path);
        let (why, errno) = e.describe();
        if let FileError::Refused { action, why, .. } = e {
            self.roots.count_refusal(e);
            if let Some(ctx) = self.ctx.lock().as_ref() {
                ctx.node().audit_refused(ctx.handle(), action, &shown, why);
            }
        }
        (format!("{shown}: {why}"), errno)
    }

    /// Takes one of the service's open-file places (`file_max_open`),
    /// given back when the returned slot is dropped.
    pub fn slot(self: &Arc<Self>) -> Result<OpenSlot, FileError> {
        let max = self.roots.max_open;
        let taken = self
            .open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            });
        match taken {
            Ok(_) => {
                self.roots.count_open();
                Ok(OpenSlot(self.clone()))
            }
            Err(_) => Err(FileError::Refused {
                action: ACTION_LIMIT,
                why: format!("too many open files in this service (file_max_open = {max})"),
                errno: EMFILE,
            }),
        }
    }

    /// Files (and directory iterators) open now.
    pub fn open_count(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// The error of a read call that would pass `file_max_read`, audited.
    pub fn read_limit(&self, what: &str) -> String {
        let max = self.roots.max_read;
        let why = format!("more than {max} bytes in one call (file_max_read)");
        let e = FileError::Refused {
            action: ACTION_LIMIT,
            why: why.clone(),
            errno: 0,
        };
        self.failure(what.as_bytes(), &e);
        format!("{what}: {why}")
    }
}

/// One open file's place in its service's count.
pub struct OpenSlot(Arc<ServiceFiles>);

impl Drop for OpenSlot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
    }
}

impl std::fmt::Debug for OpenSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpenSlot")
    }
}

/// A path as messages show it: a NUL byte written `\0`.
pub fn show_path(path: &[u8]) -> String {
    String::from_utf8_lossy(path).replace('\0', "\\0")
}

/// The service's file view in `lua`, if the sandbox was given roots.
pub fn of(lua: &Lua) -> Option<Arc<ServiceFiles>> {
    lua.app_data_ref::<Arc<ServiceFiles>>().map(|f| f.clone())
}

/// The service's file view, or one that reaches nothing (for a module such
/// as `lfs` required where no root is configured: each call is refused
/// with the key to set).
pub fn of_or_none(lua: &Lua, ctx: &Context) -> Arc<ServiceFiles> {
    of(lua).unwrap_or_else(|| {
        let f = ServiceFiles::new(Arc::new(FileRoots::default()));
        f.bind(ctx.clone());
        f
    })
}

/// Puts `io` in a sandboxed state whose node has file roots.
pub fn install(lua: &Lua, roots: Arc<FileRoots>) -> mlua::Result<()> {
    let files = ServiceFiles::new(roots);
    lua.set_app_data(files.clone());
    let io = iolib::create(lua, files)?;
    lua.globals().set("io", io)
}

/// Names the service behind `lua`'s file access, once it has one.
pub fn bind(lua: &Lua, ctx: &Context) {
    if let Some(f) = of(lua) {
        f.bind(ctx.clone());
    }
}

/// Raising Lua's own error strings from Rust.
///
/// Errors returned from Rust reach Lua as userdata, but code matches on
/// error text (`err:find(...)`); so a function returns [`StringErrors::raise`]'s
/// marker and the message, and [`StringErrors::wrap`] puts a Lua wrapper
/// around it that raises the message as a plain string, at the position of
/// the caller (as C functions' errors are).
#[derive(Clone)]
pub struct StringErrors {
    mark: Table,
    wrap: mlua::Function,
    relay: mlua::Function,
}

const WRAP_CHUNK: &str = r#"
local mark = ...
local error, select = error, select
local function relay(...)
	if (...) == mark then
		-- Level 2: relay is tail-called in place of the wrapper, so this
		-- is the wrapper's caller, where C functions' errors point.
		error((select(2, ...)), 2)
	end
	-- All the results, and no more: a function returning nothing (as
	-- lfs's dir:close does) returns nothing, not nil.
	return ...
end
return function(f)
	return function(...)
		return relay(f(...))
	end
end, relay
"#;

impl StringErrors {
    /// The marker and the wrapper, for one state.
    pub fn new(lua: &Lua) -> mlua::Result<StringErrors> {
        let mark = lua.create_table()?;
        let (wrap, relay) =
            crate::codecache::internal(lua, "=files", WRAP_CHUNK)?
                .call::<(mlua::Function, mlua::Function)>(mark.clone())?;
        Ok(StringErrors { mark, wrap, relay })
    }

    /// What a wrapped function returns to raise `msg`.
    pub fn raise(&self, lua: &Lua, msg: &str) -> mlua::Result<MultiValue> {
        Ok(MultiValue::from_vec(vec![
            Value::Table(self.mark.clone()),
            Value::String(lua.create_string(msg)?),
        ]))
    }

    /// The Lua function a wrapper of its own tail-calls with the results of
    /// the raw function, to raise its message if it raised one.
    pub fn relay(&self) -> &mlua::Function {
        &self.relay
    }

    /// `f`, wrapped so that its raised messages are plain strings.
    pub fn wrap(&self, f: mlua::Function) -> mlua::Result<mlua::Function> {
        self.wrap.call(f)
    }
}

/// A failure inside a library function: an error to raise (as a string),
/// a bad argument, or one of mlua's own (memory, budget) passed on as it
/// is.
pub enum Fail {
    /// Raise this message.
    Raise(String),
    /// A bad argument: its number (self counted) and what is wrong.
    Arg(usize, String),
    /// mlua's error, unchanged.
    Lua(mlua::Error),
}

impl From<mlua::Error> for Fail {
    fn from(e: mlua::Error) -> Self {
        Fail::Lua(e)
    }
}

/// What a library function returns.
pub type Out = Result<MultiValue, Fail>;

/// A Rust function whose [`Fail`]s become `errors`' marker and message
/// (to be wrapped with [`StringErrors::wrap`], or relayed by a wrapper of
/// its own).
pub fn raw_function<F>(
    lua: &Lua,
    errors: &StringErrors,
    named: Named,
    f: F,
) -> mlua::Result<mlua::Function>
where
    F: Fn(&Lua, mlua::Variadic<Value>) -> Out + Send + 'static,
{
    let errors = errors.clone();
    lua.create_function(move |lua, args: mlua::Variadic<Value>| match f(lua, args) {
        Ok(v) => Ok(v),
        Err(Fail::Raise(msg)) => errors.raise(lua, &msg),
        Err(Fail::Arg(n, msg)) => {
            let text = bad_argument(lua, 1, &named, n, &msg);
            errors.raise(lua, &text)
        }
        Err(Fail::Lua(e)) => Err(e),
    })
}

/// A library function: [`raw_function`], wrapped.
pub fn function<F>(
    lua: &Lua,
    errors: &StringErrors,
    named: Named,
    f: F,
) -> mlua::Result<mlua::Function>
where
    F: Fn(&Lua, mlua::Variadic<Value>) -> Out + Send + 'static,
{
    errors.wrap(raw_function(lua, errors, named, f)?)
}

/// `nil, message, errno`: how Lua's file functions fail.
pub fn fail_result(lua: &Lua, msg: &str, errno: i32) -> mlua::Result<MultiValue> {
    Ok(MultiValue::from_vec(vec![
        Value::Nil,
        Value::String(lua.create_string(msg)?),
        Value::Integer(i64::from(errno)),
    ]))
}

/// A path argument as Lua's `luaL_checkstring` takes it (a string, or a
/// number as text); `None` for anything else.
pub fn path_arg(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::Integer(i) => Some(i.to_string().into_bytes()),
        Value::Number(n) => Some(
            Value::Number(*n)
                .to_string()
                .unwrap_or_default()
                .into_bytes(),
        ),
        _ => None,
    }
}

/// The type name Lua's argument errors give (`no value` for a missing one).
pub fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "no value",
        Some(Value::Integer(_) | Value::Number(_)) => "number",
        Some(Value::LightUserData(_)) => "userdata",
        Some(v) => v.type_name(),
    }
}

/// How Lua would name a library function in its argument errors.
#[derive(Clone, Copy, Debug)]
pub struct Named {
    /// The name Lua finds for it in the loaded modules (`io.open`), used
    /// when the caller gives none (a call from `pcall`); `None` for
    /// methods, which Lua then calls `?`.
    pub global: Option<&'static str>,
    /// Its own name (`read`), for a call Lua would name but a tail call
    /// through the Lua wrapper hides.
    pub own: &'static str,
    /// Whether it is usually called as a method (`f:read`).
    pub method: bool,
}

impl Named {
    /// A function of a library table (`io.open`: `Named::field("io.open", "open")`).
    pub const fn field(global: &'static str, own: &'static str) -> Named {
        Named {
            global: Some(global),
            own,
            method: false,
        }
    }

    /// A method (`f:read`).
    pub const fn method(own: &'static str) -> Named {
        Named {
            global: None,
            own,
            method: true,
        }
    }
}

/// Lua's `bad argument #n to 'f' (msg)` for argument `n` (self counted)
/// of the function `level` frames up the stack (1: the Lua wrapper of the
/// Rust function raising it), named as Lua names it: by how its caller
/// called it, a method call not counting self; else by its global name;
/// else `?`.
pub fn bad_argument(lua: &Lua, level: usize, named: &Named, n: usize, msg: &str) -> String {
    let (name, what) = lua
        .inspect_stack(level, |d| {
            if d.is_tail_call() {
                // The caller's frame is gone; Lua, which does not tail-call
                // C functions, would have seen the usual call.
                let what = if named.method { "method" } else { "field" };
                return (Some(named.own.to_string()), Some(what));
            }
            let names = d.names();
            (names.name.map(|s| s.into_owned()), names.name_what)
        })
        .unwrap_or((None, None));
    let mut n = n;
    if what == Some("method") {
        n -= 1;
        if n == 0 {
            return format!(
                "calling '{}' on bad self ({msg})",
                name.as_deref().unwrap_or("?")
            );
        }
    }
    let name = name.as_deref().or(named.global).unwrap_or("?");
    format!("bad argument #{n} to '{name}' ({msg})")
}

/// The directory `dir` names, if it may be a service's current directory:
/// it resolves for reading and is a directory.
pub fn is_dir_under_root(files: &ServiceFiles, dir: &[u8]) -> Result<PathBuf, FileError> {
    let r = files.resolve(dir, Access::Read)?;
    let meta = r
        .dir()
        .metadata(r.rel())
        .map_err(|e| FileError::from_io(e, Access::Read))?;
    if !meta.is_dir() {
        // ENOTDIR
        return Err(FileError::Io(std::io::Error::from_raw_os_error(20)));
    }
    Ok(r.full())
}

#[cfg(test)]
mod tests;

/// The process's working directory (`/` if it cannot be read): where
/// relative paths services name start from, as in skynet.
pub fn process_dir() -> PathBuf {
    std::env::current_dir().unwrap_or_else(|_| Path::new("/").to_path_buf())
}
