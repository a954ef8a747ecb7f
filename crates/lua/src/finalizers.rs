//! The finalizers (`__gc`) of a service's Lua objects, run by the runtime
//! before the service's state is closed, and the Rust functions kept alive
//! for as long as the state lives.
//!
//! Why: every Rust function Lua can call is an mlua closure owned by a
//! userdata that has a `__gc` of its own, and mlua frees the closure in
//! that `__gc` whether or not anything still refers to the function (mlua
//! 0.12 drops it in place and leaves the function callable). Lua finalizes
//! objects newest first: at `lua_close` all of them, and in a collection
//! all those that became garbage together. So a service object whose
//! `__gc` calls a Rust function built after the object was made (the
//! lazily built `skynet.core` functions, a module required later) would
//! call a freed closure — memory corruption the service's own code can
//! cause. Two rules close it:
//!
//! - Before the state is dropped, [`run_all`] calls every finalizer a
//!   service registered (through `setmetatable`, which the sandbox wraps
//!   to remember each object given a metatable with `__gc`), newest first
//!   as Lua would, while every Rust function is alive (nothing has been
//!   finalized: `lua_close` has not started, and what the finalizers can
//!   reach is reachable), under the instruction budget; then it takes the
//!   metatable off each of those objects, so `lua_close` finds no `__gc`
//!   on them and runs no service code at all.
//! - Rust functions built after the boot are kept reachable from the
//!   registry ([`keep`]) and never built twice, so no collection while
//!   the service runs can finalize one in the same cycle as an object
//!   whose `__gc` calls it.
//!
//! A native module that sets a metatable from Rust on a table Lua code
//! can see (so the metatable may have a `__gc` Lua put there) uses
//! [`set_metatable`], so the object is remembered too.

use mlua::{Function, Lua, Table, Value};
use std::collections::HashSet;

use crate::budget::Budget;

/// What [`install`] leaves in a state's app data.
struct Handles {
    /// The weak list of objects given a `__gc` (`n`: its length).
    list: Table,
    /// Remembers one object.
    track: Function,
    /// Calls one finalizer: `call(gc, t)`.
    call: Function,
    /// Keeps the functions in a value reachable (see [`keep`]).
    keep: Function,
    /// The functions kept, as keys.
    kept: Table,
    /// What [`remember`] keeps, by registry table name.
    remembered: Table,
}

/// Replaces `setmetatable` with one that remembers each object given a
/// metatable with a `__gc` field (in a list with weak values: an object
/// collected, or set aside by the collector to be finalized, leaves it, so
/// its finalizer runs once, Lua's way). The list is compacted when it
/// doubles, so a service making and dropping such objects does not grow
/// it without bound.
const WRAP: &str = r#"
local G, list, kept = ...
local setmetatable, rawget, type, pcall, error = setmetatable, rawget, type, pcall, error
local gsub = string.gsub
local n, limit = 0, 64
list.n = 0
local function track(t)
	n = n + 1
	list[n] = t
	if n >= limit then
		local j = 0
		for i = 1, n do
			local v = list[i]
			if v ~= nil then
				j = j + 1
				list[j] = v
			end
		end
		for i = j + 1, n do
			list[i] = nil
		end
		n = j
		limit = j < 32 and 64 or 2 * j
	end
	list.n = n
end
-- Called through pcall so that a misuse raises Lua's own message at the
-- caller's line (from here, it would name this chunk's line instead).
local function fix(e)
	if type(e) == "string" then
		e = gsub(e, "^bad argument #(%d) to '%?'", "bad argument #%1 to 'setmetatable'")
	end
	return e
end
G.setmetatable = function(t, mt)
	local ok, r = pcall(setmetatable, t, mt)
	if not ok then
		error(fix(r), 2)
	end
	if mt ~= nil and rawget(mt, "__gc") ~= nil then
		track(t)
	end
	return r
end
-- The functions kept alive (`kept`, as keys: each once), and what finds
-- them: a value, or the fields of a table a few levels down
-- (`_G.string.find` is two), by `next` so no metamethod runs.
local next = next
local function keep(v, depth, seen)
	local tv = type(v)
	if tv == "function" then
		kept[v] = true
	elseif tv == "table" and depth < 3 and not seen[v] then
		seen[v] = true
		for _, x in next, v do
			keep(x, depth + 1, seen)
		end
	end
