//! `pb.buffer` and `pb.slice`: building and reading wire bytes by hand
//! with format strings, plus `tohex`/`fromhex`/`result` which every module
//! shares.

use crate::conv::{
    arg_error, check_integer, push_integer, read_value, rt, to_bytes, type_name, write_value,
};
use crate::decode::push_value;
use crate::state;
use crate::wire::{self, Rd};
use mlua::{
    AnyUserData, Lua, MetaMethod, MultiValue, Table, UserData, UserDataFields, UserDataMethods,
    Value,
};

/// How deep `(` may nest in a pack format.
const MAX_FORMAT_LEVEL: usize = 100;

/// A `pb.Buffer`.
#[derive(Default)]
pub struct Buffer {
    /// The bytes written.
    pub data: Vec<u8>,
}

/// A view inside a slice's bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct View {
    /// Cursor.
    pub p: usize,
    /// Origin of offsets.
    pub start: usize,
    /// End.
    pub end: usize,
}

/// A `pb.Slice`: its own copy of the bytes, the current view and the
/// views entered before it.
#[derive(Default)]
pub struct Slice {
    /// The bytes.
    pub data: Vec<u8>,
    /// The current view.
    pub curr: View,
    /// Saved views (`s:level()` counts them).
    pub stack: Vec<View>,
}

impl Slice {
    /// The bytes left in the current view.
    pub fn view_bytes(&self) -> &[u8] {
        let e = self.curr.end.min(self.data.len());
        &self.data[self.curr.p.min(e)..e]
    }
}

const MODULES: &str = "skyhold.pb.modules";

/// The wrapped module table `name` (`buffer`/`slice`) of this state, used
/// as the userdata's `__index`.
fn module_index(lua: &Lua, name: &str) -> mlua::Result<Value> {
    let t: Option<Table> = lua.named_registry_value(MODULES)?;
    match t {
        Some(t) => t.raw_get(name),
        None => Ok(Value::Nil),
    }
}

/// Records a built module table for [`module_index`].
pub fn remember(lua: &Lua, name: &str, m: &Table) -> mlua::Result<()> {
    let t = match lua.named_registry_value::<Option<Table>>(MODULES)? {
        Some(t) => t,
        None => {
            let t = lua.create_table()?;
            lua.set_named_registry_value(MODULES, &t)?;
            t
        }
    };
    t.raw_set(name, m)
}

impl UserData for Buffer {
    fn add_fields<F: UserDataFields<Self>>(f: &mut F) {
        f.add_meta_field_with(MetaMethod::Index, |lua| module_index(lua, "buffer"));
    }
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_meta_function(MetaMethod::Len, |_, u: AnyUserData| {
            Ok(u.borrow::<Buffer>()?.data.len() as i64)
        });
        m.add_meta_function(MetaMethod::ToString, |_, u: AnyUserData| {
            Ok(format!("pb.Buffer: {:p}", u.to_pointer()))
        });
    }
}

impl UserData for Slice {
    fn add_fields<F: UserDataFields<Self>>(f: &mut F) {
        f.add_meta_field_with(MetaMethod::Index, |lua| module_index(lua, "slice"));
    }
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_meta_function(MetaMethod::Len, |_, u: AnyUserData| {
            let s = u.borrow::<Slice>()?;
            let v = s.curr;
            Ok((
                v.end.saturating_sub(v.p) as i64,
                v.p as i64 - v.start as i64 + 1,
            ))
        });
        m.add_meta_function(MetaMethod::ToString, |_, u: AnyUserData| {
            Ok(format!("pb.Slice: {:p}", u.to_pointer()))
        });
    }
}

fn arg(a: &MultiValue, i: usize) -> Option<&Value> {
    a.get(i - 1)
}

fn none_or_nil(a: &MultiValue, i: usize) -> bool {
    matches!(arg(a, i), None | Some(Value::Nil))
}

/// `lpb_checkslice`: the bytes of argument `i`, or lua-protobuf's error.
pub fn check_bytes(a: &MultiValue, i: usize, fname: &str) -> mlua::Result<Vec<u8>> {
    arg(a, i).and_then(to_bytes).ok_or_else(|| {
        arg_error(
            i,
            fname,
            &format!("string/buffer/slice expected, got {}", type_name(arg(a, i))),
        )
    })
}

