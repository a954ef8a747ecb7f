//! `skyhold.console`: what `service/debug_console.lua` needs from the
//! runtime to admit operators, and that Lua must not do itself.
//!
//! - `credentials()`: how many operator logins the config defines
//!   (`secret_console_users = "alice:pw1,bob:pw2"`, and/or
//!   `secret_console_password`, the password of user `console_user`,
//!   `admin` unless set). A malformed entry is an error naming the key,
//!   never the password.
//! - `login(conn, user, password)`: the user name on success; `nil` and why
//!   otherwise. Every configured pair is compared, in constant time over
//!   digests of the texts, whatever matches. Failures are limited per
//!   connection ([`CONN_FAILURES`], then that connection may not try again)
//!   and per node ([`NODE_FAILURES`] in any [`NODE_WINDOW`]; past that every
//!   login of the node is refused until the window has room again). Each
//!   failure is written to the audit log as a refusal.
//! - `forget(conn)`: the connection closed.
//! - `audit(who, what)`: writes `AUDIT console: <who> ran <what>` (every
//!   command that changes the node).
//! - `refused(who, what, why [, whom])`: writes a refusal to the audit log
//!   for someone who is not a service (a console connection); `whom` is
//!   what the command was aimed at (cut to [`WHOM_LIMIT`] bytes), the
//!   console if absent.
//!   Both write in the console's name: they need `read_secrets` in the
//!   caller's role (the console's has it); anyone else is refused, audited.
//! - `loopback(ip)`: true for a loopback address (or `localhost`).
//! - `signal(address, sig)`: skynet's SIGNAL, for a caller whose role
//!   holds `kill` (the console's does): `0` breaks the code the service is
//!   running with the error `signal 0`, `1` logs its memory. False if there
//!   is no such service; a caller without the grant gets an error, and the
//!   refusal is audited.
//! - `script(path)`: the text of a `.lua` file of at most
//!   [`SCRIPT_LIMIT`] bytes, for `inject` (which needs a login and the
//!   `debug_run` grant before it gets here).

use mlua::{Lua, Value};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use skyhold_core::{Context, Grant, Handle, NodeRef};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::config::ModuleFactory;

/// The name services `require` the module by.
pub const MODULE: &str = "skyhold.console";

/// Failed logins one connection may make; after that it may not try again.
pub const CONN_FAILURES: u32 = 3;

/// Failed logins the whole node accepts in any [`NODE_WINDOW`].
pub const NODE_FAILURES: usize = 10;

/// The window [`NODE_FAILURES`] is counted over.
pub const NODE_WINDOW: Duration = Duration::from_secs(60);

/// The largest script `inject` reads.
pub const SCRIPT_LIMIT: u64 = 1 << 20;

/// The config key of `user:password` pairs.
pub const USERS_KEY: &str = "secret_console_users";
/// The config key of the one password of [`USER_KEY`]'s user.
pub const PASSWORD_KEY: &str = "secret_console_password";
/// The config key naming the user of [`PASSWORD_KEY`] (`admin` if unset).
pub const USER_KEY: &str = "console_user";

/// The operator logins the config defines, as `(user, password)`.
pub fn parse_users(
    users: Option<&str>,
    password: Option<(&str, &str)>,
) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for entry in users
        .unwrap_or("")
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|e| !e.is_empty())
    {
        match entry.split_once(':') {
            Some((u, p)) if !u.is_empty() && !p.is_empty() => {
                out.push((u.to_string(), p.to_string()));
            }
            _ => {
                return Err(format!(
                    "config key {USERS_KEY}: an entry is not user:password (entry {} of the list)",
                    out.len() + 1
                ))
            }
        }
    }
    if let Some((user, pw)) = password {
        if pw.is_empty() {
            return Err(format!("config key {PASSWORD_KEY} is empty"));
        }
        out.push((user.to_string(), pw.to_string()));
    }
    Ok(out)
}

