//! Pattern trees: what `lpeg.P` and the operators build, shared between
//! patterns (a subpattern is an `Arc`, never copied), and the analyses the
//! compiler and the grammar checks run on them.
//!
//! Sequences and choices are kept right-nested (`a * (b * c)`), so long
//! chains are walked in loops, not by recursion; what recursion is left is
//! bounded by [`Ctx`], which turns a too-deep tree into an error.

use crate::charset::Charset;
use std::sync::Arc;

/// A shared tree.
pub type P = Arc<Tree>;

/// Deepest recursion an analysis or the compiler may take.
pub const MAX_DEPTH: u32 = 3000;
/// Largest tree (in nodes, counting shared subtrees each time they occur).
pub const MAX_SIZE: u64 = 1 << 21;

/// The kinds of captures.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum CapKind {
    /// The end of a capture (only in capture lists).
    Close,
    /// `Cp`.
    Position,
    /// `Cc` (one value).
    Const,
    /// `Cb`.
    Backref,
    /// `Carg`.
    Arg,
    /// `C`.
    Simple,
    /// `Ct`.
    Table,
    /// `p / f`.
    Function,
    /// `p % f`.
    Acc,
    /// `p / t`.
    Query,
    /// `p / "fmt"`.
    String,
    /// `p / n`.
    Num,
    /// `Cs`.
    Subst,
    /// `Cf`.
    Fold,
    /// A value a match-time capture returned (only in capture lists).
    Runtime,
    /// `Cg`.
    Group,
}

/// One node.
pub enum Node {
    /// One byte.
    Char(u8),
    /// A set of bytes.
    Set(Charset),
    /// Any byte.
    Any,
    /// Always matches, consuming nothing.
    True,
    /// Always fails.
    False,
    /// A UTF-8 code point in `from..=to`.
    Utfr(u32, u32),
    /// `p^0`.
    Rep(P),
    /// `p1 * p2`.
    Seq(P, P),
    /// `p1 + p2`.
    Choice(P, P),
    /// `-p`.
    Not(P),
    /// `#p`.
    And(P),
    /// A call to rule number `n` of the enclosing grammar.
    Call(u16),
    /// `V(k)` not yet inside a grammar (`k` is a ktable id).
    OpenCall(i64),
    /// A grammar.
    Grammar(Arc<Grammar>),
    /// `B(p)`: look behind `n` bytes.
    Behind(u8, P),
    /// A capture of kind, with its ktable id (or number), over a body.
    Capture(CapKind, i64, P),
    /// `Cmt(p, f)`: `f`'s ktable id.
    RunTime(i64, P),
}

/// A node with what is known about it.
pub struct Tree {
    /// The node.
    pub node: Node,
    /// Nodes in the tree, shared ones counted each time.
    pub size: u64,
    /// True if an open call lies in it (outside any grammar).
    pub open: bool,
}

/// The rules of a grammar, first the initial one.
pub struct Grammar {
    /// The rules.
    pub rules: Vec<Rule>,
}

/// One rule.
pub struct Rule {
    /// The rule's body (calls in it refer to this grammar).
    pub body: P,
    /// The rule's name as text, for listings.
    pub name: String,
    /// True if the initial rule or called somewhere.
    pub used: bool,
}

impl Drop for Tree {
    fn drop(&mut self) {
        // Unlink long chains one node at a time instead of recursively.
        let mut stack: Vec<P> = Vec::new();
        take_children(&mut self.node, &mut stack);
        while let Some(p) = stack.pop() {
            if let Ok(mut t) = Arc::try_unwrap(p) {
                take_children(&mut t.node, &mut stack);
            }
        }
    }
}

fn take_children(n: &mut Node, out: &mut Vec<P>) {
    let empty = || Arc::new(leaf(Node::True));
    match n {
        Node::Rep(a) | Node::Not(a) | Node::And(a) | Node::Behind(_, a) => {
            out.push(std::mem::replace(a, empty()));
        }
        Node::Capture(_, _, a) | Node::RunTime(_, a) => out.push(std::mem::replace(a, empty())),
        Node::Seq(a, b) | Node::Choice(a, b) => {
            out.push(std::mem::replace(a, empty()));
            out.push(std::mem::replace(b, empty()));
        }
        _ => {}
    }
}

fn leaf(node: Node) -> Tree {
    let open = matches!(node, Node::OpenCall(_));
    Tree {
        node,
        size: 1,
        open,
    }
}

