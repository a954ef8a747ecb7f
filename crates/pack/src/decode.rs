//! The decoder: bounded, iterative, driven by a [`Builder`].

use std::fmt;

use crate::tag::*;
use crate::value::{Table, Value};

/// Why decoding failed.
///
/// Every message starts with `Invalid serialize stream` (skynet's words),
/// then says what was wrong and at which byte offset of the input.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The input ends inside a value (or inside a table, before its end).
    Truncated {
        /// Where the cut-short value starts (the input length when a
        /// table's next item or end marker is missing altogether).
        offset: usize,
        /// How many more bytes it needed at least.
        needed: usize,
    },
    /// A tag byte that does not exist: type 7, or a cookie that the type
    /// does not have (for example a long string whose length field is
    /// neither 2 nor 4 bytes).
    BadTag {
        /// Where the tag is.
        offset: usize,
        /// The tag byte.
        tag: u8,
    },
    /// A table's array length (after an `FE` tag) is not an integer NUMBER.
    BadArrayLength {
        /// Where the table starts.
        offset: usize,
        /// The tag found where the length should be.
        tag: u8,
    },
    /// A table's array length is negative.
    NegativeArrayLength {
        /// Where the table starts.
        offset: usize,
        /// The length it declares.
        declared: i64,
    },
    /// A table declares more array items than could possibly follow: each
    /// item takes at least one byte, and so does each item still owed by
    /// the tables around it.
    ArrayTooLong {
        /// Where the table starts.
        offset: usize,
        /// The length it declares.
        declared: u64,
        /// The most items that could fit in what remains.
        available: usize,
    },
    /// A string declares more bytes than remain in the input.
    StringTooLong {
        /// Where the string starts.
        offset: usize,
        /// The length it declares.
        declared: u64,
        /// The bytes that remain after its header.
        remaining: usize,
    },
    /// Tables nested deeper than [`Limits::max_depth`].
    TooDeep {
        /// Where the table that is one too deep starts.
        offset: usize,
        /// The limit.
        limit: usize,
    },
    /// A USERDATA value: skynet turns its 8 bytes into a raw pointer;
    /// skyhold never does.
    Pointer {
        /// Where the value starts.
        offset: usize,
    },
    /// A NaN float used as a table key (only [`unpack`] and
    /// [`unpack_limited`] report this; with [`unpack_with`] the builder
    /// decides).
    NanKey {
        /// Where the key starts.
        offset: usize,
    },
}

/// Says why a tag byte does not exist.
fn bad_tag_reason(tag: u8) -> &'static str {
    match type_of(tag) {
        TYPE_NIL => "nil has no variants (cookie must be 0)",
        TYPE_BOOLEAN => "a boolean's cookie must be 0 or 1",
        TYPE_NUMBER => "no such number form (cookie must be 0, 1, 2, 4, 6 or 8)",
        TYPE_LONG_STRING => "a long string's length field must be 2 or 4 bytes (cookie 2 or 4)",
        7 => "type 7 does not exist",
        _ => "unexpected tag",
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Invalid serialize stream: ")?;
        match self {
            DecodeError::Truncated { offset, needed } => write!(
                f,
                "input ends inside the value at byte {offset} ({needed} more byte(s) needed)"
            ),
            DecodeError::BadTag { offset, tag } => write!(
                f,
                "bad tag {tag:#04x} at byte {offset}: {}",
                bad_tag_reason(*tag)
            ),
            DecodeError::BadArrayLength { offset, tag } => write!(
                f,
                "the table at byte {offset} gives its array length with tag {tag:#04x}, \
                 which is not an integer"
            ),
            DecodeError::NegativeArrayLength { offset, declared } => write!(
                f,
                "the table at byte {offset} declares a negative array length ({declared})"
            ),
            DecodeError::ArrayTooLong {
                offset,
                declared,
                available,
            } => write!(
                f,
                "the table at byte {offset} declares {declared} array items, \
                 but at most {available} can fit in the bytes that remain"
            ),
            DecodeError::StringTooLong {
                offset,
                declared,
                remaining,
            } => write!(
                f,
                "the string at byte {offset} declares {declared} bytes, \
                 but only {remaining} remain"
            ),
            DecodeError::TooDeep { offset, limit } => write!(
                f,
                "the table at byte {offset} is nested deeper than the limit of {limit} tables"
            ),
            DecodeError::Pointer { offset } => write!(
                f,
                "userdata (a raw pointer) at byte {offset}: skyhold does not accept pointers \
                 from messages"
            ),
            DecodeError::NanKey { offset } => {
                write!(f, "the table key at byte {offset} is NaN")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

/// The decoder's limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// How many tables may be nested inside one another: with the default
    /// of 64, 64 nested tables decode and a 65th inside them is an error.
    /// 0 refuses every table.
    pub max_depth: usize,
}

impl Limits {
    /// The default nesting limit: twice what skynet's `pack` can produce.
    pub const DEFAULT_MAX_DEPTH: usize = 64;
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_depth: Self::DEFAULT_MAX_DEPTH,
        }
    }
}

