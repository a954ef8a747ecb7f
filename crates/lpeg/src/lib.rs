//! LPeg 1.1 for skyhold services: parsing expression grammars with LPeg's
//! Lua API, semantics and error messages, in safe Rust.
//!
//! Patterns are trees ([`tree`]) compiled to programs ([`code`]) that a
//! machine with an explicit, bounded backtrack stack runs ([`vm`]); captures
//! become Lua values afterwards ([`capture`]). Recursion over trees is
//! bounded (a too-deep pattern is an error, not a stack overflow), every
//! machine step is charged to the service's instruction budget, and the
//! Lua values a match builds go through the Lua allocator.
//!
//! `require "lpeg"` gets [`open`]'s table; the `re` module is Lua
//! (`lualib/re.lua`) on top of it.

#![forbid(unsafe_code)]

pub mod capture;
pub mod charset;
pub mod code;
pub mod grammar;
mod listing;
mod ops;
pub mod pattern;
pub mod tree;
pub mod vm;

use mlua::{Lua, MultiValue, Table, Value};
use pattern::{check_int, get_pat, to_pattern, val2str, Pattern, REG_META, REG_MODULE};
use skyhold_lua::budget::Budget;
use skyhold_lua::files::{bad_argument, Named};
use std::sync::Arc;

/// The `version` field.
pub const VERSION: &str = "LPeg 1.1.0";
/// Registry key of the backtrack limit (as LPeg names it).
pub const REG_MAXSTACK: &str = "lpeg-maxstack";
/// The default backtrack limit.
pub const MAX_BACK: i64 = 400;

fn err(msg: impl Into<String>) -> mlua::Error {
    own_error(msg)
}

/// An error LPeg itself raises (with `luaL_error` or `luaL_argerror` in
/// the C library), as opposed to one passed on from a function of the
/// user's that a pattern called. Lua code gets it with the position of
/// the call into lpeg in front, as `luaL_error` writes it.
#[derive(Debug)]
pub struct LpegError(pub String);

impl std::fmt::Display for LpegError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for LpegError {}

/// LPeg's own error with message `msg`.
pub fn own_error(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::external(LpegError(msg.into()))
}

/// The message of `e` if LPeg itself raised it.
fn own_message(e: &mlua::Error) -> Option<&str> {
    match e {
        mlua::Error::ExternalError(x) => x.downcast_ref::<LpegError>().map(|l| l.0.as_str()),
        mlua::Error::CallbackError { cause, .. } => own_message(cause),
        mlua::Error::WithContext { cause, .. } => own_message(cause),
        _ => None,
    }
}

/// The text Lua code sees for an error raised in Rust.
pub fn error_text(e: &mlua::Error) -> String {
    if let Some(m) = own_message(e) {
        return m.to_string();
    }
    match e {
        // A function of the user's that raised a string: its message, less
        // the traceback mlua adds when it calls Lua from Rust.
        mlua::Error::RuntimeError(m) => match m.find("\nstack traceback:\n") {
            Some(at) => m[..at].to_string(),
            None => m.clone(),
        },
        mlua::Error::CallbackError { cause, .. } => error_text(cause),
        mlua::Error::WithContext { cause, .. } => error_text(cause),
        mlua::Error::MemoryError(_) => "not enough memory".into(),
        other => other.to_string(),
    }
}

/// `bad argument #N to 'own' (what)`, with the function named as Lua 5.4
/// names a C function in an argument error: by the name its caller used
/// (`P` for `lpeg.P(x)`, a method call not counting self), else by its
/// name among the loaded modules (`lpeg.P`, through `pcall`). Any other
/// message is returned as it is.
fn argument_error(lua: &Lua, own: &'static str, global: Option<&'static str>, msg: &str) -> String {
    let Some(rest) = msg.strip_prefix("bad argument #") else {
        return msg.to_string();
    };
    let Some((n, rest)) = rest.split_once(" to '") else {
        return msg.to_string();
    };
    let Ok(n) = n.parse::<usize>() else {
        return msg.to_string();
    };
    let Some((_, what)) = rest.split_once("' (") else {
        return msg.to_string();
    };
    let what = what.strip_suffix(')').unwrap_or(what);
    let named = Named {
        global,
        own,
        method: false,
    };
    bad_argument(lua, 1, &named, n, what)
}

