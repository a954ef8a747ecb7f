//! `lpeg.ptree` and `lpeg.pcode`: listings of a pattern's tree and program
//! for debugging. They return the text (a service has no terminal to print
//! to) instead of writing it to standard output as LPeg does.

use crate::capture::typename;
use crate::charset::Charset;
use crate::code::Op;
use crate::pattern::get_pat;
use crate::tree::{Node, Tree};
use mlua::{Lua, MultiValue, Value};
use std::fmt::Write;

/// Deepest tree level listed.
const MAX_LIST_DEPTH: usize = 200;

fn set_text(cs: &Charset) -> String {
    let mut s = String::from("[");
    let mut c = 0usize;
    while c < 256 {
        if cs.has(c as u8) {
            let start = c;
            while c + 1 < 256 && cs.has((c + 1) as u8) {
                c += 1;
            }
            if start == c {
                let _ = write!(s, "({start:02x})");
            } else {
                let _ = write!(s, "({start:02x}-{c:02x})");
            }
        }
        c += 1;
    }
    s.push(']');
    s
}

fn tree_text(t: &Tree, depth: usize, out: &mut String) {
    let pad = "  ".repeat(depth.min(MAX_LIST_DEPTH));
    if depth > MAX_LIST_DEPTH {
        let _ = writeln!(out, "{pad}...");
        return;
    }
    let (label, kids): (String, Vec<&Tree>) = match &t.node {
        Node::Char(c) => (
            format!("char '{}'", char::from(*c).escape_default()),
            vec![],
        ),
        Node::Set(cs) => (format!("set {}", set_text(cs)), vec![]),
        Node::Any => ("any".into(), vec![]),
        Node::True => ("true".into(), vec![]),
        Node::False => ("false".into(), vec![]),
        Node::Utfr(a, b) => (format!("utf8.range {a:x} - {b:x}"), vec![]),
        Node::Rep(p) => ("rep".into(), vec![p]),
        Node::Seq(a, b) => ("seq".into(), vec![a, b]),
        Node::Choice(a, b) => ("choice".into(), vec![a, b]),
        Node::Not(p) => ("not".into(), vec![p]),
        Node::And(p) => ("and".into(), vec![p]),
        Node::Call(n) => (format!("call rule {n}"), vec![]),
        Node::OpenCall(k) => (format!("opencall key: {k}"), vec![]),
        Node::Behind(n, p) => (format!("behind {n}"), vec![p]),
        Node::Capture(k, key, p) => (format!("capture kind: '{k:?}'  key: {key}"), vec![p]),
        Node::RunTime(key, p) => (format!("run-time key: {key}"), vec![p]),
        Node::Grammar(g) => {
            let _ = writeln!(out, "{pad}grammar {}", g.rules.len());
            for (i, r) in g.rules.iter().enumerate() {
                let _ = writeln!(out, "{pad}  rule {i} '{}'", r.name);
                tree_text(&r.body, depth + 2, out);
            }
            return;
        }
    };
    let _ = writeln!(out, "{pad}{label}");
    for k in kids {
        tree_text(k, depth + 1, out);
    }
}

/// `lpeg.ptree(p)`: the tree as text.
pub fn ptree(lua: &Lua, a: MultiValue) -> mlua::Result<Value> {
    let p = get_pat(lua, a.front().unwrap_or(&Value::Nil), 1, "ptree")?;
    let mut out = String::new();
    if let Some(kt) = &p.ktable {
        out.push('[');
        for pair in kt.pairs::<Value, Value>() {
            let (k, v) = pair?;
            let _ = write!(
                out,
                "{} = {}  ",
                crate::pattern::val2str(lua, &k),
                typename(&v)
            );
        }
        out.push_str("]\n");
    }
    tree_text(&p.tree, 0, &mut out);
    Ok(Value::String(lua.create_string(out)?))
}

/// `lpeg.pcode(p)`: the program as text.
pub fn pcode(lua: &Lua, a: MultiValue) -> mlua::Result<Value> {
    let p = get_pat(lua, a.front().unwrap_or(&Value::Nil), 1, "pcode")?;
    let prog = crate::program(lua, &p)?;
    let mut out = String::new();
    for (i, op) in prog.code.iter().enumerate() {
        let text = match op {
            Op::Set(s) => format!("set {}", set_text(&prog.sets[*s as usize])),
            Op::Span(s) => format!("span {}", set_text(&prog.sets[*s as usize])),
            Op::TestSet(s, l) => format!("testset {} -> {l}", set_text(&prog.sets[*s as usize])),
            Op::Char(c) => format!("char '{}'", char::from(*c).escape_default()),
            Op::TestChar(c, l) => format!("testchar '{}' -> {l}", char::from(*c).escape_default()),
            other => format!("{other:?}").to_lowercase(),
        };
        let _ = writeln!(out, "{i:04}: {text}");
    }
    Ok(Value::String(lua.create_string(out)?))
}
