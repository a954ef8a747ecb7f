//! The dispatcher: skynet's coroutine scheduling for one service, in Rust.
//!
//! Every request runs in a framework coroutine ("task"). A task that calls,
//! sleeps, waits or waits for mailbox room yields a command to the
//! dispatcher, which keeps the bookkeeping skynet.lua keeps in Lua tables:
//! which coroutine waits for which session, the request each task answers,
//! the wake-up, failed-call and fork queues, and a pool of parked
//! coroutines. `lualib/skynet.lua` is left with the few functions that must
//! yield, and those yield straight back here.
//!
//! The lock on the state is never held while Lua runs: a task may call back
//! into `skynet.core`, which takes it again.

use mlua::{Function, IntoLuaMulti, Lua, MultiValue, Table, Thread, Value};
use parking_lot::Mutex;
use skyhold_core::fasthash::IntMap;
use skyhold_core::{ptype, Context, Handle, Message, Payload, SendError};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use crate::seri;

/// The first value a task yields: what it is waiting for.
pub mod command {
    // 1 was `EXIT`: a task now ends by returning, and its coroutine is
    // parked finished, to be reset with the next task's function.
    /// `CALL, session, address`: waiting for a reply, delivered raw.
    pub const CALL: i64 = 2;
    // 3 was `CALL_DECODED`, which `CALL_PACKED` replaced.
    /// `SLEEP, session`: waiting for a timer or a wakeup.
    pub const SLEEP: i64 = 4;
    /// `WAIT, session`: waiting for a wakeup.
    pub const WAIT: i64 = 5;
    /// `ROOM, address`: waiting for room in that address's mailbox, right
    /// after a send the runtime refused and holds (see
    /// [`super::Dispatcher::hold`]); the task is resumed with that send's
    /// results once the message is out.
    pub const ROOM: i64 = 6;
    /// The service is exiting: run nothing more.
    pub const QUIT: i64 = 7;
    /// `SOCKET, id`: waiting for data on socket `id` (`skynet.socket`). The
    /// next data event for that socket resumes the task with the event's
    /// values; [`super::Dispatcher::wake_reader`] resumes it with
    /// `false, "BREAK"`.
    pub const SOCKET: i64 = 8;
    /// `CALL_PACKED, address, protocol id, values...`: pack the values with
    /// skynet.pack, call, and wait for the reply, delivered unpacked. The
    /// dispatcher sends it, so the call costs the task one yield and no
    /// callback; a full mailbox share parks the task until there is room.
    /// The task is resumed with `true, values...`, or `nil, reason` when
    /// the call cannot be made (a bad address, a value that cannot be
    /// packed).
    pub const CALL_PACKED: i64 = 9;
}

/// What a task yields, as the dispatcher reads it: three values, and the
/// rest (only `CALL_PACKED` has more, its arguments).
type Yielded = (Value, Value, Value, MultiValue);

/// The kind of a socket event that carries data (the first byte of a
/// PTYPE_SOCKET message from the socket server).
const SOCKET_DATA: u8 = 1;

/// The largest argument list kept for the next request.
const SPARE_ARGS_MAX: usize = 32;

/// Coroutines kept parked for reuse.
const POOL_MAX: usize = 32;

/// The name the task trampoline's chunk is loaded under.
pub(crate) const TASK_CHUNK: &str = "=task";

/// A task coroutine runs its function directly: the dispatcher resets a
/// parked (finished) coroutine with the function and resumes it with the
/// arguments, so a message costs no Lua frame of ours and the coroutine
/// ends by returning. This trampoline is the body only for what is called
/// but is not a function (a table with `__call` given to `skynet.fork`),
/// and what a closed coroutine is reset to.
const TASK_TRAMPOLINE: &str = r#"
return function(f, ...)
	return f(...)
end
"#;

/// A task coroutine and its identity (the address of its Lua thread, read
/// once: asking mlua for it costs a lock).
#[derive(Clone)]
struct Task {
    thread: Thread,
    key: usize,
}

impl Task {
    fn new(thread: Thread) -> Task {
        let key = thread.to_pointer() as usize;
        Task { thread, key }
    }
}

/// A protocol as registered, with what dispatching needs read out of its
/// class table.
struct Proto {
    dispatch: Option<Function>,
    unpack: Unpack,
}

#[derive(Clone)]
enum Unpack {
    /// A function known to [`crate::native_unpack`] (skynet.unpack,
    /// skynet.tostring, socketdriver.unpack): decoded in Rust from the
    /// message's bytes, no Lua string made. A filtered message that is no
    /// longer a string gives no values.
    Native(crate::native_unpack::Decode),
    /// Any other function: called with the message and its size.
    Lua(Function),
    /// None: the handler gets the message and its size.
    Raw,
}

