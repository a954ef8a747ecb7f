//! skynet's `skynet.pack` byte format ("lua-seri"), byte for byte, with a
//! bounded decoder.
//!
//! A message is the concatenation of its values. Every value starts with a
//! tag byte `type | cookie << 3`; multi-byte numbers are little-endian.
//! The decoder never trusts a declared length: array and string lengths are
//! checked against the bytes that remain before anything is allocated,
//! nesting is limited, and a pointer tag (which skynet turns into a raw
//! pointer) is refused.
#![forbid(unsafe_code)]

use std::fmt;

const TYPE_NIL: u8 = 0;
const TYPE_BOOLEAN: u8 = 1;
const TYPE_NUMBER: u8 = 2;
const TYPE_USERDATA: u8 = 3;
const TYPE_SHORT_STRING: u8 = 4;
const TYPE_LONG_STRING: u8 = 5;
const TYPE_TABLE: u8 = 6;

const NUMBER_ZERO: u8 = 0;
const NUMBER_BYTE: u8 = 1;
const NUMBER_WORD: u8 = 2;
const NUMBER_DWORD: u8 = 4;
const NUMBER_QWORD: u8 = 6;
const NUMBER_REAL: u8 = 8;

const MAX_COOKIE: usize = 32;

const fn tag(t: u8, cookie: u8) -> u8 {
    t | (cookie << 3)
}

/// Encoders for single values, for callers that walk their own values.
pub mod write {
    use super::*;

    /// `nil`.
    pub fn nil(buf: &mut Vec<u8>) {
        buf.push(TYPE_NIL);
    }

    /// A boolean.
    pub fn boolean(buf: &mut Vec<u8>, b: bool) {
        buf.push(tag(TYPE_BOOLEAN, u8::from(b)));
    }

    /// An integer, in the smallest form skynet uses for it.
    pub fn integer(buf: &mut Vec<u8>, i: i64) {
        if i == 0 {
            buf.push(tag(TYPE_NUMBER, NUMBER_ZERO));
        } else if i != i64::from(i as i32) {
            buf.push(tag(TYPE_NUMBER, NUMBER_QWORD));
            buf.extend_from_slice(&i.to_le_bytes());
        } else if i < 0 {
            buf.push(tag(TYPE_NUMBER, NUMBER_DWORD));
            buf.extend_from_slice(&(i as i32).to_le_bytes());
        } else if i < 0x100 {
            buf.push(tag(TYPE_NUMBER, NUMBER_BYTE));
            buf.push(i as u8);
        } else if i < 0x10000 {
            buf.push(tag(TYPE_NUMBER, NUMBER_WORD));
            buf.extend_from_slice(&(i as u16).to_le_bytes());
        } else {
            buf.push(tag(TYPE_NUMBER, NUMBER_DWORD));
            buf.extend_from_slice(&(i as u32).to_le_bytes());
        }
    }

    /// A float (always the 8-byte form, even when integral).
    pub fn real(buf: &mut Vec<u8>, f: f64) {
        buf.push(tag(TYPE_NUMBER, NUMBER_REAL));
        buf.extend_from_slice(&f.to_le_bytes());
    }

    /// A string.
    pub fn string(buf: &mut Vec<u8>, s: &[u8]) {
        let n = s.len();
        if n < MAX_COOKIE {
            buf.push(tag(TYPE_SHORT_STRING, n as u8));
        } else if n < 0x10000 {
            buf.push(tag(TYPE_LONG_STRING, 2));
            buf.extend_from_slice(&(n as u16).to_le_bytes());
        } else {
            buf.push(tag(TYPE_LONG_STRING, 4));
            buf.extend_from_slice(&(n as u32).to_le_bytes());
        }
        buf.extend_from_slice(s);
    }

    /// The start of a table with `array_len` array items (which follow, then
    /// key/value pairs, then [`table_end`]).
    pub fn table_header(buf: &mut Vec<u8>, array_len: usize) {
        if array_len < MAX_COOKIE - 1 {
            buf.push(tag(TYPE_TABLE, array_len as u8));
        } else {
            buf.push(tag(TYPE_TABLE, (MAX_COOKIE - 1) as u8));
            integer(buf, array_len as i64);
        }
    }

    /// The end of a table.
    pub fn table_end(buf: &mut Vec<u8>) {
        buf.push(TYPE_NIL);
    }
}

