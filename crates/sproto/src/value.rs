//! sproto messages as plain Rust values, without Lua: what a client or a
//! tool written in Rust encodes and decodes with the same schema a node's
//! services load. The bytes are those of `sproto.core` (`encode.rs`,
//! `decode.rs`) for the same values: fields in tag order, small integers
//! and booleans in the field words, everything else in the data part.
//!
//! Differences from the Lua side, all in what a value can be: an array of
//! structs with a main index (`*Type(key)`, `*Type()`) is a plain
//! [`Value::Array`] of its structs in wire order (Lua keys them by the
//! index; the bytes are the same for the same order), and a decimal
//! integer field (`integer(2)`) decodes to [`Value::Double`].

use crate::encode::{MAX_DEPTH, TOO_DEEP};
use crate::schema::{lossy, Field, Sproto, T_BOOLEAN, T_DOUBLE, T_INTEGER, T_STRING, T_STRUCT};
use crate::wire::{dword, expand64, too_large, word, MAX_SIZE};
use std::collections::BTreeMap;

/// One value of a field or of an array's element.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// An `integer` (or a decimal `integer(n)`, given as a whole number).
    Integer(i64),
    /// A `boolean`.
    Boolean(bool),
    /// A `double` (or a decimal `integer(n)`).
    Double(f64),
    /// A `string` or `binary`: any bytes.
    String(Vec<u8>),
    /// A struct: its fields by name.
    Struct(Struct),
    /// An array field's elements (`*type`).
    Array(Vec<Value>),
}

/// A struct's fields by name; fields absent here are not sent.
pub type Struct = BTreeMap<String, Value>;

impl Value {
    /// A string value from text.
    pub fn str(s: &str) -> Value {
        Value::String(s.as_bytes().to_vec())
    }

    /// The text of a string value (`None` for other values or bytes that
    /// are not UTF-8).
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }

    /// The number of an integer value.
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Integer(n) => Some(*n),
            _ => None,
        }
    }
}

/// What encoding one value gave.
enum Put {
    /// A value small enough for the field word (already `(v + 1) * 2`).
    Word(u16),
    /// The value went to the data part.
    Data,
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

/// `round(x)` as a 64-bit integer, out-of-range values becoming
/// `i64::MIN` as on the C side.
fn to_i64(x: f64) -> i64 {
    let r = x.round();
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&r) {
        r as i64
    } else {
        i64::MIN
    }
}

/// Encodes `obj` as the type named `type_name` of `sp`.
pub fn encode_named(sp: &Sproto, type_name: &str, obj: &Struct) -> Result<Vec<u8>, String> {
    let ti = sp
        .type_index(type_name.as_bytes())
        .ok_or_else(|| format!("no type {type_name} in the schema"))?;
    encode(sp, ti, obj)
}

/// Encodes `obj` as type `ti` of `sp` (an index into `sp.types`).
pub fn encode(sp: &Sproto, ti: usize, obj: &Struct) -> Result<Vec<u8>, String> {
    if ti >= sp.types.len() {
        return Err(format!("no type #{ti} in the schema"));
    }
    let mut out = Vec::new();
    encode_struct(sp, ti, obj, 0, &mut out)?;
    Ok(out)
}

fn set_word(out: &mut [u8], at: usize, w: u16) {
    out[at..at + 2].copy_from_slice(&w.to_le_bytes());
}

fn room(out: &[u8]) -> Result<(), String> {
    if out.len() > MAX_SIZE {
        return Err(too_large());
    }
    Ok(())
}

fn end_data(out: &mut [u8], at: usize) -> Result<(), String> {
    room(out)?;
    let len = (out.len() - at - 4) as u32;
    out[at..at + 4].copy_from_slice(&len.to_le_bytes());
    Ok(())
}

