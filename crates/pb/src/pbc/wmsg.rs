//! Writing pbc's way (`pbc_wmessage_*`): scalar fields are written in the
//! order they are set, an optional field equal to its default is left
//! out, packed fields are gathered and written after them in the order
//! pbc's own string map lists their names, then the sub-messages in the
//! order they were opened.

use super::env::{Env, Label, PField};
use crate::limits::{DEFAULT_MAX_BYTES, DEFAULT_MAX_DEPTH};
use crate::wire::{put_varint, t};

/// Why a write failed: pbc's error text (what `_last_error` gives), or a
/// bound of ours.
#[derive(Debug, PartialEq, Eq)]
pub enum WError {
    /// pbc's text.
    Pbc(&'static str),
    /// Sub-messages nested deeper than `pbc_max_depth`.
    TooDeep,
    /// The message grew past `pbc_max_bytes` bytes.
    TooBig,
}

/// pbc's string hash (`calc_hash`), which decides where its maps put a
/// key and so the order packed fields come out in.
pub fn calc_hash(key: &[u8]) -> u64 {
    let key = match key.iter().position(|&c| c == 0) {
        Some(n) => &key[..n],
        None => key,
    };
    let len = key.len();
    let mut h = len as u64;
    let step = (len >> 5) + 1;
    let mut i = len;
    while i >= step {
        let c = key[i - 1] as i8 as i64 as u64;
        h ^= (h << 5).wrapping_add(h >> 2).wrapping_add(c);
        i -= step;
    }
    h
}

/// One packed field being gathered.
#[derive(Clone, Debug)]
struct Packed {
    key: Vec<u8>,
    hash: u64,
    id: i32,
    ptype: u8,
    vals: Vec<u64>,
}

/// The packed fields of one message, placed as pbc's open-addressed map
/// (4 slots to start, doubled when full) places them.
#[derive(Clone, Debug, Default)]
struct PackedMap {
    slots: Vec<Option<usize>>,
    entries: Vec<Packed>,
}

impl PackedMap {
    fn place(slots: &mut [Option<usize>], hash: u64, idx: usize) {
        let cap = slots.len();
        let mut pos = (hash as usize) & (cap - 1);
        while slots[pos].is_some() {
            pos = (pos + 1) & (cap - 1);
        }
        slots[pos] = Some(idx);
    }

    fn get(&mut self, key: &[u8], f: &PField) -> &mut Packed {
        if let Some(i) = self.entries.iter().position(|e| e.key == key) {
            return &mut self.entries[i];
        }
        if self.slots.is_empty() {
            self.slots = vec![None; 4];
        }
        if self.entries.len() == self.slots.len() {
            let old = std::mem::take(&mut self.slots);
            self.slots = vec![None; old.len() * 2];
            for idx in old.into_iter().flatten() {
                Self::place(&mut self.slots, self.entries[idx].hash, idx);
            }
        }
        let idx = self.entries.len();
        let hash = calc_hash(key);
        self.entries.push(Packed {
            key: key.to_vec(),
            hash,
            id: f.id,
            ptype: f.ptype,
            vals: Vec::new(),
        });
        Self::place(&mut self.slots, hash, idx);
        &mut self.entries[idx]
    }

    fn in_order(&self) -> impl Iterator<Item = &Packed> {
        self.slots.iter().flatten().map(|&i| &self.entries[i])
    }
}

#[derive(Clone, Debug)]
struct Node {
    msg: Vec<u8>,
    depth: usize,
    buf: Vec<u8>,
    packed: PackedMap,
    subs: Vec<(i32, usize)>,
}

/// A message being written and its sub-messages.
#[derive(Clone, Debug)]
pub struct WTree {
    nodes: Vec<Node>,
    size: usize,
    max_depth: usize,
    max_bytes: usize,
}

fn tag(out: &mut Vec<u8>, id: i32, wt: u32) {
    put_varint(out, u64::from((id as u32) << 3 | wt));
}

fn trunc_nul(s: &[u8]) -> &[u8] {
    match s.iter().position(|&c| c == 0) {
        Some(n) => &s[..n],
        None => s,
    }
}

impl WTree {
    /// `pbc_wmessage_new`: an empty message of type `msg` (node 0), with
    /// the default limits.
    pub fn new(msg: &[u8]) -> WTree {
        WTree::with_limits(msg, DEFAULT_MAX_DEPTH, DEFAULT_MAX_BYTES)
    }

