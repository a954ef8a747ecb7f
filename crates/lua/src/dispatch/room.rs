//! Sends held for want of room: the one path every send takes when the
//! target's mailbox share is full ([`Dispatcher::send_in_turn`]), the
//! queues of tasks waiting for room per target, and their release when
//! the target has room again.

use mlua::{MultiValue, Value};
use skyhold_core::fasthash::IntMap;
use skyhold_core::{Handle, Payload, SendError};
use std::collections::VecDeque;
use std::sync::atomic::Ordering;

use super::run::int;
use super::task::Task;
use super::waiters::Waiter;
use super::{Dispatcher, Errors};
use crate::lua_error::error_text;
use crate::sending::{invalid_address, send_result, Outgoing};
use crate::seri;

/// A task waiting for room in one target's mailbox, with the message the
/// dispatcher sends for it before resuming it (or, for a call, filing it
/// to wait for the reply). The queue for a target is in the order the
/// sends were made, and only its head is tried: a service's messages to
/// one target keep their order, whichever task made them.
pub(super) struct RoomWait {
    task: Task,
    out: Outgoing,
}

/// The queues of tasks waiting for room, by target, and the message the
/// running task could not send.
#[derive(Default)]
pub(super) struct Room {
    queues: IntMap<Handle, VecDeque<RoomWait>>,
    /// The message the running task could not send (its key, the target):
    /// filed with the task when it yields `ROOM`, dropped if it yields
    /// anything else.
    held: Option<(usize, Handle, Outgoing)>,
}

impl Room {
    /// True if a task waits for room at `dest`.
    fn waits_at(&self, dest: Handle) -> bool {
        self.queues.contains_key(&dest)
    }

    /// Files `w` last in line at `dest`; the number of targets waited on.
    fn push_back(&mut self, dest: Handle, w: RoomWait) -> usize {
        self.queues.entry(dest).or_default().push_back(w);
        self.queues.len()
    }

    /// Puts `w` back first in line at `dest`; the number of targets waited on.
    fn push_front(&mut self, dest: Handle, w: RoomWait) -> usize {
        self.queues.entry(dest).or_default().push_front(w);
        self.queues.len()
    }

    /// Takes the first in line at `dest`; `None` if none waits there.
    fn pop_front(&mut self, dest: Handle) -> Option<RoomWait> {
        let q = self.queues.get_mut(&dest)?;
        let next = q.pop_front();
        if q.is_empty() {
            self.queues.remove(&dest);
        }
        next
    }

    /// The number of targets waited on.
    fn targets(&self) -> usize {
        self.queues.len()
    }

    /// Holds `out` for task `current` (nothing outside a task).
    fn hold(&mut self, current: Option<usize>, dest: Handle, out: Outgoing) {
        self.held = current.map(|k| (k, dest, out));
    }

    /// The held message, if task `key` held it; dropped either way.
    pub(super) fn take_held(&mut self, key: usize) -> Option<(Handle, Outgoing)> {
        self.held
            .take()
            .filter(|(k, _, _)| *k == key)
            .map(|(_, dest, out)| (dest, out))
    }

    /// Files `task`, which yielded `ROOM`, behind the others at the target
    /// of the message it held (see [`Room::take_held`]); the number of
    /// targets waited on, or `None` if it held none.
    pub(super) fn file_held(
        &mut self,
        task: Task,
        held: Option<(Handle, Outgoing)>,
    ) -> Option<usize> {
        let (dest, out) = held?;
        Some(self.push_back(dest, RoomWait { task, out }))
    }

    /// Forgets every wait of task `key`; the number of targets waited on.
    pub(super) fn forget(&mut self, key: usize) -> usize {
        for q in self.queues.values_mut() {
            q.retain(|w| w.task.key != key);
        }
        self.queues.retain(|_, q| !q.is_empty());
        self.queues.len()
    }

    /// Empties every queue into `into` (their tasks).
    pub(super) fn drain(&mut self, into: &mut Vec<Task>) {
        for (_, q) in self.queues.drain() {
            into.extend(q.into_iter().map(|w| w.task));
        }
    }
}

impl Dispatcher {
    /// True if a coroutine waits for room at `dest`: a new send must queue
    /// behind it to keep this service's messages to `dest` in order.
    pub fn must_wait_room(&self, dest: Handle) -> bool {
        self.room_waiting.load(Ordering::Relaxed) > 0 && self.state.lock().room.waits_at(dest)
    }

    /// The one way a send meets a full mailbox: sends with `send` unless
    /// this service's earlier messages to `dest` still wait for room.
    /// `None` when the message must wait its turn (behind those, or because
    /// the target's share is full): nothing went out, and the caller holds
    /// the message ([`Dispatcher::hold`], or a queue of its own for a task
    /// that has already yielded). `send` is generic so the message path
    /// costs no indirect call.
    #[inline]
    pub fn send_in_turn(
        &self,
        dest: Handle,
        send: impl FnOnce() -> Result<i32, SendError>,
    ) -> Option<Result<i32, SendError>> {
        if self.must_wait_room(dest) {
            return None;
        }
        match send() {
            Err(SendError::Full { .. }) => None,
            r => Some(r),
        }
    }

