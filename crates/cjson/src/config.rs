//! One cjson instance's settings, the functions that read and change them,
//! and the argument errors they raise, worded as Lua's auxiliary library
//! words them (`bad argument #1 to 'encode_max_depth' (...)`).

use mlua::{Lua, MultiValue, Value};

/// The deepest an encode goes, whatever `encode_max_depth` says: the
/// encoder recurses, one Rust frame a level, on the worker's stack.
pub const HARD_MAX_ENCODE_DEPTH: i32 = 1000;

/// The settings of one instance (`cjson`, `cjson.safe`, or one `new()`).
#[derive(Clone, Debug)]
pub struct Config {
    /// `encode_sparse_array` convert: excessively sparse arrays become
    /// objects instead of an error.
    pub sparse_convert: bool,
    /// `encode_sparse_array` ratio.
    pub sparse_ratio: i32,
    /// `encode_sparse_array` safe.
    pub sparse_safe: i32,
    /// `encode_max_depth`.
    pub encode_max_depth: i32,
    /// `decode_max_depth`.
    pub decode_max_depth: i32,
    /// `encode_invalid_numbers`: 0 off, 1 on, 2 `"null"`.
    pub encode_invalid_numbers: u8,
    /// `decode_invalid_numbers`.
    pub decode_invalid_numbers: bool,
    /// `encode_keep_buffer` (kept and reported; it changes no output).
    pub encode_keep_buffer: bool,
    /// `encode_number_precision`.
    pub encode_number_precision: i32,
    /// `encode_empty_table_as_object`.
    pub encode_empty_table_as_object: bool,
    /// `decode_array_with_array_mt`.
    pub decode_array_with_array_mt: bool,
    /// `decode_allow_comment`.
    pub decode_allow_comment: bool,
    /// `encode_escape_forward_slash`.
    pub encode_escape_forward_slash: bool,
    /// `encode_skip_unsupported_value_types`.
    pub encode_skip_unsupported_value_types: bool,
    /// `encode_indent` (`None` for none, as an empty string sets).
    pub encode_indent: Option<Vec<u8>>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            decode_invalid_numbers: true,
            encode_keep_buffer: true,
            encode_number_precision: 14,
            encode_empty_table_as_object: true,
            decode_array_with_array_mt: false,
            decode_allow_comment: false,
            encode_escape_forward_slash: true,
            encode_skip_unsupported_value_types: false,
            encode_indent: None,
        }
    }
}

/// A failure of a cjson function.
#[derive(Debug)]
pub enum Fail {
    /// cjson's own error (raised with the caller's position, as
    /// `luaL_error` raises).
    Msg(String),
    /// An error from Lua code cjson called (a `__len` or `__index`
    /// metamethod), a spent budget, or a failed allocation: passed on.
    Lua(mlua::Error),
}

impl From<mlua::Error> for Fail {
    fn from(e: mlua::Error) -> Self {
        Fail::Lua(e)
    }
}

/// How argument errors name the function: as the caller called it (the
/// functions in the module table), or `?` (what cjson.safe's inner calls
/// report, being called from C).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Naming {
    /// Named from the call site, as `luaL_argerror` names it.
    Caller,
    /// `?`.
    Unknown,
}

/// The type name Lua's `luaL_typeerror` reports for `v`.
pub fn type_name(v: &Value) -> String {
    let mt = match v {
        Value::Table(t) => t.metatable(),
        _ => None,
    };
    if let Some(Ok(Value::String(s))) = mt.map(|m| m.raw_get::<Value>("__name")) {
        return s.to_string_lossy();
    }
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::LightUserData(_) => "light userdata",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
    .to_string()
}

/// `lua_typename` of `v` (no `__name`, no "light").
pub fn basic_type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::LightUserData(_) => "userdata",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// Finds `f` in `package.loaded` two levels deep, as `lauxlib` names a
/// function that its call site does not.
fn loaded_name(lua: &Lua, f: &mlua::Function) -> Option<String> {
    let package: mlua::Table = lua.globals().raw_get("package").ok()?;
    let loaded: mlua::Table = package.raw_get("loaded").ok()?;
    for pair in loaded.pairs::<Value, Value>() {
        let (k, v) = pair.ok()?;
        let Value::String(k) = k else { continue };
        match v {
            Value::Function(g) if g == *f => return Some(strip_g(k.to_string_lossy())),
            Value::Table(t) => {
                for pair in t.pairs::<Value, Value>() {
                    let Ok((Value::String(k2), Value::Function(g))) = pair else {
                        continue;
                    };
                    if g == *f {
                        let name = format!("{}.{}", k.to_string_lossy(), k2.to_string_lossy());
                        return Some(strip_g(name));
                    }
                }
            }
            _ => {}
        }
    }
    None
}

