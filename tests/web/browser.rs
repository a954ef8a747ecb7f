//! Headless Chromium loads a page the node serves; the page's script
//! talks to the node over WebSocket and writes the echo into the page.

use super::*;
use std::process::Command;

pub fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| have(b))
}

pub fn headless(bin: &str, extra: &[&str], url: &str) -> std::process::Output {
    let profile = std::env::temp_dir().join(format!("skyhold-chromium-{}", std::process::id()));
    Command::new("timeout")
        .arg("60")
        .arg(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--virtual-time-budget=10000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("chromium runs")
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
    let out = headless(bin, &["--dump-dom"], &url);
    let dom = String::from_utf8_lossy(&out.stdout);
    assert!(
        dom.contains("echo: hello from chromium"),
        "the page did not get its echo; DOM:\n{dom}\nstderr:\n{}\nnode:\n{}",
        String::from_utf8_lossy(&out.stderr),
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
