//! Converting between Lua values and protobuf scalars the way lua-protobuf
//! does: integers from numbers or `"#"`-prefixed (hex) strings, 64-bit
//! values out as integers or strings, the type names errors use.

use crate::lowlevel::{Buffer, Slice};
use crate::state::Int64Mode;
use crate::wire::{self, t};
use mlua::{Lua, Value};

/// Marks an error raised by this crate (not passed on from Lua code):
/// the Lua wrapper strips it and raises the text at the caller's level,
/// where `luaL_error` would put the caller's position in front.
pub const OWN_ERROR: char = '\u{1}';

/// A runtime error with `msg` as its text.
pub fn rt(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::runtime(format!("{OWN_ERROR}{}", msg.into()))
}

/// `luaL_argerror`'s text.
pub fn arg_error(n: usize, fname: &str, msg: &str) -> mlua::Error {
    rt(format!("bad argument #{n} to '{fname}' ({msg})"))
}

/// `luaL_typename` of a value (`None`: an absent argument).
pub fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "no value",
        Some(Value::Nil) => "nil",
        Some(Value::Boolean(_)) => "boolean",
        Some(Value::Integer(_)) | Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Table(_)) => "table",
        Some(Value::Function(_)) => "function",
        Some(Value::Thread(_)) => "thread",
        Some(Value::LightUserData(_)) | Some(Value::UserData(_)) => "userdata",
        Some(_) => "userdata",
    }
}

/// The bytes of a string, `pb.Buffer` or `pb.Slice` (its current view).
pub fn to_bytes(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::String(s) => Some(s.as_bytes().to_vec()),
        Value::UserData(u) => {
            if let Ok(b) = u.borrow::<Buffer>() {
                Some(b.data.clone())
            } else if let Ok(s) = u.borrow::<Slice>() {
                Some(s.view_bytes().to_vec())
            } else {
                None
            }
        }
        _ => None,
    }
}

