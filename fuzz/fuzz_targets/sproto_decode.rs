//! sproto messages from a hostile peer, decoded as every type of a schema
//! with arrays, maps, nested structs and decimals: a table, a decode
//! error or a Lua error, never a panic.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use mlua::Lua;
use skyhold_sproto::decode::Decoder;
use skyhold_sproto::meter::Meter;
use skyhold_sproto::{parser, Sproto};
use std::sync::OnceLock;

const SCHEMA: &str = r#"
.Data {
    numbers 0 : *integer
    bools 1 : *boolean
    number 2 : integer
    double 4 : double
    doubles 5 : *double
    fpn 6 : integer(2)
    text 7 : string
    strings 9 : *string
    child 12 : Data
    children 13 : *Data
    byid 14 : *Data(number)
    kv 15 : *KV()
}
.KV {
    key 0 : string
    value 1 : integer
}
"#;

fn schema() -> &'static Sproto {
    static SP: OnceLock<Sproto> = OnceLock::new();
    SP.get_or_init(|| {
        let bin = parser::parse(SCHEMA.as_bytes(), "fuzz").expect("schema");
        Sproto::load(&bin, &mut || Ok(())).expect("load")
    })
}

thread_local! {
    static LUA: Lua = Lua::new();
}

fuzz_target!(|data: &[u8]| {
    let sp = schema();
    LUA.with(|lua| {
        for ti in 0..sp.types.len() {
            let mut meter = Meter::free();
            let t = lua.create_table().expect("table");
            if let Ok(Some(n)) = Decoder::new(lua, sp, &mut meter).decode(ti, data, &t) {
                assert!(n <= data.len());
            }
        }
    });
});
