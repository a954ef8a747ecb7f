//! Task coroutines: the pool of parked ones reused for the next request,
//! the fork queue, and the trampoline a coroutine is reset to.

use mlua::{Function, Lua, MultiValue, Thread, Value};
use std::sync::atomic::Ordering;

use super::{Dispatcher, Errors};

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
pub(crate) const TASK_TRAMPOLINE: &str = r#"
return function(f, ...)
	return f(...)
end
"#;

/// The trampoline (see [`TASK_TRAMPOLINE`]), compiled in `lua`.
pub(super) fn trampoline(lua: &Lua) -> mlua::Result<Function> {
    crate::codecache::internal(lua, TASK_CHUNK, TASK_TRAMPOLINE)?.call(())
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
///
/// The first one to finish is let go, not kept: it is usually the one that
/// ran `skynet.start`'s function, and a service that sits idle after its
/// start (most of a node's agents, most of the time) would keep a spare
/// coroutine and its stack, about 1 KB, for nothing. A service that
/// does get work makes its second coroutine then, once, and keeps
/// coroutines from there on.
#[derive(Default)]
pub(super) struct Pool {
    parked: Vec<Task>,
    first_gone: bool,
}

impl Pool {
    /// The last coroutine parked, if any.
    pub(super) fn take(&mut self) -> Option<Task> {
        self.parked.pop()
    }

    /// Keeps `task` for reuse, unless the pool is full (then it is let go).
    pub(super) fn park(&mut self, task: Task) {
        if !self.first_gone {
            self.first_gone = true;
            return;
        }
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
    /// A parked coroutine reset to run `f`, or a new one made with it.
    pub(super) fn task_for(&self, lua: &Lua, f: Function) -> mlua::Result<Task> {
        let parked = self.state.lock().pool.take();
        match parked {
            Some(t) => {
                t.thread.reset(f)?;
                Ok(t)
            }
            None => Ok(Task::new(lua.create_thread(f)?)),
        }
    }

    /// Parks `task` for reuse.
    pub(super) fn park(&self, task: Task) {
        self.state.lock().pool.park(task);
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

/// A task whose coroutine does nothing, for the dispatcher's unit tests.
#[cfg(test)]
pub(super) fn idle_task(lua: &Lua) -> Task {
    let f = lua.create_function(|_, ()| Ok(())).unwrap();
    Task::new(lua.create_thread(f).unwrap())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(lua: &Lua) -> Task {
        idle_task(lua)
    }

    #[test]
    fn the_pool_gives_back_the_last_parked_first() {
        let lua = Lua::new();
        let mut pool = Pool::default();
        assert!(pool.take().is_none());
        pool.park(task(&lua));
        assert!(pool.take().is_none(), "the first one parked is let go");
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
        for _ in 0..POOL_MAX + 6 {
            pool.park(task(&lua));
        }
        let mut n = 0;
        while pool.take().is_some() {
            n += 1;
        }
        assert_eq!(n, POOL_MAX);
    }
}
