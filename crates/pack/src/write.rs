//! Primitive encoders, one value (or table delimiter) per call, appended to
//! a `Vec<u8>`.
//!
//! A host that walks its own values writes a table as
//! [`table_header`]`(n)`, the `n` array items, then each other key and
//! value, then [`table_end`]. Nothing here checks nesting depth: that is
//! the walker's job (see [`crate::MAX_PACK_DEPTH`]).

use crate::tag::*;
use crate::PackError;

/// Appends `nil` (`00`).
pub fn nil(buf: &mut Vec<u8>) {
    buf.push(make(TYPE_NIL, 0));
}

/// Appends a boolean (`01` false, `09` true).
pub fn boolean(buf: &mut Vec<u8>, b: bool) {
    buf.push(make(TYPE_BOOLEAN, u8::from(b)));
}

/// Appends an integer in the smallest form skynet uses: `02` for 0, a byte
/// for 1..=255, a u16 for 256..=65535, an i32 for the rest of the int32
/// range (negative numbers included), an i64 otherwise.
pub fn integer(buf: &mut Vec<u8>, i: i64) {
    if i == 0 {
        buf.push(make(TYPE_NUMBER, NUMBER_ZERO));
    } else if let Ok(b) = u8::try_from(i) {
        buf.push(make(TYPE_NUMBER, NUMBER_BYTE));
        buf.push(b);
    } else if let Ok(w) = u16::try_from(i) {
        buf.push(make(TYPE_NUMBER, NUMBER_WORD));
        buf.extend_from_slice(&w.to_le_bytes());
    } else if let Ok(d) = i32::try_from(i) {
        buf.push(make(TYPE_NUMBER, NUMBER_DWORD));
        buf.extend_from_slice(&d.to_le_bytes());
    } else {
        buf.push(make(TYPE_NUMBER, NUMBER_QWORD));
        buf.extend_from_slice(&i.to_le_bytes());
    }
}

/// Appends a float: always `42` and the 8-byte IEEE-754 double, even for an
/// integral value such as `1.0`.
pub fn real(buf: &mut Vec<u8>, f: f64) {
    buf.push(make(TYPE_NUMBER, NUMBER_REAL));
    buf.extend_from_slice(&f.to_le_bytes());
}

/// Longest string the format can carry (its length field is a u32).
///
/// skynet itself handles lengths as a C `int`, so a skynet peer cannot read
/// strings of 2 GiB or more.
pub const MAX_STRING_LEN: usize = u32::MAX as usize;

/// Appends a string: the short form for up to 31 bytes, a u16 length up to
/// 65535 bytes, a u32 length beyond.
///
/// Fails, writing nothing, for strings longer than [`MAX_STRING_LEN`].
pub fn try_string(buf: &mut Vec<u8>, s: &[u8]) -> Result<(), PackError> {
    let len = s.len();
    if len <= MAX_SHORT_STRING {
        // len <= 31, so the cast cannot truncate.
        buf.push(make(TYPE_SHORT_STRING, len as u8));
    } else if let Ok(n) = u16::try_from(len) {
        buf.push(make(TYPE_LONG_STRING, LONG_STRING_U16));
        buf.extend_from_slice(&n.to_le_bytes());
    } else if let Ok(n) = u32::try_from(len) {
        buf.push(make(TYPE_LONG_STRING, LONG_STRING_U32));
        buf.extend_from_slice(&n.to_le_bytes());
    } else {
        return Err(PackError::StringTooLong { len });
    }
    buf.extend_from_slice(s);
    Ok(())
}

/// Appends a string, like [`try_string`], for callers that cannot fail.
///
/// A string longer than [`MAX_STRING_LEN`] cannot be represented. Rather
/// than write a length that lies, this writes a single invalid tag byte
/// (type 7) in its place, so whoever decodes the message gets a clean
/// "Invalid serialize stream" error instead of misreading it. Use
/// [`try_string`] to get the error on the sending side instead.
pub fn string(buf: &mut Vec<u8>, s: &[u8]) {
    if try_string(buf, s).is_err() {
        buf.push(make(7, 0));
    }
}

