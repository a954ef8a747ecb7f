//! The protobuf wire format: a cursor over untrusted bytes, the writers,
//! and the names lua-protobuf gives to field and wire types.
//!
//! Every reader returns `None` when the bytes run out or a varint does not
//! end within ten bytes; nothing here allocates from a declared size.

/// Wire type 0: varint.
pub const W_VARINT: u32 = 0;
/// Wire type 1: 8 bytes.
pub const W_64BIT: u32 = 1;
/// Wire type 2: length-delimited.
pub const W_BYTES: u32 = 2;
/// Wire type 3: group start.
pub const W_GSTART: u32 = 3;
/// Wire type 4: group end.
pub const W_GEND: u32 = 4;
/// Wire type 5: 4 bytes.
pub const W_32BIT: u32 = 5;
/// What lua-protobuf answers for a type with no wire type.
pub const W_COUNT: u32 = 6;

/// The deepest nesting of unknown groups a skip follows.
pub const MAX_GROUP_DEPTH: usize = 100;

/// Field types, numbered as `FieldDescriptorProto.Type` numbers them,
/// with lua-protobuf's name and pack/unpack format letter.
pub const TYPES: [(&str, u8); 18] = [
    ("double", b'F'),
    ("float", b'f'),
    ("int64", b'I'),
    ("uint64", b'U'),
    ("int32", b'i'),
    ("fixed64", b'X'),
    ("fixed32", b'x'),
    ("bool", b'b'),
    ("string", b't'),
    ("group", b'g'),
    ("message", b'S'),
    ("bytes", b's'),
    ("uint32", b'u'),
    ("enum", b'v'),
    ("sfixed32", b'y'),
    ("sfixed64", b'Y'),
    ("sint32", b'j'),
    ("sint64", b'J'),
];

/// Field type ids (1-based, as in descriptor.proto).
#[allow(missing_docs)]
pub mod t {
    pub const DOUBLE: u8 = 1;
    pub const FLOAT: u8 = 2;
    pub const INT64: u8 = 3;
    pub const UINT64: u8 = 4;
    pub const INT32: u8 = 5;
    pub const FIXED64: u8 = 6;
    pub const FIXED32: u8 = 7;
    pub const BOOL: u8 = 8;
    pub const STRING: u8 = 9;
    pub const GROUP: u8 = 10;
    pub const MESSAGE: u8 = 11;
    pub const BYTES: u8 = 12;
    pub const UINT32: u8 = 13;
    pub const ENUM: u8 = 14;
    pub const SFIXED32: u8 = 15;
    pub const SFIXED64: u8 = 16;
    pub const SINT32: u8 = 17;
    pub const SINT64: u8 = 18;
}

/// Wire type names and format letters, by wire type number.
pub const WIRETYPES: [(&str, u8); 6] = [
    ("varint", b'v'),
    ("64bit", b'q'),
    ("bytes", b's'),
    ("gstart", b'!'),
    ("gend", b'!'),
    ("32bit", b'd'),
];

