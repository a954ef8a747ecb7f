//! The web libraries against real tools: `curl` and raw sockets against
//! `http.httpd`, an RFC 6455 client written here against
//! `http.websocket`, httpc and the Lua WebSocket client against our own
//! servers (plain and TLS, with a test authority), headless Chromium
//! loading a page the node serves and talking to it over WebSocket, and
//! the native gate's WebSocket mode.

mod browser;
mod certs;
mod devtools;
mod gate;
mod http;
mod tls;
mod ws;
mod wsclient;

use skyhold_testkit::{repo, BootedNode};
use std::time::Duration;

/// Boots a node whose start service is `tests/web/lua/<start>.lua`, with
/// `extra` config keys.
fn boot(start: &str, extra: &[(&str, &str)]) -> BootedNode {
    let dir = repo().join("tests/web/lua");
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    BootedNode::boot(&dir, start, &extra)
}

/// Runs a Lua case to PASS (or panics with its log).
fn lua_pass(start: &str, extra: &[(&str, &str)]) {
    let node = boot(start, extra);
    node.expect_pass(start);
}

/// True when `tool` is on PATH (tests that need it say so and pass
/// otherwise; `.ci/run` installs them).
fn have(tool: &str) -> bool {
    std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// Waits up to `limit` for a line containing every part.
fn logged_within(node: &BootedNode, parts: &[&str], limit: Duration) -> bool {
    skyhold_testkit::wait_until(limit, || node.logged_all(parts))
}
