//! Loads and reloads shared code across threads (skyhold's patched VM,
//! crates/lua-src-patched/PATCH.md, "Shared code"). The process shares one
//! library once; each input is a list of operations run by two threads at
//! once, each on states of its own: make a state and load the library
//! (shared, or its own copy of a changed text: a hot reload), call into
//! it, change its module table and upvalues, collect (full, step,
//! generational), close a state. Every result is checked against what a
//! state of its own would give, so a state seeing another's change, or a
//! collector touching a shared object, shows up as a wrong value or a crash.

#![no_main]

use libfuzzer_sys::fuzz_target;
use mlua::{Function, Lua, Table};
use skyhold_lua::codecache::CodeCache;
use skyhold_lua::paths::{Found, SearchPath};
use skyhold_lua::sandbox::{new_unbound, SandboxOptions};
use skyhold_lua::shared_code;
use std::sync::OnceLock;

const LIBRARY: &str = r#"
local M = {}
local calls = 0
local long = "a constant longer than forty bytes, so a long string in Lua"
function M.call() calls = calls + 1 return calls end
function M.make(n)
    local t = {}
    for i = 1, n do t["key" .. i] = { name = "send", i = i, s = long } end
    return t
end
function M.sum(t) local s = 0 for _, v in pairs(t) do s = s + v.i end return s end
M.index = setmetatable({}, { __index = function(_, k) return k .. "!" end })
return M
"#;

struct Setup {
    cache: CodeCache,
    search: SearchPath,
    found: Found,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("skyhold-fuzz-shared-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("lib.lua"), LIBRARY).unwrap();
        let search = SearchPath::parse(&format!("{}/?.lua", dir.display()));
        let cache = CodeCache::default();
        let found = cache.find(&search, "lib", false).unwrap();
        shared_code::share_once(|| {
            let (template, budget) = new_unbound(&SandboxOptions::default())?;
            std::mem::forget(budget);
            Ok((template, vec![cache.compiled_found(&found)?.1]))
        });
        assert!(shared_code::available(), "{:?}", shared_code::stats());
        Setup { cache, search, found }
    })
}

/// One state and what its library's upvalue `calls` should be.
struct State {
    lua: Lua,
    calls: i64,
}

fn new_state(s: &Setup, reload: Option<u8>) -> State {
    let (lua, budget) = new_unbound(&SandboxOptions::default()).unwrap();
    drop(budget);
    let m: Table = match reload {
        None => s.cache.load_found(&lua, &s.found).unwrap().call(()).unwrap(),
        Some(k) => {
            // A changed text: loaded per state, as a hot reload is.
            let text = LIBRARY.replace("calls = calls + 1", &format!("calls = calls + 1 + {k} - {k}"));
            let path = s.found.path.with_file_name(format!("reload{k}.lua"));
            let f: Function = s.cache.load(&lua, &path, text.as_bytes()).unwrap();
            f.call(()).unwrap()
        }
    };
    lua.globals().set("M", m).unwrap();
    State { lua, calls: 0 }
}

fn run(s: &Setup, ops: &[u8]) {
    let mut states: Vec<State> = Vec::new();
    for &op in ops {
        let which = (op >> 3) as usize;
        match op & 7 {
            0 | 1 if states.len() < 8 => {
                let reload = (op & 1 == 1).then_some(op >> 4);
                states.push(new_state(s, reload));
            }
            _ if states.is_empty() => {}
            2 => {
                let i = which % states.len();
                let st = &mut states[i];
                let n: i64 = st.lua.load("return M.call()").eval().unwrap();
                st.calls += 1;
                assert_eq!(n, st.calls, "another state's upvalue");
            }
            3 => {
                let st = &states[which % states.len()];
                let r: (i64, String) = st
                    .lua
                    .load("local t = M.make(30) return M.sum(t), M.index.k")
                    .eval()
                    .unwrap();
                assert_eq!(r, (465, "k!".to_string()));
            }
            4 => {
                let st = &states[which % states.len()];
                // Changes to the module are this state's own.
                st.lua
                    .load("M.extra = (M.extra or 0) + 1 M.make = M.make")
                    .exec()
                    .unwrap();
            }
            5 => {
                let st = &states[which % states.len()];
                let mode = if which % 2 == 0 { "generational" } else { "incremental" };
                st.lua
                    .load(format!("collectgarbage('{mode}') collectgarbage() collectgarbage('step', 10)"))
                    .exec()
                    .unwrap();
            }
            6 => {
                let i = which % states.len();
                states.swap_remove(i);
            }
            _ => {
                let st = &states[which % states.len()];
                let fresh: Option<i64> = st.lua.load("return M.fresh").eval().unwrap();
                assert!(fresh.is_none());
            }
        }
    }
    let _ = &s.search;
}

fuzz_target!(|data: &[u8]| {
    let s = setup();
    let data = &data[..data.len().min(256)];
    let (a, b) = data.split_at(data.len() / 2);
    std::thread::scope(|scope| {
        scope.spawn(|| run(s, a));
        scope.spawn(|| run(s, b));
    });
});
