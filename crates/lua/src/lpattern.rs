//! Lua string patterns in Rust, with every matching step counted against the
//! service's instruction budget.
//!
//! Lua's own `string.find`, `match`, `gmatch` and `gsub` run in C without
//! executing VM instructions, so the count hook never fires inside them and
//! a pattern such as `.-.-.-.-b` on a long subject stalls the worker for
//! minutes. These versions follow the reference manual's pattern rules and
//! Lua's error messages, and end with the budget error instead.

use mlua::{Function, Lua, MultiValue, Table, Value};

use crate::budget::Budget;

const MAX_CAPTURES: usize = 32;
const MAX_DEPTH: usize = 200;
const CAP_UNFINISHED: isize = -1;
const CAP_POSITION: isize = -2;
const SPECIALS: &[u8] = b"^$*+?.([%-";
/// Steps counted before the budget is charged (charging has a cost).
const CHARGE_EVERY: i64 = 1024;

/// An error while matching: the message Lua would give.
#[derive(Debug)]
struct PatternError(String);

type R<T> = Result<T, PatternError>;

fn err<T>(msg: &str) -> R<T> {
    Err(PatternError(msg.to_string()))
}

struct Matcher<'a> {
    src: &'a [u8],
    pat: &'a [u8],
    level: usize,
    capture: [(usize, isize); MAX_CAPTURES],
    depth: usize,
    steps: i64,
    budget: &'a Budget,
}

fn is_space(c: u8) -> bool {
    c == b' ' || (9..=13).contains(&c)
}

fn match_class(c: u8, cl: u8) -> bool {
    let res = match cl.to_ascii_lowercase() {
        b'a' => c.is_ascii_alphabetic(),
        b'c' => c.is_ascii_control(),
        b'd' => c.is_ascii_digit(),
        b'g' => c.is_ascii_graphic(),
        b'l' => c.is_ascii_lowercase(),
        b'p' => c.is_ascii_punctuation(),
        b's' => is_space(c),
        b'u' => c.is_ascii_uppercase(),
        b'w' => c.is_ascii_alphanumeric(),
        b'x' => c.is_ascii_hexdigit(),
        _ => return cl == c,
    };
    if cl.is_ascii_uppercase() {
        !res
    } else {
        res
    }
}

impl<'a> Matcher<'a> {
    fn new(src: &'a [u8], pat: &'a [u8], budget: &'a Budget) -> Self {
        Matcher {
            src,
            pat,
            level: 0,
            capture: [(0, 0); MAX_CAPTURES],
            depth: 0,
            steps: 0,
            budget,
        }
    }

    fn step(&mut self) -> R<()> {
        self.steps += 1;
        if self.steps >= CHARGE_EVERY {
            self.steps = 0;
            self.budget
                .charge(CHARGE_EVERY)
                .map_err(|_| PatternError(crate::budget::BUDGET_ERROR.to_string()))?;
        }
        Ok(())
    }

    fn pat_at(&self, i: usize) -> u8 {
        self.pat.get(i).copied().unwrap_or(0)
    }

    /// The index just after the single-character class starting at `p`.
    fn class_end(&self, mut p: usize) -> R<usize> {
        let c = self.pat[p];
        p += 1;
        if c == b'%' {
            if p >= self.pat.len() {
                return err("malformed pattern (ends with '%')");
            }
            return Ok(p + 1);
        }
        if c == b'[' {
            if self.pat_at(p) == b'^' {
                p += 1;
            }
            loop {
                if p >= self.pat.len() {
                    return err("malformed pattern (missing ']')");
                }
                let cc = self.pat[p];
                p += 1;
                if cc == b'%' {
                    if p >= self.pat.len() {
                        return err("malformed pattern (missing ']')");
                    }
                    p += 1;
                }
                if p >= self.pat.len() {
                    return err("malformed pattern (missing ']')");
                }
                if self.pat[p] == b']' {
                    return Ok(p + 1);
                }
            }
        }
        Ok(p)
    }

    /// Does `c` match the set `[...]` between `p` (the `[`) and `ec` (the `]`)?
    fn match_bracket(&self, c: u8, mut p: usize, ec: usize) -> bool {
        let mut sig = true;
        p += 1;
        if self.pat[p] == b'^' {
            sig = false;
            p += 1;
        }
        while p < ec {
            if self.pat[p] == b'%' {
                p += 1;
                if p < ec && match_class(c, self.pat[p]) {
                    return sig;
                }
            } else if self.pat_at(p + 1) == b'-' && p + 2 < ec {
                if self.pat[p] <= c && c <= self.pat[p + 2] {
                    return sig;
                }
                p += 2;
            } else if self.pat[p] == c {
                return sig;
            }
            p += 1;
        }
        !sig
    }

