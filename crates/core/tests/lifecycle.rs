//! Service lifecycle as skynet defines it (spec §1.16), seen from native
//! services: what callers see when a callee is killed, exits or panics, and
//! what callees see when a caller goes away.

use parking_lot::Mutex;
use skyhold_core::{
    ptype, Context, Handle, LogTarget, Message, Node, NodeConfig, Payload, Service,
};
use std::sync::mpsc::{self, Receiver};
use std::sync::Arc;
use std::time::Duration;

struct Fns<M: FnMut(&Context, Message) + Send + 'static, I: FnMut(&Context) + Send + 'static> {
    init: I,
    msg: M,
}

impl<M: FnMut(&Context, Message) + Send + 'static, I: FnMut(&Context) + Send + 'static> Service
    for Fns<M, I>
{
    fn init(&mut self, ctx: &Context) -> Result<(), String> {
        (self.init)(ctx);
        Ok(())
    }
    fn handle(&mut self, ctx: &Context, msg: Message) {
        (self.msg)(ctx, msg)
    }
}

fn svc(
    init: impl FnMut(&Context) + Send + 'static,
    msg: impl FnMut(&Context, Message) + Send + 'static,
) -> Box<dyn Service> {
    Box::new(Fns { init, msg })
}

fn start(interval: Duration) -> (Node, Arc<Mutex<Vec<String>>>) {
    let log = Arc::new(Mutex::new(Vec::new()));
    let node = Node::start(NodeConfig {
        log: LogTarget::Memory(log.clone()),
        monitor_interval: interval,
        ..NodeConfig::default()
    })
    .unwrap();
    (node, log)
}

fn get<T>(rx: &Receiver<T>) -> T {
    rx.recv_timeout(Duration::from_secs(10)).expect("timed out")
}

/// A caller that calls `target` `n` times at init and reports every reply.
fn caller(target: Handle, n: usize, tx: mpsc::Sender<(u8, i32, Handle)>) -> Box<dyn Service> {
    svc(
        move |ctx| {
            for _ in 0..n {
                ctx.call(target, ptype::LUA, Payload::empty()).unwrap();
            }
        },
        move |_, m| {
            let _ = tx.send((m.ptype, m.session, m.source));
        },
    )
}

#[test]
fn killing_a_callee_fails_both_queued_and_dispatched_requests() {
    let (node, _) = start(Duration::from_secs(5));
    // The callee takes the first request and never answers it.
    let (seen_tx, seen) = mpsc::channel();
    let callee = node
        .spawn(
            "sink",
            svc(
                |_| {},
                move |_, m| {
                    let _ = seen_tx.send(m.session);
                    // Block this worker a little so the other requests stay queued.
                    std::thread::sleep(Duration::from_millis(100));
                },
            ),
        )
        .unwrap();
    let (tx, replies) = mpsc::channel();
    node.spawn("caller", caller(callee, 3, tx)).unwrap();
    get(&seen);
    node.handle().kill(callee);
    let mut errors = Vec::new();
    for _ in 0..3 {
        let (t, s, src) = get(&replies);
        assert_eq!(t, ptype::ERROR);
        assert_eq!(src, callee);
        errors.push(s);
    }
    errors.sort();
    assert_eq!(errors, vec![1, 2, 3], "every request failed exactly once");
}

#[test]
fn a_panicking_handler_fails_that_request_and_the_service_goes_on() {
    let (node, log) = start(Duration::from_secs(5));
    let mut first = true;
    let callee = node
        .spawn(
            "fragile",
            svc(
                |_| {},
                move |ctx, m| {
                    if std::mem::take(&mut first) {
                        panic!("bad input");
                    }
                    ctx.reply(m.source, m.session, Payload::from("fine"))
                        .unwrap();
                },
            ),
        )
        .unwrap();
    let (tx, replies) = mpsc::channel();
    node.spawn("caller", caller(callee, 2, tx)).unwrap();
    let a = get(&replies);
    let b = get(&replies);
    let mut got = [a, b];
    got.sort_by_key(|x| x.1);
    assert_eq!((got[0].0, got[0].1), (ptype::ERROR, 1));
    assert_eq!((got[1].0, got[1].1), (ptype::RESPONSE, 2));
    assert!(node.handle().is_alive(callee));
    // The logger is a service too: the line may land after the replies.
    assert!(
        eventually(|| log.lock().iter().any(|l| l.contains("panicked"))),
        "the panic was logged"
    );
}

