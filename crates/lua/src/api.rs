//! `skynet.core`: the functions `lualib/skynet.lua` is written against.
//!
//! Each function acts through the service's [`Context`], so the runtime
//! stamps the source, checks the policy and enforces the limits; nothing here
//! takes a source address from Lua.

use mlua::{Function, Lua, MultiValue, Table, Thread, Value, Variadic};
use skyhold_core::{ptype, Context, Grant, Handle, Payload, SendError};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::dispatch::{send_result, Dispatcher};
use crate::seri;

/// State the core functions share with the host.
#[derive(Default)]
pub struct Shared {
    /// A memory limit asked for by `skynet.memlimit` (0: none).
    pub memlimit: AtomicUsize,
    /// True while the service's main chunk runs (when `memlimit` may be called).
    pub loading: AtomicBool,
}

/// Nanoseconds on a monotonic clock (`skynet.hpc`).
pub fn hpc_ns() -> i64 {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_nanos() as i64
}

/// Resolves an address as skynet accepts it: a handle number, `:hex`, or a name.
pub fn resolve(ctx: &Context, v: &Value) -> Option<Handle> {
    match v {
        Value::Integer(i) => u32::try_from(*i).ok().map(Handle),
        Value::Number(f) if f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX) => {
            Some(Handle(*f as u32))
        }
        Value::String(s) => {
            let s = s.to_str().ok()?;
            if s.starts_with(':') {
                Handle::parse(&s)
            } else {
                ctx.query_name(&s)
            }
        }
        _ => None,
    }
}

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

/// `nil, "FULL"`, and the packed message when the caller must keep it to
/// send again once there is room.
fn full(lua: &Lua, packed: Option<&[u8]>) -> mlua::Result<MultiValue> {
    let mut v = vec![Value::Nil, Value::String(lua.create_string("FULL")?)];
    if let Some(p) = packed {
        v.push(Value::String(lua.create_string(p)?));
    }
    Ok(MultiValue::from_vec(v))
}

/// Packs `values` and sends them (`call` false: one-way, session 0) or
/// calls with them; results as [`send_result`], except that a full share
/// also hands back the packed message.
fn send_packed(
    lua: &Lua,
    ctx: &Context,
    d: &Dispatcher,
    (addr, ty, values): (Value, u8, MultiValue),
    call: bool,
) -> mlua::Result<MultiValue> {
    let Some(dest) = resolve(ctx, &addr) else {
        return Ok(MultiValue::new());
    };
    let bytes = match seri::pack_values(&values) {
        Ok(b) => b,
        Err(e) => {
            return Ok(MultiValue::from_vec(vec![
                Value::Nil,
                Value::String(lua.create_string("ERROR")?),
                Value::String(lua.create_string(error_text(&e))?),
            ]))
        }
    };
    if d.must_wait_room(dest) {
        return full(lua, Some(&bytes));
    }
    let r = if call {
        d.trace_call(dest);
        ctx.call(dest, ty, Payload::from(bytes.as_slice()))
    } else {
        ctx.send(dest, ty, 0, Payload::from(bytes.as_slice()))
            .map(|()| 0)
    };
    match r {
        Err(SendError::Full { .. }) => full(lua, Some(&bytes)),
        r => send_result(lua, r),
    }
}

/// Answers the running task's request: `true` if the reply went out,
/// `false` if it could not (or the request was a one-way send), and
/// `nil, "No session"` if there is no request to answer.
fn answer(lua: &Lua, ctx: &Context, d: &Dispatcher, body: Payload) -> mlua::Result<MultiValue> {
    let Some((session, source)) = d.take_request() else {
        return nil_and(lua, "No session");
    };
    if session == 0 {
        return Ok(MultiValue::from_vec(vec![Value::Boolean(false)]));
    }
    let ok = match ctx.reply(source, session, body) {
        Ok(()) => true,
        Err(SendError::TooLarge { .. }) => {
            let _ = ctx.reply_error(source, session, Payload::empty());
            false
        }
        Err(_) => false,
    };
    Ok(MultiValue::from_vec(vec![Value::Boolean(ok)]))
}

