//! Threat: a compromised service that learns another service's socket id
//! writes to that client, closes it, or takes it over (skynet checks no
//! ownership at all). Only the owner — or a service it delegated to —
//! may act on a socket; the rest needs `socket_takeover` and is audited.

use crate::common::*;

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
