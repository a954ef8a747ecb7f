//! Lua values to sproto bytes, field by field as skynet's `sproto.core`
//! encodes them: fields in tag order, small integers and booleans in the
//! field words, everything else in the data part.

use crate::meter::Meter;
use crate::schema::{lossy, Field, Sproto, T_BOOLEAN, T_DOUBLE, T_INTEGER, T_STRING, T_STRUCT};
use crate::wire::{too_large, MAX_SIZE};
use mlua::{Function, Lua, ObjectLike, Table, Value};

/// How deep structs may nest, as in skynet.
pub const MAX_DEPTH: usize = 64;

/// The error past [`MAX_DEPTH`].
pub const TOO_DEEP: &str = "The table is too deep";

/// Lua's name for the type of `v`, as `lua_typename` gives it.
pub(crate) fn lua_type(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::LightUserData(_) | Value::UserData(_) => "userdata",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// `obj[name]`, with metamethods, as `lua_getfield` reads it.
pub(crate) fn index(lua: &Lua, obj: &Value, name: &[u8]) -> mlua::Result<Value> {
    let key = lua.create_string(name)?;
    match obj {
        Value::Table(t) => t.get(key),
        Value::UserData(u) => u.get(key),
        other => Err(mlua::Error::runtime(format!(
            "attempt to index a {} value (field '{}')",
            lua_type(other),
            lossy(name)
        ))),
    }
}

/// What encoding one value gave.
enum Put {
    /// Nothing: the value was nil.
    Skip,
    /// A value small enough for the field word (already `(v + 1) * 2`).
    Word(u16),
    /// The value went to the data part.
    Data,
}

/// The encoder of one `encode` call.
pub struct Encoder<'a> {
    lua: &'a Lua,
    sp: &'a Sproto,
    meter: &'a mut Meter,
    /// The bytes so far.
    pub out: Vec<u8>,
}

/// A 4-byte or 8-byte integer, as skynet sizes them.
fn int_width(v: i64) -> usize {
    let high = v >> 31;
    if high == 0 || high == -1 {
        4
    } else {
        8
    }
}

/// `round(x)` converted to a 64-bit integer the way x86 converts an
/// out-of-range double (to `i64::MIN`).
fn to_i64(x: f64) -> i64 {
    let r = x.round();
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&r) {
        r as i64
    } else {
        i64::MIN
    }
}

