//! Threat: a compromised or buggy service loops forever in a message
//! handler — plainly, inside pcall/xpcall, inside coroutines, inside a
//! callback from C (gsub, sort, a metamethod, a `<close>` handler), or with
//! a pattern that backtracks for hours — or repeats one call whose work
//! grows with its data (a copy, a collection, a library loop of 2^63
//! steps). The instruction budget per message stops each one (pattern
//! matching counts its steps too); the caller gets "call failed", and the
//! service and the node go on.

use skyhold_testkit::*;

#[test]
fn every_kind_of_endless_loop_is_stopped_by_the_budget() {
    let log = lua_check("cpu_bomb", &[("lua_instruction_budget", "20000000")]);
    for what in [
        "plain",
        "pcall_loop",
        "xpcall_loop",
        "coroutine_loop",
        "gsub_callback",
        "pattern",
        "sort",
        "index_metamethod",
        "close_handler",
        "huge_insert",
        "huge_move",
        "collect_loop",
        "big_concat",
    ] {
        assert!(
            log.iter()
                .any(|l| l.contains(&format!("bomb {what} stopped"))),
            "{what} was not reported stopped:\n{}",
            log.join("\n")
        );
    }
    assert!(log
        .iter()
        .any(|l| l.contains("instruction budget exceeded")));
}

#[test]
fn with_retire_on_limit_a_looping_service_is_retired() {
    let log = lua_check(
        "retire_on_limit",
        &[
            ("lua_instruction_budget", "5000000"),
            ("lua_on_limit", "retire"),
            ("bomb", "loop"),
        ],
    );
    assert!(
        log.iter()
            .any(|l| l.contains("retired: it broke its instruction budget")),
        "{}",
        log.join("\n")
    );
}

#[test]
fn what_the_count_does_not_see_the_time_limit_ends() {
    // A budget no message reaches in a test's time: only the wall clock
    // (`lua_time_limit`) can end the loop, as it ends work the count does
    // not charge (crates/lua-src-patched/PATCH.md).
    let log = lua_check(
        "retire_on_limit",
        &[
            ("lua_instruction_budget", "1000000000000000"),
            ("lua_time_limit", "1"),
            ("lua_on_limit", "retire"),
            ("bomb", "loop"),
        ],
    );
    assert!(
        log.iter().any(|l| l.contains("ran past lua_time_limit")),
        "{}",
        log.join("\n")
    );
    assert!(
        log.iter()
            .any(|l| l.contains("retired: it broke its time limit")),
        "{}",
        log.join("\n")
    );
}
