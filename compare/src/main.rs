#![forbid(unsafe_code)]
//! `skyhold-compare`: runs the same start services on skynet and on skyhold
//! and prints how their logs differ.
//!
//! ```text
//! SKYNET_ROOT=/path/to/skynet cargo run --release -p skyhold-compare -- \
//!     [--seconds N] [--out FILE] [--notes FILE] [--context N] \
//!     [--luaservice PATTERNS] [--lua-path PATTERNS] [--set 'key = value']... \
//!     [SERVICE...]
//! ```
//!
//! Each service is the `start` of a fresh node on each runtime, run until
//! it exits or `--seconds` pass. The two logs are normalized (handles,
//! addresses, the runtimes' own paths and traceback frames; see
//! `normalize.rs`) and compared twice: exactly, and with every number
//! masked (times and counts). Without services, skynet's own `test/` set
//! that needs no outside server is run. See `compare/README.md`.

mod diff;
mod normalize;
mod run;

use normalize::{mask_numbers, normalize, Normalized, Roots};
use run::{Runtime, Setup};
use std::path::PathBuf;
use std::time::Duration;

/// skynet's `test/` services that need no outside server.
const DEFAULT_SET: &[&str] = &[
    "testcoroutine",
    "testdatacenter",
    "testdatasheet",
    "testdeadcall",
    "testdeadloop",
    "testecho",
    "testendless",
    "testhandle",
    "testharborlink",
    "testmemlimit",
    "testmulticast",
    "testmulticast2",
    "testoverload",
    "testping",
    "testpipeline",
    "testqueue",
    "testresponse",
    "testselect",
    "testservice",
    "testsharetable",
    "testsm",
    "teststm",
    "testterm",
    "testtimeout",
    "testtimer",
    "testtobeclosed",
    "testudp",
    "time",
];

/// How one service compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Same,
    SameUpToNumbers,
    /// The same lines (numbers masked) in another order: what concurrent
    /// services print interleaves differently from run to run.
    SameUpToOrder,
    Differs,
}

impl Verdict {
    fn label(self) -> &'static str {
        match self {
            Verdict::Same => "same",
            Verdict::SameUpToNumbers => "same up to numbers",
            Verdict::SameUpToOrder => "same lines, other order",
            Verdict::Differs => "differs",
        }
    }
}

struct Options {
    setup: Setup,
    services: Vec<String>,
    out: Option<PathBuf>,
    notes: Option<PathBuf>,
    context: usize,
}

