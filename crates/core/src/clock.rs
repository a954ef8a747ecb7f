//! The clock read on the message path: per-turn CPU accounting (`profile`)
//! and `skynet.hpc`.
//!
//! `std::time::Instant` asks the kernel's vDSO, which orders its read of
//! the time-stamp counter with a fence: about 27 ns a read on this
//! project's machines, and a drained pipeline each time. A call round trip
//! reads the clock at least twice (the end of each turn), so those reads
//! were about 5 % of a call (`bench/PROFILE.md`). [`Tick`] reads the
//! counter without the fence where the processor's counter runs at a
//! constant rate (invariant TSC), scaled to nanoseconds by a calibration
//! against the monotonic clock done once per process (about 0.6 ms); on
//! other machines it falls back to the monotonic clock.

use std::sync::OnceLock;
use std::time::Duration;

/// A point in time on the fast clock; only differences mean anything.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Tick(quanta::Instant);

impl Tick {
    /// Now.
    #[inline]
    pub fn now() -> Tick {
        Tick(quanta::Instant::now())
    }

    /// The time from `earlier` to this tick (zero if `earlier` is later).
    #[inline]
    pub fn since(self, earlier: Tick) -> Duration {
        self.0.saturating_duration_since(earlier.0)
    }
}

/// Nanoseconds since the first time this was asked, on the fast clock
/// (`skynet.hpc`).
pub fn monotonic_ns() -> i64 {
    static ORIGIN: OnceLock<Tick> = OnceLock::new();
    let origin = *ORIGIN.get_or_init(Tick::now);
    Tick::now().since(origin).as_nanos() as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_measure_a_sleep_like_the_system_clock() {
        let (a, t) = (Tick::now(), std::time::Instant::now());
        std::thread::sleep(Duration::from_millis(30));
        let (fast, system) = (Tick::now().since(a), t.elapsed());
        // The two clocks agree to well within a millisecond over 30 ms;
        // the bound is loose because the two pairs of reads are not at
        // the same instants on a busy machine.
        let diff = fast.as_nanos().abs_diff(system.as_nanos());
        assert!(diff < 5_000_000, "fast {fast:?} against system {system:?}");
        assert!(fast >= Duration::from_millis(29), "{fast:?}");
    }

    #[test]
    fn monotonic_ns_never_goes_back() {
        let mut last = monotonic_ns();
        for _ in 0..10_000 {
            let now = monotonic_ns();
            assert!(now >= last);
            last = now;
        }
        let (first, second) = (Tick::now(), Tick::now());
        assert_eq!(first.since(second), Duration::ZERO);
    }
}
