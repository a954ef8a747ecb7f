//! The server side of RFC 6455 for the native gate's WebSocket mode: the
//! opening handshake (an HTTP/1.1 upgrade request answered with 101) and
//! the frames after it, decoded incrementally from whatever a socket read
//! returned.
//!
//! Bounds: the handshake request may be at most [`MAX_HANDSHAKE`] bytes; a
//! frame's payload and a message assembled from fragments at most the
//! `max` given to [`WsConn::new`] (the gate passes the node's
//! `socket_max_frame`), refused as soon as a header declares more, before
//! any of it is buffered. A broken rule ends the connection with the close
//! code RFC 6455 gives it (1002 protocol error, 1009 too big).

use std::fmt;

/// Largest opening handshake request accepted, in bytes.
pub const MAX_HANDSHAKE: usize = 8192;

/// Bytes of messages held for a connection whose handshake is not done
/// (what an agent says on connect); past this the connection is closed.
pub const MAX_HELD: usize = 64 * 1024;

/// The GUID RFC 6455 appends to the client's key.
pub const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// What the connection did with the bytes fed to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WsEvent {
    /// Bytes to send to the peer (the 101 answer, a pong, a close frame).
    Send(Vec<u8>),
    /// A whole message for the agent (text or binary alike).
    Message(Vec<u8>),
    /// The connection is over (after any `Send` before it): close it.
    Close,
}

/// Why a connection failed, with the close code to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WsError {
    /// RFC 6455 close code (or an HTTP status for a refused handshake).
    pub code: u16,
    /// What went wrong.
    pub reason: &'static str,
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "websocket: {} ({})", self.reason, self.code)
    }
}

impl std::error::Error for WsError {}

const fn fail(code: u16, reason: &'static str) -> WsError {
    WsError { code, reason }
}

/// Standard base64 (with padding).
pub fn base64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(T[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// The `Sec-WebSocket-Accept` value for a client's key.
pub fn accept_key(key: &str) -> String {
    use sha1::{Digest, Sha1};
    let mut h = Sha1::new();
    h.update(key.as_bytes());
    h.update(GUID.as_bytes());
    base64(&h.finalize())
}

/// Checks an upgrade request (without its blank line) and returns the
/// 101 answer.
pub fn answer_handshake(request: &[u8]) -> Result<Vec<u8>, WsError> {
    let text = std::str::from_utf8(request).map_err(|_| fail(400, "request is not text"))?;
    let mut lines = text.split("\r\n");
    let start = lines.next().unwrap_or("");
    let mut words = start.split(' ');
    let (method, _path, version) = (words.next(), words.next(), words.next());
    if method != Some("GET") || words.next().is_some() {
        return Err(fail(400, "need GET method"));
    }
    if version != Some("HTTP/1.1") {
        return Err(fail(505, "need HTTP/1.1"));
    }
    let (mut upgrade, mut connection, mut version, mut host) = (false, false, false, false);
    let mut key = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(fail(400, "malformed header"));
        };
        let value = value.trim();
        match name.trim().to_ascii_lowercase().as_str() {
            "upgrade" => upgrade = value.eq_ignore_ascii_case("websocket"),
            "connection" => {
                connection = value
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            }
            "sec-websocket-version" => version = value == "13",
            "sec-websocket-key" => key = Some(value.to_string()),
            "host" => host = true,
            _ => {}
        }
    }
    if !upgrade {
        return Err(fail(426, "Upgrade Required"));
    }
    if !connection || !host || !version {
        return Err(fail(400, "not a WebSocket upgrade"));
    }
    let key = key.ok_or(fail(400, "Sec-WebSocket-Key Required"))?;
    // 16 bytes in base64: 22 characters and two '='.
    if key.len() != 24 || !key.ends_with("==") {
        return Err(fail(400, "Sec-WebSocket-Key invalid"));
    }
    Ok(format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        accept_key(&key)
    )
    .into_bytes())
}

/// An HTTP response refusing a handshake.
fn refusal(e: &WsError) -> Vec<u8> {
    format!(
        "HTTP/1.1 {} {}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        e.code, e.reason
    )
    .into_bytes()
}

/// One unmasked server frame.
pub fn encode_frame(op: u8, payload: &[u8]) -> Vec<u8> {
    let n = payload.len();
    let mut f = Vec::with_capacity(n + 10);
    f.push(0x80 | (op & 0x0f));
    if n < 126 {
        f.push(n as u8);
    } else if n <= 0xffff {
        f.push(126);
        f.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        f.push(127);
        f.extend_from_slice(&(n as u64).to_be_bytes());
    }
    f.extend_from_slice(payload);
    f
}

/// A message for the peer: a text frame when it is UTF-8, else binary.
pub fn encode_message(payload: &[u8]) -> Vec<u8> {
    let op = if std::str::from_utf8(payload).is_ok() {
        1
    } else {
        2
    };
    encode_frame(op, payload)
}

fn close_frame(code: u16) -> Vec<u8> {
    encode_frame(8, &code.to_be_bytes())
}

/// A decoded frame: fin, opcode, unmasked payload, bytes it took.
type RawFrame = (bool, u8, Vec<u8>, usize);

/// One WebSocket connection, server side.
pub struct WsConn {
    max: usize,
    open: bool,
    closed: bool,
    buf: Vec<u8>,
    /// The fragments of a message being assembled.
    partial: Option<Vec<u8>>,
    /// Messages for the peer written before the handshake was done.
    held: Vec<Vec<u8>>,
    held_bytes: usize,
    /// Why the connection failed, once it has.
    failure: Option<WsError>,
}

