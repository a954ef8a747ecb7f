//! pbc's patterns (`pbc_pattern_*`): a message type and a list of its
//! fields, each with a C storage type (`%d` int32, `%D` int64, `%F`
//! double, `%s` string or message bytes, `%a` array), packed and unpacked
//! as a flat list of values. Written in field-number order; an optional
//! field equal to its default is left out.

use super::env::{Def, Env, Label};
use super::scan::{check, dezigzag32, dezigzag64, next_atom, packable, packed, AtomVal};
use crate::meter::Meter;
use crate::wire::{put_varint, t};

/// How a pattern field is stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CType {
    /// `%d`.
    Int32,
    /// `%D`.
    Int64,
    /// `%F`.
    Double,
    /// `%s`.
    Var,
    /// `%a` of a repeated field.
    Array,
    /// `%a` of a packed field.
    Packed,
}

/// One field of a pattern.
#[derive(Clone, Debug)]
pub struct PatField {
    id: i32,
    ptype: u8,
    label: Label,
    def: Def,
    /// Its storage type.
    pub ctype: CType,
}

/// A compiled pattern.
#[derive(Clone, Debug)]
pub struct Pattern {
    /// Fields in the order the format names them.
    pub fields: Vec<PatField>,
    by_id: Vec<usize>,
}

/// A value packed or unpacked: pbc's integer or double bits, or bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum PVal {
    /// Integer (low | high << 32) or double bits.
    Bits(u64),
    /// A string, bytes or message.
    Bytes(Vec<u8>),
    /// An array's elements.
    Array(Vec<PVal>),
}

fn tokens(format: &[u8]) -> Vec<&[u8]> {
    // pbc's scan: name/type pairs split by blanks; a name with no type
    // after it, or blanks at the end, count as no fields at all.
    let ws = |c: &u8| matches!(c, b' ' | b'\t' | b'\n' | b'\r');
    let mut out = Vec::new();
    let mut p = 0;
    let take = |p: &mut usize| -> (&[u8], bool) {
        while *p < format.len() && ws(&format[*p]) {
            *p += 1;
        }
        let s = *p;
        while *p < format.len() && format[*p] != 0 && !ws(&format[*p]) {
            *p += 1;
        }
        (&format[s..*p], *p >= format.len() || format[*p] == 0)
    };
    loop {
        let (name, end) = take(&mut p);
        if end {
            return Vec::new();
        }
        let (ct, end) = take(&mut p);
        out.push(name);
        out.push(ct);
        if end {
            return out;
        }
    }
}

