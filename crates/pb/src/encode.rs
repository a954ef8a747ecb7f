//! `pb.encode` / `pb.pack`: Lua tables to wire bytes, in the order
//! lua-protobuf writes them (the table's `next` order, or the type's field
//! order under `encode_order`), with its zero-skipping rules for proto3.

use crate::conv::{arg_error, read_value, rt, to_integer, type_name, write_value};
use crate::limits;
use crate::meter::Meter;
use crate::schema::{Field, Schema, Type};
use crate::state::{self, Slot, Snap};
use crate::wire::{self, t, W_BYTES};
use mlua::{Lua, Table, Value};
use std::sync::Arc;

/// How deep messages may nest when encoding (and decoding) by default
/// (`pb_max_depth`, [`crate::limits`]).
pub const MAX_DEPTH: usize = crate::limits::DEFAULT_MAX_DEPTH;

/// The largest encoding a call may build by default (`pb_max_bytes`).
pub const MAX_OUTPUT: usize = crate::limits::DEFAULT_MAX_BYTES;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    Raw,
    NoZero,
    Full,
}

/// One encoding in progress.
pub struct Encoder<'a> {
    lua: &'a Lua,
    schema: Arc<Schema>,
    snap: &'a Snap,
    hooks: Option<Table>,
    meter: Meter,
    depth: usize,
    max_depth: usize,
    max_bytes: usize,
    fname: &'static str,
    /// The bytes written so far.
    pub out: Vec<u8>,
}

fn f64_to_u64(x: f64) -> u64 {
    if x >= 9_223_372_036_854_775_808.0 {
        ((x - 9_223_372_036_854_775_808.0) as i64 as u64) ^ (1 << 63)
    } else {
        x as i64 as u64
    }
}

