//! The sandbox's `io`: `io.open`, `io.lines`, `io.type`, `io.close` and
//! the file methods (`read`, `lines`, `write`, `seek`, `flush`, `close`,
//! `setvbuf`), with Lua's results and error messages, over files found in
//! the node's roots.
//!
//! Services have no standard input or output: `io.read`, `io.write`,
//! `io.input`, `io.output`, `io.popen` and `io.tmpfile` raise an error that
//! says so (`print` and `skynet.error` write to the node's log).

use std::io::SeekFrom;
use std::sync::Arc;

use mlua::{
    AnyUserData, Function, Lua, MetaMethod, MultiValue, Table, UserData, UserDataMethods, Value,
    Variadic,
};

use super::roots::Access;
use super::stream::{Buffering, ReadError, Stream};
use super::{
    fail_result, path_arg, type_name, Fail, Named, OpenSlot, Out, ServiceFiles, StringErrors,
};
use crate::budget::Budget;

/// Formats `lines` may take (Lua's `MAXARGLINE`).
const MAX_LINE_FORMATS: usize = 250;
/// Bytes per budget step charged for reading and writing.
const BYTES_PER_STEP: usize = 64;

/// An open file of the io library (Lua's `FILE*`).
pub struct LuaFile {
    stream: Option<Stream>,
    slot: Option<OpenSlot>,
}

impl UserData for LuaFile {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_meta_function(MetaMethod::Index, |lua, (_, key): (Value, Value)| {
            let methods: Table = lua.named_registry_value(METHODS_KEY)?;
            methods.raw_get::<Value>(key)
        });
        m.add_meta_function(MetaMethod::ToString, |_, ud: AnyUserData| {
            let closed = ud.borrow::<LuaFile>()?.stream.is_none();
            Ok(if closed {
                "file (closed)".to_string()
            } else {
                format!("file ({:p})", ud.to_pointer())
            })
        });
        m.add_meta_method_mut(MetaMethod::Close, |_, this, _: MultiValue| {
            let _ = this.close_now();
            Ok(())
        });
    }
}

impl LuaFile {
    fn close_now(&mut self) -> std::io::Result<()> {
        let r = match self.stream.as_mut() {
            Some(s) => s.flush(),
            None => Ok(()),
        };
        self.stream = None;
        self.slot = None;
        r
    }
}

/// Runs `f` on the system file behind a value of the io library: `None`
/// if `v` is no file, `Some(None)` if it is closed (for `lfs.lock`).
pub fn with_open_file<R>(v: &Value, f: impl FnOnce(&std::fs::File) -> R) -> Option<Option<R>> {
    let Value::UserData(ud) = v else {
        return None;
    };
    let file = ud.borrow::<LuaFile>().ok()?;
    Some(file.stream.as_ref().map(|s| f(s.file())))
}

const METHODS_KEY: &str = "skyhold.io.methods";

/// Everything the functions share.
#[derive(Clone)]
struct Io {
    files: Arc<ServiceFiles>,
    errors: StringErrors,
    tonumber: Function,
}

impl Io {
    /// The raw function (returning [`StringErrors`]'s marker to raise).
    fn raw<F>(&self, lua: &Lua, named: Named, f: F) -> mlua::Result<Function>
    where
        F: Fn(&Lua, &Io, Variadic<Value>) -> Out + Send + 'static,
    {
        let io = self.clone();
        super::raw_function(lua, &self.errors, named, move |lua, args| f(lua, &io, args))
    }

    /// A function of the library, wrapped.
    fn function<F>(&self, lua: &Lua, named: Named, f: F) -> mlua::Result<Function>
    where
        F: Fn(&Lua, &Io, Variadic<Value>) -> Out + Send + 'static,
    {
        self.errors.wrap(self.raw(lua, named, f)?)
    }

    fn charge(&self, lua: &Lua, bytes: usize) -> Result<(), Fail> {
        if let Some(b) = Budget::of(lua) {
            b.charge(1 + (bytes / BYTES_PER_STEP) as i64)?;
        }
        Ok(())
    }
}

