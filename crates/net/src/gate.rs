//! The native gate: skynet's C gate service, started with
//! `skynet.launch("gate", "S", watchdog, "host:port", client_tag, max)`.
//!
//! It listens, reports connections to a watchdog as text, and once told to
//! `forward` a connection it hands each whole frame to an agent. Frames are
//! cut by the socket server (2-byte header for `S`, 4-byte for `L`) under
//! the node's `socket_*` limits; a connection that breaks one is closed and
//! the watchdog hears `"<fd> close"`.
//!
//! The protocol, as skynet defines it:
//! - launch arguments `S|L watchdog host:port client_tag max` (`!` for no
//!   watchdog, client tag 0 for PTYPE_CLIENT);
//! - commands (PTYPE_TEXT): `kick fd`, `forward fd :agent :client`,
//!   `broker .name`, `start fd`, `close`;
//! - reports to the watchdog (PTYPE_TEXT): `"<fd> open <fd> <ip:port>:0"`,
//!   `"<fd> close"`, and, for a connection with no agent, `"<fd> data "`
//!   followed by the frame;
//! - a forwarded frame reaches the agent as `client_tag`, session = fd,
//!   source = the client given in `forward`;
//! - a PTYPE_CLIENT message to the gate whose last 4 bytes are a socket id
//!   (little-endian) writes the bytes before them to that connection.
//!
//! skyhold adds a third header style, `W`: each connection is a WebSocket
//! (RFC 6455, `ws://`; [`crate::websocket`]). The gate answers the opening
//! handshake itself, hands each whole message to the agent (or reports it
//! to the watchdog) exactly as it hands a frame in `S` mode, and writes
//! what the agent sends through it as one message (a text frame when it
//! is UTF-8, else binary). Messages are bounded by the same
//! `socket_max_frame`. An agent of a `W` gate writes through the gate:
//! `forward` does not let it write raw bytes to the socket.
//!
//! `WSS` is the same over TLS (`wss://`; rustls through
//! [`skyhold_tls::Engine`]), with the certificate chain and key the config
//! names in `certfile` and `keyfile` (the keys skynet's TLS examples read);
//! the gate does not start without them. In both WebSocket modes a
//! connection has `socket_handshake_timeout` seconds (10) from its accept
//! to finish its opening (TLS handshake and upgrade), and may send at most
//! `socket_frame_rate` messages a second; a connection that breaks a limit
//! or a protocol rule is closed, logged, and counted (`gate_cut`).
//!
//! What skyhold adds: only the watchdog may command the gate (any service,
//! if it has none), and only a connection's agent, the broker or the
//! watchdog may write to a connection through it. The forged source of a
//! forwarded frame is used only with PTYPE_CLIENT; with any other client
//! tag the gate sends as itself. Frames for an agent whose mailbox is full
//! wait in the gate (up to [`MAX_WAITING`] per agent; past that the
//! connection is closed) and keep their order.

use bytes::Bytes;
use skyhold_core::{ptype, Context, Handle, Message, Payload, SendError, Service};
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::frame::HeaderLen;
use crate::socket_server::{event, SocketServer};
use crate::ws_peer::{Peer, PeerEvent};
use skyhold_tls::ServerConfig;

/// Frames waiting for room at one target before the gate gives up on the
/// connection that sent them.
pub const MAX_WAITING: usize = 4096;

/// The launch arguments, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GateArgs {
    /// `S` (2-byte header) or `L` (4-byte header).
    pub header: HeaderLen,
    /// `W` or `WSS`: WebSocket messages instead of length-prefixed frames.
    pub websocket: bool,
    /// `WSS`: WebSocket over TLS.
    pub tls: bool,
    /// Who hears about connections: a name or `:hex`; `None` for `!`.
    pub watchdog: Option<String>,
    /// Where to listen.
    pub host: String,
    /// The port (0: any free port).
    pub port: u16,
    /// The message type forwarded frames carry.
    pub client_tag: u8,
    /// Connections kept at once.
    pub max: usize,
}

