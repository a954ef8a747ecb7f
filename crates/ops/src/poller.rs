//! `skyhold_ops`: the endpoint's one service. The cluster's counters live
//! inside `clusterd`, which answers `stat` to any service; this one asks
//! every [`PERIOD_TICKS`] and keeps the answer for the scrapes. Its exit
//! (the node shutting down, or an operator's kill) stops the listener.

use parking_lot::Mutex;
use skyhold_core::{ptype, Context, Message, Payload, Service};
use skyhold_pack::{pack, unpack_limited, Limits, Value};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::collect::{ClusterStat, CLUSTER_GAUGES};

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
}

impl Poller {
    /// A poller writing to `cluster`, setting `stop` when it exits.
    pub fn new(cluster: Arc<Mutex<Option<ClusterStat>>>, stop: Arc<AtomicBool>) -> Poller {
        Poller {
            cluster,
            stop,
            timer: None,
            call: None,
        }
    }

    fn ask(&mut self, ctx: &Context) {
        if self.call.is_none() {
            if let Some(clusterd) = ctx.query_name(CLUSTERD) {
                let payload = pack(&[Value::String(b"stat".to_vec())]).unwrap_or_default();
                self.call = ctx.call(clusterd, ptype::LUA, Payload::from(payload)).ok();
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
        if Some(msg.session) == self.call && msg.session != 0 {
            self.call = None;
            if msg.ptype == ptype::RESPONSE {
                if let Some(stat) = read_stat(msg.payload.as_slice()) {
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
}
