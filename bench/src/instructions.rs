//! `--instructions`: CPU instructions per unit of work (message, call, hop,
//! service), counted with valgrind's cachegrind, on skyhold and on skynet.
//!
//! Wall-clock ratios on a shared, CPU-stolen VM swing by a quarter from run to
//! run; cachegrind's instruction counts do not depend on the CPU's speed or
//! on steal, only (a little) on how often a thread finds nothing to do.
//! Each benchmark runs under `valgrind --tool=cachegrind` twice per runtime,
//! at a small and a big scale, with `thread = 1` (so no idle worker's
//! polling is counted); `(I_big − I_small) / (n_big − n_small)`
//! cancels boot and set-up, which both runs share. Instructions are not time:
//! cache misses, syscalls, lock waits and sleeping do not show in them.

use crate::benches::{Bench, Runtime};
use crate::node::{self, Setup};
use std::collections::VecDeque;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The benchmarks with a per-unit count that means something: the echo
/// benchmarks' work is mostly the kernel's and the client's, and `flood`'s
/// figure is a latency under load, not a cost per message.
pub const ELIGIBLE: &[&str] = &["send", "call", "call10", "ring", "ring100", "spawn"];

/// The two `bench_scale`s (times `--scale`): small enough that valgrind's
/// ~50× slowdown keeps the whole mode to minutes, big enough that per-unit
/// work dwarfs the noise (timer ticks, the wait for SIGTERM).
pub const SCALES: (f64, f64) = (0.05, 0.1);

/// How long a node has, after SIGTERM, to exit and let valgrind print its
/// summary.
const TERM_GRACE: Duration = Duration::from_secs(60);

/// One counted run: instructions the whole process executed, and the units
/// of work the `BENCH` line reported (`n=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Count {
    /// Cachegrind's `I refs`: instructions executed, all threads.
    pub instructions: u64,
    /// Units of work done (the `BENCH` line's `n`).
    pub units: u64,
}

/// A benchmark's two runs on one runtime.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    /// The run at the small scale.
    pub small: Count,
    /// The run at the big scale.
    pub big: Count,
}

impl Pair {
    /// Instructions per unit of work; see [`per_unit`].
    pub fn per_unit(&self) -> Result<f64, String> {
        per_unit(self.small, self.big)
    }
}

/// The instruction count in valgrind's summary line
/// `==PID== I   refs:      585,803,424`, if `line` is that line.
pub fn parse_i_refs(line: &str) -> Option<u64> {
    let mut s = line.trim();
    // The `==PID==` prefix valgrind puts on its own lines (absent with some
    // --log options).
    if let Some(rest) = s.strip_prefix("==") {
        s = rest.split_once("==")?.1.trim_start();
    }
    let rest = s.strip_prefix('I')?.trim_start().strip_prefix("refs:")?;
    let digits: String = rest.trim().chars().filter(|&c| c != ',').collect();
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// `(I_big − I_small) / (n_big − n_small)`: the instructions one more unit
/// of work costs, with everything both runs share (boot, spawning the
/// benchmark's services, shutdown) subtracted out.
pub fn per_unit(small: Count, big: Count) -> Result<f64, String> {
    if big.units <= small.units {
        return Err(format!(
            "the big run did no more work than the small one (n {} vs {})",
            big.units, small.units
        ));
    }
    if big.instructions < small.instructions {
        return Err(format!(
            "the big run counted fewer instructions than the small one ({} vs {})",
            big.instructions, small.instructions
        ));
    }
    Ok((big.instructions - small.instructions) as f64 / (big.units - small.units) as f64)
}

/// skynet ÷ skyhold: above 1, skyhold executes fewer instructions per unit.
pub fn ratio(skyhold: f64, skynet: f64) -> Option<f64> {
    (skyhold > 0.0 && skynet.is_finite()).then(|| skynet / skyhold)
}

/// What one unit of a benchmark's `n` is.
pub fn unit_name(bench: &str) -> &'static str {
    match bench {
        "send" => "message",
        "call" | "call10" => "call",
        "ring" | "ring100" => "hop",
        "spawn" => "service",
        _ => "unit",
    }
}