/// Errors building trees.
pub type TResult<T> = Result<T, String>;

/// Wraps a node, computing its size.
pub fn mk(node: Node) -> TResult<P> {
    let (size, open) = match &node {
        Node::Rep(a) | Node::Not(a) | Node::And(a) | Node::Behind(_, a) => (a.size + 1, a.open),
        Node::Capture(_, _, a) | Node::RunTime(_, a) => (a.size + 1, a.open),
        Node::Seq(a, b) | Node::Choice(a, b) => (a.size + b.size + 1, a.open || b.open),
        Node::Grammar(g) => (
            g.rules.iter().map(|r| r.body.size + 2).sum::<u64>() + 1,
            false,
        ),
        Node::OpenCall(_) => (1, true),
        _ => (1, false),
    };
    if size > MAX_SIZE {
        return Err("pattern too big".into());
    }
    Ok(Arc::new(Tree { node, size, open }))
}

/// A leaf.
pub fn mkleaf(node: Node) -> P {
    Arc::new(leaf(node))
}

/// A set, reduced to `False`, `Any` or `Char` when it is one of those.
pub fn charset(cs: Charset) -> P {
    use crate::charset::SetKind;
    mkleaf(match cs.kind() {
        SetKind::Empty => Node::False,
        SetKind::Full => Node::Any,
        SetKind::One(c) => Node::Char(c),
        SetKind::Many => Node::Set(cs),
    })
}

/// The set a charset-like node stands for.
pub fn to_charset(t: &Tree) -> Option<Charset> {
    match &t.node {
        Node::Char(c) => Some(Charset::one(*c)),
        Node::Set(s) => Some(*s),
        Node::Any => Some(Charset::FULL),
        Node::False => Some(Charset::EMPTY),
        _ => None,
    }
}

/// Builds `op(a, b)` right-nested: when `a` is already an `op` chain
/// `a1 op (a2 op ... an)`, the result is `a1 op (a2 op ... (an op b))`.
pub fn assoc(seq: bool, a: P, b: P) -> TResult<P> {
    let mut spine = Vec::new();
    let mut cur = a;
    loop {
        let next = match (&cur.node, seq) {
            (Node::Seq(x, y), true) | (Node::Choice(x, y), false) => Some((x.clone(), y.clone())),
            _ => None,
        };
        match next {
            Some((x, y)) => {
                spine.push(x);
                cur = y;
            }
            None => break,
        }
    }
    let make = |x: P, y: P| {
        mk(if seq {
            Node::Seq(x, y)
        } else {
            Node::Choice(x, y)
        })
    };
    let mut acc = make(cur, b)?;
    while let Some(x) = spine.pop() {
        acc = make(x, acc)?;
    }
    Ok(acc)
}

/// A string as a sequence of its bytes.
pub fn string(s: &[u8]) -> TResult<P> {
    let mut acc: Option<P> = None;
    for &c in s.iter().rev() {
        let ch = mkleaf(Node::Char(c));
        acc = Some(match acc {
            None => ch,
            Some(rest) => mk(Node::Seq(ch, rest))?,
        });
    }
    Ok(acc.unwrap_or_else(|| mkleaf(Node::True)))
}

/// `n` any-characters in sequence (`n > 0`).
pub fn anys(n: u64) -> TResult<P> {
    if n > MAX_SIZE {
        return Err("pattern too big".into());
    }
    let mut acc = mkleaf(Node::Any);
    for _ in 1..n {
        acc = mk(Node::Seq(mkleaf(Node::Any), acc))?;
    }
    Ok(acc)
}

/// Bounds the recursion (and the work) of analyses and the compiler.
pub struct Ctx {
    depth: u32,
    /// Work done, in nodes visited.
    pub steps: u64,
    /// Rules being visited through calls (grammar address, rule).
    visiting: Vec<(usize, u16)>,
}

impl Default for Ctx {
    fn default() -> Self {
        Ctx::new()
    }
}

/// Most nodes an analysis may visit (grammars can make the walk
/// exponential); past it, the pattern is refused.
pub const MAX_STEPS: u64 = 20_000_000;

impl Ctx {
    /// A fresh context.
    pub fn new() -> Ctx {
        Ctx {
            depth: 0,
            steps: 0,
            visiting: Vec::new(),
        }
    }

