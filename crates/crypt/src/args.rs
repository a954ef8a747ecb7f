//! Reading a native function's arguments the way Lua's auxiliary library
//! does (`luaL_checklstring`, `luaL_optinteger`), with the same error text,
//! so a script matching on skynet's messages sees the same words.

use mlua::{Lua, LuaString, MultiValue, Value};

/// The arguments of one call of the function `name`.
pub(crate) struct Args<'a> {
    lua: &'a Lua,
    module: &'static str,
    name: &'static str,
    values: MultiValue,
}

/// A plain runtime error: what `luaL_error` raises.
pub(crate) fn fail(msg: impl Into<String>) -> mlua::Error {
    mlua::Error::runtime(msg.into())
}

impl<'a> Args<'a> {
    /// Wraps the arguments `values` of a call of `module.name` (Lua names
    /// a library function by where `package.loaded` holds it).
    pub(crate) fn new(
        lua: &'a Lua,
        module: &'static str,
        name: &'static str,
        values: MultiValue,
    ) -> Self {
        Args {
            lua,
            module,
            name,
            values,
        }
    }

    fn at(&self, n: usize) -> Option<&Value> {
        self.values.get(n - 1)
    }

    /// `bad argument #n to 'name' (extra)`.
    pub(crate) fn arg_error(&self, n: usize, extra: &str) -> mlua::Error {
        fail(format!(
            "bad argument #{n} to '{}.{}' ({extra})",
            self.module, self.name
        ))
    }

    fn type_error(&self, n: usize, expected: &str) -> mlua::Error {
        let got = match self.at(n) {
            None => "no value",
            Some(v) => v.type_name(),
        };
        self.arg_error(n, &format!("{expected} expected, got {got}"))
    }

    /// Argument `n` as a string (a number is converted, as Lua does).
    pub(crate) fn string(&self, n: usize) -> mlua::Result<LuaString> {
        match self.at(n) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v @ (Value::Integer(_) | Value::Number(_))) => self
                .lua
                .coerce_string(v.clone())?
                .ok_or_else(|| self.type_error(n, "string")),
            _ => Err(self.type_error(n, "string")),
        }
    }

    /// Argument `n` as bytes.
    pub(crate) fn bytes(&self, n: usize) -> mlua::Result<Vec<u8>> {
        Ok(self.string(n)?.as_bytes().to_vec())
    }

    /// True if argument `n` was not given at all (not even `nil`).
    pub(crate) fn is_none(&self, n: usize) -> bool {
        self.at(n).is_none()
    }

    /// Argument `n` as an integer, or `default` if it is absent or nil.
    pub(crate) fn opt_integer(&self, n: usize, default: i64) -> mlua::Result<i64> {
        match self.at(n) {
            None | Some(Value::Nil) => Ok(default),
            Some(Value::Integer(i)) => Ok(*i),
            Some(v @ (Value::Number(_) | Value::String(_))) => {
                match self.lua.coerce_integer(v.clone())? {
                    Some(i) => Ok(i),
                    None if matches!(v, Value::Number(_))
                        || self.lua.coerce_number(v.clone())?.is_some() =>
                    {
                        Err(self.arg_error(n, "number has no integer representation"))
                    }
                    None => Err(self.type_error(n, "number")),
                }
            }
            Some(_) => Err(self.type_error(n, "number")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(lua: &Lua, v: Vec<Value>) -> Args<'_> {
        Args::new(lua, "m", "f", MultiValue::from_vec(v))
    }

    #[test]
    fn strings_numbers_and_type_errors_read_as_lua_reads_them() {
        let lua = Lua::new();
        let a = args(&lua, vec![Value::Integer(12), Value::Boolean(true)]);
        assert_eq!(a.bytes(1).unwrap(), b"12");
        assert_eq!(
            a.bytes(2).unwrap_err().to_string(),
            "runtime error: bad argument #2 to 'm.f' (string expected, got boolean)"
        );
        assert!(a
            .bytes(3)
            .unwrap_err()
            .to_string()
            .contains("(string expected, got no value)"));
    }

    #[test]
    fn optional_integers() {
        let lua = Lua::new();
        let a = args(
            &lua,
            vec![Value::Nil, Value::Number(1.5), Value::Number(2.0)],
        );
        assert_eq!(a.opt_integer(1, 7).unwrap(), 7);
        assert_eq!(a.opt_integer(4, 9).unwrap(), 9);
        assert_eq!(a.opt_integer(3, 0).unwrap(), 2);
        assert!(a
            .opt_integer(2, 0)
            .unwrap_err()
            .to_string()
            .contains("number has no integer representation"));
    }
}
