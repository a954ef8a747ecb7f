//! A hierarchical timing wheel in skynet's unit (one tick = 1/100 s).
//!
//! 256 slots for the next 256 ticks, then four levels of 64 slots, each level
//! 64 times coarser: together 2^32 ticks (about 497 days) ahead. Timers further
//! out wait in an overflow list until the wheel comes round. Adding and firing
//! a timer are O(1); an entry is moved down at most four times.

const NEAR_BITS: u32 = 8;
const NEAR_SIZE: usize = 1 << NEAR_BITS;
const LEVEL_BITS: u32 = 6;
const LEVEL_SIZE: usize = 1 << LEVEL_BITS;
const LEVELS: usize = 4;
const SPAN_BITS: u32 = NEAR_BITS + LEVEL_BITS * LEVELS as u32;

/// A timing wheel holding items of type `T`.
pub struct Wheel<T> {
    now: u64,
    near: Vec<Vec<(u64, T)>>,
    levels: Vec<Vec<Vec<(u64, T)>>>,
    overflow: Vec<(u64, T)>,
    len: usize,
}

impl<T> Default for Wheel<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Wheel<T> {
    /// An empty wheel at tick 0.
    pub fn new() -> Self {
        Wheel {
            now: 0,
            near: (0..NEAR_SIZE).map(|_| Vec::new()).collect(),
            levels: (0..LEVELS)
                .map(|_| (0..LEVEL_SIZE).map(|_| Vec::new()).collect())
                .collect(),
            overflow: Vec::new(),
            len: 0,
        }
    }

    /// The current tick.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Timers waiting.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no timer waits.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds an item that fires at tick `expire`. An item already due is
    /// handed back for the caller to fire at once.
    pub fn add(&mut self, expire: u64, item: T) -> Option<T> {
        if expire <= self.now {
            return Some(item);
        }
        self.len += 1;
        self.place(expire, item);
        None
    }

    fn place(&mut self, expire: u64, item: T) {
        let now = self.now;
        if expire >> NEAR_BITS == now >> NEAR_BITS {
            self.near[(expire as usize) & (NEAR_SIZE - 1)].push((expire, item));
            return;
        }
        for level in 0..LEVELS {
            let upper = NEAR_BITS + LEVEL_BITS * (level as u32 + 1);
            if expire >> upper == now >> upper {
                let slot =
                    (expire >> (NEAR_BITS + LEVEL_BITS * level as u32)) as usize & (LEVEL_SIZE - 1);
                self.levels[level][slot].push((expire, item));
                return;
            }
        }
        self.overflow.push((expire, item));
    }

    /// Moves one tick forward and appends the items that fire to `fired`.
    pub fn tick(&mut self, fired: &mut Vec<T>) {
        self.now += 1;
        let now = self.now;
        if now & ((1 << SPAN_BITS) - 1) == 0 {
            let far = std::mem::take(&mut self.overflow);
            for (e, it) in far {
                self.place(e, it);
            }
        }
        if now & (NEAR_SIZE as u64 - 1) == 0 {
            for level in 0..LEVELS {
                let slot =
                    (now >> (NEAR_BITS + LEVEL_BITS * level as u32)) as usize & (LEVEL_SIZE - 1);
                let moving = std::mem::take(&mut self.levels[level][slot]);
                for (e, it) in moving {
                    self.place(e, it);
                }
                if slot != 0 {
                    break;
                }
            }
        }
        let due = std::mem::take(&mut self.near[(now as usize) & (NEAR_SIZE - 1)]);
        self.len -= due.len();
        fired.extend(due.into_iter().map(|(e, it)| {
            debug_assert_eq!(e, now);
            it
        }));
    }

    /// Moves forward to tick `to`, appending what fires, in firing order.
    pub fn advance_to(&mut self, to: u64, fired: &mut Vec<T>) {
        while self.now < to {
            self.tick(fired);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    #[test]
    fn due_items_come_back_at_once() {
        let mut w = Wheel::new();
        assert_eq!(w.add(0, "x"), Some("x"));
        w.advance_to(10, &mut Vec::new());
        assert_eq!(w.add(5, "y"), Some("y"));
    }

    #[test]
    fn fires_at_exactly_the_right_tick_across_levels() {
        let mut w = Wheel::new();
        let delays = [
            1u64,
            255,
            256,
            257,
            1000,
            16_383,
            16_384,
            70_000,
            1 << 20,
            (1 << 26) + 3,
        ];
        for d in delays {
            assert!(w.add(d, d).is_none());
        }
        let mut fired = Vec::new();
        let mut at = BTreeMap::new();
        while !w.is_empty() {
            fired.clear();
            w.tick(&mut fired);
            for f in &fired {
                at.insert(*f, w.now());
            }
        }
        for d in delays {
            assert_eq!(at[&d], d, "timer for {d}");
        }
    }

    #[test]
    fn timers_beyond_the_span_wait_in_overflow() {
        let mut w = Wheel::new();
        w.now = (1 << SPAN_BITS) - 5;
        let e = (1u64 << SPAN_BITS) + 10;
        assert!(w.add(e, 1).is_none());
        let mut fired = Vec::new();
        w.advance_to(e - 1, &mut fired);
        assert!(fired.is_empty());
        w.tick(&mut fired);
        assert_eq!(fired, vec![1]);
    }

    proptest! {
        #[test]
        fn behaves_like_a_sorted_map(start in 0u64..(1 << 34), adds in proptest::collection::vec((0u64..100_000, 0u64..3000), 1..60)) {
            let mut w = Wheel::new();
            w.now = start;
            let mut model: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
            let mut fired_at: Vec<(u64, usize)> = Vec::new();
            let mut fired = Vec::new();
            for (id, (delay, advance)) in adds.into_iter().enumerate() {
                let e = w.now() + delay;
                if let Some(i) = w.add(e, id) { fired_at.push((w.now(), i)); } else { model.entry(e).or_default().push(id); }
                let target = w.now() + advance;
                while w.now() < target {
                    fired.clear();
                    w.tick(&mut fired);
                    for f in &fired { fired_at.push((w.now(), *f)); }
                }
            }
            let end = model.keys().next_back().copied().unwrap_or(0);
            while w.now() < end {
                fired.clear();
                w.tick(&mut fired);
                for f in &fired { fired_at.push((w.now(), *f)); }
            }
            prop_assert!(w.is_empty());
            for (e, ids) in model {
                for i in ids {
                    prop_assert!(fired_at.contains(&(e, i)), "timer {} due at {} fired at {:?}", i, e, fired_at.iter().find(|(_, x)| *x == i));
                }
            }
        }
    }
}
