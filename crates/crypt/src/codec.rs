//! Text encodings as skynet's crypt writes and reads them: lowercase hex,
//! standard base64 with `=` padding, and a repeating-key xor. The decoders
//! keep skynet's leniencies (base64 skips characters outside its alphabet
//! and accepts missing `=`; hex takes `g` as the digit 16), because bytes
//! that skynet accepts must decode to the same bytes here.

const HEX: &[u8; 16] = b"0123456789abcdef";
const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// `crypt.hexencode`.
pub fn hex_encode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    for &b in text {
        out.push(HEX[usize::from(b >> 4)]);
        out.push(HEX[usize::from(b & 15)]);
    }
    out
}

/// A hex digit as skynet reads it: `0`-`9`, then anything else counted
/// from `a`, so `g` is 16 and still accepted.
fn hex_digit(c: u8) -> Option<u32> {
    let v = if c.is_ascii_digit() {
        u32::from(c - b'0')
    } else {
        u32::from(c.wrapping_sub(b'a').wrapping_add(10))
    };
    (v <= 16).then_some(v)
}

/// `crypt.hexdecode`.
pub fn hex_decode(text: &[u8]) -> Result<Vec<u8>, String> {
    if !text.len().is_multiple_of(2) {
        return Err(format!("Invalid hex text size {}", text.len()));
    }
    text.chunks_exact(2)
        .map(|p| match (hex_digit(p[0]), hex_digit(p[1])) {
            (Some(hi), Some(lo)) => Ok((hi << 4 | lo) as u8),
            _ => Err("Invalid hex text".to_string()),
        })
        .collect()
}

/// `crypt.base64encode`.
pub fn base64_encode(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len().div_ceil(3) * 4);
    for chunk in text.chunks(3) {
        let mut v = [0u8; 3];
        v[..chunk.len()].copy_from_slice(chunk);
        let n = u32::from(v[0]) << 16 | u32::from(v[1]) << 8 | u32::from(v[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(B64[(n >> shift & 63) as usize]);
            } else {
                out.push(b'=');
            }
        }
    }
    out
}

/// What one input character is to the decoder.
#[derive(Clone, Copy, PartialEq)]
enum Sym {
    Digit(u32),
    Pad,
    Skip,
}

