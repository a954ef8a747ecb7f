//! Compiled code shared by every Lua state of the process.
//!
//! skyhold's patched Lua (`crates/lua-src-patched/PATCH.md`) can share
//! function prototypes and strings between states. One state, the
//! *template*, loads the runtime's library chunks once, registers each
//! under an id and then freezes: from then on its strings and the
//! registered prototypes belong to no state, are never collected or
//! written, and every state made after the freeze interns the same text to
//! the same string and can load a registered chunk as a new closure (its
//! own upvalues, its own environment) over the shared prototypes, with no
//! undump and no interning. A state made before the freeze, a chunk that
//! was not registered (a service's own code, a file changed since: hot
//! reload makes new prototypes) and a VM without the patch (stock Lua
//! answers the registration with "version mismatch") all load their own
//! copy as before.
//!
//! Everything goes through `lua_load` of binary chunks, which only the
//! runtime can make: the sandbox's `load` takes text only, so a service can
//! name no shared chunk, and prototypes are immutable in Lua (no API writes
//! bytecode or constants, `string.dump` is gone), so a service cannot
//! change what another runs.

use mlua::chunk::ChunkMode;
use mlua::{Function, Lua};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// The most chunks a process shares (the patched VM holds up to 256); the
/// runtime's library is about a dozen.
pub const MAX_SHARED_CHUNKS: usize = 128;

/// The shared chunks by the address of the compiled form each was
/// registered from (kept alive here, so the address is never reused), with
/// the small binary chunk that names it.
struct Registry {
    refs: HashMap<usize, (Arc<Vec<u8>>, Vec<u8>)>,
    /// Why nothing is shared, when nothing is.
    absent: Option<String>,
}

static SHARED: OnceLock<Registry> = OnceLock::new();
static SHARED_LOADS: AtomicU64 = AtomicU64::new(0);
static OWN_LOADS: AtomicU64 = AtomicU64::new(0);

/// What sharing has done in this process, for operators and tests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SharedStats {
    /// Chunks shared.
    pub chunks: usize,
    /// Loads that got a closure over shared prototypes.
    pub shared_loads: u64,
    /// Loads of a shared chunk that had to undump their own copy (a state
    /// made before the freeze).
    pub own_loads: u64,
    /// Why nothing is shared, if nothing is (a VM without the patch, or
    /// the template failed).
    pub absent: Option<String>,
}

/// The counters.
pub fn stats() -> SharedStats {
    let r = SHARED.get();
    SharedStats {
        chunks: r.map_or(0, |r| r.refs.len()),
        shared_loads: SHARED_LOADS.load(Ordering::Relaxed),
        own_loads: OWN_LOADS.load(Ordering::Relaxed),
        absent: r.and_then(|r| r.absent.clone()),
    }
}

/// Whether chunks are shared in this process.
pub fn available() -> bool {
    SHARED.get().is_some_and(|r| !r.refs.is_empty())
}

/// Makes the template once per process: `build` returns a state holding
/// what every service state will hold (the names it interns become shared)
/// and the compiled chunks to share. Later calls do nothing. Call it
/// before any service state exists: states made earlier share nothing.
pub fn share_once<F>(build: F)
where
    F: FnOnce() -> mlua::Result<(Lua, Vec<Arc<Vec<u8>>>)>,
{
    SHARED.get_or_init(|| match build() {
        Ok((template, chunks)) => register(template, chunks),
        Err(e) => Registry {
            refs: HashMap::new(),
            absent: Some(format!("the template state could not be built: {e}")),
        },
    });
}

/// Registers `chunks` in `template` and freezes it. The template is never
/// closed (nor are its functions released), whatever happens: the patched
/// VM may already hold its objects as shared.
fn register(template: Lua, chunks: Vec<Arc<Vec<u8>>>) -> Registry {
    let mut refs = HashMap::new();
    let mut absent = None;
    let mut pending = Vec::new();
    for (n, compiled) in chunks.into_iter().take(MAX_SHARED_CHUNKS).enumerate() {
        let id = (n as u64 + 1).to_le_bytes();
        let mut chunk = b"\x1bLuaR".to_vec();
        chunk.extend_from_slice(&id);
        chunk.extend_from_slice(&compiled);
        match load_raw(&template, &chunk) {
            Ok(f) => std::mem::forget(f),
            Err(e) => {
                absent = Some(format!("this Lua cannot share code: {e}"));
                break;
            }
        }
        let mut reference = b"\x1bLuaS".to_vec();
        reference.extend_from_slice(&id);
        pending.push((compiled, reference));
    }
    if absent.is_none() && !pending.is_empty() {
        let freeze = template
            .load("return true")
            .set_mode(ChunkMode::Text)
            .into_function()
            .map(|f| f.dump(true));
        let frozen = freeze.and_then(|tail| {
            let mut chunk = b"\x1bLuaF".to_vec();
            chunk.extend_from_slice(&tail);
            load_raw(&template, &chunk)
        });
        match frozen {
            Ok(f) => {
                std::mem::forget(f);
                for (compiled, reference) in pending {
                    refs.insert(Arc::as_ptr(&compiled) as usize, (compiled, reference));
                }
            }
            Err(e) => absent = Some(format!("the shared code could not be frozen: {e}")),
        }
    }
    std::mem::forget(template);
    Registry { refs, absent }
}

fn load_raw(lua: &Lua, chunk: &[u8]) -> mlua::Result<Function> {
    lua.load(chunk)
        .set_name("=(shared)")
        .set_mode(ChunkMode::Binary)
        .into_function()
}

/// `compiled` loaded into `lua` as a closure over the shared prototypes,
/// if it is a shared chunk and `lua` was made after the freeze; `None`
/// otherwise (the caller undumps its own copy).
pub fn load(lua: &Lua, name: &str, compiled: &Arc<Vec<u8>>) -> Option<Function> {
    let (_, reference) = SHARED.get()?.refs.get(&(Arc::as_ptr(compiled) as usize))?;
    match lua
        .load(reference.as_slice())
        .set_name(name)
        .set_mode(ChunkMode::Binary)
        .into_function()
    {
        Ok(f) => {
            SHARED_LOADS.fetch_add(1, Ordering::Relaxed);
            Some(f)
        }
        Err(_) => {
            OWN_LOADS.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}
