//! skyhold's `pb` (lua-protobuf) against `protoc`, Debian's
//! protobuf-compiler. At test time protoc compiles `pb/*.proto` into a
//! descriptor set and encodes each `pb/<case>.txtpb` (text format; its
//! first line `# proto-message: <type>` names the type). A service
//! (`lua/diff_pb.lua`) loads the descriptor set with `pb.load`, encodes the
//! same message written as a Lua table, and decodes protoc's bytes and
//! encodes them again: both must give protoc's bytes. protoc then decodes
//! our bytes, and its text must be what it makes of its own.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::{find, run_skyhold, skip, TempDir};

/// `tests/differential/pb`: the .proto files and the cases.
fn pb_dir() -> PathBuf {
    skyhold_testkit::repo().join("tests/differential/pb")
}

/// The schema files, by name, in a stable order.
fn protos() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(pb_dir())
        .expect("tests/differential/pb")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".proto"))
        .collect();
    v.sort();
    v
}

/// The cases: (name, message type), from `pb/<name>.txtpb`.
fn cases() -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = std::fs::read_dir(pb_dir())
        .expect("tests/differential/pb")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let case = name.strip_suffix(".txtpb")?.to_string();
            let text = std::fs::read_to_string(e.path()).expect("a case file");
            let ty = text
                .lines()
                .next()
                .and_then(|l| l.strip_prefix("# proto-message: "))
                .unwrap_or_else(|| panic!("{name}: no '# proto-message: <type>' first line"))
                .trim()
                .to_string();
            Some((case, ty))
        })
        .collect();
    v.sort();
    v
}

/// Runs protoc with `args` in `pb/`, `input` on its stdin; its stdout.
fn protoc(bin: &Path, args: &[String], input: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut child = Command::new(bin)
        .arg(format!("-I{}", pb_dir().display()))
        .args(args)
        .current_dir(pb_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", bin.display()));
    let mut stdin = child.stdin.take().expect("protoc's stdin");
    stdin.write_all(input).expect("write to protoc");
    drop(stdin);
    let out = child.wait_with_output().expect("protoc's output");
    assert!(
        out.status.success(),
        "protoc {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Cases whose bytes differ from protoc's because lua-protobuf writes
/// them differently (pb.c, which skyhold's bytes follow; its known answers
/// are in crates/pb/tests/data/vectors.lua). For these, protoc must read
/// our bytes as the same message, but the bytes may differ.
const LUA_PROTOBUF_WAYS: &[(&str, &str)] = &[
    // Under `encode_order` lua-protobuf writes fields in the order of its
    // own hash table of field numbers (pb_nextfield), not sorted by number
    // as protoc does.
    ("scalars_small", "field order"),
    ("scalars_max", "field order"),
    ("scalars_min", "field order"),
    ("scalars_neg1", "field order"),
    ("big_tags", "field order"),
    // lua-protobuf leaves a map entry's zero key and value out (lpbE_map
    // encodes both with lpbE_NoZero); protoc writes them.
    ("maps_zero", "map entry without zero key and value"),
];

#[test]
fn pb_against_protoc() {
    let Some(bin) = find("protoc") else {
        return skip("protoc is not installed (apt-get install protobuf-compiler)");
    };
    let dir = TempDir::new("pb");
    let d = dir.path();
    let mut args = vec![
        format!("--descriptor_set_out={}", d.join("diff.pb").display()),
        "--include_imports".to_string(),
    ];
    args.extend(protos());
    protoc(&bin, &args, b"");
    let cases = cases();
    assert!(cases.len() >= 10, "too few cases in {}", pb_dir().display());
    let mut manifest = String::new();
    for (name, ty) in &cases {
        let text = std::fs::read(pb_dir().join(format!("{name}.txtpb"))).expect("case text");
        let mut args = vec![format!("--encode={ty}")];
        args.extend(protos());
        let bytes = protoc(&bin, &args, &text);
        std::fs::write(d.join(format!("{name}.bin")), bytes).expect("write protoc's bytes");
        manifest.push_str(&format!("{name} {ty}\n"));
    }
    std::fs::write(d.join("cases.txt"), manifest).expect("write the case list");

    let out = run_skyhold("diff_pb", d, &[]);
    let mut failures = Vec::new();
    let lines: Vec<&str> = out.lines().collect();
    if !lines.first().is_some_and(|l| l.starts_with("load\ttrue")) {
        failures.push(format!(
            "pb.load of protoc's descriptor set: {:?}",
            lines.first()
        ));
    }
    for (name, ty) in &cases {
        let other_way = LUA_PROTOBUF_WAYS.iter().any(|(c, _)| c == name);
        for key in [name.clone(), format!("{name}/decode")] {
            match lines.iter().find(|l| l.split('\t').next() == Some(&key)) {
                Some(l) if l.split('\t').nth(1) == Some("same") => {}
                Some(l) if other_way && l.split('\t').nth(1) == Some("DIFFERENT") => {}
                Some(l) => failures.push(format!("{key}: {l}")),
                None => failures.push(format!("{key}: no line in the output")),
            }
        }
        // protoc reads our bytes (encoded from the Lua value, and encoded
        // again from what we decoded) as it reads its own.
        let theirs = std::fs::read(d.join(format!("{name}.bin"))).expect("protoc's bytes");
        let mut args = vec![format!("--decode={ty}")];
        args.extend(protos());
        let expected = protoc(&bin, &args, &theirs);
        for file in [format!("{name}.sky.bin"), format!("{name}.again.bin")] {
            let Ok(ours) = std::fs::read(d.join(&file)) else {
                failures.push(format!("{file}: not written"));
                continue;
            };
            let got = protoc(&bin, &args, &ours);
            if got != expected {
                failures.push(format!(
                    "{file}: protoc --decode differs\n  of protoc's bytes: {}\n  of ours: {}",
                    String::from_utf8_lossy(&expected),
                    String::from_utf8_lossy(&got)
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "pb differs from protoc:\n{}\n\nthe service's output:\n{out}",
        failures.join("\n")
    );
}
