//! The compiler: a pattern tree becomes a program for the matching
//! machine ([`crate::vm`]). The scheme and its optimisations (tests on the
//! first byte instead of backtrack entries, spans for repeated sets, tail
//! calls) follow LPeg's, so programs use the backtrack stack as LPeg's do
//! and hit `setmaxstack`'s limit at the same depths.

use crate::charset::{Charset, SetKind};
use crate::tree::{
    first, fixed_len, has_captures, headfail, needfollow, CapKind, Ctx, Node, TResult, Tree, G,
};

/// An instruction's jump target.
pub type Label = u32;

/// Most instructions in one program.
pub const MAX_CODE: usize = 1 << 21;

const UNSET: Label = Label::MAX;

/// One instruction. Sets are indexes into [`Program::sets`]; capture keys
/// are indexes into [`Program::keys`] (or the number itself for `Carg` and
/// `p / n`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// Match any byte.
    Any,
    /// Match this byte.
    Char(u8),
    /// Match a byte of the set.
    Set(u32),
    /// Match bytes of the set as long as they come.
    Span(u32),
    /// Match a UTF-8 code point in the range.
    Utfr(u32, u32),
    /// Jump unless a byte is left.
    TestAny(Label),
    /// Jump unless the next byte is this one.
    TestChar(u8, Label),
    /// Jump unless the next byte is in the set.
    TestSet(u32, Label),
    /// Move back this many bytes (fail if there are not as many).
    Behind(u8),
    /// Return from a call.
    Ret,
    /// Success.
    End,
    /// Push a backtrack entry to the label.
    Choice(Label),
    /// Jump.
    Jmp(Label),
    /// Call a rule.
    Call(Label),
    /// A call to a rule not placed yet (only while compiling).
    OpenCall(u16),
    /// Pop the backtrack entry and jump.
    Commit(Label),
    /// Update the backtrack entry to here and jump.
    PartialCommit(Label),
    /// Pop the backtrack entry, go back to its position and jump.
    BackCommit(Label),
    /// Pop an entry, then fail.
    FailTwice,
    /// Fail.
    Fail,
    /// A capture of a fixed length ending here.
    FullCapture(CapKind, u8, u32),
    /// A capture starts.
    OpenCapture(CapKind, u32),
    /// The last open capture ends.
    CloseCapture,
    /// A match-time capture ends: call its function.
    CloseRunTime,
}

/// A compiled pattern.
#[derive(Debug)]
pub struct Program {
    /// Instructions; the first is the entry point.
    pub code: Vec<Op>,
    /// Byte sets used by `Set`, `Span` and `TestSet`.
    pub sets: Vec<Charset>,
    /// Ktable ids of the Lua values captures use (`keys[0]` is none).
    pub keys: Vec<i64>,
}

struct Comp<'a> {
    code: Vec<Op>,
    sets: Vec<Charset>,
    keys: Vec<i64>,
    cx: Ctx,
    name_of: &'a dyn Fn(i64) -> String,
}

/// Compiles `t`; `name_of` names a ktable id for the error of a rule used
/// outside a grammar.
pub fn compile(t: &Tree, name_of: &dyn Fn(i64) -> String) -> TResult<Program> {
    let mut c = Comp {
        code: Vec::new(),
        sets: Vec::new(),
        keys: vec![0],
        cx: Ctx::new(),
        name_of,
    };
    c.gen(t, None, false, None, &Charset::FULL)?;
    c.emit(Op::End)?;
    peephole(&mut c.code);
    Ok(Program {
        code: c.code,
        sets: c.sets,
        keys: c.keys,
    })
}

fn label_of(op: &Op) -> Option<Label> {
    match *op {
        Op::TestAny(l)
        | Op::TestChar(_, l)
        | Op::TestSet(_, l)
        | Op::Choice(l)
        | Op::Jmp(l)
        | Op::Call(l)
        | Op::Commit(l)
        | Op::PartialCommit(l)
        | Op::BackCommit(l) => Some(l),
        _ => None,
    }
}

fn set_label(op: &mut Op, to: Label) {
    match op {
        Op::TestAny(l)
        | Op::TestChar(_, l)
        | Op::TestSet(_, l)
        | Op::Choice(l)
        | Op::Jmp(l)
        | Op::Call(l)
        | Op::Commit(l)
        | Op::PartialCommit(l)
        | Op::BackCommit(l) => *l = to,
        _ => {}
    }
}

