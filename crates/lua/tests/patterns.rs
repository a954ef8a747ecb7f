//! skyhold's string patterns against Lua's own, case by case, and a pattern
//! bomb that ends within the budget.

use mlua::{Lua, Table, Value};
use proptest::prelude::*;
use skyhold_lua::budget::Budget;
use skyhold_lua::lpattern;

/// A state with Lua's C patterns, and one with ours.
fn states(budget: u64) -> (Lua, Lua, Budget) {
    let c = Lua::new();
    let ours = Lua::new();
    let string: Table = ours.globals().get("string").unwrap();
    let b = Budget::new(&ours, budget).unwrap();
    lpattern::install(&ours, &string, b.clone()).unwrap();
    (c, ours, b)
}

/// Runs `code` (which returns values) in both states and compares the
/// results, or the error messages.
fn same(c: &Lua, ours: &Lua, code: &str) {
    let run = |l: &Lua| -> String {
        let r: mlua::Result<mlua::MultiValue> = l
            .load(format!("local ok, a, b, c, d, e = pcall(function() {code} end) return tostring(ok), tostring(a), tostring(b), tostring(c), tostring(d), tostring(e)"))
            .eval();
        match r {
            Ok(v) => v
                .iter()
                .map(|x| match x {
                    Value::String(s) => s.to_string_lossy(),
                    other => format!("{other:?}"),
                })
                .collect::<Vec<_>>()
                .join("|"),
            Err(e) => format!("host error {e}"),
        }
    };
    let (a, b) = (run(c), run(ours));
    // Where an error message gets a "chunk:line:" prefix depends on tail
    // calls; compare the messages themselves.
    let strip = |s: &str| {
        s.split('|')
            .map(|part| match part.find(": ") {
                Some(i)
                    if part[..i].rsplit(':').next().is_some_and(|n| {
                        n.chars().all(|c| c.is_ascii_digit()) && !n.is_empty()
                    }) =>
                {
                    part[i + 2..].to_string()
                }
                _ => part.to_string(),
            })
            .collect::<Vec<_>>()
            .join("|")
    };
    assert_eq!(strip(&a), strip(&b), "for: {code}");
}