/// Why the gate could not start or refused a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GateError {
    /// The launch arguments are not `S|L watchdog host:port client_tag max`.
    BadArgs(String),
    /// The watchdog named does not exist.
    NoWatchdog(String),
    /// Listening failed.
    Listen(String),
    /// A control command could not be understood.
    BadCommand(String),
}

impl fmt::Display for GateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GateError::BadArgs(why) => write!(
                f,
                "gate: {why} (launch it with \"S|L|W|WSS watchdog host:port client_tag max\")"
            ),
            GateError::NoWatchdog(w) => write!(f, "gate: invalid watchdog {w}"),
            GateError::Listen(why) => write!(f, "gate: {why}"),
            GateError::BadCommand(c) => write!(f, "[gate] Unknown command : {c}"),
        }
    }
}

impl std::error::Error for GateError {}

impl GateArgs {
    /// Parses `S|L|W|WSS watchdog host:port client_tag max`.
    pub fn parse(text: &str) -> Result<GateArgs, GateError> {
        let w: Vec<&str> = text.split_whitespace().collect();
        if w.len() < 5 {
            return Err(GateError::BadArgs(format!(
                "expected 5 arguments, got {}",
                w.len()
            )));
        }
        let header = match w[0] {
            "S" | "W" | "WSS" => HeaderLen::Two,
            "L" => HeaderLen::Four,
            other => {
                return Err(GateError::BadArgs(format!(
                    "invalid data header style '{other}'"
                )))
            }
        };
        let watchdog = (w[1] != "!").then(|| w[1].to_string());
        let (host, port) = match w[2].rsplit_once(':') {
            Some((h, p)) => (h.trim_matches(['[', ']']).to_string(), p),
            None => (String::new(), w[2]),
        };
        let port: u16 = port
            .parse()
            .map_err(|_| GateError::BadArgs(format!("invalid gate address {}", w[2])))?;
        let host = if host.is_empty() {
            "0.0.0.0".to_string()
        } else {
            host
        };
        let tag: u8 = w[3]
            .parse()
            .map_err(|_| GateError::BadArgs(format!("invalid client tag {}", w[3])))?;
        let max: usize = w[4]
            .parse()
            .ok()
            .filter(|m| *m > 0)
            .ok_or_else(|| GateError::BadArgs("need max connection".into()))?;
        Ok(GateArgs {
            header,
            websocket: w[0] == "W" || w[0] == "WSS",
            tls: w[0] == "WSS",
            watchdog,
            host,
            port,
            client_tag: if tag == 0 { ptype::CLIENT } else { tag },
            max,
        })
    }
}

/// A control command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `kick fd`: close a connection.
    Kick(i32),
    /// `forward fd :agent :client`: frames of `fd` go to `agent`.
    Forward {
        /// The connection.
        fd: i32,
        /// Who gets its frames.
        agent: String,
        /// The source they carry.
        client: String,
    },
    /// `broker .name`: every frame goes to this service.
    Broker(String),
    /// `start fd`: start reading a connection.
    Start(i32),
    /// `close`: stop listening.
    Close,
}

impl Command {
    /// Parses one command line.
    pub fn parse(text: &str) -> Result<Command, GateError> {
        let bad = || GateError::BadCommand(text.chars().take(64).collect());
        let mut w = text.split_whitespace();
        let fd = |s: Option<&str>| s.and_then(|s| s.parse::<i32>().ok()).ok_or_else(bad);
        match w.next() {
            Some("kick") => Ok(Command::Kick(fd(w.next())?)),
            Some("start") => Ok(Command::Start(fd(w.next())?)),
            Some("close") => Ok(Command::Close),
            Some("broker") => Ok(Command::Broker(w.next().ok_or_else(bad)?.to_string())),
            Some("forward") => {
                let fd = fd(w.next())?;
                let agent = w.next().ok_or_else(bad)?.to_string();
                let client = w.next().ok_or_else(bad)?.to_string();
                Ok(Command::Forward { fd, agent, client })
            }
            _ => Err(bad()),
        }
    }
}

