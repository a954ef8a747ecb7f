//! Model checks of the run queue's handoff (run with
//! `RUSTFLAGS="--cfg loom" cargo test -p skyhold-core --test loom --release`):
//! every interleaving of a push and a worker going to sleep delivers the
//! item (no lost wake-up), so does a nudge for idle work, `close` wakes a
//! sleeping worker, and an item in
//! one worker's slot is run exactly once even while another worker takes it.
//!
//! # Why these models can fail
//!
//! Loom models `spin_loop` and `yield_now` as a yield: the yielding thread
//! may not run again until another thread has taken a step. An idle worker
//! polls before it sleeps, and when its poll yielded, the step loom took
//! next was always the push (or close) taking the queue's lock, so the push
//! landed before the worker could get to sleep and the worker found the
//! item under the lock. The notify in `RunQueue::push` was then never
//! needed in any explored run: these models passed with it deleted, and
//! with `notify_all` deleted from `close`. (Loom's condvar has no spurious
//! wake-ups; the yield rule hid the bug.)
//!
//! The poll is bounded, so it needs no yield to terminate: under `cfg(loom)`
//! `runq.rs` makes `spin_loop` and `yield_now` no-ops, and loom explores the
//! runs where the worker polls, finds nothing and sleeps before the push.
//! Checked by deleting `notify_one` in `push` and then `notify_all` in
//! `close`: each makes its model fail with a loom "deadlock". The slot model
//! also asserts that some explored run really took the item from the other
//! worker's slot (with loom's first constants, one poll round and a look at
//! the slots every second round, `steal` was never called).

#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use skyhold_core::runq::{Next, RunQueue};
// Outside the model: records what the explored runs did.
use std::sync::atomic::{AtomicBool, Ordering};

#[test]
fn a_push_never_misses_a_worker_going_to_sleep() {
    loom::model(|| {
        let q = Arc::new(RunQueue::new(1));
        let q2 = q.clone();
        let worker = thread::spawn(move || q2.pop(0));
        q.push(7u32);
        assert_eq!(worker.join().unwrap(), Some(7));
    });
}

#[test]
fn a_nudge_never_misses_a_worker_going_to_sleep() {
    loom::model(|| {
        let q = Arc::new(RunQueue::<u32>::new(1));
        let q2 = q.clone();
        let worker = thread::spawn(move || q2.next(0));
        q.nudge();
        assert_eq!(worker.join().unwrap(), Next::Idle);
    });
}

#[test]
fn a_slotted_item_runs_exactly_once() {
    // Set when an explored run had the idle worker take the slotted item:
    // proof that the model reaches `steal`'s taking branch.
    static STOLEN: AtomicBool = AtomicBool::new(false);
    loom::model(|| {
        let q = Arc::new(RunQueue::new(2));
        q.push_local(0, 1u32);
        let q2 = q.clone();
        // An idle worker polls, may take the item from worker 0's slot, or
        // sleeps until the push below.
        let thief = thread::spawn(move || q2.pop(1));
        let mine = q.take_local(0);
        q.push(2u32);
        let theirs = thief.join().unwrap();
        if theirs == Some(1) {
            STOLEN.store(true, Ordering::Relaxed);
        }
        let mut seen: Vec<u32> = mine.into_iter().chain(theirs).collect();
        seen.extend(q.try_pop());
        seen.extend(q.take_local(0));
        seen.sort_unstable();
        assert_eq!(seen, vec![1, 2], "each item exactly once");
    });
    assert!(
        STOLEN.load(Ordering::Relaxed),
        "no explored run took the item from the other worker's slot"
    );
}

#[test]
fn close_wakes_a_sleeping_worker() {
    loom::model(|| {
        let q = Arc::new(RunQueue::<u32>::new(1));
        let q2 = q.clone();
        let worker = thread::spawn(move || q2.pop(0));
        q.close();
        assert_eq!(worker.join().unwrap(), None);
    });
}
