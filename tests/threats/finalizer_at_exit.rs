//! Threat: a service's objects have `__gc` metamethods that call into the
//! runtime (`skynet.wakeup`, `skynet.send`, `skynet.error`, the socket
//! driver, `skynet.core` itself) when its Lua state is closed — on exit or
//! on a failed boot — or a finalizer that never ends. Closing the state
//! finalizes the Rust closures behind those functions too, in an order
//! the service controls; a finalizer must never reach one already freed
//! (that crashed the node). The runtime runs the service's finalizers
//! itself while everything they may call is alive, under the instruction
//! budget, and then closes the state: each finalizer runs or raises a clean
//! error, and the node goes on.

use skyhold_testkit::*;
use std::time::Duration;

#[test]
fn finalizers_that_call_the_runtime_at_exit_leave_the_node_running() {
    // Not `lua_check`: one victim's boot fails on purpose, and that is
    // logged as "init service failed".
    let log = run_case(
        &repo().join("tests/threats/lua"),
        "finalizer_at_exit",
        &[("lua_instruction_budget", "20000000")],
        Duration::from_secs(60),
        |l| l.contains("PASS") || l.contains("FAIL"),
    );
    let text = log.join("\n");
    assert!(text.contains("finalizer_at_exit PASS"), "{text}");
    assert!(text.contains("victim boot fails on purpose"), "{text}");
    for round in 1..=4 {
        assert!(
            text.contains(&format!("finalizer_at_exit round {round} sent exit")),
            "{text}"
        );
    }
    // Every finalizer of every closed state reported how it went.
    for name in [
        "error", "wakeup", "send", "self", "now", "timeout", "socket", "core",
    ] {
        let reports = log
            .iter()
            .filter(|l| l.contains(&format!("finalizer {name} ")))
            .count();
        // Four exits and one failed boot.
        assert!(
            reports >= 5,
            "finalizer {name} reported {reports} times:\n{text}"
        );
    }
    assert!(
        text.contains("finalizer says hello through skynet.error"),
        "{text}"
    );
    assert!(
        text.contains("finalizer says hello through skynet.core"),
        "{text}"
    );
    // The endless one was stopped by the budget rather than holding a worker.
    assert!(
        log.iter()
            .any(|l| l.contains("error in __gc") && l.contains("instruction budget exceeded")),
        "{text}"
    );
}

#[test]
fn rust_functions_dropped_by_lua_code_stay_callable_from_finalizers() {
    let log = lua_check("finalizer_at_exit_runtime", &[]);
    let text = log.join("\n");
    // Forty objects finalized calling a dropped function, and whatever of
    // the forty weak-keyed entries a collection left behind, all called.
    let line = log
        .iter()
        .find(|l| l.contains("runtime finalizers ran"))
        .unwrap_or_else(|| panic!("no summary:\n{text}"));
    let ran: usize = line
        .split_whitespace()
        .skip_while(|w| *w != "ran")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(ran >= 40, "{line}");
}
