//! UDP on the socket server: a bound socket with its receive task, its
//! default peer, and datagrams sent to an address blob.
//!
//! As in skynet, a UDP socket has one address family, fixed by the address
//! it is bound or dialed to: an IPv6 address opens an IPv6 socket, and an
//! address blob of the other family is refused ("type mismatch"), never
//! translated.

use bytes::Bytes;
use skyhold_core::Handle;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::event::{self, parse_udp_address, udp_address};
use super::{Command, Entry, Kind, SocketError, SocketServer};

/// The wildcard address of `peer`'s family: where a dialing socket binds,
/// so its family is the peer's (skynet's udp_dial opens its socket with
/// the family of the resolved peer).
fn wildcard_for(peer: SocketAddr) -> SocketAddr {
    match peer {
        SocketAddr::V4(_) => SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), 0),
        SocketAddr::V6(_) => SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), 0),
    }
}

impl SocketServer {
    /// Resolves `host:port` to its first address. A literal IP is taken as
    /// is: formatting "::1" with a port would not parse back.
    fn udp_resolve(&self, host: &str, port: u16) -> Result<SocketAddr, SocketError> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(SocketAddr::new(ip, port));
        }
        self.runtime
            .block_on(tokio::net::lookup_host((host, port)))
            .map_err(|e| SocketError::Io(format!("udp {host}: {e}")))?
            .next()
            .ok_or_else(|| SocketError::Io(format!("no address for {host}")))
    }

    /// Binds a socket to `addr` (its family is `addr`'s).
    fn udp_bind(&self, addr: SocketAddr) -> Result<Arc<UdpSocket>, SocketError> {
        self.runtime
            .block_on(UdpSocket::bind(addr))
            .map(Arc::new)
            .map_err(|e| SocketError::Io(format!("udp {addr}: {e}")))
    }

    /// Opens a UDP socket bound to `host:port` (port 0: any); returns its
    /// id and the address it is bound to. With no host and no port the
    /// socket is IPv4 and unbound in skynet's sense: a `udp_connect` before
    /// any send may still give it the peer's family (see [`Self::udp_connect`]).
    pub fn udp(
        self: &Arc<Self>,
        owner: Handle,
        host: Option<&str>,
        port: u16,
    ) -> Result<(i32, SocketAddr), SocketError> {
        let addr = match host {
            Some(h) => self.udp_resolve(h, port)?,
            None => SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port),
        };
        let sock = self.udp_bind(addr)?;
        self.udp_open(owner, sock, None, host.is_none() && port == 0)
    }

    /// skynet's `udp_dial`: opens a socket of the peer's family with the
    /// peer as its default; returns its id and the address it is bound to.
    pub fn udp_dial(
        self: &Arc<Self>,
        owner: Handle,
        host: &str,
        port: u16,
    ) -> Result<(i32, SocketAddr), SocketError> {
        let peer = self.udp_resolve(host, port)?;
        let sock = self.udp_bind(wildcard_for(peer))?;
        self.udp_open(owner, sock, Some(peer), false)
    }

    /// Registers a bound socket and starts its receive task.
    fn udp_open(
        self: &Arc<Self>,
        owner: Handle,
        sock: Arc<UdpSocket>,
        peer: Option<SocketAddr>,
        unbound: bool,
    ) -> Result<(i32, SocketAddr), SocketError> {
        let local = sock
            .local_addr()
            .map_err(|e| SocketError::Io(e.to_string()))?;
        let (tx, mut rx) = mpsc::unbounded_channel::<Command>();
        let mut entry = Entry::new(Kind::Udp, owner, tx, self.epoch);
        entry.udp = Some(sock.clone());
        entry.udp_peer = peer;
        entry.udp_unbound = unbound;
        let traffic = entry.traffic.clone();
        traffic.set_reading(true);
        let id = self.register(entry);
        let me = self.clone();
        self.runtime.spawn(async move {
            let mut sock = sock;
            let mut buf = vec![0u8; 65536];
            loop {
                tokio::select! {
                    cmd = rx.recv() => match cmd {
                        Some(Command::Close) | Some(Command::Shutdown) | None => break,
                        // The socket was reopened in its peer's family.
                        Some(Command::UdpSocket(s)) => sock = s,
                        _ => {}
                    },
                    r = sock.recv_from(&mut buf) => {
                        let Ok((n, from)) = r else { break };
                        traffic.did_read(n);
                        me.counters.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
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

    /// Sets a UDP socket's default peer. The peer must be of the socket's
    /// family ("protocol mismatch" otherwise, as skynet's set_udp_address),
    /// except for a socket opened with no address that has not sent yet:
    /// it is reopened in the peer's family, so `socket.udp(cb)` followed by
    /// `udp_connect` (how skynet.socket's `udp_dial` may be written) opens
    /// the socket skynet's `udp_dial` would.
    pub fn udp_connect(
        &self,
        caller: Handle,
        id: i32,
        host: &str,
        port: u16,
    ) -> Result<(), SocketError> {
        self.authorize(caller, id, "udp_connect", false)?;
        let peer = self.udp_resolve(host, port)?;
        let (sock, unbound) = {
            let sockets = self.sockets.lock();
            let e = sockets.get(&id).ok_or(SocketError::Invalid(id))?;
            (
                e.udp.clone().ok_or(SocketError::Invalid(id))?,
                e.udp_unbound,
            )
        };
        let local = sock
            .local_addr()
            .map_err(|e| SocketError::Io(e.to_string()))?;
        let reopened = if local.is_ipv4() == peer.is_ipv4() {
            None
        } else if unbound {
            Some(self.udp_bind(wildcard_for(peer))?)
        } else {
            return Err(SocketError::Io(format!(
                "udp socket {id}: protocol mismatch ({peer} on a socket bound to {local})"
            )));
        };
        let mut sockets = self.sockets.lock();
        let e = sockets.get_mut(&id).ok_or(SocketError::Invalid(id))?;
        if let Some(s) = reopened {
            if let Some(tx) = &e.tx {
                let _ = tx.send(Command::UdpSocket(s.clone()));
            }
            e.udp = Some(s);
        }
        e.udp_peer = Some(peer);
        Ok(())
    }

    /// Sends a datagram to an address blob (as the UDP event carries). A
    /// blob of the other family is dropped and refused, as skynet's
    /// udp_socket_address refuses it ("type mismatch").
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
        let (sock, owner, traffic) = {
            let mut sockets = self.sockets.lock();
            let e = sockets.get_mut(&id).ok_or(SocketError::Invalid(id))?;
            let sock = e.udp.clone().ok_or(SocketError::Invalid(id))?;
            // Once it has sent, the socket has a port a peer may answer
            // to: it is no longer reopened by udp_connect.
            e.udp_unbound = false;
            (sock, e.owner, e.traffic.clone())
        };
        let local = sock
            .local_addr()
            .map_err(|e| SocketError::Io(e.to_string()))?;
        if local.is_ipv4() != addr.is_ipv4() {
            self.node.log(
                owner,
                &format!("socket-server: udp socket ({id}) error: type mismatch."),
            );
            return Err(SocketError::Io(format!(
                "udp socket {id}: type mismatch ({addr} from a socket bound to {local})"
            )));
        }
        self.counters
            .bytes_written
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        self.runtime.spawn(async move {
            if let Ok(n) = sock.send_to(&data, addr).await {
                traffic.did_write(n);
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dialing_socket_binds_the_wildcard_of_its_peers_family() {
        let v6: SocketAddr = "[::1]:53".parse().unwrap();
        let v4: SocketAddr = "127.0.0.1:53".parse().unwrap();
        assert_eq!(wildcard_for(v6), "[::]:0".parse().unwrap());
        assert_eq!(wildcard_for(v4), "0.0.0.0:0".parse().unwrap());
    }
}