impl Pattern {
    /// `pbc_pattern_new` over message `msg` with `format` (`@` first, as
    /// protobuf.lua writes it; pbc's C variant without it reads offsets
    /// from C arguments, so here both read the same way).
    pub fn new(env: &Env, msg: &[u8], format: &[u8]) -> Result<Pattern, &'static str> {
        let Some(m) = env.msg(msg) else {
            return Err("Pattern new can't find proto");
        };
        let at = format.first() == Some(&b'@');
        let body = if at { &format[1..] } else { format };
        let (e_field, e_ctype, e_check) = if at {
            (
                "Pattern @new query none exist field",
                "Pattern @new use an invalid ctype",
                "Pattern @new ctype check error",
            )
        } else {
            (
                "Pattern new query none exist field",
                "Pattern new use an invalid ctype",
                "Pattern new ctype check error",
            )
        };
        let toks = tokens(body);
        let mut fields = Vec::new();
        for pair in toks.chunks(2) {
            let f = m.field(pair[0]).ok_or(e_field)?;
            let ct = pair[1];
            let mut ctype = match (ct.first(), ct.get(1)) {
                (Some(b'%'), Some(b'd')) => CType::Int32,
                (Some(b'%'), Some(b'D')) => CType::Int64,
                (Some(b'%'), Some(b'F')) => CType::Double,
                (Some(b'%'), Some(b's')) => CType::Var,
                (Some(b'%'), Some(b'a')) => CType::Array,
                _ => return Err(e_ctype),
            };
            if ctype == CType::Array && f.label == Label::Packed {
                ctype = CType::Packed;
            }
            let bad = match f.label {
                Label::Repeated => ctype != CType::Array,
                Label::Packed => ctype != CType::Packed,
                _ => match f.ptype {
                    t::STRING | t::MESSAGE | t::BYTES => ctype != CType::Var,
                    t::FLOAT | t::DOUBLE => ctype != CType::Double,
                    t::ENUM => !matches!(ctype, CType::Int32 | CType::Int64),
                    _ => !matches!(ctype, CType::Int32 | CType::Int64),
                },
            };
            if bad {
                return Err(e_check);
            }
            fields.push(PatField {
                id: f.id,
                ptype: f.ptype,
                label: f.label,
                def: f.def.clone(),
                ctype,
            });
        }
        let mut by_id: Vec<usize> = (0..fields.len()).collect();
        by_id.sort_by_key(|&i| fields[i].id);
        Ok(Pattern { fields, by_id })
    }

    fn default_of(f: &PatField) -> PVal {
        match f.ctype {
            CType::Array | CType::Packed => PVal::Array(Vec::new()),
            CType::Int32 => PVal::Bits(f.def.bits & 0xffff_ffff),
            CType::Int64 | CType::Double => PVal::Bits(f.def.bits),
            CType::Var => PVal::Bytes(if f.ptype == t::STRING {
                f.def.text.clone()
            } else {
                Vec::new()
            }),
        }
    }

    /// `pbc_pattern_unpack`: the values, in format order; an error is
    /// pbc's text.
    pub fn unpack(
        &self,
        data: &[u8],
        meter: &mut Meter,
    ) -> mlua::Result<Result<Vec<PVal>, &'static str>> {
        let mut out: Vec<Option<PVal>> = vec![None; self.fields.len()];
        if !data.is_empty() {
            if check(data, meter)?.is_none() {
                return Ok(Err("Pattern unpack open context error"));
            }
            let mut p = 0;
            while p < data.len() {
                let Some(a) = next_atom(data, &mut p) else {
                    break;
                };
                let Ok(k) = self
                    .by_id
                    .binary_search_by_key(&a.id, |&i| self.fields[i].id)
                else {
                    continue;
                };
                let i = self.by_id[k];
                let f = &self.fields[i];
                match f.ctype {
                    CType::Array | CType::Packed => {
                        let slot = out[i].get_or_insert_with(|| PVal::Array(Vec::new()));
                        let PVal::Array(vals) = slot else { continue };
                        match a.val {
                            AtomVal::Len(s, e) if packable(f.ptype) => {
                                let ok = packed(
                                    f.ptype,
                                    &data[s..e],
                                    meter,
                                    &mut |b| -> mlua::Result<()> {
                                        vals.push(PVal::Bits(b));
                                        Ok(())
                                    },
                                )?;
                                if !ok {
                                    return Ok(Err("Pattern unpack field error"));
                                }
                            }
                            v => match var(f.ptype, v, data) {
                                Some(x) => vals.push(x),
                                None => return Ok(Err("Pattern unpack field error")),
                            },
                        }
                    }
                    ct => {
                        let Some(v) = var(f.ptype, a.val, data) else {
                            return Ok(Err("Pattern unpack field error"));
                        };
                        out[i] = Some(match (ct, v) {
                            (CType::Int32, PVal::Bits(b)) => PVal::Bits(b & 0xffff_ffff),
                            (_, v) => v,
                        });
                    }
                }
            }
        }
        Ok(Ok(out
            .into_iter()
            .zip(&self.fields)
            .map(|(v, f)| v.unwrap_or_else(|| Self::default_of(f)))
            .collect()))
    }

    fn is_default(f: &PatField, v: &PVal) -> bool {
        match (f.ctype, v) {
            (CType::Int64, PVal::Bits(b)) => *b == f.def.bits,
            (CType::Double, PVal::Bits(b)) => f64::from_bits(*b) == f64::from_bits(f.def.bits),
            (CType::Int32, PVal::Bits(b)) => *b as u32 == f.def.bits as u32,
            (CType::Var, PVal::Bytes(s)) => f.ptype == t::STRING && *s == f.def.text,
            _ => false,
        }
    }

    /// `pbc_pattern_pack`: `vals` in format order (as the Lua side reads
    /// them: `%d` values as their low 32 bits).
    pub fn pack(&self, vals: &[PVal]) -> Vec<u8> {
        let mut out = Vec::new();
        for &i in &self.by_id {
            let f = &self.fields[i];
            let Some(v) = vals.get(i) else { continue };
            match (f.label, v) {
                (Label::Repeated, PVal::Array(a)) => {
                    for x in a {
                        field(f, x, &mut out);
                    }
                }
                (Label::Packed, PVal::Array(a)) => {
                    if a.is_empty() {
                        continue;
                    }
                    let mut body = Vec::new();
                    for x in a {
                        if let PVal::Bits(b) = x {
                            number(f.ptype, *b, &mut body);
                        }
                    }
                    put_varint(&mut out, u64::from((f.id as u32) << 3 | 2));
                    put_varint(&mut out, u64::from(body.len() as u32));
                    out.extend_from_slice(&body);
                }
                (Label::Optional, v) if Self::is_default(f, v) => {}
                (_, v) => field(f, v, &mut out),
            }
        }
        out
    }
}

