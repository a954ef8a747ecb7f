//! skyhold's Lua host: one sandboxed Lua state per service, running skynet
//! service scripts against `skynet.core`.
#![forbid(unsafe_code)]

pub mod budget;
pub mod bytecode;
pub mod codecache;
pub mod config;
pub mod console_module;
pub mod dispatch;
pub mod files;
pub mod finalizers;
pub mod function_text;
pub mod host;
pub mod lpattern;
pub mod lua_error;
pub mod memory_module;
pub mod modules;
pub mod native_unpack;
pub mod paths;
pub mod pins;
pub mod sandbox;
pub mod seal_store;
pub mod sending;
pub mod seri;
pub mod shared_code;
pub mod skyhold_code;
pub mod skynet_core;
pub mod stm;
pub mod strip_names;
pub mod warm;

pub use host::{register, LuaConfig, LuaService};
