//! The logger service: writes TEXT messages as `[:%08x] text`, with a time
//! prefix when writing to a file, and reopens its file on a SYSTEM message
//! (skynet's SIGHUP handling).

use parking_lot::Mutex;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::message::{ptype, Message};
use crate::service::{Context, Service};

/// Where log lines go.
#[derive(Clone, Debug)]
pub enum LogTarget {
    /// Standard output (skynet's default when `logger` is unset).
    Stdout,
    /// A file, appended to (skynet's `logger = path`).
    File(PathBuf),
    /// Kept in memory, for tests.
    Memory(Arc<Mutex<Vec<String>>>),
}

/// The logger service.
pub struct Logger {
    target: LogTarget,
    file: Option<File>,
}

impl Logger {
    /// A logger writing to `target`.
    pub fn new(target: LogTarget) -> Result<Logger, String> {
        let file = match &target {
            LogTarget::File(p) => Some(open(p)?),
            _ => None,
        };
        Ok(Logger { target, file })
    }

    fn write(&mut self, line: &str) {
        match (&self.target, self.file.as_mut()) {
            (LogTarget::File(_), Some(f)) => {
                let _ = writeln!(f, "{} {line}", timestamp());
            }
            (LogTarget::Memory(v), _) => v.lock().push(line.to_string()),
            _ => {
                let out = std::io::stdout();
                let mut lock = out.lock();
                let _ = writeln!(lock, "{line}");
            }
        }
    }
}

fn open(p: &PathBuf) -> Result<File, String> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(p)
        .map_err(|e| format!("can't open log file {}: {e}", p.display()))
}

impl Service for Logger {
    fn handle(&mut self, _ctx: &Context, msg: Message) {
        match msg.ptype {
            ptype::TEXT => {
                let text = String::from_utf8_lossy(msg.payload.as_slice());
                let line = format!("[{}] {}", msg.source, text);
                self.write(&line);
            }
            ptype::SYSTEM => {
                if let LogTarget::File(p) = &self.target {
                    if let Ok(f) = open(p) {
                        self.file = Some(f);
                    }
                }
            }
            _ => {}
        }
    }
}

/// `dd/mm/yy HH:MM:SS.cc` in UTC.
fn timestamp() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let cs = now.subsec_millis() / 10;
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let t = secs % 86_400;
    format!(
        "{:02}/{:02}/{:02} {:02}:{:02}:{:02}.{:02}",
        d,
        m,
        y % 100,
        t / 3600,
        (t / 60) % 60,
        t % 60,
        cs
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_right() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(19_723), (2024, 1, 1));
        assert_eq!(civil_from_days(20_779), (2026, 11, 22));
    }
}