/// Receives decoded values, so a host can build its own values directly.
///
/// The decoder calls these in input order. A table is `begin_table`, then
/// `array_item` for 1..=array_len, then `hash_item` per pair, then
/// `end_table`; the values of its items are built (by the same calls) just
/// before they are handed over. Any error stops decoding and is returned
/// from [`unpack_with`] as is.
pub trait Builder {
    /// A finished value.
    type Value;
    /// A table under construction.
    type Table;
    /// The builder's error; decode errors convert into it.
    type Error: From<DecodeError>;
    /// A `nil`.
    fn nil(&mut self) -> Result<Self::Value, Self::Error>;
    /// A boolean.
    fn boolean(&mut self, b: bool) -> Result<Self::Value, Self::Error>;
    /// An integer.
    fn integer(&mut self, i: i64) -> Result<Self::Value, Self::Error>;
    /// A float (possibly NaN or infinite).
    fn real(&mut self, f: f64) -> Result<Self::Value, Self::Error>;
    /// A string (any bytes), borrowed from the input.
    fn string(&mut self, s: &[u8]) -> Result<Self::Value, Self::Error>;
    /// Starts a table with `array_len` array items. The decoder has checked
    /// that this many items can fit in the bytes that remain, so it is safe
    /// to use as a capacity hint: it is never more than the input's length.
    fn begin_table(&mut self, array_len: usize) -> Result<Self::Table, Self::Error>;
    /// Array item `index` (1-based, in order).
    fn array_item(
        &mut self,
        t: &mut Self::Table,
        index: usize,
        v: Self::Value,
    ) -> Result<(), Self::Error>;
    /// A key/value pair. The key is never nil (a nil key ends the table on
    /// the wire), but it may be a NaN float: the builder decides what to do.
    fn hash_item(
        &mut self,
        t: &mut Self::Table,
        k: Self::Value,
        v: Self::Value,
    ) -> Result<(), Self::Error>;
    /// Finishes a table and turns it into a value.
    fn end_table(&mut self, t: Self::Table) -> Result<Self::Value, Self::Error>;
}

/// A cursor over the input that never reads past its end.
struct Reader<'a> {
    input: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn remaining(&self) -> usize {
        self.input.len().saturating_sub(self.pos)
    }

    /// The next `n` bytes; `start` is where the value being read starts.
    fn take(&mut self, n: usize, start: usize) -> Result<&'a [u8], DecodeError> {
        let rest = self.input.get(self.pos..).unwrap_or_default();
        match rest.get(..n) {
            Some(s) => {
                self.pos += n;
                Ok(s)
            }
            None => Err(DecodeError::Truncated {
                offset: start,
                needed: n.saturating_sub(rest.len()),
            }),
        }
    }

    fn fixed<const N: usize>(&mut self, start: usize) -> Result<[u8; N], DecodeError> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N, start)?);
        Ok(a)
    }

    fn byte(&mut self, start: usize) -> Result<u8, DecodeError> {
        Ok(self.fixed::<1>(start)?[0])
    }

    /// The body of a NUMBER whose tag (at `start`) has been read.
    fn number(&mut self, tag: u8, start: usize) -> Result<Number, DecodeError> {
        Ok(match cookie_of(tag) {
            NUMBER_ZERO => Number::Int(0),
            NUMBER_BYTE => Number::Int(i64::from(self.byte(start)?)),
            NUMBER_WORD => Number::Int(i64::from(u16::from_le_bytes(self.fixed(start)?))),
            NUMBER_DWORD => Number::Int(i64::from(i32::from_le_bytes(self.fixed(start)?))),
            NUMBER_QWORD => Number::Int(i64::from_le_bytes(self.fixed(start)?)),
            NUMBER_REAL => Number::Real(f64::from_le_bytes(self.fixed(start)?)),
            _ => return Err(DecodeError::BadTag { offset: start, tag }),
        })
    }
}

