//! skynet.db.redis against a real redis-server.

use super::servers::Redis;
use super::{boot, check, expect_pass};
use std::time::Duration;

fn ports(r: &Redis) -> Vec<(&'static str, String)> {
    vec![("redis_port", r.port.to_string())]
}

/// Commands through `__index`, replies of every kind, error replies
/// raised, booleans, MULTI/EXEC, pipelines, AUTH with a user, SELECT,
/// concurrent callers, pub/sub with subscribe and psubscribe.
#[test]
fn redis_commands() {
    let Some(r) = Redis::start() else { return };
    check("redis_commands", &ports(&r));
}

/// The server restarts while a service writes: the writes in flight fail
/// with an error, the channel reconnects, and every write that was
/// acknowledged is there afterwards. A watcher subscribes again.
#[test]
fn redis_restart() {
    let Some(mut r) = Redis::start() else { return };
    let node = boot("redis_restart", &ports(&r));
    assert!(
        node.wait_for("WRITING", Duration::from_secs(20)).is_some(),
        "no WRITING; log:\n{}",
        node.dump()
    );
    std::thread::sleep(Duration::from_millis(200));
    r.stop();
    assert!(
        node.wait_for("SAW ERROR", Duration::from_secs(20))
            .is_some(),
        "the service saw no error while the server was down; log:\n{}",
        node.dump()
    );
    std::thread::sleep(Duration::from_millis(300));
    r.restart();
    expect_pass(&node, "redis_restart", Duration::from_secs(60));
}

/// A fake server's reply to a GET of `key`.
fn fake_reply(key: &str) -> Vec<u8> {
    match key {
        "badtype" => b"?what\r\n".to_vec(),
        "badlen" => b"$abc\r\n".to_vec(),
        "badint" => b":12x\r\n".to_vec(),
        "badend" => b"$3\r\nabcXY".to_vec(),
        "huge" => b"$999999999\r\n".to_vec(),
        "hugearray" => b"*3\r\n$2\r\nok\r\n$99999999999\r\n".to_vec(),
        "endless" => {
            // a status line that never ends: 8 MiB without CRLF
            let mut v = b"+".to_vec();
            v.resize(8 << 20, b'x');
            v
        }
        _ => b"$4\r\nfine\r\n".to_vec(),
    }
}

/// Malformed and oversized replies from a fake server: each raises a
/// clear error, the connection is dropped (bounded: an endless line is cut
/// at the read limit), and the next request reconnects and works.
#[test]
fn redis_malformed() {
    let port = super::fake::serve(|mut s| loop {
        let req = super::fake::read_some(&mut s);
        if req.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&req);
        // the key is the last argument: "...\r\n$N\r\nkey\r\n"
        let key = text
            .trim_end()
            .rsplit("\r\n")
            .next()
            .unwrap_or("")
            .to_string();
        let reply = if text.contains("SELECT") || text.contains("AUTH") {
            b"+OK\r\n".to_vec()
        } else {
            fake_reply(&key)
        };
        super::fake::write(&mut s, &reply);
    });
    check("redis_malformed", &[("redis_port", port.to_string())]);
}