end
return track, function(gc, t) gc(t) end, function(v) keep(v, 0, {}) end, kept
"#;

/// Slots the kept table starts with (a booted service keeps about a dozen
/// functions).
const KEPT_AT_BOOT: usize = 16;

/// Installs the remembering `setmetatable` in a new state (before any
/// code that may use it is loaded).
pub fn install(lua: &Lua) -> mlua::Result<()> {
    let list = lua.create_table()?;
    let weak = lua.create_table()?;
    weak.raw_set("__mode", "v")?;
    list.set_metatable(Some(weak))?;
    // Sized for the functions every service keeps (the sandbox's, `print`,
    // `require`, `skynet.core`'s builder): grown one step at a time, the
    // table would be rebuilt five times in every boot.
    let kept = lua.create_table_with_capacity(0, KEPT_AT_BOOT)?;
    let wrap: Function = crate::codecache::internal(lua, "=finalizers", WRAP)?;
    let (track, call, keep, kept): (Function, Function, Function, Table) =
        wrap.call((lua.globals(), list.clone(), kept))?;
    // The kept table must be reachable from a root, not only from Rust.
    lua.set_named_registry_value("skyhold.kept", kept.clone())?;
    let remembered = lua.create_table()?;
    lua.set_named_registry_value("skyhold.remembered", remembered.clone())?;
    lua.set_app_data(Handles {
        list,
        track,
        call,
        keep,
        kept,
        remembered,
    });
    Ok(())
}

fn handles<R>(lua: &Lua, f: impl FnOnce(&Handles) -> R) -> Option<R> {
    lua.app_data_ref::<Handles>().map(|h| f(&h))
}

/// Sets `mt` as the metatable of `t` from Rust, remembering `t` if `mt` has
/// a `__gc` field (see the module's notes): for native modules that set a
/// metatable Lua code can change.
pub fn set_metatable(lua: &Lua, t: &Table, mt: Option<Table>) -> mlua::Result<()> {
    let has_gc = match &mt {
        Some(m) => !m.raw_get::<Value>("__gc")?.is_nil(),
        None => false,
    };
    t.set_metatable(mt)?;
    if has_gc {
        if let Some(track) = handles(lua, |h| h.track.clone()) {
            track.call::<()>(t.clone())?;
        }
    }
    Ok(())
}

/// Keeps every function in `value` (itself, or found in it: a table's
/// fields, and theirs, a few levels down) reachable until the state
/// closes, so no collection can finalize one while Lua code could still
/// reach it (see the module's notes). For the functions a state is built
/// with, and a module's table when it is built. Outside a state set up by
/// [`install`] (a module's own unit tests) it does nothing.
pub fn keep(lua: &Lua, value: &Value) -> mlua::Result<()> {
    match handles(lua, |h| h.keep.clone()) {
        Some(keep) => keep.call(value),
        None => Ok(()),
    }
}

/// Keeps one Rust function reachable until the state closes (as [`keep`],
/// without searching: for a function the caller just made).
pub fn keep_function(lua: &Lua, f: &Function) -> mlua::Result<()> {
    match handles(lua, |h| h.kept.clone()) {
        Some(kept) => kept.raw_set(f, true),
        None => Ok(()),
    }
}

/// The table of functions kept alive (see [`keep_function`]), for code
/// that keeps several from Lua; `None` outside a state set up by
/// [`install`].
pub(crate) fn kept(lua: &Lua) -> Option<Table> {
    handles(lua, |h| h.kept.clone())
}

/// What was remembered under `name` in the set `set` by [`remember`]
/// (nil if nothing).
pub fn remembered(lua: &Lua, set: &str, name: &str) -> mlua::Result<Value> {
    let Some(sets) = handles(lua, |h| h.remembered.clone()) else {
        return Ok(Value::Nil);
    };
    match sets.raw_get::<Value>(set)? {
        Value::Table(t) => t.raw_get(name),
        _ => Ok(Value::Nil),
    }
}