type RawFn = fn(&Lua, MultiValue) -> mlua::Result<MultiValue>;

fn one(v: mlua::Result<Value>) -> mlua::Result<MultiValue> {
    v.map(|v| MultiValue::from_vec(vec![v]))
}

macro_rules! single {
    ($f:path) => {
        (|lua, a| one($f(lua, a))) as RawFn
    };
}

fn functions() -> Vec<(&'static str, RawFn)> {
    vec![
        ("P", single!(ops::p)),
        ("S", single!(ops::s)),
        ("R", single!(ops::r)),
        ("V", single!(ops::v)),
        ("B", single!(ops::b)),
        ("C", |l, a| one(ops::named_capture(l, a, "C"))),
        ("Cs", |l, a| one(ops::named_capture(l, a, "Cs"))),
        ("Ct", |l, a| one(ops::named_capture(l, a, "Ct"))),
        ("Cg", |l, a| one(ops::named_capture(l, a, "Cg"))),
        ("Cf", |l, a| one(ops::named_capture(l, a, "Cf"))),
        ("Cmt", single!(ops::cmt)),
        ("Cp", single!(ops::cp)),
        ("Carg", single!(ops::carg)),
        ("Cb", single!(ops::cb)),
        ("Cc", single!(ops::cc)),
        ("utfR", single!(ops::utfr)),
        ("match", lp_match),
        ("type", single!(lp_type)),
        ("setmaxstack", lp_setmaxstack),
        ("locale", single!(lp_locale)),
        ("ptree", single!(listing::ptree)),
        ("pcode", single!(listing::pcode)),
    ]
}

fn metamethods() -> Vec<(&'static str, RawFn)> {
    vec![
        ("__mul", single!(ops::seq)),
        ("__add", single!(ops::choice)),
        ("__sub", single!(ops::sub)),
        ("__pow", single!(ops::pow)),
        ("__len", single!(ops::and)),
        ("__unm", single!(ops::not)),
        ("__div", single!(ops::div)),
        ("__mod", single!(ops::acc)),
    ]
}

const WRAP: &str = r#"
local raw, rawmeta, mark, own = ...
local error, select = error, select
-- `check` is tail-called in place of the wrapper: level 2 is the code that
-- called into lpeg, where luaL_error puts the position of LPeg's errors.
local function check(...)
  local a = ...
  if a == own then error((select(2, ...)), 2) end
  if a == mark then error((select(2, ...)), 0) end
  return ...
end
local function wrap(t)
  local w = {}
  for name, f in pairs(t) do
    w[name] = function(...) return check(f(...)) end
  end
  return w
end
return wrap(raw), wrap(rawmeta)
"#;

/// The name Lua 5.4 finds for a function of the module among the loaded
/// modules.
fn global_name(name: &str) -> Option<&'static str> {
    Some(match name {
        "P" => "lpeg.P",
        "S" => "lpeg.S",
        "R" => "lpeg.R",
        "V" => "lpeg.V",
        "B" => "lpeg.B",
        "C" => "lpeg.C",
        "Cs" => "lpeg.Cs",
        "Ct" => "lpeg.Ct",
        "Cg" => "lpeg.Cg",
        "Cf" => "lpeg.Cf",
        "Cmt" => "lpeg.Cmt",
        "Cp" => "lpeg.Cp",
        "Carg" => "lpeg.Carg",
        "Cb" => "lpeg.Cb",
        "Cc" => "lpeg.Cc",
        "utfR" => "lpeg.utfR",
        "match" => "lpeg.match",
        "type" => "lpeg.type",
        "setmaxstack" => "lpeg.setmaxstack",
        "locale" => "lpeg.locale",
        "ptree" => "lpeg.ptree",
        "pcode" => "lpeg.pcode",
        _ => return None,
    })
}

