//! What each worker is doing, for the monitor that looks for a service
//! stuck in one message; and the cheap counter bump workers use.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::handle::Handle;

/// What a worker is doing, for the monitor.
#[derive(Default)]
pub struct Probe {
    pub(crate) version: AtomicU64,
    /// `source << 32 | destination` of the message being handled, or 0.
    pub(crate) current: AtomicU64,
}

// Only the probe's own worker writes it, so the version is bumped with a
// load and a store rather than a locked read-modify-write (two per message);
// Release, so the monitor that sees a new version sees `current` with it.
impl Probe {
    pub(crate) fn enter(&self, source: Handle, dest: Handle) {
        self.current.store(
            (u64::from(source.0) << 32) | u64::from(dest.0) | (1 << 63),
            Ordering::Relaxed,
        );
        self.bump();
    }

    pub(crate) fn leave(&self) {
        self.current.store(0, Ordering::Relaxed);
        self.bump();
    }

    fn bump(&self) {
        bump(&self.version, Ordering::Release);
    }
}

/// Adds one to a counter that only the caller writes (readers may race),
/// storing with `order`.
pub(crate) fn bump(counter: &AtomicU64, order: Ordering) {
    let v = counter.load(Ordering::Relaxed);
    counter.store(v.wrapping_add(1), order);
}