/// The file a method was called on, or Lua's errors for no file or a
/// closed one.
fn this_file(args: &[Value]) -> Result<AnyUserData, Fail> {
    match args.first() {
        Some(Value::UserData(ud)) if ud.is::<LuaFile>() => {
            if ud.borrow::<LuaFile>().map_err(Fail::Lua)?.stream.is_none() {
                return Err(Fail::Raise("attempt to use a closed file".into()));
            }
            Ok(ud.clone())
        }
        other => Err(Fail::Arg(
            1,
            format!("FILE* expected, got {}", type_name(other)),
        )),
    }
}

/// Runs `f` on the open stream of `ud`.
fn with_stream<R>(ud: &AnyUserData, f: impl FnOnce(&mut Stream) -> R) -> Result<R, Fail> {
    let mut file = ud.borrow_mut::<LuaFile>().map_err(Fail::Lua)?;
    match file.stream.as_mut() {
        Some(s) => Ok(f(s)),
        None => Err(Fail::Raise("attempt to use a closed file".into())),
    }
}

fn values(v: Vec<Value>) -> MultiValue {
    MultiValue::from_vec(v)
}

/// `nil, strerror, errno` for a system error with no file name.
fn io_fail(lua: &Lua, e: &std::io::Error) -> Out {
    Ok(fail_result(
        lua,
        &super::roots::strerror(e),
        e.raw_os_error().unwrap_or(0),
    )?)
}

/// One read format, checked.
enum Format {
    Number,
    Line(bool),
    All,
    Count(usize),
}

fn format_of(v: &Value, argn: usize) -> Result<Format, Fail> {
    match v {
        Value::Integer(n) => Ok(Format::Count(usize::try_from(*n).unwrap_or(usize::MAX))),
        Value::Number(n) if n.fract() == 0.0 => Ok(Format::Count(if *n < 0.0 {
            usize::MAX
        } else {
            *n as usize
        })),
        Value::String(s) => {
            let b = s.as_bytes();
            let b: &[u8] = b.strip_prefix(b"*").unwrap_or(&b);
            match b.first() {
                Some(b'n') => Ok(Format::Number),
                Some(b'l') => Ok(Format::Line(false)),
                Some(b'L') => Ok(Format::Line(true)),
                Some(b'a') => Ok(Format::All),
                _ => Err(Fail::Arg(argn, "invalid format".into())),
            }
        }
        Value::Number(_) => Err(Fail::Arg(
            argn,
            "number has no integer representation".into(),
        )),
        other => Err(Fail::Arg(
            argn,
            format!("string expected, got {}", type_name(Some(other))),
        )),
    }
}

/// What one format read, before it is a Lua value.
enum Got {
    Bytes(Vec<u8>),
    Numeral(Vec<u8>),
    Nothing,
}

/// Lua's `g_read`: each format in turn, stopping at the first that finds
/// nothing (a `nil` in its place). `first_arg` is the argument number of
/// the first format in error messages.
fn read_formats(
    lua: &Lua,
    io: &Io,
    ud: &AnyUserData,
    formats: &[Value],
    first_arg: usize,
    func: &str,
) -> Out {
    let checked: Vec<Format> = if formats.is_empty() {
        vec![Format::Line(false)]
    } else {
        formats
            .iter()
            .enumerate()
            .map(|(i, f)| format_of(f, first_arg + i))
            .collect::<Result<_, _>>()?
    };
    let max = io.files.roots().max_read;
    let mut limit = max;
    let mut out = Vec::new();
    for format in checked {
        let got = with_stream(ud, |s| -> Result<Got, ReadError> {
            let some = |v: Option<Vec<u8>>| v.map_or(Got::Nothing, Got::Bytes);
            Ok(match format {
                Format::Line(keep) => some(s.read_line(keep, &mut limit)?),
                Format::All => Got::Bytes(s.read_all(&mut limit)?),
                Format::Count(0) => some((!s.at_eof()?).then(Vec::new)),
                Format::Count(n) => some(s.read_chars(n, &mut limit)?),
                Format::Number => s.read_numeral()?.map_or(Got::Nothing, Got::Numeral),
            })
        })?;
        let got = match got {
            Ok(g) => g,
            Err(ReadError::Io(e)) => return io_fail(lua, &e),
            Err(ReadError::Limit) => return Err(Fail::Raise(io.files.read_limit(func))),
        };
        io.charge(lua, max - limit)?;
        let value = match got {
            Got::Bytes(b) => Value::String(lua.create_string(&b)?),
            Got::Numeral(b) => io.tonumber.call::<Value>(lua.create_string(&b)?)?,
            Got::Nothing => Value::Nil,
        };
        let stop = value.is_nil();
        out.push(value);
        if stop {
            break;
        }
    }
    io.files.roots().count_read(max - limit);
    Ok(values(out))
}

