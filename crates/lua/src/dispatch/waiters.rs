//! What suspended tasks wait for: a reply, a timer, a wakeup, and the
//! queues of wake-ups, failed calls and refused calls that resume them
//! once the running task has suspended.

use mlua::{Function, Lua, Thread, Value};
use skyhold_core::fasthash::IntMap;
use skyhold_core::Handle;
use std::collections::VecDeque;
use std::sync::atomic::Ordering;

use super::task::Task;
use super::{Dispatcher, Errors};

/// What the task filed under a session waits for.
pub(super) enum Waiter {
    /// A reply from `addr`: raw, or unpacked (`decode`) after `true`.
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

/// The next thing to resume once the running task has suspended.
pub(super) enum Next {
    /// A sleep or wait broken by a wakeup, on its session.
    Woken(Task, i32),
    /// A call whose target is gone.
    Failed(Task),
    /// A `CALL_PACKED` that could not be made, and why.
    Refused(Task, String),
    /// A queued entry that no longer applies.
    Skip,
}

/// Tasks by the session they wait on, and what is queued to resume them.
#[derive(Default)]
pub(super) struct Waiters {
    pub(super) waiting: IntMap<i32, Waiter>,
    wakeups: VecDeque<i32>,
    failed: VecDeque<i32>,
    /// Tasks whose `CALL_PACKED` could not be made, with the reason they
    /// are resumed with.
    refused: VecDeque<(Task, String)>,
}

impl Waiters {
    /// Queues a wakeup for the sleep or wait on `session`; false if nothing
    /// sleeps or waits there.
    pub(super) fn wakeup(&mut self, session: i32) -> bool {
        match self.waiting.get(&session) {
            Some(Waiter::Sleep(_)) | Some(Waiter::Wakeup(_)) => {
                self.wakeups.push_back(session);
                true
            }
            _ => false,
        }
    }

    /// Queues the failure of the call on `session`, or, with session 0, of
    /// every call to `addr`. True if any failure is queued.
    pub(super) fn fail_calls(&mut self, session: i32, addr: Handle) -> bool {
        if session == 0 {
            let mut gone: Vec<i32> = self
                .waiting
                .iter()
                .filter_map(|(s, w)| match w {
                    Waiter::Call { addr: a, .. } if *a == addr => Some(*s),
                    _ => None,
                })
                .collect();
            gone.sort_unstable();
            self.failed.extend(gone);
        } else if matches!(self.waiting.get(&session), Some(Waiter::Call { .. })) {
            self.failed.push_back(session);
        }
        !self.failed.is_empty()
    }

    /// Queues `task` to be resumed with `nil, why`.
    pub(super) fn refuse(&mut self, task: Task, why: String) {
        self.refused.push_back((task, why));
    }

    /// The next wake-up, then failed call, then refused call; `None` when
    /// none is queued.
    pub(super) fn next(&mut self) -> Option<Next> {
        if let Some(session) = self.wakeups.pop_front() {
            return Some(match self.waiting.remove(&session) {
                Some(Waiter::Sleep(t)) => {
                    // The timer still fires; its reply is dropped.
                    self.waiting.insert(session, Waiter::Break);
                    Next::Woken(t, session)
                }
                Some(Waiter::Wakeup(t)) => Next::Woken(t, session),
                Some(other) => {
                    self.waiting.insert(session, other);
                    Next::Skip
                }
                None => Next::Skip,
            });
        }
        if let Some(session) = self.failed.pop_front() {
            return Some(match self.waiting.remove(&session) {
                Some(Waiter::Call { task, .. }) => Next::Failed(task),
                Some(other) => {
                    self.waiting.insert(session, other);
                    Next::Skip
                }
                None => Next::Skip,
            });
        }
        self.refused
            .pop_front()
            .map(|(task, why)| Next::Refused(task, why))
    }

    /// The coroutines waiting on a session, by session.
    pub(super) fn tasks(&self) -> Vec<(i32, Thread)> {
        let mut v: Vec<(i32, Thread)> = self
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

    /// Forgets every wait and refusal of task `key`; true if there was any.
    pub(super) fn forget(&mut self, key: usize) -> bool {
        let (waiting, refused) = (self.waiting.len(), self.refused.len());
        self.waiting
            .retain(|_, w| w.task().map(|t| t.key) != Some(key));
        self.refused.retain(|(t, _)| t.key != key);
        self.waiting.len() != waiting || self.refused.len() != refused
    }

    /// Empties the waits into `into` (their tasks).
    pub(super) fn drain_waiting(&mut self, into: &mut Vec<Task>) {
        into.extend(self.waiting.drain().filter_map(|(_, w)| w.task().cloned()));
    }

    /// Empties the refused calls into `into` (their tasks).
    pub(super) fn drain_refused(&mut self, into: &mut Vec<Task>) {
        into.extend(self.refused.drain(..).map(|(t, _)| t));
    }
}

impl Dispatcher {
    /// `skynet.timeout`: a coroutine that runs `func` when timer `session` fires.
    pub fn start_on_timer(&self, lua: &Lua, session: i32, func: Function) -> mlua::Result<Thread> {
        let task = self.task_for(lua, func)?;
        let thread = task.thread.clone();
        self.state
            .lock()
            .waiters
            .waiting
            .insert(session, Waiter::Start(task));
        Ok(thread)
    }

