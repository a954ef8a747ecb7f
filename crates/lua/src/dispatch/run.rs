//! One message through the dispatcher: the filter, a reply to the task
//! waiting for it, data to a socket's reader, or a request to a new task;
//! then filing what each resumed task yields.

use mlua::{FromLuaMulti, Function, IntoLuaMulti, Lua, MultiValue, Value};
use skyhold_core::{ptype, Handle, Message, Payload};
use std::sync::atomic::Ordering;

use super::command;
use super::task::Task;
use super::waiters::Waiter;
use super::{Dispatcher, Errors};
use crate::lua_error::{error_text, is_memory_error};
use crate::seri;

use super::protocols::Unpack;

/// What a task yields, as the dispatcher reads it: three values, and the
/// rest (only `CALL_PACKED` has more, its arguments).
///
/// Read from one `MultiValue` rather than as mlua's tuple
/// `(Value, Value, Value, MultiValue)`: the tuple moves each value through
/// a `Result` of its own, which was 7 % of a call round trip
/// (`bench/PROFILE.md`, session 16); the list's first three are taken off
/// its front and its storage is the rest's.
pub(super) struct Yielded {
    first: Value,
    second: Value,
    third: Value,
    rest: MultiValue,
}

impl FromLuaMulti for Yielded {
    fn from_lua_multi(mut values: MultiValue, _: &Lua) -> mlua::Result<Self> {
        let mut next = || values.pop_front().unwrap_or(Value::Nil);
        let (first, second, third) = (next(), next(), next());
        Ok(Yielded {
            first,
            second,
            third,
            rest: values,
        })
    }
}

/// The largest argument list kept for the next request.
const SPARE_ARGS_MAX: usize = 32;

/// A Lua number as an integer, if it is one.
pub(super) fn int(v: Option<&Value>) -> Option<i64> {
    match v {
        Some(Value::Integer(i)) => Some(*i),
        Some(Value::Number(n)) if n.fract() == 0.0 => Some(*n as i64),
        _ => None,
    }
}

/// The body of a message as the dispatcher hands it on.
enum Body<'a> {
    Bytes(&'a [u8]),
    Lua(Value, i64),
}

impl Body<'_> {
    fn lua(&self, lua: &Lua) -> mlua::Result<(Value, i64)> {
        match self {
            Body::Bytes(b) => Ok((Value::String(lua.create_string(b)?), b.len() as i64)),
            Body::Lua(v, n) => Ok((v.clone(), *n)),
        }
    }
}

impl Dispatcher {
    /// Handles one message: wakes the coroutine waiting for a reply, or runs
    /// the protocol's dispatch function in a task; then the wake-ups it
    /// caused and the forks it queued.
    pub fn message(&self, lua: &Lua, msg: &Message, errors: &mut Errors) {
        let filter = if self.filtered.load(Ordering::Relaxed) {
            self.state.lock().protocols.filter()
        } else {
            None
        };
        let r = match filter {
            None => self.route(
                lua,
                msg.ptype,
                Body::Bytes(msg.payload.as_slice()),
                msg.session,
                msg.source,
                errors,
            ),
            Some(f) => self.filtered(lua, &f, msg, errors),
        };
        if let Err(e) = r {
            errors.push(error_text(&e));
        }
        if self.pending.swap(false, Ordering::Relaxed) {
            self.settle(errors);
            self.run_forks(errors);
        }
    }

    fn filtered(
        &self,
        lua: &Lua,
        f: &Function,
        msg: &Message,
        errors: &mut Errors,
    ) -> mlua::Result<()> {
        let body = lua.create_string(msg.payload.as_slice())?;
        let (ty, m, sz, session, source): (u8, Value, Option<i64>, i32, u32) = f.call((
            i64::from(msg.ptype),
            body,
            msg.payload.len() as i64,
            i64::from(msg.session),
            i64::from(msg.source.0),
        ))?;
        let sz = match (&m, sz) {
            (_, Some(n)) => n,
            (Value::String(s), None) => s.as_bytes().len() as i64,
            _ => 0,
        };
        self.route(lua, ty, Body::Lua(m, sz), session, Handle(source), errors)
    }

