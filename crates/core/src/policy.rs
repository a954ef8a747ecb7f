//! Who may do what: roles, grants, and the identity every service carries.
//!
//! The default lets an ordinary service do what an ordinary skynet service
//! does — send and call any service with the ordinary message types, set
//! timers, name itself, spawn Lua services — and nothing that reaches into
//! another service. Everything else is a [`Grant`] that the operator's policy
//! gives to a role, and a role is given to services by script or module name.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::Arc;

use crate::message::ptype;

/// A capability beyond the ordinary.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum Grant {
    /// Retire another service (`skynet.kill`).
    Kill,
    /// Retire every service (`skynet.abort`).
    Abort,
    /// Bind a local name to a service other than oneself (`skynet.name`).
    NameOther,
    /// Take over a name another service holds, or a reserved name.
    NameTakeover,
    /// Send with another service's address as source (`skynet.redirect`).
    Redirect,
    /// Launch a native module other than `snlua` (`skynet.launch`).
    LaunchNative,
    /// Run code inside another service (debug `RUN`, console `inject`).
    DebugRun,
    /// Make the runtime report every exit to a service (`MONITOR`).
    Monitor,
    /// Add keys to the node's environment (`skynet.setenv`).
    SetEnv,
    /// Read config keys the operator marked secret.
    ReadSecrets,
    /// Take over or act on a socket another service owns.
    SocketTakeover,
    /// Change the cluster map from Lua (`cluster.reload` with a table):
    /// where node names point, which are down.
    ClusterAdmin,
    /// Launch a service on another service's behalf, the launch counting
    /// against that service's spawn rate and memory budget rather than the
    /// launcher's (skyhold's `.launcher` and the unique-service managers,
    /// which start services for whoever asks).
    LaunchFor,
    /// Send a message type that is restricted by default.
    Send(u8),
}

impl Grant {
    /// Parses a grant as written in a policy file.
    pub fn parse(text: &str) -> Option<Grant> {
        Some(match text {
            "kill" => Grant::Kill,
            "abort" => Grant::Abort,
            "name_other" => Grant::NameOther,
            "name_takeover" => Grant::NameTakeover,
            "redirect" => Grant::Redirect,
            "launch" => Grant::LaunchNative,
            "debug_run" => Grant::DebugRun,
            "monitor" => Grant::Monitor,
            "setenv" => Grant::SetEnv,
            "read_secrets" => Grant::ReadSecrets,
            "socket_takeover" => Grant::SocketTakeover,
            "cluster_admin" => Grant::ClusterAdmin,
            "launch_for" => Grant::LaunchFor,
            _ => {
                let t = text.strip_prefix("send:")?;
                let id = match t {
                    "multicast" => ptype::MULTICAST,
                    "client" => ptype::CLIENT,
                    "system" => ptype::SYSTEM,
                    "harbor" => ptype::HARBOR,
                    _ => return None,
                };
                Grant::Send(id)
            }
        })
    }

    /// Every grant, for the built-in `system` role.
    pub fn all() -> Vec<Grant> {
        let mut v = vec![
            Grant::Kill,
            Grant::Abort,
            Grant::NameOther,
            Grant::NameTakeover,
            Grant::Redirect,
            Grant::LaunchNative,
            Grant::DebugRun,
            Grant::Monitor,
            Grant::SetEnv,
            Grant::ReadSecrets,
            Grant::SocketTakeover,
            Grant::ClusterAdmin,
            Grant::LaunchFor,
        ];
        v.extend(RESTRICTED_TYPES.iter().map(|t| Grant::Send(*t)));
        v
    }
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Grant::Kill => "kill",
            Grant::Abort => "abort",
            Grant::NameOther => "name_other",
            Grant::NameTakeover => "name_takeover",
            Grant::Redirect => "redirect",
            Grant::LaunchNative => "launch",
            Grant::DebugRun => "debug_run",
            Grant::Monitor => "monitor",
            Grant::SetEnv => "setenv",
            Grant::ReadSecrets => "read_secrets",
            Grant::SocketTakeover => "socket_takeover",
            Grant::ClusterAdmin => "cluster_admin",
            Grant::LaunchFor => "launch_for",
            Grant::Send(t) => return write!(f, "send:{}", ptype::name(*t)),
        };
        f.write_str(s)
    }
}