    /// Enters one level of recursion.
    pub fn enter(&mut self) -> TResult<()> {
        self.depth += 1;
        self.steps += 1;
        if self.depth > MAX_DEPTH {
            return Err(format!(
                "pattern too complex (nested deeper than {MAX_DEPTH})"
            ));
        }
        if self.steps > MAX_STEPS {
            return Err("pattern too complex".into());
        }
        Ok(())
    }

    /// Leaves it.
    pub fn leave(&mut self) {
        self.depth -= 1;
    }

    /// Runs `f` one level deeper.
    pub fn deeper<T>(&mut self, f: impl FnOnce(&mut Ctx) -> TResult<T>) -> TResult<T> {
        self.enter()?;
        let r = f(self);
        self.leave();
        r
    }
}

/// The grammar calls refer to (`None` outside any grammar).
pub type G<'a> = Option<&'a Grammar>;

fn rule<'a>(g: G<'a>, n: u16) -> TResult<&'a Rule> {
    g.and_then(|g| g.rules.get(usize::from(n)))
        .ok_or_else(|| "call outside a grammar".to_string())
}

/// Which question [`check`] answers.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Pred {
    /// Can it match without consuming input?
    Nullable,
    /// Can it never fail?
    NoFail,
}

/// `nullable` or `nofail`, conservatively (see [`Pred`]).
pub fn check(cx: &mut Ctx, t: &Tree, g: G, pred: Pred) -> TResult<bool> {
    cx.deeper(|cx| check_in(cx, t, g, pred))
}

fn check_in(cx: &mut Ctx, mut t: &Tree, g: G, pred: Pred) -> TResult<bool> {
    loop {
        cx.steps += 1;
        match &t.node {
            Node::Char(_)
            | Node::Set(_)
            | Node::Any
            | Node::Utfr(..)
            | Node::False
            | Node::OpenCall(_) => return Ok(false),
            Node::Rep(_) | Node::True => return Ok(true),
            Node::Not(_) | Node::Behind(..) => return Ok(pred == Pred::Nullable),
            Node::And(p) => {
                if pred == Pred::Nullable {
                    return Ok(true);
                }
                t = p;
            }
            Node::RunTime(_, p) => {
                if pred == Pred::NoFail {
                    return Ok(false);
                }
                t = p;
            }
            Node::Seq(a, b) => {
                if !check(cx, a, g, pred)? {
                    return Ok(false);
                }
                t = b;
            }
            Node::Choice(a, b) => {
                if check(cx, b, g, pred)? {
                    return Ok(true);
                }
                t = a;
            }
            Node::Capture(_, _, p) => t = p,
            Node::Grammar(gr) => {
                return check(cx, &gr.rules[0].body, Some(gr), pred);
            }
            Node::Call(n) => {
                let r = rule(g, *n)?;
                return check(cx, &r.body, g, pred);
            }
        }
    }
}

/// Shorthand for `check(.., Nullable)` outside grammars' context.
pub fn nullable(cx: &mut Ctx, t: &Tree, g: G) -> TResult<bool> {
    check(cx, t, g, Pred::Nullable)
}

/// Shorthand for `check(.., NoFail)`.
pub fn nofail(cx: &mut Ctx, t: &Tree, g: G) -> TResult<bool> {
    check(cx, t, g, Pred::NoFail)
}

/// Visits rule `n` unless it is already being visited (then `def`).
fn through_call<T>(
    cx: &mut Ctx,
    g: G,
    n: u16,
    def: T,
    f: impl FnOnce(&mut Ctx, &Tree, G) -> TResult<T>,
) -> TResult<T> {
    let id = (g.map_or(0, |g| g as *const Grammar as usize), n);
    if cx.visiting.contains(&id) {
        return Ok(def);
    }
    let r = rule(g, n)?;
    cx.visiting.push(id);
    let res = f(cx, &r.body, g);
    cx.visiting.pop();
    res
}

/// True if the tree has captures.
pub fn has_captures(cx: &mut Ctx, t: &Tree, g: G) -> TResult<bool> {
    cx.deeper(|cx| {
        let mut t = t;
        loop {
            cx.steps += 1;
            match &t.node {
                Node::Capture(..) | Node::RunTime(..) => return Ok(true),
                Node::Call(n) => return through_call(cx, g, *n, false, has_captures),
                Node::Grammar(gr) => return has_captures(cx, &gr.rules[0].body, Some(gr)),
                Node::Rep(p) | Node::Not(p) | Node::And(p) | Node::Behind(_, p) => t = p,
                Node::Seq(a, b) | Node::Choice(a, b) => {
                    if has_captures(cx, a, g)? {
                        return Ok(true);
                    }
                    t = b;
                }
                _ => return Ok(false),
            }
        }
    })
}