enum Number {
    Int(i64),
    Real(f64),
}

/// Where a table under construction is.
enum State<V> {
    /// Reading array item `next` of `len`.
    Array { next: usize, len: usize },
    /// Reading a key, or the end marker.
    Key,
    /// Reading the value for `key`.
    Value { key: V },
}

struct Frame<T, V> {
    table: T,
    state: State<V>,
}

/// Decodes every value in `input`, handing each top-level value to `emit`
/// as soon as it is complete.
///
/// Values are built through `b`. The decoder keeps its own stack of open
/// tables (no recursion), so nesting costs heap proportional to the depth,
/// which `limits` bounds. Empty input decodes to no values.
pub fn unpack_with<B: Builder>(
    input: &[u8],
    limits: &Limits,
    b: &mut B,
    emit: impl FnMut(&mut B, B::Value) -> Result<(), B::Error>,
) -> Result<(), B::Error> {
    run(input, limits, b, emit, false)
}

fn run<B, F>(
    input: &[u8],
    limits: &Limits,
    b: &mut B,
    mut emit: F,
    reject_nan_keys: bool,
) -> Result<(), B::Error>
where
    B: Builder,
    F: FnMut(&mut B, B::Value) -> Result<(), B::Error>,
{
    let mut r = Reader { input, pos: 0 };
    let mut stack: Vec<Frame<B::Table, B::Value>> = Vec::new();
    // Array items that open tables still expect after the value being read.
    // Each takes at least one byte, which bounds what a new table may claim.
    let mut owed: usize = 0;
    loop {
        if stack.is_empty() && r.remaining() == 0 {
            return Ok(());
        }
        let start = r.pos;
        let tag = r.byte(start)?;
        let mut is_key = false;
        match stack.last().map(|f| &f.state) {
            Some(State::Array { .. }) => owed = owed.saturating_sub(1),
            Some(State::Key) => {
                if type_of(tag) == TYPE_NIL {
                    if tag != make(TYPE_NIL, 0) {
                        return Err(DecodeError::BadTag { offset: start, tag }.into());
                    }
                    // A nil key ends the table.
                    if let Some(frame) = stack.pop() {
                        let v = b.end_table(frame.table)?;
                        deliver(&mut stack, b, &mut emit, v)?;
                    }
                    continue;
                }
                is_key = true;
            }
            Some(State::Value { .. }) | None => {}
        }
        let cookie = cookie_of(tag);
        let v = match type_of(tag) {
            TYPE_NIL => {
                if cookie != 0 {
                    return Err(DecodeError::BadTag { offset: start, tag }.into());
                }
                b.nil()?
            }
            TYPE_BOOLEAN => match cookie {
                0 => b.boolean(false)?,
                1 => b.boolean(true)?,
                _ => return Err(DecodeError::BadTag { offset: start, tag }.into()),
            },
            TYPE_NUMBER => match r.number(tag, start)? {
                Number::Int(i) => b.integer(i)?,
                Number::Real(f) => {
                    if is_key && reject_nan_keys && f.is_nan() {
                        return Err(DecodeError::NanKey { offset: start }.into());
                    }
                    b.real(f)?
                }
            },
            TYPE_USERDATA => return Err(DecodeError::Pointer { offset: start }.into()),
            TYPE_SHORT_STRING => b.string(r.take(usize::from(cookie), start)?)?,
            TYPE_LONG_STRING => {
                let declared = match cookie {
                    LONG_STRING_U16 => u64::from(u16::from_le_bytes(r.fixed(start)?)),
                    LONG_STRING_U32 => u64::from(u32::from_le_bytes(r.fixed(start)?)),
                    _ => return Err(DecodeError::BadTag { offset: start, tag }.into()),
                };
                let remaining = r.remaining();
                let len = match usize::try_from(declared) {
                    Ok(len) if len <= remaining => len,
                    _ => {
                        return Err(DecodeError::StringTooLong {
                            offset: start,
                            declared,
                            remaining,
                        }
                        .into())
                    }
                };
                b.string(r.take(len, start)?)?
            }
            TYPE_TABLE => {
                if stack.len() >= limits.max_depth {
                    return Err(DecodeError::TooDeep {
                        offset: start,
                        limit: limits.max_depth,
                    }
                    .into());
                }
                let len = array_len(&mut r, cookie, start, owed)?;
                let table = b.begin_table(len)?;
                owed = owed.saturating_add(len);
                let state = if len == 0 {
                    State::Key
                } else {
                    State::Array { next: 1, len }
                };
                stack.push(Frame { table, state });
                continue;
            }
            _ => return Err(DecodeError::BadTag { offset: start, tag }.into()),
        };
        deliver(&mut stack, b, &mut emit, v)?;
    }
}

