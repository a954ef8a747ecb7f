//! The node: registry, names, policy, scheduler, timers and the operations
//! services perform through their [`Context`].

use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::audit::{Audit, AuditSink, Refusal};
use crate::cell::ServiceCell;
use crate::env::Env;
pub use crate::errors::{LaunchError, LimitSource};
use crate::handle::{Handle, HandleAllocator, ServiceId};
use crate::limits::Limits;
use crate::logger::{LogTarget, Logger};
use crate::mailbox::{Mailbox, MailboxLimits, OpenError, Refused, ReplyRefused};
use crate::memory::{human_bytes, Crossing, MemoryBudget};
use crate::message::{ptype, Message, Payload};
use crate::names::{self, NameError, Names};
use crate::policy::{Grant, Identity, Policy, RoleLimit, Subject, SYSTEM_ROLE};
use crate::probe::Probe;
use crate::rate::TokenBucket;
use crate::registry::Registry;
use crate::runq::RunQueue;
use crate::service::{SendError, Service};
use crate::wheel::Wheel;
use crate::worker;

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

/// How a node is set up.
#[derive(Clone)]
pub struct NodeConfig {
    /// Worker threads (skynet's `thread`), 1..=1024.
    pub threads: usize,
    /// Harbor id put in every handle's top byte (skynet's `harbor`).
    pub harbor: u8,
    /// The limits.
    pub limits: Limits,
    /// The operator's policy.
    pub policy: Policy,
    /// How often the monitor looks for a service stuck in one message.
    pub monitor_interval: Duration,
    /// The config values services read with `getenv`.
    pub env: BTreeMap<String, String>,
    /// Keys only services with `read_secrets` may read.
    pub secret_keys: Vec<String>,
    /// Key prefixes only services with `read_secrets` may read.
    pub secret_prefixes: Vec<String>,
    /// Where the logger writes.
    pub log: LogTarget,
    /// Where audit lines go besides the log (a file, or a test's collector).
    pub audit_sink: Option<AuditSink>,
    /// Per-service CPU accounting (skynet's `profile`, on by default): the
    /// time of each turn is added to the service's `cpu` stat.
    pub profile: bool,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            threads: 2,
            harbor: 0,
            limits: Limits::default(),
            policy: Policy::default(),
            monitor_interval: Duration::from_secs(5),
            env: BTreeMap::new(),
            secret_keys: Vec::new(),
            secret_prefixes: vec!["secret_".into()],
            log: LogTarget::Stdout,
            audit_sink: None,
            profile: true,
        }
    }
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
}

pub(crate) struct TimerItem {
    id: ServiceId,
    session: i32,
}

pub(crate) struct NodeInner {
    pub limits: Limits,
    pub policy: Policy,
    pub audit: Audit,
    pub registry: Registry,
    pub names: Names,
    pub runq: RunQueue<Arc<ServiceCell>>,
    pub counters: NodeCounters,
    /// What script hosts report their states hold, against `lua_memory_total`.
    pub(crate) memory: MemoryBudget,
    pub probes: Vec<Probe>,
    pub exit_monitor: Mutex<Option<ServiceId>>,
    pub start_time: u64,
    /// Whether turns are timed for the `cpu` stat.
    pub profile: bool,
    started: Instant,
    alloc: HandleAllocator,
    wheel: Mutex<Wheel<TimerItem>>,
    modules: RwLock<HashMap<String, Module>>,
    env: Env,
    logger: RwLock<Option<Arc<ServiceCell>>>,
    retire_hooks: RwLock<Vec<RetireHook>>,
    idle_work: RwLock<Vec<IdleWork>>,
    live: AtomicUsize,
    aborting: AtomicBool,
    stopped: AtomicBool,
    done: (std::sync::Mutex<bool>, std::sync::Condvar),
}

