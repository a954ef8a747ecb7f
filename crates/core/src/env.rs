//! The config values services read with `getenv` and add with `setenv`,
//! and which of them are secret (readable only with `read_secrets`; the
//! check itself is the caller's, who knows who is asking).

use parking_lot::RwLock;
use std::collections::BTreeMap;

/// The node's config values and the rule that marks some of them secret.
pub(crate) struct Env {
    values: RwLock<BTreeMap<String, String>>,
    secret_keys: Vec<String>,
    secret_prefixes: Vec<String>,
}

impl Env {
    /// The values, with `secret_keys` and keys under `secret_prefixes` secret.
    pub(crate) fn new(
        values: BTreeMap<String, String>,
        secret_keys: Vec<String>,
        secret_prefixes: Vec<String>,
    ) -> Env {
        Env {
            values: RwLock::new(values),
            secret_keys,
            secret_prefixes,
        }
    }

    /// True if reading `key` needs `read_secrets`.
    pub(crate) fn is_secret(&self, key: &str) -> bool {
        self.secret_keys.iter().any(|k| k == key)
            || self
                .secret_prefixes
                .iter()
                .any(|p| key.starts_with(p.as_str()))
    }

    /// The value of `key`, whoever asks.
    pub(crate) fn get(&self, key: &str) -> Option<String> {
        self.values.read().get(key).cloned()
    }

    /// Adds a value; an existing key is an error (skynet's `setenv`).
    pub(crate) fn set(&self, key: &str, value: &str) -> Result<(), String> {
        let mut values = self.values.write();
        if values.contains_key(key) {
            return Err("Can't setenv exist key".to_string());
        }
        values.insert(key.to_string(), value.to_string());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys_and_prefixes_are_secret_and_set_keeps_existing_keys() {
        let env = Env::new(
            BTreeMap::from([("a".to_string(), "1".to_string())]),
            vec!["token".into()],
            vec!["secret_".into()],
        );
        assert!(env.is_secret("token") && env.is_secret("secret_db"));
        assert!(!env.is_secret("a") && !env.is_secret("tokens"));
        assert!(env.set("a", "2").is_err());
        assert_eq!(env.get("a").as_deref(), Some("1"));
        env.set("b", "3").unwrap();
        assert_eq!(env.get("b").as_deref(), Some("3"));
    }
}
