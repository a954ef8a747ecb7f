//! Threat: someone who can reach the operator console — any local user, or a
//! compromised service, on 127.0.0.1 — runs what changes the node (kill,
//! exit, inject, call, start, setenv, gc, ...) without logging in, or guesses
//! the password, or uses the console's module to signal a service or to
//! write audit lines in the console's name. Every
//! such command is refused and audited; guessing stops
//! after three failures a connection and ten a minute for the node; the
//! console will not listen beyond loopback without credentials.

use skyhold_testkit::*;

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn console_commands_without_login_are_refused_and_guessing_is_stopped() {
    let port = free_port().to_string();
    let log = lua_check(
        "console_without_login",
        &[
            ("console_port", port.as_str()),
            ("secret_console_password", "hunter2"),
        ],
    );
    let dump = log.join("\n");
    for what in [
        "console:kill",
        "console:inject",
        "console:setenv",
        "console:call",
    ] {
        assert!(
            log.iter().any(
                |l| l.contains(&format!("AUDIT refused {what}")) && l.contains("not logged in")
            ),
            "no refusal of {what}:\n{dump}"
        );
    }
    assert!(
        log.iter().any(|l| l.contains("AUDIT refused console_login")
            && l.contains("too many failed logins on this node")),
        "{dump}"
    );
    assert!(
        !log.iter().any(|l| l.contains("AUDIT console:")),
        "nothing ran:\n{dump}"
    );
    assert!(!dump.contains("hunter2"), "the password is never logged");
    // A service without the kill grant cannot signal through the module.
    assert!(
        log.iter()
            .any(|l| l.contains("SIGNAL REFUSED") && l.contains("does not hold kill")),
        "{dump}"
    );
    assert!(
        log.iter()
            .any(|l| l.contains("AUDIT refused signal") && l.contains("does not hold kill")),
        "{dump}"
    );
    // Nor write audit lines in the console's name.
    assert!(
        log.iter().any(|l| l.contains("AUDIT FORGERY REFUSED")),
        "{dump}"
    );
    assert!(!dump.contains("FAIL a forged"), "{dump}");
    assert!(!dump.contains("ran \"kill :00000001\""), "{dump}");
    assert!(
        log.iter()
            .any(|l| l.contains("AUDIT refused console_audit") && l.contains("read_secrets")),
        "{dump}"
    );
}

#[test]
fn console_beyond_loopback_without_credentials_does_not_start() {
    let (node, log) = boot_logged(
        &repo().join("tests/threats/lua"),
        "console_without_login_victim",
        &[("thread", "2")],
    );
    // The launch fails or the service fails its init; either way it says why.
    let _ = node.launch("snlua", "debug_console 0.0.0.0 0");
    assert!(
        wait_until(std::time::Duration::from_secs(10), || log
            .lock()
            .iter()
            .any(|l| l.contains("refusing to listen on 0.0.0.0"))),
        "{}",
        log.lock().join("\n")
    );
    assert!(!log.lock().iter().any(|l| l.contains("Start debug console")));
    node.shutdown();
}
