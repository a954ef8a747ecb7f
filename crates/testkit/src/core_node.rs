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

/// The example game server, booted in-process on a free port.
pub struct Game {
    pub node: Node,
    pub port: u16,
    pub log: Arc<Mutex<Vec<String>>>,
}

/// Boots `examples/config` with the gate on a free port and `extra` config.
pub fn game(extra: &[(&str, &str)]) -> Game {
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let config = root.join("examples/config");
    let mut env = skyhold::config::load(&config).expect("example config");
    env.insert("gate_port".into(), "0".into());
    for (k, v) in extra {
        env.insert((*k).to_string(), (*v).to_string());
    }
    // The example's paths are relative to the repository root.
    let abs = |p: &str| p.replace("./examples/", &format!("{}/examples/", root.display()));
    for key in ["luaservice", "lua_path"] {
        if let Some(v) = env.get(key).cloned() {
            env.insert(key.into(), abs(&v));
        }
    }
    let mut settings = skyhold::settings(env, &root.join("examples")).expect("settings");
    let log = Arc::new(Mutex::new(Vec::new()));
    settings.node.log = LogTarget::Memory(log.clone());
    let node = skyhold::boot(settings).expect("boot");
    let mut port = 0;
    assert!(
        wait_until(Duration::from_secs(10), || {
            for l in log.lock().iter() {
                if let Some(rest) = l.split("game server listening on ").nth(1) {
                    port = rest
                        .rsplit(':')
                        .next()
                        .and_then(|p| p.trim().parse().ok())
                        .unwrap_or(0);
                }
            }
            port != 0
        }),
        "the game server did not start: {:?}",
        log.lock()
    );
    Game { node, port, log }
}

/// A game client speaking 2-byte-length frames.
pub struct Client {
    pub stream: std::net::TcpStream,
}

impl Client {
    /// Connects from `from` (a loopback address) to the game.
    pub fn connect_from(from: &str, port: u16) -> std::io::Result<Client> {
        // std cannot bind before connect; a source address other than
        // 127.0.0.1 goes through a tokio socket.
        let stream = if from == "127.0.0.1" {
            std::net::TcpStream::connect(("127.0.0.1", port))?
        } else {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let s = rt.block_on(async {
                let sock = tokio::net::TcpSocket::new_v4()?;
                sock.bind(format!("{from}:0").parse().expect("address"))?;
                sock.connect(format!("127.0.0.1:{port}").parse().expect("address"))
                    .await
            })?;
            s.into_std()?
        };
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        Ok(Client { stream })
    }

    /// Connects from 127.0.0.1.
    pub fn connect(port: u16) -> std::io::Result<Client> {
        Client::connect_from("127.0.0.1", port)
    }

    /// Sends one frame.
    pub fn send(&mut self, text: &str) -> std::io::Result<()> {
        use std::io::Write;
        let mut f = (text.len() as u16).to_be_bytes().to_vec();
        f.extend_from_slice(text.as_bytes());
        self.stream.write_all(&f)
    }

    /// Reads one frame.
    pub fn recv(&mut self) -> std::io::Result<String> {
        use std::io::Read;
        let mut h = [0u8; 2];
        self.stream.read_exact(&mut h)?;
        let mut b = vec![0u8; usize::from(u16::from_be_bytes(h))];
        self.stream.read_exact(&mut b)?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }

    /// Reads frames until one contains `part`.
    pub fn expect(&mut self, part: &str) -> String {
        loop {
            let f = self
                .recv()
                .unwrap_or_else(|e| panic!("waiting for '{part}': {e}"));
            if f.contains(part) {
                return f;
            }
        }
    }

    /// True once the server has closed the connection (within 5 s).
    pub fn closed_by_server(&mut self) -> bool {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return false
                }
                Err(_) => return true,
            }
        }
        false
    }
}

/// A legitimate player on its own address gets its pong within a second.
pub fn legit_ping(port: u16) {
    let started = Instant::now();
    let mut c = Client::connect_from("127.0.0.2", port).expect("legitimate client connects");
    c.stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    c.expect("hello");
    c.send("ping").unwrap();
    c.expect("pong");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}
