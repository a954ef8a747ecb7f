//! Reading a message field by field (`pbc_rmessage_*`): the message is
//! cut into atoms once and indexed by field name; a field that is not
//! there reads as its default. Sub-messages are indexed when asked for
//! (pbc indexes them at once), so nothing here recurses.

use super::env::{Env, Label, PField};
use super::scan::{check, next_atom, packable, packed, raw_bits, AtomVal};
use crate::meter::Meter;
use crate::wire::t;
use std::collections::HashMap;
use std::sync::Arc;

/// A stored value: pbc's value union (integer, double bits, enum number)
/// or a range of the message's bytes.
#[derive(Clone, Copy, Debug)]
enum RVal {
    Bits(u64),
    Bytes(usize, usize),
}

#[derive(Clone, Debug)]
struct Entry {
    repeated: bool,
    vals: Vec<RVal>,
}

/// A message read from bytes.
#[derive(Clone, Debug)]
pub struct RMsg {
    ty: Vec<u8>,
    data: Arc<[u8]>,
    index: HashMap<Vec<u8>, Entry>,
}

impl RMsg {
    /// `pbc_rmessage_new`: message `ty` from `data[start..end]`. An error
    /// is pbc's text; a success may carry the text of a value that did not
    /// fit its field (left out, as pbc leaves it out).
    pub fn new(
        env: &Env,
        ty: &[u8],
        data: Arc<[u8]>,
        start: usize,
        end: usize,
        meter: &mut Meter,
    ) -> mlua::Result<Result<(RMsg, Option<&'static str>), &'static str>> {
        let Some(msg) = env.msg(ty) else {
            return Ok(Err("Proto not found"));
        };
        let mut m = RMsg {
            ty: ty.to_vec(),
            data: data.clone(),
            index: HashMap::new(),
        };
        let b = &data[start..end];
        if b.is_empty() {
            return Ok(Ok((m, None)));
        }
        if check(b, meter)?.is_none() {
            return Ok(Err("rmessage decode context error"));
        }
        let mut warn = None;
        let mut p = 0;
        while p < b.len() {
            let Some(a) = next_atom(b, &mut p) else { break };
            let Some(f) = msg.field_by_id(a.id) else {
                continue;
            };
            if f.code() == 0 {
                continue;
            }
            let shift = |v: AtomVal| match v {
                AtomVal::Len(s, e) => AtomVal::Len(s + start, e + start),
                other => other,
            };
            let val = shift(a.val);
            if f.label.repeated() {
                let mut vals = m.index.remove(&f.name).map(|e| e.vals).unwrap_or_default();
                let before = vals.len();
                let packed_run = match val {
                    AtomVal::Len(s, e) if packable(f.ptype) => Some((s, e)),
                    _ => None,
                };
                let mut failed = false;
                if let Some((s, e)) = packed_run {
                    let ok = packed(
                        f.ptype,
                        &data[s..e],
                        meter,
                        &mut |bits| -> mlua::Result<()> {
                            vals.push(RVal::Bits(bits));
                            Ok(())
                        },
                    )?;
                    if !ok {
                        vals.truncate(before);
                        failed = true;
                    }
                } else if let Some(v) = one(f, val) {
                    vals.push(v);
                }
                if vals.is_empty() {
                    warn = Some(if f.label == Label::Packed || failed {
                        "rmessage decode packed data error"
                    } else {
                        "rmessage decode repeated data error"
                    });
                } else {
                    m.index.insert(
                        f.name.clone(),
                        Entry {
                            repeated: true,
                            vals,
                        },
                    );
                }
            } else {
                match one(f, val) {
                    Some(v) => {
                        m.index.insert(
                            f.name.clone(),
                            Entry {
                                repeated: false,
                                vals: vec![v],
                            },
                        );
                    }
                    None => warn = Some("rmessage decode data error"),
                }
            }
        }
        Ok(Ok((m, warn)))
    }

    /// The message type's name.
    pub fn type_name(&self) -> &[u8] {
        &self.ty
    }

    fn get(&self, key: &[u8], index: i64) -> Option<RVal> {
        let e = self.index.get(key)?;
        if e.repeated {
            usize::try_from(index)
                .ok()
                .and_then(|i| e.vals.get(i).copied())
        } else {
            e.vals.first().copied()
        }
    }

    fn field<'e>(&self, env: &'e Env, key: &[u8]) -> Option<&'e PField> {
        env.field(&self.ty, key)
    }

    /// `pbc_rmessage_integer`: element `index` of field `key` as pbc's
    /// integer (low | high << 32); an enum gives its number.
    pub fn integer(&self, env: &Env, key: &[u8], index: i64) -> u64 {
        let f = self.field(env, key);
        let bits = match (self.get(key, index), f) {
            (Some(RVal::Bits(b)), _) => b,
            (Some(RVal::Bytes(s, e)), _) => AtomVal::Len(s, e).bits(),
            (None, Some(f)) => f.def.bits,
            (None, None) => 0,
        };
        match f {
            Some(f) if f.ptype == t::ENUM => bits & 0xffff_ffff,
            _ => bits,
        }
    }

    /// `pbc_rmessage_real`.
    pub fn real(&self, env: &Env, key: &[u8], index: i64) -> f64 {
        f64::from_bits(self.integer_raw(env, key, index))
    }

    fn integer_raw(&self, env: &Env, key: &[u8], index: i64) -> u64 {
        match (self.get(key, index), self.field(env, key)) {
            (Some(RVal::Bits(b)), _) => b,
            (Some(RVal::Bytes(s, e)), _) => AtomVal::Len(s, e).bits(),
            (None, Some(f)) => f.def.bits,
            (None, None) => 0,
        }
    }

    /// `pbc_rmessage_string`: a string or bytes value, an enum's value
    /// name, or the default.
    pub fn string<'s>(&'s self, env: &'s Env, key: &[u8], index: i64) -> &'s [u8] {
        let f = self.field(env, key);
        if let Some(f) = f.filter(|f| f.ptype == t::ENUM) {
            return match self.get(key, index) {
                Some(RVal::Bits(b)) => env
                    .enums
                    .get(&f.type_name)
                    .and_then(|e| e.names.get(&(b as u32 as i32)))
                    .map_or(&[][..], |v| v.as_slice()),
                _ => f.def.text.as_slice(),
            };
        }
        match (self.get(key, index), f) {
            (Some(RVal::Bytes(s, e)), _) => &self.data[s..e],
            (None, Some(f)) => f.def.text.as_slice(),
            _ => &[],
        }
    }

    /// `pbc_rmessage_message`: element `index` of message field `key`
    /// (a field that is absent gives an empty message of its type).
    pub fn message(
        &self,
        env: &Env,
        key: &[u8],
        index: i64,
        meter: &mut Meter,
    ) -> mlua::Result<Result<(RMsg, Option<&'static str>), &'static str>> {
        let Some(f) = self.field(env, key).filter(|f| f.ptype == t::MESSAGE) else {
            return Ok(Err("Invalid key for sub-message"));
        };
        let (s, e) = match self.get(key, index) {
            Some(RVal::Bytes(s, e)) => (s, e),
            _ => (0, 0),
        };
        RMsg::new(env, &f.type_name, self.data.clone(), s, e, meter)
    }

    /// `pbc_rmessage_size`: how many values field `key` has (1 for a
    /// field that is not repeated and is there, 0 when absent).
    pub fn size(&self, key: &[u8]) -> usize {
        self.index.get(key).map_or(0, |e| e.vals.len())
    }
}

/// One atom's value for field `f`, `None` when it does not fit.
fn one(f: &PField, v: AtomVal) -> Option<RVal> {
    match f.ptype {
        t::STRING | t::BYTES | t::MESSAGE => match v {
            AtomVal::Len(s, e) => Some(RVal::Bytes(s, e)),
            AtomVal::Bits(_) => None,
        },
        _ => raw_bits(f.ptype, v).map(RVal::Bits),
    }
}
