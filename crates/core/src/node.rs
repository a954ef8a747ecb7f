//! The node: its config, starting it (threads, the logger), waiting for it
//! and shutting it down, and the admin API operators and managing services
//! use ([`NodeRef`]).

use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::audit::{Audit, AuditLine, AuditSink};
pub use crate::cell::stats_of;
use crate::env::Env;
pub use crate::errors::{LaunchError, LimitSource};
use crate::handle::{Handle, HandleAllocator};
use crate::limits::Limits;
use crate::logger::{LogFormat, LogTarget, Logger};
use crate::memory::MemoryBudget;
use crate::message::{Message, Payload};
use crate::msglog::{LogPlace, MsgLog, MsgLogCounters};
use crate::names::Names;
use crate::policy::{Identity, Policy, Subject, SYSTEM_ROLE};
use crate::probe::Probe;
use crate::registry::Registry;
use crate::runq::RunQueue;
use crate::state::NodeInner;
use crate::state::Service;
pub use crate::state::{Factory, IdleWork, Module, NodeCounters, RetireHook};
use crate::timers::timer_thread;
use crate::wheel::Wheel;
use crate::worker;

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
    /// How it writes each line (config `log_format`).
    pub log_format: LogFormat,
    /// Where audit lines go besides the log (a file, or a test's collector).
    pub audit_sink: Option<AuditSink>,
    /// Per-service CPU accounting (skynet's `profile`, on by default): the
    /// time of each turn is added to the service's `cpu` stat.
    pub profile: bool,
    /// Where `logon` opens a service's message log, or why it cannot
    /// (the default: no place configured).
    pub service_log: LogPlace,
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
            log_format: LogFormat::Text,
            audit_sink: None,
            profile: true,
            service_log: Err(crate::msglog::NO_PLACE.to_string()),
        }
    }
}

