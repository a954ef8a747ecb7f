//! `clusterd`: the node's one cluster service. Local services reach it
//! through `skynet.cluster`; it owns every link, pairs replies with the
//! calls they answer, and decides what a remote request may reach.
//!
//! Commands arrive as `lua` messages packed with `skynet.pack`:
//!
//! | command | arguments | reply |
//! |---|---|---|
//! | `req` | node, address, packed arguments | the remote reply, as sent |
//! | `push` | node, address, packed arguments | none |
//! | `listen` | host or node name, port or nil | address, port |
//! | `reload` | table of `name = "host:port"` or `false`, or nil | nothing |
//! | `register` | name, handle | nothing |
//! | `unregister` | name | nothing |
//! | `stat` | — | a table of the counters |
//!
//! Requests from other nodes are served by one agent per inbound link
//! ([`crate::agent`]), which clusterd starts when a link passes its checks
//! and retires when it goes. A remote request may address a name
//! registered with `register` (as `@name`), or ask which handle such a name
//! has (address 0). Numeric handles and local names are refused, and the
//! refusal is audited, unless the peer is named in `cluster_any_address`:
//! skynet lets every peer reach every service, `.launcher` included
//! (spec §7.7).

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use skyhold_core::{ptype, Context, Grant, Handle, Message, Payload, Service};
use skyhold_pack::{pack, unpack_limited, Limits as PackLimits, Table, Value};

use crate::agent::LinkAgent;
use crate::config::ClusterConfig;
use crate::hub::{self, Event, Hub, LinkId, LinkShared, SendFailure, Target};
use crate::reconnect::Reconnect;
use crate::report;
use crate::tls::Tls;
use crate::wire::{self, Address};
use crate::{inbound, link};

/// The name `clusterd` registers; reserved for it.
pub const NAME: &str = ".clusterd";

/// Map keys starting with this are options, not nodes (skynet's rule).
const OPTION_PREFIX: &str = "__";

struct Link {
    shared: Arc<LinkShared>,
    /// The node at the other end (for inbound links, as identified).
    peer: String,
    /// Outbound: calls waiting for a reply, by this node's wire session.
    calls: HashMap<u32, (Handle, i32)>,
    /// Outbound: it connected (an inbound link is up from the start).
    up: bool,
    /// Inbound: the agent that serves its requests.
    agent: Option<Handle>,
}

impl Link {
    fn new(shared: Arc<LinkShared>, peer: String) -> Link {
        Link {
            shared,
            peer,
            calls: HashMap::new(),
            up: false,
            agent: None,
        }
    }
}

/// Why a request has no link to go on.
enum NoLink {
    /// The node has no address yet: hold the request.
    Hold,
    /// The node failed to connect a moment ago: fail, quietly.
    Unreachable(String),
    /// Fail, and log why.
    Fail(String),
}

/// A request for a node with no address yet, held until a reload gives one.
struct Held {
    source: Handle,
    session: i32,
    target: Target,
    data: Vec<u8>,
}

/// The cluster service.
pub struct Clusterd {
    /// Settings and TLS, until `init` puts them in the hub.
    start: Option<(ClusterConfig, Option<Tls>)>,
    hub: Option<Arc<Hub>>,
    runtime: Option<tokio::runtime::Runtime>,
    nowaiting: bool,
    /// Node name → its outbound link.
    outbound: HashMap<String, LinkId>,
    links: HashMap<LinkId, Link>,
    held: HashMap<String, VecDeque<Held>>,
    /// Nodes whose last attempt to connect failed.
    unreachable: Reconnect,
    /// Requests in `held`, and their bytes, for all nodes together.
    held_total: usize,
    held_bytes: usize,
    /// One per `cluster.open` (a node may listen on several addresses).
    listeners: Vec<tokio::task::AbortHandle>,
}

fn bytes(v: Option<&Value>) -> Option<&[u8]> {
    match v? {
        Value::String(s) => Some(s),
        _ => None,
    }
}

