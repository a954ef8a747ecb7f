//! `clusteragent`: one native service per inbound link, as skynet has one
//! Lua clusteragent per connection. It takes the link's requests, decides
//! whether they may go where they ask, calls or sends to the target, and
//! writes the replies back.
//!
//! One service per link means each peer's requests arrive at a target with
//! their own sender's share of its mailbox: a peer that floods a service
//! fills its own share, not the one every other peer's requests go through.
//! The target sees the agent as the source, as it would see skynet's.
//!
//! What a remote request may reach: a name registered with
//! `cluster.register` (`@name`), or the handle of one (address 0). Numeric
//! handles and local names only for a peer named in `cluster_any_address`;
//! anything else is refused with skynet's "Invalid name" and audited.

use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use skyhold_core::{ptype, Context, Handle, Message, Payload, Service};
use skyhold_pack::{pack, unpack_limited, Limits as PackLimits, Value};

use crate::hub::{self, Event, Hub, LinkId, LinkShared, SendFailure, Target};
use crate::wire;

/// The agent of one inbound link.
pub struct LinkAgent {
    hub: Arc<Hub>,
    link: LinkId,
    shared: Arc<LinkShared>,
    peer: String,
    any_address: bool,
    /// Calls made for the peer: local session → the peer's session.
    serving: HashMap<i32, u32>,
    /// Set once the link failed; the agent then only waits to be retired.
    failed: bool,
}

impl LinkAgent {
    /// The agent for inbound link `link` from `peer`.
    pub fn new(hub: Arc<Hub>, link: LinkId, shared: Arc<LinkShared>, peer: String) -> LinkAgent {
        let any_address = hub.config.any_address.contains(&peer);
        LinkAgent {
            hub,
            link,
            shared,
            peer,
            any_address,
            serving: HashMap::new(),
            failed: false,
        }
    }

    /// Queues packets for the peer; a link that cannot take them is ended.
    fn write(&mut self, out: Vec<u8>) {
        if self.failed {
            return;
        }
        if let Err(e) = self.shared.send(out, self.hub.config.max_queued) {
            if let SendFailure::Backlog(_) = e {
                self.hub.counters.slow_links.fetch_add(1, Ordering::Relaxed);
            }
            self.failed = true;
            self.shared.stop();
            // clusterd forgets the link and tells this agent to go.
            self.hub.emit(Event::Down {
                link: self.link,
                why: e.to_string(),
            });
        }
    }

    /// Answers the peer's `session` (never for a push).
    fn answer(&mut self, out: Vec<u8>) {
        self.shared.done();
        self.write(out);
    }

    fn refuse(&mut self, session: u32, push: bool, why: &str) {
        if push {
            self.shared.done();
            return;
        }
        let mut out = Vec::new();
        wire::encode_error(&mut out, session, why.as_bytes());
        self.answer(out);
    }

    /// Which local service a target names, if this peer may reach it.
    fn resolve(&self, ctx: &Context, target: &Target) -> Result<Option<Handle>, ()> {
        match target {
            Target::Name(n) if n.first() == Some(&b'@') => {
                let name = String::from_utf8_lossy(&n[1..]).into_owned();
                let found = self.hub.registered.read().get(&name).copied();
                match found {
                    // A registration goes with its service.
                    Some(h) if ctx.identity_of(h).is_none() => {
                        self.hub.registered.write().remove(&name);
                        Ok(None)
                    }
                    found => Ok(found),
                }
            }
            Target::Handle(h) if self.any_address => Ok(Some(Handle(*h))),
            Target::Name(n) if self.any_address => {
                let name = String::from_utf8_lossy(n);
                Ok(Handle::parse(&name).or_else(|| ctx.query_name(&name)))
            }
            _ => Err(()),
        }
    }

    /// Delivers a request from the peer, if it may go where it asks.
    fn serve(&mut self, ctx: &Context, session: u32, push: bool, target: Target, data: Vec<u8>) {
        // The request leaves the link's keeping here, whatever becomes of it.
        self.shared.delivered(data.len());
        if let Target::Handle(0) = target {
            // Which handle has a registered name?
            let name = unpack_limited(&data, &PackLimits::default())
                .ok()
                .and_then(|v| hub::text(v.first()));
            let found = name.and_then(|n| self.hub.registered.read().get(&n).copied());
            match found {
                Some(h) if !push => {
                    let mut out = Vec::new();
                    let reply = pack(&[Value::Integer(i64::from(h.0))]).unwrap_or_default();
                    let _ = wire::encode_reply(&mut out, session, &reply);
                    self.answer(out);
                }
                _ => self.refuse(session, push, "name not found"),
            }
            return;
        }
        let dest = match self.resolve(ctx, &target) {
            Ok(Some(h)) => h,
            Ok(None) => return self.refuse(session, push, "Invalid name"),
            Err(()) => {
                self.hub
                    .counters
                    .refused_addresses
                    .fetch_add(1, Ordering::Relaxed);
                ctx.node().audit_refused_by(
                    &format!("cluster peer {}", self.peer),
                    "cluster_any_address",
                    &target.to_string(),
                    "only names registered with cluster.register are reachable from other nodes",
                );
                return self.refuse(session, push, "Invalid name");
            }
        };
        let payload = Payload::from(data);
        if push {
            self.shared.done();
            if ctx.send(dest, ptype::LUA, 0, payload).is_err() {
                self.hub
                    .counters
                    .dropped_pushes
                    .fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
        match ctx.call(dest, ptype::LUA, payload) {
            Ok(local) => {
                self.serving.insert(local, session);
            }
            Err(e) => self.refuse(session, push, &e.to_string()),
        }
    }

    /// A local service answered a request of the peer.
    fn answered(&mut self, msg: &Message) {
        let Some(session) = self.serving.remove(&msg.session) else {
            return;
        };
        let mut out = Vec::new();
        if msg.ptype == ptype::RESPONSE {
            if let Err(e) = wire::encode_reply(&mut out, session, msg.payload.as_slice()) {
                wire::encode_error(&mut out, session, e.to_string().as_bytes());
            }
        } else {
            let text = msg.payload.as_slice();
            let text = if text.is_empty() {
                &b"call failed"[..]
            } else {
                text
            };
            wire::encode_error(&mut out, session, text);
        }
        self.answer(out);
    }
}

impl Service for LinkAgent {
    fn handle(&mut self, ctx: &Context, msg: Message) {
        match msg.ptype {
            ptype::SOCKET if msg.source == Handle::SYSTEM => match self.shared.take() {
                Some(Event::Request {
                    session,
                    push,
                    target,
                    data,
                    ..
                }) => self.serve(ctx, session, push, target, data),
                // The link is gone: so is its agent, and with it the calls
                // still open for the peer (their late replies are dropped).
                Some(Event::Down { .. }) => ctx.exit(),
                _ => {}
            },
            ptype::RESPONSE | ptype::ERROR => self.answered(&msg),
            _ => {
                if msg.expects_reply() {
                    let _ = ctx.reply_error(msg.source, msg.session, Payload::empty());
                }
            }
        }
    }

    fn exit(&mut self, _ctx: &Context) {
        self.shared.stop();
    }
}
