//! skyhold's Lua lends the checkpoint hook to a coroutine only while it
//! runs (`crates/lua-src-patched/PATCH.md`, "A coroutine's hook is lent"):
//! a suspended coroutine holds no hook, so the binding does not look for a
//! hook's frame at each resume. These tests hold what must not change with
//! it: code in a coroutine is counted whoever resumes or closes it, the
//! count runs on across switches, a hook that yields still suspends the
//! coroutine and is resumed as one, and a coroutine's own hook stays its own.

use mlua::thread::ThreadStatus;
use mlua::{Function, HookTriggers, Lua, Thread, VmState};
use skyhold_lua::budget::BUDGET_ERROR;
use skyhold_lua::sandbox::{apply_memory_limit, new_unbound, SandboxOptions};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

fn sandbox(instructions: u64) -> (Lua, skyhold_lua::budget::Budget) {
    let opts = SandboxOptions {
        instruction_budget: instructions,
        memory_limit: 16 << 20,
        ..SandboxOptions::default()
    };
    let (lua, budget) = new_unbound(&opts).unwrap();
    apply_memory_limit(&lua, &opts).unwrap();
    (lua, budget)
}

#[test]
fn a_coroutine_made_in_rust_is_counted_after_each_yield() {
    let (lua, budget) = sandbox(500_000);
    let f: Function = lua
        .load("return function() coroutine.yield(1) coroutine.yield(2) while true do end end")
        .eval()
        .unwrap();
    let t: Thread = lua.create_thread(f).unwrap();
    budget.arm();
    assert_eq!(t.resume::<i64>(()).unwrap(), 1);
    assert_eq!(t.resume::<i64>(()).unwrap(), 2);
    // Suspended twice with no hook of its own: the loop it runs now is
    // still stopped.
    let e = t.resume::<()>(()).unwrap_err().to_string();
    assert!(e.contains(BUDGET_ERROR), "{e}");
    assert!(budget.spent());
}

/// A coroutine suspended inside a `<close>` scope whose handler never ends.
const ENDLESS_CLOSE: &str = "return function()
    local x <close> = setmetatable({}, { __close = function() while true do end end })
    coroutine.yield()
end";

#[test]
fn close_handlers_run_from_rust_are_counted() {
    let (lua, budget) = sandbox(500_000);
    let f: Function = lua.load(ENDLESS_CLOSE).eval().unwrap();
    let t: Thread = lua.create_thread(f).unwrap();
    budget.arm();
    t.resume::<()>(()).unwrap();
    assert_eq!(t.status(), ThreadStatus::Resumable);
    // Resetting a suspended coroutine closes it (`lua_closethread`): its
    // handler runs outside any resume, and is stopped.
    let e = t
        .reset(lua.create_function(|_, ()| Ok(())).unwrap())
        .unwrap_err()
        .to_string();
    assert!(e.contains(BUDGET_ERROR), "{e}");
    assert!(budget.spent());
}

#[test]
fn close_handlers_run_by_coroutine_close_are_counted() {
    let (lua, budget) = sandbox(500_000);
    budget.arm();
    let r = lua
        .load(
            "local co = coroutine.create((function() ".to_owned()
                + ENDLESS_CLOSE
                + " end)())
             coroutine.resume(co)
             return coroutine.close(co)",
        )
        .exec();
    let e = r.unwrap_err().to_string();
    assert!(e.contains(BUDGET_ERROR), "{e}");
    assert!(budget.spent());
}

/// How many times the checkpoint count's hook is called while `code` runs
/// in a plain state.
fn checkpoint_calls(code: &str) -> u64 {
    let lua = Lua::new();
    let n = count_checkpoints(&lua);
    lua.load(code).exec().unwrap();
    n.load(Ordering::Relaxed)
}

/// Sets the checkpoint count on `lua`, with a hook that counts its calls.
fn count_checkpoints(lua: &Lua) -> Arc<AtomicU64> {
    let (n, hook) = counting_hook();
    lua.set_global_hook(HookTriggers::new().every_nth_instruction(0), hook)
        .unwrap();
    n
}

/// A hook that counts its calls, and the count.
fn counting_hook() -> (
    Arc<AtomicU64>,
    impl Fn(&Lua, &mlua::debug::Debug) -> mlua::Result<VmState> + Send + 'static,
) {
    let n = Arc::new(AtomicU64::new(0));
    let m = n.clone();
    let hook = move |_: &Lua, _: &mlua::debug::Debug| {
        m.fetch_add(1, Ordering::Relaxed);
        Ok(VmState::Continue)
    };
    (n, hook)
}

