//! Running one benchmark on one node: write its config, start the process,
//! wait for the `BENCH` line (or drive the echo client), sample the process,
//! kill it.

use crate::benches::{Bench, Kind, Runtime};
use crate::certs::Certs;
use crate::client::{self, EchoConfig};
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Where things are and how runs are bounded.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The repository root (skyhold's `lualib/` and `service/`).
    pub repo: PathBuf,
    /// The benchmark Lua services (`bench/lua`).
    pub bench_lua: PathBuf,
    /// The skyhold binary.
    pub skyhold_bin: PathBuf,
    /// A skynet build (`$SKYNET_ROOT`), if any.
    pub skynet_root: Option<PathBuf>,
    /// Where per-run config files go.
    pub tmp: PathBuf,
    /// How long a run may take to report.
    pub timeout: Duration,
    /// Multiplier for the Lua side's counts (`bench_scale`).
    pub scale: f64,
    /// Worker threads in the node's config (`thread`).
    pub threads: usize,
    /// The echo client's settings.
    pub echo: EchoConfig,
}

/// The figures of one successful run.
#[derive(Debug, Clone, Default)]
pub struct Measurement {
    /// The headline figure.
    pub value: f64,
    /// Its unit.
    pub unit: String,
    /// Every `key=value` of the `BENCH` line (or the client's figures).
    pub fields: Vec<(String, String)>,
    /// Peak resident set (VmHWM), KiB.
    pub peak_rss_kb: Option<u64>,
    /// User + system CPU time of the node process, seconds.
    pub cpu_s: Option<f64>,
    /// Wall time from process start to the result, seconds.
    pub wall_s: f64,
    /// Resident growth per spawned service, KiB (spawn benchmark).
    pub kb_per_service: Option<f64>,
    /// Latency percentiles in ms, where the benchmark has them.
    pub p50_ms: Option<f64>,
    /// 99th percentile latency, ms.
    pub p99_ms: Option<f64>,
    /// Worst latency, ms.
    pub max_ms: Option<f64>,
    /// The second node's peak resident set (VmHWM), KiB: the callee of
    /// `cluster_call` (node b); the figures above are the caller's.
    pub peer_rss_kb: Option<u64>,
    /// The second node's user + system CPU time, seconds.
    pub peer_cpu_s: Option<f64>,
}

impl Measurement {
    /// A field of the `BENCH` line, parsed as a number.
    pub fn num(&self, key: &str) -> Option<f64> {
        self.fields
            .iter()
            .find(|(k, _)| k == key)
            .and_then(|(_, v)| v.parse().ok())
    }
}

