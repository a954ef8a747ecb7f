//! The parser against skynet's: schema binaries and error messages
//! produced by skynet's own `sprotoparser.lua` (on lpeg) for the same
//! texts.

use super::parse;

fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{c:02x}")).collect()
}

fn ok(text: &str) -> String {
    hex(&parse(text.as_bytes(), "=text").unwrap_or_else(|e| panic!("{text}: {e}")))
}

fn err(text: &str) -> String {
    parse(text.as_bytes(), "=text").expect_err(text)
}

#[test]
fn small_schemas_match_skynet() {
    assert_eq!(
        ok(".A { a 0 : integer(x) }"),
        "0100000026000000220000000200000000000100000041130000000f000000040000000200010002000100000061"
    );
    assert_eq!(
        ok(".A { a 0 : integer b 1 : integer }"),
        "0100000039000000350000000200000000000100000041260000000f0000000400000002000100020001000000610f000000040000000200010004000100000062"
    );
    assert_eq!(ok(""), "0000");
    assert_eq!(ok("# c\n"), "0000");
    assert_eq!(
        ok(".A{}.B{}"),
        "010000001a0000000900000001000000010000004109000000010000000100000042"
    );
    assert_eq!(
        ok(".A { .B {} } foo 1 { request A.B } "),
        "0200000000001c000000090000000100000001000000410b0000000100000003000000412e42130000000f000000030000000400040003000000666f6f"
    );
}

#[test]
fn errors_match_skynet() {
    let cases = [
        (
            ".A { a 0 : *integer(x) }",
            "attempt to add a 'string' with a 'number'",
        ),
        (
            ".A { a 0 : *integer() }",
            "attempt to add a 'string' with a 'number'",
        ),
        (
            ".A { a 99999 : integer }",
            "bad argument #2 to 'pack' (unsigned overflow)",
        ),
        (".A { a 0 : string(2) }", "assertion failed!"),
        (
            ".A { a 0 : *string(id) }",
            "attempt to index a nil value (local 'subtype')",
        ),
        (
            ".A { a 0 : *B() } .B { x 0 : integer }",
            "Invalid map definition: a, must only have two fields",
        ),
        (
            ".A { a 0 : *B(y) } .B { x 0 : integer }",
            "Invalid map index :y",
        ),
        (".A { a 0 : *B(x) } .B { x 0 : A }", "Invalid map index :x"),
        (
            ".A { a 0 : integer\n b 0 : integer }",
            "redefine tag 0 in type A",
        ),
        (
            ".A { a 0 : integer\n a 1 : integer }",
            "redefine a in type A",
        ),
        ("foo 1 {}", "assertion failed!"),
        (
            ".A {} foo 1 { request X }",
            "Undefined request type X in protocol foo",
        ),
        (".A { a 0 : X }", "Undefined type X in type A"),
        (".A {}\n.A {}", "redefined A"),
        (".A {\n\n x", "syntax error at [=text] line (3)"),
        (
            "foo 1 { request A request A }",
            "redefine request in protocol foo",
        ),
        (
            ".A { a 99999999999999999999 : integer }",
            "bad argument #2 to 'pack' (number has no integer representation)",
        ),
        (
            ".A { a 0 : integer(99999) }",
            "bad argument #2 to 'pack' (unsigned overflow)",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(err(text), want, "{text}");
    }
}