/// Message types an ordinary service may not send without a grant. `SOCKET`
/// and `QUEUE` are not grantable at all: only the runtime sends socket events.
pub const RESTRICTED_TYPES: &[u8] = &[
    ptype::MULTICAST,
    ptype::CLIENT,
    ptype::SYSTEM,
    ptype::HARBOR,
];

/// Types no service may send, whatever its grants.
pub const FORBIDDEN_TYPES: &[u8] = &[ptype::SOCKET, ptype::QUEUE];

/// A role's own value for one of the node's limits.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum RoleLimit {
    /// The node's value (its config key).
    #[default]
    Node,
    /// This value instead, higher or lower.
    Set(u64),
    /// No limit at all for this role.
    Unlimited,
}

impl RoleLimit {
    /// The value in force given the node's: `None` for no limit.
    pub fn over(self, node: u64) -> Option<u64> {
        match self {
            RoleLimit::Node => Some(node),
            RoleLimit::Set(v) => Some(v),
            RoleLimit::Unlimited => None,
        }
    }

    /// True if this is looser than the node's value `node`.
    pub fn raises(self, node: u64) -> bool {
        match self {
            RoleLimit::Node => false,
            RoleLimit::Set(v) => v > node,
            RoleLimit::Unlimited => true,
        }
    }
}

impl fmt::Display for RoleLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RoleLimit::Node => f.write_str("the node's"),
            RoleLimit::Set(v) => write!(f, "{v}"),
            RoleLimit::Unlimited => f.write_str("unlimited"),
        }
    }
}

/// The limits a role sets for its services in place of the node's: how
/// fast each may start services, and up to what node-wide total of Lua
/// memory it may still start Lua services.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RoleLimits {
    /// In place of `spawn_rate`.
    pub spawn_rate: RoleLimit,
    /// In place of `spawn_burst`.
    pub spawn_burst: RoleLimit,
    /// In place of `lua_memory_total`.
    pub lua_memory_total: RoleLimit,
}

impl RoleLimits {
    /// No limits: the built-in `system` role's, since skyhold's own boot
    /// services start services for everyone and must never be refused.
    pub const UNLIMITED: RoleLimits = RoleLimits {
        spawn_rate: RoleLimit::Unlimited,
        spawn_burst: RoleLimit::Unlimited,
        lua_memory_total: RoleLimit::Unlimited,
    };

    /// The limits with their config key names, for reports.
    pub fn named(&self) -> [(&'static str, RoleLimit); 3] {
        [
            ("spawn_rate", self.spawn_rate),
            ("spawn_burst", self.spawn_burst),
            ("lua_memory_total", self.lua_memory_total),
        ]
    }
}

/// A named set of grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    /// The role's name, shown in audit lines.
    pub name: String,
    /// What it grants.
    pub grants: BTreeSet<Grant>,
    /// Limits it sets in place of the node's (none, by default).
    pub limits: RoleLimits,
    /// Bitmap of sendable message types, derived from `grants`.
    send_types: [u64; 4],
}

impl Role {
    /// A role with the given grants.
    pub fn new(name: &str, grants: impl IntoIterator<Item = Grant>) -> Role {
        let grants: BTreeSet<Grant> = grants.into_iter().collect();
        let mut send_types = [u64::MAX; 4];
        for t in RESTRICTED_TYPES.iter().chain(FORBIDDEN_TYPES) {
            send_types[usize::from(*t) / 64] &= !(1u64 << (t % 64));
        }
        for g in &grants {
            if let Grant::Send(t) = g {
                if !FORBIDDEN_TYPES.contains(t) {
                    send_types[usize::from(*t) / 64] |= 1u64 << (t % 64);
                }
            }
        }
        Role {
            name: name.to_string(),
            grants,
            limits: RoleLimits::default(),
            send_types,
        }
    }

    /// The same role with its own limits.
    pub fn with_limits(mut self, limits: RoleLimits) -> Role {
        self.limits = limits;
        self
    }

    /// True if the role holds `g`.
    pub fn has(&self, g: Grant) -> bool {
        match g {
            Grant::Send(t) => self.may_send(t),
            _ => self.grants.contains(&g),
        }
    }

