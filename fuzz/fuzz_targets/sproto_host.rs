//! sproto messages from a hostile peer as a Rust program reads them
//! (`skyhold_sproto::value`, `host`): every type of a schema with arrays,
//! maps, nested structs and decimals decoded from the bytes, and the bytes
//! dispatched as a packed package. A value or an error, never a panic, and
//! a value that encodes again (but for nesting).
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use skyhold_sproto::host::{parse_schema, Host};
use skyhold_sproto::value::{decode, encode};
use skyhold_sproto::Sproto;
use std::sync::{Arc, OnceLock};

const SCHEMA: &str = r#"
.package {
    type 0 : integer
    session 1 : integer
}
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
ask 1 {
    request Data
    response Data
}
tell 2 {
    request KV
}
"#;

fn schema() -> &'static Arc<Sproto> {
    static SP: OnceLock<Arc<Sproto>> = OnceLock::new();
    SP.get_or_init(|| parse_schema(SCHEMA, "fuzz").expect("schema"))
}

fuzz_target!(|data: &[u8]| {
    let sp = schema();
    for ti in 0..sp.types.len() {
        if let Ok((v, n)) = decode(sp, ti, data) {
            assert!(n <= data.len());
            // Decoding reaches one level deeper than encoding for an empty
            // struct, as in sproto.core.
            if let Err(e) = encode(sp, ti, &v) {
                assert_eq!(e, "The table is too deep");
            }
        }
    }
    let mut host = Host::new(sp.clone(), sp.clone(), "package").expect("host");
    let _ = host.dispatch(data);
});
