//! The instruction budget with skyhold's Lua, which charges its count hook
//! at function entries, returns and loop back-edges instead of trapping
//! every instruction (`crates/lua-src-patched/PATCH.md`): every form of
//! endless Lua code still ends within its budget, and what the checkpoint
//! count charges stays close to the instructions Lua really executes.

use mlua::{HookTriggers, Lua, VmState};
use skyhold_lua::budget::{checkpoints, BUDGET_ERROR};
use skyhold_lua::sandbox::{apply_memory_limit, new_unbound, SandboxOptions};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[test]
fn this_build_has_the_checkpoint_count() {
    assert!(
        checkpoints(),
        "the Lua VM is not skyhold's patched one: is [patch.crates-io] lua-src in place?"
    );
}

/// Endless code: each kind of back-edge, call and re-entry the VM has.
const ENDLESS: &[(&str, &str)] = &[
    ("while", "while true do end"),
    ("while with a test", "local x = 0 while x >= 0 do x = x + 1 end"),
    ("repeat", "repeat until false"),
    ("repeat with a test", "local x = 0 repeat x = x + 1 until x < 0"),
    ("integer for", "for i = 1, math.maxinteger do end"),
    ("float for", "for i = 1.0, math.huge do end"),
    ("generic for, C iterator", "local t = {1} while true do for _ in ipairs(t) do end end"),
    ("generic for, Lua iterator", "for _ in function() return 1 end do end"),
    ("goto", "::top:: goto top"),
    ("tail recursion", "local function f() return f() end return f()"),
    (
        "mutual tail recursion",
        "local g local function f() return g() end g = function() return f() end return f()",
    ),
    (
        "calls in a loop",
        "local function f(n) if n > 0 then return f(n - 1) end end while true do f(100) end",
    ),
    (
        "metamethod in a loop",
        "local t = setmetatable({}, { __index = function() return 1 end }) while true do local _ = t.x end",
    ),
    (
        // No loop and no call instruction: only metamethod entries.
        "metamethod recursion tree",
        "local t = setmetatable({}, {}) getmetatable(t).__index = function(_, k)
            if k > 0 then local a, b = t[k - 1], t[k - 1] return a end return 0 end
         return t[60]",
    ),
    (
        "loop in a coroutine",
        "coroutine.wrap(function() while true do end end)()",
    ),
    (
        "yielding coroutine",
        "local co = coroutine.wrap(function() while true do coroutine.yield() end end) while true do co() end",
    ),
    ("pcall in a loop", "while true do pcall(function() end) end"),
    (
        // Most of the time at the C-stack limit, where a hook cannot run
        // Rust code nor write the budget's flag, under caught errors
        // (found by the lua_budget fuzz target).
        "pcall recursion at the C-stack limit",
        "local x = 0 local f
         f = function(x) pcall(function() x = x + f(x) end) x = x + f(x) return 1 end
         return f(x)",
    ),
    (
        "string.rep and patterns",
        "while true do local s = string.rep('a', 1000) s:find('b') end",
    ),
];

#[test]
fn every_form_of_endless_code_ends_within_its_budget() {
    let opts = SandboxOptions {
        instruction_budget: 500_000,
        memory_limit: 16 << 20,
        ..SandboxOptions::default()
    };
    for (name, code) in ENDLESS {
        let (lua, budget) = new_unbound(&opts).unwrap();
        apply_memory_limit(&lua, &opts).unwrap();
        budget.arm();
        let started = Instant::now();
        let r = lua.load(*code).set_name(*name).exec();
        let e = r.expect_err(name).to_string();
        assert!(e.contains(BUDGET_ERROR), "{name}: {e}");
        assert!(budget.spent(), "{name}");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{name}: took {:?}",
            started.elapsed()
        );
    }
}

