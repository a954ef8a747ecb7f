//! Everything the runtime keeps for one live service.

use parking_lot::Mutex;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, AtomicUsize, Ordering};

use crate::fasthash::IntBuild;
use crate::handle::{Handle, ServiceId};
use crate::mailbox::Mailbox;
use crate::msglog::Tap;
use crate::policy::Identity;
use crate::rate::TokenBucket;

/// Counters for one service.
#[derive(Default, Debug)]
pub struct ServiceStats {
    /// Messages dispatched.
    pub messages: AtomicU64,
    /// Wall time spent in its handlers, nanoseconds (skynet's `cpu` stat).
    pub cpu_ns: AtomicU64,
    /// Times one of its sends found the target full (it was slowed or told).
    pub slowed: AtomicU64,
    /// Its actions refused by the policy.
    pub denied: AtomicU64,
    /// Its log lines dropped because the logger was full for it.
    pub log_dropped: AtomicU64,
    /// Its handlers that panicked or raised.
    pub errors: AtomicU64,
    /// Set by the monitor when a message ran too long; read and cleared by `endless`.
    pub endless: AtomicBool,
    /// Set by an operator's `signal address 0` (skynet's SIGNAL): the
    /// service's host breaks the code it is running, then clears it.
    pub interrupt: std::sync::Arc<AtomicBool>,
}

/// One live service. `S` is what its worker keeps in the slot (the node
/// keeps the service there): a parameter, so this module needs nothing
/// from the layers that define services.
pub struct ServiceCell<S> {
    /// Its exact id.
    pub id: ServiceId,
    /// What it runs and its role.
    pub identity: Identity,
    /// The module and arguments it was launched with (`snlua agent 3`).
    pub launch: String,
    /// Its mailbox.
    pub mailbox: Mailbox,
    /// Its counters.
    pub stats: ServiceStats,
    /// What only the worker running it touches. The scheduler never runs a
    /// service on two threads at once, so this lock is uncontended; it
    /// exists to let safe Rust see that.
    pub(crate) slot: Mutex<S>,
    session: AtomicI32,
    pub(crate) owed: Mutex<HashSet<(Handle, i32), IntBuild>>,
    pub(crate) names: Mutex<Vec<String>>,
    pub(crate) timers: AtomicUsize,
    /// Bytes its host last reported it holds (see [`crate::memory`]);
    /// written by the service's own turns, taken back when it retires.
    pub(crate) reported_memory: AtomicUsize,
    /// How fast it may start services: made on its first launch (most
    /// services never launch one), absent for a role without a limit.
    pub(crate) spawns: Mutex<Option<TokenBucket>>,
    /// Its message log while an operator has it logged on (`logon`).
    pub(crate) msglog: Mutex<Option<std::sync::Arc<Tap>>>,
    /// True while `msglog` holds a log: the one load a message costs.
    pub(crate) msglog_on: AtomicBool,
    kill: AtomicBool,
    exit: AtomicBool,
}

impl<S> ServiceCell<S> {
    pub(crate) fn new(
        id: ServiceId,
        identity: Identity,
        launch: String,
        mailbox: Mailbox,
        slot: S,
    ) -> ServiceCell<S> {
        ServiceCell {
            id,
            identity,
            launch,
            mailbox,
            stats: ServiceStats::default(),
            slot: Mutex::new(slot),
            session: AtomicI32::new(0),
            owed: Mutex::new(HashSet::default()),
            names: Mutex::new(Vec::new()),
            timers: AtomicUsize::new(0),
            reported_memory: AtomicUsize::new(0),
            spawns: Mutex::new(None),
            msglog: Mutex::new(None),
            msglog_on: AtomicBool::new(false),
            kill: AtomicBool::new(false),
            exit: AtomicBool::new(false),
        }
    }

    /// Its handle.
    #[inline]
    pub fn handle(&self) -> Handle {
        self.id.handle
    }

    /// The next session number: positive, wrapping from `i32::MAX` to 1.
    /// Only the service's own thread allocates, so relaxed ordering suffices.
    pub(crate) fn next_session(&self) -> i32 {
        let s = self.session.load(Ordering::Relaxed);
        let n = if (1..i32::MAX).contains(&s) { s + 1 } else { 1 };
        self.session.store(n, Ordering::Relaxed);
        n
    }

    pub(crate) fn request_kill(&self) {
        self.kill.store(true, Ordering::Release);
    }

    pub(crate) fn request_exit(&self) {
        self.exit.store(true, Ordering::Release);
    }

    /// True once `exit` or `kill` was asked for.
    pub fn is_leaving(&self) -> bool {
        self.kill.load(Ordering::Acquire) || self.exit.load(Ordering::Acquire)
    }

    /// Pending timers.
    pub fn pending_timers(&self) -> usize {
        self.timers.load(Ordering::Relaxed)
    }

    /// Requests received that still owe a reply.
    pub fn owed_replies(&self) -> usize {
        self.owed.lock().len()
    }
}

/// A service's counters, by name.
pub fn stats_of<S>(cell: &ServiceCell<S>) -> BTreeMap<&'static str, u64> {
    let s = &cell.stats;
    let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
    BTreeMap::from([
        ("message", r(&s.messages)),
        ("cpu_ns", r(&s.cpu_ns)),
        ("mqlen", cell.mailbox.len() as u64),
        ("mqbytes", cell.mailbox.queued_bytes() as u64),
        ("slowed", r(&s.slowed)),
        ("denied", r(&s.denied)),
        ("log_dropped", r(&s.log_dropped)),
        ("errors", r(&s.errors)),
        ("refused_full", cell.mailbox.refused_count()),
        ("dropped_replies", cell.mailbox.dropped_reply_count()),
        ("open_calls", cell.mailbox.open_calls() as u64),
        ("timers", cell.pending_timers() as u64),
        ("owed", cell.owed_replies() as u64),
        // Bytes its host last reported (within `REPORT_STEP`); 0 once retired.
        (
            "memory",
            match cell.reported_memory.load(Ordering::Relaxed) {
                crate::memory::RETIRED => 0,
                bytes => bytes as u64,
            },
        ),
    ])
}