/// Where a chain of jumps starting at `i` ends.
fn final_target(code: &[Op], mut i: usize) -> usize {
    for _ in 0..code.len() {
        match code.get(i) {
            Some(Op::Jmp(l)) if (*l as usize) < code.len() => i = *l as usize,
            _ => break,
        }
    }
    i
}

fn final_label(code: &[Op], i: usize) -> usize {
    label_of(&code[i]).map_or(i, |l| final_target(code, l as usize))
}

fn peephole(code: &mut [Op]) {
    for i in 0..code.len() {
        for _ in 0..4 {
            match code[i] {
                Op::Jmp(_) => {
                    let ft = final_target(code, i);
                    match code[ft] {
                        Op::Ret | Op::Fail | Op::FailTwice | Op::End => code[i] = code[ft],
                        Op::Commit(_) | Op::PartialCommit(_) | Op::BackCommit(_) => {
                            let fft = final_label(code, ft);
                            code[i] = code[ft];
                            set_label(&mut code[i], fft as Label);
                            continue;
                        }
                        _ => set_label(&mut code[i], ft as Label),
                    }
                }
                ref op if label_of(op).is_some() => {
                    let to = final_label(code, i) as Label;
                    set_label(&mut code[i], to);
                }
                _ => {}
            }
            break;
        }
    }
}