fn b64_sym(c: u8) -> Sym {
    match c {
        b'A'..=b'Z' => Sym::Digit(u32::from(c - b'A')),
        b'a'..=b'z' => Sym::Digit(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Sym::Digit(u32::from(c - b'0') + 52),
        b'+' => Sym::Digit(62),
        b'/' => Sym::Digit(63),
        b'=' => Sym::Pad,
        _ => Sym::Skip,
    }
}

/// `crypt.base64decode`: groups of four symbols (characters outside the
/// alphabet skipped, the end of the text read as `=`); a group ends in
/// zero, one or two `=` and nowhere else has one.
pub fn base64_decode(text: &[u8]) -> Result<Vec<u8>, String> {
    let bad = || "Invalid base64 text".to_string();
    let mut out = Vec::with_capacity(text.len() / 4 * 3 + 3);
    let mut i = 0;
    while i < text.len() {
        let mut group = [Sym::Pad; 4];
        let mut filled = 0;
        while filled < 4 {
            // Past the end, the rest of the group reads as `=`.
            let sym = text.get(i).map_or(Sym::Pad, |&c| b64_sym(c));
            i += 1;
            if sym != Sym::Skip {
                group[filled] = sym;
                filled += 1;
            }
        }
        let d = |i: usize| match group[i] {
            Sym::Digit(v) => Some(v),
            _ => None,
        };
        let pads = group.iter().filter(|s| **s == Sym::Pad).count();
        match (pads, d(0), d(1), d(2), d(3)) {
            (0, Some(a), Some(b), Some(c), Some(e)) => {
                let v = a << 18 | b << 12 | c << 6 | e;
                out.extend_from_slice(&[(v >> 16) as u8, (v >> 8) as u8, v as u8]);
            }
            (1, Some(a), Some(b), Some(c), None) if c & 3 == 0 => {
                let v = a << 10 | b << 4 | c >> 2;
                out.extend_from_slice(&[(v >> 8) as u8, v as u8]);
            }
            (2, Some(a), Some(b), None, None) if b & 15 == 0 => {
                out.push((a << 2 | b >> 4) as u8);
            }
            _ => return Err(bad()),
        }
    }
    Ok(out)
}

/// `crypt.xor_str(a, b)`: `a` xored with `b` repeated.
pub fn xor_str(a: &[u8], b: &[u8]) -> Result<Vec<u8>, String> {
    if b.is_empty() {
        return Err("Can't xor empty string".to_string());
    }
    Ok(a.iter().zip(b.iter().cycle()).map(|(x, y)| x ^ y).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn s(v: Vec<u8>) -> String {
        String::from_utf8(v).unwrap()
    }

    /// Computed with skynet's own lua-crypt.c.
    #[test]
    fn known_answers_from_skynet() {
        assert_eq!(s(base64_encode(b"")), "");
        assert_eq!(s(base64_encode(b"f")), "Zg==");
        assert_eq!(s(base64_encode(b"fo")), "Zm8=");
        assert_eq!(s(base64_encode(b"foo")), "Zm9v");
        assert_eq!(s(base64_encode(b"\xff\xfe\xfd\xfc")), "//79/A==");
        for (text, want) in [
            (&b"Zm9v"[..], &b"foo"[..]),
            (b"Zg", b"f"),
            (b"Zm8", b"fo"),
            (b"Z m 9 v", b"foo"),
            (b"gA==", b"\x80"),
            (b"", b""),
            (b"Zm9vYmFy", b"foobar"),
            (b"Zm8=Zm9v", b"fofoo"),
            (b"AA\n", b"\0"),
        ] {
            assert_eq!(base64_decode(text).unwrap(), want, "{text:?}");
        }
        for text in [
            &b"=AAA"[..],
            b"=AA\0=",
            b"=A==",
            b"==A=",
            b"A=A=",
            b"AAAA\n",
            b"Zh==",
            b"Zm9=",
            b"A",
            b"A===",
            b"Z===",
            b"AA=A",
            b"=AA=",
        ] {
            assert_eq!(
                base64_decode(text).unwrap_err(),
                "Invalid base64 text",
                "{text:?}"
            );
        }
        assert_eq!(hex_decode(b"0aff").unwrap(), b"\x0a\xff");
        assert_eq!(hex_decode(b"g0").unwrap(), b"\x00");
        assert_eq!(hex_decode(b"0g").unwrap(), b"\x10");
        assert_eq!(hex_decode(b"gg").unwrap(), b"\x10");
        assert_eq!(hex_decode(b"abc").unwrap_err(), "Invalid hex text size 3");
        assert_eq!(hex_decode(b"0A").unwrap_err(), "Invalid hex text");
        assert_eq!(hex_decode(b"zz").unwrap_err(), "Invalid hex text");
        assert_eq!(xor_str(b"abcdef", b"\x01\x02").unwrap(), b"``bfdd");
        assert_eq!(xor_str(b"", b"x").unwrap(), b"");
        assert_eq!(xor_str(b"abc", b"").unwrap_err(), "Can't xor empty string");
    }

    proptest! {
        #[test]
        fn round_trips(text in proptest::collection::vec(any::<u8>(), 0..200)) {
            prop_assert_eq!(base64_decode(&base64_encode(&text)).unwrap(), text.clone());
            prop_assert_eq!(hex_decode(&hex_encode(&text)).unwrap(), text);
        }

        #[test]
        fn any_text_decodes_or_fails_cleanly(text in proptest::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(v) = base64_decode(&text) {
                prop_assert!(v.len() <= text.len() / 4 * 3 + 3);
            }
            let _ = hex_decode(&text);
        }
    }
}
