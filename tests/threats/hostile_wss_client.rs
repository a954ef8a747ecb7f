//! Threat: hostile clients of the native gate's `wss://` mode (the example
//! game's browser gate over TLS) — plain HTTP or garbage where a TLS
//! handshake belongs, a ClientHello dribbled a byte at a time (slowloris),
//! a TLS session that never sends its WebSocket upgrade, and a flood of
//! messages once open. Each is cut (by the handshake deadline,
//! `socket_handshake_timeout`, or the message rate, `socket_frame_rate`),
//! logged with its reason and counted (`gate_cut`); a legitimate wss
//! player still plays afterwards. Traffic stays on loopback.

use skyhold_testkit::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Secure {
    game: Game,
    port: u16,
    authority: Authority,
}

/// The example game with its wss gate on, a 2-second handshake deadline
/// and 50 messages a second.
fn secure_game() -> Secure {
    let authority = Authority::new("wss-threat");
    authority.issue_for("web", &["localhost", "127.0.0.1"]);
    let port = free_port();
    let p = |f: &str| authority.dir.join(f).display().to_string();
    let (cert, key) = (p("web.pem"), p("web.key"));
    let (web, ws, wss) = (
        free_port().to_string(),
        free_port().to_string(),
        port.to_string(),
    );
    let game = game(&[
        ("web_port", &web),
        ("ws_port", &ws),
        ("wss_port", &wss),
        ("certfile", &cert),
        ("keyfile", &key),
        ("socket_handshake_timeout", "2"),
        ("socket_frame_rate", "50"),
        ("metrics", "127.0.0.1:0"),
    ]);
    assert!(
        wait_until(Duration::from_secs(10), || game
            .log
            .lock()
            .iter()
            .any(|l| l.contains("WebSocket players on wss://"))),
        "{:?}",
        game.log.lock()
    );
    Secure {
        game,
        port,
        authority,
    }
}

fn logged(g: &Game, part: &str) -> bool {
    wait_until(Duration::from_secs(5), || {
        g.log.lock().iter().any(|l| l.contains(part))
    })
}

/// Reads until the server closes the connection; false if it is still
/// open after `limit`.
fn closed_within(s: &mut TcpStream, limit: Duration) -> bool {
    let end = Instant::now() + limit;
    s.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return true,
        }
    }
    false
}

fn tls_client(s: &Secure) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let settings = skyhold_tls::Settings {
        allowed: vec![],
        ca: Some(s.authority.dir.join("ca.pem").display().to_string()),
        verify: true,
    };
    let config = skyhold_tls::configs::client(&settings).unwrap();
    let conn = rustls::ClientConnection::new(config, "localhost".try_into().unwrap()).unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    rustls::StreamOwned::new(conn, tcp)
}

const UPGRADE: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Version: 13\r\n\r\n";

