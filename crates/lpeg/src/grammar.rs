//! Grammars: a Lua table of rules becomes one tree, its `V` references
//! resolved to calls, and is checked for left recursion and for loops that
//! could match the empty string forever.

use crate::pattern::{kt_join, to_pattern, val2str, Pat};
use crate::tree::{mk, nullable, Ctx, Grammar, Node, Rule, TResult, Tree, G, P};
use mlua::{Lua, Table, Value};
use std::sync::Arc;

/// Most rules in a grammar (and most left calls followed in a check).
pub const MAX_RULES: usize = 1000;

fn err(msg: impl Into<String>) -> mlua::Error {
    crate::own_error(msg)
}

fn is_one(lua: &Lua, k: &Value) -> bool {
    match k {
        Value::Integer(1) => true,
        Value::Number(n) => *n == 1.0,
        Value::String(_) => matches!(lua.coerce_number(k.clone()), Ok(Some(n)) if n == 1.0),
        _ => false,
    }
}

/// Builds the grammar `t` (argument `arg` of the calling function).
pub fn build(lua: &Lua, t: &Table, arg: usize) -> mlua::Result<Pat> {
    let first: Value = t.raw_get(1)?;
    let (init_key, init) = match &first {
        Value::String(_) | Value::Integer(_) | Value::Number(_) => {
            (first.clone(), t.get::<Value>(first.clone())?)
        }
        _ => (Value::Integer(1), first.clone()),
    };
    let init_pat = match to_pattern(&init) {
        Some(p) => p,
        None if init.is_nil() => return Err(err("grammar has no initial rule")),
        None => {
            let name = match &init_key {
                Value::String(s) => s.to_string_lossy(),
                Value::Integer(_) | Value::Number(_) => val2str(lua, &init_key),
                _ => "(null)".into(),
            };
            return Err(err(format!("initial rule '{name}' is not a pattern")));
        }
    };
    let mut keys = vec![init_key.clone()];
    let mut pats = vec![init_pat];
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair?;
        if is_one(lua, &k) || k.equals(&init_key)? {
            continue;
        }
        let Some(p) = to_pattern(&v) else {
            return Err(err(format!("rule '{}' is not a pattern", val2str(lua, &k))));
        };
        keys.push(k);
        pats.push(p);
        if pats.len() > MAX_RULES {
            return Err(err(format!(
                "bad argument #{arg} to 'P' (grammar has too many rules)"
            )));
        }
    }
    let postab = lua.create_table()?;
    for (i, k) in keys.iter().enumerate() {
        postab.raw_set(k.clone(), i as i64 + 1)?;
    }
    let mut used = vec![false; pats.len()];
    used[0] = true;
    let mut cx = Ctx::new();
    let mut bodies = Vec::with_capacity(pats.len());
    for p in &pats {
        let resolve = |id: i64| -> mlua::Result<u16> {
            let name: Value = match &p.ktable {
                Some(kt) => kt.raw_get(id)?,
                None => Value::Nil,
            };
            let idx: Option<i64> = postab.get(name.clone())?;
            match idx {
                Some(i) => Ok((i - 1) as u16),
                None => Err(err(format!(
                    "rule '{}' undefined in given grammar",
                    val2str(lua, &name)
                ))),
            }
        };
        bodies.push(fix_calls(&mut cx, &p.tree, &resolve, &mut used)?);
    }
    let rules = bodies
        .into_iter()
        .zip(keys.iter())
        .zip(used.iter())
        .map(|((body, k), used)| Rule {
            body,
            name: val2str(lua, k),
            used: *used,
        })
        .collect();
    let g = Arc::new(Grammar { rules });
    verify(&g).map_err(err)?;
    let mut kt = None;
    for p in &pats {
        kt = kt_join(lua, kt.as_ref(), p.ktable.as_ref())?;
    }
    Ok(Pat {
        tree: mk(Node::Grammar(g)).map_err(err)?,
        ktable: kt,
        ud: None,
    })
}

/// Rebuilds `t` with its open calls turned into calls to rules.
fn fix_calls(
    cx: &mut Ctx,
    t: &P,
    resolve: &dyn Fn(i64) -> mlua::Result<u16>,
    used: &mut [bool],
) -> mlua::Result<P> {
    if !t.open {
        return Ok(t.clone());
    }
    cx.enter().map_err(err)?;
    let r = fix_in(cx, t, resolve, used);
    cx.leave();
    r
}

