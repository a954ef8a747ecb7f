//! A loopback MongoDB peer for skynet.db.mongo's tests: it speaks OP_MSG
//! as mongod does, logs in with SCRAM-SHA-1 computed here (the client's
//! proof checked, the server's signature sent), keeps documents in memory
//! (equality filters, $set/$inc, skip/limit, cursors paged two documents
//! at a time) and records every request for the test to check byte by
//! byte. `probe` commands get malformed or oversized replies.

use super::mongo_wire::{bytes, doc, op_msg, read_request, s, Request, B, OP_REPLY};
use parking_lot::Mutex;
use skyhold_bson::wire::Node;
use skyhold_crypt::codec::{base64_decode, base64_encode};
use skyhold_crypt::crypt::{hmac_sha1, sha1};
use std::collections::HashMap;
use std::io::Write;
use std::net::TcpStream;
use std::sync::Arc;

/// The user the peer knows, and its password.
pub const USER: (&str, &str) = ("admin", "123456");
const SALT: &[u8] = b"skyhold-test-salt";
const ITERATIONS: u32 = 4096;
const BATCH: usize = 2;

/// What the peer shares between its connections.
#[derive(Default)]
pub struct Shared {
    /// Every request, in the order read.
    pub log: Vec<Request>,
    /// Collections by name.
    colls: HashMap<String, Vec<Node>>,
    /// Open cursors: id, the documents not yet sent.
    cursors: HashMap<i64, Vec<Node>>,
    next_cursor: i64,
    /// Logins that succeeded, and that failed.
    pub logins: (u32, u32),
    /// Set on a secondary: the primary's address, which ismaster names.
    pub primary: Option<String>,
}

/// One connection's login state.
#[derive(Default)]
struct Conn {
    authed: bool,
    /// client-first-bare, server-first, salted password
    scram: Option<(String, String, [u8; 20])>,
}

fn hmac(k: &[u8], t: &[u8]) -> [u8; 20] {
    hmac_sha1(k, t).expect("hmac")
}

fn salted_password() -> [u8; 20] {
    let hex: String = skyhold_crypt::md5lib::sum(format!("{}:mongo:{}", USER.0, USER.1).as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut salt = SALT.to_vec();
    salt.extend_from_slice(&[0, 0, 0, 1]);
    let mut u = hmac(hex.as_bytes(), &salt);
    let mut out = u;
    for _ in 1..ITERATIONS {
        u = hmac(hex.as_bytes(), &u);
        out.iter_mut().zip(u).for_each(|(o, x)| *o ^= x);
    }
    out
}

fn b64(b: &[u8]) -> String {
    String::from_utf8(base64_encode(b)).expect("base64")
}

fn unb64(t: &str) -> String {
    String::from_utf8_lossy(&base64_decode(t.as_bytes()).unwrap_or_default()).into_owned()
}

fn ok(mut pairs: Vec<(&str, B)>) -> B {
    pairs.push(("ok", B::F(1.0)));
    doc(pairs)
}

fn failure(msg: &str, code: i32) -> B {
    doc(vec![
        ("ok", B::F(0.0)),
        ("errmsg", s(msg)),
        ("code", B::I(code)),
    ])
}

fn sasl(conn: &mut Conn, r: &Request) -> B {
    let payload = unb64(&r.str("payload"));
    if r.command() == "saslStart" {
        assert_eq!(r.str("mechanism"), "SCRAM-SHA-1");
        let bare = payload.strip_prefix("n,,").expect("gs2 header").to_string();
        let nonce = bare.split(",r=").nth(1).expect("client nonce");
        let first = format!("r={nonce}srvNONCE,s={},i={ITERATIONS}", b64(SALT));
        conn.scram = Some((bare, first.clone(), salted_password()));
        return ok(vec![
            ("conversationId", B::I(1)),
            ("done", B::T(false)),
            ("payload", s(&b64(first.as_bytes()))),
        ]);
    }
    if payload.is_empty() {
        return ok(vec![
            ("conversationId", B::I(1)),
            ("done", B::T(true)),
            ("payload", s("")),
        ]);
    }
    let Some((bare, first, salted)) = conn.scram.take() else {
        return failure("no SASL conversation", 17);
    };
    let (without_proof, proof) = payload.rsplit_once(",p=").expect("client proof");
    let auth_msg = format!("{bare},{first},{without_proof}");
    let client_key = hmac(&salted, b"Client Key");
    let sig = hmac(&sha1(&client_key), auth_msg.as_bytes());
    let want: Vec<u8> = client_key.iter().zip(sig).map(|(a, b)| a ^ b).collect();
    if b64(&want) != proof {
        return failure("Authentication failed.", 18);
    }
    conn.authed = true;
    let server_sig = hmac(&hmac(&salted, b"Server Key"), auth_msg.as_bytes());
    ok(vec![
        ("conversationId", B::I(1)),
        ("done", B::T(false)),
        (
            "payload",
            s(&b64(format!("v={}", b64(&server_sig)).as_bytes())),
        ),
    ])
}

fn fields(n: &Node) -> &[(Vec<u8>, Node)] {
    match n {
        Node::Doc(p) => p,
        _ => &[],
    }
}

fn field<'a>(n: &'a Node, key: &str) -> Option<&'a Node> {
    fields(n)
        .iter()
        .find(|(k, _)| k == key.as_bytes())
        .map(|(_, v)| v)
}