/// Escapes a string as a Lua string literal.
fn lua_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A path as text for a config file or an environment variable.
pub(crate) fn path_str(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

/// The config file text for a run. Paths are written out in full (no `..`)
/// so the file means the same to both config readers.
pub fn config_text(setup: &Setup, bench: &Bench, runtime: Runtime, port: u16) -> String {
    config_with(setup, bench.name, runtime, port, &[])
}

/// The config file text for a run of the benchmark `bench_key` (the config
/// value `bench`), with `extra` keys at the end.
fn config_with(
    setup: &Setup,
    bench_key: &str,
    runtime: Runtime,
    port: u16,
    extra: &[(&str, String)],
) -> String {
    let lua = path_str(&setup.bench_lua);
    let mut keys: Vec<(&str, String)> = vec![
        ("thread", setup.threads.to_string()),
        ("harbor", "0".into()),
        ("start", lua_str("benchmain")),
        ("bootstrap", lua_str("snlua bootstrap")),
    ];
    match runtime {
        Runtime::Skyhold { profile } => {
            if !profile {
                keys.push(("profile", "false".into()));
            }
            let root = path_str(&setup.repo);
            keys.push((
                "luaservice",
                lua_str(&format!("{lua}/?.lua;{root}/service/?.lua")),
            ));
            keys.push((
                "lua_path",
                lua_str(&format!("{root}/lualib/?.lua;{root}/lualib/?/init.lua")),
            ));
            // The echo client's 100 connections from 127.0.0.1 fit the
            // default per-address cap (1,000). The spawn test's services:
            // it starts 10,000 back to back from one service, which is a
            // flood to the default spawn_burst and spawn_rate (skynet has no
            // such limit; the test measures what a spawn costs).
            keys.push(("max_services", "100000".into()));
            keys.push(("spawn_burst", "100000".into()));
            keys.push(("spawn_rate", "100000".into()));
            // Extra keys for measuring one setting against another with the
            // same binary, e.g. `SKYHOLD_BENCH_KEYS="lua_shared_code=false"`.
            if let Ok(extra) = std::env::var("SKYHOLD_BENCH_KEYS") {
                for kv in extra.split(',') {
                    if let Some((k, v)) = kv.split_once('=') {
                        let k: &'static str = Box::leak(k.trim().to_string().into_boxed_str());
                        keys.push((k, v.trim().to_string()));
                    }
                }
            }
        }
        Runtime::Skynet { profile } => {
            let root = setup
                .skynet_root
                .as_deref()
                .map(path_str)
                .unwrap_or_default();
            keys.push(("cpath", lua_str(&format!("{root}/cservice/?.so"))));
            keys.push((
                "luaservice",
                lua_str(&format!("{lua}/?.lua;{root}/service/?.lua")),
            ));
            keys.push(("lualoader", lua_str(&format!("{root}/lualib/loader.lua"))));
            keys.push((
                "lua_path",
                lua_str(&format!("{root}/lualib/?.lua;{root}/lualib/?/init.lua")),
            ));
            keys.push(("lua_cpath", lua_str(&format!("{root}/luaclib/?.so"))));
            keys.push(("profile", profile.to_string()));
        }
    }
    keys.push(("bench", lua_str(bench_key)));
    keys.push(("bench_scale", lua_str(&setup.scale.to_string())));
    keys.push(("bench_port", lua_str(&port.to_string())));
    for (k, v) in extra {
        keys.push((k, lua_str(v)));
    }
    let mut text = format!(
        "-- written by skyhold-bench for one run: {} on {}\n",
        bench_key,
        runtime.label()
    );
    for (k, v) in keys {
        text.push_str(&format!("{k} = {v}\n"));
    }
    text
}

/// A free TCP port on 127.0.0.1 (bound, read, released).
fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("find a free port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("find a free port: {e}"))
}

/// Kills and reaps the node when dropped, on every path out of a run.
/// A running node, killed and reaped when dropped (so an early return never
/// leaves one behind).
pub(crate) struct NodeGuard(pub(crate) Child);

impl Drop for NodeGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One reading of /proc for the node.
#[derive(Debug, Clone, Copy, Default)]
struct ProcSample {
    rss_kb: Option<u64>,
    hwm_kb: Option<u64>,
    cpu_s: Option<f64>,
}

fn clock_ticks() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse::<f64>().ok())
            .filter(|&t| t > 0.0)
            .unwrap_or(100.0)
    })
}

fn sample(pid: u32) -> ProcSample {
    let mut s = ProcSample::default();
    if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) {
        for line in status.lines() {
            let kb = |l: &str| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|v| v.parse::<u64>().ok())
            };
            if line.starts_with("VmRSS:") {
                s.rss_kb = kb(line);
            } else if line.starts_with("VmHWM:") {
                s.hwm_kb = kb(line);
            }
        }
    }
    if let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // Fields after the command name (which may hold spaces): state is
        // field 3, utime 14, stime 15.
        if let Some((_, rest)) = stat.rsplit_once(')') {
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok());
            if let (Some(u), Some(k)) = (ticks(11), ticks(12)) {
                s.cpu_s = Some((u + k) as f64 / clock_ticks());
            }
        }
    }
    s
}

