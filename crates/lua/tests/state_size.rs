//! The memory a bare Lua state takes, which every service pays once.
//!
//! skyhold builds Lua with a smaller cache of C-API strings than stock
//! Lua's (`STRCACHE_N`, `crates/lua-src-patched/PATCH.md`, "Build
//! settings"): 80 bytes of every state's `global_State` instead of 848.
//! The bound is Lua 5.4's (the default build).
#![cfg(not(feature = "lua55"))]

use mlua::{Lua, LuaOptions, StdLib};

/// A bare state (no libraries) as mlua makes it: Lua's main thread and
/// `global_State`, mlua's registry entries and its reference thread.
fn bare_state_bytes() -> usize {
    let lua = Lua::new_with(StdLib::NONE, LuaOptions::default()).unwrap();
    lua.gc_collect().unwrap();
    lua.used_memory()
}

#[test]
fn a_bare_state_has_the_small_string_cache() {
    let bytes = bare_state_bytes();
    assert!(
        bytes <= BARE,
        "a bare state takes {bytes} bytes, more than the {BARE} it takes with \
         skyhold's STRCACHE_N (is lua-src-patched's build setting gone?)"
    );
}

/// A bare Lua 5.4 state took 8,926 bytes when this test was written (mlua
/// 0.12.2), with the small cache; stock Lua's would put it 768 bytes
/// higher, at 9,694. The bound leaves room for mlua's own growth.
const BARE: usize = 9_200;
