//! lua-protobuf for skyhold services: the `pb`, `pb.slice`, `pb.buffer`,
//! `pb.conv` and `pb.io` modules of starwing/lua-protobuf, in safe Rust.
//!
//! Types come from `FileDescriptorSet` bytes (`pb.load`, what `protoc -o`
//! writes and what the pure-Lua `protoc.lua` compiles at run time);
//! `pb.encode`/`pb.decode` turn Lua tables into wire bytes and back with
//! lua-protobuf's rules (field order, proto3 zero skipping, packed
//! repeated fields, maps, oneofs, defaults, hooks, int64 modes) and its
//! error texts. Decoding untrusted bytes never panics: lengths are checked
//! against what is there, nesting and output are bounded ([`limits`]), and
//! the work is charged to the service's instruction budget.
//! Differences from the C module are listed in docs/native-modules.md.
#![forbid(unsafe_code)]

pub mod api;
pub mod conv;
pub mod decode;
pub mod encode;
pub mod limits;
pub mod load;
pub mod lowlevel;
pub mod meter;
pub mod pbc;
pub mod schema;
pub mod state;
pub mod table;
pub mod wire;

use mlua::{Lua, Table, Value};
use skyhold_lua::host::ModuleFactory;
use std::sync::Arc;

/// Wraps raw functions so that their errors reach Lua as plain strings
/// (as `luaL_error` raises them), and adds the parts written in Lua:
/// `__call` on `pb.buffer`/`pb.slice`, `pb.io` over the service's `io`
/// (present only where the node grants file access), `pb.loadfile`.
const GLUE: &str = r##"
local raw, kind, pbmod = ...
local pcall, error, tostring, type, select = pcall, error, tostring, type, select
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
local function wrap(t)
    local m = {}
    for name, f in pairs(t) do
        m[name] = function(...) return check(pcall(f, ...)) end
    end
    return m
end
if kind == "io" then
    local m = {}
    local function noio(name)
        return nil, (name or "stdin") .. ": file access is not available in this service", 1
    end
    function m.read(name)
        local io = _G.io
        if type(io) ~= "table" or type(io.open) ~= "function" or name == nil then
            return noio(name)
        end
        local f, err = io.open(name, "rb")
        if not f then return nil, err end
        local d = f:read("a")
        f:close()
        return d
    end
    function m.write(...)
        local io = _G.io
        if type(io) ~= "table" or type(io.write) ~= "function" then return noio("stdout") end
        for i = 1, select("#", ...) do io.write(pbmod.result((select(i, ...)))) end
        return true
    end
    function m.dump(name, ...)
        local io = _G.io
        if type(io) ~= "table" or type(io.open) ~= "function" then return noio(name) end
        local f, err = io.open(name, "wb")
        if not f then return nil, err end
        for i = 1, select("#", ...) do f:write(pbmod.result((select(i, ...)))) end
        f:close()
        return true
    end
    return m
end
local m = wrap(raw)
if kind == "pb" then
    local load = m.load
    function m.loadfile(name)
        local io = _G.io
        if type(io) ~= "table" or type(io.open) ~= "function" then
            return nil, tostring(name) .. ": file access is not available in this service", 1
        end
        local f, err = io.open(name, "rb")
        if not f then return nil, err end
        local d = f:read("a")
        f:close()
        return load(d)
    end
elseif kind == "buffer" or kind == "slice" then
    local new = m.new
    setmetatable(m, { __call = function(_, ...) return new(...) end })
end
return m
"##;

fn glue(lua: &Lua, raw: Option<Table>, kind: &str) -> mlua::Result<Table> {
    let f = lua.load(GLUE).set_name("=pb").into_function()?;
    let pbmod = if kind == "io" {
        Value::Table(open_pb(lua)?)
    } else {
        Value::Nil
    };
    f.call((raw, kind, pbmod))
}

const OPENED: &str = "skyhold.pb.opened";

