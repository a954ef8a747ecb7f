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
//! The state is split by concern, each part in its own module: the
//! protocols ([`protocols`]), the coroutines and forks ([`task`]), what
//! tasks wait for ([`waiters`]), sockets being read ([`readers`]), sends
//! held for room ([`room`]) and tracing ([`trace`]); [`run`] takes a
//! message through them.
//!
//! The lock on the state is never held while Lua runs: a task may call back
//! into `skynet.core`, which takes it again.

use mlua::{Function, Lua, MultiValue, Thread};
use parking_lot::Mutex;
use skyhold_core::fasthash::IntMap;
use skyhold_core::{Context, Handle, Payload};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

pub mod command;
mod protocols;
mod readers;
mod room;
mod run;
mod task;
mod trace;
mod waiters;

pub use crate::lua_error::error_text;
pub use crate::sending::{send_result, Outgoing, SendResult};
pub(crate) use task::{TASK_CHUNK, TASK_TRAMPOLINE};
pub use trace::hpc_ns;

use protocols::Protocols;
use readers::Readers;
use room::Room;
use task::{Fork, Pool, Task};
use trace::Tags;
use waiters::Waiters;

/// What went wrong while dispatching one message, for the host to log.
pub type Errors = Vec<String>;

/// Everything the dispatcher keeps under its lock, by concern.
#[derive(Default)]
struct State {
    protocols: Protocols,
    pool: Pool,
    forks: VecDeque<Fork>,
    waiters: Waiters,
    readers: Readers,
    room: Room,
    trace: Tags,
    /// thread → (session, source) of the request it still has to answer.
    /// A task's request: session, source, and the message type (whose
    /// handler a "Maybe forgot response" line names).
    requests: IntMap<usize, (i32, Handle, u8)>,
    /// The key of the task being resumed.
    current: Option<usize>,
    quitting: bool,
    /// The argument list of the last request, emptied: the next one fills
    /// it rather than allocate its own.
    spare_args: MultiValue,
}

/// One service's dispatcher (shared by the host and `skynet.core`).
pub struct Dispatcher {
    ctx: Context,
    /// The body for what is not a function (see [`task`]).
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
    /// The protocol class fields `set_proto` reads, made once: a string
    /// made from Rust once the state has a memory limit costs a protected
    /// call each time.
    proto_keys: [mlua::LuaString; 2],
}

impl Dispatcher {
    /// A dispatcher for the service behind `ctx`, running tasks in `lua`.
    pub fn new(lua: &Lua, ctx: Context) -> mlua::Result<Dispatcher> {
        Ok(Dispatcher {
            ctx,
            trampoline: task::trampoline(lua)?,
            state: Mutex::new(State::default()),
            room_waiting: AtomicUsize::new(0),
            out_of_memory: AtomicBool::new(false),
            pending: AtomicBool::new(false),
            filtered: AtomicBool::new(false),
            traced: AtomicUsize::new(0),
            proto_keys: [lua.create_string("dispatch")?, lua.create_string("unpack")?],
        })
    }

    /// The request the running task answers, taken (`ret`, `response`,
    /// `ignoreret`); `None` if it has none.
    pub fn take_request(&self) -> Option<(i32, Handle)> {
        let mut st = self.state.lock();
        let k = st.current?;
        st.requests
            .remove(&k)
            .map(|(session, source, _)| (session, source))
    }

    /// The request the running task answers, left in place (`context`).
    pub fn request(&self) -> Option<(i32, Handle)> {
        let st = self.state.lock();
        st.requests
            .get(&st.current?)
            .map(|&(session, source, _)| (session, source))
    }

    /// True (once) if a task failed for want of memory since the last look.
    pub fn take_out_of_memory(&self) -> bool {
        self.out_of_memory.swap(false, Ordering::Relaxed)
    }

    /// `skynet.killthread`: forgets everything `thread` waits for, fails the
    /// request it answers and closes it (running its to-be-closed variables).
    /// False if the dispatcher did not know it.
    pub fn kill_thread(&self, thread: &Thread) -> mlua::Result<bool> {
        let k = thread.to_pointer() as usize;
        let mut known = false;
        {
            let mut st = self.state.lock();
            known |= st.waiters.forget(k);
            let targets = st.room.forget(k);
            self.room_waiting.store(targets, Ordering::Relaxed);
            let before = st.forks.len();
            st.forks.retain(|f| f.task.key != k);
            known |= st.forks.len() != before;
            self.set_tag(&mut st, k, None);
            if let Some((session, source, _)) = st.requests.remove(&k) {
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
            st.trace.clear();
            self.traced.store(0, Ordering::Relaxed);
            for (_, (session, source, _)) in st.requests.drain() {
                if session != 0 {
                    let _ = self.ctx.reply_error(source, session, Payload::empty());
                }
            }
            let current = st.current;
            let mut v: Vec<Task> = Vec::new();
            st.waiters.drain_waiting(&mut v);
            st.room.drain(&mut v);
            st.waiters.drain_refused(&mut v);
            self.room_waiting.store(0, Ordering::Relaxed);
            v.retain(|t| Some(t.key) != current);
            v
        };
        for t in closing {
            let _ = t.thread.reset(self.trampoline.clone());
        }
        Ok(())
    }
}
