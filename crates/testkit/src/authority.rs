//! Two-node tests: a throwaway certificate authority, node certificates
//! signed by it, and nodes booted in this process with their logs in memory.

#![allow(dead_code)]

use parking_lot::Mutex;
use rcgen::{BasicConstraints, CertificateParams, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair};
use skyhold_core::{LogTarget, Node};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A directory of PEM files: `ca.pem`, and `<name>.pem` / `<name>.key` for
/// every node certificate issued.
pub struct Authority {
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

/// Polls `f` until it holds or `limit` passes; false on a timeout.
pub fn wait(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while !f() {
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    true
}

/// A node booted for a test, with its log.
pub struct TestNode {
    pub node: Node,
    pub log: Arc<Mutex<Vec<String>>>,
}

impl TestNode {
    /// Boots a node whose start service is `<dir>/<start>.lua`.
    pub fn boot(dir: &Path, start: &str, extra: &[(String, String)]) -> TestNode {
        let mut env: BTreeMap<String, String> = [
            ("thread", "2".to_string()),
            ("harbor", "0".to_string()),
            ("start", start.to_string()),
            ("luaservice", format!("{}/?.lua", dir.display())),
            ("lua_path", format!("{}/?.lua", dir.display())),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        for (k, v) in extra {
            env.insert(k.clone(), v.clone());
        }
        let mut settings = skyhold::settings(env, dir).expect("settings");
        let log = Arc::new(Mutex::new(Vec::new()));
        settings.node.log = LogTarget::Memory(log.clone());
        let node = skyhold::boot(settings).expect("boot");
        TestNode { node, log }
    }

    /// Waits for a line containing `part`; returns it.
    pub fn wait_for(&self, part: &str, limit: Duration) -> Option<String> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(l) = self.log.lock().iter().find(|l| l.contains(part)) {
                return Some(l.clone());
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The port the start service announced with `LISTEN <port>`.
    pub fn listen_port(&self) -> u16 {
        let line = self
            .wait_for("LISTEN ", Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no LISTEN line; log:\n{}", self.dump()));
        line.rsplit("LISTEN ")
            .next()
            .and_then(|p| p.trim().parse().ok())
            .expect("a port after LISTEN")
    }

    /// Waits for PASS or FAIL and panics with the log unless it passed.
    pub fn expect_pass(&self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let (pass, fail) = {
                let log = self.log.lock();
                (
                    log.iter().any(|l| l.contains("PASS")),
                    log.iter()
                        .any(|l| l.contains("FAIL") || l.contains("init service failed")),
                )
            };
            if fail || (!pass && Instant::now() > deadline) {
                panic!("{what} did not pass; its log:\n{}", self.dump());
            }
            if pass {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// True once a line contains every part.
    pub fn logged_all(&self, parts: &[&str]) -> bool {
        self.log
            .lock()
            .iter()
            .any(|l| parts.iter().all(|p| l.contains(p)))
    }

    /// Waits up to five seconds for a line containing every part (the
    /// logger writes its lines asynchronously).
    pub fn eventually(&self, parts: &[&str]) -> bool {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.logged_all(parts) {
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// The whole log, for failure messages.
    pub fn dump(&self) -> String {
        self.log.lock().join("\n")
    }
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.node.shutdown();
    }
}