    /// An empty message whose sub-messages nest less than `max_depth` deep
    /// and whose bytes stay within `max_bytes` (`pbc_max_depth`,
    /// `pbc_max_bytes`).
    pub fn with_limits(msg: &[u8], max_depth: usize, max_bytes: usize) -> WTree {
        WTree {
            max_depth,
            max_bytes,
            nodes: vec![Node {
                msg: msg.to_vec(),
                depth: 0,
                buf: Vec::new(),
                packed: PackedMap::default(),
                subs: Vec::new(),
            }],
            size: 0,
        }
    }

    fn grow(&mut self, n: usize) -> Result<(), WError> {
        self.size = self.size.saturating_add(n);
        if self.size > self.max_bytes {
            return Err(WError::TooBig);
        }
        Ok(())
    }

    fn field<'e>(
        &self,
        env: &'e Env,
        node: usize,
        key: &[u8],
        err: &'static str,
    ) -> Result<&'e PField, WError> {
        env.field(&self.nodes[node].msg, key)
            .ok_or(WError::Pbc(err))
    }

    /// `pbc_wmessage_integer`: `bits` is the value (low | high << 32).
    pub fn integer(&mut self, env: &Env, node: usize, key: &[u8], bits: u64) -> Result<(), WError> {
        let f = self.field(env, node, key, "wmessage_interger query key error")?;
        self.grow(20)?;
        let n = &mut self.nodes[node];
        if f.label == Label::Packed {
            n.packed.get(key, f).vals.push(bits);
            return Ok(());
        }
        if f.label == Label::Optional {
            let same = if f.ptype == t::ENUM {
                bits as u32 == f.def.bits as u32
            } else {
                bits == f.def.bits
            };
            if same {
                return Ok(());
            }
        }
        let out = &mut n.buf;
        let low = bits & 0xffff_ffff;
        match f.ptype {
            t::INT64 | t::UINT64 | t::INT32 => {
                tag(out, f.id, 0);
                put_varint(out, bits);
            }
            t::UINT32 | t::ENUM | t::BOOL => {
                tag(out, f.id, 0);
                put_varint(out, low);
            }
            t::FIXED64 | t::SFIXED64 => {
                tag(out, f.id, 1);
                out.extend_from_slice(&bits.to_le_bytes());
            }
            t::FIXED32 | t::SFIXED32 => {
                tag(out, f.id, 5);
                out.extend_from_slice(&(low as u32).to_le_bytes());
            }
            t::SINT32 => {
                tag(out, f.id, 0);
                put_varint(out, u64::from(crate::wire::enc_sint32(low as u32 as i32)));
            }
            t::SINT64 => {
                tag(out, f.id, 0);
                put_varint(out, crate::wire::enc_sint64(bits as i64));
            }
            _ => {}
        }
        Ok(())
    }

    /// `pbc_wmessage_real`.
    pub fn real(&mut self, env: &Env, node: usize, key: &[u8], v: f64) -> Result<(), WError> {
        let f = self.field(env, node, key, "wmessage_real query key error")?;
        self.grow(18)?;
        let n = &mut self.nodes[node];
        if f.label == Label::Packed {
            n.packed.get(key, f).vals.push(v.to_bits());
            return Ok(());
        }
        if f.label == Label::Optional && v == f64::from_bits(f.def.bits) {
            return Ok(());
        }
        match f.ptype {
            t::FLOAT => {
                tag(&mut n.buf, f.id, 5);
                n.buf.extend_from_slice(&(v as f32).to_bits().to_le_bytes());
            }
            t::DOUBLE => {
                tag(&mut n.buf, f.id, 1);
                n.buf.extend_from_slice(&v.to_bits().to_le_bytes());
            }
            _ => {}
        }
        Ok(())
    }

    /// `pbc_wmessage_string`: a string or bytes field, or an enum field by
    /// value name.
    pub fn string(&mut self, env: &Env, node: usize, key: &[u8], v: &[u8]) -> Result<(), WError> {
        let f = self.field(env, node, key, "wmessage_string query key error")?;
        self.grow(20 + v.len())?;
        let enum_id = |err: &'static str| -> Result<i32, WError> {
            env.enum_id(&f.type_name, trunc_nul(v))
                .ok_or(WError::Pbc(err))
        };
        let n = &mut self.nodes[node];
        if f.label == Label::Packed {
            if f.ptype == t::ENUM {
                let id = enum_id("wmessage_string packed invalid enum")?;
                n.packed.get(key, f).vals.push(u64::from(id as u32));
            }
            return Ok(());
        }
        if f.label == Label::Optional {
            let skip = match f.ptype {
                t::ENUM | t::STRING => v == f.def.text.as_slice(),
                t::BYTES => v.is_empty(),
                _ => false,
            };
            if skip {
                return Ok(());
            }
        }
        match f.ptype {
            t::ENUM => {
                let id = enum_id("wmessage_string invalid enum")?;
                tag(&mut n.buf, f.id, 0);
                put_varint(&mut n.buf, u64::from(id as u32));
            }
            t::STRING | t::BYTES => {
                tag(&mut n.buf, f.id, 2);
                put_varint(&mut n.buf, u64::from(v.len() as u32));
                n.buf.extend_from_slice(v);
            }
            _ => {}
        }
        Ok(())
    }

    /// `pbc_wmessage_message`: opens sub-message `key`, the node to write
    /// it through.
    pub fn message(&mut self, env: &Env, node: usize, key: &[u8]) -> Result<usize, WError> {
        let err = "wmessage_message query key error";
        let f = self.field(env, node, key, err)?;
        if f.ptype != t::MESSAGE || env.msg(&f.type_name).is_none() {
            return Err(WError::Pbc(err));
        }
        let depth = self.nodes[node].depth + 1;
        if depth >= self.max_depth {
            return Err(WError::TooDeep);
        }
        self.grow(16)?;
        let idx = self.nodes.len();
        self.nodes.push(Node {
            msg: f.type_name.clone(),
            depth,
            buf: Vec::new(),
            packed: PackedMap::default(),
            subs: Vec::new(),
        });
        self.nodes[node].subs.push((f.id, idx));
        Ok(idx)
    }

    /// `pbc_wmessage_buffer`: the bytes of node `node` (0: the message).
    pub fn buffer(&self, node: usize) -> Vec<u8> {
        let mut out = Vec::new();
        self.write(node, &mut out);
        out
    }

    fn write(&self, node: usize, out: &mut Vec<u8>) {
        let n = &self.nodes[node];
        out.extend_from_slice(&n.buf);
        for p in n.packed.in_order() {
            tag(out, p.id, 2);
            let mut body = Vec::new();
            for &v in &p.vals {
                match p.ptype {
                    t::DOUBLE | t::FIXED64 | t::SFIXED64 => {
                        body.extend_from_slice(&v.to_le_bytes())
                    }
                    t::FLOAT => {
                        body.extend_from_slice(&(f64::from_bits(v) as f32).to_bits().to_le_bytes())
                    }
                    t::FIXED32 | t::SFIXED32 => body.extend_from_slice(&(v as u32).to_le_bytes()),
                    t::INT64 | t::UINT64 => put_varint(&mut body, v),
                    t::INT32 | t::BOOL | t::UINT32 | t::ENUM => {
                        put_varint(&mut body, v & 0xffff_ffff)
                    }
                    t::SINT32 => put_varint(
                        &mut body,
                        u64::from(crate::wire::enc_sint32(v as u32 as i32)),
                    ),
                    t::SINT64 => put_varint(&mut body, crate::wire::enc_sint64(v as i64)),
                    _ => body.push(0),
                }
            }
            put_varint(out, u64::from(body.len() as u32));
            out.extend_from_slice(&body);
        }
        for &(id, sub) in &n.subs {
            let mut inner = Vec::new();
            self.write(sub, &mut inner);
            tag(out, id, 2);
            put_varint(out, u64::from(inner.len() as u32));
            out.extend_from_slice(&inner);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_order_follows_pbcs_map() {
        // Five names: the map doubles from 4 slots to 8 on the fifth.
        let names: [&[u8]; 5] = [b"a", b"b", b"c", b"d", b"e"];
        let f = PField {
            name: Vec::new(),
            id: 1,
            ptype: t::INT32,
            label: Label::Packed,
            type_name: Vec::new(),
            def: Default::default(),
            raw_default: None,
        };
        let mut m = PackedMap::default();
        for n in names {
            m.get(n, &f);
        }
        let order: Vec<u8> = m.in_order().map(|p| p.key[0]).collect();
        // calc_hash(x) for one byte c: 1 ^ (32 + 0 + c); slot = hash & 7.
        let mut want: Vec<(usize, u8)> = names
            .iter()
            .map(|n| ((calc_hash(n) & 7) as usize, n[0]))
            .collect();
        want.sort();
        assert_eq!(order, want.into_iter().map(|x| x.1).collect::<Vec<_>>());
    }
}
