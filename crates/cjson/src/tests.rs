//! The modules in a plain Lua state, against lua-cjson's answers.

use super::*;

pub(crate) fn state() -> Lua {
    let lua = Lua::new();
    let preload: Table = lua
        .globals()
        .get::<Table>("package")
        .and_then(|p| p.get("preload"))
        .expect("package.preload");
    for (name, safe) in [("cjson", false), ("cjson.safe", true)] {
        let f = lua
            .create_function(move |lua, _: MultiValue| open(lua, safe))
            .expect("loader");
        preload.set(name, f).expect("set");
    }
    lua
}

/// Runs `code` (with `cjson` and `safe` as locals) and returns its string.
fn run(code: &str) -> String {
    let lua = state();
    let chunk = format!("local cjson = require 'cjson'; local safe = require 'cjson.safe'\n{code}");
    lua.load(&chunk)
        .set_name("=t")
        .eval::<String>()
        .unwrap_or_else(|e| panic!("{code}: {e}"))
}

#[test]
fn smoke() {
    assert_eq!(
        run("return cjson.encode({1,2,3.5,'a/b',{x=1e300}})"),
        r#"[1,2,3.5,"a\/b",{"x":1e+300}]"#
    );
    assert_eq!(
        run("return cjson._NAME .. ' ' .. cjson._VERSION"),
        "cjson 2.1.0.11"
    );
    assert_eq!(
        run("return tostring(cjson.decode('null') == cjson.null)"),
        "true"
    );
}

