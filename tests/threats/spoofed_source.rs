//! Threat: a compromised service sends messages that claim to come from a
//! trusted service, or that look like client input or socket events.
//! The runtime stamps every message's source itself; only a service the
//! policy grants `redirect` can show another source, and even then the
//! message records who really sent it.

use skyhold_core::{ptype, Grant, Handle, Payload, Policy, Role, SendError, Subject};
use skyhold_testkit::*;
use std::sync::mpsc;

/// What the recorder saw of each message: source, origin, type.
type Seen = mpsc::Receiver<(Handle, Handle, u8)>;

fn recorder() -> (Box<dyn skyhold_core::Service>, Seen) {
    let (tx, rx) = mpsc::channel();
    let s = on_message(move |_, m| {
        let _ = tx.send((m.source, m.origin, m.ptype));
    });
    (s.boxed(), rx)
}

#[test]
fn the_source_is_always_the_real_sender() {
    let t = node();
    let (svc, rx) = recorder();
    let target = t.spawn("target", svc);
    let sender = t.run_as("sender", move |ctx| {
        ctx.send(target, ptype::LUA, 0, Payload::from("hi"))
            .unwrap();
    });
    let (source, origin, _) = expect(&rx, "the message");
    assert_eq!(source, sender);
    assert_eq!(origin, sender);
}

#[test]
fn redirect_without_a_grant_is_refused_and_audited() {
    let t = node();
    let (svc, rx) = recorder();
    let target = t.spawn("target", svc);
    let trusted = t.spawn("trusted", idle());
    let (tx, result) = mpsc::channel();
    let attacker = t.run_as("attacker", move |ctx| {
        let _ = tx.send(ctx.redirect(target, trusted, ptype::LUA, 0, Payload::from("forged")));
    });
    assert_eq!(
        expect(&result, "redirect result"),
        Err(SendError::Denied {
            what: "redirect".into()
        })
    );
    expect_nothing(&rx, "the target must not receive a forged message");
    assert!(t.audited(&["redirect", &attacker.to_string()]));
    assert_eq!(t.node.handle().audit().count("redirect"), 1);
}

#[test]
fn a_granted_forwarder_shows_the_claimed_source_but_origin_is_the_real_sender() {
    let mut policy = Policy::default();
    policy.define_role(Role::new("forwarder", [Grant::Redirect]));
    policy
        .assign(Subject::Native("gate".into()), "forwarder")
        .unwrap();
    let t = node_with(policy, |_| {});
    let (svc, rx) = recorder();
    let target = t.spawn("target", svc);
    let client = t.spawn("client-agent", idle());
    let gate = t.run_as("gate", move |ctx| {
        ctx.redirect(target, client, ptype::LUA, 0, Payload::from("x"))
            .unwrap();
    });
    let (source, origin, _) = expect(&rx, "the forwarded message");
    assert_eq!(source, client);
    assert_eq!(origin, gate, "the real sender is recorded");
}

#[test]
fn client_and_socket_messages_cannot_be_faked_by_an_ordinary_service() {
    let t = node();
    let (svc, rx) = recorder();
    let target = t.spawn("agent", svc);
    let (tx, results) = mpsc::channel();
    t.run_as("compromised", move |ctx| {
        for ty in [
            ptype::CLIENT,
            ptype::SOCKET,
            ptype::SYSTEM,
            ptype::HARBOR,
            ptype::MULTICAST,
            ptype::QUEUE,
        ] {
            let _ = tx.send((ty, ctx.send(target, ty, 0, Payload::from("x"))));
        }
    });
    for _ in 0..6 {
        let (ty, r) = expect(&results, "a result");
        assert!(
            matches!(r, Err(SendError::Denied { .. })),
            "type {ty} was not refused: {r:?}"
        );
    }
    expect_nothing(&rx, "nothing reaches the agent");
    assert!(t.audited(&["send:client"]));
    assert!(t.audited(&["send:socket"]));
}

#[test]
fn even_a_system_service_cannot_send_socket_events() {
    let t = node();
    let (svc, rx) = recorder();
    let target = t.spawn("agent", svc);
    let (tx, results) = mpsc::channel();
    // "launcher" gets the built-in system role, which has every grant.
    t.node
        .spawn_as(
            Subject::Script("launcher".into()),
            on_message(|_, _| {})
                .on_init(move |ctx| {
                    let _ = tx.send(ctx.send(target, ptype::SOCKET, 0, Payload::from("x")));
                    let _ = tx.send(ctx.send(target, ptype::CLIENT, 0, Payload::from("x")));
                })
                .boxed(),
        )
        .unwrap();
    assert!(matches!(
        expect(&results, "socket"),
        Err(SendError::Denied { .. })
    ));
    assert_eq!(expect(&results, "client"), Ok(()));
    assert_eq!(expect(&rx, "client message").2, ptype::CLIENT);
}

#[test]
fn identity_answers_who_really_sent_a_message() {
    let t = node();
    let (tx, rx) = mpsc::channel();
    let target = t.spawn(
        "bank",
        on_message(move |ctx, m| {
            let _ = tx.send(ctx.identity_of(m.origin).map(|i| i.to_string()));
        })
        .boxed(),
    );
    t.spawn_as(
        "pretender",
        on_message(|_, _| {})
            .on_init(move |ctx| {
                ctx.send(target, ptype::LUA, 0, Payload::empty()).unwrap();
            })
            .boxed(),
    );
    let who = expect(&rx, "identity").expect("the sender is alive");
    assert_eq!(who, "native pretender (role service)");
}
