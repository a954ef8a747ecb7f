//! Helpers for the threat tests: native services built from closures, nodes
//! with a captured log and audit trail, and waiting with a deadline.
#![allow(dead_code)]

use parking_lot::Mutex;
use skyhold_core::{
    Context, Handle, LogTarget, Message, Node, NodeConfig, Policy, Service, Subject,
};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::Arc;
use std::time::{Duration, Instant};

type OnInit = Box<dyn FnMut(&Context) + Send>;
type OnMsg = Box<dyn FnMut(&Context, Message) + Send>;
type OnRoom = Box<dyn FnMut(&Context, Handle) + Send>;

/// A native service made of closures.
pub struct FnService {
    on_init: Option<OnInit>,
    on_msg: OnMsg,
    on_room: Option<OnRoom>,
}

impl Service for FnService {
    fn init(&mut self, ctx: &Context) -> Result<(), String> {
        if let Some(f) = self.on_init.as_mut() {
            f(ctx);
        }
        Ok(())
    }
    fn handle(&mut self, ctx: &Context, msg: Message) {
        (self.on_msg)(ctx, msg)
    }
    fn room(&mut self, ctx: &Context, target: Handle) {
        if let Some(f) = self.on_room.as_mut() {
            f(ctx, target);
        }
    }
}

/// A service that handles messages with `f`.
pub fn on_message(f: impl FnMut(&Context, Message) + Send + 'static) -> FnService {
    FnService {
        on_init: None,
        on_msg: Box::new(f),
        on_room: None,
    }
}

impl FnService {
    /// Also runs `f` at init.
    pub fn on_init(mut self, f: impl FnMut(&Context) + Send + 'static) -> Self {
        self.on_init = Some(Box::new(f));
        self
    }
    /// Also runs `f` when a target has room again.
    pub fn on_room(mut self, f: impl FnMut(&Context, Handle) + Send + 'static) -> Self {
        self.on_room = Some(Box::new(f));
        self
    }
    /// Boxed.
    pub fn boxed(self) -> Box<dyn Service> {
        Box::new(self)
    }
}

/// A service that ignores everything.
pub fn idle() -> Box<dyn Service> {
    on_message(|_, _| {}).boxed()
}

/// A node plus what it logged and audited.
pub struct TestNode {
    pub node: Node,
    pub log: Arc<Mutex<Vec<String>>>,
    pub audit: Arc<Mutex<Vec<String>>>,
}

impl TestNode {
    /// Spawns a native service.
    pub fn spawn(&self, name: &str, s: Box<dyn Service>) -> Handle {
        self.node.spawn(name, s).expect("spawn")
    }

    /// Spawns a native service under an explicit subject (to give it a role).
    pub fn spawn_as(&self, subject: &str, s: Box<dyn Service>) -> Handle {
        self.node
            .spawn_as(Subject::Native(subject.into()), s)
            .expect("spawn")
    }

    /// Runs `f` once inside a fresh service called `name`, which then exits.
    pub fn run_as(&self, name: &str, f: impl FnOnce(&Context) + Send + 'static) -> Handle {
        let mut f = Some(f);
        let s = on_message(|_, _| {}).on_init(move |ctx| {
            if let Some(f) = f.take() {
                f(ctx);
            }
            ctx.exit();
        });
        self.spawn_as(name, s.boxed())
    }

    /// True once some audit line contains every one of `parts`.
    pub fn audited(&self, parts: &[&str]) -> bool {
        wait_until(Duration::from_secs(5), || {
            self.audit
                .lock()
                .iter()
                .any(|l| parts.iter().all(|p| l.contains(p)))
        })
    }

    /// True once some log line contains `part`.
    pub fn logged(&self, part: &str) -> bool {
        wait_until(Duration::from_secs(5), || {
            self.log.lock().iter().any(|l| l.contains(part))
        })
    }
}

/// A node with two workers, the given policy and config changes.
pub fn node_with(policy: Policy, tweak: impl FnOnce(&mut NodeConfig)) -> TestNode {
    let log = Arc::new(Mutex::new(Vec::new()));
    let audit = Arc::new(Mutex::new(Vec::new()));
    let a2 = audit.clone();
    let mut config = NodeConfig {
        threads: 2,
        policy,
        log: LogTarget::Memory(log.clone()),
        audit_sink: Some(Arc::new(move |l: &str| a2.lock().push(l.to_string()))),
        ..NodeConfig::default()
    };
    tweak(&mut config);
    TestNode {
        node: Node::start(config).expect("node starts"),
        log,
        audit,
    }
}

/// A node with the default policy and limits.
pub fn node() -> TestNode {
    node_with(Policy::default(), |_| {})
}

/// Receives with a deadline; panics with `what` if nothing came.
pub fn expect<T>(rx: &Receiver<T>, what: &str) -> T {
    expect_within(rx, Duration::from_secs(10), what)
}

/// Receives within `limit`; panics with `what` if nothing came.
pub fn expect_within<T>(rx: &Receiver<T>, limit: Duration, what: &str) -> T {
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(RecvTimeoutError::Timeout) => panic!("timed out waiting for {what}"),
        Err(RecvTimeoutError::Disconnected) => panic!("sender gone while waiting for {what}"),
    }
}

/// Asserts nothing arrives for a short while.
pub fn expect_nothing<T: std::fmt::Debug>(rx: &Receiver<T>, what: &str) {
    if let Ok(v) = rx.recv_timeout(Duration::from_millis(200)) {
        panic!("{what}: got {v:?}");
    }
}

/// Polls `f` until it is true or `limit` passes.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Boots a node whose start service is `tests/threats/lua/<case>.lua`, with
/// extra config keys, and returns its log once the case says PASS or FAIL
/// (or after `limit`).
pub fn lua_case(case: &str, extra: &[(&str, &str)], limit: Duration) -> Vec<String> {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/threats/lua");
    let mut env: std::collections::BTreeMap<String, String> = [
        ("thread", "2".to_string()),
        ("harbor", "0".to_string()),
        ("start", case.to_string()),
        ("luaservice", format!("{}/?.lua", dir.display())),
        ("lua_path", format!("{}/?.lua", dir.display())),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in extra {
        env.insert((*k).to_string(), (*v).to_string());
    }
    let mut settings = skyhold::settings(env, &dir).expect("settings");
    let log = Arc::new(Mutex::new(Vec::new()));
    settings.node.log = LogTarget::Memory(log.clone());
    let node = skyhold::boot(settings).expect("boot");
    wait_until(limit, || {
        log.lock()
            .iter()
            .any(|l| l.contains("PASS") || l.contains("FAIL") || l.contains("init service failed"))
    });
    std::thread::sleep(Duration::from_millis(20));
    node.shutdown();
    let lines = log.lock().clone();
    lines
}

/// Runs a Lua threat case and panics with its log unless it passed.
pub fn lua_check(case: &str, extra: &[(&str, &str)]) -> Vec<String> {
    let log = lua_case(case, extra, Duration::from_secs(30));
    let passed = log.iter().any(|l| l.contains("PASS"));
    let failed = log
        .iter()
        .any(|l| l.contains("FAIL") || l.contains("init service failed"));
    if !passed || failed {
        panic!(
            "threat case {case} did not pass; its log:\n{}",
            log.join("\n")
        );
    }
    log
}
