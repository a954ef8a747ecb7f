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

use bytes::Bytes;
use parking_lot::Mutex;
use skyhold_core::fasthash::IntMap;
use skyhold_core::{ptype, Handle, NodeRef, Payload};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;

use crate::frame::{FrameDecoder, HeaderLen};
use crate::limits::NetLimits;

/// Counts bytes and frames per second against the inbound rate limits.
struct Inbound {
    window: tokio::time::Instant,
    bytes: usize,
    frames: u32,
}

impl Inbound {
    fn new() -> Self {
        Inbound {
            window: tokio::time::Instant::now(),
            bytes: 0,
            frames: 0,
        }
    }

    fn roll(&mut self) {
        let now = tokio::time::Instant::now();
        if now.duration_since(self.window) >= Duration::from_secs(1) {
            self.window = now;
            self.bytes = 0;
            self.frames = 0;
        }
    }

    fn add_bytes(&mut self, n: usize, limits: &NetLimits) -> Result<(), String> {
        self.roll();
        self.bytes += n;
        if self.bytes > limits.read_bytes_per_second {
            return Err(format!(
                "sent more than {} bytes in a second (config socket_read_rate)",
                limits.read_bytes_per_second
            ));
        }
        Ok(())
    }

    fn add_frame(&mut self, limits: &NetLimits) -> Result<(), String> {
        self.frames += 1;
        if self.frames > limits.frames_per_second {
            return Err(format!(
                "sent more than {} frames in a second (config socket_frame_rate)",
                limits.frames_per_second
            ));
        }
        Ok(())
    }
}

/// Socket event types, as skynet numbers them.
pub mod event {
    /// Data arrived (`ud` = byte count).
    pub const DATA: u8 = 1;
    /// Connected or started (`ud` = port for a listener).
    pub const CONNECT: u8 = 2;
    /// Closed.
    pub const CLOSE: u8 = 3;
    /// A connection was accepted (`id` = listener, `ud` = new id).
    pub const ACCEPT: u8 = 4;
    /// An error (text follows).
    pub const ERROR: u8 = 5;
    /// A UDP datagram (`ud` = size; data then the address blob).
    pub const UDP: u8 = 6;
    /// Bytes waiting to be sent passed a threshold (`ud` = KiB).
    pub const WARNING: u8 = 7;
    /// One complete frame of a framed connection (skyhold's; `ud` = size).
    pub const FRAME: u8 = 8;
}

/// Encodes an event as the PTYPE_SOCKET payload our Lua library reads:
/// `type:u8 id:i32le ud:i32le` then the data or text.
pub fn encode_event(kind: u8, id: i32, ud: i32, data: &[u8]) -> Payload {
    let mut v = Vec::with_capacity(9 + data.len());
    v.push(kind);
    v.extend_from_slice(&id.to_le_bytes());
    v.extend_from_slice(&ud.to_le_bytes());
    v.extend_from_slice(data);
    Payload::from(v)
}

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
    udp: Option<Arc<UdpSocket>>,
    udp_peer: Option<SocketAddr>,
}

