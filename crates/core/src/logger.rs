//! The logger: writes lines as `[:%08x] text`, with a time prefix when
//! writing to a file, and reopens its file when asked (skynet's SIGHUP
//! handling). With `log_format = "json"` each line is instead one JSON
//! object (`time`, `handle`, `service`, `msg`; audit lines carry their
//! fields). It runs as a service; how messages reach it is the node's
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

/// How each log line is written (config `log_format`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    /// skynet's `[:0000000a] text` (with a time prefix in a file).
    #[default]
    Text,
    /// One JSON object a line: `{"time":…,"handle":…,"service":…,"msg":…}`.
    Json,
}

impl LogFormat {
    /// The format a config value names (`text` or `json`).
    pub fn parse(v: &str) -> Result<LogFormat, String> {
        match v.trim() {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            other => Err(format!(
                "config key log_format: '{other}' is not a log format (text or json)"
            )),
        }
    }
}

/// The logger service.
pub struct Logger {
    target: LogTarget,
    format: LogFormat,
    file: Option<File>,
}

impl Logger {
    /// A logger writing to `target` in `format`.
    pub fn new(target: LogTarget, format: LogFormat) -> Result<Logger, String> {
        let file = match &target {
            LogTarget::File(p) => Some(open(p)?),
            _ => None,
        };
        Ok(Logger {
            target,
            format,
            file,
        })
    }

    /// Writes `text` as coming from `source` (launched as `service`, if
    /// it is still known).
    pub(crate) fn line(&mut self, source: Handle, service: Option<&str>, text: &str) {
        match self.format {
            LogFormat::Text => self.write(&format!("[{source}] {text}")),
            LogFormat::Json => {
                let mut out = format!(
                    "{{\"time\":{},\"handle\":{}",
                    json_string(&iso_time()),
                    json_string(&source.to_string())
                );
                if let Some(name) = service {
                    out.push_str(",\"service\":");
                    out.push_str(&json_string(name));
                }
                out.push_str(",\"msg\":");
                out.push_str(&json_string(text));
                out.push('}');
                self.write_raw(&out);
            }
        }
    }

    /// Writes a line the runtime built whole (a JSON audit line).
    pub(crate) fn whole(&mut self, line: &str) {
        self.write_raw(line);
    }

    /// The format lines are written in.
    pub fn format(&self) -> LogFormat {
        self.format
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

    /// A line as is: no time prefix (a JSON line carries its own time).
    fn write_raw(&mut self, line: &str) {
        match (&self.target, self.file.as_mut()) {
            (LogTarget::File(_), Some(f)) => {
                let _ = writeln!(f, "{line}");
            }
            (LogTarget::Memory(v), _) => v.lock().push(line.to_string()),
            _ => {
                let out = std::io::stdout();
                let mut lock = out.lock();
                let _ = writeln!(lock, "{line}");
            }
        }
    }

    /// Pushes out what the target buffers (standard output's last line).
    pub(crate) fn flush(&mut self) {
        if let Some(f) = self.file.as_mut() {
            let _ = f.flush();
        }
        let _ = std::io::stdout().flush();
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

/// `s` as a JSON string, quotes included; control characters escaped so
/// one line stays one line.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || c == '\u{2028}' || c == '\u{2029}' => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The time now as RFC 3339 in UTC with milliseconds
/// (`2026-12-07T11:44:35.123Z`), as JSON log lines carry it.
pub fn iso_time() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
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
    fn json_lines_are_one_object_with_time_handle_service_and_text() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let mut l = Logger::new(LogTarget::Memory(lines.clone()), LogFormat::Json).unwrap();
        l.line(
            Handle(10),
            Some("snlua main"),
            "hello \"you\"\nsecond line\u{1}",
        );
        l.line(Handle(11), None, "gone");
        let got = lines.lock().clone();
        assert_eq!(got.len(), 2);
        let first = &got[0];
        assert!(first.starts_with("{\"time\":\""), "{first}");
        assert!(
            first.ends_with(
                "\"handle\":\":0000000a\",\"service\":\"snlua main\",\"msg\":\"hello \\\"you\\\"\\nsecond line\\u0001\"}"
            ),
            "{first}"
        );
        assert!(!first.contains('\n'));
        assert!(
            got[1].ends_with("\"handle\":\":0000000b\",\"msg\":\"gone\"}"),
            "{}",
            got[1]
        );
        // The time is RFC 3339 UTC with milliseconds.
        let time = &first[9..33];
        assert!(
            chrono::DateTime::parse_from_rfc3339(time).is_ok() && time.ends_with('Z'),
            "{time}"
        );
    }

    #[test]
    fn log_formats_are_text_or_json() {
        assert_eq!(LogFormat::parse("json"), Ok(LogFormat::Json));
        assert_eq!(LogFormat::parse(" text "), Ok(LogFormat::Text));
        let e = LogFormat::parse("xml").unwrap_err();
        assert!(e.contains("log_format") && e.contains("xml"), "{e}");
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
