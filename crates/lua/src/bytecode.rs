//! The one reader of Lua 5.4 binary chunks in the runtime: where each part
//! of each function of a dump lies.
//!
//! The dumps read are ones this process just made (`Function::dump`), to
//! strip names from the runtime's own code ([`crate::strip_names`]) and to
//! compare two compiled functions ([`crate::function_text`]); none is ever
//! loaded from outside. The reader still checks every length against what
//! is left and gives up (`None`) on anything it does not expect.

/// What Lua 5.4's dump starts with, up to the sizes it records.
pub const SIGNATURE: &[u8] = b"\x1bLua\x54\x00\x19\x93\r\n\x1a\n";

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

/// Where the parts of one dumped function are: byte offsets into the dump.
#[derive(Debug)]
pub struct Layout {
    /// Where the function starts (its source name).
    pub start: usize,
    /// Its instruction count.
    pub code_len: usize,
    /// Its constant count.
    pub constants: usize,
    /// Its upvalue count.
    pub upvalues: usize,
    /// Where its upvalue descriptions (3 bytes each) start.
    pub upvalues_at: usize,
    /// Where they end (the count of nested functions follows).
    pub upvalues_end: usize,
    /// Its nested functions, one after the other.
    pub protos: Vec<Layout>,
    /// Where the nested functions end (line information follows).
    pub protos_end: usize,
    /// Where the local variable names start (their count).
    pub locals_at: usize,
    /// Where the upvalue names start (their count).
    pub upvalue_names_at: usize,
    /// Where the function ends.
    pub end: usize,
}

/// A whole dump: its main function, after the header.
#[derive(Debug)]
pub struct Dump {
    /// The main function.
    pub main: Layout,
}

/// The layout of the dump `bytes`; `None` if it is not a whole Lua 5.4
/// dump this reader understands.
pub fn read(bytes: &[u8]) -> Option<Dump> {
    let mut r = Reader::new(bytes, 0);
    if r.take(SIGNATURE.len())? != SIGNATURE {
        return None;
    }
    let sizes = r.take(3)?;
    let (instruction, integer, float) = (sizes[0], sizes[1], sizes[2]);
    if integer != float {
        return None;
    }
    let number = usize::from(integer);
    // The check values (an integer and a float), then the main function's
    // upvalue count.
    r.take(number * 2 + 1)?;
    let main = r.function(usize::from(instruction), number, 0)?;
    (main.end == bytes.len()).then_some(Dump { main })
}

/// A cursor over a dump.
pub struct Reader<'a> {
    input: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A reader of `input` from offset `at`.
    pub fn new(input: &'a [u8], at: usize) -> Reader<'a> {
        Reader { input, at }
    }

    /// Where it is.
    pub fn at(&self) -> usize {
        self.at
    }

    /// The next `n` bytes, consumed.
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let input = self.input;
        let bytes = input.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(bytes)
    }

    fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    /// A size as Lua writes it: 7 bits a byte, most significant first, the
    /// last byte marked with 0x80.
    pub fn size(&mut self) -> Option<usize> {
        let mut x: usize = 0;
        loop {
            let b = self.byte()?;
            x = x.checked_mul(128)? | usize::from(b & 0x7f);
            if b & 0x80 != 0 {
                return Some(x);
            }
        }
    }

    /// A string's bytes (a size one more than its length, then the bytes;
    /// size 0 for none).
    pub fn string(&mut self) -> Option<&'a [u8]> {
        let n = self.size()?;
        self.take(n.saturating_sub(1))
    }

    fn vector(&mut self, item_len: usize) -> Option<usize> {
        let n = self.size()?;
        self.take(n.checked_mul(item_len)?)?;
        Some(n)
    }

    fn function(&mut self, instruction: usize, number: usize, depth: usize) -> Option<Layout> {
        if depth > MAX_DEPTH {
            return None;
        }
        let start = self.at;
        self.string()?; // source (none when the parent's)
        self.size()?; // first line
        self.size()?; // last line
        self.take(3)?; // parameters, vararg flag, stack size
        let code_len = self.vector(instruction)?;
        let constants = self.size()?;
        for _ in 0..constants {
            match self.byte()? {
                NIL | FALSE | TRUE => {}
                INTEGER | FLOAT => {
                    self.take(number)?;
                }
                SHORT_STRING | LONG_STRING => {
                    self.string()?;
                }
                _ => return None,
            }
        }
        let upvalues = self.size()?;
        let upvalues_at = self.at;
        self.take(upvalues.checked_mul(3)?)?;
        let upvalues_end = self.at;
        let count = self.size()?;
        let mut protos = Vec::new();
        for _ in 0..count {
            protos.push(self.function(instruction, number, depth + 1)?);
        }
        let protos_end = self.at;
        self.vector(1)?; // line info
        for _ in 0..self.size()? {
            // absolute line info: pc, line
            self.size()?;
            self.size()?;
        }
        let locals_at = self.at;
        for _ in 0..self.size()? {
            self.string()?;
            self.size()?;
            self.size()?;
        }
        let upvalue_names_at = self.at;
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
            protos_end,
            locals_at,
            upvalue_names_at,
            end: self.at,
        })
    }
}

// The dumps these tests make are Lua 5.4's; under 5.5 the reader refuses them.
#[cfg(all(test, not(feature = "lua55")))]
mod tests {
    use super::*;
    use mlua::Lua;

    #[test]
    fn a_dump_is_read_to_its_end() {
        let lua = Lua::new();
        let f = lua
            .load("local a = 1\nreturn function(x) return function() return x + a end end")
            .into_function()
            .unwrap();
        let bytes = f.dump(false);
        let dump = read(&bytes).unwrap();
        assert_eq!(dump.main.end, bytes.len());
        assert_eq!(dump.main.protos.len(), 1);
        assert_eq!(dump.main.protos[0].protos.len(), 1);
        assert_eq!(dump.main.protos[0].protos[0].upvalues, 2, "it sees x and a");
    }

    #[test]
    fn a_cut_or_foreign_dump_is_refused() {
        let lua = Lua::new();
        let bytes = lua.load("return 1").into_function().unwrap().dump(true);
        for end in 0..bytes.len() {
            assert!(read(&bytes[..end]).is_none(), "cut at {end}");
        }
        assert!(read(b"return 1").is_none());
    }
}