/// True if `a` and `b` are the same text, taking the same time whatever
/// they hold: their digests are compared byte by byte without stopping at
/// the first difference, and the digests have one length.
pub fn same_secret(a: &[u8], b: &[u8]) -> bool {
    let (x, y) = (Sha256::digest(a), Sha256::digest(b));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

/// The user `user` logs in as with `password`, if a pair matches. Every
/// pair is compared, so the time taken does not tell which part was wrong.
pub fn check(users: &[(String, String)], user: &str, password: &str) -> Option<String> {
    let mut found = None;
    for (u, p) in users {
        let ok = same_secret(u.as_bytes(), user.as_bytes())
            & same_secret(p.as_bytes(), password.as_bytes());
        if ok && found.is_none() {
            found = Some(u.clone());
        }
    }
    found
}

/// Failed logins of one node, over a sliding window.
#[derive(Debug, Default)]
pub struct NodeFailures {
    recent: VecDeque<Instant>,
}

impl NodeFailures {
    /// Forgets failures older than the window as of `now`; true if the node
    /// still takes logins.
    pub fn open(&mut self, now: Instant) -> bool {
        while self
            .recent
            .front()
            .is_some_and(|t| now.duration_since(*t) >= NODE_WINDOW)
        {
            self.recent.pop_front();
        }
        self.recent.len() < NODE_FAILURES
    }

    /// Counts a failure at `now`.
    pub fn fail(&mut self, now: Instant) {
        self.recent.push_back(now);
        while self.recent.len() > NODE_FAILURES {
            self.recent.pop_front();
        }
    }

    /// Seconds until the node takes logins again (0 if it does).
    pub fn wait(&self, now: Instant) -> u64 {
        if self.recent.len() < NODE_FAILURES {
            return 0;
        }
        self.recent
            .front()
            .map(|t| NODE_WINDOW.saturating_sub(now.duration_since(*t)).as_secs() + 1)
            .unwrap_or(0)
    }
}

/// One node's failures, shared by every console of that node, with the
/// node held so its address cannot name another node while this lives.
struct Shared {
    node: NodeRef,
    consoles: usize,
    failures: Arc<Mutex<NodeFailures>>,
}

/// Every node's failures, by the address of the node's audit log (held,
/// so unique while the entry exists).
static NODES: OnceLock<Mutex<Vec<Shared>>> = OnceLock::new();

fn node_key(node: &NodeRef) -> usize {
    std::ptr::from_ref(node.audit()) as usize
}

/// A console's hold on its node's failures; the entry goes with the last.
struct NodeHold {
    key: usize,
    failures: Arc<Mutex<NodeFailures>>,
}

impl NodeHold {
    fn take(node: NodeRef) -> NodeHold {
        let key = node_key(&node);
        let mut nodes = NODES.get_or_init(Mutex::default).lock();
        if let Some(s) = nodes.iter_mut().find(|s| node_key(&s.node) == key) {
            s.consoles += 1;
            return NodeHold {
                key,
                failures: s.failures.clone(),
            };
        }
        let failures = Arc::new(Mutex::new(NodeFailures::default()));
        nodes.push(Shared {
            node,
            consoles: 1,
            failures: failures.clone(),
        });
        NodeHold { key, failures }
    }
}

impl Drop for NodeHold {
    fn drop(&mut self) {
        let mut nodes = NODES.get_or_init(Mutex::default).lock();
        if let Some(i) = nodes.iter().position(|s| node_key(&s.node) == self.key) {
            nodes[i].consoles -= 1;
            if nodes[i].consoles == 0 {
                nodes.swap_remove(i);
            }
        }
    }
}

/// One console's state: its connections' failures and its node's.
struct Console {
    ctx: Context,
    node: NodeHold,
    conns: Mutex<HashMap<i64, u32>>,
}

impl Console {
    fn users(&self) -> Result<Vec<(String, String)>, String> {
        // Without the grant the keys read as absent: say why instead of
        // reporting no credentials.
        if !self.ctx.identity().has(Grant::ReadSecrets) {
            return Err(format!(
                "the console's role ({}) does not hold read_secrets, so it cannot read {USERS_KEY} or {PASSWORD_KEY}",
                self.ctx.identity().role.name
            ));
        }
        let users = self.ctx.getenv(USERS_KEY);
        let password = self.ctx.getenv(PASSWORD_KEY);
        let user = self.ctx.getenv(USER_KEY).unwrap_or_else(|| "admin".into());
        parse_users(
            users.as_deref(),
            password.as_deref().map(|p| (user.as_str(), p)),
        )
    }

    /// Only the console writes audit lines in its own name: a service
    /// whose role lacks `read_secrets` (the console's role has it) would
    /// otherwise forge `AUDIT console: … ran …` lines, unbounded. The
    /// attempt is itself audited.
    fn may_write_audit(&self, what: &str) -> mlua::Result<()> {
        if self.ctx.identity().has(Grant::ReadSecrets) {
            return Ok(());
        }
        self.ctx.node().audit_refused(
            self.ctx.handle(),
            "console_audit",
            what,
            "the caller's role does not hold read_secrets",
        );
        Err(mlua::Error::runtime(format!(
            "skyhold.console.{what}: not permitted (the caller's role does not hold read_secrets)"
        )))
    }

    fn refuse(&self, who: &str, why: &str) {
        self.ctx
            .node()
            .audit_refused_by(who, "console_login", &self.ctx.handle().to_string(), why);
    }

    /// The outcome of one login attempt on `conn`.
    fn login(&self, conn: i64, user: &str, password: &str) -> Result<String, String> {
        let who = format!("console connection {conn} as '{user}'");
        let now = Instant::now();
        if self.conns.lock().get(&conn).copied().unwrap_or(0) >= CONN_FAILURES {
            self.refuse(&who, "too many failed logins on this connection");
            return Err(format!(
                "too many failed logins on this connection ({CONN_FAILURES}); reconnect"
            ));
        }
        {
            let mut f = self.node.failures.lock();
            if !f.open(now) {
                let wait = f.wait(now);
                drop(f);
                self.refuse(&who, "too many failed logins on this node");
                return Err(format!(
                    "too many failed logins on this node; try again in {wait} s"
                ));
            }
        }
        let users = self.users()?;
        if users.is_empty() {
            self.refuse(&who, "no operator credentials are configured");
            return Err(format!(
                "no operator credentials are configured (set {USERS_KEY} or {PASSWORD_KEY})"
            ));
        }
        match check(&users, user, password) {
            Some(u) => {
                self.conns.lock().remove(&conn);
                Ok(u)
            }
            None => {
                *self.conns.lock().entry(conn).or_insert(0) += 1;
                self.node.failures.lock().fail(now);
                self.refuse(&who, "wrong user or password");
                Err("login failed: wrong user or password".into())
            }
        }
    }
}

/// True for a loopback address, or `localhost`.
pub fn is_loopback(ip: &str) -> bool {
    let ip = ip.trim_start_matches('[').trim_end_matches(']');
    if ip.eq_ignore_ascii_case("localhost") {
        return true;
    }
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V6(v6)) => {
            v6.is_loopback() || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback())
        }
        Ok(a) => a.is_loopback(),
        Err(_) => false,
    }
}

