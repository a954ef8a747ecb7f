//! The pattern userdata and the conversions of Lua values to patterns.
//!
//! A pattern's Lua values (constants, functions, group and rule names) are
//! kept in its "ktable", a Lua table set as the userdata's user value, under
//! ids unique to the process; trees refer to them by id. Combining patterns
//! merges their ktables, so the values live exactly as long as the patterns
//! that use them, and Lua's collector sees every reference.

use crate::code::Program;
use crate::grammar;
use crate::tree::{self, mk, mkleaf, Node, P};
use mlua::{AnyUserData, Lua, Table, UserData, UserDataFields, Value};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};

/// Registry key of the module table (the patterns' `__index`).
pub const REG_MODULE: &str = "skyhold.lpeg.module";
/// Registry key of the table of metamethods.
pub const REG_META: &str = "skyhold.lpeg.meta";
/// Most Lua values one pattern may refer to (LPeg's limit).
pub const MAX_VALUES: usize = 65535;
/// The metamethods patterns have.
pub const META: [&str; 8] = [
    "__mul", "__add", "__pow", "__len", "__div", "__mod", "__unm", "__sub",
];

static NEXT_ID: AtomicI64 = AtomicI64::new(1);

/// A fresh ktable id.
pub fn new_id() -> i64 {
    NEXT_ID.fetch_add(1, Ordering::Relaxed)
}

/// The userdata behind an LPeg pattern.
pub struct Pattern {
    /// The tree.
    pub tree: P,
    /// The program, once compiled.
    pub code: OnceLock<Arc<Program>>,
}

impl UserData for Pattern {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_meta_field_with("__index", |lua| {
            lua.named_registry_value::<Table>(REG_MODULE)
        });
        fields.add_meta_field("__name", "lpeg-pattern");
        for name in META {
            fields.add_meta_field_with(name, move |lua| {
                lua.named_registry_value::<Table>(REG_META)?
                    .get::<Value>(name)
            });
        }
    }
}

/// A pattern being worked on: its tree, its ktable and, if it already is
/// a userdata, that userdata.
pub struct Pat {
    /// The tree.
    pub tree: P,
    /// The ktable.
    pub ktable: Option<Table>,
    /// The userdata it came from.
    pub ud: Option<AnyUserData>,
}

fn err(msg: impl Into<String>) -> mlua::Error {
    crate::own_error(msg)
}

/// The pattern `v` is, if it is a pattern userdata.
pub fn to_pattern(v: &Value) -> Option<Pat> {
    let Value::UserData(ud) = v else {
        return None;
    };
    let tree = ud.borrow::<Pattern>().ok()?.tree.clone();
    let ktable = ud.user_value::<Option<Table>>().ok().flatten();
    Some(Pat {
        tree,
        ktable,
        ud: Some(ud.clone()),
    })
}

/// LPeg's name for a value in messages: its text, or `(a type)`.
pub fn val2str(lua: &Lua, v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string_lossy(),
        Value::Integer(_) | Value::Number(_) => lua
            .coerce_string(v.clone())
            .ok()
            .flatten()
            .map(|s| s.to_string_lossy())
            .unwrap_or_default(),
        other => format!("(a {})", crate::capture::typename(other)),
    }
}

/// The integer `v` converts to as `lua_tointeger` does (0 if none).
pub fn to_int(lua: &Lua, v: &Value) -> i64 {
    match v {
        Value::Integer(i) => *i,
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.2e18 => *n as i64,
        Value::String(_) => lua.coerce_integer(v.clone()).ok().flatten().unwrap_or(0),
        _ => 0,
    }
}

/// `luaL_checkinteger` for argument `arg` of `fname`.
pub fn check_int(lua: &Lua, v: Option<&Value>, arg: usize, fname: &str) -> mlua::Result<i64> {
    let v = v.cloned().unwrap_or(Value::Nil);
    match &v {
        Value::Integer(i) => Ok(*i),
        Value::Number(n) if n.fract() == 0.0 && n.abs() < 9.2e18 => Ok(*n as i64),
        Value::Number(_) => Err(err(format!(
            "bad argument #{arg} to '{fname}' (number has no integer representation)"
        ))),
        Value::String(_) => match lua.coerce_integer(v.clone())? {
            Some(i) => Ok(i),
            None => Err(err(format!(
                "bad argument #{arg} to '{fname}' (number expected, got string)"
            ))),
        },
        other => Err(err(format!(
            "bad argument #{arg} to '{fname}' (number expected, got {})",
            if matches!(other, Value::Nil) {
                "no value"
            } else {
                crate::capture::typename(other)
            }
        ))),
    }
}