/// How many bytes the pattern always matches (`None` if that varies).
pub fn fixed_len(cx: &mut Ctx, t: &Tree, g: G) -> TResult<Option<u64>> {
    cx.deeper(|cx| {
        let mut t = t;
        let mut len = 0u64;
        loop {
            cx.steps += 1;
            match &t.node {
                Node::Char(_) | Node::Set(_) | Node::Any => return Ok(Some(len + 1)),
                Node::Utfr(a, b) => {
                    let (la, lb) = (utf_len(*a), utf_len(*b));
                    return Ok((la == lb).then_some(len + la));
                }
                Node::False | Node::True | Node::Not(_) | Node::And(_) | Node::Behind(..) => {
                    return Ok(Some(len))
                }
                Node::Rep(_) | Node::RunTime(..) | Node::OpenCall(_) => return Ok(None),
                Node::Capture(_, _, p) => t = p,
                Node::Grammar(gr) => {
                    return Ok(fixed_len(cx, &gr.rules[0].body, Some(gr))?.map(|n| n + len))
                }
                Node::Call(n) => {
                    let r = through_call(cx, g, *n, None, fixed_len)?;
                    return Ok(r.map(|n| n + len));
                }
                Node::Seq(a, b) => match fixed_len(cx, a, g)? {
                    None => return Ok(None),
                    Some(n) => {
                        len += n;
                        t = b;
                    }
                },
                Node::Choice(a, b) => {
                    let n1 = fixed_len(cx, a, g)?;
                    let n2 = fixed_len(cx, b, g)?;
                    return Ok(match (n1, n2) {
                        (Some(x), Some(y)) if x == y => Some(x + len),
                        _ => None,
                    });
                }
            }
        }
    })
}

/// The length of a code point in UTF-8.
pub fn utf_len(cp: u32) -> u64 {
    match cp {
        0..=0x7f => 1,
        0x80..=0x7ff => 2,
        0x800..=0xffff => 3,
        _ => 4,
    }
}

/// The first byte of a code point's UTF-8 form.
pub fn utf_first(cp: u32) -> u8 {
    (match cp {
        0..=0x7f => cp,
        0x80..=0x7ff => 0xc0 | (cp >> 6),
        0x800..=0xffff => 0xe0 | (cp >> 12),
        _ => 0xf0 | (cp >> 18),
    } & 0xff) as u8
}

/// The first set of `t` given the first set of what follows it. Returns
/// the set and flags: bit 1 if `t` may match the empty string, bit 2 if a
/// match-time capture is in the way (so the set may not be used to skip
/// `t`).
pub fn first(cx: &mut Ctx, t: &Tree, g: G, follow: &Charset) -> TResult<(Charset, u8)> {
    cx.deeper(|cx| first_in(cx, t, g, follow))
}

fn first_in<'a>(
    cx: &mut Ctx,
    mut t: &'a Tree,
    g: G<'a>,
    follow: &Charset,
) -> TResult<(Charset, u8)> {
    let mut follow = *follow;
    loop {
        cx.steps += 1;
        if let Some(cs) = to_charset(t) {
            return Ok((cs, 0));
        }
        match &t.node {
            Node::Utfr(a, b) => {
                let mut cs = Charset::EMPTY;
                for c in utf_first(*a)..=utf_first(*b) {
                    cs.add(c);
                }
                return Ok((cs, 0));
            }
            Node::True => return Ok((follow, 1)),
            Node::Choice(a, b) => {
                let (c1, e1) = first(cx, a, g, &follow)?;
                let (c2, e2) = first(cx, b, g, &follow)?;
                return Ok((c1.union(&c2), e1 | e2));
            }
            Node::Seq(a, b) => {
                if !nullable(cx, a, g)? {
                    t = a;
                    follow = Charset::FULL;
                } else {
                    let (c2, e2) = first(cx, b, g, &follow)?;
                    let (c1, e1) = first(cx, a, g, &c2)?;
                    let e = if e1 == 0 {
                        0
                    } else if (e1 | e2) & 2 != 0 {
                        2
                    } else {
                        e2
                    };
                    return Ok((c1, e));
                }
            }
            Node::Rep(p) => {
                let (c, _) = first(cx, p, g, &follow)?;
                return Ok((c.union(&follow), 1));
            }
            Node::Capture(_, _, p) => t = p,
            Node::Grammar(gr) => return first(cx, &gr.rules[0].body, Some(gr), &follow),
            Node::RunTime(_, p) => {
                let (c, e) = first(cx, p, g, &Charset::FULL)?;
                return Ok((c, if e != 0 { 2 } else { 0 }));
            }
            Node::Call(n) => {
                let r = rule(g, *n)?;
                t = &r.body;
            }
            Node::And(p) => {
                let (c, e) = first(cx, p, g, &follow)?;
                return Ok((c.inter(&follow), e));
            }
            Node::Not(p) => {
                if let Some(cs) = to_charset(p) {
                    return Ok((cs.complement(), 1));
                }
                let (_, e) = first(cx, p, g, &follow)?;
                return Ok((follow, e | 1));
            }
            Node::Behind(_, p) => {
                let (_, e) = first(cx, p, g, &follow)?;
                return Ok((follow, e | 1));
            }
            Node::OpenCall(_) => return Ok((Charset::FULL, 0)),
            _ => return Ok((follow, 1)),
        }
    }
}

