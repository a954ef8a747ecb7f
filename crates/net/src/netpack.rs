//! `skynet.netpack.core`: the native half of `skynet.netpack` (see
//! `lualib/skynet/netpack.lua`). `filter(queue, msg, sz)` reads a socket
//! event as the socket server encodes it and answers as skynet's does:
//!
//! - data: `queue, "data", fd, frame, size` for exactly one whole frame,
//!   `queue, "more"` when frames were queued for `pop`, or just `queue`
//!   while a frame is incomplete; `queue, "error", fd, text` when the
//!   connection would pass the queue's limit (`netpack_buffer`);
//! - accept: `queue, "open", fd, address`; close: `queue, "close", fd`;
//!   error: `queue, "error", fd, text`; warning: `queue, "warning", fd, kb`;
//!   connect: `queue, "init", id, text, ud`;
//! - a frame the runtime cut itself (a connection given `socketdriver.frame`)
//!   comes through as `"data"` too.
//!
//! Frames are Lua strings where skynet hands out malloc'd pointers, so
//! nothing needs freeing. The queue is a userdata made by the first
//! `filter` (called with a nil queue) and returned first every time.

use mlua::{AnyUserData, Lua, MultiValue, UserData, Value};
use skyhold_core::Context;
use skyhold_lua::budget::Budget;
use skyhold_lua::host::ModuleFactory;
use std::sync::Arc;

use crate::netpack_queue::{Filtered, Queue, DEFAULT_LIMIT};
use crate::socket_server::event;

/// The config key for a queue's limit in bytes.
pub const LIMIT_KEY: &str = "netpack_buffer";

/// A gate's queue as Lua holds it.
pub struct LuaQueue(pub Queue);

impl UserData for LuaQueue {}

fn text(lua: &Lua, b: &[u8]) -> mlua::Result<Value> {
    Ok(Value::String(lua.create_string(b)?))
}

fn int(i: impl Into<i64>) -> Value {
    Value::Integer(i.into())
}

/// The queue in `v`, or a new one.
fn queue_of(lua: &Lua, v: Value, limit: usize) -> mlua::Result<AnyUserData> {
    match v {
        Value::Nil => lua.create_userdata(LuaQueue(Queue::new(limit))),
        Value::UserData(u) if u.is::<LuaQueue>() => Ok(u),
        other => Err(mlua::Error::runtime(format!(
            "netpack: a queue (or nil) is expected, got {}",
            other.type_name()
        ))),
    }
}

/// Steps charged per byte looked at, and per frame made.
fn charge(lua: &Lua, bytes: usize, frames: usize) -> mlua::Result<()> {
    let steps = bytes / 64 + frames * 8;
    if steps < 1024 {
        return Ok(());
    }
    match Budget::of(lua) {
        Some(b) => b.charge(steps as i64),
        None => Ok(()),
    }
}

fn filter(lua: &Lua, q: AnyUserData, msg: &[u8]) -> mlua::Result<MultiValue> {
    if msg.len() < 9 {
        return Err(mlua::Error::runtime(
            "netpack.filter: malformed socket event",
        ));
    }
    let kind = msg[0];
    let id = i32::from_le_bytes([msg[1], msg[2], msg[3], msg[4]]);
    let ud = i32::from_le_bytes([msg[5], msg[6], msg[7], msg[8]]);
    let data = &msg[9..];
    let mut out = vec![Value::UserData(q.clone())];
    let mut queue = q.borrow_mut::<LuaQueue>()?;
    match kind {
        event::DATA => {
            let before = queue.0.len();
            let r = queue.0.data(id, data);
            charge(lua, data.len(), queue.0.len().saturating_sub(before))?;
            match r {
                Filtered::Nothing => {}
                Filtered::Frame(f) => {
                    let n = f.len();
                    out.extend([text(lua, b"data")?, int(id), text(lua, &f)?]);
                    out.push(int(n as i64));
                }
                Filtered::More => out.push(text(lua, b"more")?),
                Filtered::Overflow(e) => {
                    out.extend([text(lua, b"error")?, int(id), text(lua, e.as_bytes())?]);
                }
            }
        }
        event::FRAME => {
            out.extend([text(lua, b"data")?, int(id), text(lua, data)?]);
            out.push(int(data.len() as i64));
        }
        event::CONNECT => {
            out.extend([text(lua, b"init")?, int(id), text(lua, data)?, int(ud)]);
        }
        event::CLOSE => {
            queue.0.closed(id);
            out.extend([text(lua, b"close")?, int(id)]);
        }
        event::ACCEPT => {
            out.extend([text(lua, b"open")?, int(ud), text(lua, data)?]);
        }
        event::ERROR => {
            queue.0.closed(id);
            out.extend([text(lua, b"error")?, int(id), text(lua, data)?]);
        }
        event::WARNING => {
            out.extend([text(lua, b"warning")?, int(id), int(ud)]);
        }
        // UDP and anything else: nothing for a gate.
        _ => {}
    }
    Ok(MultiValue::from_vec(out))
}

