//! The matching machine: runs a [`Program`] over a subject with an explicit
//! backtrack stack (bounded by `lpeg.setmaxstack`), records captures in a
//! flat list of open/close entries, and calls match-time captures' functions
//! as it goes. Every instruction is charged to the service's budget.

use crate::capture::CapState;
use crate::code::{Op, Program};
use crate::tree::CapKind;
use mlua::{Lua, MultiValue, Table, Value};
use skyhold_lua::budget::Budget;
use std::cell::Cell;

/// Result type of matching.
pub type LResult<T> = mlua::Result<T>;

/// One entry of the capture list: an open capture (its kind, key and
/// start) or the close of the last open one (`CapKind::Close`, its end).
#[derive(Clone, Copy, Debug)]
pub struct Cap {
    /// Subject position (0-based).
    pub pos: u32,
    /// Key: index into the program's keys, an argument or value number, or
    /// an index into the match-time values.
    pub key: u32,
    /// Kind.
    pub kind: CapKind,
}

/// Backtrack entries LPeg's stack starts with (and the least it allows).
pub const INIT_BACK: usize = 400;
/// Lua values a match may hold at once (match-time values and captures
/// being built).
pub const MAX_VALUES: usize = 200_000;
/// Values match-time captures may have pending at once.
const MAX_DYN: usize = 32_000;
/// Steps between two charges of the budget.
const CHARGE_EVERY: u64 = 1024;

/// What one match works with.
pub struct Env<'a> {
    /// The state.
    pub lua: &'a Lua,
    /// The subject's bytes.
    pub subject: &'a [u8],
    /// The subject as a Lua value (given to match-time functions).
    pub subject_val: Value,
    /// The pattern's ktable.
    pub ktable: Option<Table>,
    /// The program's key ids.
    pub keys: &'a [i64],
    /// The extra arguments to `match` (for `Carg`).
    pub args: &'a [Value],
    /// The budget to charge.
    pub budget: Option<Budget>,
    /// Steps not charged yet.
    pub steps: Cell<u64>,
}

impl Env<'_> {
    /// Counts `n` steps, charging the budget every so often.
    pub fn step(&self, n: u64) -> LResult<()> {
        let s = self.steps.get() + n;
        if s >= CHARGE_EVERY {
            self.steps.set(0);
            if let Some(b) = &self.budget {
                b.charge(s as i64)?;
            }
        } else {
            self.steps.set(s);
        }
        Ok(())
    }

    /// The Lua value of capture key `k`.
    pub fn value(&self, k: u32) -> LResult<Value> {
        let id = self.keys.get(k as usize).copied().unwrap_or(0);
        match (&self.ktable, id) {
            (Some(t), id) if id != 0 => t.raw_get(id),
            _ => Ok(Value::Nil),
        }
    }
}

struct Frame {
    s: usize,
    p: u32,
    caplevel: u32,
}

const CALL: usize = usize::MAX;
const GIVEUP: u32 = u32::MAX;

fn err(msg: impl Into<String>) -> mlua::Error {
    crate::own_error(msg)
}

/// Index of the open entry matched by the close entry at `close`.
pub fn open_of(caps: &[Cap], close: usize) -> usize {
    let mut depth = 0usize;
    let mut i = close;
    while i > 0 {
        i -= 1;
        if caps[i].kind == CapKind::Close {
            depth += 1;
        } else if depth == 0 {
            return i;
        } else {
            depth -= 1;
        }
    }
    0
}

fn decode_utf8(s: &[u8]) -> Option<(u32, usize)> {
    let c = *s.first()? as u32;
    if c < 0x80 {
        return Some((c, 1));
    }
    let (len, init) = match c {
        0xc0..=0xdf => (2, c & 0x1f),
        0xe0..=0xef => (3, c & 0x0f),
        0xf0..=0xf7 => (4, c & 0x07),
        _ => return None,
    };
    let mut v = init;
    for i in 1..len {
        let b = *s.get(i)? as u32;
        if b & 0xc0 != 0x80 {
            return None;
        }
        v = (v << 6) | (b & 0x3f);
    }
    let min = [0, 0, 0x80, 0x800, 0x10000][len];
    if v < min || v > 0x10ffff {
        return None;
    }
    Some((v, len))
}

/// The machine's state during one match.
pub struct Machine<'a> {
    env: &'a Env<'a>,
    prog: &'a Program,
    /// The capture list.
    pub caps: Vec<Cap>,
    /// Values match-time captures returned, referred to by `Runtime` entries.
    pub dyns: Vec<Value>,
    max_caps: usize,
}

