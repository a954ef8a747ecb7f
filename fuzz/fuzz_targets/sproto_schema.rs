//! Hostile schema binaries (what `sproto.core.newproto` loads), and
//! messages decoded and tables encoded against whatever loads: an error
//! or a result, never a panic. Also the schema text parser.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use mlua::{Lua, Value};
use skyhold_sproto::decode::Decoder;
use skyhold_sproto::encode::Encoder;
use skyhold_sproto::meter::Meter;
use skyhold_sproto::{parser, Sproto};

thread_local! {
    static LUA: Lua = Lua::new();
}

fuzz_target!(|data: &[u8]| {
    let _ = parser::parse(data, "fuzz");
    let split = data.first().map_or(0, |n| usize::from(*n)).min(data.len());
    let (bin, msg) = data.split_at(split);
    let Ok(sp) = Sproto::load(bin, &mut || Ok(())) else {
        return;
    };
    LUA.with(|lua| {
        for ti in 0..sp.types.len() {
            let mut meter = Meter::free();
            let t = lua.create_table().expect("table");
            let _ = Decoder::new(lua, &sp, &mut meter).decode(ti, msg, &t);
            let mut meter = Meter::free();
            let _ = Encoder::new(lua, &sp, &mut meter).encode_struct(ti, &Value::Table(t), 0);
        }
    });
});
