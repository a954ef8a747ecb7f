//! Bare core nodes for tests: native services built from closures, and a
//! node with two workers whose log and audit trail are kept in memory.

use parking_lot::Mutex;
use skyhold_core::{
    Context, Handle, LogTarget, Message, Node, NodeConfig, Policy, Service, Subject,
};
use std::sync::Arc;
use std::time::Duration;

use crate::wait::wait_until;

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
pub struct CoreNode {
    /// The node.
    pub node: Node,
    /// What it logged.
    pub log: Arc<Mutex<Vec<String>>>,
    /// What it audited.
    pub audit: Arc<Mutex<Vec<String>>>,
}

impl CoreNode {
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
pub fn node_with(policy: Policy, tweak: impl FnOnce(&mut NodeConfig)) -> CoreNode {
    let log = Arc::new(Mutex::new(Vec::new()));
    let audit = Arc::new(Mutex::new(Vec::new()));
    let a2 = audit.clone();
    let mut config = NodeConfig {
        threads: 2,
        policy,
        log: LogTarget::Memory(log.clone()),
        audit_sink: Some(Arc::new(move |l: &skyhold_core::audit::AuditLine<'_>| {
            a2.lock().push(l.text.to_string())
        })),
        ..NodeConfig::default()
    };
    tweak(&mut config);
    CoreNode {
        node: Node::start(config).expect("node starts"),
        log,
        audit,
    }
}

/// A node with the default policy and limits.
pub fn node() -> CoreNode {
    node_with(Policy::default(), |_| {})
}