/// True once `f` is, polling for up to ten seconds.
fn eventually(mut f: impl FnMut() -> bool) -> bool {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !f() {
        if std::time::Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    true
}

#[test]
fn when_a_caller_exits_its_callees_are_told_it_is_gone() {
    let (node, _) = start(Duration::from_secs(5));
    let (tx, notices) = mpsc::channel();
    let callee = node
        .spawn(
            "callee",
            svc(
                |_| {},
                move |_, m| {
                    let _ = tx.send((m.ptype, m.session, m.source));
                },
            ),
        )
        .unwrap();
    let caller = node
        .spawn(
            "caller",
            svc(
                move |ctx| {
                    ctx.call(callee, ptype::LUA, Payload::empty()).unwrap();
                },
                |_, _| {},
            ),
        )
        .unwrap();
    let (t, s, _) = get(&notices);
    assert_eq!((t, s), (ptype::LUA, 1));
    node.handle().kill(caller);
    let (t, s, src) = get(&notices);
    assert_eq!((t, s, src), (ptype::ERROR, 0, caller), "the 'gone' notice");
}

#[test]
fn the_monitor_reports_a_service_stuck_in_one_message() {
    let (node, log) = start(Duration::from_millis(100));
    let (tx, done) = mpsc::channel();
    let stuck = node
        .spawn(
            "stuck",
            svc(
                |_| {},
                move |ctx, _| {
                    std::thread::sleep(Duration::from_millis(400));
                    let _ = tx.send(ctx.take_endless());
                },
            ),
        )
        .unwrap();
    node.spawn(
        "poker",
        svc(
            move |ctx| ctx.send(stuck, ptype::LUA, 0, Payload::empty()).unwrap(),
            |_, _| {},
        ),
    )
    .unwrap();
    assert!(get(&done), "the endless flag was set");
    assert!(
        eventually(|| log
            .lock()
            .iter()
            .any(|l| l.contains("maybe in an endless loop") && l.contains(&stuck.to_string()))),
        "the monitor's report was logged"
    );
}

#[test]
fn the_exit_monitor_hears_of_every_exit() {
    let (node, _) = start(Duration::from_secs(5));
    let (tx, heard) = mpsc::channel();
    let monitor = node
        .spawn_as(
            skyhold_core::Subject::Script("launcher".into()),
            svc(
                |_| {},
                move |_, m| {
                    let _ = tx.send((m.ptype, m.source));
                },
            ),
        )
        .unwrap();
    let (set_tx, set) = mpsc::channel();
    node.spawn_as(
        skyhold_core::Subject::Script("launcher".into()),
        svc(
            move |ctx| {
                ctx.set_exit_monitor(monitor).unwrap();
                let _ = set_tx.send(());
            },
            |_, _| {},
        ),
    )
    .unwrap();
    // Not a sleep: on a loaded machine the setter may run late.
    get(&set);
    let victim = node
        .spawn("victim", svc(|ctx| ctx.exit(), |_, _| {}))
        .unwrap();
    let (t, src) = get(&heard);
    assert_eq!((t, src), (ptype::CLIENT, victim));
}

#[test]
fn abort_ends_the_node() {
    let (node, _) = start(Duration::from_secs(5));
    for _ in 0..10 {
        node.spawn("s", svc(|_| {}, |_, _| {})).unwrap();
    }
    node.shutdown();
    assert_eq!(node.handle().live(), 0);
}

/// `profile` (on by default) times every turn into the service's `cpu_ns`;
/// with it off, nothing is timed.
#[test]
fn cpu_accounting_follows_profile() {
    for profile in [true, false] {
        let node = Node::start(NodeConfig {
            log: LogTarget::Memory(Arc::new(Mutex::new(Vec::new()))),
            profile,
            ..NodeConfig::default()
        })
        .unwrap();
        let (tx, rx) = mpsc::channel();
        let busy = node
            .spawn(
                "busy",
                svc(
                    |_| {},
                    move |_, _| {
                        std::thread::sleep(Duration::from_millis(5));
                        tx.send(()).unwrap();
                    },
                ),
            )
            .unwrap();
        node.spawn(
            "poker",
            svc(
                move |ctx| {
                    ctx.send(busy, ptype::LUA, 0, Payload::empty()).unwrap();
                },
                |_, _| {},
            ),
        )
        .unwrap();
        get(&rx);
        std::thread::sleep(Duration::from_millis(20));
        let cpu = node.handle().stats(busy).unwrap()["cpu_ns"];
        if profile {
            assert!(cpu >= 5_000_000, "profiled turn took {cpu} ns");
        } else {
            assert_eq!(cpu, 0);
        }
        node.shutdown();
    }
}
