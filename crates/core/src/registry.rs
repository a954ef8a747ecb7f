//! The handle table: handle → live service.
//!
//! Sharded by the low bits of the index (indices come from a keyed
//! permutation, so shards fill evenly) to keep readers on different cores
//! from contending on one lock.

use parking_lot::RwLock;
use std::sync::Arc;

use crate::cell::ServiceCell;
use crate::fasthash::IntMap;
use crate::handle::{Handle, ServiceId};

const SHARDS: usize = 64;

/// Live services by handle.
///
/// Generic over what a cell's slot holds (see [`ServiceCell`]).
pub struct Registry<S> {
    shards: Vec<RwLock<IntMap<u32, Arc<ServiceCell<S>>>>>,
}

impl<S> Default for Registry<S> {
    fn default() -> Self {
        Registry {
            shards: (0..SHARDS)
                .map(|_| RwLock::new(IntMap::default()))
                .collect(),
        }
    }
}

impl<S> Registry<S> {
    fn shard(&self, h: Handle) -> &RwLock<IntMap<u32, Arc<ServiceCell<S>>>> {
        &self.shards[(h.0 as usize) % SHARDS]
    }

    /// The live service with this handle.
    #[inline]
    pub fn get(&self, h: Handle) -> Option<Arc<ServiceCell<S>>> {
        self.shard(h).read().get(&h.0).cloned()
    }

    /// The live service with exactly this id (handle and generation).
    pub fn get_exact(&self, id: ServiceId) -> Option<Arc<ServiceCell<S>>> {
        self.get(id.handle).filter(|c| c.id == id)
    }

    /// True if a live service holds this handle.
    pub fn contains(&self, h: Handle) -> bool {
        self.shard(h).read().contains_key(&h.0)
    }

    /// Adds a service; false if its handle is taken (the caller allocates another).
    pub fn insert(&self, cell: Arc<ServiceCell<S>>) -> bool {
        let mut shard = self.shard(cell.id.handle).write();
        if shard.contains_key(&cell.id.handle.0) {
            return false;
        }
        shard.insert(cell.id.handle.0, cell);
        true
    }

    /// Removes a service if the handle still belongs to exactly it.
    pub fn remove(&self, id: ServiceId) -> bool {
        let mut shard = self.shard(id.handle).write();
        match shard.get(&id.handle.0) {
            Some(c) if c.id == id => {
                shard.remove(&id.handle.0);
                true
            }
            _ => false,
        }
    }

    /// Every live service (a snapshot).
    pub fn all(&self) -> Vec<Arc<ServiceCell<S>>> {
        let mut v = Vec::new();
        for s in &self.shards {
            v.extend(s.read().values().cloned());
        }
        v.sort_by_key(|c| c.id.generation);
        v
    }
}
