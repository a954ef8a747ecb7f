//! lua-cjson for skyhold services: the `cjson` and `cjson.safe` modules,
//! in safe Rust, with the API of the lua-cjson 2.1.0.x line that projects
//! vendor (openresty's, a superset of mpx's 2.1.0: `encode_empty_table_as_object`,
//! `empty_array`, `array_mt`, `empty_array_mt`, `decode_array_with_array_mt`,
//! `encode_escape_forward_slash`, `decode_allow_comment`,
//! `encode_skip_unsupported_value_types`, `encode_indent`).
//!
//! Output is byte for byte lua-cjson's on Lua 5.4 for the same value and
//! settings, objects in the order `next` visits their keys, and errors
//! carry lua-cjson's words and positions. What differs is written down in
//! `docs/native-modules.md`: bounds a service cannot lift
//! ([`decode::HARD_MAX_DEPTH`], [`config::HARD_MAX_ENCODE_DEPTH`],
//! [`encode::MAX_OUTPUT`]) and the budget the work is charged to.
#![forbid(unsafe_code)]

pub mod config;
pub mod decode;
pub mod encode;
pub mod lua_sink;
pub mod number;

use config::{arg_error, type_error, Config, Fail, Naming, SETTERS};
use decode::{DecodeError, DecodeOptions};
use encode::{Encoder, Marks};
use mlua::{Function, LightUserData, Lua, MultiValue, Table, Value};
use parking_lot::Mutex;
use skyhold_lua::host::ModuleFactory;
use std::ffi::c_void;
use std::sync::Arc;

/// `cjson._NAME`.
pub const NAME: &str = "cjson";
/// `cjson._VERSION`: the lua-cjson release whose behaviour this follows.
pub const VERSION: &str = "2.1.0.11";

/// The address `cjson.empty_array` points at (any unique address will do).
static EMPTY_ARRAY_TAG: u8 = 0;

/// The light userdata pointer of `cjson.empty_array`.
pub(crate) fn empty_array_ptr() -> *mut c_void {
    &EMPTY_ARRAY_TAG as *const u8 as *mut c_void
}

/// The module factory for `require "cjson"` (`safe = false`) or
/// `require "cjson.safe"` (`safe = true`).
pub fn module(safe: bool) -> ModuleFactory {
    Arc::new(move |lua, _ctx| Ok(Value::Table(open(lua, safe)?)))
}

/// What every instance in one state shares: the array metatables, the
/// mark a failed call returns to its Lua wrapper, and the wrapper maker.
struct Shared {
    marks: Marks,
    mark: Table,
    wrap: Function,
}

const SHARED_KEY: &str = "skyhold.cjson.shared";

/// Errors raised from Rust reach Lua as userdata, and lua-cjson's errors
/// are strings with the caller's position (`luaL_error`), so each function
/// is wrapped: a failure comes back as `mark, message, where` and is raised
/// here as a string, at level 2 (the caller) when `where` is set.
const WRAPPER: &str = r#"
local mark = ...
local error, rawequal = error, rawequal
local function check(r, ...)
	if rawequal(r, mark) then
		local msg, where = ...
		error(msg, where and 2 or 0)
	end
	return r, ...
end
return function(raw)
	return function(...)
		return check(raw(...))
	end
end
"#;

fn shared(lua: &Lua) -> mlua::Result<Shared> {
    let t: Option<Table> = lua.named_registry_value(SHARED_KEY)?;
    let t = match t {
        Some(t) => t,
        None => {
            let t = lua.create_table()?;
            let mark = lua.create_table()?;
            let wrap: Function = lua.load(WRAPPER).set_name("=cjson").call(mark.clone())?;
            t.raw_set("array_mt", lua.create_table()?)?;
            t.raw_set("empty_array_mt", lua.create_table()?)?;
            t.raw_set("mark", mark)?;
            t.raw_set("wrap", wrap)?;
            lua.set_named_registry_value(SHARED_KEY, &t)?;
            t
        }
    };
    Ok(Shared {
        marks: Marks {
            array_mt: t.raw_get("array_mt")?,
            empty_array_mt: t.raw_get("empty_array_mt")?,
        },
        mark: t.raw_get("mark")?,
        wrap: t.raw_get("wrap")?,
    })
}

/// The text of an error passed on from Lua code.
fn error_text(e: &mlua::Error) -> String {
    match e {
        // mlua appends a traceback to an error it catches from Lua code;
        // lua-cjson passes the message on as it was.
        mlua::Error::RuntimeError(m) => match m.find("\nstack traceback:\n") {
            Some(i) => m[..i].to_string(),
            None => m.clone(),
        },
        mlua::Error::CallbackError { cause, .. } => error_text(cause),
        mlua::Error::WithContext { cause, .. } => error_text(cause),
        other => other.to_string(),
    }
}

/// How a failed call answers: raised through the wrapper, or (cjson.safe's
/// encode and decode) returned as `nil, message`.
fn answer(
    lua: &Lua,
    shared_mark: &Table,
    r: Result<MultiValue, Fail>,
    safe: bool,
) -> mlua::Result<MultiValue> {
    let (text, position) = match r {
        Ok(v) => return Ok(v),
        Err(Fail::Msg(m)) => (m, true),
        Err(Fail::Lua(e)) => {
            if skyhold_lua::lua_error::is_memory_error(&e) {
                return Err(e);
            }
            let spent = skyhold_lua::budget::Budget::of(lua).is_some_and(|b| b.spent());
            if spent {
                (skyhold_lua::budget::BUDGET_ERROR.to_string(), false)
            } else {
                (error_text(&e), false)
            }
        }
    };
    let spent = skyhold_lua::budget::Budget::of(lua).is_some_and(|b| b.spent());
    let msg = Value::String(lua.create_string(&text)?);
    if safe && !spent {
        return Ok(MultiValue::from_vec(vec![Value::Nil, msg]));
    }
    // cjson.safe's inner errors carry no position (C called them).
    let position = position && !safe;
    Ok(MultiValue::from_vec(vec![
        Value::Table(shared_mark.clone()),
        msg,
        Value::Boolean(position),
    ]))
}

