//! Decodes arbitrary bytes as a `skynet.pack` message. Whatever decodes must
//! re-encode canonically, decode again to the same values, and the decoder
//! must never ask a builder for more than the input can justify.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use skyhold_pack::recorder::Recorder;
use skyhold_pack::{pack, unpack, DecodeError, Limits, PackError, Table, Value};

/// Structural equality where a NaN equals a NaN with the same bits.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Real(x), Value::Real(y)) => x.to_bits() == y.to_bits(),
        (Value::Table(x), Value::Table(y)) => same_table(x, y),
        _ => a == b,
    }
}

fn same_table(a: &Table, b: &Table) -> bool {
    a.array.len() == b.array.len()
        && a.hash.len() == b.hash.len()
        && a.array.iter().zip(&b.array).all(|(x, y)| same(x, y))
        && a.hash
            .iter()
            .zip(&b.hash)
            .all(|((k1, v1), (k2, v2))| same(k1, k2) && same(v1, v2))
}

fuzz_target!(|data: &[u8]| {
    let (streamed, rec) = Recorder::record(data, &Limits::default());
    assert!(rec.array_hints <= data.len());
    assert!(rec.string_bytes <= data.len());
    assert!(rec.calls() <= data.len());

    let tree = unpack(data);
    match (&streamed, &tree) {
        (Ok(()), Ok(_)) => {}
        // The tree decoder stops at a NaN key; the streaming one reads on.
        (_, Err(DecodeError::NanKey { .. })) => {}
        (Err(a), Err(b)) => {
            assert_eq!(a, b);
            assert!(a.to_string().starts_with("Invalid serialize stream: "));
        }
        _ => panic!("decoders disagree: {streamed:?} vs {tree:?}"),
    }

    let Ok(values) = tree else { return };
    let bytes = match pack(&values) {
        Ok(b) => b,
        // The decoder accepts 64 levels, skynet's pack only 32.
        Err(e) => {
            assert_eq!(e, PackError::TooDeep);
            return;
        }
    };
    assert!(bytes.len() <= data.len(), "canonical form is never longer");
    let again = unpack(&bytes).expect("a canonical encoding decodes");
    assert_eq!(again.len(), values.len());
    assert!(values.iter().zip(&again).all(|(a, b)| same(a, b)));
    assert_eq!(pack(&again).expect("packs again"), bytes);
});
