//! Reading pbc's way: a message is first cut into atoms (tag and value;
//! groups and wire types 6–7 are refused, a tag must fit 32 bits), then
//! each atom of a known field becomes a value by the field's type, the
//! way pbc's union of values reads it. Nothing here allocates from a
//! declared size; every atom is charged to the meter.

use super::env::{code, Env, PField};
use crate::meter::Meter;
use crate::wire::t;

/// The value part of an atom.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AtomVal {
    /// A varint, or 8 or 4 little-endian bytes.
    Bits(u64),
    /// A length-delimited value: `start..end` in the message's bytes.
    Len(usize, usize),
}

impl AtomVal {
    /// The 64 bits pbc reads when it takes the atom as a number (for a
    /// length-delimited atom: its start and end offsets, as its union holds
    /// them).
    pub fn bits(self) -> u64 {
        match self {
            AtomVal::Bits(b) => b,
            AtomVal::Len(s, e) => (s as u64 & 0xffff_ffff) | ((e as u64 & 0xffff_ffff) << 32),
        }
    }
}

/// One tag and its value.
#[derive(Clone, Copy, Debug)]
pub struct Atom {
    /// Field number.
    pub id: i32,
    /// Wire type.
    pub wt: u8,
    /// The value.
    pub val: AtomVal,
}

/// pbc's varint reader: up to ten bytes; ten bytes that all continue read
/// as 0. `None` when the bytes end first.
pub fn varint(b: &[u8], p: usize) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for i in 0..10 {
        let c = *b.get(p + i)?;
        v |= u64::from(c & 0x7f).checked_shl(7 * i as u32).unwrap_or(0);
        if c & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    Some((0, 10))
}

/// The atom at `*p` (advanced past it), `None` if it is malformed.
pub fn next_atom(b: &[u8], p: &mut usize) -> Option<Atom> {
    let (tag, n) = varint(b, *p)?;
    if tag >> 32 != 0 {
        return None;
    }
    let mut q = *p + n;
    let wt = (tag & 7) as u8;
    let val = match wt {
        0 => {
            let (v, n) = varint(b, q)?;
            q += n;
            AtomVal::Bits(v)
        }
        1 => {
            let s = b.get(q..q + 8)?;
            q += 8;
            AtomVal::Bits(u64::from_le_bytes(s.try_into().ok()?))
        }
        2 => {
            let (len, n) = varint(b, q)?;
            if len >> 32 != 0 {
                return None;
            }
            let start = q + n;
            let end = start.checked_add(len as usize)?;
            if end > b.len() {
                return None;
            }
            q = end;
            AtomVal::Len(start, end)
        }
        5 => {
            let s = b.get(q..q + 4)?;
            q += 4;
            AtomVal::Bits(u64::from(u32::from_le_bytes(s.try_into().ok()?)))
        }
        _ => return None,
    };
    *p = q;
    Some(Atom {
        id: (tag as u32 >> 3) as i32,
        wt,
        val,
    })
}

/// Checks that all of `b` cuts into atoms; the number of atoms.
pub fn check(b: &[u8], meter: &mut Meter) -> mlua::Result<Option<usize>> {
    let mut p = 0;
    let mut n = 0;
    while p < b.len() {
        meter.step(1)?;
        if next_atom(b, &mut p).is_none() {
            return Ok(None);
        }
        n += 1;
    }
    Ok(Some(n))
}

/// A float's bits read as pbc widens it to a double.
fn widen(low: u64) -> u64 {
    f64::from(f32::from_bits(low as u32)).to_bits()
}

/// pbc's `_pbcV_dezigzag32` on (low, high).
pub fn dezigzag32(bits: u64) -> u64 {
    let low = bits as u32;
    let l = (low >> 1) ^ (low & 1).wrapping_neg();
    let h = (low >> 31).wrapping_neg();
    u64::from(l) | (u64::from(h) << 32)
}

