//! skynet.db.redis.cluster against a real Redis Cluster: three
//! `redis-server --cluster-enabled yes` masters on free loopback ports (and
//! free cluster-bus ports), joined by `redis-cli --cluster create`.

use super::servers::{free_port, require, wait_listening, Guarded, TempDir};
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// Three masters sharing the 16384 slots, stopped on drop.
pub struct RedisCluster {
    /// Their ports on 127.0.0.1.
    pub ports: Vec<u16>,
    procs: Vec<Option<Guarded>>,
    argvs: Vec<Vec<String>>,
    _dir: TempDir,
}

impl RedisCluster {
    /// Starts the masters and creates the cluster (None when redis-server
    /// or redis-cli is missing: the test skips).
    pub fn start() -> Option<RedisCluster> {
        let bins = require(&["redis-server", "redis-cli"])?;
        let (server, cli) = (&bins[0], &bins[1]);
        let dir = TempDir::new("rcluster");
        let mut ports = Vec::new();
        let mut procs = Vec::new();
        let mut argvs = Vec::new();
        for i in 0..3 {
            let port = free_port();
            let node_dir = dir.path().join(format!("n{i}"));
            std::fs::create_dir_all(&node_dir).expect("node dir");
            let argv: Vec<String> = vec![
                server.display().to_string(),
                "--port".into(),
                port.to_string(),
                // the bus port is given: port + 10000 may pass 65535
                "--cluster-port".into(),
                free_port().to_string(),
                "--bind".into(),
                "127.0.0.1".into(),
                "--dir".into(),
                node_dir.display().to_string(),
                "--cluster-enabled".into(),
                "yes".into(),
                "--cluster-config-file".into(),
                node_dir.join("nodes.conf").display().to_string(),
                // long: a master stopped for a moment is not failed over
                "--cluster-node-timeout".into(),
                "30000".into(),
                "--save".into(),
                String::new(),
                "--appendonly".into(),
                "no".into(),
            ];
            let log = node_dir.join("redis.log");
            procs.push(Some(Guarded::spawn(&argv, &log)));
            wait_listening(port, Duration::from_secs(20), &log);
            ports.push(port);
            argvs.push(argv);
        }
        let mut create = Command::new(cli);
        create.arg("--cluster").arg("create");
        for p in &ports {
            create.arg(format!("127.0.0.1:{p}"));
        }
        let out = create.arg("--cluster-yes").output().expect("run redis-cli");
        assert!(
            out.status.success(),
            "redis-cli --cluster create failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let c = RedisCluster {
            ports,
            procs,
            argvs,
            _dir: dir,
        };
        c.wait_ok(cli);
        Some(c)
    }

    /// Stops master `i` (its cluster config stays).
    pub fn stop(&mut self, i: usize) {
        if let Some(mut p) = self.procs[i].take() {
            p.stop();
        }
    }

    /// Starts master `i` again, with the same port and cluster config.
    pub fn restart(&mut self, i: usize) {
        self.stop(i);
        let log = self._dir.path().join(format!("n{i}/redis.log"));
        self.procs[i] = Some(Guarded::spawn(&self.argvs[i], &log));
        wait_listening(self.ports[i], Duration::from_secs(20), &log);
    }

    /// Waits until every node says the cluster is up.
    fn wait_ok(&self, cli: &PathBuf) {
        let end = Instant::now() + Duration::from_secs(30);
        for p in &self.ports {
            loop {
                let out = Command::new(cli)
                    .args(["-p", &p.to_string(), "cluster", "info"])
                    .output()
                    .expect("run redis-cli");
                let text = String::from_utf8_lossy(&out.stdout);
                if text.contains("cluster_state:ok") {
                    break;
                }
                assert!(
                    Instant::now() < end,
                    "the cluster did not come up on port {p}:\n{text}"
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// Commands spread over the masters, hash tags, keyslot against the
/// server's CLUSTER KEYSLOT, MOVED after a flushed or wrong slot map (and
/// the map fetched again), ASK while a slot migrates, a slot moved for
/// good, eval, pipelines on one slot, pub/sub, and the commands that
/// cannot be routed.
#[test]
fn redis_cluster() {
    let Some(c) = RedisCluster::start() else {
        return;
    };
    let ports: Vec<String> = c.ports.iter().map(u16::to_string).collect();
    super::check("rcluster", &[("rcluster_ports", ports.join(" "))]);
}

/// A master goes away: commands for its slots fail after a bounded number
/// of tries ("Too many Cluster redirections"), the other masters keep
/// serving, and once it is back its cached connection reconnects.
#[test]
fn redis_cluster_node_down() {
    let Some(mut c) = RedisCluster::start() else {
        return;
    };
    let ports: Vec<String> = c.ports.iter().map(u16::to_string).collect();
    let node = super::boot("rcluster_down", &[("rcluster_ports", ports.join(" "))]);
    assert!(
        node.wait_for("READY", Duration::from_secs(30)).is_some(),
        "no READY; log:\n{}",
        node.dump()
    );
    c.stop(2);
    assert!(
        node.wait_for("SAW DOWN", Duration::from_secs(30)).is_some(),
        "the service saw no error while a master was down; log:\n{}",
        node.dump()
    );
    c.restart(2);
    super::expect_pass(&node, "rcluster_down", Duration::from_secs(60));
}

/// A fake cluster node's reply to one request: a slot map naming itself
/// (ending at slot `last`), or by the key: a redirection out of range, or
/// one back to itself for ever.
fn fake_node_reply(req: &str, port: u16, last: u32) -> String {
    if req.to_uppercase().contains("SLOTS") {
        return format!("*1\r\n*3\r\n:0\r\n:{last}\r\n*2\r\n$9\r\n127.0.0.1\r\n:{port}\r\n");
    }
    if req.contains("PING") {
        return "+PONG\r\n".into();
    }
    if req.contains("SELECT") {
        return "+OK\r\n".into();
    }
    let key = req.trim_end().rsplit("\r\n").next().unwrap_or("");
    match key {
        "badslot" => "-MOVED 99999999 127.0.0.1:1\r\n".into(),
        "badport" => "-MOVED 5 127.0.0.1:99999\r\n".into(),
        "loop" => format!("-MOVED 5 127.0.0.1:{port}\r\n"),
        _ => "$2\r\nok\r\n".into(),
    }
}

/// A node that answers as [`fake_node_reply`] does.
fn fake_node(last: u32) -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    let me = std::sync::Arc::new(AtomicU16::new(0));
    let seen = me.clone();
    let port = super::fake::serve(move |mut s| loop {
        let req = super::fake::read_some(&mut s);
        if req.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&req);
        let reply = fake_node_reply(&text, seen.load(Ordering::SeqCst), last);
        super::fake::write(&mut s, reply.as_bytes());
    });
    me.store(port, Ordering::SeqCst);
    port
}

/// Redirections a real cluster would not send: out of range (a clear
/// error), and back to the same node for ever (given up after 16 tries);
/// a slot map with a slot out of range is not taken.
#[test]
fn redis_cluster_malformed() {
    let good = fake_node(16383);
    let bad = fake_node(70000);
    super::check(
        "rcluster_malformed",
        &[
            ("rcluster_good", good.to_string()),
            ("rcluster_bad", bad.to_string()),
        ],
    );
}
