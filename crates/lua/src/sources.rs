//! `skyhold.code`: source text the runtime finds or carries for services.
//!
//! - `snax(name, env)` loads a snax service file found on the `snax` path
//!   (the `luaservice` path when the config has no `snax` key) as a
//!   function running in `env`, and returns it with the template that found
//!   it.
//! - `datafile(file, env)` loads a data file (`sharedata`, `sharetable`)
//!   found on the `lua_path`, as a function running in `env`. A file name is
//!   relative to a `lua_path` root: `data/items.lua` or `data.items`.
//! - `seal(f, to)` backs `skynet.service.new`. skynet ships
//!   `string.dump(f)` bytecode to the new service; here the runtime finds the
//!   text of `f` instead, in the file it loaded `f` from, checks that the
//!   text compiles to exactly `f`'s code and that `f` captures nothing but
//!   `_ENV`, and keeps the text. A service gets back a number naming the
//!   sealed text, which only the service it was sealed *to* can use:
//!   `sealed(id)` tells that owner who gave it and where the function comes
//!   from, `reseal(id, to)` hands it on, `drop(id)` discards it and
//!   `unseal(id)` turns it into a function in the owner's state. The text
//!   never reaches Lua as a string, never travels in a message, and is never
//!   bytecode.
//!
//! Every file is found through [`SearchPath`], so it lies under a configured
//! root and is text; everything is compiled in mode `t`.

use mlua::chunk::ChunkMode;
use mlua::{Function, Lua, MultiValue, Table, Value};
use parking_lot::Mutex;
use skyhold_core::{Context, Handle};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::codecache::CodeCache;
use crate::config::LuaConfig;
use crate::paths::SearchPath;

/// The name services `require` the module by.
pub const MODULE: &str = "skyhold.code";

/// How long a sealed function waits to be unsealed.
const TTL: Duration = Duration::from_secs(60);
/// Sealed functions waiting, in all.
const MAX_SEALED: usize = 256;
/// Sealed functions waiting that one service made.
const MAX_PER_CREATOR: usize = 8;
/// `function` and `end` tokens tried on the first and last line.
const MAX_CANDIDATES: usize = 8;
/// Seal attempts one service may make per second.
const SEALS_PER_SECOND: u32 = 16;

struct Sealed {
    node: usize,
    creator: Handle,
    giver: Handle,
    owner: Handle,
    origin: String,
    path: String,
    line: usize,
    text: Vec<u8>,
    born: Instant,
}

fn store() -> &'static Mutex<HashMap<i64, Sealed>> {
    static STORE: OnceLock<Mutex<HashMap<i64, Sealed>>> = OnceLock::new();
    STORE.get_or_init(Mutex::default)
}

static NEXT_ID: AtomicI64 = AtomicI64::new(1);

fn fail(lua: &Lua, msg: impl AsRef<[u8]>) -> mlua::Result<MultiValue> {
    Ok(MultiValue::from_vec(vec![
        Value::Nil,
        Value::String(lua.create_string(msg)?),
    ]))
}

fn one(v: Value) -> MultiValue {
    MultiValue::from_vec(vec![v])
}

