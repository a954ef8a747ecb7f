//! Property tests of `lualib/protoc.lua` (skyhold's protoc.lua) over
//! hostile text: the .proto files of tests/differential/protoc, cut short,
//! with bytes changed or inserted, must either compile (and load into pb)
//! or fail with an error that names the file and a position, never with a
//! Lua error from inside the parser (an index of nil, a bad argument).

use mlua::{Function, Lua};
use proptest::prelude::*;

const SOURCES: [&str; 4] = [
    include_str!("../../../tests/differential/protoc/base.proto"),
    include_str!("../../../tests/differential/protoc/modern.proto"),
    include_str!("../../../tests/differential/protoc/scoping.proto"),
    include_str!("../../../tests/differential/protoc/options.proto"),
];

/// A plain state with pb and skyhold's lualib on the path; a function
/// compiling its argument, giving true or the error text.
fn compiler() -> (Lua, Function) {
    let lua = Lua::new();
    skyhold_pb::preload(&lua).expect("preload");
    let lualib = concat!(env!("CARGO_MANIFEST_DIR"), "/../../lualib/?.lua");
    let package: mlua::Table = lua.globals().get("package").expect("package");
    package.set("path", lualib).expect("path");
    let f: Function = lua
        .load(
            r#"
            local protoc = require "protoc"
            local pb = require "pb"
            return function(text)
                local p = protoc.new()
                -- imports of files that do not exist stay imports
                p.unknown_import = function(self, name)
                    return self:parse("syntax = 'proto2';", name)
                end
                local ok, e = pcall(p.compile, p, text, "fuzz.proto")
                if ok then
                    assert(pb.load(e))
                    return true
                end
                return e
            end
            "#,
        )
        .eval()
        .expect("protoc.lua loads");
    (lua, f)
}

/// True if `e` is one of protoc.lua's own errors: a position in the file
/// (`fuzz.proto:3:7: ...`), or a file it cannot load.
fn is_parse_error(e: &str) -> bool {
    let mut parts = e.splitn(4, ':');
    let name = parts.next();
    let line = parts.next().and_then(|l| l.parse::<u32>().ok());
    let col = parts.next().and_then(|c| c.parse::<u32>().ok());
    (name.is_some_and(|n| n.ends_with(".proto")) && line.is_some() && col.is_some())
        || e.starts_with("module load error")
        || e.starts_with("loop loaded")
}

fn check(f: &Function, text: &[u8], lua: &Lua) -> Result<(), TestCaseError> {
    let r: mlua::Value = f
        .call(lua.create_string(text).expect("string"))
        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
    match r {
        mlua::Value::Boolean(true) => Ok(()),
        mlua::Value::String(s) => {
            let e = s.to_string_lossy();
            prop_assert!(is_parse_error(&e), "not a parse error: {e}");
            Ok(())
        }
        other => Err(TestCaseError::fail(format!("unexpected {other:?}"))),
    }
}

#[test]
fn the_sources_compile() {
    let (_lua, f) = compiler();
    for src in SOURCES {
        let r: mlua::Value = f.call(src).expect("call");
        // options.proto imports descriptor.proto, built in.
        assert!(matches!(r, mlua::Value::Boolean(true)), "{r:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn cut_short(which in 0..SOURCES.len(), at in 0.0f64..1.0) {
        let (lua, f) = compiler();
        let src = SOURCES[which].as_bytes();
        let n = (src.len() as f64 * at) as usize;
        check(&f, &src[..n], &lua)?;
    }

    #[test]
    fn bytes_changed(
        which in 0..SOURCES.len(),
        edits in proptest::collection::vec((0.0f64..1.0, any::<u8>(), any::<bool>()), 1..6),
    ) {
        let (lua, f) = compiler();
        let mut src = SOURCES[which].as_bytes().to_vec();
        for (at, b, insert) in edits {
            let i = ((src.len() as f64) * at) as usize;
            if insert || i >= src.len() {
                src.insert(i.min(src.len()), b);
            } else {
                src[i] = b;
            }
        }
        check(&f, &src, &lua)?;
    }

    #[test]
    fn tokens_changed(
        which in 0..SOURCES.len(),
        at in 0.0f64..1.0,
        word in prop::sample::select(vec![
            "{", "}", ";", "=", "(", ")", "<", ">", "[", "]", ",", ".", "-",
            "message", "enum", "oneof", "map", "optional", "repeated", "required",
            "reserved", "extensions", "extend", "option", "import", "package",
            "service", "rpc", "returns", "stream", "to", "max", "group",
            "\"", "'", "/*", "//", "0x", "1e", "99999999999", "-2147483649",
            "default", "packed", "syntax", "\\", "\n",
        ]),
    ) {
        let (lua, f) = compiler();
        let src = SOURCES[which];
        let mut i = ((src.len() as f64) * at) as usize;
        while !src.is_char_boundary(i) {
            i -= 1;
        }
        let text = format!("{} {word} {}", &src[..i], &src[i..]);
        check(&f, text.as_bytes(), &lua)?;
    }
}
