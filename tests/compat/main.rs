//! Lua services written against the skynet API check its semantics with
//! asserts. Each case starts a node whose start service is
//! `tests/compat/lua/<case>.lua`; the case passes when that service logs
//! `PASS`, and fails on an error line, on `FAIL`, or when nothing is said
//! within the time limit.

mod bson;
mod cjson;
mod cluster;
mod console;
mod console_logon;
mod crypt;
mod files;
mod lpeg;
mod pb;
mod pbc;
mod sproto;

use skyhold_testkit::repo;
use std::time::Duration;

/// Boots a node running `case` and returns its log once the case is done.
fn run_case(case: &str) -> Vec<String> {
    run_case_with(case, &[])
}

/// The same, with `extra` config keys.
fn run_case_with(case: &str, extra: &[(&str, &str)]) -> Vec<String> {
    let lua_dir = repo().join("tests/compat/lua");
    skyhold_testkit::run_case(&lua_dir, case, extra, Duration::from_secs(30), |l| {
        l.contains("PASS") || l.contains("FAIL") || is_fatal(l)
    })
}

/// Lines that end a case as failed. (Errors raised inside callees are part
/// of what some cases check, so `lua call [...] error` lines are not.)
fn is_fatal(line: &str) -> bool {
    line.contains("init service failed") || line.contains("panicked")
}

fn check(case: &str) {
    check_with(case, &[]);
}

fn check_with(case: &str, extra: &[(&str, &str)]) {
    let log = run_case_with(case, extra);
    let passed = log.iter().any(|l| l.contains("PASS"));
    let failed = log.iter().any(|l| l.contains("FAIL") || is_fatal(l));
    if !passed || failed {
        panic!("case {case} did not pass; its log:\n{}", log.join("\n"));
    }
}

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                check(stringify!($name));
            }
        )*
    };
}

cases!(
    call_ret,
    response,
    dead_callee,
    timers,
    fork,
    queue,
    unique,
    names,
    pack,
    error_messages,
    datacenter,
    skynet_coroutine,
    select,
    multicast,
    debug_protocol,
    socket_echo,
    socket_reads,
    socket_shutdown,
    socket_close_reader,
    udp,
    cgate,
    sharedata,
    datasheet,
    filter,
);

/// Waiting for room: a share of four messages fills at once.
#[test]
fn room() {
    check_with("room", &[("sender_messages", "4")]);
}

/// A handler that never answers: skynet's warning, with where the handler
/// was defined.
#[test]
fn forgot_response() {
    let log = run_case("forgot_response");
    assert!(log.iter().any(|l| l.contains("PASS")), "{}", log.join("\n"));
    let line = log
        .iter()
        .find(|l| l.contains("Maybe forgot response session"))
        .unwrap_or_else(|| panic!("no warning; log:\n{}", log.join("\n")));
    assert!(
        line.contains(" : @") && line.ends_with("forgot_response.lua:10"),
        "{line}"
    );
}

/// package.path may choose among the operator's lua_path and luaservice
/// templates; here lua_path is a subdirectory, so the case's own directory
/// is reachable only as the luaservice template.
#[test]
fn package_path() {
    let lib = repo().join("tests/compat/lua/pkgpath/?.lua");
    check_with(
        "package_path",
        &[("lua_path", lib.to_str().expect("a path"))],
    );
}

/// skynet.stm, with small limits to reach.
#[test]
fn stm() {
    check_with("stm", &[("stm_max_copies", "8"), ("stm_max_bytes", "4096")]);
}

/// skynet.service (not in the lua55 build: see crates/lua/src/sources.rs).
#[test]
#[cfg_attr(feature = "lua55", ignore = "skynet.service.new needs the lua54 build")]
fn service_new() {
    check("service_new");
}

/// Cases again with no warm states (`lua_warm_states = 0`), so every
/// service builds its own state: the two ways to a state behave the same.
#[test]
fn call_ret_without_warm_states() {
    check_with("call_ret", &[("lua_warm_states", "0")]);
}

#[test]
fn error_messages_without_warm_states() {
    check_with("error_messages", &[("lua_warm_states", "0")]);
}

/// snax, with a policy that lets the case hotfix its snax services.
#[test]
fn snax() {
    check_with("snax", &[("policy", "../snax_policy.lua")]);
}

/// The trace lines of a traced call: the caller's `trace`, its `call`, the
/// callee's `request` and `end`, and `tracelog`, all under one tag.
#[test]
fn trace() {
    let log = run_case("trace");
    let pass = log
        .iter()
        .find(|l| l.contains("PASS trace"))
        .unwrap_or_else(|| panic!("case trace did not pass; its log:\n{}", log.join("\n")));
    let tag = pass.rsplit(' ').next().expect("tag");
    let prefix = format!("<TRACE {tag}> ");
    for what in ["trace compat", "call :", "request from :", "end", "checked"] {
        assert!(
            log.iter().any(|l| l.contains(&prefix) && l.contains(what)),
            "no '{what}' trace line for {tag}; log:\n{}",
            log.join("\n")
        );
    }
}

