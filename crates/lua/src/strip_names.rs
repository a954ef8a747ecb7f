//! Compiled chunks without the names of their variables.
//!
//! Loading a compiled chunk interns every string in it again, in every
//! state that loads it, and a chunk's variable names are most of its
//! strings: undumping `skynet.lua` takes about 2.5 times as long with them
//! as without any debug information. Lua's own `strip` drops everything, the
//! source name and line numbers too, so an error raised in a library
//! function would no longer say where it was. [`without_local_names`] keeps
//! the source and the lines and drops the names of locals and of upvalues
//! other than `_ENV` (mlua finds a chunk's environment by that name). Only
//! `debug.getlocal`/`getupvalue` and the `(local 'x')`/`(upvalue 'x')` part
//! of an error message read them.
//!
//! The input is a chunk this process just dumped, read by
//! [`crate::bytecode`], which gives up (`None`) on anything it does not
//! expect, so the caller keeps the chunk as it was.

use crate::bytecode::{self, Layout, Reader};

/// `chunk` (a Lua 5.4 dump) with every function's local-variable names,
/// and its upvalue names but `_ENV`, left out; `None` if it is not a dump
/// [`bytecode::read`] understands.
pub fn without_local_names(chunk: &[u8]) -> Option<Vec<u8>> {
    let dump = bytecode::read(chunk)?;
    let mut out = Vec::with_capacity(chunk.len());
    // The header and the main function's upvalue count, as they are.
    out.extend_from_slice(&chunk[..dump.main.start]);
    function(chunk, &dump.main, &mut out)?;
    Some(out)
}

/// Writes function `f` of `chunk` to `out` without its names.
fn function(chunk: &[u8], f: &Layout, out: &mut Vec<u8>) -> Option<()> {
    // Everything up to the nested functions, then each of them (they lie
    // one after the other), then the line information.
    let first_proto = f.protos.first().map_or(f.protos_end, |p| p.start);
    out.extend_from_slice(chunk.get(f.start..first_proto)?);
    for p in &f.protos {
        function(chunk, p, out)?;
    }
    out.extend_from_slice(chunk.get(f.protos_end..f.locals_at)?);
    out.push(0x80); // no locals
    let mut r = Reader::new(chunk, f.upvalue_names_at);
    let n = r.size()?;
    out.extend_from_slice(chunk.get(f.upvalue_names_at..r.at())?);
    for _ in 0..n {
        // mlua finds a chunk's environment by the name `_ENV`: that one
        // stays, every other is written as no name.
        if r.string()? == b"_ENV" {
            out.push(0x80 | 5);
            out.extend_from_slice(b"_ENV");
        } else {
            out.push(0x80);
        }
    }
    Some(())
}

// The dumps these tests make are Lua 5.4's; under 5.5 the reader refuses them.
#[cfg(all(test, not(feature = "lua55")))]
mod tests {
    use super::*;
    use mlua::chunk::ChunkMode;
    use mlua::Lua;
    use proptest::prelude::*;

    const TEXT: &str = r#"
        local greeting = "hello"
        local function shout(who)
            local loud = string.upper(who)
            return greeting .. ", " .. loud, 1.5, 7, true, nil, false
        end
        local function fails(t)
            local field = t.missing
            return field.x
        end
        return shout, fails
    "#;

    fn dumped(text: &str) -> Vec<u8> {
        let lua = Lua::new();
        let f = lua
            .load(text)
            .set_name("@lean.lua")
            .into_function()
            .unwrap();
        f.dump(false)
    }

    fn load(lua: &Lua, chunk: &[u8]) -> mlua::Function {
        lua.load(chunk)
            .set_name("@lean.lua")
            .set_mode(ChunkMode::Binary)
            .into_function()
            .unwrap()
    }

    #[test]
    fn the_lean_chunk_runs_as_the_full_one_and_is_smaller() {
        let full = dumped(TEXT);
        let lean = without_local_names(&full).expect("a dump it reads");
        assert!(
            lean.len() < full.len(),
            "{} against {}",
            lean.len(),
            full.len()
        );
        let lua = Lua::new();
        let (shout, _): (mlua::Function, mlua::Function) = load(&lua, &lean).call(()).unwrap();
        let got: (String, f64, i64, bool, Option<i64>, bool) = shout.call("you").unwrap();
        assert_eq!(got, ("hello, YOU".into(), 1.5, 7, true, None, false));
    }

    #[test]
    fn errors_still_say_where_without_the_local_name() {
        let lua = Lua::new();
        let message = |chunk: &[u8]| {
            let (_, fails): (mlua::Function, mlua::Function) = load(&lua, chunk).call(()).unwrap();
            fails
                .call::<()>(lua.create_table().unwrap())
                .unwrap_err()
                .to_string()
        };
        let full = dumped(TEXT);
        let with_names = message(&full);
        let without = message(&without_local_names(&full).unwrap());
        assert!(with_names.contains("lean.lua:9:"), "{with_names}");
        assert!(with_names.contains("local 'field'"), "{with_names}");
        assert!(without.contains("lean.lua:9:"), "{without}");
        assert!(!without.contains("'field'"), "{without}");
    }

    #[test]
    fn upvalue_names_go_too() {
        let text = "local t return function() return t.x end";
        let lua = Lua::new();
        let message = |chunk: &[u8]| {
            let f: mlua::Function = load(&lua, chunk).call(()).unwrap();
            f.call::<()>(()).unwrap_err().to_string()
        };
        let full = dumped(text);
        assert!(message(&full).contains("upvalue 't'"), "{}", message(&full));
        let without = message(&without_local_names(&full).unwrap());
        assert!(
            without.contains("lean.lua:1:") && !without.contains("'t'"),
            "{without}"
        );
    }

    #[test]
    fn the_environment_is_still_found_by_name() {
        let lua = Lua::new();
        let lean = without_local_names(&dumped("return who")).unwrap();
        let f = load(&lua, &lean);
        let env = lua.create_table().unwrap();
        env.set("who", "me").unwrap();
        assert!(f.set_environment(env).unwrap());
        assert_eq!(f.call::<String>(()).unwrap(), "me");
    }

    #[test]
    fn the_runtime_library_is_read_whole() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../lualib");
        for file in ["skynet.lua", "skynet/socket.lua", "skynet/less_used.lua"] {
            let text = std::fs::read_to_string(root.join(file)).unwrap();
            let full = dumped(&text);
            let lean = without_local_names(&full).unwrap_or_else(|| panic!("{file}"));
            assert!(lean.len() < full.len(), "{file}");
            Lua::new()
                .load(&lean[..])
                .set_mode(ChunkMode::Binary)
                .into_function()
                .unwrap();
        }
    }

    #[test]
    fn a_cut_chunk_is_refused() {
        let full = dumped(TEXT);
        for end in 0..full.len() {
            assert!(without_local_names(&full[..end]).is_none(), "cut at {end}");
        }
    }

    proptest! {
        #[test]
        fn any_bytes_are_read_or_refused_without_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let _ = without_local_names(&bytes);
        }

        #[test]
        fn a_damaged_chunk_is_read_or_refused_without_panic(at in 0usize..2048, value in any::<u8>()) {
            let mut chunk = dumped(TEXT);
            let i = at % chunk.len();
            chunk[i] = value;
            let _ = without_local_names(&chunk);
        }
    }
}
