//! What the config says about TLS, read once when a service first requires
//! `ltls.c`:
//!
//! - `certfile`, `keyfile` (skynet's keys): the only files `set_cert` may
//!   read. A service names them (as skynet's examples do, with
//!   `skynet.getenv "certfile"`), but a path the config does not give is
//!   refused, so a service cannot read other files through `set_cert`.
//! - `tls_ca`: a PEM file of the authorities a client trusts; without it,
//!   the system's bundle (`/etc/ssl/certs/ca-certificates.crt`).
//! - `tls_verify = false`: a client accepts any server certificate, as
//!   skynet's client does. The default verifies the certificate and the
//!   server's name (or address).

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use std::path::Path;

/// The system's bundle of authorities, used when `tls_ca` is not set.
pub const SYSTEM_CA: &str = "/etc/ssl/certs/ca-certificates.crt";

/// TLS settings from the config.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settings {
    /// Paths `set_cert` may read (the values of `certfile` and `keyfile`).
    pub allowed: Vec<String>,
    /// The authorities a client trusts (`tls_ca`).
    pub ca: Option<String>,
    /// Whether a client checks the server's certificate (`tls_verify`).
    pub verify: bool,
}

impl Settings {
    /// Settings from a config lookup.
    pub fn from_env(get: impl Fn(&str) -> Option<String>) -> Settings {
        let allowed = ["certfile", "keyfile"]
            .iter()
            .filter_map(|k| get(k))
            .filter(|v| !v.is_empty())
            .collect();
        let verify = !matches!(
            get("tls_verify").as_deref().map(str::trim),
            Some("false" | "0" | "no" | "off")
        );
        Settings {
            allowed,
            ca: get("tls_ca").filter(|v| !v.is_empty()),
            verify,
        }
    }

    /// Refuses a path the config does not name.
    pub fn check(&self, path: &str) -> Result<(), String> {
        if self.allowed.iter().any(|a| a == path) {
            Ok(())
        } else {
            Err(format!(
                "ltls: '{path}' is not a file the config names (set certfile and keyfile in the config)"
            ))
        }
    }
}

/// Reads a certificate chain from a PEM file.
pub fn read_chain(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(Path::new(path))
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("ltls: certificate file {path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!(
            "ltls: certificate file {path}: no certificate in it"
        ));
    }
    Ok(certs)
}

/// Reads a private key from a PEM file.
pub fn read_key(path: &str) -> Result<PrivateKeyDer<'static>, String> {
    PrivateKeyDer::from_pem_file(Path::new(path))
        .map_err(|e| format!("ltls: private key file {path}: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let m: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| m.get(k).cloned()
    }

    #[test]
    fn only_configured_paths_pass() {
        let s = Settings::from_env(env(&[("certfile", "/a.pem"), ("keyfile", "/a.key")]));
        assert!(s.check("/a.pem").is_ok());
        assert!(s.check("/a.key").is_ok());
        let e = s.check("/etc/shadow").unwrap_err();
        assert!(e.contains("not a file the config names"), "{e}");
        assert!(s.verify);
        let none = Settings::from_env(env(&[]));
        assert!(none.check("./server-cert.pem").is_err());
    }

    #[test]
    fn verification_can_be_turned_off() {
        for off in ["false", "0", "no", " off "] {
            assert!(!Settings::from_env(env(&[("tls_verify", off)])).verify);
        }
        assert!(Settings::from_env(env(&[("tls_verify", "true")])).verify);
        let s = Settings::from_env(env(&[("tls_ca", "/ca.pem")]));
        assert_eq!(s.ca.as_deref(), Some("/ca.pem"));
    }

    #[test]
    fn unreadable_files_say_which() {
        let e = read_chain("/nonexistent/x.pem").unwrap_err();
        assert!(e.contains("/nonexistent/x.pem"), "{e}");
        let e = read_key("/nonexistent/x.key").unwrap_err();
        assert!(e.contains("/nonexistent/x.key"), "{e}");
    }
}
