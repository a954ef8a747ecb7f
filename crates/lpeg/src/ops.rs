//! The pattern constructors (`lpeg.S`, `lpeg.C`, ...) and operators
//! (`+`, `*`, `-`, `^`, `#`, `/`, `%`, unary `-`), each a function of its
//! Lua arguments.

use crate::charset::Charset;
use crate::pattern::{check_int, get_pat, into_value, kt_add, kt_join, plain, to_int, Pat};
use crate::tree::{
    self, assoc, charset, fixed_len, has_captures, mk, mkleaf, nofail, nullable, to_charset,
    CapKind, Ctx, Node,
};
use mlua::{Lua, MultiValue, Value};

type R = mlua::Result<Value>;

fn err(msg: impl Into<String>) -> mlua::Error {
    crate::own_error(msg)
}

fn arg(a: &MultiValue, i: usize) -> Value {
    a.get(i).cloned().unwrap_or(Value::Nil)
}

fn terr(e: String) -> mlua::Error {
    err(e)
}

fn pat(lua: &Lua, a: &MultiValue, i: usize, f: &str) -> mlua::Result<Pat> {
    get_pat(lua, &arg(a, i), i + 1, f)
}

fn out(lua: &Lua, tree: tree::P, kt: Option<mlua::Table>) -> R {
    into_value(
        lua,
        Pat {
            tree,
            ktable: kt,
            ud: None,
        },
    )
}

/// `lpeg.P(v)`.
pub fn p(lua: &Lua, a: MultiValue) -> R {
    if a.is_empty() {
        return Err(err("bad argument #1 to 'P' (value expected)"));
    }
    let p = pat(lua, &a, 0, "P")?;
    into_value(lua, p)
}

/// `p1 * p2`.
pub fn seq(lua: &Lua, a: MultiValue) -> R {
    let (p1, p2) = (pat(lua, &a, 0, "__mul")?, pat(lua, &a, 1, "__mul")?);
    if matches!(p1.tree.node, Node::False) || matches!(p2.tree.node, Node::True) {
        return into_value(lua, p1);
    }
    if matches!(p1.tree.node, Node::True) {
        return into_value(lua, p2);
    }
    let kt = kt_join(lua, p1.ktable.as_ref(), p2.ktable.as_ref())?;
    out(lua, assoc(true, p1.tree, p2.tree).map_err(terr)?, kt)
}

/// `p1 + p2`.
pub fn choice(lua: &Lua, a: MultiValue) -> R {
    let (p1, p2) = (pat(lua, &a, 0, "__add")?, pat(lua, &a, 1, "__add")?);
    if let (Some(c1), Some(c2)) = (to_charset(&p1.tree), to_charset(&p2.tree)) {
        return into_value(lua, plain(charset(c1.union(&c2))));
    }
    if nofail(&mut Ctx::new(), &p1.tree, None).map_err(terr)? || matches!(p2.tree.node, Node::False)
    {
        return into_value(lua, p1);
    }
    if matches!(p1.tree.node, Node::False) {
        return into_value(lua, p2);
    }
    let kt = kt_join(lua, p1.ktable.as_ref(), p2.ktable.as_ref())?;
    out(lua, assoc(false, p1.tree, p2.tree).map_err(terr)?, kt)
}

/// `p1 - p2`.
pub fn sub(lua: &Lua, a: MultiValue) -> R {
    let (p1, p2) = (pat(lua, &a, 0, "__sub")?, pat(lua, &a, 1, "__sub")?);
    if let (Some(c1), Some(c2)) = (to_charset(&p1.tree), to_charset(&p2.tree)) {
        return into_value(lua, plain(charset(c1.minus(&c2))));
    }
    let kt = kt_join(lua, p1.ktable.as_ref(), p2.ktable.as_ref())?;
    let not = mk(Node::Not(p2.tree)).map_err(terr)?;
    out(lua, mk(Node::Seq(not, p1.tree)).map_err(terr)?, kt)
}

/// `p ^ n`.
pub fn pow(lua: &Lua, a: MultiValue) -> R {
    let n = check_int(lua, a.get(1), 2, "__pow")?;
    let p1 = pat(lua, &a, 0, "__pow")?;
    let t = p1.tree.clone();
    let tree = if n >= 0 {
        if nullable(&mut Ctx::new(), &t, None).map_err(terr)? {
            return Err(err("loop body may accept empty string"));
        }
        check_size(&t, n)?;
        let mut acc = mk(Node::Rep(t.clone())).map_err(terr)?;
        for _ in 0..n {
            acc = assoc(true, t.clone(), acc).map_err(terr)?;
        }
        acc
    } else {
        let k = n.unsigned_abs();
        check_size(&t, k as i64)?;
        let tt = || mkleaf(Node::True);
        let mut acc = assoc(false, t.clone(), tt()).map_err(terr)?;
        for _ in 1..k {
            let s = assoc(true, t.clone(), acc).map_err(terr)?;
            acc = assoc(false, s, tt()).map_err(terr)?;
        }
        acc
    };
    out(lua, tree, p1.ktable)
}