/// `valgrind --version`, or why valgrind cannot be run.
pub fn valgrind_version() -> Result<String, String> {
    match Command::new("valgrind")
        .arg("--version")
        .stdin(Stdio::null())
        .output()
    {
        Ok(o) if o.status.success() => Ok(String::from_utf8_lossy(&o.stdout).trim().to_string()),
        Ok(o) => Err(format!("`valgrind --version` failed ({})", o.status)),
        Err(e) => Err(format!("valgrind is not installed or not on PATH ({e})")),
    }
}

/// Kills (SIGKILL) and reaps the node on every early way out of a run, so no
/// valgrind process outlives the harness.
/// SIGTERM, not SIGKILL: valgrind prints its summary when the guest dies of
/// a catchable signal (or exits on it). `kill(1)` because the crate is safe
/// Rust only and std has no way to send a signal other than SIGKILL.
fn terminate(pid: u32) -> Result<(), String> {
    let st = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(|e| format!("run kill: {e}"))?;
    if st.success() {
        Ok(())
    } else {
        Err(format!("kill -TERM {pid} failed ({st})"))
    }
}

fn push_tail(tail: &mut VecDeque<String>, line: String) {
    if tail.len() == 16 {
        tail.pop_front();
    }
    tail.push_back(line);
}

/// Runs `bench` once on `runtime` under cachegrind at `scale`, with one
/// worker thread; SIGTERM at the `BENCH` line, then the `I refs` line.
pub fn count(
    setup: &Setup,
    bench: &Bench,
    runtime: Runtime,
    scale: f64,
    run_id: usize,
) -> Result<Count, String> {
    let (bin, extra_env) = node::runtime_binary(setup, runtime)?;
    if !bin.is_file() {
        return Err(format!("no binary at {}", bin.display()));
    }
    let run_setup = Setup {
        scale,
        threads: 1,
        ..setup.clone()
    };
    let cfg_path = setup
        .tmp
        .join(format!("instr-{run_id}-{}.config", bench.name));
    std::fs::write(&cfg_path, node::config_text(&run_setup, bench, runtime, 0))
        .map_err(|e| format!("write {}: {e}", cfg_path.display()))?;

    let mut cmd = Command::new("valgrind");
    cmd.args([
        "--tool=cachegrind",
        "--cache-sim=no",
        "--cachegrind-out-file=/dev/null",
    ])
    .arg(&bin)
    .arg(&cfg_path);
    let (mut guard, rx) = node::start_node(cmd, setup, extra_env)?;
    // valgrind runs the guest in its own process: this pid is the node's.
    let pid = guard.0.id();

    let deadline = Instant::now() + setup.timeout;
    let mut tail = VecDeque::with_capacity(16);
    let mut units: Option<u64> = None;
    let mut term_deadline: Option<Instant> = None;
    loop {
        let now = Instant::now();
        let until = term_deadline.unwrap_or(deadline);
        if now >= until {
            return Err(match units {
                None => format!(
                    "no result within {} s under valgrind; last output: {}",
                    setup.timeout.as_secs(),
                    node::last_words(&tail)
                ),
                Some(_) => format!(
                    "no `I refs` line within {} s of SIGTERM; last output: {}",
                    TERM_GRACE.as_secs(),
                    node::last_words(&tail)
                ),
            });
        }
        let line = match rx.recv_timeout((until - now).min(Duration::from_millis(250))) {
            Ok(line) => line,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                let status = guard.0.wait().map(|s| s.to_string()).unwrap_or_default();
                return Err(format!(
                    "node exited ({status}) {}: {}",
                    if units.is_some() {
                        "without an `I refs` line"
                    } else {
                        "before reporting"
                    },
                    node::last_words(&tail)
                ));
            }
        };
        if let Some(n) = units {
            if let Some(i) = parse_i_refs(&line) {
                let _ = guard.0.wait();
                return Ok(Count {
                    instructions: i,
                    units: n,
                });
            }
        } else if let Some(b) = node::parse_bench_line(&line) {
            if b.name == bench.name {
                let n = b
                    .fields
                    .iter()
                    .find(|(k, _)| k == "n")
                    .and_then(|(_, v)| v.parse::<u64>().ok())
                    .ok_or_else(|| format!("BENCH {} line without an integer n=", bench.name))?;
                units = Some(n);
                terminate(pid)?;
                term_deadline = Some(Instant::now() + TERM_GRACE);
            } else if b.name == "error" {
                return Err(node::shorten(
                    b.reason.as_deref().unwrap_or("error without a reason"),
                    200,
                ));
            }
        } else if line.contains("init service failed") {
            return Err(node::shorten(&line, 200));
        }
        push_tail(&mut tail, line);
    }
}

