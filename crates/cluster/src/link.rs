//! Links: one connection to another node, run by tokio tasks on the
//! cluster's I/O thread.
//!
//! A link only moves bytes. Its reader decodes packets, puts multi-part
//! messages back together within the limits, and hands each whole request
//! or reply to `clusterd` as an [`Event`]; its writer sends what `clusterd`
//! queued. Everything that decides — where a request may go, who a reply is
//! for — happens in `clusterd`'s turn, so the I/O thread never acts as a
//! service.
//!
//! The requests of an inbound link go to its agent; the replies of an
//! outbound one to `clusterd`. How an inbound connection becomes a link is
//! [`crate::inbound`]'s.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::hub::{Event, Hub, Io, LinkId, LinkShared, Target};
use crate::reassembly::{Assembled, Assembler};
use crate::tls;
use crate::wire::{self, Request, Response};

/// Reads one packet body into `buf`; the error says why there is none.
async fn read_packet<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &mut Vec<u8>,
    hub: &Hub,
) -> Result<(), String> {
    let mut len = [0u8; 2];
    match r.read_exact(&mut len).await {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            return Err("closed by the peer".into())
        }
        Err(e) => return Err(e.to_string()),
    }
    let n = u16::from_be_bytes(len) as usize;
    if n == 0 {
        // skynet's unpackers take an empty body for a broken channel too.
        return Err(protocol(hub, "an empty cluster packet".into()));
    }
    buf.resize(n, 0);
    r.read_exact(buf).await.map_err(|e| e.to_string())?;
    Ok(())
}

