//! The node's shared state, and the types knotted to it: a node holds
//! cells, a cell holds a [`Service`], a service is handed a [`Context`], and
//! a context holds the node. Those four types refer to one another, so they
//! live here together; everything that acts on the state lives in the
//! modules above (`send`, `timers`, `naming`, `lifecycle`, `budget`,
//! `logging`, `worker`, `service`, `node`).

use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::audit::{Audit, Refusal};
use crate::cell::ServiceCell;
use crate::env::Env;
use crate::handle::{Handle, HandleAllocator, ServiceId};
use crate::limits::Limits;
use crate::memory::MemoryBudget;
use crate::message::Message;
use crate::names::Names;
use crate::policy::{Grant, Policy};
use crate::probe::Probe;
use crate::registry::Registry;
use crate::runq::RunQueue;
use crate::wheel::Wheel;

/// A service: the runtime calls it with one message at a time, never from two
/// threads at once.
pub trait Service: Send + 'static {
    /// Runs once, before any message. An error retires the service.
    fn init(&mut self, _ctx: &Context) -> Result<(), String> {
        Ok(())
    }

    /// Handles one message.
    fn handle(&mut self, ctx: &Context, msg: Message);

    /// `target` has room again for this service's messages, after a send
    /// to it returned [`SendError::Full`](crate::SendError::Full).
    fn room(&mut self, _ctx: &Context, _target: Handle) {}

    /// The service is retiring (it exited or was killed). Messages can still
    /// be sent from here; no more will be received.
    fn exit(&mut self, _ctx: &Context) {}
}

/// What a service acts through: its own address and the node.
#[derive(Clone)]
pub struct Context {
    pub(crate) node: Arc<NodeInner>,
    pub(crate) cell: Arc<Cell>,
}

/// The part of a service only the worker running it touches. The scheduler
/// never runs a service on two threads at once, so its lock is uncontended;
/// it exists to let safe Rust see that.
pub struct Slot {
    pub(crate) service: Option<Box<dyn Service>>,
    pub(crate) initialized: bool,
    pub(crate) retired: bool,
}

/// A live service as the node keeps it: a cell whose slot holds the service.
pub(crate) type Cell = ServiceCell<Slot>;

/// Builds a service instance from its launch arguments.
pub type Factory = Arc<dyn Fn(&str) -> Result<Box<dyn Service>, String> + Send + Sync>;

/// Called with a service's handle when it retires (the socket layer closes
/// what it owned).
pub type RetireHook = Arc<dyn Fn(Handle) + Send + Sync>;

/// Work a worker does when it has no service to run: one bounded piece per
/// call, returning whether it did any (the Lua host builds states ahead).
pub type IdleWork = Arc<dyn Fn() -> bool + Send + Sync>;
/// A module services can be launched from (skynet's C service modules).
#[derive(Clone)]
pub struct Module {
    /// Makes an instance.
    pub factory: Factory,
    /// True if the first word of the arguments names the script the instance
    /// runs (as for `snlua`); it then becomes the service's identity.
    pub script_host: bool,
    /// True if any service may launch it; otherwise launching needs `launch`.
    pub ordinary: bool,
    /// True if its instances hold memory they report
    /// ([`Context::report_memory`](crate::Context::report_memory), as the
    /// Lua host does): launching one is refused while the node's reported
    /// total is past `lua_memory_total`.
    pub reports_memory: bool,
}

/// Node-wide counters.
#[derive(Default, Debug)]
pub struct NodeCounters {
    /// Replies dropped because they answered no open call of their target.
    pub dropped_replies: AtomicU64,
    /// Sends refused because a mailbox was full for the sender.
    pub full_refusals: AtomicU64,
    /// Timers refused by `max_timers`.
    pub timer_refusals: AtomicU64,
    /// Calls refused by `max_open_calls`.
    pub open_call_refusals: AtomicU64,
    /// Launches refused by `max_services`.
    pub service_refusals: AtomicU64,
    /// Launches refused because the service that asked started services
    /// faster than `spawn_rate` / `spawn_burst` (or its role's) allow.
    pub spawn_refusals: AtomicU64,
    /// Launches of Lua services refused because the node's Lua memory was
    /// past `lua_memory_total` (or the asking service's role's).
    pub memory_refusals: AtomicU64,
    /// Handler panics caught.
    pub panics: AtomicU64,
    /// Messages the monitor reported as maybe in an endless loop.
    pub endless_reports: AtomicU64,
    /// Messages stopped because their service broke a per-message limit
    /// (a Lua instruction budget or memory limit).
    pub limit_breaks: AtomicU64,
    /// Services retired for breaking such a limit (`lua_on_limit = retire`).
    pub limit_retirements: AtomicU64,
    /// "May overload" warnings: a mailbox found past skynet's doubling
    /// threshold (1024, 2048, …) as a message was taken from it.
    pub overload_warnings: AtomicU64,
}