fn target_of(v: Option<&Value>) -> Result<Target, String> {
    match v {
        Some(Value::Integer(h)) => u32::try_from(*h)
            .map(Target::Handle)
            .map_err(|_| format!("cluster: {h} is not a service address")),
        Some(Value::Real(f)) if f.fract() == 0.0 && *f >= 0.0 && *f <= u32::MAX as f64 => {
            Ok(Target::Handle(*f as u32))
        }
        Some(Value::String(s)) if !s.is_empty() && s.len() <= wire::MAX_NAME => {
            Ok(Target::Name(s.clone()))
        }
        Some(Value::String(s)) => Err(format!(
            "cluster: a name must be 1 to {} bytes, this one is {}",
            wire::MAX_NAME,
            s.len()
        )),
        _ => Err("cluster: the address must be a number or a name".into()),
    }
}

fn packed(values: &[Value]) -> Payload {
    Payload::from(pack(values).unwrap_or_default())
}

impl Clusterd {
    /// A `clusterd` with these settings; it starts no thread until a link
    /// or a listener is needed.
    pub fn new(config: ClusterConfig, tls: Option<Tls>) -> Clusterd {
        let reconnect_max = config.reconnect_max;
        Clusterd {
            start: Some((config, tls)),
            hub: None,
            runtime: None,
            nowaiting: false,
            outbound: HashMap::new(),
            links: HashMap::new(),
            held: HashMap::new(),
            unreachable: Reconnect::new(reconnect_max),
            held_total: 0,
            held_bytes: 0,
            listeners: Vec::new(),
        }
    }

    fn hub(&self) -> &Arc<Hub> {
        self.hub.as_ref().expect("clusterd initialised")
    }

    fn rt(&mut self) -> Result<tokio::runtime::Handle, String> {
        if self.runtime.is_none() {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("skyhold-cluster")
                .enable_all()
                .build()
                .map_err(|e| format!("cluster thread: {e}"))?;
            self.runtime = Some(rt);
        }
        Ok(self.runtime.as_ref().expect("just made").handle().clone())
    }

    /// Replaces the node map; `None` re-reads the map file.
    fn reload(&mut self, ctx: &Context, table: Option<&Table>) -> Result<(), String> {
        let hub = self.hub().clone();
        let mut entries: Vec<(String, Option<String>)> = Vec::new();
        match table {
            Some(t) => {
                for (k, v) in &t.hash {
                    let Value::String(k) = k else { continue };
                    let k = String::from_utf8_lossy(k).into_owned();
                    let v = match v {
                        Value::String(s) => Some(String::from_utf8_lossy(s).into_owned()),
                        // Only options take `true`; a node is an address or `false`.
                        Value::Boolean(true) => Some("true".to_string()),
                        _ => None,
                    };
                    entries.push((k, v));
                }
            }
            None => {
                let (Some(path), Some(read)) = (&hub.config.map_file, &hub.config.map_reader)
                else {
                    return Err("cluster: no map file (config cluster) to reload".into());
                };
                for (k, v) in read(path)? {
                    let v = (v != "false").then_some(v);
                    entries.push((k, v));
                }
            }
        }
        let from_file = table.is_none();
        let mut changed = Vec::new();
        {
            let mut map = hub.map.write();
            for (name, addr) in entries {
                if let Some(opt) = name.strip_prefix(OPTION_PREFIX) {
                    if opt == "nowaiting" {
                        self.nowaiting = addr.is_some_and(|a| a != "false");
                    }
                    continue;
                }
                if !from_file && hub.config.plaintext.contains(&name) {
                    // A plaintext peer is trusted by its address alone, so
                    // only the operator's file may say where it is.
                    ctx.audit_refusal(
                        ctx.handle(),
                        "cluster.reload",
                        &format!(
                            "node {name} is in cluster_plaintext; its address comes only from the map file"
                        ),
                    );
                    continue;
                }
                if map.get(&name) != Some(&addr) {
                    if !map.contains_key(&name) && map.len() >= hub.config.max_nodes {
                        ctx.log(&format!(
                            "cluster: node {name} not added: the map has {} nodes (config cluster_max_nodes)",
                            hub.config.max_nodes
                        ));
                        continue;
                    }
                    changed.push(name.clone());
                    map.insert(name, addr);
                }
            }
        }
        for name in changed {
            // A link to the old address goes; the next call opens one anew,
            // at once: a new address is worth trying now.
            if let Some(id) = self.outbound.get(&name).copied() {
                self.drop_link(ctx, id, "its node was given a new address");
            }
            self.unreachable.forget(&name);
            self.release_held(ctx, &name);
        }
        Ok(())
    }

