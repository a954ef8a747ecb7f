//! The global run queue: services with work, in FIFO order, and the place
//! idle workers sleep.
//!
//! One mutex guards the queue and the count of sleeping workers, so a push
//! can never miss a worker that is about to sleep. A service is on the queue
//! at most once: its mailbox's `in_global` claim (taken under the mailbox
//! lock) decides who pushes it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};

#[cfg(loom)]
use loom::sync::{Condvar, Mutex};
#[cfg(not(loom))]
use std::sync::{Condvar, Mutex};

/// FIFO of runnable items with blocking pop.
pub struct RunQueue<T> {
    state: Mutex<State<T>>,
    wakeup: Condvar,
    len: AtomicUsize,
}

struct State<T> {
    queue: VecDeque<T>,
    sleepers: usize,
    closed: bool,
}

impl<T> Default for RunQueue<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> RunQueue<T> {
    /// An empty, open queue.
    pub fn new() -> Self {
        RunQueue {
            state: Mutex::new(State {
                queue: VecDeque::new(),
                sleepers: 0,
                closed: false,
            }),
            wakeup: Condvar::new(),
            len: AtomicUsize::new(0),
        }
    }

    /// Adds an item and wakes one sleeping worker if there is one.
    pub fn push(&self, item: T) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.queue.push_back(item);
        self.len.store(s.queue.len(), Ordering::Relaxed);
        if s.sleepers > 0 {
            self.wakeup.notify_one();
        }
    }

    /// Takes the next item, sleeping while there is none. Returns `None`
    /// once the queue is closed.
    pub fn pop(&self) -> Option<T> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if s.closed {
                return None;
            }
            if let Some(item) = s.queue.pop_front() {
                self.len.store(s.queue.len(), Ordering::Relaxed);
                return Some(item);
            }
            s.sleepers += 1;
            s = self.wakeup.wait(s).unwrap_or_else(|e| e.into_inner());
            s.sleepers -= 1;
        }
    }

    /// Takes the next item without sleeping.
    pub fn try_pop(&self) -> Option<T> {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let item = s.queue.pop_front();
        self.len.store(s.queue.len(), Ordering::Relaxed);
        item
    }

    /// A cheap hint: items waiting now (may be stale by the time it is read).
    pub fn len_hint(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Wakes every worker and makes `pop` return `None` from now on.
    pub fn close(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.closed = true;
        s.queue.clear();
        self.wakeup.notify_all();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn fifo_and_close() {
        let q = RunQueue::new();
        q.push(1);
        q.push(2);
        assert_eq!(q.pop(), Some(1));
        assert_eq!(q.try_pop(), Some(2));
        assert_eq!(q.try_pop(), None);
        q.close();
        assert_eq!(q.pop(), None);
    }

    #[test]
    fn a_sleeping_worker_is_woken_by_a_push() {
        let q = Arc::new(RunQueue::new());
        let q2 = q.clone();
        let t = std::thread::spawn(move || q2.pop());
        std::thread::sleep(std::time::Duration::from_millis(20));
        q.push(7);
        assert_eq!(t.join().unwrap(), Some(7));
    }
}
