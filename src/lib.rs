//! skyhold: run a node from a skynet-style config.
//!
//! [`boot`] turns the config's keys into the core's settings, registers the
//! Lua host, and launches the `bootstrap` service, which starts the launcher,
//! the service manager and then the `start` service — as skynet boots.
#![forbid(unsafe_code)]

pub mod config;
pub mod keys;
pub mod native;
pub mod policy_file;
pub mod stdin_console;

use skyhold_core::{Grant, Limits, LogTarget, Node, NodeConfig, Policy, Role, Subject};
use skyhold_lua::paths::SearchPath;
use skyhold_lua::LuaConfig;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The role the `start` service gets when the policy gives it none.
pub const START_ROLE: &str = "start";

/// What the start service may do unless the policy says otherwise: the
/// operator's everyday powers.
pub const START_GRANTS: &[Grant] = &[
    Grant::Abort,
    Grant::Kill,
    Grant::DebugRun,
    Grant::ClusterAdmin,
];

/// skyhold's own config keys besides the limits': read by the binary,
/// never guessed to be credentials.
const OWN_KEYS: &[&str] = &[
    "policy",
    "secret_keys",
    "public_keys",
    "lua_pin",
    "lua_pin_strict",
    "lua_memory_limit",
    "lua_instruction_budget",
    "lua_time_limit",
    "lua_warm_states",
    "lua_shared_code",
    "lua_on_limit",
    "metrics",
    "metrics_max_services",
    "dashboard_rows",
    "logpath",
    "console_stdin",
    "console_max_line",
];