fn encode_struct(
    sp: &Sproto,
    ti: usize,
    obj: &Struct,
    deep: usize,
    out: &mut Vec<u8>,
) -> Result<(), String> {
    let st = &sp.types[ti];
    let header_at = out.len();
    let header_len = 2 + 2 * st.maxn;
    out.resize(header_at + header_len, 0);
    let mut n = 0usize;
    let mut last: i64 = -1;
    for f in &st.fields {
        // As sproto.core: too deep once a type with fields is reached there.
        if deep >= MAX_DEPTH {
            return Err(TOO_DEEP.into());
        }
        let Some(v) = obj.get(lossy(&f.name).as_str()) else {
            continue;
        };
        let put = if f.array {
            encode_array(sp, &st.name, f, v, deep, out)?
        } else {
            encode_one(sp, &st.name, f, v, 0, deep, out)?
        };
        let w = match put {
            Put::Word(w) => w,
            Put::Data => 0,
        };
        let gap = f.tag - last - 1;
        if gap > 0 {
            let skip = (gap - 1) * 2 + 1;
            if skip > 0xffff {
                return Err(too_large());
            }
            set_word(out, header_at + 2 + 2 * n, skip as u16);
            n += 1;
        }
        set_word(out, header_at + 2 + 2 * n, w);
        n += 1;
        last = f.tag;
    }
    set_word(out, header_at, n as u16);
    if n < st.maxn {
        out.drain(header_at + 2 + 2 * n..header_at + header_len);
    }
    Ok(())
}

fn mismatch(tn: &[u8], f: &Field, i: i64, want: &str, v: &Value) -> String {
    let got = match v {
        Value::Integer(_) | Value::Double(_) => "number",
        Value::Boolean(_) => "boolean",
        Value::String(_) => "string",
        Value::Struct(_) | Value::Array(_) => "table",
    };
    format!(
        "{}.{}[{i}] is not {want} (Is a {got})",
        lossy(tn),
        lossy(&f.name)
    )
}

fn integer(tn: &[u8], f: &Field, v: &Value, i: i64) -> Result<i64, String> {
    match (v, f.extra != 0) {
        (Value::Integer(n), false) => Ok(*n),
        (Value::Integer(n), true) => Ok(to_i64(*n as f64 * f.extra as f64)),
        (Value::Double(x), true) => Ok(to_i64(x * f.extra as f64)),
        _ => Err(mismatch(tn, f, i, "an integer", v)),
    }
}

fn double(tn: &[u8], f: &Field, v: &Value, i: i64) -> Result<f64, String> {
    match v {
        Value::Double(x) => Ok(*x),
        Value::Integer(n) => Ok(*n as f64),
        _ => Err(mismatch(tn, f, i, "a number", v)),
    }
}

fn encode_one(
    sp: &Sproto,
    tn: &[u8],
    f: &Field,
    v: &Value,
    i: i64,
    deep: usize,
    out: &mut Vec<u8>,
) -> Result<Put, String> {
    match f.ty {
        T_INTEGER => {
            let n = integer(tn, f, v, i)?;
            if int_width(n) == 4 {
                let u = n as u32;
                if u < 0x7fff {
                    return Ok(Put::Word(((u + 1) * 2) as u16));
                }
                out.extend_from_slice(&4u32.to_le_bytes());
                out.extend_from_slice(&u.to_le_bytes());
            } else {
                out.extend_from_slice(&8u32.to_le_bytes());
                out.extend_from_slice(&(n as u64).to_le_bytes());
            }
            Ok(Put::Data)
        }
        T_BOOLEAN => match v {
            Value::Boolean(b) => Ok(Put::Word(if *b { 4 } else { 2 })),
            _ => Err(mismatch(tn, f, i, "a boolean", v)),
        },
        T_DOUBLE => {
            let x = double(tn, f, v, i)?;
            out.extend_from_slice(&8u32.to_le_bytes());
            out.extend_from_slice(&x.to_bits().to_le_bytes());
            Ok(Put::Data)
        }
        T_STRING => {
            let Value::String(s) = v else {
                return Err(mismatch(tn, f, i, "a string", v));
            };
            let at = out.len();
            out.extend_from_slice(&[0; 4]);
            out.extend_from_slice(s);
            end_data(out, at)?;
            Ok(Put::Data)
        }
        T_STRUCT => {
            let (Some(sub), Value::Struct(s)) = (f.st, v) else {
                return Err(mismatch(tn, f, i, "a struct", v));
            };
            let at = out.len();
            out.extend_from_slice(&[0; 4]);
            encode_struct(sp, sub, s, deep + 1, out)?;
            end_data(out, at)?;
            Ok(Put::Data)
        }
        _ => Err(format!("Invalid field type {}", f.ty)),
    }
}