/// pbc's `_pbcV_dezigzag64`.
pub fn dezigzag64(bits: u64) -> u64 {
    (bits >> 1) ^ (bits & 1).wrapping_neg()
}

/// The value union pbc fills from a single atom of field type `ptype`
/// (its `read_value`/`call_type`); `None` where a string, bytes or message
/// field's atom is not length-delimited.
pub fn single_bits(ptype: u8, a: AtomVal) -> Option<u64> {
    let bits = a.bits();
    Some(match ptype {
        t::DOUBLE | t::INT64 | t::UINT64 | t::FIXED64 | t::SFIXED64 => bits,
        t::FLOAT => widen(bits),
        t::ENUM | t::INT32 | t::UINT32 | t::BOOL | t::FIXED32 | t::SFIXED32 => bits & 0xffff_ffff,
        t::SINT32 => dezigzag32(bits),
        t::SINT64 => dezigzag64(bits),
        _ => return None,
    })
}

/// The value union pbc's field-by-field reader (`rmessage`) and its
/// patterns fill from a single atom: as [`single_bits`], but integers keep
/// all 64 bits read.
pub fn raw_bits(ptype: u8, a: AtomVal) -> Option<u64> {
    let bits = a.bits();
    Some(match ptype {
        t::FLOAT => widen(bits),
        t::SINT32 => dezigzag32(bits),
        t::SINT64 => dezigzag64(bits),
        t::STRING | t::BYTES | t::MESSAGE | t::GROUP => return None,
        1..=18 => bits,
        _ => return None,
    })
}

/// Reads a packed run of field type `ptype` (`_pbcP_unpack_packed`),
/// passing each element's value union to `each`; `false` when the run is
/// malformed (a fixed-width run not a multiple of its width, a varint past
/// the end, a type that cannot be packed) — elements before the fault have
/// been passed on.
pub fn packed<E>(
    ptype: u8,
    b: &[u8],
    meter: &mut Meter,
    each: &mut dyn FnMut(u64) -> Result<(), E>,
) -> Result<bool, E>
where
    E: From<mlua::Error>,
{
    let width = match ptype {
        t::DOUBLE | t::FIXED64 | t::SFIXED64 => 8,
        t::FLOAT | t::FIXED32 | t::SFIXED32 => 4,
        t::INT64 | t::UINT64 | t::INT32 | t::UINT32 | t::BOOL | t::ENUM | t::SINT32 | t::SINT64 => {
            0
        }
        _ => return Ok(false),
    };
    if width > 0 {
        if !b.len().is_multiple_of(width) {
            return Ok(false);
        }
        for c in b.chunks_exact(width) {
            meter.step(1)?;
            let mut a = [0u8; 8];
            a[..width].copy_from_slice(c);
            let v = u64::from_le_bytes(a);
            each(if ptype == t::FLOAT { widen(v) } else { v })?;
        }
        return Ok(true);
    }
    let mut p = 0;
    while p < b.len() {
        meter.step(1)?;
        let Some((v, n)) = varint(b, p) else {
            return Ok(false);
        };
        p += n;
        each(match ptype {
            t::SINT32 => dezigzag32(v),
            t::SINT64 => dezigzag64(v),
            _ => v,
        })?;
    }
    Ok(true)
}

/// Can a run of this field type be packed.
pub fn packable(ptype: u8) -> bool {
    !matches!(ptype, t::STRING | t::BYTES | t::MESSAGE | t::GROUP) && (1..=18).contains(&ptype)
}