fn check_size(t: &tree::Tree, n: i64) -> mlua::Result<()> {
    if (t.size + 3).saturating_mul(n.unsigned_abs() + 1) > tree::MAX_SIZE {
        return Err(err("pattern too big"));
    }
    Ok(())
}

fn wrap1(lua: &Lua, a: &MultiValue, f: &str, node: impl FnOnce(tree::P) -> Node) -> R {
    let p1 = pat(lua, a, 0, f)?;
    out(lua, mk(node(p1.tree)).map_err(terr)?, p1.ktable)
}

/// `#p`.
pub fn and(lua: &Lua, a: MultiValue) -> R {
    wrap1(lua, &a, "__len", Node::And)
}

/// `-p`.
pub fn not(lua: &Lua, a: MultiValue) -> R {
    wrap1(lua, &a, "__unm", Node::Not)
}

/// A capture of `kind` over argument 1, with argument `label` (if any) as
/// its Lua value.
fn capture(lua: &Lua, a: &MultiValue, kind: CapKind, label: Option<usize>, f: &str) -> R {
    let p1 = pat(lua, a, 0, f)?;
    let (kt, id) = match label {
        Some(i) => kt_add(lua, p1.ktable.as_ref(), arg(a, i))?,
        None => (p1.ktable, 0),
    };
    out(lua, mk(Node::Capture(kind, id, p1.tree)).map_err(terr)?, kt)
}

fn empty_capture(lua: &Lua, kind: CapKind, key: i64, kt: Option<mlua::Table>) -> R {
    out(
        lua,
        mk(Node::Capture(kind, key, mkleaf(Node::True))).map_err(terr)?,
        kt,
    )
}

/// `p / v`.
pub fn div(lua: &Lua, a: MultiValue) -> R {
    match arg(&a, 1) {
        Value::Function(_) => capture(lua, &a, CapKind::Function, Some(1), "__div"),
        Value::Table(_) => capture(lua, &a, CapKind::Query, Some(1), "__div"),
        Value::String(_) => capture(lua, &a, CapKind::String, Some(1), "__div"),
        v @ (Value::Integer(_) | Value::Number(_)) => {
            let n = to_int(lua, &v);
            let p1 = pat(lua, &a, 0, "__div")?;
            if !(0..=32767).contains(&n) {
                return Err(err("bad argument #1 to '__div' (invalid number)"));
            }
            out(
                lua,
                mk(Node::Capture(CapKind::Num, n, p1.tree)).map_err(terr)?,
                p1.ktable,
            )
        }
        other => Err(err(format!(
            "unexpected {} as 2nd operand to LPeg '/'",
            crate::capture::typename(&other)
        ))),
    }
}

/// `p % f`.
pub fn acc(lua: &Lua, a: MultiValue) -> R {
    capture(lua, &a, CapKind::Acc, Some(1), "__mod")
}

fn check_fn(a: &MultiValue, i: usize, f: &str) -> mlua::Result<()> {
    match arg(a, i) {
        Value::Function(_) => Ok(()),
        other => Err(err(format!(
            "bad argument #{} to '{f}' (function expected, got {})",
            i + 1,
            if a.len() <= i {
                "no value"
            } else {
                crate::capture::typename(&other)
            }
        ))),
    }
}

/// `lpeg.C(p)`, `Cs`, `Ct`, `Cg`, `Cf`: by name.
pub fn named_capture(lua: &Lua, a: MultiValue, which: &str) -> R {
    match which {
        "C" => capture(lua, &a, CapKind::Simple, None, "C"),
        "Cs" => capture(lua, &a, CapKind::Subst, None, "Cs"),
        "Ct" => capture(lua, &a, CapKind::Table, None, "Ct"),
        "Cg" => {
            let label = (!arg(&a, 1).is_nil()).then_some(1);
            capture(lua, &a, CapKind::Group, label, "Cg")
        }
        _ => {
            check_fn(&a, 1, "Cf")?;
            capture(lua, &a, CapKind::Fold, Some(1), "Cf")
        }
    }
}

/// `lpeg.Cmt(p, f)`.
pub fn cmt(lua: &Lua, a: MultiValue) -> R {
    check_fn(&a, 1, "Cmt")?;
    let p1 = pat(lua, &a, 0, "Cmt")?;
    let (kt, id) = kt_add(lua, p1.ktable.as_ref(), arg(&a, 1))?;
    out(lua, mk(Node::RunTime(id, p1.tree)).map_err(terr)?, kt)
}

/// `lpeg.Cp()`.
pub fn cp(lua: &Lua, _a: MultiValue) -> R {
    empty_capture(lua, CapKind::Position, 0, None)
}

/// `lpeg.Carg(n)`.
pub fn carg(lua: &Lua, a: MultiValue) -> R {
    let n = check_int(lua, a.front(), 1, "Carg")?;
    if !(1..=32767).contains(&n) {
        return Err(err("bad argument #1 to 'Carg' (invalid argument index)"));
    }
    empty_capture(lua, CapKind::Arg, n, None)
}

