//! The `md5` module skynet ships (3rd/lua-md5 and its `md5.lua` wrapper):
//! `sum`, `sumhexa`, `hmacmd5`, `exor`, and `crypt`/`decrypt`, MD5 used as
//! a stream cipher in cipher-feedback mode. The hash is RustCrypto's `md-5`.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use mlua::{Lua, Value};

use crate::args::fail;
use crate::codec::hex_encode;
use crate::raise::Body;

/// The longest key `crypt`/`decrypt` take.
pub const MAX_KEY: usize = 256;
/// The longest seed `crypt` takes (one MD5 block of feedback).
pub const MAX_SEED: usize = 16;

/// `md5.sum`.
pub fn sum(text: &[u8]) -> [u8; 16] {
    Md5::digest(text).into()
}

/// `md5.hmacmd5(data, key)`: HMAC-MD5 in lowercase hex.
pub fn hmacmd5(data: &[u8], key: &[u8]) -> Result<Vec<u8>, String> {
    // HMAC takes keys of every length; the error cannot happen.
    let mut mac = Hmac::<Md5>::new_from_slice(key).map_err(|e| e.to_string())?;
    mac.update(data);
    Ok(hex_encode(&mac.finalize().into_bytes()))
}

/// The feedback block: the seed, zero-padded to 16 bytes, then the key.
fn block(seed: &[u8], key: &[u8]) -> Result<Vec<u8>, String> {
    if key.len() > MAX_KEY {
        return Err(format!("key too long (> {MAX_KEY})"));
    }
    let mut b = vec![0u8; MAX_SEED];
    b[..seed.len()].copy_from_slice(seed);
    b.extend_from_slice(key);
    Ok(b)
}

/// Runs the stream over `input`; `encrypt` says which side of the xor
/// feeds back (the ciphertext, either way).
fn stream(mut block: Vec<u8>, input: &[u8], encrypt: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    for chunk in input.chunks(MAX_SEED) {
        let code = sum(&block);
        let start = out.len();
        out.extend(chunk.iter().zip(code.iter()).map(|(m, k)| m ^ k));
        let fed = if encrypt { &out[start..] } else { chunk };
        block[..chunk.len()].copy_from_slice(fed);
    }
    out
}

/// `md5.crypt(message, key, seed)`: the seed's length, the seed, then the
/// ciphertext.
pub fn crypt(message: &[u8], key: &[u8], seed: &[u8]) -> Result<Vec<u8>, String> {
    if seed.len() > MAX_SEED {
        return Err(format!("seed too long (> {MAX_SEED})"));
    }
    let b = block(seed, key)?;
    let mut out = Vec::with_capacity(1 + seed.len() + message.len());
    out.push(seed.len() as u8);
    out.extend_from_slice(seed);
    out.extend(stream(b, message, true));
    Ok(out)
}

/// The seed a well-formed ciphertext starts with, or None.
fn seed_of(cypher: &[u8]) -> Option<&[u8]> {
    let n = usize::from(*cypher.first()?);
    (n <= MAX_SEED && cypher.len() > n).then(|| &cypher[1..=n])
}

/// `md5.decrypt(cyphertext, key)`.
pub fn decrypt(cypher: &[u8], key: &[u8]) -> Result<Vec<u8>, String> {
    let seed = seed_of(cypher).ok_or("invalid cyphered string")?;
    let b = block(seed, key)?;
    Ok(stream(b, &cypher[1 + seed.len()..], false))
}

fn bytes(lua: &Lua, b: &[u8]) -> mlua::Result<Value> {
    Ok(Value::String(lua.create_string(b)?))
}

const MODULE: &str = "md5.core";

/// Builds the module's table (the C core and the Lua wrapper in one).
pub fn table(lua: &Lua) -> mlua::Result<mlua::Table> {
    let t = lua.create_table()?;
    t.set("_COPYRIGHT", "Copyright (C) 2003-2013 PUC-Rio")?;
    t.set("_DESCRIPTION", "Basic cryptographic facilities")?;
    t.set("_VERSION", "MD5 1.2")?;
    crate::raise::install(lua, &t, MODULE, FUNCTIONS)?;
    Ok(t)
}

