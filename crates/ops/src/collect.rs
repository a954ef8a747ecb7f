//! One look at the node: what the metrics and the dashboard both show,
//! read from the node's own counters at the moment of a scrape.
//!
//! Per-service counters live with their service and go when it retires,
//! so the node-wide message and busy-time totals are kept here: each look
//! adds what the services seen last time handled before they retired,
//! and the totals never go back.

use parking_lot::Mutex;
use skyhold_core::{Handle, NodeRef};
use skyhold_lua::warm::{WarmStates, WarmStats};
use skyhold_net::{SocketKind, SocketServer};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How many distinct audit actions are reported by name; the rest are
/// summed under `other` (an action names what was tried, and a hostile
/// service must not grow the metrics without bound).
pub const AUDIT_ACTIONS: usize = 64;

/// The longest service name reported (launch texts carry arguments);
/// a longer one is cut and ends in `…`.
pub const NAME_LIMIT: usize = 160;

/// `name` cut to [`NAME_LIMIT`] bytes at a character boundary.
pub fn short_name(mut name: String) -> String {
    if name.len() > NAME_LIMIT {
        let mut end = NAME_LIMIT;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
        name.push('…');
    }
    name
}

/// How long the dashboard's "recent refusals" look back.
pub const RECENT: Duration = Duration::from_secs(300);

/// What the endpoint reads: the node and the parts boot made beside it.
#[derive(Clone)]
pub struct Sources {
    /// The node.
    pub node: NodeRef,
    /// Its socket server.
    pub sockets: Arc<SocketServer>,
    /// Its pool of warm Lua states, if it keeps one.
    pub warm: Option<Arc<WarmStates>>,
    /// The cluster's counters, as the poller last read them from clusterd.
    pub cluster: Arc<Mutex<Option<ClusterStat>>>,
}

/// clusterd's `stat`: its counters by name, and its gauges; and its
/// `links`, one row per link.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ClusterStat {
    /// Counters (`links_up`, `heartbeat_timeouts`, …), monotonic.
    pub counters: BTreeMap<String, u64>,
    /// Gauges (`links`, `nodes`, `held`, `calls`).
    pub gauges: BTreeMap<String, u64>,
    /// Every link, as clusterd last listed them (at most [`CLUSTER_LINKS`]).
    pub links: Vec<ClusterLink>,
}

/// How many cluster links the endpoint reports one by one (clusterd's own
/// bound, `cluster_max_links`, is 256 by default); the rest are left out
/// and counted in `skyhold_cluster_links`.
pub const CLUSTER_LINKS: usize = 256;

/// One cluster link.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ClusterLink {
    /// clusterd's number for it (tells apart two links with one peer).
    pub id: u64,
    /// The node at the other end.
    pub peer: String,
    /// `out` if this node opened it, `in` if the peer did.
    pub direction: String,
    /// Connected (an outbound link is not until its handshake is done).
    pub up: bool,
    /// Bytes waiting to be written on it.
    pub queued: u64,
    /// Requests read from it and not yet answered.
    pub inflight: u64,
    /// Calls sent on it and not yet answered.
    pub calls: u64,
    /// Milliseconds since it last read a byte.
    pub idle_ms: u64,
}

/// The names in clusterd's `stat` that are gauges, not counters.
pub const CLUSTER_GAUGES: &[&str] = &["links", "nodes", "held", "calls"];

/// One live service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceRow {
    /// Its handle.
    pub handle: Handle,
    /// What it was launched as (`snlua main`).
    pub name: String,
    /// Messages waiting in its mailbox.
    pub mailbox: u64,
    /// Payload bytes of those messages.
    pub mailbox_bytes: u64,
    /// Messages handled.
    pub messages: u64,
    /// Nanoseconds its handlers ran (with `profile = true`).
    pub cpu_ns: u64,
    /// Bytes its Lua state holds, as last reported.
    pub memory: u64,
    /// Timers pending.
    pub timers: u64,
    /// Refusals and failures by kind (`denied`, `refused_full`, …).
    pub refusals: BTreeMap<&'static str, u64>,
}

/// The per-service counters that are refusals or failures, by the name
/// `NodeRef::stats` gives them and the `kind` label they get.
pub const SERVICE_REFUSALS: &[(&str, &str)] = &[
    ("denied", "denied"),
    ("refused_full", "mailbox_full"),
    ("slowed", "slowed"),
    ("errors", "errors"),
    ("log_dropped", "log_dropped"),
    ("dropped_replies", "dropped_replies"),
];

