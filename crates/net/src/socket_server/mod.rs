//! The socket server: TCP and UDP on its own I/O threads (tokio), with every
//! event delivered to the owning service as a PTYPE_SOCKET message from
//! handle 0, as skynet's socket thread does.
//!
//! Ownership (skynet has none, spec §7.3): a socket belongs to the service
//! that opened or accepted it. A freshly accepted connection may be claimed
//! once, with `start`, by the service its id was handed to (ids are random,
//! so only a service that was told the id can do so); after that only the
//! owner — or a service the owner delegated to, as the gate does for its
//! agents — may write, close or start it. Anything else needs the
//! `socket_takeover` grant and is audited.
//!
//! This module holds the server itself: the socket table, who owns what
//! and the checks on it, and the operations that act on any socket. TCP
//! lives in `tcp`, UDP in `udp`, and the bytes of an event in [`event`].

mod info;
mod tcp;
mod udp;

pub mod event;

pub use event::{encode_event, parse_udp_address, udp_address};
pub use info::{SocketInfo, SocketKind};

use bytes::Bytes;
use parking_lot::Mutex;
use skyhold_core::fasthash::IntMap;
use skyhold_core::{ptype, Handle, NodeRef};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::frame::HeaderLen;
use crate::limits::NetLimits;

/// Why a socket operation was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SocketError {
    /// No such socket.
    Invalid(i32),
    /// The caller does not own the socket (audited).
    NotOwner(i32),
    /// A limit was hit.
    Limit(String),
    /// The OS said no.
    Io(String),
}

impl std::fmt::Display for SocketError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SocketError::Invalid(id) => write!(f, "invalid socket {id}"),
            SocketError::NotOwner(id) => write!(
                f,
                "socket {id} belongs to another service (see the audit log)"
            ),
            SocketError::Limit(s) => f.write_str(s),
            SocketError::Io(s) => f.write_str(s),
        }
    }
}

impl std::error::Error for SocketError {}

enum Command {
    Start,
    Frame(HeaderLen, usize),
    Write(Bytes),
    Close,
    Shutdown,
    /// A UDP socket's new socket (reopened in its peer's family).
    UdpSocket(Arc<UdpSocket>),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Listener,
    Stream,
    Udp,
}

struct Entry {
    kind: Kind,
    owner: Handle,
    delegates: Vec<Handle>,
    /// True until the first `start`: an accepted connection may be claimed.
    claimable: bool,
    tx: Option<mpsc::UnboundedSender<Command>>,
    pending_bytes: Arc<AtomicUsize>,
    peer_ip: Option<std::net::IpAddr>,
    /// A connection's peer, for `info`.
    peer: Option<SocketAddr>,
    /// A listener's address, for `info`.
    local: Option<SocketAddr>,
    /// Bytes and times, for `info`.
    traffic: Arc<info::Traffic>,
    udp: Option<Arc<UdpSocket>>,
    udp_peer: Option<SocketAddr>,
    /// A UDP socket opened with no address that has not sent: `udp_connect`
    /// may reopen it in its peer's family.
    udp_unbound: bool,
}

impl Entry {
    fn new(kind: Kind, owner: Handle, tx: mpsc::UnboundedSender<Command>, epoch: Instant) -> Entry {
        Entry {
            kind,
            owner,
            delegates: Vec::new(),
            claimable: false,
            tx: Some(tx),
            pending_bytes: Arc::default(),
            peer_ip: None,
            peer: None,
            local: None,
            traffic: Arc::new(info::Traffic::new(epoch)),
            udp: None,
            udp_peer: None,
            udp_unbound: false,
        }
    }
}

/// Counters of the socket layer.
#[derive(Default, Debug)]
pub struct NetCounters {
    /// Connections accepted.
    pub accepted: AtomicU64,
    /// Connections refused by a limit (total, per-IP, rate).
    pub refused: AtomicU64,
    /// Connections closed because a send buffer passed its cap.
    pub slow_reader_closed: AtomicU64,
    /// Operations refused because the caller did not own the socket.
    pub not_owner: AtomicU64,
    /// Bytes read from connections and UDP sockets.
    pub bytes_read: AtomicU64,
    /// Bytes written to connections and UDP sockets.
    pub bytes_written: AtomicU64,
    /// Connections a WebSocket gate cut: opening not done in time
    /// (`socket_handshake_timeout`), a failed TLS or WebSocket handshake, a
    /// broken protocol rule, or too many messages a second.
    pub gate_cut: AtomicU64,
}