fn encode_array(
    sp: &Sproto,
    tn: &[u8],
    f: &Field,
    v: &Value,
    deep: usize,
    out: &mut Vec<u8>,
) -> Result<Put, String> {
    let Value::Array(items) = v else {
        return Err(format!(
            "{}.{}(1) should be an array",
            lossy(tn),
            lossy(&f.name)
        ));
    };
    let at = out.len();
    out.extend_from_slice(&[0; 4]);
    match f.ty {
        T_INTEGER | T_DOUBLE => {
            let mut vals = Vec::with_capacity(items.len());
            let mut width = 4;
            for (i, v) in items.iter().enumerate() {
                let i = i as i64 + 1;
                if f.ty == T_DOUBLE {
                    vals.push(double(tn, f, v, i)?.to_bits());
                    width = 8;
                } else {
                    let n = integer(tn, f, v, i)?;
                    if int_width(n) == 8 {
                        width = 8;
                    }
                    vals.push(n as u64);
                }
            }
            if !vals.is_empty() {
                out.push(width as u8);
                for bits in vals {
                    if width == 4 {
                        out.extend_from_slice(&(bits as u32).to_le_bytes());
                    } else {
                        out.extend_from_slice(&bits.to_le_bytes());
                    }
                }
            }
        }
        T_BOOLEAN => {
            for (i, v) in items.iter().enumerate() {
                match v {
                    Value::Boolean(b) => out.push(u8::from(*b)),
                    _ => return Err(mismatch(tn, f, i as i64 + 1, "a boolean", v)),
                }
            }
        }
        _ => {
            for (i, v) in items.iter().enumerate() {
                encode_one(sp, tn, f, v, i as i64 + 1, deep, out)?;
                room(out)?;
            }
        }
    }
    end_data(out, at)?;
    Ok(Put::Data)
}

/// The error of malformed bytes, as skynet's `decode` says it.
const DECODE_ERROR: &str = "decode error";

/// Decodes `data` as the type named `type_name` of `sp`: the struct and
/// the bytes it took.
pub fn decode_named(sp: &Sproto, type_name: &str, data: &[u8]) -> Result<(Struct, usize), String> {
    let ti = sp
        .type_index(type_name.as_bytes())
        .ok_or_else(|| format!("no type {type_name} in the schema"))?;
    decode(sp, ti, data)
}

/// Decodes `data` as type `ti` of `sp`: the struct and the bytes it took.
/// Malformed bytes are `Err("decode error")`; fields the schema does not
/// know are skipped.
pub fn decode(sp: &Sproto, ti: usize, data: &[u8]) -> Result<(Struct, usize), String> {
    if ti >= sp.types.len() {
        return Err(format!("no type #{ti} in the schema"));
    }
    // Every value decoded takes at least a byte of the input, so the
    // input's size bounds what is built.
    if data.len() > MAX_SIZE {
        return Err(too_large());
    }
    decode_struct(sp, ti, data, 0)
}

