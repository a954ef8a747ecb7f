//! Worker threads: run services from the run queue, one service on one
//! thread at a time, in batches sized as skynet sizes them (retiring those
//! that leave: `lifecycle`); and the monitor that reports a service stuck in
//! one message.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Tick;
use crate::handle::Handle;
use crate::lifecycle::retire;
use crate::message::Message;
use crate::probe::{bump, Probe};
use crate::state::{Cell, Context, NodeInner, Service, Slot};

/// Messages taken per mailbox lock when no other service waits to run.
const IDLE_BATCH: usize = 32;

/// skynet's batch weight for worker `index`: -1 handles one message per
/// turn; `w >= 0` handles about `len >> w` (at least one).
fn weight(index: usize) -> i32 {
    match index {
        0..=3 => -1,
        4..=7 => 0,
        8..=15 => 1,
        16..=23 => 2,
        24..=31 => 3,
        _ => 0,
    }
}

/// A worker thread's loop.
pub(crate) fn run(node: Arc<NodeInner>, index: usize) {
    crate::runq::set_current_worker(Some(index));
    let mut w = Worker {
        clock: None,
        weight: weight(index),
        index,
        batch: Vec::with_capacity(64),
        wake: Vec::new(),
        room: Vec::new(),
        node: Some(node.clone()),
    };
    let mut streak = 0;
    loop {
        // The streak limit keeps the global queue from starving; with
        // nothing waiting there, the slot's service runs on here rather than
        // going through the global queue (a push that would wake a sleeping
        // worker only for this one to take the service back).
        if streak >= crate::runq::LOCAL_STREAK && node.runq.len_hint() == 0 {
            streak = 0;
        }
        let local = if streak < crate::runq::LOCAL_STREAK {
            node.runq.take_local(index)
        } else {
            None
        };
        let cell = match local {
            Some(c) => {
                streak += 1;
                c
            }
            None => {
                streak = 0;
                w.clock = None;
                if let Some(c) = node.runq.take_local(index) {
                    node.runq.push(c);
                }
                // Nothing to run: do a piece of idle work rather than spin,
                // then look again.
                if node.runq.len_hint() == 0 && node.idle_work() {
                    continue;
                }
                match node.runq.next(index) {
                    crate::runq::Next::Item(c) => c,
                    crate::runq::Next::Idle => continue,
                    crate::runq::Next::Closed => break,
                }
            }
        };
        w.turn(&node, cell);
    }
    crate::runq::set_current_worker(None);
}

struct Worker {
    /// When the node profiles: the end of this worker's last turn, which is
    /// where the next turn's time starts when the worker went straight on
    /// (one clock read per turn instead of two). `None` after the worker
    /// looked in the shared queue, where it may have waited.
    clock: Option<Tick>,
    weight: i32,
    index: usize,
    batch: Vec<Message>,
    wake: Vec<Handle>,
    room: Vec<Handle>,
    /// The node reference the next turn's context takes (and gives back).
    node: Option<Arc<NodeInner>>,
}

impl Worker {
    fn batch_size(&self, queued: usize) -> usize {
        if self.weight < 0 {
            1
        } else {
            (queued >> self.weight).max(1)
        }
    }

    /// Runs one turn of `cell`, timing it into the service's `cpu` stat
    /// when the node profiles.
    fn turn(&mut self, node: &Arc<NodeInner>, cell: Arc<Cell>) {
        let started = node
            .profile
            .then(|| self.clock.take().unwrap_or_else(Tick::now));
        // The turn's context owns the cell it was handed and the worker's
        // spare reference to the node: no reference count moves per turn.
        let ctx = Context {
            node: self.node.take().unwrap_or_else(|| node.clone()),
            cell,
        };
        let requeue = self.run_turn(node, &ctx);
        let Context { node: spare, cell } = ctx;
        self.node = Some(spare);
        if let Some(started) = started {
            let now = Tick::now();
            cell.stats
                .cpu_ns
                .fetch_add(now.since(started).as_nanos() as u64, Ordering::Relaxed);
            self.clock = Some(now);
        }
        if requeue {
            node.runq.push(cell);
        }
    }

