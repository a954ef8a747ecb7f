#![forbid(unsafe_code)]
//! `skyhold-bench`: the side-by-side benchmark harness.
//!
//! The same benchmark Lua services (`bench/lua/`) run on skyhold and, when
//! `SKYNET_ROOT` names a skynet build, on skynet; for each benchmark and each
//! pass the runtimes alternate, so a noisy machine hurts both alike. Results
//! go to a markdown table with medians, spread, peak RSS, CPU time and the
//! ratio skyhold ÷ skynet. See `bench/README.md`.
//!
//! ```text
//! cargo run --release -p skyhold-bench -- [--passes N] [--only NAME,...] [--out FILE]
//!     [--skynet-profile on|off|both] [--skyhold-profile on|off|both]
//!     [--runtimes skyhold,skynet] [--scale F]
//!     [--timeout SECS] [--echo-conns N] [--echo-msgs N] [--native]
//!     [--instructions]
//! ```
//!
//! `--instructions` runs instead a steadier comparison: instructions
//! per unit of work under valgrind's cachegrind (`src/instructions.rs`).

mod benches;
mod certs;
mod client;
mod instructions;
mod native;
mod node;
mod report;

use benches::{Bench, Runtime};
use client::EchoConfig;
use node::{Measurement, Setup};
use report::{Column, Report, Row, Runs};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Duration;

const USAGE: &str = "\
usage: skyhold-bench [options]
  --passes N                 passes per benchmark (default 3)
  --only NAME,...            run only these benchmarks
  --out FILE                 write the markdown table here (default bench/RESULTS.md; '-' = don't write)
  --skynet-profile on|off|both   skynet's `profile` setting (default on)
  --skyhold-profile on|off|both  skyhold's `profile` (per-service CPU accounting;
                                 default on); `both` adds a column that shows its cost
  --runtimes LIST            skyhold,skynet (default both)
  --scale F                  multiply the Lua side's counts (default 1; e.g. 0.1 for a quick try)
  --timeout SECS             per run, until the result line (default 180)
  --echo-conns N             echo client connections (default 100)
  --echo-msgs N              timed round trips per connection (default 1000)
  --echo-warmup N            untimed round trips per connection first (default 20)
  --echo-seconds S           cap on the timed echo phase (default 30)
  --native                   also run skyhold's native-Rust benchmarks (in this process)
  --instructions             instead of timing, count CPU instructions per unit of work under
                             valgrind (cachegrind) for send, call, call10, ring, ring100, spawn;
                             writes bench/INSTRUCTIONS.md unless --out is given
environment:
  SKYNET_ROOT   a skynet build (the directory holding the `skynet` binary); unset = skyhold only
  SKYHOLD_BIN   the skyhold binary (default <repo>/target/release/skyhold)
benchmarks: ";

/// Parsed command line.
#[derive(Debug)]
struct Options {
    passes: usize,
    only: Vec<String>,
    out: Option<PathBuf>,
    profiles: Vec<bool>,
    skyhold_profiles: Vec<bool>,
    skyhold: bool,
    skynet: bool,
    scale: f64,
    timeout: Duration,
    echo: EchoConfig,
    native: bool,
    /// Count instructions under cachegrind instead of timing.
    instructions: bool,
    /// `--out` was given (else `--instructions` writes its own file, not
    /// over the wall-clock results).
    out_given: bool,
}

