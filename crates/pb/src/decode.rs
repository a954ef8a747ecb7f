//! `pb.decode` / `pb.unpack` and the default tables: wire bytes to Lua
//! tables the way lua-protobuf builds them (table sizes, key order, oneof
//! names, default values and metatables, hooks), with its error texts.
//! Nesting is bounded by `pb_max_depth` ([`crate::limits`]) and every field read
//! is charged to the budget.

use crate::conv::{push_integer, rt, strtod, strtol};
use crate::limits;
use crate::meter::Meter;
use crate::schema::{Field, Schema};
use crate::state::{self, DefMode, Slot, Snap};
use crate::wire::{self, t, Rd, W_BYTES};
use mlua::{Lua, Table, Value};
use std::sync::Arc;

const USE_FIELD: u8 = 1;
const USE_REPEAT: u8 = 2;
const USE_MESSAGE: u8 = 4;

/// Lengths above this are refused as lua-protobuf refuses them.
const MAX_LEN: u64 = u32::MAX as u64 - 100;

/// One decoding in progress (also used to build default tables).
pub struct Decoder<'a> {
    lua: &'a Lua,
    schema: Arc<Schema>,
    snap: &'a Snap,
    hooks: Option<Table>,
    meter: Meter,
    depth: usize,
    max_depth: usize,
}

/// `lpb_readbytes`: a length-delimited value, or lua-protobuf's error.
pub fn read_bytes<'b>(rd: &mut Rd<'b>) -> mlua::Result<Rd<'b>> {
    let len = match rd.varint64() {
        Some(n) if n <= MAX_LEN => n,
        other => {
            return Err(rt(format!(
                "invalid bytes length: {} (at offset {})",
                other.unwrap_or(0) as i32,
                rd.pos() + 1
            )));
        }
    };
    match rd.take(len as usize) {
        Some(v) => Ok(v),
        None if len == 0 => Ok(Rd { end: rd.p, ..*rd }),
        None => Err(rt(format!(
            "unfinished bytes (len {} at offset {})",
            len as i32,
            rd.pos() + 1
        ))),
    }
}

/// `lpb_pushvalue`: reads one scalar of type `id`.
pub fn push_value(lua: &Lua, snap: &Snap, id: u8, rd: &mut Rd) -> mlua::Result<Value> {
    let mode = snap.opts.int64;
    match id {
        t::BOOL | t::ENUM | t::INT32 | t::UINT32 | t::SINT32 | t::INT64 | t::UINT64 | t::SINT64 => {
            let Some(v) = rd.varint64() else {
                return Err(rt(format!(
                    "invalid varint value at offset {}",
                    rd.pos() + 1
                )));
            };
            match id {
                t::BOOL => Ok(Value::Boolean(v != 0)),
                t::INT32 => push_integer(lua, i64::from(v as i32), false, mode),
                t::UINT32 => push_integer(lua, i64::from(v as u32), true, mode),
                t::SINT32 => push_integer(lua, i64::from(wire::dec_sint32(v as u32)), false, mode),
                t::INT64 => push_integer(lua, v as i64, false, mode),
                t::SINT64 => push_integer(lua, wire::dec_sint64(v), false, mode),
                _ => push_integer(lua, v as i64, true, mode),
            }
        }
        t::FLOAT | t::FIXED32 | t::SFIXED32 => {
            let Some(v) = rd.fixed32() else {
                return Err(rt(format!(
                    "invalid fixed32 value at offset {}",
                    rd.pos() + 1
                )));
            };
            match id {
                t::FLOAT => Ok(Value::Number(f64::from(f32::from_bits(v)))),
                t::FIXED32 => push_integer(lua, i64::from(v), true, mode),
                _ => push_integer(lua, i64::from(v as i32), false, mode),
            }
        }
        t::DOUBLE | t::FIXED64 | t::SFIXED64 => {
            let Some(v) = rd.fixed64() else {
                return Err(rt(format!(
                    "invalid fixed64 value at offset {}",
                    rd.pos() + 1
                )));
            };
            match id {
                t::DOUBLE => Ok(Value::Number(f64::from_bits(v))),
                t::FIXED64 => push_integer(lua, v as i64, true, mode),
                _ => push_integer(lua, v as i64, false, mode),
            }
        }
        t::BYTES | t::STRING | t::MESSAGE => {
            let v = read_bytes(rd)?;
            Ok(Value::String(lua.create_string(v.rest())?))
        }
        _ => Err(rt(format!(
            "unknown type {} ({id})",
            wire::type_name(id, "<unknown>")
        ))),
    }
}

