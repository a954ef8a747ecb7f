//! The run queue: services with work, and the place idle workers wait.
//!
//! - A global FIFO, as in skynet, that any worker takes from.
//! - One "next" slot per worker: a service made runnable by a message sent
//!   from a worker's handler goes to that worker's slot and runs right after
//!   the current turn, on the same core, while the data it needs is still in
//!   that core's cache (a call and its reply then never cross cores). A newer
//!   service displaces an older one to the global queue, and a worker takes
//!   from its own slot at most `LOCAL_STREAK` times in a row while the
//!   global queue holds something before it looks there, so the global
//!   queue is never starved (with nothing there, the slot's chain runs on).
//! - An idle worker polls for a short while before it sleeps (work often
//!   arrives within microseconds, and waking a sleeping thread costs two
//!   system calls). While it polls it may take a service that has sat in
//!   another worker's slot for a while (that worker is busy with a long
//!   handler), so work spreads across cores when it should.
//! - A nudge brings a polling or sleeping worker out of its wait to do idle
//!   work (what idle workers keep ready was used up).
//! - A push to the global queue wakes a sleeping worker only when no worker
//!   is polling. The count of sleepers lives under the queue's lock, so a
//!   push can never miss a worker that is about to sleep.
//!
//! A service is in at most one of these places at a time: its mailbox's
//! `in_global` claim, taken under the mailbox lock, decides who may push it.

use std::collections::VecDeque;

#[cfg(loom)]
use loom::{
    sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    sync::{Condvar, Mutex, MutexGuard},
};
#[cfg(not(loom))]
use std::{
    hint::spin_loop,
    sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering},
    sync::{Condvar, Mutex, MutexGuard},
    thread::yield_now,
};

/// How many times an idle worker polls before it sleeps.
#[cfg(not(loom))]
const SPIN_ROUNDS: u32 = 4000;
/// Polls between two looks at the other workers' slots.
#[cfg(not(loom))]
const STEAL_EVERY: u32 = 64;
/// Looks an item must survive in another worker's slot before it is taken.
#[cfg(not(loom))]
const STEAL_AFTER: u32 = 4;
// Under the model checker, a few rounds explore the same interleavings. A
// steal needs two looks at a slot (the first only notes its stamp): with a
// look every second round, four rounds are the fewest that reach `steal`'s
// taking branch.
#[cfg(loom)]
const SPIN_ROUNDS: u32 = 4;
#[cfg(loom)]
const STEAL_EVERY: u32 = 2;
#[cfg(loom)]
const STEAL_AFTER: u32 = 1;

// Loom models `spin_loop` and `yield_now` as "run the other threads first":
// right for an unbounded spin, but the poll here is bounded and a yield
// there would keep loom from running the worker on to sleep before a
// racing push (so a deleted notify went unnoticed). Under the model the
// poll is a plain bounded loop, and every interleaving is explored.
#[cfg(loom)]
fn spin_loop() {}
#[cfg(loom)]
fn yield_now() {}

/// Turns a worker may take from its own slot before it must look at the
/// global queue.
pub const LOCAL_STREAK: u32 = 32;

// Which worker runs on this thread, so that a push made from a handler
// goes to that worker's slot (see the module's notes).
thread_local! {
    static WORKER_INDEX: std::cell::Cell<usize> = const { std::cell::Cell::new(usize::MAX) };
}

/// The index of the worker running on this thread, if this is a worker.
pub(crate) fn current_worker() -> Option<usize> {
    let i = WORKER_INDEX.with(|c| c.get());
    (i != usize::MAX).then_some(i)
}

/// Marks this thread as worker `index` (or, with `None`, as no worker).
pub(crate) fn set_current_worker(index: Option<usize>) {
    WORKER_INDEX.with(|c| c.set(index.unwrap_or(usize::MAX)));
}

/// Runnable items: a global FIFO plus one slot per worker.
pub struct RunQueue<T> {
    state: Mutex<State<T>>,
    wakeup: Condvar,
    len: AtomicUsize,
    spinning: AtomicUsize,
    /// Idle work is wanted: the next idle worker leaves its wait for it.
    nudged: AtomicBool,
    slots: Vec<LocalSlot<T>>,
}

/// What [`RunQueue::next`] found for a worker.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<T> {
    /// An item to run.
    Item(T),
    /// Nothing to run, but idle work is wanted ([`RunQueue::nudge`]).
    Idle,
    /// The queue is closed.
    Closed,
}

struct State<T> {
    queue: VecDeque<T>,
    sleepers: usize,
    closed: bool,
}

