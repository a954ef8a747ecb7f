//! Mutually authenticated TLS between nodes.
//!
//! Every node holds a certificate, signed by the cluster's own authority
//! (`cluster_ca`), whose DNS name is its node name in the cluster map. A
//! node that connects to `db` checks that the other end is `db`; a node
//! that accepts checks that the other end holds any certificate the
//! authority signed, and learns its name from it. skynet's cluster port has
//! no authentication at all (spec §7.7).

use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::config::Identity;

/// Both ends' TLS settings, built once from the identity files.
#[derive(Clone)]
pub struct Tls {
    /// For links this node opens.
    pub connector: tokio_rustls::TlsConnector,
    /// For links other nodes open.
    pub acceptor: tokio_rustls::TlsAcceptor,
}

fn read_certs(path: &Path, what: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("{what} {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{what} {}: no certificate in it", path.display()));
    }
    Ok(certs)
}

impl Tls {
    /// Reads the identity; `None` when none is configured. Half an
    /// identity is an error that names the missing key.
    pub fn load(id: &Identity) -> Result<Option<Tls>, String> {
        let (cert, key, ca) =
            match (&id.cert, &id.key, &id.ca) {
                (None, None, None) => return Ok(None),
                (Some(c), Some(k), Some(a)) => (c, k, a),
                _ => return Err(
                    "cluster: cluster_cert, cluster_key and cluster_ca go together; set all three"
                        .into(),
                ),
            };
        let chain = read_certs(cert, "cluster_cert")?;
        let key = PrivateKeyDer::from_pem_file(key)
            .map_err(|e| format!("cluster_key {}: {e}", key.display()))?;
        let mut roots = rustls::RootCertStore::empty();
        for c in read_certs(ca, "cluster_ca")? {
            roots
                .add(c)
                .map_err(|e| format!("cluster_ca {}: {e}", ca.display()))?;
        }
        let roots = Arc::new(roots);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let err = |e: rustls::Error| format!("cluster TLS: {e}");
        let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
            roots.clone(),
            provider.clone(),
        )
        .build()
        .map_err(|e| format!("cluster TLS: {e}"))?;
        let server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(err)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(err)?;
        let client = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(err)?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(err)?;
        Ok(Some(Tls {
            connector: tokio_rustls::TlsConnector::from(Arc::new(client)),
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(server)),
        }))
    }
}

/// The server name a node name is checked against.
pub fn server_name(node: &str) -> Result<ServerName<'static>, String> {
    ServerName::try_from(node.to_string()).map_err(|_| {
        format!("cluster: node name '{node}' is not a DNS name, so no certificate can name it")
    })
}

/// The node a verified peer certificate names: the first of `names` (the
/// node map) it is valid for, else the first DNS name in it. The cluster
/// authority signed it, so either is the authority's word.
pub fn peer_name<'a>(
    cert: &CertificateDer<'_>,
    names: impl IntoIterator<Item = &'a String>,
) -> Option<String> {
    let cert = webpki::EndEntityCert::try_from(cert).ok()?;
    let known = names.into_iter().find_map(|n| {
        let sn = ServerName::try_from(n.as_str()).ok()?;
        cert.verify_is_valid_for_subject_name(&sn)
            .is_ok()
            .then(|| n.clone())
    });
    known.or_else(|| {
        cert.valid_dns_names()
            .find(|n| !n.contains('*'))
            .map(str::to_string)
    })
}
