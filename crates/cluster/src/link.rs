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
//! An inbound connection is checked before it becomes a link: it must
//! finish a TLS handshake with a certificate the cluster authority signed,
//! within `cluster_handshake_timeout`; plain TCP is accepted only from the
//! address of a node named in `cluster_plaintext`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use skyhold_core::{ptype, Handle, NodeRef, Payload};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::config::ClusterConfig;
use crate::reassembly::{Assembled, Assembler};
use crate::tls::{self, Tls};
use crate::wire::{self, Address, Request, Response};

/// A link's number, unique on this node.
pub type LinkId = u32;

/// Anything a link can run over: plain TCP or a TLS stream.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// A request's target, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A numeric handle (0: a name query).
    Handle(u32),
    /// A name as sent.
    Name(Vec<u8>),
}

impl Target {
    fn of(a: Address<'_>) -> Target {
        match a {
            Address::Handle(h) => Target::Handle(h),
            Address::Name(n) => Target::Name(n.to_vec()),
        }
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Handle(h) => write!(f, ":{h:08x}"),
            Target::Name(n) => f.write_str(&printable(n)),
        }
    }
}

/// Remote bytes as text fit for a log line: control characters and
/// anything not UTF-8 are escaped, so a peer cannot start a line of its own.
pub fn printable(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                out.extend(c.escape_default());
            } else {
                out.push(c);
            }
        }
        for b in chunk.invalid() {
            out.push_str(&format!("\\x{b:02x}"));
        }
    }
    out
}

/// What the I/O side tells `clusterd`.
pub enum Event {
    /// An inbound link passed its checks.
    Accepted {
        /// Its number.
        link: LinkId,
        /// The peer's node name (from its certificate or address).
        peer: String,
        /// Its queue, counters and tasks.
        shared: Arc<LinkShared>,
    },
    /// The link is gone; why, for the log.
    Down {
        /// Its number.
        link: LinkId,
        /// Why.
        why: String,
    },
    /// A whole request from an inbound link.
    Request {
        /// Its link.
        link: LinkId,
        /// The peer's session; 0 with `push`.
        session: u32,
        /// No reply wanted.
        push: bool,
        /// Where it goes.
        target: Target,
        /// The packed arguments.
        data: Vec<u8>,
    },
    /// A whole reply on an outbound link.
    Reply {
        /// Its link.
        link: LinkId,
        /// This node's session.
        session: u32,
        /// False for a remote error; `data` is then its text.
        ok: bool,
        /// The reply.
        data: Vec<u8>,
    },
}

/// Counters of the cluster, one per limit and refusal.
#[derive(Default, Debug)]
pub struct Counters {
    /// Inbound connections accepted as links.
    pub accepted: AtomicU64,
    /// Inbound connections refused: too many links (`cluster_max_links`).
    pub refused_links: AtomicU64,
    /// Inbound connections that failed or timed out in the handshake, or
    /// came in plain TCP from an address no plaintext peer has.
    pub refused_handshakes: AtomicU64,
    /// Links closed for breaking the wire protocol or a multi-part limit.
    pub protocol_errors: AtomicU64,
    /// Requests refused because they addressed something not registered.
    pub refused_addresses: AtomicU64,
    /// Requests refused because they declared more than `cluster_max_message`.
    pub too_large: AtomicU64,
    /// Requests refused because the link had `cluster_max_inflight` waiting.
    pub busy: AtomicU64,
    /// Requests refused, or inbound links closed, because
    /// `cluster_max_queued` bytes waited to be written.
    pub slow_links: AtomicU64,
    /// Pushes from other nodes that their target's mailbox refused.
    pub dropped_pushes: AtomicU64,
    /// Requests failed because their node had no address for too long
    /// (`cluster_max_waiting`) or was marked down.
    pub unreachable: AtomicU64,
}

impl Counters {
    /// Every counter by name.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        vec![
            ("accepted", g(&self.accepted)),
            ("refused_links", g(&self.refused_links)),
            ("refused_handshakes", g(&self.refused_handshakes)),
            ("protocol_errors", g(&self.protocol_errors)),
            ("refused_addresses", g(&self.refused_addresses)),
            ("too_large", g(&self.too_large)),
            ("busy", g(&self.busy)),
            ("slow_links", g(&self.slow_links)),
            ("dropped_pushes", g(&self.dropped_pushes)),
            ("unreachable", g(&self.unreachable)),
        ]
    }
}

