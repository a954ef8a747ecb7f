//! The functions of the `pb` module.

use crate::conv::{arg_error, push_integer, type_name};
use crate::decode::Decoder;
use crate::encode::Encoder;
use crate::lowlevel::{check_bytes, Buffer};
use crate::meter::Meter;
use crate::schema::{Field, Schema, Type};
use crate::state::{self, PbState, Slot, OPTION_NAMES};
use crate::wire::{self, Rd};
use mlua::{AnyUserData, Lua, MultiValue, Table, Value};
use std::sync::Arc;

fn arg(a: &MultiValue, i: usize) -> Option<&Value> {
    a.get(i - 1)
}

fn none_or_nil(a: &MultiValue, i: usize) -> bool {
    matches!(arg(a, i), None | Some(Value::Nil))
}

fn lstr(lua: &Lua, b: &[u8]) -> mlua::Result<Value> {
    Ok(Value::String(lua.create_string(b)?))
}

fn mv(v: Vec<Value>) -> MultiValue {
    MultiValue::from_vec(v)
}

/// `lpb_type`: the live type a user-given name names (a leading `.` is
/// added when missing).
pub fn find_type(schema: &Schema, name: &[u8]) -> Option<usize> {
    if name.is_empty() || name[0] == b'.' {
        schema.find(name)
    } else {
        let mut full = Vec::with_capacity(name.len() + 1);
        full.push(b'.');
        full.extend_from_slice(name);
        schema.find(&full)
    }
}

fn type_arg(lua: &Lua, a: &MultiValue, fname: &str) -> mlua::Result<(Arc<Schema>, Option<usize>)> {
    let name = check_bytes(a, 1, fname)?;
    let schema = state::snap(lua)?.schema;
    let t = find_type(&schema, &name);
    Ok((schema, t))
}

fn type_missing(a: &MultiValue, fname: &str) -> mlua::Error {
    let name = match arg(a, 1) {
        Some(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
        Some(Value::Integer(i)) => i.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "(null)".to_string(),
    };
    arg_error(1, fname, &format!("type '{name}' does not exists"))
}

/// `lpb_field`: a field by number (an integer argument) or by name.
fn field_arg<'s>(
    lua: &Lua,
    a: &MultiValue,
    t: Option<&'s Type>,
    fname: &str,
) -> mlua::Result<Option<&'s Field>> {
    let v = arg(a, 2).cloned().unwrap_or(Value::Nil);
    if matches!(v, Value::Integer(_) | Value::Number(_) | Value::String(_)) {
        if let Ok(Some(n)) = lua.coerce_integer(v.clone()) {
            return Ok(t.and_then(|t| t.field(i64::from(n as i32))));
        }
    }
    let name = check_bytes(a, 2, fname)?;
    Ok(t.and_then(|t| t.fname(&name)))
}

fn push_type(lua: &Lua, t: &Type) -> mlua::Result<MultiValue> {
    let kind = if t.is_map {
        "map"
    } else if t.is_enum {
        "enum"
    } else {
        "message"
    };
    Ok(mv(vec![
        lstr(lua, &t.name)?,
        lstr(lua, t.basename())?,
        lstr(lua, kind.as_bytes())?,
    ]))
}

fn push_field(lua: &Lua, schema: &Schema, t: &Type, f: &Field) -> mlua::Result<MultiValue> {
    let tname: Vec<u8> = match f.ty {
        Some(i) => schema.types[i].name.clone(),
        None => wire::type_name(f.type_id, "<unknown>").as_bytes().to_vec(),
    };
    let label = if f.repeated {
        if f.packed {
            "packed"
        } else {
            "repeated"
        }
    } else {
        "optional"
    };
    let mut v = vec![
        lstr(lua, &f.name)?,
        Value::Integer(i64::from(f.number)),
        lstr(lua, &tname)?,
        match &f.default {
            Some(d) => lstr(lua, d)?,
            None => Value::Nil,
        },
        lstr(lua, label.as_bytes())?,
    ];
    if f.oneof > 0 {
        v.push(match t.oneof_name(f.oneof) {
            Some(n) => lstr(lua, n)?,
            None => Value::Nil,
        });
        v.push(Value::Integer(i64::from(f.oneof) - 1));
    }
    Ok(mv(v))
}

