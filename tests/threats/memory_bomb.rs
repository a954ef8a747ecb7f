//! Threat: a service allocates until the machine runs out of memory — a
//! growing table, a giant `string.rep`, doubling concatenation, a slow leak,
//! the same inside pcall, or in a chunk that is still loading. Each state has a memory limit: the allocation
//! fails with "not enough memory", the message fails (the caller gets an
//! error), and the service and the node go on.

use skyhold_testkit::*;
use std::time::Duration;

#[test]
fn memory_bombs_hit_the_per_service_limit() {
    let log = lua_check("memory_bomb", &[("lua_memory_limit", "16777216")]);
    for what in ["table_growth", "string_rep", "concat_loop", "leak_slowly"] {
        assert!(
            log.iter()
                .any(|l| l.contains(&format!("bomb {what} stopped"))),
            "{what}"
        );
    }
}

#[test]
fn with_retire_on_limit_a_hoarding_service_is_retired() {
    let log = lua_check(
        "retire_on_limit",
        &[
            ("lua_memory_limit", "8388608"),
            ("lua_on_limit", "retire"),
            ("bomb", "eat"),
        ],
    );
    assert!(
        log.iter()
            .any(|l| l.contains("retired: it broke its memory limit")),
        "{}",
        log.join("\n")
    );
}

#[test]
fn a_service_that_allocates_while_loading_fails_to_start() {
    let log = lua_case(
        "memory_bomb_load",
        &[("lua_memory_limit", "16777216")],
        Duration::from_secs(30),
    );
    assert!(
        log.iter()
            .any(|l| l.contains("init service failed") && l.contains("not enough memory")),
        "{}",
        log.join("\n")
    );
}