fn opt_int(lua: &Lua, a: &MultiValue, i: usize, def: i64, fname: &str) -> mlua::Result<i64> {
    match arg(a, i) {
        None | Some(Value::Nil) => Ok(def),
        Some(v) => match lua.coerce_integer(v.clone()) {
            Ok(Some(x)) => Ok(x),
            _ => Err(arg_error(
                i,
                fname,
                &format!("number expected, got {}", type_name(Some(v))),
            )),
        },
    }
}

fn posrelat(pos: i64, len: usize) -> i64 {
    if pos >= 0 {
        pos
    } else if pos.unsigned_abs() > len as u64 {
        0
    } else {
        len as i64 + pos + 1
    }
}

/// `rangerelat`: the 1-based inclusive range `[i, j]` (arguments `idx`,
/// `idx+1`) clamped to `len`, as (first, count).
fn range(
    lua: &Lua,
    a: &MultiValue,
    idx: usize,
    len: usize,
    fname: &str,
) -> mlua::Result<(usize, usize)> {
    let mut r0 = posrelat(opt_int(lua, a, idx, 1, fname)?, len);
    let mut r1 = posrelat(opt_int(lua, a, idx + 1, len as i64, fname)?, len);
    if r0 < 1 {
        r0 = 1;
    }
    if r1 > len as i64 {
        r1 = len as i64;
    }
    let n = if r0 <= r1 { (r1 - r0 + 1) as usize } else { 0 };
    Ok((r0 as usize, n))
}

/// `tohex(data [, i [, j]])`.
pub fn tohex(lua: &Lua, a: MultiValue) -> mlua::Result<Value> {
    let s = check_bytes(&a, 1, "tohex")?;
    let (from, n) = range(lua, &a, 2, s.len(), "tohex")?;
    let parts: Vec<String> = s[from - 1..from - 1 + n]
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    Ok(Value::String(lua.create_string(parts.join(" "))?))
}

/// `fromhex(text [, i [, j]])`.
pub fn fromhex(lua: &Lua, a: MultiValue) -> mlua::Result<Value> {
    let s = check_bytes(&a, 1, "fromhex")?;
    let (from, n) = range(lua, &a, 2, s.len(), "fromhex")?;
    let mut out = Vec::new();
    let mut cur = 0u8;
    let mut count = 0;
    for c in &s[from - 1..from - 1 + n] {
        let Some(d) = (*c as char).to_digit(16) else {
            continue;
        };
        cur = cur << 4 | d as u8;
        count += 1;
        if count % 2 == 0 {
            out.push(cur);
            cur = 0;
        }
    }
    Ok(Value::String(lua.create_string(&out)?))
}

/// `result(data [, i [, j]])`.
pub fn result(lua: &Lua, a: MultiValue) -> mlua::Result<Value> {
    let s = check_bytes(&a, 1, "result")?;
    let (from, n) = range(lua, &a, 2, s.len(), "result")?;
    Ok(Value::String(
        lua.create_string(&s[from - 1..from - 1 + n])?,
    ))
}

fn new_buffer(lua: &Lua, a: &MultiValue, first: usize) -> mlua::Result<AnyUserData> {
    let mut b = Buffer::default();
    for i in first..=a.len() {
        b.data.extend(check_bytes(a, i, "new")?);
    }
    lua.create_userdata(b)
}

/// A pack format and how far it has been read.
struct FmtCursor {
    fmt: Vec<u8>,
    pos: usize,
}