    fn release_held(&mut self, ctx: &Context, node: &str) {
        let Some(q) = self.held.remove(node) else {
            return;
        };
        self.held_total -= q.len();
        self.held_bytes -= q.iter().map(|h| h.data.len()).sum::<usize>();
        for h in q {
            self.request(ctx, h.source, h.session, node, h.target, h.data);
        }
    }

    /// The outbound link to `node`, opened if need be.
    fn link_to(&mut self, node: &str) -> Result<LinkId, NoLink> {
        if let Some(id) = self.outbound.get(node) {
            return Ok(*id);
        }
        let hub = self.hub().clone();
        let addr = match hub.map.read().get(node) {
            Some(Some(a)) => a.clone(),
            Some(None) => return Err(NoLink::Fail(format!("cluster: node {node} is down"))),
            None if self.nowaiting => return Err(NoLink::Fail(format!("cluster: no node {node}"))),
            None => return Err(NoLink::Hold),
        };
        // Fail fast while the node is down; one attempt per backoff.
        self.unreachable
            .check(node, Instant::now())
            .map_err(NoLink::Unreachable)?;
        let rt = self.rt().map_err(NoLink::Fail)?;
        let id = hub.new_link();
        let shared = link::connect(&hub, &rt, id, node.to_string(), addr);
        self.links.insert(id, Link::new(shared, node.to_string()));
        self.outbound.insert(node.to_string(), id);
        Ok(id)
    }

    /// Sends a request (`session` 0: a push) for local `source` to `node`.
    fn request(
        &mut self,
        ctx: &Context,
        source: Handle,
        session: i32,
        node: &str,
        target: Target,
        data: Vec<u8>,
    ) {
        let hub = self.hub().clone();
        let answer = |why: String| {
            hub.counters.unreachable.fetch_add(1, Ordering::Relaxed);
            if session != 0 {
                let _ = ctx.reply_error(source, session, Payload::from(why));
            }
        };
        let fail = |why: String| {
            ctx.log(&why);
            answer(why);
        };
        let id = match self.link_to(node) {
            Ok(id) => id,
            Err(NoLink::Fail(why)) => return fail(why),
            // The node's state was logged when it changed; a line per call
            // while it is down would flood the log.
            Err(NoLink::Unreachable(why)) => return answer(why),
            Err(NoLink::Hold) => {
                if self.held_bytes + data.len() > hub.config.max_queued {
                    return fail(format!(
                        "cluster: requests for nodes with no address hold {} bytes; node {node} has none (config cluster_max_queued)",
                        self.held_bytes
                    ));
                }
                if self.held_total >= hub.config.max_waiting {
                    return fail(format!(
                        "cluster: {} requests already wait for nodes with no address; node {node} has none (config cluster_max_waiting)",
                        hub.config.max_waiting
                    ));
                }
                self.held_total += 1;
                self.held_bytes += data.len();
                self.held
                    .entry(node.to_string())
                    .or_default()
                    .push_back(Held {
                        source,
                        session,
                        target,
                        data,
                    });
                return;
            }
        };
        let link = self.links.get_mut(&id).expect("link_to gives a live link");
        let wire_session = link.shared.next_session();
        let address = match &target {
            Target::Handle(h) => Address::Handle(*h),
            Target::Name(n) => Address::Name(n),
        };
        let mut out = Vec::with_capacity(data.len() + 16);
        if let Err(e) = wire::encode_request(&mut out, address, wire_session, session == 0, &data) {
            return fail(format!("cluster: {e}"));
        }
        match link.shared.send(out, hub.config.max_queued) {
            // Closed: the link has ended and the news (`Event::Down`, which
            // every link's end sends) is on its way; the call waits for it
            // and fails with the real reason, as those sent just before did.
            Ok(()) | Err(SendFailure::Closed) => {
                if session != 0 {
                    link.calls.insert(wire_session, (source, session));
                }
            }
            // The link is fine, only full: this request is refused, and the
            // other callers' requests on it go on.
            Err(e @ SendFailure::Backlog(_)) => {
                hub.counters.slow_links.fetch_add(1, Ordering::Relaxed);
                fail(format!("cluster: request to {node} refused: {e}"));
            }
        }
    }

