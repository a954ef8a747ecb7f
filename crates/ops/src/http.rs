//! The endpoint's listener: a thread of its own accepting HTTP/1.x
//! connections, one request each, answered by a short-lived thread of a
//! bounded number ([`MAX_CONNECTIONS`]; past that a client gets 503).
//!
//! | path | what |
//! |---|---|
//! | `/metrics` | the Prometheus text format |
//! | `/` | the dashboard (one page, inline script and style) |
//! | `/api/services` | the dashboard's data, JSON |
//!
//! Everything here is read-only. Off loopback every request needs an
//! operator's HTTP Basic credentials (compared in constant time, failures
//! limited per node and audited); on loopback a request must name this
//! machine in its `Host` header, so a web page elsewhere cannot read the
//! endpoint by rebinding its own name to 127.0.0.1.

use parking_lot::Mutex;
use skyhold_lua::console_module::{check, NodeFailures};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::collect::Collector;
use crate::config::OpsConfig;
use crate::request::{self, BadRequest, Request};
use crate::{json, prom};

/// Connections answered at once.
pub const MAX_CONNECTIONS: usize = 8;

/// How long a client may take to send its request or read the answer.
pub const IO_TIMEOUT: Duration = Duration::from_secs(5);

/// How often the accept loop looks for the stop flag when idle.
const POLL: Duration = Duration::from_millis(50);

/// The dashboard.
pub const DASHBOARD: &str = include_str!("dashboard.html");

/// The dashboard's policy: its own inline script and style, requests to
/// this endpoint only, nothing from elsewhere.
const PAGE_POLICY: &str = "default-src 'none'; script-src 'unsafe-inline'; \
    style-src 'unsafe-inline'; connect-src 'self'; img-src data:; \
    base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// What answers requests.
pub struct Server {
    config: OpsConfig,
    collector: Collector,
    failures: Mutex<NodeFailures>,
    active: AtomicUsize,
}

/// One answer.
struct Answer {
    status: &'static str,
    content_type: &'static str,
    extra: Vec<(&'static str, String)>,
    body: String,
}

impl Answer {
    fn text(status: &'static str, body: impl Into<String>) -> Answer {
        Answer {
            status,
            content_type: "text/plain; charset=utf-8",
            extra: Vec::new(),
            body: body.into(),
        }
    }
}

impl Server {
    /// A server for `config` reading through `collector`.
    pub fn new(config: OpsConfig, collector: Collector) -> Server {
        Server {
            config,
            collector,
            failures: Mutex::new(NodeFailures::default()),
            active: AtomicUsize::new(0),
        }
    }