/// The name of field type `id`, or `def`.
pub fn type_name(id: u8, def: &'static str) -> &'static str {
    match id {
        1..=18 => TYPES[usize::from(id) - 1].0,
        _ => def,
    }
}

/// The name of wire type `w`, or `def`.
pub fn wtype_name(w: u32, def: &'static str) -> &'static str {
    WIRETYPES.get(w as usize).map_or(def, |x| x.0)
}

/// The field type whose format letter is `c` (the first in table order).
pub fn type_by_fmt(c: u8) -> Option<u8> {
    TYPES.iter().position(|x| x.1 == c).map(|i| i as u8 + 1)
}

/// The field type named `name`.
pub fn type_by_name(name: &[u8]) -> Option<u8> {
    TYPES
        .iter()
        .position(|x| x.0.as_bytes() == name)
        .map(|i| i as u8 + 1)
}

/// The wire type named `name`.
pub fn wtype_by_name(name: &[u8]) -> Option<u32> {
    WIRETYPES
        .iter()
        .position(|x| x.0.as_bytes() == name)
        .map(|i| i as u32)
}

/// The wire type that carries field type `id`.
pub fn wtype_of(id: u8) -> u32 {
    match id {
        t::DOUBLE | t::FIXED64 | t::SFIXED64 => W_64BIT,
        t::FLOAT | t::FIXED32 | t::SFIXED32 => W_32BIT,
        t::INT64 | t::UINT64 | t::INT32 | t::BOOL | t::UINT32 | t::ENUM | t::SINT32 | t::SINT64 => {
            W_VARINT
        }
        t::STRING | t::MESSAGE | t::BYTES => W_BYTES,
        _ => W_COUNT,
    }
}

/// Zigzag-encodes a 32-bit value.
pub fn enc_sint32(v: i32) -> u32 {
    ((v as u32) << 1) ^ ((v >> 31) as u32)
}
/// Zigzag-decodes a 32-bit value.
pub fn dec_sint32(v: u32) -> i32 {
    ((v >> 1) as i32) ^ -((v & 1) as i32)
}
/// Zigzag-encodes a 64-bit value.
pub fn enc_sint64(v: i64) -> u64 {
    ((v as u64) << 1) ^ ((v >> 63) as u64)
}
/// Zigzag-decodes a 64-bit value.
pub fn dec_sint64(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}
/// Sign-extends the low 32 bits to 64.
pub fn expand_sig(v: u32) -> u64 {
    v as i32 as i64 as u64
}

/// A view of bytes being read: `p` is the cursor, `start` the origin
/// offsets are counted from, `end` one past the last readable byte (all
/// indices into `b`).
#[derive(Clone, Copy, Debug)]
pub struct Rd<'a> {
    /// The underlying bytes.
    pub b: &'a [u8],
    /// Cursor.
    pub p: usize,
    /// Origin of reported offsets.
    pub start: usize,
    /// End of the view.
    pub end: usize,
}

impl<'a> Rd<'a> {
    /// A view of all of `b`.
    pub fn new(b: &'a [u8]) -> Rd<'a> {
        Rd {
            b,
            p: 0,
            start: 0,
            end: b.len(),
        }
    }
    /// The cursor's offset from the origin (0-based).
    pub fn pos(&self) -> usize {
        self.p - self.start
    }
    /// Bytes left in the view.
    pub fn len(&self) -> usize {
        self.end.saturating_sub(self.p)
    }
    /// True when nothing is left.
    pub fn is_empty(&self) -> bool {
        self.p >= self.end
    }
    /// The bytes left.
    pub fn rest(&self) -> &'a [u8] {
        &self.b[self.p.min(self.end)..self.end]
    }
    /// Reads a varint of up to ten bytes, keeping the low 64 bits.
    pub fn varint64(&mut self) -> Option<u64> {
        let mut n = 0u64;
        let mut i = 0;
        let mut q = self.p;
        while q < self.end && i < 10 {
            let c = self.b[q];
            q += 1;
            n |= u64::from(c & 0x7f).checked_shl(7 * i).unwrap_or(0);
            i += 1;
            if c & 0x80 == 0 {
                self.p = q;
                return Some(n);
            }
        }
        None
    }
    /// Reads a varint, keeping the low 32 bits.
    pub fn varint32(&mut self) -> Option<u32> {
        self.varint64().map(|v| v as u32)
    }
    /// Reads 4 little-endian bytes.
    pub fn fixed32(&mut self) -> Option<u32> {
        let s = self.take(4)?;
        Some(u32::from_le_bytes([
            s.b[s.p],
            s.b[s.p + 1],
            s.b[s.p + 2],
            s.b[s.p + 3],
        ]))
    }
    /// Reads 8 little-endian bytes.
    pub fn fixed64(&mut self) -> Option<u64> {
        let s = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(&s.b[s.p..s.p + 8]);
        Some(u64::from_le_bytes(a))
    }
    /// Takes the next `len` bytes as a sub-view (same origin).
    pub fn take(&mut self, len: usize) -> Option<Rd<'a>> {
        if self.len() < len {
            return None;
        }
        let v = Rd {
            b: self.b,
            p: self.p,
            start: self.start,
            end: self.p + len,
        };
        self.p += len;
        Some(v)
    }
    /// Reads a length-delimited value; the cursor stays put on failure.
    pub fn bytes(&mut self) -> Option<Rd<'a>> {
        let save = self.p;
        let r = self
            .varint64()
            .and_then(|n| usize::try_from(n).ok())
            .and_then(|n| self.take(n));
        if r.is_none() {
            self.p = save;
        }
        r
    }
    /// Skips the value that follows `tag`; the cursor stays put and
    /// `false` comes back when it cannot be skipped.
    pub fn skip(&mut self, tag: u32) -> bool {
        let save = self.p;
        let ok = match tag & 7 {
            W_VARINT => self.varint64().is_some(),
            W_64BIT => self.take(8).is_some(),
            W_BYTES => self.bytes().is_some(),
            W_32BIT => self.take(4).is_some(),
            W_GSTART => self.skip_group(tag >> 3),
            _ => false,
        };
        if !ok {
            self.p = save;
        }
        ok
    }
    /// Skips a group's body up to its matching end tag, nested groups
    /// included (at most [`MAX_GROUP_DEPTH`] deep).
    fn skip_group(&mut self, number: u32) -> bool {
        let mut open: Vec<u32> = vec![number];
        while let Some(tag) = self.varint32() {
            match tag & 7 {
                W_GEND => {
                    if open.pop() != Some(tag >> 3) {
                        return false;
                    }
                    if open.is_empty() {
                        return true;
                    }
                }
                W_GSTART => {
                    if open.len() >= MAX_GROUP_DEPTH {
                        return false;
                    }
                    open.push(tag >> 3);
                }
                _ => {
                    if !self.skip(tag) {
                        return false;
                    }
                }
            }
        }
        false
    }
}

