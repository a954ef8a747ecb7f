//! A throwaway certificate authority for the `cluster_call` benchmark:
//! skyhold's cluster links are mutually authenticated TLS, so each skyhold
//! node needs a certificate naming it, its key, and the CA that signs every
//! node (config keys `cluster_cert`, `cluster_key`, `cluster_ca`). skynet's
//! cluster is plain TCP and gets none of this. The certificates are made by
//! the tests' authority (`skyhold-testkit`), so the bench links what the
//! tests link.

use skyhold_testkit::Authority;
use std::path::PathBuf;

/// A directory holding `ca.pem` and `<node>.pem` / `<node>.key` for every
/// node; removed when dropped.
pub struct Certs {
    authority: Authority,
}

impl Certs {
    /// A fresh CA in `dir` and a certificate for each of `nodes`, whose DNS
    /// name (subject alternative name) is the node's name in the cluster
    /// map, good for both ends of a link (server and client auth).
    pub fn make(dir: PathBuf, nodes: &[&str]) -> Result<Certs, String> {
        let authority = Authority::create(dir)?;
        for node in nodes {
            authority.try_issue_for(node, &[node])?;
        }
        Ok(Certs { authority })
    }

    /// The config keys that give a node the identity `node`.
    pub fn keys(&self, node: &str) -> Vec<(&'static str, String)> {
        self.authority.identity(node).to_vec()
    }
}
