//! skynet's `bson` and `skynet.mongo.driver` Lua modules in Rust, with
//! skynet's API, error text and bytes (lualib-src/lua-bson.c and
//! lua-mongo.c): `bson.encode`/`encode_order` give a `bson` userdata
//! (`tostring` is its bytes), `bson.decode` reads one back, the constructors
//! make skynet's tagged strings, `bson.type` names any value. Decoding is
//! bounded (lengths checked against the bytes, nesting limited) and the
//! work is charged to the calling service's instruction budget.
//!
//! One difference: skynet's `bson.to_lightuserdata` returns a raw pointer;
//! here it returns the document itself (what `decode` and `op_msg` take).
#![forbid(unsafe_code)]

pub mod doc;
pub mod driver;
mod encode;
mod values;
pub mod wire;

use mlua::{Function, Lua, MultiValue, Table, Value};
use skyhold_core::Context;
use skyhold_lua::budget::Budget;
use skyhold_lua::host::ModuleFactory;
use std::sync::Arc;

pub use doc::Doc;

#[cfg(test)]
mod tests;

/// Charges `steps` to the caller's budget, if it has one.
pub(crate) fn charge(lua: &Lua, steps: usize) -> mlua::Result<()> {
    match Budget::of(lua) {
        Some(b) if steps > 0 => b.charge(i64::try_from(steps).unwrap_or(i64::MAX)),
        _ => Ok(()),
    }
}

/// Raises a raw function's `(FAIL, message, level)` as a plain string, as
/// a C function's `luaL_error` does: with the calling line's position
/// (level 2) or, for errors skynet raises inside a protected call, bare
/// (level 0). No traceback either way.
const WRAP: &str = r#"
local fail, error, pack, unpack = ...
return function(raw)
	return function(...)
		local r = pack(raw(...))
		if r[1] == fail then
			error(r[2], r[3])
		end
		return unpack(r, 1, r.n)
	end
end
"#;

type Body = fn(&Lua, &[Value]) -> mlua::Result<MultiValue>;

/// Wraps `body` so its runtime errors are raised as plain strings.
fn wrapped(lua: &Lua, body: Body) -> mlua::Result<Function> {
    let fail: Table = lua.named_registry_value("skyhold.bson.fail")?;
    let maker: Function = lua.named_registry_value("skyhold.bson.wrap")?;
    let raw = lua.create_function(move |lua, args: MultiValue| {
        let args: Vec<Value> = args.into_iter().collect();
        match body(lua, &args) {
            Ok(v) => Ok(v),
            Err(mlua::Error::RuntimeError(msg)) => Ok(MultiValue::from_vec(vec![
                Value::Table(fail.clone()),
                Value::String(lua.create_string(msg)?),
                Value::Integer(2),
            ])),
            Err(mlua::Error::ExternalError(e)) if e.downcast_ref::<encode::Bare>().is_some() => {
                Ok(MultiValue::from_vec(vec![
                    Value::Table(fail.clone()),
                    Value::String(lua.create_string(e.to_string())?),
                    Value::Integer(0),
                ]))
            }
            Err(e) => Err(e),
        }
    })?;
    maker.call(raw)
}

fn one(v: Value) -> mlua::Result<MultiValue> {
    Ok(MultiValue::from_vec(vec![v]))
}

/// Sets up what both modules share in a state (once).
fn setup(lua: &Lua) -> mlua::Result<()> {
    let done: Value = lua.named_registry_value("skyhold.bson.fail")?;
    if !done.is_nil() {
        return Ok(());
    }
    let fail = lua.create_table()?;
    let error: Function = lua.globals().get("error")?;
    let table: Table = lua.globals().get("table")?;
    let pack: Function = table.get("pack")?;
    let unpack: Function = table.get("unpack")?;
    let maker: Function = skyhold_lua::codecache::internal(lua, "=[C] bson", WRAP)?.call((
        fail.clone(),
        error,
        pack,
        unpack,
    ))?;
    lua.set_named_registry_value("skyhold.bson.fail", fail)?;
    lua.set_named_registry_value("skyhold.bson.wrap", maker)?;
    let index = lua.create_table()?;
    index.set("decode", wrapped(lua, decode)?)?;
    index.set("makeindex", wrapped(lua, makeindex)?)?;
    lua.set_named_registry_value(doc::INDEX_KEY, index)?;
    lua.set_named_registry_value(doc::NEWINDEX_KEY, wrapped(lua, replace)?)?;
    Ok(())
}

fn new_doc(lua: &Lua, bytes: Vec<u8>) -> mlua::Result<MultiValue> {
    one(Value::UserData(lua.create_userdata(Doc::new(bytes))?))
}

fn encode(lua: &Lua, args: &[Value]) -> mlua::Result<MultiValue> {
    let Some(Value::Table(t)) = args.first() else {
        let got = values::typename(args.first().unwrap_or(&Value::Nil));
        let got = if args.is_empty() { "no value" } else { got };
        return encode::fail(format!(
            "bad argument #1 to 'encode' (table expected, got {got})"
        ));
    };
    let mut w = encode::Writer::new(lua);
    encode::bare(w.document(t))?;
    new_doc(lua, w.out)
}

fn encode_order(lua: &Lua, args: &[Value]) -> mlua::Result<MultiValue> {
    if !args.len().is_multiple_of(2) {
        return encode::fail("Invalid ordered dict");
    }
    let mut w = encode::Writer::new(lua);
    encode::bare(w.ordered(args))?;
    new_doc(lua, w.out)
}