impl Comp<'_> {
    fn emit(&mut self, op: Op) -> TResult<usize> {
        if self.code.len() >= MAX_CODE {
            return Err("pattern code too large".into());
        }
        self.code.push(op);
        Ok(self.code.len() - 1)
    }

    fn here(&self) -> Label {
        self.code.len() as Label
    }

    fn jump_to(&mut self, inst: Option<usize>, target: Label) {
        if let Some(i) = inst {
            set_label(&mut self.code[i], target);
        }
    }

    fn jump_here(&mut self, inst: Option<usize>) {
        let h = self.here();
        self.jump_to(inst, h);
    }

    fn set(&mut self, cs: &Charset) -> u32 {
        if let Some(i) = self.sets.iter().rposition(|s| s == cs) {
            return i as u32;
        }
        self.sets.push(*cs);
        (self.sets.len() - 1) as u32
    }

    fn key(&mut self, id: i64) -> u32 {
        if id == 0 {
            return 0;
        }
        self.keys.push(id);
        (self.keys.len() - 1) as u32
    }

    fn test_set(&mut self, cs: &Charset, e: bool) -> TResult<Option<usize>> {
        if e {
            return Ok(None);
        }
        let op = match cs.kind() {
            SetKind::Empty => Op::Jmp(UNSET),
            SetKind::Full => Op::TestAny(UNSET),
            SetKind::One(c) => Op::TestChar(c, UNSET),
            SetKind::Many => Op::TestSet(self.set(cs), UNSET),
        };
        Ok(Some(self.emit(op)?))
    }

    fn gen(&mut self, t: &Tree, g: G, opt: bool, tt: Option<usize>, fl: &Charset) -> TResult<()> {
        self.cx.enter()?;
        let r = self.gen_in(t, g, opt, tt, fl);
        self.cx.leave();
        r
    }

    fn gen_in(
        &mut self,
        mut t: &Tree,
        g: G,
        opt: bool,
        mut tt: Option<usize>,
        fl: &Charset,
    ) -> TResult<()> {
        loop {
            match &t.node {
                Node::Char(c) => {
                    let dominated =
                        matches!(tt.map(|i| self.code[i]), Some(Op::TestChar(d, _)) if d == *c);
                    self.emit(if dominated { Op::Any } else { Op::Char(*c) })?;
                }
                Node::Any => {
                    self.emit(Op::Any)?;
                }
                Node::Set(cs) => {
                    let dominated = match tt.map(|i| self.code[i]) {
                        Some(Op::TestSet(s, _)) => self.sets[s as usize] == *cs,
                        _ => false,
                    };
                    let op = if dominated {
                        Op::Any
                    } else {
                        Op::Set(self.set(cs))
                    };
                    self.emit(op)?;
                }
                Node::True => {}
                Node::False => {
                    self.emit(Op::Fail)?;
                }
                Node::Utfr(a, b) => {
                    self.emit(Op::Utfr(*a, *b))?;
                }
                Node::Choice(a, b) => self.choice(a, b, g, opt, fl)?,
                Node::Rep(p) => self.rep(p, g, opt, fl)?,
                Node::Behind(n, p) => {
                    if *n > 0 {
                        self.emit(Op::Behind(*n))?;
                    }
                    self.gen(p, g, false, None, &Charset::FULL)?;
                }
                Node::Not(p) => self.not(p, g)?,
                Node::And(p) => self.and(p, g, tt)?,
                Node::Capture(kind, key, p) => self.capture(*kind, *key, p, g, tt, fl)?,
                Node::RunTime(key, p) => {
                    let k = self.key(*key);
                    self.emit(Op::OpenCapture(CapKind::Group, k))?;
                    self.gen(p, g, false, tt, &Charset::FULL)?;
                    self.emit(Op::CloseRunTime)?;
                }
                Node::Grammar(gr) => self.grammar(gr)?,
                Node::Call(n) => {
                    self.emit(Op::OpenCall(*n))?;
                }
                Node::OpenCall(id) => {
                    return Err(format!(
                        "rule '{}' used outside a grammar",
                        (self.name_of)(*id)
                    ))
                }
                Node::Seq(a, b) => {
                    if needfollow(a) {
                        let (fl1, _) = first(&mut self.cx, b, g, fl)?;
                        self.gen(a, g, false, tt, &fl1)?;
                    } else {
                        self.gen(a, g, false, tt, &Charset::FULL)?;
                    }
                    if fixed_len(&mut self.cx, a, g)? != Some(0) {
                        tt = None;
                    }
                    t = b;
                    continue;
                }
            }
            return Ok(());
        }
    }

    fn choice(&mut self, p1: &Tree, p2: &Tree, g: G, opt: bool, fl: &Charset) -> TResult<()> {
        let emptyp2 = matches!(p2.node, Node::True);
        let (cs1, e1) = first(&mut self.cx, p1, g, &Charset::FULL)?;
        let simple = headfail(&mut self.cx, p1, g)?
            || (e1 == 0 && cs1.disjoint(&first(&mut self.cx, p2, g, fl)?.0));
        if simple {
            let test = self.test_set(&cs1, false)?;
            self.gen(p1, g, false, test, fl)?;
            let jmp = if emptyp2 {
                None
            } else {
                Some(self.emit(Op::Jmp(UNSET))?)
            };
            self.jump_here(test);
            self.gen(p2, g, opt, None, fl)?;
            self.jump_here(jmp);
        } else if opt && emptyp2 {
            let pc = self.emit(Op::PartialCommit(UNSET))?;
            self.jump_here(Some(pc));
            self.gen(p1, g, true, None, &Charset::FULL)?;
        } else {
            let test = self.test_set(&cs1, e1 != 0)?;
            let pchoice = self.emit(Op::Choice(UNSET))?;
            self.gen(p1, g, emptyp2, test, &Charset::FULL)?;
            let pcommit = self.emit(Op::Commit(UNSET))?;
            self.jump_here(Some(pchoice));
            self.jump_here(test);
            self.gen(p2, g, opt, None, fl)?;
            self.jump_here(Some(pcommit));
        }
        Ok(())
    }

    fn and(&mut self, p: &Tree, g: G, tt: Option<usize>) -> TResult<()> {
        let n = fixed_len(&mut self.cx, p, g)?;
        match n {
            Some(n) if n <= 255 && !has_captures(&mut self.cx, p, g)? => {
                self.gen(p, g, false, tt, &Charset::FULL)?;
                if n > 0 {
                    self.emit(Op::Behind(n as u8))?;
                }
            }
            _ => {
                let pchoice = self.emit(Op::Choice(UNSET))?;
                self.gen(p, g, false, tt, &Charset::FULL)?;
                let pcommit = self.emit(Op::BackCommit(UNSET))?;
                self.jump_here(Some(pchoice));
                self.emit(Op::Fail)?;
                self.jump_here(Some(pcommit));
            }
        }
        Ok(())
    }

    fn capture(
        &mut self,
        kind: CapKind,
        key: i64,
        p: &Tree,
        g: G,
        tt: Option<usize>,
        fl: &Charset,
    ) -> TResult<()> {
        let k = match kind {
            CapKind::Arg | CapKind::Num => key as u32,
            _ => self.key(key),
        };
        match fixed_len(&mut self.cx, p, g)? {
            Some(len) if len <= 15 && !has_captures(&mut self.cx, p, g)? => {
                self.gen(p, g, false, tt, fl)?;
                self.emit(Op::FullCapture(kind, len as u8, k))?;
            }
            _ => {
                self.emit(Op::OpenCapture(kind, k))?;
                self.gen(p, g, false, tt, fl)?;
                self.emit(Op::CloseCapture)?;
            }
        }
        Ok(())
    }

    fn close_loop(&mut self, test: Option<usize>) -> TResult<()> {
        let jmp = self.emit(Op::Jmp(UNSET))?;
        self.jump_here(test);
        let target = test.map_or(UNSET, |t| t as Label);
        self.jump_to(Some(jmp), target);
        Ok(())
    }

    fn rep(&mut self, p: &Tree, g: G, opt: bool, fl: &Charset) -> TResult<()> {
        match &p.node {
            Node::False => return Ok(()),
            Node::Any => {
                let test = self.emit(Op::TestAny(UNSET))?;
                self.emit(Op::Any)?;
                return self.close_loop(Some(test));
            }
            Node::Char(c) => {
                let test = self.emit(Op::TestChar(*c, UNSET))?;
                self.emit(Op::Any)?;
                return self.close_loop(Some(test));
            }
            Node::Set(cs) => {
                let s = self.set(cs);
                self.emit(Op::Span(s))?;
                return Ok(());
            }
            _ => {}
        }
        let (st, e1) = first(&mut self.cx, p, g, &Charset::FULL)?;
        if headfail(&mut self.cx, p, g)? || (e1 == 0 && st.disjoint(fl)) {
            let test = self.test_set(&st, false)?;
            self.gen(p, g, false, test, &Charset::FULL)?;
            self.close_loop(test)
        } else {
            let test = self.test_set(&st, e1 != 0)?;
            let mut pchoice = None;
            if opt {
                let pc = self.emit(Op::PartialCommit(UNSET))?;
                self.jump_here(Some(pc));
            } else {
                pchoice = Some(self.emit(Op::Choice(UNSET))?);
            }
            let l2 = self.here();
            self.gen(p, g, false, None, &Charset::FULL)?;
            let commit = self.emit(Op::PartialCommit(UNSET))?;
            self.jump_to(Some(commit), l2);
            self.jump_here(pchoice);
            self.jump_here(test);
            Ok(())
        }
    }

    fn not(&mut self, p: &Tree, g: G) -> TResult<()> {
        let (st, e) = first(&mut self.cx, p, g, &Charset::FULL)?;
        let test = self.test_set(&st, e != 0)?;
        if headfail(&mut self.cx, p, g)? {
            self.emit(Op::Fail)?;
        } else {
            let pchoice = self.emit(Op::Choice(UNSET))?;
            self.gen(p, g, false, None, &Charset::FULL)?;
            self.emit(Op::FailTwice)?;
            self.jump_here(Some(pchoice));
        }
        self.jump_here(test);
        Ok(())
    }

    fn grammar(&mut self, gr: &crate::tree::Grammar) -> TResult<()> {
        let firstcall = self.emit(Op::Call(UNSET))?;
        let to_end = self.emit(Op::Jmp(UNSET))?;
        let start = self.code.len();
        self.jump_here(Some(firstcall));
        let mut positions = Vec::with_capacity(gr.rules.len());
        for r in &gr.rules {
            positions.push(self.here());
            self.gen(&r.body, Some(gr), false, None, &Charset::FULL)?;
            self.emit(Op::Ret)?;
        }
        self.jump_here(Some(to_end));
        for i in start..self.code.len() {
            if let Op::OpenCall(n) = self.code[i] {
                let target = positions[usize::from(n)];
                let tail = matches!(self.code[final_target(&self.code, i + 1)], Op::Ret);
                self.code[i] = if tail {
                    Op::Jmp(target)
                } else {
                    Op::Call(target)
                };
            }
        }
        Ok(())
    }
}