fn matches(d: &Node, filter: Option<&Node>) -> bool {
    let Some(f) = filter else { return true };
    fields(f).iter().all(|(k, v)| {
        let k = String::from_utf8_lossy(k);
        field(d, &k) == Some(v)
    })
}

fn items(n: Option<&Node>) -> Vec<Node> {
    match n {
        Some(Node::Array(a)) => a.iter().map(|(_, v)| v.clone()).collect(),
        _ => Vec::new(),
    }
}

fn int(n: Option<&Node>) -> i64 {
    match n {
        Some(Node::Int(i)) => *i,
        Some(Node::Real(f)) => *f as i64,
        _ => 0,
    }
}

/// Applies {$set: {..}} / {$inc: {..}} to `d`.
fn apply(d: &mut Node, update: &Node) {
    let Node::Doc(pairs) = d else { return };
    for (op, args) in fields(update) {
        for (k, v) in fields(args) {
            let slot = pairs.iter_mut().find(|(pk, _)| pk == k);
            let new = if op == b"$inc" {
                Node::Int(int(slot.as_ref().map(|(_, old)| old)) + int(Some(v)))
            } else {
                v.clone()
            };
            match slot {
                Some((_, old)) => *old = new,
                None => pairs.push((k.clone(), new)),
            }
        }
    }
}

/// The first batch (`cursor` None) or the next batch of `cursor`.
fn batch(sh: &mut Shared, mut docs: Vec<Node>, size: usize, cursor: Option<i64>, ns: &str) -> B {
    let first = cursor.is_none();
    let rest = docs.split_off(docs.len().min(size));
    let id = if rest.is_empty() {
        0
    } else {
        let id = cursor.unwrap_or_else(|| {
            sh.next_cursor += 1;
            // ids past 2^32: the client must keep them as int64
            (5 << 32) + sh.next_cursor
        });
        sh.cursors.insert(id, rest);
        id
    };
    let list = B::A(docs.into_iter().map(B::N).collect());
    let key = if first { "firstBatch" } else { "nextBatch" };
    ok(vec![(
        "cursor",
        doc(vec![(key, list), ("id", B::L(id)), ("ns", s(ns))]),
    )])
}

