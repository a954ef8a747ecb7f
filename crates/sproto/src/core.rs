//! The `sproto.core` Lua module: the functions of skynet's `lsproto.c`,
//! with the same arguments, results and error messages.
//!
//! skynet hands Lua raw pointers (light userdata) for a schema and its
//! types; here they are full userdata holding a shared, read-only schema,
//! so a wrong argument is an error instead of a crash. The one light
//! userdata kept is the NULL that `protocol` returns for a response
//! declared `nil`, which `encode` and `decode` take as "no type".

use crate::decode::Decoder;
use crate::encode::{lua_type, Encoder};
use crate::meter::Meter;
use crate::schema::{Sproto, T_BOOLEAN, T_DOUBLE, T_INTEGER, T_STRING, T_STRUCT};
use crate::slots::Slots;
use crate::{dump, pack};
use mlua::{Lua, MultiValue, Table, UserData, Value};
use std::sync::Arc;

/// A loaded schema, as Lua holds it (`__cobj` in `sproto.lua`).
pub struct SprotoObj(pub Arc<Sproto>);

impl UserData for SprotoObj {}

/// One type of a schema (what `querytype` and `protocol` return).
pub struct TypeObj {
    sp: Arc<Sproto>,
    index: usize,
}

impl UserData for TypeObj {}

/// `bad argument #n to 'f' (msg)`, as `luaL_argerror` words it.
fn arg_error(n: usize, f: &str, msg: &str) -> mlua::Error {
    mlua::Error::runtime(format!("bad argument #{n} to '{f}' ({msg})"))
}

/// Argument `n` (1-based) of `args`, nil when absent.
fn arg(args: &MultiValue, n: usize) -> Value {
    args.get(n - 1).cloned().unwrap_or(Value::Nil)
}

/// The schema in argument 1, or the argument error `msg`.
fn sproto_arg(args: &MultiValue, f: &str, msg: &str) -> mlua::Result<Arc<Sproto>> {
    match arg(args, 1) {
        Value::UserData(u) => match u.borrow::<SprotoObj>() {
            Ok(s) => Ok(s.0.clone()),
            Err(_) => Err(arg_error(1, f, msg)),
        },
        _ => Err(arg_error(1, f, msg)),
    }
}

/// The type in argument 1: `None` for what skynet reads as a NULL
/// pointer (nil, a number, the NULL light userdata…).
fn type_arg(args: &MultiValue, f: &str) -> mlua::Result<Option<(Arc<Sproto>, usize)>> {
    match arg(args, 1) {
        Value::UserData(u) => match u.borrow::<TypeObj>() {
            Ok(t) => Ok(Some((t.sp.clone(), t.index))),
            Err(_) => Err(arg_error(1, f, "Need a sproto_type object")),
        },
        Value::LightUserData(p) if !p.0.is_null() => {
            Err(arg_error(1, f, "Need a sproto_type object"))
        }
        _ => Ok(None),
    }
}

/// The bytes of a message argument at `n` (a string; an integer after it
/// may shorten it, as skyhold passes `msg, sz` as a string and its size).
fn buffer_arg(args: &MultiValue, n: usize, f: &str) -> mlua::Result<mlua::LuaString> {
    match arg(args, n) {
        Value::String(s) => Ok(s),
        Value::UserData(_) | Value::LightUserData(_) => Err(arg_error(
            n,
            f,
            "skyhold passes messages as strings; a pointer cannot be read",
        )),
        _ => Err(arg_error(n, f, "Need a string or userdata")),
    }
}

/// How many bytes of `s` to read: all of it, unless argument `n + 1` is a
/// smaller size.
fn buffer_len(args: &MultiValue, n: usize, s: &mlua::LuaString) -> usize {
    let len = s.as_bytes().len();
    match arg(args, n + 1) {
        Value::Integer(sz) if sz >= 0 && (sz as usize) < len => sz as usize,
        _ => len,
    }
}

