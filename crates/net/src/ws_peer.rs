//! One connection of the native gate's WebSocket modes: the WebSocket
//! state of [`crate::websocket`], under a TLS server session
//! ([`skyhold_tls::Engine`], rustls) in `WSS` mode, with the limits the
//! gate puts on it: a deadline for the whole opening (TLS and WebSocket
//! handshakes, checked by the gate's timer through [`Peer::overdue`]) and
//! a cap on messages per second.

use skyhold_tls::{Engine, ServerConfig};
use std::sync::Arc;

use crate::websocket::{WsConn, WsEvent};

/// What feeding a connection caused, in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerEvent {
    /// Bytes for the socket (already encrypted in `WSS` mode).
    Send(Vec<u8>),
    /// A whole message for the agent.
    Message(Vec<u8>),
    /// The connection is over: close it. `Some(why)` when the peer broke a
    /// rule or a limit (the gate counts and logs it), `None` for a close the
    /// peer asked for.
    Close(Option<String>),
}

/// One WebSocket (or WebSocket over TLS) connection of the gate.
pub struct Peer {
    ws: WsConn,
    tls: Option<Engine>,
    /// When it was accepted, in the node's centiseconds.
    since: u64,
    /// The second (node time) `messages` counts in.
    window: u64,
    messages: u32,
    closed: bool,
}

impl Peer {
    /// A connection accepted at `now` (centiseconds) whose messages may be
    /// at most `max` bytes; a TLS server session with `tls`, if given.
    pub fn new(max: usize, tls: Option<&Arc<ServerConfig>>, now: u64) -> Result<Peer, String> {
        let tls = match tls {
            Some(config) => Some(Engine::server(config.clone())?),
            None => None,
        };
        Ok(Peer {
            ws: WsConn::new(max),
            tls,
            since: now,
            window: now / 100,
            messages: 0,
            closed: false,
        })
    }

    /// True once the WebSocket handshake (and the TLS one before it) is done.
    pub fn is_open(&self) -> bool {
        self.ws.is_open()
    }

    /// True when the opening is not done `timeout` centiseconds after the
    /// connection was accepted.
    pub fn overdue(&self, now: u64, timeout: u64) -> bool {
        !self.closed && !self.is_open() && now.saturating_sub(self.since) >= timeout
    }

    /// Feeds bytes read from the socket at `now`; at most `max_rate`
    /// messages a second are taken.
    pub fn feed(&mut self, data: &[u8], now: u64, max_rate: u32) -> Vec<PeerEvent> {
        let mut out = Vec::new();
        if self.closed {
            return out;
        }
        let events = match &mut self.tls {
            None => self.ws.feed(data),
            Some(engine) => {
                let plain = if engine.finished() {
                    engine.read(data)
                } else {
                    engine.handshake(data).and_then(|reply| {
                        if !reply.is_empty() {
                            out.push(PeerEvent::Send(reply));
                        }
                        // Application data that came with the client's last
                        // handshake flight.
                        if engine.finished() {
                            engine.read(&[])
                        } else {
                            Ok(Vec::new())
                        }
                    })
                };
                let peer_closed = engine.peer_closed();
                let plain = match plain {
                    Ok(p) => p,
                    Err(e) => return self.cut(out, format!("TLS: {e}")),
                };
                let mut events = if plain.is_empty() {
                    Vec::new()
                } else {
                    self.ws.feed(&plain)
                };
                if peer_closed && !events.contains(&WsEvent::Close) {
                    events.push(WsEvent::Close);
                }
                events
            }
        };
        for e in events {
            match e {
                WsEvent::Send(bytes) => match self.seal(&bytes) {
                    Ok(b) => out.push(PeerEvent::Send(b)),
                    Err(e) => return self.cut(out, e),
                },
                WsEvent::Message(m) => {
                    let second = now / 100;
                    if second != self.window {
                        self.window = second;
                        self.messages = 0;
                    }
                    self.messages += 1;
                    if self.messages > max_rate {
                        return self.cut(
                            out,
                            format!(
                                "sent more than {max_rate} messages in a second (config socket_frame_rate)"
                            ),
                        );
                    }
                    out.push(PeerEvent::Message(m));
                }
                WsEvent::Close => {
                    self.closed = true;
                    let why = self.ws.failure().map(|f| f.to_string());
                    out.push(PeerEvent::Close(why));
                    return out;
                }
            }
        }
        out
    }

    /// A message for the peer: the bytes to write now, `Ok(None)` while the
    /// opening is not done (it is sent after), or why the connection must
    /// close.
    pub fn outgoing(&mut self, msg: &[u8]) -> Result<Option<Vec<u8>>, String> {
        match self.ws.outgoing(msg).map_err(|e| e.to_string())? {
            None => Ok(None),
            Some(frame) => self.seal(&frame).map(Some),
        }
    }

    /// Encrypts in `WSS` mode.
    fn seal(&mut self, bytes: &[u8]) -> Result<Vec<u8>, String> {
        match &mut self.tls {
            None => Ok(bytes.to_vec()),
            Some(engine) => engine.write(bytes).map_err(|e| format!("TLS: {e}")),
        }
    }

    fn cut(&mut self, mut out: Vec<PeerEvent>, why: String) -> Vec<PeerEvent> {
        self.closed = true;
        if let Some(e) = &mut self.tls {
            e.close();
        }
        out.push(PeerEvent::Close(Some(why)));
        out
    }
}

#[cfg(test)]
#[path = "ws_peer_tests.rs"]
mod tests;