/// Socket figures.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SocketFigures {
    /// Open sockets by kind (`listen`, `tcp`, `udp`).
    pub open: BTreeMap<&'static str, u64>,
    /// Bytes waiting to be written, all sockets together.
    pub waiting: u64,
    /// Connections accepted.
    pub accepted: u64,
    /// Connections refused by a limit.
    pub refused: u64,
    /// Connections closed because their reader was too slow.
    pub slow_readers_closed: u64,
    /// Operations refused because the caller did not own the socket.
    pub not_owner: u64,
    /// Bytes read.
    pub bytes_read: u64,
    /// Bytes written.
    pub bytes_written: u64,
    /// Connections a WebSocket gate cut for a broken limit or rule.
    pub gate_cut: u64,
}

/// Everything one look saw.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Seconds since the endpoint started.
    pub uptime: f64,
    /// Live services.
    pub live: u64,
    /// Messages handled by every service, retired ones included.
    pub messages: u64,
    /// Handler time of every service, retired ones included (ns).
    pub busy_ns: u64,
    /// Timers pending.
    pub timers: u64,
    /// Messages waiting in all mailboxes.
    pub mailbox: u64,
    /// Payload bytes of those messages.
    pub mailbox_bytes: u64,
    /// Bytes the node's Lua states report.
    pub lua_memory: u64,
    /// The node's refusal and failure counters by name.
    pub node_counters: Vec<(&'static str, u64)>,
    /// Every live service, oldest first.
    pub services: Vec<ServiceRow>,
    /// Sockets.
    pub sockets: SocketFigures,
    /// Audit refusals by action (at most [`AUDIT_ACTIONS`] names, then `other`).
    pub audit: Vec<(String, u64)>,
    /// Audit refusals by action within [`RECENT`] (changes only).
    pub audit_recent: Vec<(String, u64)>,
    /// The last refusals written to the audit log, oldest first.
    pub audit_log: Vec<skyhold_core::audit::Recent>,
    /// The warm pool's counters and its target, if there is a pool.
    pub warm: Option<(WarmStats, usize)>,
    /// The cluster's, if clusterd answered.
    pub cluster: Option<ClusterStat>,
}

/// The node's counters that are refusals or failures, by the name of
/// their metric (`skyhold_<name>_total`).
pub const NODE_COUNTERS: [&str; 17] = [
    "dropped_replies",
    "mailbox_full_refusals",
    "timer_refusals",
    "open_call_refusals",
    "launch_max_services_refusals",
    "launch_spawn_rate_refusals",
    "launch_lua_memory_refusals",
    "panics",
    "endless_reports",
    "limit_breaks",
    "limit_retirements",
    "overload_warnings",
    "service_log_over_limit",
    "service_log_dropped",
    "service_log_write_errors",
    "audit_recent_evicted",
    "audit_recent_cut",
];

/// The values of [`NODE_COUNTERS`], in that order.
fn node_counters(node: &NodeRef) -> Vec<(&'static str, u64)> {
    let c = node.counters();
    let logs = node.service_log_counters();
    let audit = node.audit();
    let values = [
        &c.dropped_replies,
        &c.full_refusals,
        &c.timer_refusals,
        &c.open_call_refusals,
        &c.service_refusals,
        &c.spawn_refusals,
        &c.memory_refusals,
        &c.panics,
        &c.endless_reports,
        &c.limit_breaks,
        &c.limit_retirements,
        &c.overload_warnings,
        &logs.over_limit,
        &logs.dropped,
        &logs.write_errors,
    ];
    let values = values
        .into_iter()
        .map(|v| v.load(Ordering::Relaxed))
        .chain([audit.recent_evicted(), audit.recent_cut()]);
    NODE_COUNTERS.iter().copied().zip(values).collect()
}

/// What was last seen of a service, for the totals.
#[derive(Clone, Copy, Default)]
struct Seen {
    messages: u64,
    cpu_ns: u64,
}

/// What the collector keeps between looks.
#[derive(Default)]
struct Memory {
    seen: HashMap<Handle, Seen>,
    retired_messages: u64,
    retired_ns: u64,
    /// Audit counts as of earlier looks, oldest first, for "recent".
    audit_history: VecDeque<(Instant, BTreeMap<String, u64>)>,
}

