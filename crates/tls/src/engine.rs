//! One TLS connection driven over buffers, as skynet's `ltls.c` drives
//! OpenSSL through memory BIOs: bytes from the peer go in, bytes for the
//! peer come out, and the caller moves them over its socket.
//!
//! Nothing here grows without bound: bytes are fed to rustls record by
//! record and the plaintext each yields is taken at once, so rustls's own
//! buffers stay within their limits; what is returned is at most what was
//! fed in (plus records' overhead for writes).

use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, Connection, ServerConfig, ServerConnection};
use std::io::{ErrorKind, Read, Write};
use std::sync::Arc;

enum State {
    /// A client not started: it needs the server's name first.
    Waiting {
        config: Arc<ClientConfig>,
        name: Option<String>,
        verify: bool,
    },
    Running(Box<Connection>),
    Closed,
}

/// A TLS connection over buffers.
pub struct Engine {
    state: State,
    /// Plaintext that arrived during the handshake, for the next `read`.
    early: Vec<u8>,
    /// The peer said close_notify.
    peer_closed: bool,
}

fn err(e: impl std::fmt::Display) -> String {
    format!("ltls: {e}")
}

impl Engine {
    /// The server end of a connection.
    pub fn server(config: Arc<ServerConfig>) -> Result<Engine, String> {
        let conn = ServerConnection::new(config).map_err(err)?;
        Ok(Engine {
            state: State::Running(Box::new(Connection::Server(conn))),
            early: Vec::new(),
            peer_closed: false,
        })
    }

    /// The client end; `name` is the server's DNS name or address (given
    /// here or with [`Engine::set_host_name`] before the handshake).
    pub fn client(config: Arc<ClientConfig>, name: Option<String>, verify: bool) -> Engine {
        Engine {
            state: State::Waiting {
                config,
                name,
                verify,
            },
            early: Vec::new(),
            peer_closed: false,
        }
    }

    /// Sets the name a client checks the server's certificate against (and
    /// sends as SNI when it is a DNS name).
    pub fn set_host_name(&mut self, host: &str) -> Result<(), String> {
        match &mut self.state {
            State::Waiting { name, .. } => {
                *name = Some(host.to_string());
                Ok(())
            }
            State::Running(_) => Err("ltls: the handshake has started".into()),
            State::Closed => Err("ltls: context is closed".into()),
        }
    }

    fn conn(&mut self) -> Result<&mut Connection, String> {
        if let State::Waiting {
            config,
            name,
            verify,
        } = &self.state
        {
            let server_name = match name {
                Some(n) => ServerName::try_from(n.clone())
                    .map_err(|_| format!("ltls: invalid server name '{n}'"))?,
                None if *verify => {
                    return Err(
                        "ltls: a client needs the server's name or address to check its \
                                certificate (set_ext_host_name), or tls_verify = false"
                            .into(),
                    )
                }
                None => ServerName::from(std::net::IpAddr::from([0, 0, 0, 0])),
            };
            let conn = ClientConnection::new(config.clone(), server_name).map_err(err)?;
            self.state = State::Running(Box::new(Connection::Client(conn)));
        }
        match &mut self.state {
            State::Running(c) => Ok(c),
            State::Closed => Err("ltls: context is closed".into()),
            State::Waiting { .. } => unreachable!("started above"),
        }
    }

    /// True once the handshake is done.
    pub fn finished(&self) -> bool {
        match &self.state {
            State::Running(c) => !c.is_handshaking(),
            _ => false,
        }
    }

    /// True once the peer closed the TLS session (close_notify).
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// Feeds `input`, taking the plaintext it yields into `plain`.
    fn feed(&mut self, mut input: &[u8], plain: &mut Vec<u8>) -> Result<(), String> {
        let mut closed = false;
        {
            let conn = self.conn()?;
            while !input.is_empty() {
                let n = conn.read_tls(&mut input).map_err(err)?;
                conn.process_new_packets().map_err(err)?;
                let mut buf = [0u8; 4096];
                loop {
                    match conn.reader().read(&mut buf) {
                        Ok(0) => {
                            closed = true;
                            break;
                        }
                        Ok(k) => plain.extend_from_slice(&buf[..k]),
                        Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                        Err(e) => return Err(err(e)),
                    }
                }
                if n == 0 {
                    break;
                }
            }
        }
        self.peer_closed |= closed;
        Ok(())
    }

    /// What the connection has for the peer.
    fn drain(&mut self) -> Result<Vec<u8>, String> {
        let conn = self.conn()?;
        let mut out = Vec::new();
        while conn.wants_write() {
            conn.write_tls(&mut out).map_err(err)?;
        }
        Ok(out)
    }

    /// One handshake step: feeds what the peer sent, returns what to send
    /// back (empty when nothing). An error once the handshake is done.
    pub fn handshake(&mut self, input: &[u8]) -> Result<Vec<u8>, String> {
        if self.finished() {
            return Err("ltls: handshake is finished".into());
        }
        let mut plain = std::mem::take(&mut self.early);
        let fed = self.feed(input, &mut plain);
        self.early = plain;
        fed?;
        self.drain()
    }

    /// Feeds what the peer sent; returns the plaintext it carried (empty
    /// when a record is still incomplete).
    pub fn read(&mut self, input: &[u8]) -> Result<Vec<u8>, String> {
        let mut plain = std::mem::take(&mut self.early);
        self.feed(input, &mut plain)?;
        Ok(plain)
    }

