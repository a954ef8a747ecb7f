//! Unpack functions written in Rust that the dispatcher runs without Lua.
//!
//! A protocol's `unpack` turns a message into the values its dispatch
//! function receives. When `unpack` is a Lua-visible function, every
//! message costs a Lua string of the whole message and a call through mlua
//! before the handler's coroutine is even resumed. A function that decodes
//! in Rust anyway is recorded here with its decoder (`skynet.unpack`,
//! `skynet.tostring`, the socket driver's `unpack` of socket events): Lua
//! callers get an ordinary function, and a protocol that registers it is
//! decoded straight from the message's bytes onto the handler's arguments.

use mlua::{Function, Lua, MultiValue};

/// Decodes `bytes` (a whole message) and appends the values to `out`.
pub type Decode = fn(&Lua, &[u8], &mut MultiValue) -> mlua::Result<()>;

/// The native unpack functions made in one state, by the address of their
/// Lua function (kept as mlua app data).
#[derive(Default)]
struct Registry(Vec<(usize, Decode)>);

/// Makes `decode` a Lua function, `unpack(msg [, sz])`, and records it so
/// that [`lookup`] finds it again.
pub fn create(lua: &Lua, decode: Decode) -> mlua::Result<Function> {
    let f = lua.create_function(move |lua, (msg, sz): (mlua::LuaString, Option<i64>)| {
        let bytes = msg.as_bytes();
        let n = sz
            .and_then(|n| usize::try_from(n).ok())
            .map_or(bytes.len(), |n| n.min(bytes.len()));
        let mut out = MultiValue::new();
        decode(lua, &bytes[..n], &mut out)?;
        Ok(out)
    })?;
    register(lua, &f, decode);
    Ok(f)
}

/// Records that `f`, a function of this state, unpacks a message as
/// `decode` does (for a function whose Lua-facing arguments are looser
/// than [`create`]'s, such as `skynet.tostring`).
pub fn register(lua: &Lua, f: &Function, decode: Decode) {
    let key = f.to_pointer() as usize;
    match lua.app_data_mut::<Registry>() {
        Some(mut r) => r.0.push((key, decode)),
        None => {
            drop(lua.set_app_data(Registry(vec![(key, decode)])));
        }
    }
}

/// The message as one string: the decoder of `skynet.tostring`, the
/// unpack of protocols that take their messages whole.
pub fn whole(lua: &Lua, bytes: &[u8], out: &mut MultiValue) -> mlua::Result<()> {
    out.push_back(mlua::Value::String(lua.create_string(bytes)?));
    Ok(())
}

/// The decoder behind `f`, if `f` was made by [`create`] or recorded by
/// [`register`] in this state.
pub fn lookup(lua: &Lua, f: &Function) -> Option<Decode> {
    let key = f.to_pointer() as usize;
    let r = lua.app_data_ref::<Registry>()?;
    r.0.iter().find(|(k, _)| *k == key).map(|(_, d)| *d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlua::Value;

    fn lengths(_: &Lua, bytes: &[u8], out: &mut MultiValue) -> mlua::Result<()> {
        out.push_back(Value::Integer(bytes.len() as i64));
        Ok(())
    }

    #[test]
    fn a_native_unpack_is_found_and_callable_from_lua() -> mlua::Result<()> {
        let lua = Lua::new();
        let f = create(&lua, lengths)?;
        let other = lua.create_function(|_, ()| Ok(()))?;
        assert!(lookup(&lua, &f).is_some());
        assert!(lookup(&lua, &other).is_none());
        lua.globals().set("unpack", f)?;
        let (whole, cut): (i64, i64) = lua
            .load("return unpack('abcdef'), unpack('abcdef', 2)")
            .eval()?;
        assert_eq!((whole, cut), (6, 2));
        Ok(())
    }
}