impl<'a> Encoder<'a> {
    /// An encoder of `sp`'s types, charging `meter`.
    pub fn new(lua: &'a Lua, sp: &'a Sproto, meter: &'a mut Meter) -> Encoder<'a> {
        Encoder {
            lua,
            sp,
            meter,
            out: Vec::new(),
        }
    }

    fn room(&self) -> mlua::Result<()> {
        if self.out.len() > MAX_SIZE {
            return Err(mlua::Error::runtime(too_large()));
        }
        Ok(())
    }

    /// Appends the encoding of `obj` as type `ti`, at nesting `deep`.
    pub fn encode_struct(&mut self, ti: usize, obj: &Value, deep: usize) -> mlua::Result<()> {
        let sp = self.sp;
        let st = &sp.types[ti];
        let header_at = self.out.len();
        let header_len = 2 + 2 * st.maxn;
        self.out.resize(header_at + header_len, 0);
        let mut n = 0usize;
        let mut last: i64 = -1;
        for f in &st.fields {
            if deep >= MAX_DEPTH {
                return Err(mlua::Error::runtime(TOO_DEEP));
            }
            self.meter.step()?;
            let v = index(self.lua, obj, &f.name)?;
            if v.is_nil() {
                continue;
            }
            let put = if f.array {
                self.encode_array(&st.name, f, v, deep)?
            } else {
                self.encode_one(&st.name, f, v, 0, deep)?
            };
            let word = match put {
                Put::Skip => continue,
                Put::Word(w) => w,
                Put::Data => 0,
            };
            let gap = f.tag - last - 1;
            if gap > 0 {
                let skip = (gap - 1) * 2 + 1;
                if skip > 0xffff {
                    return Err(mlua::Error::runtime(too_large()));
                }
                self.set_word(header_at + 2 + 2 * n, skip as u16);
                n += 1;
            }
            self.set_word(header_at + 2 + 2 * n, word);
            n += 1;
            last = f.tag;
        }
        self.set_word(header_at, n as u16);
        if n < st.maxn {
            self.out
                .drain(header_at + 2 + 2 * n..header_at + header_len);
        }
        Ok(())
    }

    fn set_word(&mut self, at: usize, w: u16) {
        self.out[at..at + 2].copy_from_slice(&w.to_le_bytes());
    }

    /// Starts a length-prefixed data part; [`Encoder::end_data`] fills in
    /// the length.
    fn begin_data(&mut self) -> usize {
        let at = self.out.len();
        self.out.extend_from_slice(&[0; 4]);
        at
    }

    fn end_data(&mut self, at: usize) -> mlua::Result<()> {
        self.room()?;
        let len = (self.out.len() - at - 4) as u32;
        self.out[at..at + 4].copy_from_slice(&len.to_le_bytes());
        Ok(())
    }

    fn integer(&self, tn: &[u8], f: &Field, v: Value, i: i64) -> mlua::Result<i64> {
        if f.extra != 0 {
            let x = self.lua.coerce_number(v)?.unwrap_or(0.0);
            return Ok(to_i64(x * f.extra as f64));
        }
        match self.lua.coerce_integer(v.clone())? {
            Some(n) => Ok(n),
            None => Err(mlua::Error::runtime(format!(
                "{}.{}[{i}] is not an integer (Is a {})",
                lossy(tn),
                lossy(&f.name),
                lua_type(&v)
            ))),
        }
    }

    fn boolean(tn: &[u8], f: &Field, v: &Value, i: i64) -> mlua::Result<bool> {
        match v {
            Value::Boolean(b) => Ok(*b),
            other => Err(mlua::Error::runtime(format!(
                "{}.{}[{i}] is not a boolean (Is a {})",
                lossy(tn),
                lossy(&f.name),
                lua_type(other)
            ))),
        }
    }

    /// One value: a field's (`i == 0`) or an array element's (`i >= 1`).
    fn encode_one(
        &mut self,
        tn: &[u8],
        f: &Field,
        v: Value,
        i: i64,
        deep: usize,
    ) -> mlua::Result<Put> {
        match f.ty {
            T_INTEGER => {
                let n = self.integer(tn, f, v, i)?;
                if int_width(n) == 4 {
                    let u = n as u32;
                    if u < 0x7fff {
                        return Ok(Put::Word(((u + 1) * 2) as u16));
                    }
                    self.out.extend_from_slice(&4u32.to_le_bytes());
                    self.out.extend_from_slice(&u.to_le_bytes());
                } else {
                    self.out.extend_from_slice(&8u32.to_le_bytes());
                    self.out.extend_from_slice(&(n as u64).to_le_bytes());
                }
                Ok(Put::Data)
            }
            T_BOOLEAN => {
                let b = Self::boolean(tn, f, &v, i)?;
                Ok(Put::Word(if b { 4 } else { 2 }))
            }
            T_DOUBLE => {
                let x = self.lua.coerce_number(v)?.unwrap_or(0.0);
                self.out.extend_from_slice(&8u32.to_le_bytes());
                self.out.extend_from_slice(&x.to_bits().to_le_bytes());
                Ok(Put::Data)
            }
            T_STRING => {
                let Value::String(s) = &v else {
                    return Err(mlua::Error::runtime(format!(
                        "{}.{}[{i}] is not a string (Is a {})",
                        lossy(tn),
                        lossy(&f.name),
                        lua_type(&v)
                    )));
                };
                let at = self.begin_data();
                self.out.extend_from_slice(&s.as_bytes());
                self.end_data(at)?;
                Ok(Put::Data)
            }
            T_STRUCT => {
                let Some(sub) = f.st else {
                    return Ok(Put::Skip);
                };
                let at = self.begin_data();
                self.encode_struct(sub, &v, deep + 1)?;
                self.end_data(at)?;
                Ok(Put::Data)
            }
            _ => Err(mlua::Error::runtime(format!("Invalid field type {}", f.ty))),
        }
    }

    /// An array field: its elements in order, or a table's pairs for an
    /// array with a main index (`*Type(key)`, `*Type()`).
    fn encode_array(&mut self, tn: &[u8], f: &Field, arr: Value, deep: usize) -> mlua::Result<Put> {
        let Value::Table(t) = arr else {
            return Err(mlua::Error::runtime(format!(
                "{}.{}(1) should be a table or an userdata with metamethods (Is a {})",
                lossy(tn),
                lossy(&f.name),
                lua_type(&arr)
            )));
        };
        let mut elems = Elements::new(self.lua, &t, f, self.sp)?;
        let at = self.begin_data();
        match f.ty {
            T_INTEGER | T_DOUBLE => self.int_array(tn, f, &mut elems)?,
            T_BOOLEAN => {
                let mut i = 1;
                while let Some(v) = elems.next()? {
                    self.meter.step()?;
                    let b = Self::boolean(tn, f, &v, i)?;
                    self.out.push(u8::from(b));
                    i += 1;
                    if i % 4096 == 0 {
                        self.room()?;
                    }
                }
            }
            _ => {
                let mut i = 1;
                while let Some(v) = elems.next()? {
                    self.meter.step()?;
                    // A string or a struct: its own length and bytes.
                    self.encode_one(tn, f, v, i, deep)?;
                    i += 1;
                }
            }
        }
        self.end_data(at)?;
        Ok(Put::Data)
    }

    /// An integer or double array: a width byte (4 or 8), then the values,
    /// all 8 bytes wide as soon as one needs it.
    fn int_array(&mut self, tn: &[u8], f: &Field, elems: &mut Elements<'_>) -> mlua::Result<()> {
        let start = self.out.len();
        let mut width = 4usize;
        let mut i = 1;
        while let Some(v) = elems.next()? {
            self.meter.step()?;
            if i == 1 {
                self.out.push(4);
            }
            let (bits, w) = if f.ty == T_DOUBLE {
                let x = self.lua.coerce_number(v)?.unwrap_or(0.0);
                (x.to_bits(), 8)
            } else {
                let n = self.integer(tn, f, v, i)?;
                (n as u64, int_width(n))
            };
            if w == 8 && width == 4 {
                self.widen(start + 1);
                width = 8;
                self.out[start] = 8;
            }
            if width == 4 {
                self.out.extend_from_slice(&(bits as u32).to_le_bytes());
            } else {
                self.out.extend_from_slice(&bits.to_le_bytes());
            }
            i += 1;
            if i % 4096 == 0 {
                self.room()?;
            }
        }
        Ok(())
    }

    /// Rewrites the 4-byte values from `from` on as sign-extended 8-byte
    /// ones.
    fn widen(&mut self, from: usize) {
        let narrow: Vec<u8> = self.out.drain(from..).collect();
        for c in narrow.chunks_exact(4) {
            let v = i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as i64;
            self.out.extend_from_slice(&v.to_le_bytes());
        }
    }
}

/// The elements of an array field, in the order skynet takes them.
enum Iter<'t> {
    /// `t[1]`, `t[2]`, … up to the first nil.
    Index(&'t Table, i64),
    /// The table's own `next` order.
    Next(mlua::table::TablePairs<'t, Value, Value>),
    /// A `__pairs` metamethod's iterator.
    Pairs(Function, Value, Value),
}

/// The element source of one array field.
struct Elements<'t> {
    iter: Iter<'t>,
    /// For a map: the key and value names and the entry table reused for
    /// every pair.
    map: Option<(mlua::LuaString, mlua::LuaString, Table)>,
}

impl<'t> Elements<'t> {
    fn new(lua: &Lua, t: &'t Table, f: &Field, sp: &Sproto) -> mlua::Result<Elements<'t>> {
        if f.key < 0 {
            return Ok(Elements {
                iter: Iter::Index(t, 1),
                map: None,
            });
        }
        let map = match (f.map, f.st) {
            (true, Some(st)) => {
                let kf = &sp.types[st].fields;
                Some((
                    lua.create_string(&kf[0].name)?,
                    lua.create_string(&kf[1].name)?,
                    lua.create_table_with_capacity(0, 2)?,
                ))
            }
            _ => None,
        };
        let pairs = t
            .metatable()
            .map(|m| m.raw_get::<Value>("__pairs"))
            .transpose()?
            .filter(|v| !v.is_nil());
        let iter = match pairs {
            Some(p) => {
                let (f, s, k): (Function, Value, Value) = match p {
                    Value::Function(p) => p.call(t.clone())?,
                    other => {
                        return Err(mlua::Error::runtime(format!(
                            "attempt to call a {} value",
                            lua_type(&other)
                        )))
                    }
                };
                Iter::Pairs(f, s, k)
            }
            None => Iter::Next(t.pairs::<Value, Value>()),
        };
        Ok(Elements { iter, map })
    }

    /// The next element, or `None` at the end.
    fn next(&mut self) -> mlua::Result<Option<Value>> {
        let (k, v) = match &mut self.iter {
            Iter::Index(t, i) => {
                let v: Value = t.get(*i)?;
                *i += 1;
                return Ok((!v.is_nil()).then_some(v));
            }
            Iter::Next(p) => match p.next() {
                None => return Ok(None),
                Some(kv) => kv?,
            },
            Iter::Pairs(f, s, k) => {
                let (nk, nv): (Value, Value) = f.call((s.clone(), k.clone()))?;
                if nk.is_nil() {
                    return Ok(None);
                }
                *k = nk.clone();
                (nk, nv)
            }
        };
        match &self.map {
            Some((kname, vname, entry)) => {
                entry.set(vname, v)?;
                entry.set(kname, k)?;
                Ok(Some(Value::Table(entry.clone())))
            }
            None => Ok(Some(v)),
        }
    }
}