/// Runs the Lua file named by `CJSON_SCRIPT` with `cjson` and `cjson.safe`
/// preloaded (its directory as the working path for `io.open`), so a
/// test suite written for lua-cjson can be pointed at this one:
/// `CJSON_SCRIPT=/path/test.lua cargo test -p skyhold-cjson -- --ignored script`.
#[test]
#[ignore = "runs an outside script named by CJSON_SCRIPT"]
fn script() {
    let Ok(path) = std::env::var("CJSON_SCRIPT") else {
        return;
    };
    let lua = state();
    let dir = std::path::Path::new(&path)
        .parent()
        .expect("dir")
        .to_path_buf();
    let args = lua.create_table().expect("arg");
    args.set(0, path.clone()).expect("arg0");
    for (i, a) in std::env::var("CJSON_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .enumerate()
    {
        args.set(i + 1, a).expect("argn");
    }
    lua.globals().set("arg", args).expect("arg");
    let pp: Table = lua.globals().get::<Table>("package").expect("package");
    let path_now: String = pp.get("path").expect("path");
    pp.set(
        "path",
        format!(
            "{}/?.lua;{}/../lua/?.lua;{path_now}",
            dir.display(),
            dir.display()
        ),
    )
    .expect("path");
    let mut code = std::fs::read_to_string(&path).expect("script");
    if code.starts_with('#') {
        // A `#!` line, which lua.c skips: made a comment.
        code.insert_str(0, "--");
    }
    std::env::set_current_dir(&dir).expect("cd");
    lua.load(&code)
        .set_name(format!("@{path}"))
        .exec()
        .expect("script ran");
}

/// A state with `budget` instructions armed, as a service's is.
fn budgeted(budget: u64) -> (Lua, skyhold_lua::budget::Budget) {
    let lua = state();
    let b = skyhold_lua::budget::Budget::new(&lua, budget).expect("budget");
    lua.set_app_data(b.clone());
    b.arm();
    (lua, b)
}

#[test]
fn long_decode_is_charged_to_the_budget() {
    let (lua, b) = budgeted(50_000);
    let doc = format!("[{}1]", "1,".repeat(200_000));
    let f: Function = lua
        .load("local doc = ...; return select(2, pcall(require('cjson').decode, doc))")
        .into_function()
        .expect("chunk");
    let msg: String = f.call(doc.clone()).expect("ran");
    assert!(msg.contains(skyhold_lua::budget::BUDGET_ERROR), "{msg}");
    assert!(b.spent());
    // cjson.safe does not swallow it either.
    b.arm();
    let f: Function = lua
        .load("local doc = ...; return select(2, pcall(require('cjson.safe').decode, doc))")
        .into_function()
        .expect("chunk");
    let msg: String = f.call(doc).expect("ran");
    assert!(msg.contains(skyhold_lua::budget::BUDGET_ERROR), "{msg}");
}

#[test]
fn big_encode_is_charged_to_the_budget() {
    let (lua, b) = budgeted(50_000);
    let msg: String = lua
        .load(
            "local t = {} for i = 1, 100000 do t[i] = i end
             return select(2, pcall(require('cjson').encode, t))",
        )
        .eval()
        .expect("ran");
    assert!(msg.contains(skyhold_lua::budget::BUDGET_ERROR), "{msg}");
    assert!(b.spent());
    // One big string repeated: the bytes are charged too.
    b.arm();
    let msg: String = lua
        .load(
            "local s = string.rep('x', 1 << 20) local t = {} for i = 1, 64 do t[i] = s end
             return select(2, pcall(require('cjson').encode, t))",
        )
        .eval()
        .expect("ran");
    assert!(msg.contains(skyhold_lua::budget::BUDGET_ERROR), "{msg}");
}

#[test]
fn deep_values_stop_at_the_limits() {
    // The default depth, nested all the way, on a test thread's stack.
    assert_eq!(
        run("local t = 1 for _ = 1, 1000 do t = {t} end
             local s = cjson.encode(t) return #s .. ' ' .. s:sub(1, 3)"),
        "2001 [[["
    );
    assert_eq!(
        run("local t = 1 for _ = 1, 1001 do t = {t} end
             return select(2, pcall(cjson.encode, t))"),
        "Cannot serialise, excessive nesting (1001)"
    );
    // A raised encode limit still stops at the hard one.
    assert_eq!(
        run(
            "cjson.encode_max_depth(100000) local t = 1 for _ = 1, 5000 do t = {t} end
             return select(2, pcall(cjson.encode, t))"
        ),
        format!(
            "Cannot serialise, excessive nesting ({})",
            config::HARD_MAX_ENCODE_DEPTH + 1
        )
    );
    // Decoding raised limits works iteratively.
    assert_eq!(
        run("cjson.decode_max_depth(50000)
             local t = cjson.decode(string.rep('[', 40000) .. string.rep(']', 40000))
             local d = 0 while t[1] do t = t[1] d = d + 1 end return tostring(d)"),
        "39999"
    );
}

#[test]
fn instances_are_independent() {
    assert_eq!(
        run("local a, b = cjson.new(), cjson.new()
             a.encode_number_precision(3) a.encode_escape_forward_slash(false)
             return a.encode({1/3, '/'}) .. b.encode({1/3, '/'}) .. cjson.encode({1/3, '/'})"),
        r#"[0.333,"/"][0.33333333333333,"\/"][0.33333333333333,"\/"]"#
    );
    assert_eq!(
        run("local s = safe.new() local ok, e = s.decode('[') return tostring(ok) .. ' ' .. e"),
        "nil Expected value but found T_END at character 2"
    );
}

#[test]
fn reentrant_metamethods_do_not_deadlock() {
    assert_eq!(
        run("local t = setmetatable({}, { __len = function()
                cjson.encode_number_precision(3) return #cjson.encode({1}) end,
                __index = function(_, k) return cjson.decode('[' .. k .. ']') end })
             return cjson.encode(t) .. cjson.encode(1/3)"),
        "[[1],[2],[3]]0.333"
    );
}

mod prop {
    use super::state;
    use mlua::{Function, Lua};
    use proptest::prelude::*;

    thread_local! {
        static LUA: (Lua, Function, Function) = {
            let lua = state();
            let enc: Function = lua.load("return require('cjson').encode").eval().expect("encode");
            let dec: Function = lua.load("return require('cjson.safe').decode").eval().expect("decode");
            (lua, enc, dec)
        };
    }

    proptest! {
        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            LUA.with(|(lua, _, dec)| {
                let s = lua.create_string(&bytes).expect("string");
                let _: mlua::MultiValue = dec.call(s).expect("safe decode returns");
            });
        }

        #[test]
        fn strings_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            LUA.with(|(lua, enc, dec)| {
                let s = lua.create_string(&bytes).expect("string");
                let text: mlua::LuaString = enc.call(s).expect("encode");
                let back: mlua::LuaString = dec.call(text).expect("decode");
                prop_assert_eq!(back.as_bytes().to_vec(), bytes.clone());
                Ok(())
            })?;
        }

        #[test]
        fn numbers_round_trip(x in any::<f64>().prop_filter("finite", |x| x.is_finite()), i in any::<i64>()) {
            LUA.with(|(lua, _, _)| {
                let j: Function = lua.load("local c = require('cjson').new() c.encode_number_precision(16)
                    return function(v) return c.decode(c.encode(v)) end").eval().expect("j");
                let back: mlua::Value = j.call(i).expect("int");
                prop_assert_eq!(back, mlua::Value::Integer(i));
                let back: f64 = j.call(x).expect("float");
                // 16 significant digits: within one part in 10^15.
                prop_assert!((back - x).abs() <= x.abs() * 1e-15, "{} -> {}", x, back);
                Ok(())
            })?;
        }

        #[test]
        fn arrays_round_trip(v in proptest::collection::vec(any::<i32>(), 0..40)) {
            LUA.with(|(lua, enc, dec)| {
                let t = lua.create_sequence_from(v.clone()).expect("table");
                let text: mlua::LuaString = enc.call(t).expect("encode");
                let back: mlua::Table = dec.call(text).expect("decode");
                let got: Vec<i32> = back.sequence_values().collect::<mlua::Result<_>>().expect("ints");
                prop_assert_eq!(got, v.clone());
                Ok(())
            })?;
        }
    }
}

/// The encoder recurses: at its hard depth it must fit well inside a
/// worker's 2 MiB stack (it takes about half a mebibyte).
#[test]
fn encode_at_the_hard_depth_fits_in_a_mebibyte_of_stack() {
    let depth = config::HARD_MAX_ENCODE_DEPTH;
    let r = std::thread::Builder::new()
        .stack_size(1 << 20)
        .spawn(move || {
            run(&format!(
                "cjson.encode_max_depth({depth}) local t = 1 for _ = 1, {depth} do t = {{t}} end
                 return #cjson.encode(t)"
            ))
        })
        .expect("thread")
        .join()
        .expect("no overflow");
    assert_eq!(r, (2 * depth as usize + 1).to_string());
}
