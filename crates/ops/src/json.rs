//! The dashboard's data (`/api/services`): a [`Snapshot`] as one JSON
//! object, written by hand (a few field kinds, every string escaped):
//! the node's totals, services, the busiest and largest, audit refusals
//! (counts, and the last ones written), sockets, the cluster and its links.

use std::fmt::Write;

use crate::collect::{ServiceRow, Snapshot};

/// How many services the "busiest" and "largest" lists hold.
pub const TOP: usize = 5;

/// `s` as a JSON string, quotes included.
pub fn string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            // `<` too, so the text is safe inside a page as well.
            c if (c as u32) < 0x20 || c == '<' || c == '>' || c == '&' => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn service(s: &ServiceRow) -> String {
    let refusals: u64 = s.refusals.values().sum();
    format!(
        "{{\"handle\":{},\"name\":{},\"mailbox\":{},\"mailbox_bytes\":{},\"messages\":{},\"cpu_seconds\":{:.6},\"memory\":{},\"timers\":{},\"refusals\":{}}}",
        string(&s.handle.to_string()),
        string(&s.name),
        s.mailbox,
        s.mailbox_bytes,
        s.messages,
        s.cpu_ns as f64 / 1e9,
        s.memory,
        s.timers,
        refusals
    )
}

fn list<'a>(rows: impl Iterator<Item = &'a ServiceRow>) -> String {
    let items: Vec<String> = rows.map(service).collect();
    format!("[{}]", items.join(","))
}

fn pairs(p: &[(String, u64)]) -> String {
    let items: Vec<String> = p
        .iter()
        .map(|(k, v)| format!("{{\"action\":{},\"count\":{v}}}", string(k)))
        .collect();
    format!("[{}]", items.join(","))
}

fn top(snap: &Snapshot, key: fn(&ServiceRow) -> u64) -> Vec<&ServiceRow> {
    let mut rows: Vec<&ServiceRow> = snap.services.iter().collect();
    rows.sort_by_key(|s| std::cmp::Reverse(key(s)));
    rows.truncate(TOP);
    rows
}