    fn route(
        &self,
        lua: &Lua,
        ty: u8,
        body: Body,
        session: i32,
        source: Handle,
        errors: &mut Errors,
    ) -> mlua::Result<()> {
        if ty == ptype::RESPONSE {
            return self.response(lua, body, session, source, errors);
        }
        if ty == ptype::SOCKET {
            if let Body::Bytes(b) = &body {
                if let Some((task, decode, mut args)) = self.take_reader(b) {
                    // Straight to the coroutine waiting for this socket's
                    // data: no handler task, no wake-up.
                    if let Err(e) = decode(lua, b, &mut args) {
                        args.clear();
                        self.state.lock().spare_args = args;
                        self.resume(task, (false, error_text(&e)), errors);
                        return Ok(());
                    }
                    let r = task.thread.resume::<Yielded>(&args);
                    args.clear();
                    self.file_yield(task, r, Some(args), errors);
                    return Ok(());
                }
            }
        }
        let (handler, mut args) = {
            let mut st = self.state.lock();
            let spare = std::mem::take(&mut st.spare_args);
            (st.protocols.handler(ty), spare)
        };
        let Some((dispatch, unpack)) = handler else {
            if ty == ptype::TRACE {
                let tag = match &body {
                    Body::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                    Body::Lua(v, _) => v.to_string().unwrap_or_default(),
                };
                self.state.lock().trace.expect(source, tag);
                return Ok(());
            }
            if session != 0 {
                let _ = self.ctx.reply_error(source, session, Payload::empty());
            }
            let (m, sz) = body.lua(lua)?;
            return self.hook(
                "unknown_request",
                (session, i64::from(source.0), m, sz, i64::from(ty)),
            );
        };
        // The task runs dispatch(session, source, values...).
        args.push_back(Value::Integer(i64::from(session)));
        args.push_back(Value::Integer(i64::from(source.0)));
        let unpacked = match (unpack, &body) {
            (Unpack::Native(decode), Body::Bytes(b)) => decode(lua, b, &mut args),
            (Unpack::Native(decode), Body::Lua(Value::String(s), _)) => {
                decode(lua, &s.as_bytes(), &mut args)
            }
            (Unpack::Native(_), Body::Lua(..)) => Ok(()),
            (Unpack::Raw, _) => body.lua(lua).map(|(m, sz)| {
                args.push_back(m);
                args.push_back(Value::Integer(sz));
            }),
            (Unpack::Lua(f), _) => {
                let (m, sz) = body.lua(lua)?;
                f.call::<MultiValue>((m, sz)).map(|v| args.extend(v))
            }
        };
        if let Err(e) = unpacked {
            if session != 0 {
                let _ = self.ctx.reply_error(source, session, Payload::empty());
            }
            return Err(e);
        }
        let (task, traced) = self.begin_request(lua, dispatch, session, source, ty)?;
        if let Some(tag) = traced {
            self.trace_log(&tag, &format!("request from {source}"));
        }
        let r = task.thread.resume::<Yielded>(&args);
        args.clear();
        self.file_yield(task, r, Some(args), errors);
        Ok(())
    }

    /// Takes a task that will run `dispatch` for a request from `source`
    /// and makes it the current one, with the request it owes and its trace
    /// tag, if the request came with one (returned, to be logged).
    fn begin_request(
        &self,
        lua: &Lua,
        dispatch: Function,
        session: i32,
        source: Handle,
        ty: u8,
    ) -> mlua::Result<(Task, Option<String>)> {
        let task = self.task_for(lua, dispatch)?;
        let mut st = self.state.lock();
        st.requests.insert(task.key, (session, source, ty));
        let traced = self.trace_request(&mut st, task.key, source);
        st.current = Some(task.key);
        Ok((task, traced))
    }

