//! Tests of the gate's WebSocket state machine.

use super::*;
use proptest::prelude::*;

const REQUEST: &[u8] = b"GET /game HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

fn masked(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![(if fin { 0x80 } else { 0 }) | op];
    let n = payload.len();
    if n < 126 {
        f.push(0x80 | n as u8);
    } else if n <= 0xffff {
        f.push(0x80 | 126);
        f.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        f.push(0x80 | 127);
        f.extend_from_slice(&(n as u64).to_be_bytes());
    }
    let key = [1u8, 2, 3, 4];
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

fn open(max: usize) -> WsConn {
    let mut c = WsConn::new(max);
    let ev = c.feed(REQUEST);
    let WsEvent::Send(answer) = &ev[0] else {
        panic!("{ev:?}")
    };
    let answer = String::from_utf8(answer.clone()).unwrap();
    // RFC 6455 §1.3's example key and answer
    assert!(answer.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
    assert!(c.is_open());
    c
}

#[test]
fn base64_known_answers() {
    assert_eq!(base64(b""), "");
    assert_eq!(base64(b"f"), "Zg==");
    assert_eq!(base64(b"fo"), "Zm8=");
    assert_eq!(base64(b"foo"), "Zm9v");
    assert_eq!(base64(b"foobar"), "Zm9vYmFy");
}

#[test]
fn messages_fragments_and_control_frames() {
    let mut c = open(1000);
    let mut bytes = masked(true, 1, b"hello");
    bytes.extend(masked(false, 2, b"ab"));
    bytes.extend(masked(true, 9, b"p"));
    bytes.extend(masked(true, 0, b"cd"));
    // fed one byte at a time, the same events come out
    let mut ev = Vec::new();
    for b in &bytes {
        ev.extend(c.feed(std::slice::from_ref(b)));
    }
    assert_eq!(
        ev,
        vec![
            WsEvent::Message(b"hello".to_vec()),
            WsEvent::Send(encode_frame(10, b"p")),
            WsEvent::Message(b"abcd".to_vec()),
        ]
    );
    let ev = c.feed(&masked(true, 8, &[3, 232, b'x']));
    assert_eq!(
        ev,
        vec![WsEvent::Send(encode_frame(8, &[3, 232])), WsEvent::Close]
    );
    assert!(c.feed(&masked(true, 1, b"late")).is_empty());
}

fn close_code(ev: &[WsEvent]) -> u16 {
    match ev {
        [.., WsEvent::Send(f), WsEvent::Close] if f[0] == 0x88 => u16::from_be_bytes([f[2], f[3]]),
        other => panic!("no close: {other:?}"),
    }
}

#[test]
fn limits_and_protocol_errors_close_with_their_codes() {
    assert_eq!(
        close_code(&open(100).feed(&masked(true, 2, &[0; 101]))),
        1009
    );
    let mut huge = vec![0x82, 0xff];
    huge.extend_from_slice(&u64::MAX.to_be_bytes());
    assert_eq!(close_code(&open(100).feed(&huge)), 1009);
    let mut c = open(100);
    c.feed(&masked(false, 1, &[b'a'; 60]));
    assert_eq!(close_code(&c.feed(&masked(true, 0, &[b'a'; 60]))), 1009);
    assert_eq!(close_code(&open(100).feed(&masked(true, 0, b"x"))), 1002);
    assert_eq!(
        close_code(&open(100).feed(&[0x81, 0x01, b'x'])),
        1002,
        "unmasked"
    );
    assert_eq!(close_code(&open(100).feed(&masked(true, 3, b"x"))), 1002);
    assert_eq!(close_code(&open(100).feed(&masked(false, 9, b"x"))), 1002);
    assert_eq!(
        close_code(&open(1000).feed(&masked(true, 9, &[0; 126]))),
        1002
    );
    let mut c = open(100);
    c.feed(&masked(false, 1, b"a"));
    assert_eq!(close_code(&c.feed(&masked(true, 1, b"b"))), 1002);
}

#[test]
fn bad_handshakes_get_http_refusals() {
    for (req, status) in [
        (&b"POST / HTTP/1.1\r\n\r\n"[..], "400"),
        (b"GET / HTTP/1.0\r\n\r\n", "505"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "426"),
        (b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: short\r\n\r\n", "400"),
        (b"GET / HTTP/1.1\r\nno colon\r\n\r\n", "400"),
        (b"\xff\xfe\r\n\r\n", "400"),
    ] {
        let ev = WsConn::new(100).feed(req);
        let [WsEvent::Send(a), WsEvent::Close] = &ev[..] else {
            panic!("{ev:?}")
        };
        assert!(a.starts_with(format!("HTTP/1.1 {status}").as_bytes()), "{}", String::from_utf8_lossy(a));
    }
    let ev = WsConn::new(100).feed(&vec![b'a'; MAX_HANDSHAKE + 1]);
    assert!(
        matches!(&ev[..], [WsEvent::Send(a), WsEvent::Close] if a.starts_with(b"HTTP/1.1 431"))
    );
}

#[test]
fn what_is_written_before_the_handshake_waits_for_it() {
    let mut c = WsConn::new(100);
    assert_eq!(c.outgoing(b"hello"), Ok(None));
    let ev = c.feed(REQUEST);
    assert!(matches!(&ev[0], WsEvent::Send(a) if a.starts_with(b"HTTP/1.1 101")));
    assert_eq!(ev[1], WsEvent::Send(encode_message(b"hello")));
    assert_eq!(c.outgoing(b"now"), Ok(Some(encode_message(b"now"))));
    let mut c = WsConn::new(100);
    assert!(c.outgoing(&vec![0; MAX_HELD + 1]).is_err());
}

#[test]
fn messages_are_text_when_utf8() {
    assert_eq!(encode_message(b"hi")[0], 0x81);
    assert_eq!(encode_message(&[0xff])[0], 0x82);
    assert_eq!(&encode_frame(2, &[0; 300])[..4], &[0x82, 126, 1, 44]);
    assert_eq!(&encode_frame(2, &[0; 70000])[..2], &[0x82, 127]);
}

proptest! {
    #[test]
    fn hostile_bytes_never_panic_or_overgrow(data in proptest::collection::vec(any::<u8>(), 0..2048), split in 0usize..2048) {
        let mut c = open(512);
        let split = split.min(data.len());
        let mut ev = c.feed(&data[..split]);
        ev.extend(c.feed(&data[split..]));
        for e in &ev {
            if let WsEvent::Message(m) = e {
                prop_assert!(m.len() <= 512);
            }
        }
        prop_assert!(c.buf.len() <= 512 + 14 + 2048);
    }

    #[test]
    fn any_masked_message_round_trips(payload in proptest::collection::vec(any::<u8>(), 0..600)) {
        let mut c = open(1000);
        let ev = c.feed(&masked(true, 2, &payload));
        prop_assert_eq!(ev, vec![WsEvent::Message(payload)]);
    }
}
