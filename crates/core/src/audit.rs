//! The audit log: every refused action, with who, what and whom.
//!
//! Every refusal is counted. Lines are written up to a rate limit per second
//! so that a misbehaving service cannot flood the log; refusals past the limit
//! are counted and reported in the next line that is written. The last
//! written refusals are kept for the dashboard: [`RECENT_REFUSALS`] of them
//! and [`RECENT_FIELD`] bytes of each part unless the config says otherwise
//! (`audit_recent_refusals`, `audit_recent_field_bytes`), with counters of
//! the ones pushed out and the parts cut.

use parking_lot::Mutex;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// One audit line: its text, and the same as named fields (for JSON logs).
#[derive(Clone, Copy, Debug)]
pub struct AuditLine<'a> {
    /// The line as written to a text log (`AUDIT refused …`).
    pub text: &'a str,
    /// Its parts: `event` (`refused` or `note`), then `who`, `what`,
    /// `whom`, `why` (and `suppressed`) for a refusal, `note` for a note.
    pub fields: &'a [(&'static str, &'a str)],
}

/// Where audit lines go.
pub type AuditSink = Arc<dyn Fn(&AuditLine<'_>) + Send + Sync>;

/// How many written refusals the audit keeps for the dashboard, unless
/// `audit_recent_refusals` says.
pub const RECENT_REFUSALS: usize = 50;

/// The longest part of a kept refusal in bytes, unless
/// `audit_recent_field_bytes` says; longer ones are cut.
pub const RECENT_FIELD: usize = 200;

/// A refusal as kept for the dashboard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Recent {
    /// When, in milliseconds since the Unix epoch.
    pub unix_ms: u64,
    /// Who tried.
    pub who: String,
    /// What was tried.
    pub what: String,
    /// On what or whom.
    pub whom: String,
    /// Why it was refused.
    pub why: String,
}

