//! The `skynet.core` functions over the service's [`Dispatcher`]: answering
//! requests, protocols and hooks, forks, wakeups, traces and task control.

use mlua::{Function, Lua, MultiValue, Table, Thread, Value};
use skyhold_core::{Context, Payload, SendError};

use super::{failure, payload, request_values, resolve, send_packed, LazyCore};
use crate::dispatch::Dispatcher;
use crate::lua_error::error_text;
use crate::seri;

/// Answers the running task's request: `true` if the reply went out,
/// `false` if it could not (or the request was a one-way send), and
/// `nil, "No session"` if there is no request to answer.
fn answer(lua: &Lua, ctx: &Context, d: &Dispatcher, body: Payload) -> mlua::Result<(Value, Value)> {
    let Some((session, source)) = d.take_request() else {
        return failure(lua, "No session");
    };
    if session == 0 {
        return Ok((Value::Boolean(false), Value::Nil));
    }
    let ok = match ctx.reply(source, session, body) {
        Ok(()) => true,
        Err(SendError::TooLarge { .. }) => {
            let _ = ctx.reply_error(source, session, Payload::empty());
            false
        }
        Err(_) => false,
    };
    Ok((Value::Boolean(ok), Value::Nil))
}

/// The `skynet.core` functions over the service's [`Dispatcher`].
pub(super) fn dispatch_functions(lazy: &mut LazyCore) {
    lazy.add("sendv", |lua, env| {
        let (c, d) = (env.ctx.clone(), env.dispatcher.clone());
        lua.create_function(move |_, args: (Value, u8, MultiValue)| Ok(send_packed(&c, &d, args)))
    });
    lazy.add("ret", |lua, env| {
        let (c, d) = (env.ctx.clone(), env.dispatcher.clone());
        lua.create_function(move |lua, (msg, _sz): (Value, Value)| {
            answer(lua, &c, &d, payload(&msg)?)
        })
    });
    lazy.add("retpack", |lua, env| {
        let (c, d) = (env.ctx.clone(), env.dispatcher.clone());
        lua.create_function(
            move |lua, values: MultiValue| match seri::pack_values(&values) {
                Ok(bytes) => answer(lua, &c, &d, Payload::from(bytes)),
                Err(e) => failure(lua, &error_text(&e)),
            },
        )
    });
    lazy.add("take_request", |lua, env| {
        let d = env.dispatcher.clone();
        lua.create_function(move |_, ()| Ok(request_values(d.take_request())))
    });
    lazy.add("context", |lua, env| {
        let d = env.dispatcher.clone();
        lua.create_function(move |_, ()| Ok(request_values(d.request())))
    });
    lazy.add("proto", |lua, env| {
        let d = env.dispatcher.clone();
        lua.create_function(move |lua, (id, class): (u8, Table)| d.set_proto(lua, id, &class))
    });
    lazy.add("hooks", |lua, env| {
        let d = env.dispatcher.clone();
        lua.create_function(move |lua, (hooks, unpack): (Table, Value)| {
            d.set_hooks(hooks);
            // skynet.unpack, as a protocol's unpack, runs in Rust.
            if let Value::Function(f) = &unpack {
                crate::native_unpack::register(lua, f, seri::unpack_into);
            }
            Ok(())
        })
    });
    lazy.add("filter", |lua, env| {
        let d = env.dispatcher.clone();
        lua.create_function(move |_, f: Option<Function>| {
            d.set_filter(f);
            Ok(())
        })
    });
    lazy.add("fork", |lua, env| {
        let d = env.dispatcher.clone();
        lua.create_function(move |lua, args: MultiValue| d.fork(lua, args))
    });
    lazy.add("start_on_timer", |lua, env| {
        let (c, d) = (env.ctx.clone(), env.dispatcher.clone());
        lua.create_function(move |lua, (ti, f): (i64, Function)| {
            let session = c
                .timeout(ti)
                .map_err(|e| mlua::Error::runtime(e.to_string()))?;
            // The session too: skynet.task lists timeouts not yet fired.
            d.start_on_timer(lua, session, f).map(|t| (t, session))
        })
    });
    lazy.add("wakeup", |lua, env| {
        let d = env.dispatcher.clone();
        lua.create_function(move |_, session: i32| Ok(d.wakeup(session)))
    });
    lazy.add("socket_wake", |lua, env| {
        let d = env.dispatcher.clone();
        lua.create_function(move |_, id: i32| Ok(d.wake_reader(id)))
    });
    lazy.add("fail_calls", |lua, env| {
        let (c, d) = (env.ctx.clone(), env.dispatcher.clone());
        lua.create_function(move |_, (session, addr): (i32, Value)| {
            if let Some(h) = resolve(&c, &addr) {
                d.fail_calls(session, h);
            }
            Ok(())
        })
    });
    lazy.add("tasks", |lua, env| {
        let d = env.dispatcher.clone();
        lua.create_function(move |lua, ()| {
            let t = lua.create_table()?;
            for (session, thread) in d.tasks() {
                t.raw_set(session, thread)?;
            }
            Ok(t)
        })
    });
    lazy.add("trace", |lua, env| {
        let d = env.dispatcher.clone();
        lua.create_function(move |_, info: Option<mlua::LuaString>| {
            Ok(d.trace(info.map(|s| s.to_string_lossy()).as_deref()))
        })
    });
    lazy.add("tracetag", |lua, env| {
        let d = env.dispatcher.clone();
        lua.create_function(move |_, ()| Ok(d.trace_tag()))
    });
    lazy.add("tracelog", |lua, env| {
        let d = env.dispatcher.clone();
        lua.create_function(move |_, (tag, text): (Value, Value)| {
            let tag = tag.to_string().unwrap_or_default();
            d.trace_log(&tag, &text.to_string().unwrap_or_default());
            Ok(())
        })
    });
    lazy.add("killthread", |lua, env| {
        let d = env.dispatcher.clone();
        lua.create_function(move |_, t: Thread| d.kill_thread(&t))
    });
    lazy.add("exit_tasks", |lua, env| {
        let d = env.dispatcher.clone();
        lua.create_function(move |_, ()| d.exit_tasks())
    });
}
