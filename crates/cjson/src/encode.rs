//! Lua values to JSON text, as lua-cjson writes them: the same array
//! detection (sparse-array rules, `array_mt`, `empty_array_mt`, `__len`),
//! the same escapes, the same number formats, objects in `next` order.
//!
//! Work is charged to the service's budget; the output is bounded by
//! [`MAX_OUTPUT`] and the depth by [`HARD_MAX_ENCODE_DEPTH`].

use crate::config::{basic_type_name, Config, Fail, HARD_MAX_ENCODE_DEPTH};
use crate::number::format_g;
use mlua::{Lua, Table, Value};
use skyhold_lua::budget::Budget;

/// The longest text an encode produces (past it, an error).
pub const MAX_OUTPUT: usize = 256 << 20;

/// The two metatables and the sentinel that change how tables encode.
pub struct Marks {
    /// `cjson.array_mt`.
    pub array_mt: Table,
    /// `cjson.empty_array_mt`.
    pub empty_array_mt: Table,
}

/// C's conversion of a double to `int` on x86-64: out of range (or NaN)
/// gives `INT_MIN`.
pub fn c_int(k: f64) -> i32 {
    if k.is_nan() || k >= 2_147_483_648.0 || k <= -2_147_483_649.0 {
        i32::MIN
    } else {
        k as i32
    }
}

/// `lua_tonumber` of a value (strings convert; anything else is 0).
fn to_number(lua: &Lua, v: &Value) -> mlua::Result<f64> {
    Ok(lua.coerce_number(v.clone())?.unwrap_or(0.0))
}

/// One encode.
pub struct Encoder<'a> {
    lua: &'a Lua,
    cfg: &'a Config,
    marks: &'a Marks,
    budget: Option<Budget>,
    steps: i64,
    /// The text so far.
    pub out: Vec<u8>,
}

impl<'a> Encoder<'a> {
    /// An encoder with `cfg`'s settings.
    pub fn new(lua: &'a Lua, cfg: &'a Config, marks: &'a Marks) -> Self {
        Encoder {
            lua,
            cfg,
            marks,
            budget: Budget::of(lua),
            steps: 0,
            out: Vec::new(),
        }
    }

    #[inline(never)]
    fn charge(&mut self, steps: i64) -> Result<(), Fail> {
        self.steps += steps;
        if self.steps >= crate::decode::STEP_CHUNK {
            if let Some(b) = &self.budget {
                b.charge(self.steps)?;
            }
            self.steps = 0;
            if self.out.len() > MAX_OUTPUT {
                return Err(Fail::Msg(format!(
                    "Cannot serialise: output exceeds {MAX_OUTPUT} bytes"
                )));
            }
        }
        Ok(())
    }

    #[inline(never)]
    fn exception(&self, v: &Value, reason: &str) -> Fail {
        Fail::Msg(format!("Cannot serialise {}: {reason}", basic_type_name(v)))
    }

    /// Appends `v`; `Ok(false)` when it was an unsupported type skipped
    /// under `encode_skip_unsupported_value_types`.
    pub fn value(&mut self, v: &Value, depth: i32) -> Result<bool, Fail> {
        self.charge(1)?;
        match v {
            Value::String(s) => self.lua_string(s),
            Value::Integer(_) | Value::Number(_) => self.number(v)?,
            Value::Boolean(true) => self.out.extend_from_slice(b"true"),
            Value::Boolean(false) => self.out.extend_from_slice(b"false"),
            Value::Nil => self.out.extend_from_slice(b"null"),
            Value::Table(t) => self.table(t, depth + 1)?,
            Value::LightUserData(p) => {
                if p.0.is_null() {
                    self.out.extend_from_slice(b"null");
                } else if p.0 == crate::empty_array_ptr() {
                    self.out.extend_from_slice(b"[]");
                }
                // lua-cjson writes nothing for any other light userdata.
            }
            other => {
                if self.cfg.encode_skip_unsupported_value_types {
                    return Ok(false);
                }
                return Err(self.exception(other, "type not supported"));
            }
        }
        Ok(true)
    }

