//! A Rust-side value tree and its encoder.

use std::fmt;

use crate::write;

/// One value of the format, for Rust-side use and tests.
///
/// Integers and floats are distinct, as in Lua 5.4: `Integer(1)` encodes as
/// `0A 01`, `Real(1.0)` as `42 000000000000f03f`.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// `nil`.
    Nil,
    /// A boolean.
    Boolean(bool),
    /// An integer.
    Integer(i64),
    /// A float.
    Real(f64),
    /// A string (any bytes).
    String(Vec<u8>),
    /// A table.
    Table(Table),
}

/// A table as it is on the wire: the array part, then the other pairs.
///
/// Decoding keeps the wire's split: a pair whose key happens to be an
/// integer in `1..=array.len()` stays in `hash`, in order, and packing
/// writes it back the same way.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Table {
    /// Items 1..=n, in order.
    pub array: Vec<Value>,
    /// The other key/value pairs, in order. A key must not be nil or NaN.
    pub hash: Vec<(Value, Value)>,
}

/// Why [`pack`] refused a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PackError {
    /// A value sits deeper than [`MAX_PACK_DEPTH`]. The message is skynet's.
    TooDeep,
    /// A table key is nil; on the wire a nil key ends the table.
    NilKey,
    /// A table key is a NaN float, which no Lua table can hold.
    NanKey,
    /// A string longer than [`write::MAX_STRING_LEN`] bytes.
    StringTooLong {
        /// Its length.
        len: usize,
    },
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PackError::TooDeep => f.write_str("serialize can't pack too depth table"),
            PackError::NilKey => f.write_str("serialize can't pack a table key that is nil"),
            PackError::NanKey => f.write_str("serialize can't pack a table key that is NaN"),
            PackError::StringTooLong { len } => write!(
                f,
                "serialize can't pack a string of {len} bytes (at most {} bytes)",
                write::MAX_STRING_LEN
            ),
        }
    }
}

impl std::error::Error for PackError {}

/// The deepest level a value may sit at, as in skynet: top-level values are
/// at depth 0, the contents of a table one level deeper than the table, and
/// anything deeper than 32 fails. So 32 nested tables holding a leaf pack,
/// 33 nested tables pack only if the innermost one is empty.
pub const MAX_PACK_DEPTH: usize = 32;

/// Encodes `values` as one message (the encodings of each, concatenated).
///
/// Fails on skynet's depth rule ([`MAX_PACK_DEPTH`]), on nil or NaN table
/// keys, and on strings too long for the format.
pub fn pack(values: &[Value]) -> Result<Vec<u8>, PackError> {
    let mut buf = Vec::new();
    for v in values {
        pack_value(&mut buf, v, 0)?;
    }
    Ok(buf)
}