/// Builds the `skyhold.code` table for one service.
pub fn module(lua: &Lua, ctx: &Context, config: &Arc<LuaConfig>) -> mlua::Result<Value> {
    let m = lua.create_table()?;
    // Sealed functions are kept per node (several nodes may share a process).
    let node = Arc::as_ptr(config).addr();

    let (c, cfg) = (ctx.clone(), config.clone());
    m.set(
        "snax",
        lua.create_function(move |lua, (name, env): (String, Table)| {
            let path = match c.getenv("snax") {
                Some(spec) => SearchPath::parse(&spec),
                None => cfg.luaservice.clone(),
            };
            let (file, bytes) = match path.find_with(&name, false) {
                Ok(found) => found,
                Err(e) => return fail(lua, format!("snax service '{name}' not found:{e}")),
            };
            if let Err(e) = cfg.pins.check(&format!("snax:{name}"), &bytes) {
                return fail(lua, e);
            }
            let f = match cfg.code.load(lua, &file, &bytes) {
                Ok(f) => f,
                Err(e) => return fail(lua, e.to_string()),
            };
            f.set_environment(env)?;
            let shown = file.display().to_string();
            let pattern = path
                .templates()
                .iter()
                .find(|t| t.replace('?', &name) == shown)
                .cloned()
                .unwrap_or_default();
            Ok(MultiValue::from_vec(vec![
                Value::Function(f),
                Value::String(lua.create_string(pattern)?),
            ]))
        })?,
    )?;

    let cfg = config.clone();
    m.set(
        "datafile",
        lua.create_function(move |lua, (file, env): (String, Table)| {
            let name = file.strip_suffix(".lua").unwrap_or(&file);
            let (path, bytes) = match cfg.lua_path.find_with(name, !name.contains('/')) {
                Ok(found) => found,
                Err(e) => return fail(lua, format!("data file '{file}' not found:{e}")),
            };
            if let Err(e) = cfg.pins.check(&format!("data:{name}"), &bytes) {
                return fail(lua, e);
            }
            match lua
                .load(&bytes[..])
                .set_name(format!("@{}", path.display()))
                .set_mode(ChunkMode::Text)
                .set_environment(env)
                .into_function()
            {
                Ok(f) => Ok(one(Value::Function(f))),
                Err(e) => fail(lua, e.to_string()),
            }
        })?,
    )?;

    m.set(
        "origin",
        lua.create_function(|_, f: Function| Ok(origin_of(&f)))?,
    )?;

    let (c, cfg) = (ctx.clone(), config.clone());
    let bucket = Mutex::new((Instant::now(), SEALS_PER_SECOND));
    m.set(
        "seal",
        lua.create_function(move |lua, (f, to): (Value, Value)| {
            let Value::Function(f) = f else {
                return fail(lua, "the main function must be a Lua function");
            };
            let Some(to) = crate::sending::resolve(&c, &to) else {
                return fail(lua, "seal: invalid address");
            };
            {
                let mut b = bucket.lock();
                if b.0.elapsed() >= Duration::from_secs(1) {
                    *b = (Instant::now(), SEALS_PER_SECOND);
                }
                if b.1 == 0 {
                    return fail(lua, "too many functions sealed in the last second");
                }
                b.1 -= 1;
            }
            let me = c.handle();
            let now = Instant::now();
            {
                let mut s = store().lock();
                s.retain(|_, e| now.duration_since(e.born) < TTL);
                if s.len() >= MAX_SEALED
                    || s.values()
                        .filter(|e| e.node == node && e.creator == me)
                        .count()
                        >= MAX_PER_CREATOR
                {
                    return fail(lua, "too many sealed functions waiting");
                }
            }
            let found = match extract(lua, &f, &cfg.code) {
                Ok(found) => found,
                Err(e) => return fail(lua, e),
            };
            let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            store().lock().insert(
                id,
                Sealed {
                    node,
                    creator: me,
                    giver: me,
                    owner: to,
                    origin: found.origin,
                    path: found.path,
                    line: found.line,
                    text: found.text,
                    born: now,
                },
            );
            Ok(one(Value::Integer(id)))
        })?,
    )?;

    let c = ctx.clone();
    m.set(
        "sealed",
        lua.create_function(move |lua, id: i64| {
            let s = store().lock();
            match s.get(&id) {
                Some(e) if e.node == node && e.owner == c.handle() => {
                    Ok(MultiValue::from_vec(vec![
                        Value::Integer(i64::from(e.giver.0)),
                        Value::String(lua.create_string(&e.origin)?),
                    ]))
                }
                _ => Ok(MultiValue::new()),
            }
        })?,
    )?;

    let c = ctx.clone();
    m.set(
        "reseal",
        lua.create_function(move |lua, (id, to): (i64, Value)| {
            let Some(to) = crate::sending::resolve(&c, &to) else {
                return fail(lua, "reseal: invalid address");
            };
            let mut s = store().lock();
            match s.get_mut(&id) {
                Some(e) if e.node == node && e.owner == c.handle() => {
                    e.giver = e.owner;
                    e.owner = to;
                    e.born = Instant::now();
                    Ok(one(Value::Boolean(true)))
                }
                _ => fail(lua, "no such sealed function"),
            }
        })?,
    )?;

    let c = ctx.clone();
    m.set(
        "drop",
        lua.create_function(move |_, id: i64| {
            let mut s = store().lock();
            let mine = s
                .get(&id)
                .is_some_and(|e| e.node == node && e.owner == c.handle());
            if mine {
                s.remove(&id);
            }
            Ok(mine)
        })?,
    )?;

    let c = ctx.clone();
    m.set(
        "unseal",
        lua.create_function(move |lua, id: i64| {
            let entry = {
                let mut s = store().lock();
                let mine = s
                    .get(&id)
                    .is_some_and(|e| e.node == node && e.owner == c.handle());
                if !mine {
                    return fail(lua, "no such sealed function");
                }
                s.remove(&id).expect("present")
            };
            let chunk = padded(entry.line, &entry.text);
            // The text was checked to compile to a chunk that only makes
            // the function and returns it.
            let f: Function = lua
                .load(&chunk[..])
                .set_name(format!("@{}", entry.path))
                .set_mode(ChunkMode::Text)
                .into_function()?
                .call(())?;
            Ok(one(Value::Function(f)))
        })?,
    )?;

    Ok(Value::Table(m))
}

