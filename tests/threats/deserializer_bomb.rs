//! Threat: hostile bytes handed to `skynet.unpack` (from a client, a cluster
//! peer, or a compromised service) crash the node: nesting a million tables
//! deep overflowed skynet's C stack, and a six-byte array header made it
//! reserve gigabytes. skyhold's decoder limits depth and checks declared
//! sizes against the bytes present; both end in a Lua error in the one
//! service, and the node goes on.

use skyhold_testkit::*;

#[test]
fn deep_nesting_and_huge_declared_lengths_are_errors_not_crashes() {
    let log = lua_check("deserializer_bomb", &[]);
    assert!(
        log.iter()
            .any(|l| l.contains("deep: Invalid serialize stream")),
        "{}",
        log.join("\n")
    );
    assert!(log
        .iter()
        .any(|l| l.contains("huge array: Invalid serialize stream")));
    assert!(log
        .iter()
        .any(|l| l.contains("huge string: Invalid serialize stream")));
    assert!(log
        .iter()
        .any(|l| l.contains("pointer: Invalid serialize stream")));
}
