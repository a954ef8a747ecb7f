//! skyhold's Lua host: one sandboxed Lua state per service, running skynet
//! service scripts against `skynet.core`.
#![forbid(unsafe_code)]

pub mod api;
pub mod codecache;
pub mod dispatch;
pub mod host;
pub mod lean;
pub mod lpattern;
pub mod modules;
pub mod native_unpack;
pub mod paths;
pub mod pins;
pub mod seri;
pub mod sources;
pub mod state;
pub mod warm;

pub use host::{register, LuaConfig, LuaService};
