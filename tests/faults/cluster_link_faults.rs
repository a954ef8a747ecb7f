//! Faults on the path between two nodes, put there by a fault proxy: the
//! link cut, reset, blackholed, delayed and throttled under many
//! concurrent callers.

use std::time::{Duration, Instant};

use skyhold_testkit::{Authority, BootedNode};
use skyhold_testkit::{Fault, FaultProxy};

pub fn lua_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/faults/lua")
}

/// Short heartbeats and timeouts, so a test sees a silent peer in a
/// second or two; every one of them is a config key.
pub fn fast_cluster_keys() -> Vec<(String, String)> {
    [
        ("cluster_heartbeat", "0.2"),
        ("cluster_heartbeat_timeout", "1"),
        ("cluster_handshake_timeout", "1"),
        ("cluster_reconnect_max", "0.3"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// One STAT or DONE line of the callers' node.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stat {
    pub ok: u64,
    pub fail: u64,
    pub out: u64,
    pub calls: u64,
    pub held: u64,
    pub links: u64,
    pub sent: u64,
    pub mem: u64,
}

fn field(line: &str, name: &str) -> u64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name)?.strip_prefix('='))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn parse(line: &str) -> Stat {
    Stat {
        ok: field(line, "ok"),
        fail: field(line, "fail"),
        out: field(line, "out"),
        calls: field(line, "calls"),
        held: field(line, "held"),
        links: field(line, "links"),
        sent: field(line, "sent"),
        mem: field(line, "mem"),
    }
}

/// The node whose start service runs the callers.
pub struct Callers {
    pub node: BootedNode,
}

impl Callers {
    /// Boots `n` callers of @echo on node b at `port`.
    pub fn boot(ca: &Authority, port: u16, n: usize, extra: &[(&str, &str)]) -> Callers {
        let mut keys = ca.keys("a");
        keys.extend(fast_cluster_keys());
        keys.push(("peer_port".into(), port.to_string()));
        keys.push(("fault_callers".into(), n.to_string()));
        for (k, v) in extra {
            keys.push((k.to_string(), v.to_string()));
        }
        let node = BootedNode::boot(&lua_dir(), "fault_callers", &keys);
        Callers { node }
    }

    /// The last STAT line.
    pub fn stat(&self) -> Stat {
        let log = self.node.log.lock();
        log.iter()
            .rev()
            .find(|l| l.contains("STAT "))
            .map(|l| parse(l))
            .unwrap_or_default()
    }