    /// Closes a link and fails whatever waited on it. An outbound link
    /// that never came up marks its node unreachable for a while.
    fn drop_link(&mut self, ctx: &Context, id: LinkId, why: &str) {
        let Some(link) = self.links.remove(&id) else {
            return;
        };
        link.shared.stop();
        let hub = self.hub().clone();
        let outbound = self.outbound.get(&link.peer) == Some(&id);
        if outbound {
            self.outbound.remove(&link.peer);
        }
        if link.up || link.agent.is_some() {
            hub.counters.links_down.fetch_add(1, Ordering::Relaxed);
            ctx.log(&format!("cluster: link with {} closed: {why}", link.peer));
        } else if outbound {
            hub.counters
                .connect_failures
                .fetch_add(1, Ordering::Relaxed);
            self.mark_unreachable(ctx, &link.peer, why);
        }
        hub.counters
            .calls_failed_by_link
            .fetch_add(link.calls.len() as u64, Ordering::Relaxed);
        for (_, (source, session)) in link.calls {
            let text = format!("cluster: link with {} closed: {why}", link.peer);
            let _ = ctx.reply_error(source, session, Payload::from(text));
        }
        if link.agent.is_some() {
            // Its agent goes too, and the calls it still waits on with it.
            self.hub().emit_to(
                &link.shared,
                Event::Down {
                    link: id,
                    why: why.to_string(),
                },
            );
        }
    }

    /// An attempt to reach `node` failed: calls to it fail at once until
    /// the next attempt ([`Reconnect`]); logged when the node becomes
    /// unreachable and when the reason changes.
    fn mark_unreachable(&mut self, ctx: &Context, node: &str, why: &str) {
        let failed = self.unreachable.failed(node, why, Instant::now());
        if failed.news {
            ctx.log(&format!(
                "cluster: node {node} unreachable: {why}; calls to it fail until the next attempt, in {} ms (then at most every {} ms, config cluster_reconnect_max)",
                failed.wait.as_millis(),
                self.hub().config.reconnect_max.as_millis()
            ));
        }
    }

