//! LPeg's own errors as Lua code sees them (found by tests/differential
//! against Debian's lua-lpeg): the position of the call into lpeg in
//! front, as `luaL_error` writes it; argument errors naming the function
//! as the caller called it (`lpeg.P` through `pcall`); errors of the
//! user's own functions passed on unchanged.

use mlua::Lua;

fn eval(src: &str) -> String {
    let lua = Lua::new();
    let lpeg = skyhold_lpeg::open(&lua).unwrap();
    lua.globals().set("lpeg", lpeg).unwrap();
    lua.load(src)
        .set_name("@t.lua")
        .eval::<String>()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// The error of `expr` evaluated on line 2 of `t.lua`, not in a tail call
/// (a Lua function tail-called loses its caller's frame, so there the
/// position cannot be had: see docs/migration.md).
fn error_of(expr: &str) -> String {
    eval(&format!(
        "local ok, e = pcall(function()\nlocal r = {expr}\nreturn r\nend)\nassert(not ok)\nreturn tostring(e)"
    ))
}

#[test]
fn own_errors_carry_the_callers_position() {
    assert_eq!(
        error_of("lpeg.P(nil)"),
        "t.lua:2: bad argument #1 to 'P' (lpeg-pattern expected, got nil)"
    );
    assert_eq!(
        error_of("lpeg.match(lpeg.C(1) / '%5', 'abc')"),
        "t.lua:2: invalid capture index (5)"
    );
    assert_eq!(
        error_of("lpeg.P'' ^ 0"),
        "t.lua:2: loop body may accept empty string"
    );
    assert_eq!(
        error_of("lpeg.P{ 'a', a = lpeg.V'a' }"),
        "t.lua:2: rule 'a' may be left recursive"
    );
}

#[test]
fn argument_errors_name_the_function_as_lua_does() {
    assert_eq!(
        error_of("lpeg.P'a':match()"),
        "t.lua:2: bad argument #1 to 'match' (string expected, got no value)"
    );
    assert_eq!(
        eval("local ok, e = pcall(lpeg.P) return e"),
        "bad argument #1 to 'lpeg.P' (value expected)"
    );
    assert_eq!(
        eval("local ok, e = pcall(lpeg.R, 'abc') return e"),
        "bad argument #1 to 'lpeg.R' (range must have two characters)"
    );
}

#[test]
fn errors_of_the_users_functions_pass_unchanged() {
    assert_eq!(
        error_of("lpeg.match(lpeg.Cmt(1, function() error('mine') end), 'a')"),
        "t.lua:2: mine"
    );
    assert_eq!(
        error_of("lpeg.match(lpeg.Cmt(1, function() error('mine', 0) end), 'a')"),
        "mine"
    );
}

/// `re.compile`'s error for `pattern`, with lualib/re.lua on this lpeg.
fn re_error(pattern: &str) -> String {
    let lua = Lua::new();
    let lpeg = skyhold_lpeg::open(&lua).unwrap();
    let loaded: mlua::Table = lua
        .globals()
        .get::<mlua::Table>("package")
        .unwrap()
        .get("loaded")
        .unwrap();
    loaded.set("lpeg", lpeg).unwrap();
    let re: mlua::Table = lua
        .load(include_str!("../../../lualib/re.lua"))
        .set_name("@re.lua")
        .call(())
        .unwrap();
    let compile: mlua::Function = re.get("compile").unwrap();
    lua.load("local compile, p = ... local ok, e = pcall(compile, p) assert(not ok) return e")
        .call::<String>((compile, pattern))
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Where LPeg's re (1.0.2 and 1.1 alike) says a pattern is wrong: a
/// construct that fails is an alternative that fails, so the reader backs
/// up and the error names the place the enclosing sequence stopped.
#[test]
fn re_syntax_errors_point_where_res_do() {
    for (pattern, near) in [
        ("{", "{"),
        ("(", "("),
        ("{~ 'a'", "~ 'a'"),
        ("{| 'a'", "| 'a'"),
        ("{: 'a'", ": 'a'"),
        ("'a'^", "^"),
        ("'a'^x", "^x"),
        ("'a' -> ", "-> "),
        ("'a' => ", "=> "),
        ("<x", "<x"),
        ("'a' &", "&"),
        ("'a' !!", "!!"),
        ("( 'a' ]", "]"),
        ("'a' )", ")"),
    ] {
        assert_eq!(
            re_error(pattern),
            format!("pattern error near '{near}'"),
            "{pattern}"
        );
    }
    // A grammar is made a pattern without a Lua caller to name.
    assert_eq!(re_error("x <- x 'a'"), "rule 'x' may be left recursive");
    assert_eq!(
        re_error("x <- 'a' y"),
        "rule 'y' undefined in given grammar"
    );
}