/// `path:first-last` of a Lua function defined in a file, unchecked.
fn origin_of(f: &Function) -> Option<String> {
    let info = f.info();
    let path = info.source.as_deref()?.strip_prefix('@')?.to_string();
    Some(format!(
        "{path}:{}-{}",
        info.line_defined?, info.last_line_defined?
    ))
}

/// A function's text, found and checked.
struct Found {
    origin: String,
    path: String,
    line: usize,
    text: Vec<u8>,
}

/// `line - 1` newlines, `return `, then `text`: compiles with `text` on
/// its original line.
fn padded(line: usize, text: &[u8]) -> Vec<u8> {
    let mut chunk = vec![b'\n'; line.saturating_sub(1)];
    chunk.extend_from_slice(b"return ");
    chunk.extend_from_slice(text);
    chunk
}

/// Finds the text of `f` in the file the runtime loaded it from.
fn extract(lua: &Lua, f: &Function, code: &CodeCache) -> Result<Found, String> {
    if cfg!(feature = "lua55") {
        // The check below reads Lua 5.4's dump layout.
        return Err(
            "not available in the lua55 build: it checks a function's text against \
             Lua 5.4 bytecode"
                .into(),
        );
    }
    let info = f.info();
    if info.what != "Lua" {
        return Err("the main function must be a Lua function (not C, not a main chunk)".into());
    }
    let nups = info.num_upvalues;
    if nups > 1 || (nups == 1 && f.environment().is_none()) {
        return Err(format!(
            "the main function may capture no variable but _ENV (it has {nups} upvalues)"
        ));
    }
    let source = info.source.clone().unwrap_or_default();
    let Some(path) = source.strip_prefix('@') else {
        return Err(format!(
            "the main function must be defined in a file skyhold loaded, not in {}",
            info.short_src.unwrap_or_default()
        ));
    };
    let (Some(first), Some(last)) = (info.line_defined, info.last_line_defined) else {
        return Err("the main function has no line information".into());
    };
    let origin = format!("{path}:{first}-{last}");
    let text = code
        .loaded_text(Path::new(path))
        .ok_or_else(|| format!("{path} is not a file skyhold loaded, or it changed since"))?;
    let not_found = || format!("could not find the text of the main function at {origin}");
    let orig = f.dump(true);
    let orig_fn = top_function(&orig).ok_or_else(not_found)?;
    let lines = line_starts(&text);
    let line = |n: usize| -> Option<(usize, usize)> {
        let start = *lines.get(n.checked_sub(1)?)?;
        let end = lines.get(n).copied().unwrap_or(text.len());
        Some((start, end))
    };
    let (a0, a1) = line(first).ok_or_else(not_found)?;
    let (b0, b1) = line(last).ok_or_else(not_found)?;
    let starts = tokens(&text, a0, a1, b"function");
    let mut ends = tokens(&text, b0, b1, b"end");
    ends.reverse();
    for &fpos in starts.iter().take(MAX_CANDIDATES) {
        let Some(paren) = after_name(&text, fpos + b"function".len()) else {
            continue;
        };
        for &epos in ends.iter().take(MAX_CANDIDATES) {
            if epos < paren {
                continue;
            }
            let mut fragment = b"function".to_vec();
            fragment.extend_from_slice(&text[paren..epos + 3]);
            let Ok(chunk) = lua
                .load(&padded(first, &fragment)[..])
                .set_name(source.as_str())
                .set_mode(ChunkMode::Text)
                .into_function()
            else {
                continue;
            };
            let dump = chunk.dump(true);
            if compiles_to(&dump, &orig, &orig_fn) {
                return Ok(Found {
                    origin,
                    path: path.to_string(),
                    line: first,
                    text: fragment,
                });
            }
        }
    }
    Err(not_found())
}

