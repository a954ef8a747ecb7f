//! sproto bytes to Lua tables, as skynet's `sproto.core` decodes them.
//! Every length is checked against what is left; fields the schema does
//! not know are skipped; nesting stops at [`MAX_DEPTH`].

use crate::encode::{MAX_DEPTH, TOO_DEEP};
use crate::meter::Meter;
use crate::schema::{lossy, Field, Sproto, T_BOOLEAN, T_DOUBLE, T_INTEGER, T_STRING, T_STRUCT};
use crate::wire::{dword, expand64, word};
use mlua::{Lua, Table, Value};

/// A decode that failed on malformed bytes (skynet's "decode error"),
/// as opposed to a Lua error raised on the way.
pub type Step<T> = mlua::Result<Option<T>>;

/// The decoder of one `decode` call.
pub struct Decoder<'a> {
    lua: &'a Lua,
    sp: &'a Sproto,
    meter: &'a mut Meter,
}

/// Where a decoded value goes, and the main-index bookkeeping of the
/// struct being decoded.
struct Frame<'r> {
    result: &'r Table,
    /// The tag whose value keys this struct in a `*Type(key)` map, or -1.
    main_tag: i64,
    /// That value, once seen.
    key: Value,
    /// The entry table reused for two-field maps.
    map_entry: Option<Table>,
}

