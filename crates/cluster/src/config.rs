//! The cluster's settings: where its identity is, which peers are trusted
//! how far, and its limits, each with a safe default and a config key.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::reassembly;

/// Reads skynet's cluster map file (`name = "host:port"`, every value a
/// string, `false` for a node that is down). The binary supplies it, so the
/// map is read exactly as the node's own config is.
pub type MapReader =
    Arc<dyn Fn(&std::path::Path) -> Result<BTreeMap<String, String>, String> + Send + Sync>;

/// The PEM files of this node's TLS identity.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Identity {
    /// `cluster_cert`: this node's certificate chain.
    pub cert: Option<PathBuf>,
    /// `cluster_key`: its private key.
    pub key: Option<PathBuf>,
    /// `cluster_ca`: the certificates that sign every node of the cluster.
    pub ca: Option<PathBuf>,
}

/// Cluster settings.
#[derive(Clone)]
pub struct ClusterConfig {
    /// `cluster`: skynet's cluster map file, read at start and by
    /// `cluster.reload()` with no table.
    pub map_file: Option<PathBuf>,
    /// How to read it.
    pub map_reader: Option<MapReader>,
    /// The TLS identity; without it only plaintext peers can be reached.
    pub identity: Identity,
    /// `cluster_plaintext`: nodes spoken to over plain TCP (legacy skynet
    /// nodes). Their address can only come from the map file.
    pub plaintext: BTreeSet<String>,
    /// `cluster_any_address`: nodes whose requests may address any local
    /// service (numeric handles, `.name`), not only names registered with
    /// `cluster.register`.
    pub any_address: BTreeSet<String>,
    /// `cluster_max_message`, `cluster_max_partial`,
    /// `cluster_max_partial_bytes`: multi-part limits per link.
    pub reassembly: reassembly::Limits,
    /// `cluster_max_inflight`: requests from one link waiting for replies.
    pub max_inflight: usize,
    /// `cluster_max_links`: inbound links open at once.
    pub max_links: usize,
    /// `cluster_max_links_per_peer`: inbound links one peer may hold.
    pub max_links_per_peer: usize,
    /// `cluster_max_handshakes`: inbound connections still in their
    /// handshake, so unauthenticated ones cannot take the links' slots.
    pub max_handshakes: usize,
    /// `cluster_max_per_ip`: inbound connections from one address.
    pub max_per_ip: usize,
    /// `cluster_max_queued`: bytes waiting on one link, to be written or
    /// read and not yet delivered; and bytes held for nodes with no address.
    pub max_queued: usize,
    /// `cluster_max_waiting`: requests held for a node with no address yet.
    pub max_waiting: usize,
    /// `cluster_max_nodes`: nodes the map may name.
    pub max_nodes: usize,
    /// `cluster_handshake_timeout`: seconds to connect and finish TLS.
    pub handshake_timeout: Duration,
    /// `cluster_heartbeat`: how long an outbound link may read nothing
    /// before it asks the peer for a sign of life (a name query every
    /// skynet node answers).
    pub heartbeat: Duration,
    /// `cluster_heartbeat_timeout`: a link that reads nothing for this long
    /// is closed and the calls on it fail. Inbound links are held to it
    /// once their peer has shown it sends heartbeats (a skynet peer never
    /// does, and is left to TCP keepalive).
    pub heartbeat_timeout: Duration,
    /// `cluster_reconnect_max`: the longest wait between two attempts to
    /// reach a node that is down. Calls made meanwhile fail at once.
    pub reconnect_max: Duration,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            map_file: None,
            map_reader: None,
            identity: Identity::default(),
            plaintext: BTreeSet::new(),
            any_address: BTreeSet::new(),
            reassembly: reassembly::Limits::default(),
            max_inflight: 4096,
            max_links: 256,
            max_links_per_peer: 4,
            max_handshakes: 64,
            max_per_ip: 16,
            max_queued: 16 << 20,
            max_waiting: 1024,
            max_nodes: 1024,
            handshake_timeout: Duration::from_secs(5),
            heartbeat: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(5),
            reconnect_max: Duration::from_secs(1),
        }
    }
}

impl std::fmt::Debug for ClusterConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterConfig")
            .field("map_file", &self.map_file)
            .field("identity", &self.identity)
            .field("plaintext", &self.plaintext)
            .field("any_address", &self.any_address)
            .field("reassembly", &self.reassembly)
            .field("max_inflight", &self.max_inflight)
            .field("max_links", &self.max_links)
            .field("max_links_per_peer", &self.max_links_per_peer)
            .field("max_handshakes", &self.max_handshakes)
            .field("max_per_ip", &self.max_per_ip)
            .field("max_queued", &self.max_queued)
            .field("max_waiting", &self.max_waiting)
            .field("max_nodes", &self.max_nodes)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("heartbeat", &self.heartbeat)
            .field("heartbeat_timeout", &self.heartbeat_timeout)
            .field("reconnect_max", &self.reconnect_max)
            .finish()
    }
}