    /// Holds `out`, which the running task could not send to `dest` for
    /// want of room: the dispatcher sends it when the task yields `ROOM`.
    /// Outside a task nothing is held (nothing there can wait).
    pub fn hold(&self, dest: Handle, out: Outgoing) {
        let mut st = self.state.lock();
        let current = st.current;
        st.room.hold(current, dest, out);
    }

    /// A target has room again: the messages waiting for it go out, first
    /// in line first, each task going on once its message is out. A message
    /// still refused stays first in line until the next time.
    pub fn room(&self, target: Handle, errors: &mut Errors) {
        loop {
            let next = {
                let mut st = self.state.lock();
                let next = st.room.pop_front(target);
                self.room_waiting
                    .store(st.room.targets(), Ordering::Relaxed);
                next
            };
            let Some(RoomWait { task, out }) = next else {
                break;
            };
            match self.try_send(task.key, target, &out) {
                Err(SendError::Full { .. }) => {
                    let targets = self
                        .state
                        .lock()
                        .room
                        .push_front(target, RoomWait { task, out });
                    self.room_waiting.store(targets, Ordering::Relaxed);
                    break;
                }
                r => self.sent(task, target, &out, r, errors),
            }
            self.settle(errors);
        }
        self.run_forks(errors);
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
                    self.state.lock().waiters.waiting.insert(session, call);
                }
                Err(SendError::UnknownAddress(_)) | Err(SendError::UnexpectedReply(_)) => {
                    self.refuse(task, invalid_address(&Value::Integer(i64::from(dest.0))))
                }
                Err(e) => self.refuse(task, e.to_string()),
            };
        }
        self.resume(task, send_result(r), errors);
    }

    /// A task yielded `CALL_PACKED, addr, ty, values...`: packs the values
    /// and makes the call for it (see [`super::command::CALL_PACKED`]).
    pub(super) fn call_packed(
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
        let Some(dest) = crate::sending::resolve(&self.ctx, addr) else {
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
        match self.send_in_turn(dest, || self.try_send(task.key, dest, &out)) {
            Some(r) => self.sent(task, dest, &out, r, errors),
            None => self.wait_room(dest, RoomWait { task, out }),
        }
    }

    fn wait_room(&self, dest: Handle, w: RoomWait) {
        let targets = self.state.lock().room.push_back(dest, w);
        self.room_waiting.store(targets, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mlua::Lua;

    fn wait(lua: &Lua, n: u8) -> RoomWait {
        let f = lua.create_function(|_, ()| Ok(())).unwrap();
        let task = Task::new(lua.create_thread(f).unwrap());
        let out = Outgoing::Send {
            ty: n,
            session: Some(0),
            body: vec![n],
        };
        RoomWait { task, out }
    }

    fn ty(w: &RoomWait) -> u8 {
        match w.out {
            Outgoing::Send { ty, .. } => ty,
            _ => unreachable!("only sends are queued here"),
        }
    }

    #[test]
    fn a_target_queue_keeps_the_order_of_sends() {
        let lua = Lua::new();
        let mut room = Room::default();
        let (a, b) = (Handle(1), Handle(2));
        assert_eq!(room.push_back(a, wait(&lua, 1)), 1);
        assert_eq!(room.push_back(a, wait(&lua, 2)), 1);
        assert_eq!(room.push_back(b, wait(&lua, 3)), 2);
        assert!(room.waits_at(a));
        let first = room.pop_front(a).unwrap();
        assert_eq!(ty(&first), 1);
        // Still refused: back at the head, ahead of the later send.
        room.push_front(a, first);
        assert_eq!(room.pop_front(a).map(|w| ty(&w)), Some(1));
        assert_eq!(room.pop_front(a).map(|w| ty(&w)), Some(2));
        assert!(!room.waits_at(a), "an emptied queue is let go");
        assert_eq!(room.targets(), 1);
        assert!(room.pop_front(a).is_none());
    }

    #[test]
    fn a_held_send_is_only_the_holders() {
        let lua = Lua::new();
        let mut room = Room::default();
        let w = wait(&lua, 1);
        room.hold(Some(7), Handle(1), w.out);
        assert!(room.take_held(8).is_none(), "another task's yield drops it");
        assert!(room.take_held(7).is_none());
        room.hold(Some(7), Handle(1), wait(&lua, 2).out);
        assert!(matches!(room.take_held(7), Some((Handle(1), _))));
        room.hold(None, Handle(1), wait(&lua, 3).out);
        assert!(
            room.take_held(7).is_none(),
            "nothing is held outside a task"
        );
    }

    #[test]
    fn forgetting_a_task_empties_its_place_in_line() {
        let lua = Lua::new();
        let mut room = Room::default();
        let w = wait(&lua, 1);
        let key = w.task.key;
        room.push_back(Handle(1), w);
        room.push_back(Handle(2), wait(&lua, 2));
        assert_eq!(room.forget(key), 1);
        let mut tasks = Vec::new();
        room.drain(&mut tasks);
        assert_eq!(tasks.len(), 1);
        assert_eq!(room.targets(), 0);
    }
}