    fn single_match(&self, s: usize, p: usize, ep: usize) -> bool {
        let Some(&c) = self.src.get(s) else {
            return false;
        };
        match self.pat[p] {
            b'.' => true,
            b'%' => match_class(c, self.pat[p + 1]),
            b'[' => self.match_bracket(c, p, ep - 1),
            pc => pc == c,
        }
    }

    fn do_match(&mut self, s: usize, p: usize) -> R<Option<usize>> {
        if self.depth >= MAX_DEPTH {
            return err("pattern too complex");
        }
        self.depth += 1;
        let r = self.do_match_inner(s, p);
        self.depth -= 1;
        r
    }

    fn do_match_inner(&mut self, mut s: usize, mut p: usize) -> R<Option<usize>> {
        loop {
            self.step()?;
            if p >= self.pat.len() {
                return Ok(Some(s));
            }
            match self.pat[p] {
                b'(' => {
                    return if self.pat_at(p + 1) == b')' {
                        self.start_capture(s, p + 2, CAP_POSITION)
                    } else {
                        self.start_capture(s, p + 1, CAP_UNFINISHED)
                    };
                }
                b')' => return self.end_capture(s, p + 1),
                b'$' if p + 1 == self.pat.len() => {
                    return Ok((s == self.src.len()).then_some(s));
                }
                b'%' if self.pat_at(p + 1) == b'b' => match self.match_balance(s, p + 2)? {
                    Some(e) => {
                        s = e;
                        p += 4;
                        continue;
                    }
                    None => return Ok(None),
                },
                b'%' if self.pat_at(p + 1) == b'f' => {
                    p += 2;
                    if self.pat_at(p) != b'[' {
                        return err("missing '[' after '%f' in pattern");
                    }
                    let ep = self.class_end(p)?;
                    let prev = if s == 0 { 0 } else { self.src[s - 1] };
                    let cur = self.src.get(s).copied().unwrap_or(0);
                    if !self.match_bracket(prev, p, ep - 1) && self.match_bracket(cur, p, ep - 1) {
                        p = ep;
                        continue;
                    }
                    return Ok(None);
                }
                b'%' if self.pat_at(p + 1).is_ascii_digit() => {
                    match self.match_capture(s, self.pat[p + 1])? {
                        Some(e) => {
                            s = e;
                            p += 2;
                            continue;
                        }
                        None => return Ok(None),
                    }
                }
                _ => {
                    let ep = self.class_end(p)?;
                    let next = self.pat_at(ep);
                    let has_next = ep < self.pat.len();
                    if !self.single_match(s, p, ep) {
                        if has_next && (next == b'*' || next == b'?' || next == b'-') {
                            p = ep + 1;
                            continue;
                        }
                        return Ok(None);
                    }
                    match (has_next, next) {
                        (true, b'?') => {
                            if let Some(r) = self.do_match(s + 1, ep + 1)? {
                                return Ok(Some(r));
                            }
                            p = ep + 1;
                        }
                        (true, b'+') => return self.max_expand(s + 1, p, ep),
                        (true, b'*') => return self.max_expand(s, p, ep),
                        (true, b'-') => return self.min_expand(s, p, ep),
                        _ => {
                            s += 1;
                            p = ep;
                        }
                    }
                }
            }
        }
    }

    fn max_expand(&mut self, s: usize, p: usize, ep: usize) -> R<Option<usize>> {
        let mut i = 0usize;
        while self.single_match(s + i, p, ep) {
            self.step()?;
            i += 1;
        }
        loop {
            if let Some(r) = self.do_match(s + i, ep + 1)? {
                return Ok(Some(r));
            }
            if i == 0 {
                return Ok(None);
            }
            i -= 1;
        }
    }

    fn min_expand(&mut self, mut s: usize, p: usize, ep: usize) -> R<Option<usize>> {
        loop {
            if let Some(r) = self.do_match(s, ep + 1)? {
                return Ok(Some(r));
            }
            if self.single_match(s, p, ep) {
                s += 1;
            } else {
                return Ok(None);
            }
        }
    }

    fn start_capture(&mut self, s: usize, p: usize, what: isize) -> R<Option<usize>> {
        if self.level >= MAX_CAPTURES {
            return err("too many captures");
        }
        self.capture[self.level] = (s, what);
        self.level += 1;
        let r = self.do_match(s, p)?;
        if r.is_none() {
            self.level -= 1;
        }
        Ok(r)
    }

