//! skynet's stdin console (`service/console.lua`): the operator types a
//! service's name on the node's stdin and the console starts it. skynet
//! hands the process's stdin to the console as a socket; skyhold gives no
//! service an OS descriptor, so the runtime reads stdin itself and brings
//! each line to the one console service, as a message from the runtime
//! (source 0, which no service can forge).
//!
//! What keeps it safe:
//! - **Only the binary reads stdin** ([`ConsoleConfig::read_stdin`]):
//!   a node booted inside another program (a test) never does.
//! - **Only from a terminal, unless the config says so**
//!   (`console_stdin`: `tty`, the default; `true` also reads a pipe or a
//!   file; `false` never reads): a terminal is the operator at the node,
//!   while a pipe is whatever program the node was started behind.
//! - **One reader**: the first service of the script `console` that asks
//!   gets the lines; no other service can ask ([`MODULE`] refuses them),
//!   so none reads what the operator types.
//! - **Bounded**: a line longer than `console_max_line` bytes is dropped
//!   whole, a line that is not UTF-8 text without control characters is
//!   dropped, and reading pauses while the console has [`MAX_QUEUED`]
//!   messages waiting. Each drop is logged and counted.
//! - **Nothing more than the console's own rights**: a line starts a
//!   service through the launcher like `skynet.newservice` in any service,
//!   so the policy's role for the console and its spawn limits apply, and
//!   every start and failure is an audit line.

use mlua::{Lua, Value};
use parking_lot::Mutex;
use skyhold_core::{Context, Handle, NodeRef, Subject};
use skyhold_lua::host::ModuleFactory;
use std::io::{BufRead, IsTerminal};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The name the console `require`s.
pub const MODULE: &str = "skyhold.stdin";

/// The script whose service may read stdin.
pub const CONSOLE_SCRIPT: &str = "console";

/// `console_max_line`'s default: bytes of one line, without its newline.
pub const DEFAULT_MAX_LINE: usize = 1024;

/// The largest `console_max_line` accepted.
pub const MAX_LINE_LIMIT: usize = 65_536;

/// Lines (and the end) waiting in the console's mailbox before reading
/// pauses.
pub const MAX_QUEUED: usize = 64;

/// When the console reads stdin (`console_stdin`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Only when stdin is a terminal (`tty`, the default).
    Tty,
    /// Whatever stdin is: a terminal, a pipe, a file (`true`).
    Always,
    /// Never (`false`).
    Never,
}

/// The console's settings.
#[derive(Clone, Debug)]
pub struct ConsoleConfig {
    /// `console_stdin`.
    pub mode: Mode,
    /// `console_max_line`.
    pub max_line: usize,
    /// Whether this process reads its stdin for the console at all: set by
    /// the `skyhold` binary, false for nodes booted by other programs.
    pub read_stdin: bool,
}

impl Default for ConsoleConfig {
    fn default() -> ConsoleConfig {
        ConsoleConfig {
            mode: Mode::Tty,
            max_line: DEFAULT_MAX_LINE,
            read_stdin: false,
        }
    }
}

impl ConsoleConfig {
    /// The config keys read here.
    pub const KEYS: &'static [&'static str] = &["console_stdin", "console_max_line"];

    /// Reads `console_stdin` and `console_max_line`.
    pub fn from_env(env: &std::collections::BTreeMap<String, String>) -> Result<Self, String> {
        let mut c = ConsoleConfig::default();
        match env.get("console_stdin").map(|v| v.trim()) {
            None | Some("tty") => {}
            Some("true") => c.mode = Mode::Always,
            Some("false") => c.mode = Mode::Never,
            Some(other) => {
                return Err(format!(
                    "config key console_stdin: '{other}' is not one of tty, true, false"
                ))
            }
        }
        if let Some(v) = env.get("console_max_line") {
            c.max_line = v
                .trim()
                .parse()
                .ok()
                .filter(|n| (1..=MAX_LINE_LIMIT).contains(n))
                .ok_or_else(|| {
                    format!("config key console_max_line: '{v}' is not a number from 1 to {MAX_LINE_LIMIT}")
                })?;
        }
        Ok(c)
    }
}

/// What the reader counted.
#[derive(Default)]
struct Counters {
    lines: AtomicU64,
    too_long: AtomicU64,
    not_text: AtomicU64,
}

/// The node's one console state.
struct Shared {
    config: ConsoleConfig,
    reader: Mutex<Option<Handle>>,
    counters: Counters,
}

