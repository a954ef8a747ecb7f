//! Property tests for protobuf.c (pbc): values written field by field
//! come back from `_decode`'s reader, the field-by-field reader and a
//! pattern as pbc hands them to Lua; random bytes never panic any reader.

use proptest::prelude::*;
use skyhold_pb::meter::Meter;
use skyhold_pb::pbc::env::Env;
use skyhold_pb::pbc::pattern::{PVal, Pattern};
use skyhold_pb::pbc::rmsg::RMsg;
use skyhold_pb::pbc::scan::{self, Out};
use skyhold_pb::pbc::wmsg::WTree;
use std::collections::HashMap;

fn env() -> Env {
    let mut e = Env::default();
    let mut m = Meter::unmetered();
    e.register(include_bytes!("data/pbc/a.pb"), &mut m)
        .expect("a");
    e.register(include_bytes!("data/pbc/b.pb"), &mut m)
        .expect("b");
    e
}

/// Everything `_decode` gives, as field name → values (the last for a
/// single field, all for a repeated one).
fn decode_all(env: &Env, ty: &str, b: &[u8]) -> HashMap<String, Vec<String>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    let mut m = Meter::unmetered();
    scan::decode(
        env,
        ty.as_bytes(),
        b,
        &mut m,
        &mut |ev| -> mlua::Result<()> {
            let v = match ev.value {
                Out::Int(i) => i.to_string(),
                Out::Real(r) => format!("{r:?}"),
                Out::Bool(b) => b.to_string(),
                Out::Enum(n) => format!("{:?}", n.map(|n| String::from_utf8_lossy(n).into_owned())),
                Out::Str(s) | Out::Msg(s) => format!("{s:?}"),
            };
            let e = out
                .entry(String::from_utf8_lossy(&ev.field.name).into_owned())
                .or_default();
            if !ev.repeated {
                e.clear();
            }
            e.push(v);
            Ok(())
        },
    )
    .expect("decodes");
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn written_values_read_back(
        i32v in any::<i32>(), i64v in any::<i64>(), u32v in any::<u32>(),
        s32 in any::<i32>(), s64 in any::<i64>(), sf32 in any::<i32>(),
        d in any::<f64>().prop_filter("not NaN", |d| !d.is_nan()),
        s in proptest::collection::vec(any::<u8>(), 0..40),
        packed in proptest::collection::vec(any::<i32>(), 0..20),
        strs in proptest::collection::vec("[a-z]{0,5}", 0..5),
        px in any::<i32>(),
    ) {
        let env = env();
        let mut w = WTree::new(b"pbct.All");
        w.integer(&env, 0, b"req", 1).unwrap();
        w.integer(&env, 0, b"i32", i32v as i64 as u64).unwrap();
        w.integer(&env, 0, b"i64", i64v as u64).unwrap();
        w.integer(&env, 0, b"u32", u64::from(u32v)).unwrap();
        w.integer(&env, 0, b"s32", s32 as i64 as u64).unwrap();
        w.integer(&env, 0, b"s64", s64 as u64).unwrap();
        w.integer(&env, 0, b"sf32", sf32 as i64 as u64).unwrap();
        w.real(&env, 0, b"d", d).unwrap();
        w.string(&env, 0, b"by", &s).unwrap();
        for v in &packed {
            w.integer(&env, 0, b"rp", *v as i64 as u64).unwrap();
            w.integer(&env, 0, b"ri", *v as i64 as u64).unwrap();
        }
        for v in &strs {
            w.string(&env, 0, b"rs", v.as_bytes()).unwrap();
        }
        let p = w.message(&env, 0, b"p").unwrap();
        w.integer(&env, p, b"x", px as i64 as u64).unwrap();
        let bytes = w.buffer(0);

        let got = decode_all(&env, "pbct.All", &bytes);
        let one = |k: &str| got.get(k).and_then(|v| v.last()).cloned();
        // Optional fields equal to their default (0, "") are not written.
        let want = |v: String, zero: bool| if zero { None } else { Some(v) };
        prop_assert_eq!(one("i32"), want(i32v.to_string(), i32v == 0));
        prop_assert_eq!(one("i64"), want(i64v.to_string(), i64v == 0));
        prop_assert_eq!(one("u32"), want(u32v.to_string(), u32v == 0));
        prop_assert_eq!(one("s32"), want(s32.to_string(), s32 == 0));
        prop_assert_eq!(one("s64"), want(s64.to_string(), s64 == 0));
        prop_assert_eq!(one("sf32"), want(sf32.to_string(), sf32 == 0));
        prop_assert_eq!(one("d"), want(format!("{d:?}"), d == 0.0));
        prop_assert_eq!(one("by"), want(format!("{s:?}"), s.is_empty()));
        let ints: Vec<String> = packed.iter().map(|v| v.to_string()).collect();
        prop_assert_eq!(got.get("rp").cloned().unwrap_or_default(), ints.clone());
        prop_assert_eq!(got.get("ri").cloned().unwrap_or_default(), ints);
        let sv: Vec<String> = strs.iter().map(|v| format!("{:?}", v.as_bytes())).collect();
        prop_assert_eq!(got.get("rs").cloned().unwrap_or_default(), sv);
        let sub = got.get("p").and_then(|v| v.last()).cloned().expect("p written");
        prop_assert!(sub.starts_with('['));

        // The field-by-field reader and a pattern agree.
        let mut m = Meter::unmetered();
        let len = bytes.len();
        let (r, _) = RMsg::new(&env, b"pbct.All", bytes.clone().into(), 0, len, &mut m)
            .unwrap()
            .unwrap();
        prop_assert_eq!(r.integer(&env, b"i64", 0) as i64, i64v);
        prop_assert_eq!(r.integer(&env, b"s64", 0) as i64, s64);
        prop_assert_eq!(r.size(b"rp"), packed.len());
        prop_assert_eq!(r.string(&env, b"by", 0), &s[..]);
        let (rp, _) = r.message(&env, b"p", 0, &mut m).unwrap().unwrap();
        prop_assert_eq!(rp.integer(&env, b"x", 0) as u32 as i32, px);
        let pat = Pattern::new(&env, b"pbct.All", b"@i64 %D by %s rp %a").unwrap();
        let vals = pat.unpack(&bytes, &mut m).unwrap().unwrap();
        prop_assert_eq!(&vals[0], &PVal::Bits(i64v as u64));
        prop_assert_eq!(&vals[1], &PVal::Bytes(s.clone()));
        // Packing what was unpacked gives bytes that read the same.
        let again = pat.pack(&vals);
        let back = pat.unpack(&again, &mut m).unwrap().unwrap();
        prop_assert_eq!(back, vals);
    }

    #[test]
    fn random_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..300)) {
        let env = env();
        let mut m = Meter::unmetered();
        for ty in ["pbct.All", "pbct.Tree", "pbct.b.Holder", "google.protobuf.FileDescriptorSet"] {
            let _ = scan::decode(&env, ty.as_bytes(), &b, &mut m, &mut |_| -> mlua::Result<()> { Ok(()) });
            if let Ok(Ok((r, _))) = RMsg::new(&env, ty.as_bytes(), b.clone().into(), 0, b.len(), &mut m) {
                let _ = r.message(&env, b"p", 0, &mut m);
                let _ = r.string(&env, b"s", 0);
                let _ = r.integer(&env, b"rp", 3);
            }
        }
        let pat = Pattern::new(&env, b"pbct.All", b"@req %d s %s ri %a rp %a rd %a p %s").unwrap();
        let _ = pat.unpack(&b, &mut m);
        let mut e2 = env.clone();
        let _ = e2.register(&b, &mut m);
    }
}

#[test]
fn decoding_is_charged_to_the_budget() {
    let lua = mlua::Lua::new();
    skyhold_pb::preload(&lua).expect("preload");
    let budget = skyhold_lua::budget::Budget::new(&lua, 5_000).expect("budget");
    lua.set_app_data(budget.clone());
    budget.arm();
    let mut big = Vec::new();
    for _ in 0..20_000 {
        big.extend_from_slice(&[0x28, 0x01]);
    }
    lua.globals()
        .set(
            "A",
            lua.create_string(include_bytes!("data/pbc/a.pb")).unwrap(),
        )
        .unwrap();
    let r: mlua::Result<mlua::Value> = lua
        .load(
            r#"
            local c = require "protobuf.c"
            local P = c._env_new()
            c._env_register(P, A)
            return c._decode(P, function() end, {}, "pbct.All", ...)
            "#,
        )
        .call(lua.create_string(&big).unwrap());
    let e = r.expect_err("budget spent");
    assert!(e.to_string().contains("instruction budget exceeded"), "{e}");
}