/// `lpeg.Cb(name)`.
pub fn cb(lua: &Lua, a: MultiValue) -> R {
    if a.is_empty() {
        return Err(err("bad argument #1 to 'Cb' (value expected)"));
    }
    let (kt, id) = kt_add(lua, None, arg(&a, 0))?;
    empty_capture(lua, CapKind::Backref, id, kt)
}

/// `lpeg.Cc(...)`.
pub fn cc(lua: &Lua, a: MultiValue) -> R {
    match a.len() {
        0 => out(lua, mkleaf(Node::True), None),
        1 => {
            let (kt, id) = kt_add(lua, None, arg(&a, 0))?;
            empty_capture(lua, CapKind::Const, id, kt)
        }
        n => {
            let mut kt = None;
            let mut ids = Vec::with_capacity(n);
            for v in a.iter() {
                let (k, id) = kt_add(lua, kt.as_ref(), v.clone())?;
                kt = k;
                ids.push(id);
            }
            let mut acc: Option<tree::P> = None;
            for id in ids.into_iter().rev() {
                let c = mk(Node::Capture(CapKind::Const, id, mkleaf(Node::True))).map_err(terr)?;
                acc = Some(match acc {
                    None => c,
                    Some(rest) => mk(Node::Seq(c, rest)).map_err(terr)?,
                });
            }
            let body = acc.unwrap_or_else(|| mkleaf(Node::True));
            out(
                lua,
                mk(Node::Capture(CapKind::Group, 0, body)).map_err(terr)?,
                kt,
            )
        }
    }
}

/// `lpeg.V(v)`.
pub fn v(lua: &Lua, a: MultiValue) -> R {
    let name = arg(&a, 0);
    if name.is_nil() {
        return Err(err("bad argument #1 to 'V' (non-nil value expected)"));
    }
    let (kt, id) = kt_add(lua, None, name)?;
    out(lua, mkleaf(Node::OpenCall(id)), kt)
}

/// `lpeg.B(p)`.
pub fn b(lua: &Lua, a: MultiValue) -> R {
    let p1 = pat(lua, &a, 0, "B")?;
    let mut cx = Ctx::new();
    let n = fixed_len(&mut cx, &p1.tree, None).map_err(terr)?;
    let Some(n) = n else {
        return Err(err(
            "bad argument #1 to 'B' (pattern may not have fixed length)",
        ));
    };
    if has_captures(&mut cx, &p1.tree, None).map_err(terr)? {
        return Err(err("bad argument #1 to 'B' (pattern have captures)"));
    }
    if n > 255 {
        return Err(err(
            "bad argument #1 to 'B' (pattern too long to look behind)",
        ));
    }
    out(
        lua,
        mk(Node::Behind(n as u8, p1.tree)).map_err(terr)?,
        p1.ktable,
    )
}

fn check_str(a: &MultiValue, i: usize, f: &str) -> mlua::Result<Vec<u8>> {
    match arg(a, i) {
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Integer(n) => Ok(n.to_string().into_bytes()),
        Value::Number(n) => Ok(n.to_string().into_bytes()),
        other => Err(err(format!(
            "bad argument #{} to '{f}' (string expected, got {})",
            i + 1,
            if a.len() <= i {
                "no value"
            } else {
                crate::capture::typename(&other)
            }
        ))),
    }
}

/// `lpeg.S(set)`.
pub fn s(lua: &Lua, a: MultiValue) -> R {
    let bytes = check_str(&a, 0, "S")?;
    let mut cs = Charset::EMPTY;
    for c in bytes {
        cs.add(c);
    }
    into_value(lua, plain(charset(cs)))
}

/// `lpeg.R(range, ...)`.
pub fn r(lua: &Lua, a: MultiValue) -> R {
    let mut cs = Charset::EMPTY;
    for i in 0..a.len() {
        let r = check_str(&a, i, "R")?;
        if r.len() != 2 {
            return Err(err(format!(
                "bad argument #{} to 'R' (range must have two characters)",
                i + 1
            )));
        }
        for c in r[0]..=r[1] {
            cs.add(c);
        }
    }
    into_value(lua, plain(charset(cs)))
}

/// `lpeg.utfR(from, to)`.
pub fn utfr(lua: &Lua, a: MultiValue) -> R {
    let from = check_int(lua, a.front(), 1, "utfR")? as u64;
    let to = check_int(lua, a.get(1), 2, "utfR")? as u64;
    if from > to {
        return Err(err("bad argument #2 to 'utfR' (empty range)"));
    }
    if to <= 0x7f {
        let mut cs = Charset::EMPTY;
        for c in from..=to {
            cs.add(c as u8);
        }
        return into_value(lua, plain(charset(cs)));
    }
    if from > 0x10ffff {
        return Err(err("bad argument #1 to 'utfR' (invalid code point)"));
    }
    if to > 0x10ffff {
        return Err(err("bad argument #2 to 'utfR' (invalid code point)"));
    }
    out(lua, mkleaf(Node::Utfr(from as u32, to as u32)), None)
}