fn masked(payload: &[u8]) -> Vec<u8> {
    assert!(payload.len() < 126);
    let key = [1u8, 2, 3, 4];
    let mut f = vec![0x81, 0x80 | payload.len() as u8];
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

/// A legitimate wss player logs in.
fn legit_player(s: &Secure) {
    let mut c = tls_client(s);
    c.write_all(UPGRADE).unwrap();
    c.write_all(&masked(b"login alice wonderland")).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let end = Instant::now() + Duration::from_secs(5);
    while !String::from_utf8_lossy(&got).contains("welcome, alice") {
        assert!(
            Instant::now() < end,
            "no welcome: {:?}",
            String::from_utf8_lossy(&got)
        );
        let n = c.read(&mut buf).expect("the legitimate player is answered");
        assert!(n > 0, "closed: {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&buf[..n]);
    }
}

/// `skyhold_socket_gate_cut_total`, from the node's metrics endpoint.
fn cuts(s: &Secure) -> u64 {
    let at = s
        .game
        .log
        .lock()
        .iter()
        .find_map(|l| {
            l.split("metrics at http://")
                .nth(1)
                .and_then(|r| r.split('/').next())
                .map(str::to_string)
        })
        .expect("the metrics endpoint's address in the log");
    let mut c = TcpStream::connect(at.as_str()).unwrap();
    c.write_all(b"GET /metrics HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut text = String::new();
    c.read_to_string(&mut text).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("skyhold_socket_gate_cut_total "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no gate_cut counter in:\n{text}"))
}

#[test]
fn plain_http_and_garbage_on_the_tls_port_are_cut_at_once() {
    let s = secure_game();
    let before = cuts(&s);
    let mut c = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    c.write_all(UPGRADE).unwrap();
    assert!(
        closed_within(&mut c, Duration::from_secs(1)),
        "plain HTTP kept open"
    );
    let mut c = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    c.write_all(&[0x99; 64]).unwrap();
    assert!(
        closed_within(&mut c, Duration::from_secs(1)),
        "garbage kept open"
    );
    assert!(logged(&s.game, ": TLS: "), "{:?}", s.game.log.lock());
    assert!(
        wait_until(Duration::from_secs(3), || cuts(&s) >= before + 2),
        "the cuts were not counted"
    );
    legit_player(&s);
    s.game.node.shutdown();
}

#[test]
fn a_client_hello_dribbled_a_byte_at_a_time_is_cut_by_the_deadline() {
    let s = secure_game();
    // A real ClientHello, from rustls, sent a byte every 100 ms: it would
    // take far longer than the 2-second deadline.
    let settings = skyhold_tls::Settings {
        allowed: vec![],
        ca: None,
        verify: false,
    };
    let mut engine = skyhold_tls::Engine::client(
        skyhold_tls::configs::client(&settings).unwrap(),
        Some("localhost".into()),
        false,
    );
    let hello = engine.handshake(b"").unwrap();
    assert!(hello.len() > 40);
    let mut c = TcpStream::connect(("127.0.0.1", s.port)).unwrap();
    let started = Instant::now();
    let mut cut = false;
    for b in &hello {
        if c.write_all(std::slice::from_ref(b)).is_err() {
            cut = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        if started.elapsed() > Duration::from_secs(6) {
            break;
        }
    }
    assert!(
        cut || closed_within(&mut c, Duration::from_secs(1)),
        "still open"
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(5),
        "cut after {took:?}"
    );
    assert!(
        logged(
            &s.game,
            "opening not done in 2 s (config socket_handshake_timeout)"
        ),
        "{:?}",
        s.game.log.lock()
    );
    legit_player(&s);
    s.game.node.shutdown();
}

#[test]
fn a_tls_session_that_never_upgrades_is_cut_by_the_deadline() {
    let s = secure_game();
    let mut c = tls_client(&s);
    // the TLS handshake completes, the upgrade request never does
    c.write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\n")
        .unwrap();
    let started = Instant::now();
    let mut buf = [0u8; 256];
    let r = c.read(&mut buf);
    assert!(matches!(r, Ok(0) | Err(_)), "{r:?}");
    let took = started.elapsed();
    assert!(took < Duration::from_secs(4), "cut after {took:?}");
    assert!(logged(&s.game, "socket_handshake_timeout"));
    legit_player(&s);
    s.game.node.shutdown();
}

#[test]
fn a_message_flood_over_tls_is_cut_by_the_rate() {
    let s = secure_game();
    let mut c = tls_client(&s);
    c.write_all(UPGRADE).unwrap();
    let mut flood = Vec::new();
    for _ in 0..500 {
        flood.extend(masked(b"ping"));
    }
    let _ = c.write_all(&flood);
    // the server answers some pongs, then closes
    let mut buf = [0u8; 4096];
    let end = Instant::now() + Duration::from_secs(5);
    loop {
        assert!(Instant::now() < end, "the flood was not cut");
        match c.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
    assert!(
        logged(&s.game, "messages in a second (config socket_frame_rate)"),
        "{:?}",
        s.game.log.lock()
    );
    legit_player(&s);
    s.game.node.shutdown();
}
