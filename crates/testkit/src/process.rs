//! A node run as its own process (the `skyhold` binary on a config file),
//! killed when dropped, so a test that fails leaves no node behind.

use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running node process.
pub struct NodeProcess {
    child: Child,
}

impl NodeProcess {
    /// Starts `bin` (a test's `env!("CARGO_BIN_EXE_skyhold")`: only the
    /// test binaries know where cargo put it) on `config`, with the
    /// environment variables `env` set and its output discarded.
    pub fn start(bin: &str, config: &Path, env: &[(&str, &str)]) -> NodeProcess {
        let child = Command::new(bin)
            .arg(config)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the node process");
        NodeProcess { child }
    }

    /// Its process id (to signal it).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Waits up to `timeout` for it to exit on its own: its exit status,
    /// or None if it still runs.
    pub fn wait_exit(&mut self, timeout: std::time::Duration) -> Option<std::process::ExitStatus> {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if std::time::Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Ends it with SIGKILL: at once, closing nothing in order.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