/// Packs `fmt` (one nesting level) from arguments starting at `idx`;
/// returns the next argument index.
fn pack_fmt(
    lua: &Lua,
    a: &MultiValue,
    mut idx: usize,
    out: &mut Vec<u8>,
    fc: &mut FmtCursor,
    level: usize,
    shift: usize,
) -> mlua::Result<usize> {
    if level > MAX_FORMAT_LEVEL {
        return Err(arg_error(1, "pack", "format level overflow"));
    }
    let max = crate::limits::of(lua).bytes;
    let fname = "pack";
    while fc.pos < fc.fmt.len() {
        let c = fc.fmt[fc.pos];
        fc.pos += 1;
        match c {
            b'#' => {
                let off = check_integer(lua, arg(a, idx), idx - shift, fname)? as usize;
                idx += 1;
                if off > out.len() {
                    return Err(rt("encode bytes failed"));
                }
                let mut v = Vec::new();
                wire::put_varint(&mut v, (out.len() - off) as u64);
                out.splice(off..off, v);
            }
            b'v' => {
                let x = check_integer(lua, arg(a, idx), idx - shift, fname)?;
                idx += 1;
                wire::put_varint(out, x);
            }
            b'd' => {
                let x = check_integer(lua, arg(a, idx), idx - shift, fname)?;
                idx += 1;
                wire::put_fixed32(out, x as u32);
            }
            b'q' => {
                let x = check_integer(lua, arg(a, idx), idx - shift, fname)?;
                idx += 1;
                wire::put_fixed64(out, x);
            }
            b'c' | b's' => {
                let b = check_bytes(a, idx, fname).map_err(|_| {
                    arg_error(
                        idx - shift,
                        fname,
                        &format!(
                            "string/buffer/slice expected, got {}",
                            type_name(arg(a, idx))
                        ),
                    )
                })?;
                idx += 1;
                if c == b'c' {
                    out.extend_from_slice(&b);
                } else {
                    wire::put_bytes(out, &b);
                }
            }
            b'(' => {
                let mark = wire::open_len(out);
                idx = pack_fmt(lua, a, idx, out, fc, level + 1, shift)?;
                wire::close_len(out, mark);
            }
            b')' => {
                if level == 0 {
                    return Err(arg_error(1, fname, "unexpected ')' in format"));
                }
                return Ok(idx);
            }
            _ => {
                let Some(id) = wire::type_by_fmt(c) else {
                    return Err(arg_error(
                        1,
                        fname,
                        &format!("invalid formater: '{}'", c as char),
                    ));
                };
                let v = arg(a, idx).cloned().unwrap_or(Value::Nil);
                let Some((val, _)) = read_value(lua, &v, id)? else {
                    return Err(arg_error(
                        idx - shift,
                        fname,
                        &format!(
                            "{} expected for type '{}', got {}",
                            crate::conv::expected(id),
                            wire::type_name(id, "<unknown>"),
                            type_name(arg(a, idx))
                        ),
                    ));
                };
                write_value(out, id, &val);
                idx += 1;
            }
        }
        if out.len() > max {
            let why = format!("pb.buffer: more than {max} bytes");
            crate::limits::refused(
                lua,
                crate::limits::ACTION_PB,
                crate::limits::MAX_BYTES_KEY,
                &why,
            );
            return Err(rt("out of memory"));
        }
    }
    if level != 0 {
        return Err(arg_error(2, fname, "unmatch '(' in format"));
    }
    Ok(idx)
}

fn buffer_arg(a: &MultiValue, i: usize) -> Option<AnyUserData> {
    match arg(a, i) {
        Some(Value::UserData(u)) if u.is::<Buffer>() => Some(u.clone()),
        _ => None,
    }
}

fn slice_arg(a: &MultiValue, i: usize) -> Option<AnyUserData> {
    match arg(a, i) {
        Some(Value::UserData(u)) if u.is::<Slice>() => Some(u.clone()),
        _ => None,
    }
}

fn check_slice_ud(a: &MultiValue, fname: &str) -> mlua::Result<AnyUserData> {
    slice_arg(a, 1).ok_or_else(|| {
        arg_error(
            1,
            fname,
            &format!("pb.Slice expected, got {}", type_name(arg(a, 1))),
        )
    })
}

