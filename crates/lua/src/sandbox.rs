//! A service's Lua state: the sandbox.
//!
//! - Only the safe standard libraries: coroutine, table, string, utf8, math,
//!   and `os` reduced to time/clock/date/difftime. No `debug` (a
//!   `debug.traceback` for the running coroutine only), `package.loadlib`,
//!   `dofile`, `loadfile`, or C modules.
//! - `io` only where the node names file roots, and then confined to them
//!   (see [`crate::files`]): no root configured, no `io`.
//! - `string.dump` is deleted from the real string table and the string
//!   metatable is locked (`getmetatable("")` gives `false`), so bytecode can
//!   neither be made nor reached through `("").dump`.
//! - `load` takes text only (mode `t` whatever the caller asks), in the
//!   service's environment unless one is given.
//! - `collectgarbage` answers only the harmless options.
//! - A memory limit per state (`lua_memory_limit`).
//! - An instruction budget per message (`lua_instruction_budget`) counted by
//!   a global count hook (coroutines included): with skyhold's Lua, the
//!   checkpoint count, charged at calls, returns and loop back-edges
//!   ([`crate::budget::checkpoints`]). Made sticky: once spent,
//!   `pcall`, `xpcall`, `coroutine.resume`, `coroutine.wrap` and
//!   `coroutine.close` re-raise instead of catching, so the message ends.
//! - String pattern functions run in Rust and count their steps against the
//!   same budget (see [`crate::lpattern`]).

use mlua::chunk::ChunkMode;
use mlua::state::{GcIncParams, GcMode};
use mlua::{Function, Lua, LuaOptions, StdLib, Table, Value, VmState};
use skyhold_core::Context;

pub use crate::budget::{Budget, BUDGET_ERROR};

/// Sandbox limits.
#[derive(Clone, Debug)]
pub struct SandboxOptions {
    /// Bytes of Lua memory per service (`lua_memory_limit`).
    pub memory_limit: usize,
    /// VM instructions per message (`lua_instruction_budget`).
    pub instruction_budget: u64,
    /// Wall-clock time per message (`lua_time_limit`), the net under the
    /// instruction count; `Duration::ZERO`: none.
    pub time_limit: std::time::Duration,
    /// Retire a service whose message breaks either limit, rather than only
    /// failing that message (`lua_on_limit = retire`; default `fail`).
    pub retire_on_limit: bool,
    /// The node's file roots (`file_read_roots`, `file_write_root`, …);
    /// `None` or roots that reach nothing: no `io`.
    pub files: Option<std::sync::Arc<crate::files::FileRoots>>,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            memory_limit: 64 << 20,
            instruction_budget: 100_000_000,
            time_limit: std::time::Duration::from_secs(30),
            retire_on_limit: false,
            files: None,
        }
    }
}

/// Lua run once per state, with the real functions as arguments: takes
/// out what a service may not have, puts the sandbox's `load`, `debug` and
/// `os` in, and the budget-aware wrappers and the limited
/// `collectgarbage` (in one chunk: one call into Lua per state instead of
/// one per table operation from Rust).
const WRAPPERS: &str = r#"
local G, flag, budget_error, is_spent, load, traceback, lua_loaded = ...
-- No bytecode can be made, nor reached through the string metatable.
G.string.dump = nil
getmetatable("").__metatable = false
-- The small `os`; Lua's own table of loaded libraries held the full one
-- too: the small one takes its place there, so the full one is collected.
local os = G.os
local small_os = { time = os.time, clock = os.clock, date = os.date, difftime = os.difftime }
lua_loaded.os = small_os
G.os = small_os
-- `print` (the C one writes to stdout) comes back bound to the service,
-- logging; `io` only where the node names file roots, after this chunk.
G.dofile, G.loadfile, G.package, G.io, G.require, G.print = nil, nil, nil, nil, nil, nil
G.load = load
-- debug.traceback for the running coroutine: nothing else of `debug`.
G.debug = { traceback = traceback }

local raw_pcall, raw_xpcall, raw_error, raw_select = pcall, xpcall, error, select
local co = G.coroutine
local raw_resume, raw_create, raw_close, raw_status = co.resume, co.create, co.close, co.status
local table_pack, table_unpack = table.pack, table.unpack

-- After a protected call: re-raise once the budget is spent. `flag[1]` is
-- the cheap look; a caught error also asks the budget itself, because a
-- hook that found it spent at the C-stack limit may have been unable to
-- write the flag (or even to raise its own error there).
local function check(ok, ...)
	if flag[1] or (not ok and is_spent()) then
		raw_error(budget_error, 0)
	end
	return ok, ...
end

G.pcall = function(f, ...)
	return check(raw_pcall(f, ...))
end

G.xpcall = function(f, handler, ...)
	return check(raw_xpcall(f, function(e)
		if flag[1] then
			return e
		end
		return handler(e)
	end, ...))
end

co.resume = function(c, ...)
	return check(raw_resume(c, ...))
