//! The socket layer's limits, each with a safe default and a config key.

use std::time::Duration;

/// Socket limits.
#[derive(Clone, Debug)]
pub struct NetLimits {
    /// `socket_max_connections`: accepted connections open at once.
    pub max_connections: usize,
    /// `socket_max_per_ip`: accepted connections from one IP address.
    ///
    /// The default ([`DEFAULT_MAX_PER_IP`]) is sized for players, not for
    /// attackers: an internet café or a mobile carrier's NAT puts hundreds
    /// of players behind one address. Floods from one address are held by
    /// the other limits (accept rate, idle and frame deadlines, frame and
    /// read rates), which cost a legitimate player nothing.
    pub max_connections_per_ip: usize,
    /// `socket_accept_rate`: accepts per second per listener.
    pub accepts_per_second: u32,
    /// `socket_idle_timeout`: seconds without traffic before a connection is closed.
    pub idle_timeout: Duration,
    /// `socket_send_buffer`: unsent bytes after which a connection is closed.
    pub max_send_buffer: usize,
    /// `socket_send_warning`: unsent bytes at which the owner is warned.
    pub send_warning: usize,
    /// `socket_pause_queue`: owner mailbox length at which reading pauses.
    pub owner_queue_pause: usize,
    /// `socket_read_rate`: bytes a connection may send per second.
    pub read_bytes_per_second: usize,
    /// `socket_frame_rate`: frames a framed connection may send per second.
    pub frames_per_second: u32,
    /// `socket_frame_timeout`: seconds to complete a frame once it has begun.
    pub frame_timeout: Duration,
    /// `socket_max_frame`: largest frame of a framed connection (2-byte
    /// headers allow at most 65535; a 4-byte header needs this cap).
    pub max_frame: usize,
    /// `socket_handshake_timeout`: seconds a connection to a WebSocket
    /// gate (`W`, `WSS`) has, from its accept, to finish its opening (the
    /// TLS handshake and the WebSocket upgrade).
    pub handshake_timeout: Duration,
}

/// The default of `socket_max_per_ip`: a tenth of the default
/// `socket_max_connections`, enough for a carrier-grade NAT's players
/// behind one address, while ten such addresses are needed to fill the node.
pub const DEFAULT_MAX_PER_IP: usize = 1_000;

impl Default for NetLimits {
    fn default() -> Self {
        NetLimits {
            max_connections: 10_000,
            max_connections_per_ip: DEFAULT_MAX_PER_IP,
            accepts_per_second: 1_000,
            idle_timeout: Duration::from_secs(300),
            max_send_buffer: 8 << 20,
            send_warning: 1 << 20,
            owner_queue_pause: 4096,
            read_bytes_per_second: 4 << 20,
            frames_per_second: 2000,
            frame_timeout: Duration::from_secs(10),
            max_frame: 65_535,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

impl NetLimits {
    /// The config keys.
    pub const KEYS: &'static [&'static str] = &[
        "socket_max_connections",
        "socket_max_per_ip",
        "socket_accept_rate",
        "socket_idle_timeout",
        "socket_send_buffer",
        "socket_send_warning",
        "socket_pause_queue",
        "socket_read_rate",
        "socket_frame_rate",
        "socket_frame_timeout",
        "socket_max_frame",
        "socket_handshake_timeout",
    ];

    /// Applies one setting; false for a key that is not a socket limit.
    pub fn set(&mut self, key: &str, value: &str) -> Result<bool, String> {
        let n: u64 = match value.trim().parse() {
            Ok(n) if n > 0 => n,
            _ if !Self::KEYS.contains(&key) => return Ok(false),
            _ => {
                return Err(format!(
                    "config key {key}: '{value}' is not a positive whole number"
                ))
            }
        };
        match key {
            "socket_max_connections" => self.max_connections = n as usize,
            "socket_max_per_ip" => self.max_connections_per_ip = n as usize,
            "socket_accept_rate" => self.accepts_per_second = n.min(u64::from(u32::MAX)) as u32,
            "socket_idle_timeout" => self.idle_timeout = Duration::from_secs(n),
            "socket_send_buffer" => self.max_send_buffer = n as usize,
            "socket_send_warning" => self.send_warning = n as usize,
            "socket_pause_queue" => self.owner_queue_pause = n as usize,
            "socket_read_rate" => self.read_bytes_per_second = n as usize,
            "socket_frame_rate" => self.frames_per_second = n.min(u64::from(u32::MAX)) as u32,
            "socket_frame_timeout" => self.frame_timeout = Duration::from_secs(n),
            "socket_max_frame" => self.max_frame = n as usize,
            "socket_handshake_timeout" => self.handshake_timeout = Duration::from_secs(n),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_sets_something() {
        for k in NetLimits::KEYS {
            let mut l = NetLimits::default();
            assert_eq!(l.set(k, "3"), Ok(true), "{k}");
        }
        assert!(NetLimits::default()
            .set("socket_max_per_ip", "zero")
            .is_err());
        assert_eq!(NetLimits::default().set("thread", "2"), Ok(false));
    }

    #[test]
    fn the_per_address_default_serves_players_behind_one_nat() {
        let l = NetLimits::default();
        // Hundreds of players behind one address are let in...
        assert!(l.max_connections_per_ip >= 500);
        // ...and one address still cannot take the whole node.
        assert!(l.max_connections_per_ip * 10 <= l.max_connections);
        // The flood limits that do the work stay in place.
        assert!(l.accepts_per_second <= 1_000);
        assert!(l.frame_timeout <= Duration::from_secs(10));
        assert!(l.idle_timeout <= Duration::from_secs(300));
    }
}
