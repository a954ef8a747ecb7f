//! Threat: a compromised service floods another's mailbox so that it stops
//! serving its other callers and the node runs out of memory.
//! Each sender gets a fair share of a mailbox; a sender that outruns its
//! share is slowed (told the target is full, then woken when there is room),
//! so other senders still get through, nothing is lost, and memory stays
//! bounded. Replies owed to waiting callers are never refused.

use skyhold_core::{ptype, Context, Handle, Limits, Message, Payload, SendError, Service};
use skyhold_testkit::*;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

/// Sends `total` messages to `target` as fast as the runtime lets it,
/// waiting for room whenever the target is full for it.
struct Flooder {
    target: Handle,
    remaining: u64,
    done: mpsc::Sender<u64>,
    slowed: u64,
}

impl Flooder {
    fn pump(&mut self, ctx: &Context) {
        while self.remaining > 0 {
            match ctx.send(self.target, ptype::LUA, 0, Payload::from(&b"flood"[..])) {
                Ok(()) => self.remaining -= 1,
                Err(SendError::Full { .. }) => {
                    self.slowed += 1;
                    return;
                }
                Err(e) => panic!("unexpected send error: {e}"),
            }
        }
        let _ = self.done.send(self.slowed);
    }
}

impl Service for Flooder {
    fn init(&mut self, ctx: &Context) -> Result<(), String> {
        self.pump(ctx);
        Ok(())
    }
    fn handle(&mut self, _: &Context, _: Message) {}
    fn room(&mut self, ctx: &Context, target: Handle) {
        assert_eq!(target, self.target);
        self.pump(ctx);
    }
}

fn flooder(target: Handle, total: u64) -> (Box<dyn Service>, mpsc::Receiver<u64>) {
    let (done, rx) = mpsc::channel();
    (
        Box::new(Flooder {
            target,
            remaining: total,
            done,
            slowed: 0,
        }),
        rx,
    )
}

