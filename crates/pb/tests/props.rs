//! Property tests: encode → decode round trips over a proto3 schema, and
//! random bytes that never panic the decoder, `pb.load` or `slice.unpack`.

use mlua::{Function, Lua, Value};
use proptest::prelude::*;

fn lua() -> Lua {
    let lua = Lua::new();
    skyhold_pb::preload(&lua).expect("preload");
    let pb: mlua::Table = lua
        .globals()
        .get::<mlua::Table>("package")
        .unwrap()
        .get::<mlua::Table>("loaded")
        .unwrap()
        .get("pb")
        .unwrap();
    let load: Function = pb.get("load").unwrap();
    let (ok, _): (bool, i64) = load
        .call(lua.create_string(include_bytes!("data/p3.pb")).unwrap())
        .unwrap();
    assert!(ok);
    lua
}

const ROUND_TRIP: &str = r#"
local pb = require "pb"
pb.option "encode_order"
local a, s, packed, z, d, keys, vals, raw = ...
local m = {}
for i = 1, #keys do m[keys[i]] = vals[i] end
local msg = { a = a, s = s, packed = packed, z = z, d = d, m = m, raw = raw, sub = { x = a, xs = packed } }
local back = pb.decode("p3.M", pb.encode("p3.M", msg))
assert(back.a == a and back.s == s and back.z == z and back.raw == raw, "scalars")
assert(back.d == d or (d ~= d and back.d ~= back.d), "double")
assert(#back.packed == #packed and back.sub.x == a, "packed")
for i = 1, #packed do assert(back.packed[i] == packed[i] and back.sub.xs[i] == packed[i]) end
for k, v in pairs(m) do assert(back.m[k] == v, "map") end
return pb.encode("p3.M", back) == pb.encode("p3.M", msg) or #keys > 1
"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn encode_decode_round_trips(
        a in any::<i32>(),
        s in ".{0,20}",
        packed in prop::collection::vec(any::<i32>(), 0..20),
        z in any::<i64>(),
        d in any::<f64>(),
        kv in prop::collection::vec(("[a-z]{1,6}", any::<i32>()), 0..5),
        raw in prop::collection::vec(any::<u8>(), 0..40),
    ) {
        let lua = lua();
        let f = lua.load(ROUND_TRIP).into_function().unwrap();
        let keys = lua.create_sequence_from(kv.iter().map(|x| x.0.clone())).unwrap();
        let vals = lua.create_sequence_from(kv.iter().map(|x| x.1)).unwrap();
        let packed = lua.create_sequence_from(packed).unwrap();
        let ok: bool = f
            .call((a, s, packed, z, d, keys, vals, lua.create_string(&raw).unwrap()))
            .unwrap_or_else(|e| panic!("{e}"));
        prop_assert!(ok);
    }

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let lua = lua();
        let f = lua
            .load(r#"
                local pb, slice = require "pb", require "pb.slice"
                local b = ...
                pcall(pb.decode, "p3.M", b)
                pcall(pb.unpack, "p3.M", b)
                pcall(pb.load, b)
                pcall(pb.decode, "p3.M", b)
                pcall(slice.unpack, b, "vvsdqfFiIjJuUxXyYb")
                local s = slice.new(b)
                pcall(s.enter, s)
                pcall(s.unpack, s, "vs")
            "#)
            .into_function()
            .unwrap();
        let r: mlua::Result<Value> = f.call(lua.create_string(&bytes).unwrap());
        prop_assert!(r.is_ok());
    }
}

#[test]
fn decoding_is_charged_to_the_budget() {
    let lua = lua();
    let budget = skyhold_lua::budget::Budget::new(&lua, 5_000).expect("budget");
    lua.set_app_data(budget.clone());
    budget.arm();
    let mut big = Vec::new();
    for _ in 0..20_000 {
        big.extend_from_slice(&[0x08, 0x01]);
    }
    let r: mlua::Result<Value> = lua
        .load("return require('pb').decode('p3.M', ...)")
        .call(lua.create_string(&big).unwrap());
    let e = r.expect_err("budget spent");
    assert!(e.to_string().contains("instruction budget exceeded"), "{e}");
}
