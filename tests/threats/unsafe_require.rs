//! Threat: `require` loads code the operator never deployed — a file
//! changed on disk after deployment, or a path that leads out of the module
//! directories (traversal and absolute names are covered by the sandbox
//! escape test). With a pin manifest, a module whose bytes differ is
//! refused with an error naming it; a symlink out of a root is refused,
//! also when the file it replaced was loaded before (the node keeps what
//! it found, and must notice the swap).

use skyhold_testkit::*;
use std::time::Duration;

#[test]
fn tampered_modules_and_symlinks_out_of_the_roots_are_refused() {
    let dir = std::env::temp_dir().join(format!("skyhold-pins-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("pinned_ok.lua"), "return { value = 42 }\n").unwrap();
    std::fs::write(
        dir.join("pinned_tampered.lua"),
        "return { value = 'evil' }\n",
    )
    .unwrap();
    let _ = std::fs::remove_file(dir.join("escape_link.lua"));
    std::os::unix::fs::symlink("/etc/hostname", dir.join("escape_link.lua")).unwrap();
    let good = skyhold_lua::pins::sha256_hex(b"return { value = 42 }\n");
    let manifest = dir.join("pins.txt");
    std::fs::write(
        &manifest,
        format!("pinned_ok {good}\npinned_tampered {}\n", "0".repeat(64)),
    )
    .unwrap();
    let threats = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/threats/lua");
    let lua_path = format!("{}/?.lua;{}/?.lua", threats.display(), dir.display());
    lua_check(
        "unsafe_require_pinned",
        &[
            ("lua_path", lua_path.as_str()),
            ("lua_pin", manifest.to_str().unwrap()),
        ],
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_module_swapped_for_a_link_out_of_its_root_after_loading_is_refused() {
    let base = std::env::temp_dir().join(format!("skyhold-swap-{}", std::process::id()));
    let (lib, elsewhere) = (base.join("lib"), base.join("elsewhere"));
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::fs::write(lib.join("swap_mod.lua"), "return { where = 'inside' }\n").unwrap();
    std::fs::write(elsewhere.join("evil.lua"), "return { where = 'outside' }\n").unwrap();

    let threats = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/threats/lua");
    let lua_path = format!("{}/?.lua;{}/?.lua", threats.display(), lib.display());
    let (node, log) = boot_logged(
        &threats,
        "unsafe_require_swapped_module",
        &[("lua_path", lua_path)],
    );
    let logged = |what: &str| log.lock().iter().any(|l| l.contains(what));

    assert!(
        wait_until(Duration::from_secs(30), || logged("FIRST LOADED")
            || logged("FAIL")),
        "the module was never loaded"
    );
    // The swap is one rename, as an attacker would make it: removing the
    // file first left a moment with no module at all, and a probe that
    // came then failed with "not found" instead of meeting the link.
    std::os::unix::fs::symlink(elsewhere.join("evil.lua"), lib.join("swap_mod.tmp")).unwrap();
    std::fs::rename(lib.join("swap_mod.tmp"), lib.join("swap_mod.lua")).unwrap();
    wait_until(Duration::from_secs(30), || logged("PASS") || logged("FAIL"));
    node.shutdown();
    let lines = log.lock().clone();
    std::fs::remove_dir_all(&base).ok();
    assert!(
        lines.iter().any(|l| l.contains("PASS")) && !lines.iter().any(|l| l.contains("FAIL")),
        "{}",
        lines.join("\n")
    );
}
