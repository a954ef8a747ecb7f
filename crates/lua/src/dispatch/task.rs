//! Task coroutines: the pool of parked ones reused for the next request,
//! the fork queue, and the body every task runs (Lua's own `xpcall`).

use mlua::{Function, Lua, MultiValue, Thread, Value};
use parking_lot::Mutex;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::{Dispatcher, Errors};

/// Coroutines kept parked for reuse.
const POOL_MAX: usize = 32;

/// Where the sandbox keeps Lua's own `xpcall` (before the budget's
/// wrapper replaces the global): the body every task coroutine runs.
pub(crate) const RAW_XPCALL: &str = "skyhold.raw_xpcall";

/// A task coroutine's body is Lua's own `xpcall`, resumed the first time
/// with `(f, on_error, args...)`: no Lua frame of ours, and a task that
/// raises unwinds inside the coroutine, so its to-be-closed variables are
/// closed with the error object, as `coroutine.close` closes a skynet task
/// (mlua's resume would drop that object from the coroutine's stack before
/// it is closed). The coroutine ends by returning `true, ...` or
/// `false, err`; the traceback of the raise is taken by [`on_error`] before
/// the unwinding, as skynet takes it before closing the coroutine.
pub(super) fn body(lua: &Lua) -> mlua::Result<Function> {
    lua.named_registry_value(RAW_XPCALL)
}

/// The traceback of the last error a task raised, left by [`on_error`] for
/// the dispatcher to log.
pub(super) type Raised = Arc<Mutex<Option<String>>>;

/// The message handler of every task's `xpcall`: notes the traceback of the
/// coroutine where the error was raised and returns the error object as it
/// is (so the to-be-closed variables see the object itself). Lua calls no
/// handler for a memory error; the dispatcher then finds none noted.
pub(super) fn on_error(lua: &Lua, raised: Raised) -> mlua::Result<Function> {
    lua.create_function(move |lua, e: Value| {
        let msg = match &e {
            Value::String(s) => s.to_string_lossy(),
            other => other
                .to_string()
                .unwrap_or_else(|_| format!("{}: {:p}", other.type_name(), other.to_pointer())),
        };
        // Level 1: from the function that raised, not this handler.
        let tb = lua
            .traceback(Some(&msg), 1)
            .map(|t| t.to_string_lossy())
            .unwrap_or(msg);
        *raised.lock() = Some(tb);
        Ok(e)
    })
}

/// A task coroutine and its identity (the address of its Lua thread, read
/// once: asking mlua for it costs a lock).
#[derive(Clone)]
pub(super) struct Task {
    pub(super) thread: Thread,
    pub(super) key: usize,
}

impl Task {
    pub(super) fn new(thread: Thread) -> Task {
        let key = thread.to_pointer() as usize;
        Task { thread, key }
    }
}

/// Finished coroutines kept for the next task, up to [`POOL_MAX`].
#[derive(Default)]
pub(super) struct Pool {
    parked: Vec<Task>,
}

impl Pool {
    /// The last coroutine parked, if any.
    pub(super) fn take(&mut self) -> Option<Task> {
        self.parked.pop()
    }

    /// Keeps `task` for reuse, unless the pool is full (then it is let go).
    pub(super) fn park(&mut self, task: Task) {
        if self.parked.len() < POOL_MAX {
            self.parked.push(task);
        }
    }
}

/// A `skynet.fork` waiting for the current message to end.
pub(super) struct Fork {
    pub(super) task: Task,
    pub(super) args: MultiValue,
}

impl Dispatcher {
    /// A parked coroutine reset to the task body, or a new one; `args`
    /// gets `f` and the message handler in front, to be the first resume's
    /// arguments.
    pub(super) fn task_for(
        &self,
        lua: &Lua,
        f: Value,
        args: &mut MultiValue,
    ) -> mlua::Result<Task> {
        args.push_front(Value::Function(self.on_error.clone()));
        args.push_front(f);
        self.fresh_task(lua)
    }

    /// A parked coroutine reset to the task body, or a new one, to be
    /// resumed first with `(f, on_error, args...)`.
    pub(super) fn fresh_task(&self, lua: &Lua) -> mlua::Result<Task> {
        let parked = self.state.lock().pool.take();
        match parked {
            Some(t) => {
                t.thread.reset(self.body.clone())?;
                Ok(t)
            }
            None => Ok(Task::new(lua.create_thread(self.body.clone())?)),
        }
    }

    /// Parks `task` for reuse.
    pub(super) fn park(&self, task: Task) {
        self.state.lock().pool.park(task);
    }

    /// Closes `task` (running its pending to-be-closed variables, with no
    /// error object) and leaves it ready for reuse.
    pub(super) fn close(&self, task: &Task) -> mlua::Result<()> {
        task.thread.reset(self.body.clone())
    }

    /// `skynet.fork`: a coroutine that will run `args[0](args[1..])` after
    /// the current message. (`xpcall` calls what is not a function, a
    /// table with `__call`, and raises Lua's own error for what cannot be
    /// called.)
    pub fn fork(&self, lua: &Lua, mut args: MultiValue) -> mlua::Result<Thread> {
        let f = args.pop_front().unwrap_or(Value::Nil);
        let task = self.task_for(lua, f, &mut args)?;
        let thread = task.thread.clone();
        self.state.lock().forks.push_back(Fork { task, args });
        self.pending.store(true, Ordering::Relaxed);
        Ok(thread)
    }

    /// Runs the queued forks, each followed by what it woke, until none
    /// are left or the service quits.
    pub(super) fn run_forks(&self, errors: &mut Errors) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn task(lua: &Lua) -> Task {
        let f = lua.create_function(|_, ()| Ok(())).unwrap();
        Task::new(lua.create_thread(f).unwrap())
    }

    #[test]
    fn the_pool_gives_back_the_last_parked_first() {
        let lua = Lua::new();
        let mut pool = Pool::default();
        assert!(pool.take().is_none());
        let (a, b) = (task(&lua), task(&lua));
        let (ka, kb) = (a.key, b.key);
        assert_ne!(ka, kb);
        pool.park(a);
        pool.park(b);
        assert_eq!(pool.take().map(|t| t.key), Some(kb));
        assert_eq!(pool.take().map(|t| t.key), Some(ka));
        assert!(pool.take().is_none());
    }

    #[test]
    fn the_pool_keeps_no_more_than_its_bound() {
        let lua = Lua::new();
        let mut pool = Pool::default();
        for _ in 0..POOL_MAX + 5 {
            pool.park(task(&lua));
        }
        let mut n = 0;
        while pool.take().is_some() {
            n += 1;
        }
        assert_eq!(n, POOL_MAX);
    }
}