impl Entry {
    fn new(kind: Kind, owner: Handle, tx: mpsc::UnboundedSender<Command>) -> Entry {
        Entry {
            kind,
            owner,
            delegates: Vec::new(),
            claimable: false,
            tx: Some(tx),
            pending_bytes: Arc::default(),
            peer_ip: None,
            udp: None,
            udp_peer: None,
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

    /// Listens on `host:port`; returns the socket id and the bound address.
    pub fn listen(
        self: &Arc<Self>,
        owner: Handle,
        host: &str,
        port: u16,
        _backlog: u32,
    ) -> Result<(i32, SocketAddr), SocketError> {
        let addr = format!("{host}:{port}");
        let listener = self
            .runtime
            .block_on(TcpListener::bind(&addr))
            .map_err(|e| SocketError::Io(format!("Listen error: {addr}: {e}")))?;
        self.add_listener(owner, listener)
    }

    /// Takes over a listener bound elsewhere (a native service binds while
    /// it is being launched, so clients can connect as soon as the launch
    /// returns); returns its socket id and address.
    pub fn adopt_listener(
        self: &Arc<Self>,
        owner: Handle,
        listener: std::net::TcpListener,
    ) -> Result<(i32, SocketAddr), SocketError> {
        listener
            .set_nonblocking(true)
            .map_err(|e| SocketError::Io(e.to_string()))?;
        let _guard = self.runtime.enter();
        let listener =
            TcpListener::from_std(listener).map_err(|e| SocketError::Io(e.to_string()))?;
        self.add_listener(owner, listener)
    }

    fn add_listener(
        self: &Arc<Self>,
        owner: Handle,
        listener: TcpListener,
    ) -> Result<(i32, SocketAddr), SocketError> {
        let local = listener
            .local_addr()
            .map_err(|e| SocketError::Io(e.to_string()))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let id = self.register(Entry::new(Kind::Listener, owner, tx));
        let me = self.clone();
        self.runtime
            .spawn(async move { me.accept_loop(id, listener, rx).await });
        Ok((id, local))
    }

    async fn accept_loop(
        self: Arc<Self>,
        id: i32,
        listener: TcpListener,
        mut rx: mpsc::UnboundedReceiver<Command>,
    ) {
        // A listener accepts only once started (skynet: socket.start(listen_id)).
        let mut started = false;
        let mut window_start = tokio::time::Instant::now();
        let mut window_accepts = 0u32;
        loop {
            if !started {
                match rx.recv().await {
                    Some(Command::Start) => {
                        started = true;
                        continue;
                    }
                    Some(Command::Close) | Some(Command::Shutdown) | None => break,
                    Some(Command::Write(_)) | Some(Command::Frame(..)) => continue,
                }
            }
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(Command::Close) | Some(Command::Shutdown) | None => break,
                    _ => {}
                },
                accepted = listener.accept() => {
                    let Ok((stream, peer)) = accepted else { continue };
                    let now = tokio::time::Instant::now();
                    if now.duration_since(window_start) >= Duration::from_secs(1) {
                        window_start = now;
                        window_accepts = 0;
                    }
                    window_accepts += 1;
                    if let Err(why) = self.admit(peer, window_accepts) {
                        self.counters.refused.fetch_add(1, Ordering::Relaxed);
                        if let Some(owner) = self.owner(id) {
                            self.node.log(owner, &format!("socket: refused {peer}: {why}"));
                        }
                        drop(stream);
                        continue;
                    }
                    self.counters.accepted.fetch_add(1, Ordering::Relaxed);
                    let _ = stream.set_nodelay(true);
                    let Some(owner) = self.owner(id) else { break };
                    let new_id = self.add_stream(owner, stream, peer, true);
                    self.emit(owner, event::ACCEPT, id, new_id, peer.to_string().as_bytes());
                }
            }
        }
        self.remove(id);
    }

    fn admit(&self, peer: SocketAddr, accepts_this_second: u32) -> Result<(), String> {
        if accepts_this_second > self.limits.accepts_per_second {
            return Err(format!(
                "more than {} accepts per second (config socket_accept_rate)",
                self.limits.accepts_per_second
            ));
        }
        let total = self
            .sockets
            .lock()
            .values()
            .filter(|e| e.kind == Kind::Stream)
            .count();
        if total >= self.limits.max_connections {
            return Err(format!(
                "{total} connections open (config socket_max_connections)"
            ));
        }
        let mut per_ip = self.per_ip.lock();
        let n = per_ip.entry(peer.ip()).or_insert(0);
        if *n >= self.limits.max_connections_per_ip {
            return Err(format!(
                "{n} connections from {} (config socket_max_per_ip)",
                peer.ip()
            ));
        }
        *n += 1;
        Ok(())
    }

    fn add_stream(
        self: &Arc<Self>,
        owner: Handle,
        stream: TcpStream,
        peer: SocketAddr,
        accepted: bool,
    ) -> i32 {
        let (tx, rx) = mpsc::unbounded_channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let mut entry = Entry::new(Kind::Stream, owner, tx);
        entry.claimable = accepted;
        entry.pending_bytes = pending.clone();
        entry.peer_ip = accepted.then_some(peer.ip());
        let id = self.register(entry);
        let me = self.clone();
        self.runtime
            .spawn(async move { me.stream_task(id, stream, rx, pending, accepted).await });
        id
    }