    fn end_capture(&mut self, s: usize, p: usize) -> R<Option<usize>> {
        let l = self.capture_to_close()?;
        self.capture[l].1 = (s - self.capture[l].0) as isize;
        let r = self.do_match(s, p)?;
        if r.is_none() {
            self.capture[l].1 = CAP_UNFINISHED;
        }
        Ok(r)
    }

    fn capture_to_close(&self) -> R<usize> {
        for l in (0..self.level).rev() {
            if self.capture[l].1 == CAP_UNFINISHED {
                return Ok(l);
            }
        }
        err("invalid pattern capture")
    }

    fn match_balance(&mut self, s: usize, p: usize) -> R<Option<usize>> {
        if p + 1 >= self.pat.len() {
            return err("malformed pattern (missing arguments to '%b')");
        }
        if self.src.get(s) != Some(&self.pat[p]) {
            return Ok(None);
        }
        let (b, e) = (self.pat[p], self.pat[p + 1]);
        let mut depth = 1;
        let mut i = s + 1;
        while i < self.src.len() {
            self.step()?;
            let c = self.src[i];
            if c == e {
                depth -= 1;
                if depth == 0 {
                    return Ok(Some(i + 1));
                }
            } else if c == b {
                depth += 1;
            }
            i += 1;
        }
        Ok(None)
    }

    fn check_capture(&self, l: u8) -> R<usize> {
        let idx = l.wrapping_sub(b'1') as usize;
        if l < b'1' || idx >= self.level || self.capture[idx].1 == CAP_UNFINISHED {
            return Err(PatternError(format!(
                "invalid capture index %{}",
                idx.wrapping_add(1)
            )));
        }
        Ok(idx)
    }

    fn match_capture(&mut self, s: usize, l: u8) -> R<Option<usize>> {
        let idx = self.check_capture(l)?;
        let (start, len) = self.capture[idx];
        let len = len as usize;
        if self.src.len() - s >= len && self.src[start..start + len] == self.src[s..s + len] {
            Ok(Some(s + len))
        } else {
            Ok(None)
        }
    }

    /// Capture `i` of a match from `s` to `e`, as a Lua value.
    fn get_capture(&self, lua: &Lua, i: usize, s: usize, e: usize) -> mlua::Result<Value> {
        if i >= self.level {
            if i == 0 {
                return lua.create_string(&self.src[s..e]).map(Value::String);
            }
            return Err(mlua::Error::runtime(format!(
                "invalid capture index %{}",
                i + 1
            )));
        }
        let (start, len) = self.capture[i];
        if len == CAP_UNFINISHED {
            return Err(mlua::Error::runtime("unfinished capture"));
        }
        if len == CAP_POSITION {
            return Ok(Value::Integer(start as i64 + 1));
        }
        lua.create_string(&self.src[start..start + len as usize])
            .map(Value::String)
    }

    /// All captures (or the whole match when there are none).
    fn captures(
        &self,
        lua: &Lua,
        s: usize,
        e: usize,
        whole_if_none: bool,
    ) -> mlua::Result<MultiValue> {
        let n = if self.level == 0 && whole_if_none {
            1
        } else {
            self.level
        };
        let mut out = MultiValue::new();
        for i in 0..n {
            out.push_back(self.get_capture(lua, i, s, e)?);
        }
        Ok(out)
    }
}

/// Lua's start position rule: negative counts from the end, clamped.
fn start_index(init: Option<i64>, len: usize) -> Option<usize> {
    let len = len as i64;
    let mut i = init.unwrap_or(1);
    if i < 0 {
        i = (len + i + 1).max(1);
    } else if i == 0 {
        i = 1;
    }
    if i > len + 1 {
        return None;
    }
    Some((i - 1) as usize)
}

fn find_plain(hay: &[u8], needle: &[u8], from: usize) -> Option<usize> {
    if needle.is_empty() {
        return Some(from);
    }
    hay.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + from)
}

fn pattern_err(e: PatternError) -> mlua::Error {
    mlua::Error::runtime(e.0)
}