struct Conn {
    agent: Option<Handle>,
    client: Handle,
}

struct Waiting {
    source: Handle,
    ptype: u8,
    session: i32,
    payload: Payload,
}

/// The native gate service.
pub struct Gate {
    server: Arc<SocketServer>,
    args: GateArgs,
    /// Bound at launch, handed to the socket server at init.
    listener: Option<std::net::TcpListener>,
    header: HeaderLen,
    max_frame: usize,
    client_tag: u8,
    max: usize,
    watchdog: Option<Handle>,
    broker: Option<Handle>,
    listen_id: Option<i32>,
    conns: HashMap<i32, Conn>,
    /// Messages waiting for room at a target, in order.
    waiting: HashMap<Handle, VecDeque<Waiting>>,
    /// `W` and `WSS` modes: each connection's WebSocket (and TLS) state.
    ws: Option<HashMap<i32, Peer>>,
    /// `WSS` mode: the server's TLS configuration.
    tls: Option<Arc<ServerConfig>>,
    /// The session of the pending timer that looks for openings past their
    /// deadline (at most one at a time).
    sweep: Option<i32>,
}

impl Gate {
    /// A gate over `server` for launch arguments `args`. It is listening
    /// when this returns (as skynet's gate is once `launch` returns), so a
    /// client may connect at once.
    pub fn new(server: Arc<SocketServer>, args: &str) -> Result<Gate, GateError> {
        let args = GateArgs::parse(args)?;
        let listener = std::net::TcpListener::bind((args.host.as_str(), args.port))
            .map_err(|e| GateError::Listen(format!("{}:{}: {e}", args.host, args.port)))?;
        Ok(Gate {
            server,
            args,
            listener: Some(listener),
            header: HeaderLen::Two,
            max_frame: 0,
            client_tag: ptype::CLIENT,
            max: 0,
            watchdog: None,
            broker: None,
            listen_id: None,
            conns: HashMap::new(),
            waiting: HashMap::new(),
            ws: None,
            tls: None,
            sweep: None,
        })
    }

    fn resolve(ctx: &Context, name: &str) -> Option<Handle> {
        if name.starts_with(':') {
            Handle::parse(name)
        } else {
            ctx.query_name(name)
        }
    }

    fn report(&mut self, ctx: &Context, text: Vec<u8>) {
        if let Some(w) = self.watchdog {
            let item = Waiting {
                source: ctx.handle(),
                ptype: ptype::TEXT,
                session: 0,
                payload: Payload::from(text),
            };
            self.deliver(ctx, w, item, -1);
        }
    }

    /// Sends `item` to `dest`, or queues it behind earlier messages to
    /// `dest` that wait for room; `fd` is the connection it came from (-1
    /// for none), closed if too much waits.
    fn deliver(&mut self, ctx: &Context, dest: Handle, item: Waiting, fd: i32) {
        if let Some(q) = self.waiting.get_mut(&dest) {
            if q.len() >= MAX_WAITING {
                self.give_up(ctx, dest, fd);
                return;
            }
            q.push_back(item);
            return;
        }
        if let Err(Some(item)) = self.try_send(ctx, dest, item) {
            self.waiting.entry(dest).or_default().push_back(item);
        }
    }

    /// `Err(Some(item))` when the target is full (the item comes back to
    /// wait); `Err(None)` when it cannot be delivered at all.
    fn try_send(&self, ctx: &Context, dest: Handle, w: Waiting) -> Result<(), Option<Waiting>> {
        let r = if w.source == ctx.handle() {
            ctx.send(dest, w.ptype, w.session, w.payload.clone())
        } else {
            ctx.redirect(dest, w.source, w.ptype, w.session, w.payload.clone())
        };
        match r {
            Ok(()) => Ok(()),
            Err(SendError::Full { .. }) => Err(Some(w)),
            Err(e) => {
                ctx.log(&format!("gate: cannot deliver to {dest}: {e}"));
                Err(None)
            }
        }
    }

