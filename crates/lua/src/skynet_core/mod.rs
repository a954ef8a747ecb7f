//! `skynet.core`: the functions `lualib/skynet.lua` is written against.
//!
//! Each function acts through the service's [`Context`], so the runtime
//! stamps the source, checks the policy and enforces the limits; nothing here
//! takes a source address from Lua.

use mlua::{Function, Lua, MultiValue, Table, Value, Variadic};
use skyhold_core::{ptype, Context, Grant, Handle, LaunchError, Payload, SendError};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

pub use crate::dispatch::hpc_ns;
use crate::dispatch::{command, Dispatcher};
use crate::lua_error::error_text;
pub use crate::sending::resolve;
use crate::sending::{send_result, Outgoing, SendResult};
use crate::seri;

mod task_functions;
use task_functions::dispatch_functions;

/// State the core functions share with the host.
#[derive(Default)]
pub struct Shared {
    /// A memory limit asked for by `skynet.memlimit` (0: none).
    pub memlimit: AtomicUsize,
    /// True while the service's main chunk runs (when `memlimit` may be called).
    pub loading: AtomicBool,
}

/// The name the chunk that installs `skynet.core`'s table is loaded under.
pub(crate) const INSTALL_CHUNK: &str = "=skynet.core";

/// The text of [`INSTALL_CHUNK`]: puts the fields `skynet.core` starts
/// with in its table (and the functions built up front, [`EAGER`] in its
/// order, in the set of built ones) in one call, rather than a table
/// operation from Rust each, then the `__index` that builds the rest.
pub(crate) const INSTALL_TEXT: &str = r#"
            local core, build, built, yield, err, traceback,
                send, pack, unpack, sendv, ret, retpack, hooks = ...
            core.YIELD, core.ERR, core.traceback = yield, err, traceback
            core.send, core.pack, core.unpack, core.sendv, core.ret, core.retpack, core.hooks =
                send, pack, unpack, sendv, ret, retpack, hooks
            if built then
                built.send, built.pack, built.unpack, built.sendv, built.ret, built.retpack, built.hooks =
                    send, pack, unpack, sendv, ret, retpack, hooks
            end
            local pcall, error, tostring, type, rawset = pcall, error, tostring, type, rawset
            local function check(ok, ...)
                if ok then
                    return ...
                end
                local e = ...
                if type(e) ~= "string" then
                    e = tostring(e)
                end
                -- mlua prefixes messages raised from Rust; keep only the text.
                e = e:gsub("^runtime error: ", "")
                error(e, 0)
            end
            setmetatable(core, {
                __index = function(t, name)
                    local f, fallible = build(name)
                    if f == nil then
                        return nil
                    end
                    if fallible then
                        local raw = f
                        f = function(...) return check(pcall(raw, ...)) end
                    end
                    rawset(t, name, f)
                    return f
                end,
                __metatable = false,
            })
            "#;

fn payload(msg: &Value) -> mlua::Result<Payload> {
    match msg {
        Value::Nil => Ok(Payload::empty()),
        Value::String(s) => Ok(Payload::from(&s.as_bytes()[..])),
        other => Err(mlua::Error::runtime(format!(
            "message must be a string, got {}",
            other.type_name()
        ))),
    }
}

/// A send refused for want of room: the dispatcher holds `out` to send
/// once there is room, and Lua gets `nil, "FULL"` (its caller yields
/// `ROOM`).
fn held(d: &Dispatcher, dest: Handle, out: Outgoing) -> SendResult {
    d.hold(dest, out);
    (Value::Nil, Some("FULL"), None)
}

/// Packs `values` and sends them one-way (`c.sendv`, skynet.send's fast
/// path); the results as [`send_result`].
fn send_packed(
    ctx: &Context,
    d: &Dispatcher,
    (addr, ty, values): (Value, u8, MultiValue),
) -> SendResult {
    let Some(dest) = resolve(ctx, &addr) else {
        return (Value::Nil, None, None);
    };
    let body = match seri::pack_values(&values) {
        Ok(b) => b,
        Err(e) => return (Value::Nil, Some("ERROR"), Some(error_text(&e))),
    };
    let sent = d.send_in_turn(dest, || {
        ctx.send(dest, ty, 0, Payload::from(body.as_slice()))
            .map(|()| 0)
    });
    match sent {
        Some(r) => send_result(r),
        None => held(
            d,
            dest,
            Outgoing::Send {
                ty,
                session: Some(0),
                body,
            },
        ),
    }
}

