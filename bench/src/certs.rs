//! A throwaway certificate authority for the `cluster_call` benchmark:
//! skyhold's cluster links are mutually authenticated TLS, so each skyhold
//! node needs a certificate naming it, its key, and the CA that signs every
//! node (config keys `cluster_cert`, `cluster_key`, `cluster_ca`). skynet's
//! cluster is plain TCP and gets none of this.

use crate::node::path_str;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use std::path::{Path, PathBuf};

/// A directory holding `ca.pem` and `<node>.pem` / `<node>.key` for every
/// node; removed when dropped.
pub struct Certs {
    dir: PathBuf,
}

fn err(what: &str) -> impl Fn(rcgen::Error) -> String + '_ {
    move |e| format!("certificates: {what}: {e}")
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("write {}: {e}", path.display()))
}

impl Certs {
    /// A fresh CA in `dir` and a certificate for each of `nodes`, whose DNS
    /// name (subject alternative name) is the node's name in the cluster
    /// map, good for both ends of a link (server and client auth).
    pub fn make(dir: PathBuf, nodes: &[&str]) -> Result<Certs, String> {
        std::fs::create_dir_all(&dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
        let certs = Certs { dir };
        let ca_key = KeyPair::generate().map_err(err("CA key"))?;
        let mut ca = CertificateParams::new(Vec::<String>::new()).map_err(err("CA"))?;
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).map_err(err("CA"))?;
        write(&certs.dir.join("ca.pem"), &ca_cert.pem())?;
        let issuer = Issuer::new(ca, ca_key);
        for node in nodes {
            let key = KeyPair::generate().map_err(err(node))?;
            let mut params = CertificateParams::new(vec![node.to_string()]).map_err(err(node))?;
            params.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
            let cert = params.signed_by(&key, &issuer).map_err(err(node))?;
            write(&certs.dir.join(format!("{node}.pem")), &cert.pem())?;
            write(&certs.dir.join(format!("{node}.key")), &key.serialize_pem())?;
        }
        Ok(certs)
    }

    /// The config keys that give a node the identity `node`.
    pub fn keys(&self, node: &str) -> Vec<(&'static str, String)> {
        vec![
            (
                "cluster_cert",
                path_str(&self.dir.join(format!("{node}.pem"))),
            ),
            (
                "cluster_key",
                path_str(&self.dir.join(format!("{node}.key"))),
            ),
            ("cluster_ca", path_str(&self.dir.join("ca.pem"))),
        ]
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