/// Where skyhold's own `lualib/` and `service/` are: `SKYHOLD_ROOT`, else a
/// parent of the executable that has them, else the source tree it was
/// built from.
pub fn skyhold_root() -> PathBuf {
    if let Ok(r) = std::env::var("SKYHOLD_ROOT") {
        return PathBuf::from(r);
    }
    if let Ok(exe) = std::env::current_exe() {
        for dir in exe.ancestors().skip(1) {
            if dir.join("lualib/skynet.lua").is_file()
                && dir.join("service/bootstrap.lua").is_file()
            {
                return dir.to_path_buf();
            }
        }
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Everything needed to start a node, read from a config.
pub struct Settings {
    /// The core's settings.
    pub node: NodeConfig,
    /// The Lua host's settings.
    pub lua: LuaConfig,
    /// The first service (`bootstrap`), as `module args`.
    pub bootstrap: String,
    /// Socket limits.
    pub net: skyhold_net::NetLimits,
    /// The cluster's identity, trusted peers and limits.
    pub cluster: skyhold_cluster::ClusterConfig,
    /// The TLS settings built from that identity, if it has one.
    pub cluster_tls: Option<skyhold_cluster::tls::Tls>,
    /// The metrics endpoint and dashboard (config key `metrics`), if on.
    pub ops: Option<skyhold_ops::OpsConfig>,
    /// skynet's stdin console (`console_stdin`, `console_max_line`); the
    /// binary sets `read_stdin`.
    pub console: stdin_console::ConsoleConfig,
    /// Notes for the operator (keys that are ignored, and why).
    pub warnings: Vec<String>,
    /// How long SIGTERM waits for the services to retire before stopping
    /// the node where it is (config `shutdown_grace`, seconds, default 10).
    pub shutdown_grace: std::time::Duration,
}

/// The default of `shutdown_grace`, in seconds.
pub const SHUTDOWN_GRACE: u64 = 10;

fn parse_num<T: std::str::FromStr>(
    env: &BTreeMap<String, String>,
    key: &str,
    default: T,
) -> Result<T, String> {
    match env.get(key) {
        None => Ok(default),
        Some(v) => v
            .trim()
            .parse()
            .map_err(|_| format!("config key {key}: '{v}' is not a number")),
    }
}

/// Turns config keys into settings. `base` is the config file's directory,
/// against which a relative `policy` path is read.
pub fn settings(env: BTreeMap<String, String>, base: &Path) -> Result<Settings, String> {
    let mut warnings = Vec::new();
    for (key, why) in keys::IGNORED_KEYS {
        if env.contains_key(*key) {
            warnings.push(format!("config key {key} is ignored: {why}"));
        }
    }
    if let Some(other) = env.get("logservice").filter(|l| *l != "logger") {
        warnings.push(format!(
            "config key logservice = {other} is ignored: skyhold's logger is built in"
        ));
    }
    let threads: usize = parse_num(&env, "thread", 8)?;
    let harbor: u8 = parse_num(&env, "harbor", 1)?;
    let mut env = env;
    if let Some(note) = keys::harbor_note(&env, harbor) {
        warnings.push(note);
        // The boot sets `standalone` to "true" for a node on its own, as
        // skynet's bootstrap does for harbor 0; the config's address for a
        // master that will not run must not stop it ("Can't setenv exist key").
        env.remove("standalone");
    }
    let mut limits = Limits::default();
    for key in Limits::KEYS {
        if let Some(v) = env.get(*key) {
            limits.set(key, v)?;
        }
    }
    let mut net = skyhold_net::NetLimits::default();
    for key in skyhold_net::NetLimits::KEYS {
        if let Some(v) = env.get(*key) {
            net.set(key, v)?;
        }
    }
    // A watchdog starts an agent for each connection the gate accepts, and
    // must not meet the spawn limits: unless they are set, they keep up with
    // a socket_accept_rate raised past their defaults (which are set for
    // the default accept rate; see Limits::default).
    let accepts = usize::try_from(net.accepts_per_second).unwrap_or(usize::MAX);
    if !env.contains_key("spawn_rate") {
        limits.spawn_rate = limits.spawn_rate.max(accepts);
    }
    if !env.contains_key("spawn_burst") {
        limits.spawn_burst = limits.spawn_burst.max(accepts.saturating_mul(2));
    }
    let mut cluster = skyhold_cluster::ClusterConfig::default();
    for key in skyhold_cluster::ClusterConfig::KEYS {
        if let Some(v) = env.get(*key) {
            cluster.set(key, v, base)?;
        }
    }
    // Read once, here: a broken identity stops the node with the file it
    // is about, rather than leaving it without a cluster.
    let cluster_tls = skyhold_cluster::tls::Tls::load(&cluster.identity)?;
    cluster.map_reader = Some(Arc::new(|path: &Path| {
        config::load(path).map_err(|e| e.to_string())
    }));
    let mut policy = match env.get("policy") {
        Some(p) => policy_file::load(&base.join(p))?,
        None => Policy::default(),
    };
    // The start service is the operator's: in skynet projects it is where
    // the node is run from — it changes the cluster map, kills, hotfixes
    // and ends the node (`skynet.abort()` at the end of `main`). Those
    // powers belong to the one instance the boot starts, not to every
    // service of its script, nor to the services it starts; a policy that
    // names a role for the script, or defines the `start` role, decides
    // instead.
    let start_script = env.get("start").cloned().unwrap_or_else(|| "main".into());
    if !policy.assigned(&Subject::Script(start_script.clone())) {
        if policy.role(START_ROLE).is_none() {
            policy.define_role(Role::new(START_ROLE, START_GRANTS.iter().copied()));
        }
        policy.give_start(&start_script, START_ROLE)?;
    }
    let log = match env.get("logger") {
        Some(path)
            if env
                .get("logservice")
                .map(String::as_str)
                .unwrap_or("logger")
                == "logger" =>
        {
            LogTarget::File(PathBuf::from(path))
        }
        _ => LogTarget::Stdout,
    };
    let grace: u64 = parse_num(&env, "shutdown_grace", SHUTDOWN_GRACE)?;
    if !(1..=3600).contains(&grace) {
        return Err(format!(
            "config key shutdown_grace = {grace}: must be 1..3600 seconds"
        ));
    }
    let shutdown_grace = std::time::Duration::from_secs(grace);
    let log_format = match env.get("log_format") {
        Some(v) => skyhold_core::LogFormat::parse(v)?,
        None => skyhold_core::LogFormat::Text,
    };
    let mut secret_keys: Vec<String> = env
        .get("secret_keys")
        .map(|s| keys::list(s).map(str::to_string).collect())
        .unwrap_or_default();
    // Keys named like credentials are secret too, unless listed in
    // `public_keys`; skyhold's own keys (cluster_key is a path the binary
    // reads) are not guessed at.
    let own: std::collections::BTreeSet<&str> = Limits::KEYS
        .iter()
        .chain(skyhold_net::NetLimits::KEYS)
        .chain(skyhold_cluster::ClusterConfig::KEYS)
        .chain(skyhold_lua::files::FileRoots::KEYS)
        .chain(OWN_KEYS)
        .copied()
        .collect();
    let hidden = keys::hidden_by_name(&env, &own);
    if let Some(note) = keys::hidden_note(&hidden) {
        warnings.push(note);
    }
    secret_keys.extend(hidden);
    let root = skyhold_root();
    let mut lua = LuaConfig::with_root(&root);
    let own_services = lua.luaservice.templates().join(";");
    let own_lib = lua.lua_path.templates().join(";");
    lua.luaservice = SearchPath::parse(&format!(
        "{own_services};{}",
        env.get("luaservice")
            .map(String::as_str)
            .unwrap_or("./service/?.lua")
    ));
    lua.lua_path = SearchPath::parse(&format!(
        "{own_lib};{}",
        env.get("lua_path")
            .map(String::as_str)
            .unwrap_or("./lualib/?.lua;./lualib/?/init.lua")
    ));
    lua.preload = env.get("preload").map(PathBuf::from);
    if let Some(v) = env.get("lua_memory_limit") {
        lua.sandbox.memory_limit = v
            .parse()
            .map_err(|_| format!("config key lua_memory_limit: '{v}' is not a number"))?;
    }
    if let Some(v) = env.get("lua_instruction_budget") {
        lua.sandbox.instruction_budget = v
            .parse()
            .map_err(|_| format!("config key lua_instruction_budget: '{v}' is not a number"))?;
    }
    if let Some(v) = env.get("lua_time_limit") {
        let secs: f64 = v
            .parse()
            .ok()
            .filter(|s: &f64| s.is_finite() && *s >= 0.0)
            .ok_or_else(|| {
                format!("config key lua_time_limit: '{v}' is not a number of seconds (0: none)")
            })?;
        lua.sandbox.time_limit = std::time::Duration::from_secs_f64(secs.min(1e9));
    }
    if let Some(v) = env.get("lua_warm_states") {
        lua.warm_states = v
            .parse()
            .map_err(|_| format!("config key lua_warm_states: '{v}' is not a number"))?;
    }
    match env.get("lua_shared_code").map(String::as_str) {
        None | Some("true") => {}
        Some("false") => lua.shared_code = false,
        Some(other) => {
            return Err(format!(
                "config key lua_shared_code: '{other}' is neither true nor false"
            ))
        }
    }
    match env.get("lua_on_limit").map(String::as_str) {
        None | Some("fail") => {}
        Some("retire") => lua.sandbox.retire_on_limit = true,
        Some(other) => {
            return Err(format!(
                "config key lua_on_limit: '{other}' is not one of fail, retire"
            ))
        }
    }
    let roots = Arc::new(file_roots(&env, base)?);
    lua.sandbox.files = Some(roots.clone());
    let service_log = service_log_place(roots, env.get("logpath").cloned(), &mut warnings);
    if let Some(manifest) = env.get("lua_pin") {
        let strict = env.get("lua_pin_strict").is_some_and(|v| v == "true");
        lua.pins = Arc::new(skyhold_lua::pins::Pins::load(&base.join(manifest), strict)?);
    }
    let profile = match env.get("profile").map(String::as_str) {
        None | Some("true") => true,
        Some("false") => false,
        Some(other) => {
            return Err(format!(
                "config key profile: '{other}' is not true or false"
            ))
        }
    };
    let ops = skyhold_ops::OpsConfig::from_env(&env)?;
    let console = stdin_console::ConsoleConfig::from_env(&env)?;
    let bootstrap = env
        .get("bootstrap")
        .cloned()
        .unwrap_or_else(|| "snlua bootstrap".into());
    let mut full_env = env;
    full_env
        .entry("thread".into())
        .or_insert_with(|| threads.to_string());
    full_env
        .entry("harbor".into())
        .or_insert_with(|| harbor.to_string());
    full_env
        .entry("bootstrap".into())
        .or_insert_with(|| bootstrap.clone());
    full_env
        .entry("start".into())
        .or_insert_with(|| "main".into());
    Ok(Settings {
        node: NodeConfig {
            threads,
            harbor,
            limits,
            policy,
            env: full_env,
            secret_keys,
            log,
            log_format,
            profile,
            service_log,
            ..NodeConfig::default()
        },
        lua,
        bootstrap,
        net,
        cluster,
        cluster_tls,
        ops,
        console,
        warnings,
        shutdown_grace,
    })
}

/// The file roots services may reach (`file_read_roots`, `file_write_root`,
/// relative to the config file's directory), and their limits. Relative
/// paths services name are taken against the node's working directory, as
/// in skynet.
fn file_roots(
    env: &BTreeMap<String, String>,
    base: &Path,
) -> Result<skyhold_lua::files::FileRoots, String> {
    let mut roots = skyhold_lua::files::FileRoots::from_config(
        env.get("file_read_roots").map(String::as_str),
        env.get("file_write_root").map(String::as_str),
        base,
        &skyhold_lua::files::process_dir(),
    )?;
    for key in ["file_dns", "file_max_open", "file_max_read"] {
        if let Some(v) = env.get(key) {
            roots.set(key, v)?;
        }
    }
    Ok(roots)
}

/// Where `logon` opens a service's message log (skynet's
/// `<logpath>/<handle>.log`): under the file write root only, in `logpath`
/// if set (a directory under it) or the root itself. Without a write root
/// there is no place, and `logon` says why; a `logpath` that cannot be
/// used is said at boot too.
fn service_log_place(
    roots: Arc<skyhold_lua::files::FileRoots>,
    logpath: Option<String>,
    warnings: &mut Vec<String>,
) -> skyhold_core::msglog::LogPlace {
    if let Err(e) = roots.log_dir(logpath.as_deref()) {
        if !roots.has_write_root() {
            if logpath.is_some() {
                warnings.push(format!("config key logpath: logon will be refused: {e}"));
            }
            return Err(e);
        }
        // The directory may yet be made; each logon looks again.
        warnings.push(format!(
            "config key logpath: {e}; logon is refused until it can be used"
        ));
    }
    Ok(Arc::new(move |h: skyhold_core::Handle| {
        roots.open_log(logpath.as_deref(), &format!("{:08x}.log", h.0))
    }))
}

/// Starts a node from settings and launches its bootstrap service.
pub fn boot(s: Settings) -> Result<Node, String> {
    let node = Node::start(s.node)?;
    // Said once, in the node's log, where the operator reads the rest.
    for w in &s.warnings {
        node.handle()
            .log(skyhold_core::Handle::SYSTEM, &format!("skyhold: {w}"));
    }
    let sockets = skyhold_net::SocketServer::launch(node.handle(), s.net)?;
    let retiring = sockets.clone();
    node.handle()
        .on_retire(Arc::new(move |h| retiring.release_owner(h)));
    let gate_sockets = sockets.clone();
    node.register_module(
        "gate",
        skyhold_core::Module {
            factory: Arc::new(move |args: &str| {
                let gate = skyhold_net::gate::Gate::new(gate_sockets.clone(), args)
                    .map_err(|e| e.to_string())?;
                Ok(Box::new(gate) as Box<dyn skyhold_core::Service>)
            }),
            script_host: false,
            // Any service may start a gate, as any may listen; what the gate
            // may do is its role's (see policy.rs).
            ordinary: true,
            reports_memory: false,
        },
    );
    let cluster = Arc::new(parking_lot::Mutex::new(Some((s.cluster, s.cluster_tls))));
    node.register_module(
        "clusterd",
        skyhold_core::Module {
            factory: Arc::new(move |_args: &str| {
                let (config, tls) = cluster.lock().take().ok_or("clusterd runs once per node")?;
                Ok(Box::new(skyhold_cluster::Clusterd::new(config, tls))
                    as Box<dyn skyhold_core::Service>)
            }),
            script_host: false,
            ordinary: false,
            reports_memory: false,
        },
    );
    node.launch("clusterd", "")
        .map_err(|e| format!("clusterd: {e}"))?;
    let mut lua = s.lua;
    lua.modules.push((
        "skynet.socketdriver".into(),
        skyhold_net::socketdriver::module(sockets.clone()),
    ));
    lua.modules.extend(native::modules());
    lua.modules.push((
        stdin_console::MODULE.into(),
        stdin_console::module(s.console),
    ));
    let warm = skyhold_lua::register(&node, Arc::new(lua));
    if let Some(ops) = s.ops {
        let at = skyhold_ops::start(&node, ops, skyhold_ops::Parts { sockets, warm })?;
        node.handle().log(
            skyhold_core::Handle::SYSTEM,
            &format!("skyhold: metrics at http://{at}/metrics, dashboard at http://{at}/"),
        );
    }
    let (module, args) = s
        .bootstrap
        .split_once(' ')
        .unwrap_or((s.bootstrap.as_str(), ""));
    node.launch(module, args)
        .map_err(|e| format!("bootstrap: {e}"))?;
    Ok(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_string(), (*v).to_string()))
            .collect()
    }

    #[test]
    fn keys_skyhold_cannot_honour_are_reported() {
        let s = settings(
            env(&[
                ("cpath", "./cservice/?.so"),
                ("lua_cpath", "./luaclib/?.so"),
            ]),
            Path::new("."),
        )
        .unwrap();
        assert!(s.warnings.iter().any(|w| w.contains("cpath")));
        assert!(s.warnings.iter().any(|w| w.contains("lua_cpath")));
    }

    #[test]
    fn limits_come_from_config_keys_and_bad_values_are_named() {
        let s = settings(
            env(&[
                ("thread", "3"),
                ("max_timers", "77"),
                ("socket_max_per_ip", "5"),
            ]),
            Path::new("."),
        )
        .unwrap();
        assert_eq!(s.node.threads, 3);
        assert_eq!(s.node.limits.max_timers, 77);
        assert_eq!(s.net.max_connections_per_ip, 5);
        let e = settings(env(&[("max_timers", "many")]), Path::new("."))
            .err()
            .unwrap();
        assert!(e.contains("max_timers"), "{e}");
        let e = settings(env(&[("thread", "x")]), Path::new("."))
            .err()
            .unwrap();
        assert!(e.contains("thread"), "{e}");
        let e = settings(env(&[("lua_on_limit", "ignore")]), Path::new("."))
            .err()
            .unwrap();
        assert!(e.contains("lua_on_limit"), "{e}");
        let s = settings(env(&[("lua_on_limit", "retire")]), Path::new(".")).unwrap();
        assert!(s.lua.sandbox.retire_on_limit);
        let s = settings(env(&[]), Path::new(".")).unwrap();
        assert_eq!(s.lua.sandbox.time_limit, std::time::Duration::from_secs(30));
        let s = settings(env(&[("lua_time_limit", "2.5")]), Path::new(".")).unwrap();
        assert_eq!(
            s.lua.sandbox.time_limit,
            std::time::Duration::from_millis(2500)
        );
        for bad in ["-1", "x", "inf"] {
            let e = settings(env(&[("lua_time_limit", bad)]), Path::new("."))
                .err()
                .unwrap();
            assert!(e.contains("lua_time_limit"), "{e}");
        }
        let s = settings(env(&[]), Path::new(".")).unwrap();
        assert_eq!(s.lua.warm_states, skyhold_lua::warm::DEFAULT_WARM_STATES);
        let s = settings(env(&[("lua_warm_states", "0")]), Path::new(".")).unwrap();
        assert_eq!(s.lua.warm_states, 0);
        assert!(s.lua.shared_code, "on by default");
        let s = settings(env(&[("lua_shared_code", "false")]), Path::new(".")).unwrap();
        assert!(!s.lua.shared_code);
        let e = settings(env(&[("lua_shared_code", "no")]), Path::new("."))
            .err()
            .unwrap();
        assert!(e.contains("lua_shared_code"), "{e}");
        let e = settings(env(&[("lua_warm_states", "-1")]), Path::new("."))
            .err()
            .unwrap();
        assert!(e.contains("lua_warm_states"), "{e}");
    }

    #[test]
    fn spawn_and_memory_limits_come_from_config_keys() {
        let s = settings(
            env(&[
                ("spawn_rate", "50"),
                ("spawn_burst", "70"),
                ("lua_memory_total", "1073741824"),
            ]),
            Path::new("."),
        )
        .unwrap();
        let l = &s.node.limits;
        assert_eq!((l.spawn_rate, l.spawn_burst), (50, 70));
        assert_eq!(l.lua_memory_total, 1 << 30);
        for key in ["spawn_rate", "spawn_burst", "lua_memory_total"] {
            let e = settings(env(&[(key, "0")]), Path::new(".")).err().unwrap();
            assert!(e.contains(key), "{e}");
        }
    }

    #[test]
    fn a_watchdog_at_the_gates_accept_rate_never_meets_the_spawn_limit() {
        // The gate admits up to socket_accept_rate accepts in each fixed
        // one-second window, so two windows' worth can arrive together at
        // a boundary: the spawn burst must hold both, and the rate keep up.
        let spawn = Limits::default();
        let accept = u64::from(skyhold_net::NetLimits::default().accepts_per_second);
        assert!(spawn.spawn_rate as u64 >= accept);
        assert!(spawn.spawn_burst as u64 >= 2 * accept);
        // Nor at an accept rate the config raises, unless it sets the
        // spawn limits itself; a lower one leaves them as they are.
        let s = settings(env(&[("socket_accept_rate", "5000")]), Path::new(".")).unwrap();
        assert_eq!(
            (s.node.limits.spawn_rate, s.node.limits.spawn_burst),
            (5000, 10_000)
        );
        let s = settings(env(&[("socket_accept_rate", "10")]), Path::new(".")).unwrap();
        assert_eq!(s.node.limits.spawn_rate, spawn.spawn_rate);
        assert_eq!(s.node.limits.spawn_burst, spawn.spawn_burst);
        let s = settings(
            env(&[("socket_accept_rate", "5000"), ("spawn_rate", "7")]),
            Path::new("."),
        )
        .unwrap();
        assert_eq!(
            (s.node.limits.spawn_rate, s.node.limits.spawn_burst),
            (7, 10_000)
        );
    }

    #[test]
    fn file_roots_come_from_config_keys_relative_to_the_config() {
        let dir = std::env::temp_dir().join(format!("skyhold-lib-files-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("proto")).unwrap();
        std::fs::create_dir_all(dir.join("var")).unwrap();
        let s = settings(
            env(&[
                ("file_read_roots", "proto"),
                ("file_write_root", "var"),
                ("file_max_open", "5"),
                ("file_dns", "true"),
            ]),
            &dir,
        )
        .unwrap();
        let roots = s.lua.sandbox.files.unwrap();
        assert!(roots.any());
        assert_eq!(roots.max_open, 5);
        assert!(roots.open_read(&dir, b"proto/../var").is_ok());
        let s = settings(env(&[]), &dir).unwrap();
        assert!(!s.lua.sandbox.files.unwrap().any());
        for (k, v) in [
            ("file_read_roots", "missing"),
            ("file_write_root", "missing"),
            ("file_max_read", "0"),
        ] {
            let e = settings(env(&[(k, v)]), &dir).err().unwrap();
            assert!(e.contains(k), "{e}");
        }
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn skyholds_own_libraries_come_first() {
        let s = settings(env(&[("lua_path", "./mine/?.lua")]), Path::new(".")).unwrap();
        let t = s.lua.lua_path.templates();
        assert!(t[0].ends_with("lualib/?.lua"), "{t:?}");
        assert_eq!(t.last().unwrap(), "./mine/?.lua");
    }
}