fn strip_g(name: String) -> String {
    match name.strip_prefix("_G.") {
        Some(rest) => rest.to_string(),
        None => name,
    }
}

/// `luaL_argerror`'s message for argument `arg` of the cjson function the
/// running Lua wrapper (stack level 1) stands for.
pub fn arg_error(lua: &Lua, naming: Naming, arg: i32, msg: &str) -> Fail {
    if naming == Naming::Unknown {
        return Fail::Msg(format!("bad argument #{arg} to '?' ({msg})"));
    }
    let found = lua.inspect_stack(1, |d| {
        let names = d.names();
        (
            names.name.map(|n| n.to_string()),
            names.name_what == Some("method"),
            d.function(),
        )
    });
    let Some((name, method, f)) = found else {
        return Fail::Msg(format!("bad argument #{arg} ({msg})"));
    };
    let mut arg = arg;
    if method {
        arg -= 1;
        if arg == 0 {
            let name = name.unwrap_or_else(|| "?".into());
            return Fail::Msg(format!("calling '{name}' on bad self ({msg})"));
        }
    }
    let name = name
        .or_else(|| loaded_name(lua, &f))
        .unwrap_or_else(|| "?".into());
    Fail::Msg(format!("bad argument #{arg} to '{name}' ({msg})"))
}

/// `luaL_typeerror`.
pub fn type_error(lua: &Lua, naming: Naming, arg: i32, expected: &str, got: &Value) -> Fail {
    let msg = format!("{expected} expected, got {}", type_name(got));
    arg_error(lua, naming, arg, &msg)
}

/// The arguments of a settings function: at most `n` (padded with nil),
/// as `json_arg_init` checks them.
pub fn args(lua: &Lua, mv: MultiValue, n: usize) -> Result<Vec<Value>, Fail> {
    if mv.len() > n {
        return Err(arg_error(
            lua,
            Naming::Caller,
            n as i32 + 1,
            "found too many arguments",
        ));
    }
    let mut v: Vec<Value> = mv.into_iter().collect();
    v.resize(n, Value::Nil);
    Ok(v)
}

/// `luaL_checkinteger`, then C's conversion to `int`.
fn check_int(lua: &Lua, v: &Value, arg: i32) -> Result<i32, Fail> {
    if let Some(i) = lua.coerce_integer(v.clone())? {
        return Ok(i as i32);
    }
    if lua.coerce_number(v.clone())?.is_some() {
        return Err(arg_error(
            lua,
            Naming::Caller,
            arg,
            "number has no integer representation",
        ));
    }
    Err(type_error(lua, Naming::Caller, arg, "number", v))
}

/// An integer setting: sets it from `v` unless nil (between `min` and
/// `max`), and returns it.
pub fn integer_option(
    lua: &Lua,
    v: &Value,
    arg: i32,
    setting: &mut i32,
    min: i32,
    max: i32,
) -> Result<Value, Fail> {
    if !v.is_nil() {
        let value = check_int(lua, v, arg)?;
        if !(min <= value && value <= max) {
            let msg = format!("expected integer between {min} and {max}");
            // lua-cjson reports these against argument 1 whichever it was.
            return Err(arg_error(lua, Naming::Caller, 1, &msg));
        }
        *setting = value;
    }
    Ok(Value::Integer(i64::from(*setting)))
}

/// An enumerated setting (`"off"`, `"on"`, and for
/// `encode_invalid_numbers` `"null"`), also taking a boolean: sets it
/// from `v` unless nil, and returns it (a boolean for off and on).
pub fn enum_option(
    lua: &Lua,
    v: &Value,
    arg: i32,
    setting: &mut u8,
    options: &[&str],
) -> Result<Value, Fail> {
    match v {
        Value::Nil => {}
        Value::Boolean(b) => *setting = u8::from(*b),
        other => {
            let Some(s) = lua.coerce_string(other.clone())? else {
                return Err(type_error(lua, Naming::Caller, arg, "string", other));
            };
            let s = s.to_string_lossy();
            match options.iter().position(|o| *o == s) {
                Some(i) => *setting = i as u8,
                None => {
                    let msg = format!("invalid option '{s}'");
                    return Err(arg_error(lua, Naming::Caller, arg, &msg));
                }
            }
        }
    }
    Ok(match *setting {
        0 => Value::Boolean(false),
        1 => Value::Boolean(true),
        n => Value::String(lua.create_string(options[usize::from(n)])?),
    })
}

/// A boolean setting through [`enum_option`].
pub fn bool_option(lua: &Lua, v: &Value, arg: i32, setting: &mut bool) -> Result<Value, Fail> {
    let mut n = u8::from(*setting);
    let r = enum_option(lua, v, arg, &mut n, &["off", "on"])?;
    *setting = n != 0;
    Ok(r)
}