    /// `skynet.wakeup`: breaks the sleep or wait on `session` (after the
    /// running task suspends). False if nothing sleeps there.
    pub fn wakeup(&self, session: i32) -> bool {
        let woken = self.state.lock().waiters.wakeup(session);
        if woken {
            self.pending.store(true, Ordering::Relaxed);
        }
        woken
    }

    /// Fails the call on `session`, or, with session 0, every call to
    /// `addr` (it is gone). Used by the "error" protocol and `skynet.term`.
    pub fn fail_calls(&self, session: i32, addr: Handle) {
        if self.state.lock().waiters.fail_calls(session, addr) {
            self.pending.store(true, Ordering::Relaxed);
        }
    }

    /// The coroutines waiting on a session (`skynet.task`), by session.
    pub fn tasks(&self) -> Vec<(i32, Thread)> {
        self.state.lock().waiters.tasks()
    }

    /// Resumes `task` with `nil, why` once the running task has suspended.
    pub(super) fn refuse(&self, task: Task, why: String) {
        self.state.lock().waiters.refuse(task, why);
        self.pending.store(true, Ordering::Relaxed);
    }

    /// Runs the queued wake-ups, then the failed calls, until none are left.
    pub(super) fn settle(&self, errors: &mut Errors) {
        loop {
            let next = {
                let mut st = self.state.lock();
                if st.quitting {
                    return;
                }
                match st.waiters.next() {
                    Some(next) => next,
                    None => return,
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(lua: &Lua) -> Task {
        super::super::task::idle_task(lua)
    }

    #[test]
    fn a_wakeup_breaks_a_sleep_and_leaves_its_timer_dropped() {
        let lua = Lua::new();
        let mut w = Waiters::default();
        let t = task(&lua);
        let key = t.key;
        w.waiting.insert(5, Waiter::Sleep(t));
        assert!(!w.wakeup(6), "nothing sleeps on 6");
        assert!(w.wakeup(5));
        match w.next() {
            Some(Next::Woken(t, 5)) => assert_eq!(t.key, key),
            _ => panic!("the sleeper is woken"),
        }
        assert!(matches!(w.waiting.get(&5), Some(Waiter::Break)));
        assert!(w.next().is_none());
    }

    #[test]
    fn a_gone_address_fails_its_calls_in_session_order() {
        let lua = Lua::new();
        let mut w = Waiters::default();
        for s in [9, 3, 7] {
            let call = Waiter::Call {
                task: task(&lua),
                addr: Handle(1),
                decode: false,
            };
            w.waiting.insert(s, call);
        }
        w.waiting.insert(4, Waiter::Sleep(task(&lua)));
        assert!(!w.fail_calls(0, Handle(2)), "no call to 2");
        assert!(w.fail_calls(0, Handle(1)));
        for _ in 0..3 {
            assert!(matches!(w.next(), Some(Next::Failed(_))));
        }
        assert!(w.next().is_none());
        assert_eq!(w.waiting.len(), 1, "the sleep is left");
    }

    #[test]
    fn wakeups_go_before_failures_and_refusals_last() {
        let lua = Lua::new();
        let mut w = Waiters::default();
        w.refuse(task(&lua), "no".into());
        let call = Waiter::Call {
            task: task(&lua),
            addr: Handle(1),
            decode: true,
        };
        w.waiting.insert(1, call);
        w.waiting.insert(2, Waiter::Wakeup(task(&lua)));
        assert!(w.fail_calls(1, Handle(1)));
        assert!(w.wakeup(2));
        assert!(matches!(w.next(), Some(Next::Woken(_, 2))));
        assert!(matches!(w.next(), Some(Next::Failed(_))));
        assert!(matches!(w.next(), Some(Next::Refused(_, why)) if why == "no"));
        assert!(w.next().is_none());
    }

    #[test]
    fn forgetting_a_task_drops_its_waits_only() {
        let lua = Lua::new();
        let mut w = Waiters::default();
        let (a, b) = (task(&lua), task(&lua));
        let key = a.key;
        w.waiting.insert(1, Waiter::Sleep(a.clone()));
        w.waiting.insert(2, Waiter::Wakeup(b));
        w.refuse(a, "x".into());
        assert!(w.forget(key));
        assert!(!w.forget(key), "nothing left of it");
        assert_eq!(w.tasks().len(), 1);
    }
}