/// The marks a raw function returns first to have its wrapper raise the
/// message after it: `own` for LPeg's errors (with the caller's position),
/// `passed` for the rest (as they are).
#[derive(Clone)]
struct Marks {
    own: Table,
    passed: Table,
}

/// Functions (or metamethods, `module` false) that return a mark and a
/// message instead of raising.
fn raw_table(
    lua: &Lua,
    fns: Vec<(&'static str, RawFn)>,
    marks: &Marks,
    module: bool,
) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    for (name, f) in fns {
        let marks = marks.clone();
        // Lua finds `lpeg.P` among the loaded modules; a metamethod it
        // does not find.
        let global = if module { global_name(name) } else { None };
        let func = lua.create_function(move |lua, a: MultiValue| match f(lua, a) {
            Ok(v) => Ok(v),
            Err(e) => {
                let (mark, text) = match own_message(&e) {
                    Some(m) => (&marks.own, argument_error(lua, name, global, m)),
                    None => (&marks.passed, error_text(&e)),
                };
                Ok(MultiValue::from_vec(vec![
                    Value::Table(mark.clone()),
                    Value::String(lua.create_string(text)?),
                ]))
            }
        })?;
        t.raw_set(name, func)?;
    }
    Ok(t)
}

/// Builds the `lpeg` module in `lua`: its functions (errors raised as
/// plain strings, as LPeg's are) and the patterns' metatable.
pub fn open(lua: &Lua) -> mlua::Result<Table> {
    if let Ok(t) = lua.named_registry_value::<Table>(REG_MODULE) {
        return Ok(t);
    }
    let marks = Marks {
        own: lua.create_table()?,
        passed: lua.create_table()?,
    };
    let raw = raw_table(lua, functions(), &marks, true)?;
    let rawmeta = raw_table(lua, metamethods(), &marks, false)?;
    let (module, meta): (Table, Table) = lua.load(WRAP).set_name("=lpeg").call((
        raw,
        rawmeta,
        marks.passed.clone(),
        marks.own.clone(),
    ))?;
    module.raw_set("version", VERSION)?;
    lua.set_named_registry_value(REG_META, meta)?;
    lua.set_named_registry_value(REG_MODULE, module.clone())?;
    if lua
        .named_registry_value::<Option<i64>>(REG_MAXSTACK)?
        .is_none()
    {
        lua.set_named_registry_value(REG_MAXSTACK, MAX_BACK)?;
    }
    Ok(module)
}

/// The module factory skyhold registers under `lpeg`.
pub fn factory() -> skyhold_lua::host::ModuleFactory {
    Arc::new(|lua, _ctx| open(lua).map(Value::Table))
}

fn lp_type(_lua: &Lua, a: MultiValue) -> mlua::Result<Value> {
    Ok(match a.front().and_then(to_pattern) {
        Some(_) => Value::String(_lua.create_string("pattern")?),
        None => Value::Nil,
    })
}

fn lp_setmaxstack(lua: &Lua, a: MultiValue) -> mlua::Result<MultiValue> {
    let n = check_int(lua, a.front(), 1, "setmaxstack")?;
    if n <= 0 || n > i64::from(i32::MAX / 100) {
        return Err(err("bad argument #1 to 'setmaxstack' (out of range)"));
    }
    lua.set_named_registry_value(REG_MAXSTACK, n)?;
    Ok(MultiValue::new())
}