/// True if `t` can fail only on its first byte.
pub fn headfail(cx: &mut Ctx, t: &Tree, g: G) -> TResult<bool> {
    cx.deeper(|cx| {
        let (mut t, mut g) = (t, g);
        loop {
            cx.steps += 1;
            match &t.node {
                Node::Char(_) | Node::Set(_) | Node::Any | Node::False => return Ok(true),
                Node::Capture(_, _, p) | Node::And(p) => t = p,
                Node::Grammar(gr) => {
                    g = Some(gr);
                    t = &gr.rules[0].body;
                }
                Node::Call(n) => t = &rule(g, *n)?.body,
                Node::Seq(a, b) => {
                    if !nofail(cx, b, g)? {
                        return Ok(false);
                    }
                    t = a;
                }
                Node::Choice(a, b) => {
                    if !headfail(cx, a, g)? {
                        return Ok(false);
                    }
                    t = b;
                }
                _ => return Ok(false),
            }
        }
    })
}

/// True if compiling `t` can use the follow set.
pub fn needfollow(t: &Tree) -> bool {
    let mut t = t;
    loop {
        match &t.node {
            Node::Choice(..) | Node::Rep(_) => return true,
            Node::Capture(_, _, p) => t = p,
            Node::Seq(_, b) => t = b,
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_and_lengths() {
        let mut cx = Ctx::new();
        let s = string(b"abc").unwrap();
        assert_eq!(fixed_len(&mut cx, &s, None).unwrap(), Some(3));
        assert!(!nullable(&mut cx, &s, None).unwrap());
        let r = mk(Node::Rep(s.clone())).unwrap();
        assert_eq!(fixed_len(&mut cx, &r, None).unwrap(), None);
        assert!(nofail(&mut cx, &r, None).unwrap());
        let (f, e) = first(&mut cx, &s, None, &Charset::FULL).unwrap();
        assert_eq!((f, e), (Charset::one(b'a'), 0));
        assert!(!headfail(&mut cx, &s, None).unwrap());
        assert!(headfail(&mut cx, &string(b"a").unwrap(), None).unwrap());
    }

    #[test]
    fn long_chains_are_no_recursion() {
        let s = string(&vec![b'x'; 200_000]).unwrap();
        let mut cx = Ctx::new();
        assert_eq!(fixed_len(&mut cx, &s, None).unwrap(), Some(200_000));
        drop(s);
        // Left-nested sequences (never built by the operators) recurse:
        // past the limit, the analysis errors instead of overflowing.
        let mut p = mkleaf(Node::Char(b'a'));
        for _ in 0..5000 {
            p = mk(Node::Seq(p, mkleaf(Node::Any))).unwrap();
        }
        let mut cx = Ctx::new();
        assert!(has_captures(&mut cx, &p, None).is_err());
        drop(p);
    }

    #[test]
    fn assoc_rebuilds_right_nested() {
        let a = string(b"ab").unwrap();
        let b = string(b"cd").unwrap();
        let s = assoc(true, a, b).unwrap();
        let mut n = 0;
        let mut t: &Tree = &s;
        while let Node::Seq(x, y) = &t.node {
            assert!(matches!(x.node, Node::Char(_)));
            n += 1;
            t = y;
        }
        assert_eq!(n, 3);
    }
}
