//! Threat: `require` loads code the operator never deployed — a file
//! changed on disk after deployment, or a path that leads out of the module
//! directories (traversal and absolute names are covered by the sandbox
//! escape test). With a pin manifest, a module whose bytes differ is
//! refused with an error naming it; a symlink out of a root is refused.

use crate::common::*;

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
        "pinned",
        &[
            ("lua_path", lua_path.as_str()),
            ("lua_pin", manifest.to_str().unwrap()),
        ],
    );
    std::fs::remove_dir_all(&dir).ok();
}
