//! `skyhold-pb-client [HOST:PORT]`: a terminal client for the protobuf game
//! (`skyhold examples/config.protobuf`). It writes and reads the messages
//! of `examples/proto/game.proto` in protobuf's wire format (written out
//! here by hand: the workspace has no protobuf crate, and the game needs
//! only varints and length-delimited fields), each message in a 2-byte
//! big-endian frame.
//!
//! Type `hello NAME`, `get KEY`, `set KEY VALUE`, `quit`; answers are
//! printed one per line, and `(connection closed)` when the server closes
//! the connection.
#![forbid(unsafe_code)]

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

/// Appends `v` as a protobuf varint.
fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Appends field `n` as a length-delimited value.
fn put_bytes(out: &mut Vec<u8>, n: u32, bytes: &[u8]) {
    put_varint(out, u64::from(n) << 3 | 2);
    put_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// One field read from a message: a varint or bytes (fixed-size values,
/// which game.proto does not use, are read as bytes).
#[derive(Debug)]
enum Val {
    Varint(u64),
    Bytes(Vec<u8>),
}

/// Reads a varint at `*at`.
fn get_varint(b: &[u8], at: &mut usize) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at).ok_or("a varint runs past the end")?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte < 0x80 {
            return Ok(v);
        }
    }
    Err("a varint longer than 10 bytes".into())
}

/// The fields of a message, in the order they came.
fn fields(b: &[u8]) -> Result<Vec<(u64, Val)>, String> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < b.len() {
        let key = get_varint(b, &mut at)?;
        let v = match key & 7 {
            0 => Val::Varint(get_varint(b, &mut at)?),
            2 => {
                let len = usize::try_from(get_varint(b, &mut at)?).map_err(|e| e.to_string())?;
                let end = at
                    .checked_add(len)
                    .filter(|e| *e <= b.len())
                    .ok_or("a length runs past the end")?;
                let v = b[at..end].to_vec();
                at = end;
                Val::Bytes(v)
            }
            1 | 5 => {
                let n = if key & 7 == 1 { 8 } else { 4 };
                let end = at + n;
                let v = b.get(at..end).ok_or("a fixed value runs past the end")?;
                at = end;
                Val::Bytes(v.to_vec())
            }
            w => return Err(format!("wire type {w} is not one game.proto uses")),
        };
        out.push((key >> 3, v));
    }
    Ok(out)
}

/// Field `n` of `f` as text (empty if absent).
fn text(f: &[(u64, Val)], n: u64) -> String {
    f.iter()
        .rev()
        .find_map(|(k, v)| match v {
            Val::Bytes(b) if *k == n => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        })
        .unwrap_or_default()
}

/// Field `n` of `f` as a number (0 if absent).
fn number(f: &[(u64, Val)], n: u64) -> u64 {
    f.iter()
        .rev()
        .find_map(|(k, v)| match v {
            Val::Varint(x) if *k == n => Some(*x),
            _ => None,
        })
        .unwrap_or(0)
}

/// A game.Request with `session` and the command a typed line makes.
fn request(line: &str, session: u32) -> Result<Vec<u8>, String> {
    let mut words = line.split_whitespace();
    let cmd = words.next().unwrap_or("");
    let mut body = Vec::new();
    let field = match cmd {
        "hello" => {
            put_bytes(
                &mut body,
                1,
                words.next().ok_or("usage: hello NAME")?.as_bytes(),
            );
            2
        }
        "get" => {
            put_bytes(
                &mut body,
                1,
                words.next().ok_or("usage: get KEY")?.as_bytes(),
            );
            3
        }
        "set" => {
            let key = words.next().ok_or("usage: set KEY VALUE")?;
            let value: Vec<&str> = words.collect();
            put_bytes(&mut body, 1, key.as_bytes());
            put_bytes(&mut body, 2, value.join(" ").as_bytes());
            4
        }
        "quit" => 5,
        _ => {
            return Err(format!(
                "unknown command {cmd:?}: hello NAME, get KEY, set KEY VALUE, quit"
            ))
        }
    };
    let mut msg = Vec::new();
    put_varint(&mut msg, 1 << 3);
    put_varint(&mut msg, u64::from(session));
    put_bytes(&mut msg, field, &body);
    Ok(msg)
}