/// `luaL_optinteger` at argument `n`.
fn opt_integer(lua: &Lua, args: &MultiValue, n: usize, f: &str) -> mlua::Result<i64> {
    match arg(args, n) {
        Value::Nil => Ok(0),
        v @ (Value::Integer(_) | Value::Number(_) | Value::String(_)) => {
            let is_number = matches!(v, Value::Integer(_) | Value::Number(_))
                || lua.coerce_number(v.clone())?.is_some();
            match lua.coerce_integer(v.clone())? {
                Some(i) => Ok(i),
                None if is_number => Err(arg_error(n, f, "number has no integer representation")),
                None => Err(arg_error(
                    n,
                    f,
                    &format!("number expected, got {}", lua_type(&v)),
                )),
            }
        }
        v => Err(arg_error(
            n,
            f,
            &format!("number expected, got {}", lua_type(&v)),
        )),
    }
}

/// Turns an error from the byte-level code into a Lua error.
fn text(e: String) -> mlua::Error {
    mlua::Error::runtime(e)
}

fn newproto(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    let bin = match arg(&args, 1) {
        Value::String(s) => s,
        Value::Integer(_) | Value::Number(_) => lua
            .coerce_string(arg(&args, 1))?
            .ok_or_else(|| arg_error(1, "newproto", "string expected"))?,
        v => {
            return Err(arg_error(
                1,
                "newproto",
                &format!(
                    "string expected, got {}",
                    if v.is_nil() && args.is_empty() {
                        "no value"
                    } else {
                        lua_type(&v)
                    }
                ),
            ))
        }
    };
    let mut meter = Meter::new(lua);
    match Sproto::load(&bin.as_bytes(), &mut || meter.tick()) {
        Ok(sp) => Ok(MultiValue::from_vec(vec![Value::UserData(
            lua.create_userdata(SprotoObj(Arc::new(sp)))?,
        )])),
        // A spent budget is raised, not reported as a bad schema.
        Err(e) if e == skyhold_lua::budget::BUDGET_ERROR => Err(text(e)),
        // skynet returns nothing; the reason after the nil makes
        // `assert(core.newproto(bin))` say what was wrong.
        Err(e) => Ok(MultiValue::from_vec(vec![
            Value::Nil,
            Value::String(lua.create_string(format!("invalid sproto schema: {e}"))?),
        ])),
    }
}

fn querytype(lua: &Lua, args: MultiValue) -> mlua::Result<Value> {
    let sp = sproto_arg(&args, "querytype", "Need a sproto object")?;
    let name = match arg(&args, 2) {
        v @ (Value::String(_) | Value::Integer(_) | Value::Number(_)) => lua.coerce_string(v)?,
        v => {
            return Err(arg_error(
                2,
                "querytype",
                &format!("string expected, got {}", lua_type(&v)),
            ));
        }
    };
    let Some(name) = name else {
        return Ok(Value::Nil);
    };
    match sp.type_index(&name.as_bytes()) {
        Some(index) => Ok(Value::UserData(lua.create_userdata(TypeObj { sp, index })?)),
        None => Ok(Value::Nil),
    }
}

fn encode(lua: &Lua, args: MultiValue) -> mlua::Result<mlua::LuaString> {
    let Some((sp, ti)) = type_arg(&args, "encode")? else {
        if args.len() < 2 || !arg(&args, 2).is_nil() {
            let got = if args.len() < 2 {
                "no value"
            } else {
                lua_type(&arg(&args, 2))
            };
            return Err(arg_error(2, "encode", &format!("nil expected, got {got}")));
        }
        return lua.create_string("");
    };
    let mut meter = Meter::new(lua);
    let mut enc = Encoder::new(lua, &sp, &mut meter);
    enc.encode_struct(ti, &arg(&args, 2), 0)?;
    lua.create_string(&enc.out)
}