// Issue 18: skynet's own test services, behaviour by behaviour. ----------

/// testdatacenter: a waiter on a key that is then set as a branch fails.
#[test]
fn datacenter_branch() {
    check("datacenter_branch");
}

/// testmulticast: channel ids as skynet numbers them; a subscriber owes no
/// reply to a publication, so nothing is logged as a forgotten response.
#[test]
fn multicast_ids() {
    let log = run_case("multicast_ids");
    assert!(
        log.iter().any(|l| l.contains("PASS")) && !log.iter().any(|l| l.contains("FAIL")),
        "case multicast_ids did not pass; its log:\n{}",
        log.join("\n")
    );
    assert!(
        !log.iter().any(|l| l.contains("Maybe forgot response")),
        "a subscriber left a publication unanswered; log:\n{}",
        log.join("\n")
    );
}

/// testtimer: skynet.task lists pending timeouts, keyed as skynet keys
/// them; skynet.trace_timeout makes a timeout's entry where it was set.
#[test]
fn task_trace() {
    check("task_trace");
}

/// testcoroutine: skynet.profile's start, stop, resume and wrap.
#[test]
fn profile() {
    check("profile");
}

// ---- issue 18: skynet's core behaviours (start service, config, exit) ----

/// The lines skynet's core writes when a service leaves: `KILL self` from
/// a service that calls `skynet.exit()`, `KILL :<hex>` (bare hex, skynet's
/// `%0x`) from the service that kills another.
#[test]
fn kill_log() {
    let log = run_case("kill_log");
    let dump = || log.join("\n");
    let handles = log
        .iter()
        .find_map(|l| l.split("HANDLES ").nth(1))
        .unwrap_or_else(|| panic!("case kill_log did not pass; its log:\n{}", dump()));
    let hex: Vec<u32> = handles
        .split_whitespace()
        .map(|h| u32::from_str_radix(h, 16).expect("hex handle"))
        .collect();
    let (me, leaver, victim) = (hex[0], hex[1], hex[2]);
    let said = |line: String| assert!(log.contains(&line), "no line '{line}'; log:\n{}", dump());
    said(format!("[:{leaver:08x}] KILL self"));
    said(format!("[:{me:08x}] KILL :{victim:x}"));
}

/// The start service holds the operator's powers (kill, hotfix, abort),
/// alone: its twin from the same script does not. Its `skynet.abort()`
/// ends the node.
#[test]
fn start_service() {
    let node =
        skyhold_testkit::BootedNode::boot(&repo().join("tests/compat/lua"), "start_service", &[]);
    node.expect_pass("start_service");
    assert!(
        node.node.wait_timeout(Duration::from_secs(10)),
        "skynet.abort() from the start service did not end the node; log:\n{}",
        node.dump()
    );
}

/// A config shaped like skynet's `examples/config` (harbor 1, standalone,
/// master, address, cpath, lualoader, snax...) boots to its start service,
/// alone, saying once which keys it ignores (and that its logpath needs a
/// file_write_root).
#[test]
fn skynet_config() {
    let dir = repo().join("tests/compat/skynet_config");
    let env = skyhold::config::load(&dir.join("config")).expect("the config reads");
    let (node, log) = skyhold_testkit::boot_env(env, &dir);
    skyhold_testkit::wait::wait_until(Duration::from_secs(30), || {
        log.lock()
            .iter()
            .any(|l| l.contains("PASS") || l.contains("FAIL") || is_fatal(l))
    });
    node.shutdown();
    let log = log.lock().clone();
    let dump = log.join("\n");
    assert!(
        log.iter().any(|l| l.contains("PASS skynet_config")),
        "{dump}"
    );
    assert!(
        !log.iter().any(|l| l.contains("FAIL") || is_fatal(l)),
        "{dump}"
    );
    let once = |part: &str| {
        let n = log.iter().filter(|l| l.contains(part)).count();
        assert_eq!(n, 1, "'{part}' said {n} times; log:\n{dump}");
    };
    once("standalone, master, address: skyhold runs this node alone");
    for key in ["cpath", "lua_cpath", "lualoader"] {
        once(&format!("config key {key} is ignored"));
    }
    // logpath is honoured under file_write_root only, which this config
    // (as skynet's) has not: said once, at boot.
    once("config key logpath: logon will be refused: no file_write_root is configured");
}