    fn local_command(&mut self, ctx: &Context, msg: &Message) -> Result<Option<Payload>, String> {
        if msg.source == ctx.handle() {
            // clusterd's own calls to a local service never come back as
            // commands; this is a remote request that reached clusterd.
            return Err("cluster: clusterd takes no commands from other nodes".into());
        }
        let limits = PackLimits::default();
        let args = unpack_limited(msg.payload.as_slice(), &limits).map_err(|e| e.to_string())?;
        let cmd = hub::text(args.first()).ok_or("cluster: no command")?;
        match cmd.as_str() {
            "req" | "push" => {
                let node = hub::text(args.get(1)).ok_or("cluster: the node must be a name")?;
                let target = target_of(args.get(2))?;
                let data = bytes(args.get(3)).unwrap_or_default().to_vec();
                let session = if cmd == "req" { msg.session } else { 0 };
                if cmd == "req" && session == 0 {
                    return Err("cluster: req needs a call, not a send".into());
                }
                self.request(ctx, msg.source, session, &node, target, data);
                Ok(None)
            }
            "listen" => self.listen(ctx, args.get(1), args.get(2)).map(Some),
            "reload" => {
                let t = match args.get(1) {
                    Some(Value::Table(t)) => Some(t),
                    _ => None,
                };
                // Re-reading the operator's file is anyone's to ask; saying
                // where nodes are, or that they are down, is not.
                if t.is_some() && !ctx.permits(msg.source, Grant::ClusterAdmin) {
                    ctx.audit_refusal(
                        msg.source,
                        "cluster.reload",
                        "changing the cluster map needs cluster_admin (the start service has it by default)",
                    );
                    return Err(
                        "not permitted: cluster.reload with a table needs cluster_admin (see the audit log)"
                            .into(),
                    );
                }
                self.reload(ctx, t)?;
                Ok(Some(Payload::empty()))
            }
            "register" => {
                let name = hub::text(args.get(1)).ok_or("cluster: register needs a name")?;
                let name = name.strip_prefix('@').unwrap_or(&name).to_string();
                if name.is_empty() || name.len() >= wire::MAX_NAME {
                    return Err("cluster: a registered name must be 1 to 254 bytes".into());
                }
                let who = match args.get(2) {
                    Some(Value::Integer(h)) => u32::try_from(*h)
                        .map(Handle)
                        .map_err(|_| format!("cluster: {h} is not a service address"))?,
                    None | Some(Value::Nil) => msg.source,
                    Some(_) => return Err("cluster.register: the address must be a number".into()),
                };
                if who == ctx.handle() {
                    ctx.audit_refusal(
                        msg.source,
                        "cluster.register",
                        "clusterd itself cannot be exposed to other nodes",
                    );
                    return Err("not permitted: cluster.register of clusterd".into());
                }
                // Exposing a service to other nodes is skynet's everyday
                // `cluster.register(name, addr)`, so any service may expose
                // an ordinary Lua one; one that holds grants (the launcher,
                // a gate) or a native one is exposed only by a holder of
                // name_other.
                let privileged = match ctx.identity_of(who) {
                    Some(id) => {
                        !id.role.grants.is_empty()
                            || matches!(id.subject, skyhold_core::Subject::Native(_))
                    }
                    None => return Err(format!("cluster: no service {who} to register")),
                };
                if who != msg.source && privileged && !ctx.permits(msg.source, Grant::NameOther) {
                    ctx.audit_refusal(
                        msg.source,
                        "cluster.register",
                        &format!("{who} holds grants or is native; exposing it to other nodes needs name_other"),
                    );
                    return Err(format!(
                        "not permitted: cluster.register of {who}, which holds grants or is native (see the audit log)"
                    ));
                }
                if let Some(h) = self.hub().registered.read().get(&name) {
                    // A name whose service has gone may be taken again.
                    if *h != who && ctx.identity_of(*h).is_some() {
                        return Err(format!("cluster: name {name} is registered to {h}"));
                    }
                }
                let max = ctx.node().limits().max_names;
                let held = self
                    .hub()
                    .registered
                    .read()
                    .values()
                    .filter(|h| **h == who)
                    .count();
                if !self.hub().registered.read().contains_key(&name) && held >= max {
                    return Err(format!(
                        "cluster: {who} already has {max} cluster names (config max_names)"
                    ));
                }
                self.hub().registered.write().insert(name, who);
                Ok(Some(Payload::empty()))
            }
            "unregister" => {
                let name = hub::text(args.get(1)).ok_or("cluster: unregister needs a name")?;
                let name = name.strip_prefix('@').unwrap_or(&name).to_string();
                match self.hub().registered.read().get(&name) {
                    Some(h)
                        if *h != msg.source
                            && ctx.identity_of(*h).is_some()
                            && !ctx.permits(msg.source, Grant::NameOther) =>
                    {
                        Err(format!("not permitted: {name} belongs to {h}"))
                    }
                    _ => {
                        self.hub().registered.write().remove(&name);
                        Ok(Some(Payload::empty()))
                    }
                }
            }
            "stat" => {
                let mut t = Table::default();
                for (k, v) in self.hub().counters.snapshot() {
                    t.hash.push((
                        Value::String(k.as_bytes().to_vec()),
                        Value::Integer(v as i64),
                    ));
                }
                t.hash.push((
                    Value::String(b"links".to_vec()),
                    Value::Integer(self.links.len() as i64),
                ));
                let nodes = self.hub().map.read().len();
                t.hash.push((
                    Value::String(b"nodes".to_vec()),
                    Value::Integer(nodes as i64),
                ));
                t.hash.push((
                    Value::String(b"held".to_vec()),
                    Value::Integer(self.held_total as i64),
                ));
                // Calls sent on outbound links and not yet answered.
                let calls: usize = self.links.values().map(|l| l.calls.len()).sum();
                t.hash.push((
                    Value::String(b"calls".to_vec()),
                    Value::Integer(calls as i64),
                ));
                Ok(Some(packed(&[Value::Table(t)])))
            }
            // One table per link, in link order: the peer, which side
            // opened it, whether it is up, and what waits on it.
            "links" => {
                let now = self.hub().now_ms();
                let mut ids: Vec<&LinkId> = self.links.keys().collect();
                ids.sort_unstable();
                let mut list = Table::default();
                for id in ids {
                    let l = &self.links[id];
                    list.array.push(report::link_row(report::LinkView {
                        id: *id,
                        peer: &l.peer,
                        inbound: l.agent.is_some(),
                        up: l.up,
                        shared: &l.shared,
                        calls: l.calls.len(),
                        now_ms: now,
                    }));
                }
                Ok(Some(packed(&[Value::Table(list)])))
            }
            other => Err(format!("cluster: unknown command {other}")),
        }
    }

