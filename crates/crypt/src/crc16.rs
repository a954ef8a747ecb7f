//! `skynet.db.redis.crc16`: the CRC Redis Cluster hashes keys with
//! (CRC-16/XMODEM: polynomial 0x1021, initial value 0, no reflection, no
//! final xor), as a module that is the function itself:
//! `crc16(key)` returns the checksum (0..65535) of the key's bytes.

use mlua::{Function, Lua, Table, Value};

use crate::raise::Body;

/// The checksum of `data`, one bit at a time (a table buys little at key
/// lengths).
pub fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

const FUNCTIONS: &[(&str, Body)] = &[("crc16", |lua, a| {
    let s = a.string(1)?;
    let b = s.as_bytes();
    crate::charge(lua, b.len() * 8)?;
    Ok(Value::Integer(i64::from(crc16(&b))))
})];

/// The module's value: the `crc16` function.
pub fn function(lua: &Lua) -> mlua::Result<Function> {
    let t: Table = lua.create_table()?;
    crate::raise::install(lua, &t, "skynet.db.redis", FUNCTIONS)?;
    t.get("crc16")
}

#[cfg(test)]
mod tests {
    use super::crc16;

    /// The check values of CRC-16/XMODEM and the slots the Redis Cluster
    /// specification gives (slot = crc16 % 16384).
    #[test]
    fn known_answers() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(crc16(b""), 0);
        assert_eq!(crc16(b"foo") % 16384, 12182);
        assert_eq!(crc16(b"bar") % 16384, 5061);
        assert_eq!(crc16(b"hello") % 16384, 866);
    }
}
