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

/// A process (a node, a client) whose stdin the test writes and whose
/// output lines (stdout and stderr) it reads; killed when dropped.
pub struct Piped {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Piped {
    /// Runs `bin` with `args` in `dir`, stdin a pipe.
    pub fn start(bin: &str, args: &[&str], dir: &Path, env: &[(&str, &str)]) -> Piped {
        let mut child = Command::new(bin)
            .args(args)
            .current_dir(dir)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("start {bin}: {e}"));
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let out: Vec<Box<dyn std::io::Read + Send>> = vec![
            Box::new(child.stdout.take().expect("stdout")),
            Box::new(child.stderr.take().expect("stderr")),
        ];
        for o in out {
            let lines = lines.clone();
            std::thread::spawn(move || {
                use std::io::BufRead;
                for l in std::io::BufReader::new(o).lines() {
                    let Ok(l) = l else { break };
                    lines.lock().unwrap().push(l);
                }
            });
        }
        let stdin = child.stdin.take();
        Piped {
            child,
            stdin,
            lines,
        }
    }

    /// Writes `text` to its stdin as it is (add the newline yourself).
    pub fn write(&mut self, text: &[u8]) {
        use std::io::Write;
        let stdin = self.stdin.as_mut().expect("stdin is still open");
        stdin.write_all(text).expect("write to the process's stdin");
        stdin.flush().expect("flush the process's stdin");
    }

    /// Closes its stdin (the process reads the end of its input).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Every line it wrote so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// The first line containing `part`, waiting up to `limit` for it.
    pub fn wait_for(&self, part: &str, limit: std::time::Duration) -> Option<String> {
        self.wait_for_after(0, part, limit).map(|(_, l)| l)
    }

    /// The first line from index `from` on containing `part`, and its index.
    pub fn wait_for_after(
        &self,
        from: usize,
        part: &str,
        limit: std::time::Duration,
    ) -> Option<(usize, String)> {
        let end = std::time::Instant::now() + limit;
        loop {
            let found = self
                .lines
                .lock()
                .unwrap()
                .iter()
                .enumerate()
                .skip(from)
                .find(|(_, l)| l.contains(part))
                .map(|(i, l)| (i, l.clone()));
            if found.is_some() || std::time::Instant::now() > end {
                return found;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Whether it has exited, waiting up to `limit`.
    pub fn exited_within(&mut self, limit: std::time::Duration) -> bool {
        let end = std::time::Instant::now() + limit;
        loop {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return true;
            }
            if std::time::Instant::now() > end {
                return false;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Its output so far, for a failure message.
    pub fn dump(&self) -> String {
        self.lines().join("\n")
    }
}

impl Drop for Piped {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