/// Parses `#`/`+`/`-` prefixes then hex (`0x`) or decimal digits, as
/// lua-protobuf reads integers written as strings.
pub fn parse_int_text(s: &[u8]) -> Option<u64> {
    let end = s.iter().position(|c| *c == 0).unwrap_or(s.len());
    let s = &s[..end];
    let mut i = 0;
    let mut neg = false;
    while i < s.len() && matches!(s[i], b'#' | b'+' | b'-') {
        neg ^= s[i] == b'-';
        i += 1;
    }
    let mut v: u64 = 0;
    if s.len() >= i + 2 && s[i] == b'0' && (s[i + 1] == b'x' || s[i + 1] == b'X') {
        i += 2;
        while i < s.len() {
            let Some(d) = (s[i] as char).to_digit(16) else {
                break;
            };
            v = v << 4 | u64::from(d);
            i += 1;
        }
    } else {
        while i < s.len() && s[i].is_ascii_digit() {
            v = v.wrapping_mul(10).wrapping_add(u64::from(s[i] - b'0'));
            i += 1;
        }
    }
    if i != s.len() {
        return None;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// `lua_tointegerx` then the string forms: the value as a 64-bit pattern.
pub fn to_integer(lua: &Lua, v: &Value) -> Option<u64> {
    match v {
        Value::Integer(i) => return Some(*i as u64),
        Value::Number(_) | Value::String(_) => {
            if let Ok(Some(i)) = lua.coerce_integer(v.clone()) {
                return Some(i as u64);
            }
        }
        _ => return None,
    }
    let text = lua.coerce_string(v.clone()).ok().flatten()?;
    let b = text.as_bytes();
    parse_int_text(&b)
}

/// `lpb_checkinteger`: an integer argument or lua-protobuf's error.
pub fn check_integer(lua: &Lua, v: Option<&Value>, n: usize, fname: &str) -> mlua::Result<u64> {
    let val = v.cloned().unwrap_or(Value::Nil);
    match to_integer(lua, &val) {
        Some(x) => Ok(x),
        None => match &val {
            // lua-protobuf reads a number it cannot take as an integer
            // through `lua_tostring`, which turns it into a string.
            Value::String(_) | Value::Number(_) => {
                let text = lua
                    .coerce_string(val.clone())?
                    .map(|s| s.as_bytes().to_vec());
                Err(rt(format!(
                    "integer format error: '{}'",
                    String::from_utf8_lossy(&text.unwrap_or_default())
                )))
            }
            _ => Err(arg_error(
                n,
                fname,
                &format!("number/string expected, got {}", type_name(v)),
            )),
        },
    }
}

/// `lpb_pushinteger`: `n` as an integer, or as a `"#"` string when the
/// mode asks for strings and it does not fit 32 bits.
pub fn push_integer(lua: &Lua, n: i64, unsigned: bool, mode: Int64Mode) -> mlua::Result<Value> {
    let wide = (unsigned && n < 0) || n < i64::from(i32::MIN) || n > i64::from(u32::MAX);
    if mode == Int64Mode::Number || !wide {
        return Ok(Value::Integer(n));
    }
    let neg = !unsigned && n < 0;
    let un = if neg {
        (n as u64).wrapping_neg()
    } else {
        n as u64
    };
    let body = match mode {
        Int64Mode::HexString => format!("0x{un:X}"),
        _ => format!("{un}"),
    };
    let s = format!("#{}{}", if neg { "-" } else { "" }, body);
    Ok(Value::String(lua.create_string(&s)?))
}

/// A scalar read from Lua for writing.
pub enum Scalar {
    /// Integer types, enums and bools (the 64-bit pattern).
    Int(u64),
    /// float / double.
    Num(f64),
    /// string / bytes.
    Bytes(Vec<u8>),
}

/// `lpb_expected`: what a field of type `id` wants, for errors.
pub fn expected(id: u8) -> &'static str {
    match id {
        t::BYTES | t::STRING | t::MESSAGE => "string",
        _ => "number/'#number'",
    }
}

/// `lpb_readvalue`: the value for a field of type `id`, and whether it is
/// non-zero; `Ok(None)` when the Lua value has the wrong type.
pub fn read_value(lua: &Lua, v: &Value, id: u8) -> mlua::Result<Option<(Scalar, bool)>> {
    Ok(match id {
        t::BOOL => {
            let b = !matches!(v, Value::Nil | Value::Boolean(false));
            Some((Scalar::Int(u64::from(b)), b))
        }
        t::DOUBLE | t::FLOAT => match lua.coerce_number(v.clone()) {
            Ok(Some(x)) if !matches!(v, Value::Nil | Value::Boolean(_)) => {
                Some((Scalar::Num(x), x.to_bits() != 0))
            }
            _ => None,
        },
        t::BYTES | t::STRING => to_bytes(v).map(|b| {
            let nz = !b.is_empty();
            (Scalar::Bytes(b), nz)
        }),
        t::GROUP | t::MESSAGE | t::ENUM => {
            return Err(rt(format!(
                "unknown type {}",
                wire::type_name(id, "<unknown>")
            )));
        }
        1..=18 => to_integer(lua, v).map(|x| (Scalar::Int(x), x != 0)),
        _ => {
            return Err(rt(format!(
                "unknown type {}",
                wire::type_name(id, "<unknown>")
            )))
        }
    })
}

/// `lpb_writevalue`: appends a scalar of type `id` (no tag).
pub fn write_value(out: &mut Vec<u8>, id: u8, v: &Scalar) {
    match (id, v) {
        (t::DOUBLE, Scalar::Num(x)) => wire::put_fixed64(out, x.to_bits()),
        (t::FLOAT, Scalar::Num(x)) => wire::put_fixed32(out, (*x as f32).to_bits()),
        (t::FIXED32 | t::SFIXED32, Scalar::Int(x)) => wire::put_fixed32(out, *x as u32),
        (t::INT32, Scalar::Int(x)) => wire::put_varint(out, wire::expand_sig(*x as u32)),
        (t::UINT32 | t::BOOL, Scalar::Int(x)) => wire::put_varint(out, u64::from(*x as u32)),
        (t::SINT32, Scalar::Int(x)) => {
            wire::put_varint(out, u64::from(wire::enc_sint32(*x as u32 as i32)))
        }
        (t::FIXED64 | t::SFIXED64, Scalar::Int(x)) => wire::put_fixed64(out, *x),
        (t::SINT64, Scalar::Int(x)) => wire::put_varint(out, wire::enc_sint64(*x as i64)),
        (_, Scalar::Int(x)) => wire::put_varint(out, *x),
        (_, Scalar::Bytes(b)) => wire::put_bytes(out, b),
        (_, Scalar::Num(_)) => {}
    }
}

/// `strtol(s, _, 10)`: the leading integer of `s`, clamped to i64.
pub fn strtol(s: &[u8]) -> Option<i64> {
    let mut i = 0;
    while i < s.len() && s[i].is_ascii_whitespace() {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let from = i;
    let mut v: i128 = 0;
    while i < s.len() && s[i].is_ascii_digit() {
        v = (v * 10 + i128::from(s[i] - b'0')).min(i128::from(u64::MAX) + 1);
        i += 1;
    }
    if i == from {
        return None;
    }
    let v = if neg { -v } else { v };
    Some(v.clamp(i128::from(i64::MIN), i128::from(i64::MAX)) as i64)
}

/// `strtod`: the leading floating-point number of `s`.
pub fn strtod(s: &[u8]) -> Option<f64> {
    let text = String::from_utf8_lossy(s);
    let text = text.trim_start();
    let lower = text.to_ascii_lowercase();
    let (sign, rest) = match lower.strip_prefix('-') {
        Some(r) => (-1.0, r),
        None => (1.0, lower.strip_prefix('+').unwrap_or(&lower)),
    };
    if rest.starts_with("inf") {
        return Some(sign * f64::INFINITY);
    }
    if rest.starts_with("nan") {
        return Some(f64::NAN);
    }
    let b = text.as_bytes();
    let mut end = 0;
    while end < b.len() && (b[end].is_ascii_digit() || b"+-.eE".contains(&b[end])) {
        end += 1;
    }
    while end > 0 {
        if let Ok(x) = text[..end].parse::<f64>() {
            return Some(x);
        }
        end -= 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_text_forms() {
        assert_eq!(parse_int_text(b"#123"), Some(123));
        assert_eq!(parse_int_text(b"#-1"), Some(u64::MAX));
        assert_eq!(parse_int_text(b"#0xFF"), Some(255));
        assert_eq!(parse_int_text(b"12a"), None);
        assert_eq!(parse_int_text(b"--5"), Some(5));
    }

    #[test]
    fn strings_for_wide_integers() {
        let lua = Lua::new();
        let v = push_integer(&lua, -1, true, Int64Mode::String).unwrap();
        assert_eq!(
            v.as_string().unwrap().to_str().unwrap(),
            "#18446744073709551615"
        );
        let v = push_integer(&lua, -5_000_000_000, false, Int64Mode::HexString).unwrap();
        assert_eq!(v.as_string().unwrap().to_str().unwrap(), "#-0x12A05F200");
        let v = push_integer(&lua, 7, false, Int64Mode::String).unwrap();
        assert_eq!(v, Value::Integer(7));
    }

    #[test]
    fn c_number_prefixes() {
        assert_eq!(strtol(b" 42x"), Some(42));
        assert_eq!(strtol(b"x"), None);
        assert_eq!(strtol(b"99999999999999999999"), Some(i64::MAX));
        assert_eq!(strtod(b"0.125"), Some(0.125));
        assert_eq!(strtod(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(strtod(b"1e5x"), Some(1e5));
        assert_eq!(strtod(b"abc"), None);
    }
}