fn load_bytes(lua: &Lua, data: &[u8]) -> mlua::Result<MultiValue> {
    let ud = state::current(lua)?;
    let st = ud.borrow::<PbState>()?;
    let mut g = st.inner.lock();
    let mut meter = Meter::new(lua);
    let schema = Arc::make_mut(&mut g.schema);
    let max = crate::limits::of(lua).depth;
    let (ok, pos) = match crate::load::load_limited(schema, data, &mut meter, max) {
        Ok(p) => (true, p),
        Err(crate::load::LoadError::At(p)) => (false, p),
        Err(crate::load::LoadError::TooDeep(p)) => {
            let why = format!("pb.load: descriptor messages nested deeper than {max}");
            crate::limits::refused(
                lua,
                crate::limits::ACTION_PB,
                crate::limits::MAX_DEPTH_KEY,
                &why,
            );
            (false, p)
        }
        Err(crate::load::LoadError::Lua(e)) => return Err(e),
    };
    Ok(mv(vec![Value::Boolean(ok), Value::Integer(pos as i64 + 1)]))
}

/// `pb.state([s])` (and `State:setdefault()`).
pub fn state_fn(lua: &Lua, a: MultiValue) -> mlua::Result<Value> {
    let old = state::current(lua)?;
    if !a.is_empty() {
        match arg(&a, 1) {
            Some(Value::Nil) => state::set_current(lua, None)?,
            Some(Value::UserData(u)) if u.is::<PbState>() => {
                state::set_current(lua, Some(u.clone()))?
            }
            other => {
                return Err(arg_error(
                    1,
                    "state",
                    &format!("pb.State expected, got {}", type_name(other)),
                ))
            }
        }
    }
    Ok(Value::UserData(old))
}

fn encode(lua: &Lua, a: MultiValue) -> mlua::Result<Value> {
    let name = check_bytes(&a, 1, "encode")?;
    let snap = state::snap(lua)?;
    let Some(ty) = find_type(&snap.schema, &name) else {
        return Err(type_missing(&a, "encode"));
    };
    let Some(Value::Table(tbl)) = arg(&a, 2).cloned() else {
        return Err(arg_error(
            2,
            "encode",
            &format!("table expected, got {}", type_name(arg(&a, 2))),
        ));
    };
    let buf: Option<AnyUserData> = match arg(&a, 3) {
        Some(Value::UserData(u)) if u.is::<Buffer>() => Some(u.clone()),
        _ => None,
    };
    let out = match &buf {
        Some(u) => std::mem::take(&mut u.borrow_mut::<Buffer>()?.data),
        None => Vec::new(),
    };
    let mut e = Encoder::new(lua, &snap, "encode", out)?;
    let r = (|| {
        let v = e.hook(Value::Table(tbl), Some(ty))?;
        let Value::Table(tbl) = v else {
            return Err(arg_error(
                2,
                "encode",
                "table expected from the encode hook",
            ));
        };
        e.message(&tbl, ty)
    })();
    let out = std::mem::take(&mut e.out);
    match buf {
        Some(u) => {
            u.borrow_mut::<Buffer>()?.data = out;
            r?;
            Ok(Value::UserData(u))
        }
        None => {
            r?;
            lstr(lua, &out)
        }
    }
}

fn decode(lua: &Lua, a: MultiValue) -> mlua::Result<Value> {
    let data = if none_or_nil(&a, 2) {
        Vec::new()
    } else {
        check_bytes(&a, 2, "decode")?
    };
    let name = check_bytes(&a, 1, "decode")?;
    let snap = state::snap(lua)?;
    let Some(ty) = find_type(&snap.schema, &name) else {
        return Err(type_missing(&a, "decode"));
    };
    let mut d = Decoder::new(lua, &snap)?;
    let tbl = match arg(&a, 3) {
        Some(Value::Table(t)) => t.clone(),
        _ => d.type_table(ty)?,
    };
    let mut rd = Rd::new(&data);
    d.message(tbl, ty, &mut rd)
}

