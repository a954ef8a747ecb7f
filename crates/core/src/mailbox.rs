//! One service's mailbox: bounded, fair per sender, and the one place where
//! replies are checked against the calls they answer.
//!
//! Admission of an ordinary message from sender `S`:
//! 1. `S` may have at most `sender_messages` messages and `sender_bytes` bytes
//!    queued here (its fair share); past that `S` is told the mailbox is full
//!    *for it* and is woken when half of its share has drained.
//! 2. The whole mailbox holds `mailbox_messages` / `mailbox_bytes`; past that
//!    only senders with fewer than `mailbox_guaranteed` queued messages get in,
//!    so a flood never locks out a service that sends now and then.
//!
//! Memory is therefore bounded by the mailbox limits plus
//! `mailbox_guaranteed` messages per live service.
//!
//! A RESPONSE or ERROR with a session is admitted without limits, but only if
//! this service has an open call with that session to exactly the responder;
//! anything else is refused and counted. Replies owed to a waiting caller are
//! thereby never refused, and forged ones never queued.

use parking_lot::Mutex;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use crate::fasthash::IntMap;
use crate::handle::Handle;
use crate::limits::Limits;
use crate::message::Message;

/// The mailbox limits, copied from [`Limits`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MailboxLimits {
    /// See [`Limits::mailbox_messages`].
    pub messages: usize,
    /// See [`Limits::mailbox_bytes`].
    pub bytes: usize,
    /// See [`Limits::sender_messages`].
    pub sender_messages: usize,
    /// See [`Limits::sender_bytes`].
    pub sender_bytes: usize,
    /// See [`Limits::mailbox_guaranteed`].
    pub guaranteed: usize,
}

impl From<&Limits> for MailboxLimits {
    fn from(l: &Limits) -> Self {
        MailboxLimits {
            messages: l.mailbox_messages,
            bytes: l.mailbox_bytes,
            sender_messages: l.sender_messages,
            sender_bytes: l.sender_bytes,
            guaranteed: l.mailbox_guaranteed,
        }
    }
}

/// Why a message was not queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// The sender's fair share of this mailbox is used up.
    SenderShareFull,
    /// The mailbox is full and the sender already has its guaranteed minimum queued.
    MailboxFull,
    /// The service has retired.
    Closed,
}

/// Why a call could not be opened.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpenError {
    /// A call with this session is still open (after the counter wrapped).
    SessionInUse,
    /// `max_open_calls` calls are open.
    TooMany,
}

/// Why a reply was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyRefused {
    /// No open call has this session.
    NoSuchCall,
    /// The call with this session went to another service.
    WrongResponder,
    /// The service has retired.
    Closed,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Share {
    messages: usize,
    bytes: usize,
    blocked: bool,
}

#[derive(Debug)]
struct Queued {
    msg: Message,
    charged: bool,
}

#[derive(Debug, Default)]
struct State {
    queue: VecDeque<Queued>,
    charged_messages: usize,
    charged_bytes: usize,
    /// Payload bytes of every queued message, system ones included.
    queued_bytes: usize,
    shares: IntMap<Handle, Share>,
    open_calls: IntMap<i32, Handle>,
    room: Vec<Handle>,
    in_global: bool,
    closed: bool,
    poked: bool,
    /// The length past which the next "May overload" warning is due
    /// (skynet's: 1024, doubled at each warning, back to 1024 once empty).
    overload_threshold: usize,
}

impl State {
    /// Marks the mailbox as having work; true if the caller must schedule it.
    fn claim_schedule(&mut self) -> bool {
        if self.in_global {
            false
        } else {
            self.in_global = true;
            true
        }
    }
}

/// What a retiring mailbox leaves behind, for the runtime to answer.
#[derive(Debug, Default)]
pub struct Leftovers {
    /// Messages still queued.
    pub messages: Vec<Message>,
    /// Services this one was waiting on (open calls), without duplicates.
    pub callees: Vec<Handle>,
    /// Senders waiting for room here: they must be woken to learn it is gone.
    pub blocked_senders: Vec<Handle>,
}