const FUNCTIONS: &[(&str, Body)] = &[
    ("sum", |lua, a| {
        let text = a.bytes(1)?;
        crate::charge(lua, text.len())?;
        bytes(lua, &sum(&text))
    }),
    ("sumhexa", |lua, a| {
        let text = a.bytes(1)?;
        crate::charge(lua, text.len())?;
        bytes(lua, &hex_encode(&sum(&text)))
    }),
    ("hmacmd5", |lua, a| {
        let (data, key) = (a.bytes(1)?, a.bytes(2)?);
        crate::charge(lua, data.len() + key.len())?;
        bytes(lua, &hmacmd5(&data, &key).map_err(fail)?)
    }),
    ("exor", |lua, a| {
        let (x, y) = (a.bytes(1)?, a.bytes(2)?);
        if x.len() != y.len() {
            return Err(a.arg_error(2, "lengths must be equal"));
        }
        crate::charge(lua, x.len())?;
        let v: Vec<u8> = x.iter().zip(&y).map(|(p, q)| p ^ q).collect();
        bytes(lua, &v)
    }),
    ("crypt", |lua, a| {
        let message = a.bytes(1)?;
        let seed = if a.is_none(3) {
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            now.to_le_bytes().to_vec()
        } else {
            a.bytes(3)?
        };
        if seed.len() > MAX_SEED {
            return Err(fail(format!("seed too long (> {MAX_SEED})")));
        }
        let key = a.bytes(2)?;
        // One MD5 of up to 272 bytes per 16 bytes of message.
        crate::charge(lua, message.len() * 16)?;
        bytes(lua, &crypt(&message, &key, &seed).map_err(fail)?)
    }),
    ("decrypt", |lua, a| {
        let cypher = a.bytes(1)?;
        if seed_of(&cypher).is_none() {
            return Err(a.arg_error(1, "invalid cyphered string"));
        }
        let key = a.bytes(2)?;
        crate::charge(lua, cypher.len() * 16)?;
        bytes(lua, &decrypt(&cypher, &key).map_err(fail)?)
    }),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        String::from_utf8(hex_encode(b)).unwrap()
    }

    /// Computed with skynet's own 3rd/lua-md5 and md5.lua.
    #[test]
    fn known_answers_from_skynet() {
        assert_eq!(hex(&sum(b"abc")), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            hex(&sum(b"The quick brown fox jumps over the lazy dog")),
            "9e107d9d372bb6826bd81d3542a419d6"
        );
        assert_eq!(
            hmacmd5(b"data", b"key").unwrap(),
            b"9d5c73ef85594d34ec4438b7c97e51d8"
        );
        assert_eq!(
            hmacmd5(b"data", &[b'k'; 80]).unwrap(),
            b"c5555a7b5c7f347eac4e0a40ab462e48"
        );
        let c = crypt(b"hello world, this is longer than 16", b"key", b"seed").unwrap();
        assert_eq!(
            hex(&c),
            "0473656564c78025b74eeaf25687f4eaabf911327da70e275df479b8e80e93b267a33bb20dde1f36"
        );
        assert_eq!(
            decrypt(&c, b"key").unwrap(),
            b"hello world, this is longer than 16"
        );
        assert_eq!(crypt(b"", b"k", b"").unwrap(), b"\0");
        assert_eq!(
            crypt(b"x", &[b'k'; 257], b"s").unwrap_err(),
            "key too long (> 256)"
        );
        assert_eq!(
            crypt(b"x", b"k", &[b's'; 17]).unwrap_err(),
            "seed too long (> 16)"
        );
        for bad in [&b""[..], b"\x05abc", b"\xc8abc"] {
            assert_eq!(decrypt(bad, b"k").unwrap_err(), "invalid cyphered string");
        }
    }
}
