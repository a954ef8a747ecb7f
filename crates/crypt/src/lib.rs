//! skynet's `skynet.crypt` (also `client.crypt`) and `md5` Lua modules in
//! Rust, with skynet's arguments, results, error text and bytes.
//!
//! The ciphers and hashes come from RustCrypto (`des`, `sha1`, `hmac`,
//! `md-5`); skynet's own constructions (`hashkey`, `hmac64`, its 64-bit
//! Diffie-Hellman, its lenient hex and base64 readers) are written here from
//! their definitions. Work proportional to an argument's length is charged
//! to the calling service's instruction budget.
#![forbid(unsafe_code)]

mod args;
pub mod codec;
pub mod crc16;
pub mod crypt;
pub mod des;
pub mod dh;
pub mod hash;
pub mod md5lib;
mod raise;

use mlua::{Lua, Value};
use skyhold_core::Context;
use skyhold_lua::budget::Budget;
use skyhold_lua::host::ModuleFactory;
use std::sync::Arc;

/// Inputs shorter than this are not worth a charge.
const CHARGE_FROM: usize = 4096;

/// Charges the caller's budget for work over `bytes` bytes (one step per
/// 64 bytes, about what a Lua loop spends per byte of a few instructions).
pub(crate) fn charge(lua: &Lua, bytes: usize) -> mlua::Result<()> {
    if bytes < CHARGE_FROM {
        return Ok(());
    }
    match Budget::of(lua) {
        Some(b) => b.charge(i64::try_from(bytes / 64).unwrap_or(i64::MAX)),
        None => Ok(()),
    }
}

/// The factory of `skynet.crypt` as required by `name` (`skynet.crypt` or
/// `client.crypt`).
pub fn crypt_module(name: &'static str) -> ModuleFactory {
    Arc::new(move |lua: &Lua, _: &Context| Ok(Value::Table(crypt::table(lua, name)?)))
}

/// The factory of `md5` (and `md5.core`): skynet's C core with its Lua
/// wrapper's `sumhexa` and `hmacmd5`.
pub fn md5_module() -> ModuleFactory {
    Arc::new(|lua: &Lua, _: &Context| Ok(Value::Table(md5lib::table(lua)?)))
}

/// The factory of `skynet.db.redis.crc16`: the module is the function.
pub fn crc16_module() -> ModuleFactory {
    Arc::new(|lua: &Lua, _: &Context| Ok(Value::Function(crc16::function(lua)?)))
}

/// Every module this crate provides, by the names projects require.
pub fn modules() -> Vec<(String, ModuleFactory)> {
    vec![
        ("skynet.crypt".to_string(), crypt_module("skynet.crypt")),
        ("client.crypt".to_string(), crypt_module("client.crypt")),
        ("md5".to_string(), md5_module()),
        ("md5.core".to_string(), md5_module()),
    ]
}
