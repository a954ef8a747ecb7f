//! What the cluster's parts share: the hub every task reaches (the node,
//! clusterd, the map, the registered names, the counters), each link's
//! shared state, and the events the I/O side hands to services.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use skyhold_core::{ptype, Handle, NodeRef, Payload};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use crate::config::ClusterConfig;
use crate::tls::Tls;
use crate::wire::Address;

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
    pub(crate) fn of(a: Address<'_>) -> Target {
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

/// A packed string value as text (lossily), or None for anything else.
pub fn text(v: Option<&skyhold_pack::Value>) -> Option<String> {
    match v? {
        skyhold_pack::Value::String(s) => Some(String::from_utf8_lossy(s).into_owned()),
        _ => None,
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
    /// An outbound link connected (and finished TLS, if it uses it).
    Up {
        /// Its number.
        link: LinkId,
    },
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
    /// (`cluster_max_waiting`), was marked down, or could not be reached
    /// (while it is, calls fail at once until the next attempt).
    pub unreachable: AtomicU64,
    /// Outbound links that connected.
    pub links_up: AtomicU64,
    /// Links that closed after they were up, for any reason.
    pub links_down: AtomicU64,
    /// Attempts to reach a node that failed (refused, timed out, TLS).
    pub connect_failures: AtomicU64,
    /// Links closed because they read nothing for
    /// `cluster_heartbeat_timeout`.
    pub heartbeat_timeouts: AtomicU64,
    /// Calls failed because their link closed before the reply came.
    pub calls_failed_by_link: AtomicU64,
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
            ("links_up", g(&self.links_up)),
            ("links_down", g(&self.links_down)),
            ("connect_failures", g(&self.connect_failures)),
            ("heartbeat_timeouts", g(&self.heartbeat_timeouts)),
            ("calls_failed_by_link", g(&self.calls_failed_by_link)),
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
    pub(crate) tx: mpsc::UnboundedSender<Vec<u8>>,
    pub(crate) queued: AtomicUsize,
    /// Requests read from this link and not yet answered or delivered.
    pub inflight: AtomicUsize,
    /// Bytes of requests read from this link that clusterd has not yet
    /// handed to their target (bounded by `cluster_max_queued`).
    pub(crate) unread: AtomicUsize,
    /// The service that takes this link's requests (its agent), once known.
    pub(crate) owner: AtomicU32,
    /// Events for the owner, one wake-up message each.
    pub(crate) inbox: Mutex<VecDeque<Event>>,
    /// Lets the reader start once the owner is set.
    pub(crate) ready: tokio::sync::Notify,
    /// Wakes the reader when its service has taken some of `unread`.
    pub(crate) room: tokio::sync::Notify,
    pub(crate) tasks: Mutex<Vec<AbortHandle>>,
    pub(crate) stopped: AtomicBool,
    /// The last wire session this node used on the link (outbound).
    next_session: AtomicU32,
    /// The session of the heartbeat waiting for its answer, or 0.
    pub(crate) ping: AtomicU32,
    /// When the link last read a byte, in milliseconds of [`Hub::now_ms`].
    pub(crate) last_read: AtomicU64,
    /// Inbound: the peer has sent a heartbeat, so it will keep sending them.
    pub(crate) pinged: AtomicBool,
}

impl LinkShared {
    pub(crate) fn new() -> (Arc<LinkShared>, mpsc::UnboundedReceiver<Vec<u8>>) {
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
                room: tokio::sync::Notify::new(),
                tasks: Mutex::new(Vec::new()),
                stopped: AtomicBool::new(false),
                next_session: AtomicU32::new(0),
                ping: AtomicU32::new(0),
                last_read: AtomicU64::new(0),
                pinged: AtomicBool::new(false),
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

    /// The next wire session: 1 up to `i32::MAX`, then 1 again, as skynet's
    /// sender numbers them. Calls and heartbeats share the sequence, so a
    /// heartbeat's answer is never taken for a call's.
    pub fn next_session(&self) -> u32 {
        let step = |s: u32| if s >= i32::MAX as u32 { 1 } else { s + 1 };
        let prev = self
            .next_session
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |s| Some(step(s)))
            .unwrap_or_else(|s| s);
        step(prev)
    }

    /// Notes that the link read something now.
    pub(crate) fn heard(&self, hub: &Hub) {
        self.last_read.store(hub.now_ms(), Ordering::Relaxed);
    }

    /// How long the link has read nothing.
    pub(crate) fn silent_for(&self, hub: &Hub) -> std::time::Duration {
        let last = self.last_read.load(Ordering::Relaxed);
        std::time::Duration::from_millis(hub.now_ms().saturating_sub(last))
    }

    /// Makes `task` one of the link's, stopped with it.
    pub(crate) fn adopt(&self, task: AbortHandle) {
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
        self.room.notify_one();
    }

    /// One request of this link is done with.
    pub fn done(&self) {
        self.inflight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// What every task of the cluster reaches: the node, `clusterd`, and the
/// events waiting for it.
pub struct Hub {
    pub(crate) node: NodeRef,
    pub(crate) clusterd: Handle,
    pub(crate) events: Mutex<VecDeque<Event>>,
    pub(crate) next_link: AtomicU32,
    pub(crate) open_inbound: AtomicUsize,
    pub(crate) handshaking: AtomicUsize,
    pub(crate) per_ip: Mutex<HashMap<IpAddr, usize>>,
    pub(crate) per_peer: Mutex<HashMap<String, usize>>,
    epoch: std::time::Instant,
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
            epoch: std::time::Instant::now(),
            config,
            tls,
            map: RwLock::new(BTreeMap::new()),
            registered: RwLock::new(BTreeMap::new()),
            counters: Counters::default(),
        }
    }

    /// Milliseconds since the hub was made: the clock of links' last reads.
    pub fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
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

    /// An inbound connection refused for a limit on links; `who` names it.
    pub(crate) fn refuse_link(&self, who: &str, why: &str) {
        self.counters.refused_links.fetch_add(1, Ordering::Relaxed);
        self.audit_connection(who, why);
    }

    /// An inbound connection refused in its handshake.
    pub(crate) fn refuse(&self, peer: SocketAddr, why: &str) {
        self.counters
            .refused_handshakes
            .fetch_add(1, Ordering::Relaxed);
        self.audit_connection(&peer.to_string(), why);
    }

    fn audit_connection(&self, who: &str, why: &str) {
        self.node.audit_refused_by(
            &format!("cluster peer {who}"),
            "cluster link",
            "clusterd",
            why,
        );
    }
}