/// The `skynet.core` functions over the service's [`Dispatcher`].
fn dispatch_functions(lazy: &mut LazyCore, ctx: &Context, dispatcher: &Arc<Dispatcher>) {
    let (c, d) = (ctx.clone(), dispatcher.clone());
    lazy.add("sendv", move |lua| {
        lua.create_function(move |lua, args: (Value, u8, MultiValue)| {
            send_packed(lua, &c, &d, args, false)
        })
    });
    let (c, d) = (ctx.clone(), dispatcher.clone());
    lazy.add("callv", move |lua| {
        lua.create_function(move |lua, args: (Value, u8, MultiValue)| {
            send_packed(lua, &c, &d, args, true)
        })
    });
    let (c, d) = (ctx.clone(), dispatcher.clone());
    lazy.add("ret", move |lua| {
        lua.create_function(move |lua, (msg, _sz): (Value, Value)| {
            answer(lua, &c, &d, payload(&msg)?)
        })
    });
    let (c, d) = (ctx.clone(), dispatcher.clone());
    lazy.add("retpack", move |lua| {
        lua.create_function(
            move |lua, values: MultiValue| match seri::pack_values(&values) {
                Ok(bytes) => answer(lua, &c, &d, Payload::from(bytes)),
                Err(e) => nil_and(lua, &error_text(&e)),
            },
        )
    });
    let d = dispatcher.clone();
    lazy.add("take_request", move |lua| {
        lua.create_function(move |_, ()| Ok(request_values(d.take_request())))
    });
    let d = dispatcher.clone();
    lazy.add("context", move |lua| {
        lua.create_function(move |_, ()| Ok(request_values(d.request())))
    });
    let d = dispatcher.clone();
    lazy.add("proto", move |lua| {
        lua.create_function(move |_, (id, class): (u8, Table)| d.set_proto(id, &class))
    });
    let d = dispatcher.clone();
    lazy.add("hooks", move |lua| {
        lua.create_function(move |_, (hooks, unpack): (Table, Value)| {
            d.set_hooks(hooks);
            d.set_builtin_unpack(unpack);
            Ok(())
        })
    });
    let d = dispatcher.clone();
    lazy.add("filter", move |lua| {
        lua.create_function(move |_, f: Option<Function>| {
            d.set_filter(f);
            Ok(())
        })
    });
    let d = dispatcher.clone();
    lazy.add("fork", move |lua| {
        lua.create_function(move |lua, args: MultiValue| d.fork(lua, args))
    });
    let (c, d) = (ctx.clone(), dispatcher.clone());
    lazy.add("start_on_timer", move |lua| {
        lua.create_function(move |lua, (ti, f): (i64, Function)| {
            let session = c
                .timeout(ti)
                .map_err(|e| mlua::Error::runtime(e.to_string()))?;
            d.start_on_timer(lua, session, f)
        })
    });
    let d = dispatcher.clone();
    lazy.add("wakeup", move |lua| {
        lua.create_function(move |_, session: i32| Ok(d.wakeup(session)))
    });
    let (c, d) = (ctx.clone(), dispatcher.clone());
    lazy.add("fail_calls", move |lua| {
        lua.create_function(move |_, (session, addr): (i32, Value)| {
            if let Some(h) = resolve(&c, &addr) {
                d.fail_calls(session, h);
            }
            Ok(())
        })
    });
    let d = dispatcher.clone();
    lazy.add("tasks", move |lua| {
        lua.create_function(move |lua, ()| {
            let t = lua.create_table()?;
            for (session, thread) in d.tasks() {
                t.raw_set(session, thread)?;
            }
            Ok(t)
        })
    });
    let d = dispatcher.clone();
    lazy.add("trace", move |lua| {
        lua.create_function(move |_, info: Option<mlua::LuaString>| {
            Ok(d.trace(info.map(|s| s.to_string_lossy()).as_deref()))
        })
    });
    let d = dispatcher.clone();
    lazy.add("tracetag", move |lua| {
        lua.create_function(move |_, ()| Ok(d.trace_tag()))
    });
    let d = dispatcher.clone();
    lazy.add("tracelog", move |lua| {
        lua.create_function(move |_, (tag, text): (Value, Value)| {
            let tag = tag.to_string().unwrap_or_default();
            d.trace_log(&tag, &text.to_string().unwrap_or_default());
            Ok(())
        })
    });
    let d = dispatcher.clone();
    lazy.add("killthread", move |lua| {
        lua.create_function(move |_, t: Thread| d.kill_thread(&t))
    });
    let d = dispatcher.clone();
    lazy.add("exit_tasks", move |lua| {
        lua.create_function(move |_, ()| d.exit_tasks())
    });
}

