//! Raising errors the way a C module does. An error returned from a Rust
//! function reaches Lua as a userdata that prints with mlua's prefix and a
//! traceback; skynet's C functions raise plain strings (`luaL_error` from a
//! C function adds no position), and Lua code matches on them. So each
//! Rust function here returns `(FAIL, message)` instead of failing, and a
//! small Lua wrapper raises `message` as a string, at level 0.

use mlua::{Function, Lua, MultiValue, Table, Value};

use crate::args::Args;

/// A module function: reads its arguments, computes, or fails with a
/// runtime error whose text is what Lua should see.
pub(crate) type Body = fn(&Lua, &Args) -> mlua::Result<Value>;

/// Makes the Lua-side wrapper of one raw function, given the marker.
const WRAP: &str = r#"
local fail, error = ...
return function(raw)
	return function(...)
		local v, msg = raw(...)
		if v == fail then
			error(msg, 0)
		end
		return v
	end
end
"#;

/// Sets each of `functions` in `t`, named `module.name` in argument errors.
pub(crate) fn install(
    lua: &Lua,
    t: &Table,
    module: &'static str,
    functions: &[(&'static str, Body)],
) -> mlua::Result<()> {
    let fail = lua.create_table()?;
    let error: Function = lua.globals().get("error")?;
    let maker: Function =
        skyhold_lua::codecache::internal(lua, "=[C]", WRAP)?.call((fail.clone(), error))?;
    for &(name, body) in functions {
        let fail = fail.clone();
        let raw = lua.create_function(move |lua, v: MultiValue| {
            let a = Args::new(lua, module, name, v);
            match body(lua, &a) {
                Ok(v) => Ok((v, Value::Nil)),
                // Failed allocations and the like stay errors of the VM.
                Err(mlua::Error::RuntimeError(msg)) => Ok((
                    Value::Table(fail.clone()),
                    Value::String(lua.create_string(msg)?),
                )),
                Err(e) => Err(e),
            }
        })?;
        let f: Function = maker.call(raw)?;
        t.set(name, f)?;
    }
    Ok(())
}