    fn response(
        &self,
        lua: &Lua,
        body: Body,
        session: i32,
        source: Handle,
        errors: &mut Errors,
    ) -> mlua::Result<()> {
        let (wait, mut spare) = {
            let mut st = self.state.lock();
            let wait = st.waiters.waiting.remove(&session);
            let spare = match wait {
                Some(Waiter::Call { decode: true, .. }) => std::mem::take(&mut st.spare_args),
                _ => MultiValue::new(),
            };
            (wait, spare)
        };
        match wait {
            None => {
                let (m, sz) = body.lua(lua)?;
                self.hook("unknown_response", (session, i64::from(source.0), m, sz))
            }
            Some(Waiter::Break) => Ok(()),
            Some(Waiter::Start(task)) => {
                self.resume(task, (), errors);
                Ok(())
            }
            Some(Waiter::Call {
                task, decode: true, ..
            }) => {
                // The reply's values follow `true` in the spare list.
                let args = &mut spare;
                args.push_back(Value::Boolean(true));
                let unpacked = match &body {
                    Body::Bytes(b) => seri::unpack_into(lua, b, args),
                    Body::Lua(Value::String(s), _) => seri::unpack_into(lua, &s.as_bytes(), args),
                    Body::Lua(_, _) => Ok(()),
                };
                if let Err(e) = unpacked {
                    args.clear();
                    args.push_back(Value::Nil);
                    args.push_back(Value::String(lua.create_string(error_text(&e))?));
                }
                self.state.lock().current = Some(task.key);
                let r = task.thread.resume::<Yielded>(&spare);
                spare.clear();
                self.file_yield(task, r, Some(spare), errors);
                Ok(())
            }
            Some(Waiter::Call { task, .. })
            | Some(Waiter::Sleep(task))
            | Some(Waiter::Wakeup(task)) => {
                let (m, sz) = body.lua(lua)?;
                self.resume(task, (true, m, sz, session), errors);
                Ok(())
            }
        }
    }

    /// Resumes `task` and files what it yields.
    pub(super) fn resume(&self, task: Task, args: impl IntoLuaMulti, errors: &mut Errors) {
        self.state.lock().current = Some(task.key);
        // A tuple costs no allocation; only a CALL_PACKED's arguments do.
        let r = task.thread.resume::<Yielded>(args);
        self.file_yield(task, r, None, errors);
    }