/// `nil, text`: how the functions on the message path report a failure
/// (their Lua callers raise it as a string). Two values, not a list: no
/// allocation on every message's path.
fn failure(lua: &Lua, text: &str) -> mlua::Result<(Value, Value)> {
    Ok((Value::Nil, Value::String(lua.create_string(text)?)))
}

/// A request as Lua sees it: `session, source`, or `nil, nil`.
fn request_values(r: Option<(i32, Handle)>) -> (Value, Value) {
    match r {
        Some((s, src)) => (Value::Integer(i64::from(s)), handle_value(src)),
        None => (Value::Nil, Value::Nil),
    }
}

fn handle_value(h: Handle) -> Value {
    Value::Integer(i64::from(h.0))
}

/// The functions of `skynet.core` that can fail.
/// (`send`, `pack`, `packstring` and `unpack` are on every message's path,
/// so they report failure in their return values instead, and
/// `lualib/skynet.lua` raises.)
const FALLIBLE: &[&str] = &[
    "timeout",
    "register",
    "name",
    "kill",
    "abort",
    "launch",
    "monitor",
    "permits",
    "memlimit",
    "proto",
    "killthread",
    "exit_tasks",
    "start_on_timer",
    "command",
];

/// The functions `lualib/skynet.lua` reads from `skynet.core` while it
/// loads (so every service builds them), none of them in [`FALLIBLE`].
const EAGER: &[&str] = &["send", "pack", "unpack", "sendv", "ret", "retpack", "hooks"];

/// The registry table the built `skynet.core` functions are kept in, by name.
const BUILT: &str = "skyhold.core";

/// The functions of one service's `skynet.core`, built on first use.
///
/// A service touches about half of them, and each built function costs
/// a Lua userdata and a closure in every state, so the table starts empty
/// and its `__index` builds what is asked for (see [`install_lazy`]). The
/// builders capture nothing: what a function needs it clones from the
/// service's [`CoreEnv`] when it is built, so an unused one costs a spawn
/// nothing but an entry in this list.
#[derive(Default)]
struct LazyCore {
    builders: Vec<(&'static str, Builder)>,
}

/// What the `skynet.core` functions of one service work on.
struct CoreEnv {
    ctx: Context,
    shared: Arc<Shared>,
    dispatcher: Arc<Dispatcher>,
    err_mark: Table,
}

type Builder = fn(&Lua, &CoreEnv) -> mlua::Result<Function>;

impl LazyCore {
    fn add(&mut self, name: &'static str, build: Builder) {
        debug_assert!(self.find(name).is_none(), "{name} added twice");
        self.builders.push((name, build));
    }

    fn find(&self, name: &str) -> Option<Builder> {
        self.builders
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, b)| *b)
    }
}

/// Gives `core` an `__index` that builds a function the first time its
/// name is read and stores it in the table.
///
/// Errors raised from Rust reach Lua as opaque userdata, but skynet code
/// inspects error messages as strings (`err:find(...)`, `..`), so each
/// fallible function is wrapped as it is built: its failure is raised
/// again from Lua as a plain string.
fn install_lazy(
    lua: &Lua,
    core: &Table,
    lazy: &'static LazyCore,
    env: CoreEnv,
    (yield_numbers, traceback): (Table, Value),
) -> mlua::Result<()> {
    // What every service's skynet.lua reads as it loads is built now, in
    // Rust: a first read through `__index` costs a call into Lua and back
    // out to the builder for each.
    // Sized as `core` is (below): the functions a booted service has built.
    let built = crate::finalizers::remembered_set(lua, BUILT, 16)?;
    let mut eager = [const { Value::Nil }; EAGER.len()];
    for (slot, name) in eager.iter_mut().zip(EAGER) {
        debug_assert!(!FALLIBLE.contains(name), "{name} needs the Lua wrapper");
        if let Some(b) = lazy.find(name) {
            *slot = Value::Function(b(lua, &env)?);
        }
    }
    let err_mark = Value::Table(env.err_mark.clone());
    let built_set = built.clone().map_or(Value::Nil, Value::Table);
    // Each function is built once and kept until the state closes, however
    // the service drops it (`rawset(core, name, nil)` and asking again gets
    // the same one): a Rust function must never be finalized while Lua code
    // can still reach it (see crate::finalizers).
    let build = lua.create_function(move |lua, name: Value| {
        let Value::String(key) = name else {
            return Ok((Value::Nil, false));
        };
        let Ok(name) = key.to_str() else {
            return Ok((Value::Nil, false));
        };
        let Some(b) = lazy.find(&name) else {
            return Ok((Value::Nil, false));
        };
        let fallible = FALLIBLE.contains(&&*name);
        // The Lua string itself as the key: one made from `name` would cost
        // a protected call (the state has its memory limit by now).
        if let Some(built) = &built {
            let f: Value = built.raw_get(&key)?;
            if !f.is_nil() {
                return Ok((f, fallible));
            }
        }
        let f = Value::Function(b(lua, &env)?);
        if let Some(built) = &built {
            built.raw_set(&key, f.clone())?;
        }
        Ok((f, fallible))
    })?;
    crate::finalizers::keep_function(lua, &build)?;
    let install: Function = crate::codecache::internal(lua, INSTALL_CHUNK, INSTALL_TEXT)?;
    let [send, pack, unpack, sendv, ret, retpack, hooks] = eager;
    install.call::<()>((
        core.clone(),
        build,
        built_set,
        yield_numbers,
        err_mark,
        traceback,
        send,
        pack,
        unpack,
        sendv,
        ret,
        retpack,
        hooks,
    ))
}