end

co.close = function(c)
	return check(raw_close(c))
end

co.wrap = function(f)
	local c = raw_create(f)
	return function(...)
		local r = table_pack(raw_resume(c, ...))
		check(r[1])
		if not r[1] then
			raw_error(r[2], 0)
		end
		return table_unpack(r, 2, r.n)
	end
end

local raw_collect = collectgarbage
-- The options allowed, compared one by one: a table of them would cost
-- every state its own copy.
G.collectgarbage = function(opt, ...)
	opt = opt or "collect"
	if opt ~= "count" and opt ~= "collect" and opt ~= "step" and opt ~= "isrunning"
		and opt ~= "incremental" and opt ~= "generational" then
		raw_error("collectgarbage '" .. tostring(opt) .. "' is not available in skyhold", 2)
	end
	return raw_collect(opt, ...)
end
"#;

/// A new sandboxed state, and its budget, that belongs to no service yet:
/// [`bind`] gives it to one (its `print`). [`crate::warm`] builds these
/// ahead of need; a boot that finds none builds its own.
///
/// The memory limit is not set yet: the caller sets it (with
/// [`apply_memory_limit`]) once the runtime's own setup is done and before
/// any service code runs. Until a limit is set, mlua creates strings and
/// sets table fields without a protected call each, which is most of the
/// cost of building a state.
pub fn new_unbound(opts: &SandboxOptions) -> mlua::Result<(Lua, Budget)> {
    // A state's heap grows from nothing to its size at rest while it boots;
    // at Lua's usual pause the collector runs several cycles over it on the
    // way, each one marking everything built so far. Finish the cycle now,
    // while the heap is smallest (mlua's own part and the base library,
    // before the other libraries), with a pause that puts the next one
    // past a booted service's size; [`end_boot_collection`] puts Lua's own
    // back. A boot that makes more garbage than that is still collected.
    let lua = Lua::new_with(StdLib::NONE, LuaOptions::default())?;
    lua.gc_set_mode(GcMode::Incremental(
        GcIncParams::default().pause(BOOT_GC_PAUSE),
    ));
    lua.gc_collect()?;
    lua.load_std_libs(
        StdLib::COROUTINE
            | StdLib::TABLE
            | StdLib::STRING
            | StdLib::UTF8
            | StdLib::MATH
            | StdLib::OS,
    )?;
    let g = lua.globals();

    // load: text only, in this service's environment unless one is given.
    let env_load = lua.create_function(
        |lua, (chunk, name, _mode, env): (Value, Option<String>, Option<String>, Option<Table>)| {
            let text = match chunk {
                Value::String(s) => s,
                _ => {
                    return Ok((
                        Value::Nil,
                        Value::String(lua.create_string("load: only source text can be loaded")?),
                    ))
                }
            };
            let bytes = text.as_bytes();
            let f = lua
                .load(&bytes[..])
                .set_name(name.unwrap_or_else(|| "=(load)".into()))
                .set_mode(ChunkMode::Text);
            let f = match env {
                Some(e) => f.set_environment(e),
                None => f,
            };
            match f.into_function() {
                Ok(f) => Ok((Value::Function(f), Value::Nil)),
                Err(e) => Ok((Value::Nil, Value::String(lua.create_string(e.to_string())?))),
            }
        },
    )?;

    // debug.traceback for the running coroutine (WRAPPERS puts it in `debug`).
    let traceback = lua.create_function(|lua, args: mlua::Variadic<Value>| {
        let msg = args.iter().find_map(|v| match v {
            Value::String(s) => Some(s.to_string_lossy()),
            _ => None,
        });
        let on_other_thread = matches!(args.first(), Some(Value::Thread(_)));
        if on_other_thread {
            return Ok(msg.unwrap_or_default());
        }
        // The level, as debug.traceback takes it: skynet.timeout's
        // trace starts at its caller, not at itself.
        let level = args
            .iter()
            .find_map(|v| match v {
                Value::Integer(n) if *n >= 0 => Some(*n as usize),
                _ => None,
            })
            .unwrap_or(1);
        Ok(lua.traceback(msg.as_deref(), level)?.to_string_lossy())
    })?;

    let budget = Budget::new(&lua, opts.instruction_budget)?;
    budget.set_time_limit(opts.time_limit);
    let flag = budget.flag().clone();
    let wrap: Function = crate::codecache::internal(&lua, "=sandbox", WRAPPERS)?;
    let b = budget.clone();
    let is_spent = lua.create_function(move |_, ()| Ok(b.spent()))?;
    let lua_loaded = lua.named_registry_value::<Value>("_LOADED")?;
    wrap.call::<()>((
        g.clone(),
        flag.clone(),
        BUDGET_ERROR,
        is_spent.clone(),
        env_load.clone(),
        traceback.clone(),
        lua_loaded,
    ))?;
    if let Some(roots) = opts.files.as_ref().filter(|r| r.any()) {
        crate::files::install(&lua, roots.clone())?;
    }
    let string: Table = g.get("string")?;
    // `setmetatable` remembers the objects given a `__gc`, so the runtime
    // runs their finalizers before it closes the state.
    crate::finalizers::install(&lua)?;
    crate::finalizers::keep_function(&lua, &is_spent)?;
    crate::lpattern::install(&lua, &string, budget.clone())?;
    // Every Rust function the state starts with stays alive until it is
    // closed, whatever the service does with it (see crate::finalizers).
    // They are in these places only (the rest of the standard library is
    // C functions, which have no finalizer); searching the whole of `_G`
    // instead costs each spawn about 150,000 more instructions. Of
    // `string`, only the pattern functions (Lua wrappers over Rust ones,
    // kept by `lpattern::install`): its C functions in the kept table would
    // cost every state a slot each, for nothing. The functions are kept
    // directly (a table set each), not through `keep`'s search, a call
    // into Lua each.
    crate::finalizers::keep_function(&lua, &env_load)?;
    crate::finalizers::keep_function(&lua, &traceback)?;
    if let Value::Table(io) = g.raw_get::<Value>("io")? {
        crate::finalizers::keep(&lua, &Value::Table(io))?;
    }
    // Native modules find the budget here to charge the work they do in Rust.
    lua.set_app_data(budget.clone());

    let b = budget.clone();
    lua.set_global_hook(crate::budget::hook_triggers(), move |_, _| {
        b.on_hook().map(|()| VmState::Continue)
    })?;
    Ok((lua, budget))
}