/// `s` cut to at most `max` bytes (at a character boundary, then `…`),
/// and whether it was cut.
fn cut(s: &str, max: usize) -> (String, bool) {
    if s.len() <= max {
        return (s.to_string(), false);
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    (format!("{}…", &s[..end]), true)
}

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
    recent: Mutex<VecDeque<Recent>>,
    recent_max: usize,
    field_max: usize,
    recent_evicted: AtomicU64,
    recent_cut: AtomicU64,
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
            recent: Mutex::new(VecDeque::with_capacity(RECENT_REFUSALS)),
            recent_max: RECENT_REFUSALS,
            field_max: RECENT_FIELD,
            recent_evicted: AtomicU64::new(0),
            recent_cut: AtomicU64::new(0),
        }
    }

    /// The same audit keeping at most `entries` refusals for the dashboard,
    /// each part cut to `field_bytes` (both at least 1).
    pub fn with_recent_limits(mut self, entries: usize, field_bytes: usize) -> Audit {
        self.recent_max = entries.max(1);
        self.field_max = field_bytes.max(1);
        self.recent = Mutex::new(VecDeque::with_capacity(self.recent_max.min(1024)));
        self
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
        let suppressed_text = suppressed.to_string();
        if suppressed > 0 {
            line.push_str(&format!(
                " ({suppressed} earlier refusals not written: rate limit)"
            ));
        }
        {
            let unix_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
            let mut cuts = 0;
            let mut part = |s: &str| {
                let (kept, was_cut) = cut(s, self.field_max);
                cuts += u64::from(was_cut);
                kept
            };
            let kept = Recent {
                unix_ms,
                who: part(r.who),
                what: part(r.what),
                whom: part(r.whom),
                why: part(r.why),
            };
            if cuts > 0 {
                self.recent_cut.fetch_add(cuts, Ordering::Relaxed);
            }
            let mut recent = self.recent.lock();
            while recent.len() >= self.recent_max {
                recent.pop_front();
                self.recent_evicted.fetch_add(1, Ordering::Relaxed);
            }
            recent.push_back(kept);
        }
        let fields = [
            ("event", "refused"),
            ("who", r.who),
            ("what", r.what),
            ("whom", r.whom),
            ("why", r.why),
            ("suppressed", suppressed_text.as_str()),
        ];
        let sink = self.sink.lock().clone();
        sink(&AuditLine {
            text: &line,
            fields: &fields,
        });
    }

    /// The refusals written lately, oldest first (at most
    /// `audit_recent_refusals`; those past the rate limit are only counted).
    pub fn recent(&self) -> Vec<Recent> {
        self.recent.lock().iter().cloned().collect()
    }

    /// Kept refusals pushed out of the dashboard's list by newer ones
    /// (`audit_recent_refusals`).
    pub fn recent_evicted(&self) -> u64 {
        self.recent_evicted.load(Ordering::Relaxed)
    }

    /// Parts of kept refusals cut to `audit_recent_field_bytes`.
    pub fn recent_cut(&self) -> u64 {
        self.recent_cut.load(Ordering::Relaxed)
    }

    /// Writes a line that is no refusal but belongs beside them — a policy
    /// that loosens one of the node's limits. Written always (these come
    /// at boot, a few at most) and not counted as refusals.
    pub fn note(&self, text: &str) {
        let sink = self.sink.lock().clone();
        sink(&AuditLine {
            text: &format!("AUDIT {text}"),
            fields: &[("event", "note"), ("note", text)],
        });
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
            Arc::new(move |s: &AuditLine<'_>| l2.lock().push(s.text.to_string())),
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
    fn the_last_written_refusals_are_kept_cut_and_bounded() {
        let fields = Arc::new(Mutex::new(Vec::new()));
        let f2 = fields.clone();
        let a = Audit::new(
            1000,
            Arc::new(move |l: &AuditLine<'_>| {
                f2.lock().push(
                    l.fields
                        .iter()
                        .map(|(k, v)| format!("{k}={v}"))
                        .collect::<Vec<_>>()
                        .join(" "),
                )
            }),
        );
        let long = "w".repeat(RECENT_FIELD * 3);
        for i in 0..RECENT_REFUSALS + 7 {
            a.refused(Refusal {
                who: &long,
                what: "kill",
                whom: &format!(":{i:08x}"),
                why: "no grant",
            });
        }
        let recent = a.recent();
        assert_eq!(recent.len(), RECENT_REFUSALS);
        // The oldest went first.
        assert_eq!(recent[0].whom, ":00000007");
        assert_eq!(
            recent.last().unwrap().whom,
            format!(":{:08x}", RECENT_REFUSALS + 6)
        );
        assert!(recent[0].who.len() <= RECENT_FIELD + '…'.len_utf8());
        assert!(recent[0].unix_ms > 1_700_000_000_000);
        assert_eq!(a.recent_evicted(), 7);
        // `who` was cut in every one; the other parts fit.
        assert_eq!(a.recent_cut(), (RECENT_REFUSALS + 7) as u64);
        assert_eq!(
            fields.lock()[0],
            format!("event=refused who={long} what=kill whom=:00000000 why=no grant suppressed=0")
        );
    }

    #[test]
    fn the_kept_list_and_its_parts_follow_the_configured_limits() {
        let (sink, _lines) = collector();
        let a = Audit::new(1000, sink).with_recent_limits(3, 8);
        for i in 0..5 {
            a.refused(Refusal {
                who: "short",
                what: "kill",
                whom: &format!("target-number-{i}"),
                why: "é1234567",
            });
        }
        let recent = a.recent();
        assert_eq!(recent.len(), 3);
        assert_eq!(a.recent_evicted(), 2);
        // "target-number-N" is 15 bytes: cut to 8 and marked.
        assert_eq!(recent[0].whom, "target-n…");
        assert_eq!(recent[2].whom, "target-n…");
        // "é1234567" is 9 bytes; the cut stays on a character boundary.
        assert_eq!(recent[0].why, "é123456…");
        assert_eq!(recent[0].who, "short");
        assert_eq!(a.recent_cut(), 10);
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
