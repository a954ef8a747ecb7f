//! Known behaviours of LPeg 1.1 (values checked against the C library),
//! run in a plain Lua state.

use mlua::Lua;

fn run(src: &str) {
    let lua = Lua::new();
    let lpeg = skyhold_lpeg::open(&lua).unwrap();
    lua.globals().set("m", lpeg).unwrap();
    let re: mlua::Value = lua
        .load(include_str!("../../../lualib/re.lua"))
        .call(())
        .ok()
        .unwrap_or(mlua::Value::Nil);
    let _ = re;
    if let Err(e) = lua.load(src).exec() {
        panic!("{e}");
    }
}

fn run_with_re(src: &str) {
    let lua = Lua::new();
    let lpeg = skyhold_lpeg::open(&lua).unwrap();
    let loaded: mlua::Table = lua
        .globals()
        .get::<mlua::Table>("package")
        .unwrap()
        .get("loaded")
        .unwrap();
    loaded.set("lpeg", lpeg.clone()).unwrap();
    lua.globals().set("m", lpeg).unwrap();
    let re: mlua::Value = lua
        .load(include_str!("../../../lualib/re.lua"))
        .call(())
        .unwrap();
    lua.globals().set("re", re).unwrap();
    if let Err(e) = lua.load(src).exec() {
        panic!("{e}");
    }
}

#[test]
fn basic_matching_and_positions() {
    run(r##"
        assert(m.version == "LPeg 1.1.0")
        assert(m.match(m.P"ab", "abc") == 3)
        assert(m.match(m.P(3), "ab") == nil)
        assert(m.match(-m.P(1), "") == 1)
        assert(m.match(m.S"xyz"^1, "zyxa") == 4)
        assert(m.match(m.R("az", "09")^0, "a9Z") == 3)
        assert(m.match("c", "abc", -1) == 4)
        assert(m.match("", "abc", 10) == 4)
        assert(m.type(m.P"x") == "pattern" and m.type("x") == nil)
        assert(m.match(m.P(false) + "a", "a") == 2)
        assert(m.match(m.utfR(0x80, 0x10ffff), "é") == 3)
        assert(m.match(#m.P"a" * "ab", "ab") == 3)
        assert(m.match(m.B"a" * "b", "ab", 2) == 3)
    "##);
}

#[test]
fn captures() {
    run(r##"
        local t = {m.match(m.C(m.C(1) * m.C(1)), "ab")}
        assert(t[1] == "ab" and t[2] == "a" and t[3] == "b")
        t = m.match(m.Ct(m.Cg(m.C(1), "x") * m.C(1)), "ab")
        assert(t.x == "a" and t[1] == "b")
        assert(m.match(m.Cs((m.P"a" / "A" + 1)^0), "banana") == "bAnAnA")
        assert(m.match(m.C(m.P(1)^0) / "<%1>", "hi") == "<hi>")
        assert(m.match(m.Cf(m.C(1) * m.C(1)^0, function(a, b) return a .. b end), "xyz") == "xyz")
        assert(m.match(m.Cc(0) * (m.C(1) % function(a, b) return a + 1 end)^0, "abc") == 3)
        assert(m.match(m.Cg(m.C(1), "k") * m.Cb("k"), "q") == "q")
        assert(m.match(m.Carg(2), "", 1, "x", "y") == "y")
        assert(select("#", m.match(m.Cc(1, 2, 3), "")) == 3)
        assert(m.match(m.C(1) / 0, "a") == 2)
        assert(m.match(m.C(1) / {a = "A"}, "a") == "A")
        assert(m.match(m.Cp() * 1 * m.Cp(), "a") == 1)
        assert(m.match(m.Cmt(1, function(s, i) return i + 1 end), "abc") == 3)
    "##);
}

#[test]
fn error_messages() {
    run(r##"
        local function err(msg, f, ...)
          local ok, e = pcall(f, ...)
          assert(not ok and type(e) == "string" and e:find(msg, 1, true), tostring(e))
        end
        err("rule '1' may be left recursive", m.match, { m.V(1) * 'a' }, "a")
        err("rule 'x' used outside a grammar", m.match, m.V'x', "")
        err("rule 'y' undefined in given grammar", m.P, { m.V'y' })
        err("grammar has no initial rule", m.P, {})
        err("loop body may accept empty string", function() return m.P(true)^0 end)
        err("empty loop in rule '1'", m.P, { m.V(2)^0, m.P(true) })
        err("pattern may not have fixed length", m.B, m.P"a"^1)
        err("back reference 'z' not found", m.match, m.Cb'z', "")
        err("no initial value for fold capture", m.match, m.Cf(m.P(1), print), "a")
        err("invalid capture index (2)", m.match, m.C(1) / "%2", "a")
        err("backtrack stack overflow (current limit is 400)", m.match,
            m.P{ "0" * m.V(1) + "0" }, string.rep("0", 1000))
        err("unexpected boolean as 2nd operand to LPeg '/'", function() return m.P(1) / true end)
        err("invalid position returned by match-time capture", m.match,
            m.Cmt(1, function() return 0 end), "a")
    "##);
}

#[test]
fn deep_patterns_error_instead_of_overflowing() {
    run(r##"
        local p = m.P"a"
        for i = 1, 5000 do p = m.C(p) end
        local ok, e = pcall(m.match, p, "a")
        assert(not ok and e:find("too complex") or e:find("too deep"), e)
        local long = m.P(string.rep("x", 100000))
        assert(long:match(string.rep("x", 100000)) == 100001)
        local alts = m.P"a"
        for i = 1, 100 do alts = alts + m.P(tostring(i) .. "z") end
        assert(alts:match("57z") == 4)
    "##);
}

#[test]
fn the_re_module() {
    run_with_re(
        r##"
        assert(re.match("abc", "{.}") == "a")
        assert(re.find("xxabc", "'abc'") == 3)
        assert(re.gsub("hello", "[aeiou]", "_") == "h_ll_")
        local p = re.compile("S <- 'a' S 'b' / ''")
        assert(p:match("aabb") == 5)
        assert(re.match("12", "%d+ -> {}")[1] == nil)
        local ok, e = pcall(re.compile, "'a' )")
        assert(not ok and e == "pattern error near ')'", e)
        local t = re.match("k=v", "{| {:key: %w+ :} '=' {:val: %w+ :} |}")
        assert(t.key == "k" and t.val == "v")
    "##,
    );
}
