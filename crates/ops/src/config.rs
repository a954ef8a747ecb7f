//! The endpoint's config keys:
//!
//! - `metrics = "127.0.0.1:9100"`: where it listens (absent: it does not
//!   run). Port 0 takes any free port; the node's log says which.
//! - `metrics_max_services = 30`: how many services get series of their
//!   own; the rest are summed into `service="other"`.
//! - `dashboard_rows = 200`: how many services the dashboard's table lists
//!   (deepest mailbox first); its data says how many were left out.
//!
//! On a loopback address everything it serves may be read without a
//! login. On any other address every request needs HTTP Basic credentials
//! of an operator login the debug console also takes
//! (`secret_console_users`, `secret_console_password`/`console_user`), and
//! without any configured the node refuses to start, saying why.

use skyhold_lua::console_module::{parse_users, PASSWORD_KEY, USERS_KEY, USER_KEY};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// The key of the address.
pub const METRICS_KEY: &str = "metrics";
/// The key of the per-service series cap.
pub const MAX_SERVICES_KEY: &str = "metrics_max_services";
/// The key of the dashboard's table size.
pub const DASHBOARD_ROWS_KEY: &str = "dashboard_rows";
/// The config keys this crate reads (besides the console's credentials).
pub const KEYS: &[&str] = &[METRICS_KEY, MAX_SERVICES_KEY, DASHBOARD_ROWS_KEY];

/// Services the dashboard's table lists unless `dashboard_rows` says.
pub const DEFAULT_DASHBOARD_ROWS: usize = 200;

/// The most `dashboard_rows` may be.
pub const MAX_DASHBOARD_ROWS: usize = 10_000;

/// Services with series of their own unless `metrics_max_services` says.
pub const DEFAULT_MAX_SERVICES: usize = 30;

/// The most `metrics_max_services` may be.
pub const MAX_MAX_SERVICES: usize = 10_000;

/// The endpoint's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpsConfig {
    /// Where to listen.
    pub address: SocketAddr,
    /// Services with series of their own.
    pub max_services: usize,
    /// Services the dashboard's table lists.
    pub dashboard_rows: usize,
    /// Operator logins (`user`, `password`); required off loopback.
    pub users: Vec<(String, String)>,
}

impl OpsConfig {
    /// True if only this host can reach the endpoint.
    pub fn loopback(&self) -> bool {
        self.address.ip().is_loopback()
    }

    /// The settings the config keys give: `None` without `metrics`; an
    /// error naming the key for a bad value, and for a non-loopback address
    /// without operator logins.
    pub fn from_env(env: &BTreeMap<String, String>) -> Result<Option<OpsConfig>, String> {
        let Some(text) = env.get(METRICS_KEY) else {
            return Ok(None);
        };
        let address = resolve(text.trim())
            .map_err(|why| format!("config key {METRICS_KEY} = {text}: {why}"))?;
        let max_services = match env.get(MAX_SERVICES_KEY) {
            None => DEFAULT_MAX_SERVICES,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if n <= MAX_MAX_SERVICES => n,
                _ => {
                    return Err(format!(
                        "config key {MAX_SERVICES_KEY}: '{v}' is not a number from 0 to {MAX_MAX_SERVICES}"
                    ))
                }
            },
        };
        let dashboard_rows = match env.get(DASHBOARD_ROWS_KEY) {
            None => DEFAULT_DASHBOARD_ROWS,
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) if (1..=MAX_DASHBOARD_ROWS).contains(&n) => n,
                _ => {
                    return Err(format!(
                        "config key {DASHBOARD_ROWS_KEY}: '{v}' is not a number from 1 to {MAX_DASHBOARD_ROWS}"
                    ))
                }
            },
        };
        let user = env.get(USER_KEY).map(String::as_str).unwrap_or("admin");
        let password = env.get(PASSWORD_KEY).map(|p| (user, p.as_str()));
        let config = OpsConfig {
            address,
            max_services,
            dashboard_rows,
            users: Vec::new(),
        };
        let users = match parse_users(env.get(USERS_KEY).map(String::as_str), password) {
            Ok(u) => u,
            Err(why) if !config.loopback() => {
                return Err(format!(
                    "config key {METRICS_KEY} = {text}: refusing to listen off loopback: {why}"
                ))
            }
            // On loopback nothing needs a login; the console reports the
            // malformed key itself.
            Err(_) => Vec::new(),
        };
        if !config.loopback() && users.is_empty() {
            return Err(format!(
                "config key {METRICS_KEY} = {text}: refusing to listen on a non-loopback address \
                 without operator logins: set {USERS_KEY} = \"user:password,...\" or {PASSWORD_KEY} \
                 (scrapers then send them as HTTP Basic credentials), or listen on 127.0.0.1"
            ));
        }
        Ok(Some(OpsConfig { users, ..config }))
    }
}