/// Appends a table header announcing `array_len` array items: in the tag
/// itself for up to 30, otherwise `FE` and the length as an integer NUMBER.
///
/// The array items, then the other key/value pairs, then [`table_end`]
/// must follow.
pub fn table_header(buf: &mut Vec<u8>, array_len: usize) {
    if array_len <= MAX_INLINE_ARRAY {
        // array_len <= 30, so the cast cannot truncate.
        buf.push(make(TYPE_TABLE, array_len as u8));
    } else {
        buf.push(make(TYPE_TABLE, ARRAY_LEN_FOLLOWS));
        // No array can hold more than isize::MAX items, which fits an i64 on
        // every target Rust supports; saturate rather than panic regardless.
        integer(buf, i64::try_from(array_len).unwrap_or(i64::MAX));
    }
}

/// Appends the end of a table (`00`, a nil key).
pub fn table_end(buf: &mut Vec<u8>) {
    buf.push(make(TYPE_NIL, 0));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn int(i: i64) -> String {
        let mut b = Vec::new();
        integer(&mut b, i);
        hex(&b)
    }

    #[test]
    fn nil_and_booleans() {
        let mut b = Vec::new();
        nil(&mut b);
        boolean(&mut b, false);
        boolean(&mut b, true);
        assert_eq!(hex(&b), "000109");
    }

    #[test]
    fn integer_forms() {
        assert_eq!(int(0), "02");
        assert_eq!(int(1), "0a01");
        assert_eq!(int(255), "0aff");
        assert_eq!(int(256), "120001");
        assert_eq!(int(65535), "12ffff");
        // measured: 65536 -> 22 00000100
        assert_eq!(int(65536), "2200000100");
        // measured: -1 -> 22 FFFFFFFF
        assert_eq!(int(-1), "22ffffffff");
        assert_eq!(int(i64::from(i32::MIN)), "2200000080");
        assert_eq!(int(i64::from(i32::MAX)), "22ffffff7f");
        // measured: 2^31 -> 32 0000008000000000
        assert_eq!(int(1 << 31), "320000008000000000");
        assert_eq!(int(i64::from(i32::MIN) - 1), "32ffffff7fffffffff");
        assert_eq!(int(i64::MIN), "320000000000000080");
        assert_eq!(int(i64::MAX), "32ffffffffffffff7f");
    }

    #[test]
    fn reals_are_always_eight_bytes() {
        let mut b = Vec::new();
        real(&mut b, 1.0);
        assert_eq!(hex(&b), "42000000000000f03f");
        b.clear();
        real(&mut b, 0.0);
        assert_eq!(hex(&b), "420000000000000000");
    }

    #[test]
    fn string_forms() {
        let mut b = Vec::new();
        string(&mut b, b"");
        assert_eq!(hex(&b), "04");
        b.clear();
        string(&mut b, b"abc");
        assert_eq!(hex(&b), "1c616263");
        b.clear();
        string(&mut b, &[b'x'; 31]);
        assert_eq!(b[0], 0xfc);
        assert_eq!(b.len(), 32);
        b.clear();
        string(&mut b, &[b'x'; 32]);
        assert_eq!(hex(&b[..3]), "152000");
        assert_eq!(b.len(), 35);
        b.clear();
        string(&mut b, &[0; 65535]);
        assert_eq!(hex(&b[..3]), "15ffff");
        b.clear();
        string(&mut b, &[0; 65536]);
        assert_eq!(hex(&b[..5]), "2500000100");
        assert_eq!(b.len(), 65536 + 5);
    }

    #[test]
    fn table_headers() {
        let mut b = Vec::new();
        table_header(&mut b, 0);
        table_end(&mut b);
        assert_eq!(hex(&b), "0600");
        b.clear();
        table_header(&mut b, 3);
        assert_eq!(hex(&b), "1e");
        b.clear();
        table_header(&mut b, 30);
        assert_eq!(hex(&b), "f6");
        b.clear();
        table_header(&mut b, 31);
        assert_eq!(hex(&b), "fe0a1f");
        b.clear();
        table_header(&mut b, 70000);
        assert_eq!(hex(&b), "fe2270110100");
    }
}