    fn listen(
        &mut self,
        ctx: &Context,
        a: Option<&Value>,
        b: Option<&Value>,
    ) -> Result<Payload, String> {
        let hub = self.hub().clone();
        let addr = match (a, b) {
            (Some(Value::Integer(port)), _) => format!("0.0.0.0:{port}"),
            (Some(Value::String(_)), Some(Value::Integer(port))) => {
                format!("{}:{port}", hub::text(a).unwrap_or_default())
            }
            (Some(Value::String(_)), _) => {
                let name = hub::text(a).unwrap_or_default();
                match hub.map.read().get(&name) {
                    Some(Some(addr)) => addr.clone(),
                    _ => return Err(format!("cluster: no address for node {name} to listen on")),
                }
            }
            _ => return Err("cluster.open needs a port or a node name".into()),
        };
        if hub.tls.is_none() && hub.config.plaintext.is_empty() {
            return Err(
                "cluster: refusing to listen with no TLS identity (config cluster_cert, cluster_key, cluster_ca); name legacy peers in cluster_plaintext to allow plain TCP"
                    .into(),
            );
        }
        let rt = self.rt()?;
        let sockaddr = match addr.parse::<std::net::SocketAddr>() {
            Ok(a) => a,
            // A host name: looked up on the cluster's thread, within a bound,
            // so a slow resolver cannot hold this worker for long.
            Err(_) => rt
                .block_on(async {
                    let lookup = tokio::net::lookup_host(addr.clone());
                    tokio::time::timeout(hub.config.handshake_timeout, lookup).await
                })
                .map_err(|_| format!("cluster: listen on {addr}: the name lookup timed out"))?
                .map_err(|e| format!("cluster: listen on {addr}: {e}"))?
                .next()
                .ok_or_else(|| format!("cluster: listen on {addr}: no address"))?,
        };
        let std_listener = std::net::TcpListener::bind(sockaddr)
            .map_err(|e| format!("cluster: listen on {addr}: {e}"))?;
        let local = std_listener.local_addr().map_err(|e| e.to_string())?;
        std_listener
            .set_nonblocking(true)
            .map_err(|e| e.to_string())?;
        let listener = {
            let _guard = rt.enter();
            tokio::net::TcpListener::from_std(std_listener).map_err(|e| e.to_string())?
        };
        self.listeners.push(inbound::listen(&hub, &rt, listener));
        ctx.log(&format!("cluster: listening on {local}"));
        Ok(packed(&[
            Value::String(local.ip().to_string().into_bytes()),
            Value::Integer(i64::from(local.port())),
        ]))
    }

