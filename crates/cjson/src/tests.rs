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
