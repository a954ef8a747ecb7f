//! Known answers from skynet's own bson.so (built from lualib-src/lua-bson.c
//! and run with skynet's Lua): encoded bytes, decoded values, error text.

use mlua::Lua;

fn state() -> Lua {
    let lua = Lua::new();
    lua.globals()
        .set("bson", crate::bson_table(&lua).expect("bson"))
        .expect("set");
    lua.globals()
        .set("driver", crate::driver_table(&lua).expect("driver"))
        .expect("set");
    lua.load(
        r#"function hex(s) return (s:gsub(".", function(c) return string.format("%02x", c:byte()) end)) end
           function show(...) local t = table.pack(...) for i=1,t.n do t[i] = type(t[i])=="string" and hex(t[i]) or tostring(t[i]) end return table.concat(t, ",") end"#,
    )
    .exec()
    .expect("helpers");
    lua
}

fn eval(lua: &Lua, code: &str) -> String {
    lua.load(code)
        .eval::<String>()
        .unwrap_or_else(|e| panic!("{code}: {e}"))
}

#[test]
fn encodings_match_skynet() {
    let lua = state();
    let cases = [
        ("bson.encode {}", "0500000000"),
        (
            r#"bson.encode_order("a", 1, "b", -1, "c", 2147483647, "d", 2147483648, "e", -2147483649, "f", math.mininteger)"#,
            "3b00000010610001000000106200ffffffff106300ffffff7f1264000000008000000000126500ffffff7fffffffff126600000000000000008000",
        ),
        (
            r#"bson.encode_order("x", 1.5, "y", -0.0, "z", 1e300, "n", 3.25)"#,
            "31000000017800000000000000f83f0179000000000000000080017a009c7500883ce4377e016e000000000000000a4000",
        ),
        (
            r#"bson.encode_order("s", "hello", "e", "", "u", "héllo", "z", "a\0b")"#,
            "330000000273000600000068656c6c6f0002650001000000000275000700000068c3a96c6c6f00027a00040000006100620000",
        ),
        (
            r#"bson.encode_order("t", true, "f", false)"#,
            "0d000000087400010866000000",
        ),
        (
            r#"bson.encode_order("a", {1, "two", 3.5, true})"#,
            "2e00000004610026000000103000010000000231000400000074776f000132000000000000000c40083300010000",
        ),
        (
            r#"bson.encode_order("d", bson.encode_order("x", 1), "arr", {{1},{2,{3}}})"#,
            "4b0000000364000c00000010780001000000000461727200320000000430000c00000010300001000000000431001b000000103000020000000431000c0000001030000300000000000000",
        ),
        (
            r#"bson.encode_order("n", bson.null, "mi", bson.minkey, "ma", bson.maxkey, "dt", bson.date(1700000000), "ts", bson.timestamp(1700000000, 7), "re", bson.regex("^a.*b$", "im"), "bin", bson.binary("\1\2\0\3"), "oid", bson.objectid("0123456789abcdef01234567"), "i64", bson.int64(5))"#,
            "620000000a6e00ff6d69007f6d6100096474000068e5cf8b010000117473000700000000f153650b7265005e612e2a622400696d000562696e00040000000001020003076f6964000123456789abcdef012345671269363400050000000000000000",
        ),
        (
            r#"bson.encode_order("r", bson.regex("x"))"#,
            "0b0000000b720078000000",
        ),
        (
            r#"bson.encode_order(1, "one", 2.5, "x")"#,
            "1b000000023100040000006f6e650002322e350002000000780000",
        ),
        (
            r#"bson.encode_order("t", {[2]=1, [1]=0})"#,
            "1b0000000474001300000010300000000000103100010000000000",
        ),
    ];
    for (code, want) in cases {
        let got = eval(&lua, &format!("return hex(tostring({code}))"));
        assert_eq!(got, want, "{code}");
    }
}