/// Appends a varint.
pub fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends 4 little-endian bytes.
pub fn put_fixed32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends 8 little-endian bytes.
pub fn put_fixed64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// Appends a length-delimited value (lua-protobuf writes the length as a
/// 32-bit varint).
pub fn put_bytes(out: &mut Vec<u8>, s: &[u8]) {
    put_varint(out, u64::from(s.len() as u32));
    out.extend_from_slice(s);
}

/// Opens a length-delimited value whose length is not known yet: one byte
/// is reserved; [`close_len`] fills it in.
pub fn open_len(out: &mut Vec<u8>) -> usize {
    out.push(0);
    out.len()
}

/// Writes the length of everything after `mark` in front of it.
pub fn close_len(out: &mut Vec<u8>, mark: usize) {
    let n = out.len() - mark;
    let mut v = Vec::with_capacity(10);
    put_varint(&mut v, n as u64);
    out.splice(mark - 1..mark, v);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_reject_overlong() {
        for v in [0u64, 1, 127, 128, 300, u32::MAX as u64, u64::MAX] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(Rd::new(&b).varint64(), Some(v));
        }
        assert_eq!(Rd::new(&[0x80; 11]).varint64(), None);
        assert_eq!(Rd::new(&[0x80, 0x80]).varint64(), None);
    }

    #[test]
    fn zigzag() {
        assert_eq!(enc_sint32(-1), 1);
        assert_eq!(enc_sint32(1), 2);
        assert_eq!(dec_sint32(3), -2);
        assert_eq!(enc_sint64(i64::MIN), u64::MAX);
        assert_eq!(dec_sint64(u64::MAX), i64::MIN);
    }

    #[test]
    fn groups_skip_nested_and_bounded() {
        // field 1 group { field 2 varint 5 } end
        let b = [0x0b, 0x10, 0x05, 0x0c, 0x08, 0x01];
        let mut r = Rd::new(&b);
        let tag = r.varint32().unwrap();
        assert!(r.skip(tag));
        assert_eq!(r.p, 4);
        let mut deep = vec![0x0b; 200];
        deep.extend(vec![0x0c; 200]);
        let mut r = Rd::new(&deep);
        let tag = r.varint32().unwrap();
        assert!(!r.skip(tag));
        assert_eq!(r.p, 1);
    }

    #[test]
    fn lengths_close_in_front() {
        let mut b = vec![9];
        let m = open_len(&mut b);
        b.extend(vec![1u8; 200]);
        close_len(&mut b, m);
        assert_eq!(&b[..3], &[9, 0xc8, 0x01]);
        assert_eq!(b.len(), 203);
    }
}
