//! How Lua services are set up: [`LuaConfig`], read from the node's config
//! by the binary and shared by every Lua service of a node.

use mlua::{Lua, Value};
use skyhold_core::Context;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::paths::SearchPath;
use crate::sandbox::SandboxOptions;

/// How Lua services are set up (from the node's config).
#[derive(Clone)]
pub struct LuaConfig {
    /// Where service scripts are found (`luaservice`).
    pub luaservice: SearchPath,
    /// Where `require` looks (`lua_path`).
    pub lua_path: SearchPath,
    /// A file run before every service's main chunk (`preload`).
    pub preload: Option<PathBuf>,
    /// Sandbox limits.
    pub sandbox: SandboxOptions,
    /// Source files compiled once for all services.
    pub code: Arc<crate::codecache::CodeCache>,
    /// Rust modules other crates add (the socket driver), by name.
    pub modules: Vec<(String, ModuleFactory)>,
    /// Pinned module hashes (`lua_pin`, `lua_pin_strict`).
    pub pins: Arc<crate::pins::Pins>,
    /// Sandboxed states kept built ahead of need (`lua_warm_states`; 0: none).
    pub warm_states: usize,
    /// Whether the runtime's library code is shared between the process's
    /// states (`lua_shared_code`, on by default; see
    /// [`crate::shared_code`]). Off, every state loads its own copy.
    pub shared_code: bool,
}

/// Builds a Rust-backed Lua module for one service.
pub type ModuleFactory = Arc<dyn Fn(&Lua, &Context) -> mlua::Result<Value> + Send + Sync>;

impl LuaConfig {
    /// Config with skyhold's own `lualib/` and `service/` under `root`.
    pub fn with_root(root: &Path) -> LuaConfig {
        LuaConfig {
            luaservice: SearchPath::parse(&format!("{}/service/?.lua", root.display())),
            lua_path: SearchPath::parse(&format!(
                "{0}/lualib/?.lua;{0}/lualib/?/init.lua",
                root.display()
            )),
            preload: None,
            sandbox: SandboxOptions::default(),
            code: Arc::new(crate::codecache::CodeCache::with_library(vec![
                root.join("lualib"),
                root.join("service"),
            ])),
            modules: Vec::new(),
            pins: Arc::default(),
            warm_states: crate::warm::DEFAULT_WARM_STATES,
            shared_code: true,
        }
    }
}
