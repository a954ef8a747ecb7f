//! `http.websocket` as a server, against the RFC 6455 client of
//! `wsclient.rs`: echo, fragments, control frames, and the limits.

use super::wsclient::Client;
use super::*;
use std::io::{Read, Write};
use std::net::TcpStream;

fn ws(extra: &[(&str, &str)]) -> (BootedNode, u16) {
    let node = boot("ws_server", extra);
    let port = node.listen_port();
    (node, port)
}

#[test]
fn an_outside_client_gets_its_messages_echoed() {
    let (node, port) = ws(&[]);
    let mut c = Client::connect(port, "/echo?x=1");
    c.send_text("hello world!");
    let f = c.read_message().unwrap();
    assert_eq!(
        (f.fin, f.op, f.payload.as_slice()),
        (true, 1, &b"hello world!"[..])
    );
    // binary, 16-bit and 64-bit lengths
    for n in [3usize, 300, 70_000] {
        let data: Vec<u8> = (0..n).map(|i| (i % 251) as u8).collect();
        c.send_frame(true, 2, &data);
        let f = c.read_message().unwrap();
        assert_eq!((f.op, f.payload.len()), (2, n));
        assert_eq!(f.payload, data);
    }
    // a message in three fragments, with a ping between them
    c.send_frame(false, 1, b"frag");
    c.send_frame(true, 9, b"are you there");
    let pong = c.read_frame().unwrap();
    assert_eq!(
        (pong.op, pong.payload.as_slice()),
        (0xA, &b"are you there"[..])
    );
    c.send_frame(false, 0, b"men");
    c.send_frame(true, 0, b"ted");
    let f = c.read_message().unwrap();
    assert_eq!(f.payload, b"fragmented");
    // closing: the server answers with a close frame
    c.send_frame(true, 8, &[0x03, 0xe8, b'o', b'k']);
    assert!(c.close_code().is_some());
    assert!(
        logged_within(&node, &["ws close 1000 ok"], Duration::from_secs(5)),
        "{}",
        node.dump()
    );
    assert!(node.logged_all(&["ws handshake /echo?x=1"]));
    assert!(c.response.contains("Upgrade: websocket"));
}

#[test]
fn oversize_frames_and_messages_are_refused() {
    let (node, port) = ws(&[
        ("websocket_max_frame", "1000"),
        ("websocket_max_message", "2500"),
    ]);
    let mut c = Client::connect(port, "/");
    c.send_frame(true, 2, &[0u8; 1000]);
    assert_eq!(c.read_message().unwrap().payload.len(), 1000);
    // a frame over the limit: refused before its payload is read
    c.send_frame(true, 2, &[0u8; 1001]);
    assert_eq!(c.close_code(), Some(1009));
    // a header announcing 2^62 bytes
    let mut c = Client::connect(port, "/");
    let mut f = vec![0x82u8, 0x80 | 127];
    f.extend_from_slice(&(1u64 << 62).to_be_bytes());
    f.extend_from_slice(&[1, 2, 3, 4]);
    c.s.write_all(&f).unwrap();
    assert_eq!(c.close_code(), Some(1009));
    // fragments adding up past the message limit
    let mut c = Client::connect(port, "/");
    c.send_frame(false, 1, &[b'a'; 1000]);
    c.send_frame(false, 0, &[b'a'; 1000]);
    c.send_frame(true, 0, &[b'a'; 1000]);
    assert_eq!(c.close_code(), Some(1009));
    // malformed: reserved bits, unknown opcode, long control frame
    for first in [0xC1u8, 0x83, 0x89] {
        let mut c = Client::connect(port, "/");
        let len = if first == 0x89 { 126u8 } else { 1 };
        let mut f = vec![first, 0x80 | len];
        if len == 126 {
            f.extend_from_slice(&200u16.to_be_bytes());
        }
        f.extend_from_slice(&[0, 0, 0, 0]);
        f.extend(std::iter::repeat_n(0u8, if len == 126 { 200 } else { 1 }));
        c.s.write_all(&f).unwrap();
        assert_eq!(c.close_code(), Some(1002), "first byte {first:#x}");
    }
    // the server is still there
    let mut c = Client::connect(port, "/");
    c.send_text("counters");
    let counters = String::from_utf8(c.read_message().unwrap().payload).unwrap();
    assert!(counters.contains("accepted="), "{counters}");
    drop(node);
}

#[test]
fn a_flooding_client_is_cut_off() {
    let (node, port) = ws(&[("websocket_max_rate", "20")]);
    let mut c = Client::connect(port, "/");
    let burst: Vec<String> = (0..60).map(|i| format!("m{i}")).collect();
    c.send_texts(&burst);
    let mut echoed = 0;
    let code = loop {
        let Some(f) = c.read_frame() else { break None };
        match f.op {
            1 => echoed += 1,
            8 => break Some(u16::from_be_bytes([f.payload[0], f.payload[1]])),
            _ => {}
        }
    };
    assert_eq!(code, Some(1008));
    assert!(echoed <= 20, "{echoed} echoed");
    drop(node);
}

#[test]
fn bad_handshakes_get_http_errors() {
    let (node, port) = ws(&[("websocket_handshake_timeout", "50")]);
    let ask = |req: &str| {
        let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    };
    let base =
        "Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n";
    assert!(ask("POST / HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 400"));
    assert!(ask("GET / HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 426"));
    assert!(ask(&format!("GET / HTTP/1.1\r\n{base}\r\n")).starts_with("HTTP/1.1 400"));
    assert!(ask(&format!(
        "GET / HTTP/1.1\r\n{base}Sec-WebSocket-Key: c2hvcnQ=\r\n\r\n"
    ))
    .starts_with("HTTP/1.1 400"));
    // a client that never finishes its handshake is hung up on
    let t = std::time::Instant::now();
    let out = ask("GET / HTTP/1.1\r\n");
    assert!(
        out.is_empty() && t.elapsed() < Duration::from_secs(5),
        "{out:?}"
    );
    drop(node);
}