/// Code whose work is done outside the VM's instructions: one instruction
/// or library call whose cost grows with the data (a copy, a collection, a
/// library loop), repeated. Before the patch charged that work, each of
/// these held its worker for minutes or for ever on a budget meant for a
/// fraction of a second (the first was found by the lua_budget fuzz
/// target: coroutines and pcalls filling memory, so that every allocation
/// ran an emergency collection of the whole heap).
const COSTLY: &[(&str, &str)] = &[
    ("move of a huge range", "table.move({}, 1, math.maxinteger - 1, 2)"),
    (
        "insert under a huge __len",
        "local t = setmetatable({}, {__len = function() return math.maxinteger - 1 end})
         table.insert(t, 1, 0)",
    ),
    (
        "concat under a huge __len",
        "local t = setmetatable({}, {__index = function() return '' end})
         table.concat(t, '', 1, math.maxinteger - 1)",
    ),
    (
        "remove under a huge __len",
        "local t = setmetatable({}, {__len = function() return math.maxinteger - 1 end})
         table.remove(t, 1)",
    ),
    (
        "concat of a big string",
        "local s = string.rep('a', 1 << 22) while true do local y = s .. 'x' end",
    ),
    (
        "full collections of a big heap",
        "local t = {} for i = 1, 1e6 do t[i] = i end while true do collectgarbage() end",
    ),
    (
        "big collection steps",
        "local t = {} for i = 1, 2e5 do t[i] = {} end while true do collectgarbage('step', 1 << 20) end",
    ),
    (
        "allocations at the memory limit",
        "local t = {} local ok = pcall(function() while true do t[#t + 1] = {} end end)
         while true do pcall(function() t[#t + 1] = {} end) end",
    ),
    (
        "sort without a comparator",
        "local t = {} for i = 1, 100000 do t[i] = -i end while true do table.sort(t) end",
    ),
    (
        "unpack of a big table",
        "local t = {} for i = 1, 200000 do t[i] = i end while true do table.unpack(t) end",
    ),
    (
        "comparing long strings",
        "local a, b = string.rep('a', 1 << 22), string.rep('a', 1 << 22) .. 'b'
         while true do local _ = a < b end",
    ),
    (
        "long strings equal",
        "local a, b = string.rep('a', 1 << 22) .. 'x', string.rep('a', 1 << 22) .. 'x'
         while true do local _ = a == b end",
    ),
    (
        "a long string as a table key",
        "local a, b = string.rep('a', 1 << 22) .. 'x', string.rep('a', 1 << 22) .. 'x'
         local t = {[a] = 1} while true do local y = t[b] t[b] = 2 end",
    ),
    (
        "byte of a long slice",
        "local s = string.rep('a', 1 << 20) while true do local y = s:byte(1, 100000) end",
    ),
    (
        "utf8 over a long string",
        "local s = string.rep('é', 1 << 20)
         while true do local y = utf8.len(s) local z = utf8.offset(s, 1 << 20) end",
    ),
    (
        "concat of many empty strings",
        "local t = {} for i = 1, 1e5 do t[i] = '' end while true do local y = table.concat(t) end",
    ),
    (
        "insert and remove at the front",
        "local t = {} for i = 1, 2e5 do t[i] = i end
         while true do table.insert(t, 1, 0) table.remove(t, 1) end",
    ),
    (
        "many varargs",
        "local function f(...) while true do local a = select('#', ...) end end
         f(table.unpack({}, 1, 100000))",
    ),
    (
        "long numerals",
        "local s = string.rep('1', 1 << 20) while true do local y = tonumber(s) local z = s + 0 end",
    ),
    (
        "next over an emptied array",
        "local t = {} for i = 1, 1e6 do t[i] = i end for i = 1, 1e6 do t[i] = nil end
         while true do local y = next(t) end",
    ),
    (
        "a long pack format",
        "local f = string.rep('i', 100000) local d = string.rep('\\0', 400000)
         while true do local y = string.unpack(f, d) end",
    ),
];

#[test]
fn work_done_outside_the_vm_is_charged() {
    let opts = SandboxOptions {
        instruction_budget: 20_000_000,
        memory_limit: 32 << 20,
        ..SandboxOptions::default()
    };
    for (name, code) in COSTLY {
        let (lua, budget) = new_unbound(&opts).unwrap();
        apply_memory_limit(&lua, &opts).unwrap();
        budget.arm();
        let started = Instant::now();
        let r = lua.load(*code).set_name(*name).exec();
        let took = started.elapsed();
        let e = r.expect_err(name).to_string();
        assert!(e.contains(BUDGET_ERROR), "{name}: {e}");
        // 20 million charged instructions are about a tenth of a second
        // of Lua here; the bound only tells "charged" from "not charged"
        // (minutes or for ever) on a loaded machine.
        assert!(took < Duration::from_secs(20), "{name}: took {took:?}");
    }
}

#[test]
fn the_time_limit_ends_what_the_count_lets_run() {
    // A budget no message reaches: only the wall clock can stop this.
    let opts = SandboxOptions {
        instruction_budget: u64::MAX / 4,
        time_limit: Duration::from_millis(300),
        ..SandboxOptions::default()
    };
    let (lua, budget) = new_unbound(&opts).unwrap();
    apply_memory_limit(&lua, &opts).unwrap();
    budget.arm();
    let started = Instant::now();
    let e = lua
        .load("while true do pcall(function() end) end")
        .exec()
        .expect_err("an endless loop")
        .to_string();
    let took = started.elapsed();
    assert!(e.contains(BUDGET_ERROR), "{e}");
    assert!(budget.spent() && budget.timed_out());
    assert!(
        took >= Duration::from_millis(300),
        "stopped early: {took:?}"
    );
    assert!(took < Duration::from_secs(20), "took {took:?}");
    // The next message starts with its own time.
    budget.arm();
    let n: i64 = lua.load("return 1 + 1").eval().unwrap();
    assert_eq!(n, 2);
    assert!(!budget.spent() && !budget.timed_out());
}

/// Instructions Lua executes for `code` (a count hook on every
/// instruction), and what the checkpoint count charges for it (its hook's
/// calls times the period).
fn both_counts(code: &str) -> (u64, u64) {
    let run = |triggers: HookTriggers, per_call: u64| -> u64 {
        let lua = Lua::new();
        let n = Arc::new(AtomicU64::new(0));
        let m = n.clone();
        lua.set_global_hook(triggers, move |_, _| {
            m.fetch_add(per_call, Ordering::Relaxed);
            Ok(VmState::Continue)
        })
        .unwrap();
        lua.load(code).exec().unwrap();
        n.load(Ordering::Relaxed)
    };
    let exact = run(HookTriggers::new().every_nth_instruction(1), 1);
    let charged = run(HookTriggers::new().every_nth_instruction(0), 1000);
    (exact, charged)
}

#[test]
fn the_checkpoint_count_charges_about_what_lua_executes() {
    let cases = [
        ("numeric for", "local s = 0 for i = 1, 300000 do s = s + i * 2 end"),
        (
            "while with a test",
            "local i, s = 0, 0 while i < 200000 do i = i + 1 if i % 3 == 0 then s = s + i end end",
        ),
        (
            "small calls",
            "local function add(a, b) local c = a + b return c end
             local s = 0 for i = 1, 100000 do s = add(s, i) end",
        ),
        (
            "straight-line function",
            "local function f(x)
                local a = x + 1 local b = a * 2 local c = b - 3 local d = c // 2
                local e = d + a local g = e * b local h = g - c
                return a + b + c + d + e + g + h
             end
             local s = 0 for i = 1, 50000 do s = s + f(i) end",
        ),
        (
            "recursion",
            "local function fib(n) if n < 2 then return n end return fib(n - 1) + fib(n - 2) end fib(22)",
        ),
        (
            "tables and ipairs",
            "local t = {} for i = 1, 50000 do t[#t + 1] = i end
             local s = 0 for _, v in ipairs(t) do s = s + v end
             for k, v in pairs(t) do s = s - v end",
        ),
        (
            "methods",
            "local C = {} C.__index = C
             function C.new() return setmetatable({ n = 0 }, C) end
             function C:bump(k) self.n = self.n + k return self end
             local o = C.new() for i = 1, 100000 do o:bump(i) end",
        ),
        (
            // A coroutine's count is its resumer's: what it spends is
            // charged when it yields or ends, not lost with it.
            "short coroutines",
            "local body = 'local a = 0 ' .. string.rep('a = 1 ', 500)
             local f = load('return function() ' .. body .. ' end')()
             for i = 1, 5000 do coroutine.wrap(f)() end",
        ),
        (
            "string building",
            "local parts = {} for i = 1, 20000 do parts[#parts + 1] = tostring(i) .. ',' end
             local s = table.concat(parts)",
        ),
    ];
    for (name, code) in cases {
        let (exact, charged) = both_counts(code);
        let ratio = charged as f64 / exact as f64;
        assert!(
            (0.5..=2.5).contains(&ratio),
            "{name}: Lua executed {exact} instructions, the checkpoint count charged {charged} ({ratio:.2}x)"
        );
    }
}

#[test]
fn a_job_inside_its_budget_is_not_stopped() {
    let opts = SandboxOptions {
        instruction_budget: 3_000_000,
        ..SandboxOptions::default()
    };
    let (lua, budget) = new_unbound(&opts).unwrap();
    budget.arm();
    // About a million instructions.
    let code = "local s = 0 for i = 1, 250000 do s = s + i end return s";
    let s: i64 = lua.load(code).eval().unwrap();
    assert_eq!(s, 250000 * 250001 / 2);
    assert!(!budget.spent());
}