#[test]
fn the_count_runs_on_across_coroutine_switches() {
    // The same work, about 600 charged units a piece, done 2,000 times:
    // straight, in one coroutine resumed each time, and in a new coroutine
    // each time. No piece reaches a period (1,000) alone, so a count that
    // started again with each run or each coroutine would miss most of it.
    let piece = "local x = 0 for j = 1, 200 do x = x + j end";
    let straight = checkpoint_calls(&format!(
        "local function piece() {piece} end for i = 1, 2000 do piece() end"
    ));
    let resumed = checkpoint_calls(&format!(
        "local co = coroutine.wrap(function() while true do {piece} coroutine.yield() end end)
         for i = 1, 2000 do co() end"
    ));
    let fresh = checkpoint_calls(&format!(
        "local function piece() {piece} end
         for i = 1, 2000 do coroutine.resume(coroutine.create(piece)) end"
    ));
    assert!(straight >= 1000, "{straight}");
    for (name, calls) in [("resumed", resumed), ("fresh", fresh)] {
        assert!(
            calls * 10 >= straight * 9 && calls <= straight * 2,
            "{name}: {calls} hook calls against {straight} for the same work straight"
        );
    }
}

#[test]
fn a_hook_that_yields_suspends_the_coroutine_and_resuming_goes_on() {
    let lua = Lua::new();
    let yields = Arc::new(AtomicU64::new(0));
    let y = yields.clone();
    lua.set_global_hook(HookTriggers::new().every_nth_instruction(0), move |_, _| {
        // Yield from the hook the first three times it is called.
        if y.fetch_add(1, Ordering::Relaxed) < 3 {
            Ok(VmState::Yield)
        } else {
            Ok(VmState::Continue)
        }
    })
    .unwrap();
    let f: Function = lua
        .load("return function(n) local s = 0 for i = 1, n do s = s + i end return s end")
        .eval()
        .unwrap();
    let t: Thread = lua.create_thread(f).unwrap();
    // The hook yields: no values, and the coroutine is resumable.
    let first: mlua::MultiValue = t.resume(100_000).unwrap();
    assert!(first.is_empty());
    assert_eq!(t.status(), ThreadStatus::Resumable);
    // Resuming (with no arguments: a hook's yield takes none) goes on where
    // the hook stopped it, until the loop ends.
    let mut result = None;
    for _ in 0..10 {
        let out: mlua::MultiValue = t.resume(()).unwrap();
        if t.status() == ThreadStatus::Finished {
            result = out.into_iter().next().and_then(|v| v.as_i64());
            break;
        }
    }
    assert_eq!(result, Some(100_000 * 100_001 / 2));
    assert!(yields.load(Ordering::Relaxed) >= 3);
}

#[test]
fn a_coroutine_keeps_a_hook_of_its_own() {
    let lua = Lua::new();
    count_checkpoints(&lua);
    let f: Function = lua
        .load("return function() while true do local x = 0 for i = 1, 100 do x = x + i end coroutine.yield() end end")
        .eval()
        .unwrap();
    let t: Thread = lua.create_thread(f).unwrap();
    // An instruction hook of its own, not the state's checkpoint hook.
    let (own, hook) = counting_hook();
    t.set_hook(HookTriggers::new().every_nth_instruction(1), hook)
        .unwrap();
    let mut seen = Vec::new();
    for _ in 0..3 {
        t.resume::<()>(()).unwrap();
        seen.push(own.load(Ordering::Relaxed));
    }
    // Called in every run, not only the first: suspending kept it.
    assert!(seen[0] >= 150, "{seen:?}");
    assert!(
        seen[1] >= seen[0] + 150 && seen[2] >= seen[1] + 150,
        "{seen:?}"
    );
}

#[test]
fn a_coroutine_made_before_the_hook_was_set_is_counted_when_it_runs() {
    let lua = Lua::new();
    let f: Function = lua
        .load("return function() local s = 0 for i = 1, 200000 do s = s + i end return s end")
        .eval()
        .unwrap();
    // Made while the state had no hook: it has none of its own, and a
    // hook set later on the main thread is not copied to it.
    let t: Thread = lua.create_thread(f).unwrap();
    let n = count_checkpoints(&lua);
    assert_eq!(t.resume::<i64>(()).unwrap(), 200000 * 200001 / 2);
    // Lent by its resumer for the run: about 400 k units charged.
    let calls = n.load(Ordering::Relaxed);
    assert!(calls >= 200, "{calls} hook calls");
}
