//! Protobuf messages from a hostile peer, read by pbc's `protobuf.c`:
//! `_decode` as every type of skyhold's test schemas (nested, repeated,
//! packed, enums, extensions, proto3 maps) and pbc's built-in descriptor
//! types, the field-by-field reader, a pattern's unpack, and the same
//! bytes registered as a descriptor set. A result or a clean Lua error,
//! never a panic.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use mlua::{Function, Lua};

const SCRIPT: &str = r#"
local c = require "protobuf.c"
local P = c._env_new()
c._env_register(P, A_PB)
c._env_register(P, B_PB)
c._env_register(P, C_PB)
local types = { "pbct.All", "pbct.Tree", "pbct.Point", "pbct.b.Holder", "pbct3.Msg",
    "google.protobuf.FileDescriptorSet", "google.protobuf.DescriptorProto" }
local pat = c._pattern_new(P, "pbct.All", "@req %d s %s ri %a rp %a rd %a p %s rm %a u64 %D")
local function cb(t, b) return { t, b } end
return function(b)
    for _, t in ipairs(types) do
        pcall(c._decode, P, cb, {}, t, b)
        local ok, r = pcall(c._rmessage_new, P, t, b)
        if ok and r then
            pcall(c._rmessage_int, r, "req", 0)
            pcall(c._rmessage_string, r, "s", 0)
            pcall(c._rmessage_message, r, "p", 0)
            pcall(c._rmessage_size, r, "rp")
        end
    end
    pcall(c._pattern_unpack, pat, "isIIRmMd", 0, b)
    local E = c._env_new()
    pcall(c._env_register, E, b)
end
"#;

thread_local! {
    static RUN: (Lua, Function) = {
        let lua = Lua::new();
        skyhold_pb::preload(&lua).expect("preload");
        let g = lua.globals();
        g.set("A_PB", lua.create_string(include_bytes!("../../crates/pb/tests/data/pbc/a.pb")).expect("s")).expect("set");
        g.set("B_PB", lua.create_string(include_bytes!("../../crates/pb/tests/data/pbc/b.pb")).expect("s")).expect("set");
        g.set("C_PB", lua.create_string(include_bytes!("../../crates/pb/tests/data/pbc/c.pb")).expect("s")).expect("set");
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
