//! `skyhold_ops`: the endpoint's one service. The cluster's counters and
//! links live inside `clusterd`, which answers `stat` and `links` to any
//! service; this one asks every [`PERIOD_TICKS`] and keeps the answers
//! for the scrapes. Its exit
//! (the node shutting down, or an operator's kill) stops the listener.

use parking_lot::Mutex;
use skyhold_core::{ptype, Context, Message, Payload, Service};
use skyhold_pack::{pack, unpack_limited, Limits, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::collect::{ClusterLink, ClusterStat, CLUSTER_GAUGES, CLUSTER_LINKS};

/// The module name boot registers the service under.
pub const MODULE: &str = "skyhold_ops";

/// How often clusterd is asked, in ticks of 10 ms.
pub const PERIOD_TICKS: i64 = 100;

/// clusterd's name.
const CLUSTERD: &str = ".clusterd";

/// The poller: asks clusterd, keeps the answer, and says when to stop.
pub struct Poller {
    cluster: Arc<Mutex<Option<ClusterStat>>>,
    stop: Arc<AtomicBool>,
    timer: Option<i32>,
    call: Option<i32>,
    links_call: Option<i32>,
    /// The last `links` answer, kept for the next `stat` one.
    links: Vec<ClusterLink>,
}

impl Poller {
    /// A poller writing to `cluster`, setting `stop` when it exits.
    pub fn new(cluster: Arc<Mutex<Option<ClusterStat>>>, stop: Arc<AtomicBool>) -> Poller {
        Poller {
            cluster,
            stop,
            timer: None,
            call: None,
            links_call: None,
            links: Vec::new(),
        }
    }

    fn ask(&mut self, ctx: &Context) {
        if let Some(clusterd) = ctx.query_name(CLUSTERD) {
            let ask = |what: &[u8]| {
                let payload = pack(&[Value::String(what.to_vec())]).unwrap_or_default();
                ctx.call(clusterd, ptype::LUA, Payload::from(payload)).ok()
            };
            if self.links_call.is_none() {
                self.links_call = ask(b"links");
            }
            if self.call.is_none() {
                self.call = ask(b"stat");
            }
        }
        self.timer = ctx.timeout(PERIOD_TICKS).ok();
    }
}

/// clusterd's `stat` reply read into counters and gauges; `None` if it is
/// not one table of names and non-negative integers.
pub fn read_stat(bytes: &[u8]) -> Option<ClusterStat> {
    let values = unpack_limited(bytes, &Limits { max_depth: 2 }).ok()?;
    let Some(Value::Table(t)) = values.into_iter().next() else {
        return None;
    };
    let mut stat = ClusterStat::default();
    for (k, v) in t.hash {
        let (Value::String(k), Value::Integer(v)) = (k, v) else {
            continue;
        };
        let (Ok(k), Ok(v)) = (String::from_utf8(k), u64::try_from(v)) else {
            continue;
        };
        if k.len() > 64 {
            continue;
        }
        if CLUSTER_GAUGES.contains(&k.as_str()) {
            stat.gauges.insert(k, v);
        } else {
            stat.counters.insert(k, v);
        }
    }
    Some(stat)
}

/// The longest peer name kept; a longer one is cut.
const PEER_NAME: usize = 128;

/// clusterd's `links` reply: one row per link (at most [`CLUSTER_LINKS`]);
/// `None` if it is not a list of tables. Rows missing a field get 0.
pub fn read_links(bytes: &[u8]) -> Option<Vec<ClusterLink>> {
    let values = unpack_limited(bytes, &Limits { max_depth: 3 }).ok()?;
    let Some(Value::Table(t)) = values.into_iter().next() else {
        return None;
    };
    let mut out = Vec::new();
    for row in t.array.into_iter().take(CLUSTER_LINKS) {
        let Value::Table(row) = row else {
            return None;
        };
        let mut link = ClusterLink::default();
        for (k, v) in row.hash {
            let Value::String(k) = k else { continue };
            let num = |v: &Value| match v {
                Value::Integer(i) => u64::try_from(*i).unwrap_or(0),
                _ => 0,
            };
            let text = |v: &Value| match v {
                Value::String(s) => {
                    crate::collect::short_name(String::from_utf8_lossy(s).into_owned())
                        .chars()
                        .take(PEER_NAME)
                        .collect()
                }
                _ => String::new(),
            };
            match k.as_slice() {
                b"id" => link.id = num(&v),
                b"peer" => link.peer = text(&v),
                b"direction" => link.direction = text(&v),
                b"up" => link.up = matches!(v, Value::Boolean(true)),
                b"queued" => link.queued = num(&v),
                b"inflight" => link.inflight = num(&v),
                b"calls" => link.calls = num(&v),
                b"idle_ms" => link.idle_ms = num(&v),
                _ => {}
            }
        }
        out.push(link);
    }
    Some(out)
}

impl Service for Poller {
    fn init(&mut self, ctx: &Context) -> Result<(), String> {
        self.ask(ctx);
        Ok(())
    }

    fn handle(&mut self, ctx: &Context, msg: Message) {
        if Some(msg.session) == self.timer && msg.ptype == ptype::RESPONSE {
            self.ask(ctx);
            return;
        }
        if Some(msg.session) == self.links_call && msg.session != 0 {
            self.links_call = None;
            if msg.ptype == ptype::RESPONSE {
                if let Some(links) = read_links(msg.payload.as_slice()) {
                    self.links = links;
                }
            }
        }
        if Some(msg.session) == self.call && msg.session != 0 {
            self.call = None;
            if msg.ptype == ptype::RESPONSE {
                if let Some(mut stat) = read_stat(msg.payload.as_slice()) {
                    stat.links = self.links.clone();
                    *self.cluster.lock() = Some(stat);
                }
            }
        }
    }

    fn exit(&mut self, _ctx: &Context) {
        self.stop.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use skyhold_pack::Table;

    #[test]
    fn a_stat_reply_is_split_into_counters_and_gauges() {
        let mut t = Table::default();
        for (k, v) in [
            ("links_up", 3),
            ("links", 1),
            ("heartbeat_timeouts", 2),
            ("held", 0),
        ] {
            t.hash
                .push((Value::String(k.as_bytes().to_vec()), Value::Integer(v)));
        }
        t.hash.push((Value::Integer(1), Value::Integer(1)));
        let bytes = pack(&[Value::Table(t)]).unwrap();
        let s = read_stat(&bytes).unwrap();
        assert_eq!(s.counters.get("links_up"), Some(&3));
        assert_eq!(s.counters.get("heartbeat_timeouts"), Some(&2));
        assert_eq!(s.gauges.get("links"), Some(&1));
        assert_eq!(s.gauges.get("held"), Some(&0));
        assert_eq!(s.counters.len() + s.gauges.len(), 4);
        assert_eq!(read_stat(b"\x00"), None);
        assert_eq!(read_stat(&[]), None);
    }

    fn link_row(pairs: &[(&str, Value)]) -> Value {
        let mut t = Table::default();
        for (k, v) in pairs {
            t.hash
                .push((Value::String(k.as_bytes().to_vec()), v.clone()));
        }
        Value::Table(t)
    }

    #[test]
    fn a_links_reply_is_read_into_rows_bounded_and_cut() {
        let s = |x: &str| Value::String(x.as_bytes().to_vec());
        let mut list = Table::default();
        list.array.push(link_row(&[
            ("id", Value::Integer(3)),
            ("peer", s("db")),
            ("direction", s("out")),
            ("up", Value::Boolean(true)),
            ("queued", Value::Integer(12)),
            ("inflight", Value::Integer(1)),
            ("calls", Value::Integer(2)),
            ("idle_ms", Value::Integer(40)),
            ("extra", Value::Integer(9)),
        ]));
        list.array.push(link_row(&[
            ("peer", s(&"p".repeat(1000))),
            ("queued", Value::Integer(-5)),
        ]));
        let bytes = pack(&[Value::Table(list)]).unwrap();
        let rows = read_links(&bytes).unwrap();
        assert_eq!(
            rows[0],
            ClusterLink {
                id: 3,
                peer: "db".into(),
                direction: "out".into(),
                up: true,
                queued: 12,
                inflight: 1,
                calls: 2,
                idle_ms: 40,
            }
        );
        assert!(rows[1].peer.chars().count() <= PEER_NAME);
        assert_eq!(rows[1].queued, 0);
        assert!(!rows[1].up);
        // More rows than the bound: the rest are left out.
        let mut many = Table::default();
        for i in 0..CLUSTER_LINKS + 10 {
            many.array
                .push(link_row(&[("id", Value::Integer(i as i64))]));
        }
        let rows = read_links(&pack(&[Value::Table(many)]).unwrap()).unwrap();
        assert_eq!(rows.len(), CLUSTER_LINKS);
        // Not a list of tables.
        let mut bad = Table::default();
        bad.array.push(Value::Integer(1));
        assert_eq!(read_links(&pack(&[Value::Table(bad)]).unwrap()), None);
        assert_eq!(read_links(b"\x00"), None);
    }
}
