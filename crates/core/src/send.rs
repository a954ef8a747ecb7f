//! Send admission: what the policy and the limits let through, sends,
//! calls and the sessions their replies are bound to, and the messages the
//! runtime itself queues (room notices, exit notices, failed requests).

use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::errors::SendError;
use crate::handle::Handle;
use crate::mailbox::{OpenError, Refused, ReplyRefused};
use crate::message::{ptype, Message, Payload};
use crate::state::{Cell, NodeInner};

impl NodeInner {
    /// What the policy and `max_message_bytes` say of a send, before any
    /// mailbox is looked at.
    fn check_send(
        &self,
        from: &Cell,
        ptype: u8,
        dest: Handle,
        size: usize,
    ) -> Result<(), SendError> {
        // PTYPE_CLIENT *to* a gate is a write request (skynet's C gate: the
        // last 4 bytes name the connection), which the gate checks itself;
        // the restriction is on services posing as a gate towards others.
        let to_gate = ptype == crate::message::ptype::CLIENT
            && self
                .registry
                .get(dest)
                .is_some_and(|c| c.identity.role.name == crate::policy::GATE_ROLE);
        if !to_gate && !from.identity.role.may_send(ptype) {
            let what = format!("send:{}", ptype::name(ptype));
            self.deny(from, &what, &dest.to_string());
            return Err(SendError::Denied { what });
        }
        if size > self.limits.max_message_bytes {
            return Err(SendError::TooLarge {
                size,
                max: self.limits.max_message_bytes,
            });
        }
        Ok(())
    }

    /// Sends as `from` with `source` as the visible sender; a reply with a
    /// session goes only to a caller waiting for it.
    pub fn send(
        &self,
        from: &Arc<Cell>,
        dest: Handle,
        source: Handle,
        ptype: u8,
        session: i32,
        payload: Payload,
    ) -> Result<(), SendError> {
        self.check_send(from, ptype, dest, payload.len())?;
        let target = self
            .registry
            .get(dest)
            .ok_or(SendError::UnknownAddress(dest))?;
        let msg = Message {
            source,
            origin: from.handle(),
            session,
            ptype,
            payload,
        };
        let schedule = if ptype::is_reply(ptype) && session != 0 {
            match target.mailbox.push_reply(msg, source) {
                Ok(s) => s,
                Err(ReplyRefused::Closed) => return Err(SendError::UnknownAddress(dest)),
                Err(_) => {
                    self.counters
                        .dropped_replies
                        .fetch_add(1, Ordering::Relaxed);
                    return Err(SendError::UnexpectedReply(dest));
                }
            }
        } else {
            self.admit(from, &target, msg)?
        };
        if schedule {
            self.schedule(target);
        }
        Ok(())
    }

    /// Pushes into `target`'s mailbox under `from`'s share; true if the
    /// target must be scheduled.
    fn admit(&self, from: &Cell, target: &Cell, msg: Message) -> Result<bool, SendError> {
        match target.mailbox.push(msg) {
            Ok(s) => Ok(s),
            Err(Refused::Closed) => Err(SendError::UnknownAddress(target.handle())),
            Err(why) => {
                from.stats.slowed.fetch_add(1, Ordering::Relaxed);
                self.counters.full_refusals.fetch_add(1, Ordering::Relaxed);
                Err(SendError::Full {
                    target: target.handle(),
                    why,
                })
            }
        }
    }

    /// Opens a call (or timer) session of `from` towards `callee`, within
    /// `max_open_calls`.
    pub(crate) fn open_session(&self, from: &Cell, callee: Handle) -> Result<i32, SendError> {
        // Skips sessions still open after the counter wrapped; bounded because
        // at most max_open_calls sessions can be open.
        for _ in 0..=self.limits.max_open_calls {
            let s = from.next_session();
            match from
                .mailbox
                .open_call(s, callee, self.limits.max_open_calls)
            {
                Ok(()) => return Ok(s),
                Err(OpenError::SessionInUse) => continue,
                Err(OpenError::TooMany) => break,
            }
        }
        self.counters
            .open_call_refusals
            .fetch_add(1, Ordering::Relaxed);
        Err(SendError::TooManyPending {
            limit: "max_open_calls",
            max: self.limits.max_open_calls,
        })
    }

    /// Sends a request as `from`; returns the session its reply carries.
    pub fn call(
        &self,
        from: &Arc<Cell>,
        dest: Handle,
        ptype: u8,
        payload: Payload,
    ) -> Result<i32, SendError> {
        self.check_send(from, ptype, dest, payload.len())?;
        let target = self
            .registry
            .get(dest)
            .ok_or(SendError::UnknownAddress(dest))?;
        let session = self.open_session(from, dest)?;
        let msg = Message {
            source: from.handle(),
            origin: from.handle(),
            session,
            ptype,
            payload,
        };
        match self.admit(from, &target, msg) {
            Ok(schedule) => {
                if schedule {
                    self.schedule(target);
                }
                Ok(session)
            }
            Err(e) => {
                from.mailbox.cancel_call(session);
                Err(e)
            }
        }
    }

    /// Tells `sender` that `target` has room for it again.
    pub fn notify_room(&self, sender: Handle, target: Handle) {
        if let Some(cell) = self.registry.get(sender) {
            if cell.mailbox.add_room(target) {
                self.schedule(cell);
            }
        }
    }

    /// Queues a runtime-made message (exit notices) outside any share.
    pub fn push_system(&self, to: Handle, msg: Message) {
        if let Some(cell) = self.registry.get(to) {
            if let Ok(true) = cell.mailbox.push_system(msg) {
                self.schedule(cell);
            }
        }
    }

    /// Fails request `session` of `to` on behalf of `from` (a reply the
    /// runtime owes for a service that cannot give it).
    pub fn fail_request(&self, to: Handle, from: Handle, session: i32) {
        if let Some(cell) = self.registry.get(to) {
            let msg = Message {
                source: from,
                origin: from,
                session,
                ptype: ptype::ERROR,
                payload: Payload::empty(),
            };
            if let Ok(true) = cell.mailbox.push_reply(msg, from) {
                self.schedule(cell);
            }
        }
    }
}
