//! Properties of the sproto codec: hostile bytes (schemas, messages,
//! packed streams) give an error or a value, never a panic; what is
//! encoded decodes back to the same values; packing round-trips.

use mlua::{Lua, Table, Value};
use proptest::prelude::*;
use skyhold_sproto::decode::Decoder;
use skyhold_sproto::encode::Encoder;
use skyhold_sproto::meter::Meter;
use skyhold_sproto::{pack, parser, Sproto};

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

fn schema() -> Sproto {
    let bin = parser::parse(SCHEMA.as_bytes(), "props").expect("schema parses");
    Sproto::load(&bin, &mut || Ok(())).expect("schema loads")
}

fn none() -> impl FnMut() -> Result<(), String> {
    || Ok(())
}

fn decode(lua: &Lua, sp: &Sproto, ti: usize, bytes: &[u8]) -> mlua::Result<Option<(Table, usize)>> {
    let mut meter = Meter::free();
    let t = lua.create_table()?;
    let r = Decoder::new(lua, sp, &mut meter).decode(ti, bytes, &t)?;
    Ok(r.map(|n| (t, n)))
}

fn encode(lua: &Lua, sp: &Sproto, ti: usize, v: &Table) -> mlua::Result<Vec<u8>> {
    let mut meter = Meter::free();
    let mut enc = Encoder::new(lua, sp, &mut meter);
    enc.encode_struct(ti, &Value::Table(v.clone()), 0)?;
    Ok(enc.out)
}

#[derive(Debug, Clone)]
struct Data {
    numbers: Vec<i64>,
    bools: Vec<bool>,
    number: Option<i64>,
    double: Option<f64>,
    fpn: Option<i32>,
    text: Option<String>,
    strings: Vec<String>,
    children: Vec<Data>,
}

fn data(depth: u32) -> BoxedStrategy<Data> {
    let leaf = (
        prop::collection::vec(any::<i64>(), 0..6),
        prop::collection::vec(any::<bool>(), 0..5),
        prop::option::of(any::<i64>()),
        prop::option::of(-1e12f64..1e12),
        prop::option::of(-100_000i32..100_000),
        prop::option::of("[a-z\\x00\\u{e9}]{0,8}"),
        prop::collection::vec("[a-z]{0,4}", 0..4),
    );
    if depth == 0 {
        leaf.prop_map(
            |(numbers, bools, number, double, fpn, text, strings)| Data {
                numbers,
                bools,
                number,
                double,
                fpn,
                text,
                strings,
                children: Vec::new(),
            },
        )
        .boxed()
    } else {
        (leaf, prop::collection::vec(data(depth - 1), 0..3))
            .prop_map(
                |((numbers, bools, number, double, fpn, text, strings), children)| Data {
                    numbers,
                    bools,
                    number,
                    double,
                    fpn,
                    text,
                    strings,
                    children,
                },
            )
            .boxed()
    }
}

fn to_lua(lua: &Lua, d: &Data) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    if !d.numbers.is_empty() {
        t.set("numbers", d.numbers.clone())?;
    }
    if !d.bools.is_empty() {
        t.set("bools", d.bools.clone())?;
    }
    t.set("number", d.number)?;
    t.set("double", d.double)?;
    t.set("fpn", d.fpn.map(|f| f as f64 / 100.0))?;
    t.set("text", d.text.clone())?;
    if !d.strings.is_empty() {
        t.set("strings", d.strings.clone())?;
    }
    if !d.children.is_empty() {
        let c = lua.create_table()?;
        for (i, ch) in d.children.iter().enumerate() {
            c.set(i + 1, to_lua(lua, ch)?)?;
        }
        t.set("children", c)?;
    }
    Ok(t)
}