/// `nil, text`: how the functions on the message path report a failure
/// (their Lua callers raise it as a string).
fn nil_and(lua: &Lua, text: &str) -> mlua::Result<MultiValue> {
    Ok(MultiValue::from_vec(vec![
        Value::Nil,
        Value::String(lua.create_string(text)?),
    ]))
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
];

/// The functions of one service's `skynet.core`, built on first use.
///
/// A service touches about half of them, and each built function costs
/// a Lua userdata and a closure in every state, so the table starts empty
/// and its `__index` builds what is asked for (see [`install_lazy`]).
#[derive(Default)]
struct LazyCore {
    builders: std::collections::HashMap<&'static str, Builder>,
}

type Builder = Box<dyn FnOnce(&Lua) -> mlua::Result<Function> + Send>;

impl LazyCore {
    fn add(
        &mut self,
        name: &'static str,
        build: impl FnOnce(&Lua) -> mlua::Result<Function> + Send + 'static,
    ) {
        self.builders.insert(name, Box::new(build));
    }
}

/// Gives `core` an `__index` that builds a function the first time its
/// name is read and stores it in the table.
///
/// Errors raised from Rust reach Lua as opaque userdata, but skynet code
/// inspects error messages as strings (`err:find(...)`, `..`), so each
/// fallible function is wrapped as it is built: its failure is raised
/// again from Lua as a plain string.
fn install_lazy(lua: &Lua, core: &Table, lazy: LazyCore) -> mlua::Result<()> {
    let builders = parking_lot::Mutex::new(lazy.builders);
    let build = lua.create_function(move |lua, name: Value| {
        let Value::String(name) = name else {
            return Ok((Value::Nil, false));
        };
        let Ok(name) = name.to_str() else {
            return Ok((Value::Nil, false));
        };
        let builder = builders.lock().remove(&*name);
        match builder {
            Some(b) => Ok((Value::Function(b(lua)?), FALLIBLE.contains(&&*name))),
            None => Ok((Value::Nil, false)),
        }
    })?;
    let install: Function = crate::codecache::internal(
        lua,
        "=skynet.core",
        r#"
            local core, build = ...
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
            "#,
    )?;
    install.call::<()>((core.clone(), build))
}

use crate::dispatch::error_text;

