//! Nodes booted in this process from skynet-style config keys, with their
//! log in memory. This is the one place the test config map (two workers,
//! no harbor, the start service and its directory) is written.

use parking_lot::Mutex;
use skyhold_core::{LogTarget, Node};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::wait::wait_until;

/// What a node logged, line by line.
pub type Log = Arc<Mutex<Vec<String>>>;

/// The repository's root, where `tests/`, `examples/` and the Lua
/// libraries are.
pub fn repo() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    // This crate is `crates/testkit`: the root is two levels up. Walking up
    // rather than joining `../..` keeps the paths the sandbox sees plain.
    here.parent()
        .and_then(Path::parent)
        .expect("crates/testkit sits two levels below the root")
        .to_path_buf()
}

/// The config of a test node whose start service is `<dir>/<start>.lua`
/// (its Lua path is `dir` too), with `extra` keys added or replaced.
pub fn config<K: AsRef<str>, V: AsRef<str>>(
    dir: &Path,
    start: &str,
    extra: &[(K, V)],
) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = [
        ("thread", "2".to_string()),
        ("harbor", "0".to_string()),
        ("start", start.to_string()),
        ("luaservice", format!("{}/?.lua", dir.display())),
        ("lua_path", format!("{}/?.lua", dir.display())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in extra {
        env.insert(k.as_ref().to_string(), v.as_ref().to_string());
    }
    env
}

/// Boots a node from `env` (paths relative to `dir`) with its log in
/// memory.
pub fn boot_env(env: BTreeMap<String, String>, dir: &Path) -> (Node, Log) {
    let mut settings = skyhold::settings(env, dir).expect("settings");
    let log = Arc::new(Mutex::new(Vec::new()));
    settings.node.log = LogTarget::Memory(log.clone());
    let node = skyhold::boot(settings).expect("boot");
    (node, log)
}

/// Boots a node whose start service is `<dir>/<start>.lua` (see
/// [`config`]) with its log in memory.
pub fn boot_logged<K: AsRef<str>, V: AsRef<str>>(
    dir: &Path,
    start: &str,
    extra: &[(K, V)],
) -> (Node, Log) {
    boot_env(config(dir, start, extra), dir)
}

/// Boots a node running the case `<dir>/<case>.lua` and returns its log
/// once some line satisfies `done` (or after `limit`), the node shut down.
pub fn run_case<K: AsRef<str>, V: AsRef<str>>(
    dir: &Path,
    case: &str,
    extra: &[(K, V)],
    limit: Duration,
    done: impl Fn(&str) -> bool,
) -> Vec<String> {
    let (node, log) = boot_logged(dir, case, extra);
    wait_until(limit, || log.lock().iter().any(|l| done(l)));
    // Let lines logged right after the verdict arrive too.
    std::thread::sleep(Duration::from_millis(20));
    node.shutdown();
    let lines = log.lock().clone();
    lines
}

/// A node booted for a test, with its log.
pub struct BootedNode {
    /// The node; shut down when this is dropped.
    pub node: Node,
    /// What it logged.
    pub log: Log,
}

impl BootedNode {
    /// Boots a node whose start service is `<dir>/<start>.lua`.
    pub fn boot(dir: &Path, start: &str, extra: &[(String, String)]) -> BootedNode {
        let (node, log) = boot_logged(dir, start, extra);
        BootedNode { node, log }
    }

    /// Waits for a line containing `part`; returns it.
    pub fn wait_for(&self, part: &str, limit: Duration) -> Option<String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(l) = self.log.lock().iter().find(|l| l.contains(part)) {
                return Some(l.clone());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The port the start service announced with `LISTEN <port>`.
    pub fn listen_port(&self) -> u16 {
        let line = self
            .wait_for("LISTEN ", Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no LISTEN line; log:\n{}", self.dump()));
        line.rsplit("LISTEN ")
            .next()
            .and_then(|p| p.trim().parse().ok())
            .expect("a port after LISTEN")
    }

    /// Waits for PASS or FAIL and panics with the log unless it passed.
    pub fn expect_pass(&self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (pass, fail) = {
                let log = self.log.lock();
                (
                    log.iter().any(|l| l.contains("PASS")),
                    log.iter()
                        .any(|l| l.contains("FAIL") || l.contains("init service failed")),
                )
            };
            if fail || (!pass && Instant::now() > deadline) {
                panic!("{what} did not pass; its log:\n{}", self.dump());
            }
            if pass {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// True once a line contains every part.
    pub fn logged_all(&self, parts: &[&str]) -> bool {
        self.log
            .lock()
            .iter()
            .any(|l| parts.iter().all(|p| l.contains(p)))
    }

    /// Waits up to five seconds for a line containing every part (the
    /// logger writes its lines asynchronously).
    pub fn eventually(&self, parts: &[&str]) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.logged_all(parts) {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// The whole log, for failure messages.
    pub fn dump(&self) -> String {
        self.log.lock().join("\n")
    }
}

impl Drop for BootedNode {
    fn drop(&mut self) {
        self.node.shutdown();
    }
}
