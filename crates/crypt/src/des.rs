//! `desencode`/`desdecode`: single DES in ECB mode over 8-byte blocks, the
//! last block padded by ISO/IEC 7816-4 (skynet's default) or PKCS#7.
//! The cipher is RustCrypto's `des`; the padding rules and their errors are
//! skynet's.

use des::cipher::generic_array::GenericArray;
use des::cipher::{BlockDecrypt, BlockEncrypt, KeyInit};
use des::Des;

/// `crypt.padding.iso7816_4`: 0x80 then zeros.
pub const ISO7816_4: i64 = 0;
/// `crypt.padding.pkcs7`: n bytes of value n.
pub const PKCS7: i64 = 1;

fn cipher(key: &[u8]) -> Result<Des, String> {
    if key.len() != 8 {
        return Err(format!("Invalid key size {}, need 8 bytes", key.len()));
    }
    Des::new_from_slice(key).map_err(|_| format!("Invalid key size {}, need 8 bytes", key.len()))
}

/// skynet reads the mode as a C `int`.
fn check_mode(mode: i64) -> Result<i32, String> {
    let m = mode as i32;
    if m != ISO7816_4 as i32 && m != PKCS7 as i32 {
        return Err(format!("Invalid padding mode {m}"));
    }
    Ok(m)
}

/// Encrypts `text` with the 8-byte `key`; the result is `text`'s length
/// rounded up to the next multiple of 8 (a whole block of padding when it
/// already is one).
pub fn encode(key: &[u8], text: &[u8], mode: i64) -> Result<Vec<u8>, String> {
    let des = cipher(key)?;
    let mut out = Vec::with_capacity((text.len() + 8) & !7);
    let mut blocks = text.chunks_exact(8);
    for b in &mut blocks {
        let mut block = GenericArray::clone_from_slice(b);
        des.encrypt_block(&mut block);
        out.extend_from_slice(&block);
    }
    let rest = blocks.remainder();
    let mode = check_mode(mode)?;
    let mut last = [0u8; 8];
    last[..rest.len()].copy_from_slice(rest);
    if mode == ISO7816_4 as i32 {
        last[rest.len()] = 0x80;
    } else {
        let n = (8 - rest.len()) as u8;
        last[rest.len()..].fill(n);
    }
    let mut block = GenericArray::from(last);
    des.encrypt_block(&mut block);
    out.extend_from_slice(&block);
    Ok(out)
}

/// How many bytes of padding end `plain` (0: not valid padding).
fn padding(plain: &[u8], mode: i32) -> usize {
    let tail = &plain[plain.len() - 8..];
    if mode == ISO7816_4 as i32 {
        let mut n = 1;
        for &b in tail.iter().rev() {
            match b {
                0 => n += 1,
                0x80 => return n,
                _ => return 0,
            }
        }
        0
    } else {
        let n = usize::from(tail[7]);
        if n == 0 || n > 8 || tail[8 - n..].iter().any(|&b| usize::from(b) != n) {
            return 0;
        }
        n
    }
}

/// Decrypts what [`encode`] made with the same key and mode.
pub fn decode(key: &[u8], text: &[u8], mode: i64) -> Result<Vec<u8>, String> {
    let des = cipher(key)?;
    if text.is_empty() || !text.len().is_multiple_of(8) {
        return Err(format!("Invalid des crypt text length {}", text.len()));
    }
    let mut out = Vec::with_capacity(text.len());
    for b in text.chunks_exact(8) {
        let mut block = GenericArray::clone_from_slice(b);
        des.decrypt_block(&mut block);
        out.extend_from_slice(&block);
    }
    let mode = check_mode(mode)?;
    match padding(&out, mode) {
        0 => Err("Invalid des crypt text".to_string()),
        n => {
            out.truncate(out.len() - n);
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Computed with skynet's own lua-crypt.c.
    #[test]
    fn known_answers_from_skynet() {
        let key = b"12345678";
        assert_eq!(hex(&encode(key, b"", 0).unwrap()), "8d3d438a718b4510");
        assert_eq!(
            hex(&encode(key, b"hello, world", 0).unwrap()),
            "8284d633ce07f0dc357c8076447ccc49"
        );
        assert_eq!(
            hex(&encode(key, b"abcdefgh", PKCS7).unwrap()),
            "94d4436bc3b5b693feb959b7d4642fcb"
        );
        assert_eq!(
            hex(&encode(
                b"\x01\x02\x03\x04\x05\x06\x07\x08",
                b"skynet login token",
                PKCS7
            )
            .unwrap()),
            "37003ee94d3d42477c4e4394da307577e1e06a2ffe326467"
        );
        // skynet reads the mode as a C int: 2^32 is mode 0.
        assert_eq!(
            encode(key, b"", 1 << 32).unwrap(),
            encode(key, b"", 0).unwrap()
        );
        let c = encode(key, b"x", ISO7816_4).unwrap();
        assert_eq!(
            decode(key, &c, PKCS7).unwrap_err(),
            "Invalid des crypt text"
        );
    }

    #[test]
    fn errors_say_what_skynet_says() {
        assert_eq!(
            encode(b"short", b"x", 0).unwrap_err(),
            "Invalid key size 5, need 8 bytes"
        );
        assert_eq!(
            encode(b"12345678", b"x", 2).unwrap_err(),
            "Invalid padding mode 2"
        );
        assert_eq!(
            decode(b"12345678", b"1234567", 0).unwrap_err(),
            "Invalid des crypt text length 7"
        );
        assert_eq!(
            decode(b"12345678", b"", 0).unwrap_err(),
            "Invalid des crypt text length 0"
        );
        assert_eq!(
            decode(b"12345678", b"12345678", 0).unwrap_err(),
            "Invalid des crypt text"
        );
    }

    proptest! {
        #[test]
        fn round_trips(key in proptest::array::uniform8(any::<u8>()),
                       text in proptest::collection::vec(any::<u8>(), 0..100),
                       mode in 0i64..2) {
            let c = encode(&key, &text, mode).unwrap();
            prop_assert_eq!(c.len(), (text.len() + 8) & !7);
            prop_assert_eq!(decode(&key, &c, mode).unwrap(), text);
        }

        #[test]
        fn any_ciphertext_decodes_or_fails_cleanly(
            key in proptest::array::uniform8(any::<u8>()),
            text in proptest::collection::vec(any::<u8>(), 0..64), mode in 0i64..2) {
            match decode(&key, &text, mode) {
                Ok(p) => prop_assert!(p.len() < text.len()),
                Err(e) => prop_assert!(e.starts_with("Invalid des crypt text")),
            }
        }
    }
}