/// Charges one step per 1024 decoded elements.
struct LuaMeter<'a> {
    lua: &'a Lua,
    n: u32,
}

impl wire::Meter for LuaMeter<'_> {
    fn step(&mut self) -> Result<(), wire::DecodeError> {
        self.n += 1;
        if self.n >= 1024 {
            self.n = 0;
            charge(self.lua, 1024).map_err(|e| wire::DecodeError(e.to_string()))?;
        }
        Ok(())
    }
}

fn to_lua(lua: &Lua, node: wire::Node) -> mlua::Result<Value> {
    Ok(match node {
        wire::Node::Real(f) => Value::Number(f),
        wire::Node::Int(i) => Value::Integer(i),
        wire::Node::Bool(b) => Value::Boolean(b),
        wire::Node::Str(s) | wire::Node::Tagged(s) => Value::String(lua.create_string(&s)?),
        wire::Node::Doc(entries) => {
            let t = lua.create_table()?;
            for (k, v) in entries {
                t.raw_set(lua.create_string(&k)?, to_lua(lua, v)?)?;
            }
            Value::Table(t)
        }
        wire::Node::Array(entries) => {
            let t = lua.create_table()?;
            for (k, v) in entries {
                t.raw_set(k, to_lua(lua, v)?)?;
            }
            Value::Table(t)
        }
    })
}

fn decode(lua: &Lua, args: &[Value]) -> mlua::Result<MultiValue> {
    let Some(Value::UserData(ud)) = args.first() else {
        // skynet: not a userdata, nothing returned
        return Ok(MultiValue::new());
    };
    let Ok(d) = ud.borrow::<Doc>() else {
        return Ok(MultiValue::new());
    };
    let mut meter = LuaMeter { lua, n: 0 };
    match wire::decode(d.bytes(), &mut meter) {
        Ok(node) => one(to_lua(lua, node)?),
        Err(e) => encode::fail(e.0),
    }
}

fn makeindex(_: &Lua, args: &[Value]) -> mlua::Result<MultiValue> {
    let Some(Value::UserData(ud)) = args.first() else {
        return encode::fail("bad argument #1 to 'makeindex' (bson expected)");
    };
    let Ok(mut d) = ud.borrow_mut::<Doc>() else {
        return encode::fail("bad argument #1 to 'makeindex' (bson expected)");
    };
    d.make_index()?;
    drop(d);
    one(Value::UserData(ud.clone()))
}

fn replace(_: &Lua, args: &[Value]) -> mlua::Result<MultiValue> {
    let Some(Value::UserData(ud)) = args.first() else {
        return encode::fail("not a bson document");
    };
    let Ok(mut d) = ud.borrow_mut::<Doc>() else {
        return encode::fail("not a bson document");
    };
    let nil = Value::Nil;
    d.replace(args.get(1).unwrap_or(&nil), args.get(2).unwrap_or(&nil))?;
    Ok(MultiValue::new())
}

fn to_lightuserdata(_: &Lua, args: &[Value]) -> mlua::Result<MultiValue> {
    one(args.first().cloned().unwrap_or(Value::Nil))
}

fn multi(
    f: fn(&Lua, &[Value]) -> mlua::Result<Value>,
) -> impl Fn(&Lua, &[Value]) -> mlua::Result<MultiValue> {
    move |lua, args| one(f(lua, args)?)
}

/// The `bson` module table.
pub fn bson_table(lua: &Lua) -> mlua::Result<Table> {
    setup(lua)?;
    let t = lua.create_table()?;
    let fns: [(&str, Body); 7] = [
        ("encode", encode),
        ("encode_order", encode_order),
        ("decode", decode),
        ("to_lightuserdata", to_lightuserdata),
        ("type", |l, a| values::type_of(l, a)),
        ("date", |l, a| multi(values::date)(l, a)),
        ("timestamp", |l, a| multi(values::timestamp)(l, a)),
    ];
    for (name, f) in fns {
        t.set(name, wrapped(lua, f)?)?;
    }
    let more: [(&str, Body); 4] = [
        ("regex", |l, a| multi(values::regex)(l, a)),
        ("binary", |l, a| multi(values::binary)(l, a)),
        ("objectid", |l, a| multi(values::objectid)(l, a)),
        ("int64", |l, a| multi(values::int64)(l, a)),
    ];
    for (name, f) in more {
        t.set(name, wrapped(lua, f)?)?;
    }
    t.set("null", lua.create_string([0, wire::NULL])?)?;
    t.set("minkey", lua.create_string([0, wire::MINKEY])?)?;
    t.set("maxkey", lua.create_string([0, wire::MAXKEY])?)?;
    Ok(t)
}

/// The `skynet.mongo.driver` module table.
pub fn driver_table(lua: &Lua) -> mlua::Result<Table> {
    setup(lua)?;
    let t = lua.create_table()?;
    t.set("reply", wrapped(lua, driver::reply)?)?;
    t.set("length", wrapped(lua, driver::length)?)?;
    t.set("op_msg", wrapped(lua, driver::op_msg)?)?;
    Ok(t)
}

/// Both modules, by the names projects require.
pub fn modules() -> Vec<(String, ModuleFactory)> {
    let bson: ModuleFactory = Arc::new(|lua: &Lua, _: &Context| Ok(Value::Table(bson_table(lua)?)));
    let driver: ModuleFactory =
        Arc::new(|lua: &Lua, _: &Context| Ok(Value::Table(driver_table(lua)?)));
    vec![
        ("bson".to_string(), bson),
        ("skynet.mongo.driver".to_string(), driver),
    ]
}
