//! An encoded document as Lua sees it: a `bson` userdata whose bytes
//! `tostring` gives, `#` measures, `:decode()` reads, and whose fixed-size
//! top-level fields `:makeindex()` lets a script overwrite in place
//! (`doc.key = value`), as in skynet.

use mlua::{Lua, MetaMethod, UserData, UserDataFields, UserDataMethods, Value};
use std::collections::HashMap;

use crate::encode::fail;
use crate::wire;

/// The registry key of the table `doc:decode`/`doc:makeindex` come from.
pub(crate) const INDEX_KEY: &str = "skyhold.bson.doc_index";
/// The registry key of the `doc.key = value` function.
pub(crate) const NEWINDEX_KEY: &str = "skyhold.bson.doc_newindex";

/// The bytes of one document, and its index once made.
pub struct Doc {
    bytes: Vec<u8>,
    index: Option<HashMap<Vec<u8>, (u8, usize)>>,
}

impl Doc {
    /// A document of `bytes` (whole: its length prefix is trusted only as
    /// far as the bytes go).
    pub fn new(bytes: Vec<u8>) -> Doc {
        Doc { bytes, index: None }
    }

    /// Its bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Builds the index of the top-level fields of fixed size (numbers,
    /// booleans, object ids, dates, timestamps): key -> (type, offset).
    pub(crate) fn make_index(&mut self) -> mlua::Result<()> {
        let b = &self.bytes;
        let declared = wire::doc_len(b).unwrap_or(0);
        let end = usize::try_from(declared - 1).unwrap_or(0).min(b.len());
        let mut pos = 4usize.min(end);
        let mut index = HashMap::new();
        let need = |pos: usize, n: usize| -> mlua::Result<()> {
            if pos + n > end {
                return fail(format!("Invalid bson block ({}:{})", end - pos, n));
            }
            Ok(())
        };
        let i32_at = |pos: usize| -> mlua::Result<i64> {
            need(pos, 4)?;
            Ok(i64::from(i32::from_le_bytes([
                b[pos],
                b[pos + 1],
                b[pos + 2],
                b[pos + 3],
            ])))
        };
        while pos < end {
            let bt = b[pos];
            pos += 1;
            let Some(klen) = b[pos..end].iter().position(|&c| c == 0) else {
                return fail("Invalid bson block : cstring");
            };
            let key = b[pos..pos + klen].to_vec();
            pos += klen + 1;
            let skip = |pos: usize, n: i64| -> mlua::Result<usize> {
                let n =
                    usize::try_from(n).map_err(|_| mlua::Error::runtime("Invalid bson block"))?;
                need(pos, n)?;
                Ok(pos + n)
            };
            let fixed = match bt {
                wire::INT64 | wire::TIMESTAMP | wire::DATE | wire::REAL => 8,
                wire::BOOLEAN => 1,
                wire::OBJECTID => 12,
                wire::INT32 => 4,
                wire::JSCODE | wire::SYMBOL | wire::STRING => {
                    let n = i32_at(pos)?;
                    pos = skip(pos + 4, n)?;
                    0
                }
                wire::CODEWS | wire::ARRAY | wire::DOCUMENT => {
                    let n = i32_at(pos)?;
                    pos = skip(pos + 4, n - 4)?;
                    0
                }
                wire::BINARY => {
                    let n = i32_at(pos)?;
                    pos = skip(pos + 4, n + 1)?;
                    0
                }
                wire::MINKEY | wire::MAXKEY | wire::NULL => 0,
                wire::REGEX => {
                    for _ in 0..2 {
                        let Some(l) = b[pos..end].iter().position(|&c| c == 0) else {
                            return fail("Invalid bson block : cstring");
                        };
                        pos += l + 1;
                    }
                    0
                }
                wire::DBPOINTER => {
                    let n = i32_at(pos)?;
                    pos = skip(pos + 4, n + 12)?;
                    0
                }
                _ => return fail(format!("Invalid bson type : {bt}")),
            };
            if fixed > 0 {
                need(pos, fixed)?;
                index.insert(key, (bt, pos));
                pos += fixed;
            }
        }
        self.index = Some(index);
        Ok(())
    }

