//! Known answers from pbc itself: `data/pbc/calls.lua` calls every
//! function of `protobuf.c` the way pbc's `protobuf.lua` calls them; run
//! by pbc's C module (binding/lua53, Lua 5.4) over the descriptor sets and
//! messages `protoc` made from `data/pbc/*.proto`, it printed
//! `data/pbc/calls.expected`. The same script must print the same here,
//! but for what the two hand out in place of a null pointer (`nil` here)
//! and how an argument error names the function (as called through
//! `pcall`, Lua names the C function by where `package.loaded` holds it).

use mlua::{Lua, Value};

fn normalise(line: &str) -> String {
    line.replace("userdata: (nil)", "nil")
        .replace("'protobuf.c._", "'_")
}

#[test]
fn calls_match_pbc() {
    let lua = Lua::new();
    skyhold_pb::preload(&lua).expect("preload");
    let out = lua.create_table().expect("table");
    let sink = out.clone();
    let print = lua
        .create_function(move |lua, args: mlua::MultiValue| {
            let tostring: mlua::Function = lua.globals().get("tostring")?;
            let mut parts = Vec::new();
            for a in args {
                let s: mlua::LuaString = tostring.call(a)?;
                parts.push(String::from_utf8_lossy(&s.as_bytes()).into_owned());
            }
            sink.raw_push(parts.join("\t"))
        })
        .expect("print");
    let g = lua.globals();
    g.set("print", print).expect("set print");
    for (name, bytes) in [
        ("A_PB", &include_bytes!("data/pbc/a.pb")[..]),
        ("B_PB", &include_bytes!("data/pbc/b.pb")[..]),
        ("C_PB", &include_bytes!("data/pbc/c.pb")[..]),
        ("ALL_BIN", &include_bytes!("data/pbc/all.bin")[..]),
        ("C_BIN", &include_bytes!("data/pbc/c.bin")[..]),
    ] {
        g.set(name, lua.create_string(bytes).expect("s"))
            .expect("set");
    }
    lua.load(include_str!("data/pbc/calls.lua"))
        .set_name("@calls.lua")
        .exec()
        .unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<String> = (1..=out.raw_len())
        .map(|i| match out.raw_get::<Value>(i).expect("line") {
            Value::String(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
            other => format!("{other:?}"),
        })
        .flat_map(|l| l.split('\n').map(str::to_string).collect::<Vec<_>>())
        .collect();
    let want: Vec<String> = String::from_utf8_lossy(include_bytes!("data/pbc/calls.expected"))
        .lines()
        .map(normalise)
        .collect();
    for (i, (g, w)) in got.iter().zip(&want).enumerate() {
        assert_eq!(g, w, "line {} differs", i + 1);
    }
    assert_eq!(got.len(), want.len(), "line count");
    assert_eq!(got.last().map(String::as_str), Some("PASS"));
}
