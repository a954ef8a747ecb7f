//! Tests of file access through a Lua state: the sandbox's `io` against
//! Lua's own (same script, same transcript), and the roots' refusals.

use super::*;
use std::path::Path;

/// A fresh directory for one test.
fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("skyhold-files-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A sandboxed state with `read` roots and a `write` root, starting in
/// `start`.
fn sandboxed(
    read: &[&Path],
    write: Option<&Path>,
    start: &Path,
    tune: impl FnOnce(&mut FileRoots),
) -> Lua {
    let read: Vec<String> = read.iter().map(|p| p.display().to_string()).collect();
    let write = write.map(|p| p.display().to_string());
    let mut roots = FileRoots::from_config(
        Some(&read.join(";")),
        write.as_deref(),
        Path::new("/"),
        start,
    )
    .unwrap();
    tune(&mut roots);
    with_roots(roots)
}

/// A state (Lua's libraries, its `io` replaced) with `roots`.
fn with_roots(roots: FileRoots) -> Lua {
    let lua = Lua::new();
    install(&lua, Arc::new(roots)).unwrap();
    lua
}

/// Exercises io and returns what each call gave, one line each.
const TRANSCRIPT: &str = r#"
local dir = ...
local out = {}
local function rec(...)
	local t = table.pack(...)
	for i = 1, t.n do
		local v = t[i]
		if io.type(v) then v = io.type(v) end
		t[i] = tostring(v)
	end
	out[#out + 1] = table.concat(t, ",", 1, t.n)
end
local p = dir .. "/t.txt"
local f = assert(io.open(p, "w"))
rec(io.type(f))
rec(f:write("line1\n", 42, " ", 1.5, " ", 1.0, " ", -0.0, " ", 2^63, "\n", "0x1F 3.25e2 nope\n", "last"))
rec(f:close())
rec(io.type(f), tostring(f))
rec(pcall(f.read, f))
rec(io.open(dir .. "/missing.txt"))
rec(pcall(io.open, p, "rw"))
rec(pcall(io.open, p, {}))
rec(pcall(io.open, {}))
rec(io.open(p, "r+b") ~= nil)
f = io.open(p)
rec(f:read("l"))
rec(f:read("n", "n"))
rec(f:read("n"))
rec(f:read("L"))
rec(f:read(2), f:read(0), f:read("a"), f:read("a"), f:read(0), f:read(1), f:read("l"))
rec(f:seek("set", 2), f:read(3), f:seek(), f:seek("end"), f:seek("cur", -4), f:read("*a"))
rec(f:seek("set"), f:read("*l", "*L", 3, "*n"))
rec(pcall(f.read, f, "x"))
rec(pcall(function() local r = f:read("l", "x") return r end))
rec(pcall(function() local r = f.read(f, "x") return r end))
rec(pcall(function() local r = f:seek("x") return r end))
rec(pcall(function() local r = f:write({}) return r end))
rec(pcall(function() local r = f.write(f, 1, {}) return r end))
rec(pcall(function() local r = f.read local x = r(f, "q") return x end))
rec(pcall(function() local r = f.read(42) return r end))
rec(pcall(function() local r = f.read() return r end))
rec(pcall(function() local r = io.open(p, "z") return r end))
rec(pcall(function() local r = io.open() return r end))
rec(pcall(function() local r = io.type() return r end))
rec(pcall(f.read, f, {}))
rec(pcall(f.seek, f, "bogus"))
rec(pcall(f.seek, f, "set", 1.5))
rec(f:seek("set", -1))
rec(f:write("x"))
rec(f:setvbuf("no"))
rec(pcall(f.setvbuf, f, "x"))
rec(f:close())
rec(pcall(f.close, f))
rec(pcall(f.seek, f))
for l in io.lines(p) do rec(l) end
for a, b in io.lines(p, 1, "l") do rec(a, b) end
for n in io.lines(p, "L") do rec(n) end
rec(pcall(io.lines, dir .. "/missing.txt"))
local g = io.open(p, "a+")
rec(g:write("!", "?"))
rec(g:seek("set"))
rec(g:read("a"))
g:close()
local h = io.open(p, "r+")
rec(h:write("LINE"))
rec(h:seek("set"))
rec(h:read("l"))
h:close()
f = io.open(p)
local it = f:lines()
rec(it())
f:close()
rec(pcall(it))
do
	local c <close> = io.open(p)
	rec(io.type(c))
	f = c
end
rec(io.type(f))
local d = io.open(dir)
rec(d:read("a"))
d:close()
rec(pcall(io.type))
rec(io.type(42), io.type(io))
local w = io.open(p, "w")
rec(w:flush())
rec(w:read("l"))
rec(w:write(""))
w:close()
rec(io.open(p):read("a"), io.open(p):read(0))
w = io.open(p, "w")
w:write("  -12 0x10p1 .5 5. 1e 0x 99999999999999999999\n")
w:close()
f = io.open(p)
rec(f:read("n", "n", "n", "n"))
rec(f:read("n"))
rec(f:read("n"))
rec(f:read("n"))
f:close()
return table.concat(out, "\n")
"#;

fn transcript(lua: &Lua, dir: &Path) -> String {
    lua.load(TRANSCRIPT)
        .call::<String>(dir.display().to_string())
        .unwrap()
}

#[test]
fn io_gives_what_lua_gives() {
    let dir = scratch("diff");
    let (real_dir, ours_dir) = (dir.join("real"), dir.join("ours"));
    std::fs::create_dir_all(&real_dir).unwrap();
    std::fs::create_dir_all(&ours_dir).unwrap();
    let real = Lua::new();
    let expected = transcript(&real, &real_dir);
    let ours = sandboxed(&[], Some(&ours_dir), &ours_dir, |_| {});
    let got = transcript(&ours, &ours_dir).replace(
        &ours_dir.display().to_string(),
        &real_dir.display().to_string(),
    );
    for (i, (e, g)) in expected.lines().zip(got.lines()).enumerate() {
        assert_eq!(g, e, "line {} of the transcript", i + 1);
    }
    assert_eq!(got.lines().count(), expected.lines().count());
    std::fs::remove_dir_all(&dir).ok();
}

/// `ro/` (read root, with `data.txt`, a link inside and a link out),
/// `rw/` (write root) and `outside/secret.txt`.
fn layout(name: &str) -> PathBuf {
    let d = scratch(name);
    for sub in ["ro/sub", "rw", "outside"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    std::fs::write(d.join("ro/data.txt"), "data\n").unwrap();
    std::fs::write(d.join("outside/secret.txt"), "secret\n").unwrap();
    std::os::unix::fs::symlink("../data.txt", d.join("ro/sub/inside")).unwrap();
    std::os::unix::fs::symlink(d.join("outside/secret.txt"), d.join("ro/out_abs")).unwrap();
    std::os::unix::fs::symlink("../outside", d.join("ro/out_rel")).unwrap();
    d
}

fn eval(lua: &Lua, code: &str) -> String {
    lua.load(code).eval::<String>().unwrap()
}

#[test]
fn paths_outside_the_roots_are_refused() {
    let d = layout("refuse");
    let lua = sandboxed(&[&d.join("ro")], Some(&d.join("rw")), &d.join("ro"), |_| {});
    let open = |p: &str, mode: &str| {
        lua.load(format!(
            "local f, e, n = io.open({p:?}, {mode:?}) if f then f:close() return 'ok' end return e .. ' ' .. n"
        ))
        .eval::<String>()
        .unwrap()
    };
    assert_eq!(open("data.txt", "r"), "ok");
    assert_eq!(open("sub/inside", "r"), "ok");
    assert_eq!(open("sub/../data.txt", "r"), "ok");
    let secret = d.join("outside/secret.txt").display().to_string();
    for (p, why) in [
        (
            "../outside/secret.txt",
            "not under a file root (file_read_roots)",
        ),
        (secret.as_str(), "not under a file root (file_read_roots)"),
        ("/etc/passwd", "not under a file root (file_read_roots)"),
        ("out_abs", "leads out of its file root"),
        ("out_rel/secret.txt", "leads out of its file root"),
    ] {
        let r = open(p, "r");
        assert!(
            r.starts_with(&format!("{p}: {why}")) && r.ends_with(" 13"),
            "{p}: {r}"
        );
    }
    let r = open("data.txt", "w");
    assert!(r.contains("under a read-only file root"), "{r}");
    let r = open("data.txt", "a");
    assert!(r.contains("read-only"), "{r}");
    let r = open("data.txt", "r+");
    assert!(r.contains("read-only"), "{r}");
    assert_eq!(
        std::fs::read_to_string(d.join("ro/data.txt")).unwrap(),
        "data\n"
    );
    let r = eval(&lua, r#"local f, e = io.open("data.txt\0.png") return e"#);
    assert!(
        r.contains("data.txt\\0.png: a file path may not contain a NUL byte"),
        "{r}"
    );
    // The write root takes writes, and reads.
    let rw = d.join("rw").display().to_string();
    assert_eq!(open(&format!("{rw}/new.txt"), "w"), "ok");
    assert_eq!(open(&format!("{rw}/new.txt"), "r"), "ok");
    assert_eq!(open(&format!("{rw}/../ro/data.txt"), "r"), "ok");
    let r = open(&format!("{rw}/../outside/x"), "w");
    assert!(
        r.contains("not under the file write root (file_write_root)"),
        "{r}"
    );
    assert!(!d.join("outside/x").exists());
    let files = of(&lua).unwrap();
    assert!(files.roots().counters().refused.load(Ordering::Relaxed) >= 9);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn a_symlink_made_in_the_write_root_leads_nowhere() {
    let d = layout("wlink");
    let lua = sandboxed(&[], Some(&d.join("rw")), &d.join("rw"), |_| {});
    std::os::unix::fs::symlink(d.join("outside/secret.txt"), d.join("rw/evil")).unwrap();
    std::os::unix::fs::symlink("../outside/new", d.join("rw/dangling")).unwrap();
    let r = eval(
        &lua,
        r#"local f, e = io.open("evil", "w") return tostring(e)"#,
    );
    assert!(r.contains("leads out of its file root"), "{r}");
    let r = eval(
        &lua,
        r#"local f, e = io.open("dangling", "w") return tostring(e)"#,
    );
    assert!(r.contains("leads out of its file root"), "{r}");
    assert_eq!(
        std::fs::read_to_string(d.join("outside/secret.txt")).unwrap(),
        "secret\n"
    );
    assert!(!d.join("outside/new").exists());
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn open_files_and_read_sizes_are_bounded() {
    let d = layout("limits");
    std::fs::write(d.join("ro/big.txt"), vec![b'x'; 5000]).unwrap();
    let lua = sandboxed(&[&d.join("ro")], None, &d.join("ro"), |r| {
        r.max_open = 2;
        r.max_read = 4096;
    });
    let r = eval(
        &lua,
        r#"
        local a = io.open("data.txt")
        local b = io.open("data.txt")
        local c, e, n = io.open("data.txt")
        assert(c == nil and n == 24, tostring(e))
        a:close()
        local c2 = assert(io.open("data.txt"))
        return e"#,
    );
    assert_eq!(
        r,
        "data.txt: too many open files in this service (file_max_open = 2)"
    );
    // Files left to the collector give their places back.
    lua.gc_collect().unwrap();
    lua.gc_collect().unwrap();
    assert_eq!(of(&lua).unwrap().open_count(), 0);
    let r = eval(
        &lua,
        r#"
        local f = io.open("big.txt")
        assert(#f:read(4096) == 4096)
        f:seek("set")
        local ok, e = pcall(f.read, f, "a")
        f:close()
        return tostring(e)"#,
    );
    assert_eq!(r, "read: more than 4096 bytes in one call (file_max_read)");
    let r = eval(
        &lua,
        r#"
        local ok, e = pcall(function() for l in io.lines("big.txt") do end end)
        return tostring(e)"#,
    );
    assert!(r.contains("file_max_read"), "{r}");
    let c = of(&lua).unwrap();
    assert!(c.roots().counters().limits.load(Ordering::Relaxed) >= 3);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn the_dns_files_only_by_key() {
    let d = scratch("dns");
    let mut roots = FileRoots::from_config(None, None, &d, &d).unwrap();
    assert!(!roots.any());
    roots.set("file_dns", "true").unwrap();
    assert!(roots.any());
    assert_eq!(roots.dns_file(&d, b"/etc/hosts"), Some("/etc/hosts"));
    assert_eq!(
        roots.dns_file(Path::new("/etc"), b"resolv.conf"),
        Some("/etc/resolv.conf")
    );
    assert_eq!(roots.dns_file(&d, b"/etc/passwd"), None);
    assert_eq!(roots.dns_file(&d, b"/etc/hosts\0"), None);
    let lua = with_roots(roots);
    let r = eval(
        &lua,
        r#"local f = io.open("/etc/hosts") local ok = f ~= nil if f then f:close() end
           local g, e = io.open("/etc/passwd") return tostring(ok) .. " " .. e"#,
    );
    assert_eq!(
        r,
        "true /etc/passwd: not under a file root (file_read_roots)"
    );
    let r = eval(&lua, r#"local f, e = io.open("/etc/hosts", "a") return e"#);
    assert!(r.contains("no file_write_root configured"), "{r}");
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn config_values_are_checked() {
    let d = scratch("config");
    let e = FileRoots::from_config(Some("nope"), None, &d, &d).unwrap_err();
    assert!(e.contains("file_read_roots") && e.contains("nope"), "{e}");
    std::fs::write(d.join("f"), "").unwrap();
    let e = FileRoots::from_config(None, Some("f"), &d, &d).unwrap_err();
    assert!(
        e.contains("file_write_root") && e.contains("not a directory"),
        "{e}"
    );
    let mut r = FileRoots::from_config(Some("."), None, &d, &d).unwrap();
    assert!(r.set("file_max_open", "0").is_err());
    assert!(r.set("file_max_read", "x").is_err());
    assert!(r.set("file_dns", "yes").is_err());
    r.set("file_max_open", "3").unwrap();
    assert_eq!(r.max_open, 3);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn the_unavailable_functions_say_why() {
    let d = scratch("nostd");
    let lua = sandboxed(&[&d], None, &d, |_| {});
    for f in ["read", "write", "popen", "input", "output", "tmpfile"] {
        let r = eval(
            &lua,
            &format!("local ok, e = pcall(io.{f}, 'x') return tostring(e)"),
        );
        assert!(r.contains("not available in skyhold"), "{f}: {r}");
    }
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn message_logs_go_under_the_write_root_only() {
    let base = scratch("msglog");
    let (root, outside) = (base.join("var"), base.join("elsewhere"));
    std::fs::create_dir_all(root.join("logs")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    let roots = |write: Option<&Path>| {
        FileRoots::from_config(
            None,
            write.map(|p| p.to_str().unwrap()),
            Path::new("/"),
            &base,
        )
        .unwrap()
    };

    let none = roots(None);
    let e = none.log_dir(None).unwrap_err();
    assert!(e.contains("no file_write_root"), "{e}");
    assert!(none.open_log(Some("."), "0000000a.log").is_err());

    let r = roots(Some(&root));
    let canon = root.canonicalize().unwrap();
    assert_eq!(r.log_dir(None).unwrap(), canon);
    // logpath as a service names a path: from the working directory.
    assert_eq!(r.log_dir(Some("var/logs")).unwrap(), canon.join("logs"));
    let e = r.log_dir(Some(".")).unwrap_err();
    assert!(
        e.contains("logpath .: not under the file write root"),
        "{e}"
    );
    let e = r.log_dir(Some("var/missing")).unwrap_err();
    assert!(e.contains("logpath var/missing"), "{e}");

    let (mut f, path) = r.open_log(Some("var/logs"), "0000000a.log").unwrap();
    assert_eq!(Path::new(&path), canon.join("logs/0000000a.log"));
    let mode = std::os::unix::fs::PermissionsExt::mode(&f.metadata().unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    std::io::Write::write_all(&mut f, b"one\n").unwrap();
    drop(f);
    // Appends, never truncates.
    let (mut f, _) = r.open_log(Some("var/logs"), "0000000a.log").unwrap();
    std::io::Write::write_all(&mut f, b"two\n").unwrap();
    assert_eq!(
        std::fs::read_to_string(root.join("logs/0000000a.log")).unwrap(),
        "one\ntwo\n"
    );

    // A link planted where the file goes does not lead it out.
    let target = outside.join("victim");
    std::fs::write(&target, "untouched").unwrap();
    std::os::unix::fs::symlink(&target, root.join("0000000b.log")).unwrap();
    let e = r.open_log(None, "0000000b.log").unwrap_err();
    assert!(e.contains("leads out of its file root"), "{e}");
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "untouched");
    std::fs::remove_dir_all(&base).ok();
}
