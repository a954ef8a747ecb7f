//! The functions of `protobuf.c`, as pbc's `protobuf.lua` calls them.
//! Where the C module hands out pointers (environments, messages,
//! patterns, buffers) these hand out userdata, and strings where skynet
//! would pass a pointer and a size.

use super::env::{Env, RegisterError};
use super::pattern::{CType, PVal, Pattern};
use super::rmsg::RMsg;
use super::scan::{self, DecodeError, Out};
use super::wmsg::{WError, WTree};
use crate::conv::type_name;
use crate::limits;
use crate::meter::Meter;
use mlua::{AnyUserData, Function, Lua, MultiValue, Table, UserData, Value};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;

/// What an environment's handles share: its types (replaced, not
/// changed, by a register, so a decode in progress keeps its own view)
/// and its last error.
pub struct Shared {
    types: Mutex<Arc<Env>>,
    last_error: Mutex<&'static str>,
}

impl Shared {
    fn new() -> Shared {
        Shared {
            types: Mutex::new(Arc::new(super::bootstrap::env())),
            last_error: Mutex::new(""),
        }
    }
    fn snap(&self) -> Arc<Env> {
        self.types.lock().clone()
    }
    fn set_error(&self, e: &'static str) {
        *self.last_error.lock() = e;
    }
}

struct EnvUd(Arc<Shared>);
impl UserData for EnvUd {}

struct RMsgUd {
    env: Arc<Shared>,
    types: Arc<Env>,
    msg: Option<RMsg>,
}
impl UserData for RMsgUd {}

struct WMsgUd {
    env: Arc<Shared>,
    tree: Tree,
    node: usize,
}
impl UserData for WMsgUd {}

struct PatUd {
    env: Arc<Shared>,
    pat: Option<Pattern>,
}
impl UserData for PatUd {}

