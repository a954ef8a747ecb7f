//! Reading a page's DOM from headless Chromium over its DevTools protocol,
//! in real time. `--dump-dom` with a virtual-time budget dumps once the
//! page looks idle, and a page that only waits on its WebSocket looks idle:
//! a node slow to answer (a loaded machine, a service spawned on first use)
//! got its answer dumped too late. Here the test asks the page for its DOM
//! until what it waits for is there, or a real deadline passes.

use super::wsclient::Client;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Opens `url` in headless Chromium (`bin`, with `flags`) and returns its
/// DOM once every text in `want` is in it, or the last DOM read when
/// `deadline` passes; and what Chromium wrote to stderr.
pub fn dom_when(
    bin: &str,
    flags: &[&str],
    url: &str,
    want: &[&str],
    deadline: Duration,
) -> (String, String) {
    let profile = super::browser::profile_dir();
    let mut child = Command::new(bin)
        .args(super::browser::HEADLESS)
        .arg("--remote-debugging-port=0")
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(flags)
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("chromium runs");
    // Chromium names its DevTools port on stderr; the rest is kept for
    // failure messages.
    let stderr = Arc::new(Mutex::new(String::new()));
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    let pipe = child.stderr.take().expect("stderr is piped");
    let log = stderr.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("DevTools listening on ws://127.0.0.1:").nth(1) {
                let port: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
                let _ = port_tx.send(port.parse::<u16>().ok());
            }
            let mut l = log.lock().unwrap();
            l.push_str(&line);
            l.push('\n');
        }
    });
    let started = Instant::now();
    let mut dom = String::new();
    if let Ok(Some(port)) = port_rx.recv_timeout(deadline) {
        dom = poll_dom(port, want, started + deadline);
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&profile);
    let err = stderr.lock().unwrap().clone();
    (dom, err)
}

/// Asks the page on DevTools `port` for its DOM every 100 ms until it holds
/// every text in `want` or `until` passes; the last DOM read.
fn poll_dom(port: u16, want: &[&str], until: Instant) -> String {
    let mut dom = String::new();
    let Some(path) = page_target(port, until) else {
        return dom;
    };
    let mut client = Client::connect(port, &path);
    for id in 1.. {
        let ask = format!(
            r#"{{"id":{id},"method":"Runtime.evaluate","params":{{"expression":"document.documentElement.outerHTML","returnByValue":true}}}}"#
        );
        client.send_text(&ask);
        // Answers come in order of asking; events may come between.
        let tag = format!(r#""id":{id},"#);
        while let Some(f) = client.read_message() {
            let text = String::from_utf8_lossy(&f.payload).to_string();
            if text.contains(&tag) {
                if let Some(v) = json_string_after(&text, r#""value":"#) {
                    dom = v;
                }
                break;
            }
        }
        if want.iter().all(|w| dom.contains(w)) || Instant::now() >= until {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    dom
}

/// The DevTools path of the first page target (`/devtools/page/…`).
fn page_target(port: u16, until: Instant) -> Option<String> {
    while Instant::now() < until {
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) {
            let req = format!("GET /json/list HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n");
            // The answer is small, and the connection may stay open after
            // it: it is read until a pause.
            let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
            let mut bytes = Vec::new();
            if s.write_all(req.as_bytes()).is_ok() {
                let _ = s.read_to_end(&mut bytes);
            }
            let body = String::from_utf8_lossy(&bytes);
            if let Some(rest) = body.split(&format!("ws://127.0.0.1:{port}")).nth(1) {
                let path: String = rest.chars().take_while(|&c| c != '"').collect();
                if path.starts_with("/devtools/page/") {
                    return Some(path);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    None
}

/// The JSON string value that follows `key` in `text`, unescaped.
fn json_string_after(text: &str, key: &str) -> Option<String> {
    let start = text.find(key)? + key.len();
    let mut chars = text[start..].chars();
    if chars.next()? != '"' {
        return None;
    }
    let mut out = String::new();
    let mut pending_high: Option<u32> = None;
    while let Some(c) = chars.next() {
        match c {
            '"' => return Some(out),
            '\\' => match chars.next()? {
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'u' => {
                    let hex: String = chars.by_ref().take(4).collect();
                    let unit = u32::from_str_radix(&hex, 16).ok()?;
                    if (0xD800..0xDC00).contains(&unit) {
                        pending_high = Some(unit);
                        continue;
                    }
                    let code = match pending_high.take() {
                        Some(high) => 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00),
                        None => unit,
                    };
                    out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                }
                other => out.push(other),
            },
            c => out.push(c),
        }
    }
    None
}

#[test]
fn json_strings_are_read_back_as_written() {
    let text = r#"{"id":3,"result":{"result":{"type":"string","value":"a \"b\"\n\\c \u00e9 \ud83d\ude00 \/"}}}"#;
    assert_eq!(
        json_string_after(text, r#""value":"#).as_deref(),
        Some("a \"b\"\n\\c é 😀 /")
    );
    assert_eq!(json_string_after(text, r#""nothing":"#), None);
}
