//! Threat: a compromised service that learns another service's socket id
//! writes to that client, closes it, or takes it over (skynet checks no
//! ownership at all). Only the owner — or a service it delegated to —
//! may act on a socket; the rest needs `socket_takeover` and is audited.

use skyhold_testkit::*;

#[test]
fn a_service_that_learns_a_socket_id_cannot_use_it() {
    let log = lua_check("socket_takeover", &[]);
    let refusals = log
        .iter()
        .filter(|l| l.contains("AUDIT refused socket_takeover"))
        .count();
    assert!(
        refusals >= 4,
        "each attempt is audited:\n{}",
        log.join("\n")
    );
}

/// The same against skynet's native gate: a service that learns a
/// connection id cannot command the gate (kick, forward to itself), write
/// through it, or write to the gate's socket directly.
#[test]
fn a_service_cannot_steal_a_native_gate_connection() {
    let log = lua_check("socket_takeover_gate", &[]);
    for what in [
        "AUDIT refused gate command",
        "AUDIT refused gate write",
        "AUDIT refused socket_takeover",
    ] {
        assert!(
            log.iter().any(|l| l.contains(what)),
            "no '{what}' line:\n{}",
            log.join("\n")
        );
    }
}