/// Reads values by format `fmt` from `v` over `data` (arguments for `c`,
/// `*`, `+` from `idx`).
fn unpack_fmt(
    lua: &Lua,
    a: &MultiValue,
    mut idx: usize,
    fmt: &[u8],
    data: &[u8],
    v: &mut View,
) -> mlua::Result<Vec<Value>> {
    let snap = state::snap(lua)?;
    let mode = snap.opts.int64;
    let mut rets = Vec::new();
    for &c in fmt {
        let len = v.end - v.start;
        match c {
            b'@' => {
                rets.push(Value::Integer(v.p as i64 - v.start as i64 + 1));
                continue;
            }
            b'*' | b'+' => {
                if idx > a.len() {
                    return Err(arg_error(1, "unpack", "format argument exceed"));
                }
                let n = opt_int(lua, a, idx, 0, "unpack")?;
                idx += 1;
                let mut li = if c == b'*' {
                    posrelat(n, len)
                } else {
                    v.p as i64 - v.start as i64 + n + 1
                };
                if li < 1 {
                    li = 1;
                }
                if li > len as i64 {
                    li = len as i64 + 1;
                }
                v.p = v.start + li as usize - 1;
                continue;
            }
            _ => {}
        }
        if v.p >= v.end {
            rets.push(Value::Nil);
            return Ok(rets);
        }
        let mut rd = Rd {
            b: data,
            p: v.p,
            start: v.start,
            end: v.end,
        };
        let val = match c {
            b'v' => match rd.varint64() {
                Some(x) => push_integer(lua, x as i64, true, mode)?,
                None => {
                    return Err(rt(format!(
                        "invalid varint value at offset {}",
                        rd.pos() + 1
                    )))
                }
            },
            b'd' => match rd.fixed32() {
                Some(x) => push_integer(lua, i64::from(x), true, mode)?,
                None => {
                    return Err(rt(format!(
                        "invalid fixed32 value at offset {}",
                        rd.pos() + 1
                    )))
                }
            },
            b'q' => match rd.fixed64() {
                Some(x) => push_integer(lua, x as i64, true, mode)?,
                None => {
                    return Err(rt(format!(
                        "invalid fixed64 value at offset {}",
                        rd.pos() + 1
                    )))
                }
            },
            b's' => match rd.bytes() {
                Some(s) => Value::String(lua.create_string(s.rest())?),
                None => {
                    return Err(rt(format!(
                        "invalid bytes value at offset {}",
                        rd.pos() + 1
                    )))
                }
            },
            b'c' => {
                if idx > a.len() {
                    return Err(arg_error(1, "unpack", "format argument exceed"));
                }
                let n = opt_int(lua, a, idx, 0, "unpack")?;
                idx += 1;
                match usize::try_from(n).ok().and_then(|n| rd.take(n)) {
                    Some(s) => Value::String(lua.create_string(s.rest())?),
                    None => {
                        return Err(rt(format!("invalid sub string at offset {}", rd.pos() + 1)))
                    }
                }
            }
            _ => {
                let Some(id) = wire::type_by_fmt(c) else {
                    return Err(arg_error(
                        1,
                        "unpack",
                        &format!("invalid formater: '{}'", c as char),
                    ));
                };
                push_value(lua, &snap, id, &mut rd)?
            }
        };
        v.p = rd.p;
        rets.push(val);
    }
    Ok(rets)
}

fn slice_from(lua: &Lua, a: &MultiValue, first: usize, empty: bool) -> mlua::Result<Slice> {
    let mut s = Slice::default();
    if !none_or_nil(a, first) {
        let src = check_bytes(a, first, "new")?;
        let (from, n) = range(lua, a, first + 1, src.len(), "new")?;
        let len = src.len();
        s.data = src;
        s.stack.push(View {
            p: 0,
            start: 0,
            end: len,
        });
        s.curr = View {
            p: from - 1,
            start: 0,
            end: from - 1 + n,
        };
    } else if empty {
        s.curr = View::default();
    }
    Ok(s)
}

fn self_or_rets(u: AnyUserData, more: Vec<Value>) -> MultiValue {
    let mut v = vec![Value::UserData(u)];
    v.extend(more);
    MultiValue::from_vec(v)
}

/// Builds the raw `pb.buffer` function table.
pub fn buffer_module(lua: &Lua) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    m.set("tohex", lua.create_function(tohex)?)?;
    m.set("fromhex", lua.create_function(fromhex)?)?;
    m.set("result", lua.create_function(result)?)?;
    m.set(
        "new",
        lua.create_function(|lua, a: MultiValue| new_buffer(lua, &a, 1))?,
    )?;
    m.set(
        "delete",
        lua.create_function(|_, a: MultiValue| {
            if let Some(u) = buffer_arg(&a, 1) {
                u.borrow_mut::<Buffer>()?.data = Vec::new();
            }
            Ok(())
        })?,
    )?;
    m.set(
        "reset",
        lua.create_function(|_, a: MultiValue| {
            let u = buffer_arg(&a, 1).ok_or_else(|| {
                arg_error(
                    1,
                    "reset",
                    &format!("pb.Buffer expected, got {}", type_name(arg(&a, 1))),
                )
            })?;
            let mut d = Vec::new();
            for i in 2..=a.len() {
                d.extend(check_bytes(&a, i, "reset")?);
            }
            u.borrow_mut::<Buffer>()?.data = d;
            Ok(u)
        })?,
    )?;
    m.set(
        "pack",
        lua.create_function(|lua, a: MultiValue| {
            let ud = buffer_arg(&a, 1);
            let shift = usize::from(ud.is_some());
            let fi = 1 + shift;
            let fmt = match arg(&a, fi) {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                Some(v @ (Value::Integer(_) | Value::Number(_))) => lua
                    .coerce_string(v.clone())?
                    .map(|s| s.as_bytes().to_vec())
                    .unwrap_or_default(),
                other => {
                    return Err(arg_error(
                        fi - shift,
                        "pack",
                        &format!("string expected, got {}", type_name(other)),
                    ))
                }
            };
            let mut out = match &ud {
                Some(u) => std::mem::take(&mut u.borrow_mut::<Buffer>()?.data),
                None => Vec::new(),
            };
            let mut fc = FmtCursor { fmt, pos: 0 };
            let r = pack_fmt(lua, &a, fi + 1, &mut out, &mut fc, 0, shift);
            match ud {
                Some(u) => {
                    u.borrow_mut::<Buffer>()?.data = out;
                    r?;
                    Ok(Value::UserData(u))
                }
                None => {
                    r?;
                    Ok(Value::String(lua.create_string(&out)?))
                }
            }
        })?,
    )?;
    Ok(m)
}

