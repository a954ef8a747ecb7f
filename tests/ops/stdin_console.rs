//! skynet's stdin console, with lines piped into a `skyhold` process: each
//! names a service to start through the launcher and the policy, audited;
//! long or non-text lines are dropped; the end of input stops the console
//! and not the node; a pipe is read only when the config says so; a
//! service cannot pass its own messages off as stdin's lines.

use skyhold_testkit::{repo, Piped};
use std::path::PathBuf;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

/// A node on a config of `keys` (plus the test's start service), with a
/// policy file of `policy` if given; once its console has started.
fn node(tag: &str, keys: &str, policy: Option<&str>) -> Piped {
    let dir: PathBuf = std::env::temp_dir().join(format!(
        "skyhold-stdin-console-{tag}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = format!(
        "thread = 2\nharbor = 0\nstart = \"console_main\"\nluaservice = \"{}/tests/ops/lua/?.lua\"\n{keys}\n",
        repo().display()
    );
    if let Some(p) = policy {
        std::fs::write(dir.join("policy.lua"), p).unwrap();
        text.push_str("policy = \"policy.lua\"\n");
    }
    let cfg = dir.join("config");
    std::fs::write(&cfg, text).unwrap();
    let node = Piped::start(
        env!("CARGO_BIN_EXE_skyhold"),
        &[cfg.to_str().unwrap()],
        &repo(),
        &[],
    );
    assert!(
        node.wait_for("MAIN READY", WAIT).is_some(),
        "the node did not start:\n{}",
        node.dump()
    );
    node
}

fn expect(node: &Piped, part: &str) -> String {
    node.wait_for(part, WAIT)
        .unwrap_or_else(|| panic!("never logged {part:?}:\n{}", node.dump()))
}

#[test]
fn piped_lines_start_services_through_the_launcher_with_audit() {
    let mut node = node("pipe", "console_stdin = true\nconsole_max_line = 40", None);
    expect(&node, "console: starting the services named on stdin");
    node.write(b"console_hello a b\n");
    expect(
        &node,
        "HELLO a b (no stdin: only the console service reads the node's stdin)",
    );
    let audit = expect(
        &node,
        "AUDIT console: stdin line \"console_hello a b\" started :",
    );
    assert!(audit.contains("started :"), "{audit}");
    node.write(b"no_such_service\n");
    expect(&node, "console: could not start no_such_service");
    expect(
        &node,
        "AUDIT console: stdin line \"no_such_service\" failed",
    );
    // Past console_max_line: dropped whole, nothing started.
    node.write(format!("console_hello {}\n", "x".repeat(60)).as_bytes());
    expect(
        &node,
        "dropped a stdin line longer than 40 bytes (console_max_line)",
    );
    // A terminal escape is not a service name.
    node.write(b"console_hello \x1b[2J\n");
    expect(&node, "dropped a stdin line that is not UTF-8 text");
    // Blank lines are nothing; a last line without a newline counts.
    node.write(b"\n   \nconsole_hello last");
    node.close_stdin();
    expect(&node, "HELLO last");
    expect(
        &node,
        "console: stdin closed after 5 lines (1 too long, 1 not text); the console exits",
    );
    assert!(
        !node.dump().contains("xxxxxxxxxx"),
        "a dropped line reached the console"
    );
    // A service's message in stdin's form started nothing.
    expect(&node, "FORGED LINE SENT");
    assert!(!node.dump().contains("HELLO forged"), "{}", node.dump());
    // The node runs on without its console.
    assert!(
        !node.exited_within(Duration::from_millis(500)),
        "{}",
        node.dump()
    );
}

#[test]
fn a_pipe_is_not_read_unless_the_config_says_so() {
    let mut node = node("default", "", None);
    expect(
        &node,
        "console: stdin is not a terminal, so it is not read (console_stdin = true",
    );
    node.write(b"console_hello sneaky\n");
    std::thread::sleep(Duration::from_millis(500));
    assert!(!node.dump().contains("HELLO sneaky"), "{}", node.dump());
    let mut off = self::node("off", "console_stdin = false", None);
    expect(&off, "console: console_stdin = false: stdin is not read");
    off.write(b"console_hello sneaky\n");
    std::thread::sleep(Duration::from_millis(500));
    assert!(!off.dump().contains("HELLO sneaky"), "{}", off.dump());
}

#[test]
fn the_policy_governs_what_the_console_starts() {
    // The console's role may start one service, then one a second.
    let policy = "roles = { operator_console = { spawn_burst = 1, spawn_rate = 1 } }\n\
                  services = { console = \"operator_console\" }\n";
    let mut node = node("policy", "console_stdin = true", Some(policy));
    node.write(b"console_hello one\nconsole_hello two\nconsole_hello three\n");
    expect(&node, "HELLO one");
    let refused = expect(&node, "console: could not start console_hello");
    assert!(refused.contains("spawn"), "{refused}");
    expect(&node, "AUDIT console: stdin line \"console_hello t");
}

/// `script` (util-linux, Debian's bsdutils) runs a program on a new
/// pseudo-terminal, so the default `console_stdin = tty` reads it.
fn have_script() -> bool {
    std::process::Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn a_terminal_is_read_by_default() {
    if !have_script() {
        if std::env::var_os("SKYHOLD_TOOLS_REQUIRED").is_some() {
            panic!("script(1) is missing and SKYHOLD_TOOLS_REQUIRED is set (.ci/run installs bsdutils)");
        }
        eprintln!(
            "script(1) is not installed: the terminal case was skipped (.ci/run installs bsdutils)"
        );
        return;
    }
    let dir: PathBuf =
        std::env::temp_dir().join(format!("skyhold-stdin-console-tty-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("config");
    std::fs::write(
        &cfg,
        format!(
            "thread = 2\nharbor = 0\nstart = \"console_main\"\nluaservice = \"{}/tests/ops/lua/?.lua\"\n",
            repo().display()
        ),
    )
    .unwrap();
    // The node catches SIGHUP (it reopens its log), so it outlives the
    // terminal `script` closes: it says its process id, and is ended by it.
    let command = format!(
        "echo NODE PID $$; exec {} {}",
        env!("CARGO_BIN_EXE_skyhold"),
        cfg.display()
    );
    let mut node = Piped::start("script", &["-qec", &command, "/dev/null"], &repo(), &[]);
    let pid = expect(&node, "NODE PID ");
    let _end = EndProcess(pid.rsplit(' ').next().unwrap().trim().to_string());
    expect(&node, "MAIN READY");
    expect(&node, "console: starting the services named on stdin");
    node.write(b"console_hello from a terminal\n");
    expect(&node, "HELLO from a terminal");
    expect(
        &node,
        "AUDIT console: stdin line \"console_hello from a terminal\" started :",
    );
}

/// Ends the process of this id (one this test started) when dropped.
struct EndProcess(String);

impl Drop for EndProcess {
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill").arg(&self.0).status();
    }
}