fn decode(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    let Some((sp, ti)) = type_arg(&args, "decode")? else {
        return Ok(MultiValue::new());
    };
    let buf = buffer_arg(&args, 2, "decode")?;
    let len = buffer_len(&args, 2, &buf);
    let result = match args.back() {
        Some(Value::Table(t)) if args.len() >= 3 => t.clone(),
        _ => lua.create_table()?,
    };
    let mut meter = Meter::new(lua);
    let bytes = buf.as_bytes();
    let r = Decoder::new(lua, &sp, &mut meter).decode(ti, &bytes[..len], &result)?;
    match r {
        Some(n) => Ok(MultiValue::from_vec(vec![
            Value::Table(result),
            Value::Integer(n as i64),
        ])),
        None => Err(mlua::Error::runtime("decode error")),
    }
}

fn pack_fn(lua: &Lua, args: MultiValue) -> mlua::Result<mlua::LuaString> {
    let buf = buffer_arg(&args, 1, "pack")?;
    let len = buffer_len(&args, 1, &buf);
    let mut meter = Meter::new(lua);
    let out = pack::pack(&buf.as_bytes()[..len], &mut || meter.tick()).map_err(text)?;
    lua.create_string(out)
}

fn unpack_fn(lua: &Lua, args: MultiValue) -> mlua::Result<mlua::LuaString> {
    let buf = buffer_arg(&args, 1, "unpack")?;
    let len = buffer_len(&args, 1, &buf);
    let mut meter = Meter::new(lua);
    let out = pack::unpack(&buf.as_bytes()[..len], &mut || meter.tick()).map_err(text)?;
    lua.create_string(out)
}

fn protocol(lua: &Lua, args: MultiValue) -> mlua::Result<MultiValue> {
    let sp = sproto_arg(&args, "protocol", "Need a sproto_type object")?;
    let (first, tag) = match arg(&args, 2) {
        v @ (Value::Integer(_) | Value::Number(_)) => {
            let tag = lua.coerce_integer(v)?.unwrap_or(0);
            match sp.proto(tag) {
                Some(p) => (Value::String(lua.create_string(&p.name)?), tag),
                None => return Ok(MultiValue::new()),
            }
        }
        Value::String(name) => match sp.proto_tag(&name.as_bytes()) {
            Some(tag) => (Value::Integer(tag), tag),
            None => return Ok(MultiValue::new()),
        },
        _ => return Err(arg_error(2, "protocol", "Should be number or string")),
    };
    let p = sp.proto(tag);
    let ty = |i: Option<usize>| -> mlua::Result<Value> {
        match i {
            Some(index) => Ok(Value::UserData(lua.create_userdata(TypeObj {
                sp: sp.clone(),
                index,
            })?)),
            None => Ok(Value::Nil),
        }
    };
    let request = ty(p.and_then(|p| p.request))?;
    let response = match p {
        Some(p) if p.response.is_none() && p.confirm => Value::NULL,
        _ => ty(p.and_then(|p| p.response))?,
    };
    Ok(MultiValue::from_vec(vec![first, request, response]))
}

/// The default value of one field, as `sproto.core.default` gives it.
fn default_value(
    lua: &Lua,
    sp: &Sproto,
    f: &crate::schema::Field,
    in_array: bool,
) -> mlua::Result<Value> {
    Ok(match f.ty {
        T_INTEGER if f.extra != 0 => Value::Number(0.0),
        T_INTEGER => Value::Integer(0),
        T_DOUBLE => Value::Number(0.0),
        T_BOOLEAN => Value::Boolean(false),
        T_STRING => Value::String(lua.create_string("")?),
        T_STRUCT => {
            let name = lua.create_string(f.st.map_or(&[][..], |i| &sp.types[i].name))?;
            if in_array {
                Value::String(name)
            } else {
                let t = lua.create_table_with_capacity(0, 1)?;
                t.raw_set("__type", name)?;
                Value::Table(t)
            }
        }
        other => return Err(mlua::Error::runtime(format!("Invalid type {other}"))),
    })
}

