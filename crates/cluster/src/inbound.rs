//! Inbound connections: each is checked before it becomes a link. It must
//! finish a TLS handshake with a certificate the cluster authority signed,
//! within `cluster_handshake_timeout`, or speak plain TCP from the address
//! of a node named in `cluster_plaintext`; and while it does, it holds a
//! share of every limit on inbound connections.

use std::collections::HashMap;
use std::hash::Hash;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

use crate::hub::{Event, Hub, Io, LinkShared};
use crate::link::{read_requests, tune, watch_silence, write_loop};
use crate::tls;

/// Accepts links on `listener` until aborted.
pub fn listen(hub: &Arc<Hub>, rt: &tokio::runtime::Handle, listener: TcpListener) -> AbortHandle {
    let hub = hub.clone();
    rt.spawn(async move {
        loop {
            let Ok((tcp, peer)) = listener.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            };
            // Two slots before any byte is read: one of the connections from
            // this address, one of those still in their handshake. Each is
            // given back however the connection ends.
            let slots = Slot::take(&hub, SlotKind::Ip(peer.ip()))
                .and_then(|ip| Ok((ip, Slot::take(&hub, SlotKind::Handshake)?)));
            let (ip_slot, handshake) = match slots {
                Ok(s) => s,
                Err(why) => {
                    hub.refuse_link(&peer.to_string(), &why);
                    continue;
                }
            };
            let hub = hub.clone();
            tokio::spawn(async move {
                let limit = hub.config.handshake_timeout;
                let admitted = tokio::time::timeout(limit, admit(&hub, tcp, peer)).await;
                drop(handshake);
                match admitted {
                    Ok(Ok((io, name))) => {
                        // The link slots are taken by name, once it is known.
                        let slots = Slot::take(&hub, SlotKind::Link)
                            .and_then(|l| Ok([l, Slot::take(&hub, SlotKind::Peer(name.clone()))?]));
                        match slots {
                            Ok(slots) => run_inbound(hub, (ip_slot, slots), io, name).await,
                            Err(why) => hub.refuse_link(&format!("{name} ({peer})"), &why),
                        }
                    }
                    Ok(Err(why)) => hub.refuse(peer, &why),
                    Err(_) => hub.refuse(
                        peer,
                        "did not finish its handshake in time (config cluster_handshake_timeout)",
                    ),
                }
            });
        }
    })
    .abort_handle()
}

/// What an inbound connection holds a share of.
enum SlotKind {
    /// Connections from one address (`cluster_max_per_ip`).
    Ip(IpAddr),
    /// Connections still in their handshake (`cluster_max_handshakes`).
    Handshake,
    /// Inbound links (`cluster_max_links`).
    Link,
    /// Inbound links of one peer (`cluster_max_links_per_peer`).
    Peer(String),
}

/// A share of a limit, given back when dropped, however the connection
/// ends.
struct Slot {
    hub: Arc<Hub>,
    kind: SlotKind,
}

impl Slot {
    fn take(hub: &Arc<Hub>, kind: SlotKind) -> Result<Slot, String> {
        let c = &hub.config;
        let (taken, why) = match &kind {
            SlotKind::Ip(ip) => (
                bump_key(&hub.per_ip, *ip, c.max_per_ip),
                format!(
                    "{} connections from {ip} are open (config cluster_max_per_ip)",
                    c.max_per_ip
                ),
            ),
            SlotKind::Handshake => (
                bump(&hub.handshaking, c.max_handshakes),
                format!(
                    "{} connections are in their handshake (config cluster_max_handshakes)",
                    c.max_handshakes
                ),
            ),
            SlotKind::Link => (
                bump(&hub.open_inbound, c.max_links),
                format!("{} links are open (config cluster_max_links)", c.max_links),
            ),
            SlotKind::Peer(name) => (
                bump_key(&hub.per_peer, name.clone(), c.max_links_per_peer),
                format!(
                    "{name} has {} links open (config cluster_max_links_per_peer)",
                    c.max_links_per_peer
                ),
            ),
        };
        if taken {
            Ok(Slot {
                hub: hub.clone(),
                kind,
            })
        } else {
            Err(why)
        }
    }
}

/// Adds one to `key`'s count unless it is at `max`.
fn bump_key<K: Eq + Hash>(counts: &Mutex<HashMap<K, usize>>, key: K, max: usize) -> bool {
    let mut counts = counts.lock();
    let n = counts.entry(key).or_insert(0);
    let ok = *n < max;
    if ok {
        *n += 1;
    }
    ok
}

/// Takes one off `key`'s count, forgetting the key at zero.
fn release_key<K: Eq + Hash>(counts: &Mutex<HashMap<K, usize>>, key: &K) {
    let mut counts = counts.lock();
    if let Some(n) = counts.get_mut(key) {
        *n -= 1;
        if *n == 0 {
            counts.remove(key);
        }
    }
}