fn cached(
    lua: &Lua,
    kind: &str,
    build: impl FnOnce() -> mlua::Result<Table>,
) -> mlua::Result<Table> {
    let reg = match lua.named_registry_value::<Option<Table>>(OPENED)? {
        Some(t) => t,
        None => {
            let t = lua.create_table()?;
            lua.set_named_registry_value(OPENED, &t)?;
            t
        }
    };
    if let Value::Table(t) = reg.raw_get::<Value>(kind)? {
        return Ok(t);
    }
    let t = build()?;
    reg.raw_set(kind, &t)?;
    Ok(t)
}

/// The `pb` module table of this state.
pub fn open_pb(lua: &Lua) -> mlua::Result<Table> {
    cached(lua, "pb", || glue(lua, Some(api::pb_module(lua)?), "pb"))
}

/// The `pb.buffer` module table of this state.
pub fn open_buffer(lua: &Lua) -> mlua::Result<Table> {
    cached(lua, "buffer", || {
        let m = glue(lua, Some(lowlevel::buffer_module(lua)?), "buffer")?;
        lowlevel::remember(lua, "buffer", &m)?;
        Ok(m)
    })
}

/// The `pb.slice` module table of this state.
pub fn open_slice(lua: &Lua) -> mlua::Result<Table> {
    cached(lua, "slice", || {
        let m = glue(lua, Some(lowlevel::slice_module(lua)?), "slice")?;
        lowlevel::remember(lua, "slice", &m)?;
        Ok(m)
    })
}

/// The `pb.conv` module table of this state.
pub fn open_conv(lua: &Lua) -> mlua::Result<Table> {
    cached(lua, "conv", || {
        glue(lua, Some(lowlevel::conv_module(lua)?), "conv")
    })
}

/// The `pb.io` module table of this state.
pub fn open_io(lua: &Lua) -> mlua::Result<Table> {
    cached(lua, "io", || glue(lua, None, "io"))
}

/// Gives a service's state the node's limits ([`limits`]), its refusals
/// audited (and so counted) as the service's.
pub(crate) fn install_limits(lua: &Lua, ctx: &skyhold_core::Context) {
    if lua.app_data_ref::<limits::Limits>().is_some() {
        return;
    }
    let node = ctx.node();
    let me = ctx.handle();
    let report: limits::Report = Arc::new(move |action: &str, why: &str| {
        node.audit_refused(me, action, &me.to_string(), why);
    });
    limits::Limits::from_config(|k| ctx.getenv(k), Some(report)).install(lua);
}

fn factory(open: fn(&Lua) -> mlua::Result<Table>) -> ModuleFactory {
    Arc::new(move |lua, ctx| {
        install_limits(lua, ctx);
        // Buffers and slices answer methods through their modules'
        // tables, so those exist whichever module a service asks for.
        open_buffer(lua)?;
        open_slice(lua)?;
        Ok(Value::Table(open(lua)?))
    })
}

/// Every module of this crate, by the name `require` finds it under.
pub fn modules() -> Vec<(String, ModuleFactory)> {
    vec![
        ("pb".into(), factory(open_pb)),
        ("pb.buffer".into(), factory(open_buffer)),
        ("pb.slice".into(), factory(open_slice)),
        ("pb.conv".into(), factory(open_conv)),
        ("pb.io".into(), factory(open_io)),
    ]
}

/// Opens every module in a plain Lua state and registers them in
/// `package.loaded` (tests, tools).
pub fn preload(lua: &Lua) -> mlua::Result<()> {
    let loaded: Table = lua.globals().get::<Table>("package")?.get("loaded")?;
    open_buffer(lua)?;
    open_slice(lua)?;
    loaded.set("pb", open_pb(lua)?)?;
    loaded.set("pb.buffer", open_buffer(lua)?)?;
    loaded.set("pb.slice", open_slice(lua)?)?;
    loaded.set("pb.conv", open_conv(lua)?)?;
    loaded.set("pb.io", open_io(lua)?)?;
    loaded.set("protobuf.c", pbc::open(lua)?)?;
    Ok(())
}

#[cfg(test)]
mod tests;
