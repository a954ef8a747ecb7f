//! Headless Chromium loads a page the node serves; the page's script
//! talks to the node over WebSocket and writes the echo into the page.

use super::*;
use std::process::Command;

pub fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| have(b))
}

/// How the tests run Chromium: headless, in this container.
pub const HEADLESS: [&str; 5] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
];

/// A fresh profile directory for one Chromium run: two Chromiums on one
/// profile hand pages over.
pub fn profile_dir() -> std::path::PathBuf {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    std::env::temp_dir().join(format!(
        "skyhold-chromium-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ))
}

pub fn headless(bin: &str, extra: &[&str], url: &str) -> std::process::Output {
    let profile = profile_dir();
    let out = Command::new("timeout")
        .arg("60")
        .arg(bin)
        .args(HEADLESS)
        .arg("--virtual-time-budget=10000")
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("chromium runs");
    let _ = std::fs::remove_dir_all(&profile);
    out
}

/// The DOM once `want` is in it, read in real time (up to 30 s) over
/// Chromium's DevTools protocol (`devtools.rs`).
pub fn dom_with(bin: &str, url: &str, want: &[&str]) -> (String, String) {
    dom_with_flags(bin, &[], url, want)
}

/// [`dom_with`] with more command-line flags for Chromium.
pub fn dom_with_flags(bin: &str, flags: &[&str], url: &str, want: &[&str]) -> (String, String) {
    super::devtools::dom_when(bin, flags, url, want, Duration::from_secs(30))
}

#[test]
fn chromium_talks_to_the_node_over_websocket() {
    let Some(bin) = chromium() else {
        eprintln!("chromium is not installed: skipped (.ci/run installs it)");
        return;
    };
    let node = boot("web_server", &[]);
    let port = node.listen_port();
    let url = format!("http://127.0.0.1:{port}/page");
    let (dom, stderr) = dom_with(bin, &url, &["echo: hello from chromium"]);
    assert!(
        dom.contains("echo: hello from chromium"),
        "the page did not get its echo; DOM:\n{dom}\nstderr:\n{stderr}\nnode:\n{}",
        node.dump()
    );
    assert!(
        logged_within(
            &node,
            &["ws message: hello from chromium"],
            Duration::from_secs(5)
        ),
        "{}",
        node.dump()
    );
    let shot = std::env::temp_dir().join(format!("skyhold-browser-{}.png", std::process::id()));
    let out = headless(
        bin,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=640,200",
        ],
        &url,
    );
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    println!(
        "chromium screenshot of the page after its WebSocket exchange: {} ({size} bytes)",
        shot.display()
    );
    assert!(
        size > 0,
        "no screenshot: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
