//! The reader against lua-cjson's own answers (the expected strings were
//! printed by lua-cjson 2.1.0.11 built against Lua 5.4).

use super::*;
use proptest::prelude::*;

/// A document as plain Rust values.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Str(Vec<u8>),
    Num(f64),
    Int(i64),
    Bool(bool),
    Null,
    Arr(Vec<Json>),
    Obj(Vec<(Vec<u8>, Json)>),
}

/// Builds [`Json`] values.
#[derive(Default)]
pub(crate) struct Tree {
    current: Option<Json>,
    open: Vec<(Json, Option<Vec<u8>>)>,
    pub(crate) charged: i64,
}

impl Sink for Tree {
    type Error = ();
    fn scalar(&mut self, v: Scalar<'_>) -> Result<(), ()> {
        self.current = Some(match v {
            Scalar::Str(s) => Json::Str(s.to_vec()),
            Scalar::Number(f) => Json::Num(f),
            Scalar::Integer(i) => Json::Int(i),
            Scalar::Bool(b) => Json::Bool(b),
            Scalar::Null => Json::Null,
        });
        Ok(())
    }
    fn begin(&mut self, array: bool) -> Result<(), ()> {
        let c = if array {
            Json::Arr(Vec::new())
        } else {
            Json::Obj(Vec::new())
        };
        self.open.push((c, None));
        Ok(())
    }
    fn key(&mut self, k: &[u8]) -> Result<(), ()> {
        self.open.last_mut().ok_or(())?.1 = Some(k.to_vec());
        Ok(())
    }
    fn store(&mut self) -> Result<(), ()> {
        let v = self.current.take().ok_or(())?;
        match self.open.last_mut().ok_or(())? {
            (Json::Arr(a), _) => a.push(v),
            (Json::Obj(o), k) => o.push((k.take().ok_or(())?, v)),
            _ => return Err(()),
        }
        Ok(())
    }
    fn end(&mut self) -> Result<(), ()> {
        self.current = Some(self.open.pop().ok_or(())?.0);
        Ok(())
    }
    fn charge(&mut self, steps: i64) -> Result<(), ()> {
        self.charged += steps;
        Ok(())
    }
}

pub(crate) fn parse_with(s: &[u8], opts: DecodeOptions) -> Result<Json, String> {
    let mut t = Tree::default();
    match decode(s, opts, &mut t) {
        Ok(()) => t.current.ok_or_else(|| "no value".into()),
        Err(DecodeError::Syntax(m)) => Err(m),
        Err(DecodeError::Sink(())) => Err("sink".into()),
    }
}

fn parse(s: &str) -> Result<Json, String> {
    parse_with(s.as_bytes(), DecodeOptions::default())
}

fn strict(s: &str) -> Result<Json, String> {
    parse_with(
        s.as_bytes(),
        DecodeOptions {
            invalid_numbers: false,
            ..Default::default()
        },
    )
}

fn err(r: Result<Json, String>) -> String {
    r.expect_err("should fail")
}