/// A pattern with no Lua values.
pub fn plain(tree: P) -> Pat {
    Pat {
        tree,
        ktable: None,
        ud: None,
    }
}

/// Converts argument `arg` of `fname` to a pattern, as `lpeg.P` does.
pub fn get_pat(lua: &Lua, v: &Value, arg: usize, fname: &str) -> mlua::Result<Pat> {
    let tree = match v {
        Value::String(s) => tree::string(&s.as_bytes()).map_err(err)?,
        Value::Integer(_) | Value::Number(_) => num_tree(to_int(lua, v))?,
        Value::Boolean(b) => mkleaf(if *b { Node::True } else { Node::False }),
        Value::Table(t) => return grammar::build(lua, t, arg),
        Value::Function(_) => {
            let (kt, id) = kt_add(lua, None, v.clone())?;
            return Ok(Pat {
                tree: mk(Node::RunTime(id, mkleaf(Node::True))).map_err(err)?,
                ktable: kt,
                ud: None,
            });
        }
        other => {
            return to_pattern(other).ok_or_else(|| {
                err(format!(
                    "bad argument #{arg} to '{fname}' (lpeg-pattern expected, got {})",
                    crate::capture::typename(other)
                ))
            })
        }
    };
    Ok(plain(tree))
}

/// `n` as a pattern: `n` bytes, or (negative) fewer than `-n` left.
pub fn num_tree(n: i64) -> mlua::Result<P> {
    if n == 0 {
        Ok(mkleaf(Node::True))
    } else if n > 0 {
        tree::anys(n as u64).map_err(err)
    } else {
        let body = tree::anys(n.unsigned_abs()).map_err(err)?;
        mk(Node::Not(body)).map_err(err)
    }
}

fn count(t: &Table) -> mlua::Result<usize> {
    let mut n = 0;
    for p in t.pairs::<Value, Value>() {
        p?;
        n += 1;
    }
    Ok(n)
}

/// A new ktable with `base`'s values plus `v`, and `v`'s id (0, and no new
/// table, for nil).
pub fn kt_add(lua: &Lua, base: Option<&Table>, v: Value) -> mlua::Result<(Option<Table>, i64)> {
    if v.is_nil() {
        return Ok((base.cloned(), 0));
    }
    let t = lua.create_table()?;
    let mut n = 0;
    if let Some(b) = base {
        for p in b.pairs::<Value, Value>() {
            let (k, x) = p?;
            t.raw_set(k, x)?;
            n += 1;
        }
    }
    if n >= MAX_VALUES {
        return Err(err("too many Lua values in pattern"));
    }
    let id = new_id();
    t.raw_set(id, v)?;
    Ok((Some(t), id))
}

/// The ktable of a pattern combining patterns with ktables `a` and `b`.
pub fn kt_join(lua: &Lua, a: Option<&Table>, b: Option<&Table>) -> mlua::Result<Option<Table>> {
    match (a, b) {
        (None, None) => Ok(None),
        (Some(a), None) => Ok(Some(a.clone())),
        (None, Some(b)) => Ok(Some(b.clone())),
        (Some(a), Some(b)) if a == b => Ok(Some(a.clone())),
        (Some(a), Some(b)) => {
            let t = lua.create_table()?;
            for src in [a, b] {
                for p in src.pairs::<Value, Value>() {
                    let (k, x) = p?;
                    t.raw_set(k, x)?;
                }
            }
            if count(&t)? > MAX_VALUES {
                return Err(err("too many Lua values in pattern"));
            }
            Ok(Some(t))
        }
    }
}

/// A new pattern userdata.
pub fn new_ud(lua: &Lua, tree: P, ktable: Option<Table>) -> mlua::Result<AnyUserData> {
    let ud = lua.create_userdata(Pattern {
        tree,
        code: OnceLock::new(),
    })?;
    if let Some(t) = ktable {
        ud.set_user_value(t)?;
    }
    Ok(ud)
}

/// `p` as a Lua value (its own userdata when it has one).
pub fn into_value(lua: &Lua, p: Pat) -> mlua::Result<Value> {
    match p.ud {
        Some(ud) => Ok(Value::UserData(ud)),
        None => Ok(Value::UserData(new_ud(lua, p.tree, p.ktable)?)),
    }
}