/// A parsed `BENCH <name> k=v …` line.
pub(crate) struct BenchLine {
    /// The word after `BENCH`: the benchmark, `error`, or a marker.
    pub(crate) name: String,
    /// Every `key=value` before `reason=`.
    pub(crate) fields: Vec<(String, String)>,
    /// Everything after `reason=`, for error lines.
    pub(crate) reason: Option<String>,
}

/// Finds and parses a `BENCH` line anywhere in a line of node output.
pub(crate) fn parse_bench_line(line: &str) -> Option<BenchLine> {
    let at = line.find("BENCH ")?;
    let rest = &line[at + "BENCH ".len()..];
    let mut words = rest.split_whitespace();
    let name = words.next()?.to_string();
    let reason = rest
        .find("reason=")
        .map(|i| rest[i + "reason=".len()..].trim().to_string());
    let fields = words
        .take_while(|w| !w.starts_with("reason="))
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Some(BenchLine {
        name,
        fields,
        reason,
    })
}

/// Forwards each line `r` yields to `tx`, from a thread of its own, so one
/// loop can watch stdout and stderr together.
pub(crate) fn spawn_reader<R: Read + Send + 'static>(r: R, tx: mpsc::Sender<String>) {
    std::thread::spawn(move || {
        let mut r = BufReader::new(r);
        let mut buf = Vec::new();
        loop {
            buf.clear();
            match r.read_until(b'\n', &mut buf) {
                Ok(0) | Err(_) => return,
                Ok(_) => {
                    let line = String::from_utf8_lossy(&buf).trim_end().to_string();
                    if tx.send(line).is_err() {
                        return;
                    }
                }
            }
        }
    });
}

/// `s` trimmed, cut to `max` characters with an ellipsis.
pub(crate) fn shorten(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.chars().count() <= max {
        return s.to_string();
    }
    let cut: String = s.chars().take(max).collect();
    format!("{cut}…")
}

/// The most telling of the last lines: one that mentions an error, else the
/// last one.
pub(crate) fn last_words(tail: &VecDeque<String>) -> String {
    let pick = tail
        .iter()
        .rev()
        .find(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("error") || l.contains("fail") || l.contains("panic")
        })
        .or_else(|| tail.back());
    match pick {
        Some(l) => shorten(l, 160),
        None => "no output".into(),
    }
}

/// Environment variables a runtime's binary needs.
pub(crate) type ExtraEnv = Vec<(&'static str, String)>;

/// Starts `cmd` (a node, or a tool running one) in the scratch directory
/// with `extra_env`; its output lines arrive on the receiver.
pub(crate) fn start_node(
    mut cmd: Command,
    setup: &Setup,
    extra_env: ExtraEnv,
) -> Result<(NodeGuard, mpsc::Receiver<String>), String> {
    cmd.current_dir(&setup.tmp)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("start {}: {e}", cmd.get_program().to_string_lossy()))?;
    let (tx, rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        spawn_reader(out, tx.clone());
    }
    if let Some(err) = child.stderr.take() {
        spawn_reader(err, tx);
    }
    Ok((NodeGuard(child), rx))
}

/// The binary that runs `runtime`, and the environment it needs.
pub(crate) fn runtime_binary(
    setup: &Setup,
    runtime: Runtime,
) -> Result<(PathBuf, ExtraEnv), String> {
    match runtime {
        Runtime::Skyhold { .. } => Ok((
            setup.skyhold_bin.clone(),
            vec![("SKYHOLD_ROOT", path_str(&setup.repo))],
        )),
        Runtime::Skynet { .. } => match &setup.skynet_root {
            Some(r) => Ok((r.join("skynet"), vec![])),
            None => Err("SKYNET_ROOT not set".into()),
        },
    }
}