/// `io.open`'s mode: what it opens for.
struct Mode {
    read: bool,
    write: bool,
    append: bool,
    truncate: bool,
    create: bool,
}

/// Lua's mode check: `r`, `w` or `a`, an optional `+`, then only `b`s.
fn parse_mode(mode: &[u8]) -> Option<Mode> {
    let (&first, rest) = mode.split_first()?;
    let (plus, rest) = match rest.split_first() {
        Some((b'+', r)) => (true, r),
        _ => (false, rest),
    };
    if !rest.iter().all(|&c| c == b'b') {
        return None;
    }
    let m = match first {
        b'r' => Mode {
            read: true,
            write: plus,
            append: false,
            truncate: false,
            create: false,
        },
        b'w' => Mode {
            read: plus,
            write: true,
            append: false,
            truncate: true,
            create: true,
        },
        b'a' => Mode {
            read: plus,
            write: true,
            append: true,
            truncate: false,
            create: true,
        },
        _ => return None,
    };
    Some(m)
}

/// Opens `path` with `mode` for the service: a file userdata, or
/// `Err((message, errno))`.
fn open_file(
    lua: &Lua,
    io: &Io,
    path: &[u8],
    mode: &Mode,
) -> mlua::Result<Result<AnyUserData, (String, i32)>> {
    let slot = match io.files.slot() {
        Ok(s) => s,
        Err(e) => return Ok(Err(io.files.failure(path, &e))),
    };
    let mut o = cap_std::fs::OpenOptions::new();
    o.read(mode.read)
        .write(mode.write && !mode.append)
        .append(mode.append)
        .truncate(mode.truncate)
        .create(mode.create);
    let access = if mode.write {
        Access::Write
    } else {
        Access::Read
    };
    let cwd = io.files.cwd();
    match io.files.roots().open(&cwd, path, &o, access) {
        Ok(f) => {
            let ud = lua.create_userdata(LuaFile {
                stream: Some(Stream::new(f, mode.read, mode.write)),
                slot: Some(slot),
            })?;
            Ok(Ok(ud))
        }
        Err(e) => Ok(Err(io.files.failure(path, &e))),
    }
}

fn io_open(lua: &Lua, io: &Io, args: Variadic<Value>) -> Out {
    let path = path_arg_or_raise(args.first(), 1)?;
    let mode = match args.get(1) {
        None | Some(Value::Nil) => b"r".to_vec(),
        Some(v) => path_arg(v)
            .ok_or_else(|| Fail::Arg(2, format!("string expected, got {}", type_name(Some(v)))))?,
    };
    let Some(mode) = parse_mode(&mode) else {
        return Err(Fail::Arg(2, "invalid mode".into()));
    };
    match open_file(lua, io, &path, &mode)? {
        Ok(ud) => Ok(values(vec![Value::UserData(ud)])),
        Err((msg, errno)) => Ok(fail_result(lua, &msg, errno)?),
    }
}

fn path_arg_or_raise(v: Option<&Value>, n: usize) -> Result<Vec<u8>, Fail> {
    v.and_then(path_arg)
        .ok_or_else(|| Fail::Arg(n, format!("string expected, got {}", type_name(v))))
}

