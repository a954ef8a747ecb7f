//! skynet.db.mongo against a loopback peer speaking the MongoDB wire
//! protocol (tests/db/mongo_peer.rs). No MongoDB server is packaged in
//! Debian, so none is tested: the peer checks what a server would (the
//! SCRAM proof) and the test checks the exact bytes the client sent.

use super::mongo_peer::{serve, Shared};
use super::mongo_wire::{bytes, doc, mentions, op_msg, s, Request, B};
use parking_lot::Mutex;
use skyhold_bson::wire::Node;
use std::sync::Arc;

fn peer(auth: bool) -> (u16, Arc<Mutex<Shared>>) {
    peer_of(auth, None)
}

/// A peer; a secondary when `primary` names the primary's address.
fn peer_of(auth: bool, primary: Option<String>) -> (u16, Arc<Mutex<Shared>>) {
    let mut first = Shared::default();
    first.primary = primary;
    let shared = Arc::new(Mutex::new(first));
    let sh = shared.clone();
    let port = super::fake::serve(move |sock| serve(&sh, sock, auth));
    (port, shared)
}

fn find<'a>(log: &'a [Request], what: &str, pred: impl Fn(&Request) -> bool) -> &'a Request {
    log.iter()
        .find(|r| pred(r))
        .unwrap_or_else(|| panic!("no {what} request; commands seen: {:?}", commands(log)))
}

fn commands(log: &[Request]) -> Vec<String> {
    log.iter().map(|r| r.command().to_string()).collect()
}

fn tagged_objectid(n: &Node) -> bool {
    matches!(n, Node::Tagged(t) if t.len() == 14 && t[..2] == [0, 7])
}

