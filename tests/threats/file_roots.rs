//! Threat: a compromised service reads or writes files it should not —
//! through `..`, an absolute path, a symlink out of a root (one it finds
//! or one it makes), a write under a read-only root, a NUL byte that C
//! would cut the path at — or exhausts the node with open files and huge
//! reads. Each is refused with an error that names the config key, a line
//! in the audit log and a count.

use skyhold_testkit::*;
use std::path::PathBuf;

fn layout() -> PathBuf {
    let d = std::env::temp_dir().join(format!("skyhold-threat-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    for sub in ["ro", "rw", "outside"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    std::fs::write(d.join("ro/data.txt"), "data\n").unwrap();
    std::fs::write(d.join("ro/big.txt"), vec![b'x'; 100_000]).unwrap();
    std::fs::write(d.join("outside/secret.txt"), "TOPSECRET\n").unwrap();
    std::os::unix::fs::symlink(d.join("outside/secret.txt"), d.join("ro/escape")).unwrap();
    std::os::unix::fs::symlink("../outside", d.join("ro/up")).unwrap();
    d
}

#[test]
fn a_service_reaches_no_file_outside_its_roots() {
    let d = layout();
    let (ro, rw) = (d.join("ro"), d.join("rw"));
    let log = lua_check(
        "file_roots",
        &[
            ("file_read_roots", ro.to_str().unwrap()),
            ("file_write_root", rw.to_str().unwrap()),
            ("file_max_open", "4"),
            ("file_max_read", "65536"),
            ("files_test_dir", d.to_str().unwrap()),
        ],
    );
    let audited = |action: &str, part: &str| {
        log.iter()
            .any(|l| l.contains(&format!("AUDIT refused {action}")) && l.contains(part))
    };
    for (action, part) in [
        ("file_read", "not under a file root (file_read_roots)"),
        ("file_read", "leads out of its file root"),
        ("file_read", "/etc/passwd"),
        ("file_read", "a file path may not contain a NUL byte"),
        ("file_write", "read-only file root"),
        ("file_write", "not under the file write root"),
        ("file_write", "may only point inside the file roots"),
        ("file_limit", "file_max_open = 4"),
        ("file_limit", "file_max_read"),
    ] {
        assert!(
            audited(action, part),
            "no audit line for {action} ({part}):\n{}",
            log.join("\n")
        );
    }
    assert!(!log.iter().any(|l| l.contains("TOPSECRET")));
    assert_eq!(
        std::fs::read_to_string(d.join("outside/secret.txt")).unwrap(),
        "TOPSECRET\n"
    );
    assert_eq!(
        std::fs::read_to_string(ro.join("data.txt")).unwrap(),
        "data\n"
    );
    assert_eq!(
        std::fs::read_dir(d.join("outside")).unwrap().count(),
        1,
        "nothing was made outside the roots"
    );
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn with_no_root_configured_there_is_no_io() {
    // sandbox_escape checks `io` is absent; lfs, if required, refuses all.
    lua_check("file_roots_none", &[]);
}