/// The iterator of `lines`: reads `formats` each call; at the end of the
/// file returns nothing (closing the file if `io.lines` opened it).
fn lines_iterator(
    lua: &Lua,
    io: &Io,
    ud: AnyUserData,
    formats: Vec<Value>,
    to_close: bool,
) -> mlua::Result<Function> {
    io.function(lua, Named::method("lines"), move |lua, io, _| {
        if ud.borrow::<LuaFile>().map_err(Fail::Lua)?.stream.is_none() {
            return Err(Fail::Raise("file is already closed".into()));
        }
        let r = read_formats(lua, io, &ud, &formats, 2, "for iterator")?;
        if r.front()
            .is_some_and(|v| !matches!(v, Value::Nil | Value::Boolean(false)))
        {
            return Ok(r);
        }
        if r.len() > 1 {
            let msg = r
                .get(1)
                .and_then(|v| v.to_string().ok())
                .unwrap_or_default();
            return Err(Fail::Raise(msg));
        }
        if to_close {
            let _ = ud.borrow_mut::<LuaFile>().map_err(Fail::Lua)?.close_now();
        }
        Ok(MultiValue::new())
    })
}

fn check_line_formats(n: usize) -> Result<(), Fail> {
    if n > MAX_LINE_FORMATS {
        return Err(Fail::Arg(MAX_LINE_FORMATS + 2, "too many arguments".into()));
    }
    Ok(())
}

fn io_lines(lua: &Lua, io: &Io, args: Variadic<Value>) -> Out {
    if matches!(args.first(), None | Some(Value::Nil)) {
        return Err(Fail::Raise(no_std("io.lines without a file name")));
    }
    let path = path_arg_or_raise(args.first(), 1)?;
    let formats: Vec<Value> = args.iter().skip(1).cloned().collect();
    check_line_formats(formats.len())?;
    let mode = parse_mode(b"r").expect("r is a mode");
    let ud = match open_file(lua, io, &path, &mode)? {
        Ok(ud) => ud,
        Err((msg, _)) => {
            // io.lines raises where io.open returns: "cannot open file".
            let why = msg
                .strip_prefix(&format!("{}: ", super::show_path(&path)))
                .unwrap_or(&msg)
                .to_string();
            return Err(Fail::Raise(format!(
                "cannot open file '{}' ({why})",
                super::show_path(&path)
            )));
        }
    };
    let iter = lines_iterator(lua, io, ud.clone(), formats, true)?;
    Ok(values(vec![
        Value::Function(iter),
        Value::Nil,
        Value::Nil,
        Value::UserData(ud),
    ]))
}

fn io_type(lua: &Lua, _: &Io, args: Variadic<Value>) -> Out {
    let Some(v) = args.first() else {
        return Err(Fail::Arg(1, "value expected".into()));
    };
    let t = match v {
        Value::UserData(ud) if ud.is::<LuaFile>() => {
            if ud.borrow::<LuaFile>()?.stream.is_some() {
                "file"
            } else {
                "closed file"
            }
        }
        _ => return Ok(values(vec![Value::Nil])),
    };
    Ok(values(vec![Value::String(lua.create_string(t)?)]))
}

fn f_close(lua: &Lua, _: &Io, args: Variadic<Value>) -> Out {
    let ud = this_file(&args)?;
    let r = ud.borrow_mut::<LuaFile>()?.close_now();
    match r {
        Ok(()) => Ok(values(vec![Value::Boolean(true)])),
        Err(e) => io_fail(lua, &e),
    }
}

fn f_flush(lua: &Lua, _: &Io, args: Variadic<Value>) -> Out {
    let ud = this_file(&args)?;
    match with_stream(&ud, Stream::flush)? {
        Ok(()) => Ok(values(vec![Value::Boolean(true)])),
        Err(e) => io_fail(lua, &e),
    }
}

