//! How fast one service may start others (`spawn_rate`, `spawn_burst`), the
//! memory budget of all script states (`lua_memory_total`), and the policy
//! roles that set their own values — seen from native services.

use parking_lot::Mutex;
use skyhold_core::{
    Context, Grant, Handle, LaunchError, LogTarget, Message, Module, Node, NodeConfig, Policy,
    Role, RoleLimit, RoleLimits, Service, Subject,
};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

type Lines = Arc<Mutex<Vec<String>>>;

struct Init<F: FnMut(&Context) + Send + 'static>(F);

impl<F: FnMut(&Context) + Send + 'static> Service for Init<F> {
    fn init(&mut self, ctx: &Context) -> Result<(), String> {
        (self.0)(ctx);
        Ok(())
    }
    fn handle(&mut self, _: &Context, _: Message) {}
}

fn idle() -> Box<dyn Service> {
    Box::new(Init(|_| {}))
}

struct TestNode {
    node: Node,
    log: Lines,
    audit: Lines,
}

/// A node with `policy`, limits changed by `tweak`, and two modules any
/// service may launch: `child` (native, reports nothing) and `script`
/// (counts against the memory budget, as Lua services do).
fn start(policy: Policy, tweak: impl FnOnce(&mut NodeConfig)) -> TestNode {
    let (log, audit): (Lines, Lines) = Default::default();
    let a = audit.clone();
    let mut config = NodeConfig {
        policy,
        log: LogTarget::Memory(log.clone()),
        audit_sink: Some(Arc::new(move |l: &skyhold_core::audit::AuditLine<'_>| {
            a.lock().push(l.text.to_string())
        })),
        ..NodeConfig::default()
    };
    tweak(&mut config);
    let node = Node::start(config).unwrap();
    for (name, reports_memory) in [("child", false), ("script", true)] {
        node.register_module(
            name,
            Module {
                factory: Arc::new(|_| Ok(idle())),
                script_host: false,
                ordinary: true,
                reports_memory,
            },
        );
    }
    TestNode { node, log, audit }
}

