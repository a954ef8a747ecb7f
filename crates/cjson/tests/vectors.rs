//! Known answers: `vectors.lua` run against skyhold's cjson must print,
//! line for line, what lua-cjson 2.1.0.11 on Lua 5.4 printed for it
//! (`vectors.expected`): number formats at every precision, every byte's
//! escape, array detection, settings and their errors, decoding of valid
//! and broken documents with lua-cjson's messages and positions, and
//! cjson.safe.

use mlua::{Lua, MultiValue, Table, Value};

fn state() -> Lua {
    let lua = Lua::new();
    let preload: Table = lua
        .globals()
        .get::<Table>("package")
        .and_then(|p| p.get("preload"))
        .expect("package.preload");
    for (name, safe) in [("cjson", false), ("cjson.safe", true)] {
        let f = lua
            .create_function(move |lua, _: MultiValue| skyhold_cjson::open(lua, safe))
            .expect("loader");
        preload.set(name, f).expect("set");
    }
    lua
}

#[test]
fn vectors_match_lua_cjson() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let script = std::fs::read_to_string(dir.join("vectors.lua")).expect("vectors.lua");
    // Raw bytes: some lines hold the non-UTF-8 bytes cjson passes through.
    let expected = std::fs::read(dir.join("vectors.expected")).expect("expected");
    let lua = state();
    let lines = lua.create_table().expect("lines");
    let sink = lines.clone();
    let print = lua
        .create_function(move |lua, args: MultiValue| {
            let mut line = Vec::new();
            for (i, v) in args.iter().enumerate() {
                if i > 0 {
                    line.push(b'\t');
                }
                match v {
                    Value::String(s) => line.extend_from_slice(&s.as_bytes()),
                    other => line.extend_from_slice(format!("{other:?}").as_bytes()),
                }
            }
            sink.raw_set(sink.raw_len() + 1, lua.create_string(&line)?)
        })
        .expect("print");
    lua.globals().set("print", print).expect("set print");
    lua.load(&script)
        .set_name("@vectors.lua")
        .exec()
        .expect("vectors.lua ran");
    let printed: Vec<Vec<u8>> = lines
        .sequence_values::<mlua::LuaString>()
        .map(|s| s.map(|s| s.as_bytes().to_vec()))
        .collect::<mlua::Result<_>>()
        .expect("lines");
    // Printed values may hold newlines: compare line by line of the text.
    let text = printed.join(&b'\n');
    let got: Vec<&[u8]> = text.split(|b| *b == b'\n').collect();
    let want: Vec<&[u8]> = expected
        .strip_suffix(b"\n")
        .unwrap_or(&expected)
        .split(|b| *b == b'\n')
        .collect();
    let mut bad = Vec::new();
    for (i, w) in want.iter().enumerate() {
        let g: &[u8] = got.get(i).copied().unwrap_or(b"<missing>");
        if g != *w {
            bad.push(format!(
                "want {}\n got {}",
                String::from_utf8_lossy(w),
                String::from_utf8_lossy(g)
            ));
        }
    }
    assert_eq!(got.len(), want.len(), "line count");
    assert!(
        bad.is_empty(),
        "{} differences:\n{}",
        bad.len(),
        bad.join("\n")
    );
    assert!(want.len() > 1200);
}
