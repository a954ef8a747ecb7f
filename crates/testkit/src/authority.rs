//! A throwaway certificate authority for cluster tests and the bench: a
//! CA, node certificates signed by it, and the config keys that give a
//! node one of them. skyhold's cluster links are mutually authenticated
//! TLS, so every two-node test needs one.

use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A directory of PEM files: `ca.pem`, and `<name>.pem` / `<name>.key` for
/// every node certificate issued.
pub struct Authority {
    /// Where the PEM files are.
    pub dir: PathBuf,
    issuer: Issuer<'static, KeyPair>,
}

fn err(what: &str) -> impl Fn(rcgen::Error) -> String + '_ {
    move |e| format!("certificates: {what}: {e}")
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))
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
        Authority::create(dir).unwrap()
    }

    /// A fresh authority in `dir` (made if missing), or why not: the bench
    /// reports a failure rather than panicking.
    pub fn create(dir: PathBuf) -> Result<Authority, String> {
        std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let key = KeyPair::generate().map_err(err("CA key"))?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err("CA"))?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).map_err(err("CA"))?;
        write(&dir.join("ca.pem"), &cert.pem())?;
        Ok(Authority {
            dir,
            issuer: Issuer::new(params, key),
        })
    }

    /// Issues a certificate naming `name`, written as `<file>.pem/.key`.
    pub fn issue(&self, file: &str, name: &str) {
        self.issue_for(file, &[name]);
    }

    /// Issues a certificate naming each of `names` (a node the map knows
    /// by several names).
    pub fn issue_for(&self, file: &str, names: &[&str]) {
        self.try_issue_for(file, names).unwrap();
    }

    /// Issues a certificate naming each of `names`, good for both ends of a
    /// link (server and client auth), or says why not.
    pub fn try_issue_for(&self, file: &str, names: &[&str]) -> Result<(), String> {
        let key = KeyPair::generate().map_err(err(file))?;
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).map_err(err(file))?;
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        let cert = params.signed_by(&key, &self.issuer).map_err(err(file))?;
        write(&self.dir.join(format!("{file}.pem")), &cert.pem())?;
        write(&self.dir.join(format!("{file}.key")), &key.serialize_pem())
    }

    /// The config keys that give a node the identity `file`.
    pub fn keys(&self, file: &str) -> Vec<(String, String)> {
        self.identity(file)
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect()
    }

    /// The same keys, named by static strings (as the bench's config
    /// writer takes them).
    pub fn identity(&self, file: &str) -> [(&'static str, String); 3] {
        let p = |f: String| self.dir.join(f).display().to_string();
        [
            ("cluster_cert", p(format!("{file}.pem"))),
            ("cluster_key", p(format!("{file}.key"))),
            ("cluster_ca", p("ca.pem".into())),
        ]
    }
}

impl Drop for Authority {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