/// One benchmark's results: per runtime, both runs or why not (`None` when
/// the runtime was not asked for).
#[derive(Debug)]
pub struct Row {
    /// The benchmark.
    pub bench: &'static Bench,
    /// skyhold, profile on (its default).
    pub skyhold: Option<Result<Pair, String>>,
    /// skynet, profile off.
    pub skynet: Option<Result<Pair, String>>,
}

/// Runs both scales of `bench` on `runtime`; progress goes to stderr.
pub fn measure(
    setup: &Setup,
    bench: &'static Bench,
    runtime: Runtime,
    run_id: &mut usize,
) -> Result<Pair, String> {
    let mut counts = [None; 2];
    for (i, base) in [SCALES.0, SCALES.1].into_iter().enumerate() {
        let scale = base * setup.scale;
        *run_id += 1;
        eprintln!(
            "[instructions {} {}] scale {scale} under cachegrind …",
            bench.name,
            runtime.short()
        );
        let started = Instant::now();
        let c = count(setup, bench, runtime, scale, *run_id);
        match &c {
            Ok(c) => eprintln!(
                "[instructions {} {}] n={} I={} ({:.0} s)",
                bench.name,
                runtime.short(),
                c.units,
                c.instructions,
                started.elapsed().as_secs_f64()
            ),
            Err(e) => eprintln!(
                "[instructions {} {}] failed: {e}",
                bench.name,
                runtime.short()
            ),
        }
        counts[i] = Some(c?);
    }
    match counts {
        [Some(small), Some(big)] => {
            let p = Pair { small, big };
            // Fail here rather than print a meaningless figure.
            p.per_unit()?;
            Ok(p)
        }
        _ => Err("a run is missing".into()),
    }
}

