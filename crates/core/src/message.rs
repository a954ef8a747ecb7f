//! Messages and message types.

use bytes::Bytes;
use std::fmt;

use crate::handle::Handle;

/// skynet's message type numbers (`PTYPE_*`).
pub mod ptype {
    /// Strings; logger input; control strings.
    pub const TEXT: u8 = 0;
    /// Reply to a call; timer expiries are RESPONSE from handle 0.
    pub const RESPONSE: u8 = 1;
    /// Multicast delivery (session = channel id).
    pub const MULTICAST: u8 = 2;
    /// Client packets forwarded by a gate (session = socket id).
    pub const CLIENT: u8 = 3;
    /// System control.
    pub const SYSTEM: u8 = 4;
    /// Harbor control.
    pub const HARBOR: u8 = 5;
    /// Socket events (from handle 0 only).
    pub const SOCKET: u8 = 6;
    /// Error reply; with session 0 it means "the source is gone".
    pub const ERROR: u8 = 7;
    /// Reserved by skynet (deprecated mqueue).
    pub const QUEUE: u8 = 8;
    /// Debug protocol.
    pub const DEBUG: u8 = 9;
    /// Lua RPC.
    pub const LUA: u8 = 10;
    /// snax RPC.
    pub const SNAX: u8 = 11;
    /// Trace tag for the next request.
    pub const TRACE: u8 = 12;

    /// skynet's name for a type number, for logs.
    pub fn name(t: u8) -> &'static str {
        match t {
            TEXT => "text",
            RESPONSE => "response",
            MULTICAST => "multicast",
            CLIENT => "client",
            SYSTEM => "system",
            HARBOR => "harbor",
            SOCKET => "socket",
            ERROR => "error",
            QUEUE => "queue",
            DEBUG => "debug",
            LUA => "lua",
            SNAX => "snax",
            TRACE => "trace",
            _ => "user",
        }
    }

    /// True for the two reply types.
    pub fn is_reply(t: u8) -> bool {
        t == RESPONSE || t == ERROR
    }
}

/// The bytes a message carries. Moving a payload between queues never copies
/// it; a shared payload (multicast, socket data) is reference-counted.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Payload(Repr);

#[derive(Clone, Default, PartialEq, Eq)]
enum Repr {
    #[default]
    Empty,
    Owned(Vec<u8>),
    Shared(Bytes),
}

impl Payload {
    /// An empty payload.
    pub const fn empty() -> Self {
        Payload(Repr::Empty)
    }

    /// The bytes.
    pub fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Empty => &[],
            Repr::Owned(v) => v,
            Repr::Shared(b) => b,
        }
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.as_slice().len()
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Takes the bytes out as a vector (copies only a shared payload).
    pub fn into_vec(self) -> Vec<u8> {
        match self.0 {
            Repr::Empty => Vec::new(),
            Repr::Owned(v) => v,
            Repr::Shared(b) => b.to_vec(),
        }
    }
}

impl From<Vec<u8>> for Payload {
    fn from(v: Vec<u8>) -> Self {
        if v.is_empty() {
            Payload(Repr::Empty)
        } else {
            Payload(Repr::Owned(v))
        }
    }
}

impl From<Bytes> for Payload {
    fn from(b: Bytes) -> Self {
        Payload(Repr::Shared(b))
    }
}

impl From<&[u8]> for Payload {
    fn from(s: &[u8]) -> Self {
        Payload::from(s.to_vec())
    }
}

impl From<&str> for Payload {
    fn from(s: &str) -> Self {
        Payload::from(s.as_bytes())
    }
}

impl From<String> for Payload {
    fn from(s: String) -> Self {
        Payload::from(s.into_bytes())
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Payload({} bytes)", self.len())
    }
}

/// One message as a service receives it.
#[derive(Clone, Debug)]
pub struct Message {
    /// The sender as the receiver should see it (skynet's `source`). Stamped by
    /// the runtime: equal to `origin` unless a service granted `redirect`
    /// forwarded it on someone's behalf.
    pub source: Handle,
    /// The service that really executed the send (0 for the runtime itself).
    pub origin: Handle,
    /// skynet's session: 0 for a one-way message.
    pub session: i32,
    /// skynet's message type (`ptype`).
    pub ptype: u8,
    /// The bytes.
    pub payload: Payload,
}

impl Message {
    /// True when the sender waits for a reply to this message. Gate client
    /// packets and multicast deliveries reuse the session field for a socket
    /// or channel id, so they never expect one.
    pub fn expects_reply(&self) -> bool {
        self.session != 0
            && !matches!(
                self.ptype,
                ptype::RESPONSE | ptype::ERROR | ptype::CLIENT | ptype::MULTICAST | ptype::SOCKET
            )
    }
}
