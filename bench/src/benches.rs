//! The list of benchmarks the harness knows, and the runtimes it compares.

/// How a benchmark gets its figure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The Lua side measures and prints `BENCH <name> value=… unit=…`.
    Lua,
    /// The Lua side prints `BENCH echo_ready port=N`; the harness is the TCP
    /// client and measures.
    Echo(Framing),
    /// Two nodes: the harness starts node "b" (`bench = "cluster_server"`),
    /// waits for `BENCH cluster_ready port=N`, then starts node "a", whose
    /// Lua side calls b through skynet.cluster, measures and prints
    /// `BENCH <name> value=… unit=…`.
    Cluster,
}

/// How echo messages are framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Bare bytes: whatever is read is written back.
    Raw,
    /// A 2-byte big-endian length, then the body (the gate's framing).
    Len16,
}

/// One benchmark.
#[derive(Debug, Clone, Copy)]
pub struct Bench {
    /// Name: the config value `bench`, and the name in `--only`.
    pub name: &'static str,
    /// What it measures, for the README-style table legend.
    pub what: &'static str,
    /// How the figure is obtained.
    pub kind: Kind,
    /// The headline figure's unit.
    pub unit: &'static str,
    /// True when a smaller figure is better (latencies).
    pub lower_is_better: bool,
}

/// Every benchmark, in the order they run and appear in the table.
pub const ALL: &[Bench] = &[
    Bench {
        name: "send",
        what: "one-way skynet.send, 1 M small messages A→B; B counts them",
        kind: Kind::Lua,
        unit: "msg/s",
        lower_is_better: false,
    },
    Bench {
        name: "call",
        what: "skynet.call round trips, 200 k, one caller",
        kind: Kind::Lua,
        unit: "calls/s",
        lower_is_better: false,
    },
    Bench {
        name: "call10",
        what: "skynet.call round trips, 200 k, 10 concurrent caller services",
        kind: Kind::Lua,
        unit: "calls/s",
        lower_is_better: false,
    },
    Bench {
        name: "ring",
        what: "ring of 1,000 services, 1 token, 1 M hops",
        kind: Kind::Lua,
        unit: "hops/s",
        lower_is_better: false,
    },
    Bench {
        name: "ring100",
        what: "ring of 1,000 services, 100 tokens, 1 M hops in all",
        kind: Kind::Lua,
        unit: "hops/s",
        lower_is_better: false,
    },
    Bench {
        name: "spawn",
        what: "spawn 10,000 Lua services with newservice, one after another",
        kind: Kind::Lua,
        unit: "services/s",
        lower_is_better: false,
    },
    Bench {
        name: "flood",
        what: "p99 latency of 1,000 calls to a service another service floods with sends",
        kind: Kind::Lua,
        unit: "ms",
        lower_is_better: true,
    },
    Bench {
        name: "echo",
        what: "TCP echo, 100 connections × 64 B, one in flight each, skynet.socket in one service",
        kind: Kind::Echo(Framing::Raw),
        unit: "msg/s",
        lower_is_better: false,
    },
    Bench {
        name: "echo_agent",
        what: "TCP echo, one agent service per connection",
        kind: Kind::Echo(Framing::Raw),
        unit: "msg/s",
        lower_is_better: false,
    },
    Bench {
        name: "echo_gate",
        what: "TCP echo through gate + watchdog + one agent per connection, 2-byte framing",
        kind: Kind::Echo(Framing::Len16),
        unit: "msg/s",
        lower_is_better: false,
    },
    Bench {
        name: "echo_cgate",
        what: "TCP echo through the native gate (skynet.launch(\"gate\")) + watchdog + one agent per connection",
        kind: Kind::Echo(Framing::Len16),
        unit: "msg/s",
        lower_is_better: false,
    },
    Bench {
        name: "cluster_call",
        what: "cluster.call round trips between two nodes on 127.0.0.1, 100 k, one caller \
               (skyhold: TLS 1.3 with mutual authentication; skynet: plain TCP)",
        kind: Kind::Cluster,
        unit: "calls/s",
        lower_is_better: false,
    },
];

/// Looks a benchmark up by name.
pub fn find(name: &str) -> Option<&'static Bench> {
    ALL.iter().find(|b| b.name == name)
}

/// A runtime a benchmark runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// `target/release/skyhold CONFIG` with the repository's Lua layer,
    /// with per-service CPU accounting (`profile`) on (the default) or off.
    Skyhold {
        /// The config key `profile`.
        profile: bool,
    },
    /// `$SKYNET_ROOT/skynet CONFIG`, with `profile` on or off.
    Skynet {
        /// The config key `profile`.
        profile: bool,
    },
}

impl Runtime {
    /// The column heading.
    pub fn label(self) -> &'static str {
        match self {
            Runtime::Skyhold { profile: true } => "skyhold",
            Runtime::Skyhold { profile: false } => "skyhold, profile off",
            Runtime::Skynet { profile: true } => "skynet, profile on",
            Runtime::Skynet { profile: false } => "skynet, profile off",
        }
    }

    /// A short form for progress lines.
    pub fn short(self) -> &'static str {
        match self {
            Runtime::Skyhold { profile: true } => "skyhold",
            Runtime::Skyhold { profile: false } => "skyhold/off",
            Runtime::Skynet { profile: true } => "skynet/on",
            Runtime::Skynet { profile: false } => "skynet/off",
        }
    }
}