/// Every `skynet.core` builder, gathered once per process.
fn builders() -> &'static LazyCore {
    static BUILDERS: std::sync::OnceLock<LazyCore> = std::sync::OnceLock::new();
    BUILDERS.get_or_init(|| {
        let mut lazy = LazyCore::default();
        service_functions(&mut lazy);
        dispatch_functions(&mut lazy);
        lazy
    })
}

/// Builds the `skynet.core` table for one service.
pub fn create(
    lua: &Lua,
    ctx: Context,
    shared: Arc<Shared>,
    dispatcher: Arc<Dispatcher>,
) -> mlua::Result<Table> {
    // Sized for what a booted service's table holds (`YIELD`, `ERR`,
    // `traceback`, the functions built up front and the few its boot asks
    // for): grown one step at a time, it would be rebuilt five times.
    let core = lua.create_table_with_capacity(0, 16)?;
    // The numbers a task yields to the dispatcher, defined once in Rust
    // (`YIELD`).
    let yield_numbers = command::table(lua)?;
    // unpack's failure mark (`ERR`): `c.unpack` returns it first, then the
    // error.
    let err_mark = lua.create_table()?;
    let env = CoreEnv {
        ctx,
        shared,
        dispatcher,
        err_mark,
    };
    let mut traceback = Value::Nil;
    if let Ok(Value::Table(debug)) = lua.globals().get::<Value>("debug") {
        if let Ok(tb) = debug.get::<Function>("traceback") {
            traceback = Value::Function(tb);
        }
    }
    install_lazy(lua, &core, builders(), env, (yield_numbers, traceback))?;
    Ok(core)
}

