//! The debug console's `netstat`: skynet's fields for every socket of the
//! node, from the socket server's own accounts.

use super::{announced, boot, worker};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Duration;

/// Runs one console command; the lines before `<CMD OK>`.
fn console(port: u16, cmd: &str) -> Vec<String> {
    let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut r = BufReader::new(s.try_clone().unwrap());
    let mut w = s;
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    assert_eq!(line.trim_end(), "Welcome to skynet console");
    writeln!(w, "{cmd}").unwrap();
    let mut out = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).unwrap();
        let l = line.trim_end_matches('\n').to_string();
        match l.as_str() {
            "<CMD OK>" => return out,
            "<CMD Error>" | "" => panic!("'{cmd}' failed: {out:?} {l}"),
            _ => out.push(l),
        }
    }
}

/// The `key:value` fields of a netstat line.
fn fields(line: &str) -> std::collections::BTreeMap<String, String> {
    line.split('\t')
        .skip(1)
        .filter_map(|f| f.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn netstat_lists_sockets_with_skynets_fields() {
    let (node, _) = boot(&[]);
    let worker = worker(&node);
    let echo = announced(&node, "ECHO ");
    let console_port = announced(&node, "Start debug console at 127.0.0.1:");
    let client = TcpStream::connect(("127.0.0.1", echo)).unwrap();
    client
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut reader = BufReader::new(client.try_clone().unwrap());
    (&client).write_all(b"hello netstat\n").unwrap();
    let mut back = String::new();
    reader.read_line(&mut back).unwrap();
    assert_eq!(back, "hello netstat\n");
    let lines = console(console_port, "netstat");
    let stats: Vec<_> = lines.iter().map(|l| fields(l)).collect();
    // The worker's listener: one connection accepted, its address.
    let listen = stats
        .iter()
        .find(|f| f.get("type").map(String::as_str) == Some("LISTEN") && f["address"] == worker)
        .unwrap_or_else(|| panic!("no listener of {worker}: {lines:?}"));
    assert_eq!(listen["accept"], "1", "{lines:?}");
    assert_eq!(listen["sock"], format!("127.0.0.1:{echo}"), "{lines:?}");
    assert!(listen["rtime"].ends_with('s'), "{lines:?}");
    // The connection it accepted: 14 bytes each way, its peer.
    let peer = client.local_addr().unwrap().to_string();
    let conn = stats
        .iter()
        .find(|f| f.get("peer") == Some(&peer))
        .unwrap_or_else(|| panic!("no connection from {peer}: {lines:?}"));
    assert_eq!(conn["type"], "TCP");
    assert_eq!(conn["address"], worker);
    assert_eq!(conn["read"], "14", "{lines:?}");
    assert_eq!(conn["write"], "14", "{lines:?}");
    // As skynet's console, a zero byte count is left out.
    assert!(!conn.contains_key("wbuffer"), "{lines:?}");
    assert_eq!(conn["reading"], "true");
    assert_eq!(conn["writing"], "false");
    for k in ["id", "rtime", "wtime"] {
        assert!(conn.contains_key(k), "{k}: {lines:?}");
    }
    // The console's own listener and this very connection are there too.
    assert!(
        stats
            .iter()
            .any(|f| f.get("sock") == Some(&format!("127.0.0.1:{console_port}"))),
        "{lines:?}"
    );
    // An ordinary service sees only its own sockets.
    assert!(
        node.wait_for("NETSTAT OWN ", Duration::from_secs(10))
            .is_some_and(|l| l.ends_with("OTHERS 0") && !l.contains("OWN 0 ")),
        "{}",
        node.dump()
    );
    // skynet numbers the lines 1..n.
    assert!(lines.iter().all(|l| l
        .split('\t')
        .next()
        .is_some_and(|n| n.parse::<usize>().is_ok())));
}
