//! Lua values to BSON bytes, as skynet's lua-bson.c writes them: integers
//! as int32 when they fit (int64 otherwise), floats as doubles, tables as
//! arrays when they look like sequences (or have `__len`), as documents
//! otherwise (`__pairs` honoured), skynet's tagged strings (`\0`, type,
//! bytes) as the types they stand for, and an encoded document (a `bson`
//! userdata) embedded as it is.

use mlua::{Function, Lua, MultiValue, Table, Value};

use crate::doc::Doc;
use crate::wire::{self, MAX_DEPTH};

/// A runtime error with `msg` as its text (what `luaL_error` raises; Lua
/// sees it with the calling line's position, as from a C function called
/// by Lua code).
pub(crate) fn fail<T>(msg: impl Into<String>) -> mlua::Result<T> {
    Err(mlua::Error::runtime(msg.into()))
}

/// An error raised inside skynet's protected encoder: Lua sees the bare
/// text, without a position.
#[derive(Debug)]
pub(crate) struct Bare(pub(crate) String);

impl std::fmt::Display for Bare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Bare {}

/// Turns the runtime errors of an encoding into [`Bare`] ones.
pub(crate) fn bare<T>(r: mlua::Result<T>) -> mlua::Result<T> {
    r.map_err(|e| match e {
        mlua::Error::RuntimeError(m) => mlua::Error::external(Bare(m)),
        other => other,
    })
}

/// The output and the work done so far (charged to the caller's budget).
pub(crate) struct Writer<'a> {
    pub(crate) out: Vec<u8>,
    lua: &'a Lua,
    steps: u32,
}

impl<'a> Writer<'a> {
    pub(crate) fn new(lua: &'a Lua) -> Self {
        Writer {
            out: Vec::new(),
            lua,
            steps: 0,
        }
    }

    fn step(&mut self) -> mlua::Result<()> {
        self.steps += 1;
        if self.steps >= 1024 {
            self.steps = 0;
            crate::charge(self.lua, 1024)?;
        }
        Ok(())
    }

    fn reserve_length(&mut self) -> usize {
        let at = self.out.len();
        self.out.extend_from_slice(&[0; 4]);
        at
    }

    fn write_length(&mut self, at: usize, v: i32) {
        self.out[at..at + 4].copy_from_slice(&v.to_le_bytes());
    }

    /// Closes a document begun at `at`: the end byte, then its length.
    fn close_doc(&mut self, at: usize) {
        self.out.push(0);
        let len = (self.out.len() - at) as i32;
        self.write_length(at, len);
    }

    fn string(&mut self, s: &[u8]) -> mlua::Result<()> {
        if !wire::valid_utf8(s) {
            return fail("Invalid utf8 string");
        }
        self.out.extend_from_slice(s);
        self.out.push(0);
        Ok(())
    }

    fn key(&mut self, t: u8, key: &[u8]) -> mlua::Result<()> {
        self.out.push(t);
        self.string(key)
    }

    fn number(&mut self, key: &[u8], v: &Value) -> mlua::Result<()> {
        match v {
            Value::Integer(i) => match i32::try_from(*i) {
                Ok(small) => {
                    self.key(wire::INT32, key)?;
                    self.out.extend_from_slice(&small.to_le_bytes());
                }
                Err(_) => {
                    self.key(wire::INT64, key)?;
                    self.out.extend_from_slice(&i.to_le_bytes());
                }
            },
            Value::Number(n) => {
                self.key(wire::REAL, key)?;
                self.out.extend_from_slice(&n.to_bits().to_le_bytes());
            }
            _ => unreachable!("number() is called with numbers"),
        }
        Ok(())
    }

