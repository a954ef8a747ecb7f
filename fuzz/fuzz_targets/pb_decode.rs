//! Protobuf messages from a hostile peer, decoded by lua-protobuf's `pb`
//! as every type of a proto2 and a proto3 schema (nested messages, maps,
//! packed and repeated fields, oneofs, enums), under every default mode;
//! also `pb.unpack`, `pb.load` and `pb.slice` over the same bytes. A table
//! or a clean Lua error, never a panic.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use mlua::{Function, Lua};

const SCRIPT: &str = r#"
local pb, slice = require "pb", require "pb.slice"
assert(pb.load(P2))
assert(pb.load(P3))
local types = {}
for name in pb.types() do types[#types + 1] = name end
local modes = { "auto_default_values", "use_default_values", "use_default_metatable", "no_default_values" }
return function(b)
    for _, mode in ipairs(modes) do
        pb.option(mode)
        for _, t in ipairs(types) do
            pcall(pb.decode, t, b)
        end
    end
    pcall(pb.unpack, "p3.M", b)
    pcall(pb.unpack, "p2.All", b)
    local s = slice.new(b)
    pcall(s.unpack, s, "vsqd")
    pcall(pb.load, b)
end
"#;

thread_local! {
    static RUN: (Lua, Function) = {
        let lua = Lua::new();
        skyhold_pb::preload(&lua).expect("preload");
        let g = lua.globals();
        g.set("P2", lua.create_string(include_bytes!("../../crates/pb/tests/data/p2.pb")).expect("s")).expect("set");
        g.set("P3", lua.create_string(include_bytes!("../../crates/pb/tests/data/p3.pb")).expect("s")).expect("set");
        let f: Function = lua.load(SCRIPT).call(()).expect("script");
        (lua, f)
    };
}

fuzz_target!(|data: &[u8]| {
    RUN.with(|(lua, f)| {
        let s = lua.create_string(data).expect("string");
        f.call::<()>(s).expect("pcall'd calls do not fail");
    });
});
