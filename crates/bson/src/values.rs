//! skynet's constructors of the BSON types Lua lacks (each a tagged
//! string: `\0`, the type code, the bytes) and `bson.type`, which reads any
//! value back as a type name and its parts.

use mlua::{Lua, MultiValue, Value};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::encode::fail;
use crate::wire;

/// `\0`, `t`, then `body`.
pub(crate) fn tagged(lua: &Lua, t: u8, body: &[u8]) -> mlua::Result<Value> {
    let mut v = Vec::with_capacity(body.len() + 2);
    v.extend_from_slice(&[0, t]);
    v.extend_from_slice(body);
    Ok(Value::String(lua.create_string(&v)?))
}

/// An integer argument as `luaL_checkinteger` takes it.
pub(crate) fn check_integer(lua: &Lua, v: &Value, arg: usize, name: &str) -> mlua::Result<i64> {
    match v {
        Value::Integer(i) => Ok(*i),
        Value::Number(n) if n.fract() == 0.0 && n.is_finite() => Ok(*n as i64),
        Value::Number(_) => fail(format!(
            "bad argument #{arg} to '{name}' (number has no integer representation)"
        )),
        Value::String(_) => match lua.coerce_integer(v.clone())? {
            Some(i) => Ok(i),
            None => fail(format!(
                "bad argument #{arg} to '{name}' (number expected, got string)"
            )),
        },
        other => fail(format!(
            "bad argument #{arg} to '{name}' (number expected, got {})",
            typename(other)
        )),
    }
}

/// Lua's name of `v`'s type (`no value` is not distinguished from nil).
pub(crate) fn typename(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// A string or number argument's bytes (`luaL_addvalue`/`lua_isstring`).
pub(crate) fn string_like(lua: &Lua, v: &Value) -> mlua::Result<Option<Vec<u8>>> {
    match v {
        Value::String(s) => Ok(Some(s.as_bytes().to_vec())),
        Value::Integer(_) | Value::Number(_) => {
            Ok(lua.coerce_string(v.clone())?.map(|s| s.as_bytes().to_vec()))
        }
        _ => Ok(None),
    }
}

/// `bson.date(seconds)`: the seconds as a C int, four bytes.
pub(crate) fn date(lua: &Lua, args: &[Value]) -> mlua::Result<Value> {
    let d = check_integer(lua, args.first().unwrap_or(&Value::Nil), 1, "date")? as i32;
    tagged(lua, wire::DATE, &d.to_le_bytes())
}

/// `bson.int64(n)`.
pub(crate) fn int64(lua: &Lua, args: &[Value]) -> mlua::Result<Value> {
    let d = check_integer(lua, args.first().unwrap_or(&Value::Nil), 1, "int64")?;
    tagged(lua, wire::INT64, &d.to_le_bytes())
}

/// `bson.timestamp(seconds [, increment])`: without an increment, a
/// counter of the process's own.
pub(crate) fn timestamp(lua: &Lua, args: &[Value]) -> mlua::Result<Value> {
    static INC: AtomicU32 = AtomicU32::new(0);
    let d = check_integer(lua, args.first().unwrap_or(&Value::Nil), 1, "timestamp")? as i32;
    let inc = match args.get(1) {
        None | Some(Value::Nil) => INC.fetch_add(1, Ordering::Relaxed),
        Some(v) => lua.coerce_integer(v.clone())?.unwrap_or(0) as u32,
    };
    let mut b = inc.to_le_bytes().to_vec();
    b.extend_from_slice(&d.to_le_bytes());
    tagged(lua, wire::TIMESTAMP, &b)
}

/// `bson.regex(pattern [, options])`.
pub(crate) fn regex(lua: &Lua, args: &[Value]) -> mlua::Result<Value> {
    let Some(p) = string_like(lua, args.first().unwrap_or(&Value::Nil))? else {
        let got = typename(args.first().unwrap_or(&Value::Nil));
        return fail(format!(
            "bad argument #1 to 'regex' (string expected, got {got})"
        ));
    };
    let o = match args.get(1) {
        None => Vec::new(),
        Some(v) => match string_like(lua, v)? {
            Some(o) => o,
            None => {
                return fail(format!(
                    "invalid value (at index 2) in table for 'concat'; got {}",
                    typename(v)
                ))
            }
        },
    };
    let mut b = p;
    b.push(0);
    b.extend_from_slice(&o);
    b.push(0);
    tagged(lua, wire::REGEX, &b)
}

/// `bson.binary(bytes)`: subtype 0.
pub(crate) fn binary(lua: &Lua, args: &[Value]) -> mlua::Result<Value> {
    let v = args.first().unwrap_or(&Value::Nil);
    let Some(s) = string_like(lua, v)? else {
        return fail(format!(
            "bad argument #1 to 'binary' (string expected, got {})",
            typename(v)
        ));
    };
    let mut b = vec![0u8];
    b.extend_from_slice(&s);
    tagged(lua, wire::BINARY, &b)
}

/// skynet's lenient hex digit: 0-9, then a-z and A-Z as 10 onwards,
/// anything else 0.
fn hex_digit(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'z' => c - b'a' + 10,
        b'A'..=b'Z' => c - b'A' + 10,
        _ => 0,
    }
}