    /// `doc[key] = v` on an indexed field.
    pub(crate) fn replace(&mut self, key: &Value, v: &Value) -> mlua::Result<()> {
        let Some(index) = &self.index else {
            return fail("call makeindex first");
        };
        let found = match key {
            Value::String(s) => index.get(&*s.as_bytes()).copied(),
            _ => None,
        };
        let Some((bt, at)) = found else {
            let shown = match key {
                Value::String(s) => s.to_string_lossy(),
                Value::Integer(i) => i.to_string(),
                Value::Number(n) => n.to_string(),
                _ => "(null)".to_string(),
            };
            return fail(format!("Can't replace key : {shown}"));
        };
        let bytes: Vec<u8> = match bt {
            wire::REAL => match v {
                Value::Integer(i) => (*i as f64).to_bits().to_le_bytes().to_vec(),
                Value::Number(n) => n.to_bits().to_le_bytes().to_vec(),
                _ => return fail("bad argument #3 to 'replace' (number expected)"),
            },
            wire::BOOLEAN => vec![u8::from(!matches!(v, Value::Nil | Value::Boolean(false)))],
            wire::INT32 | wire::INT64 => {
                let Value::Integer(i) = v else {
                    let n = match v {
                        Value::Number(n) => *n,
                        _ => 0.0,
                    };
                    let bits = if bt == wire::INT32 { 32 } else { 64 };
                    return fail(format!("{n:.6} must be a {bits}bit integer "));
                };
                if bt == wire::INT32 {
                    (*i as i32).to_le_bytes().to_vec()
                } else {
                    i.to_le_bytes().to_vec()
                }
            }
            wire::OBJECTID | wire::DATE | wire::TIMESTAMP => {
                let data = match v {
                    Value::String(s) => s.as_bytes().to_vec(),
                    _ => return fail("bad argument #3 to 'replace' (string expected)"),
                };
                if data.len() < 6 || data[0] != 0 || data[1] != bt {
                    return fail(format!("Type mismatch, need bson type {bt}"));
                }
                let body = &data[2..];
                match bt {
                    wire::OBJECTID if body.len() != 12 => return fail("Invalid object id"),
                    wire::DATE if body.len() != 4 => return fail("Invalid date"),
                    wire::TIMESTAMP if body.len() != 8 => return fail("Invalid timestamp"),
                    wire::DATE => {
                        let secs = u32::from_le_bytes([body[0], body[1], body[2], body[3]]);
                        (i64::from(secs) * 1000).to_le_bytes().to_vec()
                    }
                    _ => body.to_vec(),
                }
            }
            _ => return fail(format!("Can't replace type {bt}")),
        };
        self.bytes[at..at + bytes.len()].copy_from_slice(&bytes);
        Ok(())
    }
}

impl UserData for Doc {
    fn add_fields<F: UserDataFields<Self>>(fields: &mut F) {
        fields.add_meta_field_with(MetaMethod::Index, |lua: &Lua| {
            lua.named_registry_value::<Value>(INDEX_KEY)
        });
        fields.add_meta_field_with(MetaMethod::NewIndex, |lua: &Lua| {
            lua.named_registry_value::<Value>(NEWINDEX_KEY)
        });
        fields.add_meta_field("__name", "bson");
    }

    fn add_methods<M: UserDataMethods<Self>>(methods: &mut M) {
        methods.add_meta_method(MetaMethod::ToString, |lua, d, ()| {
            lua.create_string(&d.bytes)
        });
        methods.add_meta_method(MetaMethod::Len, |_, d, ()| Ok(d.bytes.len() as i64));
    }
}
