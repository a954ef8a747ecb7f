//! Builds a Lua program from the input (nested loops of every kind, calls,
//! recursion, metamethods, `goto`, `pcall`, coroutines, string and table
//! work) and runs it in a sandboxed state with a small instruction budget:
//! whatever the program, it must end (with a result, a Lua error or the
//! budget error) within a bounded time. The bound is generous: errors
//! caught deep in a recursion make Lua walk its call list on every catch,
//! work no budget charges (bench/PROFILE.md, session 12, open finding).
//! This exercises skyhold's patched VM, whose budget is charged at calls,
//! returns and loop back-edges (crates/lua-src-patched/PATCH.md).

#![no_main]

use libfuzzer_sys::fuzz_target;
use skyhold_lua::budget::{checkpoints, BUDGET_ERROR};
use skyhold_lua::sandbox::{apply_memory_limit, new_unbound, SandboxOptions};
use std::time::{Duration, Instant};

struct Gen<'a> {
    input: &'a [u8],
    at: usize,
    labels: usize,
    out: String,
}

impl Gen<'_> {
    fn byte(&mut self) -> u8 {
        let b = self.input.get(self.at).copied().unwrap_or(0);
        self.at += 1;
        b
    }

    fn small(&mut self) -> u8 {
        self.byte() % 7 + 1
    }

    fn block(&mut self, depth: u32) {
        let n = if depth > 4 { 1 } else { self.byte() % 4 };
        for _ in 0..n {
            self.stmt(depth + 1);
        }
    }

    fn stmt(&mut self, depth: u32) {
        if self.at >= self.input.len() || depth > 6 {
            self.out.push_str("x = x + 1\n");
            return;
        }
        let k = self.small();
        match self.byte() % 15 {
            0 => self.out.push_str("x = x + 1\n"),
            1 => {
                self.out.push_str(&format!("while x % {k} ~= 0 do\n"));
                self.block(depth);
                self.out.push_str("x = x + 1 end\n");
            }
            2 => {
                self.out
                    .push_str(&format!("for i = 1, {} do\n", k as u32 * 50));
                self.block(depth);
                self.out.push_str("end\n");
            }
            3 => {
                self.out.push_str("repeat\n");
                self.block(depth);
                self.out
                    .push_str(&format!("x = x + 1 until x % {k} == 0\n"));
            }
            4 => {
                self.out.push_str("for _, v in ipairs(t) do\n");
                self.block(depth);
                self.out.push_str("end\n");
            }
            5 => self.out.push_str("x = x + f(x)\n"),
            6 => self.out.push_str("x = x + m[x % 5]\n"),
            7 => {
                let l = self.labels;
                self.labels += 1;
                self.out.push_str(&format!("do ::l{l}::\n"));
                self.block(depth);
                self.out.push_str(&format!(
                    "if x % {k} ~= 0 then x = x + 1 goto l{l} end end\n"
                ));
            }
            8 => {
                self.out.push_str("pcall(function()\n");
                self.block(depth);
                self.out.push_str("end)\n");
            }
            9 => {
                self.out.push_str("coroutine.wrap(function()\n");
                self.block(depth);
                self.out.push_str("coroutine.yield()\n");
                self.block(depth);
                self.out.push_str("end)()\n");
            }
            10 => self
                .out
                .push_str(&format!("if x > {} then return x end\n", k as u32 * 1000)),
            11 => self.out.push_str("t[#t + 1] = x\n"),
            12 => self
                .out
                .push_str("s = string.rep('a', x % 100) .. s:sub(1, 50)\n"),
            13 => self.out.push_str("x = x + rec(x % 40)\n"),
            _ => self.out.push_str("for k, v in pairs(t) do x = x + 1 end\n"),
        }
    }
}

fn program(input: &[u8]) -> String {
    let mut g = Gen {
        input,
        at: 0,
        labels: 0,
        out: String::from(
            "local x, t, s = 0, {1, 2, 3}, ''\n\
             local f, g, rec\n\
             local m = setmetatable({}, { __index = function(_, k) return g(k) end })\n\
             rec = function(n) if n > 0 then return rec(n - 1) end return 0 end\n\
             f = function(x)\n",
        ),
    };
    g.block(3);
    g.out.push_str("return 1 end\ng = function(x)\n");
    g.block(3);
    g.out.push_str("return 2 end\n");
    g.block(0);
    g.out.push_str("return x\n");
    g.out
}

fuzz_target!(|data: &[u8]| {
    // The patched VM is what is fuzzed (fuzz/Cargo.toml's [patch]).
    assert!(checkpoints(), "this build's Lua has no checkpoint count");
    let code = program(data);
    let opts = SandboxOptions {
        memory_limit: 16 << 20,
        instruction_budget: 100_000,
        retire_on_limit: false,
        ..SandboxOptions::default()
    };
    let (lua, budget) = new_unbound(&opts).expect("a sandboxed state");
    apply_memory_limit(&lua, &opts).expect("a memory limit");
    budget.arm();
    let started = Instant::now();
    let result = lua.load(code.as_str()).exec();
    let took = started.elapsed();
    budget.disarm();
    assert!(
        took < Duration::from_secs(30),
        "ran {took:?} on a budget of 100,000 instructions:\n{code}"
    );
    // Any result or Lua error is fine, but a spent budget is never caught:
    // the program ends with the budget's error.
    if budget.spent() {
        match result {
            Err(e) => assert!(e.to_string().contains(BUDGET_ERROR), "{e}\n{code}"),
            Ok(()) => panic!("the budget was spent and the program went on:\n{code}"),
        }
    }
});
