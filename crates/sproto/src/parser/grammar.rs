//! The schema language's grammar, matched the way skynet's parsing
//! expression grammar matches it (ordered choice, greedy repetition), so
//! that the same texts are accepted and a syntax error names the same
//! line: lines are counted as newlines are first consumed, and the error
//! reports how many had been when the match stopped.

/// A tag or a decimal scale as written (digits; `Big` past 64 bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Num {
    /// A value that fits a Lua integer.
    Int(i64),
    /// Past `i64::MAX`: Lua would make it a float.
    Big(i128),
}

/// One capture of a field definition.
#[derive(Debug, Clone, PartialEq)]
pub enum Cap {
    /// A name, a type name, `*`, a main key or a decimal's digits.
    Str(String),
    /// A tag, or a decimal's value.
    Num(Num),
}

/// What a struct body or the top level holds.
#[derive(Debug, Clone)]
pub enum Item {
    /// `name tag : [*]type[(key)]…`: the captures in order.
    Field(Vec<Cap>),
    /// `.Name { … }`.
    Type(String, Vec<Item>),
    /// `name tag { request …  response … }`.
    Protocol(String, Num, Vec<Sub>),
}

/// One `request`/`response` line of a protocol.
#[derive(Debug, Clone)]
pub struct Sub {
    /// `request` or `response`.
    pub kind: String,
    /// The type it names, or its inline struct.
    pub target: Target,
}

/// The type of a `request`/`response`.
#[derive(Debug, Clone)]
pub enum Target {
    /// A type name (or `nil`).
    Name(String),
    /// An inline struct.
    Struct(Vec<Item>),
}

/// How deep `.Type { .Type { … } }` may nest.
pub const MAX_NESTING: usize = 64;

struct Matcher<'s> {
    s: &'s [u8],
    line: usize,
    /// The furthest position a newline was counted at.
    line_pos: usize,
    depth: usize,
}

type M<T> = Result<Option<T>, String>;

/// A rule matching one item at a position.
type Rule<'r, 's, T> = &'r mut dyn FnMut(&mut Matcher<'s>, usize) -> M<(usize, T)>;