/// Login, CRUD, cursors, indexes, errors, a refused login, a reconnect;
/// then the requests' bytes.
#[test]
fn mongo_client() {
    let (port, shared) = peer(true);
    super::check("mongo_client", &[("mongo_port", port.to_string())]);
    let sh = shared.lock();
    let log = &sh.log;
    assert_eq!(
        sh.logins,
        (3, 2),
        "logins at connect, by db:auth and after the reconnect; refused: a wrong password at connect and by db:auth"
    );

    let start = find(log, "saslStart", |r| r.command() == "saslStart");
    assert_eq!(
        start.keys(),
        ["saslStart", "$db", "autoAuthorize", "mechanism", "payload"]
    );
    assert_eq!(start.str("$db"), "admin");

    let ping = find(log, "ping", |r| {
        r.command() == "ping" && r.str("$db") == "game"
    });
    let want = doc(vec![("ping", B::I(1)), ("$db", s("game"))]);
    assert_eq!(
        ping.frame,
        op_msg(ping.id, 0, 0, &bytes(&want)),
        "ping bytes"
    );

    let solo = find(log, "safe_insert", |r| {
        r.command() == "insert"
            && r.flags == 0
            && r.get("documents").is_some_and(|d| mentions(d, "solo"))
    });
    let want = doc(vec![
        ("insert", s("users")),
        ("$db", s("game")),
        ("documents", B::A(vec![doc(vec![("name", s("solo"))])])),
    ]);
    assert_eq!(
        solo.frame,
        op_msg(solo.id, 0, 0, &bytes(&want)),
        "safe_insert bytes"
    );

    let w0 = find(log, "insert", |r| r.command() == "insert" && r.flags == 2);
    assert_eq!(w0.keys(), ["insert", "$db", "writeConcern", "documents"]);
    assert_eq!(
        w0.get("writeConcern"),
        Some(&Node::Doc(vec![(b"w".to_vec(), Node::Int(0))]))
    );
    let Some(Node::Array(docs)) = w0.get("documents") else {
        panic!("documents")
    };
    let Node::Doc(first) = &docs[0].1 else {
        panic!("a document")
    };
    assert!(
        first.iter().any(|(k, v)| k == b"_id" && tagged_objectid(v)),
        "insert adds an ObjectId _id: {first:?}"
    );

    let sorted = find(log, "find with sort", |r| {
        r.command() == "find"
            && r.get("sort")
                .is_some_and(|s| matches!(s, Node::Doc(p) if !p.is_empty()))
    });
    assert_eq!(
        sorted.keys(),
        ["find", "$db", "filter", "sort", "projection"]
    );
    assert_eq!(
        sorted.get("sort"),
        Some(&Node::Doc(vec![
            (b"lv".to_vec(), Node::Int(-1)),
            (b"name".to_vec(), Node::Int(1))
        ]))
    );

    // cursor ids are int64 on the wire (type 0x12), past 2^32
    let more = find(log, "getMore", |r| {
        r.command() == "getMore" && r.get("batchSize").is_none()
    });
    let Some(Node::Int(id)) = more.get("getMore") else {
        panic!("getMore id")
    };
    assert!(*id > 1 << 32);
    let want = doc(vec![
        ("getMore", B::L(*id)),
        ("$db", s("game")),
        ("collection", s("users")),
    ]);
    assert_eq!(
        more.frame,
        op_msg(more.id, 0, 0, &bytes(&want)),
        "getMore bytes"
    );

    let kill = find(log, "killCursors", |r| r.command() == "killCursors");
    let Some(Node::Array(ids)) = kill.get("cursors") else {
        panic!("cursors")
    };
    let Node::Int(id) = ids[0].1 else {
        panic!("cursor id")
    };
    let want = doc(vec![
        ("killCursors", s("users")),
        ("$db", s("game")),
        ("writeConcern", doc(vec![("w", B::I(0))])),
        ("cursors", B::A(vec![B::L(id)])),
    ]);
    assert_eq!(
        kill.frame,
        op_msg(kill.id, 0, 2, &bytes(&want)),
        "killCursors bytes"
    );

    let limited = find(log, "find with skip", |r| {
        r.command() == "find" && r.get("skip").is_some()
    });
    assert_eq!(
        limited.keys(),
        [
            "find",
            "$db",
            "filter",
            "sort",
            "projection",
            "skip",
            "limit"
        ]
    );
    let count = find(log, "count", |r| {
        r.command() == "count" && r.get("skip").is_some()
    });
    assert_eq!(count.keys(), ["count", "$db", "query", "skip", "limit"]);

    let bulk = find(log, "bulkWrite", |r| r.command() == "bulkWrite");
    assert_eq!(bulk.keys(), ["bulkWrite", "$db", "ops", "nsInfo"]);
    assert_eq!(bulk.str("$db"), "admin");
    let want = doc(vec![
        ("bulkWrite", B::I(1)),
        ("$db", s("admin")),
        (
            "ops",
            B::A(vec![
                doc(vec![
                    ("insert", B::I(0)),
                    ("document", doc(vec![("name", s("bw"))])),
                ]),
                doc(vec![
                    ("delete", B::I(0)),
                    ("filter", doc(vec![("name", s("c"))])),
                    ("multi", B::T(false)),
                ]),
            ]),
        ),
        ("nsInfo", B::A(vec![doc(vec![("ns", s("game.users"))])])),
    ]);
    assert_eq!(
        bulk.frame,
        op_msg(bulk.id, 0, 0, &bytes(&want)),
        "bulkWrite bytes"
    );

    let index = find(log, "createIndexes", |r| {
        r.command() == "createIndexes"
            && r.get("indexes")
                .is_some_and(|d| mentions(d, "lv_1_name_-1"))
    });
    let Some(Node::Array(list)) = index.get("indexes") else {
        panic!("indexes")
    };
    let Node::Doc(model) = &list[0].1 else {
        panic!("index model")
    };
    let key = model.iter().find(|(k, _)| k == b"key").map(|(_, v)| v);
    assert_eq!(
        key,
        Some(&Node::Doc(vec![
            (b"lv".to_vec(), Node::Int(1)),
            (b"name".to_vec(), Node::Int(-1))
        ]))
    );
    assert!(model
        .iter()
        .any(|(k, v)| k == b"unique" && *v == Node::Bool(true)));
}

/// Malformed and oversized replies: a clear error each, the connection
/// dropped (an oversized reply refused on its length, never read), and
/// the next request reconnects.
#[test]
fn mongo_malformed() {
    let (port, shared) = peer(false);
    super::check("mongo_malformed", &[("mongo_port", port.to_string())]);
    let sh = shared.lock();
    let probes = sh.log.iter().filter(|r| r.command() == "probe").count();
    assert_eq!(probes, 8, "every case reached the peer");
}

/// A replica set: the client connects to a secondary, logs in, learns the
/// primary from ismaster and moves there; every command goes to the
/// primary.
#[test]
fn mongo_replica_set() {
    let (primary, pshared) = peer(true);
    let (secondary, sshared) = peer_of(true, Some(format!("127.0.0.1:{primary}")));
    super::check(
        "mongo_rs",
        &[
            ("mongo_port", secondary.to_string()),
            ("mongo_primary", primary.to_string()),
        ],
    );
    let on_secondary = commands(&sshared.lock().log);
    assert_eq!(
        on_secondary,
        ["saslStart", "saslContinue", "saslContinue", "ismaster"]
    );
    let on_primary = commands(&pshared.lock().log);
    assert!(
        on_primary.contains(&"insert".to_string()) && on_primary.contains(&"find".to_string()),
        "the primary got {on_primary:?}"
    );
}