    /// A tagged string: `\0`, the type, its bytes.
    fn tagged(&mut self, key: &[u8], s: &[u8]) -> mlua::Result<()> {
        let sub = s[1];
        let body = &s[2..];
        self.key(sub, key)?;
        match sub {
            wire::BINARY => {
                let at = self.reserve_length();
                self.out.extend_from_slice(body);
                // the length leaves out the subtype byte
                self.write_length(at, body.len() as i32 - 1);
            }
            wire::OBJECTID | wire::JSCODE | wire::DBPOINTER | wire::SYMBOL | wire::CODEWS => {
                if sub == wire::OBJECTID && body.len() != 12 {
                    let shown = body.split(|&c| c == 0).next().unwrap_or(&[]);
                    return fail(format!(
                        "Invalid object id {}",
                        String::from_utf8_lossy(shown)
                    ));
                }
                self.out.extend_from_slice(body);
            }
            wire::DATE => {
                let Ok(secs) = <[u8; 4]>::try_from(body) else {
                    return fail("Invalid date");
                };
                let ms = i64::from(u32::from_le_bytes(secs)) * 1000;
                self.out.extend_from_slice(&ms.to_le_bytes());
            }
            wire::TIMESTAMP => {
                if body.len() != 8 {
                    return fail("Invalid timestamp");
                }
                self.out.extend_from_slice(body);
            }
            wire::REGEX => {
                // pattern \0 options \0: split at the last NUL before the end
                let inner = &body[..body.len().saturating_sub(1)];
                let Some(cut) = inner.iter().rposition(|&c| c == 0) else {
                    return fail("Invalid regex");
                };
                self.string(&inner[..cut])?;
                self.string(&inner[cut + 1..])?;
            }
            wire::MINKEY | wire::MAXKEY | wire::NULL => {}
            wire::INT64 => {
                if body.len() != 8 {
                    return fail("Invalid int64");
                }
                self.out.extend_from_slice(body);
            }
            _ => return fail(format!("Invalid subtype {sub}")),
        }
        Ok(())
    }

    /// One value under `key`.
    pub(crate) fn value(&mut self, key: &[u8], v: &Value, depth: usize) -> mlua::Result<()> {
        self.step()?;
        match v {
            Value::Integer(_) | Value::Number(_) => self.number(key, v),
            Value::String(s) => {
                let b = s.as_bytes();
                if b.len() > 1 && b[0] == 0 {
                    return self.tagged(key, &b);
                }
                self.key(wire::STRING, key)?;
                let at = self.reserve_length();
                self.string(&b)?;
                self.write_length(at, b.len() as i32 + 1);
                Ok(())
            }
            Value::Table(t) => self.table(key, t, depth + 1),
            Value::Boolean(b) => {
                self.key(wire::BOOLEAN, key)?;
                self.out.push(u8::from(*b));
                Ok(())
            }
            Value::UserData(ud) => match ud.borrow::<Doc>() {
                Ok(d) => {
                    self.key(wire::DOCUMENT, key)?;
                    self.out.extend_from_slice(d.bytes());
                    Ok(())
                }
                Err(_) => fail("Invalid value type : userdata"),
            },
            Value::Nil => fail("Bson array has a hole (nil), Use bson.null instead"),
            other => fail(format!("Invalid value type : {}", other.type_name())),
        }
    }

    fn array(&mut self, t: &Table, len: i64, depth: usize) -> mlua::Result<()> {
        let at = self.reserve_length();
        for i in 1..=len {
            let v: Value = t.get(i)?;
            self.value((i - 1).to_string().as_bytes(), &v, depth)?;
        }
        self.close_doc(at);
        Ok(())
    }

    fn dict_entry(&mut self, k: &Value, v: &Value, depth: usize) -> mlua::Result<()> {
        match k {
            Value::String(s) => self.value(&s.as_bytes(), v, depth),
            Value::Integer(_) | Value::Number(_) => fail("Bson dictionary's key can't be number"),
            other => fail(format!("Invalid key type : {}", other.type_name())),
        }
    }

