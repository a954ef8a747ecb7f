//! The text of a Lua function, found in the file the runtime loaded it
//! from and checked to compile to exactly that function (for
//! `skynet.service.new`, see [`crate::seal_store`]).

use mlua::chunk::ChunkMode;
use mlua::{Function, Lua};
use std::path::Path;

use crate::bytecode::{self, Layout};
use crate::codecache::CodeCache;

/// `function` and `end` tokens tried on the first and last line.
const MAX_CANDIDATES: usize = 8;

/// `path:first-last` of a Lua function defined in a file, unchecked.
pub(crate) fn origin_of(f: &Function) -> Option<String> {
    let info = f.info();
    let path = info.source.as_deref()?.strip_prefix('@')?.to_string();
    Some(format!(
        "{path}:{}-{}",
        info.line_defined?, info.last_line_defined?
    ))
}

/// A function's text, found and checked.
pub(crate) struct Found {
    /// `path:first-last`.
    pub(crate) origin: String,
    /// The file.
    pub(crate) path: String,
    /// The line the function starts on.
    pub(crate) line: usize,
    /// Its text, from `function` to `end`.
    pub(crate) text: Vec<u8>,
}

/// `line - 1` newlines, `return `, then `text`: compiles with `text` on
/// its original line.
pub(crate) fn padded(line: usize, text: &[u8]) -> Vec<u8> {
    let mut chunk = vec![b'\n'; line.saturating_sub(1)];
    chunk.extend_from_slice(b"return ");
    chunk.extend_from_slice(text);
    chunk
}

/// Finds the text of `f` in the file the runtime loaded it from.
pub(crate) fn extract(lua: &Lua, f: &Function, code: &CodeCache) -> Result<Found, String> {
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

/// The layout of the function a dump holds (the main function's only
/// nested one is what `compiles_to` compares).
fn top_function(dump: &[u8]) -> Option<Layout> {
    bytecode::read(dump).map(|d| d.main)
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
