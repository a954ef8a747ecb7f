//! Real database servers for the tests: a `redis-server` or `mariadbd` of
//! the machine, started on a free loopback port with its data in a fresh
//! temporary directory, and stopped when the test drops it.
//!
//! Each server runs under a small `sh` guard whose stdin is a pipe from
//! this process: when the test process ends, however it ends, the pipe
//! closes and the guard stops the server, so no server outlives its test.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The password the test MariaDB gives `root` over TCP, and the database
/// it creates (what skynet's test/testmysql.lua expects).
pub const MYSQL_PASSWORD: &str = "123456";
/// See [`MYSQL_PASSWORD`].
pub const MYSQL_DATABASE: &str = "skynet";
/// A Redis user with a password (ACL), besides the password-less default.
pub const REDIS_USER: (&str, &str) = ("alice", "wonderland");

/// Where a program is, if it is installed (on PATH or in /usr/sbin).
pub fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(["/usr/sbin", "/usr/local/sbin", "/usr/bin"])
        .map(|d| Path::new(d).join(program))
        .find(|p| p.is_file());
    found
}

/// The servers' binaries, or why the test is skipped. `SKYHOLD_DB_REQUIRED`
/// (set by .ci/run) turns a missing binary into a failure.
pub fn require(programs: &[&str]) -> Option<Vec<PathBuf>> {
    let found: Vec<Option<PathBuf>> = programs.iter().map(|p| find(p)).collect();
    if found.iter().all(Option::is_some) {
        return Some(found.into_iter().flatten().collect());
    }
    let missing: Vec<&str> = programs
        .iter()
        .zip(&found)
        .filter(|(_, f)| f.is_none())
        .map(|(p, _)| *p)
        .collect();
    if std::env::var_os("SKYHOLD_DB_REQUIRED").is_some() {
        panic!("SKYHOLD_DB_REQUIRED is set but {missing:?} is not installed");
    }
    eprintln!(
        "SKIPPED: {missing:?} not installed (apt-get install redis-server mariadb-server; .ci/run does)"
    );
    None
}

/// Whether this process runs as root (mariadbd then needs `--user=root`).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

/// A port nobody listens on just now.
pub fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    l.local_addr().expect("local addr").port()
}

/// A fresh directory under the system's temporary directory, removed on
/// drop.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Makes one whose name starts with `tag`.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let p = std::env::temp_dir().join(format!("skyhold-db-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("create a temp dir");
        TempDir(p)
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server process under its guard.
pub struct Guarded {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Guarded {
    /// Runs `argv` under the guard; its output goes to `log`.
    pub fn spawn(argv: &[String], log: &Path) -> Guarded {
        let quoted: Vec<String> = argv
            .iter()
            .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
            .collect();
        let script = format!(
            "{} >>'{}' 2>&1 </dev/null & pid=$!; cat >/dev/null; kill $pid 2>/dev/null; wait $pid",
            quoted.join(" "),
            log.display()
        );
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(script)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sh");
        let stdin = child.stdin.take();
        Guarded { child, stdin }
    }

    /// Stops the server (SIGTERM) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Some(mut s) = self.stdin.take() {
            let _ = s.flush();
            drop(s);
            let _ = self.child.wait();
        }
    }
}

