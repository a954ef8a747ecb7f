//! BSON bytes without Lua: the type codes, skynet's UTF-8 check for keys
//! and strings, and a bounded decoder into a [`Node`] tree. Every length
//! read from the input is checked against the bytes actually there, nesting
//! is limited, and nothing is allocated beyond what the input holds.

/// A double.
pub const REAL: u8 = 1;
/// A UTF-8 string.
pub const STRING: u8 = 2;
/// An embedded document.
pub const DOCUMENT: u8 = 3;
/// An array (a document keyed "0", "1", ...).
pub const ARRAY: u8 = 4;
/// Binary data with a subtype.
pub const BINARY: u8 = 5;
/// An ObjectId (12 bytes).
pub const OBJECTID: u8 = 7;
/// A boolean.
pub const BOOLEAN: u8 = 8;
/// A UTC datetime (milliseconds).
pub const DATE: u8 = 9;
/// Null.
pub const NULL: u8 = 10;
/// A regular expression (pattern, options).
pub const REGEX: u8 = 11;
/// A DBPointer (deprecated).
pub const DBPOINTER: u8 = 12;
/// JavaScript code.
pub const JSCODE: u8 = 13;
/// A symbol (deprecated).
pub const SYMBOL: u8 = 14;
/// JavaScript code with scope.
pub const CODEWS: u8 = 15;
/// A 32-bit integer.
pub const INT32: u8 = 16;
/// A timestamp (increment, seconds).
pub const TIMESTAMP: u8 = 17;
/// A 64-bit integer.
pub const INT64: u8 = 18;
/// MinKey.
pub const MINKEY: u8 = 255;
/// MaxKey.
pub const MAXKEY: u8 = 127;

/// How deep documents may nest, encoding or decoding.
pub const MAX_DEPTH: usize = 128;

/// How many bytes of `s` from its start form one valid UTF-8 character by
/// skynet's rule (no overlong forms, nothing past U+10FFFF; surrogates
/// pass), or None.
fn utf8_char(s: &[u8]) -> Option<usize> {
    const LIMITS: [u32; 4] = [0xFF, 0x7F, 0x7FF, 0xFFFF];
    let mut c = u32::from(*s.first()?);
    if c < 0x80 {
        return Some(1);
    }
    let mut count = 0usize;
    let mut res: u32 = 0;
    while c & 0x40 != 0 {
        count += 1;
        let cc = *s.get(count)?;
        if cc & 0xC0 != 0x80 {
            return None;
        }
        res = (res << 6) | u32::from(cc & 0x3F);
        c <<= 1;
        if count > 3 {
            return None;
        }
    }
    res |= (c & 0x7F) << (count * 5);
    if res > 0x10FFFF || res <= LIMITS[count] {
        return None;
    }
    Some(count + 1)
}

/// Whether `s` passes skynet's UTF-8 check.
pub fn valid_utf8(s: &[u8]) -> bool {
    let mut i = 0;
    while i < s.len() {
        match utf8_char(&s[i..]) {
            Some(n) => i += n,
            None => return false,
        }
    }
    true
}

/// A decoded value. Types Lua has no value for are kept as skynet keeps
/// them: a string of `\0`, the type code and the type's bytes.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// A double.
    Real(f64),
    /// A 32- or 64-bit integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// A string (without its NUL).
    Str(Vec<u8>),
    /// A value Lua holds as a tagged string (`\0`, type, bytes).
    Tagged(Vec<u8>),
    /// A document: its keys and values in order.
    Doc(Vec<(Vec<u8>, Node)>),
    /// An array: (index from 1, value) in order.
    Array(Vec<(i64, Node)>),
}

/// Why bytes are not a BSON document (the text skynet raises).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DecodeError {}

type Result<T> = std::result::Result<T, DecodeError>;

fn err<T>(msg: impl Into<String>) -> Result<T> {
    Err(DecodeError(msg.into()))
}