fn default(lua: &Lua, args: MultiValue) -> mlua::Result<Table> {
    let Some((sp, ti)) = type_arg(&args, "default")? else {
        return Err(arg_error(1, "default", "Need a sproto_type object"));
    };
    let t = lua.create_table()?;
    for f in &sp.types[ti].fields {
        let name = lua.create_string(&f.name)?;
        if f.array {
            let a = lua.create_table()?;
            a.raw_set("__array", default_value(lua, &sp, f, true)?)?;
            t.raw_set(name, a)?;
        } else {
            t.raw_set(name, default_value(lua, &sp, f, false)?)?;
        }
    }
    Ok(t)
}

fn dumpproto(lua: &Lua, args: MultiValue) -> mlua::Result<()> {
    let sp = sproto_arg(&args, "dumpproto", "Need a sproto_type object")?;
    let print: mlua::Function = lua.globals().get("print")?;
    for line in dump::lines(&sp) {
        print.call::<()>(line)?;
    }
    Ok(())
}

fn slot_index(lua: &Lua, args: &MultiValue, n: usize, f: &str) -> mlua::Result<usize> {
    let i = opt_integer(lua, args, n, f)?;
    if !(0..crate::slots::SLOTS as i64).contains(&i) {
        return Err(mlua::Error::runtime(format!(
            "Invalid global slot index {i}"
        )));
    }
    Ok(i as usize)
}

/// Wraps the raw functions so that their errors reach Lua as plain
/// strings, as a C module's `luaL_error` would raise them.
const WRAP: &str = r#"
local raw = ...
local pcall, error, tostring, type = pcall, error, tostring, type
local function check(ok, ...)
    if ok then
        return ...
    end
    local e = ...
    if type(e) ~= "string" then
        e = tostring(e)
    end
    e = e:gsub("^runtime error: ", ""):gsub("\nstack traceback:.*$", "")
    error(e, 0)
end
local m = {}
for name, f in pairs(raw) do
    m[name] = function(...) return check(pcall(f, ...)) end
end
return m
"#;

/// Builds a module table of `raw` functions whose errors are strings.
pub(crate) fn wrap(lua: &Lua, raw: Table, chunk: &str) -> mlua::Result<Value> {
    let f = lua.load(WRAP).set_name(chunk).into_function()?;
    f.call(raw)
}

/// Builds `sproto.core` in `lua`, saving to and loading from `slots`.
pub fn build(lua: &Lua, slots: Arc<Slots>) -> mlua::Result<Value> {
    let raw = lua.create_table()?;
    raw.set("newproto", lua.create_function(newproto)?)?;
    raw.set(
        "deleteproto",
        lua.create_function(|_, args: MultiValue| {
            // The schema is freed with the last reference to it.
            sproto_arg(&args, "deleteproto", "Need a sproto object").map(|_| ())
        })?,
    )?;
    raw.set("dumpproto", lua.create_function(dumpproto)?)?;
    raw.set("querytype", lua.create_function(querytype)?)?;
    raw.set("encode", lua.create_function(encode)?)?;
    raw.set("decode", lua.create_function(decode)?)?;
    raw.set("pack", lua.create_function(pack_fn)?)?;
    raw.set("unpack", lua.create_function(unpack_fn)?)?;
    raw.set("protocol", lua.create_function(protocol)?)?;
    raw.set("default", lua.create_function(default)?)?;
    let save_slots = slots.clone();
    raw.set(
        "saveproto",
        lua.create_function(move |lua, args: MultiValue| {
            let sp = sproto_arg(&args, "saveproto", "Need a sproto object")?;
            let i = slot_index(lua, &args, 2, "saveproto")?;
            save_slots.save(i, sp).map_err(text)
        })?,
    )?;
    raw.set(
        "loadproto",
        lua.create_function(move |lua, args: MultiValue| {
            let i = slot_index(lua, &args, 1, "loadproto")?;
            match slots.load(i) {
                Some(sp) => lua.create_userdata(SprotoObj(sp)),
                None => Err(mlua::Error::runtime(format!("nil sproto at index {i}"))),
            }
        })?,
    )?;
    wrap(lua, raw, "=sproto.core")
}