    /// True if the role may send messages of type `t`.
    #[inline]
    pub fn may_send(&self, t: u8) -> bool {
        self.send_types[usize::from(t) / 64] & (1u64 << (t % 64)) != 0
    }
}

/// Which services a policy rule applies to.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    /// A Lua service by script name (as given to `newservice`).
    Script(String),
    /// A native service by module name (`logger`, `gate`, ...).
    Native(String),
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Subject::Script(s) => write!(f, "script {s}"),
            Subject::Native(s) => write!(f, "native {s}"),
        }
    }
}

/// The verified identity of a service: what it runs and the role it was given.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Identity {
    /// What it runs.
    pub subject: Subject,
    /// The role the policy gave it.
    pub role: Arc<Role>,
}

impl Identity {
    /// True if this service holds `g`.
    #[inline]
    pub fn has(&self, g: Grant) -> bool {
        self.role.has(g)
    }
}

impl fmt::Display for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (role {})", self.subject, self.role.name)
    }
}

/// The operator's policy.
#[derive(Clone, Debug)]
pub struct Policy {
    roles: BTreeMap<String, Arc<Role>>,
    assignments: BTreeMap<Subject, String>,
    reserved_names: BTreeMap<String, Subject>,
    start: Option<(String, String)>,
}

/// Name of the role every service gets unless the policy says otherwise.
pub const ORDINARY_ROLE: &str = "service";
/// Name of the built-in role with every grant.
pub const SYSTEM_ROLE: &str = "system";
/// Name of the built-in role of skyhold's gate: it forwards client packets
/// (PTYPE_CLIENT, shown from the client tag) to agents.
pub const GATE_ROLE: &str = "gate";

/// Services that get the system role by default: skyhold's own boot services.
pub const SYSTEM_SCRIPTS: &[&str] = &[
    "bootstrap",
    "launcher",
    "service_mgr",
    "cdummy",
    "datacenterd",
    "multicastd",
    "sharedatad",
    "service_provider",
];

/// Name of the built-in role of skynet's `debug_console`.
pub const CONSOLE_ROLE: &str = "console";

/// What the console may do by default: retire services for a logged-in
/// operator (`kill`, `exit`, `killtask`), read the operator credentials it
/// checks logins against (secret config keys), and `setenv`. Running code
/// in another service (`inject`, `debug`) is not among them: the operator's
/// policy adds `debug_run` to this role to allow it.
pub const CONSOLE_GRANTS: &[Grant] = &[Grant::Kill, Grant::ReadSecrets, Grant::SetEnv];

/// The script the console role is given to.
pub const CONSOLE_SCRIPT: &str = "debug_console";

/// Names reserved for skyhold's own services by default.
pub const SYSTEM_NAMES: &[(&str, &str)] = &[
    (".launcher", "launcher"),
    (".service", "service_mgr"),
    (".cslave", "cdummy"),
    (".datacenter", "datacenterd"),
    (".multicastd", "multicastd"),
];

impl Default for Policy {
    fn default() -> Self {
        let mut p = Policy {
            roles: BTreeMap::new(),
            assignments: BTreeMap::new(),
            reserved_names: BTreeMap::new(),
            start: None,
        };
        p.define_role(Role::new(ORDINARY_ROLE, []));
        p.define_role(Role::new(SYSTEM_ROLE, Grant::all()).with_limits(RoleLimits::UNLIMITED));
        p.define_role(Role::new(
            GATE_ROLE,
            [Grant::Redirect, Grant::Send(ptype::CLIENT)],
        ));
        p.assign(Subject::Script("gate".into()), GATE_ROLE)
            .expect("gate role exists");
        p.assign(Subject::Native("gate".into()), GATE_ROLE)
            .expect("gate role exists");
        p.define_role(Role::new(CONSOLE_ROLE, CONSOLE_GRANTS.iter().copied()));
        p.assign(Subject::Script(CONSOLE_SCRIPT.into()), CONSOLE_ROLE)
            .expect("console role exists");
        for s in SYSTEM_SCRIPTS {
            p.assign(Subject::Script((*s).to_string()), SYSTEM_ROLE)
                .expect("system role exists");
        }
        p.assign(Subject::Native("logger".into()), SYSTEM_ROLE)
            .expect("system role exists");
        for (name, script) in SYSTEM_NAMES {
            p.reserve_name(name, Subject::Script((*script).to_string()));
        }
        // The cluster service's name: a service that took it first would
        // see every cluster call of the node.
        p.reserve_name(".clusterd", Subject::Native("clusterd".into()));
        p
    }
}