fn check_same(d: &Data, t: &Table) -> mlua::Result<()> {
    let numbers: Option<Vec<i64>> = t.get("numbers")?;
    assert_eq!(numbers.unwrap_or_default(), d.numbers);
    let bools: Option<Vec<bool>> = t.get("bools")?;
    assert_eq!(bools.unwrap_or_default(), d.bools);
    assert_eq!(t.get::<Option<i64>>("number")?, d.number);
    assert_eq!(t.get::<Option<f64>>("double")?, d.double);
    let fpn: Option<f64> = t.get("fpn")?;
    assert_eq!(fpn.map(|f| (f * 100.0).round() as i32), d.fpn);
    assert_eq!(t.get::<Option<String>>("text")?, d.text);
    let strings: Option<Vec<String>> = t.get("strings")?;
    assert_eq!(strings.unwrap_or_default(), d.strings);
    let children: Option<Table> = t.get("children")?;
    match children {
        None => assert!(d.children.is_empty()),
        Some(c) => {
            assert_eq!(c.raw_len(), d.children.len());
            for (i, ch) in d.children.iter().enumerate() {
                check_same(ch, &c.get(i + 1)?)?;
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn values_round_trip(d in data(2)) {
        let lua = Lua::new();
        let sp = schema();
        let ti = sp.type_index(b"Data").expect("Data");
        let bytes = encode(&lua, &sp, ti, &to_lua(&lua, &d).expect("to lua")).expect("encodes");
        let (t, n) = decode(&lua, &sp, ti, &bytes).expect("no lua error").expect("decodes");
        prop_assert_eq!(n, bytes.len());
        check_same(&d, &t).expect("same");
        // And through the zero-packing.
        let packed = pack::pack(&bytes, &mut none()).expect("packs");
        let unpacked = pack::unpack(&packed, &mut none()).expect("unpacks");
        let (t, _) = decode(&lua, &sp, ti, &unpacked).expect("no lua error").expect("decodes padded");
        check_same(&d, &t).expect("same after packing");
    }

    #[test]
    fn hostile_messages_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let lua = Lua::new();
        let sp = schema();
        for ti in 0..sp.types.len() {
            // Ok(Some) or Ok(None) (decode error) or a Lua error (a missing
            // main index, a NaN key): never a panic.
            let _ = decode(&lua, &sp, ti, &bytes);
        }
    }

    #[test]
    fn hostile_schemas_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let lua = Lua::new();
        if let Ok(sp) = Sproto::load(&bytes, &mut none()) {
            for ti in 0..sp.types.len() {
                let _ = decode(&lua, &sp, ti, &bytes);
                let _ = encode(&lua, &sp, ti, &lua.create_table().expect("table"));
            }
        }
    }

    #[test]
    fn hostile_schema_texts_never_panic(text in "[.a-z0-9 {}()*:#\n]{0,120}") {
        let _ = parser::parse(text.as_bytes(), "t");
    }

    #[test]
    fn packing_round_trips(bytes in prop::collection::vec(prop_oneof![Just(0u8), any::<u8>()], 0..4000)) {
        let packed = pack::pack(&bytes, &mut none()).expect("packs");
        prop_assert!(packed.len() <= pack::max_packed(bytes.len()));
        let back = pack::unpack(&packed, &mut none()).expect("unpacks");
        prop_assert_eq!(&back[..bytes.len()], &bytes[..]);
        prop_assert!(back[bytes.len()..].iter().all(|b| *b == 0));
        prop_assert!(back.len() < bytes.len() + 8);
    }

    #[test]
    fn hostile_packed_streams_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        if let Ok(out) = pack::unpack(&bytes, &mut none()) {
            prop_assert!(out.len() <= bytes.len() * 8);
        }
    }
}

#[test]
fn a_decode_is_charged_to_the_budget() {
    let lua = Lua::new();
    let budget = skyhold_lua::budget::Budget::new(&lua, 5_000).expect("budget");
    budget.arm();
    lua.set_app_data(budget);
    let sp = schema();
    let ti = sp.type_index(b"Data").expect("Data");
    // 100 000 booleans in one array.
    let mut msg = vec![2, 0, 1, 0, 0, 0];
    msg.extend_from_slice(&100_000u32.to_le_bytes());
    msg.extend(std::iter::repeat_n(1u8, 100_000));
    let mut meter = Meter::new(&lua);
    let t = lua.create_table().expect("table");
    let e = Decoder::new(&lua, &sp, &mut meter)
        .decode(ti, &msg, &t)
        .unwrap_err();
    assert!(e.to_string().contains("instruction budget exceeded"), "{e}");
}