fn crud(sh: &mut Shared, r: &Request) -> B {
    let coll = match r.doc.first() {
        Some((_, Node::Str(c))) => String::from_utf8_lossy(c).into_owned(),
        _ => String::new(),
    };
    let ns = format!("{}.{coll}", r.str("$db"));
    let size = match int(r.get("batchSize")) {
        0 => BATCH,
        n => n as usize,
    };
    let docs = sh.colls.entry(coll.clone()).or_default();
    match r.command() {
        "insert" => {
            let new = items(r.get("documents"));
            if new
                .iter()
                .any(|d| field(d, "name") == Some(&Node::Str(b"dup".to_vec())))
            {
                let e = doc(vec![
                    ("index", B::I(0)),
                    ("code", B::I(11000)),
                    ("errmsg", s(&format!("E11000 duplicate key error collection: {ns} index: name_1 dup key: {{ name: \"dup\" }}"))),
                ]);
                return ok(vec![("n", B::I(0)), ("writeErrors", B::A(vec![e]))]);
            }
            let n = new.len() as i32;
            docs.extend(new);
            ok(vec![("n", B::I(n))])
        }
        "update" | "findAndModify" => {
            let ups = if r.command() == "update" {
                items(r.get("updates"))
                    .into_iter()
                    .map(|u| (field(&u, "q").cloned(), field(&u, "u").cloned()))
                    .collect()
            } else {
                vec![(r.get("query").cloned(), r.get("update").cloned())]
            };
            let mut n = 0;
            let mut last = None;
            for (q, u) in ups {
                if let Some(d) = docs.iter_mut().find(|d| matches(d, q.as_ref())) {
                    apply(d, &u.unwrap_or(Node::Doc(vec![])));
                    n += 1;
                    last = Some(d.clone());
                }
            }
            if r.command() == "findAndModify" {
                let value = last.map(B::N).unwrap_or(B::S("none".into()));
                return ok(vec![
                    ("value", value),
                    ("lastErrorObject", doc(vec![("n", B::I(n))])),
                ]);
            }
            ok(vec![("n", B::I(n)), ("nModified", B::I(n))])
        }
        "delete" => {
            let mut n = 0;
            for d in items(r.get("deletes")) {
                let q = field(&d, "q").cloned();
                let limit = int(field(&d, "limit"));
                let before = docs.len();
                let mut taken = 0;
                docs.retain(|x| {
                    let hit = matches(x, q.as_ref()) && (limit == 0 || taken < limit);
                    taken += i64::from(hit);
                    !hit
                });
                n += (before - docs.len()) as i32;
            }
            ok(vec![("n", B::I(n))])
        }
        "find" | "count" => {
            let filter = r.get("filter").or(r.get("query"));
            let skip = int(r.get("skip")) as usize;
            let limit = int(r.get("limit")) as usize;
            let mut hits: Vec<Node> = docs
                .iter()
                .filter(|d| matches(d, filter))
                .cloned()
                .collect();
            hits.drain(..skip.min(hits.len()));
            if limit > 0 {
                hits.truncate(limit);
            }
            if r.command() == "count" {
                return ok(vec![("n", B::I(hits.len() as i32))]);
            }
            batch(sh, hits, size, None, &ns)
        }
        "drop" => {
            let was = docs.len();
            docs.clear();
            ok(vec![
                ("nIndexesWas", B::I(1)),
                ("ns", s(&ns)),
                ("dropped", B::I(was as i32)),
            ])
        }
        "createIndexes" => ok(vec![
            ("numIndexesBefore", B::I(1)),
            ("numIndexesAfter", B::I(2)),
        ]),
        "aggregate" => {
            let mut out: Vec<Node> = docs.clone();
            for stage in items(r.get("pipeline")) {
                let Some((op, arg)) = fields(&stage).first() else {
                    continue;
                };
                match op.as_slice() {
                    b"$match" => out.retain(|d| matches(d, Some(arg))),
                    b"$skip" => drop(out.drain(..(int(Some(arg)) as usize).min(out.len()))),
                    b"$limit" => out.truncate(int(Some(arg)) as usize),
                    b"$count" => {
                        let Node::Str(name) = arg else { continue };
                        out = vec![Node::Doc(vec![(name.clone(), Node::Int(out.len() as i64))])];
                    }
                    _ => {}
                }
            }
            batch(sh, out, size, None, &ns)
        }
        _ => failure(&format!("no such command: '{}'", r.command()), 59),
    }
}

/// bulkWrite (MongoDB 8): inserts and deletes over the namespaces of
/// nsInfo.
fn bulk_write(sh: &mut Shared, r: &Request) -> B {
    let ns: Vec<String> = items(r.get("nsInfo"))
        .iter()
        .map(|n| match field(n, "ns") {
            Some(Node::Str(s)) => String::from_utf8_lossy(s).into_owned(),
            _ => String::new(),
        })
        .collect();
    let (mut inserted, mut deleted, mut results) = (0, 0, Vec::new());
    for (i, op) in items(r.get("ops")).iter().enumerate() {
        let Some((kind, idx)) = fields(op).first() else {
            continue;
        };
        let coll = ns.get(int(Some(idx)) as usize).cloned().unwrap_or_default();
        let coll = coll
            .split_once('.')
            .map(|(_, c)| c.to_string())
            .unwrap_or(coll);
        let docs = sh.colls.entry(coll).or_default();
        let n = match kind.as_slice() {
            b"insert" => {
                docs.extend(field(op, "document").cloned());
                inserted += 1;
                1
            }
            b"delete" => {
                let before = docs.len();
                docs.retain(|d| !matches(d, field(op, "filter")));
                deleted += before - docs.len();
                (before - docs.len()) as i32
            }
            _ => 0,
        };
        results.push(doc(vec![
            ("ok", B::F(1.0)),
            ("idx", B::I(i as i32)),
            ("n", B::I(n)),
        ]));
    }
    ok(vec![
        ("nErrors", B::I(0)),
        ("nInserted", B::I(inserted)),
        ("nDeleted", B::I(deleted as i32)),
        (
            "cursor",
            doc(vec![
                ("firstBatch", B::A(results)),
                ("id", B::L(0)),
                ("ns", s("admin.$cmd.bulkWrite")),
            ]),
        ),
    ])
}