impl Policy {
    /// Adds or replaces a role. The `system` role keeps no limits whatever
    /// it is given: skyhold's boot services start services on others'
    /// behalf, and refusing them would refuse everyone.
    pub fn define_role(&mut self, mut role: Role) {
        if role.name == SYSTEM_ROLE {
            role.limits = RoleLimits::UNLIMITED;
        }
        self.roles.insert(role.name.clone(), Arc::new(role));
    }

    /// Gives `role` to `subject`. The role must exist.
    pub fn assign(&mut self, subject: Subject, role: &str) -> Result<(), String> {
        if !self.roles.contains_key(role) {
            return Err(format!(
                "policy: {subject} is given role '{role}', which is not defined"
            ));
        }
        self.assignments.insert(subject, role.to_string());
        Ok(())
    }

    /// Reserves a local name for one subject: no one else may register it.
    pub fn reserve_name(&mut self, name: &str, subject: Subject) {
        self.reserved_names.insert(name.to_string(), subject);
    }

    /// The subject a name is reserved for, if any.
    pub fn reserved_for(&self, name: &str) -> Option<&Subject> {
        self.reserved_names.get(name)
    }

    /// True if the policy gives `subject` a role of its own.
    pub fn assigned(&self, subject: &Subject) -> bool {
        self.assignments.contains_key(subject)
    }

    /// Gives `role` to the one service the boot starts from `script` (the
    /// config's `start`): not to other services that run the same script,
    /// which a script name alone cannot tell apart. The role must exist.
    pub fn give_start(&mut self, script: &str, role: &str) -> Result<(), String> {
        if !self.roles.contains_key(role) {
            return Err(format!(
                "policy: the start service is given role '{role}', which is not defined"
            ));
        }
        self.start = Some((script.to_string(), role.to_string()));
        Ok(())
    }

    /// The role for the start service, if `script` is the start script and
    /// the policy names no role for the script itself.
    pub fn start_role(&self, script: &str) -> Option<&str> {
        match &self.start {
            Some((s, role)) if s == script => Some(role),
            _ => None,
        }
    }

    /// The identity of the one start service: its subject is its script,
    /// its role the start role (the ordinary one if none was given).
    pub fn identity_for_start(&self, script: &str) -> Identity {
        let subject = Subject::Script(script.to_string());
        match self.start_role(script).and_then(|r| self.roles.get(r)) {
            Some(role) => Identity {
                subject,
                role: role.clone(),
            },
            None => self.identity_for(subject),
        }
    }

    /// A role by name.
    pub fn role(&self, name: &str) -> Option<Arc<Role>> {
        self.roles.get(name).cloned()
    }

    /// The identity a new service running `subject` gets.
    pub fn identity_for(&self, subject: Subject) -> Identity {
        let role = self
            .assignments
            .get(&subject)
            .and_then(|r| self.roles.get(r))
            .or_else(|| self.roles.get(ORDINARY_ROLE))
            .cloned()
            .unwrap_or_else(|| Arc::new(Role::new(ORDINARY_ROLE, [])));
        Identity { subject, role }
    }

