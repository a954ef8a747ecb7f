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
//! The input is a chunk this process just dumped, but the reader still
//! checks every length against what is left and gives up (`None`) on
//! anything it does not expect, so the caller keeps the chunk as it was.

/// What Lua 5.4's dump starts with, up to the sizes it records.
const SIGNATURE: &[u8] = b"\x1bLua\x54\x00\x19\x93\r\n\x1a\n";

/// How deep functions may nest (Lua's parser stops at 200 levels).
const MAX_DEPTH: usize = 256;

/// Constant tags in a dump (Lua 5.4's variant tags).
const NIL: u8 = 0x00;
const FALSE: u8 = 0x01;
const TRUE: u8 = 0x11;
const INTEGER: u8 = 0x03;
const FLOAT: u8 = 0x13;
const SHORT_STRING: u8 = 0x04;
const LONG_STRING: u8 = 0x14;

/// `chunk` (a Lua 5.4 dump) with every function's local-variable names,
/// and its upvalue names but `_ENV`, left out; `None` if it is not a dump
/// this reader understands.
pub fn without_local_names(chunk: &[u8]) -> Option<Vec<u8>> {
    let mut r = Reader {
        input: chunk,
        at: 0,
        out: Vec::with_capacity(chunk.len()),
        instruction: 0,
        number: 0,
    };
    r.header()?;
    r.copy(1)?; // the main function's upvalue count
    r.function(0)?;
    (r.at == chunk.len()).then_some(r.out)
}

struct Reader<'a> {
    input: &'a [u8],
    at: usize,
    out: Vec<u8>,
    /// Bytes per instruction, from the header.
    instruction: usize,
    /// Bytes per integer and per float constant, from the header.
    number: usize,
}

impl<'a> Reader<'a> {
    /// The next `n` bytes, consumed.
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let input = self.input;
        let bytes = input.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(bytes)
    }

    /// The next `n` bytes, consumed and copied to the output.
    fn copy(&mut self, n: usize) -> Option<()> {
        let bytes = self.take(n)?;
        self.out.extend_from_slice(bytes);
        Some(())
    }

    fn byte(&mut self) -> Option<u8> {
        let b = *self.input.get(self.at)?;
        self.at += 1;
        Some(b)
    }

    /// A size as Lua writes it: 7 bits a byte, most significant first, the
    /// last byte marked with 0x80. Read, not copied.
    fn size(&mut self) -> Option<usize> {
        let mut x: usize = 0;
        loop {
            let b = self.byte()?;
            x = x.checked_mul(128)? | usize::from(b & 0x7f);
            if b & 0x80 != 0 {
                return Some(x);
            }
        }
    }

    /// Copies a size and returns it.
    fn copy_size(&mut self) -> Option<usize> {
        let start = self.at;
        let n = self.size()?;
        let input = self.input;
        self.out.extend_from_slice(&input[start..self.at]);
        Some(n)
    }

    /// Copies a count of items `item_len` bytes each, and the items.
    fn copy_vector(&mut self, item_len: usize) -> Option<()> {
        let n = self.copy_size()?;
        self.copy(n.checked_mul(item_len)?)
    }

    fn copy_string(&mut self) -> Option<()> {
        let n = self.copy_size()?;
        self.copy(n.saturating_sub(1))
    }

    fn skip_string(&mut self) -> Option<()> {
        let n = self.size()?;
        self.take(n.saturating_sub(1)).map(|_| ())
    }

    fn header(&mut self) -> Option<()> {
        if self.take(SIGNATURE.len())? != SIGNATURE {
            return None;
        }
        self.out.extend_from_slice(SIGNATURE);
        let sizes = self.take(3)?;
        let (instruction, integer, float) = (sizes[0], sizes[1], sizes[2]);
        if integer != float {
            return None;
        }
        self.out.extend_from_slice(sizes);
        self.instruction = usize::from(instruction);
        self.number = usize::from(integer);
        // The check values: an integer and a float.
        self.copy(self.number * 2)
    }

    fn function(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.copy_string()?; // source (none when the parent's)
        self.copy_size()?; // first line
        self.copy_size()?; // last line
        self.copy(3)?; // parameters, vararg flag, stack size
        self.copy_vector(self.instruction)?;
        self.constants()?;
        self.copy_vector(3)?; // upvalues: in stack, index, kind
        let protos = self.copy_size()?;
        for _ in 0..protos {
            self.function(depth + 1)?;
        }
        self.copy_vector(1)?; // line info
        let absolute = self.copy_size()?; // absolute line info: pc, line
        for _ in 0..absolute {
            self.copy_size()?;
            self.copy_size()?;
        }
        let locals = self.size()?;
        self.out.push(0x80); // no locals
        for _ in 0..locals {
            self.skip_string()?;
            self.size()?;
            self.size()?;
        }
        let upvalue_names = self.copy_size()?;
        for _ in 0..upvalue_names {
            self.upvalue_name()?;
        }
        Some(())
    }

    /// Copies an upvalue's name if it is `_ENV` (mlua finds a chunk's
    /// environment by that name), and writes no name otherwise.
    fn upvalue_name(&mut self) -> Option<()> {
        let n = self.size()?;
        let is_env = self.take(n.saturating_sub(1))? == b"_ENV" && n > 0;
        if is_env {
            self.out.push(0x80 | 5);
            self.out.extend_from_slice(b"_ENV");
        } else {
            self.out.push(0x80);
        }
        Some(())
    }

    fn constants(&mut self) -> Option<()> {
        let n = self.copy_size()?;
        for _ in 0..n {
            let tag = self.byte()?;
            self.out.push(tag);
            match tag {
                NIL | FALSE | TRUE => {}
                INTEGER | FLOAT => self.copy(self.number)?,
                SHORT_STRING | LONG_STRING => self.copy_string()?,
                _ => return None,
            }
        }
        Some(())
    }
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
