//! skynet's bson decoder and the mongo driver's reply check on arbitrary
//! bytes: errors, never a panic, nothing allocated past the input.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = skyhold_bson::wire::decode(data, &mut ());
    let _ = skyhold_bson::driver::parse_reply(data);
});