impl<'a> Decoder<'a> {
    /// A decoder of `sp`'s types, charging `meter`.
    pub fn new(lua: &'a Lua, sp: &'a Sproto, meter: &'a mut Meter) -> Decoder<'a> {
        Decoder { lua, sp, meter }
    }

    /// Decodes `data` as type `ti` into `result`: the number of bytes the
    /// struct took, or `None` if the bytes are malformed.
    pub fn decode(&mut self, ti: usize, data: &[u8], result: &Table) -> Step<usize> {
        let mut frame = Frame {
            result,
            main_tag: -1,
            key: Value::Nil,
            map_entry: None,
        };
        self.decode_struct(ti, data, &mut frame, 0)
    }

    fn decode_struct(
        &mut self,
        ti: usize,
        data: &[u8],
        fr: &mut Frame<'_>,
        deep: usize,
    ) -> Step<usize> {
        let sp = self.sp;
        let st = &sp.types[ti];
        if data.len() < 2 {
            return Ok(None);
        }
        let n = usize::from(word(data, 0));
        let words_end = 2 + 2 * n;
        if data.len() < words_end {
            return Ok(None);
        }
        let mut at = words_end;
        let mut tag: i64 = -1;
        for i in 0..n {
            self.meter.step()?;
            let w = word(data, 2 + 2 * i);
            tag += 1;
            if w & 1 == 1 {
                tag += i64::from(w / 2);
                continue;
            }
            let value = i64::from(w / 2) - 1;
            let mut part: &[u8] = &[];
            if value < 0 {
                if data.len() - at < 4 {
                    return Ok(None);
                }
                let len = dword(data, at) as usize;
                if data.len() - at - 4 < len {
                    return Ok(None);
                }
                part = &data[at + 4..at + 4 + len];
                at += 4 + len;
            }
            let Some(f) = st.field(tag) else {
                continue;
            };
            if deep >= MAX_DEPTH {
                return Err(mlua::Error::runtime(TOO_DEEP));
            }
            let ok = if value < 0 {
                if f.array {
                    self.decode_array(f, part, fr, deep)?.is_some()
                } else {
                    self.decode_part(f, part, fr, deep)?.is_some()
                }
            } else if f.array || (f.ty != T_INTEGER && f.ty != T_BOOLEAN) {
                false
            } else {
                let v = self.number(f, value as u64);
                self.put_field(f, v, fr)?;
                true
            };
            if !ok {
                return Ok(None);
            }
        }
        Ok(Some(at))
    }

    /// An integer, decimal, boolean or double from its 64 bits.
    fn number(&self, f: &Field, bits: u64) -> Value {
        match f.ty {
            T_INTEGER if f.extra != 0 => Value::Number(bits as i64 as f64 / f.extra as f64),
            T_INTEGER => Value::Integer(bits as i64),
            T_DOUBLE => Value::Number(f64::from_bits(bits)),
            _ => Value::Boolean(bits as u32 != 0),
        }
    }

    /// Sets a (non-array) field's value, noting it if it is the main index.
    fn put_field(&self, f: &Field, v: Value, fr: &mut Frame<'_>) -> mlua::Result<()> {
        if fr.main_tag == f.tag {
            fr.key = v.clone();
        }
        fr.result.set(self.lua.create_string(&f.name)?, v)
    }

    /// A field whose value is in the data part.
    fn decode_part(&mut self, f: &Field, part: &[u8], fr: &mut Frame<'_>, deep: usize) -> Step<()> {
        let v = match f.ty {
            T_INTEGER | T_DOUBLE => match part.len() {
                4 => self.number(f, expand64(dword(part, 0))),
                8 => self.number(
                    f,
                    u64::from(dword(part, 0)) | u64::from(dword(part, 4)) << 32,
                ),
                _ => return Ok(None),
            },
            T_STRING => Value::String(self.lua.create_string(part)?),
            T_STRUCT => {
                let Some(sub) = f.st else { return Ok(None) };
                let t = self.lua.create_table()?;
                let mut inner = Frame {
                    result: &t,
                    main_tag: -1,
                    key: Value::Nil,
                    map_entry: None,
                };
                if self.decode_struct(sub, part, &mut inner, deep + 1)? != Some(part.len()) {
                    return Ok(None);
                }
                Value::Table(t)
            }
            _ => return Ok(None),
        };
        self.put_field(f, v, fr)?;
        Ok(Some(()))
    }

    /// An array field: a new table of its elements (or a map, for an array
    /// of structs with a main index).
    fn decode_array(
        &mut self,
        f: &Field,
        part: &[u8],
        fr: &mut Frame<'_>,
        deep: usize,
    ) -> Step<()> {
        let arr = self.lua.create_table()?;
        let ok = self.fill_array(f, part, &arr, fr, deep)?;
        if ok.is_some() {
            fr.result.set(self.lua.create_string(&f.name)?, arr)?;
        }
        Ok(ok)
    }

    fn fill_array(
        &mut self,
        f: &Field,
        part: &[u8],
        arr: &Table,
        fr: &mut Frame<'_>,
        deep: usize,
    ) -> Step<()> {
        if part.is_empty() {
            return Ok(Some(()));
        }
        match f.ty {
            T_INTEGER | T_DOUBLE => {
                let body = &part[1..];
                if body.is_empty() {
                    return Ok(Some(()));
                }
                let width = usize::from(part[0]);
                if (width != 4 && width != 8) || !body.len().is_multiple_of(width) {
                    return Ok(None);
                }
                for (i, c) in body.chunks_exact(width).enumerate() {
                    self.meter.step()?;
                    let bits = if width == 4 {
                        expand64(dword(c, 0))
                    } else {
                        u64::from(dword(c, 0)) | u64::from(dword(c, 4)) << 32
                    };
                    arr.raw_set(i as i64 + 1, self.number(f, bits))?;
                }
            }
            T_BOOLEAN => {
                for (i, b) in part.iter().enumerate() {
                    self.meter.step()?;
                    arr.raw_set(i as i64 + 1, *b != 0)?;
                }
            }
            T_STRING | T_STRUCT => {
                let mut rest = part;
                let mut i = 1i64;
                while !rest.is_empty() {
                    self.meter.step()?;
                    if rest.len() < 4 {
                        return Ok(None);
                    }
                    let len = dword(rest, 0) as usize;
                    if rest.len() - 4 < len {
                        return Ok(None);
                    }
                    let item = &rest[4..4 + len];
                    rest = &rest[4 + len..];
                    if f.ty == T_STRING {
                        arr.raw_set(i, self.lua.create_string(item)?)?;
                    } else if self.element(f, item, arr, i, fr, deep)?.is_none() {
                        return Ok(None);
                    }
                    i += 1;
                }
            }
            _ => return Ok(None),
        }
        Ok(Some(()))
    }

    /// One struct of an array: at its index, or under its main index, or
    /// (a two-field map) its second field under its first.
    fn element(
        &mut self,
        f: &Field,
        item: &[u8],
        arr: &Table,
        i: i64,
        fr: &mut Frame<'_>,
        deep: usize,
    ) -> Step<()> {
        let Some(sub) = f.st else { return Ok(None) };
        let name = || lossy(&f.name);
        if f.map && f.key >= 0 {
            let entry = match &fr.map_entry {
                Some(e) => e.clone(),
                None => {
                    let e = self.lua.create_table()?;
                    fr.map_entry = Some(e.clone());
                    e
                }
            };
            let mut inner = Frame {
                result: &entry,
                main_tag: f.key,
                key: Value::Nil,
                map_entry: None,
            };
            if self.decode_struct(sub, item, &mut inner, deep + 1)? != Some(item.len()) {
                return Ok(None);
            }
            let fields = &self.sp.types[sub].fields;
            let k: Value = entry.get(self.lua.create_string(&fields[0].name)?)?;
            if k.is_nil() {
                return Err(mlua::Error::runtime(format!(
                    "Can't find key field in [{}]",
                    name()
                )));
            }
            let v: Value = entry.get(self.lua.create_string(&fields[1].name)?)?;
            if v.is_nil() {
                return Err(mlua::Error::runtime(format!(
                    "Can't find value field in [{}]",
                    name()
                )));
            }
            arr.set(k, v)?;
            return Ok(Some(()));
        }
        let t = self.lua.create_table()?;
        let mut inner = Frame {
            result: &t,
            main_tag: f.key,
            key: Value::Nil,
            map_entry: None,
        };
        if self.decode_struct(sub, item, &mut inner, deep + 1)? != Some(item.len()) {
            return Ok(None);
        }
        if f.key >= 0 {
            if inner.key.is_nil() {
                return Err(mlua::Error::runtime(format!(
                    "Can't find main index (tag={}) in [{}]",
                    f.key,
                    name()
                )));
            }
            arr.set(inner.key, t)?;
        } else {
            arr.raw_set(i, t)?;
        }
        Ok(Some(()))
    }
}