    /// Encrypts `plain`; returns the records to send (with anything else
    /// the connection has for the peer, such as session tickets).
    pub fn write(&mut self, mut plain: &[u8]) -> Result<Vec<u8>, String> {
        let mut out = Vec::new();
        while !plain.is_empty() {
            let conn = self.conn()?;
            let n = conn.writer().write(plain).map_err(err)?;
            plain = &plain[n..];
            let more = self.drain()?;
            out.extend_from_slice(&more);
            if n == 0 && more.is_empty() {
                return Err("ltls: cannot write before the handshake is done".into());
            }
        }
        out.extend_from_slice(&self.drain()?);
        Ok(out)
    }

    /// Ends the connection: further use is an error.
    pub fn close(&mut self) {
        self.state = State::Closed;
    }

    /// True once closed.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::Settings;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};

    /// A CA and a server certificate for `localhost` and 127.0.0.1,
    /// written to a fresh directory: (dir, ca, cert, key).
    fn certs(tag: &str) -> (std::path::PathBuf, String, String, String) {
        let dir = std::env::temp_dir().join(format!("skyhold-tls-{tag}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let ca_key = KeyPair::generate().unwrap();
        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca_cert = ca.self_signed(&ca_key).unwrap();
        let issuer = Issuer::new(ca, ca_key);
        let key = KeyPair::generate().unwrap();
        let params =
            CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()]).unwrap();
        let cert = params.signed_by(&key, &issuer).unwrap();
        let p = |f: &str| dir.join(f).display().to_string();
        std::fs::write(p("ca.pem"), ca_cert.pem()).unwrap();
        std::fs::write(p("server.pem"), cert.pem()).unwrap();
        std::fs::write(p("server.key"), key.serialize_pem()).unwrap();
        (dir.clone(), p("ca.pem"), p("server.pem"), p("server.key"))
    }

    fn pair(tag: &str, name: Option<&str>, verify: bool) -> Result<(Engine, Engine), String> {
        let (dir, ca, cert, key) = certs(tag);
        let server = Engine::server(crate::configs::server(&cert, &key)?)?;
        let settings = Settings {
            allowed: vec![],
            ca: Some(ca),
            verify,
        };
        let client = Engine::client(
            crate::configs::client(&settings)?,
            name.map(String::from),
            verify,
        );
        std::fs::remove_dir_all(dir).unwrap();
        Ok((server, client))
    }

    /// Runs the handshake as tlshelper does; returns what the client got
    /// in the server's first flight after it.
    fn handshake(server: &mut Engine, client: &mut Engine) -> Result<(), String> {
        let mut to_server = client.handshake(b"")?;
        let mut rounds = 0;
        while !client.finished() || !server.finished() {
            rounds += 1;
            assert!(rounds < 10, "handshake does not end");
            if !server.finished() {
                let to_client = server.handshake(&to_server)?;
                to_server.clear();
                if !client.finished() {
                    to_server = client.handshake(&to_client)?;
                } else {
                    client.read(&to_client)?;
                }
            } else {
                server.read(&to_server)?;
                to_server.clear();
            }
        }
        if !to_server.is_empty() {
            server.read(&to_server)?;
        }
        Ok(())
    }

    #[test]
    fn a_verified_handshake_carries_data_both_ways() {
        for name in ["localhost", "127.0.0.1"] {
            let (mut s, mut c) = pair("ok", Some(name), true).unwrap();
            handshake(&mut s, &mut c).unwrap();
            let tickets = s.write(b"").unwrap();
            c.read(&tickets).unwrap();
            let wire = c.write(b"GET / HTTP/1.1\r\n\r\n").unwrap();
            assert!(!wire.windows(3).any(|w| w == b"GET"), "encrypted");
            // fed one byte at a time, records still come out whole
            let mut got = Vec::new();
            for b in &wire {
                got.extend(s.read(std::slice::from_ref(b)).unwrap());
            }
            assert_eq!(got, b"GET / HTTP/1.1\r\n\r\n");
            let big = vec![7u8; 200_000];
            let wire = s.write(&big).unwrap();
            assert_eq!(c.read(&wire).unwrap(), big);
            assert!(s
                .handshake(b"")
                .unwrap_err()
                .contains("handshake is finished"));
        }
    }

    #[test]
    fn a_wrong_name_or_unknown_authority_fails() {
        let (mut s, mut c) = pair("name", Some("example.com"), true).unwrap();
        let e = handshake(&mut s, &mut c).unwrap_err();
        assert!(e.contains("ltls:"), "{e}");
        // no name with verification on: refused before any byte is sent
        let (_, mut c) = pair("noname", None, true).unwrap();
        assert!(c.handshake(b"").unwrap_err().contains("server's name"));
        // no verification (skynet's client): any name, no name
        let (mut s, mut c) = pair("any", None, false).unwrap();
        handshake(&mut s, &mut c).unwrap();
    }

    #[test]
    fn garbage_and_closed_contexts_are_errors_not_panics() {
        let (mut s, _) = pair("garbage", Some("localhost"), true).unwrap();
        let e = s
            .handshake(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap_err();
        assert!(e.starts_with("ltls:"), "{e}");
        let (_, mut c) = pair("closed", Some("localhost"), true).unwrap();
        c.close();
        assert!(c.is_closed());
        assert!(c.handshake(b"").unwrap_err().contains("closed"));
        assert!(c.set_host_name("x").unwrap_err().contains("closed"));
    }
}
