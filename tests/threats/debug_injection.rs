//! Threat: a compromised service injects code into another service through
//! the debug protocol (`RUN`, as skynet's console `inject` does), or makes it
//! exit. Those commands need grants; the refusal is audited and the target
//! goes on; a service granted `debug_run` can still use RUN (text only).

use skyhold_testkit::*;

#[test]
fn debug_run_is_refused_without_the_grant() {
    let log = lua_check("debug_injection_attacker", &[]);
    assert!(log
        .iter()
        .any(|l| l.contains("AUDIT refused debug_run") && l.contains("debug RUN")));
    assert!(
        !log.iter().any(|l| l.contains("INJECTED")),
        "the injected code never ran"
    );
}

#[test]
fn a_granted_operator_can_run_text_but_not_bytecode() {
    let dir = std::env::temp_dir().join(format!("skyhold-policy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("policy.lua");
    std::fs::write(
        &policy,
        "roles = { operator = { 'debug_run' } }\nservices = { debug_injection_operator = 'operator' }\n",
    )
    .unwrap();
    let log = lua_check(
        "debug_injection_operator",
        &[("policy", policy.to_str().unwrap())],
    );
    assert!(
        log.iter().any(|l| l.contains("RUN output: 42")),
        "{}",
        log.join("\n")
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// Code that moves between services: sealed functions for
/// `skynet.service.new` are usable only by the service they were sealed to,
/// functions that capture locals are refused, and snax hotfix (source run
/// in the snax service) and killing another's snax service need grants.
#[test]
#[cfg_attr(feature = "lua55", ignore = "sealing needs the lua54 build")]
fn sealed_code_and_snax_hotfix_are_not_for_anyone() {
    let log = lua_check("debug_injection_code_transfer", &[]);
    assert!(
        log.iter()
            .any(|l| l.contains("AUDIT refused debug_run") && l.contains("snax hotfix")),
        "{}",
        log.join("\n")
    );
    assert!(
        log.iter().any(|l| l.contains("AUDIT refused kill")),
        "{}",
        log.join("\n")
    );
}
