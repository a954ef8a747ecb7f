//! Prototypes and strings shared between states (`skyhold_lua::shared_code`,
//! the patched VM's shared code): states that load a shared library get it
//! without their own copy and cannot affect each other, new text is loaded
//! as new prototypes, states made before the freeze load their own copy,
//! and collections in many states on two threads leave the shared objects
//! alone. One test: sharing is once per process, so the steps run in order.

use mlua::Lua;
use skyhold_lua::codecache::CodeCache;
use skyhold_lua::paths::{Found, SearchPath};
use skyhold_lua::sandbox::{new_unbound, SandboxOptions};
use skyhold_lua::shared_code;
use std::path::PathBuf;

const LIBRARY: &str = r#"
local M = {}
local calls = 0
local long = "a constant longer than forty bytes, so a long string in Lua"
function M.count(t) local n = 0 for _ in pairs(t) do n = n + 1 end return n end
function M.make(n)
    local t = {}
    for i = 1, n do t["key" .. i] = { name = "send", i = i, s = long } end
    return t
end
function M.sum(t) local s = 0 for _, v in pairs(t) do s = s + v.i end return s end
function M.call() calls = calls + 1 return calls end
M.index = setmetatable({}, { __index = function(_, k) return k .. "!" end })
return M
"#;

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("skyhold-shared-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn find(cache: &CodeCache, search: &SearchPath) -> Found {
    cache.find(search, "sharedlib", false).unwrap()
}

/// A sandboxed state with the library loaded and run as `M`.
fn state_with_library(cache: &CodeCache, found: &Found) -> Lua {
    let (lua, budget) = new_unbound(&SandboxOptions::default()).unwrap();
    drop(budget);
    let m: mlua::Table = cache.load_found(&lua, found).unwrap().call(()).unwrap();
    lua.globals().set("M", m).unwrap();
    lua
}

#[test]
fn shared_library_between_states() {
    let dir = dir();
    std::fs::write(dir.join("sharedlib.lua"), LIBRARY).unwrap();
    let search = SearchPath::parse(&format!("{}/?.lua", dir.display()));
    let cache = CodeCache::default();
    let found = find(&cache, &search);

    // A state made before the freeze.
    let early = state_with_library(&cache, &found);

    shared_code::share_once(|| {
        let (template, budget) = new_unbound(&SandboxOptions::default())?;
        std::mem::forget(budget);
        let (_, compiled) = cache.compiled_found(&found)?;
        Ok((template, vec![compiled]))
    });
    let stats = shared_code::stats();
    assert!(shared_code::available(), "{stats:?}");
    assert_eq!(stats.chunks, 1);
    let shared_before = stats.shared_loads;
    let own_before = stats.own_loads;

    // Two states made after: both get the shared prototypes.
    let a = state_with_library(&cache, &found);
    let b = state_with_library(&cache, &found);
    let after = shared_code::stats();
    if shared_code::available() {
        assert_eq!(after.shared_loads, shared_before + 2, "{after:?}");
    }

    // They run the same code and keep their own state: upvalues, tables,
    // module fields.
    for lua in [&a, &b, &early] {
        let r: (i64, i64, String) = lua
            .load("local t = M.make(100) return M.count(t), M.sum(t), M.index.x")
            .eval()
            .unwrap();
        assert_eq!(r, (100, 5050, "x!".to_string()));
    }
    a.load("M.call() M.call() M.count = nil").exec().unwrap();
    let calls: i64 = b.load("return M.call()").eval().unwrap();
    assert_eq!(calls, 1, "one state's upvalue reached another");
    let count: i64 = b.load("return M.count({1, 2})").eval().unwrap();
    assert_eq!(count, 2, "one state's module change reached another");

    // Strings interned in different states from the same text are the same
    // key (a shared constant against a string built at run time).
    let same: bool = a
        .load("local k = 'se' .. 'nd' local t = M.make(1) return t.key1.name == k and rawequal(t.key1.name, k)")
        .eval()
        .unwrap();
    assert!(same);

    // The state made before the freeze loaded its own copy.
    let again = state_with_library(&cache, &found);
    drop(again);
    if shared_code::available() {
        let s = shared_code::stats();
        assert_eq!(s.own_loads, own_before, "{s:?}");
        let early_again = {
            let f = cache.load_found(&early, &found).unwrap();
            f.call::<mlua::Table>(()).unwrap()
        };
        drop(early_again);
        assert_eq!(shared_code::stats().own_loads, own_before + 1);
    }

    // A service cannot name shared code: its load takes text only.
    let r: (mlua::Value, String) = a
        .load(r#"return load("\27LuaS\1\0\0\0\0\0\0\0")"#)
        .eval()
        .unwrap();
    assert!(r.0.is_nil() && r.1.contains("binary chunk"), "{r:?}");

    // An id never registered is a load error, not a function.
    let unknown = a
        .load(&b"\x1bLuaS\x09\x09\x09\x09\x09\x09\x09\x09"[..])
        .set_mode(mlua::chunk::ChunkMode::Binary)
        .into_function();
    assert!(unknown.is_err());

    // Collections in many states on two threads, each state loading the
    // shared library, making garbage and closing.
    std::thread::scope(|scope| {
        for t in 0..2 {
            let (cache, found) = (&cache, &found);
            scope.spawn(move || {
                for i in 0..40 {
                    let lua = state_with_library(cache, found);
                    let mode = if (i + t) % 2 == 0 {
                        "incremental"
                    } else {
                        "generational"
                    };
                    let n: i64 = lua
                        .load(format!(
                            r#"collectgarbage("{mode}")
                            local total = 0
                            for r = 1, 20 do
                                local t = M.make(50)
                                total = total + M.sum(t) + #M.index.abc
                                collectgarbage("step", 1)
                            end
                            collectgarbage()
                            collectgarbage()
                            return total"#
                        ))
                        .eval()
                        .unwrap();
                    assert_eq!(n, 20 * (1275 + 4));
                }
            });
        }
    });
    // Hot reload: new text is new prototypes, loaded per state.
    std::fs::write(
        dir.join("sharedlib.lua"),
        "return { count = function() return 'new' end }",
    )
    .unwrap();
    let new_found = find(&cache, &search);
    let shared_now = shared_code::stats().shared_loads;
    let c = state_with_library(&cache, &new_found);
    let r: String = c.load("return M.count()").eval().unwrap();
    assert_eq!(r, "new");
    assert_eq!(shared_code::stats().shared_loads, shared_now);
    let r: i64 = a.load("return M.sum(M.make(3))").eval().unwrap();
    assert_eq!(r, 6, "the old code still runs in the states that have it");
    drop((a, b, c, early));

    let _ = std::fs::remove_dir_all(&dir);
}
