//! The bytes of a PTYPE_SOCKET message, as the Lua side reads them: the
//! event kinds as skynet numbers them, the `type id ud data` layout, and
//! skynet's UDP address blob that a UDP event carries and `sendto` takes.

use skyhold_core::Payload;
use std::net::SocketAddr;

/// Data arrived (`ud` = byte count).
pub const DATA: u8 = 1;
/// Connected or started (`ud` = port for a listener).
pub const CONNECT: u8 = 2;
/// Closed.
pub const CLOSE: u8 = 3;
/// A connection was accepted (`id` = listener, `ud` = new id).
pub const ACCEPT: u8 = 4;
/// An error (text follows).
pub const ERROR: u8 = 5;
/// A UDP datagram (`ud` = size; data then the address blob).
pub const UDP: u8 = 6;
/// Bytes waiting to be sent passed a threshold (`ud` = KiB).
pub const WARNING: u8 = 7;
/// One complete frame of a framed connection (skyhold's; `ud` = size).
pub const FRAME: u8 = 8;

/// Encodes an event as the PTYPE_SOCKET payload our Lua library reads:
/// `type:u8 id:i32le ud:i32le` then the data or text.
pub fn encode_event(kind: u8, id: i32, ud: i32, data: &[u8]) -> Payload {
    let mut v = Vec::with_capacity(9 + data.len());
    v.push(kind);
    v.extend_from_slice(&id.to_le_bytes());
    v.extend_from_slice(&ud.to_le_bytes());
    v.extend_from_slice(data);
    Payload::from(v)
}

/// skynet's UDP address blob: protocol byte (1 = v4, 2 = v6), port (network
/// order), address bytes.
pub fn udp_address(a: SocketAddr) -> Vec<u8> {
    let mut v = Vec::with_capacity(19);
    match a {
        SocketAddr::V4(a4) => {
            v.push(1);
            v.extend_from_slice(&a4.port().to_be_bytes());
            v.extend_from_slice(&a4.ip().octets());
        }
        SocketAddr::V6(a6) => {
            v.push(2);
            v.extend_from_slice(&a6.port().to_be_bytes());
            v.extend_from_slice(&a6.ip().octets());
        }
    }
    v
}

/// Parses a UDP address blob.
pub fn parse_udp_address(b: &[u8]) -> Option<SocketAddr> {
    let port = u16::from_be_bytes([*b.get(1)?, *b.get(2)?]);
    match b.first()? {
        1 if b.len() == 7 => {
            let ip = std::net::Ipv4Addr::new(b[3], b[4], b[5], b[6]);
            Some(SocketAddr::new(ip.into(), port))
        }
        2 if b.len() == 19 => {
            let mut o = [0u8; 16];
            o.copy_from_slice(&b[3..19]);
            Some(SocketAddr::new(std::net::Ipv6Addr::from(o).into(), port))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn udp_address_blobs_round_trip() {
        for a in ["127.0.0.1:9000", "[::1]:53"] {
            let a: SocketAddr = a.parse().unwrap();
            assert_eq!(parse_udp_address(&udp_address(a)), Some(a));
        }
        assert_eq!(parse_udp_address(&[1, 0]), None);
        assert_eq!(parse_udp_address(&[9, 0, 1, 1, 2, 3, 4]), None);
    }

    #[test]
    fn events_encode_type_id_ud_then_data() {
        let p = encode_event(DATA, 7, 3, b"abc");
        assert_eq!(p.as_slice(), &[1, 7, 0, 0, 0, 3, 0, 0, 0, b'a', b'b', b'c']);
    }
}
