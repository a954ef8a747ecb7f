//! The JSON reader, free of Lua: it tokenises as lua-cjson does (the same
//! tokens, the same leniencies, the same error text and character
//! positions) and hands values to a [`Sink`], which builds them.
//!
//! It never recurses: nesting is a stack bounded by the configured depth
//! (and by [`HARD_MAX_DEPTH`] whatever that is), every scan is linear, and
//! the only buffer it owns holds one string token, never longer than the
//! input. Every [`STEP_CHUNK`] steps of work it asks the sink to charge
//! them.

use crate::number::{at, strtod, strtoll};

/// Nesting past this fails whatever `decode_max_depth` says. (lua-cjson
/// stops where Lua's stack runs out, a little past 300 000 levels; a Rust
/// decoder holds a reference per open level, so it stops sooner.)
pub const HARD_MAX_DEPTH: usize = 100_000;

/// Work is charged to the sink in steps of about this many.
pub const STEP_CHUNK: i64 = 1024;

/// What the reader needs of the configuration.
#[derive(Clone, Copy, Debug)]
pub struct DecodeOptions {
    /// `decode_max_depth`.
    pub max_depth: usize,
    /// `decode_invalid_numbers`: accept `Infinity`, `NaN`, hex and leading
    /// zeros.
    pub invalid_numbers: bool,
    /// `decode_allow_comment`: skip `//` and `/* */` comments.
    pub allow_comment: bool,
}

impl Default for DecodeOptions {
    fn default() -> Self {
        DecodeOptions {
            max_depth: 1000,
            invalid_numbers: true,
            allow_comment: false,
        }
    }
}

