//! Native-Rust versions of the messaging benchmarks: the same shapes as the
//! Lua benchmark services, run on skyhold's core directly, to show the
//! ceiling and what the Lua layer costs.

use skyhold_core::{
    ptype, Context, Handle, LogTarget, Message, Node, NodeConfig, Payload, SendError, Service,
};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// One native benchmark figure.
#[derive(Debug, Clone)]
pub struct NativeResult {
    /// Benchmark name (matches the Lua benchmark's name).
    pub name: &'static str,
    /// The figure.
    pub value: f64,
    /// Its unit.
    pub unit: &'static str,
    /// Anything else worth reporting (latency percentiles, counts).
    pub note: String,
}

fn node(threads_default: usize) -> Node {
    let threads = std::env::var("BENCH_THREADS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(threads_default);
    Node::start(NodeConfig {
        threads,
        log: LogTarget::Memory(Default::default()),
        ..NodeConfig::default()
    })
    .expect("node starts")
}

struct Sender {
    target: Handle,
    remaining: u64,
}

impl Sender {
    fn pump(&mut self, ctx: &Context) {
        while self.remaining > 0 {
            match ctx.send(
                self.target,
                ptype::LUA,
                0,
                Payload::from(&b"0123456789abcdef"[..]),
            ) {
                Ok(()) => self.remaining -= 1,
                Err(SendError::Full { .. }) => return,
                Err(SendError::UnknownAddress(_)) => {
                    // The target is gone (the node is shutting down).
                    self.remaining = 0;
                    return;
                }
                Err(e) => panic!("send failed: {e}"),
            }
        }
    }
}

impl Service for Sender {
    fn init(&mut self, ctx: &Context) -> Result<(), String> {
        self.pump(ctx);
        Ok(())
    }
    fn handle(&mut self, _: &Context, _: Message) {}
    fn room(&mut self, ctx: &Context, _: Handle) {
        self.pump(ctx);
    }
}

struct Counter {
    left: u64,
    started: Option<Instant>,
    done: mpsc::Sender<Duration>,
}

impl Service for Counter {
    fn handle(&mut self, _: &Context, _: Message) {
        let start = *self.started.get_or_insert_with(Instant::now);
        self.left -= 1;
        if self.left == 0 {
            let _ = self.done.send(start.elapsed());
        }
    }
}

/// One-way sends A→B, `n` messages of 16 bytes.
pub fn send(n: u64) -> NativeResult {
    let node = node(2);
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    let b = node
        .spawn(
            "counter",
            Box::new(Counter {
                left: n,
                started: Some(started),
                done: tx,
            }),
        )
        .unwrap();
    node.spawn(
        "sender",
        Box::new(Sender {
            target: b,
            remaining: n,
        }),
    )
    .unwrap();
    let took = rx.recv().expect("all messages arrive");
    node.shutdown();
    NativeResult {
        name: "send",
        value: n as f64 / took.as_secs_f64(),
        unit: "msg/s",
        note: format!("{n} messages in {:.3} s", took.as_secs_f64()),
    }
}

struct Echo;

impl Service for Echo {
    fn handle(&mut self, ctx: &Context, m: Message) {
        if m.session != 0 {
            let _ = ctx.reply(m.source, m.session, m.payload);
        }
    }
}

struct Caller {
    target: Handle,
    left: u64,
    started: Instant,
    last: Instant,
    latencies: Vec<u32>,
    done: mpsc::Sender<(Duration, Vec<u32>)>,
}

impl Caller {
    fn next(&mut self, ctx: &Context) {
        if self.left == 0 {
            let _ = self
                .done
                .send((self.started.elapsed(), std::mem::take(&mut self.latencies)));
            return;
        }
        self.left -= 1;
        self.last = Instant::now();
        ctx.call(self.target, ptype::LUA, Payload::from(&b"ping"[..]))
            .expect("call");
    }
}

impl Service for Caller {
    fn init(&mut self, ctx: &Context) -> Result<(), String> {
        self.started = Instant::now();
        self.next(ctx);
        Ok(())
    }
    fn handle(&mut self, ctx: &Context, m: Message) {
        if m.ptype == ptype::RESPONSE {
            self.latencies
                .push(self.last.elapsed().as_nanos().min(u128::from(u32::MAX)) as u32);
            self.next(ctx);
        }
    }
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i]) / 1000.0
}

fn caller(target: Handle, n: u64, done: mpsc::Sender<(Duration, Vec<u32>)>) -> Box<dyn Service> {
    Box::new(Caller {
        target,
        left: n,
        started: Instant::now(),
        last: Instant::now(),
        latencies: Vec::with_capacity(n as usize),
        done,
    })
}

/// Call round trips from `callers` concurrent callers, `n` calls in all.
pub fn call(n: u64, callers: u64) -> NativeResult {
    let node = node(2);
    let echo = node.spawn("echo", Box::new(Echo)).unwrap();
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    for _ in 0..callers {
        node.spawn("caller", caller(echo, n / callers, tx.clone()))
            .unwrap();
    }
    let mut lat = Vec::new();
    for _ in 0..callers {
        lat.extend(rx.recv().unwrap().1);
    }
    let took = started.elapsed();
    node.shutdown();
    lat.sort_unstable();
    NativeResult {
        name: if callers == 1 { "call" } else { "call10" },
        value: n as f64 / took.as_secs_f64(),
        unit: "calls/s",
        note: format!(
            "p50 {:.1} µs, p99 {:.1} µs",
            percentile(&lat, 0.5),
            percentile(&lat, 0.99)
        ),
    }
}

