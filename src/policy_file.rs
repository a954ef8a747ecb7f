//! The operator's policy file: Lua source next to the config, naming roles
//! and what they grant, and which services get which role.
//!
//! ```lua
//! roles = {
//!     gate = { "send:client", "redirect" },
//!     admin = { "kill", "debug_run" },
//!     -- a role may set its own value for the node's spawn and memory
//!     -- limits (a number, or "unlimited"), in place of the config keys
//!     watchdog = { spawn_rate = 5000, spawn_burst = 10000 },
//!     world = { "launch", lua_memory_total = "unlimited" },
//! }
//! services = {
//!     watchdog = "admin",            -- Lua service by script name
//!     ["native:gate"] = "gate",      -- native service by module name
//! }
//! reserved_names = { [".db"] = "dbserver" }
//! ```

use mlua::{chunk::ChunkMode, Lua, LuaOptions, StdLib, Table, Value};
use skyhold_core::policy::SYSTEM_ROLE;
use skyhold_core::{Grant, Policy, Role, RoleLimit, RoleLimits, Subject};
use std::path::Path;

fn subject(key: &str) -> Subject {
    match key.strip_prefix("native:") {
        Some(m) => Subject::Native(m.to_string()),
        None => Subject::Script(key.to_string()),
    }
}

/// A role's value for a limit: a whole number of at least 1, or
/// `"unlimited"`.
fn role_limit(value: &Value) -> Result<RoleLimit, String> {
    let n = match value {
        Value::Integer(i) => *i as f64,
        Value::Number(f) => *f,
        Value::String(s) if s.to_str().is_ok_and(|s| s == "unlimited") => {
            return Ok(RoleLimit::Unlimited)
        }
        _ => f64::NAN,
    };
    if n.fract() == 0.0 && n >= 1.0 && n < u64::MAX as f64 {
        Ok(RoleLimit::Set(n as u64))
    } else {
        Err(format!(
            "'{}' is not a whole number of at least 1, nor \"unlimited\"",
            value.to_string().unwrap_or_default()
        ))
    }
}

/// The limits named in a role's table (`spawn_rate = 5000`, ...).
fn role_limits(name: &str, role: &str, list: &Table) -> Result<RoleLimits, String> {
    let mut limits = RoleLimits::default();
    for pair in list.pairs::<Value, Value>() {
        let (key, value) = pair.map_err(|e| format!("policy {name}: role {role}: {e}"))?;
        let Value::String(key) = key else {
            continue; // the grants, read as a sequence
        };
        let key = key.to_string_lossy();
        let slot = match key.as_str() {
            "spawn_rate" => &mut limits.spawn_rate,
            "spawn_burst" => &mut limits.spawn_burst,
            "lua_memory_total" => &mut limits.lua_memory_total,
            _ => {
                return Err(format!(
                    "policy {name}: role {role}: unknown field '{key}' \
                     (a role lists grants, and may set spawn_rate, spawn_burst, lua_memory_total)"
                ))
            }
        };
        *slot =
            role_limit(&value).map_err(|e| format!("policy {name}: role {role}: {key}: {e}"))?;
    }
    if role == SYSTEM_ROLE && limits != RoleLimits::default() {
        return Err(format!(
            "policy {name}: role {role}: skyhold's own services start services for \
             everyone and are never limited; give the limits to a role of your own"
        ));
    }
    Ok(limits)
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
            let limits = role_limits(name, &role, &list)?;
            policy.define_role(Role::new(&role, grants).with_limits(limits));
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
    fn roles_set_their_own_limits() {
        let p = parse(
            r#"roles = {
                   watchdog = { "launch", spawn_rate = 5000, spawn_burst = 1e4 },
                   world = { lua_memory_total = "unlimited" },
               }
               services = { watchdog = "watchdog", world = "world" }"#,
            "test",
        )
        .unwrap();
        let w = p.identity_for(Subject::Script("watchdog".into()));
        assert!(w.has(Grant::LaunchNative));
        assert_eq!(w.role.limits.spawn_rate, RoleLimit::Set(5000));
        assert_eq!(w.role.limits.spawn_burst, RoleLimit::Set(10_000));
        assert_eq!(w.role.limits.lua_memory_total, RoleLimit::Node);
        let world = p.identity_for(Subject::Script("world".into()));
        assert_eq!(world.role.limits.lua_memory_total, RoleLimit::Unlimited);
        assert_eq!(world.role.limits.spawn_rate, RoleLimit::Node);
    }

    #[test]
    fn bad_role_limits_are_named() {
        for (text, want) in [
            (r#"roles = { w = { spawn_rate = 0 } }"#, "spawn_rate"),
            (r#"roles = { w = { spawn_burst = 2.5 } }"#, "spawn_burst"),
            (r#"roles = { w = { lua_memory_total = "lots" } }"#, "lots"),
            (r#"roles = { w = { spawn_speed = 5 } }"#, "spawn_speed"),
            (
                r#"roles = { system = { spawn_rate = 5 } }"#,
                "never limited",
            ),
        ] {
            let e = parse(text, "p").unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
        }
    }

    #[test]
    fn mistakes_are_named() {
        let e = parse(r#"roles = { x = { "fly" } }"#, "p").unwrap_err();
        assert!(e.contains("fly"), "{e}");
        let e = parse(r#"services = { a = "nosuch" }"#, "p").unwrap_err();
        assert!(e.contains("nosuch"), "{e}");
    }
}