/// A positive time in seconds, a fraction allowed ("0.5"), at most a day.
fn seconds(key: &str, value: &str) -> Result<Duration, String> {
    match value.trim().parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 86_400.0 => Ok(Duration::from_secs_f64(s)),
        _ => Err(format!(
            "config key {key}: '{value}' is not a time in seconds (more than 0, at most 86400)"
        )),
    }
}

fn names(value: &str) -> BTreeSet<String> {
    value
        .split([',', ';', ' '])
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

impl ClusterConfig {
    /// The config keys.
    pub const KEYS: &'static [&'static str] = &[
        "cluster",
        "cluster_cert",
        "cluster_key",
        "cluster_ca",
        "cluster_plaintext",
        "cluster_any_address",
        "cluster_max_message",
        "cluster_max_partial",
        "cluster_max_partial_bytes",
        "cluster_max_inflight",
        "cluster_max_links",
        "cluster_max_links_per_peer",
        "cluster_max_handshakes",
        "cluster_max_per_ip",
        "cluster_max_queued",
        "cluster_max_waiting",
        "cluster_max_nodes",
        "cluster_handshake_timeout",
        "cluster_heartbeat",
        "cluster_heartbeat_timeout",
        "cluster_reconnect_max",
    ];

    /// The keys that take a time in seconds (a fraction allowed).
    const SECONDS: &'static [&'static str] = &[
        "cluster_handshake_timeout",
        "cluster_heartbeat",
        "cluster_heartbeat_timeout",
        "cluster_reconnect_max",
    ];

    /// Applies one setting; paths are taken relative to `base`. False for a
    /// key that is not the cluster's.
    pub fn set(&mut self, key: &str, value: &str, base: &std::path::Path) -> Result<bool, String> {
        let path = || Some(base.join(value));
        match key {
            "cluster" => self.map_file = path(),
            "cluster_cert" => self.identity.cert = path(),
            "cluster_key" => self.identity.key = path(),
            "cluster_ca" => self.identity.ca = path(),
            "cluster_plaintext" => self.plaintext = names(value),
            "cluster_any_address" => self.any_address = names(value),
            _ => {
                if !Self::KEYS.contains(&key) {
                    return Ok(false);
                }
                if Self::SECONDS.contains(&key) {
                    let d = seconds(key, value)?;
                    match key {
                        "cluster_handshake_timeout" => self.handshake_timeout = d,
                        "cluster_heartbeat" => self.heartbeat = d,
                        "cluster_heartbeat_timeout" => self.heartbeat_timeout = d,
                        _ => self.reconnect_max = d,
                    }
                    return Ok(true);
                }
                let n: u64 = match value.trim().parse() {
                    Ok(n) if n > 0 => n,
                    _ => {
                        return Err(format!(
                            "config key {key}: '{value}' is not a positive whole number"
                        ))
                    }
                };
                let n = usize::try_from(n).unwrap_or(usize::MAX);
                match key {
                    "cluster_max_message" => self.reassembly.max_message = n,
                    "cluster_max_partial" => self.reassembly.max_partial = n,
                    "cluster_max_partial_bytes" => self.reassembly.max_partial_bytes = n,
                    "cluster_max_inflight" => self.max_inflight = n,
                    "cluster_max_links" => self.max_links = n,
                    "cluster_max_links_per_peer" => self.max_links_per_peer = n,
                    "cluster_max_handshakes" => self.max_handshakes = n,
                    "cluster_max_per_ip" => self.max_per_ip = n,
                    "cluster_max_queued" => self.max_queued = n,
                    "cluster_max_waiting" => self.max_waiting = n,
                    _ => self.max_nodes = n,
                }
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_sets_something() {
        let base = std::path::Path::new("/etc/game");
        for k in ClusterConfig::KEYS {
            let mut c = ClusterConfig::default();
            assert_eq!(c.set(k, "3", base), Ok(true), "{k}");
        }
        let mut c = ClusterConfig::default();
        assert!(c.set("cluster_max_inflight", "none", base).is_err());
        assert_eq!(c.set("thread", "2", base), Ok(false));
        c.set("cluster_plaintext", "old1, old2", base).unwrap();
        assert_eq!(c.plaintext.len(), 2);
        c.set("cluster_ca", "ca.pem", base).unwrap();
        assert_eq!(c.identity.ca, Some(PathBuf::from("/etc/game/ca.pem")));
    }

    #[test]
    fn times_take_fractions_of_a_second_and_refuse_nonsense() {
        let base = std::path::Path::new("/");
        let mut c = ClusterConfig::default();
        c.set("cluster_heartbeat", "0.25", base).unwrap();
        assert_eq!(c.heartbeat, Duration::from_millis(250));
        c.set("cluster_handshake_timeout", "2", base).unwrap();
        assert_eq!(c.handshake_timeout, Duration::from_secs(2));
        for bad in ["0", "-1", "soon", "NaN", "1e9"] {
            assert!(
                c.set("cluster_heartbeat_timeout", bad, base).is_err(),
                "{bad}"
            );
        }
    }
}
