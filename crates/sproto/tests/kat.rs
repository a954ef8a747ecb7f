//! Known answers: `kat.lua` run under skyhold's sproto must print exactly
//! what it printed under skynet's C sproto and lpeg parser
//! (`kat.expected`, made once from skynet's sources; nothing of them is
//! kept here).

use mlua::{Lua, Value};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A plain Lua state with `sproto.core`, `sproto.parser` and skyhold's
/// `lualib/` on its path; what the script prints is collected.
fn state(printed: Arc<Mutex<Vec<String>>>) -> mlua::Result<Lua> {
    let lua = Lua::new();
    let slots = skyhold_sproto::Slots::new();
    let package: mlua::Table = lua.globals().get("package")?;
    let lualib = repo().join("lualib/?.lua");
    package.set("path", lualib.display().to_string())?;
    let preload: mlua::Table = package.get("preload")?;
    preload.set(
        "sproto.core",
        lua.create_function(move |lua, _: mlua::MultiValue| {
            skyhold_sproto::core::build(lua, slots.clone())
        })?,
    )?;
    preload.set(
        "sproto.parser",
        lua.create_function(|lua, _: mlua::MultiValue| skyhold_sproto::parser::module(lua))?,
    )?;
    lua.globals().set(
        "print",
        lua.create_function(move |_, args: mlua::Variadic<Value>| {
            let line: Vec<String> = args
                .iter()
                .map(|v| v.to_string().unwrap_or_default())
                .collect();
            printed.lock().expect("lines").push(line.join("\t"));
            Ok(())
        })?,
    )?;
    Ok(lua)
}

#[test]
fn kat_matches_skynet() -> mlua::Result<()> {
    let printed = Arc::new(Mutex::new(Vec::new()));
    let lua = state(printed.clone())?;
    let script =
        std::fs::read_to_string(repo().join("crates/sproto/tests/kat.lua")).expect("kat.lua");
    lua.load(&script).set_name("@kat.lua").exec()?;
    let expected = std::fs::read_to_string(repo().join("crates/sproto/tests/kat.expected"))
        .expect("kat.expected");
    let got = printed.lock().expect("lines").clone();
    let want: Vec<&str> = expected.lines().collect();
    let mut bad = Vec::new();
    for (i, w) in want.iter().enumerate() {
        let g = got.get(i).map(String::as_str).unwrap_or("<missing>");
        if g != *w {
            bad.push(format!("want {w}\n got {g}"));
        }
    }
    assert!(
        bad.is_empty() && got.len() == want.len(),
        "{} differences:\n{}",
        bad.len(),
        bad.join("\n")
    );
    Ok(())
}