/// The `skynet.core` functions that are not about the dispatcher.
fn service_functions(lazy: &mut LazyCore) {
    lazy.add("send", |lua, env| {
        let c = env.ctx.clone();
        let d = env.dispatcher.clone();
        lua.create_function(
            move |_, (addr, ty, session, msg, _sz): (Value, u8, Option<i64>, Value, Value)| {
                let Some(dest) = resolve(&c, &addr) else {
                    return Ok((Value::Nil, None, None));
                };
                let session = session
                    .map(|s| {
                        i32::try_from(s).map_err(|_| mlua::Error::runtime("session out of range"))
                    })
                    .transpose()?;
                let is_reply = matches!(session, Some(s) if s != 0)
                    && (ty == ptype::RESPONSE || ty == ptype::ERROR);
                let hold = || -> mlua::Result<SendResult> {
                    let body = payload(&msg)?.into_vec();
                    Ok(held(&d, dest, Outgoing::Send { ty, session, body }))
                };
                if is_reply {
                    // A reply never waits for room: a full share fails it.
                    let body = payload(&msg)?;
                    let s = session.unwrap_or(0);
                    let sent = if ty == ptype::RESPONSE {
                        c.reply(dest, s, body)
                    } else {
                        c.reply_error(dest, s, body)
                    };
                    return Ok(send_result(sent.map(|()| s)));
                }
                let body = payload(&msg)?;
                let sent = d.send_in_turn(dest, || match session {
                    None => {
                        d.trace_call(dest);
                        c.call(dest, ty, body)
                    }
                    Some(s) => c.send(dest, ty, s, body).map(|()| s),
                });
                match sent {
                    Some(r) => Ok(send_result(r)),
                    None => hold(),
                }
            },
        )
    });

    lazy.add("redirect", |lua, env| {
        let c = env.ctx.clone();
        let d = env.dispatcher.clone();
        lua.create_function(
            move |_, (addr, source, ty, session, msg, _sz): (Value, Value, u8, i64, Value, Value)| {
                let Some(dest) = resolve(&c, &addr) else {
                    return Ok((Value::Nil, None, None));
                };
                let source = resolve(&c, &source).unwrap_or(Handle::SYSTEM);
                let s = i32::try_from(session).map_err(|_| mlua::Error::runtime("session out of range"))?;
                let hold = || -> mlua::Result<SendResult> {
                    let body = payload(&msg)?.into_vec();
                    Ok(held(&d, dest, Outgoing::Redirect { source, ty, session: s, body }))
                };
                let body = payload(&msg)?;
                match d.send_in_turn(dest, || c.redirect(dest, source, ty, s, body).map(|()| s)) {
                    Some(r) => Ok(send_result(r)),
                    None => hold(),
                }
            },
        )
    });

    lazy.add("timeout", |lua, env| {
        let c = env.ctx.clone();
        lua.create_function(move |_, ti: i64| {
            c.timeout(ti)
                .map_err(|e| mlua::Error::runtime(e.to_string()))
        })
    });

    lazy.add("genid", |lua, env| {
        let c = env.ctx.clone();
        lua.create_function(move |_, ()| Ok(c.new_session()))
    });

    lazy.add("self", |lua, env| {
        let c = env.ctx.clone();
        lua.create_function(move |_, ()| Ok(handle_value(c.handle())))
    });

    lazy.add("query", |lua, env| {
        let c = env.ctx.clone();
        lua.create_function(move |_, name: String| Ok(c.query_name(&name).map(handle_value)))
    });

    lazy.add("harbor", |lua, _| {
        lua.create_function(move |_, h: u32| {
            let h = Handle(h);
            Ok((h.harbor(), h.harbor() != 0))
        })
    });

    lazy.add("register", |lua, env| {
        let c = env.ctx.clone();
        lua.create_function(move |_, name: String| {
            c.register(&name)
                .map_err(|e| mlua::Error::runtime(e.to_string()))
        })
    });

    lazy.add("name", |lua, env| {
        let c = env.ctx.clone();
        lua.create_function(move |_, (name, addr): (String, Value)| {
            let target =
                resolve(&c, &addr).ok_or_else(|| mlua::Error::runtime("invalid address"))?;
            c.bind_name(&name, target)
                .map_err(|e| mlua::Error::runtime(e.to_string()))
        })
    });

    lazy.add("error", |lua, env| {
        let c = env.ctx.clone();
        lua.create_function(move |_, text: mlua::LuaString| {
            c.log(&text.to_string_lossy());
            Ok(())
        })
    });

    lazy.add("getenv", |lua, env| {
        let c = env.ctx.clone();
        lua.create_function(move |_, key: String| Ok(c.getenv(&key)))
    });

    lazy.add("setenv", |lua, env| {
        let c = env.ctx.clone();
        lua.create_function(move |_, (key, value): (String, Value)| {
            let value = match value {
                Value::String(s) => s.to_string_lossy(),
                Value::Integer(i) => i.to_string(),
                Value::Number(n) => n.to_string(),
                Value::Boolean(b) => b.to_string(),
                _ => return Err(mlua::Error::runtime("setenv value must be a string")),
            };
            Ok(c.setenv(&key, &value).is_ok())
        })
    });

    lazy.add("now", |lua, env| {
        let c = env.ctx.clone();
        lua.create_function(move |_, ()| Ok(c.now()))
    });
    lazy.add("starttime", |lua, env| {
        let c = env.ctx.clone();
        lua.create_function(move |_, ()| Ok(c.start_time()))
    });
    lazy.add("hpc", |lua, _| lua.create_function(|_, ()| Ok(hpc_ns())));

    lazy.add("exit", |lua, env| {
        let c = env.ctx.clone();
        lua.create_function(move |_, ()| {
            c.exit();
            Ok(())
        })
    });

    lazy.add("kill", |lua, env| {
        let c = env.ctx.clone();
        lua.create_function(move |_, addr: Value| {
            let Some(target) = resolve(&c, &addr) else {
                return Ok(false);
            };
            match c.kill(target) {
                Ok(()) => Ok(true),
                Err(SendError::UnknownAddress(_)) => Ok(false),
                Err(e) => Err(mlua::Error::runtime(e.to_string())),
            }
        })
    });

    // command(name, param): skynet's text commands; skyhold keeps only
    // LOGON and LOGOFF (skynet's debug_console calls them so), the others
    // being functions of their own here.
    lazy.add("command", |lua, env| {
        let c = env.ctx.clone();
        lua.create_function(move |_, (name, param): (String, Option<String>)| {
            let on = match name.as_str() {
                "LOGON" => true,
                "LOGOFF" => false,
                other => {
                    return Err(mlua::Error::runtime(format!(
                        "skynet.core.command: {other} is not supported (skyhold keeps LOGON and LOGOFF; \
                         the other commands are skynet.* functions)"
                    )))
                }
            };
            let param = param.unwrap_or_default();
            let param = param.trim();
            let target = if param.starts_with('.') {
                c.query_name(param)
            } else {
                skyhold_core::Handle::parse(param)
            };
            let target = target.ok_or_else(|| {
                mlua::Error::runtime(format!("Can't convert {param} to handle"))
            })?;
            crate::console_module::service_log(&c, on, target).map_err(mlua::Error::runtime)
        })
    });

    lazy.add("abort", |lua, env| {
        let c = env.ctx.clone();
        lua.create_function(move |_, ()| c.abort().map_err(|e| mlua::Error::runtime(e.to_string())))
    });

    // launch(module, args [, requester]): the handle, or nil and why. With
    // a requester (the launcher's, for whoever called newservice), the
    // launch counts against that service; that needs launch_for.
    lazy.add("launch", |lua, env| {
        let c = env.ctx.clone();
        lua.create_function(
            move |lua, (module, args, requester): (String, Option<String>, Option<Value>)| {
                let args = args.as_deref().unwrap_or("");
                let launched = match requester {
                    None | Some(Value::Nil) => c.launch(&module, args),
                    Some(v) => {
                        let h = resolve(&c, &v).ok_or_else(|| {
                            mlua::Error::runtime("launch: the requester is not an address")
                        })?;
                        c.launch_for(h, &module, args)
                    }
                };
                match launched {
                    Ok(h) => Ok((handle_value(h), Value::Nil)),
                    Err(LaunchError::Denied(m)) => Err(mlua::Error::runtime(format!(
                        "not permitted to launch {m} (see the audit log)"
                    ))),
                    Err(e @ LaunchError::NotOnBehalf(_)) => {
                        Err(mlua::Error::runtime(e.to_string()))
                    }
                    Err(e) => {
                        // A refusal by a limit is in the audit log already,
                        // and a flood of them must not flood the log too.
                        if !e.is_limit() {
                            c.log(&format!("launch {module} failed: {e}"));
                        }
                        Ok((Value::Nil, Value::String(lua.create_string(e.to_string())?)))
                    }
                }
            },
        )
    });

    lazy.add("monitor", |lua, env| {
        let c = env.ctx.clone();
        lua.create_function(move |_, addr: Value| {
            let target =
                resolve(&c, &addr).ok_or_else(|| mlua::Error::runtime("invalid address"))?;
            c.set_exit_monitor(target)
                .map_err(|e| mlua::Error::runtime(e.to_string()))
        })
    });

    lazy.add("identity", |lua, env| {
        let c = env.ctx.clone();
        lua.create_function(move |lua, addr: Option<Value>| {
            let h = match addr {
                None => c.handle(),
                Some(v) => match resolve(&c, &v) {
                    Some(h) => h,
                    None => return Ok(Value::Nil),
                },
            };
            let Some(id) = c.identity_of(h) else {
                return Ok(Value::Nil);
            };
            let t = lua.create_table()?;
            match &id.subject {
                skyhold_core::Subject::Script(s) => {
                    t.set("kind", "script")?;
                    t.set("name", s.as_str())?;
                }
                skyhold_core::Subject::Native(s) => {
                    t.set("kind", "native")?;
                    t.set("name", s.as_str())?;
                }
            }
            t.set("role", id.role.name.as_str())?;
            Ok(Value::Table(t))
        })
    });

    lazy.add("permits", |lua, env| {
        let c = env.ctx.clone();
        lua.create_function(move |_, (addr, grant): (Value, String)| {
            let Some(g) = Grant::parse(&grant) else {
                return Err(mlua::Error::runtime(format!("unknown grant '{grant}'")));
            };
            Ok(resolve(&c, &addr).is_some_and(|h| c.permits(h, g)))
        })
    });

    lazy.add("audit", |lua, env| {
        let c = env.ctx.clone();
        lua.create_function(move |_, (addr, what, why): (Value, String, String)| {
            let who = resolve(&c, &addr).unwrap_or(Handle::SYSTEM);
            c.audit_refusal(who, &what, &why);
            Ok(())
        })
    });

    lazy.add("stat", |lua, env| {
        let c = env.ctx.clone();
        lua.create_function(move |_, what: String| {
            let st = c.stats();
            Ok(match what.as_str() {
                "mqlen" => Value::Integer(c.mqlen() as i64),
                "endless" => Value::Integer(i64::from(c.take_endless())),
                "cpu" => Value::Number(st["cpu_ns"] as f64 / 1e9),
                "message" => Value::Integer(st["message"] as i64),
                other => match st.get(other) {
                    Some(v) => Value::Integer(*v as i64),
                    None => Value::Nil,
                },
            })
        })
    });

    lazy.add("memlimit", |lua, env| {
        let sh = env.shared.clone();
        lua.create_function(move |_, bytes: usize| {
            if !sh.loading.load(Ordering::Acquire) {
                return Err(mlua::Error::runtime(
                    "memlimit must be called in the main chunk",
                ));
            }
            // Compare-and-set: a second call must not replace the first limit.
            if sh
                .memlimit
                .compare_exchange(0, bytes, Ordering::AcqRel, Ordering::Acquire)
                .is_err()
            {
                return Err(mlua::Error::runtime("memlimit can be called only once"));
            }
            Ok(())
        })
    });

    // pack(...) -> msg, size | nil, error
    lazy.add("pack", |lua, _| {
        lua.create_function(|lua, args: MultiValue| match seri::pack_values(&args) {
            Ok(bytes) => {
                let n = bytes.len() as i64;
                Ok((Value::String(lua.create_string(bytes)?), Value::Integer(n)))
            }
            Err(e) => Ok((
                Value::Nil,
                Value::String(lua.create_string(error_text(&e))?),
            )),
        })
    });
    // unpack(msg, sz) -> values... | ERR, error
    lazy.add("unpack", |lua, env| {
        let err_mark = env.err_mark.clone();
        lua.create_function(move |lua, (msg, sz): (Value, Option<i64>)| {
            let r = match msg {
                Value::String(s) => {
                    let bytes = s.as_bytes();
                    let n = sz
                        .map(|n| (n.max(0) as usize).min(bytes.len()))
                        .unwrap_or(bytes.len());
                    seri::unpack_values(lua, &bytes[..n])
                }
                Value::Nil => Ok(MultiValue::new()),
                other => Err(mlua::Error::runtime(format!(
                    "Invalid serialize stream: a string is expected, got {}",
                    other.type_name()
                ))),
            };
            match r {
                Ok(v) => Ok(v),
                Err(e) => Ok(MultiValue::from_vec(vec![
                    Value::Table(err_mark.clone()),
                    Value::String(lua.create_string(error_text(&e))?),
                ])),
            }
        })
    });
    lazy.add("tostring", |lua, _| {
        let f = lua.create_function(|lua, (msg, sz): (Value, Option<i64>)| match msg {
            Value::String(s) => match sz {
                Some(n) if (n.max(0) as usize) < s.as_bytes().len() => lua
                    .create_string(&s.as_bytes()[..n.max(0) as usize])
                    .map(Value::String),
                _ => Ok(Value::String(s)),
            },
            _ => lua.create_string("").map(Value::String),
        })?;
        // As a protocol's unpack (skynet.tostring is the usual one for
        // client messages) it runs in Rust, straight from the message.
        crate::native_unpack::register(lua, &f, crate::native_unpack::whole);
        Ok(f)
    });
    lazy.add("trash", |lua, _| {
        lua.create_function(|_, _: Variadic<Value>| Ok(()))
    });
}

#[cfg(test)]
mod install_text_tests {
    use super::*;

    #[test]
    fn the_install_chunk_names_the_eager_functions_in_their_order() {
        let fields: Vec<String> = EAGER.iter().map(|n| format!("core.{n}")).collect();
        assert!(INSTALL_TEXT.contains(&fields.join(", ")), "core fields");
        let built: Vec<String> = EAGER.iter().map(|n| format!("built.{n}")).collect();
        assert!(INSTALL_TEXT.contains(&built.join(", ")), "built fields");
        assert!(INSTALL_TEXT.contains(&EAGER.join(", ")), "arguments");
    }
}
