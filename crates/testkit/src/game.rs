//! The example game server (`examples/config`) booted in this process on
//! a free port, and a client that speaks its 2-byte-length frames.

use parking_lot::Mutex;
use skyhold_core::{LogTarget, Node};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::boot::repo;
use crate::wait::wait_until;

/// The example game server, booted in-process on a free port.
pub struct Game {
    /// The node.
    pub node: Node,
    /// The port the gate listens on.
    pub port: u16,
    /// What it logged.
    pub log: Arc<Mutex<Vec<String>>>,
}

/// Boots `examples/config` with the gate on a free port and `extra` config.
pub fn game(extra: &[(&str, &str)]) -> Game {
    let root = repo();
    let config = root.join("examples/config");
    let mut env = skyhold::config::load(&config).expect("example config");
    env.insert("gate_port".into(), "0".into());
    for (k, v) in extra {
        env.insert((*k).to_string(), (*v).to_string());
    }
    // The example's paths are relative to the repository root.
    let abs = |p: &str| p.replace("./examples/", &format!("{}/examples/", root.display()));
    for key in ["luaservice", "lua_path"] {
        if let Some(v) = env.get(key).cloned() {
            env.insert(key.into(), abs(&v));
        }
    }
    let mut settings = skyhold::settings(env, &root.join("examples")).expect("settings");
    let log = Arc::new(Mutex::new(Vec::new()));
    settings.node.log = LogTarget::Memory(log.clone());
    let node = skyhold::boot(settings).expect("boot");
    let mut port = 0;
    assert!(
        wait_until(Duration::from_secs(10), || {
            for l in log.lock().iter() {
                if let Some(rest) = l.split("game server listening on ").nth(1) {
                    port = rest
                        .rsplit(':')
                        .next()
                        .and_then(|p| p.trim().parse().ok())
                        .unwrap_or(0);
                }
            }
            port != 0
        }),
        "the game server did not start: {:?}",
        log.lock()
    );
    Game { node, port, log }
}

/// A game client speaking 2-byte-length frames.
pub struct Client {
    /// The connection.
    pub stream: std::net::TcpStream,
}

impl Client {
    /// Connects from `from` (a loopback address) to the game.
    pub fn connect_from(from: &str, port: u16) -> std::io::Result<Client> {
        // std cannot bind before connect; a source address other than
        // 127.0.0.1 goes through a tokio socket.
        let stream = if from == "127.0.0.1" {
            std::net::TcpStream::connect(("127.0.0.1", port))?
        } else {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let s = rt.block_on(async {
                let sock = tokio::net::TcpSocket::new_v4()?;
                sock.bind(format!("{from}:0").parse().expect("address"))?;
                sock.connect(format!("127.0.0.1:{port}").parse().expect("address"))
                    .await
            })?;
            s.into_std()?
        };
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(Duration::from_secs(5)))?;
        Ok(Client { stream })
    }

    /// Connects from 127.0.0.1.
    pub fn connect(port: u16) -> std::io::Result<Client> {
        Client::connect_from("127.0.0.1", port)
    }

    /// Sends one frame.
    pub fn send(&mut self, text: &str) -> std::io::Result<()> {
        use std::io::Write;
        let mut f = (text.len() as u16).to_be_bytes().to_vec();
        f.extend_from_slice(text.as_bytes());
        self.stream.write_all(&f)
    }

    /// Reads one frame.
    pub fn recv(&mut self) -> std::io::Result<String> {
        use std::io::Read;
        let mut h = [0u8; 2];
        self.stream.read_exact(&mut h)?;
        let mut b = vec![0u8; usize::from(u16::from_be_bytes(h))];
        self.stream.read_exact(&mut b)?;
        Ok(String::from_utf8_lossy(&b).into_owned())
    }

    /// Reads frames until one contains `part`.
    pub fn expect(&mut self, part: &str) -> String {
        loop {
            let f = self
                .recv()
                .unwrap_or_else(|e| panic!("waiting for '{part}': {e}"));
            if f.contains(part) {
                return f;
            }
        }
    }

    /// True once the server has closed the connection (within 5 s).
    pub fn closed_by_server(&mut self) -> bool {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        let end = Instant::now() + Duration::from_secs(5);
        while Instant::now() < end {
            match self.stream.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    return false
                }
                Err(_) => return true,
            }
        }
        false
    }
}

/// A legitimate player on its own address gets its pong within a second.
pub fn legit_ping(port: u16) {
    let started = Instant::now();
    let mut c = Client::connect_from("127.0.0.2", port).expect("legitimate client connects");
    c.stream
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    c.expect("hello");
    c.send("ping").unwrap();
    c.expect("pong");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
}
