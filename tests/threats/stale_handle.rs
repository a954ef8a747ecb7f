//! Threat: a service keeps the handle of a service that died, and a new
//! service later gets the same handle (ABA), so messages meant for the old
//! one reach the new one; or a service guesses handles of services it was
//! never told about because they are handed out in order.

use skyhold_core::{ptype, Payload, SendError};
use skyhold_testkit::*;
use std::collections::HashSet;
use std::sync::mpsc;

#[test]
fn a_dead_services_handle_reaches_no_one() {
    let t = node_with(Default::default(), |c| c.limits.max_services = 30_000);
    let victim = t.spawn("victim", idle());
    assert!(t.node.handle().kill(victim));
    assert!(wait_until(std::time::Duration::from_secs(5), || !t
        .node
        .handle()
        .is_alive(victim)));
    // Many services come and go; none of them gets the old handle.
    for _ in 0..20_000 {
        let h = t.spawn("newcomer", idle());
        assert_ne!(h, victim, "handle reused");
        t.node.handle().kill(h);
    }
    let (tx, rx) = mpsc::channel();
    t.run_as("holder-of-old-handle", move |ctx| {
        let _ = tx.send(ctx.send(victim, ptype::LUA, 0, Payload::from("for the old one")));
    });
    assert_eq!(
        expect(&rx, "send result"),
        Err(SendError::UnknownAddress(victim))
    );
}

#[test]
fn handles_are_not_handed_out_in_a_guessable_order() {
    let t = node();
    let hs: Vec<u32> = (0..200).map(|_| t.spawn("s", idle()).0).collect();
    let sequential = hs.windows(2).filter(|w| w[1] == w[0] + 1).count();
    assert!(
        sequential < 5,
        "{sequential} of 199 handles followed their predecessor"
    );
    let distinct: HashSet<u32> = hs.iter().copied().collect();
    assert_eq!(distinct.len(), hs.len());
    // Neighbours of a known handle are almost never live services.
    let live: HashSet<u32> = distinct;
    let guessed_live = hs
        .iter()
        .filter(|h| live.contains(&(*h + 1)) || live.contains(&(*h - 1)))
        .count();
    assert!(guessed_live < 5, "{guessed_live} neighbours were live");
}
