//! The Lua face of `ltls.c`: `newctx()` and `newtls(method, ctx
//! [, hostname])`, with the methods skynet's `http.tlshelper` calls.
//!
//! - context: `set_cert(certfile, keyfile)` (paths the config names, see
//!   [`crate::settings`]), `set_ciphers(list)` (accepted; rustls's own
//!   cipher suites are used).
//! - tls: `handshake([data])` -> bytes to send, or nothing;
//!   `finished()`; `read([data])` -> plaintext (possibly "");
//!   `write([data])` -> bytes to send (possibly ""); `close()`;
//!   `set_ext_host_name(name)` -> 1.

use mlua::{Lua, LuaString, MultiValue, Table, UserData, UserDataMethods, Value};
use rustls::{ClientConfig, ServerConfig};
use skyhold_lua::budget::Budget;
use std::sync::Arc;

use crate::configs;
use crate::engine::Engine;
use crate::settings::Settings;

/// Bytes of TLS work per budget step (about what a Lua loop spends per
/// byte of a few instructions, as the other native modules charge).
const BYTES_PER_STEP: usize = 64;

fn charge(lua: &Lua, bytes: usize) -> mlua::Result<()> {
    match Budget::of(lua) {
        Some(b) if bytes >= 1024 => {
            b.charge(i64::try_from(bytes / BYTES_PER_STEP).unwrap_or(i64::MAX))
        }
        _ => Ok(()),
    }
}

fn fail(msg: String) -> mlua::Error {
    mlua::Error::runtime(msg)
}

/// An `SSL_CTX`: the server's certificate, and the client's trust.
pub struct SslCtx {
    settings: Arc<Settings>,
    server: Option<Arc<ServerConfig>>,
    client: Option<Arc<ClientConfig>>,
}

impl UserData for SslCtx {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method_mut(
            "set_cert",
            |_, this, (cert, key): (Option<String>, Option<String>)| {
                let cert = cert.ok_or_else(|| fail("need certfile".into()))?;
                let key = key.ok_or_else(|| fail("need private key".into()))?;
                this.settings.check(&cert).map_err(fail)?;
                this.settings.check(&key).map_err(fail)?;
                this.server = Some(configs::server(&cert, &key).map_err(fail)?);
                Ok(())
            },
        );
        m.add_method_mut("set_ciphers", |_, _, list: Option<String>| {
            list.ok_or_else(|| fail("need cipher list".into()))?;
            Ok(())
        });
    }
}

/// One TLS connection.
pub struct Tls(Engine);

fn bytes_arg(v: Option<LuaString>) -> Vec<u8> {
    v.map(|s| s.as_bytes().to_vec()).unwrap_or_default()
}

impl UserData for Tls {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_method_mut("handshake", |lua, this, data: Option<LuaString>| {
            let data = bytes_arg(data);
            charge(lua, data.len())?;
            let out = this.0.handshake(&data).map_err(fail)?;
            if out.is_empty() {
                Ok(MultiValue::new())
            } else {
                Ok(MultiValue::from_vec(vec![Value::String(
                    lua.create_string(&out)?,
                )]))
            }
        });
        m.add_method("finished", |_, this, ()| Ok(this.0.finished()));
        m.add_method_mut("read", |lua, this, data: Option<LuaString>| {
            let data = bytes_arg(data);
            charge(lua, data.len())?;
            let plain = this.0.read(&data).map_err(fail)?;
            lua.create_string(&plain)
        });
        m.add_method_mut("write", |lua, this, data: Option<LuaString>| {
            let data = bytes_arg(data);
            charge(lua, data.len())?;
            let out = this.0.write(&data).map_err(fail)?;
            lua.create_string(&out)
        });
        m.add_method_mut("close", |_, this, ()| {
            this.0.close();
            Ok(())
        });
        m.add_method_mut("set_ext_host_name", |_, this, name: String| {
            this.0.set_host_name(&name).map_err(fail)?;
            Ok(1)
        });
    }
}

/// The `ltls.c` table for a service whose config gave `settings`.
pub fn table(lua: &Lua, settings: Arc<Settings>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let s = settings.clone();
    t.set(
        "newctx",
        lua.create_function(move |_, ()| {
            Ok(SslCtx {
                settings: s.clone(),
                server: None,
                client: None,
            })
        })?,
    )?;
    t.set(
        "newtls",
        lua.create_function(
            move |_, (method, ctx, host): (String, mlua::AnyUserData, Option<String>)| {
                let mut ctx = ctx
                    .borrow_mut::<SslCtx>()
                    .map_err(|_| fail("need sslctx".into()))?;
                let engine = match method.as_str() {
                    "server" => {
                        let config = ctx.server.clone().ok_or_else(|| {
                            fail("ltls: a server context needs set_cert first".into())
                        })?;
                        Engine::server(config).map_err(fail)?
                    }
                    "client" => {
                        let config = match &ctx.client {
                            Some(c) => c.clone(),
                            None => {
                                let c = configs::client(&ctx.settings).map_err(fail)?;
                                ctx.client = Some(c.clone());
                                c
                            }
                        };
                        Engine::client(config, host, ctx.settings.verify)
                    }
                    other => {
                        return Err(fail(format!("invalid method:{other} e.g[server, client]")))
                    }
                };
                Ok(Tls(engine))
            },
        )?,
    )?;
    Ok(t)
}

/// The `ltls.init.c` table: `constructor()` and `destructor()`. rustls
/// needs no global set-up, so both do nothing; they exist because skynet's
/// bootstrap calls them when `enablessl` is set.
pub fn init_table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("constructor", lua.create_function(|_, ()| Ok(()))?)?;
    t.set("destructor", lua.create_function(|_, ()| Ok(()))?)?;
    Ok(t)
}