impl Drop for Guarded {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits until something accepts on `port`.
pub fn wait_listening(port: u16, limit: Duration, log: &Path) {
    let end = Instant::now() + limit;
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > end {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            panic!("server on port {port} did not come up; its log:\n{text}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A redis-server of our own.
pub struct Redis {
    /// Its port on 127.0.0.1.
    pub port: u16,
    bin: PathBuf,
    dir: TempDir,
    proc: Option<Guarded>,
}

impl Redis {
    /// Starts one (None if redis-server is not installed: the test skips).
    pub fn start() -> Option<Redis> {
        let bin = require(&["redis-server"])?.remove(0);
        let mut r = Redis {
            port: free_port(),
            bin,
            dir: TempDir::new("redis"),
            proc: None,
        };
        r.run();
        Some(r)
    }

    fn run(&mut self) {
        let (user, pass) = REDIS_USER;
        let argv: Vec<String> = [
            self.bin.display().to_string(),
            "--port".into(),
            self.port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--dir".into(),
            self.dir.path().display().to_string(),
            "--save".into(),
            String::new(),
            // every acknowledged write is on disk: a restart loses none
            "--appendonly".into(),
            "yes".into(),
            "--appendfsync".into(),
            "always".into(),
            "--user".into(),
            user.into(),
            "on".into(),
            format!(">{pass}"),
            "~*".into(),
            "&*".into(),
            "+@all".into(),
        ]
        .into();
        let log = self.dir.path().join("redis.log");
        self.proc = Some(Guarded::spawn(&argv, &log));
        wait_listening(self.port, Duration::from_secs(20), &log);
    }

    /// Stops it (its data stays).
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.stop();
        }
    }

    /// Starts it again on the same port with the same data.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }
}

/// A mariadbd of our own, with `root` / [`MYSQL_PASSWORD`] over TCP and a
/// database [`MYSQL_DATABASE`].
pub struct Mariadb {
    /// Its port on 127.0.0.1.
    pub port: u16,
    bin: PathBuf,
    dir: TempDir,
    proc: Option<Guarded>,
}

/// Held while `mariadb-install-db` runs.
static INSTALLING: Mutex<()> = Mutex::new(());

impl Mariadb {
    /// Installs a fresh data directory and starts the server (None if
    /// MariaDB is not installed: the test skips).
    pub fn start() -> Option<Mariadb> {
        let mut bins = require(&["mariadbd", "mariadb-install-db"])?;
        let install = bins.remove(1);
        let bin = bins.remove(0);
        let dir = TempDir::new("mariadb");
        let data = dir.path().join("data");
        // One install at a time (the tests of this binary run in parallel,
        // and two bootstraps at once have failed on a loaded machine), and
        // a second try on a fresh directory before giving up.
        let _one_at_a_time = INSTALLING.lock().unwrap_or_else(|e| e.into_inner());
        let install_once = || {
            let _ = std::fs::remove_dir_all(&data);
            Command::new(&install)
                .arg("--no-defaults")
                .arg(format!("--datadir={}", data.display()))
                .args(running_as_root().then_some("--user=root"))
                .arg("--auth-root-authentication-method=normal")
                .arg("--skip-test-db")
                .output()
                .expect("run mariadb-install-db")
        };
        let mut out = install_once();
        if !out.status.success() {
            out = install_once();
        }
        assert!(
            out.status.success(),
            "mariadb-install-db failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let init = dir.path().join("init.sql");
        std::fs::write(
            &init,
            format!(
                "CREATE DATABASE IF NOT EXISTS {MYSQL_DATABASE};\n\
                 CREATE OR REPLACE USER 'root'@'127.0.0.1' IDENTIFIED BY '{MYSQL_PASSWORD}';\n\
                 GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n\
                 FLUSH PRIVILEGES;\n"
            ),
        )
        .expect("write init.sql");
        let mut m = Mariadb {
            port: free_port(),
            bin,
            dir,
            proc: None,
        };
        m.run();
        Some(m)
    }

    fn run(&mut self) {
        let d = self.dir.path();
        let mut argv: Vec<String> = vec![
            self.bin.display().to_string(),
            "--no-defaults".into(),
            format!("--datadir={}", d.join("data").display()),
            format!("--socket={}", d.join("mysqld.sock").display()),
            format!("--pid-file={}", d.join("mysqld.pid").display()),
            format!("--port={}", self.port),
            "--bind-address=127.0.0.1".into(),
            "--skip-name-resolve".into(),
            format!("--init-file={}", d.join("init.sql").display()),
            // small and quick: the tests need little
            "--innodb-buffer-pool-size=16M".into(),
            "--innodb-log-file-size=8M".into(),
            "--skip-log-bin".into(),
        ];
        if running_as_root() {
            argv.push("--user=root".into());
        }
        let log = d.join("mariadb.log");
        self.proc = Some(Guarded::spawn(&argv, &log));
        wait_listening(self.port, Duration::from_secs(60), &log);
    }

    /// Stops it (its data stays).
    pub fn stop(&mut self) {
        if let Some(mut p) = self.proc.take() {
            p.stop();
        }
    }

    /// Starts it again on the same port with the same data.
    pub fn restart(&mut self) {
        self.stop();
        self.run();
    }
}
