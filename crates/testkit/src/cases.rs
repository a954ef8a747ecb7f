//! The threat tests' Lua cases: a node whose start service is
//! `tests/threats/lua/<case>.lua`, run until the case says PASS or FAIL.

use std::time::Duration;

use crate::boot::{repo, run_case};

/// Boots a node whose start service is `tests/threats/lua/<case>.lua`, with
/// extra config keys, and returns its log once the case says PASS or FAIL
/// (or after `limit`).
pub fn lua_case(case: &str, extra: &[(&str, &str)], limit: Duration) -> Vec<String> {
    let dir = repo().join("tests/threats/lua");
    run_case(&dir, case, extra, limit, |l| {
        l.contains("PASS") || l.contains("FAIL") || l.contains("init service failed")
    })
}

/// Runs a Lua threat case and panics with its log unless it passed.
pub fn lua_check(case: &str, extra: &[(&str, &str)]) -> Vec<String> {
    let log = lua_case(case, extra, Duration::from_secs(30));
    let passed = log.iter().any(|l| l.contains("PASS"));
    let failed = log
        .iter()
        .any(|l| l.contains("FAIL") || l.contains("init service failed"));
    if !passed || failed {
        panic!(
            "threat case {case} did not pass; its log:\n{}",
            log.join("\n")
        );
    }
    log
}