/// skynet's LOGON (`on`) or LOGOFF of `target` (`skynet.core.command`'s,
/// which the debug console calls as skynet's does), asked by the service of
/// `ctx`: its role must hold `read_secrets`, else the refusal is audited.
/// LOGON opens `<logpath>/<handle as 8 hex digits>.log` under the file
/// write root and writes every message `target` receives there, until
/// LOGOFF (or until it retires); doing either twice changes nothing. An
/// error says why not: no such service, no place for logs, the file.
pub fn service_log(ctx: &Context, on: bool, target: Handle) -> Result<(), String> {
    let what = if on { "logon" } else { "logoff" };
    if !ctx.identity().has(Grant::ReadSecrets) {
        ctx.node().audit_refused(
            ctx.handle(),
            what,
            &target.to_string(),
            "the caller's role does not hold read_secrets",
        );
        return Err(format!(
            "{what}: not permitted (the caller's role does not hold read_secrets; \
             a message log shows everything the service receives)"
        ));
    }
    let node = ctx.node();
    let done = if on {
        node.logon(ctx.handle(), target).map(|_| ())
    } else {
        node.logoff(ctx.handle(), target).map(|_| ())
    };
    done.map_err(|e| format!("{what} {target}: {e}"))
}

/// The longest target of a refused console command written to the audit
/// log (a command line may be 64 KiB).
pub const WHOM_LIMIT: usize = 200;

