//! The sproto game (`examples/config.sproto`) as a user runs it: the
//! `skyhold` binary on the example config, and the `skyhold-sproto-client`
//! binary typing handshake, set/get, waiting for a heartbeat and quitting.

use crate::example_game::{expect, Game, WAIT};
use skyhold_testkit::Piped;
use std::io::{Read, Write};
use std::net::TcpStream;

const GAME: Game = Game {
    name: "sproto-game",
    config: "config.sproto",
    keys: "heartbeat_interval = 0.3\n",
    listening: "sproto game listening on ",
    client: env!("CARGO_BIN_EXE_skyhold-sproto-client"),
};

fn node(tag: &str, extra: &str) -> (Piped, u16) {
    GAME.node(tag, extra)
}

fn client(port: u16) -> Piped {
    GAME.client(port)
}

#[test]
fn the_sproto_client_plays_a_session() {
    let (node, port) = node("session", "");
    let mut c = client(port);
    c.write(b"handshake alice\n");
    let at = expect(&c, &node, 0, "welcome, alice (heartbeat every 1 s)");
    c.write(b"set colour deep blue\n");
    let at = expect(&c, &node, at, "ok");
    c.write(b"get colour\n");
    let at = expect(&c, &node, at, "= deep blue");
    c.write(b"get nothing\n");
    let at = expect(&c, &node, at, "(not set)");
    let long = "k".repeat(65);
    c.write(format!("set {long} v\n").as_bytes());
    let at = expect(&c, &node, at, "refused: a key is 1 to 64 bytes");
    // The server pushes heartbeats on its own.
    let at = expect(&c, &node, at, "heartbeat ");
    // A second player sees the first one's note: one store for the node.
    let mut bob = client(port);
    bob.write(b"handshake bob\nget colour\n");
    expect(&bob, &node, 0, "= deep blue");
    c.write(b"quit\n");
    let at = expect(&c, &node, at, "bye, alice");
    expect(&c, &node, at, "(connection closed)");
    assert!(
        c.exited_within(WAIT),
        "the client did not exit:\n{}",
        c.dump()
    );
    // bob is still served.
    let n = bob.lines().len();
    bob.write(b"get colour\n");
    expect(&bob, &node, n, "= deep blue");
}

#[test]
fn a_client_that_skips_the_handshake_or_sends_garbage_is_closed() {
    let (node, port) = node("rude", "");
    let mut c = client(port);
    c.write(b"get colour\n");
    expect(&c, &node, 0, "(connection closed)");
    // Bytes that are no sproto package: the agent closes the connection.
    let mut raw = TcpStream::connect(("127.0.0.1", port)).unwrap();
    raw.set_read_timeout(Some(WAIT)).unwrap();
    raw.write_all(&[0, 4, 0xff, 0xff, 0xff, 0xff]).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        raw.read(&mut buf).unwrap_or(0),
        0,
        "the connection stays open"
    );
    assert!(node
        .wait_for("closing a client that sent a bad message", WAIT)
        .is_some());
    // The node still serves others.
    let mut ok = client(port);
    ok.write(b"handshake carol\n");
    expect(&ok, &node, 0, "welcome, carol");
}

#[test]
fn the_note_store_is_bounded() {
    let (node, port) = node("full", "kv_max_keys = 2");
    let mut c = client(port);
    c.write(b"handshake dave\nset a 1\nset b 2\n");
    let at = expect(&c, &node, 0, "ok");
    let at = expect(&c, &node, at + 1, "ok");
    c.write(b"set c 3\n");
    let at = expect(&c, &node, at + 1, "refused: the store is full (2 keys)");
    // A key already there may change.
    c.write(b"set a 10\nget a\n");
    let at = expect(&c, &node, at + 1, "ok");
    expect(&c, &node, at + 1, "= 10");
    let n = c.lines().len();
    c.write(format!("set big {}\n", "v".repeat(1025)).as_bytes());
    expect(&c, &node, n, "refused: a value is at most 1024 bytes");
}