/// Counts flood messages, answers calls at once.
fn target(counter: Arc<AtomicU64>, max_queue: Arc<AtomicUsize>) -> Box<dyn Service> {
    on_message(move |ctx, m| {
        max_queue.fetch_max(ctx.mqlen(), Ordering::Relaxed);
        if m.session != 0 {
            let seen = counter.load(Ordering::Relaxed);
            ctx.reply(
                m.source,
                m.session,
                Payload::from(seen.to_le_bytes().to_vec()),
            )
            .unwrap();
        } else {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    })
    .boxed()
}

#[test]
fn a_flood_leaves_the_target_serving_its_other_callers() {
    const FLOOD: u64 = 5_000_000;
    let t = node();
    let counter = Arc::new(AtomicU64::new(0));
    let max_queue = Arc::new(AtomicUsize::new(0));
    let tgt = t.spawn("target", target(counter.clone(), max_queue.clone()));
    let (f, flood_done) = flooder(tgt, FLOOD);
    let flooder_handle = t.spawn("flooder", f);

    // An honest caller calls the target every few milliseconds during the
    // flood and records how long each answer took and how many flood
    // messages the target handled between the call and the answer.
    let (tx, answers) = mpsc::channel::<(Duration, u64)>();
    let counter2 = counter.clone();
    let mut pending: Option<(Instant, u64)> = None;
    let mut calls = 0;
    t.spawn(
        "honest",
        on_message(move |ctx, m| {
            if m.ptype == ptype::RESPONSE && m.source == tgt {
                let (at, before) = pending.take().expect("a call was pending");
                let seen = u64::from_le_bytes(m.payload.as_slice().try_into().unwrap());
                let _ = tx.send((at.elapsed(), seen.saturating_sub(before)));
            }
            if calls < 30 && pending.is_none() {
                calls += 1;
                let at = Instant::now();
                ctx.call(tgt, ptype::LUA, Payload::from("ping")).unwrap();
                // Counted once the call is queued: flood messages handled
                // from here on were handled ahead of it. (Counting before
                // the call would also count what the target handled while
                // this thread was descheduled, on a loaded machine.)
                pending = Some((at, counter2.load(Ordering::Relaxed)));
                ctx.timeout(1).unwrap();
            } else if m.ptype == ptype::RESPONSE
                && m.source.is_system()
                && pending.is_none()
                && calls < 30
            {
                ctx.timeout(1).unwrap();
            }
        })
        .on_init(|ctx| {
            ctx.timeout(1).unwrap();
        })
        .boxed(),
    );

    let limits = Limits::default();
    let mut worst = Duration::ZERO;
    for _ in 0..30 {
        let (took, flood_ahead) = expect(&answers, "an answer during the flood");
        worst = worst.max(took);
        // Fairness: the honest request waited behind at most the flooder's
        // share of the mailbox, not behind the whole flood.
        assert!(
            flood_ahead <= limits.sender_messages as u64 + 64,
            "{flood_ahead} flood messages were handled ahead of an honest call"
        );
    }
    eprintln!("worst honest call latency under a {FLOOD}-message flood: {worst:?}");
    let slowed = expect_within(&flood_done, Duration::from_secs(120), "the flood to finish");
    assert!(slowed > 0, "the flooder was never slowed");
    assert!(wait_until(Duration::from_secs(60), || counter
        .load(Ordering::Relaxed)
        == FLOOD));
    let peak = max_queue.load(Ordering::Relaxed);
    assert!(
        peak <= limits.sender_messages + 2 * limits.mailbox_guaranteed,
        "mailbox peaked at {peak} messages"
    );
    let st = t.node.handle().stats(flooder_handle);
    if let Some(st) = st {
        assert!(st["slowed"] > 0);
    }
}

#[test]
fn a_burst_of_one_million_from_one_handler_arrives_complete() {
    const N: u64 = 1_000_000;
    let t = node();
    let counter = Arc::new(AtomicU64::new(0));
    let max_queue = Arc::new(AtomicUsize::new(0));
    let tgt = t.spawn("receiver", target(counter.clone(), max_queue.clone()));
    let (f, done) = flooder(tgt, N);
    t.spawn("sender", f);
    expect_within(&done, Duration::from_secs(60), "the sender to finish");
    assert!(wait_until(Duration::from_secs(60), || counter
        .load(Ordering::Relaxed)
        == N));
    assert!(max_queue.load(Ordering::Relaxed) <= Limits::default().sender_messages);
}

#[test]
fn two_services_flooding_each_other_do_not_deadlock() {
    const N: u64 = 200_000;
    let t = node();
    let received = Arc::new(AtomicU64::new(0));
    // Each side floods the other and counts what it receives.
    let (done_tx, done) = mpsc::channel();
    let a = t.spawn(
        "a",
        SharedFlood::boxed(N, received.clone(), done_tx.clone()),
    );
    let b = t.spawn("b", SharedFlood::boxed(N, received.clone(), done_tx));
    t.run_as("introducer", move |ctx| {
        ctx.send(a, ptype::TEXT, 0, Payload::from(b.0.to_le_bytes().to_vec()))
            .unwrap();
        ctx.send(b, ptype::TEXT, 0, Payload::from(a.0.to_le_bytes().to_vec()))
            .unwrap();
    });
    expect(&done, "a to finish");
    expect(&done, "b to finish");
    assert!(wait_until(Duration::from_secs(60), || received
        .load(Ordering::Relaxed)
        == 2 * N));
}

/// Floods a peer once introduced; keeps sending while it also receives.
struct SharedFlood {
    remaining: u64,
    peer: Option<Handle>,
    received: Arc<AtomicU64>,
    done: mpsc::Sender<u64>,
}

impl SharedFlood {
    fn boxed(n: u64, received: Arc<AtomicU64>, done: mpsc::Sender<u64>) -> Box<dyn Service> {
        Box::new(SharedFlood {
            remaining: n,
            peer: None,
            received,
            done,
        })
    }

    fn pump(&mut self, ctx: &Context) {
        let Some(peer) = self.peer else { return };
        if self.remaining == 0 {
            return;
        }
        while self.remaining > 0 {
            match ctx.send(peer, ptype::LUA, 0, Payload::from("x")) {
                Ok(()) => self.remaining -= 1,
                Err(SendError::Full { .. }) => return,
                Err(e) => panic!("{e}"),
            }
        }
        let _ = self.done.send(0);
    }
}

impl Service for SharedFlood {
    fn handle(&mut self, ctx: &Context, m: Message) {
        if m.ptype == ptype::TEXT {
            self.peer = Some(Handle(u32::from_le_bytes(
                m.payload.as_slice().try_into().unwrap(),
            )));
            self.pump(ctx);
        } else {
            self.received.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn room(&mut self, ctx: &Context, _target: Handle) {
        self.pump(ctx);
    }
}
