//! `skyhold-client [HOST:PORT]`: a terminal client for the example game
//! server. Each line typed is sent as one frame (2-byte big-endian length);
//! each frame received is printed on its own line.
#![forbid(unsafe_code)]

use std::io::{BufRead, Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

fn main() -> ExitCode {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8888".to_string());
    let stream = match TcpStream::connect(&addr) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("can't connect to {addr}: {e} (is `skyhold examples/config` running?)");
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
    std::thread::spawn(move || {
        let mut header = [0u8; 2];
        loop {
            if reader.read_exact(&mut header).is_err() {
                println!("(connection closed)");
                std::process::exit(0);
            }
            let mut body = vec![0u8; usize::from(u16::from_be_bytes(header))];
            if reader.read_exact(&mut body).is_err() {
                println!("(connection closed)");
                std::process::exit(0);
            }
            println!("{}", String::from_utf8_lossy(&body));
        }
    });
    let mut writer = stream;
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        let Ok(line) = line else { break };
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        let bytes = line.as_bytes();
        if bytes.len() > 65_535 {
            eprintln!("line too long for one frame");
            continue;
        }
        let mut frame = Vec::with_capacity(bytes.len() + 2);
        frame.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
        frame.extend_from_slice(bytes);
        if writer.write_all(&frame).is_err() {
            break;
        }
    }
    ExitCode::SUCCESS
}
