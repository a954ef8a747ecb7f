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
//!
//! A link is dead when its connection ends or fails, and also when it reads
//! nothing for `cluster_heartbeat_timeout`: a peer that lost power or sits
//! behind a partition closes nothing. An outbound link that has read
//! nothing for `cluster_heartbeat` sends a heartbeat, a query for the empty
//! name, which every skynet node answers with "name not found" (and a
//! skyhold node answers from its I/O thread, without a service's turn).

use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::hub::{Event, Hub, Io, LinkId, LinkShared, Target};
use crate::reassembly::{Assembled, Assembler};
use crate::tls;
use crate::wire::{self, Address, Request, Response};

/// The packed arguments of a heartbeat: `skynet.packstring("")`, a name no
/// node can register.
pub(crate) fn heartbeat_query() -> Vec<u8> {
    skyhold_pack::pack(&[skyhold_pack::Value::String(Vec::new())]).unwrap_or_default()
}

/// What a node answers a query for a name nobody registered.
pub(crate) const NAME_NOT_FOUND: &[u8] = b"name not found";

/// A stream half that notes on its link each sign that the peer is alive:
/// a byte read, or a write that had to wait for the peer to take earlier
/// bytes and then went on (a peer reading a large backlog over a slow path
/// is alive though its answers queue behind it). A write that never waited
/// proves nothing: the kernel took it, not the peer.
struct Heard<'a, S> {
    inner: S,
    shared: &'a LinkShared,
    hub: &'a Hub,
    waited: bool,
}

impl<'a, S> Heard<'a, S> {
    fn new(inner: S, shared: &'a LinkShared, hub: &'a Hub) -> Self {
        Heard {
            inner,
            shared,
            hub,
            waited: false,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Heard<'_, S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.inner).poll_write(cx, buf);
        match &polled {
            Poll::Pending => self.waited = true,
            Poll::Ready(Ok(n)) if *n > 0 && self.waited => {
                self.waited = false;
                self.shared.heard(self.hub);
            }
            _ => {}
        }
        polled
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for Heard<'_, R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.shared.heard(self.hub);
        }
        polled
    }
}

/// How often a link's silence is looked at: often enough that a timeout is
/// noticed within a quarter of the heartbeat, and never busier than 100 Hz.
fn tick(hub: &Hub) -> Duration {
    (hub.config.heartbeat.min(hub.config.heartbeat_timeout) / 4).max(Duration::from_millis(10))
}

/// Ends when the link has read nothing for `cluster_heartbeat_timeout`;
/// returns why.
fn silence(hub: &Hub) -> String {
    hub.counters
        .heartbeat_timeouts
        .fetch_add(1, Ordering::Relaxed);
    format!(
        "read nothing for {:.1} s (config cluster_heartbeat_timeout)",
        hub.config.heartbeat_timeout.as_secs_f64()
    )
}

/// An outbound link's heartbeat: asks for a sign of life when the link has
/// been quiet for `cluster_heartbeat`, and ends the link when it has been
/// quiet for `cluster_heartbeat_timeout`. Returns why it ended.
async fn heartbeat(shared: &LinkShared, hub: &Hub) -> String {
    let query = heartbeat_query();
    loop {
        tokio::time::sleep(tick(hub)).await;
        let quiet = shared.silent_for(hub);
        if quiet >= hub.config.heartbeat_timeout {
            return silence(hub);
        }
        if quiet >= hub.config.heartbeat && shared.ping.load(Ordering::Relaxed) == 0 {
            let session = shared.next_session();
            let mut out = Vec::with_capacity(16);
            if wire::encode_request(&mut out, Address::Handle(0), session, false, &query).is_err() {
                continue;
            }
            shared.ping.store(session, Ordering::Relaxed);
            if let Err(e) = shared.send(out, hub.config.max_queued) {
                return e.to_string();
            }
        }
    }
}

/// An inbound link's watch: once the peer has sent a heartbeat (so it is a
/// node that sends them), a link quiet for `cluster_heartbeat_timeout` is
/// dead. Returns why it ended.
pub(crate) async fn watch_silence(shared: &LinkShared, hub: &Hub) -> String {
    loop {
        tokio::time::sleep(tick(hub)).await;
        if shared.pinged.load(Ordering::Relaxed)
            && shared.silent_for(hub) >= hub.config.heartbeat_timeout
        {
            return silence(hub);
        }
    }
}

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

