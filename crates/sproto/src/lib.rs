//! skynet's sproto for skyhold: the `sproto.core` module (schemas,
//! encode/decode, zero-packing, the node's saved schemas) and the schema
//! parser behind `sprotoparser`, in safe Rust with the same bytes as
//! skynet's C and Lua.
//!
//! Layers, bottom up: `wire` (byte reads, limits), `schema` (the schema
//! binary, loaded with every bound checked), `pack` (zero-packing),
//! `meter` (charging the caller's budget), `encode`/`decode` (Lua values
//! and sproto bytes), `dump`, `slots` (the node's write-once saved
//! schemas), `parser` (schema text to binary), and on top `core` (the Lua
//! module). Beside the Lua side, `value` and `host` are the same bytes
//! for Rust programs (a client, a tool): messages as plain Rust values and
//! the request/response framing of `sproto.lua`'s host.
#![forbid(unsafe_code)]

pub mod core;
pub mod decode;
pub mod dump;
pub mod encode;
pub mod host;
pub mod meter;
pub mod pack;
pub mod parser;
pub mod schema;
pub mod slots;
pub mod value;
pub mod wire;

use skyhold_lua::host::ModuleFactory;
use std::sync::Arc;

pub use schema::Sproto;
pub use slots::Slots;

/// The `sproto.core` module factory of one node: every service of the node
/// saves to and loads from `slots`.
pub fn core_module(slots: Arc<Slots>) -> ModuleFactory {
    Arc::new(move |lua, _ctx| core::build(lua, slots.clone()))
}

/// The `sproto.parser` module factory (what `lualib/sprotoparser.lua`
/// calls).
pub fn parser_module() -> ModuleFactory {
    Arc::new(|lua, _ctx| parser::module(lua))
}