fn str_find(
    lua: &Lua,
    budget: &Budget,
    s: &[u8],
    p: &[u8],
    init: Option<i64>,
    plain: bool,
    find: bool,
) -> mlua::Result<MultiValue> {
    let nil = || Ok(MultiValue::from_vec(vec![Value::Nil]));
    let Some(start) = start_index(init, s.len()) else {
        return nil();
    };
    if find && (plain || !p.iter().any(|c| SPECIALS.contains(c))) {
        return match find_plain(s, p, start) {
            Some(i) => Ok(MultiValue::from_vec(vec![
                Value::Integer(i as i64 + 1),
                Value::Integer((i + p.len()) as i64),
            ])),
            None => nil(),
        };
    }
    let anchor = p.first() == Some(&b'^');
    let pat = if anchor { &p[1..] } else { p };
    let mut m = Matcher::new(s, pat, budget);
    let mut pos = start;
    loop {
        m.level = 0;
        m.depth = 0;
        if let Some(e) = m.do_match(pos, 0).map_err(pattern_err)? {
            let _ = m.budget.charge(m.steps);
            if find {
                let mut out = MultiValue::from_vec(vec![
                    Value::Integer(pos as i64 + 1),
                    Value::Integer(e as i64),
                ]);
                for v in m.captures(lua, pos, e, false)? {
                    out.push_back(v);
                }
                return Ok(out);
            }
            return m.captures(lua, pos, e, true);
        }
        pos += 1;
        if anchor || pos > s.len() {
            let _ = m.budget.charge(m.steps);
            return nil();
        }
    }
}

fn add_value(
    lua: &Lua,
    m: &Matcher<'_>,
    out: &mut Vec<u8>,
    s: usize,
    e: usize,
    repl: &Value,
) -> mlua::Result<()> {
    let replacement = match repl {
        Value::String(r) => {
            let r = r.as_bytes();
            let mut i = 0;
            while i < r.len() {
                let c = r[i];
                i += 1;
                if c != b'%' {
                    out.push(c);
                    continue;
                }
                let Some(&d) = r.get(i) else {
                    return Err(mlua::Error::runtime(
                        "invalid use of '%' in replacement string",
                    ));
                };
                i += 1;
                if d == b'%' {
                    out.push(b'%');
                } else if d.is_ascii_digit() {
                    let v = if d == b'0' {
                        Value::String(lua.create_string(&m.src[s..e])?)
                    } else {
                        m.get_capture(lua, usize::from(d - b'1'), s, e)?
                    };
                    match v {
                        Value::String(t) => out.extend_from_slice(&t.as_bytes()),
                        Value::Integer(n) => out.extend_from_slice(n.to_string().as_bytes()),
                        _ => {}
                    }
                } else {
                    return Err(mlua::Error::runtime(
                        "invalid use of '%' in replacement string",
                    ));
                }
            }
            return Ok(());
        }
        Value::Integer(_) | Value::Number(_) => {
            let text = repl.to_string()?;
            return add_value(lua, m, out, s, e, &Value::String(lua.create_string(text)?));
        }
        Value::Table(t) => t.get::<Value>(m.get_capture(lua, 0, s, e)?)?,
        Value::Function(f) => f.call::<Value>(m.captures(lua, s, e, true)?)?,
        _ => unreachable!("checked by gsub"),
    };
    match replacement {
        Value::Nil | Value::Boolean(false) => out.extend_from_slice(&m.src[s..e]),
        Value::String(t) => out.extend_from_slice(&t.as_bytes()),
        Value::Integer(_) | Value::Number(_) => {
            out.extend_from_slice(replacement.to_string()?.as_bytes())
        }
        other => {
            return Err(mlua::Error::runtime(format!(
                "invalid replacement value (a {})",
                other.type_name()
            )))
        }
    }
    Ok(())
}

fn str_gsub(
    lua: &Lua,
    budget: &Budget,
    s: &[u8],
    p: &[u8],
    repl: &Value,
    max: Option<i64>,
) -> mlua::Result<MultiValue> {
    match repl {
        Value::String(_)
        | Value::Integer(_)
        | Value::Number(_)
        | Value::Table(_)
        | Value::Function(_) => {}
        other => {
            return Err(mlua::Error::runtime(format!(
                "bad argument #3 to 'gsub' (string/function/table expected, got {})",
                other.type_name()
            )))
        }
    }
    let anchor = p.first() == Some(&b'^');
    let pat = if anchor { &p[1..] } else { p };
    let max_n = max.unwrap_or(s.len() as i64 + 1);
    let mut m = Matcher::new(s, pat, budget);
    let mut out = Vec::with_capacity(s.len());
    let mut src = 0usize;
    let mut last: Option<usize> = None;
    let mut n = 0i64;
    while n < max_n {
        m.level = 0;
        m.depth = 0;
        let e = m.do_match(src, 0).map_err(pattern_err)?;
        match e {
            Some(e) if Some(e) != last => {
                n += 1;
                add_value(lua, &m, &mut out, src, e, repl)?;
                src = e;
                last = Some(e);
            }
            _ if src < s.len() => {
                out.push(s[src]);
                src += 1;
            }
            _ => break,
        }
        if anchor {
            break;
        }
    }
    let _ = m.budget.charge(m.steps);
    if src < s.len() {
        out.extend_from_slice(&s[src..]);
    }
    Ok(MultiValue::from_vec(vec![
        Value::String(lua.create_string(out)?),
        Value::Integer(n),
    ]))
}

