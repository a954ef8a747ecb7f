//! The operator's policy file: Lua source next to the config, naming roles
//! and what they grant, and which services get which role.
//!
//! ```lua
//! roles = {
//!     gate = { "send:client", "redirect" },
//!     admin = { "kill", "debug_run" },
//! }
//! services = {
//!     watchdog = "admin",            -- Lua service by script name
//!     ["native:gate"] = "gate",      -- native service by module name
//! }
//! reserved_names = { [".db"] = "dbserver" }
//! ```

use mlua::{chunk::ChunkMode, Lua, LuaOptions, StdLib, Table, Value};
use skyhold_core::{Grant, Policy, Role, Subject};
use std::path::Path;

fn subject(key: &str) -> Subject {
    match key.strip_prefix("native:") {
        Some(m) => Subject::Native(m.to_string()),
        None => Subject::Script(key.to_string()),
    }
}

/// Reads a policy file on top of the built-in defaults.
pub fn load(path: &Path) -> Result<Policy, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("policy: can't read {}: {e}", path.display()))?;
    parse(&text, &path.display().to_string())
}

/// Parses policy source text.
pub fn parse(text: &str, name: &str) -> Result<Policy, String> {
    let err = |e: mlua::Error| format!("policy {name}: {e}");
    let lua = Lua::new_with(StdLib::NONE, LuaOptions::default()).map_err(err)?;
    lua.set_memory_limit(8 << 20).map_err(err)?;
    let env = lua.create_table().map_err(err)?;
    lua.load(text)
        .set_name(format!("@{name}"))
        .set_mode(ChunkMode::Text)
        .set_environment(env.clone())
        .exec()
        .map_err(err)?;
    let mut policy = Policy::default();
    if let Ok(Value::Table(roles)) = env.get::<Value>("roles") {
        for pair in roles.pairs::<String, Table>() {
            let (role, list) = pair.map_err(err)?;
            let mut grants = Vec::new();
            for g in list.sequence_values::<String>() {
                let g = g.map_err(err)?;
                grants.push(
                    Grant::parse(&g).ok_or_else(|| {
                        format!("policy {name}: role {role}: unknown grant '{g}'")
                    })?,
                );
            }
            policy.define_role(Role::new(&role, grants));
        }
    }
    if let Ok(Value::Table(services)) = env.get::<Value>("services") {
        for pair in services.pairs::<String, String>() {
            let (svc, role) = pair.map_err(err)?;
            policy
                .assign(subject(&svc), &role)
                .map_err(|e| format!("policy {name}: {e}"))?;
        }
    }
    if let Ok(Value::Table(names)) = env.get::<Value>("reserved_names") {
        for pair in names.pairs::<String, String>() {
            let (n, svc) = pair.map_err(err)?;
            policy.reserve_name(&n, subject(&svc));
        }
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_and_assignments() {
        let p = parse(
            r#"roles = { admin = { "kill", "debug_run" }, gate = { "send:client" } }
               services = { watchdog = "admin", ["native:gate"] = "gate" }
               reserved_names = { [".db"] = "dbserver" }"#,
            "test",
        )
        .unwrap();
        assert!(p
            .identity_for(Subject::Script("watchdog".into()))
            .has(Grant::Kill));
        assert!(p
            .identity_for(Subject::Native("gate".into()))
            .role
            .may_send(3));
        assert_eq!(
            p.reserved_for(".db"),
            Some(&Subject::Script("dbserver".into()))
        );
        assert!(!p
            .identity_for(Subject::Script("agent".into()))
            .has(Grant::Kill));
    }

    #[test]
    fn mistakes_are_named() {
        let e = parse(r#"roles = { x = { "fly" } }"#, "p").unwrap_err();
        assert!(e.contains("fly"), "{e}");
        let e = parse(r#"services = { a = "nosuch" }"#, "p").unwrap_err();
        assert!(e.contains("nosuch"), "{e}");
    }
}