/// The [`MODULE`] factory of one node.
pub fn module(config: ConsoleConfig) -> ModuleFactory {
    let shared = Arc::new(Shared {
        config,
        reader: Mutex::new(None),
        counters: Counters::default(),
    });
    Arc::new(move |lua, ctx| build(lua, ctx, shared.clone()))
}

/// Why this node does not read stdin for the console, if it does not.
fn refusal(config: &ConsoleConfig) -> Option<&'static str> {
    if !config.read_stdin {
        return Some("this node was not started by the skyhold binary, which alone reads stdin");
    }
    match config.mode {
        Mode::Never => Some("console_stdin = false: stdin is not read"),
        Mode::Tty if !std::io::stdin().is_terminal() => Some(
            "stdin is not a terminal, so it is not read (console_stdin = true reads a pipe or file too)",
        ),
        _ => None,
    }
}

fn build(lua: &Lua, ctx: &Context, shared: Arc<Shared>) -> mlua::Result<Value> {
    let me = ctx.handle();
    if ctx.identity().subject != Subject::Script(CONSOLE_SCRIPT.into()) {
        return Err(mlua::Error::runtime(format!(
            "{MODULE}: only the {CONSOLE_SCRIPT} service reads the node's stdin"
        )));
    }
    let t = lua.create_table()?;
    let (s, node) = (shared.clone(), ctx.node());
    t.set(
        "claim",
        lua.create_function(move |lua, ()| {
            let why = match refusal(&s.config) {
                Some(why) => why,
                None => {
                    let mut reader = s.reader.lock();
                    if reader.is_some() {
                        "another console already reads stdin"
                    } else {
                        *reader = Some(me);
                        let (s2, n2) = (s.clone(), node.clone());
                        std::thread::Builder::new()
                            .name("skyhold-stdin".into())
                            .spawn(move || read_loop(&s2, &n2, me))
                            .map_err(|e| mlua::Error::runtime(format!("{MODULE}: {e}")))?;
                        return Ok((Value::Boolean(true), Value::Nil));
                    }
                }
            };
            Ok((Value::Nil, Value::String(lua.create_string(why)?)))
        })?,
    )?;
    let (s, node) = (shared.clone(), ctx.node());
    t.set(
        "audit",
        lua.create_function(move |_, (line, outcome): (String, String)| {
            if *s.reader.lock() != Some(me) {
                return Err(mlua::Error::runtime(format!(
                    "{MODULE}: audit is for the console that reads stdin"
                )));
            }
            // One audit line: an error text's line breaks become spaces.
            let outcome: String = outcome
                .chars()
                .take(300)
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect();
            node.audit()
                .note(&format!("console: stdin line {line:?} {outcome}"));
            Ok(())
        })?,
    )?;
    let s = shared;
    t.set(
        "stats",
        lua.create_function(move |lua, ()| {
            let r = lua.create_table()?;
            let c = &s.counters;
            r.set("lines", c.lines.load(Ordering::Relaxed))?;
            r.set("too_long", c.too_long.load(Ordering::Relaxed))?;
            r.set("not_text", c.not_text.load(Ordering::Relaxed))?;
            r.set("max_line", s.config.max_line)?;
            Ok(r)
        })?,
    )?;
    Ok(Value::Table(t))
}

/// What one finished line is.
enum Line {
    /// Text to deliver.
    Text(Vec<u8>),
    /// Past `console_max_line`.
    TooLong,
    /// Not UTF-8, or with control characters.
    NotText,
}

/// Takes a line's bytes (without the newline) as the console gets them.
fn finish(mut bytes: Vec<u8>, too_long: bool) -> Line {
    if too_long {
        return Line::TooLong;
    }
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    match std::str::from_utf8(&bytes) {
        Ok(s) if !s.chars().any(|c| c.is_control() && c != '\t') => Line::Text(bytes),
        _ => Line::NotText,
    }
}

