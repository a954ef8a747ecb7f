//! `http.httpd` against curl and raw sockets; httpc against our httpd.

use super::*;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::Instant;

fn curl(args: &[&str]) -> (String, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "10", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let (body, code) = text.rsplit_once('\n').unwrap_or(("", &text));
    (code.to_string(), body.to_string())
}

/// Sends raw bytes and returns everything the server said before closing.
fn raw(port: u16, bytes: &[u8]) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(bytes).unwrap();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    String::from_utf8_lossy(&out).to_string()
}

fn web(extra: &[(&str, &str)]) -> (BootedNode, u16) {
    let mut keys = vec![("http_body_limit", "1024")];
    keys.extend_from_slice(extra);
    let node = boot("web_server", &keys);
    let port = node.listen_port();
    (node, port)
}

#[test]
fn curl_gets_and_posts() {
    if !have("curl") {
        eprintln!("curl is not installed: skipped (.ci/run installs it)");
        return;
    }
    let (node, port) = web(&[]);
    let base = format!("http://127.0.0.1:{port}");
    let (code, body) = curl(&[&format!("{base}/hello?name=curl%20user")]);
    assert_eq!((code.as_str(), body.as_str()), ("200", "hello curl user"));
    let (code, body) = curl(&["-d", "a=1&b=two", &format!("{base}/echo")]);
    assert_eq!((code.as_str(), body.as_str()), ("200", "a=1&b=two"));
    // chunked upload
    let (code, body) = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        "chunked body",
        &format!("{base}/echo"),
    ]);
    assert_eq!((code.as_str(), body.as_str()), ("200", "chunked body"));
    // a chunked response
    let (code, body) = curl(&[&format!("{base}/stream")]);
    assert_eq!(
        (code.as_str(), body.as_str()),
        ("200", "part1;part2;part3;")
    );
    let (code, _) = curl(&[&format!("{base}/nowhere")]);
    assert_eq!(code, "404");
    drop(node);
}

#[test]
fn oversize_bodies_and_headers_are_refused() {
    if !have("curl") {
        eprintln!("curl is not installed: skipped");
        return;
    }
    let (node, port) = web(&[("http_max_headers", "20")]);
    let base = format!("http://127.0.0.1:{port}");
    let big = "x".repeat(4096);
    let (code, _) = curl(&["-d", &big, &format!("{base}/echo")]);
    assert_eq!(code, "413", "a body over http_body_limit");
    // the same through chunks
    let (code, _) = curl(&[
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        &big,
        &format!("{base}/echo"),
    ]);
    assert_eq!(code, "413", "a chunked body over the limit");
    // too many header lines
    let mut args: Vec<String> = (0..30).map(|i| format!("X-H{i}: v")).collect();
    args = args
        .into_iter()
        .flat_map(|h| ["-H".to_string(), h])
        .collect();
    args.push(format!("{base}/hello"));
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _) = curl(&a);
    assert_eq!(code, "413", "more header lines than http_max_headers");
    // a header block over http_header_limit
    let huge = format!("X-Big: {}", "y".repeat(10_000));
    let (code, _) = curl(&["-H", &huge, &format!("{base}/hello")]);
    assert_eq!(code, "413", "a header block over 8 KiB");
    // still serving
    let (code, body) = curl(&[&format!("{base}/hello")]);
    assert_eq!((code.as_str(), body.as_str()), ("200", "hello world"));
    let (_, counters) = curl(&[&format!("{base}/counters")]);
    // four agents each count their own; at least one saw a refusal
    assert!(counters.contains("requests="), "{counters}");
    drop(node);
}

#[test]
fn malformed_requests_are_survived() {
    let (node, port) = web(&[]);
    for bad in [
        &b"GARBAGE\r\n\r\n"[..],
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET /hello HTTP/1.1\r\nno colon here\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
        b"POST /echo HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"\x00\x01\x02\xff\r\n\r\n",
    ] {
        let answer = raw(port, bad);
        assert!(
            answer.starts_with("HTTP/1.1 4") || answer.starts_with("HTTP/1.1 5"),
            "{:?} -> {answer:?}",
            String::from_utf8_lossy(bad)
        );
    }
    // a connection closed half-way through a request
    drop(TcpStream::connect(("127.0.0.1", port)).and_then(|mut s| s.write_all(b"GET /hel")));
    let ok = raw(port, b"GET /hello?name=after HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(ok.starts_with("HTTP/1.1 200 OK"), "{ok}");
    assert!(ok.ends_with("hello after"), "{ok}");
    drop(node);
}

#[test]
fn a_slow_request_times_out() {
    let (node, port) = web(&[("http_timeout", "50")]);
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s.write_all(b"GET /hello HTTP/1.1\r\n").unwrap();
    let t = Instant::now();
    let mut out = Vec::new();
    let _ = s.read_to_end(&mut out);
    let waited = t.elapsed();
    assert!(
        waited >= Duration::from_millis(300) && waited < Duration::from_secs(5),
        "closed after {waited:?}"
    );
    assert!(
        logged_within(&node, &["request failed: timeout"], Duration::from_secs(5)),
        "{}",
        node.dump()
    );
}

#[test]
fn httpc_and_the_lua_websocket_client_talk_to_our_servers() {
    lua_pass("web_clients", &[]);
}