/// Takes snapshots of one node.
pub struct Collector {
    sources: Sources,
    started: Instant,
    memory: Mutex<Memory>,
}

impl Collector {
    /// A collector of `sources`.
    pub fn new(sources: Sources) -> Collector {
        // The audit's counts as the endpoint starts are the first base of
        // "recent": a refusal before the first look counts as recent.
        let started = Instant::now();
        let mut memory = Memory::default();
        memory
            .audit_history
            .push_back((started, sources.node.audit().counts()));
        Collector {
            sources,
            started,
            memory: Mutex::new(memory),
        }
    }

    /// The node.
    pub fn node(&self) -> &NodeRef {
        &self.sources.node
    }

    /// Looks at the node now.
    pub fn snapshot(&self) -> Snapshot {
        let node = &self.sources.node;
        let mut services = Vec::new();
        for (handle, name) in node.list() {
            let Some(stats) = node.stats(handle) else {
                continue;
            };
            let get = |k: &str| stats.get(k).copied().unwrap_or(0);
            services.push(ServiceRow {
                handle,
                name: short_name(name),
                mailbox: get("mqlen"),
                mailbox_bytes: get("mqbytes"),
                messages: get("message"),
                cpu_ns: get("cpu_ns"),
                memory: get("memory"),
                timers: get("timers"),
                refusals: SERVICE_REFUSALS
                    .iter()
                    .map(|(k, kind)| (*kind, get(k)))
                    .collect(),
            });
        }
        let (messages, busy_ns, audit_recent, audit) = {
            let mut m = self.memory.lock();
            let (messages, busy_ns) = totals(&mut m, &services);
            let counts = node.audit().counts();
            let recent = recent(&mut m, &counts, Instant::now());
            (messages, busy_ns, recent, counts)
        };
        Snapshot {
            uptime: self.started.elapsed().as_secs_f64(),
            live: node.live() as u64,
            messages,
            busy_ns,
            timers: services.iter().map(|s| s.timers).sum(),
            mailbox: services.iter().map(|s| s.mailbox).sum(),
            mailbox_bytes: services.iter().map(|s| s.mailbox_bytes).sum(),
            lua_memory: node.reported_memory() as u64,
            node_counters: node_counters(node),
            services,
            sockets: sockets(&self.sources.sockets),
            audit: capped(audit, AUDIT_ACTIONS),
            audit_recent,
            audit_log: node.audit().recent(),
            warm: self.sources.warm.as_ref().map(|w| (w.stats(), w.target())),
            cluster: self.sources.cluster.lock().clone(),
        }
    }
}

/// The node-wide totals: what retired services handled (as last seen)
/// plus what the live ones have.
fn totals(m: &mut Memory, services: &[ServiceRow]) -> (u64, u64) {
    let mut now: HashMap<Handle, Seen> = HashMap::with_capacity(services.len());
    for s in services {
        now.insert(
            s.handle,
            Seen {
                messages: s.messages,
                cpu_ns: s.cpu_ns,
            },
        );
    }
    for (h, seen) in m.seen.drain() {
        if !now.contains_key(&h) {
            m.retired_messages = m.retired_messages.saturating_add(seen.messages);
            m.retired_ns = m.retired_ns.saturating_add(seen.cpu_ns);
        }
    }
    let live_messages: u64 = now.values().map(|s| s.messages).sum();
    let live_ns: u64 = now.values().map(|s| s.cpu_ns).sum();
    m.seen = now;
    (
        m.retired_messages.saturating_add(live_messages),
        m.retired_ns.saturating_add(live_ns),
    )
}

/// How much each audit action grew within [`RECENT`]; keeps the history.
fn recent(m: &mut Memory, counts: &BTreeMap<String, u64>, now: Instant) -> Vec<(String, u64)> {
    while m
        .audit_history
        .front()
        .is_some_and(|(t, _)| now.duration_since(*t) > RECENT)
    {
        m.audit_history.pop_front();
    }
    // With no history yet, nothing is known to be recent.
    let base = m
        .audit_history
        .front()
        .map_or_else(|| counts.clone(), |(_, c)| c.clone());
    // One entry every few seconds is enough for a five-minute window.
    let due = m
        .audit_history
        .back()
        .is_none_or(|(t, _)| now.duration_since(*t) >= Duration::from_secs(5));
    if due {
        m.audit_history.push_back((now, counts.clone()));
    }
    let mut out: Vec<(String, u64)> = counts
        .iter()
        .filter_map(|(k, v)| {
            let before = base.get(k).copied().unwrap_or(0);
            (*v > before).then(|| (k.clone(), v - before))
        })
        .collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    out.truncate(AUDIT_ACTIONS);
    out
}