/// Keeps `value` reachable until the state closes, under `name` in the
/// set `set`, for [`remembered`] to find: what is built on demand (a
/// `skynet.core` function, a native module) is built once, and stays
/// alive however Lua code drops it. Outside a state set up by [`install`]
/// it does nothing.
pub fn remember(lua: &Lua, set: &str, name: &str, value: Value) -> mlua::Result<()> {
    match remembered_set(lua, set, 0)? {
        Some(t) => t.raw_set(name, value),
        None => Ok(()),
    }
}

/// The table [`remember`] keeps the set `set` in (made on first use), for
/// a caller that remembers many values or looks them up often; `None`
/// outside a state set up by [`install`]. A set made now starts with
/// `capacity` slots (for a caller that knows how many it will hold:
/// grown one step at a time, a table is rebuilt at every power of two).
pub fn remembered_set(lua: &Lua, set: &str, capacity: usize) -> mlua::Result<Option<Table>> {
    let Some(sets) = handles(lua, |h| h.remembered.clone()) else {
        return Ok(None);
    };
    match sets.raw_get::<Value>(set)? {
        Value::Table(t) => Ok(Some(t)),
        _ => {
            let t = lua.create_table_with_capacity(0, capacity)?;
            sets.raw_set(set, t.clone())?;
            Ok(Some(t))
        }
    }
}

