//! The metrics endpoint's request reader: any bytes are a request head or
//! an error, and any Authorization value decodes or is refused.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use skyhold_ops::request;

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = request::parse(data) {
        assert!(r.path.starts_with('/'));
        if let Some(a) = &r.authorization {
            let _ = request::basic(a);
        }
        if let Some(h) = &r.host {
            let _ = request::loopback_host(h);
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Some(d) = request::base64(text) {
            assert!(d.len() <= text.len());
        }
    }
});