fn parse_args(repo: &Path) -> Result<Options, String> {
    let mut o = Options {
        passes: 3,
        only: Vec::new(),
        out: Some(repo.join("bench/RESULTS.md")),
        profiles: vec![true],
        skyhold_profiles: vec![true],
        skyhold: true,
        skynet: true,
        scale: 1.0,
        timeout: Duration::from_secs(180),
        echo: EchoConfig {
            conns: 100,
            msgs_per_conn: 1000,
            warmup: 20,
            payload: 64,
            limit: Duration::from_secs(30),
        },
        native: false,
        instructions: false,
        out_given: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut val = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        fn num<T: std::str::FromStr>(name: &str, v: String) -> Result<T, String> {
            v.parse()
                .map_err(|_| format!("{name}: '{v}' is not a valid number"))
        }
        match a.as_str() {
            "--passes" => o.passes = num::<usize>(&a, val(&a)?)?.max(1),
            "--only" => {
                o.only = val(&a)?
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect();
                for n in &o.only {
                    if benches::find(n).is_none() {
                        return Err(format!("unknown benchmark '{n}'"));
                    }
                }
            }
            "--out" => {
                let v = val(&a)?;
                o.out = (v != "-").then(|| PathBuf::from(v));
                o.out_given = true;
            }
            "--skynet-profile" => {
                o.profiles = match val(&a)?.as_str() {
                    "on" => vec![true],
                    "off" => vec![false],
                    "both" => vec![true, false],
                    v => return Err(format!("--skynet-profile: '{v}' is not on, off or both")),
                }
            }
            "--skyhold-profile" => {
                o.skyhold_profiles = match val(&a)?.as_str() {
                    "on" => vec![true],
                    "off" => vec![false],
                    "both" => vec![true, false],
                    v => return Err(format!("--skyhold-profile: '{v}' is not on, off or both")),
                }
            }
            "--runtimes" => {
                let v = val(&a)?;
                o.skyhold = false;
                o.skynet = false;
                for r in v.split(',').map(str::trim) {
                    match r {
                        "skyhold" => o.skyhold = true,
                        "skynet" => o.skynet = true,
                        _ => return Err(format!("--runtimes: unknown runtime '{r}'")),
                    }
                }
            }
            "--scale" => {
                o.scale = num(&a, val(&a)?)?;
                if !(o.scale > 0.0 && o.scale <= 10.0) {
                    return Err("--scale must be in (0, 10]".into());
                }
            }
            "--timeout" => o.timeout = Duration::from_secs(num::<u64>(&a, val(&a)?)?.max(1)),
            "--echo-conns" => o.echo.conns = num::<usize>(&a, val(&a)?)?.clamp(1, 1000),
            "--echo-msgs" => o.echo.msgs_per_conn = num::<usize>(&a, val(&a)?)?.max(1),
            "--echo-warmup" => o.echo.warmup = num(&a, val(&a)?)?,
            "--echo-seconds" => {
                o.echo.limit = Duration::from_secs(num::<u64>(&a, val(&a)?)?.clamp(1, 600))
            }
            "--native" => o.native = true,
            "--instructions" => o.instructions = true,
            "-h" | "--help" => {
                let names: Vec<&str> = benches::ALL.iter().map(|b| b.name).collect();
                println!("{USAGE}{}", names.join(", "));
                std::process::exit(0);
            }
            _ => return Err(format!("unknown argument '{a}' (try --help)")),
        }
    }
    Ok(o)
}

