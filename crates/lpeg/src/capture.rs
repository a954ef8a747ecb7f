//! Turning a successful match's capture list into Lua values: the values
//! are produced on a stack, as LPeg produces them on the Lua stack, so
//! captures that look at "the previous value" (`p % f`) see what LPeg's do.

use crate::tree::CapKind;
use crate::vm::{open_of, Cap, Env, LResult, MAX_VALUES};
use mlua::{MultiValue, Value};

/// Deepest nesting of captures evaluated.
const MAX_LEVEL: u32 = 200;
/// Values a string capture collects (`%0` to `%9`).
const MAX_STR_CAPS: usize = 10;

fn err(msg: impl Into<String>) -> mlua::Error {
    crate::own_error(msg)
}

/// Lua's name for the type of `v`.
pub fn typename(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        Value::UserData(_) | Value::LightUserData(_) => "userdata",
        _ => "userdata",
    }
}

enum StrPart {
    Text(usize, usize),
    Cap(usize),
}

/// The evaluation of a capture list.
pub struct CapState<'a> {
    env: &'a Env<'a>,
    caps: &'a [Cap],
    dyns: &'a [Value],
    cur: usize,
    out: Vec<Value>,
    first: usize,
    level: u32,
}

impl<'a> CapState<'a> {
    /// Evaluation of `caps` starting at entry `cur`.
    pub fn new(env: &'a Env<'a>, caps: &'a [Cap], dyns: &'a [Value], cur: usize) -> CapState<'a> {
        CapState {
            env,
            caps,
            dyns,
            cur,
            out: Vec::new(),
            first: 0,
            level: 0,
        }
    }

    /// The values produced.
    pub fn into_values(self) -> Vec<Value> {
        self.out
    }

    /// Evaluates every capture of the list (a whole match's).
    pub fn push_all(&mut self) -> LResult<usize> {
        let mut n = 0;
        while self.cur < self.caps.len() && self.caps[self.cur].kind != CapKind::Close {
            n += self.push_capture()?;
        }
        Ok(n)
    }

    fn push(&mut self, v: Value) -> LResult<()> {
        if self.out.len() + self.dyns.len() >= MAX_VALUES {
            return Err(err("too many captures"));
        }
        self.out.push(v);
        Ok(())
    }

    fn text(&self, a: usize, b: usize) -> &'a [u8] {
        let s = self.env.subject;
        let b = b.min(s.len());
        &s[a.min(b)..b]
    }

    fn push_text(&mut self, a: usize, b: usize) -> LResult<()> {
        let v = Value::String(self.env.lua.create_string(self.text(a, b))?);
        self.push(v)
    }

    fn is_close(&self) -> bool {
        self.cur >= self.caps.len() || self.caps[self.cur].kind == CapKind::Close
    }

    /// Moves past the current capture and everything in it.
    fn next_cap(&mut self) {
        let mut depth = 0usize;
        while self.cur < self.caps.len() {
            let c = self.caps[self.cur];
            self.cur += 1;
            if c.kind == CapKind::Close {
                depth -= 1;
                if depth == 0 {
                    return;
                }
            } else {
                depth += 1;
            }
        }
    }

    /// Pushes the values of the captures nested in the current one (its
    /// whole match too if `extra`, or if they gave none).
    pub fn push_nested(&mut self, extra: bool) -> LResult<usize> {
        let head = self.caps[self.cur];
        self.cur += 1;
        let mut n = 0;
        while !self.is_close() {
            n += self.push_capture()?;
        }
        if extra || n == 0 {
            let end = self.caps.get(self.cur).map_or(head.pos, |c| c.pos);
            self.push_text(head.pos as usize, end as usize)?;
            n += 1;
        }
        self.cur += 1;
        Ok(n)
    }

    fn keep_first(&mut self, n: usize) {
        if n > 1 {
            self.out.truncate(self.out.len() - (n - 1));
        }
    }

    fn pop_values(&mut self, n: usize) -> Vec<Value> {
        let at = self.out.len() - n;
        self.out.split_off(at)
    }

    fn call(&mut self, f: Value, args: Vec<Value>) -> LResult<MultiValue> {
        match f {
            Value::Function(f) => f.call(MultiValue::from_vec(args)),
            other => Err(err(format!("attempt to call a {} value", typename(&other)))),
        }
    }

    fn push_capture(&mut self) -> LResult<usize> {
        self.env.step(1)?;
        if self.level >= MAX_LEVEL {
            return Err(err("subcapture nesting too deep"));
        }
        self.level += 1;
        let r = self.capture();
        self.level -= 1;
        r
    }

    fn capture(&mut self) -> LResult<usize> {
        let c = self.caps[self.cur];
        match c.kind {
            CapKind::Position => {
                self.next_cap();
                self.push(Value::Integer(i64::from(c.pos) + 1))?;
                Ok(1)
            }
            CapKind::Const => {
                self.next_cap();
                let v = self.env.value(c.key)?;
                self.push(v)?;
                Ok(1)
            }
            CapKind::Arg => {
                self.next_cap();
                let v = self
                    .env
                    .args
                    .get((c.key as usize).wrapping_sub(1))
                    .cloned()
                    .ok_or_else(|| err(format!("reference to absent extra argument #{}", c.key)))?;
                self.push(v)?;
                Ok(1)
            }
            CapKind::Runtime => {
                self.next_cap();
                let v = self.dyns.get(c.key as usize).cloned().unwrap_or(Value::Nil);
                self.push(v)?;
                Ok(1)
            }
            CapKind::Simple => {
                let k = self.push_nested(true)?;
                let whole = self.out.pop().unwrap_or(Value::Nil);
                let at = self.out.len() + 1 - k;
                self.out.insert(at, whole);
                Ok(k)
            }
            CapKind::String | CapKind::Subst => {
                let mut buf = Vec::new();
                if c.kind == CapKind::String {
                    self.string_cap(&mut buf)?;
                } else {
                    self.subst_cap(&mut buf)?;
                }
                let v = Value::String(self.env.lua.create_string(&buf)?);
                self.push(v)?;
                Ok(1)
            }
            CapKind::Group => {
                if c.key == 0 {
                    self.push_nested(false)
                } else {
                    self.next_cap();
                    Ok(0)
                }
            }
            CapKind::Backref => self.backref(),
            CapKind::Table => self.table_cap(),
            CapKind::Function => {
                let f = self.env.value(c.key)?;
                let n = self.push_nested(false)?;
                let args = self.pop_values(n);
                let res = self.call(f, args)?;
                let k = res.len();
                for v in res {
                    self.push(v)?;
                }
                Ok(k)
            }
            CapKind::Acc => {
                if self.out.len() <= self.first {
                    return Err(err("no previous value for accumulator capture"));
                }
                let f = self.env.value(c.key)?;
                let prev = self.out.pop().unwrap_or(Value::Nil);
                let n = self.push_nested(false)?;
                let mut args = vec![prev];
                args.extend(self.pop_values(n));
                let r = self.call(f, args)?.into_iter().next().unwrap_or(Value::Nil);
                self.push(r)?;
                Ok(0)
            }
            CapKind::Num => {
                if c.key == 0 {
                    self.next_cap();
                    return Ok(0);
                }
                let n = self.push_nested(false)?;
                let idx = c.key as usize;
                if n < idx {
                    return Err(err(format!("no capture '{idx}'")));
                }
                let vals = self.pop_values(n);
                self.push(vals[idx - 1].clone())?;
                Ok(1)
            }
            CapKind::Query => {
                let t = self.env.value(c.key)?;
                let k = self.one_nested()?;
                let v = match t {
                    Value::Table(t) => t.get::<Value>(k)?,
                    _ => Value::Nil,
                };
                if v.is_nil() {
                    Ok(0)
                } else {
                    self.push(v)?;
                    Ok(1)
                }
            }
            CapKind::Fold => self.fold_cap(),
            CapKind::Close => Err(err("lpeg: misplaced close capture")),
        }
    }

    fn one_nested(&mut self) -> LResult<Value> {
        let n = self.push_nested(false)?;
        self.keep_first(n);
        Ok(self.out.pop().unwrap_or(Value::Nil))
    }

    fn fold_cap(&mut self) -> LResult<usize> {
        let key = self.caps[self.cur].key;
        self.cur += 1;
        let n = if self.is_close() {
            0
        } else {
            self.push_capture()?
        };
        if n == 0 {
            return Err(err("no initial value for fold capture"));
        }
        self.keep_first(n);
        while !self.is_close() {
            let f = self.env.value(key)?;
            let acc = self.out.pop().unwrap_or(Value::Nil);
            let n = self.push_capture()?;
            let mut args = vec![acc];
            args.extend(self.pop_values(n));
            let r = self.call(f, args)?.into_iter().next().unwrap_or(Value::Nil);
            self.push(r)?;
        }
        self.cur += 1;
        Ok(1)
    }

    fn table_cap(&mut self) -> LResult<usize> {
        let t = self.env.lua.create_table()?;
        self.cur += 1;
        self.push(Value::Table(t.clone()))?;
        let mut n = 0i64;
        while !self.is_close() {
            let c = self.caps[self.cur];
            if c.kind == CapKind::Group && c.key != 0 {
                let name = self.env.value(c.key)?;
                let v = self.one_nested()?;
                t.set(name, v)?;
            } else {
                let k = self.push_capture()?;
                for (i, v) in self.pop_values(k).into_iter().enumerate() {
                    t.raw_set(n + i as i64 + 1, v)?;
                }
                n += k as i64;
            }
        }
        self.cur += 1;
        Ok(1)
    }

    fn backref(&mut self) -> LResult<usize> {
        let at = self.cur;
        let name = self.env.value(self.caps[at].key)?;
        let mut i = at;
        let mut found = None;
        while i > 0 {
            i -= 1;
            self.env.step(1)?;
            if self.caps[i].kind != CapKind::Close {
                continue; // an enclosing capture
            }
            i = open_of(self.caps, i);
            let c = self.caps[i];
            if c.kind == CapKind::Group && c.key != 0 && self.env.value(c.key)?.equals(&name)? {
                found = Some(i);
                break;
            }
        }
        let Some(g) = found else {
            let shown = match &name {
                Value::String(s) => s.to_string_lossy(),
                Value::Integer(n) => n.to_string(),
                Value::Number(n) => n.to_string(),
                _ => "(null)".to_string(),
            };
            return Err(err(format!("back reference '{shown}' not found")));
        };
        self.cur = g;
        let n = self.push_nested(false)?;
        self.cur = at;
        self.next_cap();
        Ok(n)
    }

    fn str_parts(&mut self, parts: &mut Vec<StrPart>) {
        let k = parts.len();
        let head = self.caps[self.cur];
        self.cur += 1;
        parts.push(StrPart::Text(head.pos as usize, head.pos as usize));
        while !self.is_close() {
            if parts.len() >= MAX_STR_CAPS {
                self.next_cap();
            } else if self.caps[self.cur].kind == CapKind::Simple {
                self.str_parts(parts);
            } else {
                parts.push(StrPart::Cap(self.cur));
                self.next_cap();
            }
        }
        let end = self.caps.get(self.cur).map_or(head.pos, |c| c.pos) as usize;
        parts[k] = StrPart::Text(head.pos as usize, end);
        self.cur += 1;
    }

    fn string_cap(&mut self, buf: &mut Vec<u8>) -> LResult<()> {
        let fmt = match self.env.value(self.caps[self.cur].key)? {
            Value::String(s) => s.as_bytes().to_vec(),
            _ => Vec::new(),
        };
        let mut parts = Vec::new();
        self.str_parts(&mut parts);
        let n = parts.len() - 1;
        let mut i = 0;
        while i < fmt.len() {
            let ch = fmt[i];
            i += 1;
            if ch != b'%' {
                buf.push(ch);
                continue;
            }
            let d = fmt.get(i).copied().unwrap_or(0);
            i += 1;
            if !d.is_ascii_digit() {
                buf.push(d);
                continue;
            }
            let l = usize::from(d - b'0');
            if l > n {
                return Err(err(format!("invalid capture index ({l})")));
            }
            match parts[l] {
                StrPart::Text(a, b) => buf.extend_from_slice(self.text(a, b)),
                StrPart::Cap(at) => {
                    let saved = self.cur;
                    self.cur = at;
                    if !self.add_one_string(buf, "capture")? {
                        return Err(err(format!("no values in capture index {l}")));
                    }
                    self.cur = saved;
                }
            }
            self.env.step(1)?;
        }
        Ok(())
    }

    fn subst_cap(&mut self, buf: &mut Vec<u8>) -> LResult<()> {
        let mut curr = self.caps[self.cur].pos as usize;
        self.cur += 1;
        while !self.is_close() {
            let start = self.caps[self.cur].pos as usize;
            buf.extend_from_slice(self.text(curr, start));
            curr = if self.add_one_string(buf, "replacement")? {
                self.caps[self.cur - 1].pos as usize
            } else {
                start
            };
        }
        let end = self.caps.get(self.cur).map_or(curr, |c| c.pos as usize);
        buf.extend_from_slice(self.text(curr, end));
        self.cur += 1;
        self.env.step((buf.len() / 256) as u64)?;
        Ok(())
    }

    fn add_one_string(&mut self, buf: &mut Vec<u8>, what: &str) -> LResult<bool> {
        match self.caps[self.cur].kind {
            CapKind::String => self.string_cap(buf).map(|_| true),
            CapKind::Subst => self.subst_cap(buf).map(|_| true),
            CapKind::Acc => Err(err("invalid context for an accumulator capture")),
            _ => {
                let n = self.push_capture()?;
                if n == 0 {
                    return Ok(false);
                }
                self.keep_first(n);
                let v = self.out.pop().unwrap_or(Value::Nil);
                match &v {
                    Value::String(s) => buf.extend_from_slice(&s.as_bytes()),
                    Value::Integer(_) | Value::Number(_) => {
                        if let Some(s) = self.env.lua.coerce_string(v.clone())? {
                            buf.extend_from_slice(&s.as_bytes());
                        }
                    }
                    other => {
                        return Err(err(format!("invalid {what} value (a {})", typename(other))))
                    }
                }
                Ok(true)
            }
        }
    }
}
