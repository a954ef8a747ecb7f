//! A throwaway certificate authority for cluster tests and the bench: a
//! CA, node certificates signed by it, and the config keys that give a
//! node one of them. skyhold's cluster links are mutually authenticated
//! TLS, so every two-node test needs one.

use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};

/// A directory of PEM files: `ca.pem`, and `<name>.pem` / `<name>.key` for
/// every node certificate issued.
pub struct Authority {
    /// Where the PEM files are.
    pub dir: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

impl Authority {
    /// A fresh authority in a fresh directory named after `tag`.
    pub fn new(tag: &str) -> Authority {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "skyhold-cluster-{tag}-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).unwrap();
        std::fs::write(dir.join("ca.pem"), cert.pem()).unwrap();
        Authority {
            dir,
            issuer: Issuer::new(params, key),
        }
    }

    /// Issues a certificate naming `name`, written as `<file>.pem/.key`.
    pub fn issue(&self, file: &str, name: &str) {
        self.issue_for(file, &[name]);
    }

    /// Issues a certificate naming each of `names` (a node the map knows
    /// by several names).
    pub fn issue_for(&self, file: &str, names: &[&str]) {
        let key = KeyPair::generate().unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        std::fs::write(self.dir.join(format!("{file}.pem")), cert.pem()).unwrap();
        std::fs::write(self.dir.join(format!("{file}.key")), key.serialize_pem()).unwrap();
    }

    /// The config keys that give a node the identity `file`.
    pub fn keys(&self, file: &str) -> Vec<(String, String)> {
        let p = |f: String| self.dir.join(f).display().to_string();
        vec![
            ("cluster_cert".into(), p(format!("{file}.pem"))),
            ("cluster_key".into(), p(format!("{file}.key"))),
            ("cluster_ca".into(), p("ca.pem".into())),
        ]
    }
}

impl Drop for Authority {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
