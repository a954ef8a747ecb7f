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
            node.wait();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("skyhold: {e}");
            ExitCode::from(1)
        }
    }
}
