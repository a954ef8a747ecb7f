//! The Prometheus text format (version 0.0.4) of a [`Snapshot`]: every
//! metric named `skyhold_…`, counters ending in `_total`, base units
//! (seconds, bytes), a HELP and a TYPE line per family.
//!
//! Per-service series are bounded: at most `max_services` services get
//! their own (`handle` and `service` labels), chosen in turn from the
//! deepest mailboxes, the most CPU time and the most memory; the rest are
//! summed into one series labelled `handle="other",service="other"`.

use std::collections::BTreeSet;
use std::fmt::Write;

use crate::collect::{ServiceRow, Snapshot, CLUSTER_GAUGES};

/// The content type Prometheus expects of this format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A label value with `\`, `"` and newlines escaped.
pub fn escape_label(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Which services get series of their own: up to `max` of them, taken in
/// turn from the deepest mailboxes, the most CPU and the most memory (ties
/// to the older service; a zero is no reason to pick one), then the oldest.
/// The indices are into `services`.
pub fn chosen(services: &[ServiceRow], max: usize) -> BTreeSet<usize> {
    let want = max.min(services.len());
    let mut picked = BTreeSet::new();
    let by = |key: fn(&ServiceRow) -> u64| {
        let mut idx: Vec<usize> = (0..services.len())
            .filter(|i| key(&services[*i]) > 0)
            .collect();
        idx.sort_by(|a, b| key(&services[*b]).cmp(&key(&services[*a])).then(a.cmp(b)));
        idx
    };
    let rankings = [by(|s| s.mailbox), by(|s| s.cpu_ns), by(|s| s.memory)];
    let mut cursors = [0usize; 3];
    loop {
        let mut progress = false;
        for (r, cur) in rankings.iter().zip(cursors.iter_mut()) {
            while *cur < r.len() && picked.contains(&r[*cur]) {
                *cur += 1;
            }
            if *cur < r.len() && picked.len() < want {
                picked.insert(r[*cur]);
                progress = true;
            }
        }
        if !progress || picked.len() >= want {
            break;
        }
    }
    let mut oldest = 0;
    while picked.len() < want {
        picked.insert(oldest);
        oldest += 1;
    }
    picked
}

/// Writes one family: HELP, TYPE, then its samples as `(labels, value)`.
fn family(out: &mut String, name: &str, kind: &str, help: &str, samples: &[(String, String)]) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

fn one(out: &mut String, name: &str, kind: &str, help: &str, value: impl ToString) {
    family(out, name, kind, help, &[(String::new(), value.to_string())]);
}

fn seconds(ns: u64) -> String {
    format!("{:.9}", ns as f64 / 1e9)
}

/// The text of `snap`, with at most `max_services` services by name.
pub fn render(snap: &Snapshot, max_services: usize) -> String {
    let mut out = String::with_capacity(4096 + snap.services.len().min(max_services) * 1024);
    node(&mut out, snap);
    services(&mut out, snap, max_services);
    sockets(&mut out, snap);
    audit(&mut out, snap);
    warm(&mut out, snap);
    cluster(&mut out, snap);
    out
}

fn node(out: &mut String, snap: &Snapshot) {
    one(out, "skyhold_up", "gauge", "1 while the node answers.", 1);
    one(
        out,
        "skyhold_ops_uptime_seconds",
        "gauge",
        "Seconds since the metrics endpoint started.",
        format!("{:.3}", snap.uptime),
    );
    one(
        out,
        "skyhold_services",
        "gauge",
        "Live services.",
        snap.live,
    );
    one(
        out,
        "skyhold_messages_total",
        "counter",
        "Messages handled by all services, retired ones included.",
        snap.messages,
    );
    one(
        out,
        "skyhold_worker_busy_seconds_total",
        "counter",
        "Time workers spent in service handlers (needs profile = true).",
        seconds(snap.busy_ns),
    );
    one(
        out,
        "skyhold_timers",
        "gauge",
        "Timers pending.",
        snap.timers,
    );
    one(
        out,
        "skyhold_mailbox_messages",
        "gauge",
        "Messages waiting in all mailboxes.",
        snap.mailbox,
    );
    one(
        out,
        "skyhold_mailbox_bytes",
        "gauge",
        "Payload bytes of the messages waiting in all mailboxes.",
        snap.mailbox_bytes,
    );
    one(
        out,
        "skyhold_lua_memory_bytes",
        "gauge",
        "Bytes the node's Lua states report holding.",
        snap.lua_memory,
    );
    for (name, value) in &snap.node_counters {
        one(
            out,
            &format!("skyhold_{name}_total"),
            "counter",
            &node_help(name),
            value,
        );
    }
}

fn node_help(name: &str) -> String {
    match name {
        "dropped_replies" => "Replies dropped because they answered no open call.".into(),
        "mailbox_full_refusals" => {
            "Sends refused because a mailbox was full for the sender.".into()
        }
        "timer_refusals" => "Timers refused by max_timers.".into(),
        "open_call_refusals" => "Calls refused by max_open_calls.".into(),
        "launch_max_services_refusals" => "Launches refused by max_services.".into(),
        "launch_spawn_rate_refusals" => "Launches refused by spawn_rate or spawn_burst.".into(),
        "launch_lua_memory_refusals" => "Lua launches refused by lua_memory_total.".into(),
        "panics" => "Handler panics caught.".into(),
        "endless_reports" => "Messages reported as maybe in an endless loop.".into(),
        "limit_breaks" => "Messages stopped for breaking a per-message limit.".into(),
        "limit_retirements" => "Services retired for breaking a limit.".into(),
        "overload_warnings" => "Mailboxes found past an overload threshold.".into(),
        "service_log_over_limit" => {
            "Messages not written to a message log (logon) past logfile_max_bytes.".into()
        }
        "service_log_dropped" => {
            "Messages not written to a message log (logon) past logfile_queue_bytes.".into()
        }
        "service_log_write_errors" => "Message log (logon) writes the file system refused.".into(),
        "audit_recent_evicted" => {
            "Refusals pushed out of the dashboard's list (audit_recent_refusals).".into()
        }
        "audit_recent_cut" => {
            "Parts of the dashboard's refusals cut to audit_recent_field_bytes.".into()
        }
        other => format!("The node's {other} counter."),
    }
}

fn service_labels(handle: &str, name: &str) -> String {
    format!(
        "handle=\"{}\",service=\"{}\"",
        escape_label(handle),
        escape_label(name)
    )
}

fn services(out: &mut String, snap: &Snapshot, max: usize) {
    let picked = chosen(&snap.services, max);
    let mut rows: Vec<(String, &ServiceRow)> = picked
        .iter()
        .map(|i| {
            let s = &snap.services[*i];
            (service_labels(&s.handle.to_string(), &s.name), s)
        })
        .collect();
    let mut other = ServiceRow::default();
    let mut others = 0u64;
    for (i, s) in snap.services.iter().enumerate() {
        if picked.contains(&i) {
            continue;
        }
        others += 1;
        other.mailbox += s.mailbox;
        other.mailbox_bytes += s.mailbox_bytes;
        other.messages += s.messages;
        other.cpu_ns += s.cpu_ns;
        other.memory += s.memory;
        other.timers += s.timers;
        for (k, v) in &s.refusals {
            *other.refusals.entry(k).or_insert(0) += v;
        }
    }
    if others > 0 {
        rows.push((service_labels("other", "other"), &other));
    }
    one(
        out,
        "skyhold_service_series_other",
        "gauge",
        "Live services summed into the service=\"other\" series (metrics_max_services).",
        others,
    );
    type Field = fn(&ServiceRow) -> String;
    let families: [(&str, &str, &str, Field); 6] = [
        (
            "skyhold_service_mailbox_messages",
            "gauge",
            "Messages waiting in the service's mailbox.",
            |s| s.mailbox.to_string(),
        ),
        (
            "skyhold_service_mailbox_bytes",
            "gauge",
            "Payload bytes of the messages waiting in the service's mailbox.",
            |s| s.mailbox_bytes.to_string(),
        ),
        (
            "skyhold_service_messages_total",
            "counter",
            "Messages the service handled.",
            |s| s.messages.to_string(),
        ),
        (
            "skyhold_service_cpu_seconds_total",
            "counter",
            "Time the service's handlers ran (needs profile = true).",
            |s| seconds(s.cpu_ns),
        ),
        (
            "skyhold_service_lua_memory_bytes",
            "gauge",
            "Bytes the service's Lua state holds, as last reported.",
            |s| s.memory.to_string(),
        ),
        (
            "skyhold_service_timers",
            "gauge",
            "Timers the service has pending.",
            |s| s.timers.to_string(),
        ),
    ];
    for (name, kind, help, field) in families {
        let samples: Vec<(String, String)> =
            rows.iter().map(|(l, s)| (l.clone(), field(s))).collect();
        family(out, name, kind, help, &samples);
    }
    let mut samples = Vec::new();
    for (labels, s) in &rows {
        for (kind, v) in &s.refusals {
            samples.push((format!("{labels},kind=\"{kind}\""), v.to_string()));
        }
    }
    family(
        out,
        "skyhold_service_refusals_total",
        "counter",
        "Refusals and failures of the service's actions, by kind.",
        &samples,
    );
}

fn sockets(out: &mut String, snap: &Snapshot) {
    let s = &snap.sockets;
    let open: Vec<(String, String)> = s
        .open
        .iter()
        .map(|(k, v)| (format!("kind=\"{k}\""), v.to_string()))
        .collect();
    family(
        out,
        "skyhold_sockets",
        "gauge",
        "Open sockets by kind.",
        &open,
    );
    one(
        out,
        "skyhold_socket_send_waiting_bytes",
        "gauge",
        "Bytes queued on sockets and not yet written.",
        s.waiting,
    );
    let counters: [(&str, &str, u64); 7] = [
        ("accepted", "Connections accepted.", s.accepted),
        (
            "refused",
            "Connections refused by a limit (count, per IP, rate).",
            s.refused,
        ),
        (
            "slow_readers_closed",
            "Connections closed because their send buffer passed its cap.",
            s.slow_readers_closed,
        ),
        (
            "not_owner_refusals",
            "Socket operations refused because the caller did not own the socket.",
            s.not_owner,
        ),
        ("read_bytes", "Bytes read from sockets.", s.bytes_read),
        (
            "written_bytes",
            "Bytes written to sockets.",
            s.bytes_written,
        ),
        (
            "gate_cut",
            "Connections a WebSocket gate cut: opening too slow, failed handshake, broken rule, message rate.",
            s.gate_cut,
        ),
    ];
    for (name, help, v) in counters {
        one(
            out,
            &format!("skyhold_socket_{name}_total"),
            "counter",
            help,
            v,
        );
    }
}

fn audit(out: &mut String, snap: &Snapshot) {
    let samples: Vec<(String, String)> = snap
        .audit
        .iter()
        .map(|(k, v)| (format!("action=\"{}\"", escape_label(k)), v.to_string()))
        .collect();
    family(
        out,
        "skyhold_audit_refusals_total",
        "counter",
        "Refusals written to the audit log, by action.",
        &samples,
    );
}

fn warm(out: &mut String, snap: &Snapshot) {
    let Some((w, target)) = snap.warm else {
        return;
    };
    let counters: [(&str, &str, u64); 3] = [
        ("built", "Lua states built ahead of a launch.", w.built),
        ("taken", "Launches that took a ready state.", w.taken),
        ("missed", "Launches that found the pool empty.", w.missed),
    ];
    for (name, help, v) in counters {
        one(
            out,
            &format!("skyhold_lua_warm_states_{name}_total"),
            "counter",
            help,
            v,
        );
    }
    one(
        out,
        "skyhold_lua_warm_states_ready",
        "gauge",
        "Lua states ready now.",
        w.ready,
    );
    one(
        out,
        "skyhold_lua_warm_states_target",
        "gauge",
        "Lua states the pool keeps ready (lua_warm_states).",
        target,
    );
}

fn cluster(out: &mut String, snap: &Snapshot) {
    let Some(c) = &snap.cluster else {
        return;
    };
    for (name, v) in &c.counters {
        let name = sanitize(name);
        let metric = format!("skyhold_cluster_{name}_total");
        one(
            out,
            &metric,
            "counter",
            &format!("clusterd's {name} counter."),
            v,
        );
    }
    for name in CLUSTER_GAUGES {
        if let Some(v) = c.gauges.get(*name) {
            let help = match *name {
                "links" => "Outbound cluster links open.",
                "nodes" => "Nodes in the cluster map.",
                "held" => "Requests held until their node has an address.",
                _ => "Calls sent on cluster links and not yet answered.",
            };
            one(out, &format!("skyhold_cluster_{name}"), "gauge", help, v);
        }
    }
    let labels = |l: &crate::collect::ClusterLink| {
        format!(
            "link=\"{}\",peer=\"{}\",direction=\"{}\"",
            l.id,
            escape_label(&l.peer),
            escape_label(&l.direction)
        )
    };
    type Field = fn(&crate::collect::ClusterLink) -> String;
    let families: [(&str, &str, Field); 5] = [
        (
            "skyhold_cluster_link_up",
            "1 if the link is connected, 0 while an outbound one connects.",
            |l| u8::from(l.up).to_string(),
        ),
        (
            "skyhold_cluster_link_queued_bytes",
            "Bytes waiting to be written on the link.",
            |l| l.queued.to_string(),
        ),
        (
            "skyhold_cluster_link_inflight_requests",
            "Requests read from the link and not yet answered.",
            |l| l.inflight.to_string(),
        ),
        (
            "skyhold_cluster_link_calls",
            "Calls sent on the link and not yet answered.",
            |l| l.calls.to_string(),
        ),
        (
            "skyhold_cluster_link_idle_seconds",
            "Seconds since the link last read a byte.",
            |l| format!("{:.3}", l.idle_ms as f64 / 1000.0),
        ),
    ];
    for (name, help, field) in families {
        let samples: Vec<(String, String)> =
            c.links.iter().map(|l| (labels(l), field(l))).collect();
        family(out, name, "gauge", help, &samples);
    }
}

/// A metric-name-safe form of a counter name (`[a-z0-9_]`).
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use skyhold_core::Handle;

    fn row(h: u32, mailbox: u64, cpu_ns: u64, memory: u64) -> ServiceRow {
        ServiceRow {
            handle: Handle(h),
            name: format!("snlua s{h}"),
            mailbox,
            cpu_ns,
            memory,
            ..ServiceRow::default()
        }
    }

    #[test]
    fn labels_are_escaped() {
        assert_eq!(escape_label("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn services_are_chosen_in_turn_by_mailbox_cpu_and_memory() {
        let s = vec![
            row(1, 0, 0, 0),
            row(2, 50, 0, 0),
            row(3, 0, 900, 0),
            row(4, 0, 0, 7000),
            row(5, 40, 800, 6000),
        ];
        let picked = chosen(&s, 3);
        assert_eq!(picked, BTreeSet::from([1, 2, 3]));
        let picked = chosen(&s, 4);
        assert_eq!(picked, BTreeSet::from([1, 2, 3, 4]));
        assert_eq!(chosen(&s, 100).len(), 5);
        assert!(chosen(&s, 0).is_empty());
    }

    #[test]
    fn the_rest_are_one_other_series() {
        let snap = Snapshot {
            services: (1..=10).map(|h| row(h, u64::from(h), 0, 0)).collect(),
            ..Snapshot::default()
        };
        let text = render(&snap, 3);
        let mailbox: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("skyhold_service_mailbox_messages{"))
            .collect();
        assert_eq!(mailbox.len(), 4, "{mailbox:?}");
        // 1 + … + 7: the seven shallowest.
        assert!(mailbox
            .contains(&"skyhold_service_mailbox_messages{handle=\"other\",service=\"other\"} 28"));
        assert!(text.contains("skyhold_service_series_other 7\n"));
        assert!(text.contains(
            "skyhold_service_mailbox_messages{handle=\":0000000a\",service=\"snlua s10\"} 10"
        ));
    }

    #[test]
    fn every_family_has_help_and_type_and_names_follow_the_conventions() {
        let mut cluster = crate::collect::ClusterStat::default();
        cluster.counters.insert("links_up".into(), 1);
        cluster.gauges.insert("links".into(), 1);
        cluster.links.push(crate::collect::ClusterLink {
            id: 2,
            peer: "db\"x".into(),
            direction: "out".into(),
            up: true,
            queued: 5,
            ..Default::default()
        });
        let snap = Snapshot {
            services: vec![row(1, 1, 2, 3), row(2, 0, 0, 0)],
            node_counters: crate::collect::NODE_COUNTERS
                .iter()
                .map(|n| (*n, 0))
                .collect(),
            audit: vec![("kill".into(), 1)],
            warm: Some((Default::default(), 4)),
            cluster: Some(cluster),
            ..Snapshot::default()
        };
        let text = render(&snap, 1);
        let mut helps = std::collections::BTreeSet::new();
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix("# HELP ") {
                let name = rest.split(' ').next().unwrap();
                assert!(helps.insert(name.to_string()), "two HELP lines for {name}");
            }
        }
        let mut kinds = std::collections::BTreeMap::new();
        for l in text.lines() {
            if let Some(rest) = l.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').unwrap();
                assert!(name.starts_with("skyhold_"), "{name}");
                assert_eq!(name.ends_with("_total"), kind == "counter", "{l}");
                assert!(
                    kinds.insert(name.to_string(), kind).is_none(),
                    "twice: {name}"
                );
            }
        }
        for l in text.lines().filter(|l| !l.starts_with('#')) {
            let name = l.split(['{', ' ']).next().unwrap();
            assert!(kinds.contains_key(name), "no TYPE for {l}");
        }
        assert!(
            text.contains(
                "skyhold_cluster_link_queued_bytes{link=\"2\",peer=\"db\\\"x\",direction=\"out\"} 5\n"
            ),
            "{text}"
        );
        assert!(text.contains(
            "skyhold_cluster_link_up{link=\"2\",peer=\"db\\\"x\",direction=\"out\"} 1\n"
        ));
    }
}