/// One scalar value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'a> {
    /// A string's bytes, escapes decoded.
    Str(&'a [u8]),
    /// A number with a point, an exponent, or out of integer syntax.
    Number(f64),
    /// A number in integer syntax.
    Integer(i64),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// Builds what the reader reads. Calls come in document order: `begin` a
/// container, then for each member (`key` first in an object) a value made
/// current by `scalar` or by `begin`…`end`, then `store` puts the current
/// value into the innermost open container; `end` closes it and makes it
/// the current value. At the end the current value is the document.
pub trait Sink {
    /// The sink's own failure (a Lua error, a spent budget).
    type Error;
    /// Makes a scalar the current value.
    fn scalar(&mut self, v: Scalar<'_>) -> Result<(), Self::Error>;
    /// Opens an array or an object.
    fn begin(&mut self, array: bool) -> Result<(), Self::Error>;
    /// The key of the next member of the innermost object.
    fn key(&mut self, k: &[u8]) -> Result<(), Self::Error>;
    /// Stores the current value in the innermost container.
    fn store(&mut self) -> Result<(), Self::Error>;
    /// Closes the innermost container, making it the current value.
    fn end(&mut self) -> Result<(), Self::Error>;
    /// Charges `steps` of work.
    fn charge(&mut self, steps: i64) -> Result<(), Self::Error>;
}

/// Why a document was refused.
#[derive(Debug, PartialEq)]
pub enum DecodeError<E> {
    /// lua-cjson's message for it, word for word.
    Syntax(String),
    /// The sink failed.
    Sink(E),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str,
    Number(f64),
    Integer(i64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Tok {
    fn name(&self) -> &'static str {
        match self {
            Tok::ObjBegin => "T_OBJ_BEGIN",
            Tok::ObjEnd => "T_OBJ_END",
            Tok::ArrBegin => "T_ARR_BEGIN",
            Tok::ArrEnd => "T_ARR_END",
            Tok::Str => "T_STRING",
            Tok::Number(_) => "T_NUMBER",
            Tok::Integer(_) => "T_INTEGER",
            Tok::Bool(_) => "T_BOOLEAN",
            Tok::Null => "T_NULL",
            Tok::Colon => "T_COLON",
            Tok::Comma => "T_COMMA",
            Tok::End => "T_END",
            Tok::Error(why) => why,
        }
    }
}

struct Lexer<'a> {
    s: &'a [u8],
    pos: usize,
    opts: DecodeOptions,
    /// The current string token's bytes.
    text: Vec<u8>,
    /// Where the last token started (for error messages).
    index: usize,
}

/// lua-cjson's check for numbers that strict JSON forbids (a `+`, a hex
/// prefix, a leading zero, `inf`, `nan`).
fn is_invalid_number(s: &[u8], mut p: usize) -> bool {
    if at(s, p) == b'+' {
        return true;
    }
    if at(s, p) == b'-' {
        p += 1;
    }
    let c = at(s, p);
    if c == b'0' {
        let c2 = at(s, p + 1);
        return c2 | 0x20 == b'x' || c2.is_ascii_digit();
    }
    if c <= b'9' {
        return false;
    }
    let ci = |w: &[u8]| {
        w.iter()
            .enumerate()
            .all(|(k, b)| at(s, p + k).to_ascii_lowercase() == *b)
    };
    ci(b"inf") || ci(b"nan")
}

fn hex4(s: &[u8], p: usize) -> Option<u32> {
    let mut v = 0u32;
    for k in 0..4 {
        v = (v << 4) | (at(s, p + k) as char).to_digit(16)?;
    }
    Some(v)
}

impl<'a> Lexer<'a> {
    fn error(&mut self, why: &'static str) -> Tok {
        self.index = self.pos;
        Tok::Error(why)
    }

    /// Skips white space (and comments when allowed); an unclosed comment
    /// is an error token.
    fn skip(&mut self) -> Option<Tok> {
        loop {
            while matches!(at(self.s, self.pos), b' ' | b'\t' | b'\n' | b'\r') {
                self.pos += 1;
            }
            if !self.opts.allow_comment || at(self.s, self.pos) != b'/' {
                return None;
            }
            match at(self.s, self.pos + 1) {
                b'/' => {
                    self.pos += 2;
                    while !matches!(at(self.s, self.pos), 0 | b'\n') {
                        self.pos += 1;
                    }
                }
                b'*' => {
                    self.pos += 2;
                    loop {
                        match at(self.s, self.pos) {
                            0 => return Some(self.error("unclosed multi-line comment")),
                            b'*' if at(self.s, self.pos + 1) == b'/' => {
                                self.pos += 2;
                                break;
                            }
                            _ => self.pos += 1,
                        }
                    }
                }
                _ => return None,
            }
        }
    }

    fn next(&mut self) -> Tok {
        if let Some(t) = self.skip() {
            return t;
        }
        self.index = self.pos;
        let c = at(self.s, self.pos);
        let single = match c {
            b'{' => Some(Tok::ObjBegin),
            b'}' => Some(Tok::ObjEnd),
            b'[' => Some(Tok::ArrBegin),
            b']' => Some(Tok::ArrEnd),
            b',' => Some(Tok::Comma),
            b':' => Some(Tok::Colon),
            _ => None,
        };
        if let Some(t) = single {
            self.pos += 1;
            return t;
        }
        match c {
            0 => Tok::End,
            b'"' => self.string(),
            b'-' | b'0'..=b'9' => {
                if !self.opts.invalid_numbers && is_invalid_number(self.s, self.pos) {
                    return self.error("invalid number");
                }
                self.number()
            }
            b't' | b'f' | b'n' | b'i' | b'I' | b'N' | b'+' => {
                let rest = &self.s[self.pos.min(self.s.len())..];
                if rest.starts_with(b"true") {
                    self.pos += 4;
                    Tok::Bool(true)
                } else if rest.starts_with(b"false") {
                    self.pos += 5;
                    Tok::Bool(false)
                } else if rest.starts_with(b"null") {
                    self.pos += 4;
                    Tok::Null
                } else if self.opts.invalid_numbers && is_invalid_number(self.s, self.pos) {
                    self.number()
                } else {
                    self.error("invalid token")
                }
            }
            _ => self.error("invalid token"),
        }
    }

    fn number(&mut self) -> Tok {
        let (v, end) = strtoll(self.s, self.pos);
        if end == self.pos || matches!(at(self.s, end), b'.' | b'e' | b'E' | b'x') {
            match strtod(self.s, self.pos) {
                Some((f, end)) => {
                    self.pos = end;
                    Tok::Number(f)
                }
                None => self.error("invalid number"),
            }
        } else {
            self.pos = end;
            Tok::Integer(v)
        }
    }

    fn string(&mut self) -> Tok {
        self.pos += 1;
        self.text.clear();
        loop {
            let c = at(self.s, self.pos);
            match c {
                b'"' => break,
                0 => return self.error("unexpected end of string"),
                b'\\' => {
                    let e = match at(self.s, self.pos + 1) {
                        b'u' => {
                            if self.unicode_escape() {
                                continue;
                            }
                            return self.error("invalid unicode escape code");
                        }
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 8,
                        b't' => b'\t',
                        b'n' => b'\n',
                        b'f' => 12,
                        b'r' => b'\r',
                        _ => return self.error("invalid escape code"),
                    };
                    self.text.push(e);
                    self.pos += 2;
                }
                _ => {
                    // Copy the run of plain bytes in one go.
                    let start = self.pos;
                    while !matches!(at(self.s, self.pos), 0 | b'"' | b'\\') {
                        self.pos += 1;
                    }
                    self.text.extend_from_slice(&self.s[start..self.pos]);
                }
            }
        }
        self.pos += 1;
        Tok::Str
    }

    /// `\uXXXX` (a surrogate pair as two) at `pos`, appended as UTF-8.
    fn unicode_escape(&mut self) -> bool {
        let s = self.s;
        let p = self.pos;
        let Some(mut cp) = hex4(s, p + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 || at(s, p + 6) != b'\\' || at(s, p + 7) != b'u' {
                return false;
            }
            let Some(low) = hex4(s, p + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        let mut buf = [0u8; 4];
        let n = utf8(cp, &mut buf);
        self.text.extend_from_slice(&buf[..n]);
        self.pos += len;
        true
    }
}

/// A code point (at most 0x10FFFF here) as UTF-8, surrogates included as
/// three bytes the way lua-cjson writes them.
fn utf8(cp: u32, buf: &mut [u8; 4]) -> usize {
    if cp <= 0x7F {
        buf[0] = cp as u8;
        1
    } else if cp <= 0x7FF {
        buf[0] = 0xC0 | (cp >> 6) as u8;
        buf[1] = 0x80 | (cp & 0x3F) as u8;
        2
    } else if cp <= 0xFFFF {
        buf[0] = 0xE0 | (cp >> 12) as u8;
        buf[1] = 0x80 | ((cp >> 6) & 0x3F) as u8;
        buf[2] = 0x80 | (cp & 0x3F) as u8;
        3
    } else {
        buf[0] = 0xF0 | (cp >> 18) as u8;
        buf[1] = 0x80 | ((cp >> 12) & 0x3F) as u8;
        buf[2] = 0x80 | ((cp >> 6) & 0x3F) as u8;
        buf[3] = 0x80 | (cp & 0x3F) as u8;
        4
    }
}

/// What the reader expects next.
enum Want {
    /// A value, whose first token has been read.
    Value(Tok),
    /// An object's key, whose token has been read.
    Key(Tok),
    /// What follows a complete value.
    After,
}

/// Reads `s` as one JSON document into `sink`.
pub fn decode<S: Sink>(
    s: &[u8],
    opts: DecodeOptions,
    sink: &mut S,
) -> Result<(), DecodeError<S::Error>> {
    if s.len() >= 2 && (s[0] == 0 || s[1] == 0) {
        return Err(DecodeError::Syntax(
            "JSON parser does not support UTF-16 or UTF-32".into(),
        ));
    }
    let mut lx = Lexer {
        s,
        pos: 0,
        opts,
        text: Vec::new(),
        index: 0,
    };
    let fail = |lx: &Lexer, expected: &str, t: Tok| {
        DecodeError::Syntax(format!(
            "Expected {expected} but found {} at character {}",
            t.name(),
            lx.index + 1
        ))
    };
    let max_depth = opts.max_depth.min(HARD_MAX_DEPTH);
    // true for an array, false for an object.
    let mut open: Vec<bool> = Vec::new();
    let mut steps: i64 = 0;
    let mut charged_to = 0usize;
    let mut want = Want::Value(lx.next());
    loop {
        steps += 1;
        if steps >= STEP_CHUNK {
            // One step a token, and one per 16 bytes read.
            let bytes = (lx.pos.saturating_sub(charged_to) / 16) as i64;
            charged_to = lx.pos;
            sink.charge(steps + bytes).map_err(DecodeError::Sink)?;
            steps = 0;
        }
        want = match want {
            Want::Value(t) => match t {
                Tok::ObjBegin | Tok::ArrBegin => {
                    let array = t == Tok::ArrBegin;
                    if open.len() >= max_depth {
                        return Err(DecodeError::Syntax(format!(
                            "Found too many nested data structures ({}) at character {}",
                            open.len() + 1,
                            lx.pos
                        )));
                    }
                    open.push(array);
                    sink.begin(array).map_err(DecodeError::Sink)?;
                    let next = lx.next();
                    if next == if array { Tok::ArrEnd } else { Tok::ObjEnd } {
                        open.pop();
                        sink.end().map_err(DecodeError::Sink)?;
                        Want::After
                    } else if array {
                        Want::Value(next)
                    } else {
                        Want::Key(next)
                    }
                }
                Tok::Str => {
                    sink.scalar(Scalar::Str(&lx.text))
                        .map_err(DecodeError::Sink)?;
                    Want::After
                }
                Tok::Number(f) => {
                    sink.scalar(Scalar::Number(f)).map_err(DecodeError::Sink)?;
                    Want::After
                }
                Tok::Integer(i) => {
                    sink.scalar(Scalar::Integer(i)).map_err(DecodeError::Sink)?;
                    Want::After
                }
                Tok::Bool(b) => {
                    sink.scalar(Scalar::Bool(b)).map_err(DecodeError::Sink)?;
                    Want::After
                }
                Tok::Null => {
                    sink.scalar(Scalar::Null).map_err(DecodeError::Sink)?;
                    Want::After
                }
                other => return Err(fail(&lx, "value", other)),
            },
            Want::Key(t) => {
                if t != Tok::Str {
                    return Err(fail(&lx, "object key string", t));
                }
                sink.key(&lx.text).map_err(DecodeError::Sink)?;
                let colon = lx.next();
                if colon != Tok::Colon {
                    return Err(fail(&lx, "colon", colon));
                }
                Want::Value(lx.next())
            }
            Want::After => {
                let Some(&array) = open.last() else {
                    let t = lx.next();
                    if t != Tok::End {
                        return Err(fail(&lx, "the end", t));
                    }
                    return Ok(());
                };
                sink.store().map_err(DecodeError::Sink)?;
                let t = lx.next();
                let close = if array { Tok::ArrEnd } else { Tok::ObjEnd };
                if t == close {
                    open.pop();
                    sink.end().map_err(DecodeError::Sink)?;
                    Want::After
                } else if t == Tok::Comma {
                    let t = lx.next();
                    if array {
                        Want::Value(t)
                    } else {
                        Want::Key(t)
                    }
                } else {
                    let what = if array {
                        "comma or array end"
                    } else {
                        "comma or object end"
                    };
                    return Err(fail(&lx, what, t));
                }
            }
        };
    }
}

#[cfg(test)]
mod tests;