const CASES: &[&str] = &[
    r#"return string.find("hello world", "o w")"#,
    r#"return string.find("hello world", "l+")"#,
    r#"return string.find("hello", "l", 1, true)"#,
    r#"return string.find("hello", "", 10)"#,
    r#"return string.find("hello", "", 6)"#,
    r#"return string.find("hello", "h", -2)"#,
    r#"return string.find("hello", "(l)(l)")"#,
    r#"return string.find("a.b", ".", 1, true)"#,
    r#"return string.find("abc", "^b")"#,
    r#"return string.find("abc", "^a")"#,
    r#"return string.find("abc", "c$")"#,
    r#"return string.find("abc$", "c$", 1, true)"#,
    r#"return string.find("  x", "^%s*()")"#,
    r#"return string.match("key = value", "(%w+)%s*=%s*(%w+)")"#,
    r#"return string.match("  trim me  ", "^%s*(.-)%s*$")"#,
    r#"return string.match("2024-11-22", "(%d+)-(%d+)-(%d+)")"#,
    r#"return string.match("THE (quick) fox", "%((%a+)%)")"#,
    r#"return string.match("f(a(b)c)d", "%b()")"#,
    r#"return string.match("THE (quick) fox", "%f[%a]%a+", 5)"#,
    r#"return string.match("hello", "(h)(e)(l)(l)(o)")"#,
    r#"return string.match("aaa", "a-")"#,
    r#"return string.match("aaa", "a-$")"#,
    r#"return string.match("aaab", "a*b")"#,
    r#"return string.match("b", "a?b")"#,
    r#"return string.match("xyzxyz", "(xyz)%1")"#,
    r#"return string.match("abc", "[a-b]+")"#,
    r#"return string.match("a]b", "[]]")"#,
    r#"return string.match("a-b", "[a%-]+")"#,
    r#"return string.match("A1_b", "[%w_]+")"#,
    r#"return string.match("abc", "[^a]+")"#,
    r#"return string.match("x\ty", "%s")"#,
    r#"return string.match("\v", "%s")"#,
    r#"return string.match("hello", ".-(l+)(.*)")"#,
    r#"return string.match("hello", "()ll()")"#,
    r#"return string.match("[[x]]", "%[%[(.-)%]%]")"#,
    r#"return string.match("hello", "%")"#,
    r#"return string.match("hello", "[a")"#,
    r#"return string.match("hello", "(()")"#,
    r#"return string.match("hello", "%1")"#,
    r#"return string.match("hello", "(h)%2")"#,
    r#"return string.match("hello", "h)")"#,
    r#"return string.match("hello", "%f")"#,
    r#"return string.match("hello", "%b(")"#,
    r#"return string.gsub("hello world", "o", "0")"#,
    r#"return string.gsub("hello world", "(%w+)", "<%1>")"#,
    r#"return string.gsub("hello world", "%w+", "%0 %0", 1)"#,
    r#"return string.gsub("abc", "", "-")"#,
    r#"return string.gsub("hello", "l", {l = "L"})"#,
    r#"return string.gsub("hello", "(l)", function(x) return x:upper() end)"#,
    r#"return string.gsub("hello", "l", function() return false end)"#,
    r#"return string.gsub("hello", "x*", "-")"#,
    r#"return string.gsub("abc", "^a", "A")"#,
    r#"return string.gsub("a%b", "%%", "%%%%")"#,
    r#"return string.gsub("abc", "b", "%2")"#,
    r#"return string.gsub("abc", "b", "%x")"#,
    r#"return string.gsub("abc", "b", {b = {}})"#,
    r#"return string.gsub("abc", "(b)", 5)"#,
    r#"local t = {} for k, v in string.gmatch("a=1, b=2", "(%w+)=(%w+)") do t[#t+1] = k .. v end return table.concat(t, ",")"#,
    r#"local t = {} for w in string.gmatch("one two  three", "%a+") do t[#t+1] = w end return table.concat(t, ",")"#,
    r#"local t = {} for w in string.gmatch("abc", "") do t[#t+1] = "x" end return #t"#,
    r#"local t = {} for p in string.gmatch("hello", "()l") do t[#t+1] = p end return table.concat(t, ",")"#,
    r#"return ("x"):rep(3):find("xx", 2)"#,
    r#"return string.find("abc", "b", 100)"#,
    r#"return string.find("abc", "b", -100)"#,
];

#[test]
fn matches_lua_case_by_case() {
    let (c, ours, _) = states(u64::MAX / 4);
    for code in CASES {
        same(&c, &ours, code);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]
    #[test]
    fn matches_lua_on_random_patterns(subject in "[abc() %-]{0,12}", pattern in "[abc.%^$*+?()\\-\\[\\]]{0,8}") {
        let (c, ours, _) = states(u64::MAX / 4);
        let esc = |s: &str| s.replace('\\', "\\\\").replace('"', "\\\"");
        for f in ["find", "match"] {
            same(&c, &ours, &format!("return string.{f}(\"{}\", \"{}\")", esc(&subject), esc(&pattern)));
        }
        same(&c, &ours, &format!("return string.gsub(\"{}\", \"{}\", \"<%0>\")", esc(&subject), esc(&pattern)));
    }
}

#[test]
fn a_pattern_bomb_ends_with_the_budget_error() {
    let (_, ours, budget) = states(5_000_000);
    budget.arm();
    let started = std::time::Instant::now();
    let r: mlua::Result<()> = ours
        .load(r#"string.find(string.rep("a", 200000), ".-.-.-.-.-.-.-b")"#)
        .exec();
    let e = r.expect_err("the bomb must fail").to_string();
    assert!(e.contains("instruction budget exceeded"), "{e}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}
