//! `require` confined to the configured `lua_path`, checked against the pin
//! manifest if there is one. `package.path` starts as that path; a service
//! that sets it (skynet's `examples/protoloader.lua` puts `./examples/?.lua`
//! first) is searched in its order, but only through the templates the
//! operator configured in `lua_path` or `luaservice`: any other entry is
//! left out, and a failed `require` names it.

use mlua::{Lua, Value};

use crate::codecache::CodeCache;
use crate::paths::SearchPath;
use crate::pins::Pins;
use std::sync::Arc;

/// The Rust modules a service builds the first time it requires them (most
/// services never touch most of them, and each costs memory in every
/// state): given a name, the module built, or `None` for a name that is no
/// Rust module. One function per service, over the node's list of
/// factories, rather than one boxed closure and a copy of the name per
/// module in every service.
pub type LazyModules = Box<dyn Fn(&Lua, &str) -> Option<mlua::Result<Value>> + Send>;

/// The name the chunk wrapping `require` is loaded under.
pub(crate) const REQUIRE_CHUNK: &str = "=require";

/// The text of [`REQUIRE_CHUNK`]: puts the standard libraries in
/// `package.loaded`, and `package` and `require` in the globals (here
/// rather than from Rust: one call instead of a call into Lua per field).
pub(crate) const REQUIRE_TEXT: &str = r#"
            local raw, pkg, loaded, path = ...
            local pcall, error, tostring, type = pcall, error, tostring, type
            loaded.string, loaded.table, loaded.math, loaded.coroutine = string, table, math, coroutine
            loaded.utf8, loaded.os, loaded.io = utf8, os, io
            pkg.loaded, pkg.path = loaded, path
            package = pkg
            require = function(name)
                local ok, r = pcall(raw, name)
                if ok then
                    return r
                end
                if type(r) ~= "string" then
                    r = tostring(r):gsub("^runtime error: ", "")
                end
                error(r, 2)
            end
            "#;

/// The registry table the native modules built on demand are kept in.
const BUILT: &str = "skyhold.modules";

/// Installs `require` over `path`, with the Rust modules `preloaded` and
/// the ones `lazy` builds on first use. A service that sets `package.path`
/// is searched through the templates of `path` and `luaservice` only.
pub fn install(
    lua: &Lua,
    path: &SearchPath,
    luaservice: &SearchPath,
    code: Arc<CodeCache>,
    pins: Arc<Pins>,
    preloaded: Vec<(String, Value)>,
    lazy: LazyModules,
) -> mlua::Result<()> {
    // Sized for what every service's holds: the preloaded modules, the
    // standard libraries (put in by REQUIRE_TEXT) and `skynet`.
    let loaded = lua.create_table_with_capacity(0, LOADED_AT_BOOT)?;
    // The preloaded modules are the host's own (`skynet.core`), which
    // keeps its functions itself (see crate::finalizers).
    for (name, module) in preloaded {
        loaded.raw_set(name, module)?;
    }
    let path = path.clone();
    let package_path = path.spec();
    let luaservice = luaservice.clone();
    let cache = loaded.clone();
    // `package`: REQUIRE_TEXT fills it and makes it the global.
    let package = lua.create_table_with_capacity(0, 2)?;
    let package_ref = package.clone();
    let require = lua.create_function(move |lua, key: mlua::LuaString| {
        // The name is kept as the Lua string it came as, for the table
        // keys below: one made again from Rust would cost a protected call
        // (the state has its memory limit).
        let name = key.to_str()?.to_owned();
        let hit: Value = cache.get(&key)?;
        if !hit.is_nil() {
            return Ok(hit);
        }
        // A Rust module is built once and kept, with its functions, until
        // the state closes: `package.loaded[name] = nil` and a second
        // `require` get the same module, and no Rust function of it is ever
        // finalized while Lua code can reach it (see crate::finalizers).
        let mut v = crate::finalizers::remembered(lua, BUILT, &name)?;
        if v.is_nil() {
            if let Some(built) = lazy(lua, &name) {
                v = built?;
                crate::finalizers::keep(lua, &v)?;
                crate::finalizers::remember(lua, BUILT, &name, v.clone())?;
            }
        }
        if !v.is_nil() {
            cache.set(&key, v.clone())?;
            return Ok(v);
        }
        // The service's own package.path, if it changed it.
        let spec = match package_ref.raw_get::<Value>("path")? {
            Value::String(s) => Some(s.to_string_lossy()),
            _ => None,
        };
        // The operator's templates are worked out again only for a
        // service that changed its path: they cost every service memory
        // if kept, and a require of a file reads and runs one anyway.
        let (chosen, left) = match spec {
            Some(spec) if spec != path.spec() => {
                let allowed =
                    SearchPath::parse(&format!("{};{}", path.spec(), luaservice.spec()));
                SearchPath::chosen(&spec, &allowed)
            }
            _ => (path.clone(), Vec::new()),
        };
        let found = code.find(&chosen, &name, true).map_err(|e| {
            let mut text = format!("module '{name}' not found:{e}");
            for t in &left {
                text.push_str(&format!(
                    "\n\tnot searched '{t}' (package.path may only name lua_path and luaservice templates)"
                ));
            }
            mlua::Error::runtime(text)
        })?;
        pins.check(&name, &found.text)
            .map_err(mlua::Error::runtime)?;
        let f = code.load_found(lua, &found)?;
        let v: Value = f.call((&key, found.path.display().to_string()))?;
        let v = if v.is_nil() { Value::Boolean(true) } else { v };
        let again: Value = cache.get(&key)?;
        if again.is_nil() {
            cache.set(&key, v.clone())?;
            Ok(v)
        } else {
            Ok(again)
        }
    })?;
    crate::finalizers::keep_function(lua, &require)?;
    // Errors raised from Rust reach Lua as userdata; skynet code reads error
    // messages as strings, so require re-raises them as strings.
    let wrap: mlua::Function = crate::codecache::internal(lua, REQUIRE_CHUNK, REQUIRE_TEXT)?;
    wrap.call::<()>((require, package, loaded, package_path))?;
    Ok(())
}

/// Slots `package.loaded` starts with: `skynet.core`, the seven standard
/// libraries and `skynet` (grown one step at a time, the table would be
/// rebuilt at each power of two).
const LOADED_AT_BOOT: usize = 16;