    #[inline(never)]
    fn lua_string(&mut self, s: &mlua::LuaString) {
        self.string(&s.as_bytes());
    }

    fn string(&mut self, s: &[u8]) {
        let slash = self.cfg.encode_escape_forward_slash;
        self.steps += (s.len() / 16) as i64;
        self.out.reserve(s.len() + 2);
        self.out.push(b'"');
        let mut run = 0;
        for (i, &c) in s.iter().enumerate() {
            let esc: Option<&[u8]> = match c {
                b'"' => Some(b"\\\""),
                b'\\' => Some(b"\\\\"),
                b'/' if slash => Some(b"\\/"),
                8 => Some(b"\\b"),
                b'\t' => Some(b"\\t"),
                b'\n' => Some(b"\\n"),
                12 => Some(b"\\f"),
                b'\r' => Some(b"\\r"),
                0..=0x1f | 0x7f => None,
                _ => continue,
            };
            self.out.extend_from_slice(&s[run..i]);
            run = i + 1;
            match esc {
                Some(e) => self.out.extend_from_slice(e),
                None => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.out.extend_from_slice(b"\\u00");
                    self.out.push(HEX[usize::from(c >> 4)]);
                    self.out.push(HEX[usize::from(c & 15)]);
                }
            }
        }
        self.out.extend_from_slice(&s[run..]);
        self.out.push(b'"');
    }

    #[inline(never)]
    fn number(&mut self, v: &Value) -> Result<(), Fail> {
        let x = match v {
            Value::Integer(i) => {
                self.out.extend_from_slice(i.to_string().as_bytes());
                return Ok(());
            }
            Value::Number(x) => *x,
            _ => return Ok(()),
        };
        if !x.is_finite() {
            match self.cfg.encode_invalid_numbers {
                0 => return Err(self.exception(v, "must not be NaN or Infinity")),
                1 => {
                    let text: &[u8] = if x.is_nan() {
                        b"NaN"
                    } else if x < 0.0 {
                        b"-Infinity"
                    } else {
                        b"Infinity"
                    };
                    self.out.extend_from_slice(text);
                }
                _ => self.out.extend_from_slice(b"null"),
            }
            return Ok(());
        }
        let precision = self.cfg.encode_number_precision.clamp(1, 17) as usize;
        format_g(&mut self.out, x, precision);
        Ok(())
    }

    #[inline(never)]
    fn newline_indent(&mut self, depth: i32) {
        if let Some(indent) = &self.cfg.encode_indent {
            self.out.push(b'\n');
            for _ in 0..depth {
                self.out.extend_from_slice(indent);
            }
        }
    }

    fn table(&mut self, t: &Table, depth: i32) -> Result<(), Fail> {
        match self.shape(t, depth)? {
            Some((len, raw)) => self.array(t, len, raw, depth),
            None => self.object(t, depth),
        }
    }

    /// How `t` encodes: `Some((length, raw))` as an array, `None` as an
    /// object. (Kept out of line: the recursive path stays small on the
    /// stack.)
    #[inline(never)]
    fn shape(&mut self, t: &Table, depth: i32) -> Result<Option<(i32, bool)>, Fail> {
        if depth > self.cfg.encode_max_depth.min(HARD_MAX_ENCODE_DEPTH) {
            return Err(Fail::Msg(format!(
                "Cannot serialise, excessive nesting ({depth})"
            )));
        }
        let mt = t.metatable();
        let mut raw = true;
        if let Some(mt) = &mt {
            if *mt == self.marks.array_mt {
                return Ok(Some((t.len()? as i32, true)));
            }
            raw = false;
            let len_fn: Value = mt.raw_get("__len")?;
            if !len_fn.is_nil() {
                let Value::Function(f) = len_fn else {
                    return Err(Fail::Msg(format!(
                        "attempt to call a {} value",
                        basic_type_name(&len_fn)
                    )));
                };
                let n: Value = f.call(t.clone())?;
                return Ok(Some((c_int(to_number(self.lua, &n)?), false)));
            }
        }
        Ok(match self.array_length(t)? {
            Some(n) if n > 0 || (n == 0 && !self.cfg.encode_empty_table_as_object) => {
                Some((n, raw))
            }
            _ if mt.as_ref() == Some(&self.marks.empty_array_mt) => Some((t.len()? as i32, true)),
            _ => None,
        })
    }

    /// lua-cjson's array test: `Some(max index)` when every key is a
    /// positive integer and the array is not excessively sparse.
    #[inline(never)]
    fn array_length(&mut self, t: &Table) -> Result<Option<i32>, Fail> {
        let mut max: i32 = 0;
        let mut items: i32 = 0;
        for pair in t.pairs::<Value, Value>() {
            let (k, _) = pair?;
            self.charge(1)?;
            let k = match k {
                Value::Integer(i) => i as f64,
                Value::Number(f) => f,
                _ => return Ok(None),
            };
            if k == 0.0 || k.floor() != k || k < 1.0 {
                return Ok(None);
            }
            if k > f64::from(max) {
                max = c_int(k);
            }
            items = items.wrapping_add(1);
        }
        let cfg = self.cfg;
        if cfg.sparse_ratio > 0
            && max > items.wrapping_mul(cfg.sparse_ratio)
            && max > cfg.sparse_safe
        {
            if !cfg.sparse_convert {
                return Err(Fail::Msg(
                    "Cannot serialise table: excessively sparse array".into(),
                ));
            }
            return Ok(None);
        }
        Ok(Some(max))
    }

    fn array(&mut self, t: &Table, len: i32, raw: bool, depth: i32) -> Result<(), Fail> {
        self.out.push(b'[');
        let mut comma = 0;
        let mut has_items = false;
        for i in 1..=len.max(0) {
            has_items = true;
            let pos = self.out.len();
            if comma > 0 {
                self.out.push(b',');
            }
            comma += 1;
            self.newline_indent(depth);
            let v = element(t, i, raw)?;
            if !self.value(&v, depth)? {
                self.out.truncate(pos);
                if comma == 1 {
                    comma = 0;
                }
            }
        }
        if has_items {
            self.newline_indent(depth - 1);
        }
        self.out.push(b']');
        Ok(())
    }

    /// An object's key and its colon.
    #[inline(never)]
    fn key(&mut self, k: &Value) -> Result<(), Fail> {
        match k {
            Value::Integer(_) | Value::Number(_) => {
                self.out.push(b'"');
                self.number(k)?;
                self.out.extend_from_slice(b"\":");
            }
            Value::String(s) => {
                self.string(&s.as_bytes());
                self.out.push(b':');
            }
            other => return Err(self.exception(other, "table key must be a number or string")),
        }
        Ok(())
    }

    fn object(&mut self, t: &Table, depth: i32) -> Result<(), Fail> {
        self.out.push(b'{');
        let mut comma = 0;
        let mut has_items = false;
        for pair in t.pairs::<Value, Value>() {
            let (k, v) = pair?;
            has_items = true;
            let pos = self.out.len();
            if comma > 0 {
                self.out.push(b',');
            }
            comma += 1;
            self.newline_indent(depth);
            self.key(&k)?;
            if self.cfg.encode_indent.is_some() {
                self.out.push(b' ');
            }
            if !self.value(&v, depth)? {
                self.out.truncate(pos);
                if comma == 1 {
                    comma = 0;
                }
            }
        }
        if has_items {
            self.newline_indent(depth - 1);
        }
        self.out.push(b'}');
        Ok(())
    }
}

/// `t[i]`, raw or through `__index`.
#[inline(never)]
fn element(t: &Table, i: i32, raw: bool) -> mlua::Result<Value> {
    if raw {
        t.raw_get(i)
    } else {
        t.get(i)
    }
}
