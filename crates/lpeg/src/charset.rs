//! 256-bit byte sets, the leaves `S`, `R` and `locale` build.

/// A set of bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Charset(pub [u8; 32]);

/// What a set reduces to.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum SetKind {
    /// No byte: always fails.
    Empty,
    /// Every byte: any one character.
    Full,
    /// Exactly one byte.
    One(u8),
    /// Anything else.
    Many,
}

impl Charset {
    /// The empty set.
    pub const EMPTY: Charset = Charset([0; 32]);
    /// The set of all bytes.
    pub const FULL: Charset = Charset([0xff; 32]);

    /// The set holding `c` only.
    pub fn one(c: u8) -> Charset {
        let mut s = Charset::EMPTY;
        s.add(c);
        s
    }

    /// Adds `c`.
    pub fn add(&mut self, c: u8) {
        self.0[usize::from(c >> 3)] |= 1 << (c & 7);
    }

    /// True if `c` is in the set.
    #[inline]
    pub fn has(&self, c: u8) -> bool {
        self.0[usize::from(c >> 3)] & (1 << (c & 7)) != 0
    }

    /// The union.
    pub fn union(&self, o: &Charset) -> Charset {
        let mut r = *self;
        for (a, b) in r.0.iter_mut().zip(o.0.iter()) {
            *a |= *b;
        }
        r
    }

    /// The intersection.
    pub fn inter(&self, o: &Charset) -> Charset {
        let mut r = *self;
        for (a, b) in r.0.iter_mut().zip(o.0.iter()) {
            *a &= *b;
        }
        r
    }

    /// The bytes of `self` not in `o`.
    pub fn minus(&self, o: &Charset) -> Charset {
        let mut r = *self;
        for (a, b) in r.0.iter_mut().zip(o.0.iter()) {
            *a &= !*b;
        }
        r
    }

    /// The complement.
    pub fn complement(&self) -> Charset {
        let mut r = *self;
        for a in r.0.iter_mut() {
            *a = !*a;
        }
        r
    }

    /// True if no byte is in both.
    pub fn disjoint(&self, o: &Charset) -> bool {
        self.0.iter().zip(o.0.iter()).all(|(a, b)| a & b == 0)
    }

    /// Which of the special cases the set is.
    pub fn kind(&self) -> SetKind {
        if *self == Charset::EMPTY {
            return SetKind::Empty;
        }
        if *self == Charset::FULL {
            return SetKind::Full;
        }
        let mut found = None;
        for c in 0..=255u8 {
            if self.has(c) {
                if found.is_some() {
                    return SetKind::Many;
                }
                found = Some(c);
            }
        }
        found.map_or(SetKind::Empty, SetKind::One)
    }

    /// The set of bytes for which `f` holds.
    pub fn from_fn(f: impl Fn(u8) -> bool) -> Charset {
        let mut s = Charset::EMPTY;
        for c in 0..=255u8 {
            if f(c) {
                s.add(c);
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds() {
        assert_eq!(Charset::EMPTY.kind(), SetKind::Empty);
        assert_eq!(Charset::FULL.kind(), SetKind::Full);
        assert_eq!(Charset::one(200).kind(), SetKind::One(200));
        let two = Charset::one(1).union(&Charset::one(2));
        assert_eq!(two.kind(), SetKind::Many);
        assert!(two.has(1) && two.has(2) && !two.has(3));
        assert_eq!(two.minus(&Charset::one(1)).kind(), SetKind::One(2));
        assert!(two.disjoint(&two.complement()));
        assert_eq!(two.inter(&Charset::one(2)), Charset::one(2));
    }
}
