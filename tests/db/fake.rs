//! Fake database servers in this process: they accept one connection at a
//! time and answer whatever a case needs (malformed or oversized replies).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

/// A listener on a free loopback port; each connection is given to
/// `serve` on its own thread.
pub fn serve(serve: impl Fn(TcpStream) + Send + Sync + 'static) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let serve = std::sync::Arc::new(serve);
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let serve = serve.clone();
            std::thread::spawn(move || {
                let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
                serve(s);
            });
        }
    });
    port
}

/// Reads whatever the client sent (up to 64 KiB), or nothing on timeout.
pub fn read_some(s: &mut TcpStream) -> Vec<u8> {
    let mut buf = vec![0u8; 65536];
    match s.read(&mut buf) {
        Ok(n) => buf[..n].to_vec(),
        Err(_) => Vec::new(),
    }
}

/// Writes `bytes`, ignoring a client that went away.
pub fn write(s: &mut TcpStream, bytes: &[u8]) {
    let _ = s.write_all(bytes);
    let _ = s.flush();
}
