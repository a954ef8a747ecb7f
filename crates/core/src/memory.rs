//! The node-wide memory budget of script states (`lua_memory_total`).
//!
//! The core has no Lua, so it cannot measure a state; the host that runs
//! one reports how much it holds ([`Context::report_memory`]), and the node
//! keeps the sum. Launching a service whose module says it reports memory
//! is refused while that sum is past the budget.
//!
//! Reporting sits on the message path, so it is made cheap for the common
//! case: a service's report only touches the node's shared total when its
//! usage has moved by at least [`REPORT_STEP`] since the last report that
//! did. Most messages move a state by far less, so most reports are a load
//! and a compare on the service's own cell. The total is therefore off by
//! less than `REPORT_STEP` per reporting service — less than half the Lua
//! heap of an idle skyhold service — which a budget measured in GiB can
//! afford.
//!
//! [`Context::report_memory`]: crate::Context::report_memory

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// How far a service's usage must move before the node's total is told.
pub const REPORT_STEP: usize = 32 << 10;

/// A cell's reported value once it has retired: later reports (from a
/// context a native service kept past its exit) must not count again.
pub(crate) const RETIRED: usize = usize::MAX;

/// What crossing the budget's line changed, for the one log line per
/// crossing.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Crossing {
    /// The total went past the budget.
    Over,
    /// The total fell back under the low-water mark.
    Under,
}

/// The sum of what services report, against a budget.
#[derive(Debug)]
pub(crate) struct MemoryBudget {
    limit: usize,
    total: AtomicUsize,
    /// True from the time the total passed `limit` until it fell under
    /// [`MemoryBudget::low_water`]: the log says so once each way, however
    /// many launches are refused meanwhile and however the total wavers
    /// around the line.
    over: AtomicBool,
}

impl MemoryBudget {
    pub(crate) fn new(limit: usize) -> MemoryBudget {
        MemoryBudget {
            limit,
            total: AtomicUsize::new(0),
            over: AtomicBool::new(false),
        }
    }

    pub(crate) fn limit(&self) -> usize {
        self.limit
    }

    pub(crate) fn total(&self) -> usize {
        self.total.load(Ordering::Relaxed)
    }

    /// Seven eighths of the budget: the total must fall this far after
    /// passing the budget before the log says it is back under, so a total
    /// that hovers at the line gives two lines, not two per wobble.
    fn low_water(&self) -> usize {
        self.limit - self.limit / 8
    }

    /// A service that last reported `reported` (its cell's value) now holds
    /// `bytes`. Returns a crossing to log, if this report made one.
    #[inline]
    pub(crate) fn report(&self, reported: &AtomicUsize, bytes: usize) -> Option<Crossing> {
        let last = reported.load(Ordering::Relaxed);
        if last == RETIRED || bytes.abs_diff(last) < REPORT_STEP {
            return None;
        }
        // Swapped rather than stored: every change to a cell's value is
        // matched by the same change to the total, whoever else reports.
        let Ok(last) = reported.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
            (v != RETIRED).then_some(bytes)
        }) else {
            return None;
        };
        let total = if bytes >= last {
            self.total.fetch_add(bytes - last, Ordering::Relaxed) + (bytes - last)
        } else {
            self.total.fetch_sub(last - bytes, Ordering::Relaxed) - (last - bytes)
        };
        self.crossed(total)
    }

    /// A service retired: what it reported no longer counts, and no later
    /// report of its will.
    pub(crate) fn release(&self, reported: &AtomicUsize) -> Option<Crossing> {
        let last = reported.swap(RETIRED, Ordering::Relaxed);
        if last == RETIRED || last == 0 {
            return None;
        }
        let total = self.total.fetch_sub(last, Ordering::Relaxed) - last;
        self.crossed(total)
    }

    fn crossed(&self, total: usize) -> Option<Crossing> {
        if total > self.limit {
            (!self.over.swap(true, Ordering::Relaxed)).then_some(Crossing::Over)
        } else if total < self.low_water() && self.over.load(Ordering::Relaxed) {
            self.over
                .swap(false, Ordering::Relaxed)
                .then_some(Crossing::Under)
        } else {
            None
        }
    }
}

