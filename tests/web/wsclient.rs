//! A small RFC 6455 client over a blocking TCP stream, written for these
//! tests: the opening handshake (checked against the RFC's own example
//! key and answer), masked frames, fragments, control frames; over plain
//! TCP or over TLS (rustls, trusting a test authority) for `wss://`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The key of RFC 6455 §1.3 and the accept value it must produce.
pub const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// The answer to [`KEY`].
pub const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// One frame as read.
#[derive(Debug, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub op: u8,
    pub payload: Vec<u8>,
}

/// A byte stream the client speaks over: TCP, or TLS over TCP.
pub trait Stream: Read + Write + Send {}
impl<T: Read + Write + Send> Stream for T {}

pub struct Client {
    pub s: Box<dyn Stream>,
    /// The server's 101 response header.
    pub response: String,
}

impl Client {
    /// Connects and completes the opening handshake for `path`.
    pub fn connect(port: u16, path: &str) -> Client {
        let s = TcpStream::connect(("127.0.0.1", port)).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        Client::open(Box::new(s), port, path)
    }

    /// Connects over TLS (`wss://`), checking the server's certificate for
    /// `name` against the authority in the PEM file `ca`, and completes the
    /// opening handshake for `path`.
    pub fn connect_tls(port: u16, path: &str, ca: &str, name: &str) -> Client {
        Client::open(Box::new(tls_stream(port, ca, name).unwrap()), port, path)
    }

    fn open(mut s: Box<dyn Stream>, port: u16, path: &str) -> Client {
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        s.write_all(req.as_bytes()).unwrap();
        let mut head = Vec::new();
        let mut b = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            s.read_exact(&mut b).unwrap();
            head.push(b[0]);
            assert!(head.len() < 4096, "response header too long");
        }
        let response = String::from_utf8(head).unwrap();
        assert!(
            response.starts_with("HTTP/1.1 101"),
            "handshake refused: {response}"
        );
        assert!(
            response.contains(&format!("Sec-WebSocket-Accept: {ACCEPT}")),
            "{response}"
        );
        Client { s, response }
    }

    /// Sends one masked frame.
    pub fn send_frame(&mut self, fin: bool, op: u8, payload: &[u8]) {
        let f = masked_frame(fin, op, payload);
        self.s.write_all(&f).unwrap();
    }

    /// Sends text messages in one write: a server that cuts the client off
    /// part way cannot make a later write of the burst fail.
    pub fn send_texts(&mut self, texts: &[String]) {
        let burst: Vec<u8> = texts
            .iter()
            .flat_map(|t| masked_frame(true, 1, t.as_bytes()))
            .collect();
        self.s.write_all(&burst).unwrap();
    }

    /// Sends a whole text message.
    pub fn send_text(&mut self, text: &str) {
        self.send_frame(true, 1, text.as_bytes());
    }

    /// Reads one frame; None when the connection ended.
    pub fn read_frame(&mut self) -> Option<Frame> {
        let mut h = [0u8; 2];
        self.s.read_exact(&mut h).ok()?;
        assert_eq!(h[1] & 0x80, 0, "a server's frames are not masked");
        let mut n = (h[1] & 0x7f) as u64;
        if n == 126 {
            let mut b = [0u8; 2];
            self.s.read_exact(&mut b).ok()?;
            n = u16::from_be_bytes(b) as u64;
        } else if n == 127 {
            let mut b = [0u8; 8];
            self.s.read_exact(&mut b).ok()?;
            n = u64::from_be_bytes(b);
        }
        assert!(n < 16 << 20, "frame of {n} bytes");
        let mut payload = vec![0u8; n as usize];
        self.s.read_exact(&mut payload).ok()?;
        Some(Frame {
            fin: h[0] & 0x80 != 0,
            op: h[0] & 0x0f,
            payload,
        })
    }

    /// Reads frames up to the next data or close frame.
    pub fn read_message(&mut self) -> Option<Frame> {
        loop {
            let f = self.read_frame()?;
            if f.op != 0x9 && f.op != 0xA {
                return Some(f);
            }
        }
    }

    /// Reads until a close frame; its code. None if the connection ended
    /// without one.
    pub fn close_code(&mut self) -> Option<u16> {
        loop {
            let f = self.read_frame()?;
            if f.op == 8 {
                if f.payload.len() >= 2 {
                    return Some(u16::from_be_bytes([f.payload[0], f.payload[1]]));
                }
                return Some(0);
            }
        }
    }
}

/// A TLS connection to 127.0.0.1:`port` that trusts only the authority in
/// `ca` and expects a certificate for `name`; the handshake runs on first
/// use.
pub fn tls_stream(
    port: u16,
    ca: &str,
    name: &str,
) -> Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>, String> {
    let settings = skyhold_tls::Settings {
        allowed: vec![],
        ca: Some(ca.to_string()),
        verify: true,
    };
    let config = skyhold_tls::configs::client(&settings)?;
    let server_name =
        rustls::pki_types::ServerName::try_from(name.to_string()).map_err(|e| e.to_string())?;
    let conn = rustls::ClientConnection::new(config, server_name).map_err(|e| e.to_string())?;
    let tcp = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    tcp.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    Ok(rustls::StreamOwned::new(conn, tcp))
}

/// One client frame: masked, as RFC 6455 requires of clients.
fn masked_frame(fin: bool, op: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![(if fin { 0x80 } else { 0 }) | op];
    let n = payload.len();
    if n < 126 {
        f.push(0x80 | n as u8);
    } else if n <= 0xffff {
        f.push(0x80 | 126);
        f.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        f.push(0x80 | 127);
        f.extend_from_slice(&(n as u64).to_be_bytes());
    }
    let key = [0x37u8, 0xfa, 0x21, 0x3d];
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}
