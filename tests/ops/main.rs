//! Operating a node as an operator does: log rotation on SIGHUP, the
//! metrics endpoint scraped by Prometheus, the dashboard in a headless
//! browser, and the debug console's netstat.
//!
//! The Prometheus and Chromium tests need those programs (`.ci/run`
//! installs them); without them they say so and pass.

mod cluster;
mod dashboard;
mod metrics;
mod netstat;
mod sighup;
mod sigterm;
mod stdin_console;

use skyhold_testkit::{repo, BootedNode};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::time::Duration;

/// The directory of this target's Lua services.
fn lua_dir() -> PathBuf {
    repo().join("tests/ops/lua")
}

/// A node running `ops_boot.lua` (a busy worker with an echo port, and a
/// debug console) with the metrics endpoint on and `extra` keys, once it
/// is up; and the endpoint's address.
fn boot(extra: &[(&str, &str)]) -> (BootedNode, SocketAddr) {
    let mut keys: Vec<(String, String)> = vec![("metrics".into(), "127.0.0.1:0".into())];
    for (k, v) in extra {
        keys.retain(|(kk, _)| kk != k);
        keys.push((k.to_string(), v.to_string()));
    }
    let node = BootedNode::boot(&lua_dir(), "ops_boot", &keys);
    assert!(
        node.wait_for("CONSOLE UP", Duration::from_secs(30))
            .is_some(),
        "the ops node did not come up; log:\n{}",
        node.dump()
    );
    let line = node
        .wait_for("metrics at http://", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no metrics line; log:\n{}", node.dump()));
    let at = line
        .split("metrics at http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line}"));
    (node, at)
}

/// The worker's address (`:0000000a`).
fn worker(node: &BootedNode) -> String {
    let line = node.wait_for("WORKER ", Duration::from_secs(10)).unwrap();
    line.rsplit("WORKER ").next().unwrap().trim().to_string()
}

/// A number after `what` in a log line.
fn announced(node: &BootedNode, what: &str) -> u16 {
    let line = node
        .wait_for(what, Duration::from_secs(10))
        .unwrap_or_else(|| panic!("no '{what}' line; log:\n{}", node.dump()));
    let tail = line.rsplit(what).next().unwrap();
    let digits: String = tail
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().expect("a port")
}

/// One HTTP request with these extra header lines: the status line and
/// the body.
fn http_get(at: SocketAddr, path: &str, headers: &str) -> (String, String) {
    try_get(at, path, headers).unwrap_or_else(|e| panic!("GET {path} from {at}: {e}"))
}

/// [`http_get`], or why it failed.
fn try_get(at: SocketAddr, path: &str, headers: &str) -> std::io::Result<(String, String)> {
    let mut s = TcpStream::connect(at)?;
    s.set_read_timeout(Some(Duration::from_secs(20)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n{headers}Connection: close\r\n\r\n",
        at.port()
    )?;
    let mut out = String::new();
    s.read_to_string(&mut out)?;
    let (head, body) = out.split_once("\r\n\r\n").unwrap_or((&out, ""));
    Ok((
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    ))
}

/// True if `program` runs (`program --version`).
fn have(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Where this target keeps what a person may want to look at afterwards.
fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("ops-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
