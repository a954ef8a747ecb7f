//! Building a service's Lua state (minimal version, to be replaced by the
//! hardened sandbox module).

use mlua::chunk::ChunkMode;
use mlua::{Function, HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};
use skyhold_core::Context;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// Sandbox limits.
#[derive(Clone, Debug)]
pub struct SandboxOptions {
    /// Bytes of Lua memory per service.
    pub memory_limit: usize,
    /// VM instructions per message.
    pub instruction_budget: u64,
}

impl Default for SandboxOptions {
    fn default() -> Self {
        SandboxOptions {
            memory_limit: 64 << 20,
            instruction_budget: 100_000_000,
        }
    }
}

/// The per-message instruction budget of one state.
#[derive(Clone)]
pub struct Budget {
    left: Arc<AtomicU64>,
    budget: u64,
    killed: Arc<AtomicBool>,
}

const HOOK_EVERY: u32 = 1000;

impl Budget {
    /// Starts a message's budget.
    pub fn arm(&self) {
        self.killed.store(false, Ordering::Relaxed);
        self.left.store(self.budget, Ordering::Relaxed);
    }

    /// Ends it.
    pub fn disarm(&self) {
        self.left.store(u64::MAX, Ordering::Relaxed);
    }
}

/// A new state for a service.
pub fn new_state(opts: &SandboxOptions, ctx: Context) -> mlua::Result<(Lua, Budget)> {
    let lua = Lua::new_with(
        StdLib::COROUTINE
            | StdLib::TABLE
            | StdLib::STRING
            | StdLib::UTF8
            | StdLib::MATH
            | StdLib::OS,
        LuaOptions::default(),
    )?;
    lua.set_memory_limit(opts.memory_limit)?;
    let g = lua.globals();
    let string: Table = g.get("string")?;
    string.set("dump", Value::Nil)?;
    lua.load("getmetatable('').__metatable = false")
        .set_mode(ChunkMode::Text)
        .exec()?;
    let os: Table = g.get("os")?;
    let small_os = lua.create_table()?;
    for k in ["time", "clock", "date", "difftime"] {
        small_os.set(k, os.get::<Value>(k)?)?;
    }
    g.set("os", small_os)?;
    for k in ["dofile", "loadfile"] {
        g.set(k, Value::Nil)?;
    }
    let env_load = lua.create_function(
        |lua,
         (chunk, name, _mode, env): (
            mlua::LuaString,
            Option<String>,
            Option<String>,
            Option<Table>,
        )| {
            let bytes = chunk.as_bytes();
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
    g.set("load", env_load)?;
    let log = ctx.clone();
    g.set(
        "print",
        lua.create_function(move |_, args: mlua::Variadic<Value>| {
            let parts: Vec<String> = args
                .iter()
                .map(|v| v.to_string().unwrap_or_default())
                .collect();
            log.log(&parts.join("\t"));
            Ok(())
        })?,
    )?;
    let budget = Budget {
        left: Arc::new(AtomicU64::new(u64::MAX)),
        budget: opts.instruction_budget,
        killed: Arc::new(AtomicBool::new(false)),
    };
    let b = budget.clone();
    lua.set_global_hook(
        HookTriggers::new().every_nth_instruction(HOOK_EVERY),
        move |_, _| {
            let left = b.left.load(Ordering::Relaxed);
            if left == u64::MAX {
                return Ok(VmState::Continue);
            }
            if left < u64::from(HOOK_EVERY) || b.killed.load(Ordering::Relaxed) {
                b.killed.store(true, Ordering::Relaxed);
                return Err(mlua::Error::runtime("instruction budget exceeded"));
            }
            b.left
                .store(left - u64::from(HOOK_EVERY), Ordering::Relaxed);
            Ok(VmState::Continue)
        },
    )?;
    Ok((lua, budget))
}

/// Loads source text (never a precompiled chunk) as a function.
pub fn load_text(lua: &Lua, text: &[u8], name: &str) -> mlua::Result<Function> {
    lua.load(text)
        .set_name(name)
        .set_mode(ChunkMode::Text)
        .into_function()
}