fn decode_struct(
    sp: &Sproto,
    ti: usize,
    data: &[u8],
    deep: usize,
) -> Result<(Struct, usize), String> {
    let st = &sp.types[ti];
    let bad = || DECODE_ERROR.to_string();
    if data.len() < 2 {
        return Err(bad());
    }
    let n = usize::from(word(data, 0));
    let words_end = 2 + 2 * n;
    if data.len() < words_end {
        return Err(bad());
    }
    let mut result = Struct::new();
    let mut at = words_end;
    let mut tag: i64 = -1;
    for i in 0..n {
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
                return Err(bad());
            }
            let len = dword(data, at) as usize;
            if data.len() - at - 4 < len {
                return Err(bad());
            }
            part = &data[at + 4..at + 4 + len];
            at += 4 + len;
        }
        let Some(f) = st.field(tag) else {
            continue;
        };
        if deep >= MAX_DEPTH {
            return Err(TOO_DEEP.into());
        }
        let v = if value < 0 {
            if f.array {
                decode_array(sp, f, part, deep)?
            } else {
                decode_part(sp, f, part, deep)?
            }
        } else if f.array || (f.ty != T_INTEGER && f.ty != T_BOOLEAN) {
            return Err(bad());
        } else {
            number(f, value as u64)
        };
        result.insert(lossy(&f.name), v);
    }
    Ok((result, at))
}

fn number(f: &Field, bits: u64) -> Value {
    match f.ty {
        T_INTEGER if f.extra != 0 => Value::Double(bits as i64 as f64 / f.extra as f64),
        T_INTEGER => Value::Integer(bits as i64),
        T_DOUBLE => Value::Double(f64::from_bits(bits)),
        _ => Value::Boolean(bits as u32 != 0),
    }
}

fn decode_part(sp: &Sproto, f: &Field, part: &[u8], deep: usize) -> Result<Value, String> {
    match f.ty {
        T_INTEGER | T_DOUBLE => match part.len() {
            4 => Ok(number(f, expand64(dword(part, 0)))),
            8 => Ok(number(
                f,
                u64::from(dword(part, 0)) | u64::from(dword(part, 4)) << 32,
            )),
            _ => Err(DECODE_ERROR.into()),
        },
        T_STRING => Ok(Value::String(part.to_vec())),
        T_STRUCT => {
            let sub = f.st.ok_or(DECODE_ERROR)?;
            let (s, used) = decode_struct(sp, sub, part, deep + 1)?;
            if used != part.len() {
                return Err(DECODE_ERROR.into());
            }
            Ok(Value::Struct(s))
        }
        _ => Err(DECODE_ERROR.into()),
    }
}

fn decode_array(sp: &Sproto, f: &Field, part: &[u8], deep: usize) -> Result<Value, String> {
    let mut items = Vec::new();
    if part.is_empty() {
        return Ok(Value::Array(items));
    }
    match f.ty {
        T_INTEGER | T_DOUBLE => {
            let body = &part[1..];
            let width = usize::from(part[0]);
            if !body.is_empty() && ((width != 4 && width != 8) || !body.len().is_multiple_of(width))
            {
                return Err(DECODE_ERROR.into());
            }
            for c in body.chunks_exact(width.max(1)) {
                let bits = if width == 4 {
                    expand64(dword(c, 0))
                } else {
                    u64::from(dword(c, 0)) | u64::from(dword(c, 4)) << 32
                };
                items.push(number(f, bits));
            }
        }
        T_BOOLEAN => items.extend(part.iter().map(|b| Value::Boolean(*b != 0))),
        T_STRING | T_STRUCT => {
            let mut rest = part;
            while !rest.is_empty() {
                if rest.len() < 4 {
                    return Err(DECODE_ERROR.into());
                }
                let len = dword(rest, 0) as usize;
                if rest.len() - 4 < len {
                    return Err(DECODE_ERROR.into());
                }
                let item = &rest[4..4 + len];
                rest = &rest[4 + len..];
                items.push(decode_part(sp, f, item, deep)?);
            }
        }
        _ => return Err(DECODE_ERROR.into()),
    }
    Ok(Value::Array(items))
}
