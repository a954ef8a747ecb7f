//! The debug console's `logon`/`logoff` (skynet's per-service message
//! log): the file `<logpath>/<handle>.log` under the file write root, its
//! lines in skynet's format (messages and socket events), the login it
//! needs, the audit lines, and the size limit.

use crate::console::{boot, port, victim_of, Console, USERS};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// A fresh directory for one test's logs.
fn log_root(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("skyhold-logon-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The log file of `addr` (`:0000000a`) in `dir`.
fn file_of(dir: &Path, addr: &str) -> PathBuf {
    dir.join(format!("{}.log", addr.trim_start_matches(':')))
}

/// The file's text once it holds `part` (the writer thread writes it a
/// moment after the message is handled).
fn text_with(path: &Path, part: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if text.contains(part) || Instant::now() > deadline {
            return text;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The console's own address, from `list`.
fn console_addr(c: &mut Console) -> String {
    c.ok("list")
        .iter()
        .find(|l| l.contains("snlua debug_console"))
        .map(|l| l.split('\t').next().unwrap().to_string())
        .expect("the console lists itself")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// logon needs a login; a logged-in operator's logon writes every message
/// the service receives, one line each in skynet's format, until logoff;
/// both are audited.
#[test]
fn console_logon_writes_the_services_messages_in_skynets_format() {
    let root = log_root("format");
    let root_s = root.to_str().unwrap();
    let node = boot(&[
        ("secret_console_users", USERS),
        ("file_write_root", root_s),
        ("logpath", root_s),
    ]);
    let victim = victim_of(&node);
    let mut c = Console::connect(port(&node));
    let me = console_addr(&mut c);
    let log = file_of(&root, &victim);

    // Without a login: refused, audited, no file.
    let e = c.err(&format!("logon {victim}"));
    assert!(
        e.contains("Permission denied: logon needs an operator login"),
        "{e}"
    );
    assert!(node.eventually(&["AUDIT refused console:logon", "not logged in"]));
    assert!(c
        .err(&format!("logoff {victim}"))
        .contains("Permission denied"));
    assert!(!log.exists());

    c.ok("login alice wonder-land");
    assert!(c.ok(&format!("logon {victim}")).is_empty());
    // A second logon changes nothing (as skynet's).
    assert!(c.ok(&format!("logon {victim}")).is_empty());
    assert!(
        node.eventually(&[&format!("[{me}] Open log file {}", log.display())]),
        "{}",
        node.dump()
    );
    assert!(node.eventually(&[
        "AUDIT console: alice@127.0.0.1:",
        &format!("ran \"logon {victim}\"")
    ]));
    assert!(node.eventually(&[&format!(
        "AUDIT logon {victim}: the messages it receives are written to {}",
        log.display()
    )]));

    assert_eq!(
        c.ok(&format!("call {victim} 'hi', 2")),
        ["1\techo", "2\thi", "3\t2", "n\t3"]
    );
    c.ok(&format!("ping {victim}"));
    assert!(c.ok(&format!("logoff {victim}")).is_empty());
    assert!(node.eventually(&[&format!("[{me}] Close log file {victim}")]));
    // After logoff nothing more is written.
    c.ok(&format!("call {victim} 'later'"));

    let text = text_with(&log, "close time: ");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 4, "{text}");
    // open time: <tick> <ctime>, e.g. "open time: 312 Mon Dec  7 14:42:59 2026".
    let open: Vec<&str> = lines[0].splitn(4, ' ').collect();
    assert_eq!(&open[..2], ["open", "time:"], "{text}");
    let opened: u64 = open[2].parse().expect("a tick");
    assert_eq!(open[3].len(), 24, "ctime's shape: {text}");
    // :<source> <type> <session> <tick> <payload in hex>: the call is a
    // lua message (10) whose payload is skynet.pack("hi", 2); the ping a
    // debug one (9) carrying skynet.pack("PING").
    let call: Vec<&str> = lines[1].split(' ').collect();
    assert_eq!(call.len(), 5, "{text}");
    assert_eq!((call[0], call[1]), (me.as_str(), "10"), "{text}");
    assert!(call[2].parse::<i32>().unwrap() > 0, "a call has a session");
    assert!(call[3].parse::<u64>().unwrap() >= opened);
    assert_eq!(call[4], format!("14{}0a02", hex(b"hi")), "{text}");
    let ping: Vec<&str> = lines[2].split(' ').collect();
    assert_eq!((ping[0], ping[1]), (me.as_str(), "9"), "{text}");
    assert_eq!(ping[4], format!("24{}", hex(b"PING")), "{text}");
    assert!(lines[3].starts_with("close time: "), "{text}");
    assert!(!text.contains(&hex(b"later")), "{text}");
    std::fs::remove_dir_all(&root).ok();
}

/// A socket event's line: `[socket] <kind> <id> <ud> ` and the data in
/// hex. The console's own connection shows it: logged on, the next command
/// arrives as data.
#[test]
fn console_logon_writes_socket_events() {
    let root = log_root("socket");
    // logpath unset: the logs go to the write root itself.
    let node = boot(&[
        ("secret_console_users", USERS),
        ("file_write_root", root.to_str().unwrap()),
    ]);
    let mut c = Console::connect(port(&node));
    let me = console_addr(&mut c);
    c.ok("login bob builder");
    c.ok(&format!("logon {me}"));
    c.ok("ping .launcher");
    c.ok(&format!("logoff {me}"));
    let text = text_with(&file_of(&root, &me), "close time: ");
    // The line may come in more than one piece (the client's write and
    // its newline): the piece with the command.
    let data = hex(b"ping .launcher");
    let line = text
        .lines()
        .find(|l| l.starts_with("[socket] 1 ") && l.contains(&data))
        .unwrap_or_else(|| panic!("no data event for the command: {text}"));
    let f: Vec<&str> = line.split(' ').collect();
    assert_eq!(f.len(), 5, "{line}");
    assert!(f[2].parse::<i32>().is_ok(), "{line}");
    assert!(f[4].starts_with(&data), "{line}");
    assert_eq!(
        f[3].parse::<usize>().unwrap() * 2,
        f[4].len(),
        "ud is the byte count: {line}"
    );
    std::fs::remove_dir_all(&root).ok();
}

/// A file grows by at most logfile_max_bytes: the messages past it are not
/// written, and the file says so once.
#[test]
fn console_logon_stops_at_the_file_limit() {
    let root = log_root("limit");
    let node = boot(&[
        ("secret_console_users", USERS),
        ("file_write_root", root.to_str().unwrap()),
        ("logfile_max_bytes", "400"),
    ]);
    let victim = victim_of(&node);
    let mut c = Console::connect(port(&node));
    c.ok("login alice wonder-land");
    c.ok(&format!("logon {victim}"));
    let payload = "x".repeat(40);
    for _ in 0..20 {
        c.ok(&format!("call {victim} '{payload}'"));
    }
    c.ok(&format!("logoff {victim}"));
    let text = text_with(&file_of(&root, &victim), "close time: ");
    let (before, after) = text
        .split_once("skyhold: this log reached logfile_max_bytes (400 bytes)")
        .unwrap_or_else(|| panic!("no limit note: {text}"));
    assert!(
        before.len() <= 400,
        "{} bytes before the note",
        before.len()
    );
    let calls = before
        .lines()
        .filter(|l| l.contains(&hex(payload.as_bytes())))
        .count();
    assert!((1..20).contains(&calls), "{calls} calls written: {text}");
    assert!(!after.contains(&hex(payload.as_bytes())), "{text}");
    assert_eq!(text.matches("skyhold: this log reached").count(), 1);
    std::fs::remove_dir_all(&root).ok();
}

/// A logpath outside the write root is never written to: logon says why.
#[test]
fn console_logon_refuses_a_logpath_outside_the_write_root() {
    let root = log_root("outside");
    let elsewhere = log_root("elsewhere");
    let node = boot(&[
        ("secret_console_users", USERS),
        ("file_write_root", root.to_str().unwrap()),
        ("logpath", elsewhere.to_str().unwrap()),
    ]);
    assert!(node.eventually(&["config key logpath", "not under the file write root"]));
    let victim = victim_of(&node);
    let mut c = Console::connect(port(&node));
    c.ok("login alice wonder-land");
    let e = c.err(&format!("logon {victim}"));
    assert!(
        e.contains(&format!("logon {victim}: logpath"))
            && e.contains("not under the file write root (file_write_root)"),
        "{e}"
    );
    assert!(std::fs::read_dir(&elsewhere).unwrap().next().is_none());
    assert!(c.err("logon :0fffffff").contains("no service"));
    std::fs::remove_dir_all(&root).ok();
    std::fs::remove_dir_all(&elsewhere).ok();
}

/// `skynet.core`'s `command("LOGON", address)`, skynet's console's way in:
/// a service whose role lacks read_secrets is refused, and audited.
#[test]
fn core_command_logon_needs_read_secrets() {
    let log = crate::run_case_with("core_command_logon", &[]);
    let text = log.join("\n");
    assert!(
        log.iter().any(|l| l.contains("PASS")) && !text.contains("FAIL"),
        "{text}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("AUDIT refused logon by") && l.contains("read_secrets")),
        "{text}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("AUDIT refused read_secrets by")
                && l.contains("logged launch of snlua through .launcher")),
        "{text}"
    );
}

/// skynet's `log` command: a service launched with its message log on from
/// the start (the launcher's LOGLAUNCH).
#[test]
fn console_log_launches_a_service_with_its_message_log_on() {
    let root = log_root("loglaunch");
    let node = boot(&[
        ("secret_console_users", USERS),
        ("file_write_root", root.to_str().unwrap()),
    ]);
    let mut c = Console::connect(port(&node));
    assert!(c.err("log console_victim").contains("Permission denied"));
    c.ok("login alice wonder-land");
    let logged = c.ok("log console_victim");
    let (addr, name) = logged[0].split_once('\t').unwrap();
    assert_eq!(name, "console_victim", "{logged:?}");
    c.ok(&format!("call {addr} 'traced'"));
    c.ok(&format!("logoff {addr}"));
    let text = text_with(&file_of(&root, addr), "close time: ");
    assert!(text.starts_with("open time: "), "{text}");
    assert!(text.contains(&hex(b"traced")), "{text}");
    std::fs::remove_dir_all(&root).ok();
}
