//! Integration tests with real TCP clients on 127.0.0.1: the example game
//! server's flow with two clients chatting in one room.

mod example_game;
mod pb_game;
mod sproto_game;

use skyhold_testkit::*;

#[test]
fn two_players_log_in_join_a_room_and_chat() {
    let g = game(&[]);
    let mut alice = Client::connect(g.port).unwrap();
    let mut bob = Client::connect(g.port).unwrap();
    alice.expect("hello");
    bob.expect("hello");
    alice.send("login alice wonderland").unwrap();
    alice.expect("welcome, alice");
    bob.send("login bob nottheword").unwrap();
    bob.expect("login failed");
    bob.send("login bob builder").unwrap();
    bob.expect("welcome, bob");
    alice.send("join lobby").unwrap();
    alice.expect("in lobby: alice");
    bob.send("join lobby").unwrap();
    bob.expect("in lobby: alice bob");
    alice.expect("* bob joined lobby");
    alice.send("say hello bob").unwrap();
    bob.expect("[lobby] alice: hello bob");
    alice.expect("[lobby] alice: hello bob");
    bob.send("ping").unwrap();
    bob.expect("pong");
    bob.send("quit").unwrap();
    bob.expect("bye");
    alice.expect("* bob left lobby");
    g.node.shutdown();
}

#[test]
fn a_player_cannot_speak_before_logging_in() {
    let g = game(&[]);
    let mut c = Client::connect(g.port).unwrap();
    c.expect("hello");
    c.send("say hi").unwrap();
    c.expect("join a room first");
    c.send("join lobby").unwrap();
    c.expect("login first");
    g.node.shutdown();
}