fn git_rev(dir: &Path) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["rev-parse", "--short", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

/// `YYYY-MM-DD HH:MM UTC` from the system clock.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (proleptic Gregorian).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

fn native_run(name: &str) -> Option<Result<Measurement, String>> {
    let only = [name.to_string()];
    let got = std::panic::catch_unwind(|| native::all_matching(&only));
    match got {
        Err(_) => Some(Err("native benchmark panicked".into())),
        Ok(v) => v.into_iter().next().map(|r| {
            Ok(Measurement {
                value: r.value,
                unit: r.unit.to_string(),
                fields: vec![("name".into(), r.name.into()), ("note".into(), r.note)],
                ..Measurement::default()
            })
        }),
    }
}

fn describe(r: &Result<Measurement, String>) -> String {
    match r {
        Ok(m) => {
            let mut s = format!("{} {}", report::human(m.value), m.unit);
            if let (Some(p50), Some(p99)) = (m.p50_ms, m.p99_ms) {
                s.push_str(&format!(" (p50 {p50:.3} ms, p99 {p99:.3} ms)"));
            }
            if let Some(k) = m.peak_rss_kb {
                s.push_str(&format!(", peak RSS {:.1} MiB", k as f64 / 1024.0));
            }
            if let Some(c) = m.cpu_s {
                s.push_str(&format!(", CPU {c:.2} s"));
            }
            if let (Some(k), Some(c)) = (m.peer_rss_kb, m.peer_cpu_s) {
                s.push_str(&format!(
                    "; node b: peak RSS {:.1} MiB, CPU {c:.2} s",
                    k as f64 / 1024.0
                ));
            }
            if let Some(k) = m.kb_per_service {
                s.push_str(&format!(", {k:.1} KiB/service"));
            }
            s
        }
        Err(e) => format!("not run: {e}"),
    }
}

fn main() -> ExitCode {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let opts = match parse_args(&repo) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("skyhold-bench: {e}");
            return ExitCode::from(2);
        }
    };
    // Nodes run in a directory of their own, so a relative path given in
    // the environment is made absolute here, against where we were started.
    let absolute = |p: PathBuf| std::path::absolute(&p).unwrap_or(p);
    let skyhold_bin = std::env::var_os("SKYHOLD_BIN")
        .map(PathBuf::from)
        .map(absolute)
        .unwrap_or_else(|| repo.join("target/release/skyhold"));
    let skynet_root = std::env::var_os("SKYNET_ROOT")
        .filter(|s| !s.is_empty())
        .map(PathBuf::from)
        .map(absolute);
    let mut meta = vec![format!(
        "generated {} by `skyhold-bench {}`",
        utc_now(),
        std::env::args().skip(1).collect::<Vec<_>>().join(" ")
    )];
    meta.push(format!(
        "machine: {} × {}, load average at start {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        cpu_model(),
        loadavg()
    ));

    let mut columns = Vec::new();
    if opts.skyhold {
        for &p in &opts.skyhold_profiles {
            columns.push(Column::Node(Runtime::Skyhold { profile: p }));
        }
        meta.push(format!(
            "skyhold: {} (repository at {})",
            skyhold_bin.display(),
            git_rev(&repo).unwrap_or_else(|| "?".into())
        ));
    }
    if opts.skynet {
        match &skynet_root {
            Some(root) if root.join("skynet").is_file() => {
                for &p in &opts.profiles {
                    columns.push(Column::Node(Runtime::Skynet { profile: p }));
                }
                meta.push(format!(
                    "skynet: {} (commit {}), `thread = 2`, profile {}",
                    root.join("skynet").display(),
                    git_rev(root).unwrap_or_else(|| "?".into()),
                    match opts.profiles.as_slice() {
                        [true] => "on",
                        [false] => "off",
                        _ => "on and off",
                    }
                ));
            }
            Some(root) => {
                eprintln!(
                    "skyhold-bench: SKYNET_ROOT={} has no `skynet` binary; skynet is not run",
                    root.display()
                );
                meta.push(format!(
                    "skynet: not run (no binary at {})",
                    root.join("skynet").display()
                ));
            }
            None => meta.push("skynet: not run (SKYNET_ROOT not set)".into()),
        }
    }
    if opts.native {
        columns.push(Column::Native);
    }
    meta.push(format!(
        "passes: {}, scale: {}, echo client: {} connections × {} timed round trips of {} B (after {} untimed), capped at {} s",
        opts.passes,
        opts.scale,
        opts.echo.conns,
        opts.echo.msgs_per_conn,
        opts.echo.payload,
        opts.echo.warmup,
        opts.echo.limit.as_secs()
    ));

    let tmp = std::env::temp_dir().join(format!("skyhold-bench-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&tmp) {
        eprintln!("skyhold-bench: create {}: {e}", tmp.display());
        return ExitCode::from(1);
    }
    let setup = Setup {
        bench_lua: repo.join("bench/lua"),
        repo: repo.clone(),
        skyhold_bin,
        skynet_root,
        tmp: tmp.clone(),
        timeout: opts.timeout,
        scale: opts.scale,
        threads: 2,
        echo: opts.echo.clone(),
    };
    if opts.instructions {
        let code = instructions_main(&opts, &setup, &repo, meta[..2].to_vec());
        let _ = std::fs::remove_dir_all(&tmp);
        return code;
    }

    let selected: Vec<&'static Bench> = benches::ALL
        .iter()
        .filter(|b| opts.only.is_empty() || opts.only.iter().any(|o| o == b.name))
        .collect();
    let mut rows = Vec::new();
    let mut run_id = 0;
    for bench in selected {
        let mut runs: Vec<Runs> = vec![Vec::new(); columns.len()];
        let mut gave_up: Vec<Option<String>> = vec![None; columns.len()];
        for pass in 1..=opts.passes {
            // Each pass starts one column later. A run that needs more
            // memory than the run before it touched pays for fresh pages
            // (on this VM, a spawn run right after a skynet run was 25 %
            // slower); rotating keeps that cost off one column's median.
            let n = columns.len();
            let order = (0..n).map(|i| (i + pass - 1) % n);
            for ci in order {
                let col = &columns[ci];
                let r = if let Some(why) = &gave_up[ci] {
                    Err(why.clone())
                } else {
                    match col {
                        Column::Node(rt) => {
                            run_id += 1;
                            eprintln!("[{} {pass}/{}] {} …", bench.name, opts.passes, rt.short());
                            let r = node::run(&setup, bench, *rt, run_id);
                            if let Err(e) = &r {
                                // A missing binary or a hang will not mend
                                // in the next pass: don't wait for it again.
                                if e.starts_with("no binary")
                                    || e.starts_with("SKYNET_ROOT")
                                    || e.starts_with("no result within")
                                {
                                    gave_up[ci] = Some(format!("{e} (pass {pass})"));
                                }
                            }
                            r
                        }
                        Column::Native => match native_run(bench.name) {
                            Some(r) => r,
                            None => continue,
                        },
                    }
                };
                eprintln!(
                    "[{} {pass}/{}] {:<11} {}",
                    bench.name,
                    opts.passes,
                    match col {
                        Column::Node(rt) => rt.short(),
                        Column::Native => "native",
                    },
                    describe(&r)
                );
                runs[ci].push(r);
            }
        }
        rows.push(Row { bench, runs });
    }
    let _ = std::fs::remove_dir_all(&tmp);
    meta.push(format!("load average at end {}", loadavg()));

    let native_note = if opts.native {
        "native: skyhold's native-Rust benchmarks (`bench/src/native.rs`) ran inside the \
         harness process, on skyhold-core directly without Lua: the ceiling the Lua layer \
         is measured against."
            .to_string()
    } else {
        "native: not run (pass `--native` to add skyhold's native-Rust benchmarks, \
         `bench/src/native.rs`, as a column)."
            .to_string()
    };
    let report = Report {
        meta,
        columns,
        rows,
        native_note,
    };
    let md = report.markdown();
    println!("{md}");
    if let Some(out) = &opts.out {
        if let Err(e) = std::fs::write(out, &md) {
            eprintln!("skyhold-bench: write {}: {e}", out.display());
            return ExitCode::from(1);
        }
        eprintln!("skyhold-bench: wrote {}", out.display());
    }
    ExitCode::SUCCESS
}

