//! `skyhold CONFIG`: runs a node from a skynet-style config file.
#![forbid(unsafe_code)]

use signal_hook::iterator::Signals;

/// mimalloc: every Lua state allocates through the global allocator, and
/// glibc malloc grew its arenas with an `mprotect` per step under spawn load.
/// It is built without transparent huge pages (Cargo.toml, `no_thp`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::path::Path;
use std::process::ExitCode;

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
    let settings = match skyhold::settings(env, base) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    // Watched before the node starts: a SIGHUP during boot is then held for
    // the logger instead of ending the process (its default action).
    let sighup = watch_sighup();
    match skyhold::boot(settings) {
        Ok(node) => {
            if let Some(signals) = sighup {
                reopen_log_on_sighup(signals, node.handle());
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

/// Starts catching SIGHUP (None, with a warning, if that fails).
fn watch_sighup() -> Option<Signals> {
    match Signals::new([signal_hook::consts::SIGHUP]) {
        Ok(s) => Some(s),
        Err(e) => {
            eprintln!("skyhold: cannot watch SIGHUP ({e}); the log file will not be reopened");
            None
        }
    }
}

/// SIGHUP makes the logger reopen its file, as skynet's does: logrotate
/// moves the file away, then signals.
fn reopen_log_on_sighup(mut signals: Signals, node: skyhold_core::NodeRef) {
    let spawned = std::thread::Builder::new()
        .name("skyhold-sighup".into())
        .spawn(move || {
            for _ in signals.forever() {
                node.reopen_log();
            }
        });
    if let Err(e) = spawned {
        eprintln!("skyhold: cannot watch SIGHUP ({e})");
    }
}
