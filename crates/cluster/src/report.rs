//! What `clusterd` tells about its links (its `links` command): one table
//! per link, for the metrics endpoint and for any service that asks.

use std::sync::atomic::Ordering;

use skyhold_pack::{Table, Value};

use crate::hub::{LinkId, LinkShared};

/// One link as `clusterd` holds it, seen for a report.
pub(crate) struct LinkView<'a> {
    pub id: LinkId,
    pub peer: &'a str,
    /// The peer opened it (it has an agent here).
    pub inbound: bool,
    /// An outbound link's handshake is done.
    pub up: bool,
    pub shared: &'a LinkShared,
    /// Calls sent on it and not yet answered.
    pub calls: usize,
    /// The hub's clock now.
    pub now_ms: u64,
}

/// `{id, peer, direction = "in"|"out", up, queued, inflight, calls, idle_ms}`.
pub(crate) fn link_row(l: LinkView<'_>) -> Value {
    let field = |k: &str, v: Value| (Value::String(k.as_bytes().to_vec()), v);
    let int = |v: u64| Value::Integer(i64::try_from(v).unwrap_or(i64::MAX));
    let last = l.shared.last_read.load(Ordering::Relaxed);
    let direction: &[u8] = if l.inbound { b"in" } else { b"out" };
    Value::Table(Table {
        array: Vec::new(),
        hash: vec![
            field("id", Value::Integer(i64::from(l.id))),
            field("peer", Value::String(l.peer.as_bytes().to_vec())),
            field("direction", Value::String(direction.to_vec())),
            // An inbound link is up from the start.
            field("up", Value::Boolean(l.inbound || l.up)),
            field(
                "queued",
                int(l.shared.queued.load(Ordering::Relaxed) as u64),
            ),
            field(
                "inflight",
                int(l.shared.inflight.load(Ordering::Relaxed) as u64),
            ),
            field("calls", int(l.calls as u64)),
            field("idle_ms", int(l.now_ms.saturating_sub(last))),
        ],
    })
}
