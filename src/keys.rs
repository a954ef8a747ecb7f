//! What the node says at boot about its config keys: the keys skynet reads
//! that skyhold does not honour (and why), and the keys hidden from
//! services because their names look like credentials.

use std::collections::{BTreeMap, BTreeSet};

/// Keys skynet reads that skyhold ignores, with why. `standalone`,
/// `master` and `address` are reported together (see [`harbor_note`]).
pub const IGNORED_KEYS: &[(&str, &str)] = &[
    (
        "cpath",
        "skyhold loads no native modules; C services are built in",
    ),
    ("lua_cpath", "skyhold's Lua sandbox loads no C modules"),
    ("daemon", "run skyhold under a service manager instead"),
    (
        "lualoader",
        "skyhold loads Lua services with its own sandboxed loader",
    ),
    (
        "enablessl",
        "skyhold has no ltls module; cluster links are TLS (cluster_cert, cluster_key, cluster_ca)",
    ),
];

/// The keys of skynet's harbor network, which skyhold does not run.
const HARBOR_KEYS: &[&str] = &["standalone", "master", "address"];

/// One line for a config with a harbor network (`harbor` ≠ 0, or any of
/// `standalone`, `master`, `address`): skyhold runs the node alone.
pub fn harbor_note(env: &BTreeMap<String, String>, harbor: u8) -> Option<String> {
    let present: Vec<&str> = HARBOR_KEYS
        .iter()
        .copied()
        .filter(|k| env.contains_key(*k))
        .collect();
    if present.is_empty() {
        return None;
    }
    Some(format!(
        "config harbor = {harbor} with {}: skyhold runs this node alone (no master, no harbor links), \
         so those keys are ignored and global names (skynet.name without '.') work within this node; \
         use the cluster for more nodes",
        present.join(", ")
    ))
}

/// Words that make a key name look like a credential: `db_password`,
/// `api_token`, `jwt-secret`, `auth`, `private_key`.
const CREDENTIAL_WORDS: &[&str] = &[
    "password",
    "passwd",
    "passphrase",
    "pwd",
    "secret",
    "secrets",
    "token",
    "tokens",
    "credential",
    "credentials",
    "auth",
    "apikey",
    "private",
];

/// `key` alone is too common a word (`sort_key`, `redis_key_prefix`); it
/// makes a credential after one of these.
const KEY_QUALIFIERS: &[&str] = &[
    "api",
    "access",
    "private",
    "secret",
    "signing",
    "encryption",
    "session",
    "master",
];

/// True if `name` looks like the name of a credential.
pub fn looks_like_credential(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    if words == ["key"] {
        return true;
    }
    words.iter().any(|w| CREDENTIAL_WORDS.contains(w))
        || words
            .windows(2)
            .any(|p| p[1] == "key" && KEY_QUALIFIERS.contains(&p[0]))
}

/// The keys of `env` hidden because of their names: those that look like
/// credentials, except skyhold's own keys (`own`, read by the binary, such
/// as `cluster_key`, a path) and those the operator lists in `public_keys`.
pub fn hidden_by_name(env: &BTreeMap<String, String>, own: &BTreeSet<&str>) -> Vec<String> {
    let public: BTreeSet<&str> = env
        .get("public_keys")
        .map(|s| list(s).collect())
        .unwrap_or_default();
    env.keys()
        .filter(|k| !own.contains(k.as_str()) && !public.contains(k.as_str()))
        .filter(|k| !k.starts_with("secret_") && looks_like_credential(k))
        .cloned()
        .collect()
}

/// The note that says which keys are hidden by name and how to change it.
pub fn hidden_note(hidden: &[String]) -> Option<String> {
    if hidden.is_empty() {
        return None;
    }
    Some(format!(
        "config keys {} look like credentials: only services the policy grants read_secrets may read them; \
         list any that are not in public_keys = \"key1,key2\"",
        hidden.join(", ")
    ))
}

/// The names in a list written `a,b c;d`.
pub fn list(s: &str) -> impl Iterator<Item = &str> {
    s.split([',', ';', ' ']).filter(|k| !k.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_names() {
        for k in [
            "db_password",
            "PASSWD",
            "api_token",
            "jwt-secret",
            "auth",
            "redis_auth",
            "private_key",
            "api_key",
            "apikey",
            "key",
            "login_credentials",
        ] {
            assert!(looks_like_credential(k), "{k}");
        }
        for k in [
            "sort_key",
            "keys",
            "author",
            "keyfile",
            "max_players",
            "passenger_limit",
            "tokenizer",
        ] {
            assert!(!looks_like_credential(k), "{k}");
        }
    }

    #[test]
    fn own_and_public_keys_stay_readable() {
        let env: BTreeMap<String, String> = [
            ("cluster_key", "node.key"),
            ("db_password", "x"),
            ("db_password_hint", "ask bob"),
            ("public_keys", "db_password_hint"),
            ("secret_api", "y"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let own = BTreeSet::from(["cluster_key"]);
        assert_eq!(hidden_by_name(&env, &own), vec!["db_password".to_string()]);
        let note = hidden_note(&hidden_by_name(&env, &own)).unwrap();
        assert!(note.contains("db_password") && note.contains("public_keys"));
        assert!(hidden_note(&[]).is_none());
    }

    #[test]
    fn harbor_keys_are_one_line() {
        let env: BTreeMap<String, String> = [("standalone", "0.0.0.0:2013"), ("master", "x")]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let n = harbor_note(&env, 1).unwrap();
        assert!(n.contains("standalone, master") && !n.contains('\n'));
        assert!(harbor_note(&BTreeMap::new(), 1).is_none());
    }
}