#[test]
fn values() {
    use Json::*;
    assert_eq!(parse("\"test string\""), Ok(Str(b"test string".to_vec())));
    assert_eq!(
        parse("[ 0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10 ]"),
        Ok(Arr(vec![
            Num(0.0),
            Num(-5000.0),
            Int(-1),
            Num(0.0003),
            Num(1023.2),
            Num(0.0)
        ]))
    );
    assert_eq!(parse("-0"), Ok(Int(0)));
    assert_eq!(parse("99999999999999999999"), Ok(Int(i64::MAX)));
    assert_eq!(parse("0x10"), Ok(Num(16.0)));
    assert_eq!(parse("0x6.ffp1"), Ok(Num(13.9921875)));
    assert_eq!(parse("[ 0123, 00.33 ]"), Ok(Arr(vec![Int(123), Num(0.33)])));
    assert_eq!(parse("+5"), Ok(Int(5)));
    assert_eq!(
        parse("[ +Infinity, Infinity, -Inf ]"),
        Ok(Arr(vec![
            Num(f64::INFINITY),
            Num(f64::INFINITY),
            Num(f64::NEG_INFINITY)
        ]))
    );
    assert!(matches!(parse("-NaN"), Ok(Num(n)) if n.is_nan()));
    assert_eq!(parse(r#""\uF800""#), Ok(Str(vec![239, 160, 128])));
    assert_eq!(
        parse(r#""\ud83d\ude00""#),
        Ok(Str("😀".as_bytes().to_vec()))
    );
    assert_eq!(parse(r#""\u0000a\/""#), Ok(Str(b"\0a/".to_vec())));
    assert_eq!(
        parse(r#"{ "a": [true, false, null], "b": {} }"#),
        Ok(Obj(vec![
            (b"a".to_vec(), Arr(vec![Bool(true), Bool(false), Null])),
            (b"b".to_vec(), Obj(vec![])),
        ]))
    );
}

#[test]
fn errors_match_lua_cjson() {
    let cases: &[(&str, &str)] = &[
        ("\0\"\0\"", "JSON parser does not support UTF-16 or UTF-32"),
        ("\"\0\0\0", "JSON parser does not support UTF-16 or UTF-32"),
        ("1\0x", "JSON parser does not support UTF-16 or UTF-32"),
        (
            "\"a\0b\"",
            "Expected value but found unexpected end of string at character 3",
        ),
        (
            "{ \"unexpected eof\": ",
            "Expected value but found T_END at character 21",
        ),
        (
            "{ \"extra data\": true }, false",
            "Expected the end but found T_COMMA at character 23",
        ),
        (
            r#" { "bad escape \q code" } "#,
            "Expected object key string but found invalid escape code at character 16",
        ),
        (
            r#" { "bad unicode \u0f6 escape" } "#,
            "Expected object key string but found invalid unicode escape code at character 17",
        ),
        (
            " [ \"bad barewood\", test ] ",
            "Expected value but found invalid token at character 20",
        ),
        (
            "[ -+12 ]",
            "Expected value but found invalid number at character 3",
        ),
        (
            "-v",
            "Expected value but found invalid number at character 1",
        ),
        (
            "[ 0.4eg10 ]",
            "Expected comma or array end but found invalid token at character 6",
        ),
        (
            "Infrared",
            "Expected the end but found invalid token at character 4",
        ),
        (
            "Noodle",
            "Expected value but found invalid token at character 1",
        ),
        (
            "0X10",
            "Expected the end but found invalid token at character 2",
        ),
        (
            r#""\uDC00\uD800""#,
            "Expected value but found invalid unicode escape code at character 2",
        ),
        (
            r#""\uDB00\uDB00""#,
            "Expected value but found invalid unicode escape code at character 2",
        ),
        (
            r#""\uDB00""#,
            "Expected value but found invalid unicode escape code at character 2",
        ),
        (
            r#""\uDB00\uD""#,
            "Expected value but found invalid unicode escape code at character 2",
        ),
        ("[1,]", "Expected value but found T_ARR_END at character 4"),
        (
            "{\"a\" 1}",
            "Expected colon but found T_INTEGER at character 6",
        ),
        (
            "{\"a\":1 \"b\"}",
            "Expected comma or object end but found T_STRING at character 8",
        ),
        (
            "{1:2}",
            "Expected object key string but found T_INTEGER at character 2",
        ),
        ("", "Expected value but found T_END at character 1"),
        (
            "Oops",
            "Expected value but found invalid token at character 1",
        ),
    ];
    for (input, want) in cases {
        assert_eq!(err(parse(input)), *want, "input {input:?}");
    }
    let strict_cases: &[(&str, &str)] = &[
        (
            "0x6",
            "Expected value but found invalid number at character 1",
        ),
        (
            "[ 0123, 00.33 ]",
            "Expected value but found invalid number at character 3",
        ),
        (
            "[ +Inf, Inf, -Inf ]",
            "Expected value but found invalid token at character 3",
        ),
        (
            "[ -Inf ]",
            "Expected value but found invalid number at character 3",
        ),
        (
            "[ +NaN, NaN, -NaN ]",
            "Expected value but found invalid token at character 3",
        ),
    ];
    for (input, want) in strict_cases {
        assert_eq!(err(strict(input)), *want, "input {input:?}");
    }
}

#[test]
fn depth() {
    let opts = DecodeOptions {
        max_depth: 5,
        ..Default::default()
    };
    assert!(parse_with(br#"[[[[[ "nested" ]]]]]"#, opts).is_ok());
    assert_eq!(
        err(parse_with(br#"[[[[[[ "nested" ]]]]]]"#, opts)),
        "Found too many nested data structures (6) at character 6"
    );
    assert_eq!(
        err(parse_with(
            br#"{"a":{"b":{"c":{"d":{"e":{"f":"nested"}}}}}}"#,
            opts
        )),
        "Found too many nested data structures (6) at character 26"
    );
    let deep = format!("{}1100{}", "[".repeat(1100), "]".repeat(1100));
    assert_eq!(
        err(parse(&deep)),
        "Found too many nested data structures (1001) at character 1001"
    );
    // A raised limit still stops at the hard one.
    let opts = DecodeOptions {
        max_depth: usize::MAX,
        ..Default::default()
    };
    let deep = "[".repeat(HARD_MAX_DEPTH + 10);
    assert_eq!(
        err(parse_with(deep.as_bytes(), opts)),
        format!(
            "Found too many nested data structures ({}) at character {}",
            HARD_MAX_DEPTH + 1,
            HARD_MAX_DEPTH + 1
        )
    );
}

#[test]
fn comments() {
    let opts = DecodeOptions {
        allow_comment: true,
        ..Default::default()
    };
    let p = |s: &str| parse_with(s.as_bytes(), opts);
    assert_eq!(p("{//comment\n}"), Ok(Json::Obj(vec![])));
    assert_eq!(p("{//comment\r\n}"), Ok(Json::Obj(vec![])));
    assert_eq!(
        p("\"test // /* */ string\"//comment"),
        Ok(Json::Str(b"test // /* */ string".to_vec()))
    );
    assert_eq!(p("/*first*//*second*/{}"), Ok(Json::Obj(vec![])));
    assert_eq!(
        p("{\"a\" /* Comment */: 1}"),
        Ok(Json::Obj(vec![(b"a".to_vec(), Json::Int(1))]))
    );
    assert_eq!(
        err(p("{}/*Unclosed")),
        "Expected the end but found unclosed multi-line comment at character 13"
    );
    assert_eq!(
        err(p("{\"a\":1/*x*/0}")),
        "Expected comma or object end but found T_INTEGER at character 12"
    );
    assert_eq!(
        err(parse("{//x\n}")),
        "Expected object key string but found invalid token at character 2"
    );
}

#[test]
fn long_input_is_charged() {
    let doc = format!("[{}1]", "1,".repeat(100_000));
    let mut t = Tree::default();
    decode(doc.as_bytes(), DecodeOptions::default(), &mut t).unwrap();
    assert!(t.charged >= 100_000, "charged {}", t.charged);
}

/// Writes a [`Json`] as text the reader accepts.
fn write(j: &Json, out: &mut String) {
    match j {
        Json::Str(s) => {
            out.push('"');
            for &b in s {
                match b {
                    b'"' => out.push_str("\\\""),
                    b'\\' => out.push_str("\\\\"),
                    0..=0x1f | 0x7f.. => out.push_str(&format!("\\u{:04x}", b)),
                    _ => out.push(b as char),
                }
            }
            out.push('"');
        }
        Json::Num(f) => out.push_str(&format!("{f:e}")),
        Json::Int(i) => out.push_str(&i.to_string()),
        Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Json::Null => out.push_str("null"),
        Json::Arr(a) => {
            out.push('[');
            for (k, v) in a.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                write(v, out);
            }
            out.push(']');
        }
        Json::Obj(o) => {
            out.push('{');
            for (k, (key, v)) in o.iter().enumerate() {
                if k > 0 {
                    out.push(',');
                }
                write(&Json::Str(key.clone()), out);
                out.push(':');
                write(v, out);
            }
            out.push('}');
        }
    }
}

fn json() -> impl Strategy<Value = Json> {
    let leaf = prop_oneof![
        proptest::collection::vec(0u8..0x7f, 0..8).prop_map(Json::Str),
        any::<i64>().prop_map(Json::Int),
        (-1e300f64..1e300).prop_map(Json::Num),
        any::<bool>().prop_map(Json::Bool),
        Just(Json::Null),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..6).prop_map(Json::Arr),
            proptest::collection::vec((proptest::collection::vec(b'a'..=b'z', 0..4), inner), 0..6)
                .prop_map(Json::Obj),
        ]
    })
}

proptest! {
    #[test]
    fn round_trips(j in json()) {
        let mut text = String::new();
        write(&j, &mut text);
        prop_assert_eq!(parse(&text), Ok(j));
    }

    #[test]
    fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_with(&bytes, DecodeOptions::default());
        let _ = parse_with(&bytes, DecodeOptions { invalid_numbers: false, allow_comment: true, max_depth: 3 });
    }

    #[test]
    fn never_panics_on_json_like(s in "[\\[\\]{}:,\"\\\\u0-9a-fA-FeE+.xnulrtIN/* -]{0,64}") {
        let _ = parse(&s);
    }
}
