//! Tests of a gate connection: plain and over TLS (a rustls client from
//! skyhold-tls, driven over buffers), its deadline and its message rate.

use super::*;
use skyhold_tls::{configs, Settings};

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

fn masked(op: u8, payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let key = [9u8, 8, 7, 6];
    let mut f = vec![0x80 | op, 0x80 | payload.len() as u8];
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

/// A server configuration from a fresh self-signed certificate.
fn server_config(tag: &str) -> Arc<ServerConfig> {
    let dir = std::env::temp_dir().join(format!("skyhold-wspeer-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let (c, k) = (dir.join("c.pem"), dir.join("k.pem"));
    std::fs::write(&c, cert.pem()).unwrap();
    std::fs::write(&k, key.serialize_pem()).unwrap();
    let config = configs::server(c.to_str().unwrap(), k.to_str().unwrap()).unwrap();
    std::fs::remove_dir_all(dir).unwrap();
    config
}

fn sends(ev: &[PeerEvent]) -> Vec<u8> {
    ev.iter()
        .filter_map(|e| match e {
            PeerEvent::Send(b) => Some(b.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

fn messages(ev: &[PeerEvent]) -> Vec<Vec<u8>> {
    ev.iter()
        .filter_map(|e| match e {
            PeerEvent::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn plain_messages_and_the_rate_limit() {
    let mut p = Peer::new(1000, None, 0).unwrap();
    let ev = p.feed(REQUEST, 0, 3);
    assert!(String::from_utf8_lossy(&sends(&ev)).starts_with("HTTP/1.1 101"));
    assert!(p.is_open());
    let mut three = Vec::new();
    for m in [&b"a"[..], b"b", b"c"] {
        three.extend(masked(1, m));
    }
    assert_eq!(messages(&p.feed(&three, 50, 3)).len(), 3);
    // the next second counts afresh
    assert_eq!(messages(&p.feed(&masked(1, b"d"), 150, 3)).len(), 1);
    let ev = p.feed(
        &[masked(1, b"e"), masked(1, b"f"), masked(1, b"g")].concat(),
        160,
        3,
    );
    assert_eq!(messages(&ev).len(), 2);
    match ev.last() {
        Some(PeerEvent::Close(Some(why))) => assert!(why.contains("socket_frame_rate"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(p.feed(&masked(1, b"h"), 500, 3).is_empty(), "closed");
}

#[test]
fn a_broken_rule_is_a_cut_and_a_close_frame_is_not() {
    let mut p = Peer::new(10, None, 0).unwrap();
    p.feed(REQUEST, 0, 100);
    let ev = p.feed(&masked(2, &[0u8; 20]), 0, 100);
    match ev.last() {
        Some(PeerEvent::Close(Some(why))) => assert!(why.contains("1009"), "{why}"),
        other => panic!("{other:?}"),
    }
    let mut p = Peer::new(10, None, 0).unwrap();
    p.feed(REQUEST, 0, 100);
    let ev = p.feed(&masked(8, &1000u16.to_be_bytes()), 0, 100);
    assert_eq!(ev.last(), Some(&PeerEvent::Close(None)));
}

#[test]
fn the_opening_has_a_deadline() {
    let mut p = Peer::new(1000, None, 100).unwrap();
    assert!(!p.overdue(1099, 1000));
    assert!(p.overdue(1100, 1000));
    // a slow handshake, a byte at a time, is still overdue
    p.feed(&REQUEST[..10], 500, 100);
    assert!(p.overdue(1100, 1000));
    p.feed(&REQUEST[10..], 600, 100);
    assert!(!p.overdue(5000, 1000), "open connections have no deadline");
}

#[test]
fn websocket_over_tls() {
    let server = server_config("tls");
    let mut p = Peer::new(1000, Some(&server), 0).unwrap();
    let settings = Settings {
        allowed: vec![],
        ca: None,
        verify: false,
    };
    let mut client = Engine::client(
        configs::client(&settings).unwrap(),
        Some("localhost".into()),
        false,
    );
    // the TLS handshake, then the upgrade request in the same flight as
    // the client's Finished
    let mut to_server = client.handshake(b"").unwrap();
    let mut rounds = 0;
    while !client.finished() {
        rounds += 1;
        assert!(rounds < 10);
        let ev = p.feed(&to_server, 0, 100);
        assert!(messages(&ev).is_empty());
        to_server = client.handshake(&sends(&ev)).unwrap();
    }
    assert!(!p.is_open());
    // a message written before the opening is done waits for it
    assert_eq!(p.outgoing(b"welcome").unwrap(), None);
    to_server.extend(client.write(REQUEST).unwrap());
    to_server.extend(client.write(&masked(1, b"hello")).unwrap());
    let ev = p.feed(&to_server, 0, 100);
    assert!(p.is_open());
    assert_eq!(messages(&ev), vec![b"hello".to_vec()]);
    let wire = sends(&ev);
    assert!(!wire.windows(8).any(|w| w == b"HTTP/1.1"), "encrypted");
    let plain = client.read(&wire).unwrap();
    let text = String::from_utf8_lossy(&plain);
    assert!(text.starts_with("HTTP/1.1 101"), "{text}");
    assert!(plain.ends_with(b"\x81\x07welcome"), "{text}");
    let out = p.outgoing(b"bye").unwrap().unwrap();
    assert_eq!(client.read(&out).unwrap(), b"\x81\x03bye");
}

#[test]
fn a_hostile_tls_client_is_cut() {
    let server = server_config("hostile");
    // plain HTTP to the TLS port
    let mut p = Peer::new(1000, Some(&server), 0).unwrap();
    let ev = p.feed(REQUEST, 0, 100);
    match ev.last() {
        Some(PeerEvent::Close(Some(why))) => assert!(why.starts_with("TLS:"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(p.feed(b"more", 0, 100).is_empty());
    // a record of a content type TLS does not have
    let mut p = Peer::new(1000, Some(&server), 0).unwrap();
    let ev = p.feed(&[0x99, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5], 0, 100);
    assert!(
        matches!(ev.last(), Some(PeerEvent::Close(Some(_)))),
        "{ev:?}"
    );
    // a record header that promises more than a record may hold
    let mut p = Peer::new(1000, Some(&server), 0).unwrap();
    let ev = p.feed(&[0x16, 0x03, 0x01, 0xff, 0xff], 0, 100);
    assert!(
        matches!(ev.last(), Some(PeerEvent::Close(Some(_)))),
        "{ev:?}"
    );
    // a partial ClientHello that never ends is not open: the deadline cuts it
    let mut p = Peer::new(1000, Some(&server), 0).unwrap();
    assert!(p
        .feed(&[0x16, 0x03, 0x01, 0x01, 0x00, 0x01], 0, 100)
        .is_empty());
    assert!(p.overdue(1000, 1000));
}