    fn give_up(&mut self, ctx: &Context, dest: Handle, fd: i32) {
        ctx.log(&format!(
            "gate: {dest} is not taking frames ({MAX_WAITING} waiting); closing connection {fd}"
        ));
        if fd >= 0 {
            let _ = self.server.shutdown(ctx.handle(), fd, false);
        }
    }

    fn command(&mut self, ctx: &Context, source: Handle, text: &[u8]) {
        if let Some(w) = self.watchdog {
            if source != w {
                ctx.audit_refusal(
                    source,
                    "gate command",
                    "only the gate's watchdog may command it",
                );
                return;
            }
        }
        let text = String::from_utf8_lossy(text);
        let cmd = match Command::parse(&text) {
            Ok(c) => c,
            Err(e) => return ctx.log(&e.to_string()),
        };
        let me = ctx.handle();
        match cmd {
            Command::Kick(fd) => {
                if self.conns.contains_key(&fd) {
                    let _ = self.server.close(me, fd, false);
                }
            }
            Command::Start(fd) => {
                if self.conns.contains_key(&fd) {
                    if let Err(e) = self.server.start(me, fd, false) {
                        ctx.log(&format!("gate: start {fd}: {e}"));
                    }
                }
            }
            Command::Close => {
                if let Some(id) = self.listen_id.take() {
                    let _ = self.server.close(me, id, false);
                }
            }
            Command::Broker(name) => match Self::resolve(ctx, &name) {
                Some(h) => self.broker = Some(h),
                None => ctx.log(&format!("gate: no broker named {name}")),
            },
            Command::Forward { fd, agent, client } => {
                let (Some(agent), Some(client)) =
                    (Self::resolve(ctx, &agent), Self::resolve(ctx, &client))
                else {
                    return ctx.log(&format!("gate: forward {fd}: invalid address"));
                };
                if let Some(c) = self.conns.get_mut(&fd) {
                    c.agent = Some(agent);
                    c.client = client;
                    // The agent may answer its client with socket.write too
                    // (not over WebSocket: the gate frames what it writes).
                    if self.ws.is_none() {
                        let _ = self.server.delegate(me, fd, agent);
                    }
                }
            }
        }
    }

    fn write(&mut self, ctx: &Context, source: Handle, body: &[u8]) {
        if body.len() <= 4 {
            return ctx.log(&format!("Invalid client message from {source}"));
        }
        let (data, id) = body.split_at(body.len() - 4);
        let fd = i32::from_le_bytes([id[0], id[1], id[2], id[3]]);
        let Some(c) = self.conns.get(&fd) else {
            return ctx.log(&format!("Invalid client id {fd} from {source}"));
        };
        let allowed = c.agent == Some(source)
            || self.watchdog == Some(source)
            || self.broker == Some(source)
            || source == ctx.handle();
        if !allowed {
            ctx.audit_refusal(
                source,
                "gate write",
                &format!("connection {fd} is not forwarded to it"),
            );
            return;
        }
        let data = match self.ws.as_mut().map(|w| w.get_mut(&fd)) {
            None => Bytes::copy_from_slice(data),
            Some(None) => return,
            Some(Some(conn)) => match conn.outgoing(data) {
                Ok(Some(frame)) => Bytes::from(frame),
                Ok(None) => return,
                Err(e) => return self.cut(ctx, fd, &e),
            },
        };
        if let Err(e) = self.server.write(ctx.handle(), fd, data, false) {
            ctx.log(&format!("gate: write {fd}: {e}"));
        }
    }