enum Waiter {
    Call {
        task: Task,
        addr: Handle,
        decode: bool,
    },
    Sleep(Task),
    /// `skynet.wait`: only a wakeup ends it.
    Wakeup(Task),
    /// `skynet.timeout`: a coroutine, already reset to the function it
    /// will run.
    Start(Task),
    /// A sleeper that was woken early: its timer's reply is dropped.
    Break,
}

impl Waiter {
    fn task(&self) -> Option<&Task> {
        match self {
            Waiter::Call { task, .. }
            | Waiter::Sleep(task)
            | Waiter::Wakeup(task)
            | Waiter::Start(task) => Some(task),
            Waiter::Break => None,
        }
    }
}

struct Fork {
    task: Task,
    args: MultiValue,
}

/// A message a task could not send for want of room, which the dispatcher
/// sends for it, in turn, once there is room.
pub enum Outgoing {
    /// `c.send`: with `session` (0 for one-way), or a call (`None`: a new
    /// session, which the task is resumed with).
    Send {
        /// The protocol.
        ty: u8,
        /// The session it carries; `None` for a call.
        session: Option<i32>,
        /// The message.
        body: Vec<u8>,
    },
    /// `c.redirect`.
    Redirect {
        /// The source it is sent on behalf of.
        source: Handle,
        /// The protocol.
        ty: u8,
        /// The session it carries.
        session: i32,
        /// The message.
        body: Vec<u8>,
    },
    /// A `CALL_PACKED` request: once sent, the task waits for the reply.
    Call {
        /// The protocol.
        ty: u8,
        /// The packed arguments.
        body: Vec<u8>,
    },
}

/// A task waiting for room in one target's mailbox, with the message the
/// dispatcher sends for it before resuming it (or, for a call, filing it
/// to wait for the reply). The queue for a target is in the order the
/// sends were made, and only its head is tried: a service's messages to
/// one target keep their order, whichever task made them.
struct RoomWait {
    task: Task,
    out: Outgoing,
}

#[derive(Default)]
struct State {
    /// By id; a service registers a handful, so a short list beats a table
    /// of 256 (memory per service counts).
    protos: Vec<(u8, Proto)>,
    pool: Vec<Task>,
    /// thread → (session, source) of the request it still has to answer.
    requests: IntMap<usize, (i32, Handle)>,
    waiting: IntMap<i32, Waiter>,
    room: IntMap<Handle, VecDeque<RoomWait>>,
    wakeups: VecDeque<i32>,
    failed: VecDeque<i32>,
    /// Tasks whose `CALL_PACKED` could not be made, with the reason they
    /// are resumed with.
    refused: VecDeque<(Task, String)>,
    /// The message the running task could not send (its key, the target):
    /// filed with the task when it yields `ROOM`, dropped if it yields
    /// anything else.
    held: Option<(usize, Handle, Outgoing)>,
    forks: VecDeque<Fork>,
    /// The key of the task being resumed.
    current: Option<usize>,
    hooks: Option<Table>,
    filter: Option<Function>,
    quitting: bool,
    /// The argument list of the last request, emptied: the next one fills
    /// it rather than allocate its own.
    spare_args: MultiValue,
    /// A trace tag that applies to the next request from that source.
    trace_next: Option<(Handle, String)>,
    /// Trace tags of the tasks being traced.
    tags: IntMap<usize, String>,
    /// Socket id → the session of the task waiting there for data (filed
    /// as a `Waiter::Wakeup`).
    readers: IntMap<i32, i32>,
}

/// One service's dispatcher (shared by the host and `skynet.core`).
pub struct Dispatcher {
    ctx: Context,
    /// The body for what is not a function (see [`TASK_TRAMPOLINE`]).
    trampoline: Function,
    state: Mutex<State>,
    /// Addresses with coroutines waiting for room (read without the lock on
    /// every send).
    room_waiting: AtomicUsize,
    /// Set when a task failed for want of memory (the state's limit).
    out_of_memory: AtomicBool,
    /// Set when a wake-up, a failed call or a fork was queued: only then
    /// does a message end with `settle` and `run_forks` (most messages
    /// queue none, and each look costs the lock).
    pending: AtomicBool,
    /// Set while a filter is installed, so a message without one does not
    /// take the lock to find out.
    filtered: AtomicBool,
    /// How many tasks are traced, so a call from an untraced one does not
    /// take the lock to find out.
    traced: AtomicUsize,
}

/// True if `e` is, or was caused by, a failed allocation.
fn is_memory_error(e: &mlua::Error) -> bool {
    match e {
        mlua::Error::MemoryError(_) => true,
        mlua::Error::CallbackError { cause, .. } | mlua::Error::WithContext { cause, .. } => {
            is_memory_error(cause)
        }
        _ => false,
    }
}