/// Splits `input` into lines of at most `max` bytes, calling `each` for
/// each one (a last line without a newline included) until it says stop.
/// Never holds more than `max` bytes of a line.
fn split_lines(
    input: &mut dyn BufRead,
    max: usize,
    each: &mut dyn FnMut(Line) -> bool,
) -> std::io::Result<()> {
    let mut line = Vec::new();
    let mut too_long = false;
    loop {
        let buf = match input.fill_buf() {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            if (!line.is_empty() || too_long) && !each(finish(line, too_long)) {
                return Ok(());
            }
            return Ok(());
        }
        let (part, used, ended) = match buf.iter().position(|b| *b == b'\n') {
            Some(i) => (&buf[..i], i + 1, true),
            None => (buf, buf.len(), false),
        };
        if line.len() + part.len() > max {
            too_long = true;
        } else if !too_long {
            line.extend_from_slice(part);
        }
        input.consume(used);
        if ended {
            let done = finish(std::mem::take(&mut line), too_long);
            too_long = false;
            if !each(done) {
                return Ok(());
            }
        }
    }
}

/// Reads the process's stdin until it ends or the console is gone.
fn read_loop(shared: &Shared, node: &NodeRef, to: Handle) {
    let max = shared.config.max_line;
    let c = &shared.counters;
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut deliver = |line: Line| -> bool {
        match line {
            Line::TooLong => {
                c.too_long.fetch_add(1, Ordering::Relaxed);
                node.log(
                    to,
                    &format!(
                        "console: dropped a stdin line longer than {max} bytes (console_max_line)"
                    ),
                );
                true
            }
            Line::NotText => {
                c.not_text.fetch_add(1, Ordering::Relaxed);
                node.log(
                    to,
                    "console: dropped a stdin line that is not UTF-8 text without control characters",
                );
                true
            }
            Line::Text(bytes) => {
                c.lines.fetch_add(1, Ordering::Relaxed);
                push(node, to, b'L', &bytes)
            }
        }
    };
    let end = match split_lines(&mut input, max, &mut deliver) {
        Ok(()) => "closed".to_string(),
        Err(e) => format!("unreadable ({e})"),
    };
    push(node, to, b'E', end.as_bytes());
}

/// Brings `kind` + `body` to the console once it has room; false if it is
/// gone.
fn push(node: &NodeRef, to: Handle, kind: u8, body: &[u8]) -> bool {
    while node.queued(to).is_some_and(|q| q >= MAX_QUEUED) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let mut msg = Vec::with_capacity(body.len() + 1);
    msg.push(kind);
    msg.extend_from_slice(body);
    node.push_event(to, skyhold_core::ptype::TEXT, 0, msg.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<String> {
        let mut out = Vec::new();
        let mut reader = std::io::BufReader::with_capacity(4, input);
        split_lines(&mut reader, max, &mut |l| {
            out.push(match l {
                Line::Text(b) => String::from_utf8(b).unwrap(),
                Line::TooLong => "<too long>".into(),
                Line::NotText => "<not text>".into(),
            });
            true
        })
        .unwrap();
        out
    }

    #[test]
    fn lines_are_split_bounded_and_checked() {
        assert_eq!(lines(b"a b\r\nsimpledb\n", 8), ["a b", "simpledb"]);
        assert_eq!(
            lines(b"123456789\nok\nlast", 8),
            ["<too long>", "ok", "last"]
        );
        assert_eq!(lines(b"12345678\n", 8), ["12345678"]);
        assert_eq!(
            lines(b"a\x1b[2Jb\n\xff\xfe\nfine\tx\n", 64),
            ["<not text>", "<not text>", "fine\tx"]
        );
        assert_eq!(lines(b"", 8), Vec::<String>::new());
        assert_eq!(lines(b"\n\n", 8), ["", ""]);
    }

    #[test]
    fn config_keys_are_checked() {
        let env = |k: &str, v: &str| std::iter::once((k.to_string(), v.to_string())).collect();
        assert_eq!(
            ConsoleConfig::from_env(&env("x", "y")).unwrap().mode,
            Mode::Tty
        );
        assert_eq!(
            ConsoleConfig::from_env(&env("console_stdin", "true"))
                .unwrap()
                .mode,
            Mode::Always
        );
        assert!(ConsoleConfig::from_env(&env("console_stdin", "yes"))
            .unwrap_err()
            .contains("console_stdin"));
        assert!(ConsoleConfig::from_env(&env("console_max_line", "0")).is_err());
        assert_eq!(
            ConsoleConfig::from_env(&env("console_max_line", "80"))
                .unwrap()
                .max_line,
            80
        );
    }

    #[test]
    fn a_node_not_run_by_the_binary_never_reads_stdin() {
        let c = ConsoleConfig {
            mode: Mode::Always,
            ..ConsoleConfig::default()
        };
        assert!(refusal(&c).unwrap().contains("skyhold binary"));
    }
}