impl<'a> Encoder<'a> {
    /// An encoder for a call named `fname` appending to `out`.
    pub fn new(
        lua: &'a Lua,
        snap: &'a Snap,
        fname: &'static str,
        out: Vec<u8>,
    ) -> mlua::Result<Encoder<'a>> {
        let hooks = if snap.opts.enc_hooks {
            Some(state::table(lua, &snap.ud, "enc_hooks")?)
        } else {
            None
        };
        let lim = limits::of(lua);
        Ok(Encoder {
            lua,
            schema: snap.schema.clone(),
            snap,
            hooks,
            meter: Meter::new(lua),
            depth: 0,
            max_depth: lim.depth,
            max_bytes: lim.bytes,
            fname,
            out,
        })
    }

    /// Runs the encode hook of type `ty` (if hooks are on) on `v`.
    pub fn hook(&mut self, v: Value, ty: Option<usize>) -> mlua::Result<Value> {
        let (Some(h), Some(ty)) = (&self.hooks, ty) else {
            return Ok(v);
        };
        let f: Value = h.raw_get(Slot::Type(ty).key())?;
        if f.is_nil() {
            return Ok(v);
        }
        let r: Value = match f {
            Value::Function(f) => f.call(v.clone())?,
            other => {
                return Err(rt(format!(
                    "attempt to call a {} value",
                    type_name(Some(&other))
                )))
            }
        };
        Ok(if r.is_nil() { v } else { r })
    }

    /// Fails (`out of memory`, as lua-protobuf when its buffer cannot
    /// grow) once the output has passed `pb_max_bytes`.
    fn check_size(&self) -> mlua::Result<()> {
        if self.out.len() > self.max_bytes {
            let why = format!("pb.encode: more than {} bytes", self.max_bytes);
            limits::refused(self.lua, limits::ACTION_PB, limits::MAX_BYTES_KEY, &why);
            return Err(rt("out of memory"));
        }
        Ok(())
    }

    fn tag(&mut self, f: &Field, w: u32) -> mlua::Result<()> {
        self.check_size()?;
        self.meter.step(1)?;
        wire::put_varint(&mut self.out, u64::from((f.number as u32) << 3 | w));
        Ok(())
    }

    fn check_table(&self, v: &Value, f: &Field) -> mlua::Result<Table> {
        match v {
            Value::Table(t) => Ok(t.clone()),
            _ => Err(arg_error(
                2,
                self.fname,
                &format!(
                    "table expected at field '{}', got {}",
                    String::from_utf8_lossy(&f.name),
                    type_name(Some(v))
                ),
            )),
        }
    }

    fn read_enum(&self, v: &Value, f: &Field) -> mlua::Result<u64> {
        match v {
            Value::Integer(i) => Ok(f64_to_u64(*i as f64)),
            Value::Number(x) => Ok(f64_to_u64(*x)),
            Value::String(s) => {
                let name = s.as_bytes();
                let ev =
                    f.ty.and_then(|ty| self.schema.types[ty].fname(&name))
                        .map(|ev| ev.number as i64 as u64);
                if let Some(n) = ev {
                    return Ok(n);
                }
                to_integer(self.lua, v).ok_or_else(|| {
                    arg_error(
                        2,
                        self.fname,
                        &format!(
                            "can not encode unknown enum '{}' at field '{}'",
                            String::from_utf8_lossy(&name),
                            String::from_utf8_lossy(&f.name)
                        ),
                    )
                })
            }
            _ => Err(arg_error(
                2,
                self.fname,
                &format!(
                    "number/string expected at enum field '{}', got {}",
                    String::from_utf8_lossy(&f.name),
                    type_name(Some(v))
                ),
            )),
        }
    }

    fn field(&mut self, v: Value, f: &Field, m: Mode) -> mlua::Result<()> {
        match f.type_id {
            t::ENUM => {
                let v = self.hook(v, f.ty)?;
                let x = self.read_enum(&v, f)?;
                if m == Mode::NoZero && x == 0 {
                    return Ok(());
                }
                if m != Mode::Raw {
                    self.tag(f, wire::W_VARINT)?;
                }
                wire::put_varint(&mut self.out, x);
            }
            t::MESSAGE => {
                let v = self.hook(v, f.ty)?;
                let tbl = self.check_table(&v, f)?;
                let old = self.out.len();
                self.tag(f, W_BYTES)?;
                let mark = wire::open_len(&mut self.out);
                if let Some(ty) = f.ty {
                    self.message(&tbl, ty)?;
                }
                if m == Mode::NoZero && self.out.len() == mark {
                    self.out.truncate(old);
                } else {
                    wire::close_len(&mut self.out, mark);
                }
            }
            id => {
                let Some((val, nz)) = read_value(self.lua, &v, id)? else {
                    return Err(arg_error(
                        2,
                        self.fname,
                        &format!(
                            "{} expected for field '{}', got {}",
                            crate::conv::expected(id),
                            String::from_utf8_lossy(&f.name),
                            type_name(Some(&v))
                        ),
                    ));
                };
                if m == Mode::NoZero && !nz {
                    return Ok(());
                }
                if m != Mode::Raw {
                    self.tag(f, wire::wtype_of(id))?;
                }
                if let crate::conv::Scalar::Bytes(b) = &val {
                    self.meter.step((b.len() / 64) as u32)?;
                }
                write_value(&mut self.out, id, &val);
            }
        }
        Ok(())
    }

    fn map(&mut self, v: Value, f: &Field, ft: usize) -> mlua::Result<()> {
        let schema = self.schema.clone();
        let entry = &schema.types[ft];
        let (Some(kf), Some(vf)) = (entry.field(1), entry.field(2)) else {
            return Ok(());
        };
        let tbl = self.check_table(&v, f)?;
        for pair in tbl.pairs::<Value, Value>() {
            let (k, val) = pair?;
            self.tag(f, W_BYTES)?;
            let mark = wire::open_len(&mut self.out);
            self.field(k, kf, Mode::NoZero)?;
            self.field(val, vf, Mode::NoZero)?;
            wire::close_len(&mut self.out, mark);
        }
        Ok(())
    }

    fn ignore_zero(&self, ty: &Type, f: &Field) -> bool {
        !self.snap.opts.encode_default_values
            && ty.is_proto3
            && f.oneof == 0
            && f.type_id != t::MESSAGE
    }

    fn repeated(&mut self, v: Value, ty: &Type, f: &Field) -> mlua::Result<()> {
        let tbl = self.check_table(&v, f)?;
        if f.packed && f.type_id != t::MESSAGE {
            let old = self.out.len();
            self.tag(f, W_BYTES)?;
            let mark = wire::open_len(&mut self.out);
            let mut n = 0;
            loop {
                let e: Value = tbl.raw_get(n + 1)?;
                if e.is_nil() {
                    break;
                }
                self.meter.step(1)?;
                self.field(e, f, Mode::Raw)?;
                n += 1;
            }
            if n == 0 && self.ignore_zero(ty, f) {
                self.out.truncate(old);
            } else {
                wire::close_len(&mut self.out, mark);
            }
        } else {
            let mut n = 1;
            loop {
                let e: Value = tbl.raw_get(n)?;
                if e.is_nil() {
                    break;
                }
                self.field(e, f, Mode::Full)?;
                n += 1;
            }
        }
        Ok(())
    }

    /// Encodes one field's value (`lpb_encode_onefield`).
    pub fn one_field(&mut self, v: Value, ty: &Type, f: &Field) -> mlua::Result<()> {
        let ft = f.ty.map(|i| &self.schema.types[i]);
        if let (Some(i), Some(ft)) = (f.ty, ft) {
            if ft.is_map {
                return self.map(v, f, i);
            }
        }
        if f.repeated {
            return self.repeated(v, ty, f);
        }
        if ft.is_none_or(|ft| !ft.is_dead) {
            let m = if self.ignore_zero(ty, f) {
                Mode::NoZero
            } else {
                Mode::Full
            };
            return self.field(v, f, m);
        }
        Ok(())
    }

    /// Encodes the fields of message table `tbl` of type `ty`.
    pub fn message(&mut self, tbl: &Table, ty: usize) -> mlua::Result<()> {
        if self.depth >= self.max_depth {
            let why = format!("pb.encode: messages nested deeper than {}", self.max_depth);
            limits::refused(self.lua, limits::ACTION_PB, limits::MAX_DEPTH_KEY, &why);
            return Err(rt("stack overflow (message too many levels)"));
        }
        self.depth += 1;
        let schema = self.schema.clone();
        let t = &schema.types[ty];
        if self.snap.opts.encode_order {
            for f in t.iter() {
                let v: Value = tbl.get(self.lua.create_string(&f.name)?)?;
                if !v.is_nil() {
                    self.one_field(v, t, f)?;
                }
            }
        } else {
            for pair in tbl.pairs::<Value, Value>() {
                let (k, v) = pair?;
                self.meter.step(1)?;
                let Value::String(k) = k else { continue };
                if let Some(f) = t.fname(&k.as_bytes()) {
                    self.one_field(v, t, f)?;
                }
            }
        }
        self.depth -= 1;
        self.check_size()
    }
}
