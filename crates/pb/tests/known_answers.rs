//! Known answers from lua-protobuf itself: `data/vectors.lua` was run by
//! lua-protobuf's pb.c (Lua 5.4) with the descriptor sets `protoc` made
//! from `data/p2.proto` and `data/p3.proto`; its output is
//! `data/vectors.expected`. The same script must print the same here:
//! wire bytes (under `encode_order`, since `next` order depends on the
//! string hash seed), decoded tables, defaults, options, hooks, errors,
//! messages protoc encoded, the low-level modules.

use mlua::{Lua, Value};

/// lua-protobuf names a function called through `pcall` by where
/// `package.loaded` holds it; skyhold names it as called directly.
fn normalise(line: &str) -> String {
    line.replace("'pb.buffer.pack'", "'pack'")
        .replace("'pb.encode'", "'encode'")
        .replace("'pb.decode'", "'decode'")
}

#[test]
fn vectors_match_lua_protobuf() {
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
    g.set(
        "DESC2",
        lua.create_string(include_bytes!("data/p2.pb")).expect("s"),
    )
    .expect("set");
    g.set(
        "DESC3",
        lua.create_string(include_bytes!("data/p3.pb")).expect("s"),
    )
    .expect("set");
    lua.load(include_str!("data/vectors.lua"))
        .set_name("@vectors.lua")
        .exec()
        .unwrap_or_else(|e| panic!("{e}"));
    let got: Vec<String> = (1..=out.raw_len())
        .map(|i| match out.raw_get::<Value>(i).expect("line") {
            Value::String(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
            other => format!("{other:?}"),
        })
        .flat_map(|l| l.split('\n').map(str::to_string).collect::<Vec<_>>())
        .collect();
    let want: Vec<String> = String::from_utf8_lossy(include_bytes!("data/vectors.expected"))
        .lines()
        .map(normalise)
        .collect();
    for (i, (g, w)) in got.iter().zip(want.iter()).enumerate() {
        assert_eq!(g, w, "line {}", i + 1);
    }
    assert_eq!(got.len(), want.len());
}
