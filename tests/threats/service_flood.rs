//! Threat: a compromised service exhausts the node by creating services —
//! thousands a second, each a Lua state, until memory runs out.
//!
//! Each service may start services only so fast (`spawn_burst` at once,
//! then `spawn_rate` a second), counted against the service that asked even
//! when `.launcher` or `.service` does the launching; and no new Lua service
//! starts while the Lua memory of all services is past `lua_memory_total`.
//! Each refusal names its config key, is audited and counted, and the node
//! goes on: others still start services, and the flooder does again later.
//! A policy role may be given higher limits; skyhold's own services are
//! never refused.

use parking_lot::Mutex;
use skyhold_core::Node;
use skyhold_testkit::*;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// A node running `tests/threats/lua/service_flood.lua` as its start
/// service, with `flood_case` and `extra` config keys, once the case has
/// said PASS (it panics with the log otherwise). Still running, so its
/// counters can be read.
struct Case {
    node: Node,
    log: Arc<Mutex<Vec<String>>>,
}

impl Case {
    fn run(case: &str, extra: &[(&str, &str)]) -> Case {
        let dir = repo().join("tests/threats/lua");
        let mut keys = vec![("flood_case", case)];
        keys.extend_from_slice(extra);
        let (node, log) = boot_logged(&dir, "service_flood", &keys);
        let ended = |l: &String| {
            l.contains("PASS") || l.contains("FAIL") || l.contains("init service failed")
        };
        wait_until(Duration::from_secs(30), || log.lock().iter().any(ended));
        let c = Case { node, log };
        if !c.has("PASS") || c.has("FAIL") || c.has("init service failed") {
            c.node.shutdown();
            panic!("case {case} did not pass; its log:\n{}", c.text());
        }
        c
    }

    fn has(&self, part: &str) -> bool {
        self.count(part) > 0
    }

    fn count(&self, part: &str) -> usize {
        self.log.lock().iter().filter(|l| l.contains(part)).count()
    }

    fn text(&self) -> String {
        self.log.lock().join("\n")
    }

    /// The number the case logged after `refusals seen: `.
    fn refusals_seen(&self) -> u64 {
        self.log
            .lock()
            .iter()
            .find_map(|l| l.split("refusals seen: ").nth(1)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no refusal count in the log:\n{}", self.text()))
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        self.node.shutdown();
    }
}

#[test]
fn a_service_spawning_in_a_loop_is_refused_past_its_burst() {
    let c = Case::run("rate", &[("spawn_burst", "20"), ("spawn_rate", "1")]);
    let log = c.text();
    // Refused through the launcher and through skynet.launch, each counted
    // and audited against the flooder, not against the launcher.
    let counted = c
        .node
        .handle()
        .counters()
        .spawn_refusals
        .load(Ordering::Relaxed);
    assert_eq!(counted, c.refusals_seen(), "{log}");
    assert!(
        c.log
            .lock()
            .iter()
            .any(|l| l.contains("AUDIT refused launch by")
                && l.contains("script service_flood_child (role service)")
                && l.contains("(through ")
                && l.contains("config spawn_rate / spawn_burst")),
        "{log}"
    );
    assert!(!log.contains("(role system) on"), "{log}");
    // Putting launches on another service's account needs launch_for:
    // refused and audited, both through the launcher and directly.
    assert!(c.count("AUDIT refused launch_for by") >= 2, "{log}");
}

#[test]
fn past_the_memory_budget_new_lua_services_wait_for_memory_to_be_freed() {
    let c = Case::run(
        "memory",
        &[("lua_memory_total", &(16u32 << 20).to_string())],
    );
    let log = c.text();
    let counted = c
        .node
        .handle()
        .counters()
        .memory_refusals
        .load(Ordering::Relaxed);
    assert_eq!(counted, c.refusals_seen(), "{log}");
    assert!(
        c.count("past the budget of 16.0 MiB (config lua_memory_total)") as u64 >= counted,
        "each refusal is audited:\n{log}"
    );
    // The operator is told once that the budget was passed, however many
    // launches it refused, and once that it is under again.
    assert_eq!(c.count("is past the budget"), 1, "{log}");
    assert_eq!(c.count("is down to"), 1, "{log}");
}

#[test]
fn a_role_the_policy_raises_is_not_held_to_the_nodes_limits() {
    let c = Case::run(
        "policy",
        &[
            ("policy", "service_flood_policy.lua"),
            ("spawn_burst", "20"),
            ("spawn_rate", "1"),
            ("lua_memory_total", &(16u32 << 20).to_string()),
        ],
    );
    let log = c.text();
    // The loosening is in the audit log from boot.
    assert!(
        c.has("AUDIT policy: role vip raises spawn_burst to 100 (config spawn_burst = 20)"),
        "{log}"
    );
    assert!(
        c.has("AUDIT policy: role vip raises lua_memory_total to unlimited"),
        "{log}"
    );
    let counters = c.node.handle();
    let counters = counters.counters();
    assert_eq!(counters.spawn_refusals.load(Ordering::Relaxed), 0, "{log}");
    assert_eq!(counters.memory_refusals.load(Ordering::Relaxed), 1, "{log}");
}

#[test]
fn skyholds_own_services_are_never_refused() {
    // Every limit at its lowest: the node still boots (bootstrap starts the
    // launcher, .service, the start service...), and only the start
    // service's own launch is refused.
    let c = Case::run(
        "system",
        &[
            ("spawn_burst", "1"),
            ("spawn_rate", "1"),
            ("lua_memory_total", "1"),
        ],
    );
    let log = c.text();
    let counters = c.node.handle();
    let counters = counters.counters();
    assert_eq!(counters.spawn_refusals.load(Ordering::Relaxed), 0, "{log}");
    assert_eq!(counters.memory_refusals.load(Ordering::Relaxed), 1, "{log}");
}