#[test]
fn errors_match_skynet() {
    let lua = state();
    let cases = [
        (
            "bson.encode {a = {[1.5]=1}}",
            "Bson dictionary's key can't be number",
        ),
        (
            r#"bson.encode_order("a")"#,
            "[string \"x\"]:1: Invalid ordered dict",
        ),
        (r#"bson.encode {["\xff"] = 1}"#, "Invalid utf8 string"),
        ("bson.encode {a = print}", "Invalid value type : function"),
        (
            r#"bson.objectid("abc")"#,
            "[string \"x\"]:1: Invalid objectid abc",
        ),
        (r#"bson.encode {a = "\0\99x"}"#, "Invalid subtype 99"),
        (r#"bson.encode {a = "\0\9xyz"}"#, "Invalid date"),
        ("bson.encode {a = {[true]=1}}", "Invalid key type : boolean"),
        (
            r#"local d = bson.encode_order("a", 1, "s", "x") d:makeindex() d.s = "y""#,
            "[string \"x\"]:1: Can't replace key : s",
        ),
        (
            r#"local d = bson.encode_order("a", 1) d:makeindex() d.a = 1.5"#,
            "[string \"x\"]:1: 1.500000 must be a 32bit integer ",
        ),
        (
            r#"local d = bson.encode_order("a", 1) d.a = 2"#,
            "[string \"x\"]:1: call makeindex first",
        ),
    ];
    for (code, want) in cases {
        let chunk = format!("local ok, e = pcall(function() {code} end) return tostring(e)");
        let got = lua
            .load(&chunk)
            .set_name("=x")
            .eval::<String>()
            .expect("runs");
        assert_eq!(got, want.replace("[string \"x\"]", "x"), "{code}");
    }
}

#[test]
fn types_and_decoding_match_skynet() {
    let lua = state();
    let cases = [
        (
            r#"show(bson.type(bson.objectid("0123456789abcdef01234567")))"#,
            "6f626a6563746964,303132333435363738396162636465663031323334353637",
        ),
        (
            "show(bson.type(bson.timestamp(100, 9)))",
            "74696d657374616d70,100,9",
        ),
        ("show(bson.type(bson.date(12345)))", "64617465,12345"),
        (
            r#"show(bson.type(bson.regex("p","o")))"#,
            "7265676578,70,6f",
        ),
        (
            r#"show(bson.type(bson.binary("xy")))"#,
            "62696e617279,7879,0",
        ),
        (
            r#"show(bson.type(bson.null)) .. " " .. show(bson.type(bson.minkey)) .. " " .. show(bson.type(bson.maxkey)) .. " " .. show(bson.type(nil)) .. " " .. show(bson.type("s")) .. " " .. show(bson.type(1)) .. " " .. show(bson.type(bson.int64(-2)))"#,
            "6e696c 6d696e6b6579 6d61786b6579 6e696c 737472696e67,73 6e756d626572,1 696e743634,-2",
        ),
        (
            r#"hex(bson.objectid("zz00000000000000000000GG"))"#,
            "0007330000000000000000000010",
        ),
        (
            r#"(function() local d = bson.decode(bson.encode_order("n", bson.null, "dt", bson.date(1700000000), "ts", bson.timestamp(1700000000, 7), "re", bson.regex("^a", "i"), "bin", bson.binary("\1\2"), "arr", {5, 6}))
               return table.concat({hex(d.n), hex(d.dt), hex(d.ts), hex(d.re), hex(d.bin), d.arr[1], d.arr[2], math.type(d.arr[1])}, " ") end)()"#,
            "000a 000900f15365 00110700000000f15365 000b5e61006900 0005000102 5 6 integer",
        ),
        (
            r##"tostring(select("#", bson.decode("notuserdata")))"##,
            "0",
        ),
        (
            r#"(function() local doc = bson.encode_order("a", 1, "b", 2.5, "c", true, "s", "x")
               doc:makeindex() doc.a = 42; doc.b = 0.25; doc.c = false
               return hex(tostring(doc)) .. " " .. #doc end)()"#,
            "240000001061002a000000016200000000000000d03f0863000002730002000000780000 36",
        ),
    ];
    for (code, want) in cases {
        let got = eval(&lua, &format!("return {code}"));
        assert_eq!(got, want, "{code}");
    }
}

#[test]
fn round_trip_of_a_document() {
    let lua = state();
    let got = eval(
        &lua,
        r#"local d = bson.decode(bson.encode {a = {1, 2, {b = "c"}}, n = 1.5, big = 1 << 40, t = true})
           return table.concat({d.a[1], d.a[2], d.a[3].b, d.n, d.big, tostring(d.t)}, " ")"#,
    );
    assert_eq!(got, "1 2 c 1.5 1099511627776 true");
}

#[test]
fn objectids_are_fresh() {
    let lua = state();
    let got = eval(
        &lua,
        r#"local a, b = bson.objectid(), bson.objectid()
           assert(#a == 14 and a ~= b and a:sub(1, 2) == "\0\7")
           return select(1, bson.type(a))"#,
    );
    assert_eq!(got, "objectid");
}

#[test]
fn driver_frames_match_skynet() {
    let lua = state();
    let got = eval(
        &lua,
        r#"return hex(driver.op_msg(7, 2, bson.encode_order("ping", 1, "$db", "admin")))"#,
    );
    // length, request id, response to, OP_MSG, flags, section 0, document
    assert_eq!(
        got,
        "330000000700000000000000dd07000002000000001e0000001070696e67000100000002246462000600000061646d696e0000"
    );
    let got = eval(
        &lua,
        r#"local msg = driver.op_msg(9, 0, bson.encode_order("ok", 1))
           local len = driver.length(msg:sub(1, 4))
           local body = msg:sub(5)
           assert(len == #body)
           -- a reply answering request 9: response_to is the second int
           local reply = string.pack("<i4i4i4i4", 1, 9, 2013, 0) .. body:sub(17)
           local ok, id, doc = driver.reply(reply)
           return tostring(ok) .. " " .. id .. " " .. bson.decode(doc).ok"#,
    );
    assert_eq!(got, "true 9 1");
    let errors = [
        (
            r#"driver.op_msg, 1, 0, "notadoc""#,
            "opmsg require cmd document",
        ),
        (
            r#"driver.reply, string.pack("<i4i4i4i4", 1, 9, 2012, 0) .. "\0""#,
            "Unsupported opcode:2012",
        ),
        (
            r#"driver.reply, string.pack("<i4i4i4i4", 1, 9, 2013, 1) .. "\0""#,
            "Unsupported OP_MSG flag checksumPresent",
        ),
        (
            r#"driver.reply, string.pack("<i4i4i4i4", 1, 9, 2013, 4) .. "\0""#,
            "Unsupported OP_MSG flag:4",
        ),
        (
            r#"driver.reply, string.pack("<i4i4i4i4", 1, 9, 2013, 0) .. "\1""#,
            "Unsupported OP_MSG payload type: 1",
        ),
    ];
    for (args, want) in errors {
        let got = eval(&lua, &format!("local ok, e = pcall({args}) return e"));
        assert_eq!(got, want, "{args}");
    }
    assert_eq!(
        eval(&lua, r#"return tostring(driver.reply("short"))"#),
        "false"
    );
    assert_eq!(
        eval(&lua, r#"return tostring(driver.length("\10\0\0\0"))"#),
        "6"
    );
}