/// Builds the `skynet.core` table for one service.
pub fn create(
    lua: &Lua,
    ctx: Context,
    shared: Arc<Shared>,
    dispatcher: Arc<Dispatcher>,
) -> mlua::Result<Table> {
    let core = lua.create_table()?;
    let mut lazy = LazyCore::default();

    let c = ctx.clone();
    let d = dispatcher.clone();
    lazy.add("send", move |lua| {
        lua.create_function(
            move |lua, (addr, ty, session, msg, _sz): (Value, u8, Option<i64>, Value, Value)| {
                let Some(dest) = resolve(&c, &addr) else {
                    return Ok(MultiValue::new());
                };
                let is_reply = matches!(session, Some(s) if s != 0)
                    && (ty == ptype::RESPONSE || ty == ptype::ERROR);
                if !is_reply && d.must_wait_room(dest) {
                    return full(lua, None);
                }
                let body = payload(&msg)?;
                let r = match session {
                    None => {
                        d.trace_call(dest);
                        c.call(dest, ty, body)
                    }
                    Some(s) => {
                        let s = i32::try_from(s)
                            .map_err(|_| mlua::Error::runtime("session out of range"))?;
                        let sent = if s != 0 && ty == ptype::RESPONSE {
                            c.reply(dest, s, body)
                        } else if s != 0 && ty == ptype::ERROR {
                            c.reply_error(dest, s, body)
                        } else {
                            c.send(dest, ty, s, body)
                        };
                        sent.map(|()| s)
                    }
                };
                send_result(lua, r)
            },
        )
    });

    let c = ctx.clone();
    lazy.add("redirect", move |lua| lua.create_function(
            move |lua, (addr, source, ty, session, msg, _sz): (Value, Value, u8, i64, Value, Value)| {
                let Some(dest) = resolve(&c, &addr) else {
                    return Ok(MultiValue::new());
                };
                let source = resolve(&c, &source).unwrap_or(Handle::SYSTEM);
                let s = i32::try_from(session).map_err(|_| mlua::Error::runtime("session out of range"))?;
                let r = c.redirect(dest, source, ty, s, payload(&msg)?).map(|()| s);
                send_result(lua, r)
            },
        ));

    let c = ctx.clone();
    lazy.add("timeout", move |lua| {
        lua.create_function(move |_, ti: i64| {
            c.timeout(ti)
                .map_err(|e| mlua::Error::runtime(e.to_string()))
        })
    });

    let c = ctx.clone();
    lazy.add("genid", move |lua| {
        lua.create_function(move |_, ()| Ok(c.new_session()))
    });

    let c = ctx.clone();
    lazy.add("self", move |lua| {
        lua.create_function(move |_, ()| Ok(handle_value(c.handle())))
    });

    let c = ctx.clone();
    lazy.add("query", move |lua| {
        lua.create_function(move |_, name: String| Ok(c.query_name(&name).map(handle_value)))
    });

    lazy.add("harbor", move |lua| {
        lua.create_function(move |_, h: u32| {
            let h = Handle(h);
            Ok((h.harbor(), h.harbor() != 0))
        })
    });

    let c = ctx.clone();
    lazy.add("register", move |lua| {
        lua.create_function(move |_, name: String| {
            c.register(&name)
                .map_err(|e| mlua::Error::runtime(e.to_string()))
        })
    });

    let c = ctx.clone();
    lazy.add("name", move |lua| {
        lua.create_function(move |_, (name, addr): (String, Value)| {
            let target =
                resolve(&c, &addr).ok_or_else(|| mlua::Error::runtime("invalid address"))?;
            c.bind_name(&name, target)
                .map_err(|e| mlua::Error::runtime(e.to_string()))
        })
    });

    let c = ctx.clone();
    lazy.add("error", move |lua| {
        lua.create_function(move |_, text: mlua::LuaString| {
            c.log(&text.to_string_lossy());
            Ok(())
        })
    });

    let c = ctx.clone();
    lazy.add("getenv", move |lua| {
        lua.create_function(move |_, key: String| Ok(c.getenv(&key)))
    });

    let c = ctx.clone();
    lazy.add("setenv", move |lua| {
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

    let c = ctx.clone();
    lazy.add("now", move |lua| {
        lua.create_function(move |_, ()| Ok(c.now()))
    });
    let c = ctx.clone();
    lazy.add("starttime", move |lua| {
        lua.create_function(move |_, ()| Ok(c.start_time()))
    });
    lazy.add("hpc", move |lua| lua.create_function(|_, ()| Ok(hpc_ns())));

    let c = ctx.clone();
    lazy.add("exit", move |lua| {
        lua.create_function(move |_, ()| {
            c.exit();
            Ok(())
        })
    });

    let c = ctx.clone();
    lazy.add("kill", move |lua| {
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

    let c = ctx.clone();
    lazy.add("abort", move |lua| {
        lua.create_function(move |_, ()| c.abort().map_err(|e| mlua::Error::runtime(e.to_string())))
    });

    let c = ctx.clone();
    lazy.add("launch", move |lua| {
        lua.create_function(move |_, (module, args): (String, Option<String>)| {
            match c.launch(&module, args.as_deref().unwrap_or("")) {
                Ok(h) => Ok(Some(handle_value(h))),
                Err(skyhold_core::LaunchError::Denied(m)) => Err(mlua::Error::runtime(format!(
                    "not permitted to launch {m} (see the audit log)"
                ))),
                Err(e) => {
                    c.log(&format!("launch {module} failed: {e}"));
                    Ok(None)
                }
            }
        })
    });

    let c = ctx.clone();
    lazy.add("monitor", move |lua| {
        lua.create_function(move |_, addr: Value| {
            let target =
                resolve(&c, &addr).ok_or_else(|| mlua::Error::runtime("invalid address"))?;
            c.set_exit_monitor(target)
                .map_err(|e| mlua::Error::runtime(e.to_string()))
        })
    });

    let c = ctx.clone();
    lazy.add("identity", move |lua| {
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

    let c = ctx.clone();
    lazy.add("permits", move |lua| {
        lua.create_function(move |_, (addr, grant): (Value, String)| {
            let Some(g) = Grant::parse(&grant) else {
                return Err(mlua::Error::runtime(format!("unknown grant '{grant}'")));
            };
            Ok(resolve(&c, &addr).is_some_and(|h| c.permits(h, g)))
        })
    });

    let c = ctx.clone();
    lazy.add("audit", move |lua| {
        lua.create_function(move |_, (addr, what, why): (Value, String, String)| {
            let who = resolve(&c, &addr).unwrap_or(Handle::SYSTEM);
            c.audit_refusal(who, &what, &why);
            Ok(())
        })
    });

    let c = ctx.clone();
    lazy.add("stat", move |lua| {
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

    let sh = shared.clone();
    lazy.add("memlimit", move |lua| {
        lua.create_function(move |_, bytes: usize| {
            if !sh.loading.load(Ordering::Acquire) {
                return Err(mlua::Error::runtime(
                    "memlimit must be called in the main chunk",
                ));
            }
            if sh.memlimit.swap(bytes, Ordering::AcqRel) != 0 {
                return Err(mlua::Error::runtime("memlimit can be called only once"));
            }
            Ok(())
        })
    });

    dispatch_functions(&mut lazy, &ctx, &dispatcher);

    // pack(...) -> msg, size | nil, error
    lazy.add("pack", move |lua| {
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
    let err_mark = lua.create_table()?;
    core.set("ERR", err_mark.clone())?;
    lazy.add("unpack", move |lua| {
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
    lazy.add("tostring", move |lua| {
        lua.create_function(|lua, (msg, sz): (Value, Option<i64>)| match msg {
            Value::String(s) => match sz {
                Some(n) if (n.max(0) as usize) < s.as_bytes().len() => lua
                    .create_string(&s.as_bytes()[..n.max(0) as usize])
                    .map(Value::String),
                _ => Ok(Value::String(s)),
            },
            _ => lua.create_string("").map(Value::String),
        })
    });
    lazy.add("trash", move |lua| {
        lua.create_function(|_, _: Variadic<Value>| Ok(()))
    });

    install_lazy(lua, &core, lazy)?;
    if let Ok(Value::Table(debug)) = lua.globals().get::<Value>("debug") {
        if let Ok(tb) = debug.get::<Function>("traceback") {
            core.set("traceback", tb)?;
        }
    }
    Ok(core)
}