/// Why packets could not be queued on a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendFailure {
    /// More than this many bytes already wait (`cluster_max_queued`).
    Backlog(usize),
    /// The link's writer has ended.
    Closed,
}

impl std::fmt::Display for SendFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SendFailure::Backlog(max) => write!(
                f,
                "more than {max} bytes wait to be written (config cluster_max_queued)"
            ),
            SendFailure::Closed => f.write_str("its connection has ended"),
        }
    }
}

/// What a link's tasks and `clusterd` share.
pub struct LinkShared {
    tx: mpsc::UnboundedSender<Vec<u8>>,
    queued: AtomicUsize,
    /// Requests read from this link and not yet answered or delivered.
    pub inflight: AtomicUsize,
    /// Bytes of requests read from this link that clusterd has not yet
    /// handed to their target (bounded by `cluster_max_queued`).
    unread: AtomicUsize,
    /// The service that takes this link's requests (its agent), once known.
    owner: AtomicU32,
    /// Events for the owner, one wake-up message each.
    inbox: Mutex<VecDeque<Event>>,
    /// Lets the reader start once the owner is set.
    ready: tokio::sync::Notify,
    tasks: Mutex<Vec<AbortHandle>>,
    stopped: AtomicBool,
}

impl LinkShared {
    fn new() -> (Arc<LinkShared>, mpsc::UnboundedReceiver<Vec<u8>>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Arc::new(LinkShared {
                tx,
                queued: AtomicUsize::new(0),
                inflight: AtomicUsize::new(0),
                unread: AtomicUsize::new(0),
                owner: AtomicU32::new(0),
                inbox: Mutex::new(VecDeque::new()),
                ready: tokio::sync::Notify::new(),
                tasks: Mutex::new(Vec::new()),
                stopped: AtomicBool::new(false),
            }),
            rx,
        )
    }

    /// Queues packets for the writer. An error means the link must go:
    /// more than `max` bytes would be waiting, or the writer has ended.
    pub fn send(&self, bytes: Vec<u8>, max: usize) -> Result<(), SendFailure> {
        let n = bytes.len();
        if self.queued.fetch_add(n, Ordering::Relaxed) + n > max {
            self.queued.fetch_sub(n, Ordering::Relaxed);
            return Err(SendFailure::Backlog(max));
        }
        self.tx.send(bytes).map_err(|_| SendFailure::Closed)
    }

    /// Makes `task` one of the link's, stopped with it.
    fn adopt(&self, task: AbortHandle) {
        let mut tasks = self.tasks.lock();
        if self.stopped.load(Ordering::Relaxed) {
            task.abort();
        } else {
            tasks.push(task);
        }
    }

    /// Stops the link's tasks, which closes its connection.
    pub fn stop(&self) {
        let mut tasks = self.tasks.lock();
        self.stopped.store(true, Ordering::Relaxed);
        for t in tasks.drain(..) {
            t.abort();
        }
    }

    /// Makes `owner` the service that takes this link's requests, and lets
    /// the link's reader start.
    pub fn set_owner(&self, owner: Handle) {
        self.owner.store(owner.0, Ordering::Release);
        self.ready.notify_one();
    }

    /// The next event for the owner.
    pub fn take(&self) -> Option<Event> {
        self.inbox.lock().pop_front()
    }

    /// Bytes of a request that clusterd has taken off this link.
    pub fn delivered(&self, n: usize) {
        self.unread.fetch_sub(n, Ordering::Relaxed);
    }

    /// One request of this link is done with.
    pub fn done(&self) {
        self.inflight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What every task of the cluster reaches: the node, `clusterd`, and the
/// events waiting for it.
pub struct Hub {
    node: NodeRef,
    clusterd: Handle,
    events: Mutex<VecDeque<Event>>,
    next_link: AtomicU32,
    open_inbound: AtomicUsize,
    handshaking: AtomicUsize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    per_peer: Mutex<HashMap<String, usize>>,
    /// The settings.
    pub config: ClusterConfig,
    /// The TLS identity, if any.
    pub tls: Option<Tls>,
    /// The node map: name → `host:port`, `None` for a node marked down.
    pub map: RwLock<BTreeMap<String, Option<String>>>,
    /// Names registered with `cluster.register`, reachable as `@name`.
    pub registered: RwLock<BTreeMap<String, Handle>>,
    /// The counters.
    pub counters: Counters,
}

impl Hub {
    /// A hub for `clusterd`.
    pub fn new(node: NodeRef, clusterd: Handle, config: ClusterConfig, tls: Option<Tls>) -> Hub {
        Hub {
            node,
            clusterd,
            events: Mutex::new(VecDeque::new()),
            next_link: AtomicU32::new(1),
            open_inbound: AtomicUsize::new(0),
            handshaking: AtomicUsize::new(0),
            per_ip: Mutex::new(HashMap::new()),
            per_peer: Mutex::new(HashMap::new()),
            config,
            tls,
            map: RwLock::new(BTreeMap::new()),
            registered: RwLock::new(BTreeMap::new()),
            counters: Counters::default(),
        }
    }

    /// A fresh link number.
    pub fn new_link(&self) -> LinkId {
        self.next_link.fetch_add(1, Ordering::Relaxed)
    }

    /// Hands an event to the owner of `shared` (its agent), the same way.
    pub fn emit_to(&self, shared: &LinkShared, e: Event) -> bool {
        shared.inbox.lock().push_back(e);
        let owner = Handle(shared.owner.load(Ordering::Acquire));
        self.node
            .push_event(owner, ptype::SOCKET, 0, Payload::empty())
    }

    /// Hands an event to `clusterd`: one wake-up message per event, so
    /// `clusterd` takes exactly one event per message and none is missed.
    pub fn emit(&self, e: Event) -> bool {
        self.events.lock().push_back(e);
        self.node
            .push_event(self.clusterd, ptype::SOCKET, 0, Payload::empty())
    }

    /// The next event, for `clusterd`.
    pub fn take(&self) -> Option<Event> {
        self.events.lock().pop_front()
    }

    fn refuse_link(&self, peer: SocketAddr, name: &str, why: &str) {
        self.node.audit_refused_by(
            &format!("cluster peer {name} ({peer})"),
            "cluster link",
            "clusterd",
            why,
        );
    }

    fn refuse(&self, peer: SocketAddr, why: &str) {
        self.counters
            .refused_handshakes
            .fetch_add(1, Ordering::Relaxed);
        self.node.audit_refused_by(
            &format!("cluster peer {peer}"),
            "cluster link",
            "clusterd",
            why,
        );
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

/// Writes what `clusterd` queues, several packets per write when they wait.
async fn write_loop<W: AsyncWrite + Unpin>(
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
async fn read_requests<R: AsyncRead + Unpin>(
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
        let unread = shared.unread.load(Ordering::Relaxed);
        if unread + data.len() > hub.config.max_queued {
            // clusterd is behind on this link: wait for it rather than read
            // more (TCP then slows the peer down).
            while shared.unread.load(Ordering::Relaxed) + data.len() > hub.config.max_queued
                && shared.unread.load(Ordering::Relaxed) > 0
            {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            }
        }
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

fn protocol(hub: &Hub, why: String) -> String {
    hub.counters.protocol_errors.fetch_add(1, Ordering::Relaxed);
    why
}

/// Reads replies from an outbound link until it ends; returns why.
async fn read_replies<R: AsyncRead + Unpin>(r: R, link: LinkId, hub: &Hub) -> String {
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
                read_replies(r, link, &hub).await
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

/// Accepts links on `listener` until aborted.
pub fn listen(hub: &Arc<Hub>, rt: &tokio::runtime::Handle, listener: TcpListener) -> AbortHandle {
    let hub = hub.clone();
    rt.spawn(async move {
        loop {
            let Ok((tcp, peer)) = listener.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            };
            // Two slots before any byte is read: one of the connections from
            // this address, one of those still in their handshake. Each is
            // given back however the connection ends.
            let slots = Slot::take(&hub, SlotKind::Ip(peer.ip()))
                .and_then(|ip| Ok((ip, Slot::take(&hub, SlotKind::Handshake)?)));
            let (ip_slot, handshake) = match slots {
                Ok(s) => s,
                Err(why) => {
                    hub.counters.refused_links.fetch_add(1, Ordering::Relaxed);
                    hub.node.audit_refused_by(
                        &format!("cluster peer {peer}"),
                        "cluster link",
                        "clusterd",
                        &why,
                    );
                    continue;
                }
            };
            let hub = hub.clone();
            tokio::spawn(async move {
                let limit = hub.config.handshake_timeout;
                let admitted = tokio::time::timeout(limit, admit(&hub, tcp, peer)).await;
                drop(handshake);
                match admitted {
                    Ok(Ok((io, name))) => {
                        // The link slots are taken by name, once it is known.
                        let slots = Slot::take(&hub, SlotKind::Link)
                            .and_then(|l| Ok([l, Slot::take(&hub, SlotKind::Peer(name.clone()))?]));
                        match slots {
                            Ok(slots) => run_inbound(hub, (ip_slot, slots), io, name).await,
                            Err(why) => {
                                hub.counters.refused_links.fetch_add(1, Ordering::Relaxed);
                                hub.refuse_link(peer, &name, &why);
                            }
                        }
                    }
                    Ok(Err(why)) => hub.refuse(peer, &why),
                    Err(_) => hub.refuse(
                        peer,
                        "did not finish its handshake in time (config cluster_handshake_timeout)",
                    ),
                }
            });
        }
    })
    .abort_handle()
}

/// What an inbound connection holds a share of.
enum SlotKind {
    /// Connections from one address (`cluster_max_per_ip`).
    Ip(IpAddr),
    /// Connections still in their handshake (`cluster_max_handshakes`).
    Handshake,
    /// Inbound links (`cluster_max_links`).
    Link,
    /// Inbound links of one peer (`cluster_max_links_per_peer`).
    Peer(String),
}

/// A share of a limit, given back when dropped, however the connection
/// ends.
struct Slot {
    hub: Arc<Hub>,
    kind: SlotKind,
}

impl Slot {
    fn take(hub: &Arc<Hub>, kind: SlotKind) -> Result<Slot, String> {
        let c = &hub.config;
        let (taken, why) = match &kind {
            SlotKind::Ip(ip) => {
                let mut per_ip = hub.per_ip.lock();
                let n = per_ip.entry(*ip).or_insert(0);
                let ok = *n < c.max_per_ip;
                if ok {
                    *n += 1;
                }
                (
                    ok,
                    format!(
                        "{} connections from {ip} are open (config cluster_max_per_ip)",
                        c.max_per_ip
                    ),
                )
            }
            SlotKind::Handshake => (
                bump(&hub.handshaking, c.max_handshakes),
                format!(
                    "{} connections are in their handshake (config cluster_max_handshakes)",
                    c.max_handshakes
                ),
            ),
            SlotKind::Link => (
                bump(&hub.open_inbound, c.max_links),
                format!("{} links are open (config cluster_max_links)", c.max_links),
            ),
            SlotKind::Peer(name) => {
                let mut per_peer = hub.per_peer.lock();
                let n = per_peer.entry(name.clone()).or_insert(0);
                let ok = *n < c.max_links_per_peer;
                if ok {
                    *n += 1;
                }
                (
                    ok,
                    format!(
                        "{name} has {} links open (config cluster_max_links_per_peer)",
                        c.max_links_per_peer
                    ),
                )
            }
        };
        if taken {
            Ok(Slot {
                hub: hub.clone(),
                kind,
            })
        } else {
            Err(why)
        }
    }
}

/// Adds one to `n` unless it is at `max`.
fn bump(n: &AtomicUsize, max: usize) -> bool {
    n.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
        (v < max).then_some(v + 1)
    })
    .is_ok()
}

impl Drop for Slot {
    fn drop(&mut self) {
        let hub = &self.hub;
        match &self.kind {
            SlotKind::Ip(ip) => {
                let mut per_ip = hub.per_ip.lock();
                if let Some(n) = per_ip.get_mut(ip) {
                    *n -= 1;
                    if *n == 0 {
                        per_ip.remove(ip);
                    }
                }
            }
            SlotKind::Handshake => {
                hub.handshaking.fetch_sub(1, Ordering::Relaxed);
            }
            SlotKind::Link => {
                hub.open_inbound.fetch_sub(1, Ordering::Relaxed);
            }
            SlotKind::Peer(name) => {
                let mut per_peer = hub.per_peer.lock();
                if let Some(n) = per_peer.get_mut(name) {
                    *n -= 1;
                    if *n == 0 {
                        per_peer.remove(name);
                    }
                }
            }
        }
    }
}

async fn run_inbound(hub: Arc<Hub>, slots: (Slot, [Slot; 2]), io: Box<dyn Io>, peer: String) {
    hub.counters.accepted.fetch_add(1, Ordering::Relaxed);
    let link = hub.new_link();
    let (shared, rx) = LinkShared::new();
    let (r, w) = tokio::io::split(io);
    let writer = tokio::spawn(write_loop(w, rx, shared.clone()));
    shared.adopt(writer.abort_handle());
    let accepted = Event::Accepted {
        link,
        peer,
        shared: shared.clone(),
    };
    if !hub.emit(accepted) {
        shared.stop();
        return;
    }
    // The reader starts after `clusterd` has heard of the link, so no
    // request of it can arrive first.
    let reader_shared = shared.clone();
    let reader = tokio::spawn(async move {
        let _slots = slots;
        let why = read_requests(r, link, &reader_shared, &hub).await;
        reader_shared.stop();
        hub.emit(Event::Down { link, why });
    });
    shared.adopt(reader.abort_handle());
}

/// Checks a fresh connection: TLS with a signed certificate, or plain TCP
/// from a plaintext peer's address. Returns the stream and the peer's name.
async fn admit(
    hub: &Hub,
    tcp: TcpStream,
    peer: SocketAddr,
) -> Result<(Box<dyn Io>, String), String> {
    let _ = tcp.set_nodelay(true);
    // A TLS handshake record starts 16 03 01 or 16 03 03. A skynet
    // cluster packet starts with its length and then its type; the only
    // types with those values are a multi-part header (always 13 bytes
    // long, not 0x1603) and a last part (never first), so three bytes tell
    // the two apart.
    let mut first = [0u8; 3];
    loop {
        let n = tcp.peek(&mut first).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed before saying anything".into());
        }
        if n == 3 || first[..n] != [0x16, 0x03][..n.min(2)] {
            break;
        }
        // Part of a TLS record so far; the handshake timeout bounds this.
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    if first[0] == 0x16 && first[1] == 0x03 && matches!(first[2], 0x01 | 0x03) {
        if let Some(tls) = &hub.tls {
            let s = tls
                .acceptor
                .accept(tcp)
                .await
                .map_err(|e| format!("TLS handshake failed: {e}"))?;
            let names: Vec<String> = hub.map.read().keys().cloned().collect();
            let name = s
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|c| tls::peer_name(c, &names))
                .unwrap_or_else(|| format!("unnamed peer {peer}"));
            return Ok((Box::new(s), name));
        }
    }
    match plaintext_peer(hub, peer.ip()).await {
        Some(name) => Ok((Box::new(tcp), name)),
        None => Err(if hub.tls.is_some() {
            "spoke plain TCP from an address no node in cluster_plaintext has".into()
        } else {
            "this node has no TLS identity, and the address is no node's in cluster_plaintext"
                .into()
        }),
    }
}

/// The plaintext peer whose mapped address is `ip`, if any.
async fn plaintext_peer(hub: &Hub, ip: IpAddr) -> Option<String> {
    let candidates: Vec<(String, String)> = {
        let map = hub.map.read();
        hub.config
            .plaintext
            .iter()
            .filter_map(|n| Some((n.clone(), map.get(n)?.clone()?)))
            .collect()
    };
    for (name, addr) in candidates {
        // An address written as an IP needs no lookup; only host names do.
        if let Ok(a) = addr.parse::<SocketAddr>() {
            if a.ip() == ip {
                return Some(name);
            }
            continue;
        }
        if let Ok(addrs) = tokio::net::lookup_host(addr.as_str()).await {
            if addrs.into_iter().any(|a| a.ip() == ip) {
                return Some(name);
            }
        }
    }
    None
}