/// Byte offsets where each line starts, counting lines as Lua's lexer does
/// (`\n`, `\r`, `\r\n` and `\n\r` each end one line).
fn line_starts(text: &[u8]) -> Vec<usize> {
    let mut starts = vec![0];
    let mut i = 0;
    while i < text.len() {
        let b = text[i];
        if b == b'\n' || b == b'\r' {
            if i + 1 < text.len()
                && (text[i + 1] == b'\n' || text[i + 1] == b'\r')
                && text[i + 1] != b
            {
                i += 1;
            }
            starts.push(i + 1);
        }
        i += 1;
    }
    starts
}

fn is_ident(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// Offsets of `word` as a whole word within `text[from..to]`.
fn tokens(text: &[u8], from: usize, to: usize, word: &[u8]) -> Vec<usize> {
    let mut found = Vec::new();
    let mut i = from;
    while i + word.len() <= to {
        if &text[i..i + word.len()] == word
            && (i == 0 || !is_ident(text[i - 1]))
            && text.get(i + word.len()).is_none_or(|b| !is_ident(*b))
        {
            found.push(i);
            i += word.len();
        } else {
            i += 1;
        }
    }
    found
}

/// After `function`: skips a name (`a`, `a.b`, `a:b`) if any and returns
/// the offset of the `(` that opens the parameters.
fn after_name(text: &[u8], mut i: usize) -> Option<usize> {
    let blank = |b: u8| b == b' ' || b == b'\t';
    while text.get(i).is_some_and(|b| blank(*b)) {
        i += 1;
    }
    while text
        .get(i)
        .is_some_and(|b| is_ident(*b) || *b == b'.' || *b == b':')
    {
        i += 1;
    }
    while text.get(i).is_some_and(|b| blank(*b)) {
        i += 1;
    }
    (text.get(i) == Some(&b'(')).then_some(i)
}

// Reading Lua 5.4 binary chunks (produced here by `Function::dump`, never
// loaded) to compare two compiled functions.

/// Where the parts of one dumped function are.
#[derive(Debug)]
struct Layout {
    start: usize,
    code_len: usize,
    constants: usize,
    upvalues: usize,
    upvalues_at: usize,
    upvalues_end: usize,
    protos: Vec<Layout>,
    end: usize,
}

struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
    int_size: usize,
    num_size: usize,
}