/// `1234567` as `1,234,567`.
fn grouped(v: u64) -> String {
    let s = v.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn cell(r: &Option<Result<Pair, String>>) -> String {
    match r {
        None => "—".into(),
        Some(Err(e)) => format!("not run: {}", e.replace('|', "\\|")),
        Some(Ok(p)) => match p.per_unit() {
            Ok(v) => format!("**{}**", grouped(v.round() as u64)),
            Err(e) => format!("not run: {e}"),
        },
    }
}

fn detail(r: &Option<Result<Pair, String>>) -> Option<String> {
    match r {
        Some(Ok(p)) => Some(format!(
            "n {} → {}, I {} → {}",
            grouped(p.small.units),
            grouped(p.big.units),
            grouped(p.small.instructions),
            grouped(p.big.instructions)
        )),
        _ => None,
    }
}

/// The markdown section: a header list (`meta`), the table and a legend.
pub fn markdown(meta: &[String], rows: &[Row]) -> String {
    let mut out = String::new();
    out.push_str("# skyhold vs skynet — instructions per unit of work\n\n");
    for m in meta {
        out.push_str(&format!("- {m}\n"));
    }
    out.push('\n');
    out.push_str(
        "| benchmark | unit | skyhold (profile on) | skynet (profile off) | skynet ÷ skyhold | runs (small → big scale) |\n\
         |---|---|---:|---:|---:|---|\n",
    );
    for row in rows {
        let r = match (&row.skyhold, &row.skynet) {
            (Some(Ok(a)), Some(Ok(b))) => match (a.per_unit(), b.per_unit()) {
                (Ok(a), Ok(b)) => ratio(a, b).map(crate::report::ratio_text),
                _ => None,
            },
            _ => None,
        };
        let details: Vec<String> = [("skyhold", &row.skyhold), ("skynet", &row.skynet)]
            .into_iter()
            .filter_map(|(name, r)| detail(r).map(|d| format!("{name}: {d}")))
            .collect();
        out.push_str(&format!(
            "| `{}` | instructions / {} | {} | {} | {} | {} |\n",
            row.bench.name,
            unit_name(row.bench.name),
            cell(&row.skyhold),
            cell(&row.skynet),
            r.unwrap_or_else(|| "—".into()),
            if details.is_empty() {
                "—".into()
            } else {
                details.join("; ")
            }
        ));
    }
    out.push_str(
        "\nInstructions executed by the whole node process (every thread) under \
         `valgrind --tool=cachegrind --cache-sim=no`, with `thread = 1`, per unit of work: \
         (I at the big scale − I at the small scale) ÷ (n big − n small), so boot and \
         set-up cancel. `n` is the `BENCH` line's count: messages for `send`, calls for \
         `call`/`call10`, hops for `ring`/`ring100`, services for `spawn`. The figures \
         repeat within about 2 % between invocations (timing still decides how often a \
         thread finds its queue empty and sleeps), against ±25 % for wall-clock ratios on \
         a shared machine; but they are not time: cache misses, syscalls, lock waits and \
         sleeping are not in them. skynet ÷ skyhold above 1 = skyhold executes fewer instructions.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_i_refs_line() {
        assert_eq!(
            parse_i_refs("==12345== I   refs:      585,803,424"),
            Some(585_803_424)
        );
        assert_eq!(parse_i_refs("==7== I refs: 12"), Some(12));
        assert_eq!(parse_i_refs("I   refs:      1,000"), Some(1000));
        // Other summary lines and node output are not it.
        assert_eq!(parse_i_refs("==12345== I1  misses:        1,234"), None);
        assert_eq!(parse_i_refs("==12345== Collected : 585803424"), None);
        assert_eq!(parse_i_refs("==12345== I   refs:"), None);
        assert_eq!(parse_i_refs("[:00000008] BENCH send value=1 n=5"), None);
    }

    #[test]
    fn per_unit_subtracts_the_small_run() {
        let small = Count {
            instructions: 1_000_000 + 50_000 * 700,
            units: 50_000,
        };
        let big = Count {
            instructions: 1_000_000 + 100_000 * 700,
            units: 100_000,
        };
        assert_eq!(per_unit(small, big), Ok(700.0));
        assert_eq!(Pair { small, big }.per_unit(), Ok(700.0));
        // Same or fewer units, or fewer instructions: no figure.
        assert!(per_unit(big, small).is_err());
        assert!(per_unit(small, small).is_err());
        let odd = Count {
            instructions: 1,
            units: 200_000,
        };
        assert!(per_unit(small, odd).is_err());
    }

    #[test]
    fn ratio_is_skynet_over_skyhold() {
        assert_eq!(ratio(500.0, 1000.0), Some(2.0));
        assert_eq!(ratio(0.0, 1000.0), None);
    }

    #[test]
    fn groups_thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1000), "1,000");
        assert_eq!(grouped(585_803_424), "585,803,424");
    }
}