    fn simple_dict(&mut self, t: &Table, depth: usize) -> mlua::Result<()> {
        let at = self.reserve_length();
        for pair in t.pairs::<Value, Value>() {
            let (k, v) = pair?;
            self.dict_entry(&k, &v, depth)?;
        }
        self.close_doc(at);
        Ok(())
    }

    fn meta_dict(&mut self, t: &Table, pairs: Function, depth: usize) -> mlua::Result<()> {
        let at = self.reserve_length();
        let (next, state, mut k): (Function, Value, Value) = pairs.call(t.clone())?;
        loop {
            let r: MultiValue = next.call((state.clone(), k))?;
            let mut it = r.into_iter();
            let nk = it.next().unwrap_or(Value::Nil);
            if nk.is_nil() {
                break;
            }
            let v = it.next().unwrap_or(Value::Nil);
            self.dict_entry(&nk, &v, depth)?;
            k = nk;
        }
        self.close_doc(at);
        Ok(())
    }

    /// The top-level document of `bson.encode`.
    pub(crate) fn document(&mut self, t: &Table) -> mlua::Result<()> {
        match metafield(t, "__pairs")? {
            Some(Value::Function(f)) => self.meta_dict(t, f, 0),
            _ => self.simple_dict(t, 0),
        }
    }

    fn table(&mut self, key: &[u8], t: &Table, depth: usize) -> mlua::Result<()> {
        if depth > MAX_DEPTH {
            return fail("Too depth while encoding bson");
        }
        if let Some(len) = metafield(t, "__len")? {
            let Value::Function(f) = len else {
                return fail("attempt to call a non-function __len");
            };
            let n: Value = f.call(t.clone())?;
            let Value::Integer(n) = n else {
                return fail("__len should return integer");
            };
            self.key(wire::ARRAY, key)?;
            return self.array(t, n, depth);
        }
        if let Some(Value::Function(f)) = metafield(t, "__pairs")? {
            self.key(wire::DOCUMENT, key)?;
            return self.meta_dict(t, f, depth);
        }
        if is_raw_array(t)? {
            self.key(wire::ARRAY, key)?;
            return self.array(t, t.raw_len() as i64, depth);
        }
        self.key(wire::DOCUMENT, key)?;
        self.simple_dict(t, depth)
    }

    /// `bson.encode_order(k1, v1, k2, v2, ...)`.
    pub(crate) fn ordered(&mut self, args: &[Value]) -> mlua::Result<()> {
        let at = self.reserve_length();
        for (i, pair) in args.chunks(2).enumerate() {
            let key = match &pair[0] {
                Value::String(s) => s.as_bytes().to_vec(),
                Value::Integer(n) => n.to_string().into_bytes(),
                Value::Number(_) => match self.lua.coerce_string(pair[0].clone())? {
                    Some(s) => s.as_bytes().to_vec(),
                    None => return fail(format!("Argument {} need a string", i * 2 + 1)),
                },
                _ => return fail(format!("Argument {} need a string", i * 2 + 1)),
            };
            self.value(&key, &pair[1], 0)?;
        }
        self.close_doc(at);
        Ok(())
    }
}

/// `t`'s metatable's `name`, if any.
fn metafield(t: &Table, name: &str) -> mlua::Result<Option<Value>> {
    match t.metatable() {
        Some(mt) => {
            let v: Value = mt.raw_get(name)?;
            Ok(if v.is_nil() { None } else { Some(v) })
        }
        None => Ok(None),
    }
}

/// skynet's test: the first key `next` gives is 1, or an integer within the
/// table's border.
fn is_raw_array(t: &Table) -> mlua::Result<bool> {
    let Some(first) = t.pairs::<Value, Value>().next() else {
        return Ok(false);
    };
    let (k, _) = first?;
    let first = match k {
        Value::Integer(i) => i,
        _ => 0,
    };
    if first <= 1 {
        return Ok(first > 0);
    }
    Ok(first as u64 <= t.raw_len() as u64)
}
