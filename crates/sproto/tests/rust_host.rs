//! The Rust side (`value`, `host`) against skynet's bytes: the schemas and
//! RPC packets of `kat.expected` (skynet's example client and agent, as
//! skynet's own sproto wrote them), the Lua side on random values, and
//! hostile input.

use mlua::Lua;
use proptest::prelude::*;
use skyhold_sproto::host::{Host, Message};
use skyhold_sproto::value::{self, Struct, Value};
use skyhold_sproto::Sproto;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

fn expected() -> BTreeMap<String, String> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/kat.expected");
    let text = std::fs::read_to_string(path).expect("kat.expected");
    text.lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{c:02x}")).collect()
}

fn schema(kat: &BTreeMap<String, String>, key: &str) -> Arc<Sproto> {
    let bin = unhex(kat[key].split(' ').next().unwrap());
    Arc::new(Sproto::load(&bin, &mut || Ok(())).expect("schema"))
}

fn obj(pairs: &[(&str, &str)]) -> Struct {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Value::str(v)))
        .collect()
}

#[test]
fn client_and_agent_bytes_match_skynets() {
    let kat = expected();
    let (c2s, s2c) = (schema(&kat, "bin.c2s"), schema(&kat, "bin.s2c"));
    let mut client = Host::new(s2c.clone(), c2s.clone(), "package").unwrap();
    let mut server = Host::new(c2s.clone(), s2c.clone(), "package").unwrap();
    let none = Struct::new();
    let hs = client.request("handshake", &none, Some(1)).unwrap();
    assert_eq!(hex(&hs), kat["rpc.handshake"]);
    let set = obj(&[("what", "hello"), ("value", "world")]);
    assert_eq!(
        hex(&client.request("set", &set, Some(2)).unwrap()),
        kat["rpc.set"]
    );
    let get = client
        .request("get", &obj(&[("what", "hello")]), Some(3))
        .unwrap();
    assert_eq!(hex(&get), kat["rpc.get"]);
    assert_eq!(
        hex(&client.request("quit", &none, Some(4)).unwrap()),
        kat["rpc.quit"]
    );
    assert_eq!(
        hex(&server.request("heartbeat", &none, None).unwrap()),
        kat["rpc.heartbeat"]
    );
    assert_eq!(
        server.dispatch(&get).unwrap(),
        Message::Request {
            name: "get".into(),
            args: Some(obj(&[("what", "hello")])),
            session: Some(3),
        }
    );
    let reply = server
        .respond("get", 3, &obj(&[("result", "world")]))
        .unwrap();
    assert_eq!(hex(&reply), kat["rpc.reply.get"]);
    assert_eq!(
        client.dispatch(&reply).unwrap(),
        Message::Response {
            session: 3,
            args: Some(obj(&[("result", "world")])),
        }
    );
    // An answer is taken once; a second one is an unknown session.
    let again = client.dispatch(&reply).unwrap_err();
    assert!(again.contains("Unknown session 3"), "{again}");
    // A heartbeat the server pushes reaches the client as a request.
    let hb = unhex(&kat["rpc.heartbeat"]);
    assert_eq!(
        client.dispatch(&hb).unwrap(),
        Message::Request {
            name: "heartbeat".into(),
            args: None,
            session: None
        }
    );
    // Sessions are not reused while waiting.
    assert!(client.request("quit", &none, Some(1)).is_err());
}

#[test]
fn type_mismatches_and_unknown_names_are_errors() {
    let kat = expected();
    let c2s = schema(&kat, "bin.c2s");
    let s2c = schema(&kat, "bin.s2c");
    let mut client = Host::new(s2c.clone(), c2s.clone(), "package").unwrap();
    let mut bad = Struct::new();
    bad.insert("what".into(), Value::Integer(3));
    let e = client.request("get", &bad, Some(1)).unwrap_err();
    assert_eq!(e, "get.request.what[0] is not a string (Is a number)");
    assert!(client.request("nope", &bad, None).is_err());
    assert!(Host::new(s2c, c2s, "nothing").is_err());
}

/// A schema of every field kind, for the differential test.
const SCHEMA: &str = r#"
.Inner { n 0 : integer  s 1 : string }
.All {
  i 0 : integer
  b 1 : boolean
  s 2 : string
  d 3 : double
  inner 4 : Inner
  ints 5 : *integer
  bools 6 : *boolean
  strs 7 : *string
  inners 8 : *Inner
  far 20 : integer
  dec 21 : integer(2)
  doubles 22 : *double
}
"#;

fn any_inner() -> impl Strategy<Value = Struct> {
    (
        proptest::option::of(any::<i64>()),
        proptest::option::of(".{0,8}"),
    )
        .prop_map(|(n, s)| {
            let mut m = Struct::new();
            if let Some(n) = n {
                m.insert("n".into(), Value::Integer(n));
            }
            if let Some(s) = s {
                m.insert("s".into(), Value::str(&s));
            }
            m
        })
}