/// Reads and checks the array length of the table whose tag (at `start`,
/// with `cookie`) has been read.
fn array_len(
    r: &mut Reader<'_>,
    cookie: u8,
    start: usize,
    owed: usize,
) -> Result<usize, DecodeError> {
    let declared = if cookie == ARRAY_LEN_FOLLOWS {
        let at = r.pos;
        let t = r.byte(start)?;
        if type_of(t) != TYPE_NUMBER || cookie_of(t) == NUMBER_REAL {
            return Err(DecodeError::BadArrayLength {
                offset: start,
                tag: t,
            });
        }
        match r.number(t, at)? {
            Number::Int(n) => n,
            Number::Real(_) => {
                return Err(DecodeError::BadArrayLength {
                    offset: start,
                    tag: t,
                })
            }
        }
    } else {
        i64::from(cookie)
    };
    let Ok(declared) = u64::try_from(declared) else {
        return Err(DecodeError::NegativeArrayLength {
            offset: start,
            declared,
        });
    };
    let available = r.remaining().saturating_sub(owed);
    match usize::try_from(declared) {
        Ok(len) if len <= available => Ok(len),
        _ => Err(DecodeError::ArrayTooLong {
            offset: start,
            declared,
            available,
        }),
    }
}

/// Hands a finished value to the innermost open table, or to `emit` at the
/// top level.
fn deliver<B, F>(
    stack: &mut [Frame<B::Table, B::Value>],
    b: &mut B,
    emit: &mut F,
    v: B::Value,
) -> Result<(), B::Error>
where
    B: Builder,
    F: FnMut(&mut B, B::Value) -> Result<(), B::Error>,
{
    let Some(frame) = stack.last_mut() else {
        return emit(b, v);
    };
    match std::mem::replace(&mut frame.state, State::Key) {
        State::Array { next, len } => {
            b.array_item(&mut frame.table, next, v)?;
            if next < len {
                frame.state = State::Array {
                    next: next + 1,
                    len,
                };
            }
        }
        State::Key => frame.state = State::Value { key: v },
        State::Value { key } => b.hash_item(&mut frame.table, key, v)?,
    }
    Ok(())
}

/// Builds a [`Value`] tree.
struct TreeBuilder;

impl Builder for TreeBuilder {
    type Value = Value;
    type Table = Table;
    type Error = DecodeError;

    fn nil(&mut self) -> Result<Value, DecodeError> {
        Ok(Value::Nil)
    }
    fn boolean(&mut self, b: bool) -> Result<Value, DecodeError> {
        Ok(Value::Boolean(b))
    }
    fn integer(&mut self, i: i64) -> Result<Value, DecodeError> {
        Ok(Value::Integer(i))
    }
    fn real(&mut self, f: f64) -> Result<Value, DecodeError> {
        Ok(Value::Real(f))
    }
    fn string(&mut self, s: &[u8]) -> Result<Value, DecodeError> {
        Ok(Value::String(s.to_vec()))
    }
    fn begin_table(&mut self, array_len: usize) -> Result<Table, DecodeError> {
        Ok(Table {
            array: Vec::with_capacity(array_len),
            hash: Vec::new(),
        })
    }
    fn array_item(&mut self, t: &mut Table, _index: usize, v: Value) -> Result<(), DecodeError> {
        t.array.push(v);
        Ok(())
    }
    fn hash_item(&mut self, t: &mut Table, k: Value, v: Value) -> Result<(), DecodeError> {
        // NaN keys were refused by the decoder, which knows their offset.
        t.hash.push((k, v));
        Ok(())
    }
    fn end_table(&mut self, t: Table) -> Result<Value, DecodeError> {
        Ok(Value::Table(t))
    }
}