impl Reader<'_> {
    fn size(&mut self) -> Option<usize> {
        let mut x: usize = 0;
        loop {
            let byte = *self.b.get(self.pos)?;
            self.pos += 1;
            x = x.checked_mul(128)?.checked_add(usize::from(byte & 0x7f))?;
            if byte & 0x80 != 0 {
                return Some(x);
            }
        }
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        let end = self.pos.checked_add(n)?;
        (end <= self.b.len()).then(|| self.pos = end)
    }

    fn string(&mut self) -> Option<()> {
        let n = self.size()?;
        if n > 0 {
            self.skip(n - 1)?;
        }
        Some(())
    }

    fn function(&mut self, depth: usize) -> Option<Layout> {
        if depth > 200 {
            return None;
        }
        let start = self.pos;
        self.string()?;
        self.size()?;
        self.size()?;
        self.skip(3)?;
        let code_len = self.size()?;
        self.skip(code_len.checked_mul(4)?)?;
        let constants = self.size()?;
        for _ in 0..constants {
            let tag = *self.b.get(self.pos)?;
            self.pos += 1;
            match tag {
                0x13 => self.skip(self.num_size)?,
                0x03 => self.skip(self.int_size)?,
                0x04 | 0x14 => self.string()?,
                0x00 | 0x01 | 0x11 => {}
                _ => return None,
            }
        }
        let upvalues = self.size()?;
        let upvalues_at = self.pos;
        self.skip(upvalues.checked_mul(3)?)?;
        let upvalues_end = self.pos;
        let nprotos = self.size()?;
        let mut protos = Vec::new();
        for _ in 0..nprotos {
            protos.push(self.function(depth + 1)?);
        }
        let n = self.size()?;
        self.skip(n)?;
        for _ in 0..self.size()? {
            self.size()?;
            self.size()?;
        }
        for _ in 0..self.size()? {
            self.string()?;
            self.size()?;
            self.size()?;
        }
        for _ in 0..self.size()? {
            self.string()?;
        }
        Some(Layout {
            start,
            code_len,
            constants,
            upvalues,
            upvalues_at,
            upvalues_end,
            protos,
            end: self.pos,
        })
    }
}

/// The layout of the function a dump holds.
fn top_function(dump: &[u8]) -> Option<Layout> {
    if dump.len() < 15 || &dump[..4] != b"\x1bLua" || dump[4] != 0x54 || dump[12] != 4 {
        return None;
    }
    let (int_size, num_size) = (usize::from(dump[13]), usize::from(dump[14]));
    let mut r = Reader {
        b: dump,
        pos: 15 + int_size + num_size + 1,
        int_size,
        num_size,
    };
    let layout = r.function(0)?;
    (layout.end == dump.len()).then_some(layout)
}

/// True if `chunk` (a stripped dump of `return function ... end`) only
/// makes one function, and that function compiles to the same code as the
/// function dumped in `orig`: same lines, parameters, instructions,
/// constants and nested functions, and upvalues of the same kinds (an
/// upvalue taken from the enclosing function's upvalues may sit at another
/// index there).
fn compiles_to(chunk: &[u8], orig: &[u8], o: &Layout) -> bool {
    let Some(main) = top_function(chunk) else {
        return false;
    };
    if main.constants != 0 || main.protos.len() != 1 || main.code_len > 4 {
        return false;
    }
    let c = &main.protos[0];
    if c.upvalues != o.upvalues || chunk[c.start..c.upvalues_at] != orig[o.start..o.upvalues_at] {
        return false;
    }
    if chunk[c.upvalues_end..c.end] != orig[o.upvalues_end..o.end] {
        return false;
    }
    (0..o.upvalues).all(|i| {
        let a = &orig[o.upvalues_at + 3 * i..o.upvalues_at + 3 * i + 3];
        let b = &chunk[c.upvalues_at + 3 * i..c.upvalues_at + 3 * i + 3];
        a[0] == b[0] && a[2] == b[2] && (a[0] == 0 || a[1] == b[1])
    })
}

#[cfg(all(test, not(feature = "lua55")))]
mod tests {
    use super::*;
    use mlua::StdLib;

    fn lua() -> Lua {
        Lua::new_with(StdLib::NONE, mlua::LuaOptions::default()).unwrap()
    }