    /// The roles, for reports.
    pub fn roles(&self) -> impl Iterator<Item = &Arc<Role>> {
        self.roles.values()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_services_send_ordinary_types_only() {
        let p = Policy::default();
        let id = p.identity_for(Subject::Script("agent".into()));
        assert_eq!(id.role.name, ORDINARY_ROLE);
        for t in [
            ptype::TEXT,
            ptype::RESPONSE,
            ptype::ERROR,
            ptype::LUA,
            ptype::SNAX,
            ptype::DEBUG,
            ptype::TRACE,
            100,
        ] {
            assert!(id.role.may_send(t), "type {t}");
        }
        for t in [
            ptype::CLIENT,
            ptype::SYSTEM,
            ptype::HARBOR,
            ptype::MULTICAST,
            ptype::SOCKET,
            ptype::QUEUE,
        ] {
            assert!(!id.role.may_send(t), "type {t}");
        }
        assert!(!id.has(Grant::Kill));
        assert!(!id.has(Grant::Redirect));
    }

    #[test]
    fn socket_type_is_never_grantable() {
        let r = Role::new(
            "x",
            [Grant::Send(ptype::SOCKET), Grant::Send(ptype::CLIENT)],
        );
        assert!(!r.may_send(ptype::SOCKET));
        assert!(r.may_send(ptype::CLIENT));
        assert!(!Role::new("sys", Grant::all()).may_send(ptype::SOCKET));
    }

    #[test]
    fn system_scripts_get_the_system_role() {
        let p = Policy::default();
        let id = p.identity_for(Subject::Script("launcher".into()));
        assert!(id.has(Grant::Kill));
        assert_eq!(
            p.reserved_for(".launcher"),
            Some(&Subject::Script("launcher".into()))
        );
    }

    #[test]
    fn the_console_may_kill_but_not_run_code_in_others_by_default() {
        let p = Policy::default();
        let id = p.identity_for(Subject::Script(CONSOLE_SCRIPT.into()));
        assert_eq!(id.role.name, CONSOLE_ROLE);
        assert!(id.has(Grant::Kill) && id.has(Grant::ReadSecrets));
        assert!(!id.has(Grant::DebugRun));
        assert!(!id.has(Grant::Abort));
        assert!(!id.has(Grant::LaunchFor));
    }

    #[test]
    fn grants_parse_and_print_the_same() {
        for g in Grant::all() {
            assert_eq!(Grant::parse(&g.to_string()), Some(g), "{g}");
        }
        assert_eq!(Grant::parse("send:socket"), None);
        assert_eq!(Grant::parse("everything"), None);
    }

    #[test]
    fn the_system_role_is_never_limited() {
        let mut p = Policy::default();
        let id = p.identity_for(Subject::Script("launcher".into()));
        assert_eq!(id.role.limits, RoleLimits::UNLIMITED);
        assert!(id.has(Grant::LaunchFor));
        // Not even when a policy redefines it with limits of its own.
        let tight = RoleLimits {
            spawn_rate: RoleLimit::Set(1),
            ..RoleLimits::default()
        };
        p.define_role(Role::new(SYSTEM_ROLE, Grant::all()).with_limits(tight));
        let id = p.identity_for(Subject::Script("bootstrap".into()));
        assert_eq!(id.role.limits, RoleLimits::UNLIMITED);
        // An ordinary service has the node's limits and may not launch for others.
        let id = p.identity_for(Subject::Script("agent".into()));
        assert_eq!(id.role.limits, RoleLimits::default());
        assert!(!id.has(Grant::LaunchFor));
    }

    #[test]
    fn role_limits_resolve_against_the_node() {
        assert_eq!(RoleLimit::Node.over(100), Some(100));
        assert_eq!(RoleLimit::Set(5).over(100), Some(5));
        assert_eq!(RoleLimit::Unlimited.over(100), None);
        assert!(!RoleLimit::Node.raises(100));
        assert!(!RoleLimit::Set(100).raises(100));
        assert!(!RoleLimit::Set(5).raises(100));
        assert!(RoleLimit::Set(101).raises(100));
        assert!(RoleLimit::Unlimited.raises(100));
    }

    #[test]
    fn the_start_role_is_for_the_start_instance_only() {
        let mut p = Policy::default();
        p.define_role(Role::new("start", [Grant::Kill]));
        assert!(p.give_start("main", "nope").is_err());
        p.give_start("main", "start").unwrap();
        assert_eq!(p.identity_for_start("main").role.name, "start");
        // Another service from the same script is ordinary.
        let other = p.identity_for(Subject::Script("main".into()));
        assert_eq!(other.role.name, ORDINARY_ROLE);
        assert_eq!(p.start_role("agent"), None);
    }

    #[test]
    fn assigning_an_undefined_role_fails_loudly() {
        let mut p = Policy::default();
        let e = p.assign(Subject::Script("gm".into()), "admin").unwrap_err();
        assert!(e.contains("admin"));
    }
}
