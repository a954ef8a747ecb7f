//! The native gate's WebSocket mode, through the example game's browser
//! version: the RFC 6455 client of `wsclient.rs` and headless Chromium
//! play it.

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
    assert!(
        skyhold_testkit::wait_until(Duration::from_secs(10), || g
            .log
            .lock()
            .iter()
            .any(|l| l.contains("browser page on"))),
        "{:?}",
        g.log.lock()
    );
    (g, web, ws)
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
