//! A real peer process killed with SIGKILL and started again, over and
//! over, under many concurrent callers; and a peer that comes back with a
//! certificate the cluster does not trust.

use std::path::Path;
use std::time::Duration;

use crate::cluster_link_faults::{assert_idle, fast_cluster_keys, lua_dir, Callers};
use skyhold_testkit::{Authority, NodeProcess};

/// A free loopback port (the peer takes it again after each restart).
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// Node b as its own process, running `fault_echo` on `port` with the
/// identity `file` of `ca`.
fn start_peer(ca: &Authority, file: &str, port: u16, dir: &Path) -> NodeProcess {
    let mut config = String::new();
    let mut keys = ca.keys(file);
    keys.extend(fast_cluster_keys());
    keys.extend([
        ("thread".to_string(), "2".to_string()),
        ("harbor".to_string(), "0".to_string()),
        ("start".to_string(), "fault_echo".to_string()),
        (
            "luaservice".to_string(),
            format!("{}/?.lua", lua_dir().display()),
        ),
        ("listen_port".to_string(), port.to_string()),
    ]);
    for (k, v) in keys {
        config.push_str(&format!("{k} = {v:?}\n"));
    }
    let path = dir.join(format!("{file}.config"));
    std::fs::write(&path, config).unwrap();
    NodeProcess::start(env!("CARGO_BIN_EXE_skyhold"), &path, &[])
}

#[test]
fn a_peer_killed_and_restarted_ten_times_leaves_no_call_unanswered() {
    let ca = Authority::new("restart");
    ca.issue("a", "a");
    ca.issue("b", "b");
    let port = free_port();
    let mut peer = start_peer(&ca, "b", port, &ca.dir);
    let callers = Callers::boot(&ca, port, 50, &[]);
    for round in 1..=10 {
        let s = callers.stat();
        assert!(
            callers.answered_more(s.ok, 200, Duration::from_secs(15)),
            "round {round}: calls did not come back after the restart; last {:?}\n{}",
            callers.stat(),
            callers.node.dump()
        );
        peer.kill();
        // While the peer is down, calls fail (fast) rather than wait.
        let s = callers.stat();
        std::thread::sleep(Duration::from_millis(400));
        assert!(
            callers.stat().fail > s.fail,
            "round {round}: no call failed while the peer was down\n{}",
            callers.node.dump()
        );
        peer = start_peer(&ca, "b", port, &ca.dir);
    }
    let s = callers.stat();
    assert!(callers.answered_more(s.ok, 200, Duration::from_secs(15)));
    assert!(callers.node.eventually(&["cluster: link with b up again"]));
    let (done, base) = callers.stop(Duration::from_secs(10));
    assert_idle(done, base, &callers.node.dump());
}

#[test]
fn a_peer_back_with_an_untrusted_certificate_gets_no_calls_and_none_wait() {
    let ca = Authority::new("badcert");
    ca.issue("a", "a");
    ca.issue("b", "b");
    let other = Authority::new("impostor");
    other.issue("b", "b");
    let port = free_port();
    let mut peer = start_peer(&ca, "b", port, &ca.dir);
    let callers = Callers::boot(&ca, port, 30, &[]);
    assert!(callers.answered_more(0, 200, Duration::from_secs(15)));
    peer.kill();
    // Once calls fail, every call the real peer answered has been counted.
    let before = callers.stat();
    assert!(
        skyhold_testkit::wait_until(Duration::from_secs(10), || callers.stat().fail
            > before.fail),
        "no call failed after the peer was killed\n{}",
        callers.node.dump()
    );
    std::thread::sleep(Duration::from_millis(200));
    let s = callers.stat();
    // The same name and port, signed by an authority a does not trust.
    peer = start_peer(&other, "b", port, &other.dir);
    std::thread::sleep(Duration::from_millis(1500));
    let during = callers.stat();
    assert_eq!(during.ok, s.ok, "a call reached the impostor");
    assert!(
        during.fail > s.fail + 100,
        "calls did not fail fast: {during:?}"
    );
    assert!(callers
        .node
        .eventually(&["cluster: node b unreachable", "TLS"]));
    peer.kill();
    peer = start_peer(&ca, "b", port, &ca.dir);
    assert!(
        callers.answered_more(during.ok, 200, Duration::from_secs(15)),
        "calls did not come back; last {:?}\n{}",
        callers.stat(),
        callers.node.dump()
    );
    let (done, base) = callers.stop(Duration::from_secs(10));
    assert_idle(done, base, &callers.node.dump());
    drop(peer);
}
