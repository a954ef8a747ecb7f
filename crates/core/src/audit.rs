//! The audit log: every refused action, with who, what and whom.
//!
//! Every refusal is counted. Lines are written up to a rate limit per second
//! so that a misbehaving service cannot flood the log; refusals past the limit
//! are counted and reported in the next line that is written.

use parking_lot::Mutex;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// Where audit lines go.
pub type AuditSink = Arc<dyn Fn(&str) + Send + Sync>;

/// One refused action.
#[derive(Clone, Debug)]
pub struct Refusal<'a> {
    /// Who tried (handle and identity, as text).
    pub who: &'a str,
    /// What was tried (e.g. `kill`, `send:client`, `name`).
    pub what: &'a str,
    /// On what or whom.
    pub whom: &'a str,
    /// Why it was refused.
    pub why: &'a str,
}

/// Counts refusals and writes rate-limited audit lines.
pub struct Audit {
    sink: Mutex<AuditSink>,
    started: Instant,
    per_second: u32,
    total: AtomicU64,
    by_action: Mutex<BTreeMap<String, u64>>,
    window: Mutex<Window>,
}

#[derive(Default)]
struct Window {
    second: u64,
    written: u32,
    suppressed: u64,
}

impl Audit {
    /// An audit log writing at most `per_second` lines a second to `sink`.
    pub fn new(per_second: u32, sink: AuditSink) -> Audit {
        Audit {
            sink: Mutex::new(sink),
            started: Instant::now(),
            per_second,
            total: AtomicU64::new(0),
            by_action: Mutex::new(BTreeMap::new()),
            window: Mutex::new(Window::default()),
        }
    }

    /// Replaces where lines go (the node points it at its logger once that runs).
    pub fn set_sink(&self, sink: AuditSink) {
        *self.sink.lock() = sink;
    }

    /// Records a refusal.
    pub fn refused(&self, r: Refusal<'_>) {
        self.total.fetch_add(1, Ordering::Relaxed);
        *self.by_action.lock().entry(r.what.to_string()).or_insert(0) += 1;
        let second = self.started.elapsed().as_secs();
        let suppressed = {
            let mut w = self.window.lock();
            if w.second != second {
                w.second = second;
                w.written = 0;
            }
            if w.written >= self.per_second {
                w.suppressed += 1;
                return;
            }
            w.written += 1;
            std::mem::take(&mut w.suppressed)
        };
        let mut line = format!(
            "AUDIT refused {} by {} on {}: {}",
            r.what, r.who, r.whom, r.why
        );
        if suppressed > 0 {
            line.push_str(&format!(
                " ({suppressed} earlier refusals not written: rate limit)"
            ));
        }
        let sink = self.sink.lock().clone();
        sink(&line);
    }

    /// Writes a line that is no refusal but belongs beside them — a policy
    /// that loosens one of the node's limits. Written always (these come
    /// at boot, a few at most) and not counted as refusals.
    pub fn note(&self, text: &str) {
        let sink = self.sink.lock().clone();
        sink(&format!("AUDIT {text}"));
    }

    /// All refusals so far.
    pub fn total(&self) -> u64 {
        self.total.load(Ordering::Relaxed)
    }

    /// Refusals of one action so far.
    pub fn count(&self, what: &str) -> u64 {
        self.by_action.lock().get(what).copied().unwrap_or(0)
    }

    /// Refusals per action.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        self.by_action.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collector() -> (AuditSink, Arc<Mutex<Vec<String>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let l2 = lines.clone();
        (
            Arc::new(move |s: &str| l2.lock().push(s.to_string())),
            lines,
        )
    }

    #[test]
    fn a_refusal_is_counted_and_written_with_who_what_whom() {
        let (sink, lines) = collector();
        let a = Audit::new(10, sink);
        a.refused(Refusal {
            who: ":00000010 script agent",
            what: "kill",
            whom: ":00000020",
            why: "no grant",
        });
        assert_eq!(a.total(), 1);
        assert_eq!(a.count("kill"), 1);
        let l = lines.lock();
        assert_eq!(l.len(), 1);
        assert!(
            l[0].contains("kill") && l[0].contains(":00000010") && l[0].contains(":00000020"),
            "{}",
            l[0]
        );
    }

    #[test]
    fn notes_are_written_and_not_counted() {
        let (sink, lines) = collector();
        let a = Audit::new(1, sink);
        a.note("policy: role x raises spawn_rate to 5");
        a.note("policy: role y raises spawn_burst to 9");
        assert_eq!(a.total(), 0);
        assert_eq!(
            *lines.lock(),
            [
                "AUDIT policy: role x raises spawn_rate to 5",
                "AUDIT policy: role y raises spawn_burst to 9"
            ]
        );
    }

    #[test]
    fn lines_are_rate_limited_but_every_refusal_counts() {
        let (sink, lines) = collector();
        let a = Audit::new(5, sink);
        for _ in 0..1000 {
            a.refused(Refusal {
                who: "w",
                what: "send:client",
                whom: "t",
                why: "no grant",
            });
        }
        assert_eq!(a.count("send:client"), 1000);
        let written = lines.lock().len();
        // At most two one-second windows can pass during the loop on a slow machine.
        assert!(written <= 15, "{written} lines written");
    }
}