impl WsConn {
    /// A connection whose frames and messages may be at most `max` bytes.
    pub fn new(max: usize) -> WsConn {
        WsConn {
            max,
            open: false,
            closed: false,
            buf: Vec::new(),
            partial: None,
            held: Vec::new(),
            held_bytes: 0,
            failure: None,
        }
    }

    /// Why the connection failed (a broken rule of the protocol or a
    /// limit), once it has; `None` while it runs or after a clean close.
    pub fn failure(&self) -> Option<&WsError> {
        self.failure.as_ref()
    }

    /// True once the handshake is done.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// A message for the peer: its frame to send now, `Ok(None)` when it
    /// is held until the handshake is done, or an error when too much is
    /// held already.
    pub fn outgoing(&mut self, msg: &[u8]) -> Result<Option<Vec<u8>>, WsError> {
        if self.open {
            return Ok(Some(encode_message(msg)));
        }
        if self.held_bytes + msg.len() > MAX_HELD {
            return Err(fail(1008, "too much written before the handshake"));
        }
        self.held_bytes += msg.len();
        self.held.push(msg.to_vec());
        Ok(None)
    }

    /// Feeds bytes read from the peer; returns what they caused, in order.
    /// After a `Close` nothing more is read.
    pub fn feed(&mut self, data: &[u8]) -> Vec<WsEvent> {
        let mut out = Vec::new();
        if self.closed {
            return out;
        }
        self.buf.extend_from_slice(data);
        if let Err(e) = self.step(&mut out) {
            self.closed = true;
            self.buf = Vec::new();
            out.push(WsEvent::Send(if self.open {
                close_frame(e.code)
            } else {
                refusal(&e)
            }));
            out.push(WsEvent::Close);
            self.failure = Some(e);
        }
        out
    }

    fn step(&mut self, out: &mut Vec<WsEvent>) -> Result<(), WsError> {
        if !self.open {
            let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                if self.buf.len() > MAX_HANDSHAKE {
                    return Err(fail(431, "handshake too large"));
                }
                return Ok(());
            };
            if end > MAX_HANDSHAKE {
                return Err(fail(431, "handshake too large"));
            }
            out.push(WsEvent::Send(answer_handshake(&self.buf[..end])?));
            self.buf.drain(..end + 4);
            self.open = true;
            self.held_bytes = 0;
            for m in std::mem::take(&mut self.held) {
                out.push(WsEvent::Send(encode_message(&m)));
            }
        }
        while let Some((fin, op, payload, used)) = self.next_frame()? {
            self.buf.drain(..used);
            match op {
                8 => {
                    out.push(WsEvent::Send(encode_frame(
                        8,
                        &payload[..payload.len().min(2)],
                    )));
                    out.push(WsEvent::Close);
                    self.closed = true;
                    self.buf = Vec::new();
                    return Ok(());
                }
                9 => out.push(WsEvent::Send(encode_frame(10, &payload))),
                10 => {}
                0 => {
                    let Some(mut msg) = self.partial.take() else {
                        return Err(fail(1002, "continuation without a message"));
                    };
                    if msg.len() + payload.len() > self.max {
                        return Err(fail(1009, "message too large"));
                    }
                    msg.extend_from_slice(&payload);
                    if fin {
                        out.push(WsEvent::Message(msg));
                    } else {
                        self.partial = Some(msg);
                    }
                }
                _ => {
                    if self.partial.is_some() {
                        return Err(fail(1002, "message interleaved"));
                    }
                    if fin {
                        out.push(WsEvent::Message(payload));
                    } else {
                        self.partial = Some(payload);
                    }
                }
            }
        }
        Ok(())
    }

    /// The next whole frame in the buffer (unmasked), and the bytes it
    /// took; `None` until one is complete.
    fn next_frame(&self) -> Result<Option<RawFrame>, WsError> {
        let b = &self.buf;
        if b.len() < 2 {
            return Ok(None);
        }
        let fin = b[0] & 0x80 != 0;
        let op = b[0] & 0x0f;
        if b[0] & 0x70 != 0 || !matches!(op, 0 | 1 | 2 | 8 | 9 | 10) {
            return Err(fail(1002, "invalid frame"));
        }
        if b[1] & 0x80 == 0 {
            return Err(fail(1002, "client frames must be masked"));
        }
        let (len, mut at) = match b[1] & 0x7f {
            126 if b.len() >= 4 => (u64::from(u16::from_be_bytes([b[2], b[3]])), 4),
            127 if b.len() >= 10 => {
                let mut n = [0u8; 8];
                n.copy_from_slice(&b[2..10]);
                (u64::from_be_bytes(n), 10)
            }
            126 | 127 => return Ok(None),
            n => (u64::from(n), 2),
        };
        if op >= 8 && (len > 125 || !fin) {
            return Err(fail(1002, "invalid control frame"));
        }
        if len > self.max as u64 {
            return Err(fail(1009, "frame too large"));
        }
        let len = len as usize;
        if b.len() < at + 4 + len {
            return Ok(None);
        }
        let key = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        at += 4;
        let payload = b[at..at + len]
            .iter()
            .enumerate()
            .map(|(i, x)| x ^ key[i % 4])
            .collect();
        Ok(Some((fin, op, payload, at + len)))
    }
}

#[cfg(test)]
#[path = "websocket_tests.rs"]
mod tests;