/// The factory for `skynet.netpack.core`. A queue holds at most the
/// config's `netpack_buffer` bytes (default [`DEFAULT_LIMIT`]).
pub fn module() -> ModuleFactory {
    Arc::new(|lua: &Lua, ctx: &Context| {
        let limit = ctx
            .getenv(LIMIT_KEY)
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(DEFAULT_LIMIT);
        let t = lua.create_table()?;
        t.set(
            "filter",
            lua.create_function(
                move |lua, (q, msg, sz): (Value, mlua::LuaString, Option<i64>)| {
                    let q = queue_of(lua, q, limit)?;
                    let bytes = msg.as_bytes();
                    let n = sz
                        .and_then(|n| usize::try_from(n).ok())
                        .map_or(bytes.len(), |n| n.min(bytes.len()));
                    filter(lua, q, &bytes[..n])
                },
            )?,
        )?;
        t.set(
            "pop",
            lua.create_function(|lua, q: Option<AnyUserData>| {
                let Some(q) = q.filter(|q| q.is::<LuaQueue>()) else {
                    return Ok(MultiValue::new());
                };
                let mut queue = q.borrow_mut::<LuaQueue>()?;
                Ok(match queue.0.pop() {
                    Some((fd, f)) => {
                        MultiValue::from_vec(vec![int(fd), text(lua, &f)?, int(f.len() as i64)])
                    }
                    None => MultiValue::new(),
                })
            })?,
        )?;
        t.set(
            "clear",
            lua.create_function(|_, q: Option<AnyUserData>| {
                if let Some(q) = q.filter(|q| q.is::<LuaQueue>()) {
                    q.borrow_mut::<LuaQueue>()?.0.clear();
                }
                Ok(())
            })?,
        )?;
        Ok(Value::Table(t))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket_server::encode_event;

    fn call(lua: &Lua, q: Value, kind: u8, id: i32, ud: i32, data: &[u8]) -> Vec<Value> {
        let p = encode_event(kind, id, ud, data);
        let q = queue_of(lua, q, 1 << 20).unwrap();
        filter(lua, q, p.as_slice()).unwrap().into_iter().collect()
    }

    fn s(v: &Value) -> String {
        v.to_string().unwrap()
    }

    #[test]
    fn every_event_has_skynets_shape() {
        let lua = Lua::new();
        let r = call(&lua, Value::Nil, event::ACCEPT, 1, 7, b"1.2.3.4:5");
        assert_eq!(r.len(), 4);
        let q = r[0].clone();
        assert_eq!(
            (s(&r[1]), s(&r[2]), s(&r[3])),
            ("open".into(), "7".into(), "1.2.3.4:5".into())
        );
        let r = call(&lua, q.clone(), event::DATA, 7, 7, b"\0\x02hi");
        assert_eq!(r.len(), 5);
        assert_eq!(
            (s(&r[1]), s(&r[3]), s(&r[4])),
            ("data".into(), "hi".into(), "2".into())
        );
        let r = call(&lua, q.clone(), event::DATA, 7, 3, b"\0\x01a\0");
        assert_eq!((r.len(), s(&r[1])), (2, "more".into()));
        let r = call(&lua, q.clone(), event::DATA, 7, 1, b"\x01");
        assert_eq!(r.len(), 1);
        let r = call(&lua, q.clone(), event::WARNING, 7, 64, b"");
        assert_eq!((s(&r[1]), s(&r[3])), ("warning".into(), "64".into()));
        let r = call(&lua, q.clone(), event::ERROR, 7, 0, b"reset");
        assert_eq!(
            (s(&r[1]), s(&r[2]), s(&r[3])),
            ("error".into(), "7".into(), "reset".into())
        );
        let r = call(&lua, q.clone(), event::CLOSE, 7, 0, b"");
        assert_eq!((r.len(), s(&r[1])), (3, "close".into()));
        let r = call(&lua, q.clone(), event::FRAME, 8, 3, b"abc");
        assert_eq!(
            (s(&r[1]), s(&r[3]), s(&r[4])),
            ("data".into(), "abc".into(), "3".into())
        );
        let r = call(&lua, q.clone(), event::UDP, 8, 3, b"abc");
        assert_eq!(r.len(), 1);
        let Value::UserData(u) = q else { panic!() };
        assert_eq!(u.borrow::<LuaQueue>().unwrap().0.len(), 1);
        let q = queue_of(&lua, Value::UserData(u), 1).unwrap();
        assert!(filter(&lua, q, b"short").is_err());
    }
}
