//! skynet.crypt's and md5's decoders on arbitrary text: base64 and hex
//! either fail with skynet's message or decode to bytes that encode back to
//! an equivalent text; DES and md5 decryption of arbitrary ciphertext fail
//! cleanly or give a plaintext that encrypts back to it.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use skyhold_crypt::{codec, des, md5lib};

fuzz_target!(|data: &[u8]| {
    match codec::base64_decode(data) {
        Ok(v) => {
            let again = codec::base64_encode(&v);
            assert_eq!(codec::base64_decode(&again).as_deref(), Ok(&v[..]));
        }
        Err(e) => assert_eq!(e, "Invalid base64 text"),
    }
    match codec::hex_decode(data) {
        Ok(v) => assert_eq!(v.len() * 2, data.len()),
        Err(e) => assert!(e.starts_with("Invalid hex text")),
    }
    if data.len() > 8 {
        let (key, text) = data.split_at(8);
        for mode in [des::ISO7816_4, des::PKCS7] {
            match des::decode(key, text, mode) {
                Ok(plain) => assert_eq!(des::encode(key, &plain, mode).as_deref(), Ok(text)),
                Err(e) => assert!(e.starts_with("Invalid des crypt text")),
            }
        }
        match md5lib::decrypt(text, key) {
            Ok(plain) => {
                let seed = &text[1..1 + usize::from(text[0])];
                assert_eq!(md5lib::crypt(&plain, key, seed).as_deref(), Ok(text));
            }
            Err(e) => assert_eq!(e, "invalid cyphered string"),
        }
    }
});
