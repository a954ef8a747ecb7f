//! `skynet.memory` and `skynet.codecache`, skynet's C modules of those names,
//! answered from what skyhold knows.
//!
//! skynet counts the memory every service allocates through its malloc
//! hook. In skyhold a service's memory is its Lua state, which its host
//! reports to the node after each turn (to within
//! [`skyhold_core::memory::REPORT_STEP`]), so:
//!
//! - `total()`: the bytes all services' states hold, as last reported;
//! - `block()`: the number of services holding reported memory (skyhold
//!   keeps no count of allocated blocks; each of these is one state);
//! - `info()`: `{ [handle] = bytes }` for each of those services;
//! - `current()`: the bytes this service's own state holds now;
//! - `dumpinfo([opts])` / `dump()`: write the same to the node's log.
//!
//! skyhold does not run on jemalloc: `jestat`, `mallctl` and `dumpheap` fail
//! saying so, and `profactive()` reports heap profiling as inactive (and
//! fails if asked to turn it on). `ssinfo()` answers zeros: skyhold's
//! states share no short-string table.
//!
//! `skynet.codecache` is `clear()` (drop every compiled file, so the next
//! load reads and compiles each again) and `mode([m])` (`"OFF"`, `"EXIST"`
//! or `"ON"`, recorded for this service and reported back; skyhold's
//! cache checks each file's identity before reusing it, so a changed file
//! is always read again whatever the mode).

use mlua::{Lua, Table, Value};
use skyhold_core::{Context, Handle};
use std::sync::Arc;

use crate::codecache::CodeCache;
use crate::config::ModuleFactory;

/// The name of the memory module.
pub const MEMORY: &str = "skynet.memory";
/// The name of the code cache module.
pub const CODECACHE: &str = "skynet.codecache";

/// `(handle, bytes)` of every live service that reported memory.
fn per_service(ctx: &Context) -> Vec<(Handle, u64)> {
    let node = ctx.node();
    node.list()
        .into_iter()
        .filter_map(|(h, _)| {
            let bytes = node.stats(h)?.get("memory").copied()?;
            (bytes > 0).then_some((h, bytes))
        })
        .collect()
}

fn no_jemalloc(what: &str) -> mlua::Error {
    mlua::Error::runtime(format!(
        "skynet.memory.{what}: skyhold does not run on jemalloc, so there are no allocator statistics"
    ))
}

/// The factory `src/native.rs` registers under [`MEMORY`].
pub fn factory() -> ModuleFactory {
    Arc::new(|lua: &Lua, ctx: &Context| memory(lua, ctx))
}

/// Builds `skynet.memory` for one service.
pub fn memory(lua: &Lua, ctx: &Context) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    let c = ctx.clone();
    t.set(
        "total",
        lua.create_function(move |_, ()| Ok(c.node().reported_memory() as i64))?,
    )?;
    let c = ctx.clone();
    t.set(
        "block",
        lua.create_function(move |_, ()| Ok(per_service(&c).len() as i64))?,
    )?;
    let c = ctx.clone();
    t.set(
        "info",
        lua.create_function(move |lua, ()| {
            let out = lua.create_table()?;
            for (h, bytes) in per_service(&c) {
                out.set(i64::from(h.0), bytes as i64)?;
            }
            Ok(out)
        })?,
    )?;
    t.set(
        "current",
        lua.create_function(|lua, ()| Ok(lua.used_memory() as i64))?,
    )?;
    let c = ctx.clone();
    let dump = lua.create_function(move |_, _opts: Option<String>| {
        let list = per_service(&c);
        for (h, bytes) in &list {
            c.log(&format!("{h}: {bytes} bytes"));
        }
        c.log(&format!(
            "memory: {} bytes in {} services",
            c.node().reported_memory(),
            list.len()
        ));
        Ok(())
    })?;
    t.set("dumpinfo", dump.clone())?;
    t.set("dump", dump)?;
    t.set(
        "jestat",
        lua.create_function(|_, ()| Err::<Table, _>(no_jemalloc("jestat")))?,
    )?;
    t.set(
        "mallctl",
        lua.create_function(|_, _name: String| Err::<i64, _>(no_jemalloc("mallctl")))?,
    )?;
    t.set(
        "dumpheap",
        lua.create_function(|_, ()| Err::<(), _>(no_jemalloc("dumpheap")))?,
    )?;
    t.set(
        "profactive",
        lua.create_function(|_, flag: Option<bool>| match flag {
            Some(true) => Err(no_jemalloc("profactive")),
            _ => Ok(false),
        })?,
    )?;
    t.set(
        "ssinfo",
        lua.create_function(|_, ()| Ok((0i64, 0i64, 0i64, 0i64)))?,
    )?;
    Ok(Value::Table(t))
}

/// The mode a service set with `codecache.mode`, kept in its state.
struct CacheMode(&'static str);

/// Builds `skynet.codecache` for one service over the node's `cache`.
pub fn codecache(lua: &Lua, cache: Arc<CodeCache>) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.set(
        "clear",
        lua.create_function(move |_, ()| {
            cache.clear();
            Ok(())
        })?,
    )?;
    t.set(
        "mode",
        lua.create_function(|lua, mode: Option<String>| {
            let Some(mode) = mode else {
                let now = lua.app_data_ref::<CacheMode>().map_or("ON", |m| m.0);
                return Ok(Some(now));
            };
            let m = match mode.as_str() {
                "OFF" => "OFF",
                "EXIST" => "EXIST",
                "ON" => "ON",
                other => {
                    return Err(mlua::Error::runtime(format!(
                        "bad argument #1 to 'mode' (invalid option '{other}')"
                    )))
                }
            };
            lua.set_app_data(CacheMode(m));
            Ok(None)
        })?,
    )?;
    Ok(Value::Table(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codecache_mode_is_kept_and_checked() {
        let lua = Lua::new();
        let m = codecache(&lua, Arc::new(CodeCache::default())).unwrap();
        lua.globals().set("cc", m).unwrap();
        lua.load(
            r#"
            assert(cc.mode() == "ON")
            assert(cc.mode("OFF") == nil)
            assert(cc.mode() == "OFF")
            cc.mode("EXIST")
            assert(cc.mode() == "EXIST")
            local ok, e = pcall(cc.mode, "SOMETIMES")
            assert(not ok and tostring(e):find("invalid option 'SOMETIMES'"), tostring(e))
            cc.clear()
        "#,
        )
        .exec()
        .unwrap();
    }
}