/// The socket server.
pub struct SocketServer {
    node: NodeRef,
    runtime: tokio::runtime::Runtime,
    /// By id. Ids are the runtime's own (a keyed hash of a counter), so the
    /// map uses the fast integer hash; `per_ip`, keyed by peers, does not.
    sockets: Mutex<IntMap<i32, Entry>>,
    per_ip: Mutex<HashMap<std::net::IpAddr, usize>>,
    ids: RandomState,
    next: AtomicU64,
    limits: NetLimits,
    /// When the server started: the clock of sockets' last reads and writes.
    epoch: Instant,
    /// Counters.
    pub counters: NetCounters,
}

impl SocketServer {
    /// Starts the I/O threads.
    pub fn launch(node: NodeRef, limits: NetLimits) -> Result<Arc<SocketServer>, String> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("skyhold-socket")
            .enable_all()
            .build()
            .map_err(|e| format!("socket thread: {e}"))?;
        Ok(Arc::new(SocketServer {
            node,
            runtime,
            sockets: Mutex::new(IntMap::default()),
            per_ip: Mutex::new(HashMap::new()),
            ids: RandomState::new(),
            next: AtomicU64::new(1),
            limits,
            epoch: Instant::now(),
            counters: NetCounters::default(),
        }))
    }

    /// The limits in force.
    pub fn limits(&self) -> &NetLimits {
        &self.limits
    }

    fn new_id(&self, sockets: &IntMap<i32, Entry>) -> i32 {
        loop {
            let n = self.next.fetch_add(1, Ordering::Relaxed);
            let id = (self.ids.hash_one(n) & 0x3fff_ffff) as i32;
            if id != 0 && !sockets.contains_key(&id) {
                return id;
            }
        }
    }

    /// Adds a socket under a fresh id.
    fn register(&self, entry: Entry) -> i32 {
        let mut sockets = self.sockets.lock();
        let id = self.new_id(&sockets);
        sockets.insert(id, entry);
        id
    }

    fn emit(&self, owner: Handle, kind: u8, id: i32, ud: i32, data: &[u8]) -> bool {
        self.node
            .push_event(owner, ptype::SOCKET, 0, encode_event(kind, id, ud, data))
    }

    /// The owner of a socket, if it exists.
    pub fn owner(&self, id: i32) -> Option<Handle> {
        self.sockets.lock().get(&id).map(|e| e.owner)
    }

    /// Checks that `caller` may act on `id` (`claim`: it is starting it).
    fn authorize(
        &self,
        caller: Handle,
        id: i32,
        what: &str,
        takeover: bool,
    ) -> Result<(), SocketError> {
        let mut sockets = self.sockets.lock();
        let e = sockets.get_mut(&id).ok_or(SocketError::Invalid(id))?;
        if e.owner == caller || e.delegates.contains(&caller) {
            return Ok(());
        }
        if what == "start" && e.claimable {
            e.owner = caller;
            e.delegates.clear();
            return Ok(());
        }
        if takeover {
            if what == "start" {
                e.owner = caller;
                e.delegates.clear();
            }
            return Ok(());
        }
        drop(sockets);
        self.counters.not_owner.fetch_add(1, Ordering::Relaxed);
        self.node.audit_refused(
            caller,
            "socket_takeover",
            &format!("socket {id} ({what})"),
            "the socket belongs to another service",
        );
        Err(SocketError::NotOwner(id))
    }

    fn remove(&self, id: i32) {
        let removed = self.sockets.lock().remove(&id);
        if let Some(ip) = removed.and_then(|e| e.peer_ip) {
            let mut per_ip = self.per_ip.lock();
            if let Some(n) = per_ip.get_mut(&ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    per_ip.remove(&ip);
                }
            }
        }
    }

    fn command(
        &self,
        caller: Handle,
        id: i32,
        what: &str,
        takeover: bool,
        cmd: Command,
    ) -> Result<(), SocketError> {
        self.authorize(caller, id, what, takeover)?;
        let sockets = self.sockets.lock();
        let e = sockets.get(&id).ok_or(SocketError::Invalid(id))?;
        if let Some(tx) = &e.tx {
            let _ = tx.send(cmd);
        }
        Ok(())
    }

    /// Makes a connection deliver whole frames (`FRAME` events) instead of
    /// raw data: a `header`-byte big-endian length, at most `max` bytes.
    pub fn set_framing(
        &self,
        caller: Handle,
        id: i32,
        header: HeaderLen,
        max: usize,
        takeover: bool,
    ) -> Result<(), SocketError> {
        self.command(caller, id, "frame", takeover, Command::Frame(header, max))
    }

    /// Starts reading (and claims an accepted connection for `caller`).
    pub fn start(&self, caller: Handle, id: i32, takeover: bool) -> Result<(), SocketError> {
        self.authorize(caller, id, "start", takeover)?;
        let mut sockets = self.sockets.lock();
        let e = sockets.get_mut(&id).ok_or(SocketError::Invalid(id))?;
        e.claimable = false;
        if let Some(tx) = &e.tx {
            let _ = tx.send(Command::Start);
        }
        if e.kind == Kind::Udp {
            drop(sockets);
            self.emit(caller, event::CONNECT, id, 0, b"");
        }
        Ok(())
    }

    /// Queues bytes to send. A connection whose unsent bytes pass the cap is
    /// closed (the reader is too slow or gone).
    pub fn write(
        &self,
        caller: Handle,
        id: i32,
        data: Bytes,
        takeover: bool,
    ) -> Result<(), SocketError> {
        self.authorize(caller, id, "write", takeover)?;
        let sockets = self.sockets.lock();
        let e = sockets.get(&id).ok_or(SocketError::Invalid(id))?;
        if e.kind == Kind::Udp {
            let (Some(sock), Some(peer)) = (e.udp.clone(), e.udp_peer) else {
                return Err(SocketError::Io("udp socket has no peer: use sendto".into()));
            };
            let traffic = e.traffic.clone();
            drop(sockets);
            self.counters
                .bytes_written
                .fetch_add(data.len() as u64, Ordering::Relaxed);
            self.runtime.spawn(async move {
                if let Ok(n) = sock.send_to(&data, peer).await {
                    traffic.did_write(n);
                }
            });
            return Ok(());
        }
        let n = data.len();
        let before = e.pending_bytes.fetch_add(n, Ordering::Relaxed);
        let owner = e.owner;
        if before + n > self.limits.max_send_buffer {
            let tx = e.tx.clone();
            drop(sockets);
            self.counters
                .slow_reader_closed
                .fetch_add(1, Ordering::Relaxed);
            self.node.log(
                owner,
                &format!(
                    "socket {id}: {} bytes unsent, more than the limit of {} (config socket_send_buffer): closed",
                    before + n,
                    self.limits.max_send_buffer
                ),
            );
            if let Some(tx) = tx {
                let _ = tx.send(Command::Shutdown);
            }
            return Err(SocketError::Limit(format!(
                "socket {id}: send buffer full; closed"
            )));
        }
        let warn_at = self.limits.send_warning;
        if before < warn_at && before + n >= warn_at {
            self.emit(owner, event::WARNING, id, ((before + n) / 1024) as i32, b"");
        }
        if let Some(tx) = &e.tx {
            let _ = tx.send(Command::Write(data));
        }
        Ok(())
    }

    /// Closes after sending what is queued.
    pub fn close(&self, caller: Handle, id: i32, takeover: bool) -> Result<(), SocketError> {
        self.command(caller, id, "close", takeover, Command::Close)
    }

    /// Closes at once.
    pub fn shutdown(&self, caller: Handle, id: i32, takeover: bool) -> Result<(), SocketError> {
        self.command(caller, id, "shutdown", takeover, Command::Shutdown)
    }

    /// Gives up ownership: the next `start` by anyone claims the socket.
    pub fn abandon(&self, caller: Handle, id: i32, takeover: bool) -> Result<(), SocketError> {
        self.authorize(caller, id, "abandon", takeover)?;
        if let Some(e) = self.sockets.lock().get_mut(&id) {
            e.claimable = true;
            e.delegates.clear();
        }
        Ok(())
    }

    /// Lets `delegate` write to and close the owner's socket (a gate lets
    /// the agent it forwards a client to answer that client).
    pub fn delegate(&self, caller: Handle, id: i32, delegate: Handle) -> Result<(), SocketError> {
        self.authorize(caller, id, "delegate", false)?;
        if let Some(e) = self.sockets.lock().get_mut(&id) {
            if !e.delegates.contains(&delegate) {
                e.delegates.push(delegate);
            }
        }
        Ok(())
    }

    /// Closes every socket a retired service owned.
    pub fn release_owner(&self, owner: Handle) {
        let ids: Vec<i32> = self
            .sockets
            .lock()
            .iter()
            .filter(|(_, e)| e.owner == owner)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            let _ = self.command(owner, id, "close", true, Command::Shutdown);
        }
    }

    /// Number of open sockets.
    pub fn open(&self) -> usize {
        self.sockets.lock().len()
    }
}