/// Pushes `line` onto the bounded tail of recent output.
fn remember(tail: &mut VecDeque<String>, line: String) {
    if tail.len() == 16 {
        tail.pop_front();
    }
    tail.push_back(line);
}

/// Reads the node's output until the `BENCH <want>` line. A `BENCH error`
/// line, `init service failed`, the node exiting or the deadline ends the
/// wait with an error (`who` names the node in it). A `BENCH *_baseline`
/// marker samples the node's resident size into `baseline_rss`.
fn await_line(
    guard: &mut NodeGuard,
    rx: &mpsc::Receiver<String>,
    want: &str,
    deadline: Instant,
    timeout: Duration,
    who: &str,
    baseline_rss: &mut Option<u64>,
) -> Result<BenchLine, String> {
    let pid = guard.0.id();
    let mut tail: VecDeque<String> = VecDeque::with_capacity(16);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            let from = if who == "node" {
                String::new()
            } else {
                format!(" from {who}")
            };
            return Err(format!(
                "no result within {} s{from}; last output: {}",
                timeout.as_secs(),
                last_words(&tail)
            ));
        }
        match rx.recv_timeout(left.min(Duration::from_millis(250))) {
            Ok(line) => {
                if let Some(b) = parse_bench_line(&line) {
                    if b.name == want {
                        return Ok(b);
                    }
                    if b.name == "error" {
                        let reason = b.reason.as_deref().unwrap_or("error without a reason");
                        if who == "node" {
                            return Err(shorten(reason, 200));
                        }
                        // A failed cluster call says only "call failed": the
                        // why is in the line before, which the node's
                        // clusterd logged; keep that, drop the traceback.
                        let reason = reason.split(" | stack traceback:").next().unwrap_or(reason);
                        let before = tail
                            .iter()
                            .rev()
                            .find(|l| !l.contains(" LAUNCH "))
                            .map(|l| format!(" (before it: {})", shorten(l, 200)))
                            .unwrap_or_default();
                        return Err(format!("{who}: {}{before}", shorten(reason, 200)));
                    }
                    if b.name.ends_with("_baseline") {
                        *baseline_rss = sample(pid).rss_kb;
                    }
                }
                // A benchmark service that fails to start never reports:
                // say so now rather than at the timeout.
                if line.contains("init service failed") {
                    return Err(if who == "node" {
                        shorten(&line, 200)
                    } else {
                        format!("{who}: {}", shorten(&line, 200))
                    });
                }
                remember(&mut tail, line);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Ok(Some(status)) = guard.0.try_wait() {
                    // Give the readers a moment to hand over the last lines.
                    while let Ok(line) = rx.recv_timeout(Duration::from_millis(100)) {
                        remember(&mut tail, line);
                    }
                    return Err(format!(
                        "{who} exited ({status}) before reporting: {}",
                        last_words(&tail)
                    ));
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = guard.0.wait().map(|s| s.to_string()).unwrap_or_default();
                return Err(format!(
                    "{who} exited ({status}) before reporting: {}",
                    last_words(&tail)
                ));
            }
        }
    }
}

/// The figures of a `BENCH <name> value=… unit=…` line.
fn lua_measurement(bench: &Bench, found: BenchLine) -> Result<Measurement, String> {
    let mut m = Measurement {
        fields: found.fields,
        ..Measurement::default()
    };
    m.value = m
        .num("value")
        .ok_or_else(|| format!("BENCH {} line without value=", bench.name))?;
    m.unit = m
        .fields
        .iter()
        .find(|(k, _)| k == "unit")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    m.p50_ms = m.num("p50");
    m.p99_ms = m.num("p99");
    m.max_ms = m.num("max");
    Ok(m)
}