fn do_encode(lua: &Lua, cfg: &Config, marks: &Marks, mv: MultiValue) -> Result<MultiValue, Fail> {
    let mut enc = Encoder::new(lua, cfg, marks);
    let v = mv.into_iter().next().unwrap_or(Value::Nil);
    enc.value(&v, 0)?;
    let s = lua.create_string(&enc.out)?;
    Ok(MultiValue::from_vec(vec![Value::String(s)]))
}

fn do_decode(
    lua: &Lua,
    cfg: &Config,
    marks: &Marks,
    mv: MultiValue,
    naming: Naming,
) -> Result<MultiValue, Fail> {
    let v = mv.into_iter().next().unwrap_or(Value::Nil);
    let s = match &v {
        Value::String(s) => s.clone(),
        Value::Integer(_) | Value::Number(_) => match lua.coerce_string(v.clone())? {
            Some(s) => s,
            None => return Err(type_error(lua, naming, 1, "string", &v)),
        },
        _ => return Err(type_error(lua, naming, 1, "string", &v)),
    };
    let opts = DecodeOptions {
        max_depth: usize::try_from(cfg.decode_max_depth.max(1)).unwrap_or(1),
        invalid_numbers: cfg.decode_invalid_numbers,
        allow_comment: cfg.decode_allow_comment,
    };
    let array_mt = cfg
        .decode_array_with_array_mt
        .then(|| marks.array_mt.clone());
    let mut sink = lua_sink::LuaSink::new(lua, array_mt);
    let bytes = s.as_bytes();
    match decode::decode(&bytes, opts, &mut sink) {
        Ok(()) => Ok(MultiValue::from_vec(vec![sink.current])),
        Err(DecodeError::Syntax(m)) => Err(Fail::Msg(m)),
        Err(DecodeError::Sink(e)) => Err(Fail::Lua(e)),
    }
}

/// Builds one module table (a fresh instance with default settings).
pub fn open(lua: &Lua, safe: bool) -> mlua::Result<Table> {
    let sh = Arc::new(shared(lua)?);
    let cfg = Arc::new(Mutex::new(Config::default()));
    let m = lua.create_table()?;
    let wrap = |f: Function| -> mlua::Result<Function> { sh.wrap.call(f) };

    let (c, s) = (cfg.clone(), sh.clone());
    let encode = lua.create_function(move |lua, mv: MultiValue| {
        if mv.len() != 1 {
            let e = arg_error(lua, Naming::Caller, 1, "expected 1 argument");
            return answer(lua, &s.mark, Err(e), false);
        }
        let snapshot = c.lock().clone();
        let r = do_encode(lua, &snapshot, &s.marks, mv);
        answer(lua, &s.mark, r, safe)
    })?;
    m.raw_set("encode", wrap(encode)?)?;

    let (c, s) = (cfg.clone(), sh.clone());
    let decode = lua.create_function(move |lua, mv: MultiValue| {
        if mv.len() != 1 {
            let e = arg_error(lua, Naming::Caller, 1, "expected 1 argument");
            return answer(lua, &s.mark, Err(e), false);
        }
        let snapshot = c.lock().clone();
        let naming = if safe {
            Naming::Unknown
        } else {
            Naming::Caller
        };
        let r = do_decode(lua, &snapshot, &s.marks, mv, naming);
        answer(lua, &s.mark, r, safe)
    })?;
    m.raw_set("decode", wrap(decode)?)?;

    for (name, setter) in SETTERS {
        let (c, s) = (cfg.clone(), sh.clone());
        let setter = *setter;
        let f = lua.create_function(move |lua, mv: MultiValue| {
            // Work on a copy: a setter never runs Lua code, but the lock
            // is not held across anything that could.
            let mut now = c.lock().clone();
            let r = setter(lua, &mut now, mv);
            if r.is_ok() {
                *c.lock() = now;
            }
            answer(lua, &s.mark, r, false)
        })?;
        m.raw_set(*name, wrap(f)?)?;
    }

    m.raw_set(
        "new",
        lua.create_function(move |lua, _: MultiValue| {
            // The instance's functions are Rust closures made after the
            // boot: kept reachable until the state closes, so no
            // collection frees one while a finalizer may still call it.
            let t = open(lua, safe)?;
            skyhold_lua::finalizers::keep(lua, &Value::Table(t.clone()))?;
            Ok(t)
        })?,
    )?;
    m.raw_set("null", Value::NULL)?;
    m.raw_set("empty_array_mt", sh.marks.empty_array_mt.clone())?;
    m.raw_set("array_mt", sh.marks.array_mt.clone())?;
    m.raw_set(
        "empty_array",
        Value::LightUserData(LightUserData(empty_array_ptr())),
    )?;
    m.raw_set("_NAME", NAME)?;
    m.raw_set("_VERSION", VERSION)?;
    Ok(m)
}

#[cfg(test)]
mod tests;
