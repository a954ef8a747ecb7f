//! A token bucket: how many of something may happen at once (the burst) and
//! how many per second after that (the rate). The node keeps one per
//! service for the services it starts (`spawn_burst`, `spawn_rate`).
//!
//! Time is passed in, as time since some fixed start, so the bucket is a
//! plain value the tests can drive without a clock. Counting is exact:
//! a token is [`UNIT`] units, a second adds `rate × UNIT` units, one per
//! nanosecond per token of rate, so no rounding lets a caller gain (or
//! lose) a token over a long run.

use std::time::Duration;

/// Units in one token: one unit of refill per nanosecond per token of rate.
pub const UNIT: u128 = 1_000_000_000;

/// At most `burst` takes at once, refilled at `rate` takes per second.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenBucket {
    rate: u64,
    burst: u64,
    /// Units in the bucket as of `last`.
    level: u128,
    /// When `level` was last brought up to date.
    last: Duration,
}

impl TokenBucket {
    /// A full bucket at time `now`. A rate or burst of 0 is taken as 1: a
    /// bucket that never admits anything is a misconfiguration the config
    /// reader refuses, not a limit.
    pub fn new(rate: u64, burst: u64, now: Duration) -> TokenBucket {
        let burst = burst.max(1);
        TokenBucket {
            rate: rate.max(1),
            burst,
            level: u128::from(burst) * UNIT,
            last: now,
        }
    }

    /// Takes one token at time `now` if there is one; false if not (and
    /// nothing is taken). A `now` earlier than an earlier call's is taken
    /// as that earlier time: the bucket never refills backwards.
    pub fn take(&mut self, now: Duration) -> bool {
        if now > self.last {
            let elapsed = (now - self.last).as_nanos();
            let refill = elapsed.saturating_mul(u128::from(self.rate));
            let cap = u128::from(self.burst) * UNIT;
            self.level = self.level.saturating_add(refill).min(cap);
            self.last = now;
        }
        if self.level >= UNIT {
            self.level -= UNIT;
            true
        } else {
            false
        }
    }

    /// Takes per second once the burst is spent.
    pub fn rate(&self) -> u64 {
        self.rate
    }

    /// Takes at once from a full bucket.
    pub fn burst(&self) -> u64 {
        self.burst
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn a_full_bucket_admits_the_burst_then_refuses() {
        let mut b = TokenBucket::new(10, 5, Duration::ZERO);
        for i in 0..5 {
            assert!(b.take(Duration::ZERO), "take {i}");
        }
        assert!(!b.take(Duration::ZERO));
        // 10 per second: one token each 100 ms, and not before.
        assert!(!b.take(99 * MS));
        assert!(b.take(100 * MS));
        assert!(!b.take(100 * MS));
    }

    #[test]
    fn refill_stops_at_the_burst() {
        let mut b = TokenBucket::new(1000, 3, Duration::ZERO);
        for _ in 0..3 {
            assert!(b.take(Duration::ZERO));
        }
        // An hour idle buys three tokens, not 3.6 million.
        let later = Duration::from_secs(3600);
        for _ in 0..3 {
            assert!(b.take(later));
        }
        assert!(!b.take(later));
    }

    #[test]
    fn time_going_backwards_refills_nothing() {
        let mut b = TokenBucket::new(1, 1, Duration::from_secs(10));
        assert!(b.take(Duration::from_secs(10)));
        assert!(!b.take(Duration::from_secs(5)));
        assert!(!b.take(Duration::from_secs(10)));
        assert!(b.take(Duration::from_secs(11)));
    }

    #[test]
    fn huge_rates_and_times_do_not_overflow() {
        let mut b = TokenBucket::new(u64::MAX, u64::MAX, Duration::ZERO);
        assert!(b.take(Duration::ZERO));
        assert!(b.take(Duration::MAX));
        assert!(b.take(Duration::MAX));
        let mut z = TokenBucket::new(0, 0, Duration::ZERO);
        assert_eq!((z.rate(), z.burst()), (1, 1));
        assert!(z.take(Duration::ZERO));
        assert!(!z.take(Duration::ZERO));
    }

    /// What a token bucket that starts full must decide, written as its
    /// definition rather than its mechanism: a take at `t` is admitted iff,
    /// for every earlier admitted take at `t_i`, the admitted takes from
    /// that one on, plus this one, fit in `burst + rate × (t − t_i)`; and a
    /// single take always fits in a burst of at least one.
    fn reference(rate: u64, burst: u64, admitted: &[u64], t: u64) -> bool {
        let (rate, burst) = (u128::from(rate), u128::from(burst));
        admitted.iter().enumerate().all(|(i, &ti)| {
            let count = (admitted.len() - i) as u128 + 1;
            count * UNIT <= burst * UNIT + rate * u128::from(t - ti)
        })
    }

    proptest! {
        /// The bucket decides exactly as the definition does, take by take:
        /// it never admits more than `burst + rate × t` over any span `t`,
        /// and never refuses a take that would fit.
        #[test]
        fn decides_as_the_definition(
            rate in 1u64..5_000,
            burst in 1u64..40,
            gaps in proptest::collection::vec(0u64..3_000_000, 1..160),
        ) {
            let mut b = TokenBucket::new(rate, burst, Duration::ZERO);
            let mut admitted = Vec::new();
            let mut t = 0u64;
            for gap in gaps {
                t += gap;
                let want = reference(rate, burst, &admitted, t);
                let got = b.take(Duration::from_nanos(t));
                prop_assert_eq!(got, want, "at {} ns after {} admitted", t, admitted.len());
                if got {
                    admitted.push(t);
                }
            }
        }

        /// Takes spaced by a whole token's refill time are all admitted, at
        /// any rate: a steady caller at the rate is never refused.
        #[test]
        fn a_caller_at_the_rate_is_never_refused(
            rate in 1u64..1_000_000,
            burst in 1u64..100,
            n in 1usize..500,
        ) {
            let mut b = TokenBucket::new(rate, burst, Duration::ZERO);
            let step = 1_000_000_000u64.div_ceil(rate);
            for i in 0..n as u64 {
                prop_assert!(b.take(Duration::from_nanos(i * step)), "take {}", i);
            }
        }
    }
}
