//! skynet.crypt, md5 and skynet.netpack (issue 19): known answers through a
//! service, a login in the manner of skynet's examples/login, and a gate in
//! the manner of skynet's gateserver driven by a client that splits and
//! coalesces frames.

use skyhold_testkit::BootedNode;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Known answers computed with skynet's own C modules, and its error text.
#[test]
fn crypt_kat() {
    super::check("crypt_kat");
}

/// Challenge, DH, hmac64, DES token, base64: a client that knows the secret
/// logs in, one that does not is refused.
#[test]
fn crypt_login() {
    super::check("crypt_login");
}

fn frame(body: &[u8]) -> Vec<u8> {
    let mut v = u16::try_from(body.len())
        .expect("a frame fits a 2-byte header")
        .to_be_bytes()
        .to_vec();
    v.extend_from_slice(body);
    v
}

fn read_frame(s: &mut TcpStream) -> String {
    let mut h = [0u8; 2];
    s.read_exact(&mut h).expect("a frame header");
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(h))];
    s.read_exact(&mut body).expect("a frame body");
    String::from_utf8(body).expect("text")
}

/// Writes `parts` one at a time with a pause between, so the gate sees
/// them as separate reads.
fn send_split(s: &mut TcpStream, parts: &[&[u8]]) {
    for p in parts {
        s.write_all(p).expect("write");
        s.flush().expect("flush");
        std::thread::sleep(Duration::from_millis(30));
    }
}

#[test]
fn netpack_gate() {
    let dir = skyhold_testkit::repo().join("tests/compat/lua");
    let extra = [("netpack_buffer".to_string(), "50000".to_string())];
    let node = BootedNode::boot(&dir, "netpack_gate", &extra);
    let port = node.listen_port();
    let mut a = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    a.set_nodelay(true).expect("nodelay");
    a.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");

    // One frame cut inside its header and inside its body.
    send_split(&mut a, &[&[0], &[5, b'h'], b"ello"]);
    assert_eq!(read_frame(&mut a), "echo:hello");

    // Ten frames in one write.
    let many: Vec<u8> = (0..10)
        .flat_map(|i| frame(format!("m{i}").as_bytes()))
        .collect();
    a.write_all(&many).expect("write");
    for i in 0..10 {
        assert_eq!(read_frame(&mut a), format!("echo:m{i}"));
    }

    // Whole frames and the start of another, then its rest; an empty frame.
    let mut mixed = frame(b"x");
    mixed.extend(frame(b"yy"));
    let zzz = frame(b"zzz");
    mixed.extend_from_slice(&zzz[..3]);
    send_split(&mut a, &[&mixed, &zzz[3..], &frame(b"")]);
    for want in ["echo:x", "echo:yy", "echo:zzz", "echo:"] {
        assert_eq!(read_frame(&mut a), want);
    }

    // A large frame in many small writes stays under the limit.
    let big = frame(&vec![b'b'; 40_000]);
    for chunk in big.chunks(8_000) {
        send_split(&mut a, &[chunk]);
    }
    assert_eq!(read_frame(&mut a), "len:40000");

    // A connection whose frame would pass the queue's limit is told so and
    // closed; the first connection is not disturbed.
    let mut b = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    b.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let mut flood = vec![0xff, 0xff];
    flood.extend(vec![b'f'; 60_000]);
    // The gate may close b before it has all of it.
    let _ = b.write_all(&flood);
    let mut buf = [0u8; 16];
    match b.read(&mut buf) {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("the flooding connection got {n} bytes instead of being closed"),
    }
    assert!(
        node.eventually(&["gate: connection", "netpack_buffer"]),
        "{}",
        node.dump()
    );

    a.write_all(&frame(b"finish")).expect("write");
    let said = read_frame(&mut a);
    assert!(said.starts_with("ok "), "{said}");
    node.expect_pass("netpack_gate");
}
