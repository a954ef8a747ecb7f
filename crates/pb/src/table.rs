//! The integer-keyed table lua-protobuf keeps a type's fields in, by
//! number. Its layout decides the order `pb.fields`, `encode_order` and
//! the default tables visit fields in, so it is laid out the same way: a
//! power-of-two array of slots, a multiplicative hash, collisions chained
//! through free slots taken from the top, doubled when no slot is free.

/// One slot.
#[derive(Clone, Copy, Debug, Default)]
struct Slot {
    key: i64,
    /// Offset (in slots) to the next slot of the chain, 0 for none.
    next: isize,
    dead: bool,
    val: Option<u32>,
}

/// A table from field numbers to field indices.
#[derive(Clone, Debug, Default)]
pub struct IntTable {
    slots: Vec<Slot>,
    lastfree: usize,
}

impl IntTable {
    fn main_pos(&self, key: i64) -> usize {
        let mask = (self.slots.len() - 1) as i64;
        let h = (key.wrapping_mul(2_654_435_761) & mask) as usize;
        if key != 0 && h == 0 {
            1
        } else {
            h
        }
    }

    fn resize(&mut self, want: usize) {
        let mut size = 8usize;
        while size < want {
            size <<= 1;
        }
        let old = std::mem::take(&mut self.slots);
        self.slots = vec![Slot::default(); size];
        self.slots[0].dead = true;
        self.lastfree = size;
        for o in old {
            let i = self.new_key(o.key);
            self.slots[i].val = o.val;
        }
    }

    fn at(i: usize, off: isize) -> usize {
        i.wrapping_add_signed(off)
    }

    fn new_key(&mut self, key: i64) -> usize {
        if self.slots.is_empty() {
            self.resize(0);
        }
        let mut mp = self.main_pos(key);
        if self.slots[mp].key != 0 && !self.slots[mp].dead {
            let f = loop {
                self.lastfree -= 1;
                let c = self.slots[self.lastfree];
                if (c.key == 0 || c.dead) && c.next == 0 {
                    break self.lastfree;
                }
            };
            if f == 0 {
                let n = self.slots.len() * 2;
                self.resize(n);
                return self.new_key(key);
            }
            let mut on = self.main_pos(self.slots[mp].key);
            if on != mp {
                loop {
                    let nx = Self::at(on, self.slots[on].next);
                    if nx == mp {
                        break;
                    }
                    on = nx;
                }
                self.slots[on].next = f as isize - on as isize;
                self.slots[f] = self.slots[mp];
                if self.slots[mp].next != 0 {
                    self.slots[f].next += mp as isize - f as isize;
                    self.slots[mp].next = 0;
                }
            } else {
                if self.slots[mp].next != 0 {
                    self.slots[f].next = mp as isize - f as isize + self.slots[mp].next;
                }
                self.slots[mp].next = f as isize - mp as isize;
                mp = f;
            }
        }
        let s = &mut self.slots[mp];
        s.key = key;
        s.dead = false;
        s.val = None;
        mp
    }

    fn find(&self, key: i64) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mut i = self.main_pos(key);
        loop {
            let s = &self.slots[i];
            if s.key == key && !s.dead {
                return Some(i);
            }
            if s.next == 0 {
                return None;
            }
            i = Self::at(i, s.next);
        }
    }

    /// The value under `key`.
    pub fn get(&self, key: i64) -> Option<u32> {
        self.find(key).and_then(|i| self.slots[i].val)
    }

    /// Sets the value under `key`, adding the key if it is new.
    pub fn set(&mut self, key: i64, val: Option<u32>) {
        let i = match self.find(key) {
            Some(i) => i,
            None => self.new_key(key),
        };
        self.slots[i].val = val;
    }

    /// Marks the entry of `key` dead if it holds `val`.
    pub fn kill(&mut self, key: i64, val: u32) -> bool {
        match self.find(key) {
            Some(i) if self.slots[i].val == Some(val) => {
                self.slots[i].dead = true;
                self.slots[i].val = None;
                true
            }
            _ => false,
        }
    }

    /// The values in slot order.
    pub fn values(&self) -> Vec<u32> {
        let mut v = Vec::new();
        for (i, s) in self.slots.iter().enumerate() {
            let live = if i == 0 {
                !s.dead
            } else {
                s.key != 0 && !s.dead
            };
            if live {
                if let Some(x) = s.val {
                    v.push(x);
                }
            }
        }
        v
    }

    /// The value after the entry of `key` (the first one for `None`).
    pub fn next_after(&self, key: Option<i64>) -> Option<u32> {
        let vals_from = match key {
            None => 0,
            Some(k) => self.find(k)? + 1,
        };
        for i in vals_from..self.slots.len() {
            let s = &self.slots[i];
            let live = if i == 0 {
                !s.dead
            } else {
                s.key != 0 && !s.dead
            };
            if live {
                if let Some(x) = s.val {
                    return Some(x);
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_numbers_come_in_order_and_lookups_work() {
        let mut t = IntTable::default();
        for k in [3, 1, 2] {
            t.set(k, Some(k as u32 * 10));
        }
        assert_eq!(t.values(), vec![10, 20, 30]);
        for k in 1..=3 {
            assert_eq!(t.get(k), Some(k as u32 * 10));
        }
        assert_eq!(t.get(4), None);
    }

    #[test]
    fn grows_and_keeps_every_key() {
        let mut t = IntTable::default();
        let keys: Vec<i64> = (0..100).map(|i| i * 37 - 500).collect();
        for (i, k) in keys.iter().enumerate() {
            t.set(*k, Some(i as u32));
        }
        for (i, k) in keys.iter().enumerate() {
            assert_eq!(t.get(*k), Some(i as u32), "key {k}");
        }
        assert_eq!(t.values().len(), 100);
        assert!(t.kill(keys[5], 5));
        assert_eq!(t.get(keys[5]), None);
        assert_eq!(t.values().len(), 99);
    }

    #[test]
    fn iteration_resumes_after_a_key() {
        let mut t = IntTable::default();
        for k in [0, 1, 9, 17] {
            t.set(k, Some(k as u32));
        }
        let mut seen = Vec::new();
        let mut cur = None;
        while let Some(v) = t.next_after(cur) {
            seen.push(v);
            cur = Some(i64::from(v));
        }
        assert_eq!(seen, t.values());
        assert_eq!(seen.len(), 4);
    }
}