fn is_alpha(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

impl<'s> Matcher<'s> {
    fn at(&self, p: usize) -> Option<u8> {
        self.s.get(p).copied()
    }

    fn lit(&self, p: usize, t: &str) -> Option<usize> {
        self.s[p.min(self.s.len())..]
            .starts_with(t.as_bytes())
            .then_some(p + t.len())
    }

    fn newline(&mut self, p: usize) -> Option<usize> {
        let end = self.lit(p, "\n").or_else(|| self.lit(p, "\r\n"))?;
        if self.line_pos < end {
            self.line += 1;
            self.line_pos = end;
        }
        Some(end)
    }

    fn comment(&mut self, p: usize) -> Option<usize> {
        let mut q = self.lit(p, "#")?;
        loop {
            if q >= self.s.len() {
                return Some(q);
            }
            if let Some(e) = self.newline(q) {
                return Some(e);
            }
            q += 1;
        }
    }

    fn blank(&mut self, p: usize) -> Option<usize> {
        match self.at(p) {
            Some(b' ' | b'\t') => Some(p + 1),
            _ => self.newline(p).or_else(|| self.comment(p)),
        }
    }

    fn blank0(&mut self, mut p: usize) -> usize {
        while let Some(q) = self.blank(p) {
            p = q;
        }
        p
    }

    fn blanks(&mut self, p: usize) -> Option<usize> {
        let q = self.blank(p)?;
        Some(self.blank0(q))
    }

    fn word(&self, p: usize) -> Option<usize> {
        if !self.at(p).is_some_and(is_alpha) {
            return None;
        }
        let mut q = p + 1;
        while self
            .at(q)
            .is_some_and(|c| is_alpha(c) || c.is_ascii_digit())
        {
            q += 1;
        }
        Some(q)
    }

    fn text(&self, a: usize, b: usize) -> String {
        String::from_utf8_lossy(&self.s[a..b]).into_owned()
    }

    fn typename(&self, p: usize) -> Option<usize> {
        let mut q = self.word(p)?;
        while let Some(r) = self.lit(q, ".").and_then(|d| self.word(d)) {
            q = r;
        }
        Some(q)
    }

    fn digits(&self, p: usize) -> Option<usize> {
        let mut q = p;
        while self.at(q).is_some_and(|c| c.is_ascii_digit()) {
            q += 1;
        }
        (q > p).then_some(q)
    }

    fn number(&self, a: usize, b: usize) -> Num {
        let mut v: i128 = 0;
        for &c in &self.s[a..b] {
            v = v.saturating_mul(10).saturating_add(i128::from(c - b'0'));
        }
        match i64::try_from(v) {
            Ok(i) => Num::Int(i),
            Err(_) => Num::Big(v),
        }
    }

    /// `( word? )` or `( digits )`, with their captures.
    fn paren(&mut self, p: usize, caps: &mut Vec<Cap>) -> Option<usize> {
        let open = self.lit(p, "(")?;
        let a = self.blank0(open);
        // The main key: an optional word.
        let b = self.word(a).unwrap_or(a);
        let c = self.blank0(b);
        if let Some(end) = self.lit(c, ")") {
            caps.push(Cap::Str(self.text(a, b)));
            return Some(end);
        }
        // The decimal: digits, captured as text and as a number.
        let b = self.digits(a)?;
        let c = self.blank0(b);
        let end = self.lit(c, ")")?;
        caps.push(Cap::Str(self.text(a, b)));
        caps.push(Cap::Num(self.number(a, b)));
        Some(end)
    }

    fn field(&mut self, p: usize) -> Option<(usize, Item)> {
        let mut caps = Vec::new();
        let n = self.word(p)?;
        caps.push(Cap::Str(self.text(p, n)));
        let q = self.blanks(n)?;
        let t = self.digits(q)?;
        caps.push(Cap::Num(self.number(q, t)));
        let q = self.blank0(t);
        let q = self.lit(q, ":")?;
        let mut q = self.blank0(q);
        if let Some(r) = self.lit(q, "*") {
            caps.push(Cap::Str("*".into()));
            q = r;
        }
        let r = self.typename(q)?;
        caps.push(Cap::Str(self.text(q, r)));
        let mut q = r;
        loop {
            let mark = caps.len();
            match self.paren(q, &mut caps) {
                Some(r) => q = r,
                None => {
                    caps.truncate(mark);
                    break;
                }
            }
        }
        Some((q, Item::Field(caps)))
    }

    /// `{ items }`, where an item is a field or a nested type.
    fn body(&mut self, p: usize) -> M<(usize, Vec<Item>)> {
        let Some(open) = self.lit(p, "{") else {
            return Ok(None);
        };
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(format!("types nested deeper than {MAX_NESTING}"));
        }
        let (q, items) = self.many(open, &mut |m, p| match m.field(p) {
            Some(r) => Ok(Some(r)),
            None => m.type_def(p),
        })?;
        self.depth -= 1;
        Ok(self.lit(q, "}").map(|e| (e, items)))
    }

    fn type_def(&mut self, p: usize) -> M<(usize, Item)> {
        let Some(a) = self.lit(p, ".") else {
            return Ok(None);
        };
        let Some(b) = self.word(a) else {
            return Ok(None);
        };
        let name = self.text(a, b);
        let q = self.blank0(b);
        Ok(self.body(q)?.map(|(e, items)| (e, Item::Type(name, items))))
    }

    fn sub(&mut self, p: usize) -> M<(usize, Sub)> {
        let Some((k, kind)) = self
            .lit(p, "request")
            .map(|k| (k, "request"))
            .or_else(|| self.lit(p, "response").map(|k| (k, "response")))
        else {
            return Ok(None);
        };
        let Some(q) = self.blanks(k) else {
            return Ok(None);
        };
        let kind = kind.to_string();
        if let Some(r) = self.typename(q) {
            let target = Target::Name(self.text(q, r));
            return Ok(Some((r, Sub { kind, target })));
        }
        Ok(self.body(q)?.map(|(r, items)| {
            let target = Target::Struct(items);
            (r, Sub { kind, target })
        }))
    }

    fn protocol(&mut self, p: usize) -> M<(usize, Item)> {
        let Some(n) = self.word(p) else {
            return Ok(None);
        };
        let name = self.text(p, n);
        let Some(q) = self.blanks(n) else {
            return Ok(None);
        };
        let Some(t) = self.digits(q) else {
            return Ok(None);
        };
        let tag = self.number(q, t);
        let q = self.blank0(t);
        let Some(open) = self.lit(q, "{") else {
            return Ok(None);
        };
        let (q, subs) = self.many(open, &mut |m, p| m.sub(p))?;
        Ok(self
            .lit(q, "}")
            .map(|e| (e, Item::Protocol(name, tag, subs))))
    }

    /// `blank0 (item blanks)* item* blank0`: items separated by blanks,
    /// the last ones possibly not.
    fn many<T>(&mut self, p: usize, item: Rule<'_, 's, T>) -> Result<(usize, Vec<T>), String> {
        let mut out = Vec::new();
        let mut q = self.blank0(p);
        // An item matched but not followed by blanks: the separated
        // repetition stops before it, and the unseparated one starts with
        // it (kept rather than matched twice).
        let mut pending = None;
        while let Some((r, it)) = item(self, q)? {
            match self.blanks(r) {
                Some(b) => {
                    out.push(it);
                    q = b;
                }
                None => {
                    pending = Some((r, it));
                    break;
                }
            }
        }
        if let Some((r, it)) = pending {
            out.push(it);
            q = r;
            while let Some((r, it)) = item(self, q)? {
                out.push(it);
                q = r;
            }
        }
        Ok((self.blank0(q), out))
    }
}