/// Puts the Rust versions of `find`, `match`, `gmatch` and `gsub` in the
/// string table (and so in the string metatable's `__index`). Their errors
/// are raised from Lua as plain strings, as Lua's own are.
pub fn install(lua: &Lua, string: &Table, budget: Budget) -> mlua::Result<()> {
    let err_mark = lua.create_table()?;
    let fail = |lua: &Lua, mark: &Table, e: mlua::Error| -> mlua::Result<MultiValue> {
        let text = match e {
            mlua::Error::RuntimeError(m) => m,
            other => other.to_string(),
        };
        Ok(MultiValue::from_vec(vec![
            Value::Table(mark.clone()),
            Value::String(lua.create_string(text)?),
        ]))
    };
    // The four functions share what they capture: one allocation and one
    // reference to the mark per state, instead of one of each per function.
    let env = std::sync::Arc::new((budget, err_mark.clone()));
    let e = env.clone();
    let find = lua.create_function(
        move |lua,
              (s, p, init, plain): (
            mlua::LuaString,
            mlua::LuaString,
            Option<i64>,
            Option<Value>,
        )| {
            let plain =
                matches!(plain, Some(v) if !matches!(v, Value::Nil | Value::Boolean(false)));
            let (b, mark) = &*e;
            str_find(lua, b, &s.as_bytes(), &p.as_bytes(), init, plain, true)
                .or_else(|e| fail(lua, mark, e))
        },
    )?;
    let e = env.clone();
    let mtch = lua.create_function(
        move |lua, (s, p, init): (mlua::LuaString, mlua::LuaString, Option<i64>)| {
            let (b, mark) = &*e;
            str_find(lua, b, &s.as_bytes(), &p.as_bytes(), init, false, false)
                .or_else(|e| fail(lua, mark, e))
        },
    )?;
    let e = env.clone();
    let gsub = lua.create_function(
        move |lua, (s, p, repl, max): (mlua::LuaString, mlua::LuaString, Value, Option<i64>)| {
            let (b, mark) = &*e;
            str_gsub(lua, b, &s.as_bytes(), &p.as_bytes(), &repl, max)
                .or_else(|e| fail(lua, mark, e))
        },
    )?;
    let gmatch = lua.create_function(
        move |lua, (s, p, init): (mlua::LuaString, mlua::LuaString, Option<i64>)| {
            let subject = s.as_bytes().to_vec();
            let pattern = p.as_bytes().to_vec();
            let mut pos = start_index(init, subject.len()).unwrap_or(subject.len() + 1);
            let mut last: Option<usize> = None;
            let (b, mark) = (env.0.clone(), env.1.clone());
            lua.create_function_mut(move |lua, ()| {
                let mut m = Matcher::new(&subject, &pattern, &b);
                while pos <= subject.len() {
                    m.level = 0;
                    m.depth = 0;
                    let r = match m.do_match(pos, 0) {
                        Ok(r) => r,
                        Err(e) => return fail(lua, &mark, pattern_err(e)),
                    };
                    if let Some(e) = r {
                        if Some(e) != last {
                            let caps = m.captures(lua, pos, e, true);
                            pos = e;
                            last = Some(e);
                            let _ = b.charge(m.steps);
                            return caps.or_else(|e| fail(lua, &mark, e));
                        }
                    }
                    pos += 1;
                }
                let _ = b.charge(m.steps);
                Ok(MultiValue::new())
            })
        },
    )?;
    let wrap: Function = crate::codecache::internal(
        lua,
        "=string",
        r#"
            local string, mark, find, match, gmatch, gsub, kept = ...
            local error, select = error, select
            local function check(...)
                if ... == mark then
                    error((select(2, ...)), 2)
                end
                return ...
            end
            string.find = function(...) return check(find(...)) end
            string.match = function(...) return check(match(...)) end
            string.gsub = function(...) return check(gsub(...)) end
            string.gmatch = function(...)
                local it = gmatch(...)
                return function() return check(it()) end
            end
            if kept then
                kept[string.find], kept[string.match] = true, true
                kept[string.gsub], kept[string.gmatch] = true, true
            end
            "#,
    )?;
    // The wrappers are kept alive with the state's other Rust functions
    // (see crate::finalizers), here rather than by a call from Rust each.
    let kept = crate::finalizers::kept(lua);
    wrap.call::<()>((string.clone(), err_mark, find, mtch, gmatch, gsub, kept))
}