    /// Runs the turn; true if the service has more work and goes to the
    /// back of the global queue (others wait).
    fn run_turn(&mut self, node: &Arc<NodeInner>, ctx: &Context) -> bool {
        let cell = &ctx.cell;
        let mut slot = cell.slot.lock();
        if slot.retired {
            return false;
        }
        if !slot.initialized {
            slot.initialized = true;
            if let Err(why) = init(ctx, &mut slot) {
                node.log_system(cell.handle(), &format!("init service failed: {why}"));
                retire(node, ctx, &mut slot, Vec::new());
                return false;
            }
        }
        let probe = &node.probes[self.index];
        loop {
            if cell.is_leaving() {
                retire(node, ctx, &mut slot, Vec::new());
                return false;
            }
            // skynet's weights decide how much a service may handle while
            // others wait; when no one waits, take a larger batch per lock.
            let others_wait = node.runq.len_hint() > 0 || node.runq.has_local(self.index);
            let n = if !others_wait {
                IDLE_BATCH
            } else if self.weight < 0 {
                1
            } else {
                self.batch_size(cell.mailbox.len())
            };
            if !cell
                .mailbox
                .pop_or_release(n, &mut self.batch, &mut self.wake, &mut self.room)
            {
                return false;
            }
            if let Some(n) = cell.mailbox.take_overload() {
                node.counters
                    .overload_warnings
                    .fetch_add(1, Ordering::Relaxed);
                ctx.log(&format!("error: May overload, message queue length = {n}"));
            }
            for sender in self.wake.drain(..) {
                node.notify_room(sender, cell.handle());
            }
            let Some(service) = slot.service.as_mut() else {
                return false;
            };
            for target in self.room.drain(..) {
                let r = catch_unwind(AssertUnwindSafe(|| service.room(ctx, target)));
                if r.is_err() {
                    node.counters.panics.fetch_add(1, Ordering::Relaxed);
                }
            }
            let mut batch = std::mem::take(&mut self.batch);
            let mut rest = batch.drain(..);
            let mut unhandled: Vec<Message> = Vec::new();
            while let Some(msg) = rest.next() {
                // Checked before each message, not after: a kill asked for
                // while this batch was taken (and a message sent after the
                // kill returned, in the batch too) leaves the rest
                // unhandled and failed, as skynet's kill, which is at once.
                if cell.is_leaving() {
                    unhandled.push(msg);
                    unhandled.extend(rest.by_ref());
                    break;
                }
                dispatch(node, ctx, service.as_mut(), probe, msg);
            }
            drop(rest);
            self.batch = batch;
            if cell.is_leaving() {
                retire(node, ctx, &mut slot, unhandled);
                return false;
            }
            if node.runq.len_hint() > 0 || node.runq.has_local(self.index) {
                // Others wait. With more work, go to the back of the global
                // queue (the service stays claimed, so no one else pushes
                // it); without, leave the run queue.
                return cell.mailbox.finish_turn();
            }
        }
    }
}

fn init(ctx: &Context, slot: &mut Slot) -> Result<(), String> {
    let Some(service) = slot.service.as_mut() else {
        return Err("no service".into());
    };
    match catch_unwind(AssertUnwindSafe(|| service.init(ctx))) {
        Ok(r) => r,
        Err(_) => Err("panicked".into()),
    }
}

fn dispatch(
    node: &NodeInner,
    ctx: &Context,
    service: &mut dyn Service,
    probe: &Probe,
    msg: Message,
) {
    let cell = &ctx.cell;
    let (source, session) = (msg.source, msg.session);
    let owes = msg.expects_reply();
    if owes {
        cell.owed.lock().insert((source, session));
    }
    if cell.msglog_on.load(Ordering::Relaxed) {
        // An operator's `logon`: the line is queued for the log's writer
        // thread, never written here.
        let tap = cell.msglog.lock().clone();
        if let Some(tap) = tap {
            node.msglog.record(&tap, &msg, node.now());
        }
    }
    probe.enter(source, cell.handle());
    let result = catch_unwind(AssertUnwindSafe(|| service.handle(ctx, msg)));
    probe.leave();
    // The service's slot lock is held: this worker is the counters' only
    // writer, so a load and a store do (no locked read-modify-write).
    bump(&cell.stats.messages, Ordering::Relaxed);
    if result.is_err() {
        bump(&cell.stats.errors, Ordering::Relaxed);
        node.counters.panics.fetch_add(1, Ordering::Relaxed);
        node.log_system(
            cell.handle(),
            &format!("service panicked handling a message from {source} (session {session})"),
        );
        if owes && cell.owed.lock().remove(&(source, session)) {
            node.fail_request(source, cell.handle(), session);
        }
    }
}

/// The monitor thread: every `every`, any worker still inside the same
/// message as last time is reported, and its service flagged `endless`.
pub(crate) fn monitor(node: Arc<NodeInner>, every: Duration) {
    let mut seen: Vec<u64> = vec![0; node.probes.len()];
    let step = Duration::from_millis(50).min(every);
    let mut waited = Duration::ZERO;
    while !node.is_stopped() {
        std::thread::sleep(step);
        waited += step;
        if waited < every {
            continue;
        }
        waited = Duration::ZERO;
        for (i, p) in node.probes.iter().enumerate() {
            let v = p.version.load(Ordering::Acquire);
            let current = p.current.load(Ordering::Relaxed);
            if v == seen[i] && current != 0 {
                let source = Handle((current >> 32) as u32 & 0x7fff_ffff);
                let dest = Handle(current as u32);
                if let Some(c) = node.registry.get(dest) {
                    c.stats.endless.store(true, Ordering::Relaxed);
                }
                node.counters
                    .endless_reports
                    .fetch_add(1, Ordering::Relaxed);
                node.log_system(
                    Handle::SYSTEM,
                    &format!("A message from [ {source} ] to [ {dest} ] maybe in an endless loop (version = {v})"),
                );
            }
            seen[i] = v;
        }
    }
}
