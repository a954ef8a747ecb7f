//! Threat: a compromised service reads secrets from the node's config
//! (database passwords, cluster keys) with `skynet.getenv`. Keys the operator
//! marks secret — listed in `secret_keys`, or starting with `secret_` — are
//! readable only by services granted `read_secrets`, and every refused read
//! is audited.

use skyhold_testkit::*;

#[test]
fn an_ordinary_service_cannot_read_secret_config_keys() {
    let log = lua_check(
        "secret_getenv",
        &[
            ("db_password", "hunter2"),
            ("secret_cluster_key", "k3y"),
            ("secret_keys", "db_password"),
            ("motd", "hello"),
        ],
    );
    assert!(
        log.iter()
            .any(|l| l.contains("AUDIT refused read_secrets") && l.contains("db_password")),
        "the refused read is audited:\n{}",
        log.join("\n")
    );
    assert!(
        !log.iter()
            .any(|l| l.contains("hunter2") || l.contains("k3y")),
        "no secret leaked into the log"
    );
}
