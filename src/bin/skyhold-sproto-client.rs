//! `skyhold-sproto-client [HOST:PORT]`: a terminal client for the sproto
//! game (`skyhold examples/config.sproto`). It speaks the game's schemas
//! (`examples/proto/*.sproto`, built in) with skyhold-sproto's Rust host:
//! each message a packed sproto package in a 2-byte big-endian frame.
//!
//! Type `handshake NAME`, `get KEY`, `set KEY VALUE`, `quit`; answers and
//! the server's heartbeats are printed one per line, and
//! `(connection closed)` when the server closes the connection.
#![forbid(unsafe_code)]

use parking_lot::Mutex;
use skyhold_sproto::host::{parse_schema, Host, Message};
use skyhold_sproto::value::{Struct, Value};
use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;
use std::sync::Arc;

const C2S: &str = include_str!("../../examples/proto/game_c2s.sproto");
const S2C: &str = include_str!("../../examples/proto/game_s2c.sproto");

/// The text of field `k` of `m` (empty if absent).
fn text(m: &Option<Struct>, k: &str) -> String {
    m.as_ref()
        .and_then(|m| m.get(k))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// One line saying what a message from the server was.
fn describe(msg: &Message, asked: &str) -> String {
    match msg {
        Message::Request { name, args, .. } if name == "heartbeat" => {
            let tick = args
                .as_ref()
                .and_then(|a| a.get("tick"))
                .and_then(Value::as_i64)
                .unwrap_or(0);
            format!("heartbeat {tick}")
        }
        Message::Request { name, .. } => format!("(unexpected request {name})"),
        Message::Response { args, .. } => {
            let field = |k: &str| args.as_ref().and_then(|a| a.get(k));
            match asked {
                "handshake" => {
                    let every = field("heartbeat").and_then(Value::as_i64).unwrap_or(0);
                    format!("{} (heartbeat every {every} s)", text(args, "welcome"))
                }
                "get" => match field("found") {
                    Some(Value::Boolean(true)) => format!("= {}", text(args, "value")),
                    _ => "(not set)".to_string(),
                },
                "set" => match field("ok") {
                    Some(Value::Boolean(true)) => "ok".to_string(),
                    _ => format!("refused: {}", text(args, "error")),
                },
                "quit" => text(args, "bye"),
                _ => "(answer)".to_string(),
            }
        }
    }
}

/// The request a typed line makes: its protocol name and arguments.
fn parse_line(line: &str) -> Result<(&'static str, Struct), String> {
    let mut words = line.split_whitespace();
    let cmd = words.next().unwrap_or("");
    let mut args = Struct::new();
    let name = match cmd {
        "handshake" => {
            let name = words.next().ok_or("usage: handshake NAME")?;
            args.insert("name".into(), Value::str(name));
            "handshake"
        }
        "get" => {
            let key = words.next().ok_or("usage: get KEY")?;
            args.insert("key".into(), Value::str(key));
            "get"
        }
        "set" => {
            let key = words.next().ok_or("usage: set KEY VALUE")?;
            let value: Vec<&str> = words.collect();
            args.insert("key".into(), Value::str(key));
            args.insert("value".into(), Value::str(&value.join(" ")));
            "set"
        }
        "quit" => "quit",
        _ => {
            return Err(format!(
                "unknown command {cmd:?}: handshake NAME, get KEY, set KEY VALUE, quit"
            ))
        }
    };
    Ok((name, args))
}

fn main() -> ExitCode {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8890".to_string());
    let schemas = parse_schema(S2C, "game_s2c.sproto")
        .and_then(|s2c| Ok((s2c, parse_schema(C2S, "game_c2s.sproto")?)));
    let host = match schemas.and_then(|(s2c, c2s)| Host::new(s2c, c2s, "package")) {
        Ok(h) => Arc::new(Mutex::new(h)),
        Err(e) => {
            eprintln!("the built-in schemas do not load: {e}");
            return ExitCode::from(1);
        }
    };
    let stream = match TcpStream::connect(&addr) {
        Ok(s) => s,
        Err(e) => {
            eprintln!(
                "can't connect to {addr}: {e} (is `skyhold examples/config.sproto` running?)"
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
    // What each waiting session asked, to print its answer.
    let asked: Arc<Mutex<Vec<(i64, &'static str)>>> = Arc::default();
    let (h, a) = (host.clone(), asked.clone());
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
            let msg = h.lock().dispatch(&body);
            let line = match msg {
                Ok(msg) => {
                    let name = match &msg {
                        Message::Response { session, .. } => {
                            let mut a = a.lock();
                            let i = a.iter().position(|(s, _)| s == session);
                            i.map(|i| a.remove(i).1).unwrap_or("")
                        }
                        Message::Request { .. } => "",
                    };
                    describe(&msg, name)
                }
                Err(e) => format!("(a message the schema does not read: {e})"),
            };
            println!("{line}");
        }
        println!("(connection closed)");
        std::process::exit(0);
    });
    let mut writer = stream;
    let mut session = 0i64;
    for line in std::io::stdin().lock().lines() {
        let Ok(line) = line else { break };
        if line.trim().is_empty() {
            continue;
        }
        let (name, args) = match parse_line(&line) {
            Ok(r) => r,
            Err(e) => {
                eprintln!("{e}");
                continue;
            }
        };
        session += 1;
        let packed = {
            let mut h = host.lock();
            h.request(name, &args, Some(session))
        };
        let packed = match packed {
            Ok(p) if p.len() <= 65_535 => p,
            Ok(_) => {
                eprintln!("request too large for one frame");
                continue;
            }
            Err(e) => {
                eprintln!("{e}");
                continue;
            }
        };
        asked.lock().push((session, name));
        let mut frame = Vec::with_capacity(packed.len() + 2);
        frame.extend_from_slice(&(packed.len() as u16).to_be_bytes());
        frame.extend_from_slice(&packed);
        if writer.write_all(&frame).is_err() {
            break;
        }
    }
    // Input ended: wait (a while) for the answers still due, or for the
    // server to close after a quit.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !asked.lock().is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    ExitCode::SUCCESS
}
