//! The node's saved schemas (`sproto.core.saveproto`/`loadproto`): sixteen
//! slots shared by every service of the node, as skynet shares them across
//! its process so that one service loads a schema and the others use it.
//!
//! Unlike skynet, a slot is written once: a second save to a used slot is
//! an error naming the slot, so a compromised service cannot swap the
//! protocol that other services decode with.

use crate::schema::Sproto;
use parking_lot::Mutex;
use std::sync::Arc;

/// How many slots there are (skynet's `MAX_GLOBALSPROTO`).
pub const SLOTS: usize = 16;

/// The sixteen write-once slots of one node.
#[derive(Default)]
pub struct Slots {
    slots: Mutex<[Option<Arc<Sproto>>; SLOTS]>,
}

impl Slots {
    /// Sixteen empty slots.
    pub fn new() -> Arc<Slots> {
        Arc::new(Slots::default())
    }

    /// Saves `sp` in slot `i` (`i < SLOTS`); an error if the slot is used.
    pub fn save(&self, i: usize, sp: Arc<Sproto>) -> Result<(), String> {
        let mut slots = self.slots.lock();
        let slot = &mut slots[i];
        if slot.is_some() {
            return Err(format!(
                "sproto slot {i} is already saved (slots are write-once in skyhold)"
            ));
        }
        *slot = Some(sp);
        Ok(())
    }

    /// The schema in slot `i` (`i < SLOTS`), if one was saved.
    pub fn load(&self, i: usize) -> Option<Arc<Sproto>> {
        self.slots.lock()[i].clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_is_written_once() {
        let s = Slots::new();
        assert!(s.load(3).is_none());
        s.save(3, Arc::new(Sproto::default())).expect("first save");
        let e = s.save(3, Arc::new(Sproto::default())).unwrap_err();
        assert!(e.contains("slot 3"), "{e}");
        assert!(s.load(3).is_some());
    }
}
