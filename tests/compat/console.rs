//! skynet's debug console (`service/debug_console.lua`) over TCP: the line
//! protocol and its output shapes, the HTTP GET form, and skyhold's logins
//! (read-only commands open on loopback, everything else after `login`,
//! failed logins limited, non-loopback consoles refused without
//! credentials, inject only with the policy's grant, audit lines).

use skyhold_testkit::{repo, BootedNode};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

pub(crate) const USERS: &str = "alice:wonder-land,bob:builder";

/// A node running `console_boot.lua` with `extra` keys, once its console
/// is up (or refused).
pub(crate) fn boot(extra: &[(&str, &str)]) -> BootedNode {
    let extra: Vec<(String, String)> = extra
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let node = BootedNode::boot(&repo().join("tests/compat/lua"), "console_boot", &extra);
    assert!(
        node.wait_for("CONSOLE ", Duration::from_secs(20)).is_some(),
        "the console neither started nor was refused; log:\n{}",
        node.dump()
    );
    node
}

/// The port the console said it listens on.
pub(crate) fn port(node: &BootedNode) -> u16 {
    let line = node
        .wait_for("Start debug console at ", Duration::from_secs(5))
        .unwrap_or_else(|| panic!("no console; log:\n{}", node.dump()));
    line.rsplit(':')
        .next()
        .unwrap()
        .trim()
        .parse()
        .expect("port")
}

/// The victim's address, `:0000000a`.
pub(crate) fn victim_of(node: &BootedNode) -> String {
    let line = node.wait_for("VICTIM ", Duration::from_secs(5)).unwrap();
    line.rsplit("VICTIM ").next().unwrap().trim().to_string()
}

/// A console connection.
pub(crate) struct Console {
    reader: BufReader<TcpStream>,
    stream: TcpStream,
}

impl Console {
    pub(crate) fn connect(port: u16) -> Console {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to the console");
        stream
            .set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut c = Console {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        };
        assert_eq!(c.line(), "Welcome to skynet console");
        c
    }

    fn line(&mut self) -> String {
        let mut l = String::new();
        self.reader
            .read_line(&mut l)
            .expect("a line from the console");
        l.trim_end_matches('\n').to_string()
    }

    /// Runs `cmd`: the lines before the verdict, and whether it was OK.
    fn run(&mut self, cmd: &str) -> (Vec<String>, bool) {
        writeln!(self.stream, "{cmd}").unwrap();
        let mut lines = Vec::new();
        loop {
            let l = self.line();
            match l.as_str() {
                "<CMD OK>" => return (lines, true),
                "<CMD Error>" => return (lines, false),
                "" => panic!("the console closed during '{cmd}' after {lines:?}"),
                _ => lines.push(l),
            }
        }
    }

    pub(crate) fn ok(&mut self, cmd: &str) -> Vec<String> {
        let (lines, ok) = self.run(cmd);
        assert!(ok, "'{cmd}' failed: {lines:?}");
        lines
    }

    pub(crate) fn err(&mut self, cmd: &str) -> String {
        let (lines, ok) = self.run(cmd);
        assert!(!ok, "'{cmd}' did not fail: {lines:?}");
        lines.join("\n")
    }
}

/// One HTTP request; everything the console wrote before closing.
fn http(port: u16, request: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out)
        .expect("the console closes after one request");
    out
}

fn is_address(s: &str) -> bool {
    s.len() == 9 && s.starts_with(':') && s[1..].chars().all(|c| c.is_ascii_hexdigit())
}

