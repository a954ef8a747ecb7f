//! A small, fast hasher for maps keyed by handles and sessions.
//!
//! Keys in these maps are chosen by the runtime (handles are already a keyed
//! permutation, sessions are per-service counters), so a keyed hash against
//! collision attacks buys nothing and costs time on every message.

use std::hash::{BuildHasherDefault, Hasher};

/// Multiplicative hashing of integer keys.
#[derive(Default, Clone, Copy)]
pub struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 =
                (self.0.rotate_left(5) ^ u64::from(*b)).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_i32(&mut self, n: i32) {
        self.write_u64(u64::from(n as u32));
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        self.0 ^= self.0 >> 29;
    }
}

/// Build-hasher for [`IntHasher`].
pub type IntBuild = BuildHasherDefault<IntHasher>;

/// A `HashMap` with [`IntHasher`].
pub type IntMap<K, V> = std::collections::HashMap<K, V, IntBuild>;
