//! skynet.db.redis and skynet.db.mysql against real servers: a
//! `redis-server` and a `mariadbd` this test starts itself (free loopback
//! ports, temporary data directories, stopped at the end), driven by Lua
//! services of our own in `tests/db/lua/`. A case passes when its service
//! logs `PASS`. Without the servers installed the cases are skipped with a
//! message (`.ci/run` installs them and sets `SKYHOLD_DB_REQUIRED`, so CI
//! never skips). Malformed and oversized replies come from fake servers in
//! this process. There is no MongoDB package here: skynet.db.mongo is tested
//! against a loopback peer speaking the wire protocol (mongo_peer.rs), and
//! bson and the driver on bytes (crates/bson). skynet.db.redis.cluster runs
//! against a real three-master cluster (rcluster.rs).

mod fake;
mod mongo;
mod mongo_peer;
mod mongo_wire;
mod mysql;
mod rcluster;
mod redis;
mod servers;

use skyhold_testkit::BootedNode;
use std::time::Duration;

/// Boots a node whose start service is `tests/db/lua/<case>.lua`, with
/// `extra` config keys (the servers' ports).
pub fn boot(case: &str, extra: &[(&str, String)]) -> BootedNode {
    let dir = skyhold_testkit::repo().join("tests/db/lua");
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    BootedNode::boot(&dir, case, &extra)
}

/// Waits (up to `limit`) for PASS; panics with the log on FAIL, on a
/// failed start, or when time is up.
pub fn expect_pass(node: &BootedNode, case: &str, limit: Duration) {
    let ok = skyhold_testkit::wait_until(limit, || {
        let log = node.log.lock();
        log.iter()
            .any(|l| l.contains("PASS") || l.contains("FAIL") || l.contains("init service failed"))
    });
    let log = node.log.lock();
    let passed = log.iter().any(|l| l.contains("PASS"));
    let failed = log
        .iter()
        .any(|l| l.contains("FAIL") || l.contains("init service failed"));
    if !ok || !passed || failed {
        panic!("case {case} did not pass; its log:\n{}", log.join("\n"));
    }
}

/// Boots `case` and expects it to pass within 60 seconds.
pub fn check(case: &str, extra: &[(&str, String)]) -> BootedNode {
    let node = boot(case, extra);
    expect_pass(&node, case, Duration::from_secs(60));
    node
}
