//! Log rotation in process: `NodeRef::reopen_log`, the call the `skyhold`
//! binary makes on SIGHUP (spec §1.9: a SYSTEM message makes the logger
//! reopen its file). The binary's real signal is tested in `tests/ops.rs`
//! at the repository root.

use skyhold_core::{Handle, LogTarget, Node, NodeConfig};
use std::path::Path;
use std::time::{Duration, Instant};

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Waits until the file at `path` holds `what`.
fn wait_for(path: &Path, what: &str) -> String {
    let end = Instant::now() + Duration::from_secs(10);
    loop {
        let text = read(path);
        if text.contains(what) {
            return text;
        }
        assert!(
            Instant::now() < end,
            "{} never got {what:?}: {text:?}",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn reopen_log_starts_a_fresh_file_after_rotation() {
    let dir = std::env::temp_dir().join(format!("skyhold-log-reopen-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("node.log");
    let rotated = dir.join("node.log.1");
    let _ = std::fs::remove_file(&log);
    let _ = std::fs::remove_file(&rotated);

    let node = Node::start(NodeConfig {
        log: LogTarget::File(log.clone()),
        ..NodeConfig::default()
    })
    .unwrap();
    let h = node.handle();
    h.log(Handle::SYSTEM, "line 1");
    wait_for(&log, "line 1");

    // logrotate moves the file; the logger still writes to it until told.
    std::fs::rename(&log, &rotated).unwrap();
    h.log(Handle::SYSTEM, "line 2");
    h.reopen_log();
    h.log(Handle::SYSTEM, "line 3");

    let fresh = wait_for(&log, "line 3");
    let old = wait_for(&rotated, "line 2");
    assert!(old.contains("line 1"), "{old:?}");
    assert!(!old.contains("line 3"), "{old:?}");
    assert!(
        !fresh.contains("line 1") && !fresh.contains("line 2"),
        "{fresh:?}"
    );
    // Still a file log: time prefix, then skynet's `[:%08x] text`.
    let last = fresh.lines().last().unwrap();
    assert!(last.ends_with(" [:00000000] line 3"), "{last:?}");

    // Reopening a file that was not moved appends to it.
    h.reopen_log();
    h.log(Handle::SYSTEM, "line 4");
    let fresh = wait_for(&log, "line 4");
    assert!(fresh.contains("line 3"), "{fresh:?}");

    node.shutdown();
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn reopen_log_without_a_file_is_harmless() {
    let lines = std::sync::Arc::new(parking_lot::Mutex::new(Vec::new()));
    let node = Node::start(NodeConfig {
        log: LogTarget::Memory(lines.clone()),
        ..NodeConfig::default()
    })
    .unwrap();
    let h = node.handle();
    h.log(Handle::SYSTEM, "before");
    h.reopen_log();
    h.log(Handle::SYSTEM, "after");
    let end = Instant::now() + Duration::from_secs(10);
    while lines.lock().len() < 2 {
        assert!(Instant::now() < end, "lines: {:?}", lines.lock());
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        *lines.lock(),
        vec!["[:00000000] before".to_string(), "[:00000000] after".into()]
    );
    node.shutdown();
}