/// list, stat, mem, cmem, info, task, ping, service and help answer a
/// loopback connection without a login, in skynet's shapes.
#[test]
fn console_read_only_commands_and_shapes() {
    let node = boot(&[("secret_console_users", USERS)]);
    let victim = victim_of(&node);
    let mut c = Console::connect(port(&node));

    let list = c.ok("list");
    let launcher = list
        .iter()
        .find(|l| l.ends_with("\tsnlua launcher") || l.contains("snlua console_victim"))
        .unwrap_or_else(|| panic!("{list:?}"));
    assert!(
        is_address(launcher.split('\t').next().unwrap()),
        "{launcher}"
    );
    assert!(
        list.contains(&format!("{victim}\tsnlua console_victim")),
        "{list:?}"
    );
    let mut sorted = list.clone();
    sorted.sort();
    assert_eq!(sorted, list, "skynet sorts the list by address");

    let stat = c.ok("stat");
    let line = stat
        .iter()
        .find(|l| l.starts_with(&victim))
        .unwrap_or_else(|| panic!("{stat:?}"));
    let fields: Vec<&str> = line.split('\t').skip(1).collect();
    let keys: Vec<&str> = fields
        .iter()
        .map(|f| f.split(':').next().unwrap())
        .collect();
    assert_eq!(keys, ["cpu", "message", "mqlen", "task"], "{line}");

    let mem = c.ok("mem");
    let line = mem.iter().find(|l| l.starts_with(&victim)).unwrap();
    let (addr, rest) = line.split_once('\t').unwrap();
    assert_eq!(addr, victim);
    assert!(
        rest.ends_with(" Kb (snlua console_victim)") && rest.contains('.'),
        "{line}"
    );

    let cmem = c.ok("cmem");
    let value = |key: &str| -> i64 {
        let l = cmem
            .iter()
            .find(|l| l.starts_with(&format!("{key}\t")))
            .unwrap_or_else(|| panic!("no {key} in {cmem:?}"));
        l.split('\t').nth(1).unwrap().parse().unwrap()
    };
    assert!(value("total") > 0 && value("block") > 0, "{cmem:?}");

    let info = c.ok(&format!("info {victim} a b"));
    assert_eq!(info, ["args\t2", "name\tvictim"]);
    let ping = c.ok(&format!("ping {victim}"));
    assert!(ping[0].parse::<u64>().is_ok(), "{ping:?}");
    c.ok(&format!("task {victim}"));
    let service = c.ok("service");
    assert!(service.iter().all(|l| l.contains('\t')), "{service:?}");
    let help = c.ok("help");
    assert!(help.iter().any(|l| l.starts_with("kill\t")), "{help:?}");
    assert!(help.iter().any(|l| l.starts_with("login\t")), "{help:?}");

    // skynet's answer to a command it does not know (its print of the
    // missing result is an empty line).
    writeln!(c.stream, "frobnicate").unwrap();
    assert_eq!(c.line(), "Invalid command, type help for command list");
    assert_eq!(c.line(), "");
    assert_eq!(c.line(), "<CMD Error>");

    // A reading by an address that names no one fails, and the session goes on.
    assert!(c.err("info zz").contains("Need an address"));
    c.ok("list");
}

/// kill needs a login; a wrong password does not give one; the kill a
/// logged-in operator runs is done and audited with who ran it.
#[test]
fn console_kill_needs_login_and_is_audited() {
    let node = boot(&[("secret_console_users", USERS)]);
    let victim = victim_of(&node);
    let mut c = Console::connect(port(&node));

    let e = c.err(&format!("kill {victim}"));
    assert!(
        e.contains("Permission denied: kill needs an operator login"),
        "{e}"
    );
    // The refusal names what the command was aimed at.
    assert!(node.eventually(&[
        "AUDIT refused console:kill by 127.0.0.1:",
        &format!(" on {victim}: not logged in")
    ]));
    for cmd in [
        "gc",
        "exit",
        "start console_victim",
        "call :1 1",
        "setenv a b",
        "getenv thread",
    ] {
        let e = c.err(cmd);
        assert!(e.contains("Permission denied"), "{cmd}: {e}");
    }
    assert!(c.ok("list").iter().any(|l| l.starts_with(&victim)));

    let e = c.err("login alice guess");
    assert!(e.contains("login failed"), "{e}");
    assert!(node.eventually(&[
        "AUDIT refused console_login",
        "alice",
        "wrong user or password"
    ]));
    assert!(c
        .err(&format!("kill {victim}"))
        .contains("Permission denied"));

    assert_eq!(c.ok("login alice wonder-land"), ["Welcome alice"]);
    let call = c.ok(&format!("call {victim} 'hi', 2"));
    assert_eq!(call, ["1\techo", "2\thi", "3\t2", "n\t3"]);
    let killed = c.ok(&format!("kill {victim}"));
    assert_eq!(killed, [format!("{victim}\tsnlua console_victim")]);
    assert!(!c.ok("list").iter().any(|l| l.starts_with(&victim)));
    assert!(
        node.eventually(&[
            "AUDIT console: alice@127.0.0.1:",
            &format!("\"kill {victim}\"")
        ]),
        "{}",
        node.dump()
    );
    assert!(node.eventually(&["AUDIT console: alice@127.0.0.1:", "login"]));
    assert!(
        !node.dump().contains("wonder-land"),
        "the password is never written:\n{}",
        node.dump()
    );
    // getenv never shows the console's credentials, even to an operator.
    assert!(c.err("getenv secret_console_users").contains("not shown"));
    assert_eq!(c.ok("getenv thread"), ["thread\t2"]);
    assert_eq!(c.ok("logout"), ["Bye alice"]);
    assert!(c.err("gc").contains("Permission denied"));
}

