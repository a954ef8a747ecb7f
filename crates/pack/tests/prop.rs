//! Property tests for the pack format: round trips, hostile bytes, and the
//! integer encoder's choice of form.

use proptest::prelude::*;
use skyhold_pack::recorder::Recorder;
use skyhold_pack::{pack, unpack, write, DecodeError, Limits, Table, Value};

/// A scalar that may be a table key: never nil, never NaN, and never an
/// integral float (Lua turns `t[2.0]` into `t[2]`).
fn key() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<bool>().prop_map(Value::Boolean),
        any::<i64>().prop_map(Value::Integer),
        (-1000i64..1000).prop_map(Value::Integer),
        any::<f64>()
            .prop_filter("finite, non-integral", |f| f.is_finite()
                && f.fract() != 0.0)
            .prop_map(Value::Real),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::String),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Nil),
        any::<bool>().prop_map(Value::Boolean),
        any::<i64>().prop_map(Value::Integer),
        (-70000i64..70000).prop_map(Value::Integer),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::Real),
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(Value::String),
        proptest::collection::vec(any::<u8>(), 60000..70000).prop_map(Value::String),
    ]
}

/// Trees up to 8 tables deep, with distinct keys that never collide with
/// the array part.
fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(8, 256, 40, |inner| {
        (
            proptest::collection::vec(inner.clone(), 0..40),
            proptest::collection::vec((key(), inner), 0..8),
        )
            .prop_map(|(array, pairs)| {
                let n = array.len() as i64;
                let mut hash: Vec<(Value, Value)> = Vec::new();
                for (k, v) in pairs {
                    let in_array = matches!(k, Value::Integer(i) if (1..=n).contains(&i));
                    if !in_array && !hash.iter().any(|(h, _)| *h == k) {
                        hash.push((k, v));
                    }
                }
                Value::Table(Table { array, hash })
            })
    })
}

/// Checks that decoding `input` never asks for more than the input can
/// justify, and that the tree decoder agrees with the builder decoder.
fn check_hostile(input: &[u8]) {
    let (r, rec) = Recorder::record(input, &Limits::default());
    // Every array item, string byte and value has its own input byte.
    assert!(
        rec.array_hints <= input.len(),
        "hints {} > {}",
        rec.array_hints,
        input.len()
    );
    assert!(rec.string_bytes <= input.len());
    assert!(rec.calls() <= input.len());
    let tree = unpack(input);
    match (&r, &tree) {
        (Ok(()), Ok(_)) => {}
        // The tree decoder stops at a NaN key; the recorder takes it and
        // reads on (possibly into a later error).
        (_, Err(DecodeError::NanKey { .. })) => {}
        (Err(a), Err(b)) => {
            assert_eq!(a, b);
            assert!(a.to_string().starts_with("Invalid serialize stream: "));
        }
        _ => panic!("decoders disagree: {r:?} vs {tree:?}"),
    }
    // Whatever decodes re-encodes to a fixed point (when not too deep for
    // pack's stricter limit).
    if let Ok(values) = tree {
        if let Ok(bytes) = pack(&values) {
            let again = unpack(&bytes).expect("canonical bytes decode");
            assert_eq!(pack(&again).expect("packs again"), bytes);
        }
    }
}

/// The length `write::integer` must use for `i`.
fn smallest_form(i: i64) -> usize {
    if i == 0 {
        1
    } else if (1..=255).contains(&i) {
        2
    } else if (256..=65535).contains(&i) {
        3
    } else if i32::try_from(i).is_ok() {
        5
    } else {
        9
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// (a) Generated trees survive pack then unpack unchanged.
    #[test]
    fn round_trip(values in proptest::collection::vec(value(), 0..4)) {
        let bytes = pack(&values).unwrap();
        let back = unpack(&bytes).unwrap();
        prop_assert_eq!(&back, &values);
        // Real and Integer stay distinct: compare the bytes too.
        prop_assert_eq!(pack(&back).unwrap(), bytes);
    }

    /// (b) Arbitrary bytes never panic and allocate in proportion.
    #[test]
    fn arbitrary_bytes(input in proptest::collection::vec(any::<u8>(), 0..512)) {
        check_hostile(&input);
    }

    /// (b) Bytes biased towards tags that open tables and declare lengths.
    #[test]
    fn table_heavy_bytes(
        input in proptest::collection::vec(
            prop_oneof![
                Just(0x00u8), Just(0x06), Just(0x0e), Just(0xfe), Just(0x22),
                Just(0x25), Just(0x15), Just(0x32), Just(0x7f), Just(0xff),
                Just(0x02), Just(0x0a), any::<u8>(),
            ],
            0..512,
        )
    ) {
        check_hostile(&input);
    }

    /// (b) Valid messages, damaged: truncated, a byte changed, bytes cut out.
    #[test]
    fn damaged_messages(
        values in proptest::collection::vec(value(), 1..3),
        cut in any::<prop::sample::Index>(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        hole in 0usize..16,
    ) {
        let bytes = pack(&values).unwrap();
        check_hostile(&bytes[..cut.index(bytes.len() + 1)]);
        let mut flipped = bytes.clone();
        let i = at.index(flipped.len());
        flipped[i] = byte;
        check_hostile(&flipped);
        let mut holed = bytes.clone();
        let end = (i + hole).min(holed.len());
        holed.drain(i..end);
        check_hostile(&holed);
    }

    /// (c) The encoder picks the smallest integer form, and it decodes back.
    #[test]
    fn smallest_integer_form(i in prop_oneof![
        any::<i64>(),
        -70000i64..70000,
        Just(i64::from(i32::MIN)), Just(i64::from(i32::MAX)),
        Just(i64::from(i32::MIN) - 1), Just(i64::from(i32::MAX) + 1),
    ]) {
        let mut b = Vec::new();
        write::integer(&mut b, i);
        prop_assert_eq!(b.len(), smallest_form(i));
        prop_assert_eq!(unpack(&b).unwrap(), vec![Value::Integer(i)]);
    }

    /// Reals always take the 9-byte form and keep their bits.
    #[test]
    fn reals_keep_their_bits(f in any::<f64>()) {
        let mut b = Vec::new();
        write::real(&mut b, f);
        prop_assert_eq!(b.len(), 9);
        match unpack(&b).unwrap().as_slice() {
            [Value::Real(g)] => prop_assert_eq!(g.to_bits(), f.to_bits()),
            other => prop_assert!(false, "{:?}", other),
        }
    }

    /// Strings take the form their length calls for.
    #[test]
    fn string_forms(len in prop_oneof![0usize..100, 65500usize..65600]) {
        let s = vec![b'z'; len];
        let mut b = Vec::new();
        write::string(&mut b, &s);
        let header = if len <= 31 { 1 } else if len <= 65535 { 3 } else { 5 };
        prop_assert_eq!(b.len(), header + len);
        prop_assert_eq!(unpack(&b).unwrap(), vec![Value::String(s)]);
    }

    /// Table headers of any array length decode to that length.
    #[test]
    fn table_headers(n in prop_oneof![0usize..70, 65530usize..65540]) {
        let mut b = Vec::new();
        write::table_header(&mut b, n);
        prop_assert_eq!(b.len(), if n <= 30 { 1 } else { 1 + smallest_form(n as i64) });
        for _ in 0..n {
            write::boolean(&mut b, true);
        }
        write::table_end(&mut b);
        match unpack(&b).unwrap().as_slice() {
            [Value::Table(t)] => {
                prop_assert_eq!(t.array.len(), n);
                prop_assert!(t.hash.is_empty());
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }
}