/// A bounded, fair mailbox.
#[derive(Debug)]
pub struct Mailbox {
    limits: MailboxLimits,
    state: Mutex<State>,
    refused: AtomicU64,
    dropped_replies: AtomicU64,
    /// The length a pop found past the overload threshold, not yet reported
    /// (0: none). Outside the lock: the worker reads it once per batch.
    overload: AtomicUsize,
}

/// The queue length of skynet's first "May overload" warning.
pub const OVERLOAD_THRESHOLD: usize = 1024;

impl Mailbox {
    /// An empty mailbox. It starts "scheduled" so that the runtime can run
    /// the service's initialisation before anything else.
    pub fn new(limits: MailboxLimits) -> Mailbox {
        Mailbox {
            limits,
            state: Mutex::new(State {
                in_global: true,
                overload_threshold: OVERLOAD_THRESHOLD,
                ..State::default()
            }),
            refused: AtomicU64::new(0),
            dropped_replies: AtomicU64::new(0),
            overload: AtomicUsize::new(0),
        }
    }

    /// The limits this mailbox enforces.
    pub fn limits(&self) -> MailboxLimits {
        self.limits
    }

    /// Queues an ordinary message, charged to `msg.origin` (the real sender).
    /// `Ok(true)` means the caller must put this service on the run queue.
    pub fn push(&self, msg: Message) -> Result<bool, Refused> {
        let size = msg.payload.len();
        let l = &self.limits;
        let mut s = self.state.lock();
        if s.closed {
            return Err(Refused::Closed);
        }
        let full =
            s.charged_messages >= l.messages || s.charged_bytes.saturating_add(size) > l.bytes;
        let share = s.shares.entry(msg.origin).or_default();
        let verdict = if share.messages >= l.sender_messages
            || (share.messages > 0 && share.bytes.saturating_add(size) > l.sender_bytes)
        {
            Some(Refused::SenderShareFull)
        } else if full && share.messages >= l.guaranteed {
            Some(Refused::MailboxFull)
        } else {
            None
        };
        if let Some(why) = verdict {
            share.blocked = true;
            drop(s);
            self.refused.fetch_add(1, Ordering::Relaxed);
            return Err(why);
        }
        share.messages += 1;
        share.bytes += size;
        s.charged_messages += 1;
        s.charged_bytes += size;
        s.queued_bytes += size;
        s.queue.push_back(Queued { msg, charged: true });
        Ok(s.claim_schedule())
    }

    /// Queues a message from the runtime itself (timer, socket event, exit
    /// notice), outside any sender's share.
    pub fn push_system(&self, msg: Message) -> Result<bool, Refused> {
        let mut s = self.state.lock();
        if s.closed {
            return Err(Refused::Closed);
        }
        s.queued_bytes += msg.payload.len();
        s.queue.push_back(Queued {
            msg,
            charged: false,
        });
        Ok(s.claim_schedule())
    }

    /// Queues a RESPONSE or ERROR from `responder` if it answers an open call
    /// of this service; the call is then closed.
    pub fn push_reply(&self, msg: Message, responder: Handle) -> Result<bool, ReplyRefused> {
        let mut s = self.state.lock();
        if s.closed {
            return Err(ReplyRefused::Closed);
        }
        match s.open_calls.get(&msg.session) {
            Some(callee) if *callee == responder => {
                s.open_calls.remove(&msg.session);
            }
            found => {
                let why = if found.is_some() {
                    ReplyRefused::WrongResponder
                } else {
                    ReplyRefused::NoSuchCall
                };
                drop(s);
                self.dropped_replies.fetch_add(1, Ordering::Relaxed);
                return Err(why);
            }
        }
        s.queued_bytes += msg.payload.len();
        s.queue.push_back(Queued {
            msg,
            charged: false,
        });
        Ok(s.claim_schedule())
    }

    /// Records that this service now waits for a reply with `session` from
    /// `callee`.
    pub fn open_call(
        &self,
        session: i32,
        callee: Handle,
        max_open: usize,
    ) -> Result<(), OpenError> {
        let mut s = self.state.lock();
        if s.open_calls.contains_key(&session) {
            return Err(OpenError::SessionInUse);
        }
        if s.open_calls.len() >= max_open {
            return Err(OpenError::TooMany);
        }
        s.open_calls.insert(session, callee);
        Ok(())
    }

    /// Forgets an open call (the request could not be sent).
    pub fn cancel_call(&self, session: i32) {
        self.state.lock().open_calls.remove(&session);
    }