impl NodeInner {
    /// Puts a service with new work on the run queue: on a worker thread,
    /// into that worker's next slot; elsewhere, on the global queue.
    pub fn schedule(&self, cell: Arc<ServiceCell>) {
        match crate::runq::current_worker() {
            Some(w) => self.runq.push_local(w, cell),
            None => self.runq.push(cell),
        }
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

    /// Writes to the audit log each limit the policy raises for a role
    /// above the node's: loosening a bound is the operator's choice, and
    /// shows. The `system` role's freedom is built in and goes unsaid.
    fn note_loosened_limits(&self) {
        let node = |key: &str| -> u64 {
            let v = match key {
                "spawn_rate" => self.limits.spawn_rate,
                "spawn_burst" => self.limits.spawn_burst,
                _ => self.limits.lua_memory_total,
            };
            u64::try_from(v).unwrap_or(u64::MAX)
        };
        for role in self.policy.roles().filter(|r| r.name != SYSTEM_ROLE) {
            for (key, value) in role.limits.named() {
                if value.raises(node(key)) {
                    self.audit.note(&format!(
                        "policy: role {} raises {key} to {value} (config {key} = {})",
                        role.name,
                        node(key)
                    ));
                }
            }
        }
    }

    /// `:0000000a script agent (role service)`, for audit lines.
    pub fn describe(&self, h: Handle) -> String {
        match self.registry.get(h) {
            Some(c) => format!("{h} {}", c.identity),
            None if h.is_system() => "system".to_string(),
            None => format!("{h} (gone)"),
        }
    }

    pub fn audit_refused(&self, who: &str, what: &str, whom: &str, why: &str) {
        self.audit.refused(Refusal {
            who,
            what,
            whom,
            why,
        });
    }

    /// True if `cell` holds `grant`; otherwise audits and counts a refusal.
    pub fn check(&self, cell: &ServiceCell, grant: Grant, whom: &str) -> bool {
        if cell.identity.has(grant) {
            return true;
        }
        self.deny(cell, &grant.to_string(), whom);
        false
    }

    fn deny(&self, cell: &ServiceCell, what: &str, whom: &str) {
        cell.stats.denied.fetch_add(1, Ordering::Relaxed);
        let who = format!("{} {}", cell.handle(), cell.identity);
        self.audit_refused(&who, what, whom, "the policy does not grant it");
    }

    fn check_send(
        &self,
        from: &ServiceCell,
        ptype: u8,
        dest: Handle,
        size: usize,
    ) -> Result<(), SendError> {
        // PTYPE_CLIENT *to* a gate is a write request (skynet's C gate: the
        // last 4 bytes name the connection), which the gate checks itself;
        // the restriction is on services posing as a gate towards others.
        let to_gate = ptype == crate::message::ptype::CLIENT
            && self
                .registry
                .get(dest)
                .is_some_and(|c| c.identity.role.name == crate::policy::GATE_ROLE);
        if !to_gate && !from.identity.role.may_send(ptype) {
            let what = format!("send:{}", ptype::name(ptype));
            self.deny(from, &what, &dest.to_string());
            return Err(SendError::Denied { what });
        }
        if size > self.limits.max_message_bytes {
            return Err(SendError::TooLarge {
                size,
                max: self.limits.max_message_bytes,
            });
        }
        Ok(())
    }

    pub fn send(
        &self,
        from: &Arc<ServiceCell>,
        dest: Handle,
        source: Handle,
        ptype: u8,
        session: i32,
        payload: Payload,
    ) -> Result<(), SendError> {
        self.check_send(from, ptype, dest, payload.len())?;
        let target = self
            .registry
            .get(dest)
            .ok_or(SendError::UnknownAddress(dest))?;
        let msg = Message {
            source,
            origin: from.handle(),
            session,
            ptype,
            payload,
        };
        let schedule = if ptype::is_reply(ptype) && session != 0 {
            match target.mailbox.push_reply(msg, source) {
                Ok(s) => s,
                Err(ReplyRefused::Closed) => return Err(SendError::UnknownAddress(dest)),
                Err(_) => {
                    self.counters
                        .dropped_replies
                        .fetch_add(1, Ordering::Relaxed);
                    return Err(SendError::UnexpectedReply(dest));
                }
            }
        } else {
            self.admit(from, &target, msg)?
        };
        if schedule {
            self.schedule(target);
        }
        Ok(())
    }

    fn admit(
        &self,
        from: &ServiceCell,
        target: &ServiceCell,
        msg: Message,
    ) -> Result<bool, SendError> {
        match target.mailbox.push(msg) {
            Ok(s) => Ok(s),
            Err(Refused::Closed) => Err(SendError::UnknownAddress(target.handle())),
            Err(why) => {
                from.stats.slowed.fetch_add(1, Ordering::Relaxed);
                self.counters.full_refusals.fetch_add(1, Ordering::Relaxed);
                Err(SendError::Full {
                    target: target.handle(),
                    why,
                })
            }
        }
    }

    fn open_session(&self, from: &ServiceCell, callee: Handle) -> Result<i32, SendError> {
        // Skips sessions still open after the counter wrapped; bounded because
        // at most max_open_calls sessions can be open.
        for _ in 0..=self.limits.max_open_calls {
            let s = from.next_session();
            match from
                .mailbox
                .open_call(s, callee, self.limits.max_open_calls)
            {
                Ok(()) => return Ok(s),
                Err(OpenError::SessionInUse) => continue,
                Err(OpenError::TooMany) => break,
            }
        }
        self.counters
            .open_call_refusals
            .fetch_add(1, Ordering::Relaxed);
        Err(SendError::TooManyPending {
            limit: "max_open_calls",
            max: self.limits.max_open_calls,
        })
    }

    pub fn call(
        &self,
        from: &Arc<ServiceCell>,
        dest: Handle,
        ptype: u8,
        payload: Payload,
    ) -> Result<i32, SendError> {
        self.check_send(from, ptype, dest, payload.len())?;
        let target = self
            .registry
            .get(dest)
            .ok_or(SendError::UnknownAddress(dest))?;
        let session = self.open_session(from, dest)?;
        let msg = Message {
            source: from.handle(),
            origin: from.handle(),
            session,
            ptype,
            payload,
        };
        match self.admit(from, &target, msg) {
            Ok(schedule) => {
                if schedule {
                    self.schedule(target);
                }
                Ok(session)
            }
            Err(e) => {
                from.mailbox.cancel_call(session);
                Err(e)
            }
        }
    }

    pub fn now(&self) -> u64 {
        (self.started.elapsed().as_millis() / 10) as u64
    }

    pub fn timeout(&self, from: &Arc<ServiceCell>, ticks: i64) -> Result<i32, SendError> {
        if from.timers.load(Ordering::Relaxed) >= self.limits.max_timers {
            self.counters.timer_refusals.fetch_add(1, Ordering::Relaxed);
            return Err(SendError::TooManyPending {
                limit: "max_timers",
                max: self.limits.max_timers,
            });
        }
        let session = self.open_session(from, Handle::SYSTEM)?;
        from.timers.fetch_add(1, Ordering::Relaxed);
        let item = TimerItem {
            id: from.id,
            session,
        };
        let mut fired = Vec::new();
        let due = if ticks <= 0 {
            Some(item)
        } else {
            // Bring the wheel up to the present first, so the timer counts
            // from now and not from the timer thread's last tick.
            let mut w = self.wheel.lock();
            w.advance_to(self.now(), &mut fired);
            let at = w.now() + ticks as u64;
            w.add(at, item)
        };
        for item in fired.into_iter().chain(due) {
            self.fire_timer(item);
        }
        Ok(session)
    }

    fn fire_timer(&self, item: TimerItem) {
        let Some(cell) = self.registry.get_exact(item.id) else {
            return;
        };
        cell.timers.fetch_sub(1, Ordering::Relaxed);
        let msg = Message {
            source: Handle::SYSTEM,
            origin: Handle::SYSTEM,
            session: item.session,
            ptype: ptype::RESPONSE,
            payload: Payload::empty(),
        };
        if let Ok(true) = cell.mailbox.push_reply(msg, Handle::SYSTEM) {
            self.schedule(cell);
        }
    }

    /// Called by the timer thread: fires everything due by now.
    pub fn advance_timers(&self, fired: &mut Vec<TimerItem>) {
        let now = self.now();
        self.wheel.lock().advance_to(now, fired);
        for item in fired.drain(..) {
            self.fire_timer(item);
        }
    }

    pub fn bind_name(
        &self,
        from: &Arc<ServiceCell>,
        name: &str,
        target: Handle,
    ) -> Result<(), NameError> {
        names::validate(name, self.limits.max_name_length)?;
        let denied = |why: &str| NameError::Denied {
            name: name.to_string(),
            why: why.to_string(),
        };
        let target_cell = if target == from.handle() {
            from.clone()
        } else {
            if !self.check(from, Grant::NameOther, &format!("{name} -> {target}")) {
                return Err(denied(
                    "binding a name to another service needs the name_other grant",
                ));
            }
            self.registry
                .get(target)
                .ok_or_else(|| denied("no such service"))?
        };
        let mut takeover = from.identity.has(Grant::NameTakeover);
        if let Some(reserved) = self.policy.reserved_for(name) {
            if *reserved != target_cell.identity.subject && !takeover {
                self.deny(from, "name", &format!("{name} (reserved for {reserved})"));
                return Err(denied(&format!("the name is reserved for {reserved}")));
            }
            takeover = true;
        }
        if !takeover {
            if let Some(holder) = self.names.lookup(name) {
                if holder != target_cell.id {
                    self.deny(from, "name", &format!("{name} (held by {})", holder.handle));
                }
            }
        }
        // A name belongs to the service it names, also when a granted
        // service bound it on that service's behalf (bootstrap names the
        // launcher, and the name must outlive bootstrap).
        let owned = target_cell.names.lock().len();
        let previous = self.names.bind(
            name,
            target_cell.id,
            target_cell.id,
            takeover,
            self.limits.max_names,
            owned,
        )?;
        if let Some(prev_owner) = previous {
            if let Some(p) = self.registry.get_exact(prev_owner) {
                p.names.lock().retain(|n| n != name);
            }
        }
        let mut list = target_cell.names.lock();
        if !list.iter().any(|n| n == name) {
            list.push(name.to_string());
        }
        Ok(())
    }

    pub fn launch(
        &self,
        parent: Option<&Arc<ServiceCell>>,
        module: &str,
        args: &str,
    ) -> Result<Handle, LaunchError> {
        self.launch_for(parent, None, module, args)
    }

    /// Launches `module` for `parent` — or, when `parent` holds
    /// `launch_for`, for the service `on_behalf` names, which the launch
    /// then counts against: its grants, its spawn rate, its role's memory
    /// budget. Without a parent the runtime itself launches, unchecked.
    pub fn launch_for(
        &self,
        parent: Option<&Arc<ServiceCell>>,
        on_behalf: Option<Handle>,
        module: &str,
        args: &str,
    ) -> Result<Handle, LaunchError> {
        if self.stopped.load(Ordering::Acquire) || self.aborting.load(Ordering::Acquire) {
            return Err(LaunchError::ShuttingDown);
        }
        let spec = self
            .modules
            .read()
            .get(module)
            .cloned()
            .ok_or_else(|| LaunchError::UnknownModule(module.to_string()))?;
        let script = args.split_whitespace().next().unwrap_or("");
        let requester = match (parent, on_behalf) {
            (None, _) => None,
            (Some(p), None) => Some(p.clone()),
            (Some(p), Some(h)) if h == p.handle() => Some(p.clone()),
            (Some(p), Some(h)) => {
                let what = format!("{module} {script} for {h}");
                if !self.check(p, Grant::LaunchFor, &what) {
                    return Err(LaunchError::NotOnBehalf(h));
                }
                Some(self.registry.get(h).ok_or(LaunchError::RequesterGone(h))?)
            }
        };
        if let Some(r) = &requester {
            if !spec.ordinary && !self.check(r, Grant::LaunchNative, module) {
                return Err(LaunchError::Denied(module.to_string()));
            }
            let mut whom = format!("{module} {script}");
            if let Some(p) = parent.filter(|p| p.id != r.id) {
                whom.push_str(&format!(" (through {})", p.handle()));
            }
            self.charge_spawn(r, &whom)?;
            if spec.reports_memory {
                self.check_memory(r, &whom)?;
            }
        }
        let subject = if spec.script_host {
            Subject::Script(args.split_whitespace().next().unwrap_or("").to_string())
        } else {
            Subject::Native(module.to_string())
        };
        let service = (spec.factory)(args).map_err(LaunchError::Failed)?;
        self.spawn(subject, format!("{module} {args}"), service)
    }

    /// Takes one launch from `r`'s spawn bucket, or refuses (counted and
    /// audited). A refused launch is not refunded when something later in
    /// the launch fails either: a flood is slowed whatever it hits.
    fn charge_spawn(&self, r: &ServiceCell, whom: &str) -> Result<(), LaunchError> {
        let role = &r.identity.role;
        let node = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        let (Some(rate), Some(burst)) = (
            role.limits.spawn_rate.over(node(self.limits.spawn_rate)),
            role.limits.spawn_burst.over(node(self.limits.spawn_burst)),
        ) else {
            return Ok(());
        };
        let now = self.started.elapsed();
        let admitted = r
            .spawns
            .lock()
            .get_or_insert_with(|| TokenBucket::new(rate, burst, now))
            .take(now);
        if admitted {
            return Ok(());
        }
        self.counters.spawn_refusals.fetch_add(1, Ordering::Relaxed);
        let source = if role.limits.spawn_rate == RoleLimit::Node
            && role.limits.spawn_burst == RoleLimit::Node
        {
            LimitSource::Config
        } else {
            LimitSource::Role(role.name.clone())
        };
        let e = LaunchError::SpawnRate {
            service: r.handle(),
            rate,
            burst,
            source,
        };
        let who = format!("{} {}", r.handle(), r.identity);
        self.audit_refused(&who, "launch", whom, &e.reason());
        Err(e)
    }

    /// Refuses (counted and audited) a launch of a service that reports
    /// memory while the node's total is past the budget that applies to
    /// `r`: the node's, or its role's own.
    fn check_memory(&self, r: &ServiceCell, whom: &str) -> Result<(), LaunchError> {
        let role = &r.identity.role;
        let node = u64::try_from(self.memory.limit()).unwrap_or(u64::MAX);
        let Some(limit) = role.limits.lua_memory_total.over(node) else {
            return Ok(());
        };
        let used = self.memory.total();
        if u64::try_from(used).unwrap_or(u64::MAX) <= limit {
            return Ok(());
        }
        self.counters
            .memory_refusals
            .fetch_add(1, Ordering::Relaxed);
        let e = LaunchError::MemoryBudget {
            used,
            limit,
            source: LimitSource::of(role.limits.lua_memory_total, &role.name),
        };
        let who = format!("{} {}", r.handle(), r.identity);
        self.audit_refused(&who, "launch", whom, &e.reason());
        Err(e)
    }

    /// A service's host reports its state holds `bytes` (see
    /// [`crate::memory`] for why this is cheap).
    #[inline]
    pub fn report_memory(&self, cell: &ServiceCell, bytes: usize) {
        if let Some(c) = self.memory.report(&cell.reported_memory, bytes) {
            self.memory_crossed(c);
        }
    }

    /// A service retired: its reported memory no longer counts.
    pub fn release_memory(&self, cell: &ServiceCell) {
        if let Some(c) = self.memory.release(&cell.reported_memory) {
            self.memory_crossed(c);
        }
    }

    /// Tells the operator, once per crossing, that the Lua memory of all
    /// services passed the budget or fell back well under it.
    fn memory_crossed(&self, c: Crossing) {
        let (total, limit) = (
            human_bytes(self.memory.total()),
            human_bytes(self.memory.limit()),
        );
        let line = match c {
            Crossing::Over => format!(
                "Lua memory of all services, {total}, is past the budget of {limit} \
                 (config lua_memory_total): new Lua services are refused while it is, \
                 except for roles the policy gives a budget of their own"
            ),
            Crossing::Under => format!(
                "Lua memory of all services is down to {total}, under the budget of {limit} \
                 (config lua_memory_total): new Lua services start again"
            ),
        };
        self.log_system(Handle::SYSTEM, &line);
    }

    pub fn spawn(
        &self,
        subject: Subject,
        launch: String,
        service: Box<dyn Service>,
    ) -> Result<Handle, LaunchError> {
        if self.live.fetch_add(1, Ordering::AcqRel) >= self.limits.max_services {
            self.live.fetch_sub(1, Ordering::AcqRel);
            self.counters
                .service_refusals
                .fetch_add(1, Ordering::Relaxed);
            return Err(LaunchError::TooManyServices(self.limits.max_services));
        }
        let identity = self.policy.identity_for(subject);
        let id = loop {
            let id = self.alloc.next();
            if !self.registry.contains(id.handle) {
                break id;
            }
        };
        let mailbox = Mailbox::new(MailboxLimits::from(&self.limits));
        let cell = Arc::new(ServiceCell::new(id, identity, launch, mailbox, service));
        if !self.registry.insert(cell.clone()) {
            self.live.fetch_sub(1, Ordering::AcqRel);
            return Err(LaunchError::Failed("handle collision".into()));
        }
        // The logger's own launch happens before there is a log to write to.
        if self.logger.read().is_some() {
            self.log_system(id.handle, &format!("LAUNCH {}", cell.launch));
        }
        self.schedule(cell);
        Ok(id.handle)
    }

    pub fn kill(&self, from: &Arc<ServiceCell>, target: Handle) -> Result<(), SendError> {
        if target != from.handle() && !self.check(from, Grant::Kill, &target.to_string()) {
            return Err(SendError::Denied {
                what: "kill".into(),
            });
        }
        let cell = self
            .registry
            .get(target)
            .ok_or(SendError::UnknownAddress(target))?;
        self.log_system(from.handle(), &format!("KILL {target}"));
        self.retire_soon(cell);
        Ok(())
    }

    pub fn retire_soon(&self, cell: Arc<ServiceCell>) {
        cell.request_kill();
        if cell.mailbox.poke() {
            self.schedule(cell);
        }
    }

    pub fn abort(&self) {
        self.aborting.store(true, Ordering::Release);
        let logger = self.logger.read().as_ref().map(|c| c.id);
        let all = self.registry.all();
        let only_logger = all.iter().all(|c| Some(c.id) == logger);
        for cell in all {
            if Some(cell.id) != logger || only_logger {
                self.retire_soon(cell);
            }
        }
        if self.live.load(Ordering::Acquire) == 0 {
            self.stop();
        }
    }

    /// Called by a worker once a service has retired.
    pub fn service_gone(&self, id: ServiceId) {
        let hooks = self.retire_hooks.read().clone();
        for h in hooks {
            h(id.handle);
        }
        let left = self.live.fetch_sub(1, Ordering::AcqRel) - 1;
        let logger = self.logger.read().clone();
        if let Some(l) = &logger {
            if l.id == id {
                *self.logger.write() = None;
            } else if left == 1 && self.aborting.load(Ordering::Acquire) {
                self.retire_soon(l.clone());
            }
        }
        if left == 0 {
            self.stop();
        }
    }

    fn stop(&self) {
        if self.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        self.runq.close();
        let (lock, cv) = &self.done;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
    }

    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    /// A line from the runtime itself, shown as coming from `source`.
    pub fn log_system(&self, source: Handle, text: &str) {
        let logger = self.logger.read().clone();
        if let Some(l) = logger {
            let msg = Message {
                source,
                origin: Handle::SYSTEM,
                session: 0,
                ptype: ptype::TEXT,
                payload: Payload::from(text),
            };
            match l.mailbox.push_system(msg) {
                Ok(true) => self.schedule(l),
                Ok(false) => {}
                Err(_) => eprintln!("[{source}] {text}"),
            }
        } else {
            eprintln!("[{source}] {text}");
        }
    }

    /// Asks the logger to reopen its file (after logrotate moved it: skynet
    /// does this on SIGHUP).
    pub fn reopen_log(&self) {
        let logger = self.logger.read().clone();
        if let Some(l) = logger {
            let msg = Message {
                source: Handle::SYSTEM,
                origin: Handle::SYSTEM,
                session: 0,
                ptype: ptype::SYSTEM,
                payload: Payload::empty(),
            };
            if let Ok(true) = l.mailbox.push_system(msg) {
                self.schedule(l);
            }
        }
    }

    /// A line logged by a service: charged to its share of the logger's
    /// mailbox, and dropped (and counted) when that share is full.
    pub fn log_from(&self, from: &ServiceCell, text: &str) {
        let logger = self.logger.read().clone();
        let Some(l) = logger else {
            eprintln!("[{}] {text}", from.handle());
            return;
        };
        let msg = Message {
            source: from.handle(),
            origin: from.handle(),
            session: 0,
            ptype: ptype::TEXT,
            payload: Payload::from(text),
        };
        match l.mailbox.push(msg) {
            Ok(true) => self.schedule(l),
            Ok(false) => {}
            Err(_) => {
                from.stats.log_dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    pub fn getenv(&self, from: &ServiceCell, key: &str) -> Option<String> {
        if self.env.is_secret(key)
            && !self.check(from, Grant::ReadSecrets, &format!("getenv {key}"))
        {
            return None;
        }
        self.env.get(key)
    }

    pub fn setenv(&self, key: &str, value: &str) -> Result<(), String> {
        self.env.set(key, value)
    }

    /// Tells `sender` that `target` has room for it again.
    pub fn notify_room(&self, sender: Handle, target: Handle) {
        if let Some(cell) = self.registry.get(sender) {
            if cell.mailbox.add_room(target) {
                self.schedule(cell);
            }
        }
    }

    /// Queues a runtime-made message (exit notices) outside any share.
    pub fn push_system(&self, to: Handle, msg: Message) {
        if let Some(cell) = self.registry.get(to) {
            if let Ok(true) = cell.mailbox.push_system(msg) {
                self.schedule(cell);
            }
        }
    }

    /// Fails request `session` of `to` on behalf of `from` (a reply the
    /// runtime owes for a service that cannot give it).
    pub fn fail_request(&self, to: Handle, from: Handle, session: i32) {
        if let Some(cell) = self.registry.get(to) {
            let msg = Message {
                source: from,
                origin: from,
                session,
                ptype: ptype::ERROR,
                payload: Payload::empty(),
            };
            if let Ok(true) = cell.mailbox.push_reply(msg, from) {
                self.schedule(cell);
            }
        }
    }
}

// The logger is a service like any other; what it does with each kind of
// message is said here, where the node routes lines to it.
impl Service for Logger {
    fn handle(&mut self, _ctx: &crate::service::Context, msg: Message) {
        match msg.ptype {
            ptype::TEXT => {
                let text = String::from_utf8_lossy(msg.payload.as_slice());
                self.line(msg.source, &text);
            }
            ptype::SYSTEM => self.reopen(),
            _ => {}
        }
    }
}

/// A service's counters, by name.
pub fn stats_of(cell: &ServiceCell) -> BTreeMap<&'static str, u64> {
    let s = &cell.stats;
    let r = |a: &AtomicU64| a.load(Ordering::Relaxed);
    BTreeMap::from([
        ("message", r(&s.messages)),
        ("cpu_ns", r(&s.cpu_ns)),
        ("mqlen", cell.mailbox.len() as u64),
        ("slowed", r(&s.slowed)),
        ("denied", r(&s.denied)),
        ("log_dropped", r(&s.log_dropped)),
        ("errors", r(&s.errors)),
        ("refused_full", cell.mailbox.refused_count()),
        ("dropped_replies", cell.mailbox.dropped_reply_count()),
        ("open_calls", cell.mailbox.open_calls() as u64),
        ("timers", cell.pending_timers() as u64),
        ("owed", cell.owed_replies() as u64),
    ])
}

/// A running node.
pub struct Node {
    inner: Arc<NodeInner>,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// A handle on the node for services that manage others and for operators.
#[derive(Clone)]
pub struct NodeRef(pub(crate) Arc<NodeInner>);

impl Node {
    /// Builds a node and starts its workers, timer and monitor threads and
    /// its logger. Services are launched with [`Node::launch`] or [`Node::spawn`].
    pub fn start(config: NodeConfig) -> Result<Node, String> {
        if !(1..=1024).contains(&config.threads) {
            return Err(format!(
                "config thread = {}: must be 1..1024",
                config.threads
            ));
        }
        let audit = Audit::new(config.limits.audit_lines_per_second, Arc::new(|_: &str| {}));
        let inner = Arc::new(NodeInner {
            limits: config.limits.clone(),
            policy: config.policy.clone(),
            audit,
            registry: Registry::default(),
            names: Names::default(),
            runq: RunQueue::new(config.threads),
            counters: NodeCounters::default(),
            memory: MemoryBudget::new(config.limits.lua_memory_total),
            probes: (0..config.threads).map(|_| Probe::default()).collect(),
            exit_monitor: Mutex::new(None),
            start_time: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
            profile: config.profile,
            started: Instant::now(),
            alloc: HandleAllocator::new(config.harbor),
            wheel: Mutex::new(Wheel::new()),
            modules: RwLock::new(HashMap::new()),
            env: Env::new(
                config.env.clone(),
                config.secret_keys.clone(),
                config.secret_prefixes.clone(),
            ),
            logger: RwLock::new(None),
            retire_hooks: RwLock::new(Vec::new()),
            idle_work: RwLock::new(Vec::new()),
            live: AtomicUsize::new(0),
            aborting: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            done: (std::sync::Mutex::new(false), std::sync::Condvar::new()),
        });
        // Audit lines go to the log (weakly held: the log must not keep the node alive).
        let weak = Arc::downgrade(&inner);
        let extra = config.audit_sink.clone();
        inner.audit.set_sink(Arc::new(move |line: &str| {
            if let Some(n) = weak.upgrade() {
                n.log_system(Handle::SYSTEM, line);
            }
            if let Some(x) = &extra {
                x(line);
            }
        }));
        let target = config.log.clone();
        inner.modules.write().insert(
            "logger".into(),
            Module {
                factory: Arc::new(move |_args: &str| {
                    Ok(Box::new(Logger::new(target.clone())?) as Box<dyn Service>)
                }),
                script_host: false,
                ordinary: false,
                reports_memory: false,
            },
        );
        let logger = inner
            .launch(None, "logger", "")
            .map_err(|e| e.to_string())?;
        *inner.logger.write() = inner.registry.get(logger);
        inner.note_loosened_limits();

        let mut threads = Vec::new();
        for i in 0..config.threads {
            let n = inner.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("skyhold-worker-{i}"))
                    .spawn(move || worker::run(n, i))
                    .map_err(|e| e.to_string())?,
            );
        }
        let n = inner.clone();
        threads.push(
            std::thread::Builder::new()
                .name("skyhold-timer".into())
                .spawn(move || timer_thread(n))
                .map_err(|e| e.to_string())?,
        );
        let n = inner.clone();
        let every = config.monitor_interval;
        threads.push(
            std::thread::Builder::new()
                .name("skyhold-monitor".into())
                .spawn(move || worker::monitor(n, every))
                .map_err(|e| e.to_string())?,
        );
        Ok(Node {
            inner,
            threads: Mutex::new(threads),
        })
    }

    /// Registers a module services can be launched from.
    pub fn register_module(&self, name: &str, module: Module) {
        self.inner.modules.write().insert(name.to_string(), module);
    }

    /// Gives idle workers `work` to do before they wait for services: a
    /// worker that runs out of services calls it, and looks for services
    /// again after each piece it did. Workers already waiting start on it
    /// after the next service they run, or when a service says the work is
    /// wanted again ([`Context::want_idle_work`](crate::Context::want_idle_work)).
    pub fn on_idle(&self, work: IdleWork) {
        self.inner.idle_work.write().push(work);
    }

    /// Launches a service from a module, as the runtime (no policy check).
    pub fn launch(&self, module: &str, args: &str) -> Result<Handle, LaunchError> {
        self.inner.launch(None, module, args)
    }

    /// Starts a native service instance under `name` (its identity is
    /// `native name`, with whatever role the policy gives that).
    pub fn spawn(&self, name: &str, service: Box<dyn Service>) -> Result<Handle, LaunchError> {
        self.inner
            .spawn(Subject::Native(name.to_string()), name.to_string(), service)
    }

    /// Starts a native service instance with an explicit identity subject.
    pub fn spawn_as(
        &self,
        subject: Subject,
        service: Box<dyn Service>,
    ) -> Result<Handle, LaunchError> {
        let launch = subject.to_string();
        self.inner.spawn(subject, launch, service)
    }

    /// A handle for management.
    pub fn handle(&self) -> NodeRef {
        NodeRef(self.inner.clone())
    }

    /// Blocks until every service has retired (or `timeout` passes; then false).
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let (lock, cv) = &self.inner.done;
        let guard = lock.lock().unwrap_or_else(|e| e.into_inner());
        let (guard, _) = cv
            .wait_timeout_while(guard, timeout, |done| !*done)
            .unwrap_or_else(|e| e.into_inner());
        let finished = *guard;
        drop(guard);
        if finished {
            self.join();
        }
        finished
    }

    /// Blocks until every service has retired.
    pub fn wait(&self) {
        while !self.wait_timeout(Duration::from_secs(3600)) {}
    }

    /// Retires every service and waits for the node to end.
    pub fn shutdown(&self) {
        self.inner.abort();
        if !self.wait_timeout(Duration::from_secs(10)) {
            // Something is stuck in a handler; stop scheduling anyway.
            self.inner.stop();
            self.join();
        }
    }

    fn join(&self) {
        let threads: Vec<_> = self.threads.lock().drain(..).collect();
        for t in threads {
            let _ = t.join();
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if !self.inner.is_stopped() {
            self.shutdown();
        }
    }
}

impl NodeRef {
    /// Makes the logger reopen its file (the `skyhold` binary calls this on
    /// SIGHUP, so log rotation works as with skynet).
    pub fn reopen_log(&self) {
        self.0.reopen_log();
    }

    /// The verified identity of a live service.
    pub fn identity(&self, h: Handle) -> Option<Identity> {
        self.0.registry.get(h).map(|c| c.identity.clone())
    }

    /// A live service's counters.
    pub fn stats(&self, h: Handle) -> Option<BTreeMap<&'static str, u64>> {
        self.0.registry.get(h).map(|c| stats_of(&c))
    }

    /// Node-wide counters.
    pub fn counters(&self) -> &NodeCounters {
        &self.0.counters
    }

    /// The audit log.
    pub fn audit(&self) -> &Audit {
        &self.0.audit
    }

    /// Bytes all services report their script states hold (the total the
    /// `lua_memory_total` budget is checked against).
    pub fn reported_memory(&self) -> usize {
        self.0.memory.total()
    }

    /// True if a live service holds this handle.
    pub fn is_alive(&self, h: Handle) -> bool {
        self.0.registry.contains(h)
    }

    /// The service a name points to.
    pub fn query_name(&self, name: &str) -> Option<Handle> {
        self.0.names.lookup(name).map(|id| id.handle)
    }

    /// Live services as `(handle, launch text)`, oldest first.
    pub fn list(&self) -> Vec<(Handle, String)> {
        self.0
            .registry
            .all()
            .iter()
            .map(|c| (c.handle(), c.launch.clone()))
            .collect()
    }

    /// Live services.
    pub fn live(&self) -> usize {
        self.0.live.load(Ordering::Acquire)
    }

    /// Retires a service as the runtime (operator action).
    pub fn kill(&self, h: Handle) -> bool {
        match self.0.registry.get(h) {
            Some(c) => {
                self.0.retire_soon(c);
                true
            }
            None => false,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.0.limits
    }

    /// Delivers a message from the runtime itself (source 0), outside any
    /// sender's share — socket events, for instance. False if `to` is gone.
    pub fn push_event(&self, to: Handle, ptype: u8, session: i32, payload: Payload) -> bool {
        let Some(cell) = self.0.registry.get(to) else {
            return false;
        };
        let msg = Message {
            source: Handle::SYSTEM,
            origin: Handle::SYSTEM,
            session,
            ptype,
            payload,
        };
        match cell.mailbox.push_system(msg) {
            Ok(true) => {
                self.0.schedule(cell);
                true
            }
            Ok(false) => true,
            Err(_) => false,
        }
    }

    /// Messages waiting in a live service's mailbox.
    pub fn queued(&self, h: Handle) -> Option<usize> {
        self.0.registry.get(h).map(|c| c.mailbox.len())
    }

    /// Writes a refusal of something no local service asked for (a remote
    /// peer, a client) to the audit log; `who` names it.
    pub fn audit_refused_by(&self, who: &str, what: &str, whom: &str, why: &str) {
        self.0.audit_refused(who, what, whom, why);
    }

    /// Writes a refusal to the audit log on the runtime's behalf.
    pub fn audit_refused(&self, who: Handle, what: &str, whom: &str, why: &str) {
        if let Some(c) = self.0.registry.get(who) {
            c.stats.denied.fetch_add(1, Ordering::Relaxed);
        }
        let who = self.0.describe(who);
        self.0.audit_refused(&who, what, whom, why);
    }

    /// Runs `hook` with the handle of every service that retires from now on.
    pub fn on_retire(&self, hook: RetireHook) {
        self.0.retire_hooks.write().push(hook);
    }

    /// Writes a line to the node's log as coming from `source`.
    pub fn log(&self, source: Handle, text: &str) {
        self.0.log_system(source, text);
    }
}

fn timer_thread(node: Arc<NodeInner>) {
    let mut fired = Vec::new();
    while !node.is_stopped() {
        std::thread::sleep(Duration::from_micros(2500));
        node.advance_timers(&mut fired);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn idle_workers_do_idle_work_and_survive_a_piece_that_panics() {
        let node = Node::start(NodeConfig {
            threads: 1,
            ..NodeConfig::default()
        })
        .unwrap();
        let panicked = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicUsize::new(0));
        let p = panicked.clone();
        node.on_idle(Arc::new(move || {
            if !p.swap(true, Ordering::SeqCst) {
                panic!("a piece of idle work that fails");
            }
            false
        }));
        let d = done.clone();
        node.on_idle(Arc::new(move || {
            // Five pieces of work, then nothing more to do.
            d.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < 5).then_some(n + 1)
            })
            .is_ok()
        }));
        // A worker does idle work on its way from a service to waiting, so
        // give the (possibly sleeping) worker a service to run first. The
        // panic neither kills the worker nor stops the other piece.
        struct Nothing;
        impl crate::service::Service for Nothing {
            fn handle(&mut self, _: &crate::service::Context, _: Message) {}
        }
        node.spawn("nothing", Box::new(Nothing)).unwrap();
        wait_until("the idle work", || done.load(Ordering::SeqCst) == 5);
        assert!(panicked.load(Ordering::SeqCst));
        assert!(node.handle().counters().panics.load(Ordering::Relaxed) >= 1);
        node.shutdown();
    }
}