fn f_read(lua: &Lua, io: &Io, args: Variadic<Value>) -> Out {
    let ud = this_file(&args)?;
    read_formats(lua, io, &ud, &args[1..], 2, "read")
}

fn f_lines(lua: &Lua, io: &Io, args: Variadic<Value>) -> Out {
    let ud = this_file(&args)?;
    let formats: Vec<Value> = args.iter().skip(1).cloned().collect();
    check_line_formats(formats.len())?;
    Ok(values(vec![Value::Function(lines_iterator(
        lua, io, ud, formats, false,
    )?)]))
}

fn f_write(lua: &Lua, io: &Io, args: Variadic<Value>) -> Out {
    let ud = this_file(&args)?;
    let mut total = 0;
    let mut failed: Option<std::io::Error> = None;
    for (i, v) in args.iter().enumerate().skip(1) {
        // Numbers arrive as text: the Lua wrapper formats them as this
        // Lua's io.write does.
        let Value::String(s) = v else {
            return Err(Fail::Arg(
                i + 1,
                format!("string expected, got {}", type_name(Some(v))),
            ));
        };
        if failed.is_some() {
            // Lua 5.4 goes on through the arguments (checking them) after
            // a failed write; 5.5 has returned already.
            continue;
        }
        let bytes = s.as_bytes();
        io.charge(lua, bytes.len())?;
        match with_stream(&ud, |st| st.write(&bytes))? {
            Ok(()) => total += bytes.len(),
            Err(e) if cfg!(feature = "lua55") => {
                let mut r = fail_result(
                    lua,
                    &super::roots::strerror(&e),
                    e.raw_os_error().unwrap_or(0),
                )?;
                r.push_back(Value::Integer(total as i64));
                return Ok(r);
            }
            Err(e) => failed = Some(e),
        }
    }
    io.files.roots().count_written(total);
    match failed {
        Some(e) => io_fail(lua, &e),
        None => Ok(values(vec![Value::UserData(ud)])),
    }
}

fn option_arg(
    args: &[Value],
    n: usize,
    names: &[&str],
    default: Option<&str>,
) -> Result<usize, Fail> {
    let text = match (args.get(n), default) {
        (None | Some(Value::Nil), Some(d)) => d.as_bytes().to_vec(),
        (v, _) => path_arg_or_raise(v, n + 1)?,
    };
    names
        .iter()
        .position(|o| o.as_bytes() == text.as_slice())
        .ok_or_else(|| {
            Fail::Arg(
                n + 1,
                format!("invalid option '{}'", String::from_utf8_lossy(&text)),
            )
        })
}

fn integer_arg(args: &[Value], n: usize) -> Result<i64, Fail> {
    match args.get(n) {
        None | Some(Value::Nil) => Ok(0),
        Some(Value::Integer(i)) => Ok(*i),
        Some(Value::Number(f)) if f.fract() == 0.0 && f.abs() < 9.2e18 => Ok(*f as i64),
        Some(Value::Number(_)) => Err(Fail::Arg(
            n + 1,
            "number has no integer representation".into(),
        )),
        Some(v) => Err(Fail::Arg(
            n + 1,
            format!("number expected, got {}", type_name(Some(v))),
        )),
    }
}

fn f_seek(lua: &Lua, _: &Io, args: Variadic<Value>) -> Out {
    let ud = this_file(&args)?;
    let whence = option_arg(&args, 1, &["set", "cur", "end"], Some("cur"))?;
    let offset = integer_arg(&args, 2)?;
    let to = match whence {
        0 => match u64::try_from(offset) {
            Ok(o) => SeekFrom::Start(o),
            Err(_) => return io_fail(lua, &std::io::Error::from_raw_os_error(22)),
        },
        1 => SeekFrom::Current(offset),
        _ => SeekFrom::End(offset),
    };
    match with_stream(&ud, |s| s.seek(to))? {
        Ok(p) => Ok(values(vec![Value::Integer(p as i64)])),
        Err(e) => io_fail(lua, &e),
    }
}