struct GcUd(#[allow(dead_code)] Option<Arc<Shared>>);
impl UserData for GcUd {}

type R<T> = mlua::Result<T>;

/// An error of this module's own (the glue raises it at the caller's
/// position).
fn err(msg: impl Into<String>) -> mlua::Error {
    crate::conv::rt(msg)
}

fn arg(a: &MultiValue, i: usize) -> Option<&Value> {
    a.get(i - 1)
}

fn bad(i: isize, f: &str, msg: &str) -> mlua::Error {
    err(format!("bad argument #{i} to '{f}' ({msg})"))
}

fn ud(a: &MultiValue, i: usize) -> R<&AnyUserData> {
    match arg(a, i) {
        Some(Value::UserData(u)) => Ok(u),
        _ => Err(err(format!("userdata {i} is nil"))),
    }
}

fn wrong(i: usize, kind: &str) -> mlua::Error {
    err(format!("userdata {i} is not a protobuf.c {kind}"))
}

fn env_arg(a: &MultiValue, i: usize) -> R<Arc<Shared>> {
    let u = ud(a, i)?;
    let e = u.borrow::<EnvUd>().map_err(|_| wrong(i, "environment"))?;
    Ok(e.0.clone())
}

/// `luaL_checklstring`: a string, or a number as Lua writes it.
fn check_str(lua: &Lua, a: &MultiValue, i: usize, f: &str) -> R<Vec<u8>> {
    to_str(lua, arg(a, i)).ok_or_else(|| {
        bad(
            i as isize,
            f,
            &format!("string expected, got {}", type_name(arg(a, i))),
        )
    })
}

fn to_str(lua: &Lua, v: Option<&Value>) -> Option<Vec<u8>> {
    match v? {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        v @ (Value::Integer(_) | Value::Number(_)) => lua
            .coerce_string(v.clone())
            .ok()
            .flatten()
            .map(|s| s.as_bytes().to_vec()),
        _ => None,
    }
}

/// `luaL_checkinteger`.
fn check_int(lua: &Lua, v: Option<&Value>, i: isize, f: &str) -> R<i64> {
    match v {
        Some(Value::Integer(n)) => Ok(*n),
        Some(x @ (Value::Number(_) | Value::String(_))) => match lua.coerce_integer(x.clone()) {
            Ok(Some(n)) => Ok(n),
            _ if lua.coerce_number(x.clone()).ok().flatten().is_some() => {
                Err(bad(i, f, "number has no integer representation"))
            }
            _ => Err(bad(i, f, &format!("number expected, got {}", type_name(v)))),
        },
        _ => Err(bad(i, f, &format!("number expected, got {}", type_name(v)))),
    }
}

/// `luaL_checknumber`.
fn check_num(lua: &Lua, v: Option<&Value>, i: isize, f: &str) -> R<f64> {
    match v {
        Some(Value::Integer(n)) => Ok(*n as f64),
        Some(Value::Number(n)) => Ok(*n),
        Some(x @ Value::String(_)) => lua
            .coerce_number(x.clone())
            .ok()
            .flatten()
            .ok_or_else(|| bad(i, f, "number expected, got string")),
        _ => Err(bad(i, f, &format!("number expected, got {}", type_name(v)))),
    }
}

/// `lua_tointeger`: 0 where there is no integer.
fn to_int(lua: &Lua, v: Option<&Value>) -> i64 {
    match v {
        Some(Value::Integer(n)) => *n,
        Some(x) => lua.coerce_integer(x.clone()).ok().flatten().unwrap_or(0),
        None => 0,
    }
}

fn truthy(v: Option<&Value>) -> bool {
    !matches!(v, None | Some(Value::Nil) | Some(Value::Boolean(false)))
}

/// C's cast of a double to `int64_t` on x86-64 (out of range: the
/// lowest value).
fn f2i(v: f64) -> i64 {
    if (-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&v) {
        v as i64
    } else {
        i64::MIN
    }
}

fn lstr(lua: &Lua, b: &[u8]) -> R<Value> {
    Ok(Value::String(lua.create_string(b)?))
}

fn rmsg_value(
    lua: &Lua,
    env: Arc<Shared>,
    types: Arc<Env>,
    r: Result<(RMsg, Option<&'static str>), &'static str>,
) -> R<MultiValue> {
    match r {
        Ok((m, warn)) => {
            if let Some(w) = warn {
                env.set_error(w);
            }
            let u = lua.create_userdata(RMsgUd {
                env,
                types,
                msg: Some(m),
            })?;
            Ok(MultiValue::from_vec(vec![Value::UserData(u)]))
        }
        Err(e) => {
            env.set_error(e);
            Ok(MultiValue::new())
        }
    }
}

fn with_rmsg<T>(a: &MultiValue, f: impl FnOnce(&RMsgUd, &RMsg) -> R<T>) -> R<T> {
    let u = ud(a, 1)?;
    let m = u.borrow::<RMsgUd>().map_err(|_| wrong(1, "rmessage"))?;
    let msg = m
        .msg
        .as_ref()
        .ok_or_else(|| err("protobuf.c: this rmessage was deleted"))?;
    f(&m, msg)
}

type Tree = Arc<Mutex<Option<WTree>>>;

fn wmsg_arg(a: &MultiValue, i: usize) -> R<(Arc<Shared>, Tree, usize)> {
    let u = ud(a, i)?;
    let m = u.borrow::<WMsgUd>().map_err(|_| wrong(i, "wmessage"))?;
    Ok((m.env.clone(), m.tree.clone(), m.node))
}

/// Runs `op` on the writer tree of argument 1 with the environment's types.
fn write_op<T>(
    lua: &Lua,
    a: &MultiValue,
    op: impl FnOnce(&mut WTree, &Env, usize) -> Result<T, WError>,
) -> R<Result<T, &'static str>> {
    let (env, tree, node) = wmsg_arg(a, 1)?;
    let types = env.snap();
    let mut guard = tree.lock();
    let t = guard
        .as_mut()
        .ok_or_else(|| err("protobuf.c: this wmessage was deleted"))?;
    match op(t, &types, node) {
        Ok(v) => Ok(Ok(v)),
        Err(WError::Pbc(e)) => {
            env.set_error(e);
            Ok(Err(e))
        }
        Err(WError::TooDeep) => {
            let max = limits::of(lua).pbc_depth;
            let why = format!("protobuf.c: messages nested deeper than {max}");
            limits::refused(lua, limits::ACTION_PBC, limits::PBC_MAX_DEPTH_KEY, &why);
            Err(err(why))
        }
        Err(WError::TooBig) => {
            let max = limits::of(lua).pbc_bytes;
            let why = format!("protobuf.c: message larger than {max} bytes");
            limits::refused(lua, limits::ACTION_PBC, limits::PBC_MAX_BYTES_KEY, &why);
            Err(err(why))
        }
    }
}

fn key_arg(lua: &Lua, a: &MultiValue, f: &str) -> R<Vec<u8>> {
    check_str(lua, a, 2, f)
}

fn decode_value(lua: &Lua, cb: &Function, tname: &[u8], v: Out) -> R<Value> {
    Ok(match v {
        Out::Int(i) => Value::Integer(i),
        Out::Real(r) => Value::Number(r),
        Out::Bool(b) => Value::Boolean(b),
        Out::Enum(Some(n)) => lstr(lua, n)?,
        Out::Enum(None) => Value::Nil,
        Out::Str(s) => lstr(lua, s)?,
        Out::Msg(s) => cb.call::<Value>((lua.create_string(tname)?, lua.create_string(s)?))?,
    })
}

fn decode(lua: &Lua, a: MultiValue) -> R<bool> {
    const F: &str = "_decode";
    let env = env_arg(&a, 1)?;
    let cb = match arg(&a, 2) {
        Some(Value::Function(f)) => f.clone(),
        v => {
            return Err(bad(
                2,
                F,
                &format!("function expected, got {}", type_name(v)),
            ))
        }
    };
    let out = match arg(&a, 3) {
        Some(Value::Table(t)) => t.clone(),
        v => return Err(bad(3, F, &format!("table expected, got {}", type_name(v)))),
    };
    let ty = check_str(lua, &a, 4, F)?;
    let data = match arg(&a, 5) {
        Some(Value::String(s)) => s.as_bytes().to_vec(),
        // pbc takes a pointer here (and a size as argument 6).
        Some(Value::UserData(_)) => return Err(bad(5, F, "string expected, got userdata")),
        _ => return Err(err("userdata 5 is nil")),
    };
    let types = env.snap();
    let mut meter = Meter::new(lua);
    let mut arrays: HashMap<i32, Table> = HashMap::new();
    let r = scan::decode(&types, &ty, &data, &mut meter, &mut |ev| -> R<()> {
        let v = decode_value(lua, &cb, &ev.field.type_name, ev.value)?;
        let key = lua.create_string(&ev.field.name)?;
        if ev.repeated {
            let arr = match arrays.get(&ev.field.id) {
                Some(t) => t.clone(),
                None => {
                    let t = lua.create_table()?;
                    out.set(&key, &t)?;
                    arrays.insert(ev.field.id, t.clone());
                    t
                }
            };
            if !v.is_nil() {
                arr.raw_set(arr.raw_len() + 1, v)?;
            }
        } else {
            out.set(key, v)?;
        }
        Ok(())
    });
    match r {
        Ok(()) => Ok(true),
        Err(DecodeError::NoType) => {
            env.set_error("Proto not found");
            Ok(false)
        }
        Err(DecodeError::Context) => {
            env.set_error("decode context error");
            Ok(false)
        }
        Err(DecodeError::Value) => Ok(false),
        Err(DecodeError::Sink(e)) => Err(e),
    }
}

fn pattern_unpack(lua: &Lua, a: MultiValue) -> R<MultiValue> {
    let u = ud(&a, 1)?;
    let p = u.borrow::<PatUd>().map_err(|_| wrong(1, "pattern"))?;
    let pat = p
        .pat
        .as_ref()
        .ok_or_else(|| err("protobuf.c: this pattern was deleted"))?;
    let format = to_str(lua, arg(&a, 2)).unwrap_or_default();
    let data = match arg(&a, 4) {
        Some(v @ (Value::String(_) | Value::Integer(_) | Value::Number(_))) => {
            to_str(lua, Some(v)).unwrap_or_default()
        }
        _ => return Err(err("Need a userdata")),
    };
    let mut meter = Meter::new(lua);
    let vals = match pat.unpack(&data, &mut meter)? {
        Ok(v) => v,
        Err(e) => {
            p.env.set_error(e);
            return Ok(MultiValue::new());
        }
    };
    if format.len() != vals.len() {
        return Err(err("protobuf.c: the format does not fit the pattern"));
    }
    let slice = |b: &[u8]| -> R<Value> {
        let t = lua.create_table()?;
        t.raw_set(1, lua.create_string(b)?)?;
        t.raw_set(2, b.len() as i64)?;
        Ok(Value::Table(t))
    };
    let one = |c: u8, v: &PVal| -> R<Value> {
        Ok(match (c.to_ascii_lowercase(), v) {
            (b'i', PVal::Bits(b)) => Value::Integer(i64::from(*b as u32 as i32)),
            (b'b', PVal::Bits(b)) => Value::Boolean(*b as u32 != 0),
            (b'd', PVal::Bits(b)) => Value::Integer(*b as i64),
            (b'r', PVal::Bits(b)) => Value::Number(f64::from_bits(*b)),
            (b's', PVal::Bytes(s)) => lstr(lua, s)?,
            (b'm', PVal::Bytes(s)) => slice(s)?,
            _ => Value::Nil,
        })
    };
    let mut out = Vec::with_capacity(vals.len());
    for (c, v) in format.iter().zip(&vals) {
        if c.is_ascii_lowercase() {
            out.push(one(*c, v)?);
        } else {
            let t = lua.create_table()?;
            if let PVal::Array(items) = v {
                for (i, x) in items.iter().enumerate() {
                    t.raw_set(i + 1, one(*c, x)?)?;
                }
            }
            out.push(Value::Table(t));
        }
    }
    Ok(MultiValue::from_vec(out))
}

fn slice_arg(lua: &Lua, v: Option<&Value>, i: isize) -> R<Vec<u8>> {
    if let Some(Value::Table(t)) = v {
        let s: Value = t.raw_get(1)?;
        let n = to_int(lua, Some(&t.raw_get::<Value>(2)?));
        let b = to_str(lua, Some(&s)).unwrap_or_default();
        let n = usize::try_from(n).unwrap_or(0).min(b.len());
        return Ok(b[..n].to_vec());
    }
    to_str(lua, v).ok_or_else(|| {
        bad(
            i,
            "_pattern_pack",
            &format!("string expected, got {}", type_name(v)),
        )
    })
}

fn pattern_pack(lua: &Lua, a: MultiValue) -> R<Value> {
    const F: &str = "_pattern_pack";
    let u = ud(&a, 1)?;
    let p = u.borrow::<PatUd>().map_err(|_| wrong(1, "pattern"))?;
    let pat = p
        .pat
        .as_ref()
        .ok_or_else(|| err("protobuf.c: this pattern was deleted"))?;
    let format = to_str(lua, arg(&a, 2)).unwrap_or_default();
    if format.len() != pat.fields.len() {
        return Err(err("protobuf.c: the format does not fit the pattern"));
    }
    let mut vals = Vec::with_capacity(format.len());
    for (k, &c) in format.iter().enumerate() {
        let i = 4 + k;
        let v = arg(&a, i);
        let ii = i as isize;
        let val = match c {
            b'i' => PVal::Bits(u64::from(check_int(lua, v, ii, F)? as i32 as u32)),
            b'd' => PVal::Bits(check_int(lua, v, ii, F)? as u64),
            b'b' => PVal::Bits(u64::from(truthy(v))),
            b'r' => PVal::Bits(check_num(lua, v, ii, F)?.to_bits()),
            b's' => PVal::Bytes(
                to_str(lua, v)
                    .ok_or_else(|| bad(ii, F, &format!("string expected, got {}", type_name(v))))?,
            ),
            b'm' => PVal::Bytes(slice_arg(lua, v, ii)?),
            c if c.is_ascii_lowercase() => {
                return Err(err(format!("unknown format {}", c as char)))
            }
            c => {
                let Some(Value::Table(t)) = v else {
                    return Err(err("need table for array type"));
                };
                let mut items = Vec::new();
                for j in 1..=t.raw_len() {
                    let e: Value = t.raw_get(j)?;
                    let e = Some(&e);
                    items.push(match c {
                        b'I' => PVal::Bits(check_int(lua, e, -1, F)? as i32 as i64 as u64),
                        b'D' => {
                            let x = check_num(lua, e, -1, F)?;
                            PVal::Bits(if x < 0.0 { f2i(x) as u64 } else { x as u64 })
                        }
                        b'B' => PVal::Bits(u64::from(truthy(e))),
                        b'R' => PVal::Bits(check_num(lua, e, -1, F)?.to_bits()),
                        b'S' => PVal::Bytes(to_str(lua, e).ok_or_else(|| {
                            bad(-1, F, &format!("string expected, got {}", type_name(e)))
                        })?),
                        b'M' => PVal::Bytes(slice_arg(lua, e, -1)?),
                        _ => continue,
                    });
                }
                PVal::Array(items)
            }
        };
        let val = match (pat.fields[k].ctype, val) {
            (CType::Int32, PVal::Bits(b)) => PVal::Bits(b & 0xffff_ffff),
            (_, v) => v,
        };
        vals.push(val);
    }
    let out = pat.pack(&vals);
    let mut meter = Meter::new(lua);
    meter.step((out.len() / 64) as u32)?;
    lstr(lua, &out)
}

fn pattern_size(lua: &Lua, a: MultiValue) -> R<i64> {
    let f = check_str(lua, &a, 1, "_pattern_size")?;
    Ok(f.iter()
        .map(|c| match c {
            b'b' | b'i' => 4,
            b'r' | b'd' => 8,
            b's' | b'm' => 16,
            _ => 64,
        })
        .sum())
}

/// Builds the raw function table (errors still as Rust errors).
pub fn raw_module(lua: &Lua) -> R<Table> {
    let m = lua.create_table()?;
    macro_rules! def {
        ($name:literal, $f:expr) => {
            m.set($name, lua.create_function($f)?)?;
        };
    }
    def!("_env_new", |lua, _: MultiValue| {
        lua.create_userdata(EnvUd(Arc::new(Shared::new())))
    });
    def!("_env_register", |lua, a: MultiValue| {
        let env = env_arg(&a, 1)?;
        let data = check_str(lua, &a, 2, "_env_register")?;
        let mut meter = Meter::new(lua);
        let mut guard = env.types.lock();
        let max = limits::of(lua).pbc_depth;
        let r = Arc::make_mut(&mut guard).register_limited(&data, &mut meter, max);
        drop(guard);
        match r {
            Ok(()) => Ok(()),
            Err(RegisterError::TooDeep) => {
                env.set_error("register open google.protobuf.FileDescriptorSet fail");
                let why = format!("protobuf.c: descriptor messages nested deeper than {max}");
                limits::refused(lua, limits::ACTION_PBC, limits::PBC_MAX_DEPTH_KEY, &why);
                Err(err("register fail"))
            }
            Err(RegisterError::Pbc(e)) => {
                env.set_error(e);
                Err(err("register fail"))
            }
            Err(RegisterError::Lua(e)) => Err(e),
        }
    });
    def!("_env_type", |lua, a: MultiValue| {
        let env = env_arg(&a, 1)?;
        let ty = check_str(lua, &a, 2, "_env_type")?;
        let types = env.snap();
        if matches!(arg(&a, 3), None | Some(Value::Nil)) {
            return Ok(MultiValue::from_vec(vec![Value::Boolean(
                types.msg(&ty).is_some(),
            )]));
        }
        let key = check_str(lua, &a, 3, "_env_type")?;
        let Some(f) = types.field(&ty, &key) else {
            return Ok(MultiValue::from_vec(vec![Value::Integer(0)]));
        };
        let c = f.code();
        let mut out = vec![Value::Integer(c)];
        if c & 127 == super::env::code::ENUM || c & 127 == super::env::code::MESSAGE {
            out.push(lstr(lua, &f.type_name)?);
        }
        Ok(MultiValue::from_vec(out))
    });
    def!("_env_enum_id", |lua, a: MultiValue| {
        let env = env_arg(&a, 1)?;
        let ty = check_str(lua, &a, 2, "_env_enum_id")?;
        let name = check_str(lua, &a, 3, "_env_enum_id")?;
        Ok(match env.snap().enum_id(&ty, &name) {
            Some(id) if id >= 0 => MultiValue::from_vec(vec![Value::Integer(i64::from(id))]),
            _ => MultiValue::new(),
        })
    });
    def!("_last_error", |lua, a: MultiValue| {
        let env = env_arg(&a, 1)?;
        let e = std::mem::take(&mut *env.last_error.lock());
        lstr(lua, e.as_bytes())
    });
    def!("_rmessage_new", |lua, a: MultiValue| {
        const F: &str = "_rmessage_new";
        let env = env_arg(&a, 1)?;
        let ty = check_str(lua, &a, 2, F)?;
        let data = to_str(lua, arg(&a, 3)).ok_or_else(|| {
            bad(
                3,
                F,
                &format!("string expected, got {}", type_name(arg(&a, 3))),
            )
        })?;
        let types = env.snap();
        let len = data.len();
        let mut meter = Meter::new(lua);
        let r = RMsg::new(&types, &ty, data.into(), 0, len, &mut meter)?;
        rmsg_value(lua, env, types, r)
    });
    def!("_rmessage_delete", |_, a: MultiValue| {
        let u = ud(&a, 1)?;
        let mut m = u.borrow_mut::<RMsgUd>().map_err(|_| wrong(1, "rmessage"))?;
        m.msg = None;
        Ok(())
    });
    def!("_rmessage_int", |lua, a: MultiValue| {
        let key = key_arg(lua, &a, "_rmessage_int")?;
        let i = check_int(lua, arg(&a, 3), 3, "_rmessage_int")?;
        with_rmsg(&a, |m, r| {
            Ok(r.integer(&m.types, &key, i64::from(i as i32)) as i64)
        })
    });
    def!("_rmessage_real", |lua, a: MultiValue| {
        let key = key_arg(lua, &a, "_rmessage_real")?;
        let i = check_int(lua, arg(&a, 3), 3, "_rmessage_real")?;
        with_rmsg(&a, |m, r| Ok(r.real(&m.types, &key, i64::from(i as i32))))
    });
    def!("_rmessage_string", |lua, a: MultiValue| {
        let key = key_arg(lua, &a, "_rmessage_string")?;
        let i = to_int(lua, arg(&a, 3));
        with_rmsg(&a, |m, r| {
            lstr(lua, r.string(&m.types, &key, i64::from(i as i32)))
        })
    });
    def!("_rmessage_message", |lua, a: MultiValue| {
        let key = key_arg(lua, &a, "_rmessage_message")?;
        let i = to_int(lua, arg(&a, 3));
        let mut meter = Meter::new(lua);
        let (env, types, r) = with_rmsg(&a, |m, r| {
            let sub = r.message(&m.types, &key, i64::from(i as i32), &mut meter)?;
            Ok((m.env.clone(), m.types.clone(), sub))
        })?;
        rmsg_value(lua, env, types, r)
    });
    def!("_rmessage_size", |lua, a: MultiValue| {
        let key = key_arg(lua, &a, "_rmessage_size")?;
        with_rmsg(&a, |_, r| Ok(r.size(&key) as i64))
    });
    def!("_wmessage_new", |lua, a: MultiValue| {
        let env = env_arg(&a, 1)?;
        let ty = check_str(lua, &a, 2, "_wmessage_new")?;
        if env.snap().msg(&ty).is_none() {
            return Ok(Value::Nil);
        }
        Ok(Value::UserData(lua.create_userdata(WMsgUd {
            env,
            tree: Arc::new(Mutex::new(Some({
                let l = limits::of(lua);
                WTree::with_limits(&ty, l.pbc_depth, l.pbc_bytes)
            }))),
            node: 0,
        })?))
    });
    def!("_wmessage_delete", |_, a: MultiValue| {
        if let Some(Value::UserData(u)) = arg(&a, 1) {
            if let Ok(m) = u.borrow::<WMsgUd>() {
                *m.tree.lock() = None;
            }
        }
        Ok(())
    });
    def!("_wmessage_real", |lua, a: MultiValue| {
        const F: &str = "_wmessage_real";
        wmsg_arg(&a, 1)?;
        let key = key_arg(lua, &a, F)?;
        let v = check_num(lua, arg(&a, 3), 3, F)?;
        write_op(lua, &a, |t, e, n| t.real(e, n, &key, v))?.ok();
        Ok(())
    });
    def!("_wmessage_int", |lua, a: MultiValue| {
        wmsg_arg(&a, 1)?;
        let key = key_arg(lua, &a, "_wmessage_int")?;
        let v = match arg(&a, 3) {
            Some(Value::Integer(n)) => *n,
            Some(x) => f2i(lua.coerce_number(x.clone()).ok().flatten().unwrap_or(0.0)),
            None => 0,
        };
        write_op(lua, &a, |t, e, n| t.integer(e, n, &key, v as u64))?.ok();
        Ok(())
    });
    def!("_wmessage_string", |lua, a: MultiValue| {
        const F: &str = "_wmessage_string";
        wmsg_arg(&a, 1)?;
        let key = key_arg(lua, &a, F)?;
        let v = check_str(lua, &a, 3, F)?;
        match write_op(lua, &a, |t, e, n| t.string(e, n, &key, &v))? {
            Ok(()) => Ok(()),
            Err(_) => {
                let shown = v.split(|&c| c == 0).next().unwrap_or_default();
                Err(err(format!(
                    "Write string error : {}",
                    String::from_utf8_lossy(shown)
                )))
            }
        }
    });
    def!("_wmessage_message", |lua, a: MultiValue| {
        let (env, tree, _) = wmsg_arg(&a, 1)?;
        let key = key_arg(lua, &a, "_wmessage_message")?;
        match write_op(lua, &a, |t, e, n| t.message(e, n, &key))? {
            Ok(node) => Ok(Value::UserData(lua.create_userdata(WMsgUd {
                env,
                tree,
                node,
            })?)),
            Err(_) => Ok(Value::Nil),
        }
    });
    def!("_wmessage_buffer", |lua, a: MultiValue| {
        let b = write_op(lua, &a, |t, _, n| Ok(t.buffer(n)))?.unwrap_or_default();
        Meter::new(lua).step((b.len() / 64) as u32)?;
        let n = b.len() as i64;
        Ok((lstr(lua, &b)?, n))
    });
    def!("_wmessage_buffer_string", |lua, a: MultiValue| {
        let b = write_op(lua, &a, |t, _, n| Ok(t.buffer(n)))?.unwrap_or_default();
        Meter::new(lua).step((b.len() / 64) as u32)?;
        lstr(lua, &b)
    });
    def!("_pattern_new", |lua, a: MultiValue| {
        const F: &str = "_pattern_new";
        let env = env_arg(&a, 1)?;
        let msg = check_str(lua, &a, 2, F)?;
        let format = check_str(lua, &a, 3, F)?;
        match Pattern::new(&env.snap(), &msg, &format) {
            Ok(pat) => Ok(lua.create_userdata(PatUd {
                env,
                pat: Some(pat),
            })?),
            Err(e) => {
                env.set_error(e);
                Err(err(format!(
                    "create patten {} ({}) failed",
                    String::from_utf8_lossy(&msg),
                    String::from_utf8_lossy(&format)
                )))
            }
        }
    });
    def!("_pattern_delete", |_, a: MultiValue| {
        if let Some(Value::UserData(u)) = arg(&a, 1) {
            if let Ok(mut p) = u.borrow_mut::<PatUd>() {
                p.pat = None;
            }
        }
        Ok(())
    });
    def!("_pattern_size", pattern_size);
    def!("_pattern_unpack", pattern_unpack);
    def!("_pattern_pack", pattern_pack);
    def!("_decode", decode);
    def!("_gc", |lua, a: MultiValue| {
        let env = match arg(&a, 1) {
            Some(Value::UserData(u)) => u.borrow::<EnvUd>().ok().map(|e| e.0.clone()),
            _ => None,
        };
        lua.create_userdata(GcUd(env))
    });
    def!("_add_pattern", |_, _: MultiValue| Ok(()));
    def!("_add_rmessage", |_, _: MultiValue| Ok(()));
    Ok(m)
}