fn fix_in(
    cx: &mut Ctx,
    t: &P,
    resolve: &dyn Fn(i64) -> mlua::Result<u16>,
    used: &mut [bool],
) -> mlua::Result<P> {
    if let Node::OpenCall(id) = &t.node {
        let n = resolve(*id)?;
        if let Some(u) = used.get_mut(usize::from(n)) {
            *u = true;
        }
        return mk(Node::Call(n)).map_err(err);
    }
    let mut f = |x: &P| fix_calls(cx, x, resolve, used);
    let node = match &t.node {
        Node::Rep(a) => Node::Rep(f(a)?),
        Node::Not(a) => Node::Not(f(a)?),
        Node::And(a) => Node::And(f(a)?),
        Node::Behind(n, a) => Node::Behind(*n, f(a)?),
        Node::Capture(k, key, a) => Node::Capture(*k, *key, f(a)?),
        Node::RunTime(key, a) => Node::RunTime(*key, f(a)?),
        Node::Seq(a, b) => {
            let a = f(a)?;
            Node::Seq(a, f(b)?)
        }
        Node::Choice(a, b) => {
            let a = f(a)?;
            Node::Choice(a, f(b)?)
        }
        _ => return Ok(t.clone()),
    };
    mk(node).map_err(err)
}

fn verify(g: &Grammar) -> TResult<()> {
    let mut cx = Ctx::new();
    for r in g.rules.iter().filter(|r| r.used) {
        let mut passed = Vec::new();
        verify_rule(&mut cx, &r.body, g, &mut passed, false)?;
    }
    for r in g.rules.iter().filter(|r| r.used) {
        if check_loops(&mut cx, &r.body, Some(g))? {
            return Err(format!("empty loop in rule '{}'", r.name));
        }
    }
    Ok(())
}

fn verify_error(g: &Grammar, passed: &[u16]) -> String {
    for i in (0..passed.len()).rev() {
        for j in (0..i).rev() {
            if passed[i] == passed[j] {
                let name = &g.rules[usize::from(passed[i])].name;
                return format!("rule '{name}' may be left recursive");
            }
        }
    }
    "too many left calls in grammar".into()
}

/// Errors if a path from `t` back to a rule consumes nothing; otherwise
/// whether `t` is nullable (ORed with `nb`).
fn verify_rule(
    cx: &mut Ctx,
    t: &Tree,
    g: &Grammar,
    passed: &mut Vec<u16>,
    nb: bool,
) -> TResult<bool> {
    cx.enter()?;
    let mark = passed.len();
    let r = verify_in(cx, t, g, passed, nb);
    passed.truncate(mark);
    cx.leave();
    r
}

fn verify_in<'a>(
    cx: &mut Ctx,
    mut t: &'a Tree,
    g: &'a Grammar,
    passed: &mut Vec<u16>,
    mut nb: bool,
) -> TResult<bool> {
    loop {
        cx.steps += 1;
        if cx.steps > crate::tree::MAX_STEPS {
            return Err("pattern too complex".into());
        }
        match &t.node {
            Node::Char(_) | Node::Set(_) | Node::Any | Node::False | Node::Utfr(..) => {
                return Ok(nb)
            }
            Node::True | Node::Behind(..) => return Ok(true),
            Node::Not(p) | Node::And(p) | Node::Rep(p) => {
                t = p;
                nb = true;
            }
            Node::Capture(_, _, p) | Node::RunTime(_, p) => t = p,
            Node::Call(n) => {
                if passed.len() >= MAX_RULES {
                    return Err(verify_error(g, passed));
                }
                passed.push(*n);
                t = &g.rules[usize::from(*n)].body;
            }
            Node::Seq(a, b) => {
                if !verify_rule(cx, a, g, passed, false)? {
                    return Ok(nb);
                }
                t = b;
            }
            Node::Choice(a, b) => {
                nb = verify_rule(cx, a, g, passed, nb)?;
                t = b;
            }
            Node::Grammar(_) => return nullable(cx, t, None),
            Node::OpenCall(_) => return Ok(nb),
        }
    }
}

/// True if a repetition in `t` has a body that can match the empty string.
pub fn check_loops(cx: &mut Ctx, t: &Tree, g: G) -> TResult<bool> {
    cx.deeper(|cx| {
        let mut t = t;
        loop {
            match &t.node {
                Node::Rep(p) => {
                    if nullable(cx, p, g)? {
                        return Ok(true);
                    }
                    t = p;
                }
                Node::Grammar(_) => return Ok(false),
                Node::Not(p)
                | Node::And(p)
                | Node::Behind(_, p)
                | Node::Capture(_, _, p)
                | Node::RunTime(_, p) => t = p,
                Node::Seq(a, b) | Node::Choice(a, b) => {
                    if check_loops(cx, a, g)? {
                        return Ok(true);
                    }
                    t = b;
                }
                _ => return Ok(false),
            }
        }
    })
}
