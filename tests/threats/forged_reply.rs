//! Threat: a compromised service answers a call that was made to someone
//! else (guessing the session), completing it with attacker data; or replies
//! twice, or to a call that was never made. A reply is delivered only when it
//! comes from the service the call went to, for a session still open.

use skyhold_core::{ptype, Handle, Payload, SendError};
use skyhold_testkit::*;
use std::sync::mpsc;

#[test]
fn a_guessed_reply_from_a_third_service_is_dropped_and_the_real_one_arrives() {
    let t = node();
    // The honest callee holds the request until told to answer.
    let (held_tx, held) = mpsc::channel::<(Handle, i32)>();
    let callee = t.spawn(
        "callee",
        on_message(move |ctx, m| {
            if m.ptype == ptype::LUA {
                let _ = held_tx.send((m.source, m.session));
            } else if m.ptype == ptype::TEXT {
                // "answer now": reply to the held request
                let text = String::from_utf8_lossy(m.payload.as_slice()).to_string();
                let mut parts = text.split(' ');
                let to = Handle(parts.next().unwrap().parse().unwrap());
                let session: i32 = parts.next().unwrap().parse().unwrap();
                ctx.reply(to, session, Payload::from("genuine")).unwrap();
            }
        })
        .boxed(),
    );
    let (got_tx, got) = mpsc::channel();
    let caller = t.spawn(
        "caller",
        on_message(move |_, m| {
            let _ = got_tx.send((
                m.ptype,
                m.source,
                m.session,
                String::from_utf8_lossy(m.payload.as_slice()).to_string(),
            ));
        })
        .on_init(move |ctx| {
            ctx.call(callee, ptype::LUA, Payload::from("balance?"))
                .unwrap();
        })
        .boxed(),
    );
    let (from, session) = expect(&held, "the request");
    assert_eq!(from, caller);

    // The attacker guesses every small session number.
    let (res_tx, results) = mpsc::channel();
    t.run_as("attacker", move |ctx| {
        let mut delivered = 0;
        for s in 1..=1000 {
            if ctx
                .send(caller, ptype::RESPONSE, s, Payload::from("forged"))
                .is_ok()
            {
                delivered += 1;
            }
            let _ = ctx.send(caller, ptype::ERROR, s, Payload::empty());
        }
        let _ = res_tx.send(delivered);
    });
    assert_eq!(
        expect(&results, "attack result"),
        0,
        "no forged reply may be accepted"
    );
    expect_nothing(&got, "the caller must not see a forged reply");
    assert!(t.node.handle().stats(caller).unwrap()["dropped_replies"] >= 2000);

    // Now the genuine answer.
    t.run_as("operator", move |ctx| {
        ctx.send(
            callee,
            ptype::TEXT,
            0,
            Payload::from(format!("{} {}", caller.0, session)),
        )
        .unwrap();
    });
    let (ty, src, s, body) = expect(&got, "the genuine reply");
    assert_eq!(
        (ty, src, s, body.as_str()),
        (ptype::RESPONSE, callee, session, "genuine")
    );
}

#[test]
fn a_call_is_answered_at_most_once() {
    let t = node();
    let (tx, second) = mpsc::channel();
    let callee = t.spawn(
        "callee",
        on_message(move |ctx, m| {
            ctx.reply(m.source, m.session, Payload::from("one"))
                .unwrap();
            let _ = tx.send(ctx.reply(m.source, m.session, Payload::from("two")));
        })
        .boxed(),
    );
    let (got_tx, got) = mpsc::channel();
    t.spawn(
        "caller",
        on_message(move |_, m| {
            let _ = got_tx.send(String::from_utf8_lossy(m.payload.as_slice()).to_string());
        })
        .on_init(move |ctx| {
            ctx.call(callee, ptype::LUA, Payload::empty()).unwrap();
        })
        .boxed(),
    );
    assert_eq!(expect(&got, "first reply"), "one");
    assert!(matches!(
        expect(&second, "second reply result"),
        Err(SendError::UnexpectedReply(_))
    ));
    expect_nothing(&got, "the second reply");
}

#[test]
fn a_reply_to_a_dead_service_goes_nowhere() {
    let t = node();
    let ghost = t.spawn("ghost", idle());
    assert!(t.node.handle().kill(ghost));
    assert!(wait_until(std::time::Duration::from_secs(5), || !t
        .node
        .handle()
        .is_alive(ghost)));
    let (tx, rx) = mpsc::channel();
    t.run_as("late", move |ctx| {
        let _ = tx.send(ctx.send(ghost, ptype::RESPONSE, 1, Payload::empty()));
    });
    assert_eq!(expect(&rx, "result"), Err(SendError::UnknownAddress(ghost)));
}

#[test]
fn timer_replies_cannot_be_forged_either() {
    let t = node();
    let (tx, rx) = mpsc::channel();
    let sleeper = t.spawn(
        "sleeper",
        on_message(move |_, m| {
            let _ = tx.send((m.source, m.session));
        })
        .on_init(|ctx| {
            ctx.timeout(50).unwrap();
        })
        .boxed(),
    );
    t.run_as("attacker", move |ctx| {
        for s in 1..=10 {
            let _ = ctx.send(sleeper, ptype::RESPONSE, s, Payload::empty());
        }
    });
    let (source, session) = expect(&rx, "the timer");
    assert_eq!(
        source,
        Handle::SYSTEM,
        "only the real timer wakes the sleeper"
    );
    assert_eq!(session, 1);
    expect_nothing(&rx, "a second wake-up");
}
