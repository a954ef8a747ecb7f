//! Threat: a compromised service kills, aborts, or launches native code to
//! disrupt the node. These need grants; every refusal is audited with who,
//! what and whom.

use skyhold_core::{Grant, Policy, Role, SendError, Subject};
use skyhold_testkit::*;
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn kill_without_a_grant_is_refused_and_the_target_lives() {
    let t = node();
    let victim = t.spawn("victim", idle());
    let (tx, rx) = mpsc::channel();
    let attacker = t.run_as("attacker", move |ctx| {
        let _ = tx.send(ctx.kill(victim));
    });
    assert_eq!(
        expect(&rx, "kill result"),
        Err(SendError::Denied {
            what: "kill".into()
        })
    );
    assert!(t.audited(&["refused kill", &attacker.to_string(), &victim.to_string()]));
    std::thread::sleep(Duration::from_millis(50));
    assert!(t.node.handle().is_alive(victim));
}

#[test]
fn abort_and_native_launch_without_grants_are_refused() {
    let t = node();
    let (tx, rx) = mpsc::channel();
    t.run_as("attacker", move |ctx| {
        let _ = tx.send(format!("{:?}", ctx.abort()));
        let _ = tx.send(format!("{:?}", ctx.launch("logger", "")));
    });
    assert!(expect(&rx, "abort").contains("Denied"));
    assert!(expect(&rx, "launch").contains("Denied"));
    assert!(t.audited(&["refused abort"]));
    assert!(t.audited(&["refused launch", "logger"]));
    assert!(t.node.handle().live() >= 1);
}

#[test]
fn a_service_may_always_end_itself() {
    let t = node();
    let (tx, rx) = mpsc::channel();
    let me = t.spawn_as(
        "quitter",
        on_message(|_, _| {})
            .on_init(move |ctx| {
                let _ = tx.send(ctx.kill(ctx.handle()));
            })
            .boxed(),
    );
    assert_eq!(expect(&rx, "self kill"), Ok(()));
    assert!(wait_until(Duration::from_secs(5), || !t
        .node
        .handle()
        .is_alive(me)));
}

#[test]
fn a_granted_supervisor_can_kill() {
    let mut policy = Policy::default();
    policy.define_role(Role::new("supervisor", [Grant::Kill]));
    policy
        .assign(Subject::Native("supervisor".into()), "supervisor")
        .unwrap();
    let t = node_with(policy, |_| {});
    let victim = t.spawn("worker", idle());
    let (tx, rx) = mpsc::channel();
    t.run_as("supervisor", move |ctx| {
        let _ = tx.send(ctx.kill(victim));
    });
    assert_eq!(expect(&rx, "kill"), Ok(()));
    assert!(wait_until(Duration::from_secs(5), || !t
        .node
        .handle()
        .is_alive(victim)));
    // skynet's line: the target in bare hex (`KILL :%0x`).
    assert!(t.logged(&format!("KILL :{:x}", victim.0)));
}
