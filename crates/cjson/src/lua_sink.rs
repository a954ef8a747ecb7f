//! The decoder's [`Sink`] that builds Lua values: tables (arrays with
//! `array_mt` when asked), strings through the Lua allocator, `cjson.null`
//! for null, and the work charged to the service's budget.

use crate::decode::{Scalar, Sink};
use mlua::{Lua, Table, Value};
use skyhold_lua::budget::Budget;

/// An open container: the table and, in an object, the pending key (in an
/// array, the next index).
struct Open {
    table: Table,
    next: i64,
    key: Option<Value>,
}

/// Builds one decoded document in a Lua state.
pub struct LuaSink<'a> {
    lua: &'a Lua,
    array_mt: Option<Table>,
    budget: Option<Budget>,
    open: Vec<Open>,
    /// The value last completed.
    pub current: Value,
}

impl<'a> LuaSink<'a> {
    /// A sink for `lua`; arrays get `array_mt` if given.
    pub fn new(lua: &'a Lua, array_mt: Option<Table>) -> Self {
        LuaSink {
            lua,
            array_mt,
            budget: Budget::of(lua),
            open: Vec::new(),
            current: Value::Nil,
        }
    }
}

impl Sink for LuaSink<'_> {
    type Error = mlua::Error;

    fn scalar(&mut self, v: Scalar<'_>) -> mlua::Result<()> {
        self.current = match v {
            Scalar::Str(s) => Value::String(self.lua.create_string(s)?),
            Scalar::Number(f) => Value::Number(f),
            Scalar::Integer(i) => Value::Integer(i),
            Scalar::Bool(b) => Value::Boolean(b),
            Scalar::Null => Value::NULL,
        };
        Ok(())
    }

    fn begin(&mut self, array: bool) -> mlua::Result<()> {
        let table = self.lua.create_table()?;
        if array {
            if let Some(mt) = &self.array_mt {
                // `cjson.array_mt` is a table Lua code can change (and give
                // a __gc): set through the runtime, so the table is
                // remembered and finalized before the state closes.
                skyhold_lua::finalizers::set_metatable(self.lua, &table, Some(mt.clone()))?;
            }
        }
        self.open.push(Open {
            table,
            next: 1,
            key: None,
        });
        Ok(())
    }

    fn key(&mut self, k: &[u8]) -> mlua::Result<()> {
        let key = Value::String(self.lua.create_string(k)?);
        if let Some(top) = self.open.last_mut() {
            top.key = Some(key);
        }
        Ok(())
    }

    fn store(&mut self) -> mlua::Result<()> {
        let v = std::mem::replace(&mut self.current, Value::Nil);
        let Some(top) = self.open.last_mut() else {
            return Ok(());
        };
        match top.key.take() {
            Some(k) => top.table.raw_set(k, v),
            None => {
                let i = top.next;
                top.next += 1;
                top.table.raw_set(i, v)
            }
        }
    }

    fn end(&mut self) -> mlua::Result<()> {
        if let Some(top) = self.open.pop() {
            self.current = Value::Table(top.table);
        }
        Ok(())
    }

    fn charge(&mut self, steps: i64) -> mlua::Result<()> {
        match &self.budget {
            Some(b) => b.charge(steps),
            None => Ok(()),
        }
    }
}
