//! UDP on the socket server: a bound socket with its receive task, its
//! default peer, and datagrams sent to an address blob.

use bytes::Bytes;
use skyhold_core::Handle;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use super::event::{self, parse_udp_address, udp_address};
use super::{Command, Entry, Kind, SocketError, SocketServer};

impl SocketServer {
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
}
