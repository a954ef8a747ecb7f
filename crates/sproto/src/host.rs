//! sproto's RPC layer for Rust programs, as `lualib/sproto.lua`'s host
//! and `attach` frame it: every message is a `package` header (the
//! protocol's `type` tag for a request, the `session` when an answer is
//! wanted), then the request or response struct, all zero-packed. A
//! [`Host`] receives with one schema (its `local` side: the requests sent
//! to it, and the `package` type) and sends requests of another (`remote`),
//! so a client built on it talks to a service using `host:dispatch` and
//! `host:attach` with the same two schemas, byte for byte.

use crate::pack::{pack, unpack};
use crate::schema::{lossy, Sproto};
use crate::value::{decode, encode, Struct, Value};
use std::collections::HashMap;
use std::sync::Arc;

/// Answers one [`Host`] may wait for at once; a request past it is refused.
pub const MAX_PENDING: usize = 65_536;

/// A message [`Host::dispatch`] read.
#[derive(Clone, Debug, PartialEq)]
pub enum Message {
    /// A request of the host's own schema.
    Request {
        /// The protocol's name.
        name: String,
        /// Its request struct (`None` for a protocol without one).
        args: Option<Struct>,
        /// The session to answer with, if the sender wants an answer.
        session: Option<i64>,
    },
    /// The answer to a request this host sent.
    Response {
        /// The session the request was sent with.
        session: i64,
        /// The response struct (`None` for a protocol without one).
        args: Option<Struct>,
    },
}

/// One end of a sproto conversation.
pub struct Host {
    local: Arc<Sproto>,
    remote: Arc<Sproto>,
    package: usize,
    /// Sessions of requests sent and not answered: the response type of
    /// each (`None` when the protocol has none).
    pending: HashMap<i64, Option<usize>>,
}

fn no_tick() -> Result<(), String> {
    Ok(())
}

impl Host {
    /// A host receiving requests of `local` (whose type `package` frames
    /// every message) and sending requests of `remote`.
    pub fn new(local: Arc<Sproto>, remote: Arc<Sproto>, package: &str) -> Result<Host, String> {
        let package = local
            .type_index(package.as_bytes())
            .ok_or_else(|| format!("type {package} not found in the schema"))?;
        Ok(Host {
            local,
            remote,
            package,
            pending: HashMap::new(),
        })
    }

    /// Requests sent and not answered yet.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    fn header(&self, tag: Option<i64>, session: Option<i64>) -> Result<Vec<u8>, String> {
        let mut h = Struct::new();
        if let Some(t) = tag {
            h.insert("type".into(), Value::Integer(t));
        }
        if let Some(s) = session {
            h.insert("session".into(), Value::Integer(s));
        }
        encode(&self.local, self.package, &h)
    }

    /// The packed bytes of request `name` of the remote schema with `args`
    /// (ignored if the protocol has no request type), asking for an answer
    /// under `session` if given.
    pub fn request(
        &mut self,
        name: &str,
        args: &Struct,
        session: Option<i64>,
    ) -> Result<Vec<u8>, String> {
        let remote = self.remote.clone();
        let tag = remote
            .proto_tag(name.as_bytes())
            .ok_or_else(|| format!("protocol {name} not found"))?;
        let p = remote.proto(tag).ok_or("protocol not found")?;
        if let Some(s) = session {
            if self.pending.contains_key(&s) {
                return Err(format!("session {s} is already waiting for an answer"));
            }
            if self.pending.len() >= MAX_PENDING {
                return Err(format!("{MAX_PENDING} requests already wait for answers"));
            }
        }
        let mut bin = self.header(Some(tag), session)?;
        if let Some(req) = p.request {
            bin.extend(encode(&remote, req, args)?);
        }
        if let Some(s) = session {
            self.pending.insert(s, p.response);
        }
        pack(&bin, &mut no_tick)
    }

    /// The packed answer to request `name` (of the local schema) received
    /// with `session`; `args` is ignored if the protocol has no response.
    pub fn respond(&self, name: &str, session: i64, args: &Struct) -> Result<Vec<u8>, String> {
        let tag = self
            .local
            .proto_tag(name.as_bytes())
            .ok_or_else(|| format!("protocol {name} not found"))?;
        let p = self.local.proto(tag).ok_or("protocol not found")?;
        let mut bin = self.header(None, Some(session))?;
        if let Some(resp) = p.response {
            bin.extend(encode(&self.local, resp, args)?);
        }
        pack(&bin, &mut no_tick)
    }

    /// Reads one packed message: a request of the local schema, or the
    /// answer to a request this host sent (its session is then forgotten).
    pub fn dispatch(&mut self, packed: &[u8]) -> Result<Message, String> {
        let bin = unpack(packed, &mut no_tick)?;
        let (head, used) = decode(&self.local, self.package, &bin)?;
        let content = &bin[used..];
        let session = head.get("session").and_then(Value::as_i64);
        if let Some(tag) = head.get("type").and_then(Value::as_i64) {
            let p = self
                .local
                .proto(tag)
                .ok_or_else(|| format!("unknown protocol tag {tag}"))?;
            let args = match p.request {
                Some(req) => Some(decode(&self.local, req, content)?.0),
                None => None,
            };
            return Ok(Message::Request {
                name: lossy(&p.name),
                args,
                session,
            });
        }
        let session = session.ok_or("session not found")?;
        let response = self
            .pending
            .remove(&session)
            .ok_or_else(|| format!("Unknown session {session}"))?;
        let args = match response {
            Some(resp) => Some(decode(&self.remote, resp, content)?.0),
            None => None,
        };
        Ok(Message::Response { session, args })
    }
}

/// A schema from its text, as `sprotoparser.parse` and `sproto.new` make
/// it (`file` names it in syntax errors).
pub fn parse_schema(text: &str, file: &str) -> Result<Arc<Sproto>, String> {
    let bin = crate::parser::parse(text.as_bytes(), file)?;
    Sproto::load(&bin, &mut no_tick).map(Arc::new)
}