fn pack(lua: &Lua, a: MultiValue) -> mlua::Result<Value> {
    let name = check_bytes(&a, 1, "pack")?;
    let snap = state::snap(lua)?;
    let buf: Option<AnyUserData> = match arg(&a, 2) {
        Some(Value::UserData(u)) if u.is::<Buffer>() => Some(u.clone()),
        _ => None,
    };
    let Some(ty) = find_type(&snap.schema, &name) else {
        return Err(type_missing(&a, "pack"));
    };
    let first = if buf.is_some() { 3 } else { 2 };
    let out = match &buf {
        Some(u) => std::mem::take(&mut u.borrow_mut::<Buffer>()?.data),
        None => Vec::new(),
    };
    let schema = snap.schema.clone();
    let t = &schema.types[ty];
    let mut e = Encoder::new(lua, &snap, "pack", out)?;
    let r = (|| {
        for (i, f) in t.sorted().into_iter().enumerate() {
            if !none_or_nil(&a, first + i) {
                let v = arg(&a, first + i).cloned().unwrap_or(Value::Nil);
                e.one_field(v, t, f)?;
            }
        }
        Ok::<(), mlua::Error>(())
    })();
    let out = std::mem::take(&mut e.out);
    match buf {
        Some(u) => {
            u.borrow_mut::<Buffer>()?.data = out;
            r?;
            Ok(arg(&a, 3).cloned().unwrap_or(Value::Nil))
        }
        None => {
            r?;
            lstr(lua, &out)
        }
    }
}

fn unpack(lua: &Lua, a: MultiValue) -> mlua::Result<MultiValue> {
    let name = check_bytes(&a, 1, "unpack")?;
    let data = check_bytes(&a, 2, "unpack")?;
    let snap = state::snap(lua)?;
    let Some(ty) = find_type(&snap.schema, &name) else {
        return Err(type_missing(&a, "unpack"));
    };
    let mut d = Decoder::new(lua, &snap)?;
    let mut rd = Rd::new(&data);
    Ok(mv(d.unpack(ty, &mut rd)?))
}

fn defaults(lua: &Lua, a: MultiValue) -> mlua::Result<Value> {
    let tn = check_bytes(&a, 1, "defaults")?;
    let clear = arg(&a, 2).is_some_and(|v| matches!(v, Value::Nil | Value::Boolean(false)));
    let slot = if tn.len() < 2 || tn[0] != b'*' {
        find_type(&state::snap(lua)?.schema, &tn).map(Slot::Type)
    } else if tn[1] == b'a' || tn[1] == b'A' {
        state::with_inner(lua, |g| g.array_dead = clear)?;
        Some(Slot::Array)
    } else if tn[1] == b'm' || tn[1] == b'M' {
        state::with_inner(lua, |g| g.map_dead = clear)?;
        Some(Slot::Map)
    } else {
        None
    };
    let Some(slot) = slot else {
        return Err(arg_error(1, "defaults", "type not found"));
    };
    let snap = state::snap(lua)?;
    match arg(&a, 2) {
        None => Ok(Value::Table(Decoder::new(lua, &snap)?.def_meta(slot)?)),
        Some(v) => {
            let defs = state::table(lua, &snap.ud, "defs")?;
            let old: Value = defs.raw_get(slot.key())?;
            defs.raw_set(slot.key(), v.clone())?;
            Ok(old)
        }
    }
}