/// Writes what `clusterd` queues, several packets per write when they wait.
pub(crate) async fn write_loop<W: AsyncWrite + Unpin>(
    mut w: W,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    shared: Arc<LinkShared>,
) -> Result<(), String> {
    while let Some(mut batch) = rx.recv().await {
        while batch.len() < 64 << 10 {
            match rx.try_recv() {
                Ok(more) => batch.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        shared.queued.fetch_sub(batch.len(), Ordering::Relaxed);
        w.write_all(&batch).await.map_err(|e| e.to_string())?;
        w.flush().await.map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// Reads requests from an inbound link until it ends; returns why.
pub(crate) async fn read_requests<R: AsyncRead + Unpin>(
    r: R,
    link: LinkId,
    shared: &LinkShared,
    hub: &Hub,
) -> String {
    // Nothing is read before the link's agent exists to take it.
    shared.ready.notified().await;
    let mut r = BufReader::with_capacity(64 << 10, r);
    let mut buf = Vec::new();
    let mut parts: Assembler<(Target, bool)> = Assembler::new(hub.config.reassembly);
    let max = hub.config.reassembly.max_message;
    loop {
        if let Err(why) = read_packet(&mut r, &mut buf, hub).await {
            return why;
        }
        let whole = match wire::decode_request(&buf) {
            Ok(Request::Whole {
                address,
                session,
                data,
            }) => Some((Target::of(address), session, session == 0, data.to_vec())),
            Ok(Request::Begin {
                address,
                session,
                total,
                push,
            }) => match parts.begin(session, total as usize, (Target::of(address), push)) {
                Ok(()) => None,
                Err(e) => return protocol(hub, e.to_string()),
            },
            Ok(Request::Part {
                session,
                data,
                last,
            }) => match parts.part(session, data, last) {
                Ok(None) => None,
                Ok(Some(Assembled::Whole((target, push), data))) => {
                    Some((target, session, push, data))
                }
                Ok(Some(Assembled::TooLarge((_, push), declared))) => {
                    hub.counters.too_large.fetch_add(1, Ordering::Relaxed);
                    if !push {
                        let mut out = Vec::new();
                        let text = format!(
                            "message of {declared} bytes is larger than the limit of {max} (config cluster_max_message)"
                        );
                        wire::encode_error(&mut out, session, text.as_bytes());
                        if let Err(e) = shared.send(out, hub.config.max_queued) {
                            return e.to_string();
                        }
                    }
                    None
                }
                Err(e) => return protocol(hub, e.to_string()),
            },
            // skyhold keeps no trace log; the tag is read and let go.
            Ok(Request::Trace(_)) => None,
            Err(e) => return protocol(hub, e.to_string()),
        };
        let Some((target, session, push, data)) = whole else {
            continue;
        };
        wait_for_room(shared, data.len(), hub).await;
        if shared.inflight.fetch_add(1, Ordering::Relaxed) >= hub.config.max_inflight {
            shared.done();
            hub.counters.busy.fetch_add(1, Ordering::Relaxed);
            if !push {
                let mut out = Vec::new();
                let text = format!(
                    "more than {} requests of this link are waiting (config cluster_max_inflight)",
                    hub.config.max_inflight
                );
                wire::encode_error(&mut out, session, text.as_bytes());
                if let Err(e) = shared.send(out, hub.config.max_queued) {
                    return e.to_string();
                }
            }
            continue;
        }
        shared.unread.fetch_add(data.len(), Ordering::Relaxed);
        let event = Event::Request {
            link,
            session,
            push,
            target,
            data,
        };
        if !hub.emit_to(shared, event) {
            return "its agent is gone".into();
        }
    }
}

/// Waits while what this link has handed over and its service has not yet
/// taken, plus `n` more bytes, would pass `cluster_max_queued`: the link is
/// read no further meanwhile, and TCP slows the peer down.
async fn wait_for_room(shared: &LinkShared, n: usize, hub: &Hub) {
    let max = hub.config.max_queued;
    loop {
        let unread = shared.unread.load(Ordering::Relaxed);
        if unread == 0 || unread + n <= max {
            return;
        }
        // A permit left by a `delivered` since the check is not lost.
        shared.room.notified().await;
    }
}

fn protocol(hub: &Hub, why: String) -> String {
    hub.counters.protocol_errors.fetch_add(1, Ordering::Relaxed);
    why
}

/// Reads replies from an outbound link until it ends; returns why.
async fn read_replies<R: AsyncRead + Unpin>(
    r: R,
    link: LinkId,
    shared: &LinkShared,
    hub: &Hub,
) -> String {
    let mut r = BufReader::with_capacity(64 << 10, r);
    let mut buf = Vec::new();
    let mut parts: Assembler<()> = Assembler::new(hub.config.reassembly);
    let max = hub.config.reassembly.max_message;
    loop {
        if let Err(why) = read_packet(&mut r, &mut buf, hub).await {
            return why;
        }
        let reply = match wire::decode_response(&buf) {
            Ok(Response::Whole { session, data }) => Some((session, true, data.to_vec())),
            Ok(Response::Error { session, text }) => Some((session, false, text.to_vec())),
            Ok(Response::Begin { session, total }) => {
                match parts.begin(session, total as usize, ()) {
                    Ok(()) => None,
                    Err(e) => return protocol(hub, e.to_string()),
                }
            }
            Ok(Response::Part {
                session,
                data,
                last,
            }) => match parts.part(session, data, last) {
                Ok(None) => None,
                Ok(Some(Assembled::Whole((), data))) => Some((session, true, data)),
                Ok(Some(Assembled::TooLarge((), declared))) => {
                    hub.counters.too_large.fetch_add(1, Ordering::Relaxed);
                    let text = format!(
                        "reply of {declared} bytes is larger than the limit of {max} (config cluster_max_message)"
                    );
                    Some((session, false, text.into_bytes()))
                }
                Err(e) => return protocol(hub, e.to_string()),
            },
            Err(e) => return protocol(hub, e.to_string()),
        };
        if let Some((session, ok, data)) = reply {
            // A peer may answer faster than clusterd takes its answers.
            wait_for_room(shared, data.len(), hub).await;
            shared.unread.fetch_add(data.len(), Ordering::Relaxed);
            let event = Event::Reply {
                link,
                session,
                ok,
                data,
            };
            if !hub.emit(event) {
                return "clusterd is gone".into();
            }
        }
    }
}

/// Opens a link to `node` at `addr`. Packets queued on the returned
/// [`LinkShared`] go out once it is connected; if it cannot connect, or
/// when it ends, `clusterd` gets [`Event::Down`].
pub fn connect(
    hub: &Arc<Hub>,
    rt: &tokio::runtime::Handle,
    link: LinkId,
    node: String,
    addr: String,
) -> Arc<LinkShared> {
    let (shared, rx) = LinkShared::new();
    let task_shared = shared.clone();
    let hub = hub.clone();
    let task = rt.spawn(async move {
        let why = match open(&hub, &node, &addr).await {
            Err(e) => e,
            Ok(io) => {
                let (r, w) = tokio::io::split(io);
                let writer = tokio::spawn(write_loop(w, rx, task_shared.clone()));
                task_shared.adopt(writer.abort_handle());
                read_replies(r, link, &task_shared, &hub).await
            }
        };
        task_shared.stop();
        hub.emit(Event::Down { link, why });
    });
    shared.adopt(task.abort_handle());
    shared
}

async fn open(hub: &Hub, node: &str, addr: &str) -> Result<Box<dyn Io>, String> {
    let plain = hub.config.plaintext.contains(node);
    let tls = match (&hub.tls, plain) {
        (_, true) => None,
        (Some(t), false) => Some(t.clone()),
        (None, false) => {
            return Err(format!(
                "no TLS identity (config cluster_cert, cluster_key, cluster_ca), and node {node} is not named in cluster_plaintext"
            ))
        }
    };
    let name = if tls.is_some() {
        Some(tls::server_name(node)?)
    } else {
        None
    };
    let steps = async {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        let _ = tcp.set_nodelay(true);
        match (tls, name) {
            (Some(t), Some(name)) => {
                let s = t
                    .connector
                    .connect(name, tcp)
                    .await
                    .map_err(|e| format!("TLS with {node} at {addr}: {e}"))?;
                Ok(Box::new(s) as Box<dyn Io>)
            }
            _ => Ok(Box::new(tcp) as Box<dyn Io>),
        }
    };
    tokio::time::timeout(hub.config.handshake_timeout, steps)
        .await
        .map_err(|_| format!("connect to {node} at {addr}: timed out"))?
}