/// `s` cut to at most `max` bytes at a character boundary, `…` marking a cut.
fn cut_at(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// The text of the script `inject` runs.
pub fn read_script(path: &str) -> Result<Vec<u8>, String> {
    if !path.ends_with(".lua") {
        return Err(format!("Can't open {path}: inject runs .lua files only"));
    }
    let meta = std::fs::metadata(path).map_err(|e| format!("Can't open {path}: {e}"))?;
    if !meta.is_file() {
        return Err(format!("Can't open {path}: not a file"));
    }
    if meta.len() > SCRIPT_LIMIT {
        return Err(format!(
            "Can't open {path}: larger than {SCRIPT_LIMIT} bytes"
        ));
    }
    let text = std::fs::read(path).map_err(|e| format!("Can't open {path}: {e}"))?;
    if text.len() as u64 > SCRIPT_LIMIT || text.first() == Some(&0x1b) {
        return Err(format!("Can't open {path}: not a Lua source file"));
    }
    Ok(text)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.to_string_lossy(),
        Value::Nil => String::new(),
        other => other.to_string().unwrap_or_default(),
    }
}

/// The factory `src/native.rs` registers under [`MODULE`].
pub fn factory() -> ModuleFactory {
    Arc::new(|lua: &Lua, ctx: &Context| module(lua, ctx))
}

