//! The modules in a plain Lua state, against lua-cjson's answers.

use super::*;

pub(crate) fn state() -> Lua {
    let lua = Lua::new();
    let loaded: Table = lua
        .globals()
        .get::<Table>("package")
        .and_then(|p| p.get("loaded"))
        .expect("package.loaded");
    loaded
        .set("cjson", open(&lua, false).expect("cjson"))
        .expect("set");
    loaded
        .set("cjson.safe", open(&lua, true).expect("cjson.safe"))
        .expect("set");
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
