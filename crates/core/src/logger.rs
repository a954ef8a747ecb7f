//! The logger: writes lines as `[:%08x] text`, with a time prefix when
//! writing to a file, and reopens its file when asked (skynet's SIGHUP
//! handling). It runs as a service; how messages reach it is the node's
//! business (`logging`), so this module knows nothing of services.

use parking_lot::Mutex;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use crate::handle::Handle;

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

    /// Writes `text` as coming from `source`.
    pub(crate) fn line(&mut self, source: Handle, text: &str) {
        self.write(&format!("[{source}] {text}"));
    }

    /// Reopens the log file (after logrotate moved it); a file that cannot
    /// be opened leaves the old one in use.
    pub(crate) fn reopen(&mut self) {
        if let LogTarget::File(p) = &self.target {
            if let Ok(f) = open(p) {
                self.file = Some(f);
            }
        }
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

/// `dd/mm/yy HH:MM:SS.cc` in local time, as skynet stamps its log file
/// (the zone comes from `TZ` or `/etc/localtime`).
fn timestamp() -> String {
    stamp(&chrono::Local::now())
}

fn stamp<Tz: chrono::TimeZone>(t: &chrono::DateTime<Tz>) -> String
where
    Tz::Offset: std::fmt::Display,
{
    format!(
        "{}.{:02}",
        t.format("%d/%m/%y %H:%M:%S"),
        t.timestamp_subsec_millis().min(999) / 10
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use chrono::{FixedOffset, TimeZone};

    #[test]
    fn stamps_read_day_month_year_then_time_in_the_given_zone() {
        let at = 1_795_383_045_678i64; // 2026-11-22 21:30:45.678 UTC
        let utc = chrono::Utc.timestamp_millis_opt(at).unwrap();
        assert_eq!(stamp(&utc), "22/11/26 21:30:45.67");
        let tokyo = FixedOffset::east_opt(9 * 3600).unwrap();
        assert_eq!(stamp(&utc.with_timezone(&tokyo)), "23/11/26 06:30:45.67");
    }

    #[test]
    fn the_log_stamp_is_local_time() {
        // The same minute as chrono's local clock (tried again if the two
        // reads straddle a minute).
        let same_minute = (0..3).any(|_| {
            let expected = stamp(&chrono::Local::now());
            let got = timestamp();
            got.len() == expected.len() && got[..14] == expected[..14]
        });
        assert!(same_minute);
    }
}