/// `host:port` (a name resolves to its first address; `localhost` is loopback).
fn resolve(text: &str) -> Result<SocketAddr, String> {
    if let Ok(a) = text.parse::<SocketAddr>() {
        return Ok(a);
    }
    if let Ok(port) = text.parse::<u16>() {
        // A bare port: loopback, as the key's default promises.
        return Ok(SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port));
    }
    let Some((host, port)) = text.rsplit_once(':') else {
        return Err("not host:port".into());
    };
    let port: u16 = port
        .parse()
        .map_err(|_| format!("'{port}' is not a port"))?;
    (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .next()
        .ok_or_else(|| format!("no address for {host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn absent_means_off_and_loopback_needs_no_login() {
        assert_eq!(OpsConfig::from_env(&env(&[])).unwrap(), None);
        let c = OpsConfig::from_env(&env(&[("metrics", "127.0.0.1:9100")]))
            .unwrap()
            .unwrap();
        assert!(c.loopback());
        assert_eq!(c.max_services, DEFAULT_MAX_SERVICES);
        assert_eq!(c.dashboard_rows, DEFAULT_DASHBOARD_ROWS);
        let c = OpsConfig::from_env(&env(&[("metrics", "9100")]))
            .unwrap()
            .unwrap();
        assert_eq!(c.address, "127.0.0.1:9100".parse().unwrap());
        let c = OpsConfig::from_env(&env(&[("metrics", "localhost:0")]))
            .unwrap()
            .unwrap();
        assert!(c.loopback());
    }

    #[test]
    fn off_loopback_needs_logins_and_says_so() {
        let e = OpsConfig::from_env(&env(&[("metrics", "0.0.0.0:9100")])).unwrap_err();
        assert!(e.contains("non-loopback") && e.contains(USERS_KEY), "{e}");
        let c = OpsConfig::from_env(&env(&[
            ("metrics", "0.0.0.0:9100"),
            (USERS_KEY, "prom:scrape-me"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.users, vec![("prom".into(), "scrape-me".into())]);
        let e = OpsConfig::from_env(&env(&[("metrics", "0.0.0.0:9100"), (USERS_KEY, "broken")]))
            .unwrap_err();
        assert!(e.contains(USERS_KEY) && !e.contains("broken"), "{e}");
    }

    #[test]
    fn bad_values_name_their_key() {
        let e = OpsConfig::from_env(&env(&[("metrics", "nowhere")])).unwrap_err();
        assert!(e.contains("metrics"), "{e}");
        let e = OpsConfig::from_env(&env(&[
            ("metrics", "127.0.0.1:1"),
            (MAX_SERVICES_KEY, "lots"),
        ]))
        .unwrap_err();
        assert!(e.contains(MAX_SERVICES_KEY), "{e}");
        for bad in ["0", "10001", "many"] {
            let e = OpsConfig::from_env(&env(&[
                ("metrics", "127.0.0.1:1"),
                (DASHBOARD_ROWS_KEY, bad),
            ]))
            .unwrap_err();
            assert!(e.contains(DASHBOARD_ROWS_KEY), "{bad}: {e}");
        }
        let c = OpsConfig::from_env(&env(&[
            ("metrics", "127.0.0.1:1"),
            (DASHBOARD_ROWS_KEY, "7"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(c.dashboard_rows, 7);
    }
}