/// The collector's pause (percent of the live heap) while a state boots.
const BOOT_GC_PAUSE: i32 = 1000;

/// Lua's default pause, for the rest of a state's life.
#[cfg(feature = "lua55")]
const LUA_GC_PAUSE: i32 = 250;
#[cfg(not(feature = "lua55"))]
const LUA_GC_PAUSE: i32 = 200;

/// Ends a boot: Lua's own collector pause again, and a full collection.
///
/// Loading leaves garbage (compiler temporaries, the chunk's closures that
/// ran once); a service may sit idle for hours, so it is collected now
/// rather than kept until the heap doubles.
pub fn end_boot_collection(lua: &Lua) {
    lua.gc_set_mode(GcMode::Incremental(
        GcIncParams::default().pause(LUA_GC_PAUSE),
    ));
    let _ = lua.gc_collect();
}

/// Gives an unbound state (from [`new_unbound`]) to the service behind
/// `ctx`: its `print` logs as that service.
pub fn bind(lua: &Lua, ctx: Context) -> mlua::Result<()> {
    crate::files::bind(lua, &ctx);
    // Lua's own tostring, as Lua's print uses: numbers as Lua writes them
    // (625000.0, 1e+15, -0.0), __tostring and __name honoured.
    let tostring: Function = lua.globals().get("tostring")?;
    let print = lua.create_function(move |_, args: mlua::Variadic<Value>| {
        let mut line = String::new();
        for (i, v) in args.iter().enumerate() {
            if i > 0 {
                line.push('\t');
            }
            let text: mlua::LuaString = tostring.call(v)?;
            line.push_str(&text.to_string_lossy());
        }
        ctx.log(&line);
        Ok(())
    })?;
    crate::finalizers::keep_function(lua, &print)?;
    lua.globals().set("print", print)
}

/// Sets the state's memory limit from `opts`: from here on an allocation
/// past it fails with a memory error.
pub fn apply_memory_limit(lua: &Lua, opts: &SandboxOptions) -> mlua::Result<()> {
    lua.set_memory_limit(opts.memory_limit).map(|_| ())
}

/// Loads source text (never a precompiled chunk) as a function.
pub fn load_text(lua: &Lua, text: &[u8], name: &str) -> mlua::Result<Function> {
    lua.load(text)
        .set_name(name)
        .set_mode(ChunkMode::Text)
        .into_function()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_only_where_the_node_names_file_roots() {
        let (lua, _) = new_unbound(&SandboxOptions::default()).unwrap();
        assert!(lua.globals().get::<Value>("io").unwrap().is_nil());
        let dir = std::env::temp_dir();
        let mut roots = crate::files::FileRoots::from_config(None, None, &dir, &dir).unwrap();
        let opts = SandboxOptions {
            files: Some(std::sync::Arc::new(crate::files::FileRoots::default())),
            ..SandboxOptions::default()
        };
        let (lua, _) = new_unbound(&opts).unwrap();
        assert!(lua.globals().get::<Value>("io").unwrap().is_nil());
        roots.set("file_dns", "true").unwrap();
        let opts = SandboxOptions {
            files: Some(std::sync::Arc::new(roots)),
            ..SandboxOptions::default()
        };
        let (lua, _) = new_unbound(&opts).unwrap();
        assert!(lua.globals().get::<Value>("io").unwrap().is_table());
    }
}