/// Runs a two-node benchmark (`Kind::Cluster`) once on `runtime`: node "b"
/// (`bench = "cluster_server"`) listens on 127.0.0.1:P for cluster links, P
/// a free port picked here; once it prints `BENCH cluster_ready`, node "a"
/// (`bench = <name>`) starts, calls b and reports. Both get `bench_port = P`;
/// on skyhold both also get a TLS identity from a CA made for this run.
/// The figures are node a's; node b's peak RSS and CPU go to the `peer_*`
/// fields. Both nodes are killed on every way out.
fn run_cluster(
    setup: &Setup,
    bench: &Bench,
    runtime: Runtime,
    run_id: usize,
    bin: &Path,
    extra_env: ExtraEnv,
) -> Result<Measurement, String> {
    let port = free_port()?;
    let certs = match runtime {
        Runtime::Skyhold { .. } => Some(Certs::make(
            setup.tmp.join(format!("run-{run_id}-certs")),
            &["a", "b"],
        )?),
        Runtime::Skynet { .. } => None,
    };
    let identity = |node: &str| certs.as_ref().map(|c| c.keys(node)).unwrap_or_default();
    let write_config = |node: &str, bench_key: &str| -> Result<PathBuf, String> {
        let path = setup
            .tmp
            .join(format!("run-{run_id}-{}-{node}.config", bench.name));
        let text = config_with(setup, bench_key, runtime, port, &identity(node));
        std::fs::write(&path, text).map_err(|e| format!("write {}: {e}", path.display()))?;
        Ok(path)
    };
    let cfg_b = write_config("b", "cluster_server")?;
    let cfg_a = write_config("a", bench.name)?;

    let started = Instant::now();
    let deadline = started + setup.timeout;
    let mut cmd = Command::new(bin);
    cmd.arg(&cfg_b);
    let (mut node_b, rx_b) = start_node(cmd, setup, extra_env.clone())?;
    let mut unused = None;
    await_line(
        &mut node_b,
        &rx_b,
        "cluster_ready",
        deadline,
        setup.timeout,
        "node b",
        &mut unused,
    )?;
    // From here node b's output is only kept (its last lines, for a failure
    // of node a), so it never blocks on a full pipe. The thread ends when
    // node b is killed and its pipes close.
    let b_tail = std::sync::Arc::new(std::sync::Mutex::new(VecDeque::new()));
    {
        let b_tail = b_tail.clone();
        std::thread::spawn(move || {
            while let Ok(line) = rx_b.recv() {
                if let Ok(mut t) = b_tail.lock() {
                    remember(&mut t, line);
                }
            }
        });
    }
    let b_words = || {
        b_tail
            .lock()
            .map(|t| last_words(&t))
            .unwrap_or_else(|_| "?".into())
    };

    let mut cmd = Command::new(bin);
    cmd.arg(&cfg_a);
    let (mut node_a, rx_a) = start_node(cmd, setup, extra_env)?;
    let found = await_line(
        &mut node_a,
        &rx_a,
        bench.name,
        deadline,
        setup.timeout,
        "node a",
        &mut unused,
    );
    let b_status = node_b.0.try_wait().ok().flatten();
    let found = match (found, b_status) {
        (Ok(f), None) => f,
        (Ok(_), Some(status)) => {
            return Err(format!(
                "node b exited ({status}) during the run: {}",
                b_words()
            ))
        }
        (Err(e), None) => return Err(format!("{e}; node b's last output: {}", b_words())),
        (Err(e), Some(status)) => {
            return Err(format!("{e}; node b exited ({status}): {}", b_words()))
        }
    };
    let mut m = lua_measurement(bench, found)?;
    let a = sample(node_a.0.id());
    let b = sample(node_b.0.id());
    m.wall_s = started.elapsed().as_secs_f64();
    m.peak_rss_kb = a.hwm_kb;
    m.cpu_s = a.cpu_s;
    m.peer_rss_kb = b.hwm_kb;
    m.peer_cpu_s = b.cpu_s;
    drop(node_a);
    drop(node_b);
    Ok(m)
}