/// skynet's HTTP form: one command in the path of a GET (or the body of a
/// POST), its output, and the connection closed; a command that changes
/// the node takes Basic credentials.
#[test]
fn console_http_get() {
    let node = boot(&[("secret_console_users", USERS)]);
    let victim = victim_of(&node);
    let port = port(&node);
    let out = http(port, "GET /list HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(out.starts_with("Welcome to skynet console\n"), "{out}");
    assert!(
        out.contains(&format!("{victim}\tsnlua console_victim\n")),
        "{out}"
    );
    assert!(out.ends_with("<CMD OK>\n"), "{out}");
    let out = http(port, &format!("GET /info/{victim} HTTP/1.1\r\n\r\n"));
    assert!(out.contains("name\tvictim\n"), "{out}");

    let out = http(port, &format!("GET /kill/{victim} HTTP/1.1\r\n\r\n"));
    assert!(
        out.contains("Permission denied") && out.ends_with("<CMD Error>\n"),
        "{out}"
    );
    // bob:wrong, then bob:builder, in Basic credentials.
    let out = http(
        port,
        &format!("GET /kill/{victim} HTTP/1.1\r\nAuthorization: Basic Ym9iOndyb25n\r\n\r\n"),
    );
    assert!(
        out.contains("login failed") && out.ends_with("<CMD Error>\n"),
        "{out}"
    );
    let out = http(
        port,
        &format!("GET /kill/{victim} HTTP/1.1\r\nAuthorization: Basic Ym9iOmJ1aWxkZXI=\r\n\r\n"),
    );
    assert!(
        out.contains(&format!("{victim}\tsnlua console_victim\n")),
        "{out}"
    );
    assert!(node.eventually(&["AUDIT console: bob@", "kill"]));
    let body = "ping .launcher";
    let out = http(
        port,
        &format!(
            "POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(out.ends_with("<CMD OK>\n"), "{out}");
}

/// A console on a non-loopback address without credentials does not start,
/// and says why; with credentials it starts, and wants the login for
/// everything.
#[test]
fn console_non_loopback_needs_credentials() {
    let node = boot(&[("console_address", "0.0.0.0")]);
    assert!(
        node.eventually(&["CONSOLE REFUSED"]),
        "started without credentials on 0.0.0.0; log:\n{}",
        node.dump()
    );
    assert!(
        node.logged_all(&["refusing to listen on 0.0.0.0", "secret_console_users"]),
        "{}",
        node.dump()
    );
    drop(node);

    // Credentials that do not parse are no credentials: refused, naming the key.
    let node = boot(&[
        ("console_address", "0.0.0.0"),
        ("secret_console_users", "alice"),
    ]);
    assert!(
        node.eventually(&["CONSOLE REFUSED"])
            && node.logged_all(&[
                "refusing to listen on 0.0.0.0:0: config key secret_console_users",
                "not user:password"
            ]),
        "{}",
        node.dump()
    );
    drop(node);

    let node = boot(&[
        ("console_address", "0.0.0.0"),
        ("secret_console_password", "s3cret"),
    ]);
    let mut c = Console::connect(port(&node));
    for cmd in ["list", "mem", "help"] {
        let e = c.err(cmd);
        assert!(
            e.contains("Permission denied") && e.contains("0.0.0.0"),
            "{cmd}: {e}"
        );
    }
    assert_eq!(c.ok("login admin s3cret"), ["Welcome admin"]);
    assert!(!c.ok("list").is_empty());
}

/// Failed logins: three per connection, then that connection may not try
/// again; ten per node in a minute, then no login of the node is taken,
/// not even a right one.
#[test]
fn console_login_rate_limit() {
    let node = boot(&[("secret_console_users", USERS)]);
    let port = port(&node);
    let mut c = Console::connect(port);
    for i in 0..3 {
        assert!(c
            .err(&format!("login alice wrong{i}"))
            .contains("login failed"));
    }
    let e = c.err("login alice wonder-land");
    assert!(
        e.contains("too many failed logins on this connection"),
        "{e}"
    );
    // Seven more failures from three other connections at once make ten.
    let tries: Vec<_> = [3, 3, 1]
        .into_iter()
        .map(|n| {
            std::thread::spawn(move || {
                let mut c = Console::connect(port);
                for _ in 0..n {
                    assert!(c.err("login bob nope").contains("login failed"));
                }
            })
        })
        .collect();
    for t in tries {
        t.join().unwrap();
    }
    let mut fresh = Console::connect(port);
    let e = fresh.err("login alice wonder-land");
    assert!(e.contains("too many failed logins on this node"), "{e}");
    assert!(fresh.err("gc").contains("Permission denied"));
    assert!(node.eventually(&[
        "AUDIT refused console_login",
        "too many failed logins on this node"
    ]));
}

/// inject runs a script in another service only when the policy grants the
/// console debug_run; without it the refusal is audited and nothing runs.
#[test]
fn console_inject_needs_the_grant() {
    let probe = repo().join("tests/compat/lua/console_inject_probe.lua");
    let probe = probe.to_str().unwrap();
    let node = boot(&[("secret_console_users", USERS)]);
    let victim = victim_of(&node);
    let mut c = Console::connect(port(&node));
    assert!(c
        .err(&format!("inject {victim} {probe}"))
        .contains("Permission denied"));
    c.ok("login alice wonder-land");
    let e = c.err(&format!("inject {victim} {probe}"));
    assert!(
        e.contains("inject is refused") && e.contains("debug_run"),
        "{e}"
    );
    assert!(c
        .err(&format!("debug {victim}"))
        .contains("debug is refused"));
    assert!(node.eventually(&["AUDIT refused debug_run", "console inject into"]));
    assert!(!node.dump().contains("INJECTED"));
    drop(node);

    let dir = std::env::temp_dir().join(format!("skyhold-console-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("policy.lua");
    std::fs::write(
        &policy,
        "roles = { console = { 'kill', 'read_secrets', 'setenv', 'debug_run' } }\n",
    )
    .unwrap();
    let node = boot(&[
        ("secret_console_users", USERS),
        ("policy", policy.to_str().unwrap()),
    ]);
    let victim = victim_of(&node);
    let mut c = Console::connect(port(&node));
    c.ok("login bob builder");
    let out = c.ok(&format!("inject {victim} {probe}"));
    assert_eq!(out, ["INJECTED\t42\tconsole_victim"]);
    assert!(node.eventually(&["AUDIT console: bob@", "inject"]));
    // skynet answers a file it cannot open with a line, not an error.
    let out = c.ok(&format!("inject {victim} /etc/passwd"));
    assert!(out.join("\n").contains(".lua files only"), "{out:?}");
    std::fs::remove_dir_all(&dir).ok();
}

/// Every command of skynet's console is there, and each answers a
/// logged-in operator in skynet's shape (or, for what skyhold has not,
/// fails saying why).
#[test]
fn console_every_skynet_command_answers() {
    let node = boot(&[("secret_console_users", USERS)]);
    let victim = victim_of(&node);
    let mut c = Console::connect(port(&node));
    c.ok("login alice wonder-land");

    // help: skynet's commands, one `name<TAB>text` line each, sorted.
    let help = c.ok("help");
    let names: Vec<&str> = help.iter().map(|l| l.split('\t').next().unwrap()).collect();
    let mut sorted = names.clone();
    sorted.sort();
    assert_eq!(names, sorted, "{help:?}");
    for cmd in [
        "help",
        "list",
        "stat",
        "info",
        "exit",
        "kill",
        "mem",
        "gc",
        "start",
        "snax",
        "clearcache",
        "service",
        "task",
        "uniqtask",
        "inject",
        "logon",
        "logoff",
        "log",
        "debug",
        "signal",
        "cmem",
        "jmem",
        "ping",
        "call",
        "trace",
        "netstat",
        "profactive",
        "dumpheap",
        "killtask",
        "dbgcmd",
        "getenv",
        "setenv",
        "shrtbl",
    ] {
        assert!(names.contains(&cmd), "help lacks {cmd}: {help:?}");
    }

    // start and log: `<address>\t<name>`; exit ends the service.
    let started = c.ok("start console_victim extra");
    assert_eq!(started.len(), 1, "{started:?}");
    let (addr, name) = started[0].split_once('\t').unwrap();
    assert!(is_address(addr) && name == "console_victim", "{started:?}");
    let logged = c.ok("log console_victim");
    let (laddr, lname) = logged[0].split_once('\t').unwrap();
    assert!(is_address(laddr) && lname == "console_victim", "{logged:?}");
    assert!(c.ok(&format!("exit {addr}")).is_empty());
    let gone = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        !c.ok("list").iter().any(|l| l.starts_with(addr))
    });
    assert!(gone, "exit did not end {addr}");
    assert_eq!(c.ok("start no_such_service"), ["Failed"]);

    // gc: the launcher collects everywhere and answers with mem's lines.
    let gc = c.ok("gc");
    assert!(
        gc.iter()
            .any(|l| l.starts_with(&victim) && l.ends_with(" Kb (snlua console_victim)")),
        "{gc:?}"
    );

    // Debug commands to one service.
    c.ok(&format!("uniqtask {victim}"));
    c.ok(&format!("killtask {victim} nothing"));
    c.ok(&format!("dbgcmd {victim} PING"));
    assert!(c.ok(&format!("trace {victim} on")).is_empty());
    assert!(c.ok(&format!("trace {victim} off")).is_empty());
    assert!(c.ok("clearcache").is_empty());

    // The memory reports skynet gets from jemalloc and its string table.
    assert_eq!(c.ok("profactive"), ["heap profilling is deactive"]);
    let shrtbl = c.ok("shrtbl");
    let keys: Vec<&str> = shrtbl
        .iter()
        .map(|l| l.split('\t').next().unwrap())
        .collect();
    assert_eq!(keys, ["longest", "n", "space", "total"], "{shrtbl:?}");

    // What skyhold has not: an error that says why, never a silent OK.
    for (cmd, why) in [
        ("jmem".to_string(), "jemalloc"),
        ("dumpheap".to_string(), "jemalloc"),
        ("profactive on".to_string(), "jemalloc"),
        // No file_write_root in this config: no place for message logs.
        (format!("logon {victim}"), "file_write_root"),
    ] {
        let e = c.err(&cmd);
        assert!(e.contains(why), "'{cmd}': {e}");
    }
    assert_eq!(c.ok("logout"), ["Bye alice"]);
    assert!(c.err("gc").contains("Permission denied"));
}

/// signal breaks a service stuck in a loop (skynet's `signal address`):
/// the loop ends with the error `signal 0` and the service lives on;
/// `signal address 1` logs its memory. It needs a login.
#[test]
fn console_signal_breaks_a_loop() {
    // A budget so large that only the signal can end the loop in time.
    let node = boot(&[
        ("secret_console_users", USERS),
        ("lua_instruction_budget", "1000000000000000"),
    ]);
    let victim = victim_of(&node);
    let port = port(&node);
    let mut c = Console::connect(port);
    assert!(c
        .err(&format!("signal {victim}"))
        .contains("Permission denied"));
    assert!(node.eventually(&["AUDIT refused console:signal"]));
    c.ok("login alice wonder-land");
    // Another connection sets the victim spinning; its call waits.
    let target = victim.clone();
    let spinner = std::thread::spawn(move || {
        let mut s = Console::connect(port);
        s.ok("login bob builder");
        s.run(&format!("call {target} 'spin'"))
    });
    assert!(
        node.wait_for("SPINNING", Duration::from_secs(20)).is_some(),
        "{}",
        node.dump()
    );
    std::thread::sleep(Duration::from_millis(300));
    assert!(c.ok(&format!("signal {victim}")).is_empty());
    let (lines, ok) = spinner.join().unwrap();
    assert!(!ok, "the spinning call answered: {lines:?}");
    assert!(
        node.eventually(&["signal 0"]),
        "the loop did not end with 'signal 0':\n{}",
        node.dump()
    );
    // The service lives on and answers.
    let ping = c.ok(&format!("ping {victim}"));
    assert!(ping[0].parse::<u64>().is_ok(), "{ping:?}");
    assert!(c.ok(&format!("signal {victim} 1")).is_empty());
    assert!(node.eventually(&["Current Memory", "K"]), "{}", node.dump());
    assert!(c.err("signal :0fffffff").contains("no service"));
    assert!(node.eventually(&["AUDIT console: alice@", "signal"]));
}