/// A decoded value, for Rust-side use and tests.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `nil`.
    Nil,
    /// A boolean.
    Boolean(bool),
    /// An integer.
    Integer(i64),
    /// A float.
    Real(f64),
    /// A string (bytes).
    String(Vec<u8>),
    /// A table.
    Table(Table),
}

/// A table: array part then hash part, in wire order.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Table {
    /// Items 1..n.
    pub array: Vec<Value>,
    /// Other pairs.
    pub hash: Vec<(Value, Value)>,
}

/// Why packing failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PackError {
    /// Nesting deeper than skynet allows.
    TooDeep,
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackError::TooDeep => f.write_str("serialize can't pack too depth table"),
        }
    }
}

impl std::error::Error for PackError {}

/// Deepest nesting `pack` accepts, as skynet: any value deeper than this fails.
pub const MAX_PACK_DEPTH: usize = 32;

/// Encodes values.
pub fn pack(values: &[Value]) -> Result<Vec<u8>, PackError> {
    let mut buf = Vec::new();
    for v in values {
        pack_value(&mut buf, v, 0)?;
    }
    Ok(buf)
}

fn pack_value(buf: &mut Vec<u8>, v: &Value, depth: usize) -> Result<(), PackError> {
    if depth > MAX_PACK_DEPTH {
        return Err(PackError::TooDeep);
    }
    match v {
        Value::Nil => write::nil(buf),
        Value::Boolean(b) => write::boolean(buf, *b),
        Value::Integer(i) => write::integer(buf, *i),
        Value::Real(f) => write::real(buf, *f),
        Value::String(s) => write::string(buf, s),
        Value::Table(t) => {
            write::table_header(buf, t.array.len());
            for item in &t.array {
                pack_value(buf, item, depth + 1)?;
            }
            for (k, item) in &t.hash {
                pack_value(buf, k, depth + 1)?;
                pack_value(buf, item, depth + 1)?;
            }
            write::table_end(buf);
        }
    }
    Ok(())
}