/// The five bytes after the time in the ObjectIds this process makes (a
/// hash of the host name, the process id) and the counter's start.
fn oid_origin() -> &'static ([u8; 5], AtomicU32) {
    static ORIGIN: OnceLock<([u8; 5], AtomicU32)> = OnceLock::new();
    ORIGIN.get_or_init(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let mut h: u32 = 0;
        let mut n: u32 = 0;
        for c in host.trim_end().bytes() {
            h ^= (h << 5).wrapping_add(h >> 2).wrapping_add(u32::from(c));
            n += 1;
        }
        h ^= n;
        let pid = std::process::id();
        let header = [
            h as u8,
            (h >> 8) as u8,
            (h >> 16) as u8,
            pid as u8,
            (pid >> 8) as u8,
        ];
        let now = now_secs() as u32;
        let start = (h ^ now ^ pid.rotate_left(16)).max(1);
        (header, AtomicU32::new(start))
    })
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// `bson.objectid([hex24])`: a new id (time, host, pid, counter), or the
/// one the 24 hex digits spell.
pub(crate) fn objectid(lua: &Lua, args: &[Value]) -> mlua::Result<Value> {
    let mut oid = [0u8; 12];
    match string_like(lua, args.first().unwrap_or(&Value::Nil))? {
        Some(s) => {
            if s.len() != 24 {
                let shown = s.split(|&c| c == 0).next().unwrap_or(&[]);
                return fail(format!(
                    "Invalid objectid {}",
                    String::from_utf8_lossy(shown)
                ));
            }
            for (i, o) in oid.iter_mut().enumerate() {
                // as C: the high digit shifted in an int, then cut to a byte
                *o = ((u32::from(hex_digit(s[i * 2])) << 4) | u32::from(hex_digit(s[i * 2 + 1])))
                    as u8;
            }
        }
        None => {
            let (header, counter) = oid_origin();
            let t = now_secs() as u32;
            let id = counter.fetch_add(1, Ordering::Relaxed);
            oid[..4].copy_from_slice(&t.to_be_bytes());
            oid[4..9].copy_from_slice(header);
            oid[9..].copy_from_slice(&id.to_be_bytes()[1..]);
        }
    }
    tagged(lua, wire::OBJECTID, &oid)
}

fn name(lua: &Lua, n: &str) -> mlua::Result<Value> {
    Ok(Value::String(lua.create_string(n)?))
}

fn bytes(lua: &Lua, b: &[u8]) -> mlua::Result<Value> {
    Ok(Value::String(lua.create_string(b)?))
}

/// `bson.type(v)`: the type's name, then its parts.
pub(crate) fn type_of(lua: &Lua, args: &[Value]) -> mlua::Result<MultiValue> {
    let v = args.first().cloned().unwrap_or(Value::Nil);
    let simple = |n: &str, v: Value| -> mlua::Result<MultiValue> {
        Ok(MultiValue::from_vec(vec![name(lua, n)?, v]))
    };
    match &v {
        Value::Integer(_) | Value::Number(_) => simple("number", v.clone()),
        Value::Boolean(_) => simple("boolean", v.clone()),
        Value::Table(_) => simple("table", v.clone()),
        Value::Nil => Ok(MultiValue::from_vec(vec![name(lua, "nil")?])),
        Value::String(s) => {
            let b = s.as_bytes();
            if b.len() >= 2 && b[0] == 0 {
                subtype(lua, b[1], &b[2..])
            } else {
                simple("string", v.clone())
            }
        }
        other => fail(format!("Invalid type {}", typename(other))),
    }
}

fn subtype(lua: &Lua, t: u8, buf: &[u8]) -> mlua::Result<MultiValue> {
    let out = match t {
        wire::BINARY => {
            let Some((&sub, data)) = buf.split_first() else {
                return fail("Invalid binary");
            };
            vec![
                name(lua, "binary")?,
                bytes(lua, data)?,
                Value::Integer(i64::from(sub)),
            ]
        }
        wire::OBJECTID => {
            if buf.len() != 12 {
                return fail("Invalid object id");
            }
            let hex: String = buf.iter().map(|b| format!("{b:02x}")).collect();
            vec![name(lua, "objectid")?, bytes(lua, hex.as_bytes())?]
        }
        wire::DATE => {
            let Ok(d) = <[u8; 4]>::try_from(buf) else {
                return fail("Invalid date");
            };
            vec![
                name(lua, "date")?,
                Value::Integer(i64::from(i32::from_le_bytes(d))),
            ]
        }
        wire::TIMESTAMP => {
            if buf.len() != 8 {
                return fail("Invalid timestamp");
            }
            let inc = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]);
            let ts = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
            vec![
                name(lua, "timestamp")?,
                Value::Integer(i64::from(ts)),
                Value::Integer(i64::from(inc)),
            ]
        }
        wire::REGEX => {
            let inner = &buf[..buf.len().saturating_sub(1)];
            let Some(cut) = inner.iter().rposition(|&c| c == 0) else {
                return fail("Invalid regex");
            };
            vec![
                name(lua, "regex")?,
                bytes(lua, &inner[..cut])?,
                bytes(lua, &inner[cut + 1..])?,
            ]
        }
        wire::MINKEY => vec![name(lua, "minkey")?],
        wire::MAXKEY => vec![name(lua, "maxkey")?],
        wire::NULL => vec![name(lua, "nil")?],
        wire::JSCODE | wire::DBPOINTER | wire::SYMBOL | wire::CODEWS => {
            vec![name(lua, "unsupported")?, bytes(lua, buf)?]
        }
        wire::INT64 => {
            let Ok(d) = <[u8; 8]>::try_from(buf) else {
                return fail("Invalid int64");
            };
            vec![name(lua, "int64")?, Value::Integer(i64::from_le_bytes(d))]
        }
        _ => return fail(format!("Invalid subtype {t}")),
    };
    Ok(MultiValue::from_vec(out))
}