/// Writes what `clusterd` queues, several packets per write when they wait;
/// returns why it stopped.
pub(crate) async fn write_loop<W: AsyncWrite + Unpin>(
    w: W,
    mut rx: mpsc::UnboundedReceiver<Vec<u8>>,
    shared: &LinkShared,
    hub: &Hub,
) -> String {
    let mut w = Heard::new(w, shared, hub);
    while let Some(mut batch) = rx.recv().await {
        while batch.len() < 64 << 10 {
            match rx.try_recv() {
                Ok(more) => batch.extend_from_slice(&more),
                Err(_) => break,
            }
        }
        shared.queued.fetch_sub(batch.len(), Ordering::Relaxed);
        if let Err(e) = w.write_all(&batch).await {
            return format!("writing: {e}");
        }
        if let Err(e) = w.flush().await {
            return format!("writing: {e}");
        }
    }
    "its queue was closed".into()
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
    let r = Heard::new(r, shared, hub);
    let mut r = BufReader::with_capacity(64 << 10, r);
    let mut buf = Vec::new();
    let mut parts: Assembler<(Target, bool)> = Assembler::new(hub.config.reassembly);
    let max = hub.config.reassembly.max_message;
    let ping = heartbeat_query();
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
        if target == Target::Handle(0) && !push && data == ping {
            // A heartbeat is answered here, as the agent would answer it,
            // so a node whose services are busy still shows it is alive.
            shared.pinged.store(true, Ordering::Relaxed);
            let mut out = Vec::with_capacity(24);
            wire::encode_error(&mut out, session, NAME_NOT_FOUND);
            if let Err(e) = shared.send(out, hub.config.max_queued) {
                return e.to_string();
            }
            continue;
        }
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
    let r = Heard::new(r, shared, hub);
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
            if session == shared.ping.load(Ordering::Relaxed) {
                // The heartbeat's answer: the peer is alive, and that is all.
                shared.ping.store(0, Ordering::Relaxed);
                continue;
            }
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
        let shared = &task_shared;
        let why = match open(&hub, &node, &addr).await {
            Err(e) => e,
            Ok(io) => {
                shared.heard(&hub);
                hub.emit(Event::Up { link });
                let (r, w) = tokio::io::split(io);
                // Whichever ends first ends the link: the peer closed or
                // broke the protocol, a write failed, or it fell silent.
                tokio::select! {
                    why = read_replies(r, link, shared, &hub) => why,
                    why = write_loop(w, rx, shared, &hub) => why,
                    why = heartbeat(shared, &hub) => why,
                }
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
        tune(&tcp, &hub.config);
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

/// Bytes a link's socket holds for sending (Linux doubles it for its own
/// bookkeeping, so 256 KiB in all). Fixed, not grown by the kernel (which
/// on a fast path grows it to megabytes): a peer's answer to a heartbeat
/// queues behind what the socket holds, so this bounds how long a slow but
/// living peer can seem silent — 256 KiB at 64 KiB/s is 4 s, under the
/// default heartbeat timeout — and a write that waits on a full socket,
/// then goes on, shows the peer taking bytes. It still lets a link carry
/// 256 MB/s at a 1 ms round trip.
const SEND_BUFFER: usize = 128 << 10;

/// Sets up a link's socket: no Nagle delay, a fixed send buffer, and TCP
/// keepalive probes that notice a vanished peer even on a link that sends
/// no heartbeats (a skynet peer's inbound link): first after
/// `cluster_heartbeat_timeout` of silence, then every `cluster_heartbeat`,
/// three times.
pub(crate) fn tune(tcp: &TcpStream, config: &crate::config::ClusterConfig) {
    let _ = tcp.set_nodelay(true);
    let _ = socket2::SockRef::from(tcp).set_send_buffer_size(SEND_BUFFER);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(config.heartbeat_timeout.max(Duration::from_secs(1)))
        .with_interval(config.heartbeat.max(Duration::from_secs(1)))
        .with_retries(3);
    let _ = socket2::SockRef::from(tcp).set_tcp_keepalive(&keepalive);
}