/// Matches a whole schema text: its top-level items, or the error skynet
/// raises (`syntax error at [file] line (n)`).
pub fn parse(text: &[u8], file: &str) -> Result<Vec<Item>, String> {
    let mut m = Matcher {
        s: text,
        line: 1,
        line_pos: 0,
        depth: 0,
    };
    let syntax = |m: &Matcher| format!("syntax error at [{file}] line ({})", m.line);
    let r = m.many(0, &mut |m, p| match m.type_def(p)? {
        Some(r) => Ok(Some(r)),
        None => m.protocol(p),
    });
    match r {
        Ok((end, items)) if end == text.len() => Ok(items),
        Ok(_) => Err(syntax(&m)),
        Err(e) => Err(format!("{} ({e})", syntax(&m))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_capture_like_the_original() {
        let items = parse(b".A { a 0 : *B(id) b 1 : integer(2) }", "t").expect("parse");
        let Item::Type(name, body) = &items[0] else {
            panic!("not a type")
        };
        assert_eq!(name, "A");
        let Item::Field(caps) = &body[0] else {
            panic!()
        };
        assert_eq!(caps[2], Cap::Str("*".into()));
        assert_eq!(caps[4], Cap::Str("id".into()));
        let Item::Field(caps) = &body[1] else {
            panic!()
        };
        assert_eq!(caps[3], Cap::Str("2".into()));
        assert_eq!(caps[4], Cap::Num(Num::Int(2)));
    }

    #[test]
    fn a_syntax_error_names_its_line() {
        let e = parse(b".A {\n\n x", "f").unwrap_err();
        assert_eq!(e, "syntax error at [f] line (3)");
    }

    #[test]
    fn items_need_no_blank_between_them() {
        assert_eq!(parse(b".A{}.B{}", "t").expect("parse").len(), 2);
    }

    #[test]
    fn nesting_is_bounded() {
        let mut s = String::new();
        for _ in 0..200 {
            s.push_str(".a{");
        }
        for _ in 0..200 {
            s.push('}');
        }
        assert!(parse(s.as_bytes(), "t").is_err());
    }
}
