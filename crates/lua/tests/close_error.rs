//! skyhold's Lua keeps a dead coroutine's error for `lua_closethread`
//! (`crates/lua-src-patched/PATCH.md`): the `<close>` handlers of a
//! coroutine that raised get the error, as Lua's own `coroutine.close`
//! gives it, also when the binding (mlua) resumed the coroutine and
//! trimmed its stack before closing it.

use mlua::{Function, Lua, Thread};

const RAISES: &str = r#"return function(report)
    local x <close> = setmetatable({}, { __close = function(_, e) report(e) end })
    error("boom", 0)
end"#;

#[test]
fn a_close_handler_gets_the_error_after_a_resume_from_rust() {
    let lua = Lua::new();
    let got = lua.create_table().unwrap();
    let g = got.clone();
    let report = lua
        .create_function(move |_, e: mlua::Value| g.raw_set(1, e))
        .unwrap();
    let f: Function = lua.load(RAISES).eval().unwrap();
    let t: Thread = lua.create_thread(f).unwrap();
    let e = t.resume::<()>(report).unwrap_err().to_string();
    assert!(e.contains("boom"), "{e}");
    // Closing reports the same error, as coroutine.close does.
    let e = t.reset(lua.create_function(|_, ()| Ok(())).unwrap());
    assert!(e.unwrap_err().to_string().contains("boom"));
    assert_eq!(got.raw_get::<String>(1).unwrap(), "boom");
}

#[test]
fn coroutine_close_still_gives_the_error() {
    let lua = Lua::new();
    let (got, closed): (String, String) = lua
        .load(
            r#"local raises = (function() "#.to_owned()
                + RAISES
                + r#" end)()
            local got
            local co = coroutine.create(function() raises(function(e) got = e end) end)
            assert(not coroutine.resume(co))
            local ok, e = coroutine.close(co)
            assert(not ok)
            return got, e"#,
        )
        .eval()
        .unwrap();
    assert_eq!(got, "boom");
    assert_eq!(closed, "boom");
}
