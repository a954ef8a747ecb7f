//! `skyhold.code`: source text the runtime finds or carries for services.
//!
//! - `snax(name, env)` loads a snax service file found on the `snax` path
//!   (the `luaservice` path when the config has no `snax` key) as a
//!   function running in `env`, and returns it with the template that found
//!   it.
//! - `datafile(file, env)` loads a data file (`sharedata`, `sharetable`)
//!   found on the `lua_path`, as a function running in `env`. A file name is
//!   relative to a `lua_path` root: `data/items.lua` or `data.items`.
//! - `seal(f, to)` backs `skynet.service.new`. skynet ships
//!   `string.dump(f)` bytecode to the new service; here the runtime finds the
//!   text of `f` instead, in the file it loaded `f` from, checks that the
//!   text compiles to exactly `f`'s code and that `f` captures nothing but
//!   `_ENV`, and keeps the text. A service gets back a number naming the
//!   sealed text, which only the service it was sealed *to* can use:
//!   `sealed(id)` tells that owner who gave it and where the function comes
//!   from, `reseal(id, to)` hands it on, `drop(id)` discards it and
//!   `unseal(id)` turns it into a function in the owner's state. The text
//!   never reaches Lua as a string, never travels in a message, and is never
//!   bytecode.
//!
//! Every file is found through [`SearchPath`], so it lies under a configured
//! root and is text; everything is compiled in mode `t`.

use mlua::chunk::ChunkMode;
use mlua::{Function, Lua, MultiValue, Table, Value};
use skyhold_core::Context;
use std::sync::Arc;

use crate::config::LuaConfig;
use crate::function_text::origin_of;
use crate::paths::SearchPath;
use crate::seal_store::{fail, one};

/// The name services `require` the module by.
pub const MODULE: &str = "skyhold.code";

/// Builds the `skyhold.code` table for one service.
pub fn module(lua: &Lua, ctx: &Context, config: &Arc<LuaConfig>) -> mlua::Result<Value> {
    let m = lua.create_table()?;
    // Sealed functions are kept per node (several nodes may share a process).
    let node = Arc::as_ptr(config).addr();

    let (c, cfg) = (ctx.clone(), config.clone());
    m.set(
        "snax",
        lua.create_function(move |lua, (name, env): (String, Table)| {
            let path = match c.getenv("snax") {
                Some(spec) => SearchPath::parse(&spec),
                None => cfg.luaservice.clone(),
            };
            let (file, bytes) = match path.find_with(&name, false) {
                Ok(found) => found,
                Err(e) => return fail(lua, format!("snax service '{name}' not found:{e}")),
            };
            if let Err(e) = cfg.pins.check(&format!("snax:{name}"), &bytes) {
                return fail(lua, e);
            }
            let f = match cfg.code.load(lua, &file, &bytes) {
                Ok(f) => f,
                Err(e) => return fail(lua, e.to_string()),
            };
            f.set_environment(env)?;
            let shown = file.display().to_string();
            let pattern = path
                .templates()
                .iter()
                .find(|t| t.replace('?', &name) == shown)
                .cloned()
                .unwrap_or_default();
            Ok(MultiValue::from_vec(vec![
                Value::Function(f),
                Value::String(lua.create_string(pattern)?),
            ]))
        })?,
    )?;

    let cfg = config.clone();
    m.set(
        "datafile",
        lua.create_function(move |lua, (file, env): (String, Table)| {
            let name = file.strip_suffix(".lua").unwrap_or(&file);
            let (path, bytes) = match cfg.lua_path.find_with(name, !name.contains('/')) {
                Ok(found) => found,
                Err(e) => return fail(lua, format!("data file '{file}' not found:{e}")),
            };
            if let Err(e) = cfg.pins.check(&format!("data:{name}"), &bytes) {
                return fail(lua, e);
            }
            match lua
                .load(&bytes[..])
                .set_name(format!("@{}", path.display()))
                .set_mode(ChunkMode::Text)
                .set_environment(env)
                .into_function()
            {
                Ok(f) => Ok(one(Value::Function(f))),
                Err(e) => fail(lua, e.to_string()),
            }
        })?,
    )?;

    m.set(
        "origin",
        lua.create_function(|_, f: Function| Ok(origin_of(&f)))?,
    )?;

    crate::seal_store::install(lua, &m, ctx, config, node)?;

    Ok(Value::Table(m))
}