fn hook_fn(lua: &Lua, a: MultiValue, fname: &str, table: &str) -> mlua::Result<Value> {
    let (_, t) = type_arg(lua, &a, fname)?;
    let Some(t) = t else {
        return Err(arg_error(1, fname, "type not found"));
    };
    match arg(&a, 2) {
        None | Some(Value::Nil) | Some(Value::Function(_)) => {}
        other => {
            return Err(arg_error(
                2,
                fname,
                &format!("function expected, got {}", type_name(other)),
            ))
        }
    }
    let snap = state::snap(lua)?;
    let hooks = state::table(lua, &snap.ud, table)?;
    let old: Value = hooks.raw_get(Slot::Type(t).key())?;
    if let Some(v) = arg(&a, 2) {
        hooks.raw_set(Slot::Type(t).key(), v.clone())?;
    }
    Ok(old)
}

fn clear(lua: &Lua, a: MultiValue) -> mlua::Result<()> {
    if none_or_nil(&a, 1) {
        let ud = state::current(lua)?;
        state::with_inner(lua, |g| g.schema = Arc::new(Schema::default()))?;
        for n in ["defs", "enc_hooks", "dec_hooks"] {
            state::drop_table(&ud, n)?;
        }
        return Ok(());
    }
    let (schema, t) = type_arg(lua, &a, "clear")?;
    let field = if none_or_nil(&a, 2) {
        None
    } else {
        Some(field_arg(lua, &a, t.map(|i| &schema.types[i]), "clear")?.map(|f| f.number))
    };
    let Some(t) = t else { return Ok(()) };
    state::with_inner(lua, |g| {
        let s = Arc::make_mut(&mut g.schema);
        match field {
            None => s.del_type(t),
            Some(Some(n)) => s.del_field(t, n),
            Some(None) => {}
        }
    })?;
    let snap = state::snap(lua)?;
    state::table(lua, &snap.ud, "defs")?.raw_set(Slot::Type(t).key(), Value::Nil)
}

fn typefmt(lua: &Lua, a: MultiValue) -> mlua::Result<MultiValue> {
    let s = check_bytes(&a, 1, "typefmt")?;
    let schema = state::snap(lua)?.schema;
    let (r, ty): (String, i64) = if s.len() == 1 {
        match wire::type_by_fmt(s[0]) {
            Some(id) => (wire::type_name(id, "!").to_string(), i64::from(id)),
            None => ("!".to_string(), -1),
        }
    } else if find_type(&schema, &s).is_some() {
        ("message".to_string(), i64::from(wire::W_BYTES))
    } else if let Some(id) = wire::type_by_name(&s) {
        let c = wire::TYPES[usize::from(id) - 1].1 as char;
        (c.to_string(), i64::from(wire::wtype_of(id)))
    } else if let Some(w) = wire::wtype_by_name(&s) {
        (
            (wire::WIRETYPES[w as usize].1 as char).to_string(),
            i64::from(w),
        )
    } else {
        ("!".to_string(), i64::from(wire::t::MESSAGE))
    };
    Ok(mv(vec![lstr(lua, r.as_bytes())?, Value::Integer(ty)]))
}