/// A cursor over bytes whose every read is checked.
struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn need(&self, n: i64) -> Result<()> {
        if n < 0 || (self.b.len() as u64) < n as u64 {
            return err(format!("Invalid bson block ({}:{})", self.b.len(), n));
        }
        Ok(())
    }

    fn bytes(&mut self, n: i64) -> Result<&'a [u8]> {
        self.need(n)?;
        let (head, rest) = self.b.split_at(n as usize);
        self.b = rest;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8> {
        Ok(self.bytes(1)?[0])
    }

    fn i32(&mut self) -> Result<i32> {
        let b = self.bytes(4)?;
        Ok(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn i64(&mut self) -> Result<i64> {
        let b = self.bytes(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(i64::from_le_bytes(a))
    }

    fn cstring(&mut self) -> Result<&'a [u8]> {
        match self.b.iter().position(|&c| c == 0) {
            Some(i) => {
                let s = &self.b[..i];
                self.b = &self.b[i + 1..];
                Ok(s)
            }
            None => err("Invalid bson block : cstring"),
        }
    }
}

fn tagged(t: u8, parts: &[&[u8]]) -> Node {
    let mut v = vec![0, t];
    for p in parts {
        v.extend_from_slice(p);
    }
    Node::Tagged(v)
}

/// C's `strtol(key, NULL, 10)` on an array key, plus one (saturating where
/// C's `int` arithmetic would not matter for real input).
fn array_index(key: &[u8]) -> i64 {
    let mut i = 0;
    while i < key.len() && matches!(key[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let neg = match key.get(i) {
        Some(b'-') => {
            i += 1;
            true
        }
        Some(b'+') => {
            i += 1;
            false
        }
        _ => false,
    };
    let mut n: i64 = 0;
    while let Some(d) = key.get(i).filter(|d| d.is_ascii_digit()) {
        n = n.saturating_mul(10).saturating_add(i64::from(d - b'0'));
        i += 1;
    }
    let n = if neg { -n } else { n };
    // C stores strtol's long into an int, then adds one
    i64::from((n as i32).wrapping_add(1))
}

/// Counts decoded elements, so a caller can charge for the work.
pub trait Meter {
    /// Called once per element decoded.
    fn step(&mut self) -> Result<()>;
}

impl Meter for () {
    fn step(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Decodes the document at the start of `data` (its length prefix says how
/// long it is; it must fit in `data`).
pub fn decode(data: &[u8], meter: &mut impl Meter) -> Result<Node> {
    let mut r = Reader { b: data };
    decode_doc(&mut r, false, 0, meter)
}

fn decode_doc(r: &mut Reader, array: bool, depth: usize, meter: &mut impl Meter) -> Result<Node> {
    if depth > MAX_DEPTH {
        return err("Too depth while decoding bson");
    }
    let size = r.i32()?;
    let body = r.bytes(i64::from(size) - 5)?;
    if r.byte()? != 0 {
        return err("Invalid document end");
    }
    let mut t = Reader { b: body };
    let mut doc = Vec::new();
    let mut arr = Vec::new();
    while !t.b.is_empty() {
        meter.step()?;
        let bt = t.byte()?;
        let key = t.cstring()?;
        let v = decode_value(&mut t, bt, depth, meter)?;
        if array {
            arr.push((array_index(key), v));
        } else {
            doc.push((key.to_vec(), v));
        }
    }
    Ok(if array {
        Node::Array(arr)
    } else {
        Node::Doc(doc)
    })
}

fn decode_value(t: &mut Reader, bt: u8, depth: usize, meter: &mut impl Meter) -> Result<Node> {
    Ok(match bt {
        REAL => Node::Real(f64::from_bits(t.i64()? as u64)),
        BOOLEAN => Node::Bool(t.byte()? != 0),
        STRING => {
            let sz = t.i32()?;
            if sz <= 0 {
                return err(format!("Invalid bson string , length = {sz}"));
            }
            let s = t.bytes(i64::from(sz))?;
            Node::Str(s[..s.len() - 1].to_vec())
        }
        DOCUMENT => decode_doc(t, false, depth + 1, meter)?,
        ARRAY => decode_doc(t, true, depth + 1, meter)?,
        BINARY => {
            let sz = t.i32()?;
            let sub = t.byte()?;
            let data = t.bytes(i64::from(sz))?;
            tagged(BINARY, &[&[sub], data])
        }
        OBJECTID => tagged(OBJECTID, &[t.bytes(12)?]),
        DATE => {
            let ms = t.i64()?;
            // C: int64 / 1000, stored in a uint32
            let secs = (ms / 1000) as u32;
            tagged(DATE, &[&secs.to_le_bytes()])
        }
        MINKEY | MAXKEY | NULL => tagged(bt, &[]),
        REGEX => {
            let p = t.cstring()?;
            let o = t.cstring()?;
            tagged(REGEX, &[p, &[0], o, &[0]])
        }
        INT32 => Node::Int(i64::from(t.i32()?)),
        TIMESTAMP => {
            let inc = t.bytes(4)?;
            let ts = t.bytes(4)?;
            tagged(TIMESTAMP, &[inc, ts])
        }
        INT64 => Node::Int(t.i64()?),
        DBPOINTER => {
            let start = t.b;
            let sz = t.i32()?;
            t.bytes(i64::from(sz) + 12)?;
            tagged(DBPOINTER, &[&start[..(i64::from(sz) + 16) as usize]])
        }
        JSCODE | SYMBOL => {
            let start = t.b;
            let sz = t.i32()?;
            t.bytes(i64::from(sz))?;
            tagged(bt, &[&start[..(i64::from(sz) + 4) as usize]])
        }
        CODEWS => {
            let start = t.b;
            let sz = t.i32()?;
            t.bytes(i64::from(sz) - 4)?;
            tagged(bt, &[&start[..i64::from(sz) as usize]])
        }
        _ => return err(format!("Invalid bson type : {bt}")),
    })
}

/// The length a BSON document's first four bytes announce, if there are
/// four bytes.
pub fn doc_len(data: &[u8]) -> Option<i32> {
    let b = data.get(..4)?;
    Some(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_rules_as_skynet() {
        assert!(valid_utf8("héllo €𝄞".as_bytes()));
        assert!(!valid_utf8(&[0xC0, 0x80])); // overlong NUL
        assert!(!valid_utf8(&[0x80])); // a lone continuation byte
        assert!(!valid_utf8(&[0xE2, 0x82])); // cut short
        assert!(!valid_utf8(&[0xF4, 0x90, 0x80, 0x80])); // past U+10FFFF
        assert!(valid_utf8(&[0xED, 0xA0, 0x80])); // a surrogate passes, as in C
        assert!(!valid_utf8(&[0xF8, 0x88, 0x80, 0x80, 0x80])); // five bytes
        assert!(valid_utf8(b"a\0b"));
    }

    #[test]
    fn array_keys_as_strtol() {
        assert_eq!(array_index(b"0"), 1);
        assert_eq!(array_index(b"41"), 42);
        assert_eq!(array_index(b"x"), 1);
        assert_eq!(array_index(b" -3z"), -2);
    }

    #[test]
    fn hostile_lengths_are_errors() {
        // declared longer than the bytes
        assert!(decode(&[0xff, 0xff, 0, 0, 0], &mut ()).is_err());
        // negative lengths
        assert!(decode(&[0, 0, 0, 0x80, 0], &mut ()).is_err());
        // a string length past the end
        let doc = [13, 0, 0, 0, STRING, b'a', 0, 0xff, 0xff, 0xff, 0x7f, 0, 0];
        assert_eq!(
            decode(&doc, &mut ()).unwrap_err().0,
            "Invalid bson block (1:2147483647)"
        );
        // no document end
        assert_eq!(
            decode(&[5, 0, 0, 0, 1], &mut ()).unwrap_err().0,
            "Invalid document end"
        );
        // too deep
        let mut deep = Vec::new();
        for _ in 0..200 {
            deep.extend_from_slice(&[DOCUMENT, b'a', 0]);
        }
        let mut v = Vec::new();
        fn wrap(inner: &[u8]) -> Vec<u8> {
            let mut d = ((inner.len() + 5) as i32).to_le_bytes().to_vec();
            d.extend_from_slice(inner);
            d.push(0);
            d
        }
        let mut cur = wrap(&[]);
        for _ in 0..200 {
            let mut e = vec![DOCUMENT, b'a', 0];
            e.extend_from_slice(&cur);
            cur = wrap(&e);
        }
        v.extend_from_slice(&cur);
        assert_eq!(
            decode(&v, &mut ()).unwrap_err().0,
            "Too depth while decoding bson"
        );
    }
}

#[cfg(test)]
mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any bytes: a value or an error, never a panic.
        #[test]
        fn any_bytes(data in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = decode(&data, &mut ());
        }

        /// Bytes with a right length prefix and end byte, random inside:
        /// the element parser meets every type code and length.
        #[test]
        fn framed_bytes(body in proptest::collection::vec(any::<u8>(), 0..256)) {
            let mut d = ((body.len() + 5) as i32).to_le_bytes().to_vec();
            d.extend_from_slice(&body);
            d.push(0);
            if let Ok(Node::Doc(entries)) = decode(&d, &mut ()) {
                // nothing decoded holds more than the input
                prop_assert!(entries.len() <= body.len());
            }
        }

        /// skynet's UTF-8 rule agrees with Rust's on text without
        /// surrogates.
        #[test]
        fn utf8_agrees(s in ".*") {
            prop_assert!(valid_utf8(s.as_bytes()));
        }
    }
}