/// Keys named like credentials are secret unless listed in `public_keys`;
/// the node says once which it hides and how to change that.
#[test]
fn secret_names() {
    let extra = [
        ("db_password", "hunter2"),
        ("api_token", "t0k3n"),
        ("db_password_hint", "ask the operator"),
        ("public_keys", "db_password_hint"),
        ("sort_key", "name"),
    ];
    let log = run_case_with("secret_names", &extra);
    let dump = log.join("\n");
    assert!(
        log.iter().any(|l| l.contains("PASS secret_names")),
        "{dump}"
    );
    let notes: Vec<&String> = log
        .iter()
        .filter(|l| l.contains("look like credentials"))
        .collect();
    assert_eq!(notes.len(), 1, "{dump}");
    assert!(
        notes[0].contains("keys api_token, db_password look") && notes[0].contains("public_keys"),
        "{dump}"
    );
    assert!(
        log.iter().any(|l| l.contains("AUDIT refused read_secrets")),
        "{dump}"
    );
}

/// A service found as `<name>/init.lua` requires from its own directory
/// first, as skynet's loader puts it at the front of `package.path`.
#[test]
fn service_dir() {
    let dir = repo().join("tests/compat/lua");
    let luaservice = format!("{0}/?.lua;{0}/?/init.lua", dir.display());
    check_with("service_dir", &[("luaservice", luaservice.as_str())]);
}

/// UDP over IPv6 loopback: `udp_dial("::1")` opens an IPv6 socket, the
/// address blob is skynet's v6 layout, and sendto across families is
/// refused. Skipped (with a note) where ::1 cannot be bound.
#[test]
fn udp6() {
    if let Err(e) = std::net::UdpSocket::bind("[::1]:0") {
        eprintln!("udp6 skipped: no IPv6 loopback on this machine (bind [::1]:0: {e})");
        return;
    }
    check("udp6");
}

/// debug RUN refused inside `.launcher` and `.service` fails the caller's
/// call at once, every time (a raised handler always answers what it owes).
#[test]
fn debug_run_refused() {
    check("debug_run_refused");
}

/// `skynet.memlimit` in a service's main chunk: skynet's line saying so, and
/// the limit holds.
#[test]
fn memlimit() {
    let log = run_case("memlimit");
    assert!(
        log.iter()
            .any(|l| l.ends_with("Set memory limit to 1.00 M")),
        "no memory limit line; log:\n{}",
        log.join("\n")
    );
    assert!(log.iter().any(|l| l.contains("PASS")), "{}", log.join("\n"));
}

/// A mailbox past 1024 messages: skynet's "May overload" line from the
/// service whose mailbox it is.
#[test]
fn overload() {
    let log = run_case("overload");
    let dump = log.join("\n");
    assert!(log.iter().any(|l| l.contains("PASS")), "{dump}");
    assert!(
        log.iter()
            .any(|l| l.contains("error: May overload, message queue length = ")),
        "no overload line; log:\n{dump}"
    );
}

/// Global names no service has yet: calls and sends wait for them, `debug
/// TERM` ends a wait, and the single-node harbor answers link and refuses
/// connect as skynet's cdummy does.
#[test]
fn global_names() {
    let log = run_case("global_names");
    let dump = log.join("\n");
    assert!(log.iter().any(|l| l.contains("PASS")), "{dump}");
    assert!(
        log.iter()
            .any(|l| l.ends_with("Can't connect to other harbor in single node mode")),
        "{dump}"
    );
}

/// `print` formats its values as Lua's own print does (as `tostring`).
#[test]
fn print_format() {
    let log = run_case("print_format");
    let dump = || log.join("\n");
    let want = log
        .iter()
        .find_map(|l| l.split("WANT ").nth(1))
        .unwrap_or_else(|| panic!("no WANT line; log:\n{}", dump()));
    assert!(
        want.contains("\t625000.0\t") && want.contains("\t-0.0\t"),
        "{want}"
    );
    assert!(
        log.iter().any(|l| l.ends_with(&format!("] {want}"))),
        "print did not write '{want}'; log:\n{}",
        dump()
    );
}

/// A handler that raises closes its `<close>` variables, which get the
/// error, and logs the error once (no second line for the close); exit
/// closes waiting coroutines and the exiting one.
#[test]
fn close_on_exit() {
    let log = run_case("close_on_exit");
    let dump = log.join("\n");
    assert!(log.iter().any(|l| l.contains("PASS")), "{dump}");
    assert!(
        !dump.contains("<function"),
        "a stray error line; log:\n{dump}"
    );
    let raised: Vec<_> = log
        .iter()
        .filter(|l| l.contains("raise inside a handler"))
        .collect();
    assert_eq!(raised.len(), 1, "the error logged once; log:\n{dump}");
}
