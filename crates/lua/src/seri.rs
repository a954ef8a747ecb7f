//! `skynet.pack` / `skynet.unpack` between Lua values and the wire format.
//!
//! The byte format and its bounded decoder live in `skyhold-pack`; this
//! module walks Lua values to encode them and builds Lua values directly
//! while decoding (no intermediate tree), with skynet's error messages.

use mlua::{Lua, MultiValue, Table, Value};
use skyhold_pack as pack;

/// Deepest nesting `pack` accepts (skynet's limit).
const MAX_PACK_DEPTH: usize = 32;

/// Encodes `values` (the arguments of `skynet.pack`).
pub fn pack_values(values: &MultiValue) -> mlua::Result<Vec<u8>> {
    pack_slice(values.iter())
}

/// Packs values in order, like [`pack_values`], from any sequence of them.
pub fn pack_slice<'a>(values: impl IntoIterator<Item = &'a Value>) -> mlua::Result<Vec<u8>> {
    let mut buf = Vec::with_capacity(32);
    for v in values {
        pack_value(&mut buf, v, 0)?;
    }
    Ok(buf)
}

fn pack_value(buf: &mut Vec<u8>, v: &Value, depth: usize) -> mlua::Result<()> {
    if depth > MAX_PACK_DEPTH {
        return Err(mlua::Error::runtime("serialize can't pack too depth table"));
    }
    match v {
        Value::Nil => pack::write::nil(buf),
        Value::Boolean(b) => pack::write::boolean(buf, *b),
        Value::Integer(i) => pack::write::integer(buf, *i),
        Value::Number(n) => pack::write::real(buf, *n),
        Value::String(s) => pack::write::string(buf, &s.as_bytes()),
        Value::Table(t) => pack_table(buf, t, depth)?,
        other => {
            return Err(mlua::Error::runtime(format!(
                "Unsupport type {} to serialize",
                other.type_name()
            )))
        }
    }
    Ok(())
}

fn pack_table(buf: &mut Vec<u8>, t: &Table, depth: usize) -> mlua::Result<()> {
    if let Some(mt) = t.metatable() {
        if let Ok(Value::Function(pairs)) = mt.raw_get::<Value>("__pairs") {
            // A table with __pairs is written as hash pairs only, in the
            // order its iterator gives them.
            pack::write::table_header(buf, 0);
            let (next, state, mut key): (mlua::Function, Value, Value) = pairs.call(t)?;
            loop {
                let (k, v): (Value, Value) = next.call((state.clone(), key))?;
                if k.is_nil() {
                    break;
                }
                pack_value(buf, &k, depth + 1)?;
                pack_value(buf, &v, depth + 1)?;
                key = k;
            }
            pack::write::table_end(buf);
            return Ok(());
        }
    }
    let n = t.raw_len();
    pack::write::table_header(buf, n);
    for i in 1..=n {
        let v: Value = t.raw_get(i)?;
        pack_value(buf, &v, depth + 1)?;
    }
    for pair in t.pairs::<Value, Value>() {
        let (k, v) = pair?;
        if let Value::Integer(i) = k {
            if i >= 1 && (i as usize) <= n {
                continue;
            }
        }
        pack_value(buf, &k, depth + 1)?;
        pack_value(buf, &v, depth + 1)?;
    }
    pack::write::table_end(buf);
    Ok(())
}

/// An error while decoding into Lua values.
#[derive(Debug)]
pub enum SeriError {
    /// The bytes are not a valid stream.
    Decode(pack::DecodeError),
    /// Lua refused a value (out of memory, NaN key).
    Lua(mlua::Error),
}

impl From<pack::DecodeError> for SeriError {
    fn from(e: pack::DecodeError) -> Self {
        SeriError::Decode(e)
    }
}

impl From<mlua::Error> for SeriError {
    fn from(e: mlua::Error) -> Self {
        SeriError::Lua(e)
    }
}

impl From<SeriError> for mlua::Error {
    fn from(e: SeriError) -> Self {
        match e {
            SeriError::Decode(d) => mlua::Error::runtime(d.to_string()),
            SeriError::Lua(l) => l,
        }
    }
}

/// Builds Lua values while the decoder reads.
struct LuaBuilder<'a> {
    lua: &'a Lua,
}

type R<T> = Result<T, SeriError>;

impl pack::Builder for LuaBuilder<'_> {
    type Value = Value;
    type Table = Table;
    type Error = SeriError;

    fn nil(&mut self) -> R<Value> {
        Ok(Value::Nil)
    }
    fn boolean(&mut self, b: bool) -> R<Value> {
        Ok(Value::Boolean(b))
    }
    fn integer(&mut self, i: i64) -> R<Value> {
        Ok(Value::Integer(i))
    }
    fn real(&mut self, f: f64) -> R<Value> {
        Ok(Value::Number(f))
    }
    fn string(&mut self, s: &[u8]) -> R<Value> {
        Ok(Value::String(self.lua.create_string(s)?))
    }
    fn begin_table(&mut self, array_len: usize) -> R<Table> {
        Ok(self.lua.create_table_with_capacity(array_len, 0)?)
    }
    fn array_item(&mut self, t: &mut Table, index: usize, v: Value) -> R<()> {
        Ok(t.raw_set(index, v)?)
    }
    fn hash_item(&mut self, t: &mut Table, k: Value, v: Value) -> R<()> {
        if let Value::Number(f) = k {
            if f.is_nan() {
                return Err(SeriError::Lua(mlua::Error::runtime("table index is NaN")));
            }
        }
        Ok(t.raw_set(k, v)?)
    }
    fn end_table(&mut self, t: Table) -> R<Value> {
        Ok(Value::Table(t))
    }
}

/// Decodes every value in `bytes` (the results of `skynet.unpack`).
pub fn unpack_values(lua: &Lua, bytes: &[u8]) -> mlua::Result<MultiValue> {
    let mut out = MultiValue::new();
    unpack_into(lua, bytes, &mut out)?;
    Ok(out)
}

/// Decodes every value in `bytes` onto the end of `out` (after arguments
/// the caller put there first).
pub fn unpack_into(lua: &Lua, bytes: &[u8], out: &mut MultiValue) -> mlua::Result<()> {
    let mut builder = LuaBuilder { lua };
    pack::unpack_with(bytes, &pack::Limits::default(), &mut builder, |_, v| {
        out.push_back(v);
        Ok(())
    })?;
    Ok(())
}
