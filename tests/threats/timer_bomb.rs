//! Threat: a compromised service creates timers without end to exhaust the
//! node's memory. Timers are bounded per service; the bomb gets an error, and
//! other services' timers still fire.

use skyhold_core::{Handle, Policy, SendError};
use skyhold_testkit::*;
use std::sync::mpsc;

#[test]
fn a_timer_bomb_gets_an_error_and_others_timers_still_fire() {
    let t = node_with(Policy::default(), |c| c.limits.max_timers = 1000);
    let (tx, rx) = mpsc::channel();
    let bomb = t.run_as("bomb", move |ctx| {
        let mut ok = 0;
        let mut err = None;
        for _ in 0..100_000 {
            match ctx.timeout(1_000_000) {
                Ok(_) => ok += 1,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        let _ = tx.send((ok, err));
    });
    let (ok, err) = expect(&rx, "bomb result");
    assert_eq!(ok, 1000);
    assert_eq!(
        err,
        Some(SendError::TooManyPending {
            limit: "max_timers",
            max: 1000
        })
    );
    assert!(err.unwrap().to_string().contains("max_timers"));
    assert!(
        t.node
            .handle()
            .counters()
            .timer_refusals
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 1
    );
    let _ = bomb;

    let (tx, rx) = mpsc::channel();
    t.spawn(
        "honest",
        on_message(move |_, m| {
            let _ = tx.send(m.source);
        })
        .on_init(|ctx| {
            ctx.timeout(2).unwrap();
        })
        .boxed(),
    );
    assert_eq!(expect(&rx, "honest timer"), Handle::SYSTEM);
}

#[test]
fn open_calls_are_bounded_too() {
    let t = node_with(Policy::default(), |c| c.limits.max_open_calls = 50);
    let sink = t.spawn("silent", idle());
    let (tx, rx) = mpsc::channel();
    t.run_as("caller", move |ctx| {
        let mut ok = 0;
        let mut err = None;
        for _ in 0..100 {
            match ctx.call(
                sink,
                skyhold_core::ptype::LUA,
                skyhold_core::Payload::empty(),
            ) {
                Ok(_) => ok += 1,
                Err(e) => {
                    err = Some(e);
                    break;
                }
            }
        }
        let _ = tx.send((ok, err));
    });
    let (ok, err) = expect(&rx, "result");
    assert_eq!(ok, 50);
    assert_eq!(
        err,
        Some(SendError::TooManyPending {
            limit: "max_open_calls",
            max: 50
        })
    );
}