/// Runs the finalizers of the objects the service gave a `__gc` (newest
/// first, until none is left: a finalizer may make more), then takes the
/// metatable off each of those objects so closing the state runs none of
/// them again. Call it with the budget armed: once it is spent, the rest
/// are not run, only disarmed. Returns the errors the finalizers raised.
///
/// Safe to call while every Rust function the state holds is alive, which
/// is the case until the state is dropped: nothing reachable is ever
/// finalized before `lua_close`, and the objects being finalized here are
/// held (and so is everything their finalizers reach).
pub fn run_all(lua: &Lua, budget: Option<&Budget>) -> Vec<String> {
    let mut errors = Vec::new();
    let Some((list, call)) = handles(lua, |h| (h.list.clone(), h.call.clone())) else {
        return errors;
    };
    let mut done: Vec<Table> = Vec::new();
    let mut seen: HashSet<usize> = HashSet::new();
    let mut stopped = false;
    loop {
        let n: i64 = list.raw_get("n").unwrap_or(0);
        let mut found = false;
        for i in (1..=n).rev() {
            let Ok(Value::Table(t)) = list.raw_get::<Value>(i) else {
                continue;
            };
            let _ = list.raw_set(i, Value::Nil);
            found = true;
            if !seen.insert(t.to_pointer() as usize) {
                continue;
            }
            if !stopped {
                let gc = t
                    .metatable()
                    .map(|mt| mt.raw_get::<Value>("__gc").unwrap_or(Value::Nil))
                    .unwrap_or(Value::Nil);
                if !gc.is_nil() {
                    if let Err(e) = call.call::<()>((gc, t.clone())) {
                        errors.push(crate::lua_error::error_text(&e));
                        stopped = budget.is_some_and(Budget::spent);
                    }
                }
            }
            done.push(t);
        }
        if !found {
            break;
        }
    }
    for t in done {
        let _ = t.set_metatable(None);
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> Lua {
        let lua = Lua::new();
        install(&lua).unwrap();
        lua
    }

    #[test]
    fn finalizers_run_newest_first_once_and_not_again_at_close() {
        let lua = state();
        lua.load(
            r#"
            order = {}
            local mt = { __gc = function(t) order[#order + 1] = t.name end }
            KEEP = {}
            for i = 1, 5 do KEEP[i] = setmetatable({ name = i }, mt) end
            -- No __gc: not remembered.
            KEEP.plain = setmetatable({ name = "plain" }, {})
            -- Made garbage: finalized by the collector, not again by run_all.
            setmetatable({ name = "garbage" }, mt)
            collectgarbage() collectgarbage()
            "#,
        )
        .exec()
        .unwrap();
        let errors = run_all(&lua, None);
        assert!(errors.is_empty(), "{errors:?}");
        let order: Vec<Value> = lua
            .load("return table.unpack(order)")
            .eval::<mlua::MultiValue>()
            .unwrap()
            .into_vec();
        let order: Vec<String> = order.iter().map(|v| v.to_string().unwrap()).collect();
        assert_eq!(order, ["garbage", "5", "4", "3", "2", "1"]);
        // Their metatables are gone: closing the state runs nothing.
        let left: bool = lua
            .load("return getmetatable(KEEP[1]) == nil")
            .eval()
            .unwrap();
        assert!(left);
        lua.load("order = nil").exec().unwrap();
        drop(lua);
    }

    #[test]
    fn finalizers_made_by_finalizers_run_and_errors_are_returned() {
        let lua = state();
        lua.load(
            r#"
            ran = 0
            local mt
            mt = { __gc = function(t)
                ran = ran + 1
                if t.depth < 3 then KEEP2 = setmetatable({ depth = t.depth + 1 }, mt) end
            end }
            KEEP = setmetatable({ depth = 1 }, mt)
            BAD = setmetatable({}, { __gc = function() error("boom") end })
            PROTECTED = setmetatable({}, { __gc = function() ran = ran + 100 end, __metatable = "locked" })
            "#,
        )
        .exec()
        .unwrap();
        let errors = run_all(&lua, None);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("boom"), "{errors:?}");
        assert_eq!(lua.globals().get::<i64>("ran").unwrap(), 103);
    }

    #[test]
    fn the_list_is_compacted_as_objects_die() {
        let lua = state();
        let list = handles(&lua, |h| h.list.clone()).unwrap();
        let round = lua
            .load(
                r#"
                local mt = { __gc = function() end }
                for i = 1, 100000 do setmetatable({}, mt) end
                collectgarbage()
                "#,
            )
            .into_function()
            .unwrap();
        // A million objects over ten rounds: the list never holds more
        // than twice what one round leaves uncollected, not the million.
        for _ in 0..10 {
            round.call::<()>(()).unwrap();
            let n: i64 = list.raw_get("n").unwrap();
            assert!(n <= 200_064, "{n} entries kept");
        }
    }

    #[test]
    fn keep_finds_functions_a_few_levels_down_once_each() {
        let lua = state();
        let f = lua.create_function(|_, ()| Ok(1)).unwrap();
        let m: Table = lua
            .load("local f = ... local m = { f = f, inner = { f = f, deeper = { g = print } } } m.self = m return m")
            .call(f)
            .unwrap();
        keep(&lua, &Value::Table(m)).unwrap();
        let kept: Table = lua.named_registry_value("skyhold.kept").unwrap();
        // f once, print once; the loop through `m.self` ends.
        assert_eq!(kept.pairs::<Value, bool>().count(), 2);
        remember(&lua, "skyhold.test", "f", Value::Integer(7)).unwrap();
        assert_eq!(
            remembered(&lua, "skyhold.test", "f").unwrap(),
            Value::Integer(7)
        );
        assert!(remembered(&lua, "skyhold.none", "f").unwrap().is_nil());
    }

    #[test]
    fn set_metatable_from_rust_remembers_a_gc() {
        let lua = state();
        let t = lua.create_table().unwrap();
        let mt: Table = lua
            .load("ran = false return { __gc = function() ran = true end }")
            .eval()
            .unwrap();
        set_metatable(&lua, &t, Some(mt)).unwrap();
        lua.globals().set("KEEP", t).unwrap();
        assert!(run_all(&lua, None).is_empty());
        assert!(lua.globals().get::<bool>("ran").unwrap());
    }

    #[test]
    fn setmetatable_keeps_its_errors_and_result() {
        let lua = state();
        for (code, want) in [
            (
                "setmetatable(1, {})",
                "here:1: bad argument #1 to 'setmetatable' (table expected, got number)",
            ),
            (
                "setmetatable({}, 1)",
                "here:1: bad argument #2 to 'setmetatable' (nil or table expected",
            ),
            (
                "setmetatable(setmetatable({}, { __metatable = 1 }), {})",
                "here:1: cannot change a protected metatable",
            ),
        ] {
            let e = lua
                .load(code)
                .set_name("=here")
                .exec()
                .unwrap_err()
                .to_string();
            assert!(e.contains(want), "{code}: {e}");
        }
        let same: bool = lua
            .load("local t = {} return setmetatable(t, { __gc = print }) == t")
            .eval()
            .unwrap();
        assert!(same);
    }
}