fn any_all() -> impl Strategy<Value = Struct> {
    let small = prop_oneof![-70_000i64..70_000, any::<i64>()];
    (
        proptest::option::of(small.clone()),
        proptest::option::of(any::<bool>()),
        proptest::option::of(".{0,12}"),
        proptest::option::of(-1e9f64..1e9),
        proptest::option::of(any_inner()),
        proptest::option::of(proptest::collection::vec(small.clone(), 0..6)),
        proptest::option::of(proptest::collection::vec(any::<bool>(), 0..6)),
        proptest::option::of(proptest::collection::vec(".{0,5}", 0..4)),
        proptest::option::of(proptest::collection::vec(any_inner(), 0..3)),
        proptest::option::of(small),
        proptest::option::of(-1_000_000i64..1_000_000),
        proptest::option::of(proptest::collection::vec(-1e6f64..1e6, 0..4)),
    )
        .prop_map(
            |(i, b, s, d, inner, ints, bools, strs, inners, far, dec, doubles)| {
                let mut m = Struct::new();
                let mut put = |k: &str, v: Option<Value>| {
                    if let Some(v) = v {
                        m.insert(k.into(), v);
                    }
                };
                put("i", i.map(Value::Integer));
                put("b", b.map(Value::Boolean));
                put("s", s.map(|s| Value::str(&s)));
                put("d", d.map(Value::Double));
                put("inner", inner.map(Value::Struct));
                put(
                    "ints",
                    ints.map(|v| Value::Array(v.into_iter().map(Value::Integer).collect())),
                );
                put(
                    "bools",
                    bools.map(|v| Value::Array(v.into_iter().map(Value::Boolean).collect())),
                );
                put(
                    "strs",
                    strs.map(|v| Value::Array(v.iter().map(|s| Value::str(s)).collect())),
                );
                put(
                    "inners",
                    inners.map(|v| Value::Array(v.into_iter().map(Value::Struct).collect())),
                );
                put("far", far.map(Value::Integer));
                // Whole hundredths, so the Lua side's float sees the same value.
                put("dec", dec.map(|n| Value::Double(n as f64 / 100.0)));
                put(
                    "doubles",
                    doubles.map(|v| Value::Array(v.into_iter().map(Value::Double).collect())),
                );
                m
            },
        )
}

/// The Lua value of `v`, built in `lua`.
fn to_lua(lua: &Lua, v: &Value) -> mlua::Value {
    match v {
        Value::Integer(n) => mlua::Value::Integer(*n),
        Value::Boolean(b) => mlua::Value::Boolean(*b),
        Value::Double(x) => mlua::Value::Number(*x),
        Value::String(s) => mlua::Value::String(lua.create_string(s).unwrap()),
        Value::Struct(m) => {
            let t = lua.create_table().unwrap();
            for (k, v) in m {
                t.set(k.as_str(), to_lua(lua, v)).unwrap();
            }
            mlua::Value::Table(t)
        }
        Value::Array(items) => {
            let t = lua.create_table().unwrap();
            for (i, v) in items.iter().enumerate() {
                t.set(i + 1, to_lua(lua, v)).unwrap();
            }
            mlua::Value::Table(t)
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// The Rust encoder writes what `sproto.core` writes for the same
    /// values, and decodes its own bytes back to them.
    #[test]
    fn rust_and_lua_encode_the_same_bytes(all in any_all()) {
        let sp = skyhold_sproto::host::parse_schema(SCHEMA, "=all").unwrap();
        let ours = value::encode_named(&sp, "All", &all).unwrap();
        let lua = Lua::new();
        let core = skyhold_sproto::core::build(&lua, skyhold_sproto::Slots::new()).unwrap();
        lua.globals().set("core", core).unwrap();
        let bin = skyhold_sproto::parser::parse(SCHEMA.as_bytes(), "=all").unwrap();
        lua.globals().set("bin", lua.create_string(&bin).unwrap()).unwrap();
        lua.globals().set("obj", to_lua(&lua, &Value::Struct(all.clone()))).unwrap();
        let theirs: mlua::LuaString = lua
            .load("local sp = core.newproto(bin) return core.encode(core.querytype(sp, 'All'), obj)")
            .eval()
            .unwrap();
        prop_assert_eq!(hex(&ours), hex(&theirs.as_bytes()));
        let (back, used) = value::decode_named(&sp, "All", &ours).unwrap();
        prop_assert_eq!(used, ours.len());
        prop_assert_eq!(back, all);
    }

    /// Any bytes decode to a value or an error, never a panic.
    #[test]
    fn hostile_bytes_are_refused_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let sp = skyhold_sproto::host::parse_schema(SCHEMA, "=all").unwrap();
        let _ = value::decode_named(&sp, "All", &bytes);
        let mut host = Host::new(sp.clone(), sp, "Inner").unwrap();
        let _ = host.dispatch(&bytes);
    }
}

#[test]
fn nesting_is_bounded() {
    let sp = skyhold_sproto::host::parse_schema(".Node { next 0 : Node }", "=n").unwrap();
    let mut v = Struct::new();
    for _ in 0..100 {
        let mut outer = Struct::new();
        outer.insert("next".into(), Value::Struct(v));
        v = outer;
    }
    assert_eq!(
        value::encode_named(&sp, "Node", &v).unwrap_err(),
        "The table is too deep"
    );
}