/// An atom as pbc's value union of field type `ptype` holds it (`None`:
/// bytes wanted, not length-delimited).
fn var(ptype: u8, v: AtomVal, data: &[u8]) -> Option<PVal> {
    let bits = v.bits();
    Some(PVal::Bits(match ptype {
        t::STRING | t::BYTES | t::MESSAGE => {
            return match v {
                AtomVal::Len(s, e) => Some(PVal::Bytes(data[s..e].to_vec())),
                AtomVal::Bits(_) => None,
            }
        }
        t::FLOAT => f64::from(f32::from_bits(bits as u32)).to_bits(),
        t::SINT32 => dezigzag32(bits),
        t::SINT64 => dezigzag64(bits),
        _ => bits,
    }))
}

fn number(ptype: u8, bits: u64, out: &mut Vec<u8>) {
    match ptype {
        t::FIXED64 | t::SFIXED64 | t::DOUBLE => out.extend_from_slice(&bits.to_le_bytes()),
        t::FLOAT => out.extend_from_slice(&(f64::from_bits(bits) as f32).to_bits().to_le_bytes()),
        t::FIXED32 | t::SFIXED32 => out.extend_from_slice(&(bits as u32).to_le_bytes()),
        t::UINT64 | t::INT64 | t::INT32 => put_varint(out, bits),
        t::UINT32 | t::BOOL | t::ENUM => put_varint(out, bits & 0xffff_ffff),
        t::SINT32 => put_varint(out, u64::from(crate::wire::enc_sint32(bits as u32 as i32))),
        t::SINT64 => put_varint(out, crate::wire::enc_sint64(bits as i64)),
        _ => {}
    }
}

fn field(f: &PatField, v: &PVal, out: &mut Vec<u8>) {
    let wt = match f.ptype {
        t::FIXED64 | t::SFIXED64 | t::DOUBLE => 1,
        t::FIXED32 | t::SFIXED32 | t::FLOAT => 5,
        t::STRING | t::MESSAGE | t::BYTES => 2,
        p if (1..=18).contains(&p) && p != t::GROUP => 0,
        _ => return,
    };
    match v {
        PVal::Bytes(s) if wt == 2 => {
            put_varint(out, u64::from((f.id as u32) << 3 | 2));
            put_varint(out, u64::from(s.len() as u32));
            out.extend_from_slice(s);
        }
        PVal::Bits(b) if wt != 2 => {
            put_varint(out, u64::from((f.id as u32) << 3 | wt));
            number(f.ptype, *b, out);
        }
        _ => {}
    }
}