/// Builds the raw `pb.slice` function table.
pub fn slice_module(lua: &Lua) -> mlua::Result<Table> {
    let m = lua.create_table()?;
    m.set("tohex", lua.create_function(tohex)?)?;
    m.set("fromhex", lua.create_function(fromhex)?)?;
    m.set("result", lua.create_function(result)?)?;
    m.set(
        "new",
        lua.create_function(|lua, a: MultiValue| {
            lua.create_userdata(slice_from(lua, &a, 1, true)?)
        })?,
    )?;
    let reset = lua.create_function(|lua, a: MultiValue| {
        let u = check_slice_ud(&a, "reset")?;
        let s = slice_from(lua, &a, 2, true)?;
        *u.borrow_mut::<Slice>()? = s;
        Ok(u)
    })?;
    m.set("reset", &reset)?;
    m.set("delete", &reset)?;
    m.set(
        "level",
        lua.create_function(|lua, a: MultiValue| {
            let u = check_slice_ud(&a, "level")?;
            let s = u.borrow::<Slice>()?;
            let used = s.stack.len();
            if none_or_nil(&a, 2) {
                return Ok(MultiValue::from_vec(vec![Value::Integer(used as i64)]));
            }
            let level = posrelat(opt_int(lua, &a, 2, 0, "level")?, used);
            if level > used as i64 || level < 0 {
                return Ok(MultiValue::new());
            }
            let se = if level == used as i64 {
                s.curr
            } else {
                s.stack[level as usize]
            };
            Ok(MultiValue::from_vec(vec![
                Value::Integer(se.p as i64 + 1),
                Value::Integer(se.start as i64 + 1),
                Value::Integer(se.end as i64),
            ]))
        })?,
    )?;
    m.set(
        "enter",
        lua.create_function(|lua, a: MultiValue| {
            let u = check_slice_ud(&a, "enter")?;
            let mut s = u.borrow_mut::<Slice>()?;
            let curr = s.curr;
            let view = if none_or_nil(&a, 2) {
                let mut rd = Rd {
                    b: &s.data,
                    p: curr.p,
                    start: curr.start,
                    end: curr.end,
                };
                let Some(v) = rd.bytes() else {
                    return Err(arg_error(
                        1,
                        "enter",
                        &format!("bytes wireformat expected at offset {}", rd.pos() + 1),
                    ));
                };
                let (p, vp, vend) = (rd.p, v.p, v.end);
                s.curr.p = p;
                View {
                    p: vp,
                    start: vp,
                    end: vend,
                }
            } else {
                let (from, n) = range(lua, &a, 2, curr.end.saturating_sub(curr.p), "enter")?;
                let p = curr.start + from - 1;
                View {
                    p,
                    start: curr.p,
                    end: (p + n).min(s.data.len()),
                }
            };
            let saved = s.curr;
            s.stack.push(saved);
            s.curr = view;
            drop(s);
            Ok(u)
        })?,
    )?;
    m.set(
        "leave",
        lua.create_function(|lua, a: MultiValue| {
            let u = check_slice_ud(&a, "leave")?;
            let mut s = u.borrow_mut::<Slice>()?;
            let used = s.stack.len();
            let count = posrelat(opt_int(lua, &a, 2, 1, "leave")?, used);
            if count > used as i64 {
                return Err(arg_error(
                    2,
                    "leave",
                    &format!("level ({count}) exceed max level {used}"),
                ));
            } else if count == used as i64 {
                if let Some(first) = s.stack.first().copied() {
                    s.curr = first;
                    s.stack.truncate(1);
                }
            } else if count > 0 {
                let keep = used - count as usize;
                s.curr = s.stack[keep];
                s.stack.truncate(keep);
            }
            let n = s.stack.len() as i64;
            drop(s);
            Ok(self_or_rets(u, vec![Value::Integer(n)]))
        })?,
    )?;
    m.set(
        "unpack",
        lua.create_function(|lua, a: MultiValue| {
            let fmt = match arg(&a, 2) {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                other => {
                    return Err(arg_error(
                        2,
                        "unpack",
                        &format!("string expected, got {}", type_name(other)),
                    ))
                }
            };
            if let Some(u) = slice_arg(&a, 1) {
                let (data, mut v) = {
                    let s = u.borrow::<Slice>()?;
                    (s.data.clone(), s.curr)
                };
                let r = unpack_fmt(lua, &a, 3, &fmt, &data, &mut v);
                u.borrow_mut::<Slice>()?.curr = v;
                return r.map(MultiValue::from_vec);
            }
            let data = check_bytes(&a, 1, "unpack")?;
            let mut v = View {
                p: 0,
                start: 0,
                end: data.len(),
            };
            unpack_fmt(lua, &a, 3, &fmt, &data, &mut v).map(MultiValue::from_vec)
        })?,
    )?;
    Ok(m)
}