/// Runs `bench` once on `runtime`. `run_id` names the config file.
pub fn run(
    setup: &Setup,
    bench: &Bench,
    runtime: Runtime,
    run_id: usize,
) -> Result<Measurement, String> {
    let (bin, extra_env) = runtime_binary(setup, runtime)?;
    if !bin.is_file() {
        return Err(format!("no binary at {}", bin.display()));
    }
    let port = match bench.kind {
        Kind::Echo(_) => free_port()?,
        Kind::Lua => 0,
        Kind::Cluster => return run_cluster(setup, bench, runtime, run_id, &bin, extra_env),
    };
    let cfg_path = setup
        .tmp
        .join(format!("run-{run_id}-{}.config", bench.name));
    std::fs::write(&cfg_path, config_text(setup, bench, runtime, port))
        .map_err(|e| format!("write {}: {e}", cfg_path.display()))?;

    let started = Instant::now();
    let mut cmd = Command::new(&bin);
    cmd.arg(&cfg_path);
    let (mut guard, rx) = start_node(cmd, setup, extra_env)?;
    let pid = guard.0.id();

    let want = match bench.kind {
        Kind::Lua | Kind::Cluster => bench.name,
        Kind::Echo(_) => "echo_ready",
    };
    let deadline = started + setup.timeout;
    let mut baseline_rss: Option<u64> = None;
    let found = await_line(
        &mut guard,
        &rx,
        want,
        deadline,
        setup.timeout,
        "node",
        &mut baseline_rss,
    )?;

    let mut m = Measurement::default();
    match bench.kind {
        Kind::Lua | Kind::Cluster => m = lua_measurement(bench, found)?,
        Kind::Echo(framing) => {
            // Keep draining the node's output while the client runs, so a
            // chatty node never blocks on a full pipe.
            // The thread ends when the node is killed and its pipes close.
            std::thread::spawn(move || while rx.recv().is_ok() {});
            let r = client::run(port, framing, &setup.echo);
            if let Ok(Some(status)) = guard.0.try_wait() {
                return Err(format!("node exited ({status}) during the echo run"));
            }
            let r = r?;
            if r.msgs == 0 || r.elapsed <= 0.0 {
                return Err("echo client completed no round trips".into());
            }
            m.value = r.msgs as f64 / r.elapsed;
            m.unit = "msg/s".into();
            m.p50_ms = Some(r.p50_ms);
            m.p99_ms = Some(r.p99_ms);
            m.max_ms = Some(r.max_ms);
            m.fields = vec![
                ("n".into(), r.msgs.to_string()),
                ("elapsed".into(), format!("{:.3}", r.elapsed)),
                ("conns".into(), setup.echo.conns.to_string()),
            ];
        }
    }
    let s = sample(pid);
    m.wall_s = started.elapsed().as_secs_f64();
    m.peak_rss_kb = s.hwm_kb;
    m.cpu_s = s.cpu_s;
    if let (Some(base), Some(now), Some(n)) = (baseline_rss, s.rss_kb, m.num("n")) {
        if n > 0.0 {
            m.kb_per_service = Some((now as f64 - base as f64) / n);
        }
    }
    drop(guard);
    Ok(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bench_lines() {
        let b = parse_bench_line(
            "[:00000008] BENCH send value=812345.6 unit=msg/s n=1000000 elapsed=1.231",
        )
        .unwrap();
        assert_eq!(b.name, "send");
        assert_eq!(b.fields[0], ("value".into(), "812345.6".into()));
        assert_eq!(b.fields.len(), 4);
        let e = parse_bench_line("x BENCH error name=ring reason=bad thing: a=b").unwrap();
        assert_eq!(e.name, "error");
        assert_eq!(e.reason.as_deref(), Some("bad thing: a=b"));
        assert!(parse_bench_line("no bench here").is_none());
    }

    #[test]
    fn lua_strings_are_escaped() {
        assert_eq!(lua_str(r#"a"b\c"#), r#""a\"b\\c""#);
    }
}
