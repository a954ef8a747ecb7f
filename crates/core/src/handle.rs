//! Service addresses.
//!
//! A service is seen by other services as a skynet handle: a 32-bit number laid
//! out as `harbor << 24 | index`, written `:%08x`. Behind that number the
//! runtime keeps a [`ServiceId`], which adds a generation that is never reused,
//! so anything the runtime holds on a service's behalf (names, pending calls,
//! timers, socket ownership) can never be mistaken for a later service.
//!
//! Indices are handed out by a keyed permutation of a counter, so:
//! - the order in which indices appear cannot be predicted by a service that
//!   has seen earlier ones (the permutation key is random per node), and
//! - an index is not handed out a second time until every other one of the
//!   2^24 - 1 indices has been handed out (the permutation is a bijection), which
//!   is the longest delay a 24-bit index allows.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};

/// Number of bits of a handle that hold the local index.
pub const INDEX_BITS: u32 = 24;
/// Mask of the local-index part of a handle.
pub const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;

/// A skynet service handle, as services see and send it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Handle(pub u32);

impl Handle {
    /// The system: source of timer and socket messages. Never a service.
    pub const SYSTEM: Handle = Handle(0);

    /// The harbor (node) id in the top 8 bits.
    pub fn harbor(self) -> u8 {
        (self.0 >> INDEX_BITS) as u8
    }

    /// The local index in the low 24 bits.
    pub fn index(self) -> u32 {
        self.0 & INDEX_MASK
    }

    /// True for handle 0.
    pub fn is_system(self) -> bool {
        self.0 == 0
    }

    /// Parses skynet's text form `:hex` (as the C command layer accepts it).
    pub fn parse(text: &str) -> Option<Handle> {
        let hex = text.strip_prefix(':')?;
        if hex.is_empty() || hex.len() > 8 {
            return None;
        }
        u32::from_str_radix(hex, 16).ok().map(Handle)
    }
}

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, ":{:08x}", self.0)
    }
}

impl fmt::Debug for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, ":{:08x}", self.0)
    }
}

/// The runtime's exact name for one service instance: its handle plus a
/// generation that no other service of this node ever has.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct ServiceId {
    /// The handle services see.
    pub handle: Handle,
    /// Unique per node for the node's whole life.
    pub generation: u64,
}

impl ServiceId {
    /// The system pseudo-service (handle 0, generation 0).
    pub const SYSTEM: ServiceId = ServiceId {
        handle: Handle::SYSTEM,
        generation: 0,
    };
}

/// Hands out handle indices in an unpredictable order without early reuse.
#[derive(Debug)]
pub struct HandleAllocator {
    harbor: u8,
    counter: AtomicU64,
    keys: [u64; ROUNDS],
}

const ROUNDS: usize = 4;
const HALF_BITS: u32 = INDEX_BITS / 2;
const HALF_MASK: u32 = (1 << HALF_BITS) - 1;

impl HandleAllocator {
    /// An allocator with a fresh random key.
    pub fn new(harbor: u8) -> Self {
        let state = RandomState::new();
        let mut keys = [0u64; ROUNDS];
        for (i, k) in keys.iter_mut().enumerate() {
            *k = state.hash_one(i as u64 ^ 0x5eed_5eed);
        }
        Self::with_keys(harbor, keys)
    }

    /// An allocator with fixed keys (tests use this to be repeatable).
    pub fn with_keys(harbor: u8, keys: [u64; 4]) -> Self {
        HandleAllocator {
            harbor,
            counter: AtomicU64::new(0),
            keys,
        }
    }

    /// The harbor id put in the top byte of every handle.
    pub fn harbor(&self) -> u8 {
        self.harbor
    }

    /// Returns the next candidate id. The caller must check that the handle is
    /// not held by a live service (possible only after 2^24 allocations) and ask
    /// again if it is. Index 0 is never returned.
    pub fn next(&self) -> ServiceId {
        loop {
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            let index = self.permute((n & u64::from(INDEX_MASK)) as u32);
            if index == 0 {
                continue;
            }
            return ServiceId {
                handle: Handle((u32::from(self.harbor) << INDEX_BITS) | index),
                generation: n + 1,
            };
        }
    }

    /// A balanced Feistel network over 24 bits: a bijection on 0..2^24.
    fn permute(&self, x: u32) -> u32 {
        let mut left = (x >> HALF_BITS) & HALF_MASK;
        let mut right = x & HALF_MASK;
        for key in &self.keys {
            let f = round(*key, right);
            let next = left ^ f;
            left = right;
            right = next;
        }
        (left << HALF_BITS) | right
    }
}

/// A keyed mixing function (splitmix64 finaliser over key and input).
fn round(key: u64, half: u32) -> u32 {
    let mut z = key ^ u64::from(half).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (z as u32) & HALF_MASK
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashSet;

    #[test]
    fn text_form_matches_skynet() {
        assert_eq!(Handle(10).to_string(), ":0000000a");
        assert_eq!(Handle::parse(":0000000a"), Some(Handle(10)));
        assert_eq!(Handle::parse(":ff"), Some(Handle(255)));
        assert_eq!(Handle::parse("0a"), None);
        assert_eq!(Handle::parse(":"), None);
        assert_eq!(Handle::parse(":123456789"), None);
        assert_eq!(Handle::parse(":zz"), None);
    }

    #[test]
    fn harbor_goes_in_the_top_byte() {
        let a = HandleAllocator::new(3);
        for _ in 0..100 {
            let id = a.next();
            assert_eq!(id.handle.harbor(), 3);
            assert_ne!(id.handle.index(), 0);
        }
    }

    #[test]
    fn first_indices_are_not_sequential() {
        let a = HandleAllocator::new(0);
        let ids: Vec<u32> = (0..64).map(|_| a.next().handle.index()).collect();
        let sequential = ids.windows(2).filter(|w| w[1] == w[0] + 1).count();
        assert!(sequential < 4, "indices look sequential: {ids:?}");
    }

    #[test]
    fn two_nodes_use_different_orders() {
        let a = HandleAllocator::new(0);
        let b = HandleAllocator::new(0);
        let xa: Vec<u32> = (0..16).map(|_| a.next().handle.0).collect();
        let xb: Vec<u32> = (0..16).map(|_| b.next().handle.0).collect();
        assert_ne!(xa, xb);
    }

    #[test]
    fn permutation_is_a_bijection_over_the_whole_space() {
        let a = HandleAllocator::with_keys(0, [1, 2, 3, 4]);
        let mut seen = vec![false; 1 << INDEX_BITS];
        for x in 0..(1u32 << INDEX_BITS) {
            let y = a.permute(x) as usize;
            assert!(!seen[y], "index {y} produced twice");
            seen[y] = true;
        }
    }

    #[test]
    fn generations_never_repeat() {
        let a = HandleAllocator::new(0);
        let mut gens = HashSet::new();
        for _ in 0..10_000 {
            assert!(gens.insert(a.next().generation));
        }
    }

    proptest! {
        #[test]
        fn no_index_repeats_within_a_window(keys in any::<[u64; 4]>(), n in 1usize..5000) {
            let a = HandleAllocator::with_keys(0, keys);
            let mut seen = HashSet::new();
            for _ in 0..n {
                let id = a.next();
                prop_assert!(seen.insert(id.handle));
            }
        }
    }
}