/// Builds the raw `pb.conv` function table.
pub fn conv_module(lua: &Lua) -> mlua::Result<Table> {
    fn conv(
        lua: &Lua,
        m: &Table,
        name: &'static str,
        f: fn(u64) -> (i64, bool),
    ) -> mlua::Result<()> {
        m.set(
            name,
            lua.create_function(move |lua, a: MultiValue| {
                let x = check_integer(lua, a.front(), 1, name)?;
                let (v, u) = f(x);
                push_integer(lua, v, u, state::snap(lua)?.opts.int64)
            })?,
        )
    }
    let m = lua.create_table()?;
    let int32: fn(u64) -> (i64, bool) = |x| (wire::expand_sig(x as u32) as i64, true);
    let uint32: fn(u64) -> (i64, bool) = |x| (i64::from(x as u32), true);
    conv(lua, &m, "encode_int32", int32)?;
    conv(lua, &m, "decode_int32", int32)?;
    conv(lua, &m, "encode_uint32", uint32)?;
    conv(lua, &m, "decode_uint32", uint32)?;
    conv(lua, &m, "encode_sint32", |x| {
        (i64::from(wire::enc_sint32(x as u32 as i32)), true)
    })?;
    conv(lua, &m, "decode_sint32", |x| {
        (i64::from(wire::dec_sint32(x as u32)), false)
    })?;
    conv(lua, &m, "encode_sint64", |x| {
        (wire::enc_sint64(x as i64) as i64, true)
    })?;
    conv(lua, &m, "decode_sint64", |x| (wire::dec_sint64(x), false))?;
    m.set(
        "decode_float",
        lua.create_function(|lua, a: MultiValue| {
            let x = check_integer(lua, a.front(), 1, "decode_float")?;
            Ok(f64::from(f32::from_bits(x as u32)))
        })?,
    )?;
    m.set(
        "decode_double",
        lua.create_function(|lua, a: MultiValue| {
            let x = check_integer(lua, a.front(), 1, "decode_double")?;
            Ok(f64::from_bits(x))
        })?,
    )?;
    for (name, single) in [("encode_float", true), ("encode_double", false)] {
        m.set(
            name,
            lua.create_function(move |lua, a: MultiValue| {
                let x = match a.front().map(|v| lua.coerce_number(v.clone())) {
                    Some(Ok(Some(x))) => x,
                    _ => {
                        return Err(arg_error(
                            1,
                            name,
                            &format!("number expected, got {}", type_name(a.front())),
                        ))
                    }
                };
                let bits = if single {
                    u64::from((x as f32).to_bits())
                } else {
                    x.to_bits()
                };
                push_integer(lua, bits as i64, true, state::snap(lua)?.opts.int64)
            })?,
        )?;
    }
    Ok(m)
}
