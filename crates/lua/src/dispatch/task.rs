//! Task coroutines: the body every one runs, the pool of parked ones reused
//! for the next request, and the fork queue.

use mlua::{Function, Lua, MultiValue, Thread, Value};
use std::sync::atomic::Ordering;

use super::{command, Dispatcher, Errors};

/// Coroutines kept parked for reuse.
const POOL_MAX: usize = 32;

/// The name the task body's chunk is loaded under.
pub(crate) const TASK_CHUNK: &str = "=task";

/// Every task coroutine runs this body, and keeps running it: the body calls
/// the task's function under `xpcall`, then yields `DONE` (or `FAILED` and
/// the error's text) and waits, suspended, to be resumed with the next
/// task's function and arguments. A coroutine is reused without being reset,
/// and a function that raises has its to-be-closed variables closed by the
/// unwinding `xpcall`, with the error object, as Lua closes them. The
/// message handler (`report`, in Rust) takes the traceback before the stack
/// unwinds. What is not a function fails in `xpcall`, with Lua's own error.
const TASK_BODY: &str = r#"
local yield = coroutine.yield
local xpcall, report, DONE, FAILED = ...
local body
body = function(f, ...)
	local ok, err = xpcall(f, report, ...)
	if ok then
		return body(yield(DONE))
	end
	return body(yield(FAILED, err))
end
return body
"#;

/// The task body (see [`TASK_BODY`]), compiled in `lua`.
pub(super) fn body(lua: &Lua) -> mlua::Result<Function> {
    let tostring: Function = lua.globals().get("tostring")?;
    // The message handler: the error's text, then the traceback from the
    // function that raised (level 1: this handler is level 0).
    let report = lua.create_function(move |lua, e: Value| {
        let text = match &e {
            Value::String(s) => s.to_string_lossy(),
            Value::Error(err) => crate::lua_error::message(err),
            other => tostring
                .call::<mlua::LuaString>(other)
                .map(|s| s.to_string_lossy())
                .unwrap_or_else(|_| other.type_name().to_string()),
        };
        let full = lua.traceback(Some(&text), 1)?;
        Ok(without_body_frames(&full.to_string_lossy()))
    })?;
    let xpcall: Function = match lua.named_registry_value(crate::sandbox::RAW_XPCALL)? {
        Value::Function(f) => f,
        _ => lua.globals().get("xpcall")?,
    };
    crate::codecache::internal(lua, TASK_CHUNK, TASK_BODY)?.call((
        xpcall,
        report,
        command::DONE,
        command::FAILED,
    ))
}

/// A traceback without its last frames, the task body's own (its `xpcall`
/// and the body function), which say nothing about the service's code.
fn without_body_frames(traceback: &str) -> String {
    let mut lines: Vec<&str> = traceback.lines().collect();
    while let Some(last) = lines.last() {
        let internal = last.starts_with("\ttask:")
            || last.starts_with("\tsandbox:")
            || *last == "\t[C]: in function 'xpcall'"
            || *last == "\t[C]: in upvalue '?'"
            || *last == "\t(...tail calls...)";
        if !internal {
            break;
        }
        lines.pop();
    }
    lines.join("\n")
}

/// A task coroutine and its identity (the address of its Lua thread, read
/// once: asking mlua for it costs a lock).
#[derive(Clone)]
pub(super) struct Task {
    pub(super) thread: Thread,
    pub(super) key: usize,
    /// The function the task runs, until its first resume passes it to
    /// the body.
    pub(super) start: Option<Function>,
}

impl Task {
    pub(super) fn new(thread: Thread) -> Task {
        let key = thread.to_pointer() as usize;
        Task {
            thread,
            key,
            start: None,
        }
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

    /// Makes sure the coroutine `key` is not kept (it cannot be reused).
    pub(super) fn forget(&mut self, key: usize) {
        self.parked.retain(|t| t.key != key);
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
    /// A parked coroutine, or a new one running the task body, that will
    /// run `f` (or, without one, the function its first resume passes).
    pub(super) fn task_for(&self, lua: &Lua, f: Option<Function>) -> mlua::Result<Task> {
        let parked = self.state.lock().pool.take();
        let mut task = match parked {
            Some(t) => t,
            None => Task::new(lua.create_thread(self.body.clone())?),
        };
        task.start = f;
        Ok(task)
    }

    /// Parks `task` for reuse.
    pub(super) fn park(&self, task: Task) {
        self.state.lock().pool.park(task);
    }

    /// `skynet.fork`: a coroutine that will run `args[0](args[1..])` after
    /// the current message.
    pub fn fork(&self, lua: &Lua, args: MultiValue) -> mlua::Result<Thread> {
        // The first argument is the function: the body calls it (and
        // raises Lua's own error for what cannot be called).
        let task = self.task_for(lua, None)?;
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
