//! Cluster links in the metrics and the dashboard: two nodes of this
//! process linked over TLS, each endpoint showing its side of the link.

use super::{http_get, lua_dir};
use skyhold_testkit::{Authority, BootedNode};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

/// The endpoint's address from a node's log.
fn endpoint(node: &BootedNode) -> SocketAddr {
    let line = node
        .wait_for("metrics at http://", Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no metrics line; log:\n{}", node.dump()));
    line.split("metrics at http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line}"))
}

/// Scrapes `at` until `pred` holds of the text (within 20 s); the text.
fn scrape_until(at: SocketAddr, path: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, text) = http_get(at, path, "");
        if pred(&text) {
            return text;
        }
        assert!(Instant::now() < deadline, "never seen in {path}:\n{text}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn each_side_of_a_cluster_link_is_in_the_metrics_and_the_dashboard() {
    let ca = Authority::new("ops");
    ca.issue("a", "a");
    ca.issue("b", "b");
    let mut keys = ca.keys("b");
    keys.push(("metrics".into(), "127.0.0.1:0".into()));
    let b = BootedNode::boot(&lua_dir(), "ops_cluster", &keys);
    let port = b.listen_port();
    let mut keys = ca.keys("a");
    keys.push(("metrics".into(), "127.0.0.1:0".into()));
    keys.push(("peer_port".into(), port.to_string()));
    let a = BootedNode::boot(&lua_dir(), "ops_cluster", &keys);
    assert!(
        a.wait_for("CALLED", Duration::from_secs(30)).is_some(),
        "a never reached b; log:\n{}",
        a.dump()
    );
    let out = scrape_until(endpoint(&a), "/metrics", |t| {
        t.contains("skyhold_cluster_link_up{") && t.contains("peer=\"b\",direction=\"out\"} 1")
    });
    for family in [
        "skyhold_cluster_link_queued_bytes{",
        "skyhold_cluster_link_inflight_requests{",
        "skyhold_cluster_link_calls{",
        "skyhold_cluster_link_idle_seconds{",
    ] {
        assert!(out.contains(family), "no {family} in:\n{out}");
    }
    // The link reads: a's calls are answered every 200 ms.
    let idle: f64 = out
        .lines()
        .find(|l| l.starts_with("skyhold_cluster_link_idle_seconds{"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap();
    assert!(idle < 5.0, "idle {idle} s:\n{out}");
    if super::have("promtool") {
        use std::io::Write;
        let mut check = std::process::Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("promtool");
        check
            .stdin
            .take()
            .unwrap()
            .write_all(out.as_bytes())
            .unwrap();
        let res = check.wait_with_output().unwrap();
        assert!(
            res.status.success() && res.stdout.is_empty() && res.stderr.is_empty(),
            "promtool check metrics: {}{}",
            String::from_utf8_lossy(&res.stdout),
            String::from_utf8_lossy(&res.stderr)
        );
    } else {
        eprintln!("promtool is not installed: the text was not checked by it");
    }
    // b sees the same link from its side.
    scrape_until(endpoint(&b), "/metrics", |t| {
        t.contains("peer=\"a\",direction=\"in\"} 1")
    });
    // The dashboard's data lists it.
    let json = scrape_until(endpoint(&a), "/api/services", |t| {
        t.contains("\"cluster_links\":[{\"link\":")
    });
    assert!(
        json.contains("\"peer\":\"b\",\"direction\":\"out\",\"up\":true"),
        "{json}"
    );
}