/// Bytes as a person reads them: `512 KiB`, `3.2 MiB`, `4.0 GiB`.
pub fn human_bytes(n: usize) -> String {
    const K: f64 = 1024.0;
    let f = n as f64;
    if f < K * K {
        format!("{:.0} KiB", f / K)
    } else if f < K * K * K {
        format!("{:.1} MiB", f / (K * K))
    } else {
        format!("{:.1} GiB", f / (K * K * K))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn small_moves_stay_off_the_shared_total() {
        let b = MemoryBudget::new(1 << 30);
        let cell = AtomicUsize::new(0);
        assert_eq!(b.report(&cell, REPORT_STEP - 1), None);
        assert_eq!(b.total(), 0);
        b.report(&cell, 100 << 10);
        assert_eq!(b.total(), 100 << 10);
        b.report(&cell, (100 << 10) + 1000);
        assert_eq!(b.total(), 100 << 10, "a 1000-byte move is not reported");
        b.report(&cell, 10 << 10);
        assert_eq!(b.total(), 10 << 10);
    }

    #[test]
    fn a_retired_service_counts_for_nothing_ever_again() {
        let b = MemoryBudget::new(1 << 30);
        let (x, y) = (AtomicUsize::new(0), AtomicUsize::new(0));
        b.report(&x, 1 << 20);
        b.report(&y, 2 << 20);
        assert_eq!(b.total(), 3 << 20);
        b.release(&x);
        assert_eq!(b.total(), 2 << 20);
        // A report from a context kept past the exit, and a second release.
        b.report(&x, 5 << 20);
        b.release(&x);
        assert_eq!(b.total(), 2 << 20);
    }

    #[test]
    fn each_crossing_is_told_once() {
        let b = MemoryBudget::new(8 << 20);
        let (x, y) = (AtomicUsize::new(0), AtomicUsize::new(0));
        assert_eq!(b.report(&x, 4 << 20), None);
        assert_eq!(b.report(&y, 5 << 20), Some(Crossing::Over));
        // Wavering around the line, and under it but above the low water.
        assert_eq!(b.report(&y, 3 << 20), None);
        assert_eq!(b.report(&y, 5 << 20), None);
        assert_eq!(b.report(&y, 3 << 20), None);
        assert_eq!(b.release(&y), Some(Crossing::Under));
        assert_eq!(b.report(&x, 9 << 20), Some(Crossing::Over));
    }

    #[test]
    fn bytes_read_as_people_write_them() {
        assert_eq!(human_bytes(512 << 10), "512 KiB");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
        assert_eq!(human_bytes(4 << 30), "4.0 GiB");
    }

    proptest! {
        /// Whatever services report, in any order, the total is the sum of
        /// what each last reported, within a step per service; and once all
        /// have retired it is exactly zero.
        #[test]
        fn the_total_follows_the_reports(
            reports in proptest::collection::vec((0usize..6, 0usize..(4 << 20)), 0..200),
        ) {
            let b = MemoryBudget::new(1 << 20);
            let cells: Vec<AtomicUsize> = (0..6).map(|_| AtomicUsize::new(0)).collect();
            let mut actual = [0usize; 6];
            for (who, bytes) in reports {
                b.report(&cells[who], bytes);
                actual[who] = bytes;
                let sum: usize = actual.iter().sum();
                prop_assert!(b.total().abs_diff(sum) < REPORT_STEP * 6);
                let cells_sum: usize = cells.iter().map(|c| c.load(Ordering::Relaxed)).sum();
                prop_assert_eq!(b.total(), cells_sum);
            }
            for c in &cells {
                b.release(c);
            }
            prop_assert_eq!(b.total(), 0);
        }
    }
}
