//! Certificates for the TLS tests: a CA and a server certificate for
//! `localhost` and 127.0.0.1, with distinct subject names (OpenSSL, which
//! curl uses, takes a leaf whose subject equals its issuer's for a
//! self-signed certificate).

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyPair,
};
use std::path::PathBuf;

/// A directory with `ca.pem`, `server.pem` and `server.key`; removed on
/// drop.
pub struct Certs {
    pub dir: PathBuf,
}

fn named(cn: &str, names: Vec<String>) -> CertificateParams {
    let mut p = CertificateParams::new(names).unwrap();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    p.distinguished_name = dn;
    p
}

impl Certs {
    pub fn new(tag: &str) -> Certs {
        let dir = std::env::temp_dir().join(format!("skyhold-web-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = named("skyhold web test CA", vec![]);
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let leaf = named("localhost", vec!["localhost".into(), "127.0.0.1".into()])
            .signed_by(&key, &issuer)
            .unwrap();
        std::fs::write(dir.join("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(dir.join("server.pem"), leaf.pem()).unwrap();
        std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
        Certs { dir }
    }

    /// The config keys: certfile, keyfile, tls_ca.
    pub fn keys(&self) -> Vec<(&'static str, String)> {
        let p = |f: &str| self.dir.join(f).display().to_string();
        vec![
            ("certfile", p("server.pem")),
            ("keyfile", p("server.key")),
            ("tls_ca", p("ca.pem")),
        ]
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
