//! Running one start service on one runtime: its config file, the process,
//! and its log, bounded in time.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The two runtimes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runtime {
    /// The skynet build under `SKYNET_ROOT`.
    Skynet,
    /// skyhold's binary.
    Skyhold,
}

impl Runtime {
    /// Its name in reports and file names.
    pub fn label(self) -> &'static str {
        match self {
            Runtime::Skynet => "skynet",
            Runtime::Skyhold => "skyhold",
        }
    }
}

/// What every run shares.
#[derive(Debug, Clone)]
pub struct Setup {
    /// The skynet build.
    pub skynet_root: PathBuf,
    /// skyhold's repository.
    pub repo: PathBuf,
    /// skyhold's binary.
    pub skyhold_bin: PathBuf,
    /// Extra `luaservice` patterns (a project's own services), before skynet's.
    pub luaservice: Vec<String>,
    /// Extra `lua_path` patterns (a project's own libraries), before skynet's.
    pub lua_path: Vec<String>,
    /// Extra config lines, `key = value` as written.
    pub extra: Vec<String>,
    /// How long one run may last before it is stopped.
    pub limit: Duration,
    /// Where config files are written.
    pub tmp: PathBuf,
}

/// One run's log.
#[derive(Debug, Clone)]
pub struct Log {
    /// stdout then stderr, as text.
    pub text: String,
    /// True when the node exited by itself before the time limit.
    pub exited: bool,
}

fn quoted(s: &str) -> String {
    format!("{s:?}")
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

/// The config file text for running `start` on `runtime`.
pub fn config_text(setup: &Setup, runtime: Runtime, start: &str) -> String {
    let sk = path(&setup.skynet_root);
    let mut services = setup.luaservice.clone();
    services.extend([
        format!("{sk}/test/?.lua"),
        format!("{sk}/test/?/init.lua"),
        format!("{sk}/examples/?.lua"),
    ]);
    let mut libs = setup.lua_path.clone();
    libs.extend([
        format!("{sk}/lualib/?.lua"),
        format!("{sk}/lualib/?/init.lua"),
    ]);
    let mut lines = vec![
        "thread = 2".to_string(),
        "harbor = 0".to_string(),
        format!("start = {}", quoted(start)),
        format!("bootstrap = {}", quoted("snlua bootstrap")),
        // Where skynet's own test configs find snax services.
        format!(
            "snax = {}",
            quoted(&format!("{sk}/examples/?.lua;{sk}/test/?.lua"))
        ),
    ];
    match runtime {
        Runtime::Skynet => {
            // skynet finds its own services through the same key.
            services.push(format!("{sk}/service/?.lua"));
            lines.push(format!(
                "cpath = {}",
                quoted(&format!("{sk}/cservice/?.so"))
            ));
            lines.push(format!(
                "lua_cpath = {}",
                quoted(&format!("{sk}/luaclib/?.so"))
            ));
            lines.push(format!(
                "lualoader = {}",
                quoted(&format!("{sk}/lualib/loader.lua"))
            ));
        }
        Runtime::Skyhold => {
            // skyhold's own lualib/ and service/ come first by themselves.
        }
    }
    lines.push(format!("luaservice = {}", quoted(&services.join(";"))));
    lines.push(format!("lua_path = {}", quoted(&libs.join(";"))));
    lines.extend(setup.extra.iter().cloned());
    let mut text = format!("-- skyhold-compare: {start} on {}\n", runtime.label());
    for l in lines {
        text.push_str(&l);
        text.push('\n');
    }
    text
}

/// Runs `start` on `runtime` until it exits or the time limit passes.
pub fn run(setup: &Setup, runtime: Runtime, start: &str) -> Result<Log, String> {
    let file_name = format!(
        "{}-{}.config",
        start.replace(['/', ' '], "_"),
        runtime.label()
    );
    let config = setup.tmp.join(file_name);
    std::fs::write(&config, config_text(setup, runtime, start))
        .map_err(|e| format!("writing {}: {e}", config.display()))?;
    let (bin, dir) = match runtime {
        Runtime::Skynet => (setup.skynet_root.join("skynet"), setup.skynet_root.clone()),
        Runtime::Skyhold => (setup.skyhold_bin.clone(), setup.repo.clone()),
    };
    let mut child = Command::new(&bin)
        .arg(&config)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {}: {e}", bin.display()))?;
    let out = read_all(child.stdout.take());
    let err = read_all(child.stderr.take());
    let began = Instant::now();
    let exited = loop {
        if child.try_wait().map_err(|e| e.to_string())?.is_some() {
            break true;
        }
        if began.elapsed() >= setup.limit {
            let _ = child.kill();
            let _ = child.wait();
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut text = out.recv().unwrap_or_default();
    text.push_str(&err.recv().unwrap_or_default());
    Ok(Log { text, exited })
}

/// Reads a pipe to its end on a thread of its own.
fn read_all<R: Read + Send + 'static>(pipe: Option<R>) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut bytes);
        }
        let _ = tx.send(String::from_utf8_lossy(&bytes).into_owned());
    });
    rx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configs_differ_only_where_the_runtimes_do() {
        let setup = Setup {
            skynet_root: "/opt/skynet".into(),
            repo: "/src/skyhold".into(),
            skyhold_bin: "/src/skyhold/target/release/skyhold".into(),
            luaservice: vec!["/proj/service/?.lua".into()],
            lua_path: vec![],
            extra: vec!["thing = 1".into()],
            limit: Duration::from_secs(1),
            tmp: "/tmp".into(),
        };
        let skynet = config_text(&setup, Runtime::Skynet, "testtimer");
        let skyhold = config_text(&setup, Runtime::Skyhold, "testtimer");
        assert!(skynet.contains("cpath = \"/opt/skynet/cservice/?.so\""));
        assert!(!skyhold.contains("cpath"));
        for text in [&skynet, &skyhold] {
            assert!(text.contains("start = \"testtimer\""));
            assert!(text.contains("luaservice = \"/proj/service/?.lua;/opt/skynet/test/?.lua"));
            assert!(text.contains("thing = 1\n"));
        }
        assert!(skynet.contains("/opt/skynet/service/?.lua\""));
        assert!(!skyhold.contains("/opt/skynet/service/"));
    }
}
