//! `skyhold CONFIG`: runs a node from a skynet-style config file.
#![forbid(unsafe_code)]

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
    for w in &settings.warnings {
        eprintln!("skyhold: {w}");
    }
    match skyhold::boot(settings) {
        Ok(node) => {
            reopen_log_on_sighup(node.handle());
            node.wait();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("skyhold: {e}");
            ExitCode::from(1)
        }
    }
}

/// SIGHUP makes the logger reopen its file, as skynet's does: logrotate
/// moves the file away, then signals.
fn reopen_log_on_sighup(node: skyhold_core::NodeRef) {
    let mut signals = match signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("skyhold: cannot watch SIGHUP ({e}); the log file will not be reopened");
            return;
        }
    };
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
