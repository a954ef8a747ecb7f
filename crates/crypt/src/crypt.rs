//! The `skynet.crypt` table (also opened as `client.crypt`): each function
//! reads its arguments as skynet's C does, checks sizes in the same order
//! with the same error text, and hands the bytes to the module that
//! computes them.

use hmac::{Hmac, Mac};
use mlua::{Lua, Table, Value};
use sha1::{Digest, Sha1};

use crate::args::{fail, Args};
use crate::raise::Body;
use crate::{codec, des, dh, hash};

/// What `luaL_error`-style failures of the pure functions become.
fn lua_err<T>(r: Result<T, String>) -> mlua::Result<T> {
    r.map_err(fail)
}

fn bytes(lua: &Lua, b: &[u8]) -> mlua::Result<Value> {
    Ok(Value::String(lua.create_string(b)?))
}

/// Argument `n` as exactly eight bytes, or `msg`.
fn eight(a: &Args, n: usize, msg: &str) -> mlua::Result<[u8; 8]> {
    let s = a.string(n)?;
    let b = s.as_bytes();
    <[u8; 8]>::try_from(&b[..]).map_err(|_| fail(msg))
}

/// `crypt.randomkey()`: eight bytes from the operating system's CSPRNG,
/// never all xoring to zero (skynet sets the low bit of the first byte
/// then).
pub fn randomkey() -> Result<[u8; 8], String> {
    let mut k = [0u8; 8];
    getrandom::getrandom(&mut k).map_err(|e| format!("randomkey: {e}"))?;
    if k.iter().fold(0, |x, b| x ^ b) == 0 {
        k[0] |= 1;
    }
    Ok(k)
}

/// `crypt.sha1`.
pub fn sha1(text: &[u8]) -> [u8; 20] {
    Sha1::digest(text).into()
}

/// `crypt.hmac_sha1(key, text)`.
pub fn hmac_sha1(key: &[u8], text: &[u8]) -> Result<[u8; 20], String> {
    let mut mac = Hmac::<Sha1>::new_from_slice(key).map_err(|e| e.to_string())?;
    mac.update(text);
    Ok(mac.finalize().into_bytes().into())
}

const FUNCTIONS: &[(&str, Body)] = &[
    ("hashkey", |lua, a| {
        let t = a.string(1)?;
        crate::charge(lua, t.as_bytes().len())?;
        bytes(lua, &hash::hashkey(&t.as_bytes()))
    }),
    ("randomkey", |lua, _| bytes(lua, &lua_err(randomkey())?)),
    ("desencode", |lua, a| {
        let key = a.bytes(1)?;
        if key.len() != 8 {
            return Err(fail(format!(
                "Invalid key size {}, need 8 bytes",
                key.len()
            )));
        }
        let text = a.string(2)?;
        let mode = a.opt_integer(3, des::ISO7816_4)?;
        crate::charge(lua, text.as_bytes().len() * 4)?;
        bytes(lua, &lua_err(des::encode(&key, &text.as_bytes(), mode))?)
    }),
    ("desdecode", |lua, a| {
        let key = a.bytes(1)?;
        if key.len() != 8 {
            return Err(fail(format!(
                "Invalid key size {}, need 8 bytes",
                key.len()
            )));
        }
        let text = a.string(2)?;
        let n = text.as_bytes().len();
        if n == 0 || !n.is_multiple_of(8) {
            return Err(fail(format!("Invalid des crypt text length {n}")));
        }
        let mode = a.opt_integer(3, des::ISO7816_4)?;
        crate::charge(lua, n * 4)?;
        bytes(lua, &lua_err(des::decode(&key, &text.as_bytes(), mode))?)
    }),
    ("hexencode", |lua, a| {
        let t = a.string(1)?;
        crate::charge(lua, t.as_bytes().len())?;
        bytes(lua, &codec::hex_encode(&t.as_bytes()))
    }),
    ("hexdecode", |lua, a| {
        let t = a.string(1)?;
        crate::charge(lua, t.as_bytes().len())?;
        bytes(lua, &lua_err(codec::hex_decode(&t.as_bytes()))?)
    }),
    ("hmac64", |lua, a| {
        let x = eight(a, 1, "Invalid uint64 x")?;
        let y = eight(a, 2, "Invalid uint64 y")?;
        bytes(lua, &hash::hmac64(&x, &y))
    }),
    ("hmac64_md5", |lua, a| {
        let x = eight(a, 1, "Invalid uint64 x")?;
        let y = eight(a, 2, "Invalid uint64 y")?;
        bytes(lua, &hash::hmac64_md5(&x, &y))
    }),
    ("dhexchange", |lua, a| {
        let x = eight(a, 1, "Invalid dh uint64 key")?;
        bytes(lua, &lua_err(dh::exchange(&x))?)
    }),
    ("dhsecret", |lua, a| {
        let y = eight(a, 1, "Invalid uint64 x")?;
        let x = eight(a, 2, "Invalid uint64 y")?;
        bytes(lua, &lua_err(dh::secret(&y, &x))?)
    }),
    ("base64encode", |lua, a| {
        let t = a.string(1)?;
        crate::charge(lua, t.as_bytes().len())?;
        bytes(lua, &codec::base64_encode(&t.as_bytes()))
    }),
    ("base64decode", |lua, a| {
        let t = a.string(1)?;
        crate::charge(lua, t.as_bytes().len())?;
        bytes(lua, &lua_err(codec::base64_decode(&t.as_bytes()))?)
    }),
    ("sha1", |lua, a| {
        let t = a.string(1)?;
        crate::charge(lua, t.as_bytes().len())?;
        bytes(lua, &sha1(&t.as_bytes()))
    }),
    ("hmac_sha1", |lua, a| {
        let (key, text) = (a.string(1)?, a.string(2)?);
        crate::charge(lua, text.as_bytes().len() + key.as_bytes().len())?;
        bytes(lua, &lua_err(hmac_sha1(&key.as_bytes(), &text.as_bytes()))?)
    }),
    ("hmac_hash", |lua, a| {
        let key = eight(a, 1, "Invalid uint64 key")?;
        let t = a.string(2)?;
        crate::charge(lua, t.as_bytes().len())?;
        bytes(lua, &hash::hmac_hash(&key, &t.as_bytes()))
    }),
    ("xor_str", |lua, a| {
        let (x, y) = (a.string(1)?, a.string(2)?);
        crate::charge(lua, x.as_bytes().len())?;
        bytes(lua, &lua_err(codec::xor_str(&x.as_bytes(), &y.as_bytes()))?)
    }),
];