    fn frame(&mut self, ctx: &Context, fd: i32, data: &[u8]) {
        let Some((agent, client)) = self.conns.get(&fd).map(|c| (c.agent, c.client)) else {
            return;
        };
        let me = ctx.handle();
        let frame = |source| Waiting {
            source,
            ptype: self.client_tag,
            session: fd,
            payload: Payload::from(data),
        };
        if let Some(broker) = self.broker {
            let item = frame(me);
            self.deliver(ctx, broker, item, fd);
        } else if let Some(agent) = agent {
            // Only PTYPE_CLIENT carries the client as its source.
            let source = if self.client_tag == ptype::CLIENT {
                client
            } else {
                me
            };
            let item = frame(source);
            self.deliver(ctx, agent, item, fd);
        } else if self.watchdog.is_some() {
            let mut text = format!("{fd} data ").into_bytes();
            text.extend_from_slice(data);
            self.report(ctx, text);
        }
    }

    /// `W`/`WSS` modes: bytes from a WebSocket connection.
    fn websocket_data(&mut self, ctx: &Context, fd: i32, data: &[u8]) {
        let me = ctx.handle();
        let rate = self.server.limits().frames_per_second;
        let now = ctx.now();
        let events = match self.ws.as_mut().and_then(|w| w.get_mut(&fd)) {
            Some(conn) => conn.feed(data, now, rate),
            None => return,
        };
        for e in events {
            match e {
                PeerEvent::Send(bytes) => {
                    let _ = self.server.write(me, fd, Bytes::from(bytes), false);
                }
                PeerEvent::Message(msg) => self.frame(ctx, fd, &msg),
                PeerEvent::Close(None) => {
                    let _ = self.server.close(me, fd, false);
                }
                PeerEvent::Close(Some(why)) => {
                    // What was said before the cut (a refusal, a close
                    // frame) still goes out.
                    ctx.log(&format!("gate: connection {fd}: {why}"));
                    self.server
                        .counters
                        .gate_cut
                        .fetch_add(1, Ordering::Relaxed);
                    let _ = self.server.close(me, fd, false);
                }
            }
        }
    }

    /// Closes a connection that broke a rule at once, and counts it.
    fn cut(&mut self, ctx: &Context, fd: i32, why: &str) {
        ctx.log(&format!("gate: connection {fd}: {why}"));
        self.server
            .counters
            .gate_cut
            .fetch_add(1, Ordering::Relaxed);
        let _ = self.server.shutdown(ctx.handle(), fd, false);
    }

    /// Arms the deadline timer if a connection is opening and none is armed.
    fn arm_sweep(&mut self, ctx: &Context) {
        let opening = self
            .ws
            .as_ref()
            .is_some_and(|w| w.values().any(|p| !p.is_open()));
        if self.sweep.is_none() && opening {
            // Once a second: a deadline is kept to within a second.
            match ctx.timeout(100) {
                Ok(session) => self.sweep = Some(session),
                Err(e) => ctx.log(&format!("gate: cannot arm the handshake timer: {e}")),
            }
        }
    }

    /// The deadline timer: cuts every connection whose opening is late.
    fn sweep(&mut self, ctx: &Context) {
        self.sweep = None;
        let timeout = self.server.limits().handshake_timeout.as_millis() / 10;
        let timeout = u64::try_from(timeout).unwrap_or(u64::MAX);
        let now = ctx.now();
        let late: Vec<i32> = match &self.ws {
            Some(w) => w
                .iter()
                .filter(|(_, p)| p.overdue(now, timeout))
                .map(|(fd, _)| *fd)
                .collect(),
            None => return,
        };
        for fd in late {
            if let Some(w) = &mut self.ws {
                w.remove(&fd);
            }
            let secs = timeout / 100;
            self.cut(
                ctx,
                fd,
                &format!("opening not done in {secs} s (config socket_handshake_timeout)"),
            );
        }
        self.arm_sweep(ctx);
    }