    /// Files what `task` yielded (or how it failed). `spare` is an emptied
    /// argument list, kept for the next request.
    fn file_yield(
        &self,
        task: Task,
        r: mlua::Result<Yielded>,
        spare: Option<MultiValue>,
        errors: &mut Errors,
    ) {
        let mut st = self.state.lock();
        st.current = None;
        let held = st.room.take_held(task.key);
        // A list grown by a message of many values is let go, not kept.
        if let Some(spare) = spare.filter(|a| a.capacity() <= SPARE_ARGS_MAX) {
            st.spare_args = spare;
        }
        let Yielded {
            first,
            second,
            third,
            rest,
        } = match r {
            Ok(v) => v,
            Err(e) => {
                if let Some((session, source, _)) = st.requests.remove(&task.key) {
                    if session != 0 {
                        let _ = self.ctx.reply_error(source, session, Payload::empty());
                    }
                }
                self.trace_end(&mut st, task.key, "error");
                if is_memory_error(&e) {
                    self.out_of_memory.store(true, Ordering::Relaxed);
                }
                drop(st);
                let raised = error_text(&e);
                errors.push(raised.clone());
                // Closing runs the coroutine's to-be-closed variables, which
                // are given the error (skyhold's Lua keeps it for the close:
                // crates/lua-src-patched/PATCH.md).
                match task.thread.reset(self.trampoline.clone()) {
                    Ok(()) => self.park(task),
                    // Closing an errored coroutine reports an error again,
                    // as coroutine.close does: the same one, logged above,
                    // or a `__close` handler's own.
                    Err(e) => {
                        let text = error_text(&e);
                        if !same_error(&raised, &text) && !is_stale_slot(&text) {
                            errors.push(text);
                        }
                    }
                }
                return;
            }
        };
        // A task that returned has ended (what it returned is dropped); its
        // coroutine is parked finished, to be reset with the next function.
        if task.thread.is_finished() {
            self.trace_end(&mut st, task.key, "end");
            if let Some((session, source, ty)) = st.requests.remove(&task.key) {
                if session != 0 {
                    // skynet names where the handler was defined.
                    let place = st
                        .protocols
                        .handler(ty)
                        .map(|(f, _)| f.info())
                        .and_then(|i| Some(format!(" : {}:{}", i.source?, i.line_defined?)))
                        .unwrap_or_default();
                    self.ctx.log(&format!(
                        "Maybe forgot response session {session} from {source}{place}"
                    ));
                }
            }
            st.pool.park(task);
            return;
        }
        match int(Some(&first)) {
            Some(command::CALL) => {
                let addr = crate::sending::resolve(&self.ctx, &third);
                let (Some(session), Some(addr)) = (int(Some(&second)), addr) else {
                    errors.push("a call yielded without its session".into());
                    // The task is dropped: what it owes is failed, not left
                    // waiting until the service exits.
                    if let Some((session, source, _)) = st.requests.remove(&task.key) {
                        if session != 0 {
                            let _ = self.ctx.reply_error(source, session, Payload::empty());
                        }
                    }
                    return;
                };
                st.waiters.waiting.insert(
                    session as i32,
                    Waiter::Call {
                        task,
                        addr,
                        decode: false,
                    },
                );
            }
            Some(command::SLEEP) => {
                if let Some(session) = int(Some(&second)) {
                    st.waiters
                        .waiting
                        .insert(session as i32, Waiter::Sleep(task));
                }
            }
            Some(command::WAIT) => {
                if let Some(session) = int(Some(&second)) {
                    st.waiters
                        .waiting
                        .insert(session as i32, Waiter::Wakeup(task));
                }
            }
            Some(command::ROOM) => match st.room.file_held(task, held) {
                Some(targets) => self.room_waiting.store(targets, Ordering::Relaxed),
                // Only a send the runtime refused leaves a message to wait
                // with; a ROOM yielded by hand is dropped like any unknown
                // command.
                None => errors.push("a task waited for room with nothing to send".into()),
            },
            Some(command::SOCKET) => {
                if let Some(id) = int(Some(&second)) {
                    let session = self.ctx.new_session();
                    st.waiters.waiting.insert(session, Waiter::Wakeup(task));
                    st.readers.insert(id as i32, session);
                }
            }
            Some(command::CALL_PACKED) => {
                drop(st);
                self.call_packed(task, &second, &third, &rest, errors);
            }
            Some(command::QUIT) => {
                // skynet.exit: the exiting coroutine is closed too, last,
                // so its to-be-closed variables run.
                st.quitting = true;
                drop(st);
                if let Err(e) = task.thread.reset(self.trampoline.clone()) {
                    errors.push(error_text(&e));
                }
            }
            _ => {
                // A bare coroutine.yield in a handler: skynet drops the
                // coroutine, and so do we; a request it had not answered
                // gets an error now (skynet would leave its caller waiting
                // until the service exits).
                if let Some((session, source, _)) = st.requests.remove(&task.key) {
                    if session != 0 {
                        let _ = self.ctx.reply_error(source, session, Payload::empty());
                    }
                }
                let what = first.to_string().unwrap_or_default();
                if what != "nil" {
                    errors.push(format!("Unknown command : {what}"));
                }
            }
        }
    }
}

/// True when `closed`, the error closing a coroutine reported, is the one
/// it raised (`raised`, which may carry a traceback after it).
fn same_error(raised: &str, closed: &str) -> bool {
    raised == closed
        || raised
            .strip_prefix(closed)
            .is_some_and(|rest| rest.starts_with('\n'))
}

/// True for the error text of closing an errored coroutine whose
/// to-be-closed handlers raised nothing, on a Lua without skyhold's patch:
/// the function value mlua's stack guard left at the top of the dead
/// coroutine (`<function 0x…>`).
fn is_stale_slot(text: &str) -> bool {
    text.starts_with("<function") && text.ends_with('>') && !text.contains('\n')
}