    /// True if a call with `session` is open.
    pub fn is_open(&self, session: i32) -> bool {
        self.state.lock().open_calls.contains_key(&session)
    }

    /// Number of open calls.
    pub fn open_calls(&self) -> usize {
        self.state.lock().open_calls.len()
    }

    /// Moves up to `max` messages into `out` and the room notices into
    /// `room`. Senders whose share has drained enough to send again are
    /// appended to `wake`. When there is nothing at all, the service leaves
    /// the run queue and this returns false.
    pub fn pop_or_release(
        &self,
        max: usize,
        out: &mut Vec<Message>,
        wake: &mut Vec<Handle>,
        room: &mut Vec<Handle>,
    ) -> bool {
        let mut s = self.state.lock();
        if s.queue.is_empty() {
            s.overload_threshold = OVERLOAD_THRESHOLD;
            if s.room.is_empty() && !s.poked {
                s.in_global = false;
                return false;
            }
        }
        s.poked = false;
        room.append(&mut s.room);
        self.pop_locked(&mut s, max, out, wake);
        true
    }

    /// The queue length a pop found past the overload threshold since the
    /// last call, once (skynet's "May overload" warning), or `None`.
    pub fn take_overload(&self) -> Option<usize> {
        if self.overload.load(Ordering::Relaxed) == 0 {
            return None;
        }
        Some(self.overload.swap(0, Ordering::Relaxed)).filter(|n| *n > 0)
    }

    /// Moves up to `max` messages into `out`. Senders whose share has drained
    /// enough to send again are appended to `wake`.
    pub fn pop_batch(&self, max: usize, out: &mut Vec<Message>, wake: &mut Vec<Handle>) {
        let mut s = self.state.lock();
        self.pop_locked(&mut s, max, out, wake);
    }

    fn pop_locked(
        &self,
        s: &mut State,
        max: usize,
        out: &mut Vec<Message>,
        wake: &mut Vec<Handle>,
    ) {
        let l = &self.limits;
        let half_messages = l.sender_messages / 2;
        let half_bytes = l.sender_bytes / 2;
        for _ in 0..max {
            let Some(q) = s.queue.pop_front() else { break };
            s.queued_bytes -= q.msg.payload.len();
            if q.charged {
                let size = q.msg.payload.len();
                s.charged_messages -= 1;
                s.charged_bytes -= size;
                let origin = q.msg.origin;
                if let Some(share) = s.shares.get_mut(&origin) {
                    share.messages -= 1;
                    share.bytes -= size;
                    if share.messages == 0 {
                        if share.blocked {
                            wake.push(origin);
                        }
                        s.shares.remove(&origin);
                    } else if share.blocked
                        && share.messages <= half_messages
                        && share.bytes <= half_bytes
                    {
                        share.blocked = false;
                        wake.push(origin);
                    }
                }
            }
            out.push(q.msg);
            // What is left after this pop, as skynet measures it.
            let left = s.queue.len();
            if left > s.overload_threshold {
                while left > s.overload_threshold {
                    s.overload_threshold *= 2;
                }
                self.overload.store(left, Ordering::Relaxed);
            }
        }
    }

    /// Notes that `target` has room again for this service; true if the
    /// caller must schedule this service.
    pub fn add_room(&self, target: Handle) -> bool {
        let mut s = self.state.lock();
        if s.closed {
            return false;
        }
        if !s.room.contains(&target) {
            s.room.push(target);
        }
        s.claim_schedule()
    }

    /// Takes the room notices.
    pub fn take_room(&self, out: &mut Vec<Handle>) {
        let mut s = self.state.lock();
        out.append(&mut s.room);
    }

    /// Asks for the service to be run even with no message (to retire it);
    /// true if the caller must schedule it.
    pub fn poke(&self) -> bool {
        let mut s = self.state.lock();
        s.poked = true;
        s.claim_schedule()
    }

    /// Ends a worker's turn. Returns true if there is more work (the service
    /// stays scheduled); otherwise the service leaves the run queue.
    pub fn finish_turn(&self) -> bool {
        let mut s = self.state.lock();
        s.poked = false;
        if s.queue.is_empty() && s.room.is_empty() {
            s.in_global = false;
            false
        } else {
            true
        }
    }