    fn socket_event(&mut self, ctx: &Context, body: &[u8]) {
        if body.len() < 9 {
            return;
        }
        let kind = body[0];
        let id = i32::from_le_bytes([body[1], body[2], body[3], body[4]]);
        let ud = i32::from_le_bytes([body[5], body[6], body[7], body[8]]);
        let data = &body[9..];
        let me = ctx.handle();
        match kind {
            event::ACCEPT => {
                let fd = ud;
                if self.conns.len() >= self.max {
                    let _ = self.server.shutdown(me, fd, false);
                    return;
                }
                if let Some(ws) = &mut self.ws {
                    match Peer::new(self.max_frame, self.tls.as_ref(), ctx.now()) {
                        Ok(p) => {
                            ws.insert(fd, p);
                        }
                        Err(e) => {
                            ctx.log(&format!("gate: connection {fd}: {e}"));
                            let _ = self.server.shutdown(me, fd, false);
                            return;
                        }
                    }
                    self.arm_sweep(ctx);
                } else if let Err(e) =
                    self.server
                        .set_framing(me, fd, self.header, self.max_frame, false)
                {
                    ctx.log(&format!("gate: connection {fd}: {e}"));
                    let _ = self.server.shutdown(me, fd, false);
                    return;
                }
                self.conns.insert(
                    fd,
                    Conn {
                        agent: None,
                        client: Handle(0),
                    },
                );
                let addr = String::from_utf8_lossy(data);
                self.report(ctx, format!("{fd} open {fd} {addr}:0").into_bytes());
            }
            event::FRAME => self.frame(ctx, id, data),
            event::DATA if self.ws.as_ref().is_some_and(|w| w.contains_key(&id)) => {
                self.websocket_data(ctx, id, data)
            }
            event::DATA => {
                // Connections are framed before they start; raw data means a
                // socket that is not ours to read.
                ctx.log(&format!("Drop unknown connection {id} message"));
            }
            event::CLOSE | event::ERROR => {
                if Some(id) == self.listen_id {
                    if kind == event::ERROR {
                        ctx.log(&format!(
                            "gate: listen socket error: {}",
                            String::from_utf8_lossy(data)
                        ));
                    }
                    return;
                }
                if let Some(ws) = &mut self.ws {
                    ws.remove(&id);
                }
                if self.conns.remove(&id).is_some() {
                    if kind == event::ERROR {
                        ctx.log(&format!(
                            "gate: connection {id} closed: {}",
                            String::from_utf8_lossy(data)
                        ));
                    }
                    self.report(ctx, format!("{id} close").into_bytes());
                }
            }
            event::WARNING => ctx.log(&format!("fd ({id}) send buffer ({ud}K)")),
            _ => {}
        }
    }
}

impl Service for Gate {
    fn init(&mut self, ctx: &Context) -> Result<(), String> {
        let a = self.args.clone();
        self.watchdog = match &a.watchdog {
            None => None,
            Some(w) => Some(
                Self::resolve(ctx, w)
                    .ok_or_else(|| GateError::NoWatchdog(w.clone()).to_string())?,
            ),
        };
        if self.watchdog.is_none() {
            ctx.log("gate: no watchdog (!): any service may command this gate");
        }
        let limit = self.server.limits().max_frame;
        self.max_frame = match a.header {
            HeaderLen::Two => limit.min(65_535),
            HeaderLen::Four => limit.max(65_535),
        };
        self.header = a.header;
        if a.websocket {
            self.ws = Some(HashMap::new());
        }
        if a.tls {
            let (cert, key) = match (ctx.getenv("certfile"), ctx.getenv("keyfile")) {
                (Some(c), Some(k)) if !c.is_empty() && !k.is_empty() => (c, k),
                _ => {
                    return Err(
                        "gate: WSS mode needs certfile and keyfile in the config (PEM files \
                         of the certificate chain and its private key)"
                            .into(),
                    )
                }
            };
            self.tls =
                Some(skyhold_tls::configs::server(&cert, &key).map_err(|e| format!("gate: {e}"))?);
        }
        self.client_tag = a.client_tag;
        self.max = a.max;
        let me = ctx.handle();
        let listener = self.listener.take().ok_or("gate: initialised twice")?;
        let (id, local) = self
            .server
            .adopt_listener(me, listener)
            .map_err(|e| GateError::Listen(e.to_string()).to_string())?;
        self.server
            .start(me, id, false)
            .map_err(|e| GateError::Listen(e.to_string()).to_string())?;
        self.listen_id = Some(id);
        ctx.log(&format!("Listen on {local}"));
        Ok(())
    }

