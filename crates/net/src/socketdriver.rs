//! `skynet.socketdriver`: the Lua side's handle on the socket server, one
//! table per service, acting with that service's handle (so ownership is
//! checked against who really calls).

use bytes::Bytes;
use mlua::{Lua, MultiValue, Value};
use skyhold_core::{Context, Grant, Handle};
use skyhold_lua::host::ModuleFactory;
use std::sync::Arc;

use crate::socket_server::{parse_udp_address, SocketInfo, SocketKind, SocketServer};

fn bytes_of(v: &Value) -> mlua::Result<Bytes> {
    match v {
        Value::String(s) => Ok(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Table(t) => {
            // skynet accepts a table of strings, concatenated.
            let mut out = Vec::new();
            for part in t.sequence_values::<mlua::LuaString>() {
                out.extend_from_slice(&part?.as_bytes());
            }
            Ok(Bytes::from(out))
        }
        other => Err(mlua::Error::runtime(format!(
            "socket data must be a string or a table of strings, got {}",
            other.type_name()
        ))),
    }
}

fn split_host(host: &str, port: Option<u16>) -> mlua::Result<(String, u16)> {
    if let Some(p) = port {
        return Ok((
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            p,
        ));
    }
    let (h, p) = host
        .rsplit_once(':')
        .ok_or_else(|| mlua::Error::runtime(format!("address '{host}' has no port")))?;
    let p: u16 = p
        .parse()
        .map_err(|_| mlua::Error::runtime(format!("bad port in '{host}'")))?;
    Ok((
        h.trim_start_matches('[').trim_end_matches(']').to_string(),
        p,
    ))
}

/// `id, ip, port` for a socket bound to an address, or `nil, error`.
fn bound(
    lua: &Lua,
    r: Result<(i32, std::net::SocketAddr), crate::socket_server::SocketError>,
) -> mlua::Result<MultiValue> {
    Ok(MultiValue::from_vec(match r {
        Ok((id, addr)) => vec![
            Value::Integer(i64::from(id)),
            Value::String(lua.create_string(addr.ip().to_string())?),
            Value::Integer(i64::from(addr.port())),
        ],
        Err(e) => vec![Value::Nil, Value::String(lua.create_string(e.to_string())?)],
    }))
}

/// `socketdriver.unpack`: a socket event (see [`crate::socket_server::encode_event`])
/// as its kind, socket id, extra integer and data. The dispatcher runs it in
/// Rust for protocols that use it (`skynet.socket`, `snax.gateserver`).
fn unpack_event(lua: &Lua, b: &[u8], out: &mut MultiValue) -> mlua::Result<()> {
    if b.len() < 9 {
        return Err(mlua::Error::runtime("malformed socket event"));
    }
    let id = i32::from_le_bytes([b[1], b[2], b[3], b[4]]);
    let ud = i32::from_le_bytes([b[5], b[6], b[7], b[8]]);
    out.push_back(Value::Integer(i64::from(b[0])));
    out.push_back(Value::Integer(i64::from(id)));
    out.push_back(Value::Integer(i64::from(ud)));
    out.push_back(Value::String(lua.create_string(&b[9..])?));
    Ok(())
}

/// The factory for the `skynet.socketdriver` module.
pub fn module(server: Arc<SocketServer>) -> ModuleFactory {
    Arc::new(move |lua: &Lua, ctx: &Context| {
        let t = lua.create_table()?;
        let me = ctx.handle();
        let takeover = ctx.identity().has(Grant::SocketTakeover);

        let s = server.clone();
        t.set(
            "listen",
            lua.create_function(
                move |lua, (host, port, backlog): (String, Option<u16>, Option<u32>)| {
                    let (h, p) = split_host(&host, port)?;
                    bound(lua, s.listen(me, &h, p, backlog.unwrap_or(32)))
                },
            )?,
        )?;
        let s = server.clone();
        t.set(
            "connect",
            lua.create_function(move |lua, (host, port): (String, Option<u16>)| {
                let (h, p) = split_host(&host, port)?;
                match s.connect(me, &h, p) {
                    Ok(id) => Ok(MultiValue::from_vec(vec![Value::Integer(i64::from(id))])),
                    Err(e) => Ok(MultiValue::from_vec(vec![
                        Value::Nil,
                        Value::String(lua.create_string(e.to_string())?),
                    ])),
                }
            })?,
        )?;
        macro_rules! simple {
            ($name:literal, $method:ident) => {{
                let s = server.clone();
                t.set(
                    $name,
                    lua.create_function(move |lua, id: i32| match s.$method(me, id, takeover) {
                        Ok(()) => Ok((true, Value::Nil)),
                        Err(e) => Ok((false, Value::String(lua.create_string(e.to_string())?))),
                    })?,
                )?;
            }};
        }
        simple!("start", start);
        simple!("close", close);
        simple!("shutdown", shutdown);
        simple!("abandon", abandon);
        for name in ["send", "lsend"] {
            let s = server.clone();
            t.set(
                name,
                lua.create_function(move |lua, (id, data): (i32, Value)| {
                    match s.write(me, id, bytes_of(&data)?, takeover) {
                        Ok(()) => Ok((true, Value::Nil)),
                        Err(e) => Ok((false, Value::String(lua.create_string(e.to_string())?))),
                    }
                })?,
            )?;
        }
        let s = server.clone();
        t.set(
            "frame",
            lua.create_function(
                move |lua, (id, header, max): (i32, Option<u8>, Option<usize>)| {
                    let limit = s.limits().max_frame;
                    let (h, max) = match header.unwrap_or(2) {
                        2 => (
                            crate::frame::HeaderLen::Two,
                            max.unwrap_or(limit).min(limit).min(65_535),
                        ),
                        4 => match max {
                            Some(m) => (crate::frame::HeaderLen::Four, m.min(limit.max(65_535))),
                            None => {
                                return Err(mlua::Error::runtime(
                                    "a 4-byte frame header needs an explicit size cap",
                                ))
                            }
                        },
                        other => {
                            return Err(mlua::Error::runtime(format!(
                                "frame header must be 2 or 4 bytes, not {other}"
                            )))
                        }
                    };
                    match s.set_framing(me, id, h, max, takeover) {
                        Ok(()) => Ok((true, Value::Nil)),
                        Err(e) => Ok((false, Value::String(lua.create_string(e.to_string())?))),
                    }
                },
            )?,
        )?;
        let s = server.clone();
        t.set(
            "delegate",
            lua.create_function(move |_, (id, to): (i32, u32)| {
                Ok(s.delegate(me, id, Handle(to)).is_ok())
            })?,
        )?;
        t.set("nodelay", lua.create_function(|_, _id: i32| Ok(()))?)?;
        let s = server.clone();
        t.set(
            "udp",
            lua.create_function(move |lua, (host, port): (Option<String>, Option<u16>)| {
                bound(lua, s.udp(me, host.as_deref(), port.unwrap_or(0)))
            })?,
        )?;
        let s = server.clone();
        t.set(
            "udp_dial",
            lua.create_function(move |lua, (host, port): (String, u16)| {
                bound(lua, s.udp_dial(me, &host, port))
            })?,
        )?;
        let s = server.clone();
        t.set(
            "udp_connect",
            lua.create_function(move |_, (id, host, port): (i32, String, u16)| {
                s.udp_connect(me, id, &host, port)
                    .map_err(|e| mlua::Error::runtime(e.to_string()))
            })?,
        )?;
        let s = server.clone();
        t.set(
            "udp_send",
            lua.create_function(move |_, (id, to, data): (i32, mlua::LuaString, Value)| {
                Ok(s.sendto(me, id, &to.as_bytes(), bytes_of(&data)?).is_ok())
            })?,
        )?;
        t.set(
            "udp_address",
            lua.create_function(|_, blob: mlua::LuaString| {
                match parse_udp_address(&blob.as_bytes()) {
                    Some(a) => Ok((Some(a.ip().to_string()), Some(a.port()))),
                    None => Ok((None, None)),
                }
            })?,
        )?;
        t.set(
            "unpack",
            skyhold_lua::native_unpack::create(lua, unpack_event)?,
        )?;
        let s = server.clone();
        let everything = takeover || ctx.identity().has(Grant::ReadSecrets);
        let clock = ctx.clone();
        t.set(
            "info",
            lua.create_function(move |lua, ()| {
                info_table(lua, &s.info(), me, everything, clock.now())
            })?,
        )?;
        t.set(
            "bind",
            lua.create_function(|_, _fd: i64| -> mlua::Result<()> {
                Err(mlua::Error::runtime(
                    "socket.bind: skyhold does not hand OS descriptors to services",
                ))
            })?,
        )?;
        Ok(Value::Table(t))
    })
}

/// An address as skynet's netstat writes it: `ip:port`, an IPv6 address
/// without brackets.
fn skynet_name(a: std::net::SocketAddr) -> String {
    format!("{}:{}", a.ip(), a.port())
}

/// skynet's `socketdriver.info()` (`socket.netstat()`): one table per
/// socket, with skynet's fields (`id`, `address`, `type`, and `accept`,
/// `sock` for a listener; `read`, `write`, `wbuffer`, `reading`,
/// `writing`, `peer` otherwise; `rtime`/`wtime` in the node's ticks, 0 for
/// never). Socket ids are capabilities (an accepted connection is claimed
/// by the first `start` with its id), so a service sees only the sockets
/// it owns unless `everything` (it holds `socket_takeover` or
/// `read_secrets`, as the debug console does).
fn info_table(
    lua: &Lua,
    sockets: &[SocketInfo],
    me: Handle,
    everything: bool,
    now: u64,
) -> mlua::Result<mlua::Table> {
    let budget = skyhold_lua::budget::Budget::of(lua);
    let out = lua.create_table()?;
    let tick = |ago: Option<std::time::Duration>| match ago {
        None => 0,
        Some(d) => now.saturating_sub((d.as_millis() / 10) as u64) as i64,
    };
    let mut n = 0;
    for i in sockets.iter().filter(|i| everything || i.owner == me) {
        if let Some(b) = &budget {
            b.charge(16)?;
        }
        let t = lua.create_table()?;
        t.set("id", i.id)?;
        t.set("address", i64::from(i.owner.0))?;
        t.set("type", i.kind.skynet_name())?;
        if i.kind == SocketKind::Listen {
            t.set("accept", i.read as i64)?;
            t.set("rtime", tick(i.last_read))?;
            if let Some(a) = i.local {
                t.set("sock", skynet_name(a))?;
            }
        } else {
            t.set("read", i.read as i64)?;
            t.set("write", i.written as i64)?;
            t.set("wbuffer", i.waiting as i64)?;
            t.set("rtime", tick(i.last_read))?;
            t.set("wtime", tick(i.last_write))?;
            t.set("reading", i.reading)?;
            t.set("writing", i.writing)?;
            if let Some(a) = i.peer {
                t.set("peer", skynet_name(a))?;
            }
        }
        n += 1;
        out.raw_set(n, t)?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::socket_server::encode_event;
    use proptest::prelude::*;

    fn decoded(lua: &Lua, bytes: &[u8]) -> mlua::Result<Vec<Value>> {
        let mut out = MultiValue::new();
        unpack_event(lua, bytes, &mut out)?;
        Ok(out.into_iter().collect())
    }

    proptest! {
        /// Any bytes: the four values of an event, or a clear error.
        #[test]
        fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let lua = Lua::new();
            match decoded(&lua, &bytes) {
                Ok(v) => prop_assert_eq!(v.len(), 4),
                Err(e) => {
                    prop_assert!(bytes.len() < 9);
                    prop_assert!(e.to_string().contains("malformed socket event"));
                }
            }
        }

        /// What the socket server encodes comes back as it was.
        #[test]
        fn events_round_trip(kind in any::<u8>(), id in any::<i32>(), ud in any::<i32>(),
                             data in proptest::collection::vec(any::<u8>(), 0..64)) {
            let lua = Lua::new();
            let payload = encode_event(kind, id, ud, &data);
            let v = decoded(&lua, payload.as_slice()).unwrap();
            prop_assert_eq!(&v[0], &Value::Integer(i64::from(kind)));
            prop_assert_eq!(&v[1], &Value::Integer(i64::from(id)));
            prop_assert_eq!(&v[2], &Value::Integer(i64::from(ud)));
            match &v[3] {
                Value::String(s) => prop_assert_eq!(&*s.as_bytes(), &data[..]),
                other => prop_assert!(false, "data came back as {:?}", other),
            }
        }
    }
}