fn lp_locale(lua: &Lua, a: MultiValue) -> mlua::Result<Value> {
    let t = match a.front() {
        None | Some(Value::Nil) => lua.create_table()?,
        Some(Value::Table(t)) => t.clone(),
        Some(other) => {
            return Err(err(format!(
                "bad argument #1 to 'locale' (table expected, got {})",
                capture::typename(other)
            )))
        }
    };
    type Class = (&'static str, fn(u8) -> bool);
    let classes: [Class; 11] = [
        ("alnum", |c| c.is_ascii_alphanumeric()),
        ("alpha", |c| c.is_ascii_alphabetic()),
        ("cntrl", |c| c.is_ascii_control()),
        ("digit", |c| c.is_ascii_digit()),
        ("graph", |c| c.is_ascii_graphic()),
        ("lower", |c| c.is_ascii_lowercase()),
        ("print", |c| c.is_ascii_graphic() || c == b' '),
        ("punct", |c| c.is_ascii_punctuation()),
        ("space", |c| matches!(c, b' ' | 9..=13)),
        ("upper", |c| c.is_ascii_uppercase()),
        ("xdigit", |c| c.is_ascii_hexdigit()),
    ];
    for (name, f) in classes {
        let cs = charset::Charset::from_fn(f);
        t.set(name, pattern::new_ud(lua, tree::charset(cs), None)?)?;
    }
    Ok(Value::Table(t))
}

/// The program of pattern `p`, compiled now if it was not yet.
pub fn program(lua: &Lua, p: &pattern::Pat) -> mlua::Result<Arc<code::Program>> {
    let cached =
        p.ud.as_ref()
            .and_then(|ud| ud.borrow::<Pattern>().ok())
            .and_then(|pt| pt.code.get().cloned());
    if let Some(c) = cached {
        return Ok(c);
    }
    let name_of = |id: i64| -> String {
        let v: Value = p
            .ktable
            .as_ref()
            .and_then(|k| k.raw_get(id).ok())
            .unwrap_or(Value::Nil);
        val2str(lua, &v)
    };
    let prog = Arc::new(code::compile(&p.tree, &name_of).map_err(err)?);
    if let Some(b) = Budget::of(lua) {
        b.charge(prog.code.len() as i64 + 1)?;
    }
    if let Some(ud) = &p.ud {
        if let Ok(pt) = ud.borrow::<Pattern>() {
            let _ = pt.code.set(prog.clone());
        }
    }
    Ok(prog)
}

fn lp_match(lua: &Lua, a: MultiValue) -> mlua::Result<MultiValue> {
    let args: Vec<Value> = a.into_vec();
    let pv = args.first().cloned().unwrap_or(Value::Nil);
    let p = get_pat(lua, &pv, 1, "match")?;
    let prog = program(lua, &p)?;
    let subject_val = args.get(1).cloned().unwrap_or(Value::Nil);
    let subject = match &subject_val {
        Value::String(s) => s.as_bytes().to_vec(),
        Value::Integer(_) | Value::Number(_) => lua
            .coerce_string(subject_val.clone())?
            .map(|s| s.as_bytes().to_vec())
            .unwrap_or_default(),
        other => {
            return Err(err(format!(
                "bad argument #2 to 'match' (string expected, got {})",
                if args.len() < 2 {
                    "no value"
                } else {
                    capture::typename(other)
                }
            )))
        }
    };
    let len = subject.len();
    if len >= u32::MAX as usize {
        return Err(err("bad argument #2 to 'match' (subject too long)"));
    }
    let ii = match args.get(2) {
        None | Some(Value::Nil) => 1,
        v => check_int(lua, v, 3, "match")?,
    };
    let init = if ii > 0 {
        ((ii - 1) as u64).min(len as u64) as usize
    } else {
        len.saturating_sub(ii.unsigned_abs().min(len as u64) as usize)
    };
    let max = lua
        .named_registry_value::<Option<i64>>(REG_MAXSTACK)?
        .unwrap_or(MAX_BACK)
        .max(1) as usize;
    let extra = if args.len() > 3 { &args[3..] } else { &[] };
    let env = vm::Env {
        lua,
        subject: &subject,
        subject_val,
        ktable: p.ktable.clone(),
        keys: &prog.keys,
        args: extra,
        budget: Budget::of(lua),
        steps: std::cell::Cell::new(0),
    };
    let mut m = vm::Machine::new(&env, &prog);
    let Some(end) = m.run(init, max)? else {
        return Ok(MultiValue::from_vec(vec![Value::Nil]));
    };
    let mut values = Vec::new();
    if !m.caps.is_empty() {
        let mut cs = capture::CapState::new(&env, &m.caps, &m.dyns, 0);
        cs.push_all()?;
        values = cs.into_values();
    }
    env.step(0)?;
    if values.is_empty() {
        values.push(Value::Integer(end as i64 + 1));
    }
    Ok(MultiValue::from_vec(values))
}