/// Builds the module for one service.
pub fn module(lua: &Lua, ctx: &Context) -> mlua::Result<Value> {
    let console = Arc::new(Console {
        ctx: ctx.clone(),
        node: NodeHold::take(ctx.node()),
        conns: Mutex::new(HashMap::new()),
    });
    let t = lua.create_table()?;
    let c = console.clone();
    t.set(
        "credentials",
        lua.create_function(move |_, ()| c.users().map(|u| u.len()).map_err(mlua::Error::runtime))?,
    )?;
    let c = console.clone();
    t.set(
        "login",
        lua.create_function(move |lua, (conn, user, password): (i64, Value, Value)| {
            match c.login(conn, &text(&user), &text(&password)) {
                Ok(u) => Ok((Value::String(lua.create_string(u)?), Value::Nil)),
                Err(e) => Ok((Value::Nil, Value::String(lua.create_string(e)?))),
            }
        })?,
    )?;
    let c = console.clone();
    t.set(
        "forget",
        lua.create_function(move |_, conn: i64| {
            c.conns.lock().remove(&conn);
            Ok(())
        })?,
    )?;
    let c = console.clone();
    t.set(
        "audit",
        lua.create_function(move |_, (who, what): (Value, Value)| {
            c.may_write_audit("audit")?;
            c.ctx
                .node()
                .audit()
                .note(&format!("console: {} ran {}", text(&who), text(&what)));
            Ok(())
        })?,
    )?;
    let c = console.clone();
    t.set(
        "refused",
        lua.create_function(
            move |_, (who, what, why, whom): (Value, Value, Value, Value)| {
                c.may_write_audit("refused")?;
                // What the refused command was aimed at (its arguments),
                // else the console itself.
                let whom = text(&whom);
                let whom = match whom.trim() {
                    "" => c.ctx.handle().to_string(),
                    w => cut_at(w, WHOM_LIMIT),
                };
                c.ctx.node().audit_refused_by(
                    &text(&who),
                    &format!("console:{}", text(&what)),
                    &whom,
                    &text(&why),
                );
                Ok(())
            },
        )?,
    )?;
    let c = console;
    t.set(
        "signal",
        lua.create_function(move |_, (address, sig): (i64, Option<i64>)| {
            let me = c.ctx.handle();
            let target = u32::try_from(address)
                .map(skyhold_core::Handle)
                .map_err(|_| {
                    mlua::Error::runtime(format!("signal: {address} is not an address"))
                })?;
            if !c.ctx.identity().has(Grant::Kill) {
                c.ctx.node().audit_refused(
                    me,
                    "signal",
                    &target.to_string(),
                    "the caller's role does not hold kill",
                );
                return Err(mlua::Error::runtime(
                    "signal: not permitted (the caller's role does not hold kill)",
                ));
            }
            Ok(c.ctx.node().signal(target, sig.unwrap_or(0)))
        })?,
    )?;
    t.set(
        "loopback",
        lua.create_function(|_, ip: Value| Ok(is_loopback(&text(&ip))))?,
    )?;
    t.set(
        "script",
        lua.create_function(|lua, path: String| match read_script(&path) {
            Ok(bytes) => Ok((Value::String(lua.create_string(bytes)?), Value::Nil)),
            Err(e) => Ok((Value::Nil, Value::String(lua.create_string(e)?))),
        })?,
    )?;
    Ok(Value::Table(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_come_from_pairs_and_the_one_password() {
        let u = parse_users(Some("alice:pw1, bob:p:w2"), Some(("admin", "root"))).unwrap();
        assert_eq!(
            u,
            [
                ("alice".to_string(), "pw1".to_string()),
                ("bob".to_string(), "p:w2".to_string()),
                ("admin".to_string(), "root".to_string()),
            ]
        );
        assert!(parse_users(None, None).unwrap().is_empty());
        let e = parse_users(Some("alice:pw1,mallory"), None).unwrap_err();
        assert!(e.contains(USERS_KEY) && e.contains("entry 2"), "{e}");
        assert!(!e.contains("pw1"), "the error never shows a password: {e}");
        assert!(parse_users(Some(":pw"), None).is_err());
        assert!(parse_users(None, Some(("admin", ""))).is_err());
    }

    #[test]
    fn only_the_matching_pair_logs_in() {
        let users = parse_users(Some("alice:pw1,bob:pw2"), None).unwrap();
        assert_eq!(check(&users, "alice", "pw1").as_deref(), Some("alice"));
        assert_eq!(check(&users, "bob", "pw2").as_deref(), Some("bob"));
        assert_eq!(check(&users, "alice", "pw2"), None);
        assert_eq!(check(&users, "alice", "pw1 "), None);
        assert_eq!(check(&users, "", ""), None);
        assert!(same_secret(b"x", b"x") && !same_secret(b"x", b"y") && !same_secret(b"x", b"xx"));
    }

    #[test]
    fn the_node_window_closes_after_its_failures_and_opens_again() {
        let mut f = NodeFailures::default();
        let t0 = Instant::now();
        for i in 0..NODE_FAILURES {
            assert!(f.open(t0), "failure {i}");
            f.fail(t0);
        }
        assert!(!f.open(t0 + Duration::from_secs(1)));
        let w = f.wait(t0 + Duration::from_secs(1));
        assert!((59..=60).contains(&w), "{w}");
        assert!(f.open(t0 + NODE_WINDOW));
        assert_eq!(f.wait(t0 + NODE_WINDOW), 0);
    }

    #[test]
    fn refused_targets_are_cut_at_a_character_boundary() {
        assert_eq!(cut_at(":0000000a", WHOM_LIMIT), ":0000000a");
        let long = "é".repeat(WHOM_LIMIT);
        let cut = cut_at(&long, WHOM_LIMIT);
        assert_eq!(cut, format!("{}…", "é".repeat(WHOM_LIMIT / 2)));
        assert_eq!(cut_at("aé", 2), "a…");
    }

    #[test]
    fn loopback_addresses() {
        for ip in [
            "127.0.0.1",
            "127.1.2.3",
            "::1",
            "[::1]",
            "localhost",
            "::ffff:127.0.0.1",
        ] {
            assert!(is_loopback(ip), "{ip}");
        }
        for ip in ["0.0.0.0", "10.0.0.1", "::", "example.com", ""] {
            assert!(!is_loopback(ip), "{ip}");
        }
    }

    #[test]
    fn inject_reads_small_lua_text_only() {
        let dir = std::env::temp_dir().join(format!("skyhold-console-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ok = dir.join("fix.lua");
        std::fs::write(&ok, "print(1)").unwrap();
        assert_eq!(read_script(ok.to_str().unwrap()).unwrap(), b"print(1)");
        let other = dir.join("notes.txt");
        std::fs::write(&other, "x").unwrap();
        assert!(read_script(other.to_str().unwrap())
            .unwrap_err()
            .contains(".lua"));
        let bin = dir.join("bin.lua");
        std::fs::write(&bin, b"\x1bLua").unwrap();
        assert!(read_script(bin.to_str().unwrap()).is_err());
        assert!(read_script(dir.join("none.lua").to_str().unwrap())
            .unwrap_err()
            .starts_with("Can't open"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
