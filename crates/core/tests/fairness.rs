//! Scheduling fairness: services that keep waking each other on one worker
//! (each send puts the other in that worker's next slot) must not keep a
//! service waiting in the global queue from running.

use skyhold_core::{ptype, Context, LogTarget, Message, Node, NodeConfig, Payload, Service};
use std::sync::mpsc;
use std::time::Duration;

/// Answers every message with a one-way message back to its source.
struct Bouncer {
    serve_first: Option<skyhold_core::Handle>,
}

impl Service for Bouncer {
    fn init(&mut self, ctx: &Context) -> Result<(), String> {
        if let Some(to) = self.serve_first.take() {
            ctx.send(to, ptype::LUA, 0, Payload::empty())
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
    fn handle(&mut self, ctx: &Context, msg: Message) {
        let _ = ctx.send(msg.source, ptype::LUA, 0, Payload::empty());
    }
}

/// Reports its start on a channel.
struct Starter(mpsc::Sender<()>);

impl Service for Starter {
    fn init(&mut self, _: &Context) -> Result<(), String> {
        let _ = self.0.send(());
        Ok(())
    }
    fn handle(&mut self, _: &Context, _: Message) {}
}

#[test]
fn a_ping_pong_on_the_only_worker_does_not_starve_the_global_queue() {
    let node = Node::start(NodeConfig {
        threads: 1,
        log: LogTarget::Memory(Default::default()),
        ..NodeConfig::default()
    })
    .unwrap();
    let b = node
        .spawn("b", Box::new(Bouncer { serve_first: None }))
        .unwrap();
    node.spawn(
        "a",
        Box::new(Bouncer {
            serve_first: Some(b),
        }),
    )
    .unwrap();
    // Let the ping-pong get going, then make a service runnable from outside
    // the worker: it goes to the global queue.
    std::thread::sleep(Duration::from_millis(50));
    let (tx, rx) = mpsc::channel();
    node.spawn("late", Box::new(Starter(tx))).unwrap();
    rx.recv_timeout(Duration::from_secs(10))
        .expect("a service in the global queue never ran while two others ping-ponged");
    node.shutdown();
}