fn int(v: Option<&Value>) -> Option<i64> {
    match v {
        Some(Value::Integer(i)) => Some(*i),
        Some(Value::Number(n)) if n.fract() == 0.0 => Some(*n as i64),
        _ => None,
    }
}

/// What went wrong while dispatching one message, for the host to log.
pub type Errors = Vec<String>;

/// The text of an error, without mlua's prefix.
pub fn error_text(e: &mlua::Error) -> String {
    match e {
        mlua::Error::RuntimeError(m) => m.clone(),
        mlua::Error::CallbackError { traceback, cause } => {
            format!("{}\n{traceback}", error_text(cause))
        }
        mlua::Error::WithContext { context, cause } => {
            format!("{context}: {}", error_text(cause))
        }
        other => other.to_string(),
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
    /// A dispatcher for the service behind `ctx`, running tasks in `lua`.
    pub fn new(lua: &Lua, ctx: Context) -> mlua::Result<Dispatcher> {
        let trampoline: Function =
            crate::codecache::internal(lua, TASK_CHUNK, TASK_TRAMPOLINE)?.call(())?;
        let state = State::default();
        Ok(Dispatcher {
            ctx,
            trampoline,
            state: Mutex::new(state),
            room_waiting: AtomicUsize::new(0),
            out_of_memory: AtomicBool::new(false),
            pending: AtomicBool::new(false),
            filtered: AtomicBool::new(false),
            traced: AtomicUsize::new(0),
        })
    }

    // -- What skynet.core asks of it ---------------------------------------

    /// Registers protocol `id` from its class table (`skynet.register_protocol`,
    /// and again whenever `skynet.dispatch` changes its handler). The
    /// handler and `unpack` are read now, not per message.
    pub fn set_proto(&self, lua: &Lua, id: u8, class: &Table) -> mlua::Result<()> {
        let dispatch: Option<Function> = class.raw_get("dispatch")?;
        let unpack: Value = class.raw_get("unpack")?;
        let mut st = self.state.lock();
        let unpack = match unpack {
            Value::Nil => Unpack::Raw,
            Value::Function(f) => match crate::native_unpack::lookup(lua, &f) {
                Some(decode) => Unpack::Native(decode),
                None => Unpack::Lua(f),
            },
            other => {
                return Err(mlua::Error::runtime(format!(
                    "protocol {id}: unpack must be a function, not a {}",
                    other.type_name()
                )))
            }
        };
        let proto = Proto { dispatch, unpack };
        match st.protos.iter_mut().find(|(i, _)| *i == id) {
            Some(slot) => slot.1 = proto,
            None => st.protos.push((id, proto)),
        }
        Ok(())
    }

    /// Lua functions for the cases skynet lets a service override:
    /// `unknown_request`, `unknown_response` and `trace`.
    pub fn set_hooks(&self, hooks: Table) {
        self.state.lock().hooks = Some(hooks);
    }

    /// A function every message goes through first (`skynet.filter`,
    /// `skynet.forward_type`); it returns the message to dispatch.
    pub fn set_filter(&self, f: Option<Function>) {
        let mut st = self.state.lock();
        self.filtered.store(f.is_some(), Ordering::Relaxed);
        st.filter = f;
    }

    /// True if a coroutine waits for room at `dest`: a new send must queue
    /// behind it to keep this service's messages to `dest` in order.
    pub fn must_wait_room(&self, dest: Handle) -> bool {
        self.room_waiting.load(Ordering::Relaxed) > 0 && self.state.lock().room.contains_key(&dest)
    }

    /// The request the running task answers, taken (`ret`, `response`,
    /// `ignoreret`); `None` if it has none.
    pub fn take_request(&self) -> Option<(i32, Handle)> {
        let mut st = self.state.lock();
        let k = st.current?;
        st.requests.remove(&k)
    }

    /// The request the running task answers, left in place (`context`).
    pub fn request(&self) -> Option<(i32, Handle)> {
        let st = self.state.lock();
        st.requests.get(&st.current?).copied()
    }

    /// A parked coroutine reset to run `f`, or a new one made with it.
    fn task_for(&self, lua: &Lua, f: Function) -> mlua::Result<Task> {
        let parked = self.state.lock().pool.pop();
        match parked {
            Some(t) => {
                t.thread.reset(f)?;
                Ok(t)
            }
            None => Ok(Task::new(lua.create_thread(f)?)),
        }
    }

    /// `skynet.fork`: a coroutine that will run `args[0](args[1..])` after
    /// the current message.
    pub fn fork(&self, lua: &Lua, mut args: MultiValue) -> mlua::Result<Thread> {
        let task = match args.front() {
            Some(Value::Function(f)) => {
                let f = f.clone();
                args.pop_front();
                self.task_for(lua, f)?
            }
            // Called through the trampoline, which raises Lua's own error
            // for what cannot be called.
            _ => self.task_for(lua, self.trampoline.clone())?,
        };
        let thread = task.thread.clone();
        self.state.lock().forks.push_back(Fork { task, args });
        self.pending.store(true, Ordering::Relaxed);
        Ok(thread)
    }

    /// `skynet.timeout`: a coroutine that runs `func` when timer `session` fires.
    pub fn start_on_timer(&self, lua: &Lua, session: i32, func: Function) -> mlua::Result<Thread> {
        let task = self.task_for(lua, func)?;
        let thread = task.thread.clone();
        self.state
            .lock()
            .waiting
            .insert(session, Waiter::Start(task));
        Ok(thread)
    }

    /// `skynet.wakeup`: breaks the sleep or wait on `session` (after the
    /// running task suspends). False if nothing sleeps there.
    pub fn wakeup(&self, session: i32) -> bool {
        let mut st = self.state.lock();
        match st.waiting.get(&session) {
            Some(Waiter::Sleep(_)) | Some(Waiter::Wakeup(_)) => {
                st.wakeups.push_back(session);
                self.pending.store(true, Ordering::Relaxed);
                true
            }
            _ => false,
        }
    }

    /// Breaks the wait of the task reading socket `id` (it resumes with
    /// `false, "BREAK"` after the running task suspends). False if no task
    /// reads there.
    pub fn wake_reader(&self, id: i32) -> bool {
        let session = self.state.lock().readers.remove(&id);
        session.is_some_and(|s| self.wakeup(s))
    }

    /// Fails the call on `session`, or, with session 0, every call to
    /// `addr` (it is gone). Used by the "error" protocol and `skynet.term`.
    pub fn fail_calls(&self, session: i32, addr: Handle) {
        let mut st = self.state.lock();
        if session == 0 {
            let mut gone: Vec<i32> = st
                .waiting
                .iter()
                .filter_map(|(s, w)| match w {
                    Waiter::Call { addr: a, .. } if *a == addr => Some(*s),
                    _ => None,
                })
                .collect();
            gone.sort_unstable();
            st.failed.extend(gone);
        } else if matches!(st.waiting.get(&session), Some(Waiter::Call { .. })) {
            st.failed.push_back(session);
        }
        if !st.failed.is_empty() {
            self.pending.store(true, Ordering::Relaxed);
        }
    }

    /// The coroutines waiting on a session (`skynet.task`), by session.
    pub fn tasks(&self) -> Vec<(i32, Thread)> {
        let st = self.state.lock();
        let mut v: Vec<(i32, Thread)> = st
            .waiting
            .iter()
            .filter_map(|(s, w)| match w {
                Waiter::Call { task, .. } | Waiter::Sleep(task) | Waiter::Wakeup(task) => {
                    Some((*s, task.thread.clone()))
                }
                _ => None,
            })
            .collect();
        v.sort_unstable_by_key(|(s, _)| *s);
        v
    }

    /// `skynet.killthread`: forgets everything `thread` waits for, fails the
    /// request it answers and closes it (running its to-be-closed variables).
    /// False if the dispatcher did not know it.
    pub fn kill_thread(&self, thread: &Thread) -> mlua::Result<bool> {
        let k = thread.to_pointer() as usize;
        let mut known = false;
        {
            let mut st = self.state.lock();
            let before = st.waiting.len();
            st.waiting.retain(|_, w| w.task().map(|t| t.key) != Some(k));
            known |= st.waiting.len() != before;
            for q in st.room.values_mut() {
                q.retain(|w| w.task.key != k);
            }
            let before = st.refused.len();
            st.refused.retain(|(t, _)| t.key != k);
            known |= st.refused.len() != before;
            st.room.retain(|_, q| !q.is_empty());
            self.room_waiting.store(st.room.len(), Ordering::Relaxed);
            let before = st.forks.len();
            st.forks.retain(|f| f.task.key != k);
            known |= st.forks.len() != before;
            self.set_tag(&mut st, k, None);
            if let Some((session, source)) = st.requests.remove(&k) {
                known = true;
                if session != 0 {
                    let _ = self.ctx.reply_error(source, session, Payload::empty());
                }
            }
        }
        if known {
            thread.reset(self.trampoline.clone())?;
        }
        Ok(known)
    }

    /// `skynet.exit`: drops the fork queue, fails every request still owed
    /// and closes every waiting coroutine but the running one.
    pub fn exit_tasks(&self) -> mlua::Result<()> {
        let closing: Vec<Task> = {
            let mut st = self.state.lock();
            st.forks.clear();
            st.tags.clear();
            self.traced.store(0, Ordering::Relaxed);
            for (_, (session, source)) in st.requests.drain() {
                if session != 0 {
                    let _ = self.ctx.reply_error(source, session, Payload::empty());
                }
            }
            let current = st.current;
            let mut v: Vec<Task> = st
                .waiting
                .drain()
                .filter_map(|(_, w)| w.task().cloned())
                .collect();
            for (_, q) in st.room.drain() {
                v.extend(q.into_iter().map(|w| w.task));
            }
            v.extend(st.refused.drain(..).map(|(t, _)| t));
            self.room_waiting.store(0, Ordering::Relaxed);
            v.retain(|t| Some(t.key) != current);
            v
        };
        for t in closing {
            let _ = t.thread.reset(self.trampoline.clone());
        }
        Ok(())
    }

    // -- Tracing ---------------------------------------------------------------

    /// `skynet.trace`: starts tracing the running task under a new tag and
    /// returns it. `None` outside a task.
    pub fn trace(&self, info: Option<&str>) -> Option<String> {
        let k = self.state.lock().current?;
        let tag = format!(":{:08x}-{}", self.ctx.handle().0, self.ctx.new_session());
        self.trace_log(&tag, &format!("trace {}", info.unwrap_or("")));
        let mut st = self.state.lock();
        self.set_tag(&mut st, k, Some(tag.clone()));
        Some(tag)
    }

    /// `skynet.tracetag`: the running task's trace tag.
    pub fn trace_tag(&self) -> Option<String> {
        if self.traced.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let st = self.state.lock();
        st.tags.get(&st.current?).cloned()
    }

    /// Writes one trace line: `<TRACE tag> nanoseconds text`.
    pub fn trace_log(&self, tag: &str, text: &str) {
        self.ctx
            .log(&format!("<TRACE {tag}> {} {text}", crate::api::hpc_ns()));
    }

    /// Before the running task calls `dest`: if it is traced, the tag goes
    /// ahead of the call (PTYPE_TRACE), so the callee's task is traced too.
    pub fn trace_call(&self, dest: Handle) {
        if let Some(tag) = self.trace_tag() {
            self.trace_ahead(&tag, dest);
        }
    }

    /// Logs a traced task's call to `dest` and sends its tag ahead.
    fn trace_ahead(&self, tag: &str, dest: Handle) {
        self.trace_log(tag, &format!("call {dest}"));
        let _ = self.ctx.send(dest, ptype::TRACE, 0, Payload::from(tag));
    }

    /// A task ended: its trace (if any) ends with it.
    fn trace_end(&self, st: &mut State, key: usize, how: &str) {
        if let Some(tag) = self.set_tag(st, key, None) {
            self.trace_log(&tag, how);
        }
    }

    /// Tags task `key` (or, with `None`, untags it; the old tag is
    /// returned), keeping the count `trace_tag` reads without the lock.
    fn set_tag(&self, st: &mut State, key: usize, tag: Option<String>) -> Option<String> {
        let old = match tag {
            Some(t) => st.tags.insert(key, t),
            None => st.tags.remove(&key),
        };
        self.traced.store(st.tags.len(), Ordering::Relaxed);
        old
    }

    // -- What the host asks of it -------------------------------------------

    /// True (once) if a task failed for want of memory since the last look.
    pub fn take_out_of_memory(&self) -> bool {
        self.out_of_memory.swap(false, Ordering::Relaxed)
    }

    /// Handles one message: wakes the coroutine waiting for a reply, or runs
    /// the protocol's dispatch function in a task; then the wake-ups it
    /// caused and the forks it queued.
    pub fn message(&self, lua: &Lua, msg: &Message, errors: &mut Errors) {
        let filter = if self.filtered.load(Ordering::Relaxed) {
            self.state.lock().filter.clone()
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

    /// A target has room again: the messages waiting for it go out, first
    /// in line first, each task going on once its message is out. A message
    /// still refused stays first in line until the next time.
    pub fn room(&self, target: Handle, errors: &mut Errors) {
        loop {
            let next = {
                let mut st = self.state.lock();
                let Some(q) = st.room.get_mut(&target) else {
                    break;
                };
                let next = q.pop_front();
                if q.is_empty() {
                    st.room.remove(&target);
                }
                self.room_waiting.store(st.room.len(), Ordering::Relaxed);
                next
            };
            let Some(RoomWait { task, out }) = next else {
                break;
            };
            match self.try_send(task.key, target, &out) {
                Err(SendError::Full { .. }) => {
                    let mut st = self.state.lock();
                    let q = st.room.entry(target).or_default();
                    q.push_front(RoomWait { task, out });
                    self.room_waiting.store(st.room.len(), Ordering::Relaxed);
                    break;
                }
                r => self.sent(task, target, &out, r, errors),
            }
            self.settle(errors);
        }
        self.run_forks(errors);
    }

    /// Holds `out`, which the running task could not send to `dest` for
    /// want of room: the dispatcher sends it when the task yields `ROOM`.
    /// Outside a task nothing is held (nothing there can wait).
    pub fn hold(&self, dest: Handle, out: Outgoing) {
        let mut st = self.state.lock();
        st.held = st.current.map(|k| (k, dest, out));
    }

    /// Sends `out` to `dest` for task `key`: a session for a call, else the
    /// message's session.
    fn try_send(&self, key: usize, dest: Handle, out: &Outgoing) -> Result<i32, SendError> {
        match out {
            Outgoing::Send {
                ty,
                session: Some(s),
                body,
            } => self
                .ctx
                .send(dest, *ty, *s, Payload::from(body.as_slice()))
                .map(|()| *s),
            Outgoing::Send {
                ty,
                session: None,
                body,
            }
            | Outgoing::Call { ty, body } => {
                self.trace_task_call(key, dest);
                self.ctx.call(dest, *ty, Payload::from(body.as_slice()))
            }
            Outgoing::Redirect {
                source,
                ty,
                session,
                body,
            } => self
                .ctx
                .redirect(dest, *source, *ty, *session, Payload::from(body.as_slice()))
                .map(|()| *session),
        }
    }

    /// After a held message went out (or failed for good): a call waits for
    /// its reply; a send's task goes on with what `c.send` would have
    /// returned.
    fn sent(
        &self,
        task: Task,
        dest: Handle,
        out: &Outgoing,
        r: Result<i32, SendError>,
        errors: &mut Errors,
    ) {
        if let Outgoing::Call { .. } = out {
            return match r {
                Ok(session) => {
                    let call = Waiter::Call {
                        task,
                        addr: dest,
                        decode: true,
                    };
                    self.state.lock().waiting.insert(session, call);
                }
                Err(SendError::UnknownAddress(_)) | Err(SendError::UnexpectedReply(_)) => {
                    self.refuse(task, invalid_address(&Value::Integer(i64::from(dest.0))))
                }
                Err(e) => self.refuse(task, e.to_string()),
            };
        }
        self.resume(task, send_result(r), errors);
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
        let (dispatch, unpack, mut args) = {
            let mut st = self.state.lock();
            let spare = std::mem::take(&mut st.spare_args);
            match st.protos.iter().find(|(i, _)| *i == ty).map(|(_, p)| p) {
                Some(Proto {
                    dispatch: Some(f),
                    unpack,
                }) => (Some(f.clone()), unpack.clone(), spare),
                _ => (None, Unpack::Raw, spare),
            }
        };
        let Some(dispatch) = dispatch else {
            if ty == ptype::TRACE {
                let tag = match &body {
                    Body::Bytes(b) => String::from_utf8_lossy(b).into_owned(),
                    Body::Lua(v, _) => v.to_string().unwrap_or_default(),
                };
                self.state.lock().trace_next = Some((source, tag));
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
        let (task, traced) = self.begin_request(lua, dispatch, session, source)?;
        if let Some(tag) = traced {
            self.trace_log(&tag, &format!("request from {source}"));
        }
        let r = task.thread.resume::<Yielded>(&args);
        args.clear();
        self.file_yield(task, r, Some(args), errors);
        Ok(())
    }

    /// For a data event (`event`, a socket message's bytes) on a socket a
    /// task waits to read: that task, made current, with the socket
    /// protocol's native decoder and the spare argument list. `None` when
    /// the event must go to the protocol's handler.
    fn take_reader(
        &self,
        event: &[u8],
    ) -> Option<(Task, crate::native_unpack::Decode, MultiValue)> {
        if event.len() < 9 || event[0] != SOCKET_DATA {
            return None;
        }
        let id = i32::from_le_bytes([event[1], event[2], event[3], event[4]]);
        let mut st = self.state.lock();
        let session = *st.readers.get(&id)?;
        let decode = match st.protos.iter().find(|(i, _)| *i == ptype::SOCKET) {
            Some((
                _,
                Proto {
                    dispatch: Some(_),
                    unpack: Unpack::Native(d),
                },
            )) => *d,
            _ => return None,
        };
        st.readers.remove(&id);
        match st.waiting.remove(&session) {
            Some(Waiter::Wakeup(task)) => {
                st.current = Some(task.key);
                let spare = std::mem::take(&mut st.spare_args);
                Some((task, decode, spare))
            }
            Some(other) => {
                st.waiting.insert(session, other);
                None
            }
            None => None,
        }
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
    ) -> mlua::Result<(Task, Option<String>)> {
        let task = self.task_for(lua, dispatch)?;
        let mut st = self.state.lock();
        st.requests.insert(task.key, (session, source));
        let traced = match st.trace_next.take() {
            Some((from, tag)) if from == source => {
                self.set_tag(&mut st, task.key, Some(tag.clone()));
                Some(tag)
            }
            _ => None,
        };
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
            let wait = st.waiting.remove(&session);
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

    fn hook(&self, name: &str, args: impl IntoLuaMulti) -> mlua::Result<()> {
        let hooks = self.state.lock().hooks.clone();
        match hooks.map(|h| h.raw_get::<Option<Function>>(name)) {
            Some(Ok(Some(f))) => f.call::<()>(args),
            Some(Err(e)) => Err(e),
            _ => Err(mlua::Error::runtime(format!(
                "no handler for this message ({name})"
            ))),
        }
    }

    /// Resumes `task` and files what it yields.
    fn resume(&self, task: Task, args: impl IntoLuaMulti, errors: &mut Errors) {
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
        let held = st.held.take().filter(|(k, _, _)| *k == task.key);
        // A list grown by a message of many values is let go, not kept.
        if let Some(spare) = spare.filter(|a| a.capacity() <= SPARE_ARGS_MAX) {
            st.spare_args = spare;
        }
        let (first, second, third, rest) = match r {
            Ok(v) => v,
            Err(e) => {
                if let Some((session, source)) = st.requests.remove(&task.key) {
                    if session != 0 {
                        let _ = self.ctx.reply_error(source, session, Payload::empty());
                    }
                }
                self.trace_end(&mut st, task.key, "error");
                if is_memory_error(&e) {
                    self.out_of_memory.store(true, Ordering::Relaxed);
                }
                drop(st);
                errors.push(error_text(&e));
                // Closing runs the coroutine's to-be-closed variables.
                match task.thread.reset(self.trampoline.clone()) {
                    Ok(()) => self.park(task),
                    Err(e) => errors.push(error_text(&e)),
                }
                return;
            }
        };
        // A task that returned has ended (what it returned is dropped); its
        // coroutine is parked finished, to be reset with the next function.
        if task.thread.is_finished() {
            self.trace_end(&mut st, task.key, "end");
            if let Some((session, source)) = st.requests.remove(&task.key) {
                if session != 0 {
                    self.ctx.log(&format!(
                        "Maybe forgot response session {session} from {source}"
                    ));
                }
            }
            if st.pool.len() < POOL_MAX {
                st.pool.push(task);
            }
            return;
        }
        match int(Some(&first)) {
            Some(command::CALL) => {
                let addr = crate::api::resolve(&self.ctx, &third);
                let (Some(session), Some(addr)) = (int(Some(&second)), addr) else {
                    errors.push("a call yielded without its session".into());
                    return;
                };
                st.waiting.insert(
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
                    st.waiting.insert(session as i32, Waiter::Sleep(task));
                }
            }
            Some(command::WAIT) => {
                if let Some(session) = int(Some(&second)) {
                    st.waiting.insert(session as i32, Waiter::Wakeup(task));
                }
            }
            Some(command::ROOM) => match held {
                Some((_, dest, out)) => {
                    st.room
                        .entry(dest)
                        .or_default()
                        .push_back(RoomWait { task, out });
                    self.room_waiting.store(st.room.len(), Ordering::Relaxed);
                }
                // Only a send the runtime refused leaves a message to wait
                // with; a ROOM yielded by hand is dropped like any unknown
                // command.
                None => errors.push("a task waited for room with nothing to send".into()),
            },
            Some(command::SOCKET) => {
                if let Some(id) = int(Some(&second)) {
                    let session = self.ctx.new_session();
                    st.waiting.insert(session, Waiter::Wakeup(task));
                    st.readers.insert(id as i32, session);
                }
            }
            Some(command::CALL_PACKED) => {
                drop(st);
                self.call_packed(task, &second, &third, &rest, errors);
            }
            Some(command::QUIT) => st.quitting = true,
            _ => {
                // A bare coroutine.yield in a handler: skynet drops the
                // coroutine, and so do we (its request was answered or is
                // reported as forgotten).
                let what = first.to_string().unwrap_or_default();
                if what != "nil" {
                    errors.push(format!("Unknown command : {what}"));
                }
            }
        }
    }

    fn park(&self, task: Task) {
        let mut st = self.state.lock();
        if st.pool.len() < POOL_MAX {
            st.pool.push(task);
        }
    }

    /// Runs the queued wake-ups, then the failed calls, until none are left.
    fn settle(&self, errors: &mut Errors) {
        enum Next {
            Woken(Task, i32),
            Failed(Task),
            Refused(Task, String),
            Skip,
        }
        loop {
            let next = {
                let mut st = self.state.lock();
                if st.quitting {
                    return;
                }
                if let Some(session) = st.wakeups.pop_front() {
                    match st.waiting.remove(&session) {
                        Some(Waiter::Sleep(t)) => {
                            // The timer still fires; its reply is dropped.
                            st.waiting.insert(session, Waiter::Break);
                            Next::Woken(t, session)
                        }
                        Some(Waiter::Wakeup(t)) => Next::Woken(t, session),
                        Some(other) => {
                            st.waiting.insert(session, other);
                            Next::Skip
                        }
                        None => Next::Skip,
                    }
                } else if let Some(session) = st.failed.pop_front() {
                    match st.waiting.remove(&session) {
                        Some(Waiter::Call { task, .. }) => Next::Failed(task),
                        Some(other) => {
                            st.waiting.insert(session, other);
                            Next::Skip
                        }
                        None => Next::Skip,
                    }
                } else if let Some((task, why)) = st.refused.pop_front() {
                    Next::Refused(task, why)
                } else {
                    return;
                }
            };
            match next {
                Next::Woken(t, session) => {
                    self.resume(t, (false, "BREAK", Value::Nil, session), errors)
                }
                Next::Failed(t) => self.resume(t, false, errors),
                Next::Refused(t, why) => self.resume(t, (Value::Nil, why), errors),
                Next::Skip => {}
            }
        }
    }

    /// A task yielded `CALL_PACKED, addr, ty, values...`: packs the values
    /// and makes the call for it (see [`command::CALL_PACKED`]).
    fn call_packed(
        &self,
        task: Task,
        addr: &Value,
        ty: &Value,
        values: &MultiValue,
        errors: &mut Errors,
    ) {
        let Some(ty) = int(Some(ty)).and_then(|t| u8::try_from(t).ok()) else {
            return self.refuse(
                task,
                "call: the protocol id must be a number from 0 to 255".into(),
            );
        };
        let Some(dest) = crate::api::resolve(&self.ctx, addr) else {
            return self.refuse(task, invalid_address(addr));
        };
        match seri::pack_slice(values) {
            Ok(bytes) => self.place_call(task, dest, ty, bytes, errors),
            Err(e) => self.refuse(task, error_text(&e)),
        }
    }

    /// Sends `task`'s request to `dest` and files the task to wait for the
    /// reply, or behind the messages already waiting for room there.
    fn place_call(&self, task: Task, dest: Handle, ty: u8, body: Vec<u8>, errors: &mut Errors) {
        let out = Outgoing::Call { ty, body };
        if self.must_wait_room(dest) {
            return self.wait_room(dest, RoomWait { task, out });
        }
        match self.try_send(task.key, dest, &out) {
            Err(SendError::Full { .. }) => self.wait_room(dest, RoomWait { task, out }),
            r => self.sent(task, dest, &out, r, errors),
        }
    }

    /// If task `key` is traced, its tag goes ahead of its call to `dest`.
    fn trace_task_call(&self, key: usize, dest: Handle) {
        if self.traced.load(Ordering::Relaxed) == 0 {
            return;
        }
        let tag = self.state.lock().tags.get(&key).cloned();
        if let Some(tag) = tag {
            self.trace_ahead(&tag, dest);
        }
    }

    fn wait_room(&self, dest: Handle, w: RoomWait) {
        let mut st = self.state.lock();
        st.room.entry(dest).or_default().push_back(w);
        self.room_waiting.store(st.room.len(), Ordering::Relaxed);
    }

    /// Resumes `task` with `nil, why` once the running task has suspended.
    fn refuse(&self, task: Task, why: String) {
        self.state.lock().refused.push_back((task, why));
        self.pending.store(true, Ordering::Relaxed);
    }

    fn run_forks(&self, errors: &mut Errors) {
        loop {
            let fork = {
                let mut st = self.state.lock();
                if st.quitting {
                    return;
                }
                st.forks.pop_front()
            };
            let Some(fork) = fork else { return };
            self.resume(fork.task, fork.args, errors);
            self.settle(errors);
        }
    }
}

/// skynet's error for a call to an address that names no service.
fn invalid_address(addr: &Value) -> String {
    let shown = match addr {
        Value::Integer(i) => format!(":{i:08x}"),
        other => other
            .to_string()
            .unwrap_or_else(|_| other.type_name().into()),
    };
    format!("call to invalid address {shown}")
}

/// What a send gives Lua, in three values (a tuple: no list to allocate):
/// the session (0 for one-way), `nil` for a bad address, `false` for a
/// message too large, `nil, "FULL"` when the share is full, and
/// `nil, "ERROR", text` otherwise.
pub type SendResult = (Value, Option<&'static str>, Option<String>);

/// Maps a send's outcome for Lua (see [`SendResult`]).
pub fn send_result(r: Result<i32, SendError>) -> SendResult {
    match r {
        Ok(session) => (Value::Integer(i64::from(session)), None, None),
        Err(SendError::UnknownAddress(_)) | Err(SendError::UnexpectedReply(_)) => {
            (Value::Nil, None, None)
        }
        Err(SendError::TooLarge { .. }) => (Value::Boolean(false), None, None),
        Err(SendError::Full { .. }) => (Value::Nil, Some("FULL"), None),
        Err(e) => (Value::Nil, Some("ERROR"), Some(e.to_string())),
    }
}
