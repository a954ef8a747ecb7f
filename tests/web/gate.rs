//! The native gate's WebSocket modes (`W`, and `WSS` over TLS), through
//! the example game's browser version: the RFC 6455 client of
//! `wsclient.rs` (over rustls for wss://, trusting a test authority) and
//! headless Chromium play it.

use super::certs::Certs;
use super::wsclient::Client;
use super::*;
use skyhold_testkit::{game, Game};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The example game with its browser version on: (game, page port,
/// WebSocket port).
fn web_game() -> (Game, u16, u16) {
    let (web, ws) = (free_port(), free_port());
    let g = game(&[("web_port", &web.to_string()), ("ws_port", &ws.to_string())]);
    wait_for_page(&g);
    (g, web, ws)
}

fn wait_for_page(g: &Game) {
    assert!(
        skyhold_testkit::wait_until(Duration::from_secs(10), || g
            .log
            .lock()
            .iter()
            .any(|l| l.contains("browser page on"))),
        "{:?}",
        g.log.lock()
    );
}

/// The same with wss:// too, with `certs`' certificate: (game, page port,
/// wss port).
fn secure_game(certs: &Certs, extra: &[(&str, &str)]) -> (Game, u16, u16) {
    let (web, ws, wss) = (free_port(), free_port(), free_port());
    let (web_s, ws_s, wss_s) = (web.to_string(), ws.to_string(), wss.to_string());
    let keys = certs.keys();
    let mut cfg: Vec<(&str, &str)> = vec![
        ("web_port", &web_s),
        ("ws_port", &ws_s),
        ("wss_port", &wss_s),
    ];
    cfg.extend(keys.iter().map(|(k, v)| (*k, v.as_str())));
    cfg.extend_from_slice(extra);
    let g = game(&cfg);
    wait_for_page(&g);
    assert!(
        skyhold_testkit::wait_until(Duration::from_secs(5), || g
            .log
            .lock()
            .iter()
            .any(|l| l.contains(&format!("WebSocket players on wss://127.0.0.1:{wss}/")))),
        "{:?}",
        g.log.lock()
    );
    (g, web, wss)
}

fn ca(certs: &Certs) -> String {
    certs.dir.join("ca.pem").display().to_string()
}

fn text(c: &mut Client) -> String {
    let f = c.read_message().expect("a message");
    assert_eq!(f.op, 1, "text frame");
    String::from_utf8(f.payload).unwrap()
}

/// Reads messages up to one containing `part` (the game also pushes
/// room news).
fn expect(c: &mut Client, part: &str) {
    for _ in 0..20 {
        if text(c).contains(part) {
            return;
        }
    }
    panic!("no message containing {part}");
}

#[test]
fn a_websocket_player_plays_through_the_native_gate() {
    let (g, _, ws) = web_game();
    let mut alice = Client::connect(ws, "/");
    assert!(text(&mut alice).starts_with("hello: login"));
    alice.send_text("login alice wonderland");
    assert_eq!(text(&mut alice), "welcome, alice");
    alice.send_text("join lobby");
    expect(&mut alice, "in lobby: alice");
    // a player over TCP in the same room hears the browser player
    let mut bob = skyhold_testkit::Client::connect(g.port).unwrap();
    bob.expect("hello");
    bob.send("login bob builder").unwrap();
    bob.expect("welcome, bob");
    bob.send("join lobby").unwrap();
    bob.expect("in lobby: alice bob");
    expect(&mut alice, "* bob joined lobby");
    alice.send_text("say hello bob");
    bob.expect("[lobby] alice: hello bob");
    expect(&mut alice, "[lobby] alice: hello bob");
    // a message in fragments is one command
    alice.send_frame(false, 1, b"pi");
    alice.send_frame(true, 0, b"ng");
    expect(&mut alice, "pong");
    // over the frame limit (socket_max_frame, 65535): closed with 1009
    alice.send_frame(true, 2, &vec![b'x'; 70_000]);
    assert_eq!(alice.close_code(), Some(1009));
    bob.expect("* alice left lobby");
    g.node.shutdown();
}

#[test]
fn chromium_plays_the_example_game() {
    let Some(bin) = super::browser::chromium() else {
        eprintln!("chromium is not installed: skipped (.ci/run installs it)");
        return;
    };
    let (g, web, _) = web_game();
    let url = format!(
        "http://127.0.0.1:{web}/?play=login%20alice%20wonderland;join%20lobby;say%20hi%20from%20a%20browser"
    );
    let (dom, _) = super::browser::dom_with(
        bin,
        &url,
        &["welcome, alice", "[lobby] alice: hi from a browser"],
    );
    assert!(
        dom.contains("welcome, alice") && dom.contains("[lobby] alice: hi from a browser"),
        "DOM:\n{dom}\nnode:\n{}",
        g.log.lock().join("\n")
    );
    let shot = std::env::temp_dir().join(format!("skyhold-game-{}.png", std::process::id()));
    super::browser::headless(
        bin,
        &[
            &format!("--screenshot={}", shot.display()),
            "--window-size=800,600",
        ],
        &url,
    );
    println!(
        "chromium screenshot of the example game played in a browser: {}",
        shot.display()
    );
    g.node.shutdown();
}

#[test]
fn a_wss_player_plays_through_the_native_gate() {
    let certs = Certs::new("wss-game");
    let (g, _, wss) = secure_game(&certs, &[]);
    // the certificate is checked against the test authority and the name
    let mut alice = Client::connect_tls(wss, "/", &ca(&certs), "localhost");
    assert!(text(&mut alice).starts_with("hello: login"));
    alice.send_text("login alice wonderland");
    assert_eq!(text(&mut alice), "welcome, alice");
    alice.send_text("join lobby");
    expect(&mut alice, "in lobby: alice");
    // a plain ws:// player and a TCP player share the room with her
    let mut carol = Client::connect(
        g.log
            .lock()
            .iter()
            .find_map(|l| l.split("WebSocket players on ws://127.0.0.1:").nth(1))
            .and_then(|p| p.trim_end_matches('/').parse().ok())
            .expect("ws port"),
        "/",
    );
    assert!(text(&mut carol).starts_with("hello"));
    carol.send_text("login carol singer");
    assert_eq!(text(&mut carol), "welcome, carol");
    carol.send_text("join lobby");
    expect(&mut alice, "* carol joined lobby");
    alice.send_text("say over tls");
    expect(&mut carol, "[lobby] alice: over tls");
    // fragments, pings, and the frame limit hold over TLS as well
    alice.send_frame(false, 1, b"pi");
    alice.send_frame(true, 0, b"ng");
    expect(&mut alice, "pong");
    alice.send_frame(true, 2, &vec![b'x'; 70_000]);
    assert_eq!(alice.close_code(), Some(1009));
    expect(&mut carol, "* alice left lobby");
    // a client that does not trust the authority gets no connection
    let other = Certs::new("wss-other-ca");
    let mut s = super::wsclient::tls_stream(wss, &ca(&other), "localhost").unwrap();
    use std::io::Write;
    let e = s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap_err();
    assert!(e.to_string().contains("certificate"), "{e}");
    g.node.shutdown();
}

#[test]
fn a_wss_gate_without_certificates_says_what_to_set() {
    let wss = free_port();
    let g = game(&[
        ("web_port", &free_port().to_string()),
        ("ws_port", &free_port().to_string()),
        ("wss_port", &wss.to_string()),
    ]);
    assert!(
        skyhold_testkit::wait_until(Duration::from_secs(10), || g
            .log
            .lock()
            .iter()
            .any(|l| l.contains("WSS mode needs certfile and keyfile"))),
        "{:?}",
        g.log.lock()
    );
    g.node.shutdown();
}

#[test]
fn chromium_plays_the_example_game_over_wss() {
    let Some(bin) = super::browser::chromium() else {
        eprintln!("chromium is not installed: skipped (.ci/run installs it)");
        return;
    };
    let certs = Certs::new("wss-chromium");
    let (g, web, wss) = secure_game(&certs, &[]);
    let url = format!(
        "http://127.0.0.1:{web}/?wss&play=login%20alice%20wonderland;join%20lobby;say%20hi%20over%20wss"
    );
    // The test authority is not in Chromium's store: it is told to accept
    // the certificate (the TLS handshake itself is real).
    let (dom, stderr) = super::browser::dom_with_flags(
        bin,
        &["--ignore-certificate-errors"],
        &url,
        &["welcome, alice", "[lobby] alice: hi over wss"],
    );
    assert!(
        dom.contains(&format!("connected to wss://127.0.0.1:{wss}/"))
            && dom.contains("welcome, alice")
            && dom.contains("[lobby] alice: hi over wss"),
        "DOM:\n{dom}\nstderr:\n{stderr}\nnode:\n{}",
        g.log.lock().join("\n")
    );
    let shot = std::env::temp_dir().join(format!("skyhold-game-wss-{}.png", std::process::id()));
    super::browser::headless(
        bin,
        &[
            "--ignore-certificate-errors",
            &format!("--screenshot={}", shot.display()),
            "--window-size=800,600",
        ],
        &url,
    );
    println!(
        "chromium screenshot of the example game played over wss://: {}",
        shot.display()
    );
    g.node.shutdown();
}