/// A pending timer: whose, and the session its RESPONSE carries.
pub(crate) struct TimerItem {
    pub(crate) id: ServiceId,
    pub(crate) session: i32,
}

pub(crate) struct NodeInner {
    pub limits: Limits,
    pub policy: Policy,
    pub audit: Audit,
    pub registry: Registry<Slot>,
    pub names: Names,
    pub runq: RunQueue<Arc<Cell>>,
    pub counters: NodeCounters,
    /// What script hosts report their states hold, against `lua_memory_total`.
    pub(crate) memory: MemoryBudget,
    pub probes: Vec<Probe>,
    pub exit_monitor: Mutex<Option<ServiceId>>,
    pub start_time: u64,
    /// The centiseconds past `start_time`'s second at boot: the tick starts
    /// there, as skynet's does, so `start_time + now / 100` is the wall clock.
    pub(crate) start_centis: u64,
    /// Whether turns are timed for the `cpu` stat.
    pub profile: bool,
    pub(crate) started: Instant,
    pub(crate) alloc: HandleAllocator,
    pub(crate) wheel: Mutex<Wheel<TimerItem>>,
    pub(crate) modules: RwLock<HashMap<String, Module>>,
    pub(crate) env: Env,
    pub(crate) logger: RwLock<Option<Arc<Cell>>>,
    /// How the logger writes lines; audit lines are built to match.
    pub(crate) log_format: crate::logger::LogFormat,
    /// Per-service message logs (`logon`).
    pub(crate) msglog: crate::msglog::MsgLog,
    pub(crate) retire_hooks: RwLock<Vec<RetireHook>>,
    pub(crate) idle_work: RwLock<Vec<IdleWork>>,
    pub(crate) live: AtomicUsize,
    pub(crate) aborting: AtomicBool,
    /// Set once the start service has been launched with its role: the
    /// role is that instance's, not every later one's from its script.
    pub(crate) start_launched: AtomicBool,
    pub(crate) stopped: AtomicBool,
    pub(crate) done: (std::sync::Mutex<bool>, std::sync::Condvar),
}

impl NodeInner {
    /// Puts a service with new work on the run queue: on a worker thread,
    /// into that worker's next slot; elsewhere, on the global queue.
    pub fn schedule(&self, cell: Arc<Cell>) {
        match crate::runq::current_worker() {
            Some(w) => self.runq.push_local(w, cell),
            None => self.runq.push(cell),
        }
    }

    /// True once the node has ended.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// Runs one piece of idle work, if any is wanted; true if it ran one.
    /// A piece that panics counts as not done (and in `panics`): the worker
    /// goes on to wait for services.
    pub(crate) fn idle_work(&self) -> bool {
        let work = self.idle_work.read();
        work.iter().any(|w| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| w())).unwrap_or_else(|_| {
                self.counters.panics.fetch_add(1, Ordering::Relaxed);
                false
            })
        })
    }

    /// `:0000000a script agent (role service)`, for audit lines.
    pub fn describe(&self, h: Handle) -> String {
        match self.registry.get(h) {
            Some(c) => format!("{h} {}", c.identity),
            None if h.is_system() => "system".to_string(),
            None => format!("{h} (gone)"),
        }
    }

    /// Writes a refusal to the audit log.
    pub fn audit_refused(&self, who: &str, what: &str, whom: &str, why: &str) {
        self.audit.refused(Refusal {
            who,
            what,
            whom,
            why,
        });
    }

    /// True if `cell` holds `grant`; otherwise audits and counts a refusal.
    pub fn check(&self, cell: &Cell, grant: Grant, whom: &str) -> bool {
        if cell.identity.has(grant) {
            return true;
        }
        self.deny(cell, &grant.to_string(), whom);
        false
    }

    /// Counts, and audits, a refusal of `what` to `cell` by the policy.
    pub(crate) fn deny(&self, cell: &Cell, what: &str, whom: &str) {
        cell.stats.denied.fetch_add(1, Ordering::Relaxed);
        let who = format!("{} {}", cell.handle(), cell.identity);
        self.audit_refused(&who, what, whom, "the policy does not grant it");
    }
}
