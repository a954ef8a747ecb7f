//! Unit tests through Lua.

use mlua::Lua;

fn lua() -> Lua {
    let lua = Lua::new();
    crate::preload(&lua).expect("preload");
    lua
}

/// Runs `code` and returns what it returns as a string.
fn run(lua: &Lua, code: &str) -> String {
    lua.load(code)
        .eval::<String>()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn buffer_pack_and_slice_unpack() {
    let lua = lua();
    let r = run(
        &lua,
        r#"
        local buffer, slice, pb = require "pb.buffer", require "pb.slice", require "pb"
        local b = buffer.new()
        b:pack("v(vv)s", 150, 1, 2, "hi")
        local hex = b:tohex()
        local s = slice.new(b:result())
        local a, inner, str = s:unpack("vsS")
        return hex .. "|" .. a .. "|" .. pb.tohex(inner) .. "|" .. str
        "#,
    );
    assert_eq!(r, "96 01 02 01 02 02 68 69|150|01 02|hi");
}
