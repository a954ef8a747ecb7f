//! What the socket server tells operators about its sockets: per socket,
//! bytes read and written, when it last read and wrote, and what waits to
//! be sent (skynet's `socket_info`, behind `socket.netstat()` and the
//! debug console's `netstat`).

use skyhold_core::Handle;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::{Kind, SocketServer};

/// What kind of socket an entry of [`SocketServer::info`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SocketKind {
    /// A TCP listener (`LISTEN` in skynet's netstat).
    Listen,
    /// A TCP connection, accepted or connected (`TCP`).
    Tcp,
    /// A UDP socket (`UDP`).
    Udp,
}

impl SocketKind {
    /// skynet's name for the kind, as netstat prints it.
    pub fn skynet_name(self) -> &'static str {
        match self {
            SocketKind::Listen => "LISTEN",
            SocketKind::Tcp => "TCP",
            SocketKind::Udp => "UDP",
        }
    }
}

/// One socket as [`SocketServer::info`] reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketInfo {
    /// The socket id services know it by.
    pub id: i32,
    /// Listener, connection or UDP.
    pub kind: SocketKind,
    /// The service that owns it.
    pub owner: Handle,
    /// The other end: a connection's peer, a UDP socket's default peer.
    pub peer: Option<SocketAddr>,
    /// The address a listener or UDP socket is bound to.
    pub local: Option<SocketAddr>,
    /// Bytes read (for a listener: connections accepted).
    pub read: u64,
    /// Bytes written.
    pub written: u64,
    /// Bytes queued and not yet written.
    pub waiting: u64,
    /// How long ago it last read (accepted, for a listener); `None` if never.
    pub last_read: Option<Duration>,
    /// How long ago it last wrote; `None` if never.
    pub last_write: Option<Duration>,
    /// True while it reads (started, and not paused for a long queue).
    pub reading: bool,
    /// True while bytes wait to be written.
    pub writing: bool,
}

/// The traffic of one socket, shared by its I/O task and the table.
#[derive(Debug)]
pub(crate) struct Traffic {
    epoch: Instant,
    read: AtomicU64,
    written: AtomicU64,
    /// Milliseconds past `epoch` of the last read, plus one (0: never).
    read_at: AtomicU64,
    /// The same for writes.
    written_at: AtomicU64,
    reading: AtomicBool,
}

impl Traffic {
    pub(crate) fn new(epoch: Instant) -> Traffic {
        Traffic {
            epoch,
            read: AtomicU64::new(0),
            written: AtomicU64::new(0),
            read_at: AtomicU64::new(0),
            written_at: AtomicU64::new(0),
            reading: AtomicBool::new(false),
        }
    }

    fn stamp(&self) -> u64 {
        (self.epoch.elapsed().as_millis() as u64).saturating_add(1)
    }

    /// `n` bytes (or one accepted connection) came in.
    pub(crate) fn did_read(&self, n: usize) {
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        self.read_at.store(self.stamp(), Ordering::Relaxed);
    }

    /// `n` bytes went out.
    pub(crate) fn did_write(&self, n: usize) {
        self.written.fetch_add(n as u64, Ordering::Relaxed);
        self.written_at.store(self.stamp(), Ordering::Relaxed);
    }

    /// Whether the socket is reading now.
    pub(crate) fn set_reading(&self, on: bool) {
        self.reading.store(on, Ordering::Relaxed);
    }

    fn ago(&self, at: &AtomicU64, now: u64) -> Option<Duration> {
        match at.load(Ordering::Relaxed) {
            0 => None,
            t => Some(Duration::from_millis(now.saturating_sub(t))),
        }
    }
}

impl SocketServer {
    /// Every open socket, by id: kind, owner, addresses, traffic and what
    /// waits to be written. Read-only; services reach it as
    /// `socket.netstat()` (see `socketdriver`'s `info` for who sees what).
    pub fn info(&self) -> Vec<SocketInfo> {
        let sockets = self.sockets.lock();
        let mut out: Vec<SocketInfo> = sockets
            .iter()
            .map(|(id, e)| {
                let t = &e.traffic;
                let now = t.stamp();
                let waiting = e.pending_bytes.load(Ordering::Relaxed) as u64;
                let kind = match e.kind {
                    Kind::Listener => SocketKind::Listen,
                    Kind::Stream => SocketKind::Tcp,
                    Kind::Udp => SocketKind::Udp,
                };
                let local = match (&e.udp, e.local) {
                    (Some(u), _) => u.local_addr().ok(),
                    (None, l) => l,
                };
                SocketInfo {
                    id: *id,
                    kind,
                    owner: e.owner,
                    peer: e.udp_peer.or(e.peer),
                    local,
                    read: t.read.load(Ordering::Relaxed),
                    written: t.written.load(Ordering::Relaxed),
                    waiting,
                    last_read: t.ago(&t.read_at, now),
                    last_write: t.ago(&t.written_at, now),
                    reading: t.reading.load(Ordering::Relaxed),
                    writing: waiting > 0,
                }
            })
            .collect();
        drop(sockets);
        out.sort_by_key(|i| i.id);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traffic_counts_bytes_and_remembers_when() {
        let t = Traffic::new(Instant::now());
        let now = t.stamp();
        assert_eq!(t.ago(&t.read_at, now), None);
        t.did_read(10);
        t.did_read(5);
        t.did_write(7);
        assert_eq!(t.read.load(Ordering::Relaxed), 15);
        assert_eq!(t.written.load(Ordering::Relaxed), 7);
        let later = t.stamp() + 250;
        let ago = t.ago(&t.read_at, later).unwrap();
        assert!(ago >= Duration::from_millis(250), "{ago:?}");
        assert!(t.ago(&t.written_at, later).is_some());
    }

    #[test]
    fn kinds_have_skynets_names() {
        assert_eq!(SocketKind::Listen.skynet_name(), "LISTEN");
        assert_eq!(SocketKind::Tcp.skynet_name(), "TCP");
        assert_eq!(SocketKind::Udp.skynet_name(), "UDP");
    }
}