/// Why decoding failed. Every message starts with "Invalid serialize stream".
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// The input ended inside a value.
    Truncated {
        /// Where the value started.
        offset: usize,
        /// Bytes it needed.
        needed: usize,
    },
    /// A tag with an unknown type or cookie.
    BadTag {
        /// Where.
        offset: usize,
        /// The tag byte.
        tag: u8,
    },
    /// A table's array length is not a non-negative integer that fits the input.
    BadArrayLength {
        /// Where.
        offset: usize,
    },
    /// A declared length is larger than the bytes that remain.
    LengthTooLarge {
        /// Where.
        offset: usize,
        /// What was declared.
        declared: u64,
        /// What remains.
        remaining: usize,
    },
    /// Tables nested deeper than the limit.
    TooDeep {
        /// Where.
        offset: usize,
        /// The limit.
        limit: usize,
    },
    /// A pointer value, which skyhold never materialises.
    Pointer {
        /// Where.
        offset: usize,
    },
    /// A NaN table key.
    NanKey {
        /// Where.
        offset: usize,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Invalid serialize stream: ")?;
        match self {
            DecodeError::Truncated { offset, needed } => {
                write!(f, "truncated at byte {offset} ({needed} more bytes needed)")
            }
            DecodeError::BadTag { offset, tag } => write!(f, "unknown tag {tag:#04x} at byte {offset}"),
            DecodeError::BadArrayLength { offset } => write!(f, "bad array length at byte {offset}"),
            DecodeError::LengthTooLarge {
                offset,
                declared,
                remaining,
            } => write!(
                f,
                "length {declared} at byte {offset} is larger than the {remaining} bytes that remain"
            ),
            DecodeError::TooDeep { offset, limit } => {
                write!(f, "tables nested deeper than {limit} at byte {offset}")
            }
            DecodeError::Pointer { offset } => write!(f, "pointer value at byte {offset} is not accepted"),
            DecodeError::NanKey { offset } => write!(f, "NaN table key at byte {offset}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Decoder limits.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Deepest table nesting accepted.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { max_depth: 64 }
    }
}

/// Receives decoded values, so a host can build its own values directly.
pub trait Builder {
    /// A value.
    type Value;
    /// A table under construction.
    type Table;
    /// The builder's error (decode errors convert into it).
    type Error: From<DecodeError>;
    /// `nil`.
    fn nil(&mut self) -> Result<Self::Value, Self::Error>;
    /// A boolean.
    fn boolean(&mut self, b: bool) -> Result<Self::Value, Self::Error>;
    /// An integer.
    fn integer(&mut self, i: i64) -> Result<Self::Value, Self::Error>;
    /// A float.
    fn real(&mut self, f: f64) -> Result<Self::Value, Self::Error>;
    /// A string.
    fn string(&mut self, s: &[u8]) -> Result<Self::Value, Self::Error>;
    /// A new table; `array_len` never exceeds the bytes that remain.
    fn begin_table(&mut self, array_len: usize) -> Result<Self::Table, Self::Error>;
    /// Array item `index` (1-based).
    fn array_item(
        &mut self,
        t: &mut Self::Table,
        index: usize,
        v: Self::Value,
    ) -> Result<(), Self::Error>;
    /// A key/value pair.
    fn hash_item(
        &mut self,
        t: &mut Self::Table,
        k: Self::Value,
        v: Self::Value,
    ) -> Result<(), Self::Error>;
    /// The finished table as a value.
    fn end_table(&mut self, t: Self::Table) -> Result<Self::Value, Self::Error>;
}

struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.input.len() - self.pos
    }

    fn take(&mut self, n: usize, start: usize) -> Result<&'a [u8], DecodeError> {
        if self.remaining() < n {
            return Err(DecodeError::Truncated {
                offset: start,
                needed: n - self.remaining(),
            });
        }
        let s = &self.input[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self, start: usize) -> Result<[u8; N], DecodeError> {
        let s = self.take(N, start)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Reads a NUMBER body with the given cookie.
    fn number(&mut self, cookie: u8, start: usize, tagb: u8) -> Result<Number, DecodeError> {
        Ok(match cookie {
            NUMBER_ZERO => Number::Int(0),
            NUMBER_BYTE => Number::Int(i64::from(self.array::<1>(start)?[0])),
            NUMBER_WORD => Number::Int(i64::from(u16::from_le_bytes(self.array(start)?))),
            NUMBER_DWORD => Number::Int(i64::from(i32::from_le_bytes(self.array(start)?))),
            NUMBER_QWORD => Number::Int(i64::from_le_bytes(self.array(start)?)),
            NUMBER_REAL => Number::Real(f64::from_le_bytes(self.array(start)?)),
            _ => {
                return Err(DecodeError::BadTag {
                    offset: start,
                    tag: tagb,
                })
            }
        })
    }
}

enum Number {
    Int(i64),
    Real(f64),
}

/// Decodes every value in `input`, handing each top-level value to `emit`.
pub fn unpack_with<B: Builder>(
    input: &[u8],
    limits: &Limits,
    b: &mut B,
    mut emit: impl FnMut(&mut B, B::Value) -> Result<(), B::Error>,
) -> Result<(), B::Error> {
    let mut r = Reader { input, pos: 0 };
    while r.remaining() > 0 {
        let start = r.pos;
        let t = r.take(1, start)?[0];
        let v = value(&mut r, t, start, 0, limits, b)?;
        emit(b, v)?;
    }
    Ok(())
}

fn value<B: Builder>(
    r: &mut Reader<'_>,
    tagb: u8,
    start: usize,
    depth: usize,
    limits: &Limits,
    b: &mut B,
) -> Result<B::Value, B::Error> {
    let cookie = tagb >> 3;
    match tagb & 7 {
        TYPE_NIL => b.nil(),
        TYPE_BOOLEAN => match cookie {
            0 => b.boolean(false),
            1 => b.boolean(true),
            _ => Err(DecodeError::BadTag {
                offset: start,
                tag: tagb,
            }
            .into()),
        },
        TYPE_NUMBER => match r.number(cookie, start, tagb)? {
            Number::Int(i) => b.integer(i),
            Number::Real(f) => b.real(f),
        },
        TYPE_USERDATA => Err(DecodeError::Pointer { offset: start }.into()),
        TYPE_SHORT_STRING => {
            let s = r.take(usize::from(cookie), start)?;
            b.string(s)
        }
        TYPE_LONG_STRING => {
            let n = match cookie {
                2 => u64::from(u16::from_le_bytes(r.array(start)?)),
                4 => u64::from(u32::from_le_bytes(r.array(start)?)),
                _ => {
                    return Err(DecodeError::BadTag {
                        offset: start,
                        tag: tagb,
                    }
                    .into())
                }
            };
            if n > r.remaining() as u64 {
                return Err(DecodeError::LengthTooLarge {
                    offset: start,
                    declared: n,
                    remaining: r.remaining(),
                }
                .into());
            }
            let s = r.take(n as usize, start)?;
            b.string(s)
        }
        TYPE_TABLE => table(r, cookie, start, depth, limits, b),
        _ => Err(DecodeError::BadTag {
            offset: start,
            tag: tagb,
        }
        .into()),
    }
}