struct LocalSlot<T> {
    item: Mutex<Option<T>>,
    occupied: AtomicBool,
    stamp: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<T> RunQueue<T> {
    /// An empty, open queue for `workers` workers.
    pub fn new(workers: usize) -> Self {
        RunQueue {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                sleepers: 0,
                closed: false,
            }),
            wakeup: Condvar::new(),
            len: AtomicUsize::new(0),
            spinning: AtomicUsize::new(0),
            nudged: AtomicBool::new(false),
            slots: (0..workers)
                .map(|_| LocalSlot {
                    item: Mutex::new(None),
                    occupied: AtomicBool::new(false),
                    stamp: AtomicU64::new(0),
                })
                .collect(),
        }
    }

    /// Adds an item to the global queue and wakes one sleeping worker if no
    /// worker is polling.
    pub fn push(&self, item: T) {
        let mut s = lock(&self.state);
        if s.closed {
            return;
        }
        s.queue.push_back(item);
        self.len.store(s.queue.len(), Ordering::SeqCst);
        if s.sleepers > 0 && self.spinning.load(Ordering::SeqCst) == 0 {
            self.wakeup.notify_one();
        }
    }

    /// Puts an item in worker `w`'s slot (called by that worker only). An
    /// item already there moves to the global queue.
    pub fn push_local(&self, w: usize, item: T) {
        let Some(slot) = self.slots.get(w) else {
            return self.push(item);
        };
        let old = {
            let mut g = lock(&slot.item);
            // Only worker `w` writes its slot's stamp (thieves read it), so
            // a load and a store do: no locked read-modify-write.
            let stamp = slot.stamp.load(Ordering::Relaxed);
            slot.stamp.store(stamp.wrapping_add(1), Ordering::Relaxed);
            slot.occupied.store(true, Ordering::Release);
            g.replace(item)
        };
        if let Some(old) = old {
            self.push(old);
        }
    }

    /// Takes the item in worker `w`'s own slot.
    pub fn take_local(&self, w: usize) -> Option<T> {
        let slot = self.slots.get(w)?;
        if !slot.occupied.load(Ordering::Acquire) {
            return None;
        }
        let mut g = lock(&slot.item);
        slot.occupied.store(false, Ordering::Release);
        g.take()
    }

    /// True if worker `w`'s slot holds an item.
    pub fn has_local(&self, w: usize) -> bool {
        self.slots
            .get(w)
            .is_some_and(|s| s.occupied.load(Ordering::Acquire))
    }

    /// Takes the next item for worker `w`: from the global queue, else by
    /// polling (and taking long-waiting items from other workers' slots),
    /// else sleeping. Returns `None` once the queue is closed. A nudge
    /// ([`RunQueue::nudge`]) does not end the wait.
    pub fn pop(&self, w: usize) -> Option<T> {
        loop {
            match self.next(w) {
                Next::Item(item) => return Some(item),
                Next::Idle => continue,
                Next::Closed => return None,
            }
        }
    }

    /// Asks an idle worker to come out of its wait and do idle work: a
    /// polling worker sees it within a few polls, a sleeping one is woken.
    /// Work that idle workers do (building states ahead of need) is wanted
    /// again when it is used up, and a worker asleep would not notice.
    pub fn nudge(&self) {
        self.nudged.store(true, Ordering::SeqCst);
        let s = lock(&self.state);
        if s.sleepers > 0 && self.spinning.load(Ordering::SeqCst) == 0 {
            self.wakeup.notify_one();
        }
    }

    fn take_nudge(&self) -> bool {
        self.nudged.load(Ordering::Relaxed) && self.nudged.swap(false, Ordering::SeqCst)
    }

    /// As [`RunQueue::pop`], but a nudge ends the wait with [`Next::Idle`].
    pub fn next(&self, w: usize) -> Next<T> {
        if let Some(item) = self.try_pop() {
            return Next::Item(item);
        }
        if lock(&self.state).closed {
            return Next::Closed;
        }
        self.spinning.fetch_add(1, Ordering::SeqCst);
        let mut watched: Vec<(u64, u32)> = vec![(u64::MAX, 0); self.slots.len()];
        for round in 0..SPIN_ROUNDS {
            if self.len.load(Ordering::SeqCst) > 0 {
                if let Some(item) = self.try_pop() {
                    self.spinning.fetch_sub(1, Ordering::SeqCst);
                    return Next::Item(item);
                }
            }
            if round % STEAL_EVERY == STEAL_EVERY - 1 {
                if let Some(item) = self.steal(w, &mut watched) {
                    self.spinning.fetch_sub(1, Ordering::SeqCst);
                    return Next::Item(item);
                }
                if self.take_nudge() {
                    self.spinning.fetch_sub(1, Ordering::SeqCst);
                    return Next::Idle;
                }
                yield_now();
            } else {
                spin_loop();
            }
        }
        self.spinning.fetch_sub(1, Ordering::SeqCst);
        let mut s = lock(&self.state);
        loop {
            if s.closed {
                return Next::Closed;
            }
            if let Some(item) = s.queue.pop_front() {
                self.len.store(s.queue.len(), Ordering::SeqCst);
                return Next::Item(item);
            }
            // Read under the lock: a nudge sets the flag before it takes
            // the lock to look for sleepers, so it is seen here or it finds
            // this worker asleep and wakes it.
            if self.take_nudge() {
                return Next::Idle;
            }
            s.sleepers += 1;
            s = self.wakeup.wait(s).unwrap_or_else(|e| e.into_inner());
            s.sleepers -= 1;
        }
    }

    fn steal(&self, me: usize, watched: &mut [(u64, u32)]) -> Option<T> {
        for (j, slot) in self.slots.iter().enumerate() {
            if j == me || !slot.occupied.load(Ordering::Acquire) {
                continue;
            }
            let stamp = slot.stamp.load(Ordering::Relaxed);
            if watched[j].0 != stamp {
                watched[j] = (stamp, 0);
                continue;
            }
            watched[j].1 += 1;
            if watched[j].1 < STEAL_AFTER {
                continue;
            }
            if let Ok(mut g) = slot.item.try_lock() {
                if slot.stamp.load(Ordering::Relaxed) == stamp {
                    slot.occupied.store(false, Ordering::Release);
                    if let Some(item) = g.take() {
                        return Some(item);
                    }
                }
            }
        }
        None
    }

    /// Takes the next global item without waiting.
    pub fn try_pop(&self) -> Option<T> {
        if self.len.load(Ordering::SeqCst) == 0 {
            return None;
        }
        let mut s = lock(&self.state);
        if s.closed {
            return None;
        }
        let item = s.queue.pop_front();
        self.len.store(s.queue.len(), Ordering::SeqCst);
        item
    }

    /// A cheap hint: items waiting in the global queue now.
    pub fn len_hint(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Wakes every worker and makes `pop` return `None` from now on.
    pub fn close(&self) {
        let mut s = lock(&self.state);
        s.closed = true;
        s.queue.clear();
        for slot in &self.slots {
            lock(&slot.item).take();
            slot.occupied.store(false, Ordering::Release);
        }
        self.wakeup.notify_all();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn fifo_and_close() {
        let q = RunQueue::new(1);
        q.push(1);
        q.push(2);
        assert_eq!(q.pop(0), Some(1));
        assert_eq!(q.try_pop(), Some(2));
        assert_eq!(q.try_pop(), None);
        q.close();
        assert_eq!(q.pop(0), None);
    }

    #[test]
    fn a_nudge_brings_a_sleeping_worker_out_for_idle_work_and_pop_waits_on() {
        let q = Arc::new(RunQueue::<u32>::new(2));
        let q2 = q.clone();
        let t = std::thread::spawn(move || q2.next(1));
        // Long enough to poll and fall asleep.
        std::thread::sleep(std::time::Duration::from_millis(100));
        q.nudge();
        assert_eq!(t.join().unwrap(), Next::Idle);
        // `pop` is for items only: a nudge does not end its wait.
        let q2 = q.clone();
        let t = std::thread::spawn(move || q2.pop(1));
        q.nudge();
        std::thread::sleep(std::time::Duration::from_millis(100));
        q.push(3);
        assert_eq!(t.join().unwrap(), Some(3));
    }

    #[test]
    fn a_sleeping_worker_is_woken_by_a_push() {
        let q = Arc::new(RunQueue::new(2));
        let q2 = q.clone();
        let t = std::thread::spawn(move || q2.pop(1));
        std::thread::sleep(std::time::Duration::from_millis(50));
        q.push(7);
        assert_eq!(t.join().unwrap(), Some(7));
    }

    #[test]
    fn the_local_slot_keeps_the_newest_and_spills_the_older() {
        let q = RunQueue::new(2);
        q.push_local(0, 1);
        q.push_local(0, 2);
        assert_eq!(q.take_local(0), Some(2));
        assert_eq!(q.take_local(0), None);
        assert_eq!(q.try_pop(), Some(1));
    }

    #[test]
    fn an_idle_worker_takes_what_waits_too_long_in_a_busy_workers_slot() {
        let q = Arc::new(RunQueue::new(2));
        q.push_local(0, 5);
        let q2 = q.clone();
        let t = std::thread::spawn(move || q2.pop(1));
        assert_eq!(t.join().unwrap(), Some(5));
        assert!(!q.has_local(0));
    }
}