/// `--instructions`: both scales of each eligible benchmark under cachegrind,
/// skyhold (profile on) then skynet (profile off); writes its own report.
fn instructions_main(
    opts: &Options,
    setup: &Setup,
    repo: &Path,
    mut meta: Vec<String>,
) -> ExitCode {
    let out = if opts.out_given {
        opts.out.clone()
    } else {
        Some(repo.join("bench/INSTRUCTIONS.md"))
    };
    let selected: Vec<&'static Bench> = benches::ALL
        .iter()
        .filter(|b| instructions::ELIGIBLE.contains(&b.name))
        .filter(|b| opts.only.is_empty() || opts.only.iter().any(|o| o == b.name))
        .collect();
    let skipped: Vec<&str> = opts
        .only
        .iter()
        .map(String::as_str)
        .filter(|n| !instructions::ELIGIBLE.contains(n))
        .collect();
    if !skipped.is_empty() {
        eprintln!(
            "skyhold-bench: --instructions covers only {}; skipping {}",
            instructions::ELIGIBLE.join(", "),
            skipped.join(", ")
        );
    }
    if selected.is_empty() {
        eprintln!("skyhold-bench: --instructions: no eligible benchmark selected");
        return ExitCode::from(2);
    }
    let version = match instructions::valgrind_version() {
        Ok(v) => v,
        Err(e) => {
            // Not an error of the harness: the mode just cannot run here.
            eprintln!("skyhold-bench: --instructions skipped: {e}");
            return ExitCode::SUCCESS;
        }
    };
    let skynet_ok = setup
        .skynet_root
        .as_deref()
        .is_some_and(|r| r.join("skynet").is_file());
    let run_skynet = opts.skynet && skynet_ok;
    meta.push(format!(
        "{version}, `--tool=cachegrind --cache-sim=no`; nodes with `thread = 1`; \
         scales {} and {} (`bench_scale`)",
        instructions::SCALES.0 * opts.scale,
        instructions::SCALES.1 * opts.scale
    ));
    if opts.skyhold {
        meta.push(format!(
            "skyhold: {} (repository at {}), profile on (its default)",
            setup.skyhold_bin.display(),
            git_rev(repo).unwrap_or_else(|| "?".into())
        ));
    }
    if opts.skynet {
        meta.push(match &setup.skynet_root {
            Some(root) if skynet_ok => format!(
                "skynet: {} (commit {}), profile off",
                root.join("skynet").display(),
                git_rev(root).unwrap_or_else(|| "?".into())
            ),
            Some(root) => format!(
                "skynet: not run (no binary at {})",
                root.join("skynet").display()
            ),
            None => "skynet: not run (SKYNET_ROOT not set)".into(),
        });
    }
    let mut run_id = 0;
    let mut rows = Vec::new();
    for bench in selected {
        let skyhold = opts.skyhold.then(|| {
            instructions::measure(
                setup,
                bench,
                Runtime::Skyhold { profile: true },
                &mut run_id,
            )
        });
        let skynet = run_skynet.then(|| {
            instructions::measure(
                setup,
                bench,
                Runtime::Skynet { profile: false },
                &mut run_id,
            )
        });
        rows.push(instructions::Row {
            bench,
            skyhold,
            skynet,
        });
    }
    meta.push(format!("load average at end {}", loadavg()));
    let md = instructions::markdown(&meta, &rows);
    println!("{md}");
    if let Some(out) = &out {
        if let Err(e) = std::fs::write(out, &md) {
            eprintln!("skyhold-bench: write {}: {e}", out.display());
            return ExitCode::from(1);
        }
        eprintln!("skyhold-bench: wrote {}", out.display());
    }
    ExitCode::SUCCESS
}
