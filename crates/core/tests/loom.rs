//! Model checks of the run queue's handoff (run with
//! `RUSTFLAGS="--cfg loom" cargo test -p skyhold-core --test loom --release`):
//! every interleaving of a push and a worker going to sleep delivers the
//! item (no lost wake-up), and an item in one worker's slot is run exactly
//! once even while another worker tries to take it.
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use skyhold_core::runq::RunQueue;

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
fn a_slotted_item_runs_exactly_once() {
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
        let mut seen: Vec<u32> = mine.into_iter().chain(theirs).collect();
        seen.extend(q.try_pop());
        seen.extend(q.take_local(0));
        seen.sort_unstable();
        assert_eq!(seen, vec![1, 2], "each item exactly once");
    });
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