    async fn stream_task(
        self: Arc<Self>,
        id: i32,
        stream: TcpStream,
        mut rx: mpsc::UnboundedReceiver<Command>,
        pending: Arc<AtomicUsize>,
        accepted: bool,
    ) {
        let (mut reader, mut writer) = stream.into_split();
        // An accepted connection reads nothing until it is started.
        let mut started = !accepted;
        if started {
            if let Some(owner) = self.owner(id) {
                self.emit(owner, event::CONNECT, id, 0, b"");
            }
        }
        let mut buf = vec![0u8; 64 * 1024];
        let mut reason: Option<String> = None;
        let idle = self.limits.idle_timeout;
        let mut framing: Option<FrameDecoder> = None;
        let mut frame_deadline: Option<tokio::time::Instant> = None;
        let mut inbound = Inbound::new();
        // One idle timer for the connection's life: pushed back only when it
        // fires early, rather than made anew (and registered with the timer
        // wheel) on every pass of the loop.
        let mut last_activity = tokio::time::Instant::now();
        let mut timer_woke = false;
        let idle_timer = tokio::time::sleep(idle);
        tokio::pin!(idle_timer);
        'conn: while let Some(owner) = self.owner(id) {
            // Every pass is activity but the one the idle timer caused.
            if !std::mem::take(&mut timer_woke) {
                last_activity = tokio::time::Instant::now();
            }
            // Back-pressure: while the owner has a long queue, stop reading.
            let paused =
                !started || self.node.queued(owner).unwrap_or(0) > self.limits.owner_queue_pause;
            let deadline = frame_deadline;
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(Command::Start) => {
                        if !started {
                            started = true;
                            if let Some(o) = self.owner(id) {
                                self.emit(o, event::CONNECT, id, 0, b"");
                            }
                        }
                    }
                    Some(Command::Frame(header, max)) => {
                        framing = Some(FrameDecoder::new(header, max));
                    }
                    Some(Command::Write(data)) => {
                        let n = data.len();
                        let r = writer.write_all(&data).await;
                        pending.fetch_sub(n, Ordering::Relaxed);
                        if let Err(e) = r {
                            reason = Some(e.to_string());
                            break;
                        }
                    }
                    Some(Command::Close) => {
                        // Graceful: flush what was queued, then close.
                        while let Ok(Command::Write(data)) = rx.try_recv() {
                            let _ = writer.write_all(&data).await;
                        }
                        let _ = writer.shutdown().await;
                        break;
                    }
                    Some(Command::Shutdown) | None => break,
                },
                r = reader.read(&mut buf), if !paused => match r {
                    Ok(0) => break,
                    Ok(n) => {
                        if let Err(why) = inbound.add_bytes(n, &self.limits) {
                            reason = Some(why);
                            break;
                        }
                        let Some(decoder) = framing.as_mut() else {
                            if !self.emit(owner, event::DATA, id, n as i32, &buf[..n]) {
                                break;
                            }
                            continue;
                        };
                        decoder.feed(&buf[..n]);
                        loop {
                            match decoder.next_frame() {
                                Ok(Some(frame)) => {
                                    if let Err(why) = inbound.add_frame(&self.limits) {
                                        reason = Some(why);
                                        break 'conn;
                                    }
                                    if !self.emit(owner, event::FRAME, id, frame.len() as i32, &frame) {
                                        break 'conn;
                                    }
                                }
                                Ok(None) => break,
                                Err(e) => {
                                    reason = Some(format!("{e} (config socket_max_frame)"));
                                    break 'conn;
                                }
                            }
                        }
                        frame_deadline = if decoder.buffered() > 0 {
                            frame_deadline.or_else(|| Some(tokio::time::Instant::now() + self.limits.frame_timeout))
                        } else {
                            None
                        };
                    }
                    Err(e) => {
                        reason = Some(e.to_string());
                        break;
                    }
                },
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)), if deadline.is_some() => {
                    reason = Some(format!(
                        "a frame was not completed within {} s (config socket_frame_timeout)",
                        self.limits.frame_timeout.as_secs()
                    ));
                    break;
                },
                _ = &mut idle_timer, if started => {
                    if last_activity.elapsed() < idle {
                        idle_timer.as_mut().reset(last_activity + idle);
                        timer_woke = true;
                        continue;
                    }
                    reason = Some(format!("idle for {} s (config socket_idle_timeout)", idle.as_secs()));
                    break;
                },
                _ = tokio::time::sleep(Duration::from_millis(10)), if started && paused => {}
            }
        }
        if let Some(owner) = self.owner(id) {
            if let Some(r) = &reason {
                self.emit(owner, event::ERROR, id, 0, r.as_bytes());
            }
            self.emit(owner, event::CLOSE, id, 0, b"");
        }
        self.remove(id);
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

    /// Connects to `host:port`; the CONNECT (or ERROR and CLOSE) event follows.
    pub fn connect(
        self: &Arc<Self>,
        owner: Handle,
        host: &str,
        port: u16,
    ) -> Result<i32, SocketError> {
        let addr = format!("{host}:{port}");
        let stream = self
            .runtime
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(&addr)).await
            })
            .map_err(|_| SocketError::Io(format!("connect {addr}: timed out")))?
            .map_err(|e| SocketError::Io(format!("connect {addr}: {e}")))?;
        let _ = stream.set_nodelay(true);
        let peer = stream
            .peer_addr()
            .map_err(|e| SocketError::Io(e.to_string()))?;
        Ok(self.add_stream(owner, stream, peer, false))
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
            drop(sockets);
            self.runtime.spawn(async move {
                let _ = sock.send_to(&data, peer).await;
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

    /// Opens a UDP socket bound to `host:port` (port 0: any); returns its
    /// id and the address it is bound to.
    pub fn udp(
        self: &Arc<Self>,
        owner: Handle,
        host: &str,
        port: u16,
    ) -> Result<(i32, SocketAddr), SocketError> {
        let addr = format!("{host}:{port}");
        let sock = self
            .runtime
            .block_on(UdpSocket::bind(&addr))
            .map_err(|e| SocketError::Io(format!("udp {addr}: {e}")))?;
        let local = sock
            .local_addr()
            .map_err(|e| SocketError::Io(e.to_string()))?;
        let sock = Arc::new(sock);
        let (tx, mut rx) = mpsc::unbounded_channel::<Command>();
        let mut entry = Entry::new(Kind::Udp, owner, tx);
        entry.udp = Some(sock.clone());
        let id = self.register(entry);
        let me = self.clone();
        self.runtime.spawn(async move {
            let mut buf = vec![0u8; 65536];
            loop {
                tokio::select! {
                    cmd = rx.recv() => match cmd {
                        Some(Command::Close) | Some(Command::Shutdown) | None => break,
                        _ => {}
                    },
                    r = sock.recv_from(&mut buf) => {
                        let Ok((n, from)) = r else { break };
                        let Some(owner) = me.owner(id) else { break };
                        let mut data = buf[..n].to_vec();
                        data.extend_from_slice(&udp_address(from));
                        me.emit(owner, event::UDP, id, n as i32, &data);
                    }
                }
            }
            if let Some(owner) = me.owner(id) {
                me.emit(owner, event::CLOSE, id, 0, b"");
            }
            me.remove(id);
        });
        Ok((id, local))
    }

    /// Sets a UDP socket's default peer.
    pub fn udp_connect(
        &self,
        caller: Handle,
        id: i32,
        host: &str,
        port: u16,
    ) -> Result<(), SocketError> {
        self.authorize(caller, id, "udp_connect", false)?;
        let addr: SocketAddr = self
            .runtime
            .block_on(tokio::net::lookup_host(format!("{host}:{port}")))
            .map_err(|e| SocketError::Io(e.to_string()))?
            .next()
            .ok_or_else(|| SocketError::Io(format!("no address for {host}")))?;
        if let Some(e) = self.sockets.lock().get_mut(&id) {
            e.udp_peer = Some(addr);
        }
        Ok(())
    }

    /// Sends a datagram to an address blob (as the UDP event carries).
    pub fn sendto(
        &self,
        caller: Handle,
        id: i32,
        to: &[u8],
        data: Bytes,
    ) -> Result<(), SocketError> {
        self.authorize(caller, id, "sendto", false)?;
        let addr =
            parse_udp_address(to).ok_or_else(|| SocketError::Io("invalid udp address".into()))?;
        let sock = self
            .sockets
            .lock()
            .get(&id)
            .and_then(|e| e.udp.clone())
            .ok_or(SocketError::Invalid(id))?;
        self.runtime.spawn(async move {
            let _ = sock.send_to(&data, addr).await;
        });
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

/// skynet's UDP address blob: protocol byte (1 = v4, 2 = v6), port (network
/// order), address bytes.
pub fn udp_address(a: SocketAddr) -> Vec<u8> {
    let mut v = Vec::with_capacity(19);
    match a {
        SocketAddr::V4(a4) => {
            v.push(1);
            v.extend_from_slice(&a4.port().to_be_bytes());
            v.extend_from_slice(&a4.ip().octets());
        }
        SocketAddr::V6(a6) => {
            v.push(2);
            v.extend_from_slice(&a6.port().to_be_bytes());
            v.extend_from_slice(&a6.ip().octets());
        }
    }
    v
}

/// Parses a UDP address blob.
pub fn parse_udp_address(b: &[u8]) -> Option<SocketAddr> {
    let port = u16::from_be_bytes([*b.get(1)?, *b.get(2)?]);
    match b.first()? {
        1 if b.len() == 7 => {
            let ip = std::net::Ipv4Addr::new(b[3], b[4], b[5], b[6]);
            Some(SocketAddr::new(ip.into(), port))
        }
        2 if b.len() == 19 => {
            let mut o = [0u8; 16];
            o.copy_from_slice(&b[3..19]);
            Some(SocketAddr::new(std::net::Ipv6Addr::from(o).into(), port))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_address_blobs_round_trip() {
        for a in ["127.0.0.1:9000", "[::1]:53"] {
            let a: SocketAddr = a.parse().unwrap();
            assert_eq!(parse_udp_address(&udp_address(a)), Some(a));
        }
        assert_eq!(parse_udp_address(&[1, 0]), None);
        assert_eq!(parse_udp_address(&[9, 0, 1, 1, 2, 3, 4]), None);
    }

    #[test]
    fn events_encode_type_id_ud_then_data() {
        let p = encode_event(event::DATA, 7, 3, b"abc");
        assert_eq!(p.as_slice(), &[1, 7, 0, 0, 0, 3, 0, 0, 0, b'a', b'b', b'c']);
    }
}