/// Recursion here is bounded by [`MAX_PACK_DEPTH`].
fn pack_value(buf: &mut Vec<u8>, v: &Value, depth: usize) -> Result<(), PackError> {
    if depth > MAX_PACK_DEPTH {
        return Err(PackError::TooDeep);
    }
    match v {
        Value::Nil => write::nil(buf),
        Value::Boolean(b) => write::boolean(buf, *b),
        Value::Integer(i) => write::integer(buf, *i),
        Value::Real(f) => write::real(buf, *f),
        Value::String(s) => write::try_string(buf, s)?,
        Value::Table(t) => {
            write::table_header(buf, t.array.len());
            for item in &t.array {
                pack_value(buf, item, depth + 1)?;
            }
            for (k, item) in &t.hash {
                match k {
                    Value::Nil => return Err(PackError::NilKey),
                    Value::Real(f) if f.is_nan() => return Err(PackError::NanKey),
                    _ => {}
                }
                pack_value(buf, k, depth + 1)?;
                pack_value(buf, item, depth + 1)?;
            }
            write::table_end(buf);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn s(x: &str) -> Value {
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

    fn packed(v: Value) -> String {
        hex(&pack(&[v]).unwrap())
    }

    /// Every measured example of the spec's table.
    #[test]
    fn spec_examples() {
        assert_eq!(packed(arr(vec![])), "0600");
        assert_eq!(
            packed(arr(vec![
                Value::Integer(1),
                Value::Integer(2),
                Value::Integer(3)
            ])),
            "1e0a010a020a0300"
        );
        assert_eq!(
            packed(hash(vec![(s("a"), Value::Integer(1))])),
            "060c610a0100"
        );
        assert_eq!(
            packed(hash(vec![(Value::Integer(5), Value::Integer(1))])),
            "060a050a0100"
        );
        let big: Vec<Value> = (1..=31).map(Value::Integer).collect();
        let b = pack(&[arr(big)]).unwrap();
        assert_eq!(hex(&b[..3]), "fe0a1f");
        assert_eq!(b.len(), 3 + 31 * 2 + 1);
        assert_eq!(packed(Value::Integer(-1)), "22ffffffff");
        assert_eq!(packed(Value::Integer(1 << 31)), "320000008000000000");
        assert_eq!(packed(Value::Integer(65536)), "2200000100");
        // {1,nil,3} as Lua's rawlen may see it: array [1], hash 3 = 3.
        let t = Value::Table(Table {
            array: vec![Value::Integer(1)],
            hash: vec![(Value::Integer(3), Value::Integer(3))],
        });
        assert_eq!(packed(t), "0e0a010a030a0300");
        assert_eq!(packed(Value::Real(1.0)), "42000000000000f03f");
        assert_eq!(packed(s("")), "04");
        assert_eq!(packed(s("abc")), "1c616263");
        assert_eq!(packed(Value::Nil), "00");
        assert_eq!(packed(Value::Boolean(false)), "01");
        assert_eq!(packed(Value::Boolean(true)), "09");
        assert_eq!(packed(Value::Integer(0)), "02");
    }

    #[test]
    fn several_values_concatenate() {
        let b = pack(&[Value::Integer(1), s("hi"), Value::Nil]).unwrap();
        assert_eq!(hex(&b), "0a0114686900");
        assert!(pack(&[]).unwrap().is_empty());
    }

    fn nested(levels: usize, innermost: Value) -> Value {
        let mut v = innermost;
        for _ in 0..levels {
            v = arr(vec![v]);
        }
        v
    }

    /// The measured boundary of skynet's depth rule.
    #[test]
    fn depth_boundary() {
        // 32 nested tables with a leaf: the leaf is at depth 32.
        assert!(pack(&[nested(32, Value::Integer(1))]).is_ok());
        // 33 nested with a leaf fail.
        assert_eq!(
            pack(&[nested(33, Value::Integer(1))]),
            Err(PackError::TooDeep)
        );
        // 33 nested tables with an empty innermost table: 32 + the empty one.
        assert!(pack(&[nested(32, arr(vec![]))]).is_ok());
        // 34 fail.
        assert_eq!(pack(&[nested(33, arr(vec![]))]), Err(PackError::TooDeep));
        assert_eq!(
            PackError::TooDeep.to_string(),
            "serialize can't pack too depth table"
        );
        // Depth counts keys too.
        let deep_key = hash(vec![(nested(32, arr(vec![])), Value::Integer(1))]);
        assert_eq!(pack(&[deep_key]), Err(PackError::TooDeep));
    }

    #[test]
    fn bad_keys_are_refused() {
        assert_eq!(
            pack(&[hash(vec![(Value::Nil, Value::Integer(1))])]),
            Err(PackError::NilKey)
        );
        assert_eq!(
            pack(&[hash(vec![(Value::Real(f64::NAN), Value::Integer(1))])]),
            Err(PackError::NanKey)
        );
        // NaN as a value is fine.
        assert!(pack(&[Value::Real(f64::NAN)]).is_ok());
    }
}