fn parse_args() -> Result<Options, String> {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(PathBuf::from)
        .ok_or("no repository root")?;
    let mut skynet_root = std::env::var_os("SKYNET_ROOT").map(PathBuf::from);
    let mut seconds = 4.0f64;
    let mut out = None;
    let mut notes = Some(repo.join("compare/why.txt"));
    let mut context = 3;
    let mut luaservice = Vec::new();
    let mut lua_path = Vec::new();
    let mut extra = Vec::new();
    let mut services = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match a.as_str() {
            "--skynet-root" => skynet_root = Some(value("--skynet-root")?.into()),
            "--seconds" => {
                seconds = value("--seconds")?
                    .parse()
                    .map_err(|e| format!("--seconds: {e}"))?
            }
            "--out" => out = Some(PathBuf::from(value("--out")?)),
            "--notes" => notes = Some(PathBuf::from(value("--notes")?)),
            "--context" => {
                context = value("--context")?
                    .parse()
                    .map_err(|e| format!("--context: {e}"))?
            }
            "--luaservice" => luaservice.push(value("--luaservice")?),
            "--lua-path" => lua_path.push(value("--lua-path")?),
            "--set" => extra.push(value("--set")?),
            "-h" | "--help" => return Err(String::new()),
            s if s.starts_with('-') => return Err(format!("unknown option {s}")),
            s => services.push(s.to_string()),
        }
    }
    let skynet_root = skynet_root
        .ok_or("no skynet build: set SKYNET_ROOT or pass --skynet-root")?
        .canonicalize()
        .map_err(|e| format!("SKYNET_ROOT: {e}"))?;
    if !skynet_root.join("skynet").is_file() {
        return Err(format!("{} has no skynet binary", skynet_root.display()));
    }
    // SKYHOLD_BIN picks another build (a debug one, say) to compare.
    let skyhold_bin = std::env::var_os("SKYHOLD_BIN")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| repo.join("target/release/skyhold"));
    if !skyhold_bin.is_file() {
        return Err(format!(
            "no {}: run `cargo build --release` first (or set SKYHOLD_BIN)",
            skyhold_bin.display()
        ));
    }
    if services.is_empty() {
        services = DEFAULT_SET.iter().map(|s| s.to_string()).collect();
    }
    let tmp = std::env::temp_dir().join(format!("skyhold-compare-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).map_err(|e| format!("{}: {e}", tmp.display()))?;
    Ok(Options {
        setup: Setup {
            skynet_root,
            repo,
            skyhold_bin,
            luaservice,
            lua_path,
            extra,
            limit: Duration::from_secs_f64(seconds),
            tmp,
        },
        services,
        out,
        notes,
        context,
    })
}

/// `service: why` lines from the notes file (`#` starts a comment).
fn read_notes(path: Option<&PathBuf>) -> Vec<(String, String)> {
    let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) else {
        return Vec::new();
    };
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn compare(a: &Normalized, b: &Normalized) -> (Verdict, Vec<diff::Edit>) {
    let exact = diff::diff(&a.lines, &b.lines);
    if diff::is_same(&exact) {
        return (Verdict::Same, exact);
    }
    let masked = |n: &Normalized| n.lines.iter().map(|l| mask_numbers(l)).collect::<Vec<_>>();
    let (mut ma, mut mb) = (masked(a), masked(b));
    if diff::is_same(&diff::diff(&ma, &mb)) {
        return (Verdict::SameUpToNumbers, exact);
    }
    ma.sort();
    mb.sort();
    if ma == mb {
        (Verdict::SameUpToOrder, exact)
    } else {
        (Verdict::Differs, exact)
    }
}

fn main() {
    let opts = match parse_args() {
        Ok(o) => o,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("skyhold-compare: {e}");
            }
            eprintln!("usage: SKYNET_ROOT=DIR skyhold-compare [--seconds N] [--out FILE] [--notes FILE] [--context N] [--luaservice P] [--lua-path P] [--set 'k = v'] [SERVICE...]");
            std::process::exit(2);
        }
    };
    let roots = Roots {
        skynet: opts.setup.skynet_root.display().to_string(),
        skyhold: opts.setup.repo.display().to_string(),
    };
    let notes = read_notes(opts.notes.as_ref());
    let mut table = String::from("| service | result | why |\n|---|---|---|\n");
    let mut details = String::new();
    for service in &opts.services {
        let logs = [Runtime::Skynet, Runtime::Skyhold]
            .map(|rt| run::run(&opts.setup, rt, service).map(|l| (rt, l)));
        let [Ok((_, sk)), Ok((_, sh))] = logs else {
            let why = logs
                .iter()
                .filter_map(|l| l.as_ref().err())
                .cloned()
                .collect::<Vec<_>>()
                .join("; ");
            println!("== {service}: could not run: {why}");
            table.push_str(&format!("| {service} | not run | {why} |\n"));
            continue;
        };
        let (a, b) = (normalize(&sk.text, &roots), normalize(&sh.text, &roots));
        let (verdict, edits) = compare(&a, &b);
        let why = notes
            .iter()
            .find(|(k, _)| k == service)
            .map(|(_, v)| v.as_str())
            .unwrap_or("");
        let ends = |exited: bool| if exited { "exited" } else { "stopped" };
        println!(
            "== {service}: {} (skynet {} lines, {}; skyhold {} lines, {})",
            verdict.label(),
            a.lines.len(),
            ends(sk.exited),
            b.lines.len(),
            ends(sh.exited)
        );
        for (rule, n) in a.set_aside.iter().chain(&b.set_aside) {
            println!("   set aside: {n} line(s) by rule '{rule}'");
        }
        let shown = if verdict == Verdict::Same {
            String::new()
        } else {
            diff::render(&edits, opts.context)
        };
        print!("{shown}");
        table.push_str(&format!("| {service} | {} | {why} |\n", verdict.label()));
        if !shown.is_empty() {
            details.push_str(&format!("\n### {service}\n\n```diff\n{shown}```\n"));
        }
    }
    println!("\n{table}");
    if let Some(out) = opts.out {
        let text = format!(
            "# skynet's test services on skynet and on skyhold\n\n\
             Written by `skyhold-compare` (see compare/README.md). `-` lines are \
             skynet's, `+` lines skyhold's, after normalization.\n\n{table}\n## Differences\n{details}"
        );
        if let Err(e) = std::fs::write(&out, text) {
            eprintln!("skyhold-compare: writing {}: {e}", out.display());
            std::process::exit(1);
        }
    }
    let _ = std::fs::remove_dir_all(&opts.setup.tmp);
}
