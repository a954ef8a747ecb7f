//! A [`Builder`] that builds nothing and counts what the decoder asks of it:
//! shared by this crate's unit tests, its property tests (`tests/prop.rs`)
//! and the `pack_unpack` fuzz target, which check that hostile input never
//! makes the decoder ask for more than the input can justify.
//!
//! Test support, not part of the API: hidden from the docs and free to
//! change.

use crate::decode::{Builder, DecodeError, Limits};

/// Counts the values, tables, array-size hints and string bytes a decode
/// asks its builder for, and builds nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recorder {
    /// Scalars made: nil, boolean, integer, real and string.
    pub scalars: usize,
    /// Tables begun.
    pub tables: usize,
    /// The sum of the array-size hints given to `begin_table`.
    pub array_hints: usize,
    /// The bytes of every string made.
    pub string_bytes: usize,
}

impl Recorder {
    /// Values asked for: scalars plus tables begun. Each starts with its
    /// own tag byte, so this never exceeds the input's length.
    pub fn calls(&self) -> usize {
        self.scalars + self.tables
    }

    /// Decodes `input` through a fresh recorder (taking NaN keys and every
    /// item), returning the decode's result and what was asked for.
    pub fn record(input: &[u8], limits: &Limits) -> (Result<(), DecodeError>, Recorder) {
        let mut rec = Recorder::default();
        let r = crate::decode::unpack_with(input, limits, &mut rec, |_, _| Ok(()));
        (r, rec)
    }

    fn scalar(&mut self) -> Result<(), DecodeError> {
        self.scalars += 1;
        Ok(())
    }
}

impl Builder for Recorder {
    type Value = ();
    type Table = ();
    type Error = DecodeError;
    fn nil(&mut self) -> Result<(), DecodeError> {
        self.scalar()
    }
    fn boolean(&mut self, _: bool) -> Result<(), DecodeError> {
        self.scalar()
    }
    fn integer(&mut self, _: i64) -> Result<(), DecodeError> {
        self.scalar()
    }
    fn real(&mut self, _: f64) -> Result<(), DecodeError> {
        self.scalar()
    }
    fn string(&mut self, s: &[u8]) -> Result<(), DecodeError> {
        self.string_bytes += s.len();
        self.scalar()
    }
    fn begin_table(&mut self, n: usize) -> Result<(), DecodeError> {
        self.tables += 1;
        self.array_hints += n;
        Ok(())
    }
    fn array_item(&mut self, _: &mut (), _: usize, _: ()) -> Result<(), DecodeError> {
        Ok(())
    }
    fn hash_item(&mut self, _: &mut (), _: (), _: ()) -> Result<(), DecodeError> {
        Ok(())
    }
    fn end_table(&mut self, _: ()) -> Result<(), DecodeError> {
        Ok(())
    }
}