/// One line saying what a game.Response was, and its session.
fn describe(bytes: &[u8]) -> Result<(u64, String), String> {
    let f = fields(bytes)?;
    let session = number(&f, 1);
    let (n, inner) = f
        .iter()
        .rev()
        .find_map(|(k, v)| match v {
            Val::Bytes(b) if (2..=6).contains(k) => Some((*k, b.as_slice())),
            _ => None,
        })
        .ok_or("an answer with no result")?;
    let r = fields(inner)?;
    let line = match n {
        2 => format!("{} ({} playing)", text(&r, 1), number(&r, 2)),
        3 if number(&r, 1) != 0 => format!("= {}", text(&r, 2)),
        3 => "(not set)".to_string(),
        4 => "ok".to_string(),
        5 => text(&r, 1),
        _ => format!("refused: {}", text(&r, 1)),
    };
    Ok((session, line))
}

fn main() -> ExitCode {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8891".to_string());
    let stream = match TcpStream::connect(&addr) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "can't connect to {addr}: {e} (is `skyhold examples/config.protobuf` running?)"
            );
            return ExitCode::from(1);
        }
    };
    let _ = stream.set_nodelay(true);
    let mut reader = match stream.try_clone() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    // The sessions still waiting for an answer.
    let waiting: Arc<Mutex<Vec<u64>>> = Arc::default();
    let w = waiting.clone();
    std::thread::spawn(move || {
        let mut header = [0u8; 2];
        loop {
            if reader.read_exact(&mut header).is_err() {
                break;
            }
            let mut body = vec![0u8; usize::from(u16::from_be_bytes(header))];
            if reader.read_exact(&mut body).is_err() {
                break;
            }
            match describe(&body) {
                Ok((session, line)) => {
                    if let Ok(mut w) = w.lock() {
                        w.retain(|s| *s != session);
                    }
                    println!("{line}");
                }
                Err(e) => println!("(a message game.proto does not read: {e})"),
            }
        }
        println!("(connection closed)");
        std::process::exit(0);
    });
    let mut writer = stream;
    let mut session = 0u32;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        session += 1;
        let msg = match request(&line, session) {
            Ok(m) if m.len() <= 65_535 => m,
            Ok(_) => {
                eprintln!("request too large for one frame");
                continue;
            }
            Err(e) => {
                eprintln!("{e}");
                continue;
            }
        };
        if let Ok(mut w) = waiting.lock() {
            w.push(u64::from(session));
        }
        let mut frame = Vec::with_capacity(msg.len() + 2);
        frame.extend_from_slice(&(msg.len() as u16).to_be_bytes());
        frame.extend_from_slice(&msg);
        if writer.write_all(&frame).is_err() {
            break;
        }
    }
    // Input ended: wait (a while) for the answers still due, or for the
    // server to close after a quit.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while waiting.lock().map(|w| !w.is_empty()).unwrap_or(false)
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_protobuf() {
        // session 1, set { key "k", value "a b" }
        assert_eq!(
            request("set k a b", 1).unwrap(),
            b"\x08\x01\x22\x08\x0a\x01k\x12\x03a b".to_vec()
        );
        // quit is an empty message, present
        assert_eq!(
            request("quit", 300).unwrap(),
            b"\x08\xac\x02\x2a\x00".to_vec()
        );
        assert!(request("dance", 1).is_err());
    }

    #[test]
    fn answers_are_read_and_bad_bytes_refused() {
        let mut welcome = Vec::new();
        put_bytes(&mut welcome, 1, b"welcome, x");
        welcome.extend_from_slice(&[0x10, 0x02]);
        let mut resp = vec![0x08, 0x07];
        put_bytes(&mut resp, 2, &welcome);
        assert_eq!(
            describe(&resp).unwrap(),
            (7, "welcome, x (2 playing)".to_string())
        );
        assert!(describe(&[0x08]).is_err());
        assert!(describe(&[0x12, 0xff, 0x01]).is_err());
        assert!(describe(&[0x08, 0x01]).is_err());
    }
}
