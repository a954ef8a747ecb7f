//! sproto's zero-unpacking of hostile bytes: an error or at most eight
//! bytes out per byte in, never a panic; what unpacks packs back to the
//! same words.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use skyhold_sproto::pack;

fuzz_target!(|data: &[u8]| {
    let mut tick = || Ok(());
    if let Ok(out) = pack::unpack(data, &mut tick) {
        assert!(out.len() <= data.len() * 8);
        let again = pack::pack(&out, &mut tick).expect("repack");
        let back = pack::unpack(&again, &mut tick).expect("unpack the repacked");
        assert_eq!(back, out);
    }
});
