//! When to reach again for a node that could not be reached. While a node
//! is unreachable, calls to it fail at once with the reason; the next
//! attempt waits twice as long as the last, from 50 ms up to
//! `cluster_reconnect_max`, each wait shortened at random by up to a half
//! so that nodes which lost the same peer at the same moment do not all
//! come back to it in step.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The shortest wait after a failed attempt.
pub const FIRST_RETRY: Duration = Duration::from_millis(50);

/// A node that could not be reached.
struct Down {
    /// The wait after the last failure, before jitter.
    backoff: Duration,
    /// The next attempt may start then.
    retry_at: Instant,
    /// The last failure, for the callers' errors.
    why: String,
}

/// The unreachable nodes and when each may be tried again.
pub struct Reconnect {
    max: Duration,
    down: HashMap<String, Down>,
}

/// What a failed attempt changed.
#[derive(Debug, PartialEq, Eq)]
pub struct Failed {
    /// The wait before the next attempt.
    pub wait: Duration,
    /// The node just became unreachable, or for another reason than
    /// before: worth a log line (a line per attempt would flood the log).
    pub news: bool,
}

impl Reconnect {
    /// Waits of at most `max` (`cluster_reconnect_max`).
    pub fn new(max: Duration) -> Reconnect {
        Reconnect {
            max,
            down: HashMap::new(),
        }
    }

    /// An attempt to reach `node` failed at `now` for `why`.
    pub fn failed(&mut self, node: &str, why: &str, now: Instant) -> Failed {
        let (backoff, news) = match self.down.get(node) {
            Some(d) => ((d.backoff * 2).min(self.max), d.why != why),
            None => (FIRST_RETRY.min(self.max), true),
        };
        let wait = jitter(backoff);
        self.down.insert(
            node.to_string(),
            Down {
                backoff,
                retry_at: now + wait,
                why: why.to_string(),
            },
        );
        Failed { wait, news }
    }

    /// `Err` with the error a call to `node` gets at `now` while it waits
    /// for its next attempt; `Ok` when it may be tried.
    pub fn check(&self, node: &str, now: Instant) -> Result<(), String> {
        match self.down.get(node) {
            Some(d) if now < d.retry_at => Err(format!(
                "cluster: node {node} is unreachable ({}); next attempt in {} ms",
                d.why,
                (d.retry_at - now).as_millis()
            )),
            _ => Ok(()),
        }
    }

    /// `node` is reachable again (a link came up, or it has a new
    /// address): the next failure starts from the shortest wait. True if
    /// it had been unreachable.
    pub fn forget(&mut self, node: &str) -> bool {
        self.down.remove(node).is_some()
    }
}

/// `d` shortened by up to a half, at random.
fn jitter(d: Duration) -> Duration {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    let r = (h.finish() >> 11) as f64 / (1u64 << 53) as f64;
    d.mul_f64(1.0 - r / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_maximum_each_shortened_by_at_most_half() {
        let max = Duration::from_millis(1000);
        let mut r = Reconnect::new(max);
        let now = Instant::now();
        let mut expected = FIRST_RETRY;
        for _ in 0..10 {
            let f = r.failed("b", "refused", now);
            assert!(
                f.wait <= expected && f.wait >= expected / 2,
                "{f:?} for {expected:?}"
            );
            expected = (expected * 2).min(max);
        }
    }

    #[test]
    fn calls_fail_fast_until_the_next_attempt_and_say_why() {
        let mut r = Reconnect::new(Duration::from_secs(1));
        let now = Instant::now();
        assert_eq!(r.check("b", now), Ok(()));
        let f = r.failed("b", "connection refused", now);
        let e = r.check("b", now).unwrap_err();
        assert!(
            e.contains("node b is unreachable (connection refused)"),
            "{e}"
        );
        assert_eq!(r.check("b", now + f.wait), Ok(()));
        assert_eq!(r.check("c", now), Ok(()), "other nodes are not held back");
    }

    #[test]
    fn only_news_is_worth_a_log_line() {
        let mut r = Reconnect::new(Duration::from_secs(1));
        let now = Instant::now();
        assert!(r.failed("b", "refused", now).news);
        assert!(!r.failed("b", "refused", now).news);
        assert!(r.failed("b", "TLS handshake failed", now).news);
        assert!(r.forget("b"));
        assert!(!r.forget("b"));
        assert!(r.failed("b", "TLS handshake failed", now).news);
    }

    #[test]
    fn a_short_maximum_caps_the_first_wait_too() {
        let mut r = Reconnect::new(Duration::from_millis(20));
        assert!(r.failed("b", "x", Instant::now()).wait <= Duration::from_millis(20));
    }

    #[test]
    fn jitter_spreads_waits() {
        let d = Duration::from_millis(1000);
        let waits: std::collections::BTreeSet<Duration> = (0..20).map(|_| jitter(d)).collect();
        assert!(waits.len() > 1, "every wait the same: {waits:?}");
    }
}
