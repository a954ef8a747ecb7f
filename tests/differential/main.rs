//! Differential tests against the original C modules as Debian packages
//! them. One Lua script per module (`tests/differential/lua/diff_<module>.lua`)
//! is run twice, unchanged: by Debian's `lua` with the Debian package
//! (`lua-cjson`, `lua-lpeg`, `lua-filesystem` on `lua5.4`; `lua-md5`, which
//! Debian builds for Lua 5.1 and 5.2 only, on `lua5.2`), and by skyhold as
//! the start service of a node, through `lua/runner.lua`, which collects
//! what the script prints. The two outputs must be the same line for line.
//!
//! protobuf has no Lua package in Debian: `pb.rs` checks skyhold's `pb`
//! against bytes `protoc` (Debian `protobuf-compiler`) writes at test time,
//! and `protoc.rs` checks `lualib/protoc.lua` against protoc's descriptors.
//!
//! Without the interpreter or a package the test is skipped with a printed
//! reason, unless `SKYHOLD_DIFF_REQUIRED` is set (`.ci/run` sets it and
//! installs the packages), which turns a missing one into a failure.

mod pb;
mod protoc;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// `tests/differential/lua`, where the scripts and the runner are.
fn lua_dir() -> PathBuf {
    skyhold_testkit::repo().join("tests/differential/lua")
}

/// A fresh directory under the system's temporary directory, removed on
/// drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Makes `skyhold-diff-<tag>-<pid>-<n>`.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("skyhold-diff-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("make a temporary directory");
        // Canonical, so that paths the sandbox and lfs report match.
        TempDir(std::fs::canonicalize(&p).expect("canonical temporary directory"))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Where a program is, if it is installed.
pub fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/bin", "/usr/local/bin"])
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file());
    found
}

/// Reports why a test does not run: a failure when `SKYHOLD_DIFF_REQUIRED`
/// is set, else a printed skip.
pub fn skip(reason: &str) {
    if std::env::var_os("SKYHOLD_DIFF_REQUIRED").is_some() {
        panic!("SKYHOLD_DIFF_REQUIRED is set but {reason}");
    }
    eprintln!("SKIPPED: {reason} (.ci/run installs what these tests need)");
}

