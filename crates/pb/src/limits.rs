//! The limits `pb` and `protobuf.c` apply, from the node's config: how deep
//! messages may nest and how many bytes one encoding may build. A service's
//! state gets them when it first requires either module (as app data);
//! a state with none (tests, tools) uses the defaults. Every call a limit
//! stops is counted in the audit log under [`ACTION_PB`] or [`ACTION_PBC`]
//! (the metrics endpoint shows the counts), with a line naming the key to
//! change.

use mlua::Lua;
use std::sync::Arc;

/// Config key: how deep `pb` messages nest when encoded or decoded, and
/// descriptors when `pb.load` reads them.
pub const MAX_DEPTH_KEY: &str = "pb_max_depth";
/// Config key: the most bytes one `pb.encode` (or `pb.buffer` pack) builds.
pub const MAX_BYTES_KEY: &str = "pb_max_bytes";
/// Config key: how deep `protobuf.c` sub-messages nest when written, and
/// descriptors when `_env_register` reads them.
pub const PBC_MAX_DEPTH_KEY: &str = "pbc_max_depth";
/// Config key: the most bytes one `protobuf.c` message being written holds.
pub const PBC_MAX_BYTES_KEY: &str = "pbc_max_bytes";
/// Default nesting for both modules.
pub const DEFAULT_MAX_DEPTH: usize = 100;
/// Default size for both modules: 256 MiB.
pub const DEFAULT_MAX_BYTES: usize = 256 << 20;
/// The deepest a config may ask for: encoding and decoding recurse on the
/// worker's stack, so a larger value acts as this one.
pub const DEPTH_CEILING: usize = 1000;
/// Audit action of a refusal by a `pb` limit.
pub const ACTION_PB: &str = "pb_limit";
/// Audit action of a refusal by a `protobuf.c` limit.
pub const ACTION_PBC: &str = "pbc_limit";

/// Reports a refusal: (audit action, why).
pub type Report = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// The limits of one state.
#[derive(Clone)]
pub struct Limits {
    /// `pb_max_depth`.
    pub depth: usize,
    /// `pb_max_bytes`.
    pub bytes: usize,
    /// `pbc_max_depth`.
    pub pbc_depth: usize,
    /// `pbc_max_bytes`.
    pub pbc_bytes: usize,
    report: Option<Report>,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            depth: DEFAULT_MAX_DEPTH,
            bytes: DEFAULT_MAX_BYTES,
            pbc_depth: DEFAULT_MAX_DEPTH,
            pbc_bytes: DEFAULT_MAX_BYTES,
            report: None,
        }
    }
}

impl Limits {
    /// The limits a config gives (`getenv` reads a key); a missing, zero
    /// or unreadable value is the default.
    pub fn from_config(getenv: impl Fn(&str) -> Option<String>, report: Option<Report>) -> Limits {
        let num = |k: &str, d: usize| {
            getenv(k)
                .and_then(|v| v.trim().parse::<usize>().ok())
                .filter(|n| *n > 0)
                .unwrap_or(d)
        };
        Limits {
            depth: num(MAX_DEPTH_KEY, DEFAULT_MAX_DEPTH).min(DEPTH_CEILING),
            bytes: num(MAX_BYTES_KEY, DEFAULT_MAX_BYTES),
            pbc_depth: num(PBC_MAX_DEPTH_KEY, DEFAULT_MAX_DEPTH).min(DEPTH_CEILING),
            pbc_bytes: num(PBC_MAX_BYTES_KEY, DEFAULT_MAX_BYTES),
            report,
        }
    }

    /// Gives `lua` these limits, unless it has some already.
    pub fn install(self, lua: &Lua) {
        if lua.app_data_ref::<Limits>().is_none() {
            lua.set_app_data(self);
        }
    }
}

/// The limits of `lua` (the defaults if it has none).
pub fn of(lua: &Lua) -> Limits {
    lua.app_data_ref::<Limits>()
        .map(|l| (*l).clone())
        .unwrap_or_default()
}

/// Counts a refusal by limit `key` in `lua`'s service: `action` is
/// [`ACTION_PB`] or [`ACTION_PBC`], `what` says what was stopped.
pub fn refused(lua: &Lua, action: &str, key: &str, what: &str) {
    let report = lua.app_data_ref::<Limits>().and_then(|l| l.report.clone());
    if let Some(r) = report {
        r(action, &format!("{what} (config {key})"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parking_lot::Mutex;

    #[test]
    fn config_values_defaults_and_ceiling() {
        let l = Limits::from_config(|_| None, None);
        assert_eq!((l.depth, l.bytes), (DEFAULT_MAX_DEPTH, DEFAULT_MAX_BYTES));
        let l = Limits::from_config(
            |k| match k {
                MAX_DEPTH_KEY => Some("5000".into()),
                MAX_BYTES_KEY => Some(" 1024 ".into()),
                PBC_MAX_DEPTH_KEY => Some("0".into()),
                PBC_MAX_BYTES_KEY => Some("lots".into()),
                _ => None,
            },
            None,
        );
        assert_eq!(l.depth, DEPTH_CEILING);
        assert_eq!(l.bytes, 1024);
        assert_eq!(l.pbc_depth, DEFAULT_MAX_DEPTH);
        assert_eq!(l.pbc_bytes, DEFAULT_MAX_BYTES);
    }

    #[test]
    fn refusals_reach_the_report_once_installed() {
        let seen: Arc<Mutex<Vec<String>>> = Arc::default();
        let s = seen.clone();
        let lua = Lua::new();
        refused(&lua, ACTION_PB, MAX_DEPTH_KEY, "not counted: no limits yet");
        Limits::from_config(
            |_| None,
            Some(Arc::new(move |a: &str, w: &str| {
                s.lock().push(format!("{a}: {w}"))
            })),
        )
        .install(&lua);
        refused(&lua, ACTION_PB, MAX_DEPTH_KEY, "too deep");
        assert_eq!(
            *seen.lock(),
            vec!["pb_limit: too deep (config pb_max_depth)".to_string()]
        );
    }
}
