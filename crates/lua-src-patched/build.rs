//! Copies the Lua sources of the real `lua-src` release into `OUT_DIR` and
//! applies skyhold's patch to each version. See `PATCH.md`.
//!
//! The real release cannot be a dependency of this crate: cargo holds one
//! 551.0.x version of `lua-src` per build graph, and this crate is it. So
//! `upstream/` is a workspace of its own whose one dependency is that
//! release, and `cargo metadata` on it (which fetches the release as any
//! dependency is fetched, from the registry or a configured vendor
//! directory) says where its sources are unpacked.

use std::env;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

#[allow(dead_code)]
#[path = "src/diff.rs"]
mod diff;

/// Each version's source directory and its patch.
const VERSIONS: &[(&str, &str)] = &[
    ("lua-5.4.9", "patches/lua-5.4.9.diff"),
    ("lua-5.5.1", "patches/lua-5.5.1.diff"),
];

fn main() {
    println!("cargo:rerun-if-changed=patches");
    println!("cargo:rerun-if-changed=src/diff.rs");
    println!("cargo:rerun-if-changed=upstream/Cargo.toml");
    println!("cargo:rerun-if-changed=upstream/Cargo.lock");
    println!("cargo:rerun-if-env-changed=SKYHOLD_LUA_SRC_DIR");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let upstream = find_upstream(&manifest);
    for (dir, patch) in VERSIONS {
        let from = upstream.join(dir);
        let to = out.join(dir);
        if to.exists() {
            fs::remove_dir_all(&to).expect("clear the patched tree");
        }
        fs::create_dir_all(&to).expect("make the patched tree");
        for entry in fs::read_dir(&from).unwrap_or_else(|e| panic!("{}: {e}", from.display())) {
            let path = entry.expect("read the sources").path();
            if path.is_file() {
                fs::copy(&path, to.join(path.file_name().expect("a file name")))
                    .expect("copy a source file");
            }
        }
        let text = fs::read_to_string(manifest.join(patch)).expect("read the patch");
        let files = diff::parse(&text).unwrap_or_else(|e| panic!("{patch}: {e}"));
        for f in files {
            let target = to.join(&f.name);
            let old =
                fs::read_to_string(&target).unwrap_or_else(|e| panic!("{patch}: {}: {e}", f.name));
            let new = f.apply(&old).unwrap_or_else(|e| panic!("{patch}: {e}"));
            fs::write(&target, new).expect("write a patched file");
        }
    }
    println!("cargo:rustc-env=SKYHOLD_LUA_PATCHED={}", out.display());
}

/// The real crate's unpacked sources: `SKYHOLD_LUA_SRC_DIR` if set, else
/// where `cargo metadata` on `upstream/` finds the release.
fn find_upstream(manifest: &std::path::Path) -> PathBuf {
    if let Some(dir) = env::var_os("SKYHOLD_LUA_SRC_DIR") {
        return PathBuf::from(dir);
    }
    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--manifest-path",
        ])
        .arg(manifest.join("upstream").join("Cargo.toml"))
        .output()
        .expect("run cargo metadata");
    if !out.status.success() {
        panic!(
            "cargo metadata on upstream/ failed (set SKYHOLD_LUA_SRC_DIR to the lua-src 551.0.2 sources to skip it): {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let json = String::from_utf8_lossy(&out.stdout);
    // Each package's "manifest_path"; the one whose directory holds the
    // first version's sources is the release.
    json.split("\"manifest_path\":\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(|p| PathBuf::from(p.replace("\\\\", "\\")))
        .filter_map(|p| p.parent().map(|d| d.to_path_buf()))
        .find(|d| d.join(VERSIONS[0].0).is_dir())
        .unwrap_or_else(|| panic!("cargo metadata named no lua-src with {}", VERSIONS[0].0))
}
