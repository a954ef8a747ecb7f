//! Runs a Lua script named by `LPEG_SCRIPT` (for example LPeg's own
//! `test.lua`, kept outside the repository) with `lpeg` and `re` loaded in
//! a plain Lua state. Without the variable it does nothing.

use mlua::{Lua, Value};

#[test]
fn external_script() {
    let Ok(path) = std::env::var("LPEG_SCRIPT") else {
        return;
    };
    let lua = Lua::new();
    let lpeg = skyhold_lpeg::open(&lua).unwrap();
    let loaded: mlua::Table = lua
        .globals()
        .get::<mlua::Table>("package")
        .unwrap()
        .get("loaded")
        .unwrap();
    loaded.set("lpeg", lpeg).unwrap();
    let re_src = include_str!("../../../lualib/re.lua");
    let re: Value = lua.load(re_src).set_name("=re").call(()).unwrap();
    loaded.set("re", re).unwrap();
    let mut src = std::fs::read_to_string(&path).unwrap();
    if src.starts_with("#") {
        src = format!("--{src}");
    }
    if let Err(e) = lua.load(&src).set_name(format!("@{path}")).exec() {
        panic!("{e}");
    }
}