fn get_more(sh: &mut Shared, r: &Request) -> B {
    let id = int(r.doc.first().map(|(_, v)| v));
    let size = match int(r.get("batchSize")) {
        0 => BATCH,
        n => n as usize,
    };
    let Some(docs) = sh.cursors.remove(&id) else {
        return failure(&format!("cursor id {id} not found"), 43);
    };
    let ns = format!("{}.{}", r.str("$db"), r.str("collection"));
    batch(sh, docs, size, Some(id), &ns)
}

/// The reply bytes of a `probe` (malformed or oversized), by its case.
fn probe(case: &str, to: i32) -> Vec<u8> {
    let body = bytes(&ok(vec![]));
    match case {
        "opreply" => {
            // a well-formed OP_REPLY, which the driver does not take
            let mut v = Vec::new();
            v.extend_from_slice(&((36 + body.len()) as i32).to_le_bytes());
            v.extend_from_slice(&9i32.to_le_bytes());
            v.extend_from_slice(&to.to_le_bytes());
            v.extend_from_slice(&OP_REPLY.to_le_bytes());
            v.extend_from_slice(&[0; 20]);
            v.extend_from_slice(&body);
            v
        }
        "short" => {
            // 12 bytes: no room for an opcode and flags
            let mut v = 12i32.to_le_bytes().to_vec();
            v.extend_from_slice(&9i32.to_le_bytes());
            v.extend_from_slice(&to.to_le_bytes());
            v
        }
        "negative" => (-1i32).to_le_bytes().to_vec(),
        "huge" => i32::MAX.to_le_bytes().to_vec(),
        "oversize" => {
            let big = bytes(&ok(vec![("blob", s(&"x".repeat(2 << 20)))]));
            op_msg(9, to, 0, &big)
        }
        "checksum" => op_msg(9, to, 1, &body),
        "sections" => {
            let mut v = op_msg(9, to, 0, &body);
            v[20] = 1;
            v
        }
        "badbson" => {
            let mut b = body.clone();
            b[4] = 0x55; // an element of a type BSON does not have
            op_msg(9, to, 0, &b)
        }
        _ => op_msg(9, to, 0, &bytes(&failure("unknown probe", 2))),
    }
}

/// Serves one connection; `auth`: whether commands need a login first.
pub fn serve(shared: &Arc<Mutex<Shared>>, mut sock: TcpStream, auth: bool) {
    let mut conn = Conn::default();
    let mut next_id = 1000;
    while let Some(r) = read_request(&mut sock) {
        let (id, flags, cmd) = (r.id, r.flags, r.command().to_string());
        let mut sh = shared.lock();
        let reply = match cmd.as_str() {
            "hangup" => {
                sh.log.push(r);
                return;
            }
            "probe" => {
                let out = probe(&r.str("probe"), id);
                sh.log.push(r);
                drop(sh);
                // the length first: the client must refuse on it alone
                let _ = sock.write_all(&out[..4.min(out.len())]);
                std::thread::sleep(std::time::Duration::from_millis(100));
                let _ = sock.write_all(&out[4.min(out.len())..]);
                continue;
            }
            "ismaster" => match sh.primary.clone() {
                Some(p) => ok(vec![
                    ("ismaster", B::T(false)),
                    ("secondary", B::T(true)),
                    ("primary", s(&p)),
                    ("hosts", B::A(vec![s(&p)])),
                ]),
                None => ok(vec![("ismaster", B::T(true)), ("maxWireVersion", B::I(17))]),
            },
            "ping" => ok(vec![]),
            "saslStart" | "saslContinue" => {
                let reply = sasl(&mut conn, &r);
                if cmd == "saslContinue" && !r.str("payload").is_empty() {
                    let accepted = matches!(&reply, B::D(p) if p.iter().any(|(k, v)| k == "ok" && matches!(v, B::F(f) if *f == 1.0)));
                    if accepted {
                        sh.logins.0 += 1;
                    } else {
                        sh.logins.1 += 1;
                    }
                }
                reply
            }
            _ if auth && !conn.authed => {
                failure(&format!("command {cmd} requires authentication"), 13)
            }
            "getMore" => get_more(&mut sh, &r),
            "bulkWrite" => bulk_write(&mut sh, &r),
            "logout" => ok(vec![]),
            "killCursors" => {
                for c in items(r.get("cursors")) {
                    sh.cursors.remove(&int(Some(&c)));
                }
                ok(vec![])
            }
            _ => crud(&mut sh, &r),
        };
        sh.log.push(r);
        drop(sh);
        if flags & 2 != 0 {
            continue; // moreToCome: the client wants no reply
        }
        next_id += 1;
        if sock
            .write_all(&op_msg(next_id, id, 0, &bytes(&reply)))
            .is_err()
        {
            return;
        }
    }
}