impl NodeInner {
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
        let audit = Audit::new(
            config.limits.audit_lines_per_second,
            Arc::new(|_: &AuditLine<'_>| {}),
        )
        .with_recent_limits(
            config.limits.audit_recent_refusals,
            config.limits.audit_recent_field_bytes,
        );
        let boot_wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
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
            start_time: boot_wall.as_secs(),
            start_centis: u64::from(boot_wall.subsec_millis() / 10),
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
            log_format: config.log_format,
            msglog: MsgLog::new(
                config.service_log.clone(),
                config.limits.logfile_max_bytes,
                config.limits.logfile_queue_bytes,
            ),
            retire_hooks: RwLock::new(Vec::new()),
            idle_work: RwLock::new(Vec::new()),
            live: AtomicUsize::new(0),
            aborting: AtomicBool::new(false),
            start_launched: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            done: (std::sync::Mutex::new(false), std::sync::Condvar::new()),
        });
        // Audit lines go to the log (weakly held: the log must not keep the node alive).
        let weak = Arc::downgrade(&inner);
        let extra = config.audit_sink.clone();
        inner.audit.set_sink(Arc::new(move |line: &AuditLine<'_>| {
            if let Some(n) = weak.upgrade() {
                n.log_audit(line);
            }
            if let Some(x) = &extra {
                x(line);
            }
        }));
        let target = config.log.clone();
        let format = config.log_format;
        inner.modules.write().insert(
            "logger".into(),
            Module {
                factory: Arc::new(move |_args: &str| {
                    Ok(Box::new(Logger::new(target.clone(), format)?) as Box<dyn Service>)
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
    /// Ends the node as `skynet.abort()` does: no service may be launched
    /// any more, every service retires (closing its sockets), the logger
    /// last, once it has written what was queued before it. The `skyhold`
    /// binary calls this on SIGTERM; `Node::wait` returns when it is done.
    pub fn abort(&self) {
        self.0.abort();
    }

    /// Stops scheduling at once, whatever is still running: the last
    /// resort when [`NodeRef::abort`] has not ended the node in time.
    pub fn stop_now(&self) {
        self.0.stop();
    }

    /// True once the node has ended.
    pub fn is_stopped(&self) -> bool {
        self.0.is_stopped()
    }

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

    /// skynet's SIGNAL for service `h` (operator action): `0` asks its host
    /// to break the code it is running (a Lua host raises `signal 0` in
    /// it), `1` logs the memory it holds; false if there is no such service.
    pub fn signal(&self, h: Handle, sig: i64) -> bool {
        let Some(c) = self.0.registry.get(h) else {
            return false;
        };
        match sig {
            0 => c
                .stats
                .interrupt
                .store(true, std::sync::atomic::Ordering::Release),
            1 => {
                let bytes = match c.reported_memory.load(Ordering::Relaxed) {
                    crate::memory::RETIRED => 0,
                    b => b,
                };
                self.0
                    .log_system(h, &format!("Current Memory {:.3}K", bytes as f64 / 1024.0));
            }
            _ => {}
        }
        true
    }

    /// skynet's LOGON (operator action, asked by `by`): from now on every
    /// message `h` receives is written to its message log. The path of
    /// the file opened, or `None` if `h` was logged on already; an error
    /// if there is no such service or the file cannot be opened (no place
    /// configured, or the file system said no).
    pub fn logon(&self, by: Handle, h: Handle) -> Result<Option<String>, String> {
        let Some(c) = self.0.registry.get(h) else {
            return Err(format!("no service {h}"));
        };
        let mut slot = c.msglog.lock();
        if slot.is_some() {
            return Ok(None);
        }
        let now = self.0.now();
        let wall = i64::try_from(self.0.start_time + now / 100).unwrap_or(i64::MAX);
        let tap = self.0.msglog.open(h, now, wall).inspect_err(|e| {
            self.0
                .log_system(by, &format!("Open log file for {h} fail: {e}"));
        })?;
        let path = tap.path().to_string();
        *slot = Some(tap);
        c.msglog_on.store(true, Ordering::Relaxed);
        drop(slot);
        self.0.log_system(by, &format!("Open log file {path}"));
        self.0.audit.note(&format!(
            "logon {h}: the messages it receives are written to {path} (asked by {})",
            self.0.describe(by)
        ));
        Ok(Some(path))
    }

    /// skynet's LOGOFF (operator action, asked by `by`): `h`'s message log
    /// is closed once what was queued for it is written. False if it was
    /// not logged on; an error if there is no such service.
    pub fn logoff(&self, by: Handle, h: Handle) -> Result<bool, String> {
        let Some(c) = self.0.registry.get(h) else {
            return Err(format!("no service {h}"));
        };
        let tap = c.msglog.lock().take();
        let Some(tap) = tap else {
            return Ok(false);
        };
        c.msglog_on.store(false, Ordering::Relaxed);
        self.0.msglog.close(tap, Some(self.0.now()));
        self.0.log_system(by, &format!("Close log file {h}"));
        self.0
            .audit
            .note(&format!("logoff {h} (asked by {})", self.0.describe(by)));
        Ok(true)
    }

    /// The counters of the per-service message logs.
    pub fn service_log_counters(&self) -> &MsgLogCounters {
        self.0.msglog.counters()
    }

    /// Waits (up to `timeout`) until every message-log line queued so far
    /// is written and flushed; false if that did not happen in time.
    pub fn sync_service_logs(&self, timeout: Duration) -> bool {
        self.0.msglog.sync(timeout)
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
    fn the_dashboards_refusals_follow_the_configured_limits() {
        let mut limits = Limits::default();
        limits.set("audit_recent_refusals", "2").unwrap();
        limits.set("audit_recent_field_bytes", "4").unwrap();
        let node = Node::start(NodeConfig {
            threads: 1,
            limits,
            ..NodeConfig::default()
        })
        .unwrap();
        let n = node.handle();
        for whom in ["first", "second", "third"] {
            n.audit_refused_by("tester", "kill", whom, "no");
        }
        let recent = n.audit().recent();
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0].whom, "seco…");
        assert_eq!(recent[1].who, "test…");
        assert_eq!(n.audit().recent_evicted(), 1);
        // who, whom (and `kill`, 4 bytes, fits) in each of the three.
        assert_eq!(n.audit().recent_cut(), 6);
    }

    #[test]
    fn a_service_log_is_refused_without_a_place_and_written_with_one() {
        let node = Node::start(NodeConfig {
            threads: 1,
            ..NodeConfig::default()
        })
        .unwrap();
        let n = node.handle();
        let e = n.logon(Handle::SYSTEM, Handle(0x0fff_ffff)).unwrap_err();
        assert!(e.contains("no service"), "{e}");
        let logger = n.list().first().map(|(h, _)| *h).unwrap();
        let e = n.logon(Handle::SYSTEM, logger).unwrap_err();
        assert!(e.contains("file_write_root"), "{e}");
        assert_eq!(n.logoff(Handle::SYSTEM, logger), Ok(false));
        drop(node);

        let dir = std::env::temp_dir().join(format!("skyhold-node-logon-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let d = dir.clone();
        let node = Node::start(NodeConfig {
            threads: 1,
            service_log: Ok(Arc::new(move |h: Handle| {
                let p = d.join(format!("{:08x}.log", h.0));
                let f = std::fs::File::create(&p).map_err(|e| e.to_string())?;
                Ok((f, p.display().to_string()))
            })),
            ..NodeConfig::default()
        })
        .unwrap();
        let n = node.handle();
        let logger = n.list().first().map(|(h, _)| *h).unwrap();
        let path = n.logon(Handle::SYSTEM, logger).unwrap().unwrap();
        assert!(path.ends_with(&format!("{:08x}.log", logger.0)), "{path}");
        assert_eq!(n.logon(Handle::SYSTEM, logger), Ok(None));
        // A line to the logger is a TEXT message (type 0) from the system.
        n.log(Handle::SYSTEM, "hello");
        wait_until("the line", || {
            n.sync_service_logs(Duration::from_secs(1));
            std::fs::read_to_string(&path).is_ok_and(|t| t.contains("68656c6c6f"))
        });
        assert_eq!(n.logoff(Handle::SYSTEM, logger), Ok(true));
        assert!(n.sync_service_logs(Duration::from_secs(10)));
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.contains(":00000000 0 0 "), "{text}");
        assert!(
            text.ends_with('\n') && text.lines().last().unwrap().starts_with("close time: "),
            "{text}"
        );
        assert_eq!(n.service_log_counters().opened.load(Ordering::Relaxed), 1);
        drop(node);
        std::fs::remove_dir_all(&dir).ok();
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
        impl crate::state::Service for Nothing {
            fn handle(&mut self, _: &crate::state::Context, _: Message) {}
        }
        node.spawn("nothing", Box::new(Nothing)).unwrap();
        wait_until("the idle work", || done.load(Ordering::SeqCst) == 5);
        assert!(panicked.load(Ordering::SeqCst));
        assert!(node.handle().counters().panics.load(Ordering::Relaxed) >= 1);
        node.shutdown();
    }
}
