//! skynet.db.mysql against a real mariadbd.

use super::servers::{Mariadb, MYSQL_DATABASE, MYSQL_PASSWORD};
use super::{boot, check, expect_pass};
use std::time::Duration;

fn conf(m: &Mariadb) -> Vec<(&'static str, String)> {
    vec![
        ("mysql_port", m.port.to_string()),
        ("mysql_password", MYSQL_PASSWORD.to_string()),
        ("mysql_database", MYSQL_DATABASE.to_string()),
        // a test password, readable by the case's services
        ("public_keys", "mysql_password".to_string()),
    ]
}

/// One server for the cases that only talk to it (starting MariaDB takes
/// seconds); the restart case has its own.
#[test]
fn mysql_queries_and_statements() {
    let Some(m) = Mariadb::start() else { return };
    check("mysql_queries", &conf(&m));
    check("mysql_statements", &conf(&m));
}

/// The server restarts while a service writes: writes in flight fail with
/// an error, the channel reconnects (the handshake again), and every
/// acknowledged insert is in the table afterwards.
#[test]
fn mysql_restart() {
    let Some(mut m) = Mariadb::start() else {
        return;
    };
    let node = boot("mysql_restart", &conf(&m));
    assert!(
        node.wait_for("WRITING", Duration::from_secs(30)).is_some(),
        "no WRITING; log:\n{}",
        node.dump()
    );
    m.stop();
    assert!(
        node.wait_for("SAW ERROR", Duration::from_secs(30))
            .is_some(),
        "the service saw no error while the server was down; log:\n{}",
        node.dump()
    );
    m.restart();
    expect_pass(&node, "mysql_restart", Duration::from_secs(90));
}

/// A handshake packet with a length over max_packet_size, a greeting cut
/// short, and a garbage reply to a query: clear errors, nothing read past
/// the limit.
#[test]
fn mysql_malformed() {
    use super::fake;
    let port = fake::serve(|mut s| {
        // a greeting: protocol 10, version, thread id, scramble, caps...
        let mut g = vec![10u8];
        g.extend_from_slice(b"5.5.5-fake\0");
        g.extend_from_slice(&1u32.to_le_bytes());
        g.extend_from_slice(b"abcdefgh\0");
        g.extend_from_slice(&0xf7ffu16.to_le_bytes());
        g.push(45);
        g.extend_from_slice(&2u16.to_le_bytes());
        g.extend_from_slice(&0x81bfu16.to_le_bytes());
        g.push(21);
        g.extend_from_slice(&[0u8; 10]);
        g.extend_from_slice(b"ijklmnopqrst\0");
        g.extend_from_slice(b"mysql_native_password\0");
        let mut pkt = (g.len() as u32).to_le_bytes()[..3].to_vec();
        pkt.push(0);
        pkt.extend_from_slice(&g);
        fake::write(&mut s, &pkt);
        let _login = fake::read_some(&mut s);
        fake::write(&mut s, &[7, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0]);
        loop {
            let q = fake::read_some(&mut s);
            if q.is_empty() {
                return;
            }
            let text = String::from_utf8_lossy(&q);
            if text.contains("huge") {
                // 16 MiB - 1 announced
                fake::write(&mut s, &[0xff, 0xff, 0xff, 1]);
            } else if text.contains("short") {
                // a result set header, then a column packet cut short
                fake::write(&mut s, &[1, 0, 0, 1, 1, 3, 0, 0, 2, 3, b'd']);
                return;
            } else {
                fake::write(&mut s, &[7, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0]);
            }
        }
    });
    check("mysql_malformed", &[("mysql_port", port.to_string())]);
}
