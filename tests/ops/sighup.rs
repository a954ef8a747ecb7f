//! Operating a node: SIGHUP makes the logger reopen its file, so log
//! rotation (move the file, then signal) loses no lines.

use skyhold_testkit::{wait_until, NodeProcess};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn contains(path: &Path, what: &str) -> bool {
    std::fs::read_to_string(path).is_ok_and(|s| s.contains(what))
}

#[test]
fn sighup_reopens_the_log_file() {
    let dir = std::env::temp_dir().join(format!("skyhold-ops-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("ticker.lua"),
        "local skynet = require 'skynet'\n\
         skynet.start(function()\n\
         \tlocal n = 0\n\
         \twhile true do\n\
         \t\tn = n + 1\n\
         \t\tskynet.error('tick ' .. n)\n\
         \t\tskynet.sleep(2)\n\
         \tend\n\
         end)\n",
    )
    .unwrap();
    let log = dir.join("node.log");
    std::fs::write(
        dir.join("config"),
        format!(
            "thread = 2\nstart = \"ticker\"\nluaservice = \"{0}/?.lua\"\nlogger = \"{1}\"\n",
            dir.display(),
            log.display()
        ),
    )
    .unwrap();
    let node = NodeProcess::start(
        env!("CARGO_BIN_EXE_skyhold"),
        &dir.join("config"),
        &[("SKYHOLD_ROOT", env!("CARGO_MANIFEST_DIR"))],
    );
    assert!(
        wait_until(Duration::from_secs(20), || contains(&log, "tick 2")),
        "the node never logged to its file"
    );
    let rotated = dir.join("node.log.1");
    std::fs::rename(&log, &rotated).unwrap();
    let status = Command::new("kill")
        .args(["-HUP", &node.id().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(status.success());
    assert!(
        wait_until(Duration::from_secs(20), || contains(&log, "tick")),
        "no new log file after SIGHUP"
    );
    assert!(
        contains(&rotated, "tick 1"),
        "the rotated file keeps the old lines"
    );
    drop(node);
    std::fs::remove_dir_all(&dir).ok();
}
