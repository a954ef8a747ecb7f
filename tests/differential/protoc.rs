//! skyhold's `lualib/protoc.lua` against `protoc` (Debian's
//! protobuf-compiler): each `protoc/*.proto` that no other imports is
//! compiled by protoc (`-o --include_imports`) at test time, and by our
//! protoc.lua in a service (`lua/diff_protoc.lua`). The two descriptor
//! sets, decoded with pb, must hold the same values (field order in the
//! bytes may differ), and pb must list the same types and fields after
//! loading either. protoc's own `google/protobuf/descriptor.proto`
//! (libprotobuf-dev) must have every type and field of the descriptor.proto
//! protoc.lua carries.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{find, run_skyhold, skip, TempDir};

/// `tests/differential/protoc`: the .proto files.
fn proto_dir() -> PathBuf {
    skyhold_testkit::repo().join("tests/differential/protoc")
}

/// Where protoc's own descriptor.proto is, if libprotobuf-dev is there.
const DESCRIPTOR_INCLUDE: &str = "/usr/include";

fn protoc(bin: &Path, dir: &Path, args: &[String]) {
    let out = Command::new(bin)
        .arg(format!("-I{}", dir.display()))
        .arg(format!("-I{DESCRIPTOR_INCLUDE}"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    assert!(
        out.status.success(),
        "protoc {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn protoc_lua_against_protoc() {
    let Some(bin) = find("protoc") else {
        return skip("protoc is not installed (apt-get install protobuf-compiler)");
    };
    let descriptor = Path::new(DESCRIPTOR_INCLUDE).join("google/protobuf/descriptor.proto");
    if !descriptor.exists() {
        return skip(
            "protoc's descriptor.proto is not installed (apt-get install libprotobuf-dev)",
        );
    }
    let dir = TempDir::new("protoc");
    let d = dir.path();
    let mut names: Vec<String> = Vec::new();
    let mut texts = String::new();
    for e in std::fs::read_dir(proto_dir()).expect("tests/differential/protoc") {
        let e = e.expect("a directory entry");
        let name = e.file_name().to_string_lossy().into_owned();
        if name.ends_with(".proto") {
            let text = std::fs::read_to_string(e.path()).expect("a .proto file");
            std::fs::write(d.join(&name), &text).expect("copy a .proto file");
            texts.push_str(&text);
            names.push(name);
        }
    }
    names.sort();
    // The files no other file imports are the cases; the rest come in
    // with them.
    let cases: Vec<&String> = names
        .iter()
        .filter(|n| !texts.contains(&format!("\"{n}\"")))
        .collect();
    assert!(
        cases.len() >= 4,
        "too few cases in {}",
        proto_dir().display()
    );
    for name in &cases {
        protoc(
            &bin,
            d,
            &[
                format!(
                    "--descriptor_set_out={}",
                    d.join(format!("{name}.pb")).display()
                ),
                "--include_imports".into(),
                name.to_string(),
            ],
        );
    }
    protoc(
        &bin,
        d,
        &[
            format!("--descriptor_set_out={}", d.join("descriptor.pb").display()),
            "google/protobuf/descriptor.proto".into(),
        ],
    );
    let list: String = cases.iter().map(|n| format!("{n}\n")).collect();
    std::fs::write(d.join("protoc_cases.txt"), list).expect("write the case list");

    let out = run_skyhold("diff_protoc", d, &[]);
    let lines: Vec<&str> = out.lines().collect();
    let mut failures = Vec::new();
    let mut expected: Vec<String> = Vec::new();
    for name in &cases {
        expected.push(name.to_string());
        expected.push(format!("{name}/pb"));
        expected.push(format!("{name}/again"));
    }
    expected.push("descriptor.proto".into());
    for key in &expected {
        match lines.iter().find(|l| l.split('\t').next() == Some(key)) {
            Some(l) if l.split('\t').nth(1) == Some("same") => {}
            Some(l) => failures.push(l.to_string()),
            None => failures.push(format!("{key}: no line in the output")),
        }
    }
    // The built-in descriptor.proto is not empty (a test that cannot fail
    // would pass on an empty listing).
    let count = lines
        .iter()
        .find_map(|l| l.strip_prefix("descriptor.proto/count\t"))
        .and_then(|n| n.trim().parse::<usize>().ok())
        .unwrap_or(0);
    if count < 150 {
        failures.push(format!(
            "descriptor.proto lists only {count} types and fields"
        ));
    }
    assert!(
        failures.is_empty(),
        "protoc.lua differs from protoc:\n{}\n\nthe service's output:\n{out}",
        failures.join("\n")
    );
}