    fn handle(&mut self, ctx: &Context, msg: Message) {
        match msg.ptype {
            ptype::TEXT => self.command(ctx, msg.source, msg.payload.as_slice()),
            ptype::CLIENT => self.write(ctx, msg.source, msg.payload.as_slice()),
            ptype::SOCKET => self.socket_event(ctx, msg.payload.as_slice()),
            ptype::RESPONSE if msg.source == Handle(0) && Some(msg.session) == self.sweep => {
                self.sweep(ctx)
            }
            _ => {
                if msg.expects_reply() {
                    let _ = ctx.reply_error(msg.source, msg.session, Payload::empty());
                }
            }
        }
    }

    fn room(&mut self, ctx: &Context, target: Handle) {
        let Some(mut q) = self.waiting.remove(&target) else {
            return;
        };
        while let Some(item) = q.pop_front() {
            match self.try_send(ctx, target, item) {
                Ok(()) | Err(None) => {}
                Err(Some(item)) => {
                    q.push_front(item);
                    self.waiting.insert(target, q);
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_arguments() {
        let a = GateArgs::parse("S .watchdog 127.0.0.1:8888 0 1024").unwrap();
        assert_eq!(a.header, HeaderLen::Two);
        assert_eq!(a.watchdog.as_deref(), Some(".watchdog"));
        assert_eq!((a.host.as_str(), a.port), ("127.0.0.1", 8888));
        assert_eq!(a.client_tag, ptype::CLIENT);
        assert_eq!(a.max, 1024);
        let w = GateArgs::parse("W .watchdog 127.0.0.1:8889 0 64").unwrap();
        assert!(w.websocket && !w.tls);
        assert!(!a.websocket && !a.tls);
        let w = GateArgs::parse("WSS .watchdog 127.0.0.1:8443 0 64").unwrap();
        assert!(w.websocket && w.tls);
        assert_eq!(w.header, HeaderLen::Two);
        let a = GateArgs::parse("L ! 9000 10 5").unwrap();
        assert_eq!(a.header, HeaderLen::Four);
        assert_eq!(a.watchdog, None);
        assert_eq!((a.host.as_str(), a.port), ("0.0.0.0", 9000));
        assert_eq!(a.client_tag, 10);
        for bad in [
            "",
            "X :1 1:2 0 1",
            "WS :1 1:2 0 1",
            "S :1 host:port 0 1",
            "S :1 1:2 x 1",
            "S :1 1:2 0 0",
            "S :1 1:2 0",
        ] {
            assert!(GateArgs::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn commands() {
        assert_eq!(Command::parse("kick 7"), Ok(Command::Kick(7)));
        assert_eq!(Command::parse("start 7"), Ok(Command::Start(7)));
        assert_eq!(Command::parse("close"), Ok(Command::Close));
        assert_eq!(
            Command::parse("broker .b"),
            Ok(Command::Broker(".b".into()))
        );
        assert_eq!(
            Command::parse("forward 3 :0000000a :00000000"),
            Ok(Command::Forward {
                fd: 3,
                agent: ":0000000a".into(),
                client: ":00000000".into()
            })
        );
        for bad in ["", "kick", "kick x", "forward 3 :a", "launch rockets"] {
            assert!(Command::parse(bad).is_err(), "{bad}");
        }
    }
}