    /// Compiles `src` as the file `t.lua` and finds the function `pick`
    /// selects among its results.
    fn find(src: &str, pick: &str) -> Result<(usize, String), String> {
        let lua = lua();
        let f: Function = lua
            .load(format!("{src}\nreturn {pick}"))
            .set_name("@t.lua")
            .eval()
            .unwrap();
        let orig = f.dump(true);
        let o = top_function(&orig).ok_or("no layout")?;
        let info = f.info();
        let (first, last) = (info.line_defined.unwrap(), info.last_line_defined.unwrap());
        let text = src.as_bytes();
        let lines = line_starts(text);
        let span = |n: usize| (lines[n - 1], lines.get(n).copied().unwrap_or(text.len()));
        let (a0, a1) = span(first);
        let (b0, b1) = span(last);
        let mut ends = tokens(text, b0, b1, b"end");
        ends.reverse();
        for fpos in tokens(text, a0, a1, b"function") {
            let Some(paren) = after_name(text, fpos + 8) else {
                continue;
            };
            for &epos in &ends {
                if epos < paren {
                    continue;
                }
                let mut frag = b"function".to_vec();
                frag.extend_from_slice(&text[paren..epos + 3]);
                let Ok(chunk) = lua
                    .load(&padded(first, &frag)[..])
                    .set_name("@t.lua")
                    .into_function()
                else {
                    continue;
                };
                if compiles_to(&chunk.dump(true), &orig, &o) {
                    return Ok((first, String::from_utf8(frag).unwrap()));
                }
            }
        }
        Err("not found".into())
    }

    #[test]
    fn finds_anonymous_and_named_functions() {
        let src = "local x = 1\nlocal function main(a, b)\n\tprint(a, b)\nend\nlocal g = function(...) return ... end\n";
        assert_eq!(
            find(src, "main").unwrap(),
            (2, "function(a, b)\n\tprint(a, b)\nend".into())
        );
        assert_eq!(
            find(src, "g").unwrap(),
            (5, "function(...) return ... end".into())
        );
    }

    #[test]
    fn picks_the_right_function_on_a_shared_line() {
        let src = "local t = { a = function() return 1 end, b = function() return 2 end }\n";
        assert_eq!(find(src, "t.a").unwrap().1, "function() return 1 end");
        assert_eq!(find(src, "t.b").unwrap().1, "function() return 2 end");
        let src = "local f = function() return function() end end\n";
        assert_eq!(
            find(src, "f").unwrap().1,
            "function() return function() end end"
        );
    }

    #[test]
    fn nested_functions_and_upvalue_positions() {
        let src = "local skynet = {}\nlocal function outer()\n\tlocal y = skynet\n\treturn function()\n\t\tprint(1)\n\t\tlocal z = 2\n\t\treturn function() return z end\n\tend\nend\nlocal inner = outer()\n";
        assert_eq!(find(src, "inner").unwrap().0, 4);
    }

    #[test]
    fn a_different_function_is_refused() {
        // The text on these lines is not the function's (as when a chunk
        // claims a file's name): nothing matches.
        let lua = lua();
        let f: Function = lua
            .load("return function() return 42 end")
            .set_name("@t.lua")
            .eval()
            .unwrap();
        let orig = f.dump(true);
        let o = top_function(&orig).unwrap();
        let chunk = lua
            .load("return function() return 41 end")
            .into_function()
            .unwrap();
        assert!(!compiles_to(&chunk.dump(true), &orig, &o));
        let chunk = lua
            .load("return function() return 42 end and x")
            .into_function()
            .unwrap();
        assert!(!compiles_to(&chunk.dump(true), &orig, &o));
    }

    #[test]
    fn lines_count_like_lua() {
        assert_eq!(line_starts(b"a\r\nb\n\rc\rd"), vec![0, 3, 6, 8]);
        assert_eq!(tokens(b"xend end endx", 0, 13, b"end"), vec![5]);
        assert_eq!(after_name(b" a.b:c (x)", 0), Some(7));
        assert_eq!(after_name(b" a b", 0), None);
    }
}