    /// Closes the mailbox for good and returns what is left in it.
    pub fn close(&self) -> Leftovers {
        let mut s = self.state.lock();
        s.closed = true;
        let messages = s.queue.drain(..).map(|q| q.msg).collect();
        let mut callees: Vec<Handle> = s.open_calls.values().copied().collect();
        callees.sort_unstable();
        callees.dedup();
        let blocked_senders = s
            .shares
            .iter()
            .filter(|(_, sh)| sh.blocked)
            .map(|(h, _)| *h)
            .collect();
        s.shares.clear();
        s.open_calls.clear();
        s.room.clear();
        s.charged_messages = 0;
        s.charged_bytes = 0;
        s.queued_bytes = 0;
        Leftovers {
            messages,
            callees,
            blocked_senders,
        }
    }

    /// True once closed.
    pub fn is_closed(&self) -> bool {
        self.state.lock().closed
    }

    /// Messages queued now.
    pub fn len(&self) -> usize {
        self.state.lock().queue.len()
    }

    /// Payload bytes queued now (every message, the runtime's included).
    pub fn queued_bytes(&self) -> usize {
        self.state.lock().queued_bytes
    }

    /// True if nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Messages and bytes `sender` has queued here now.
    pub fn share_of(&self, sender: Handle) -> (usize, usize) {
        let s = self.state.lock();
        s.shares
            .get(&sender)
            .map(|sh| (sh.messages, sh.bytes))
            .unwrap_or((0, 0))
    }