struct RingNode {
    next: Handle,
    hops_left: Option<mpsc::Sender<Duration>>,
    started: Instant,
    limit: u64,
}

impl Service for RingNode {
    fn handle(&mut self, ctx: &Context, m: Message) {
        if m.ptype == ptype::TEXT {
            // Set-up: the next node's handle.
            self.next = Handle(u32::from_le_bytes(m.payload.as_slice().try_into().unwrap()));
            return;
        }
        let hops = u64::from_le_bytes(m.payload.as_slice().try_into().unwrap());
        if hops >= self.limit {
            if let Some(done) = self.hops_left.take() {
                let _ = done.send(self.started.elapsed());
            }
            return;
        }
        let _ = ctx.send(
            self.next,
            ptype::LUA,
            0,
            Payload::from((hops + 1).to_le_bytes().to_vec()),
        );
    }
}

/// A ring of `size` services passing `tokens` tokens for `hops` hops in all.
pub fn ring(size: usize, tokens: u64, hops: u64) -> NativeResult {
    let node = node(2);
    let (tx, rx) = mpsc::channel();
    let per_token = hops / tokens;
    let started = Instant::now();
    let ring: Vec<Handle> = (0..size)
        .map(|_| {
            node.spawn(
                "ring",
                Box::new(RingNode {
                    next: Handle(0),
                    hops_left: Some(tx.clone()),
                    started,
                    limit: per_token,
                }),
            )
            .unwrap()
        })
        .collect();
    let links = ring.clone();
    let (ready_tx, ready) = mpsc::channel();
    struct Starter<F: FnMut(&Context) + Send + 'static>(F);
    impl<F: FnMut(&Context) + Send + 'static> Service for Starter<F> {
        fn init(&mut self, ctx: &Context) -> Result<(), String> {
            (self.0)(ctx);
            Ok(())
        }
        fn handle(&mut self, _: &Context, _: Message) {}
    }
    node.spawn(
        "starter",
        Box::new(Starter(move |ctx: &Context| {
            for (i, h) in links.iter().enumerate() {
                let next = links[(i + 1) % links.len()];
                ctx.send(
                    *h,
                    ptype::TEXT,
                    0,
                    Payload::from(next.0.to_le_bytes().to_vec()),
                )
                .unwrap();
            }
            let _ = ready_tx.send(());
        })),
    )
    .unwrap();
    ready.recv().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let begin = Instant::now();
    let ring2 = ring.clone();
    node.spawn(
        "kick",
        Box::new(Starter(move |ctx: &Context| {
            for t in 0..tokens as usize {
                let h = ring2[(t * ring2.len() / tokens as usize) % ring2.len()];
                ctx.send(h, ptype::LUA, 0, Payload::from(0u64.to_le_bytes().to_vec()))
                    .unwrap();
            }
        })),
    )
    .unwrap();
    for _ in 0..tokens {
        rx.recv().unwrap();
    }
    let took = begin.elapsed();
    node.shutdown();
    NativeResult {
        name: if tokens == 1 { "ring" } else { "ring100" },
        value: (per_token * tokens) as f64 / took.as_secs_f64(),
        unit: "hops/s",
        note: format!(
            "{size} services, {tokens} token(s), {} hops",
            per_token * tokens
        ),
    }
}

/// Times `calls` honest calls to a target while another service floods the
/// same target as fast as the runtime lets it; reports the p99.
pub fn flood_p99(calls: usize) -> NativeResult {
    let node = node(2);
    let echo = node.spawn("target", Box::new(Echo)).unwrap();
    node.spawn(
        "flooder",
        Box::new(Sender {
            target: echo,
            remaining: u64::MAX,
        }),
    )
    .unwrap();
    std::thread::sleep(Duration::from_millis(50));
    let (tx, rx) = mpsc::channel();
    node.spawn("honest", caller(echo, calls as u64, tx))
        .unwrap();
    let (_, mut lat) = rx.recv().unwrap();
    node.shutdown();
    lat.sort_unstable();
    NativeResult {
        name: "flood_p99",
        value: percentile(&lat, 0.99),
        unit: "µs p99",
        note: format!(
            "{calls} calls during a flood: p50 {:.1} µs, max {:.1} µs",
            percentile(&lat, 0.5),
            percentile(&lat, 1.0)
        ),
    }
}

/// Spawns `n` native services and reports services per second.
pub fn spawn(n: usize) -> NativeResult {
    let node = node(2);
    let started = Instant::now();
    for _ in 0..n {
        node.spawn("idle", Box::new(Echo)).unwrap();
    }
    let took = started.elapsed();
    node.shutdown();
    NativeResult {
        name: "spawn",
        value: n as f64 / took.as_secs_f64(),
        unit: "services/s",
        note: format!("{n} services in {:.3} s", took.as_secs_f64()),
    }
}

/// The native benchmarks whose names are in `only` (all when empty).
pub fn all_matching(only: &[String]) -> Vec<NativeResult> {
    type Bench = (&'static str, fn() -> NativeResult);
    let benches: [Bench; 7] = [
        ("send", || send(1_000_000)),
        ("call", || call(200_000, 1)),
        ("call10", || call(200_000, 10)),
        ("ring", || ring(1000, 1, 1_000_000)),
        ("ring100", || ring(1000, 100, 1_000_000)),
        ("spawn", || spawn(10_000)),
        ("flood_p99", || flood_p99(20_000)),
    ];
    benches
        .iter()
        .filter(|(name, _)| only.is_empty() || only.iter().any(|o| o == name))
        .map(|(_, run)| run())
        .collect()
}
