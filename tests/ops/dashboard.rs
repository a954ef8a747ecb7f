//! The dashboard in headless Chromium: the page loads, lists a service the
//! test started, updates itself, and leaves a screenshot behind.

use super::{announced, artifacts, boot, have, http_get, worker};
use std::io::{BufRead, BufReader, Write};
use std::process::Command;
use std::time::Duration;

/// The DOM Chromium has after `budget_ms` of virtual time on `url`.
fn dump_dom(url: &str, budget_ms: u32) -> String {
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--disable-extensions",
            &format!("--virtual-time-budget={budget_ms}"),
            "--dump-dom",
            url,
        ])
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium --dump-dom: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The number after "update " in the page's status line.
fn updates(dom: &str) -> u32 {
    dom.split("update ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The worker's message count in the dashboard's JSON.
fn worker_messages(json: &str, worker: &str) -> u64 {
    let at = json
        .find(&format!("\"handle\":\"{worker}\""))
        .unwrap_or_else(|| panic!("no {worker} in {json}"));
    json[at..]
        .split("\"messages\":")
        .nth(1)
        .and_then(|r| r.split([',', '}']).next())
        .and_then(|n| n.parse().ok())
        .expect("a message count")
}

/// Sends `cmd` to the console on `port` without a login; its answer.
fn console_refusal(port: u16, cmd: &str) -> String {
    let s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    writeln!(w, "{cmd}").unwrap();
    let mut out = String::new();
    while !out.contains("<CMD") {
        let mut line = String::new();
        if r.read_line(&mut line).unwrap_or(0) == 0 {
            break;
        }
        out.push_str(&line);
    }
    out
}

/// The text of the table `id` in a dumped DOM.
fn table<'a>(dom: &'a str, id: &str) -> &'a str {
    let start = dom
        .find(&format!("<table id=\"{id}\""))
        .unwrap_or_else(|| panic!("no table {id}"));
    let end = dom[start..]
        .find("</table>")
        .map_or(dom.len(), |e| start + e);
    &dom[start..end]
}

#[test]
fn the_dashboard_shows_a_service_and_updates_in_chromium() {
    let (node, at) = boot(&[]);
    let worker = worker(&node);
    // A kill without a login: refused, so the page has a refusal to list.
    let console = announced(&node, "Start debug console at 127.0.0.1:");
    let answer = console_refusal(console, &format!("kill {worker}"));
    assert!(answer.contains("Permission denied"), "{answer}");
    // The data behind the page moves.
    let (status, first) = http_get(at, "/api/services", "");
    assert!(status.contains("200"), "{status}");
    std::thread::sleep(Duration::from_millis(300));
    let (_, second) = http_get(at, "/api/services", "");
    assert!(
        worker_messages(&second, &worker) > worker_messages(&first, &worker),
        "the worker's count did not move:\n{first}\n{second}"
    );
    assert!(
        second.contains("\"audit_log\":[{\"time_ms\":")
            && second.contains("\"what\":\"console:kill\""),
        "no refusal in the dashboard's data: {second}"
    );
    // The kill came before the first look, and is recent all the same.
    assert!(
        first.contains("\"recent_refusals\":[{\"action\":\"console:kill\",\"count\":1}]"),
        "the kill is not among the last five minutes' refusals: {first}"
    );
    let (status, page) = http_get(at, "/", "");
    assert!(
        status.contains("200") && page.contains("<script>"),
        "{status}"
    );
    if !have("chromium") {
        eprintln!("chromium is not installed: the page was not rendered (.ci/run installs it)");
        return;
    }
    let url = format!("http://{at}/");
    let dom = dump_dom(&url, 3500);
    assert!(
        dom.contains("snlua ops_worker") && dom.contains(&worker),
        "the page does not list the worker:\n{dom}"
    );
    assert!(dom.contains("snlua ops_boot"), "{dom}");
    let refusals = table(&dom, "auditlog");
    assert!(
        refusals.contains("console:kill") && refusals.contains("not logged in"),
        "the recent refusals do not list the kill:\n{refusals}"
    );
    // No cluster here: the links table says so.
    assert!(table(&dom, "links").contains("no links"), "{dom}");
    // It polls: more than one update within the budget.
    assert!(updates(&dom) >= 2, "the page did not update itself:\n{dom}");
    let shot = artifacts().join("dashboard.png");
    let _ = std::fs::remove_file(&shot);
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--disable-gpu",
            "--no-sandbox",
            "--no-first-run",
            "--hide-scrollbars",
            "--window-size=1400,900",
            "--virtual-time-budget=2500",
            &format!("--screenshot={}", shot.display()),
            &url,
        ])
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let size = std::fs::metadata(&shot).map(|m| m.len()).unwrap_or(0);
    assert!(size > 1000, "no screenshot at {}", shot.display());
    eprintln!("dashboard screenshot: {}", shot.display());
}

/// `dashboard_rows` bounds the table; the data says how many were left out.
#[test]
fn the_dashboards_table_keeps_to_dashboard_rows() {
    let (node, at) = boot(&[("dashboard_rows", "3")]);
    let live = node.node.handle().live();
    assert!(live > 3, "only {live} services");
    let (status, data) = http_get(at, "/api/services", "");
    assert!(status.contains("200"), "{status}");
    let table = data
        .split_once("\"services\":[")
        .and_then(|(_, rest)| rest.split_once("],\"services_left_out\":"))
        .unwrap_or_else(|| panic!("no table and count: {data}"));
    assert_eq!(table.0.matches("{\"handle\":").count(), 3, "{data}");
    let left: usize = table
        .1
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap();
    // The table and the count are one look at the node; its own `live`
    // figure is taken beside them, and a service may start or end in
    // between (the one that looked before may be gone by now).
    let data_live: usize = data
        .split_once("\"live\":")
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no live count: {data}"));
    assert!(left >= 1, "nothing left out of {data_live}: {data}");
    assert!(
        (left + 3).abs_diff(data_live) <= 2,
        "{left} left out of {data_live}: {data}"
    );
}
