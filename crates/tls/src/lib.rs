//! skynet's `ltls.c` and `ltls.init.c` Lua modules on rustls (ring), as
//! `http.tlshelper` uses them: a TLS engine over buffers (handshake, read,
//! write), server and client; certificates only from the files the config
//! names. Also `skyhold.resolver`, the read-only view of the two resolver
//! files `skynet.dns` needs.
#![forbid(unsafe_code)]

pub mod configs;
pub mod engine;
pub mod lua;
pub mod resolver;
pub mod settings;

use mlua::{Lua, Value};
use skyhold_core::Context;
use skyhold_lua::host::ModuleFactory;
use std::sync::Arc;

pub use engine::Engine;
/// The rustls server configuration [`configs::server`] builds.
pub use rustls::ServerConfig;
pub use settings::Settings;

/// The factory of `ltls.c`: its settings come from the requiring service's
/// config view.
pub fn ltls_module() -> ModuleFactory {
    Arc::new(|lua: &Lua, ctx: &Context| {
        let settings = Arc::new(Settings::from_env(|k| ctx.getenv(k)));
        Ok(Value::Table(lua::table(lua, settings)?))
    })
}

/// The factory of `ltls.init.c`.
pub fn ltls_init_module() -> ModuleFactory {
    Arc::new(|lua: &Lua, _: &Context| Ok(Value::Table(lua::init_table(lua)?)))
}

/// The factory of `skyhold.resolver`.
pub fn resolver_module() -> ModuleFactory {
    Arc::new(|lua: &Lua, _: &Context| Ok(Value::Table(resolver::table(lua)?)))
}

/// Every module this crate provides, by the names projects require.
pub fn modules() -> Vec<(String, ModuleFactory)> {
    vec![
        ("ltls.c".to_string(), ltls_module()),
        ("ltls.init.c".to_string(), ltls_init_module()),
        ("skyhold.resolver".to_string(), resolver_module()),
    ]
}