    /// Times a sender was refused here because of the limits.
    pub fn refused_count(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Replies dropped here because they answered no open call of ours.
    pub fn dropped_reply_count(&self) -> u64 {
        self.dropped_replies.load(Ordering::Relaxed)
    }

    #[cfg(test)]
    fn check_invariants(&self) {
        let s = self.state.lock();
        let charged: Vec<&Queued> = s.queue.iter().filter(|q| q.charged).collect();
        assert_eq!(charged.len(), s.charged_messages);
        let bytes: usize = charged.iter().map(|q| q.msg.payload.len()).sum();
        assert_eq!(bytes, s.charged_bytes);
        let share_sum: usize = s.shares.values().map(|sh| sh.messages).sum();
        assert_eq!(share_sum, s.charged_messages);
        for (h, sh) in &s.shares {
            let n = charged.iter().filter(|q| q.msg.origin == *h).count();
            assert_eq!(n, sh.messages, "share of {h}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{ptype, Payload};
    use proptest::prelude::*;

    fn small() -> MailboxLimits {
        MailboxLimits {
            messages: 10,
            bytes: 1000,
            sender_messages: 4,
            sender_bytes: 400,
            guaranteed: 2,
        }
    }

    fn msg(from: u32, size: usize) -> Message {
        Message {
            source: Handle(from),
            origin: Handle(from),
            session: 0,
            ptype: ptype::LUA,
            payload: Payload::from(vec![0u8; size]),
        }
    }

    fn reply(from: u32, session: i32) -> Message {
        Message {
            session,
            ptype: ptype::RESPONSE,
            ..msg(from, 3)
        }
    }

    fn drain(m: &Mailbox) -> (Vec<Message>, Vec<Handle>) {
        let (mut out, mut wake) = (Vec::new(), Vec::new());
        m.pop_batch(usize::MAX, &mut out, &mut wake);
        (out, wake)
    }

    #[test]
    fn queued_bytes_count_every_kind_of_message_until_popped_or_closed() {
        let m = Mailbox::new(small());
        m.push(msg(1, 10)).unwrap();
        m.push_system(msg(0, 7)).unwrap();
        m.open_call(5, Handle(2), 8).unwrap();
        m.push_reply(reply(2, 5), Handle(2)).unwrap();
        assert_eq!(m.queued_bytes(), 10 + 7 + 3);
        // A refused push adds nothing.
        assert!(m.push(msg(1, 5000)).is_err());
        assert_eq!(m.queued_bytes(), 20);
        let (mut out, mut wake) = (Vec::new(), Vec::new());
        m.pop_batch(1, &mut out, &mut wake);
        assert_eq!(m.queued_bytes(), 10);
        m.push(msg(3, 4)).unwrap();
        m.close();
        assert_eq!(m.queued_bytes(), 0);
    }

    #[test]
    fn first_push_asks_for_scheduling_once() {
        let m = Mailbox::new(small());
        // A new mailbox is already scheduled (for init).
        assert_eq!(m.push(msg(1, 1)), Ok(false));
        assert!(m.finish_turn());
        drain(&m);
        assert!(!m.finish_turn());
        assert_eq!(m.push(msg(1, 1)), Ok(true));
        assert_eq!(m.push(msg(1, 1)), Ok(false));
    }

    #[test]
    fn a_sender_fills_only_its_own_share() {
        let m = Mailbox::new(small());
        for _ in 0..4 {
            m.push(msg(1, 1)).unwrap();
        }
        assert_eq!(m.push(msg(1, 1)), Err(Refused::SenderShareFull));
        assert_eq!(m.push(msg(2, 1)), Ok(false));
        assert_eq!(m.refused_count(), 1);
        m.check_invariants();
    }

    #[test]
    fn a_full_mailbox_still_admits_a_quiet_sender() {
        let m = Mailbox::new(small());
        for s in 1..=2 {
            for _ in 0..4 {
                m.push(msg(s, 1)).unwrap();
            }
        }
        m.push(msg(3, 1)).unwrap();
        m.push(msg(3, 1)).unwrap();
        // 10 queued: full. Sender 3 already has its guaranteed two.
        assert_eq!(m.push(msg(3, 1)), Err(Refused::MailboxFull));
        // Sender 4 has nothing queued: guaranteed entry.
        assert_eq!(m.push(msg(4, 1)), Ok(false));
        assert_eq!(m.push(msg(4, 1)), Ok(false));
        assert_eq!(m.push(msg(4, 1)), Err(Refused::MailboxFull));
        m.check_invariants();
    }

    #[test]
    fn a_refused_sender_is_woken_when_half_its_share_drains() {
        let m = Mailbox::new(small());
        for _ in 0..4 {
            m.push(msg(1, 1)).unwrap();
        }
        assert!(m.push(msg(1, 1)).is_err());
        let (mut out, mut wake) = (Vec::new(), Vec::new());
        m.pop_batch(1, &mut out, &mut wake);
        assert!(wake.is_empty(), "3 of 4 still queued");
        m.pop_batch(1, &mut out, &mut wake);
        assert_eq!(wake, vec![Handle(1)]);
        m.pop_batch(2, &mut out, &mut wake);
        assert_eq!(wake, vec![Handle(1)], "woken once only");
    }

    #[test]
    fn byte_share_is_enforced_but_one_big_message_always_fits_an_empty_share() {
        let m = Mailbox::new(small());
        m.push(msg(1, 900)).unwrap();
        assert_eq!(m.push(msg(1, 1)), Err(Refused::SenderShareFull));
        m.check_invariants();
    }

    #[test]
    fn replies_need_an_open_call_to_exactly_that_responder() {
        let m = Mailbox::new(small());
        assert!(m.open_call(7, Handle(5), 10).is_ok());
        assert_eq!(
            m.push_reply(reply(6, 7), Handle(6)),
            Err(ReplyRefused::WrongResponder)
        );
        assert_eq!(
            m.push_reply(reply(5, 8), Handle(5)),
            Err(ReplyRefused::NoSuchCall)
        );
        assert_eq!(m.push_reply(reply(5, 7), Handle(5)), Ok(false));
        assert_eq!(
            m.push_reply(reply(5, 7), Handle(5)),
            Err(ReplyRefused::NoSuchCall),
            "a call is answered once"
        );
        assert_eq!(m.dropped_reply_count(), 3);
    }

    #[test]
    fn replies_are_admitted_even_when_full() {
        let m = Mailbox::new(small());
        for s in 1..=5 {
            while m.push(msg(s, 1)).is_ok() {}
        }
        assert!(m.open_call(1, Handle(9), 10).is_ok());
        assert!(m.push_reply(reply(9, 1), Handle(9)).is_ok());
    }

    #[test]
    fn open_calls_are_bounded() {
        let m = Mailbox::new(small());
        assert_eq!(m.open_call(1, Handle(2), 2), Ok(()));
        assert_eq!(m.open_call(1, Handle(3), 2), Err(OpenError::SessionInUse));
        assert_eq!(m.open_call(2, Handle(2), 2), Ok(()));
        assert_eq!(m.open_call(3, Handle(2), 2), Err(OpenError::TooMany));
    }

    #[test]
    fn closing_returns_what_must_be_answered() {
        let m = Mailbox::new(small());
        for _ in 0..4 {
            m.push(msg(1, 1)).unwrap();
        }
        let _ = m.push(msg(1, 1));
        m.open_call(3, Handle(8), 10).unwrap();
        m.open_call(4, Handle(8), 10).unwrap();
        let left = m.close();
        assert_eq!(left.messages.len(), 4);
        assert_eq!(left.callees, vec![Handle(8)]);
        assert_eq!(left.blocked_senders, vec![Handle(1)]);
        assert_eq!(m.push(msg(2, 1)), Err(Refused::Closed));
        assert_eq!(
            m.push_reply(reply(8, 3), Handle(8)),
            Err(ReplyRefused::Closed)
        );
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(u32, usize),
        System,
        Pop(usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (1u32..6, 0usize..300).prop_map(|(s, n)| Op::Push(s, n)),
            1 => Just(Op::System),
            2 => (1usize..8).prop_map(Op::Pop),
        ]
    }

    proptest! {
        #[test]
        fn accounting_matches_the_queue_and_stays_bounded(ops in proptest::collection::vec(op(), 1..400)) {
            let l = small();
            let m = Mailbox::new(l);
            let mut blocked = std::collections::HashSet::new();
            for o in ops {
                match o {
                    Op::Push(s, n) => {
                        if m.push(msg(s, n)).is_err() {
                            blocked.insert(Handle(s));
                        }
                    }
                    Op::System => { m.push_system(msg(0, 1)).unwrap(); }
                    Op::Pop(k) => {
                        let (mut out, mut wake) = (Vec::new(), Vec::new());
                        m.pop_batch(k, &mut out, &mut wake);
                        for w in wake {
                            prop_assert!(blocked.remove(&w), "woke {w:?}, which was not blocked");
                        }
                    }
                }
                m.check_invariants();
                let s = m.state.lock();
                // Bounded: the mailbox limit plus the guaranteed minimum of each of the 5 senders.
                prop_assert!(s.charged_messages <= l.messages + 5 * l.guaranteed);
                for sh in s.shares.values() {
                    prop_assert!(sh.messages <= l.sender_messages);
                }
            }
            // Draining everything wakes every sender that was refused.
            let (_, wake) = drain(&m);
            for w in wake { blocked.remove(&w); }
            prop_assert!(blocked.is_empty(), "never woken: {blocked:?}");
        }
    }

    #[test]
    fn overload_is_reported_as_skynet_does() {
        let mb = Mailbox::new(MailboxLimits {
            messages: 100_000,
            bytes: 100 << 20,
            sender_messages: 100_000,
            sender_bytes: 100 << 20,
            guaranteed: 2,
        });
        let (mut out, mut wake, mut room) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..1536 {
            mb.push(msg(1, 1)).unwrap();
        }
        mb.pop_batch(1, &mut out, &mut wake);
        // 1535 left, past 1024: reported once, and the threshold doubles.
        assert_eq!(mb.take_overload(), Some(1535));
        assert_eq!(mb.take_overload(), None);
        mb.pop_batch(1, &mut out, &mut wake);
        assert_eq!(mb.take_overload(), None);
        while mb.pop_or_release(1000, &mut out, &mut wake, &mut room) {}
        // Empty again: back to 1024, so 2047 left is reported.
        for _ in 0..2048 {
            mb.push(msg(1, 1)).unwrap();
        }
        mb.pop_batch(1, &mut out, &mut wake);
        assert_eq!(mb.take_overload(), Some(2047));
        // 5000 left jumps two doublings (2048, 4096): reported once.
        for _ in 0..2954 {
            mb.push(msg(1, 1)).unwrap();
        }
        mb.pop_batch(1, &mut out, &mut wake);
        assert_eq!(mb.take_overload(), Some(5000));
        mb.pop_batch(1, &mut out, &mut wake);
        assert_eq!(mb.take_overload(), None);
    }
}