    /// Waits until the callers have had `more` calls answered beyond
    /// `since`; false if that took longer than `limit`.
    pub fn answered_more(&self, since: u64, more: u64, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.node.logged_all(&["init service failed"]) {
                panic!("the callers did not start\n{}", self.node.dump());
            }
            if self.stat().ok >= since + more {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// Stops the callers; waits for their DONE line (every call returned)
    /// and gives it with the BASE memory.
    pub fn stop(&self, limit: Duration) -> (Stat, u64) {
        let h = self
            .node
            .node
            .handle()
            .query_name(".fault_callers")
            .expect("the callers' service");
        let stop = skyhold_pack::pack(&[skyhold_pack::Value::String(b"stop".to_vec())]).unwrap();
        assert!(self.node.node.handle().push_event(
            h,
            skyhold_core::ptype::LUA,
            0,
            skyhold_core::Payload::from(stop)
        ));
        let done = self.node.wait_for("DONE ", limit).unwrap_or_else(|| {
            panic!(
                "calls were still out {limit:?} after the callers stopped; last: {:?}\n{}",
                self.stat(),
                self.node.dump()
            )
        });
        let base = self
            .node
            .wait_for("BASE ", Duration::from_secs(1))
            .map(|l| field(&l, "mem"))
            .unwrap_or(0);
        (parse(&done), base)
    }
}

/// Everything a caller's node held for the calls is back at rest.
pub fn assert_idle(done: Stat, base_mem: u64, log: &str) {
    assert_eq!(done.out, 0, "calls never returned\n{log}");
    assert_eq!(done.calls, 0, "clusterd still holds calls\n{log}");
    assert_eq!(done.held, 0, "clusterd still holds requests\n{log}");
    assert!(done.links <= 1, "links left over: {}\n{log}", done.links);
    // Coroutines, sessions and buffers of the calls are gone: the Lua heap
    // is back near where it started (slack for interned strings and the
    // session table's growth).
    assert!(
        done.mem <= base_mem * 2 + 256,
        "Lua memory {} KiB after the run, {} KiB before\n{log}",
        done.mem,
        base_mem
    );
}

/// Nodes a and b with a fault proxy between them, and `n` callers on a.
fn setup(tag: &str, n: usize) -> (Authority, BootedNode, FaultProxy, Callers) {
    setup_with(tag, n, &[])
}

/// An authority for nodes a and b, node b serving @echo, and a fault
/// proxy in front of it.
fn echo_behind_proxy(tag: &str) -> (Authority, BootedNode, FaultProxy) {
    let ca = Authority::new(tag);
    ca.issue("a", "a");
    ca.issue("b", "b");
    let mut keys = ca.keys("b");
    keys.extend(fast_cluster_keys());
    let b = BootedNode::boot(&lua_dir(), "fault_echo", &keys);
    let port = b.listen_port();
    let proxy = FaultProxy::start(format!("127.0.0.1:{port}").parse().unwrap());
    (ca, b, proxy)
}

/// [`setup`], with more config keys for the callers' node.
fn setup_with(
    tag: &str,
    n: usize,
    extra: &[(&str, &str)],
) -> (Authority, BootedNode, FaultProxy, Callers) {
    let (ca, b, proxy) = echo_behind_proxy(tag);
    let callers = Callers::boot(&ca, proxy.port, n, extra);
    assert!(
        callers.answered_more(0, 200, Duration::from_secs(10)),
        "no calls answered through the proxy\n{}",
        callers.node.dump()
    );
    (ca, b, proxy, callers)
}

/// A fault is put on, then taken off: no call waits past the bounds, the
/// calls come back, and the caller's node returns to its idle level.
fn survive(tag: &str, on: impl FnOnce(&FaultProxy), off: impl FnOnce(&FaultProxy), hold: Duration) {
    let (_ca, _b, proxy, callers) = setup(tag, 30);
    on(&proxy);
    std::thread::sleep(hold);
    off(&proxy);
    come_back_and_rest(&callers, "the fault");
}

/// Calls come back once `what` is over; then, stopped, every call returns
/// and the node is back at its idle level. Heartbeat timeout (1 s) plus
/// handshake timeout (1 s) bound any call, with room for a loaded machine.
fn come_back_and_rest(callers: &Callers, what: &str) {
    let before = callers.stat().ok;
    assert!(
        callers.answered_more(before, 200, Duration::from_secs(10)),
        "calls did not come back after {what}; last {:?}\n{}",
        callers.stat(),
        callers.node.dump()
    );
    let (done, base) = callers.stop(Duration::from_secs(10));
    assert_idle(done, base, &callers.node.dump());
}

#[test]
fn a_cut_link_fails_its_calls_and_the_next_calls_reconnect() {
    survive("cut", |p| p.cut(), |_| {}, Duration::from_millis(300));
}

#[test]
fn a_reset_link_fails_its_calls_and_the_next_calls_reconnect() {
    survive("reset", |p| p.reset(), |_| {}, Duration::from_millis(300));
}

#[test]
fn links_cut_again_and_again_leave_no_call_waiting() {
    survive(
        "recut",
        |p| {
            for _ in 0..10 {
                p.cut();
                std::thread::sleep(Duration::from_millis(150));
                p.reset();
                std::thread::sleep(Duration::from_millis(150));
            }
        },
        |_| {},
        Duration::ZERO,
    );
}

#[test]
fn a_peer_gone_silent_is_noticed_by_the_heartbeat_and_its_calls_fail() {
    let (_ca, _b, proxy, callers) = setup("blackhole", 30);
    proxy.set(Fault::Blackhole);
    let sent = callers.stat().sent;
    // Every call out when the path went silent fails within the heartbeat
    // timeout; later ones within the handshake timeout.
    let failed = callers.stat().fail;
    let deadline = Instant::now() + Duration::from_secs(10);
    while callers.stat().fail < failed + 30 {
        assert!(
            Instant::now() < deadline,
            "calls into the silence were not failed; last {:?}\n{}",
            callers.stat(),
            callers.node.dump()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(callers
        .node
        .eventually(&["cluster: link with b closed: read nothing for"]));
    // cluster.send went on returning while its peer was silent.
    assert!(
        callers.stat().sent > sent + 20,
        "cluster.send stalled: {:?}",
        callers.stat()
    );
    proxy.set(Fault::None);
    come_back_and_rest(&callers, "the silence");
}

#[test]
fn a_slow_path_delays_calls_but_drops_no_link() {
    // A 300 ms round trip, well inside the heartbeat timeout (raised to 3 s
    // here so that a loaded test machine cannot stretch it past).
    let (_ca, _b, proxy, callers) = setup_with("delay", 30, &[("cluster_heartbeat_timeout", "3")]);
    proxy.set(Fault::Delay(Duration::from_millis(150)));
    let before = callers.stat();
    assert!(callers.answered_more(before.ok, 100, Duration::from_secs(20)));
    proxy.set(Fault::None);
    let (done, base) = callers.stop(Duration::from_secs(10));
    assert_eq!(
        done.fail,
        before.fail,
        "a delay failed calls\n{}",
        callers.node.dump()
    );
    assert!(!callers.node.logged_all(&["link with b closed"]));
    assert_idle(done, base, &callers.node.dump());
}

#[test]
fn a_throttled_path_carries_large_calls_past_the_heartbeat_timeout() {
    let (ca, b, proxy) = echo_behind_proxy("throttle");
    // Calls of 1 MiB, one after the other, through 256 KiB/s: the link
    // reads nothing for 4 s at a time, past its 3 s heartbeat timeout, and
    // must be kept while the peer takes its bytes. (The socket's fixed
    // send buffer makes the writer wait for the peer, and each wait that
    // ends shows the peer alive.)
    proxy.set(Fault::Throttle(256 << 10));
    let callers = Callers::boot(
        &ca,
        proxy.port,
        1,
        &[
            ("fault_call_bytes", "1048576"),
            ("cluster_heartbeat_timeout", "3"),
        ],
    );
    assert!(
        callers.answered_more(0, 3, Duration::from_secs(40)),
        "large calls did not get through; last {:?}\n{}",
        callers.stat(),
        callers.node.dump()
    );
    proxy.set(Fault::None);
    let (done, base) = callers.stop(Duration::from_secs(20));
    assert_eq!(
        done.fail,
        0,
        "a slow path failed calls\n{}",
        callers.node.dump()
    );
    assert_idle(done, base, &callers.node.dump());
    drop(b);
}

#[test]
fn a_peer_that_fails_every_handshake_fails_calls_fast_and_is_retried() {
    let (_ca, _b, proxy, callers) = setup("refuse", 30);
    proxy.set(Fault::Refuse);
    proxy.reset();
    // Calls fail at once while the peer cannot be reached, and the node
    // tries again at most every cluster_reconnect_max (0.3 s here, each
    // wait shortened by at most half): not once per call.
    let failed = callers.stat().fail;
    let tried = proxy.accepted();
    std::thread::sleep(Duration::from_millis(1500));
    let during = callers.stat();
    let attempts = proxy.accepted() - tried;
    assert!(
        during.fail >= failed + 100,
        "calls to an unreachable peer did not fail fast: {during:?}\n{}",
        callers.node.dump()
    );
    assert!(
        attempts <= 30,
        "{attempts} connection attempts in 1.5 s for {} failed calls",
        during.fail - failed
    );
    assert!(callers.node.eventually(&["cluster: node b unreachable"]));
    proxy.set(Fault::None);
    assert!(
        callers.answered_more(during.ok, 200, Duration::from_secs(10)),
        "calls did not come back; last {:?}\n{}",
        callers.stat(),
        callers.node.dump()
    );
    assert!(callers.node.eventually(&["cluster: link with b up again"]));
    let (done, base) = callers.stop(Duration::from_secs(10));
    assert_idle(done, base, &callers.node.dump());
}