/// A decoded value, as `_decode` hands it to Lua.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Out<'a> {
    /// An integer.
    Int(i64),
    /// A float or double.
    Real(f64),
    /// A bool.
    Bool(bool),
    /// An enum value's name (`None`: a number the enum does not name).
    Enum(Option<&'a [u8]>),
    /// A string or bytes.
    Str(&'a [u8]),
    /// A message's bytes.
    Msg(&'a [u8]),
}

/// One field value found by [`decode`].
#[derive(Debug)]
pub struct Event<'a> {
    /// The field.
    pub field: &'a PField,
    /// Whether it is appended to an array.
    pub repeated: bool,
    /// The value.
    pub value: Out<'a>,
}

fn out<'a>(env: &'a Env, f: &'a PField, bits: u64, data: &'a [u8], a: AtomVal) -> Out<'a> {
    let c = f.code() & !code::REPEATED;
    match c {
        code::INT | code::FIXED32 => Out::Int(i64::from(bits as u32 as i32)),
        code::REAL => Out::Real(f64::from_bits(bits)),
        code::BOOL => Out::Bool(bits as u32 != 0),
        code::ENUM => Out::Enum(
            env.enums
                .get(&f.type_name)
                .and_then(|e| e.names.get(&(bits as u32 as i32)))
                .map(|v| v.as_slice()),
        ),
        code::STRING | code::BYTES | code::MESSAGE => {
            let s = match a {
                AtomVal::Len(s, e) => &data[s..e],
                AtomVal::Bits(_) => &[][..],
            };
            if c == code::MESSAGE {
                Out::Msg(s)
            } else {
                Out::Str(s)
            }
        }
        _ => Out::Int(bits as i64),
    }
}

/// Why [`decode`] stopped.
#[derive(Debug)]
pub enum DecodeError<E> {
    /// No such message type (`Proto not found`).
    NoType,
    /// The bytes do not cut into atoms (`decode context error`).
    Context,
    /// A value does not fit its field (pbc sets no error text).
    Value,
    /// The sink or the meter failed.
    Sink(E),
}

impl<E> From<E> for DecodeError<E> {
    fn from(e: E) -> Self {
        DecodeError::Sink(e)
    }
}

/// `pbc_decode`: the fields of message `ty` in `data`, in wire order, each
/// value passed to `sink`. Unknown fields (and group-typed ones) are
/// skipped. A packed run is read for a field declared packed and, beyond
/// pbc, for a repeated scalar field that arrives packed (as proto3 writes
/// them); a packed field that arrives unpacked is read as one value.
pub fn decode<'a, E: From<mlua::Error>>(
    env: &'a Env,
    ty: &[u8],
    data: &'a [u8],
    meter: &mut Meter,
    sink: &mut dyn FnMut(Event<'a>) -> Result<(), E>,
) -> Result<(), DecodeError<E>> {
    let Some(msg) = env.msg(ty) else {
        return Err(DecodeError::NoType);
    };
    if data.is_empty() {
        return Ok(());
    }
    if check(data, meter)
        .map_err(|e| DecodeError::Sink(E::from(e)))?
        .is_none()
    {
        return Err(DecodeError::Context);
    }
    let mut p = 0;
    while p < data.len() {
        let a = next_atom(data, &mut p).ok_or(DecodeError::Context)?;
        let Some(f) = msg.field_by_id(a.id) else {
            continue;
        };
        if f.code() == 0 {
            continue;
        }
        let repeated = f.label.repeated();
        if let (true, AtomVal::Len(s, e)) = (repeated && packable(f.ptype), a.val) {
            let ok = packed(f.ptype, &data[s..e], meter, &mut |bits| {
                let value = out(env, f, bits, data, a.val);
                sink(Event {
                    field: f,
                    repeated,
                    value,
                })
            })?;
            if !ok {
                return Err(DecodeError::Value);
            }
            continue;
        }
        if matches!(f.ptype, t::STRING | t::BYTES | t::MESSAGE)
            && !matches!(a.val, AtomVal::Len(..))
        {
            return Err(DecodeError::Value);
        }
        let bits = single_bits(f.ptype, a.val).unwrap_or(0);
        sink(Event {
            field: f,
            repeated,
            value: out(env, f, bits, data, a.val),
        })?;
    }
    Ok(())
}
