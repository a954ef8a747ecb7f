//! Threat: a compromised service registers a well-known name first, takes
//! over a name another service holds, or points a name at a service of its
//! choosing, so that messages meant for the real service reach it.
//! Names belong to their owner; a taken name is refused loudly; rebinding,
//! naming another service, and reserved names need grants; names die with
//! their owner.

use skyhold_core::names::NameError;
use skyhold_core::{Grant, Policy, Role, Subject};
use skyhold_testkit::*;
use std::sync::mpsc;
use std::time::Duration;

#[test]
fn a_taken_name_is_refused_loudly_and_still_points_to_its_owner() {
    let t = node();
    let (tx, rx) = mpsc::channel();
    let db = t.spawn_as(
        "db",
        on_message(|_, _| {})
            .on_init(move |ctx| {
                let _ = tx.send(ctx.register(".db"));
            })
            .boxed(),
    );
    assert_eq!(expect(&rx, "db registers"), Ok(()));
    let (tx, rx) = mpsc::channel();
    let squatter = t.run_as("squatter", move |ctx| {
        let _ = tx.send(ctx.register(".db"));
    });
    assert_eq!(
        expect(&rx, "squatter result"),
        Err(NameError::Taken {
            name: ".db".into(),
            holder: db
        })
    );
    assert_eq!(t.node.handle().query_name(".db"), Some(db));
    assert!(t.audited(&["name", ".db", &squatter.to_string()]));
}

#[test]
fn reserved_system_names_cannot_be_squatted_before_boot() {
    let t = node();
    let (tx, rx) = mpsc::channel();
    t.run_as("early-bird", move |ctx| {
        let _ = tx.send(ctx.register(".launcher"));
    });
    assert!(matches!(
        expect(&rx, "result"),
        Err(NameError::Denied { .. })
    ));
    assert_eq!(t.node.handle().query_name(".launcher"), None);
    assert!(t.audited(&["name", ".launcher", "reserved"]));
}

#[test]
fn naming_another_service_needs_a_grant() {
    let t = node();
    let victim = t.spawn("victim", idle());
    let (tx, rx) = mpsc::channel();
    t.run_as("namer", move |ctx| {
        let _ = tx.send(ctx.bind_name(".payments", victim));
    });
    assert!(matches!(
        expect(&rx, "result"),
        Err(NameError::Denied { .. })
    ));
    assert!(t.audited(&["name_other", ".payments"]));
    assert_eq!(t.node.handle().query_name(".payments"), None);
}

#[test]
fn takeover_is_possible_only_with_the_grant() {
    let mut policy = Policy::default();
    policy.define_role(Role::new("registry-admin", [Grant::NameTakeover]));
    policy
        .assign(Subject::Native("admin".into()), "registry-admin")
        .unwrap();
    let t = node_with(policy, |_| {});
    let (tx, rx) = mpsc::channel();
    t.spawn_as(
        "old",
        on_message(|_, _| {})
            .on_init(move |ctx| {
                let _ = tx.send(ctx.register(".svc"));
            })
            .boxed(),
    );
    assert_eq!(expect(&rx, "old registers"), Ok(()));
    let (tx, rx) = mpsc::channel();
    let admin = t.spawn_as(
        "admin",
        on_message(|_, _| {})
            .on_init(move |ctx| {
                let _ = tx.send(ctx.register(".svc"));
            })
            .boxed(),
    );
    assert_eq!(expect(&rx, "admin takes over"), Ok(()));
    assert_eq!(t.node.handle().query_name(".svc"), Some(admin));
}

#[test]
fn names_die_with_their_owner() {
    let t = node();
    let (tx, rx) = mpsc::channel();
    let owner = t.spawn_as(
        "owner",
        on_message(|_, _| {})
            .on_init(move |ctx| {
                let _ = tx.send(ctx.register(".cache"));
            })
            .boxed(),
    );
    assert_eq!(expect(&rx, "register"), Ok(()));
    t.node.handle().kill(owner);
    assert!(wait_until(Duration::from_secs(5), || t
        .node
        .handle()
        .query_name(".cache")
        .is_none()));
    // And the name is free for a newcomer.
    let (tx, rx) = mpsc::channel();
    t.run_as("successor", move |ctx| {
        let _ = tx.send(ctx.register(".cache"));
    });
    assert_eq!(expect(&rx, "successor registers"), Ok(()));
}

#[test]
fn a_service_cannot_hoard_names() {
    let t = node_with(Policy::default(), |c| c.limits.max_names = 3);
    let (tx, rx) = mpsc::channel();
    t.run_as("hoarder", move |ctx| {
        let results: Vec<_> = (0..5).map(|i| ctx.register(&format!(".n{i}"))).collect();
        let _ = tx.send(results);
    });
    let r = expect(&rx, "results");
    assert!(r[..3].iter().all(|x| x.is_ok()), "{r:?}");
    assert_eq!(r[3], Err(NameError::TooMany { limit: 3 }));
    assert_eq!(r[4], Err(NameError::TooMany { limit: 3 }));
}