/// Builds the module's table; `module` is the name it is required by (Lua
/// names a function by it in argument errors).
pub fn table(lua: &Lua, module: &'static str) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    crate::raise::install(lua, &t, module, FUNCTIONS)?;
    let padding = lua.create_table()?;
    padding.set("iso7816_4", des::ISO7816_4)?;
    padding.set("pkcs7", des::PKCS7)?;
    t.set("padding", padding)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    /// Computed with skynet's own lsha1.c.
    #[test]
    fn sha1_known_answers_from_skynet() {
        assert_eq!(hex(&sha1(b"")), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        assert_eq!(
            hex(&sha1(b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex(&hmac_sha1(b"key", b"The quick brown fox jumps over the lazy dog").unwrap()),
            "de7c9b85b8b78aa6bc8a7a36f70a90701c9db4d9"
        );
        assert_eq!(
            hex(&hmac_sha1(&[b'k'; 100], b"x").unwrap()),
            "f0f06edc45a0697855c766dd91a235f449aaa384"
        );
    }

    #[test]
    fn random_keys_differ_and_never_xor_to_zero() {
        let a = randomkey().unwrap();
        let b = randomkey().unwrap();
        assert_ne!(a, b);
        assert_ne!(a.iter().fold(0, |x, y| x ^ y), 0);
    }
}

#[cfg(test)]
mod lua_tests {
    use super::*;

    #[test]
    fn errors_reach_lua_with_skynets_text() -> mlua::Result<()> {
        let lua = Lua::new();
        lua.globals().set("crypt", table(&lua, "skynet.crypt")?)?;
        let r: String = lua
            .load(
                r#"
                local ok, err = pcall(crypt.hashkey)
                local ok2, err2 = pcall(crypt.desencode, "12345678", "x", 1.5)
                local ok3, err3 = pcall(crypt.dhexchange, "\0\0\0\0\0\0\0\0")
                return tostring(err) .. "|" .. tostring(err2) .. "|" .. tostring(err3) .. "|" .. type(err3)
            "#,
            )
            .eval()?;
        assert_eq!(
            r,
            "bad argument #1 to 'skynet.crypt.hashkey' (string expected, got no value)|\
             bad argument #3 to 'skynet.crypt.desencode' (number has no integer representation)|\
             Can't be 0|string"
        );
        Ok(())
    }
}