/// The dashboard's object.
pub fn render(snap: &Snapshot, rows: usize) -> String {
    let mut table: Vec<&ServiceRow> = snap.services.iter().collect();
    table.sort_by(|a, b| b.mailbox.cmp(&a.mailbox).then(a.handle.cmp(&b.handle)));
    let left_out = table.len().saturating_sub(rows);
    table.truncate(rows);
    let mut out = String::with_capacity(1024 + table.len() * 160);
    let _ = write!(
        out,
        "{{\"uptime\":{:.3},\"live\":{},\"messages\":{},\"busy_seconds\":{:.6},\"timers\":{},\"mailbox\":{},\"mailbox_bytes\":{},\"lua_memory\":{}",
        snap.uptime,
        snap.live,
        snap.messages,
        snap.busy_ns as f64 / 1e9,
        snap.timers,
        snap.mailbox,
        snap.mailbox_bytes,
        snap.lua_memory
    );
    let counters: Vec<String> = snap
        .node_counters
        .iter()
        .map(|(k, v)| format!("{}:{v}", string(k)))
        .collect();
    let _ = write!(out, ",\"counters\":{{{}}}", counters.join(","));
    let _ = write!(out, ",\"services\":{}", list(table.into_iter()));
    // The services past `dashboard_rows` (the shallowest mailboxes).
    let _ = write!(out, ",\"services_left_out\":{left_out}");
    let _ = write!(
        out,
        ",\"busiest\":{}",
        list(top(snap, |s| s.cpu_ns).into_iter())
    );
    let _ = write!(
        out,
        ",\"largest\":{}",
        list(top(snap, |s| s.memory).into_iter())
    );
    let _ = write!(out, ",\"refusals\":{}", pairs(&snap.audit));
    let _ = write!(out, ",\"recent_refusals\":{}", pairs(&snap.audit_recent));
    let s = &snap.sockets;
    let open: Vec<String> = s
        .open
        .iter()
        .map(|(k, v)| format!("{}:{v}", string(k)))
        .collect();
    let _ = write!(
        out,
        ",\"sockets\":{{\"open\":{{{}}},\"waiting\":{},\"accepted\":{},\"refused\":{},\"slow_readers_closed\":{}}}",
        open.join(","),
        s.waiting,
        s.accepted,
        s.refused,
        s.slow_readers_closed
    );
    // The last refusals, newest first.
    let log: Vec<String> = snap
        .audit_log
        .iter()
        .rev()
        .map(|r| {
            format!(
                "{{\"time_ms\":{},\"who\":{},\"what\":{},\"whom\":{},\"why\":{}}}",
                r.unix_ms,
                string(&r.who),
                string(&r.what),
                string(&r.whom),
                string(&r.why)
            )
        })
        .collect();
    let _ = write!(out, ",\"audit_log\":[{}]", log.join(","));
    match &snap.cluster {
        None => out.push_str(",\"cluster\":null,\"cluster_links\":[]"),
        Some(c) => {
            let fields: Vec<String> = c
                .gauges
                .iter()
                .chain(c.counters.iter())
                .map(|(k, v)| format!("{}:{v}", string(k)))
                .collect();
            let _ = write!(out, ",\"cluster\":{{{}}}", fields.join(","));
            let links: Vec<String> = c
                .links
                .iter()
                .map(|l| {
                    format!(
                        "{{\"link\":{},\"peer\":{},\"direction\":{},\"up\":{},\"queued\":{},\"inflight\":{},\"calls\":{},\"idle_ms\":{}}}",
                        l.id,
                        string(&l.peer),
                        string(&l.direction),
                        l.up,
                        l.queued,
                        l.inflight,
                        l.calls,
                        l.idle_ms
                    )
                })
                .collect();
            let _ = write!(out, ",\"cluster_links\":[{}]", links.join(","));
        }
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use skyhold_core::Handle;

    #[test]
    fn strings_are_escaped_for_json_and_for_a_page() {
        assert_eq!(string("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
        assert_eq!(string("</script>"), "\"\\u003c/script\\u003e\"");
    }

    #[test]
    fn the_object_has_the_dashboards_parts() {
        let snap = Snapshot {
            live: 2,
            services: vec![
                ServiceRow {
                    handle: Handle(8),
                    name: "snlua worker".into(),
                    mailbox: 3,
                    cpu_ns: 2_000_000_000,
                    memory: 10,
                    ..ServiceRow::default()
                },
                ServiceRow {
                    handle: Handle(9),
                    name: "snlua big".into(),
                    memory: 99,
                    ..ServiceRow::default()
                },
            ],
            audit: vec![("kill".into(), 4)],
            audit_log: vec![
                skyhold_core::audit::Recent {
                    unix_ms: 1,
                    who: "127.0.0.1:5000".into(),
                    what: "console:kill".into(),
                    whom: ":0000000c".into(),
                    why: "not logged in".into(),
                },
                skyhold_core::audit::Recent {
                    unix_ms: 2,
                    who: "<b>".into(),
                    what: "kill".into(),
                    whom: ":00000001".into(),
                    why: "no grant".into(),
                },
            ],
            ..Snapshot::default()
        };
        let j = render(&snap, 10);
        assert!(j.starts_with("{\"uptime\":"), "{j}");
        assert!(j.contains("\"live\":2"));
        assert!(j.contains("\"name\":\"snlua worker\",\"mailbox\":3"), "{j}");
        assert!(j.contains("\"busiest\":[{\"handle\":\":00000008\""), "{j}");
        assert!(j.contains("\"largest\":[{\"handle\":\":00000009\""), "{j}");
        assert!(j.contains("\"refusals\":[{\"action\":\"kill\",\"count\":4}]"));
        assert!(j.contains("\"cluster\":null,\"cluster_links\":[]"));
        // Newest first, every string escaped.
        assert!(
            j.contains(
                "\"audit_log\":[{\"time_ms\":2,\"who\":\"\\u003cb\\u003e\",\"what\":\"kill\""
            ),
            "{j}"
        );
        assert!(j.contains("{\"time_ms\":1,\"who\":\"127.0.0.1:5000\",\"what\":\"console:kill\",\"whom\":\":0000000c\",\"why\":\"not logged in\"}]"), "{j}");
        assert!(j.ends_with('}'));
        assert!(j.contains("\"services_left_out\":0"), "{j}");
        // dashboard_rows = 1: the deepest mailbox only, and the count of
        // the rest.
        let j = render(&snap, 1);
        let table = j
            .split_once("\"services\":[")
            .and_then(|(_, rest)| rest.split_once("],\"services_left_out\":1,"))
            .map(|(table, _)| table)
            .unwrap_or_else(|| panic!("no table and count: {j}"));
        assert!(
            table.starts_with("{\"handle\":\":00000008\"") && !table.contains("snlua big"),
            "{table}"
        );
    }
}