/// The first `n - 1` names by count, and the rest summed as `other`.
fn capped(counts: BTreeMap<String, u64>, n: usize) -> Vec<(String, u64)> {
    if counts.len() <= n {
        return counts.into_iter().collect();
    }
    let mut all: Vec<(String, u64)> = counts.into_iter().collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let rest: u64 = all[n - 1..].iter().map(|(_, v)| *v).sum();
    all.truncate(n - 1);
    all.sort();
    all.push(("other".into(), rest));
    all
}

fn sockets(server: &SocketServer) -> SocketFigures {
    let mut f = SocketFigures::default();
    for kind in ["listen", "tcp", "udp"] {
        f.open.insert(kind, 0);
    }
    for i in server.info() {
        let kind = match i.kind {
            SocketKind::Listen => "listen",
            SocketKind::Tcp => "tcp",
            SocketKind::Udp => "udp",
        };
        *f.open.entry(kind).or_insert(0) += 1;
        f.waiting += i.waiting;
    }
    let c = &server.counters;
    let g = |a: &std::sync::atomic::AtomicU64| a.load(Ordering::Relaxed);
    f.accepted = g(&c.accepted);
    f.refused = g(&c.refused);
    f.slow_readers_closed = g(&c.slow_reader_closed);
    f.not_owner = g(&c.not_owner);
    f.bytes_read = g(&c.bytes_read);
    f.bytes_written = g(&c.bytes_written);
    f.gate_cut = g(&c.gate_cut);
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(h: u32, messages: u64, cpu_ns: u64) -> ServiceRow {
        ServiceRow {
            handle: Handle(h),
            messages,
            cpu_ns,
            ..ServiceRow::default()
        }
    }

    #[test]
    fn long_names_are_cut_at_a_character() {
        assert_eq!(short_name("snlua main".into()), "snlua main");
        let long = "é".repeat(NAME_LIMIT);
        let cut = short_name(long);
        assert!(cut.len() <= NAME_LIMIT + '…'.len_utf8(), "{}", cut.len());
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn totals_keep_what_retired_services_handled() {
        let mut m = Memory::default();
        assert_eq!(totals(&mut m, &[row(1, 10, 100), row(2, 5, 50)]), (15, 150));
        assert_eq!(totals(&mut m, &[row(1, 12, 120)]), (17, 170));
        // A new service with a low count does not make the total go back.
        assert_eq!(totals(&mut m, &[row(1, 12, 120), row(3, 1, 1)]), (18, 171));
        assert_eq!(totals(&mut m, &[]), (18, 171));
    }

    #[test]
    fn recent_refusals_are_the_growth_within_the_window() {
        let mut m = Memory::default();
        let t0 = Instant::now();
        let c = |pairs: &[(&str, u64)]| -> BTreeMap<String, u64> {
            pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
        };
        assert!(recent(&mut m, &c(&[("kill", 2)]), t0).is_empty());
        let r = recent(
            &mut m,
            &c(&[("kill", 5), ("send", 1)]),
            t0 + Duration::from_secs(10),
        );
        assert_eq!(r, vec![("kill".into(), 3), ("send".into(), 1)]);
        // Long after, the old base is forgotten: nothing grew since.
        let later = t0 + RECENT + Duration::from_secs(20);
        recent(&mut m, &c(&[("kill", 5), ("send", 1)]), later);
        let r = recent(&mut m, &c(&[("kill", 5), ("send", 1)]), later);
        assert!(r.is_empty(), "{r:?}");
    }

    #[test]
    fn audit_actions_are_capped_with_an_other_sum() {
        let counts: BTreeMap<String, u64> = (0..10).map(|i| (format!("a{i}"), i)).collect();
        let out = capped(counts.clone(), 4);
        assert_eq!(out.len(), 4);
        assert_eq!(
            out.last().unwrap(),
            &("other".to_string(), 1 + 2 + 3 + 4 + 5 + 6)
        );
        assert!(out.contains(&("a9".to_string(), 9)));
        assert_eq!(capped(counts.clone(), 10).len(), 10);
    }
}