    fn event(&mut self, ctx: &Context, e: Event) {
        match e {
            Event::Accepted { link, peer, shared } => {
                let hub = self.hub().clone();
                let agent = LinkAgent::new(hub, link, shared.clone(), peer.clone());
                match ctx.spawn_native("clusteragent", &peer, Box::new(agent)) {
                    Ok(h) => {
                        shared.set_owner(h);
                        let mut l = Link::new(shared, peer);
                        l.agent = Some(h);
                        self.links.insert(link, l);
                    }
                    Err(e) => {
                        ctx.log(&format!("cluster: no agent for a link from {peer}: {e}"));
                        shared.stop();
                    }
                }
            }
            Event::Up { link } => {
                let Some(l) = self.links.get_mut(&link) else {
                    return;
                };
                l.up = true;
                let peer = l.peer.clone();
                self.hub().counters.links_up.fetch_add(1, Ordering::Relaxed);
                let again = self.unreachable.forget(&peer);
                ctx.log(&format!(
                    "cluster: link with {peer} up{}",
                    if again { " again" } else { "" }
                ));
            }
            Event::Down { link, why } => self.drop_link(ctx, link, &why),
            Event::Reply {
                link,
                session,
                ok,
                data,
            } => {
                let Some(l) = self.links.get_mut(&link) else {
                    return;
                };
                l.shared.delivered(data.len());
                let Some((source, local)) = l.calls.remove(&session) else {
                    // A reply to nothing this node asked: the peer is
                    // confused or hostile; it reaches no one.
                    self.hub()
                        .counters
                        .protocol_errors
                        .fetch_add(1, Ordering::Relaxed);
                    return;
                };
                if ok {
                    let _ = ctx.reply(source, local, Payload::from(data));
                } else {
                    let text = hub::printable(&data);
                    ctx.log(&format!("cluster: call to {} failed: {text}", l.peer));
                    let _ = ctx.reply_error(source, local, Payload::from(data));
                }
            }
            // Requests go to the link's agent, never here.
            Event::Request { .. } => {}
        }
    }
}

impl Service for Clusterd {
    fn init(&mut self, ctx: &Context) -> Result<(), String> {
        let (config, tls) = self.start.take().ok_or("clusterd: initialised twice")?;
        let has_map = config.map_file.is_some() && config.map_reader.is_some();
        self.hub = Some(Arc::new(Hub::new(ctx.node(), ctx.handle(), config, tls)));
        ctx.register(NAME)
            .map_err(|e| format!("clusterd: can't take the name {NAME}: {e}"))?;
        if has_map {
            self.reload(ctx, None)?;
        }
        Ok(())
    }

    fn handle(&mut self, ctx: &Context, msg: Message) {
        match msg.ptype {
            ptype::SOCKET if msg.source == Handle::SYSTEM => {
                if let Some(e) = self.hub().take() {
                    self.event(ctx, e);
                }
            }
            // clusterd makes no calls of its own: links' replies come as
            // events, and agents make the calls for peers.
            ptype::RESPONSE | ptype::ERROR => {}
            ptype::LUA => match self.local_command(ctx, &msg) {
                Ok(Some(reply)) if msg.session != 0 => {
                    let _ = ctx.reply(msg.source, msg.session, reply);
                }
                Ok(_) => {}
                Err(e) => {
                    // The caller sees only "call failed", as with skynet's
                    // clusterd; the reason goes to the log.
                    ctx.log(&format!("cluster: {} refused: {e}", msg.source));
                    if msg.session != 0 {
                        let _ = ctx.reply_error(msg.source, msg.session, Payload::from(e));
                    }
                }
            },
            _ => {
                if msg.expects_reply() {
                    let _ = ctx.reply_error(msg.source, msg.session, Payload::empty());
                }
            }
        }
    }

    fn exit(&mut self, _ctx: &Context) {
        for (_, l) in self.links.drain() {
            l.shared.stop();
        }
        for l in self.listeners.drain(..) {
            l.abort();
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}
