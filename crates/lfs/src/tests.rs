//! Tests of lfs in a sandboxed state with a read root and a write root.

use super::*;
use skyhold_lua::files::FileRoots;
use skyhold_lua::sandbox::{self, SandboxOptions};
use std::path::{Path, PathBuf};

fn setup(name: &str) -> (Lua, PathBuf) {
    let d = std::env::temp_dir().join(format!("skyhold-lfs-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    for sub in ["ro/sub", "rw", "outside"] {
        std::fs::create_dir_all(d.join(sub)).unwrap();
    }
    std::fs::write(d.join("ro/data.txt"), "12345").unwrap();
    std::fs::write(d.join("outside/secret"), "s").unwrap();
    std::os::unix::fs::symlink("data.txt", d.join("ro/alias")).unwrap();
    std::os::unix::fs::symlink(d.join("outside"), d.join("ro/escape")).unwrap();
    let roots = FileRoots::from_config(Some("ro"), Some("rw"), &d, &d.join("ro")).unwrap();
    let opts = SandboxOptions {
        files: Some(Arc::new(roots)),
        ..SandboxOptions::default()
    };
    let lua = sandbox::new_unbound(&opts).unwrap().0;
    let files = files::of(&lua).unwrap();
    let t = create(&lua, files).unwrap();
    lua.globals().set("lfs", t).unwrap();
    lua.globals()
        .set("RW", d.join("rw").display().to_string())
        .unwrap();
    (lua, d)
}

fn run(lua: &Lua, code: &str) -> String {
    lua.load(code)
        .eval::<String>()
        .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn attributes_in_both_forms() {
    let (lua, d) = setup("attr");
    let r = run(
        &lua,
        r#"
        local a = lfs.attributes("data.txt")
        local keys = {}
        for k in pairs(a) do keys[#keys + 1] = k end
        table.sort(keys)
        assert(lfs.attributes("data.txt", "size") == 5)
        assert(lfs.attributes("sub", "mode") == "directory")
        local t = {}
        assert(lfs.attributes("data.txt", t) == t and t.mode == "file")
        assert(lfs.attributes("alias", "mode") == "file")
        local l = lfs.symlinkattributes("alias")
        assert(l.mode == "link" and l.target == "data.txt", tostring(l.target))
        assert(lfs.symlinkattributes("alias", "target") == "data.txt")
        local ok, e = pcall(lfs.attributes, "data.txt", "colour")
        assert(not ok and e == "invalid attribute name 'colour'", e)
        local n, m, c = lfs.attributes("nope")
        assert(n == nil and m == "cannot obtain information from file 'nope': No such file or directory" and c == 2, m)
        return table.concat(keys, " ") .. "|" .. a.permissions:len() .. "|" .. math.type(a.modification)"#,
    );
    assert_eq!(
        r,
        "access blksize blocks change dev gid ino mode modification nlink permissions rdev size uid|9|integer"
    );
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn reads_outside_the_roots_are_refused() {
    let (lua, d) = setup("outside");
    let r = run(
        &lua,
        r#"
        local out = {}
        for _, p in ipairs { "../outside/secret", "escape/secret", "/etc/passwd" } do
            local n, m, c = lfs.attributes(p)
            out[#out + 1] = m .. " " .. c
        end
        local ok, e = pcall(lfs.dir, "../outside")
        out[#out + 1] = e
        local ok2, e2 = lfs.chdir("/")
        out[#out + 1] = tostring(ok2) .. " " .. e2
        return table.concat(out, "\n")"#,
    );
    let lines: Vec<&str> = r.lines().collect();
    assert!(
        lines[0].contains("'../outside/secret': not under a file root")
            && lines[0].ends_with(" 13"),
        "{r}"
    );
    assert!(lines[1].contains("leads out of its file root"), "{r}");
    assert!(lines[2].contains("not under a file root"), "{r}");
    assert!(
        lines[3].starts_with("cannot open ../outside: not under a file root"),
        "{r}"
    );
    assert!(
        lines[4].starts_with("nil Unable to change working directory to '/'"),
        "{r}"
    );
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn dir_lists_and_closes() {
    let (lua, d) = setup("dir");
    let r = run(
        &lua,
        r#"
        local names = {}
        for n in lfs.dir(".") do names[#names + 1] = n end
        table.sort(names)
        local it, obj = lfs.dir("sub")
        assert(obj:next() == ".")
        obj:close()
        local ok, e = pcall(obj.next, obj)
        assert(not ok and e:find("closed directory"), e)
        local ok2, e2 = pcall(lfs.dir, "missing")
        assert(not ok2 and e2 == "cannot open missing: No such file or directory", e2)
        return table.concat(names, " ")"#,
    );
    assert_eq!(r, ". .. alias data.txt escape sub");
    let files = files::of(&lua).unwrap();
    lua.gc_collect().unwrap();
    assert_eq!(files.open_count(), 0);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn changes_only_under_the_write_root() {
    let (lua, d) = setup("write");
    let r = run(
        &lua,
        r#"
        assert(lfs.mkdir(RW .. "/new") == true)
        local n, m, c = lfs.mkdir(RW .. "/new")
        assert(n == nil and m == "File exists" and c == 17, m)
        assert(lfs.attributes(RW .. "/new", "permissions"):sub(1, 3) == "rwx")
        local f = assert(io.open(RW .. "/new/f.txt", "w"))
        f:write("x")
        assert(lfs.lock(f, "w") == true)
        local g = assert(io.open(RW .. "/new/f.txt", "r"))
        local ok, why = lfs.lock(g, "w")
        assert(ok == nil and why == "Resource temporarily unavailable", why)
        assert(lfs.unlock(f) == true)
        assert(lfs.lock(g, "r") == true)
        local bad, badmsg = pcall(lfs.lock, g, "x")
        assert(not bad and badmsg == "lock: invalid mode", badmsg)
        f:close()
        local closed, cmsg = pcall(lfs.lock, f, "r")
        assert(not closed and cmsg == "lock: closed file", cmsg)
        local sm, mode = lfs.setmode(g, "text")
        assert(sm == true and mode == "binary")
        g:close()
        assert(lfs.touch(RW .. "/new/f.txt", 1000, 2000) == true)
        assert(lfs.attributes(RW .. "/new/f.txt", "modification") == 2000)
        assert(lfs.attributes(RW .. "/new/f.txt", "access") == 1000)
        assert(lfs.link(RW .. "/new/f.txt", RW .. "/hard") == true)
        assert(lfs.attributes(RW .. "/hard", "nlink") == 2)
        assert(lfs.link("f.txt", RW .. "/new/soft", true) == true)
        assert(lfs.symlinkattributes(RW .. "/new/soft", "target") == "f.txt")
        local l1, l1m = lfs.link("/etc/passwd", RW .. "/evil", true)
        assert(l1 == nil and l1m:find("may only point inside the file roots"), l1m)
        local l2, l2m = lfs.link("data.txt", RW .. "/fromro")
        assert(l2 == nil and l2m:find("read%-only file root"), l2m)
        local lock = assert(lfs.lock_dir(RW))
        local again, amsg = lfs.lock_dir(RW)
        assert(again == nil and amsg == "File exists", amsg)
        lock:free()
        assert(lfs.lock_dir(RW)):free()
        local r1, r1m, r1c = lfs.mkdir("sub/x")
        assert(r1 == nil and r1m:find("under a read%-only file root") and r1c == 13, r1m)
        local r2, r2m = lfs.rmdir("sub")
        assert(r2 == nil and r2m:find("read%-only"), r2m)
        local t1, t1m = lfs.touch("data.txt")
        assert(t1 == nil and t1m:find("read%-only"), t1m)
        assert(lfs.rmdir(RW .. "/new") == nil)
        return "ok""#,
    );
    assert_eq!(r, "ok");
    assert!(!d.join("ro/sub/x").exists());
    assert!(!d.join("rw/evil").exists());
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn chdir_is_the_services_own() {
    let (lua, d) = setup("chdir");
    let start = d.join("ro").display().to_string();
    let r = run(
        &lua,
        r#"
        local before = lfs.currentdir()
        assert(lfs.chdir("sub") == true)
        local inside = lfs.currentdir()
        local f = assert(io.open("../data.txt"))
        f:close()
        assert(lfs.chdir(RW) == true)
        local n, m = lfs.chdir("../outside")
        assert(n == nil and m:find("not under a file root"), m)
        return before .. "|" .. inside"#,
    );
    assert_eq!(r, format!("{start}|{start}/sub"));
    assert_ne!(std::env::current_dir().unwrap(), Path::new(&start));
    std::fs::remove_dir_all(&d).ok();
}

/// Found by tests/differential against Debian's lua-filesystem: `chdir`
/// into a root itself gave `root/.` as the current directory, and `..`
/// back into a root the same.
#[test]
fn chdir_into_a_root_is_the_roots_path() {
    let (lua, d) = setup("chdir_root");
    let rw = d.join("rw").display().to_string();
    let r = run(
        &lua,
        r#"
        assert(lfs.mkdir(RW .. "/inner"))
        assert(lfs.chdir(RW .. "/inner"))
        assert(lfs.chdir(".."))
        local up = lfs.currentdir()
        assert(lfs.chdir(RW))
        return up .. "|" .. lfs.currentdir()"#,
    );
    assert_eq!(r, format!("{rw}|{rw}"));
    std::fs::remove_dir_all(&d).ok();
}

/// Also found by tests/differential: argument errors name the function
/// `lfs.NAME` (as Lua 5.4 finds it among the loaded modules) when called
/// through `pcall`, and `dir:close()` returns nothing, not `nil`.
#[test]
fn argument_errors_and_closing_as_lfs_does() {
    let (lua, d) = setup("argnames");
    let r = run(
        &lua,
        r##"
        local _, e1 = pcall(lfs.attributes)
        local _, e2 = pcall(lfs.lock, "file", "w")
        local _, obj = lfs.dir(RW)
        local n = select("#", obj:close())
        local m = select("#", obj:close())
        return e1 .. "|" .. e2 .. "|" .. n .. m"##,
    );
    assert_eq!(
        r,
        "bad argument #1 to 'lfs.attributes' (string expected, got no value)|\
         bad argument #1 to 'lfs.lock' (FILE* expected, got string)|00"
    );
    std::fs::remove_dir_all(&d).ok();
}