fn check_type(f: &Field, tag: u32, rd: &Rd) -> mlua::Result<()> {
    let want = wire::wtype_of(f.type_id);
    if want == tag & 7 {
        return Ok(());
    }
    Err(rt(format!(
        "type mismatch for {}{}field '{}' at offset {}, {} expected for type {}, got {}",
        if f.packed { "packed " } else { "" },
        if f.repeated { "repeated " } else { "" },
        String::from_utf8_lossy(&f.name),
        rd.pos() + 1,
        wire::wtype_name(want, "<unknown>"),
        wire::type_name(f.type_id, "<unknown>"),
        wire::wtype_name(tag & 7, "<unknown>"),
    )))
}

impl<'a> Decoder<'a> {
    /// A decoder over the state snapshot `snap`.
    pub fn new(lua: &'a Lua, snap: &'a Snap) -> mlua::Result<Decoder<'a>> {
        let hooks = if snap.opts.dec_hooks {
            Some(state::table(lua, &snap.ud, "dec_hooks")?)
        } else {
            None
        };
        Ok(Decoder {
            lua,
            schema: snap.schema.clone(),
            snap,
            hooks,
            meter: Meter::new(lua),
            depth: 0,
            max_depth: limits::of(lua).depth,
        })
    }

    fn enter(&mut self) -> mlua::Result<()> {
        if self.depth >= self.max_depth {
            let why = format!("pb.decode: messages nested deeper than {}", self.max_depth);
            limits::refused(self.lua, limits::ACTION_PB, limits::MAX_DEPTH_KEY, &why);
            return Err(rt("stack overflow (too many levels)"));
        }
        self.depth += 1;
        Ok(())
    }

    fn hook(&self, v: Value, ty: Option<usize>) -> mlua::Result<Value> {
        let (Some(h), Some(ty)) = (&self.hooks, ty) else {
            return Ok(v);
        };
        let f: Value = h.raw_get(Slot::Type(ty).key())?;
        let r: Value = match f {
            Value::Nil => return Ok(v),
            Value::Function(f) => f.call(v.clone())?,
            other => {
                return Err(rt(format!(
                    "attempt to call a {} value",
                    crate::conv::type_name(Some(&other))
                )))
            }
        };
        Ok(if r.is_nil() { v } else { r })
    }

    fn slot_dead(&self, s: Slot) -> bool {
        match s {
            Slot::Array => self.snap.array_dead,
            Slot::Map => self.snap.map_dead,
            Slot::Type(i) => self.schema.types[i].is_dead,
        }
    }

    /// The default metatable of `s` (`lpb_pushdefmeta`), built on first use.
    pub fn def_meta(&mut self, s: Slot) -> mlua::Result<Table> {
        let defs = state::table(self.lua, &self.snap.ud, "defs")?;
        if let Value::Table(t) = defs.raw_get::<Value>(s.key())? {
            return Ok(t);
        }
        let t = match s {
            Slot::Type(i) => {
                let t = self.new_msg_table(i)?;
                self.set_def_fields(&t, i, USE_FIELD)?;
                t
            }
            _ => self.lua.create_table()?,
        };
        t.raw_set("__index", &t)?;
        defs.raw_set(s.key(), &t)?;
        Ok(t)
    }

    fn new_msg_table(&self, ty: usize) -> mlua::Result<Table> {
        let t = &self.schema.types[ty];
        let n = i64::from(t.field_count) - i64::from(t.oneof_field) + i64::from(t.oneof_count) * 2;
        self.lua.create_table_with_capacity(0, n.max(0) as usize)
    }

    fn fetch_table(&mut self, tbl: &Table, f: &Field, s: Slot) -> mlua::Result<Table> {
        let name = self.lua.create_string(&f.name)?;
        let arr = match tbl.get::<Value>(&name)? {
            Value::Table(a) => a,
            Value::Nil => {
                let a = self.lua.create_table()?;
                tbl.set(&name, &a)?;
                a
            }
            _ => {
                return Err(rt(format!(
                    "table expected at field '{}'",
                    String::from_utf8_lossy(&f.name)
                )))
            }
        };
        if !self.slot_dead(s) && arr.metatable().is_none() {
            let m = self.def_meta(s)?;
            // Lua code can reach the default metatable and give it a
            // __gc: set through the runtime, so the array is remembered.
            skyhold_lua::finalizers::set_metatable(self.lua, &arr, Some(m))?;
        }
        Ok(arr)
    }

    fn set_def_fields(&mut self, tbl: &Table, ty: usize, flags: u8) -> mlua::Result<()> {
        let schema = self.schema.clone();
        let t = &schema.types[ty];
        let opts = self.snap.opts;
        for f in t.iter() {
            if f.repeated {
                if flags & USE_REPEAT != 0 && (t.is_proto3 || opts.decode_default_array) {
                    let is_map = f.ty.is_some_and(|i| schema.types[i].is_map);
                    let s = if is_map { Slot::Map } else { Slot::Array };
                    let arr = self.fetch_table(tbl, f, s)?;
                    tbl.set(self.lua.create_string(&f.name)?, arr)?;
                }
            } else if f.oneof == 0
                && (if f.type_id != t::MESSAGE {
                    flags & USE_FIELD != 0
                } else {
                    flags & USE_MESSAGE != 0 && opts.decode_default_message
                })
            {
                if let Some(v) = self.def_field(Some(f), t.is_proto3)? {
                    tbl.set(self.lua.create_string(&f.name)?, v)?;
                }
            }
        }
        Ok(())
    }

    /// `lpb_pushdeffield`: the default value of `f`, if it has one.
    pub fn def_field(&mut self, f: Option<&Field>, proto3: bool) -> mlua::Result<Option<Value>> {
        let Some(f) = f else { return Ok(None) };
        let opts = self.snap.opts;
        let lua = self.lua;
        let schema = self.schema.clone();
        Ok(match f.type_id {
            t::ENUM => {
                let Some(et) = f.ty.map(|i| &schema.types[i]) else {
                    return Ok(None);
                };
                let named = f.default.as_deref().and_then(|d| et.fname(d));
                if let Some(ev) = named {
                    Some(if opts.enum_as_value {
                        push_integer(lua, i64::from(ev.number), true, opts.int64)?
                    } else {
                        Value::String(lua.create_string(&ev.name)?)
                    })
                } else if proto3 {
                    Some(match et.field(0) {
                        Some(ev) if !opts.enum_as_value => {
                            Value::String(lua.create_string(&ev.name)?)
                        }
                        _ => Value::Integer(0),
                    })
                } else {
                    None
                }
            }
            t::MESSAGE => match f.ty {
                Some(i) => Some(Value::Table(self.type_table(i)?)),
                None => None,
            },
            t::BYTES | t::STRING => match &f.default {
                Some(d) => Some(Value::String(lua.create_string(d)?)),
                None if proto3 => Some(Value::String(lua.create_string("")?)),
                None => None,
            },
            t::BOOL => match f.default.as_deref() {
                Some(b"true") => Some(Value::Boolean(true)),
                Some(b"false") => Some(Value::Boolean(false)),
                Some(_) => None,
                None if proto3 => Some(Value::Boolean(false)),
                None => None,
            },
            t::DOUBLE | t::FLOAT => match &f.default {
                Some(d) => strtod(d).map(Value::Number),
                None if proto3 => Some(Value::Number(0.0)),
                None => None,
            },
            id => {
                let u = matches!(id, t::UINT64 | t::FIXED64 | t::FIXED32 | t::UINT32);
                match &f.default {
                    Some(d) => match strtol(d) {
                        Some(li) => Some(push_integer(lua, li, u, opts.int64)?),
                        None => None,
                    },
                    None if proto3 => Some(Value::Integer(0)),
                    None => None,
                }
            }
        })
    }

    /// `lpb_pushtypetable`: a fresh table for a message of type `ty`,
    /// with the defaults the options ask for.
    pub fn type_table(&mut self, ty: usize) -> mlua::Result<Table> {
        self.enter()?;
        let tbl = self.new_msg_table(ty)?;
        let opts = self.snap.opts;
        let mode = if self.schema.types[ty].is_proto3 && opts.defaults == DefMode::Auto {
            DefMode::Copy
        } else {
            opts.defaults
        };
        match mode {
            DefMode::Copy => self.set_def_fields(&tbl, ty, USE_FIELD | USE_REPEAT | USE_MESSAGE)?,
            DefMode::Meta => {
                self.set_def_fields(&tbl, ty, USE_REPEAT | USE_MESSAGE)?;
                let m = self.def_meta(Slot::Type(ty))?;
                skyhold_lua::finalizers::set_metatable(self.lua, &tbl, Some(m))?;
            }
            _ => {
                if opts.decode_default_array || opts.decode_default_message {
                    self.set_def_fields(&tbl, ty, USE_REPEAT | USE_MESSAGE)?;
                }
            }
        }
        self.depth -= 1;
        Ok(tbl)
    }

    fn field(&mut self, f: &Field, rd: &mut Rd) -> mlua::Result<Value> {
        self.meter.step(1)?;
        match f.type_id {
            t::ENUM => {
                let Some(u) = rd.varint64() else {
                    return Err(rt(format!(
                        "invalid varint value at offset {}",
                        rd.pos() + 1
                    )));
                };
                let opts = self.snap.opts;
                let ev = if opts.enum_as_value {
                    None
                } else {
                    f.ty.and_then(|i| self.schema.types[i].field(i64::from(u as i32)))
                };
                let v = match ev {
                    Some(ev) => Value::String(self.lua.create_string(&ev.name)?),
                    None => push_integer(self.lua, u as i64, true, opts.int64)?,
                };
                self.hook(v, f.ty)
            }
            t::MESSAGE => {
                let mut sub = read_bytes(rd)?;
                match f.ty {
                    Some(i) if !self.schema.types[i].is_dead => {
                        let tbl = self.type_table(i)?;
                        self.message(tbl, i, &mut sub)
                    }
                    _ => Ok(Value::Nil),
                }
            }
            id => {
                if matches!(id, t::BYTES | t::STRING) {
                    self.meter.step((rd.len() / 256) as u32)?;
                }
                push_value(self.lua, self.snap, id, rd)
            }
        }
    }

    fn map(&mut self, map: &Table, f: &Field, rd: &mut Rd) -> mlua::Result<()> {
        let mut p = read_bytes(rd)?;
        let Some(ft) = f.ty else { return Ok(()) };
        let schema = self.schema.clone();
        let entry = &schema.types[ft];
        let mut kv = [Value::Nil, Value::Nil];
        let mut mask = 0;
        while let Some(tag) = p.varint32() {
            self.meter.step(1)?;
            let n = tag >> 3;
            if n == 1 || n == 2 {
                let Some(vf) = entry.field(i64::from(n)) else {
                    continue;
                };
                mask |= n;
                check_type(vf, tag, &p)?;
                kv[n as usize - 1] = self.field(vf, &mut p)?;
            }
        }
        for n in [1u32, 2] {
            if mask & n == 0 {
                if let Some(v) = self.def_field(entry.field(i64::from(n)), true)? {
                    kv[n as usize - 1] = v;
                    mask |= n;
                }
            }
        }
        if mask == 3 {
            let [k, v] = kv;
            map.raw_set(k, v)?;
        }
        Ok(())
    }

    fn repeated(&mut self, arr: &Table, f: &Field, tag: u32, rd: &mut Rd) -> mlua::Result<()> {
        if tag & 7 != W_BYTES || (!f.packed && wire::wtype_of(f.type_id) == W_BYTES) {
            check_type(f, tag, rd)?;
            let v = self.field(f, rd)?;
            arr.raw_set(arr.raw_len() + 1, v)?;
        } else {
            let mut p = read_bytes(rd)?;
            let mut len = arr.raw_len();
            while !p.is_empty() {
                let v = self.field(f, &mut p)?;
                len += 1;
                arr.raw_set(len, v)?;
            }
        }
        Ok(())
    }

    /// `lpbD_message`: decodes the fields in `rd` into `tbl` (a message of
    /// type `ty`) and returns it, or what its decode hook returned.
    pub fn message(&mut self, tbl: Table, ty: usize, rd: &mut Rd) -> mlua::Result<Value> {
        self.enter()?;
        let schema = self.schema.clone();
        let t = &schema.types[ty];
        while let Some(tag) = rd.varint32() {
            self.meter.step(1)?;
            let Some(f) = t.field(i64::from(tag >> 3)) else {
                rd.skip(tag);
                continue;
            };
            let ft = f.ty.map(|i| &schema.types[i]);
            if ft.is_some_and(|x| x.is_map) {
                let m = self.fetch_table(&tbl, f, Slot::Map)?;
                check_type(f, tag, rd)?;
                self.map(&m, f, rd)?;
            } else if f.repeated {
                let a = self.fetch_table(&tbl, f, Slot::Array)?;
                self.repeated(&a, f, tag, rd)?;
            } else {
                let name = self.lua.create_string(&f.name)?;
                if f.oneof != 0 {
                    if let Some(on) = t.oneof_name(f.oneof) {
                        tbl.raw_set(self.lua.create_string(on)?, &name)?;
                    }
                }
                check_type(f, tag, rd)?;
                let v = self.field(f, rd)?;
                tbl.raw_set(name, v)?;
            }
        }
        self.depth -= 1;
        self.hook(Value::Table(tbl), Some(ty))
    }

    /// `lpbD_unpack`: the fields of a message of type `ty`, in field
    /// number order, as separate values.
    pub fn unpack(&mut self, ty: usize, rd: &mut Rd) -> mlua::Result<Vec<Value>> {
        let schema = self.schema.clone();
        let t = &schema.types[ty];
        let sorted = t.sorted();
        let pos = |f: &Field| {
            sorted
                .iter()
                .position(|g| g.number == f.number)
                .unwrap_or(0)
                + 1
        };
        let mut slots = vec![Value::Nil; sorted.len()];
        let mut runs = 0usize;
        let mut last = 0usize;
        let mut cur = Value::Nil;
        while let Some(tag) = rd.varint32() {
            self.meter.step(1)?;
            let f = t.field(i64::from(tag >> 3));
            if last != 0 && f.is_none_or(|f| pos(f) != last) {
                runs += 1;
                slots[last - 1] = std::mem::replace(&mut cur, Value::Nil);
                last = 0;
            }
            let Some(f) = f else {
                rd.skip(tag);
                continue;
            };
            let ft = f.ty.map(|i| &schema.types[i]);
            if ft.is_some_and(|x| x.is_map) {
                check_type(f, tag, rd)?;
                if last == 0 {
                    cur = Value::Table(self.lua.create_table()?);
                }
                if let Value::Table(m) = &cur {
                    self.map(m, f, rd)?;
                }
            } else if f.repeated {
                if last == 0 {
                    cur = Value::Table(self.lua.create_table()?);
                }
                if let Value::Table(a) = &cur {
                    self.repeated(a, f, tag, rd)?;
                }
            } else {
                check_type(f, tag, rd)?;
                cur = self.field(f, rd)?;
            }
            last = pos(f);
        }
        if last != 0 {
            runs += 1;
            slots[last - 1] = cur;
        }
        let mode = if t.is_proto3 && self.snap.opts.defaults == DefMode::Auto {
            DefMode::Copy
        } else {
            self.snap.opts.defaults
        };
        if runs != sorted.len() && matches!(mode, DefMode::Copy | DefMode::Meta) {
            for (i, f) in sorted.iter().enumerate() {
                if slots[i].is_nil() {
                    if let Some(v) = self.def_field(Some(f), t.is_proto3)? {
                        slots[i] = v;
                    }
                }
            }
        }
        Ok(slots)
    }
}