fn table<B: Builder>(
    r: &mut Reader<'_>,
    cookie: u8,
    start: usize,
    depth: usize,
    limits: &Limits,
    b: &mut B,
) -> Result<B::Value, B::Error> {
    if depth >= limits.max_depth {
        return Err(DecodeError::TooDeep {
            offset: start,
            limit: limits.max_depth,
        }
        .into());
    }
    let array_len = if usize::from(cookie) == MAX_COOKIE - 1 {
        let at = r.pos;
        let t = r.take(1, at)?[0];
        if t & 7 != TYPE_NUMBER {
            return Err(DecodeError::BadArrayLength { offset: at }.into());
        }
        match r.number(t >> 3, at, t)? {
            Number::Int(n) if n >= 0 => {
                // Each item takes at least one byte: a larger count cannot be honest.
                if n as u64 > r.remaining() as u64 {
                    return Err(DecodeError::LengthTooLarge {
                        offset: at,
                        declared: n as u64,
                        remaining: r.remaining(),
                    }
                    .into());
                }
                n as usize
            }
            _ => return Err(DecodeError::BadArrayLength { offset: at }.into()),
        }
    } else {
        usize::from(cookie)
    };
    let mut t = b.begin_table(array_len.min(r.remaining()))?;
    for i in 1..=array_len {
        let at = r.pos;
        let tg = r.take(1, at)?[0];
        let v = value(r, tg, at, depth + 1, limits, b)?;
        b.array_item(&mut t, i, v)?;
    }
    loop {
        let at = r.pos;
        let tg = r.take(1, at)?[0];
        if tg == TYPE_NIL {
            break;
        }
        let k = value(r, tg, at, depth + 1, limits, b)?;
        let vat = r.pos;
        let vt = r.take(1, vat)?[0];
        let v = value(r, vt, vat, depth + 1, limits, b)?;
        b.hash_item(&mut t, k, v)?;
    }
    b.end_table(t)
}

struct TreeBuilder;

impl Builder for TreeBuilder {
    type Value = Value;
    type Table = Table;
    type Error = DecodeError;
    fn nil(&mut self) -> Result<Value, DecodeError> {
        Ok(Value::Nil)
    }
    fn boolean(&mut self, b: bool) -> Result<Value, DecodeError> {
        Ok(Value::Boolean(b))
    }
    fn integer(&mut self, i: i64) -> Result<Value, DecodeError> {
        Ok(Value::Integer(i))
    }
    fn real(&mut self, f: f64) -> Result<Value, DecodeError> {
        Ok(Value::Real(f))
    }
    fn string(&mut self, s: &[u8]) -> Result<Value, DecodeError> {
        Ok(Value::String(s.to_vec()))
    }
    fn begin_table(&mut self, array_len: usize) -> Result<Table, DecodeError> {
        Ok(Table {
            array: Vec::with_capacity(array_len),
            hash: Vec::new(),
        })
    }
    fn array_item(&mut self, t: &mut Table, _index: usize, v: Value) -> Result<(), DecodeError> {
        t.array.push(v);
        Ok(())
    }
    fn hash_item(&mut self, t: &mut Table, k: Value, v: Value) -> Result<(), DecodeError> {
        if matches!(k, Value::Real(f) if f.is_nan()) {
            return Err(DecodeError::NanKey { offset: 0 });
        }
        t.hash.push((k, v));
        Ok(())
    }
    fn end_table(&mut self, t: Table) -> Result<Value, DecodeError> {
        Ok(Value::Table(t))
    }
}

/// Decodes every value in `input` into a tree.
pub fn unpack(input: &[u8]) -> Result<Vec<Value>, DecodeError> {
    let mut out = Vec::new();
    unpack_with(input, &Limits::default(), &mut TreeBuilder, |_, v| {
        out.push(v);
        Ok(())
    })?;
    Ok(out)
}
