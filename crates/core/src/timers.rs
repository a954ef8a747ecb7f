//! Timers: a service's `timeout`, kept in the timing wheel and fired as a
//! RESPONSE from handle 0; and the thread that moves the wheel on.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::errors::SendError;
use crate::handle::Handle;
use crate::message::{ptype, Message, Payload};
use crate::state::{Cell, NodeInner, TimerItem};

impl NodeInner {
    /// skynet's tick: centiseconds since the start of the second the node
    /// started in (so `skynet.time()`, `starttime + now / 100`, is the wall
    /// clock, not up to a second behind it).
    pub fn now(&self) -> u64 {
        self.start_centis + (self.started.elapsed().as_millis() / 10) as u64
    }

    /// Starts a timer of `from` that fires after `ticks` centiseconds.
    pub fn timeout(&self, from: &Arc<Cell>, ticks: i64) -> Result<i32, SendError> {
        if from.timers.load(Ordering::Relaxed) >= self.limits.max_timers {
            self.counters.timer_refusals.fetch_add(1, Ordering::Relaxed);
            return Err(SendError::TooManyPending {
                limit: "max_timers",
                max: self.limits.max_timers,
            });
        }
        let session = self.open_session(from, Handle::SYSTEM)?;
        from.timers.fetch_add(1, Ordering::Relaxed);
        let item = TimerItem {
            id: from.id,
            session,
        };
        let mut fired = Vec::new();
        let due = if ticks <= 0 {
            Some(item)
        } else {
            // Bring the wheel up to the present first, so the timer counts
            // from now and not from the timer thread's last tick.
            let mut w = self.wheel.lock();
            w.advance_to(self.now(), &mut fired);
            let at = w.now() + ticks as u64;
            w.add(at, item)
        };
        for item in fired.into_iter().chain(due) {
            self.fire_timer(item);
        }
        Ok(session)
    }

    /// Delivers a due timer to its service, if that exact service lives.
    fn fire_timer(&self, item: TimerItem) {
        let Some(cell) = self.registry.get_exact(item.id) else {
            return;
        };
        cell.timers.fetch_sub(1, Ordering::Relaxed);
        let msg = Message {
            source: Handle::SYSTEM,
            origin: Handle::SYSTEM,
            session: item.session,
            ptype: ptype::RESPONSE,
            payload: Payload::empty(),
        };
        if let Ok(true) = cell.mailbox.push_reply(msg, Handle::SYSTEM) {
            self.schedule(cell);
        }
    }

    /// Called by the timer thread: fires everything due by now.
    pub fn advance_timers(&self, fired: &mut Vec<TimerItem>) {
        let now = self.now();
        self.wheel.lock().advance_to(now, fired);
        for item in fired.drain(..) {
            self.fire_timer(item);
        }
    }
}

/// The timer thread: every 2.5 ms, fires what is due.
pub(crate) fn timer_thread(node: Arc<NodeInner>) {
    let mut fired = Vec::new();
    while !node.is_stopped() {
        std::thread::sleep(Duration::from_micros(2500));
        node.advance_timers(&mut fired);
    }
}
