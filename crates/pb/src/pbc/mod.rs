//! cloudwu's pbc for skyhold services: the `protobuf.c` module that pbc's
//! `protobuf.lua` (binding/lua53) loads, so a project's own copy of
//! `protobuf.lua` runs unchanged.
//!
//! Types come from `FileDescriptorSet` bytes (`protobuf.register`, read
//! with [`crate::load::parse`] and named as pbc names them); messages are
//! written field by field (`_wmessage_*`), read into Lua tables
//! (`_decode`) or field by field (`_rmessage_*`, which `protobuf.lua`
//! uses for defaults), and packed or unpacked through patterns. Bytes
//! match pbc's; reading is bounded by the input, writing by
//! `pbc_max_depth` and `pbc_max_bytes` ([`crate::limits`]), and
//! the work is charged to the service's instruction budget. Where this
//! differs from the C module is listed in docs/native-modules.md.

pub mod bootstrap;
pub mod env;
pub mod lua;
pub mod pattern;
pub mod rmsg;
pub mod scan;
pub mod wmsg;

use mlua::{Lua, Table, Value};
use skyhold_lua::host::ModuleFactory;
use std::sync::Arc;

/// Raises the functions' own errors as plain strings at the caller's
/// position, as `luaL_error` raises them; errors passed on from Lua code
/// (the decode callback) go on as they are.
const GLUE: &str = r##"
local raw = ...
local pcall, error, tostring, type = pcall, error, tostring, type
local function check(ok, ...)
    if ok then return ... end
    local e = ...
    if type(e) ~= "string" then e = tostring(e) end
    e = e:gsub("^runtime error: ", ""):gsub("\nstack traceback:.*$", "")
    if e:sub(1, 1) == "\1" then
        error(e:sub(2), 2)
    end
    error(e, 0)
end
-- protobuf.lua reads a shared environment from the registry
-- (`debug.getregistry().PROTOBUF_ENV`); a sandboxed service has no
-- getregistry, so it gets a stand-in: an empty table of its own, not
-- Lua's registry, and protobuf.lua makes its own environment.
local dbg = rawget(_G, "debug")
if type(dbg) == "table" and rawget(dbg, "getregistry") == nil then
    local stand_in = {}
    rawset(dbg, "getregistry", function() return stand_in end)
end
local m = {}
for name, f in pairs(raw) do
    m[name] = function(...) return check(pcall(f, ...)) end
end
return m
"##;

/// The `protobuf.c` module table of this state.
pub fn open(lua: &Lua) -> mlua::Result<Table> {
    crate::cached(lua, "protobuf.c", || {
        let f = lua.load(GLUE).set_name("=protobuf.c").into_function()?;
        f.call(lua::raw_module(lua)?)
    })
}

/// The module factory for `src/native.rs`.
pub fn module() -> ModuleFactory {
    Arc::new(|lua, ctx| {
        crate::install_limits(lua, ctx);
        Ok(Value::Table(open(lua)?))
    })
}
