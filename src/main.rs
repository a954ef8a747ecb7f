//! `skyhold CONFIG`: runs a node from a skynet-style config file.
#![forbid(unsafe_code)]

use signal_hook::consts::{SIGHUP, SIGTERM};
use signal_hook::iterator::Signals;

/// mimalloc: every Lua state allocates through the global allocator, and
/// glibc malloc grew its arenas with an `mprotect` per step under spawn load.
/// It is built without transparent huge pages (Cargo.toml, `no_thp`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("usage: skyhold CONFIG");
        return ExitCode::from(2);
    };
    let path = Path::new(&path);
    let env = match skyhold::config::load(path) {
        Ok(e) => e,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let base = path.parent().unwrap_or(Path::new("."));
    let mut settings = match skyhold::settings(env, base) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    let grace = settings.shutdown_grace;
    // The binary alone reads its stdin for the console (when the config
    // allows it: console_stdin).
    settings.console.read_stdin = true;
    // Watched before the node starts: a SIGHUP or SIGTERM during boot is
    // then held for the node instead of ending the process at once (their
    // default action).
    let signals = watch_signals();
    match skyhold::boot(settings) {
        Ok(node) => {
            if let Some(signals) = signals {
                handle_signals(signals, node.handle(), grace);
            }
            node.wait();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("skyhold: {e}");
            ExitCode::from(1)
        }
    }
}

/// Starts catching SIGHUP and SIGTERM (None, with a warning, if that fails).
fn watch_signals() -> Option<Signals> {
    match Signals::new([SIGHUP, SIGTERM]) {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!(
                "skyhold: cannot watch SIGHUP and SIGTERM ({e}); the log file will not be \
                 reopened and SIGTERM ends the node without stopping it in order"
            );
            None
        }
    }
}

/// Ends the process now, with status 1: a worker stuck in a handler
/// would never let the node's threads be joined.
fn stop_at_once(node: &skyhold_core::NodeRef) -> ! {
    node.stop_now();
    let _ = std::io::Write::flush(&mut std::io::stdout());
    std::process::exit(1);
}

/// SIGHUP makes the logger reopen its file, as skynet's does: logrotate
/// moves the file away, then signals.
///
/// SIGTERM stops the node in order: no new services, every service retires
/// (its listeners and connections closed), the logger last once it has
/// written every line queued before it; the process then exits 0. If that
/// takes longer than `shutdown_grace` (a handler that does not return),
/// or a second SIGTERM comes, the process exits 1 where it is.
fn handle_signals(mut signals: Signals, node: skyhold_core::NodeRef, grace: Duration) {
    let spawned = std::thread::Builder::new()
        .name("skyhold-signals".into())
        .spawn(move || {
            let mut stopping: Option<Instant> = None;
            loop {
                for signal in signals.pending() {
                    match signal {
                        SIGHUP => node.reopen_log(),
                        SIGTERM if stopping.is_none() => {
                            node.log(
                                skyhold_core::Handle::SYSTEM,
                                "skyhold: SIGTERM: stopping (no new services; every service \
                                 retires, the log last)",
                            );
                            node.abort();
                            stopping = Some(Instant::now());
                        }
                        SIGTERM => {
                            eprintln!("skyhold: a second SIGTERM: stopping at once");
                            stop_at_once(&node);
                        }
                        _ => {}
                    }
                }
                if node.is_stopped() {
                    return;
                }
                if stopping.is_some_and(|t| t.elapsed() >= grace) {
                    eprintln!(
                        "skyhold: SIGTERM: services still running after {} s (config \
                         shutdown_grace); stopping at once",
                        grace.as_secs_f64()
                    );
                    stop_at_once(&node);
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        });
    if let Err(e) = spawned {
        eprintln!("skyhold: cannot watch signals ({e})");
    }
}