/// The reference interpreter `lua` if it is installed and `require`s every
/// one of `modules`; else the reason it cannot be used.
fn reference_lua(lua: &str, package: &str, modules: &[&str]) -> Result<PathBuf, String> {
    let bin = find(lua).ok_or_else(|| format!("{lua} is not installed (apt-get install {lua})"))?;
    let probe: String = modules.iter().map(|m| format!("require '{m}' ")).collect();
    let out = Command::new(&bin)
        .args(["-e", &probe])
        .output()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{lua} cannot load {modules:?} (apt-get install {package}): {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(bin)
}

/// What `script` prints under the reference interpreter, with `DIFF_DIR`
/// set to `dir`.
fn run_reference(lua: &Path, script: &str, dir: &Path) -> String {
    let file = lua_dir().join(format!("{script}.lua"));
    let out = Command::new(lua)
        .env("LUA_PATH", format!("{}/?.lua;;", lua_dir().display()))
        .args(["-e", &format!("DIFF_DIR = {:?}", dir.display().to_string())])
        .arg(&file)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", lua.display()));
    assert!(
        out.status.success(),
        "{} {} failed: {}",
        lua.display(),
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("the scripts print text (they escape bytes)")
}

/// What `script` prints as skyhold's start service, with `DIFF_DIR` set to
/// `dir` (also the service's writable file root).
fn run_skyhold(script: &str, dir: &Path, extra: &[(&str, String)]) -> String {
    let out = dir.join(".skyhold-output");
    let mut keys: Vec<(String, String)> = vec![
        ("diff_script".into(), script.into()),
        ("diff_dir".into(), dir.display().to_string()),
        ("diff_out".into(), out.display().to_string()),
        ("file_write_root".into(), dir.display().to_string()),
        ("lua_instruction_budget".into(), "2000000000".into()),
    ];
    for (k, v) in extra {
        keys.push((k.to_string(), v.clone()));
    }
    let log =
        skyhold_testkit::run_case(&lua_dir(), "runner", &keys, Duration::from_secs(60), |l| {
            l.contains("DIFF DONE") || l.contains("init service failed")
        });
    assert!(
        log.iter().any(|l| l.contains("DIFF DONE")),
        "the runner did not finish {script}; its log:\n{}",
        log.join("\n")
    );
    let text = std::fs::read_to_string(&out).expect("the runner's output file");
    let _ = std::fs::remove_file(&out);
    text
}

/// A case whose line may differ from the reference's because the
/// reference is another version of the module: the case's name and what
/// skyhold's line must then contain (that version's answer).
type Allowed = (&'static str, &'static str);

/// Compares the two outputs line by line. A line starts with its case's
/// name; a case in `allowed` may differ, if skyhold's line has the text
/// given for it.
fn compare(module: &str, reference: &str, ours: &str, allowed: &[Allowed]) {
    let r: Vec<&str> = reference.lines().collect();
    let o: Vec<&str> = ours.lines().collect();
    let case_of = |l: Option<&str>| l.map(|l| l.split('\t').next().unwrap_or("").to_string());
    let mut diffs = Vec::new();
    for i in 0..r.len().max(o.len()) {
        let (a, b) = (r.get(i).copied(), o.get(i).copied());
        if a == b {
            continue;
        }
        let case = case_of(a);
        if case.is_some() && case == case_of(b) {
            let case = case.unwrap_or_default();
            if let Some((_, want)) = allowed.iter().find(|(c, _)| *c == case) {
                if b.is_some_and(|b| b.contains(want)) {
                    continue;
                }
            }
        }
        diffs.push(format!(
            "line {}:\n  reference: {}\n  skyhold:   {}",
            i + 1,
            a.unwrap_or("<none>"),
            b.unwrap_or("<none>")
        ));
    }
    assert!(
        r.len() > 20,
        "{module}: the reference printed too little:\n{reference}"
    );
    assert!(
        diffs.is_empty(),
        "{module}: {} lines differ:\n{}",
        diffs.len(),
        diffs.join("\n")
    );
}

/// No change to either output.
fn as_is(s: &str) -> String {
    s.to_string()
}

/// `bad argument #N to 'NAME'` with NAME as `?`: Lua 5.2 cannot name a
/// module's function in an argument error (it says `'?'`), Lua 5.4 finds
/// its name in `package.loaded`. Which name Lua prints is the
/// interpreter's, not the module's.
fn unnamed_arguments(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(at) = rest.find("bad argument #") {
        let (head, tail) = rest.split_at(at);
        out.push_str(head);
        // "bad argument #N to '"
        let Some(to) = tail.find(" to '") else {
            out.push_str(tail);
            return out;
        };
        let name_start = to + " to '".len();
        let Some(len) = tail[name_start..].find('\'') else {
            out.push_str(tail);
            return out;
        };
        out.push_str(&tail[..name_start]);
        out.push('?');
        rest = &tail[name_start + len..];
    }
    out.push_str(rest);
    out
}

/// Runs `script` under both and compares, after `normalise` is applied to
/// both outputs.
fn differential(
    script: &str,
    lua: &str,
    package: &str,
    modules: &[&str],
    extra: &[(&str, String)],
    allowed: &[Allowed],
    normalise: fn(&str) -> String,
) {
    let bin = match reference_lua(lua, package, modules) {
        Ok(b) => b,
        Err(why) => return skip(&why),
    };
    let ref_dir = TempDir::new(script);
    let reference = run_reference(&bin, script, ref_dir.path());
    let our_dir = TempDir::new(script);
    let ours = run_skyhold(script, our_dir.path(), extra);
    // The scripts print their directory as DIFF_DIR: the same text in both.
    let reference = reference.replace(&ref_dir.path().display().to_string(), "DIFF_DIR");
    let ours = ours.replace(&our_dir.path().display().to_string(), "DIFF_DIR");
    compare(script, &normalise(&reference), &normalise(&ours), allowed);
}

/// Where Debian's lua-cjson 2.1.0 (mpx's) and the lua-cjson skyhold
/// follows, openresty's 2.1.0.11 (the version skynet projects vendor),
/// differ. Each of these lines is what openresty's prints in
/// crates/cjson/tests/vectors.expected, printed there by lua-cjson itself.
const CJSON_VERSIONS: &[Allowed] = &[
    // 2.1.0.x writes JavaScript's names and says "Infinity" in the error.
    ("enc.inf.false", "must not be NaN or Infinity\""),
    ("enc.ninf.false", "must not be NaN or Infinity\""),
    ("enc.nan.false", "must not be NaN or Infinity\""),
    ("safe.enc.inf", "must not be NaN or Infinity\""),
    ("enc.inf.true", "ok \"Infinity\""),
    ("enc.ninf.true", "ok \"-Infinity\""),
    ("enc.nan.true", "ok \"[NaN]\""),
    // 2.1.0.x decodes integers as Lua integers: -0 is the integer 0, an
    // integer too big saturates (strtoll), and its token is T_INTEGER.
    ("dec.5", "ok 0"),
    ("dec.13", "ok 9.2233720368547758e+18"),
    ("dec.more.24", "ok {[1]=9.2233720368547758e+18}"),
    ("dec.60", "found T_INTEGER at character 4"),
    ("dec.67", "found T_INTEGER at character 3"),
    ("dec.95", "found T_INTEGER at character 6"),
    ("dec.96", "found T_INTEGER at character 2"),
    // 2.1.0.x reads a number with strtoll first: "0X1F" is 0 and then a
    // stray token (only a lowercase x sends it to strtod's hex).
    (
        "dec.82",
        "Expected the end but found invalid token at character 2",
    ),
    // 2.1.0.x allows precisions up to 16.
    ("arg.prec.0", "(expected integer between 1 and 16)"),
    ("arg.prec.15", "ok 15"),
];

#[test]
fn cjson() {
    differential(
        "diff_cjson",
        "lua5.4",
        "lua-cjson",
        &["cjson"],
        &[],
        CJSON_VERSIONS,
        as_is,
    );
}

/// Where Debian's LPeg 1.0.2 and LPeg 1.1 (what skyhold implements, and
/// what skynet vendors) differ.
const LPEG_VERSIONS: &[Allowed] = &[
    // 1.1's message for a bad right operand of / (lptree.c).
    ("div.bad", "unexpected boolean as 2nd operand to LPeg '/'"),
];

#[test]
fn lpeg() {
    differential(
        "diff_lpeg",
        "lua5.4",
        "lua-lpeg",
        &["lpeg", "re"],
        &[],
        LPEG_VERSIONS,
        as_is,
    );
}

#[test]
fn md5() {
    differential(
        "diff_md5",
        "lua5.2",
        "lua5.2 lua-md5",
        &["md5"],
        &[],
        &[],
        unnamed_arguments,
    );
}

#[test]
fn lfs() {
    differential(
        "diff_lfs",
        "lua5.4",
        "lua-filesystem",
        &["lfs"],
        &[],
        &[],
        as_is,
    );
}

#[test]
fn argument_names_are_taken_out() {
    assert_eq!(
        unnamed_arguments("x bad argument #1 to 'md5.sum' (y) bad argument #2 to '?' (z)"),
        "x bad argument #1 to '?' (y) bad argument #2 to '?' (z)"
    );
}

#[test]
fn a_missing_interpreter_or_module_is_a_reason_to_skip() {
    let e = reference_lua("lua-not-installed-here", "nothing", &["cjson"]).unwrap_err();
    assert!(e.contains("is not installed"), "{e}");
    if find("lua5.4").is_some() {
        let e = reference_lua("lua5.4", "nothing", &["no_such_module_here"]).unwrap_err();
        assert!(e.contains("cannot load"), "{e}");
    }
}
