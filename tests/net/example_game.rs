//! What the example games' tests share (`pb_game`, `sproto_game`): a copy
//! of the example's config with the gate on a free port, the node started
//! on it, the example's client binary, and waiting for a client's line.

use skyhold_testkit::{repo, Piped};
use std::path::PathBuf;
use std::time::Duration;

/// How long a test waits for a line.
pub const WAIT: Duration = Duration::from_secs(20);

/// One example game, as its tests start it.
pub struct Game {
    /// Names the temporary directory of the config copy.
    pub name: &'static str,
    /// The example config the copy includes (under `examples/`).
    pub config: &'static str,
    /// Keys the tests always add (one per line).
    pub keys: &'static str,
    /// The node's line saying the gate listens, up to its address.
    pub listening: &'static str,
    /// The example's client binary.
    pub client: &'static str,
}

impl Game {
    /// A config that includes the example's and moves the gate to a free
    /// port, with `extra` keys (paths made absolute, as the copy lives in
    /// a temporary directory).
    pub fn config(&self, tag: &str, extra: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "skyhold-{}-{tag}-{}",
            self.name,
            std::process::id()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config");
        let ex = repo().join("examples");
        std::fs::write(
            &path,
            format!(
                "include \"{ex}/{config}\"\ngate_port = 0\n{keys}\
                 policy = \"{ex}/policy.lua\"\nfile_read_roots = \"{ex}/proto\"\n{extra}\n",
                ex = ex.display(),
                config = self.config,
                keys = self.keys,
            ),
        )
        .unwrap();
        path
    }

    /// The node, once its gate listens, and the gate's port.
    pub fn node(&self, tag: &str, extra: &str) -> (Piped, u16) {
        let cfg = self.config(tag, extra);
        let node = Piped::start(
            env!("CARGO_BIN_EXE_skyhold"),
            &[cfg.to_str().unwrap()],
            &repo(),
            &[],
        );
        let line = node
            .wait_for(self.listening, WAIT)
            .unwrap_or_else(|| panic!("the {} did not start:\n{}", self.name, node.dump()));
        let port = line.rsplit(':').next().unwrap().trim().parse().unwrap();
        (node, port)
    }

    /// The example's client, connected to `port`.
    pub fn client(&self, port: u16) -> Piped {
        Piped::start(self.client, &[&format!("127.0.0.1:{port}")], &repo(), &[])
    }
}

/// Waits for `part` in the client's output after line `from`; the index
/// of the line it is in.
pub fn expect(c: &Piped, node: &Piped, from: usize, part: &str) -> usize {
    c.wait_for_after(from, part, WAIT)
        .unwrap_or_else(|| {
            panic!(
                "client never printed {part:?}; client:\n{}\nnode:\n{}",
                c.dump(),
                node.dump()
            )
        })
        .0
}