/// Builds the raw `pb` function table (errors still mlua errors; the
/// caller wraps it).
pub fn pb_module(lua: &Lua) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    m.set("clear", lua.create_function(clear)?)?;
    m.set(
        "load",
        lua.create_function(|lua, a: MultiValue| load_bytes(lua, &check_bytes(&a, 1, "load")?))?,
    )?;
    m.set("encode", lua.create_function(encode)?)?;
    m.set("decode", lua.create_function(decode)?)?;
    m.set("pack", lua.create_function(pack)?)?;
    m.set("unpack", lua.create_function(unpack)?)?;
    let types_iter = lua.create_function(|lua, a: MultiValue| {
        let schema = state::snap(lua)?.schema;
        let prev = match arg(&a, 2) {
            None | Some(Value::Nil) => None,
            Some(v) => match crate::conv::to_bytes(v).and_then(|n| find_type(&schema, &n)) {
                Some(i) => Some(i),
                None => return Ok(MultiValue::new()),
            },
        };
        match schema.next_type(prev) {
            Some(i) => push_type(lua, &schema.types[i]),
            None => Ok(MultiValue::new()),
        }
    })?;
    m.set(
        "types",
        lua.create_function(move |_, ()| Ok((types_iter.clone(), Value::Nil, Value::Nil)))?,
    )?;
    let fields_iter = lua.create_function(|lua, a: MultiValue| {
        let (schema, t) = type_arg(lua, &a, "fields")?;
        let Some(t) = t.map(|i| &schema.types[i]) else {
            return Ok(MultiValue::new());
        };
        let prev = match arg(&a, 2) {
            None | Some(Value::Nil) => None,
            Some(v) => match crate::conv::to_bytes(v).and_then(|n| t.fname(&n)) {
                Some(f) => Some(f),
                None => return Ok(MultiValue::new()),
            },
        };
        match t.next_field(prev) {
            Some(f) => push_field(lua, &schema, t, f),
            None => Ok(MultiValue::new()),
        }
    })?;
    m.set(
        "fields",
        lua.create_function(move |_, a: MultiValue| {
            Ok((
                fields_iter.clone(),
                a.front().cloned().unwrap_or(Value::Nil),
                Value::Nil,
            ))
        })?,
    )?;
    m.set(
        "type",
        lua.create_function(|lua, a: MultiValue| {
            let (schema, t) = type_arg(lua, &a, "type")?;
            match t {
                Some(i) => push_type(lua, &schema.types[i]),
                None => Ok(MultiValue::new()),
            }
        })?,
    )?;
    m.set(
        "field",
        lua.create_function(|lua, a: MultiValue| {
            let (schema, t) = type_arg(lua, &a, "field")?;
            let ty = t.map(|i| &schema.types[i]);
            match (ty, field_arg(lua, &a, ty, "field")?) {
                (Some(ty), Some(f)) => push_field(lua, &schema, ty, f),
                _ => Ok(MultiValue::new()),
            }
        })?,
    )?;
    m.set("typefmt", lua.create_function(typefmt)?)?;
    m.set(
        "enum",
        lua.create_function(|lua, a: MultiValue| {
            let (schema, t) = type_arg(lua, &a, "enum")?;
            let Some(f) = field_arg(lua, &a, t.map(|i| &schema.types[i]), "enum")? else {
                return Ok(Value::Nil);
            };
            if matches!(arg(&a, 2), Some(Value::Integer(_) | Value::Number(_))) {
                lstr(lua, &f.name)
            } else {
                push_integer(lua, i64::from(f.number), true, state::snap(lua)?.opts.int64)
            }
        })?,
    )?;
    m.set("defaults", lua.create_function(defaults)?)?;
    m.set(
        "hook",
        lua.create_function(|lua, a: MultiValue| hook_fn(lua, a, "hook", "dec_hooks"))?,
    )?;
    m.set(
        "encode_hook",
        lua.create_function(|lua, a: MultiValue| hook_fn(lua, a, "encode_hook", "enc_hooks"))?,
    )?;
    m.set("tohex", lua.create_function(crate::lowlevel::tohex)?)?;
    m.set("fromhex", lua.create_function(crate::lowlevel::fromhex)?)?;
    m.set("result", lua.create_function(crate::lowlevel::result)?)?;
    m.set(
        "option",
        lua.create_function(|lua, a: MultiValue| {
            let name = match arg(&a, 1) {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                other => {
                    return Err(arg_error(
                        1,
                        "option",
                        &format!("string expected, got {}", type_name(other)),
                    ))
                }
            };
            let Some(i) = OPTION_NAMES
                .iter()
                .position(|n| n.as_bytes() == name.as_slice())
            else {
                return Err(arg_error(
                    1,
                    "option",
                    &format!("invalid option '{}'", String::from_utf8_lossy(&name)),
                ));
            };
            state::with_inner(lua, |g| g.opts.apply(i))
        })?,
    )?;
    m.set("state", lua.create_function(state_fn)?)?;
    Ok(m)
}
