//! Stopping a node as a service manager does (SIGTERM), with its log in
//! JSON: the process exits 0, every line queued before the signal is in
//! the file, the listeners are closed, and audit lines are JSON objects
//! with their fields.

use skyhold_testkit::{wait_until, NodeProcess};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// The port in the log's `what <port>` line.
fn port_in(log: &str, what: &str) -> Option<u16> {
    let at = log.find(what)? + what.len();
    let digits: String = log[at..]
        .chars()
        .skip_while(|c| *c == ' ')
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

#[test]
fn sigterm_stops_the_node_in_order_and_json_logs_keep_every_line() {
    let dir = std::env::temp_dir().join(format!("skyhold-sigterm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Writes numbered lines, 50 a tick, for as long as it runs; listens on
    // a port; and starts skynet's console on another.
    std::fs::write(
        dir.join("writer.lua"),
        "local skynet = require 'skynet'\n\
         local socket = require 'skynet.socket'\n\
         skynet.start(function()\n\
         \tskynet.newservice('debug_console', '127.0.0.1', 0)\n\
         \tlocal id, _, port = socket.listen('127.0.0.1', 0)\n\
         \tsocket.start(id, function(fd) socket.close(fd) end)\n\
         \tskynet.error('LISTEN ' .. port)\n\
         \tlocal n = 0\n\
         \twhile true do\n\
         \t\tfor _ = 1, 50 do\n\
         \t\t\tn = n + 1\n\
         \t\t\tskynet.error('line ' .. n)\n\
         \t\tend\n\
         \t\tskynet.sleep(1)\n\
         \tend\n\
         end)\n",
    )
    .unwrap();
    let log = dir.join("node.log");
    std::fs::write(
        dir.join("config"),
        format!(
            "thread = 2\nstart = \"writer\"\nluaservice = \"{0}/?.lua;{1}/service/?.lua\"\n\
             logger = \"{2}\"\nlog_format = \"json\"\n",
            dir.display(),
            env!("CARGO_MANIFEST_DIR"),
            log.display()
        ),
    )
    .unwrap();
    let mut node = NodeProcess::start(
        env!("CARGO_BIN_EXE_skyhold"),
        &dir.join("config"),
        &[("SKYHOLD_ROOT", env!("CARGO_MANIFEST_DIR"))],
    );
    assert!(
        wait_until(Duration::from_secs(30), || {
            let l = read(&log);
            l.contains("\"msg\":\"line 500\"") && l.contains("Start debug console at")
        }),
        "the node never logged its lines:\n{}",
        read(&log)
    );
    let text = read(&log);
    let port = port_in(&text, "LISTEN ").expect("the writer's port");
    let console = port_in(&text, "Start debug console at 127.0.0.1:").expect("the console's port");

    // A kill without a login: refused, and the refusal is a JSON audit line.
    let mut c = TcpStream::connect(("127.0.0.1", console)).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    c.write_all(b"kill :00000001\n").unwrap();
    let mut r = BufReader::new(c.try_clone().unwrap());
    let mut answer = String::new();
    while !answer.contains("<CMD") {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap() == 0 {
            break;
        }
        answer.push_str(&line);
    }
    assert!(
        answer.contains("Permission denied") && answer.contains("<CMD Error>"),
        "{answer}"
    );
    assert!(
        wait_until(Duration::from_secs(10), || read(&log)
            .contains("\"event\":\"refused\",\"who\":\"127.0.0.1:")),
        "no JSON audit line for the refused kill:\n{}",
        read(&log)
    );
    drop(r);
    drop(c);

    let status = Command::new("kill")
        .args(["-TERM", &node.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let exit = node
        .wait_exit(Duration::from_secs(30))
        .expect("the node did not exit within 30 s of SIGTERM");
    assert!(exit.success(), "exit status after SIGTERM: {exit}");
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "the listener still accepts"
    );

    let text = read(&log);
    let lines: Vec<&str> = text.lines().collect();
    // Every line is one JSON object with a time and a handle.
    for l in &lines {
        assert!(
            l.starts_with("{\"time\":\"") && l.ends_with('}') && l.contains(",\"handle\":\":"),
            "not a JSON log line: {l}"
        );
    }
    let audit = lines
        .iter()
        .find(|l| l.contains("\"event\":\"refused\""))
        .unwrap();
    for field in [
        "\"service\":\"audit\"",
        "\"what\":\"console:kill\"",
        "\"why\":\"not logged in (it changes the node)\"",
        "\"msg\":\"AUDIT refused console:kill by 127.0.0.1:",
    ] {
        assert!(audit.contains(field), "no {field} in {audit}");
    }
    // The writer's lines carry its service and are all there, in order:
    // nothing queued before the signal was lost.
    let numbers: Vec<u64> = lines
        .iter()
        .filter(|l| l.contains("\"service\":\"snlua writer\""))
        .filter_map(|l| l.split("\"msg\":\"line ").nth(1))
        .filter_map(|n| n.trim_end_matches("\"}").parse().ok())
        .collect();
    assert!(numbers.len() >= 500, "{} lines", numbers.len());
    for (i, n) in numbers.iter().enumerate() {
        assert_eq!(*n, i as u64 + 1, "a line is missing before line {n}");
    }
    let stop = lines
        .iter()
        .position(|l| l.contains("SIGTERM: stopping"))
        .expect("no SIGTERM line");
    assert!(
        lines[..stop].iter().any(|l| l.contains("\"msg\":\"line ")),
        "the SIGTERM line came before the writer's"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn shutdown_grace_and_log_format_are_checked() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let env = |k: &str, v: &str| std::collections::BTreeMap::from([(k.to_string(), v.to_string())]);
    let e = skyhold::settings(env("log_format", "yaml"), dir)
        .err()
        .unwrap();
    assert!(e.contains("log_format") && e.contains("json"), "{e}");
    let e = skyhold::settings(env("shutdown_grace", "0"), dir)
        .err()
        .unwrap();
    assert!(e.contains("shutdown_grace"), "{e}");
    let s = skyhold::settings(env("shutdown_grace", "3"), dir).unwrap();
    assert_eq!(s.shutdown_grace, Duration::from_secs(3));
    let s = skyhold::settings(Default::default(), dir).unwrap();
    assert_eq!(
        s.shutdown_grace,
        Duration::from_secs(skyhold::SHUTDOWN_GRACE)
    );
}

#[test]
fn a_service_that_never_returns_meets_shutdown_grace() {
    let dir = std::env::temp_dir().join(format!("skyhold-grace-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Spins in one message for far longer than the test (the budget is
    // raised so that it is not what stops it).
    std::fs::write(
        dir.join("spin.lua"),
        "local skynet = require 'skynet'\n\
         skynet.start(function()\n\
         \tskynet.fork(function()\n\
         \t\tskynet.error('SPINNING')\n\
         \t\twhile true do end\n\
         \tend)\n\
         end)\n",
    )
    .unwrap();
    let log = dir.join("node.log");
    std::fs::write(
        dir.join("config"),
        format!(
            "thread = 2\nstart = \"spin\"\nluaservice = \"{0}/?.lua\"\nlogger = \"{1}\"\n\
             shutdown_grace = \"1\"\nlua_instruction_budget = \"1000000000000000\"\n",
            dir.display(),
            log.display()
        ),
    )
    .unwrap();
    let mut node = NodeProcess::start(
        env!("CARGO_BIN_EXE_skyhold"),
        &dir.join("config"),
        &[("SKYHOLD_ROOT", env!("CARGO_MANIFEST_DIR"))],
    );
    assert!(
        wait_until(Duration::from_secs(30), || read(&log).contains("SPINNING")),
        "the spinner never started:\n{}",
        read(&log)
    );
    std::thread::sleep(Duration::from_millis(200));
    let signalled = std::time::Instant::now();
    let status = Command::new("kill")
        .args(["-TERM", &node.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(status.success());
    let exit = node
        .wait_exit(Duration::from_secs(20))
        .expect("the node did not give up after shutdown_grace");
    let took = signalled.elapsed();
    assert_eq!(exit.code(), Some(1), "exit status: {exit}");
    assert!(
        took >= Duration::from_millis(900) && took < Duration::from_secs(10),
        "gave up after {took:?}"
    );
    std::fs::remove_dir_all(&dir).ok();
}