/// Decodes every value in `input` into a [`Value`] tree, with the default
/// [`Limits`]. A NaN table key is an error ([`DecodeError::NanKey`]).
pub fn unpack(input: &[u8]) -> Result<Vec<Value>, DecodeError> {
    unpack_limited(input, &Limits::default())
}

/// Like [`unpack`], with explicit limits.
///
/// Dropping, cloning or comparing a [`Value`] recurses once per level of
/// nesting, so keep `max_depth` in the hundreds at most.
pub fn unpack_limited(input: &[u8], limits: &Limits) -> Result<Vec<Value>, DecodeError> {
    let mut out = Vec::new();
    run(
        input,
        limits,
        &mut TreeBuilder,
        |_, v| {
            out.push(v);
            Ok(())
        },
        true,
    )?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pack;
    use crate::recorder::Recorder;
    use std::time::{Duration, Instant};

    fn unhex(s: &str) -> Vec<u8> {
        let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn one(s: &str) -> Value {
        let mut v = unpack(&unhex(s)).unwrap();
        assert_eq!(v.len(), 1, "{s}");
        v.pop().unwrap()
    }

    fn err(s: &str) -> DecodeError {
        unpack(&unhex(s)).unwrap_err()
    }

    fn st(x: &str) -> Value {
        Value::String(x.as_bytes().to_vec())
    }

    fn arr(items: Vec<Value>) -> Value {
        Value::Table(Table {
            array: items,
            hash: Vec::new(),
        })
    }

    fn hash(pairs: Vec<(Value, Value)>) -> Value {
        Value::Table(Table {
            array: Vec::new(),
            hash: pairs,
        })
    }

    use Value::{Integer as I, Real as R};

    /// Every measured example of the spec decodes to what it encodes.
    #[test]
    fn spec_examples() {
        assert_eq!(one("06 00"), arr(vec![]));
        assert_eq!(one("1E 0A01 0A02 0A03 00"), arr(vec![I(1), I(2), I(3)]));
        assert_eq!(one("06 0C61 0A01 00"), hash(vec![(st("a"), I(1))]));
        assert_eq!(one("06 0A05 0A01 00"), hash(vec![(I(5), I(1))]));
        let mut b = unhex("FE 0A1F");
        for i in 1..=31u8 {
            b.extend([0x0a, i]);
        }
        b.push(0);
        assert_eq!(unpack(&b).unwrap(), vec![arr((1..=31).map(I).collect())]);
        assert_eq!(one("22 FFFFFFFF"), I(-1));
        assert_eq!(one("32 0000008000000000"), I(1 << 31));
        assert_eq!(one("22 00000100"), I(65536));
        assert_eq!(one("42 000000000000f03f"), R(1.0));
        assert_eq!(one("04"), st(""));
        assert_eq!(one("1C 616263"), st("abc"));
        assert_eq!(
            one("0E 0A01 0A03 0A03 00"),
            Value::Table(Table {
                array: vec![I(1)],
                hash: vec![(I(3), I(3))],
            })
        );
        assert_eq!(one("00"), Value::Nil);
        assert_eq!(one("01"), Value::Boolean(false));
        assert_eq!(one("09"), Value::Boolean(true));
        assert_eq!(one("02"), I(0));
    }

    #[test]
    fn message_is_a_sequence_and_empty_is_nothing() {
        assert_eq!(unpack(&[]).unwrap(), vec![]);
        assert_eq!(
            unpack(&unhex("0A01 146869 00 0600")).unwrap(),
            vec![I(1), st("hi"), Value::Nil, arr(vec![])]
        );
    }

    /// Forms skynet's encoder never writes but its decoder reads.
    #[test]
    fn non_canonical_forms_decode() {
        assert_eq!(one("15 0300 616263"), st("abc"));
        assert_eq!(one("25 03000000 616263"), st("abc"));
        assert_eq!(one("FE 0A02 0A01 0A02 00"), arr(vec![I(1), I(2)]));
        assert_eq!(one("FE 02 00"), arr(vec![]));
        assert_eq!(one("32 0100000000000000"), I(1));
        assert_eq!(one("12 0100"), I(1));
        // A table as a key, nils as array items and as values.
        assert_eq!(
            one("16 00 00 06 00 09 0C61 00 00"),
            Value::Table(Table {
                array: vec![Value::Nil, Value::Nil],
                hash: vec![(arr(vec![]), Value::Boolean(true)), (st("a"), Value::Nil)],
            })
        );
    }

    #[test]
    fn long_strings() {
        let mut b = unhex("25 00000100");
        b.extend(std::iter::repeat_n(7u8, 65536));
        assert_eq!(unpack(&b).unwrap(), vec![Value::String(vec![7; 65536])]);
    }

    #[test]
    fn nil_key_ends_the_table() {
        // After the nil key, the next byte is a new top-level value.
        assert_eq!(
            unpack(&unhex("06 0C61 0A01 00 0A02")).unwrap(),
            vec![hash(vec![(st("a"), I(1))]), I(2)]
        );
    }

    #[test]
    fn truncated_input() {
        for s in [
            "0A",
            "12 01",
            "22 010203",
            "32 01020304050607",
            "42 00",
            "1C 6162",
            "15 03",
            "15 0300 6162",
            "25 030000",
            "0E",
            "0E 0A01",
            "06",
            "06 0C61",
            "06 0C61 0A01",
            "FE",
            "FE 0A",
            "1E 0A01 0A02 0A03",
        ] {
            let e = err(s);
            assert!(
                matches!(
                    e,
                    DecodeError::Truncated { .. }
                        | DecodeError::ArrayTooLong { .. }
                        | DecodeError::StringTooLong { .. }
                ),
                "{s}: {e:?}"
            );
        }
        assert_eq!(
            err("0A01 22 0102"),
            DecodeError::Truncated {
                offset: 2,
                needed: 2
            }
        );
        // A table whose end marker is missing: the missing tag is at the end.
        assert_eq!(
            err("06 0C61 0A01"),
            DecodeError::Truncated {
                offset: 5,
                needed: 1
            }
        );
    }

    #[test]
    fn bad_tags() {
        assert_eq!(err("07"), DecodeError::BadTag { offset: 0, tag: 7 });
        assert_eq!(
            err("0A01 FF"),
            DecodeError::BadTag {
                offset: 2,
                tag: 0xff
            }
        );
        // Long-string cookies other than 2 and 4.
        for t in ["05", "0D", "1D", "2D", "35", "FD"] {
            assert!(
                matches!(err(t), DecodeError::BadTag { offset: 0, .. }),
                "{t}"
            );
        }
        // Number cookies that do not exist.
        for t in ["1A 00", "2A 00", "3A 00", "4A 00", "FA 00"] {
            assert!(
                matches!(err(t), DecodeError::BadTag { offset: 0, .. }),
                "{t}"
            );
        }
        assert!(matches!(err("11"), DecodeError::BadTag { .. }));
        assert!(matches!(err("08"), DecodeError::BadTag { .. }));
        // A nil key with a cookie is not an end marker either.
        assert!(matches!(
            err("06 08"),
            DecodeError::BadTag { offset: 1, .. }
        ));
    }

    #[test]
    fn array_length_must_be_a_non_negative_integer() {
        assert_eq!(
            err("FE 42 0000000000000840"),
            DecodeError::BadArrayLength {
                offset: 0,
                tag: 0x42
            }
        );
        assert_eq!(
            err("FE 1C616263 00"),
            DecodeError::BadArrayLength {
                offset: 0,
                tag: 0x1c
            }
        );
        assert_eq!(
            err("FE 06 00 00"),
            DecodeError::BadArrayLength { offset: 0, tag: 6 }
        );
        assert_eq!(
            err("FE 22 FFFFFFFF 00"),
            DecodeError::NegativeArrayLength {
                offset: 0,
                declared: -1
            }
        );
        assert_eq!(
            err("FE 32 0000000000000080"),
            DecodeError::NegativeArrayLength {
                offset: 0,
                declared: i64::MIN
            }
        );
    }

    fn record(input: &[u8]) -> (Result<(), DecodeError>, Recorder) {
        Recorder::record(input, &Limits::default())
    }

    /// §7.6: `FE 22 FFFFFF7F` made skynet reserve 2^31-1 slots.
    #[test]
    fn huge_declared_array_allocates_nothing() {
        let input = unhex("FE 22 FFFFFF7F");
        let (r, rec) = record(&input);
        assert_eq!(
            r,
            Err(DecodeError::ArrayTooLong {
                offset: 0,
                declared: 0x7fff_ffff,
                available: 0
            })
        );
        assert_eq!((rec.tables, rec.array_hints), (0, 0));
        assert!(err("FE 22 FFFFFF7F").to_string().contains("2147483647"));
    }

    /// Items owed by enclosing tables count against a nested table's claim.
    #[test]
    fn nested_claims_share_the_remaining_bytes() {
        // The outer table claims 2 items; the first is a table claiming 4,
        // but only 4 bytes follow and one must stay for the outer's item 2.
        let e = err("16 26 0A01 0A02");
        assert_eq!(
            e,
            DecodeError::ArrayTooLong {
                offset: 1,
                declared: 4,
                available: 3
            }
        );
        // The same nesting, honest, decodes.
        assert_eq!(
            one("16 16 02 02 00 02 00"),
            arr(vec![arr(vec![I(0), I(0)]), I(0)])
        );
    }

    #[test]
    fn string_longer_than_input() {
        let (r, rec) = record(&unhex("25 FFFFFFFF 6162"));
        assert_eq!(
            r,
            Err(DecodeError::StringTooLong {
                offset: 0,
                declared: 0xffff_ffff,
                remaining: 2
            })
        );
        assert_eq!(rec.string_bytes, 0);
        assert!(matches!(err("15 FFFF"), DecodeError::StringTooLong { .. }));
    }

    #[test]
    fn userdata_is_refused() {
        assert_eq!(
            err("0A01 03 0100000000000000"),
            DecodeError::Pointer { offset: 2 }
        );
        // Even without its 8 bytes, and inside a table.
        assert_eq!(err("03"), DecodeError::Pointer { offset: 0 });
        assert_eq!(err("0E 03"), DecodeError::Pointer { offset: 1 });
    }

    fn nested(levels: usize) -> Vec<u8> {
        let mut b = vec![0x0e; levels];
        b.push(0x02);
        b.extend(std::iter::repeat_n(0u8, levels));
        b
    }

    #[test]
    fn depth_limit() {
        assert!(unpack(&nested(64)).is_ok());
        assert_eq!(
            unpack(&nested(65)),
            Err(DecodeError::TooDeep {
                offset: 64,
                limit: 64
            })
        );
        let two = Limits { max_depth: 2 };
        assert!(unpack_limited(&nested(2), &two).is_ok());
        assert!(matches!(
            unpack_limited(&nested(3), &two),
            Err(DecodeError::TooDeep {
                offset: 2,
                limit: 2
            })
        ));
        let none = Limits { max_depth: 0 };
        assert!(unpack_limited(&unhex("0A01"), &none).is_ok());
        assert!(unpack_limited(&unhex("06 00"), &none).is_err());
        // Tables as keys count too.
        let mut b = vec![0x06; 65];
        b.extend(std::iter::repeat_n(0u8, 65));
        assert!(matches!(unpack(&b), Err(DecodeError::TooDeep { .. })));
    }

    /// §7.6: a million nested one-item tables must fail fast, not overflow.
    #[test]
    fn million_deep_nesting_fails_fast() {
        let input = vec![0x0e; 1_000_000];
        let t = Instant::now();
        assert!(matches!(unpack(&input), Err(DecodeError::TooDeep { .. })));
        // Even with no depth limit at all, nothing recurses.
        let unlimited = Limits {
            max_depth: usize::MAX,
        };
        let (r, _) = Recorder::record(&input, &unlimited);
        assert!(r.is_err());
        assert!(t.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn nan_keys() {
        let input = unhex("06 42 000000000000f87f 0A01 00");
        assert_eq!(unpack(&input), Err(DecodeError::NanKey { offset: 1 }));
        // NaN as a value is fine.
        let v = unpack(&unhex("0E 42 000000000000f87f 00")).unwrap();
        let Value::Table(t) = &v[0] else { panic!() };
        assert!(matches!(t.array[0], R(f) if f.is_nan()));
        // With a custom builder, the builder decides.
        let (r, rec) = record(&input);
        assert_eq!(r, Ok(()));
        assert_eq!((rec.tables, rec.scalars), (1, 2));
    }

    #[test]
    fn messages_start_with_skynets_words_and_give_offsets() {
        for s in [
            "07",
            "0A",
            "15 FFFF",
            "FE 42 0000000000000000",
            "FE 22 FFFFFFFF",
            "FE 22 FFFFFF7F",
            "03",
            "06 42 000000000000f87f 02 00",
            "0A01 0A01 0A01 1D",
        ] {
            let m = err(s).to_string();
            assert!(m.starts_with("Invalid serialize stream: "), "{m}");
            assert!(m.contains("at byte"), "{m}");
        }
        assert!(unpack(&nested(65))
            .unwrap_err()
            .to_string()
            .contains("at byte 64"));
        assert_eq!(
            err("0A01 0A01 0A01 1D").to_string(),
            "Invalid serialize stream: bad tag 0x1d at byte 6: a long string's length field \
             must be 2 or 4 bytes (cookie 2 or 4)"
        );
    }

    impl From<DecodeError> for String {
        fn from(e: DecodeError) -> String {
            e.to_string()
        }
    }

    /// Builder calls: 1-based indices, order, and errors that stop decoding.
    #[test]
    fn builder_protocol() {
        #[derive(Default)]
        struct Log(Vec<String>);
        impl Builder for Log {
            type Value = String;
            type Table = Vec<String>;
            type Error = String;
            fn nil(&mut self) -> Result<String, String> {
                Ok("nil".into())
            }
            fn boolean(&mut self, b: bool) -> Result<String, String> {
                Ok(b.to_string())
            }
            fn integer(&mut self, i: i64) -> Result<String, String> {
                if i == 99 {
                    return Err("no 99".into());
                }
                Ok(i.to_string())
            }
            fn real(&mut self, f: f64) -> Result<String, String> {
                Ok(format!("{f:?}"))
            }
            fn string(&mut self, s: &[u8]) -> Result<String, String> {
                Ok(String::from_utf8_lossy(s).into_owned())
            }
            fn begin_table(&mut self, n: usize) -> Result<Vec<String>, String> {
                self.0.push(format!("begin {n}"));
                Ok(Vec::new())
            }
            fn array_item(
                &mut self,
                t: &mut Vec<String>,
                i: usize,
                v: String,
            ) -> Result<(), String> {
                t.push(format!("[{i}]={v}"));
                Ok(())
            }
            fn hash_item(
                &mut self,
                t: &mut Vec<String>,
                k: String,
                v: String,
            ) -> Result<(), String> {
                t.push(format!("{k}={v}"));
                Ok(())
            }
            fn end_table(&mut self, t: Vec<String>) -> Result<String, String> {
                self.0.push("end".into());
                Ok(format!("{{{}}}", t.join(",")))
            }
        }
        let mut log = Log::default();
        let mut out = Vec::new();
        let input = unhex("0A07 1E 0A01 0E 09 00 0A03 0C61 1C616263 00 04");
        unpack_with(&input, &Limits::default(), &mut log, |_, v| {
            out.push(v);
            Ok(())
        })
        .unwrap();
        assert_eq!(out, vec!["7", "{[1]=1,[2]={[1]=true},[3]=3,a=abc}", ""]);
        assert_eq!(log.0, vec!["begin 3", "begin 1", "end", "end"]);

        // A builder error stops decoding and comes back as is.
        let mut seen = 0;
        let r = unpack_with(
            &unhex("0A01 0A63 0A02"),
            &Limits::default(),
            &mut log,
            |_, _| {
                seen += 1;
                Ok(())
            },
        );
        assert_eq!(r, Err("no 99".to_string()));
        assert_eq!(seen, 1);
        // So does an emit error.
        let r = unpack_with(&unhex("0A01 0A02"), &Limits::default(), &mut log, |_, _| {
            Err("stop".to_string())
        });
        assert_eq!(r, Err("stop".to_string()));
        // Decode errors convert into the builder's error.
        let r = unpack_with(&unhex("07"), &Limits::default(), &mut log, |_, _| Ok(()));
        assert!(r.unwrap_err().starts_with("Invalid serialize stream"));
    }

    #[test]
    fn round_trip_examples() {
        let v = vec![
            arr(vec![I(1), R(2.5), st("x"), arr(vec![])]),
            hash(vec![(st("k"), hash(vec![(I(-7), Value::Boolean(true))]))]),
            I(i64::MIN),
            Value::String(vec![0xAB; 40]),
        ];
        assert_eq!(unpack(&pack(&v).unwrap()).unwrap(), v);
    }
}