fn f_setvbuf(lua: &Lua, _: &Io, args: Variadic<Value>) -> Out {
    let ud = this_file(&args)?;
    let mode = option_arg(&args, 1, &["no", "full", "line"], None)?;
    integer_arg(&args, 2)?;
    let b = [Buffering::No, Buffering::Full, Buffering::Line][mode];
    match with_stream(&ud, |s| s.set_buffering(b))? {
        Ok(()) => Ok(values(vec![Value::Boolean(true)])),
        Err(e) => io_fail(lua, &e),
    }
}

fn io_close(lua: &Lua, io: &Io, args: Variadic<Value>) -> Out {
    if matches!(args.first(), None | Some(Value::Nil)) {
        return Err(Fail::Raise(no_std("io.close without a file")));
    }
    f_close(lua, io, args)
}

/// The error of the functions that would use standard input or output.
fn no_std(what: &str) -> String {
    format!(
        "{what} is not available in skyhold: services have no standard input or output \
         (print and skynet.error write to the node's log)"
    )
}

/// Lua glue: numbers given to `write` become text as this Lua's io.write
/// makes it, and the wrapped functions become the library.
const GLUE: &str = r##"
local raw_write, relay, fmt, mtype, tostring, select, pack, unpack, version = ...
local function text(v)
	if version == "Lua 5.4" then
		return mtype(v) == "integer" and fmt("%d", v) or fmt("%.14g", v)
	end
	return tostring(v)
end
return function(f, ...)
	local n = select("#", ...)
	local args = pack(...)
	for i = 1, n do
		if mtype(args[i]) then
			args[i] = text(args[i])
		end
	end
	return relay(raw_write(f, unpack(args, 1, n)))
end
"##;

type Raw = fn(&Lua, &Io, Variadic<Value>) -> Out;

/// Builds the `io` table of one state (and registers the file methods).
pub fn create(lua: &Lua, files: Arc<ServiceFiles>) -> mlua::Result<Table> {
    let g = lua.globals();
    let io = Io {
        files,
        errors: StringErrors::new(lua)?,
        tonumber: g.get("tonumber")?,
    };
    let string: Table = g.get("string")?;
    let math: Table = g.get("math")?;
    let table: Table = g.get("table")?;
    let glue: Function = crate::codecache::internal(lua, "=io", GLUE)?;

    let methods = lua.create_table()?;
    let method_fns: [(&'static str, Raw); 6] = [
        ("close", f_close),
        ("flush", f_flush),
        ("lines", f_lines),
        ("read", f_read),
        ("seek", f_seek),
        ("setvbuf", f_setvbuf),
    ];
    for (name, f) in method_fns {
        methods.raw_set(name, io.function(lua, Named::method(name), f)?)?;
    }
    let write = io.raw(lua, Named::method("write"), f_write)?;
    let write: Function = glue.call((
        write,
        io.errors.relay().clone(),
        string.get::<Function>("format")?,
        math.get::<Function>("type")?,
        g.get::<Function>("tostring")?,
        g.get::<Function>("select")?,
        table.get::<Function>("pack")?,
        table.get::<Function>("unpack")?,
        g.get::<Value>("_VERSION")?,
    ))?;
    methods.raw_set("write", write)?;
    lua.set_named_registry_value(METHODS_KEY, methods)?;

    let t = lua.create_table()?;
    let io_fns: [(&str, &'static str, Raw); 4] = [
        ("open", "io.open", io_open),
        ("lines", "io.lines", io_lines),
        ("type", "io.type", io_type),
        ("close", "io.close", io_close),
    ];
    for (name, global, f) in io_fns {
        t.raw_set(name, io.function(lua, Named::field(global, name), f)?)?;
    }
    for name in ["read", "write", "input", "output", "popen", "tmpfile"] {
        let what = format!("io.{name}");
        t.raw_set(
            name,
            io.function(lua, Named::field("io", name), move |_, _, _| {
                Err(Fail::Raise(no_std(&what)))
            })?,
        )?;
    }
    Ok(t)
}