    /// Accepts until `stop` is set; runs on its own thread.
    pub fn run(self: Arc<Self>, listener: TcpListener, stop: Arc<AtomicBool>) {
        if listener.set_nonblocking(true).is_err() {
            return;
        }
        while !stop.load(Ordering::Acquire) {
            let (stream, peer) = match listener.accept() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    std::thread::sleep(POLL);
                    continue;
                }
                Err(_) => {
                    std::thread::sleep(POLL);
                    continue;
                }
            };
            self.take(stream, peer);
        }
    }

    fn take(self: &Arc<Self>, stream: TcpStream, peer: SocketAddr) {
        let _ = stream.set_nonblocking(false);
        let _ = stream.set_read_timeout(Some(IO_TIMEOUT));
        let _ = stream.set_write_timeout(Some(IO_TIMEOUT));
        if self.active.fetch_add(1, Ordering::AcqRel) >= MAX_CONNECTIONS {
            self.active.fetch_sub(1, Ordering::AcqRel);
            let mut stream = stream;
            write(
                &mut stream,
                &Answer::text("503 Service Unavailable", "busy\n"),
                false,
            );
            return;
        }
        let me = self.clone();
        let spawned = std::thread::Builder::new()
            .name("skyhold-ops-conn".into())
            .spawn(move || {
                me.serve(stream, peer);
                me.active.fetch_sub(1, Ordering::AcqRel);
            });
        if spawned.is_err() {
            self.active.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn serve(&self, mut stream: TcpStream, peer: SocketAddr) {
        let mut buf = Vec::with_capacity(1024);
        let mut chunk = [0u8; 2048];
        // The whole head within the timeout, not each read: a client that
        // trickles a byte at a time does not keep its thread.
        let deadline = Instant::now() + IO_TIMEOUT;
        let parsed = loop {
            match request::parse(&buf) {
                Err(BadRequest::Incomplete) => {}
                other => break other,
            }
            let Some(left) = deadline.checked_duration_since(Instant::now()) else {
                return;
            };
            if left.is_zero() || stream.set_read_timeout(Some(left)).is_err() {
                return;
            }
            match stream.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n.min(request::HEAD_LIMIT)]),
            }
        };
        let (answer, head) = match parsed {
            Ok(r) => (self.answer(&r, peer), r.method == "HEAD"),
            Err(e) => (Answer::text("400 Bad Request", format!("{e}\n")), false),
        };
        write(&mut stream, &answer, head);
    }

    fn answer(&self, r: &Request, peer: SocketAddr) -> Answer {
        if self.config.loopback() && !r.host.as_deref().is_none_or(request::loopback_host) {
            return Answer::text(
                "403 Forbidden",
                "this endpoint answers requests for localhost only (Host header)\n",
            );
        }
        if !self.config.loopback() {
            if let Some(refusal) = self.login(r, peer) {
                return refusal;
            }
        }
        if r.method != "GET" && r.method != "HEAD" {
            let mut a = Answer::text("405 Method Not Allowed", "read-only: GET or HEAD\n");
            a.extra.push(("Allow", "GET, HEAD".into()));
            return a;
        }
        match r.path.as_str() {
            "/metrics" => Answer {
                status: "200 OK",
                content_type: prom::CONTENT_TYPE,
                extra: Vec::new(),
                body: prom::render(&self.collector.snapshot(), self.config.max_services),
            },
            "/api/services" => Answer {
                status: "200 OK",
                content_type: "application/json",
                extra: Vec::new(),
                body: json::render(&self.collector.snapshot(), self.config.dashboard_rows),
            },
            "/" | "/index.html" => Answer {
                status: "200 OK",
                content_type: "text/html; charset=utf-8",
                extra: vec![
                    ("Content-Security-Policy", PAGE_POLICY.into()),
                    ("X-Frame-Options", "DENY".into()),
                ],
                body: DASHBOARD.to_string(),
            },
            _ => Answer::text(
                "404 Not Found",
                "not found: try /, /metrics or /api/services\n",
            ),
        }
    }

    /// `None` if the request carries an operator's credentials; the
    /// refusal otherwise (failures counted against the node and audited).
    fn login(&self, r: &Request, peer: SocketAddr) -> Option<Answer> {
        let now = Instant::now();
        let wait = {
            let mut f = self.failures.lock();
            (!f.open(now)).then(|| f.wait(now))
        };
        if let Some(wait) = wait {
            let mut a = Answer::text(
                "429 Too Many Requests",
                format!("too many failed logins; try again in {wait} s\n"),
            );
            a.extra.push(("Retry-After", wait.to_string()));
            return Some(a);
        }
        let given = r.authorization.as_deref().and_then(request::basic);
        let ok = given
            .as_ref()
            .and_then(|(u, p)| check(&self.config.users, u, p))
            .is_some();
        if ok {
            return None;
        }
        if given.is_some() {
            self.failures.lock().fail(now);
            self.collector.node().audit_refused_by(
                &format!("metrics client {}", peer.ip()),
                "ops_login",
                "the metrics endpoint",
                "wrong user or password",
            );
        }
        let mut a = Answer::text("401 Unauthorized", "operator credentials needed\n");
        a.extra.push((
            "WWW-Authenticate",
            "Basic realm=\"skyhold\", charset=\"UTF-8\"".into(),
        ));
        Some(a)
    }
}

fn write(stream: &mut TcpStream, a: &Answer, head_only: bool) {
    let mut out = format!(
        "HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nCache-Control: no-store\r\n\
         X-Content-Type-Options: nosniff\r\nConnection: close\r\n",
        a.status,
        a.content_type,
        a.body.len()
    );
    for (k, v) in &a.extra {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    if !head_only {
        out.push_str(&a.body);
    }
    let _ = stream.write_all(out.as_bytes());
    let _ = stream.flush();
}