/// The settings functions, by name: each takes the instance's settings
/// and its arguments and returns its results.
pub type Setter = fn(&Lua, &mut Config, MultiValue) -> Result<MultiValue, Fail>;

macro_rules! bool_setter {
    ($name:ident, $field:ident) => {
        fn $name(lua: &Lua, c: &mut Config, mv: MultiValue) -> Result<MultiValue, Fail> {
            let a = args(lua, mv, 1)?;
            Ok(MultiValue::from_vec(vec![bool_option(
                lua,
                &a[0],
                1,
                &mut c.$field,
            )?]))
        }
    };
}

bool_setter!(empty_table_as_object, encode_empty_table_as_object);
bool_setter!(array_with_array_mt, decode_array_with_array_mt);
bool_setter!(allow_comment, decode_allow_comment);
bool_setter!(keep_buffer, encode_keep_buffer);
bool_setter!(decode_invalid, decode_invalid_numbers);
bool_setter!(escape_forward_slash, encode_escape_forward_slash);
bool_setter!(skip_unsupported, encode_skip_unsupported_value_types);

fn sparse_array(lua: &Lua, c: &mut Config, mv: MultiValue) -> Result<MultiValue, Fail> {
    let a = args(lua, mv, 3)?;
    let convert = bool_option(lua, &a[0], 1, &mut c.sparse_convert)?;
    let ratio = integer_option(lua, &a[1], 2, &mut c.sparse_ratio, 0, i32::MAX)?;
    let safe = integer_option(lua, &a[2], 3, &mut c.sparse_safe, 0, i32::MAX)?;
    Ok(MultiValue::from_vec(vec![convert, ratio, safe]))
}

fn encode_depth(lua: &Lua, c: &mut Config, mv: MultiValue) -> Result<MultiValue, Fail> {
    let a = args(lua, mv, 1)?;
    let v = integer_option(lua, &a[0], 1, &mut c.encode_max_depth, 1, i32::MAX)?;
    Ok(MultiValue::from_vec(vec![v]))
}

fn decode_depth(lua: &Lua, c: &mut Config, mv: MultiValue) -> Result<MultiValue, Fail> {
    let a = args(lua, mv, 1)?;
    let v = integer_option(lua, &a[0], 1, &mut c.decode_max_depth, 1, i32::MAX)?;
    Ok(MultiValue::from_vec(vec![v]))
}

fn precision(lua: &Lua, c: &mut Config, mv: MultiValue) -> Result<MultiValue, Fail> {
    let a = args(lua, mv, 1)?;
    let v = integer_option(lua, &a[0], 1, &mut c.encode_number_precision, 1, 16)?;
    Ok(MultiValue::from_vec(vec![v]))
}

fn encode_invalid(lua: &Lua, c: &mut Config, mv: MultiValue) -> Result<MultiValue, Fail> {
    let a = args(lua, mv, 1)?;
    let options = ["off", "on", "null"];
    let v = enum_option(lua, &a[0], 1, &mut c.encode_invalid_numbers, &options)?;
    Ok(MultiValue::from_vec(vec![v]))
}

fn indent(lua: &Lua, c: &mut Config, mv: MultiValue) -> Result<MultiValue, Fail> {
    let a = args(lua, mv, 1)?;
    if !a[0].is_nil() {
        let Some(s) = lua.coerce_string(a[0].clone())? else {
            return Err(type_error(lua, Naming::Caller, 1, "string", &a[0]));
        };
        let s = s.as_bytes().to_vec();
        c.encode_indent = if s.is_empty() { None } else { Some(s) };
    }
    let now = c.encode_indent.as_deref().unwrap_or(b"");
    Ok(MultiValue::from_vec(vec![Value::String(
        lua.create_string(now)?,
    )]))
}

/// Every settings function of a module table.
pub const SETTERS: &[(&str, Setter)] = &[
    ("encode_empty_table_as_object", empty_table_as_object),
    ("decode_array_with_array_mt", array_with_array_mt),
    ("decode_allow_comment", allow_comment),
    ("encode_sparse_array", sparse_array),
    ("encode_max_depth", encode_depth),
    ("decode_max_depth", decode_depth),
    ("encode_number_precision", precision),
    ("encode_keep_buffer", keep_buffer),
    ("encode_invalid_numbers", encode_invalid),
    ("decode_invalid_numbers", decode_invalid),
    ("encode_escape_forward_slash", escape_forward_slash),
    ("encode_skip_unsupported_value_types", skip_unsupported),
    ("encode_indent", indent),
];
