//! The metrics endpoint: Prometheus text that promtool accepts, a real
//! Prometheus server scraping it, and its rules for who may read it.

use super::{boot, have, http_get, worker};
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The sample value of the line starting with `prefix`.
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn metrics_show_the_node_and_a_service_and_pass_promtool() {
    let (node, at) = boot(&[]);
    let worker = worker(&node);
    let (status, text) = http_get(at, "/metrics", "");
    assert_eq!(status, "HTTP/1.1 200 OK", "{text}");
    let labels = format!("{{handle=\"{worker}\",service=\"snlua ops_worker\"}}");
    for family in [
        "skyhold_services ",
        "skyhold_messages_total ",
        "skyhold_worker_busy_seconds_total ",
        "skyhold_overload_warnings_total ",
        "skyhold_socket_accepted_total ",
        "skyhold_lua_warm_states_built_total ",
    ] {
        assert!(text.contains(family), "no {family}in:\n{text}");
    }
    for family in [
        "skyhold_service_messages_total",
        "skyhold_service_mailbox_messages",
        "skyhold_service_lua_memory_bytes",
        "skyhold_service_cpu_seconds_total",
    ] {
        assert!(
            text.contains(&format!("{family}{labels} ")),
            "no {family} of the worker in:\n{text}"
        );
    }
    assert!(sample(&text, "skyhold_services ").unwrap() >= 5.0);
    assert!(text.contains("skyhold_sockets{kind=\"listen\"} "), "{text}");
    // The node's totals move.
    let first = sample(&text, "skyhold_messages_total ").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let (_, again) = http_get(at, "/metrics", "");
    assert!(sample(&again, "skyhold_messages_total ").unwrap() > first);
    if !have("promtool") {
        eprintln!("promtool is not installed: the text was not checked by it (.ci/run installs prometheus)");
        return;
    }
    let mut check = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool");
    check
        .stdin
        .take()
        .unwrap()
        .write_all(again.as_bytes())
        .unwrap();
    let out = check.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_clogged_mailbox_shows_its_bytes() {
    let (node, at) = boot(&[("ops_clog", "1")]);
    let line = node
        .wait_for("CLOG ", Duration::from_secs(20))
        .unwrap_or_else(|| panic!("no CLOG line; log:\n{}", node.dump()));
    let clog = line.rsplit("CLOG ").next().unwrap().trim().to_string();
    let labels = format!("{{handle=\"{clog}\",service=\"snlua ops_clog\"}}");
    // Its 40 messages of 1000 bytes (and their packing) drain over about
    // two seconds: some scrape sees them queued.
    let deadline = Instant::now() + Duration::from_secs(10);
    let (bytes, messages, node_bytes) = loop {
        let (_, text) = http_get(at, "/metrics", "");
        let b = sample(&text, &format!("skyhold_service_mailbox_bytes{labels} ")).unwrap_or(0.0);
        let m = sample(&text, &format!("skyhold_service_mailbox_messages{labels} ")).unwrap_or(0.0);
        if b > 0.0 {
            break (b, m, sample(&text, "skyhold_mailbox_bytes ").unwrap());
        }
        assert!(
            Instant::now() < deadline,
            "the mailbox never showed bytes:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(messages >= 1.0, "{bytes} bytes in {messages} messages");
    // At least 1000 bytes a message, and not wildly more.
    assert!(
        bytes >= messages * 1000.0 && bytes <= messages * 1100.0,
        "{bytes} bytes in {messages} messages"
    );
    assert!(node_bytes >= bytes);
    // The dashboard's data has them too.
    let (_, json) = http_get(at, "/api/services", "");
    assert!(json.contains("\"mailbox_bytes\":"), "{json}");
    // Once handled, the mailbox is empty again.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, text) = http_get(at, "/metrics", "");
        if sample(&text, &format!("skyhold_service_mailbox_bytes{labels} ")) == Some(0.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the mailbox never drained:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A Prometheus server this test started; killed when dropped.
struct Prometheus(Child);

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn prometheus_scrapes_the_endpoint() {
    if !have("prometheus") {
        eprintln!("prometheus is not installed: skipped (.ci/run installs it)");
        return;
    }
    let (node, at) = boot(&[]);
    let worker = worker(&node);
    let dir = std::env::temp_dir().join(format!("skyhold-prometheus-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("prometheus.yml"),
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: skyhold\n    static_configs:\n      - targets: ['{at}']\n"
        ),
    )
    .unwrap();
    let web = free_port();
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap();
    let child = Command::new("prometheus")
        .arg(format!(
            "--config.file={}",
            dir.join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{web}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    let _prometheus = Prometheus(child);
    let api = std::net::SocketAddr::from(([127, 0, 0, 1], web));
    let query = format!(
        "/api/v1/query?query=skyhold_service_messages_total%7Bservice%3D%22snlua%20ops_worker%22%2Chandle%3D%22{}%22%7D",
        worker.replace(':', "%3A")
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = String::new();
    loop {
        if let Ok((status, body)) = super::try_get(api, &query, "") {
            if status.contains("200") && body.contains("\"result\":[{") {
                assert!(body.contains("\"job\":\"skyhold\""), "{body}");
                assert!(body.contains(&format!("\"handle\":\"{worker}\"")), "{body}");
                let value: f64 = body
                    .split("\"value\":[")
                    .nth(1)
                    .and_then(|v| v.split('"').nth(1))
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0.0);
                assert!(value > 0.0, "{body}");
                eprintln!("prometheus scraped the worker: {body}");
                break;
            }
            last = format!("{status} {body}");
        }
        assert!(
            Instant::now() < deadline,
            "prometheus never had the worker's series; last answer: {last}\nits log:\n{}",
            std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    // The scrape itself was healthy.
    let (_, up) = http_get(api, "/api/v1/query?query=up%7Bjob%3D%22skyhold%22%7D", "");
    assert!(up.contains("\"1\"]"), "up: {up}");
    drop(_prometheus);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn off_loopback_the_endpoint_needs_an_operator_login() {
    let env = skyhold_testkit::config(&super::lua_dir(), "ops_boot", &[("metrics", "0.0.0.0:0")]);
    let e = skyhold::settings(env, &super::lua_dir())
        .err()
        .expect("refused");
    assert!(
        e.contains("non-loopback") && e.contains("secret_console_users"),
        "{e}"
    );
    let (node, at) = boot(&[
        ("metrics", "0.0.0.0:0"),
        ("secret_console_users", "prom:scrape-me"),
    ]);
    let at = std::net::SocketAddr::from(([127, 0, 0, 1], at.port()));
    let (status, _) = http_get(at, "/metrics", "");
    assert!(status.contains("401"), "{status}");
    // prom:wrong
    let (status, _) = http_get(at, "/metrics", "Authorization: Basic cHJvbTp3cm9uZw==\r\n");
    assert!(status.contains("401"), "{status}");
    assert!(
        node.eventually(&["AUDIT refused ops_login", "wrong user or password"]),
        "{}",
        node.dump()
    );
    // prom:scrape-me
    let (status, body) = http_get(
        at,
        "/metrics",
        "Authorization: Basic cHJvbTpzY3JhcGUtbWU=\r\n",
    );
    assert!(status.contains("200"), "{status}");
    assert!(body.contains("skyhold_services "));
}

#[test]
fn a_page_from_elsewhere_cannot_read_a_loopback_endpoint_and_series_are_capped() {
    let (_node, at) = boot(&[("metrics_max_services", "2")]);
    // (And the per-service series are capped: two services and `other`.)
    let (_, text) = http_get(at, "/metrics", "");
    let series = text
        .lines()
        .filter(|l| l.starts_with("skyhold_service_mailbox_messages{"))
        .count();
    assert_eq!(series, 3, "{text}");
    assert!(text.contains("service=\"other\"} "), "{text}");
    let mut s = std::net::TcpStream::connect(at).unwrap();
    write!(
        s,
        "GET /api/services HTTP/1.1\r\nHost: rebound.example:{}\r\n\r\n",
        at.port()
    )
    .unwrap();
    let mut out = String::new();
    std::io::Read::read_to_string(&mut s, &mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 403"), "{out}");
    let (status, _) = http_get(at, "/nowhere", "");
    assert!(status.contains("404"), "{status}");
}