impl<'a> Machine<'a> {
    /// A machine for `prog` over `env`'s subject.
    pub fn new(env: &'a Env<'a>, prog: &'a Program) -> Machine<'a> {
        Machine {
            env,
            prog,
            caps: Vec::new(),
            dyns: Vec::new(),
            max_caps: ((1 << 20) + env.subject.len().saturating_mul(16)).min(u32::MAX as usize - 4),
        }
    }

    fn push_cap(&mut self, kind: CapKind, key: u32, pos: usize) -> LResult<()> {
        if self.caps.len() >= self.max_caps {
            return Err(err("too many captures"));
        }
        self.caps.push(Cap {
            pos: pos as u32,
            key,
            kind,
        });
        Ok(())
    }

    /// Drops the match-time values referred to by entries from `level` on.
    fn drop_dyns(&mut self, level: usize) {
        if self.dyns.is_empty() {
            return;
        }
        if let Some(c) = self.caps[level.min(self.caps.len())..]
            .iter()
            .find(|c| c.kind == CapKind::Runtime)
        {
            self.dyns.truncate(c.key as usize);
        }
    }

    /// Runs the program from `init` with a backtrack limit of `max`
    /// entries; the end of the match, or `None` if it failed.
    pub fn run(&mut self, init: usize, max: usize) -> LResult<Option<usize>> {
        let code = &self.prog.code;
        let sets = &self.prog.sets;
        let subj = self.env.subject;
        let e = subj.len();
        let mut stack: Vec<Frame> = Vec::with_capacity(32);
        stack.push(Frame {
            s: init,
            p: GIVEUP,
            caplevel: 0,
        });
        let mut room = INIT_BACK;
        let mut s = init;
        let mut p: usize = 0;
        let mut steps: u64 = 0;
        macro_rules! push_frame {
            ($f:expr) => {{
                if stack.len() >= room {
                    if room >= max {
                        return Err(err(format!(
                            "backtrack stack overflow (current limit is {max})"
                        )));
                    }
                    room = (room * 2).min(max);
                }
                stack.push($f);
            }};
        }
        loop {
            steps += 1;
            if steps >= CHARGE_EVERY {
                self.env.step(steps)?;
                steps = 0;
            }
            let mut fail = false;
            match code[p] {
                Op::End => {
                    self.env.step(steps)?;
                    return Ok(Some(s));
                }
                Op::Ret => {
                    let f = stack.pop().ok_or_else(|| err("lpeg: bad return"))?;
                    p = f.p as usize;
                }
                Op::Any => {
                    if s < e {
                        p += 1;
                        s += 1;
                    } else {
                        fail = true;
                    }
                }
                Op::Utfr(from, to) => match decode_utf8(&subj[s.min(e)..]) {
                    Some((cp, n)) if from <= cp && cp <= to => {
                        s += n;
                        p += 1;
                    }
                    _ => fail = true,
                },
                Op::TestAny(l) => p = if s < e { p + 1 } else { l as usize },
                Op::Char(c) => {
                    if s < e && subj[s] == c {
                        p += 1;
                        s += 1;
                    } else {
                        fail = true;
                    }
                }
                Op::TestChar(c, l) => {
                    p = if s < e && subj[s] == c {
                        p + 1
                    } else {
                        l as usize
                    }
                }
                Op::Set(i) => {
                    if s < e && sets[i as usize].has(subj[s]) {
                        p += 1;
                        s += 1;
                    } else {
                        fail = true;
                    }
                }
                Op::TestSet(i, l) => {
                    p = if s < e && sets[i as usize].has(subj[s]) {
                        p + 1
                    } else {
                        l as usize
                    }
                }
                Op::Behind(n) => {
                    let n = usize::from(n);
                    if n > s {
                        fail = true;
                    } else {
                        s -= n;
                        p += 1;
                    }
                }
                Op::Span(i) => {
                    let set = &sets[i as usize];
                    let start = s;
                    while s < e && set.has(subj[s]) {
                        s += 1;
                    }
                    steps += ((s - start) / 16) as u64;
                    p += 1;
                }
                Op::Jmp(l) => p = l as usize,
                Op::Choice(l) => {
                    push_frame!(Frame {
                        s,
                        p: l,
                        caplevel: self.caps.len() as u32,
                    });
                    p += 1;
                }
                Op::Call(l) => {
                    push_frame!(Frame {
                        s: CALL,
                        p: (p + 1) as u32,
                        caplevel: 0,
                    });
                    p = l as usize;
                }
                Op::Commit(l) => {
                    stack.pop();
                    p = l as usize;
                }
                Op::PartialCommit(l) => {
                    if let Some(top) = stack.last_mut() {
                        top.s = s;
                        top.caplevel = self.caps.len() as u32;
                    }
                    p = l as usize;
                }
                Op::BackCommit(l) => {
                    let f = stack.pop().ok_or_else(|| err("lpeg: bad commit"))?;
                    s = f.s;
                    self.drop_dyns(f.caplevel as usize);
                    self.caps.truncate(f.caplevel as usize);
                    p = l as usize;
                }
                Op::FailTwice => {
                    stack.pop();
                    fail = true;
                }
                Op::Fail => fail = true,
                Op::OpenCall(_) => return Err(err("lpeg: unresolved call")),
                Op::CloseCapture => {
                    self.push_cap(CapKind::Close, 0, s)?;
                    p += 1;
                }
                Op::OpenCapture(kind, key) => {
                    self.push_cap(kind, key, s)?;
                    p += 1;
                }
                Op::FullCapture(kind, len, key) => {
                    self.push_cap(kind, key, s - usize::from(len))?;
                    self.push_cap(CapKind::Close, 0, s)?;
                    p += 1;
                }
                Op::CloseRunTime => match self.runtime(s)? {
                    Some(ns) => {
                        s = ns;
                        p += 1;
                    }
                    None => fail = true,
                },
            }
            if fail {
                let f = loop {
                    match stack.pop() {
                        None => return Ok(None),
                        Some(f) if f.s == CALL => continue,
                        Some(f) => break f,
                    }
                };
                if f.p == GIVEUP {
                    self.env.step(steps)?;
                    return Ok(None);
                }
                s = f.s;
                self.drop_dyns(f.caplevel as usize);
                self.caps.truncate(f.caplevel as usize);
                p = f.p as usize;
            }
        }
    }

    /// Closes a match-time capture at `s`: evaluates its nested captures,
    /// calls its function and keeps what it returned. The new position, or
    /// `None` if the function made the match fail.
    fn runtime(&mut self, s: usize) -> LResult<Option<usize>> {
        self.push_cap(CapKind::Close, 0, s)?;
        let close = self.caps.len() - 1;
        let open = open_of(&self.caps, close);
        let open_pos = self.caps[open].pos as usize;
        let f = self.env.value(self.caps[open].key)?;
        let first_dyn = self.caps[open..close]
            .iter()
            .find(|c| c.kind == CapKind::Runtime)
            .map(|c| c.key as usize);
        let mut args = vec![self.env.subject_val.clone(), Value::Integer(s as i64 + 1)];
        {
            let mut cs = CapState::new(self.env, &self.caps[..=close], &self.dyns, open);
            cs.push_nested(false)?;
            args.extend(cs.into_values());
        }
        let res: MultiValue = match f {
            Value::Function(f) => f.call(MultiValue::from_vec(args))?,
            other => {
                return Err(err(format!(
                    "attempt to call a {} value",
                    crate::capture::typename(&other)
                )))
            }
        };
        if let Some(d) = first_dyn {
            self.dyns.truncate(d);
        }
        self.caps.truncate(open);
        let mut res = res.into_vec();
        let first = if res.is_empty() {
            Value::Nil
        } else {
            res.remove(0)
        };
        let ns = match first {
            Value::Nil | Value::Boolean(false) => return Ok(None),
            Value::Boolean(true) => s,
            v => {
                let i = self.env.lua.coerce_integer(v)?.unwrap_or(0);
                if i - 1 < s as i64 || i - 1 > self.env.subject.len() as i64 {
                    return Err(err("invalid position returned by match-time capture"));
                }
                (i - 1) as usize
            }
        };
        if !res.is_empty() {
            if self.dyns.len() + res.len() >= MAX_DYN {
                return Err(err("too many results in match-time capture"));
            }
            self.push_cap(CapKind::Group, 0, open_pos)?;
            for v in res {
                let k = self.dyns.len() as u32;
                self.dyns.push(v);
                self.push_cap(CapKind::Runtime, k, ns)?;
                self.push_cap(CapKind::Close, 0, ns)?;
            }
            self.push_cap(CapKind::Close, 0, ns)?;
        }
        Ok(Some(ns))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_decoding() {
        assert_eq!(decode_utf8(b"a"), Some((97, 1)));
        assert_eq!(decode_utf8("é".as_bytes()), Some((0xe9, 2)));
        assert_eq!(decode_utf8("€".as_bytes()), Some((0x20ac, 3)));
        assert_eq!(decode_utf8("😀".as_bytes()), Some((0x1f600, 4)));
        assert_eq!(decode_utf8(b"\xc0\x80"), None); // overlong
        assert_eq!(decode_utf8(b"\xe2\x82"), None); // cut
        assert_eq!(decode_utf8(b"\x80"), None);
        assert_eq!(decode_utf8(b"\xf4\x90\x80\x80"), None); // past U+10FFFF
        assert_eq!(decode_utf8(b""), None);
    }
}