/// Runs `f` in the init of a native service with the given name (the
/// policy gives roles by it) and returns what it returned.
fn run_as<T: Send + 'static>(
    t: &TestNode,
    name: &str,
    f: impl FnOnce(&Context) -> T + Send + 'static,
) -> (Handle, T) {
    let (tx, rx) = mpsc::channel();
    let mut f = Some(f);
    let h = t
        .node
        .spawn(
            name,
            Box::new(Init(move |ctx| {
                if let Some(f) = f.take() {
                    let _ = tx.send(f(ctx));
                }
            })),
        )
        .unwrap();
    let out = rx.recv_timeout(Duration::from_secs(10)).expect("timed out");
    (h, out)
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

fn lines_with(lines: &Lines, part: &str) -> usize {
    lines.lock().iter().filter(|l| l.contains(part)).count()
}

/// Launches `module` `n` times; the results.
fn launches(ctx: &Context, module: &str, n: usize) -> Vec<Result<Handle, LaunchError>> {
    (0..n).map(|_| ctx.launch(module, "x")).collect()
}

#[test]
fn a_service_past_its_burst_is_refused_and_others_are_not() {
    // A rate of 1 per second: the loop below takes far less than the
    // seconds it would need to earn more than a couple of tokens.
    let t = start(Policy::default(), |c| {
        c.limits.spawn_burst = 10;
        c.limits.spawn_rate = 1;
    });
    let (flooder, (results, took)) = run_as(&t, "flooder", |ctx| {
        let t0 = Instant::now();
        let r = launches(ctx, "child", 50);
        (r, t0.elapsed())
    });
    let admitted = results.iter().filter(|r| r.is_ok()).count();
    // However slow the machine: the burst, plus one a second it took.
    assert!(
        admitted >= 10 && admitted as u64 <= 10 + 1 + took.as_secs(),
        "{admitted} of 50 admitted with a burst of 10 in {took:?}"
    );
    assert!(
        results[..10].iter().all(Result::is_ok),
        "the burst is whole"
    );
    let refused = results.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert!(
        matches!(refused, LaunchError::SpawnRate { service, rate: 1, burst: 10, .. } if *service == flooder),
        "{refused:?}"
    );
    let text = refused.to_string();
    assert!(
        text.contains(&flooder.to_string()) && text.contains("config spawn_rate"),
        "{text}"
    );
    let counters = t.node.handle();
    assert_eq!(
        counters.counters().spawn_refusals.load(Ordering::Relaxed),
        (50 - admitted) as u64
    );
    assert!(lines_with(&t.audit, "AUDIT refused launch by") >= 1);
    assert!(t
        .audit
        .lock()
        .iter()
        .any(|l| l.contains(&flooder.to_string()) && l.contains("spawn_rate")));
    // Another service has a bucket of its own.
    let (_, other) = run_as(&t, "other", |ctx| launches(ctx, "child", 10));
    assert!(other.iter().all(Result::is_ok), "{other:?}");
    t.node.shutdown();
}

#[test]
fn a_launch_for_another_counts_against_that_one() {
    let mut policy = Policy::default();
    policy.define_role(Role::new("deputy", [Grant::LaunchFor]));
    policy
        .assign(Subject::Native("deputy".into()), "deputy")
        .unwrap();
    let t = start(policy, |c| {
        c.limits.spawn_burst = 5;
        c.limits.spawn_rate = 1;
    });
    let asker = t.node.spawn("asker", idle()).unwrap();
    let (_, (for_asker, own)) = run_as(&t, "deputy", move |ctx| {
        let for_asker: Vec<_> = (0..8)
            .map(|_| ctx.launch_for(asker, "child", "x"))
            .collect();
        // The deputy's own bucket is untouched by what it did for the asker.
        (for_asker, launches(ctx, "child", 5))
    });
    assert!(for_asker[..5].iter().all(Result::is_ok), "{for_asker:?}");
    assert!(
        for_asker[5..]
            .iter()
            .any(|r| matches!(r, Err(LaunchError::SpawnRate { service, .. }) if *service == asker)),
        "{for_asker:?}"
    );
    assert!(own.iter().all(Result::is_ok), "{own:?}");
    // The audit line names the asker, and the deputy it went through.
    assert!(t
        .audit
        .lock()
        .iter()
        .any(|l| l.contains(&format!("by {asker} native asker")) && l.contains("through")));

    // An ordinary service may not put its launches on another's account.
    let (_, stolen) = run_as(&t, "thief", move |ctx| ctx.launch_for(asker, "child", "x"));
    assert_eq!(stolen, Err(LaunchError::NotOnBehalf(asker)));
    assert!(lines_with(&t.audit, "refused launch_for") >= 1);

    // A launch for a service that has gone is refused, not charged to the deputy.
    let gone = t
        .node
        .spawn("gone", Box::new(Init(|ctx| ctx.exit())))
        .unwrap();
    wait_for("the service to exit", || !t.node.handle().is_alive(gone));
    let (_, late) = run_as(&t, "deputy", move |ctx| ctx.launch_for(gone, "child", "x"));
    assert_eq!(late, Err(LaunchError::RequesterGone(gone)));
    t.node.shutdown();
}

#[test]
fn the_system_role_is_never_refused() {
    let t = start(Policy::default(), |c| {
        c.limits.spawn_burst = 1;
        c.limits.spawn_rate = 1;
        c.limits.lua_memory_total = 1;
    });
    // `launcher` runs with the system role (by script name, as skyhold's
    // own launcher does; here a native service given the same subject).
    let (tx, rx) = mpsc::channel();
    t.node
        .spawn_as(
            Subject::Script("launcher".into()),
            Box::new(Init(move |ctx| {
                ctx.report_memory(64 << 20);
                let _ = tx.send((launches(ctx, "child", 100), launches(ctx, "script", 100)));
            })),
        )
        .unwrap();
    let (children, scripts) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(children.iter().all(Result::is_ok));
    assert!(scripts.iter().all(Result::is_ok));
    assert_eq!(
        t.node
            .handle()
            .counters()
            .spawn_refusals
            .load(Ordering::Relaxed),
        0
    );
    t.node.shutdown();
}

#[test]
fn past_the_memory_budget_new_scripts_are_refused_until_memory_is_freed() {
    let mut policy = Policy::default();
    policy.define_role(Role::new("world", []).with_limits(RoleLimits {
        lua_memory_total: RoleLimit::Unlimited,
        ..RoleLimits::default()
    }));
    policy
        .assign(Subject::Native("world".into()), "world")
        .unwrap();
    let t = start(policy, |c| c.limits.lua_memory_total = 8 << 20);
    // A hog holds 10 MiB until told to go.
    let (hog_tx, hog_rx) = mpsc::channel::<()>();
    let (hog, ()) = run_as(&t, "hog", move |ctx| {
        ctx.report_memory(10 << 20);
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let _ = hog_rx.recv();
            ctx.exit();
            // Wake the service, so its exit is seen.
            let _ = ctx.send(ctx.handle(), 0, 0, Default::default());
        });
    });
    assert_eq!(t.node.handle().reported_memory(), 10 << 20);
    let (_, tries) = run_as(&t, "spawner", |ctx| {
        (launches(ctx, "script", 5), launches(ctx, "child", 2))
    });
    for r in &tries.0 {
        let Err(e @ LaunchError::MemoryBudget { limit, .. }) = r else {
            panic!("{r:?}");
        };
        assert_eq!(*limit, 8 << 20);
        assert!(e.to_string().contains("config lua_memory_total"), "{e}");
    }
    assert!(
        tries.1.iter().all(Result::is_ok),
        "natives hold no Lua memory"
    );
    assert_eq!(
        t.node
            .handle()
            .counters()
            .memory_refusals
            .load(Ordering::Relaxed),
        5
    );
    assert_eq!(lines_with(&t.audit, "past the budget of 8.0 MiB"), 5);
    // The operator is told once, not once per refusal.
    wait_for("the log line", || {
        lines_with(&t.log, "is past the budget") == 1
    });
    // A role with a budget of its own still starts scripts.
    let (_, world) = run_as(&t, "world", |ctx| launches(ctx, "script", 3));
    assert!(world.iter().all(Result::is_ok), "{world:?}");

    hog_tx.send(()).unwrap();
    wait_for("the hog to go", || !t.node.handle().is_alive(hog));
    assert_eq!(t.node.handle().reported_memory(), 0);
    wait_for("the log line", || lines_with(&t.log, "is down to") == 1);
    let (_, after) = run_as(&t, "spawner", |ctx| launches(ctx, "script", 3));
    assert!(after.iter().all(Result::is_ok), "{after:?}");
    assert_eq!(lines_with(&t.log, "is past the budget"), 1);
    t.node.shutdown();
}

