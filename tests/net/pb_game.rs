//! The protobuf game (`examples/config.protobuf`) as a user runs it: the
//! `skyhold` binary on the example config, whose services compile
//! `examples/proto/game.proto` at run time with protoc.lua, and the
//! `skyhold-pb-client` binary saying hello, setting and getting notes and
//! quitting; a client that sends bytes no game.Request reads is closed.

use crate::example_game::{expect, Game, WAIT};
use skyhold_testkit::{repo, Piped};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;

const GAME: Game = Game {
    name: "pb-game",
    config: "config.protobuf",
    keys: "",
    listening: "protobuf game listening on ",
    client: env!("CARGO_BIN_EXE_skyhold-pb-client"),
};

fn config(tag: &str, extra: &str) -> PathBuf {
    GAME.config(tag, extra)
}

fn node(tag: &str, extra: &str) -> (Piped, u16) {
    GAME.node(tag, extra)
}

fn client(port: u16) -> Piped {
    GAME.client(port)
}

#[test]
fn the_pb_client_plays_a_session() {
    let (node, port) = node("session", "");
    let mut c = client(port);
    c.write(b"hello alice\n");
    let at = expect(&c, &node, 0, "welcome, alice (1 playing)");
    c.write(b"set colour deep blue\n");
    let at = expect(&c, &node, at, "ok");
    c.write(b"get colour\n");
    let at = expect(&c, &node, at, "= deep blue");
    c.write(b"get nothing\n");
    let at = expect(&c, &node, at, "(not set)");
    let long = "k".repeat(65);
    c.write(format!("set {long} v\n").as_bytes());
    let at = expect(&c, &node, at, "refused: a key is 1 to 64 bytes");
    // A second player sees the first one's note: one store for the node.
    let mut bob = client(port);
    bob.write(b"hello bob\n");
    expect(&bob, &node, 0, "welcome, bob (2 playing)");
    bob.write(b"get colour\n");
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
fn requests_sent_at_once_are_answered_in_order() {
    // The agent handles one request at a time (skynet.queue), so a quit
    // sent right behind a set and a get comes after their answers.
    let (node, port) = node("pipelined", "");
    let mut c = client(port);
    c.write(b"hello dora\nset colour green\nget colour\nquit\n");
    let mut last = 0;
    for part in [
        "welcome, dora",
        "ok",
        "= green",
        "bye, dora",
        "(connection closed)",
    ] {
        let at = expect(&c, &node, last, part);
        assert!(
            at >= last,
            "{part:?} came before an earlier answer:\n{}",
            c.dump()
        );
        last = at + 1;
    }
}

#[test]
fn a_client_that_skips_hello_or_sends_garbage_is_closed() {
    let (node, port) = node("rude", "");
    let mut c = client(port);
    c.write(b"get colour\n");
    expect(&c, &node, 0, "(connection closed)");
    // A length that runs past the message: no game.Request.
    let mut raw = TcpStream::connect(("127.0.0.1", port)).unwrap();
    raw.set_read_timeout(Some(WAIT)).unwrap();
    raw.write_all(&[0, 3, 0x12, 0x7f, 0x00]).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(
        raw.read(&mut buf).unwrap_or(0),
        0,
        "the connection stays open"
    );
    assert!(node
        .wait_for("closing a client that sent a bad message", WAIT)
        .is_some());
    // A name the game does not take is refused and the connection closed.
    let mut d = client(port);
    d.write(b"hello a/b\n");
    let at = expect(&d, &node, 0, "refused: a name is 1 to 32 letters");
    expect(&d, &node, at, "(connection closed)");
    // The node still serves others.
    let mut ok = client(port);
    ok.write(b"hello carol\n");
    expect(&ok, &node, 0, "welcome, carol");
}

#[test]
fn a_proto_file_outside_the_file_roots_is_not_read() {
    // With no file root for the schema, pb_main cannot read game.proto and
    // says why.
    let dir = std::env::temp_dir().join(format!("skyhold-pb-game-noroot-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ex = repo().join("examples");
    let cfg = config(
        "noroot",
        &format!("file_read_roots = \"{}\"", dir.display()),
    );
    let node = Piped::start(
        env!("CARGO_BIN_EXE_skyhold"),
        &[cfg.to_str().unwrap()],
        &repo(),
        &[],
    );
    let line = node
        .wait_for("does not compile", WAIT)
        .unwrap_or_else(|| panic!("pb_main read the schema anyway:\n{}", node.dump()));
    assert!(
        line.contains("module load error: game.proto"),
        "{line}\n(examples at {})",
        ex.display()
    );
}