/// Adds one to `n` unless it is at `max`.
fn bump(n: &AtomicUsize, max: usize) -> bool {
    n.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
        (v < max).then_some(v + 1)
    })
    .is_ok()
}

impl Drop for Slot {
    fn drop(&mut self) {
        let hub = &self.hub;
        match &self.kind {
            SlotKind::Ip(ip) => release_key(&hub.per_ip, ip),
            SlotKind::Handshake => {
                hub.handshaking.fetch_sub(1, Ordering::Relaxed);
            }
            SlotKind::Link => {
                hub.open_inbound.fetch_sub(1, Ordering::Relaxed);
            }
            SlotKind::Peer(name) => release_key(&hub.per_peer, name),
        }
    }
}

async fn run_inbound(hub: Arc<Hub>, slots: (Slot, [Slot; 2]), io: Box<dyn Io>, peer: String) {
    hub.counters.accepted.fetch_add(1, Ordering::Relaxed);
    let link = hub.new_link();
    let (shared, rx) = LinkShared::new();
    shared.heard(&hub);
    let (r, w) = tokio::io::split(io);
    let accepted = Event::Accepted {
        link,
        peer,
        shared: shared.clone(),
    };
    if !hub.emit(accepted) {
        shared.stop();
        return;
    }
    // The reader starts after `clusterd` has heard of the link, so no
    // request of it can arrive first.
    let task_shared = shared.clone();
    let task = tokio::spawn(async move {
        let _slots = slots;
        let shared = &task_shared;
        let why = tokio::select! {
            why = read_requests(r, link, shared, &hub) => why,
            why = write_loop(w, rx, shared, &hub) => why,
            why = watch_silence(shared, &hub) => why,
        };
        task_shared.stop();
        hub.emit(Event::Down { link, why });
    });
    shared.adopt(task.abort_handle());
}

/// Checks a fresh connection: TLS with a signed certificate, or plain TCP
/// from a plaintext peer's address. Returns the stream and the peer's name.
async fn admit(
    hub: &Hub,
    tcp: TcpStream,
    peer: SocketAddr,
) -> Result<(Box<dyn Io>, String), String> {
    tune(&tcp, &hub.config);
    // A TLS handshake record starts 16 03 01 or 16 03 03. A skynet
    // cluster packet starts with its length and then its type; the only
    // types with those values are a multi-part header (always 13 bytes
    // long, not 0x1603) and a last part (never first), so three bytes tell
    // the two apart.
    let mut first = [0u8; 3];
    loop {
        let n = tcp.peek(&mut first).await.map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("closed before saying anything".into());
        }
        if n == 3 || first[..n] != [0x16, 0x03][..n.min(2)] {
            break;
        }
        // Part of a TLS record so far; the handshake timeout bounds this.
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    if first[0] == 0x16 && first[1] == 0x03 && matches!(first[2], 0x01 | 0x03) {
        if let Some(tls) = &hub.tls {
            let s = tls
                .acceptor
                .accept(tcp)
                .await
                .map_err(|e| format!("TLS handshake failed: {e}"))?;
            let names: Vec<String> = hub.map.read().keys().cloned().collect();
            let name = s
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .and_then(|c| tls::peer_name(c, &names))
                .unwrap_or_else(|| format!("unnamed peer {peer}"));
            return Ok((Box::new(s), name));
        }
    }
    match plaintext_peer(hub, peer.ip()).await {
        Some(name) => Ok((Box::new(tcp), name)),
        None => Err(if hub.tls.is_some() {
            "spoke plain TCP from an address no node in cluster_plaintext has".into()
        } else {
            "this node has no TLS identity, and the address is no node's in cluster_plaintext"
                .into()
        }),
    }
}

/// The plaintext peer whose mapped address is `ip`, if any.
async fn plaintext_peer(hub: &Hub, ip: IpAddr) -> Option<String> {
    let candidates: Vec<(String, String)> = {
        let map = hub.map.read();
        hub.config
            .plaintext
            .iter()
            .filter_map(|n| Some((n.clone(), map.get(n)?.clone()?)))
            .collect()
    };
    for (name, addr) in candidates {
        // An address written as an IP needs no lookup; only host names do.
        if let Ok(a) = addr.parse::<SocketAddr>() {
            if a.ip() == ip {
                return Some(name);
            }
            continue;
        }
        if let Ok(addrs) = tokio::net::lookup_host(addr.as_str()).await {
            if addrs.into_iter().any(|a| a.ip() == ip) {
                return Some(name);
            }
        }
    }
    None
}