#[test]
fn what_a_service_reported_stops_counting_when_it_retires() {
    let t = start(Policy::default(), |_| {});
    let (a, ()) = run_as(&t, "a", |ctx| {
        ctx.report_memory(3 << 20);
        ctx.exit();
    });
    let (_b, ()) = run_as(&t, "b", |ctx| ctx.report_memory(1 << 20));
    wait_for("a to go", || !t.node.handle().is_alive(a));
    assert_eq!(t.node.handle().reported_memory(), 1 << 20);
    t.node.shutdown();
}

#[test]
fn a_policy_that_raises_a_limit_says_so_at_boot() {
    let mut policy = Policy::default();
    policy.define_role(Role::new("watchdog", []).with_limits(RoleLimits {
        spawn_rate: RoleLimit::Set(5000),
        spawn_burst: RoleLimit::Set(10), // lower than the node's: not a loosening
        lua_memory_total: RoleLimit::Unlimited,
    }));
    let t = start(policy, |_| {});
    let audit = t.audit.lock().clone();
    assert!(
        audit
            .iter()
            .any(|l| l.contains("policy: role watchdog raises spawn_rate to 5000")),
        "{audit:?}"
    );
    assert!(audit
        .iter()
        .any(|l| l.contains("role watchdog raises lua_memory_total to unlimited")));
    assert!(!audit.iter().any(|l| l.contains("spawn_burst")));
    assert!(!audit.iter().any(|l| l.contains("role system")));
    t.node.shutdown();
}
