//! Threat: a hostile cluster peer. skynet's cluster port takes anyone who
//! connects, lets them call any service by number or local name (the
//! launcher included), and collects multi-part messages without limit
//! (spec §7.7). Here a link needs a certificate the cluster authority
//! signed, a remote request reaches only names registered with
//! `cluster.register`, and every bound of a link is enforced, counted and
//! audited, without disturbing the node's other links.

use skyhold_cluster::config::Identity;
use skyhold_cluster::tls::{self, Tls};
use skyhold_cluster::wire::{self, Address, Response};
use skyhold_testkit::{Authority, BootedNode};
use std::path::PathBuf;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;

fn lua_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/threats/lua")
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The target node, with a certificate for "target", and `extra` config.
fn target(ca: &Authority, extra: &[(&str, &str)]) -> (BootedNode, u16) {
    ca.issue("target", "target");
    let mut keys = ca.keys("target");
    keys.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let node = BootedNode::boot(&lua_dir(), "hostile_cluster_peer_target", &keys);
    let port = node.listen_port();
    (node, port)
}

/// A TLS link to the target as node `file` of `ca`.
async fn link(
    ca: &Authority,
    file: &str,
    port: u16,
) -> std::io::Result<impl AsyncRead + AsyncWrite + Unpin> {
    let id = Identity {
        cert: Some(ca.dir.join(format!("{file}.pem"))),
        key: Some(ca.dir.join(format!("{file}.key"))),
        ca: Some(ca.dir.join("ca.pem")),
    };
    let tls = Tls::load(&id).unwrap().unwrap();
    let tcp = TcpStream::connect(("127.0.0.1", port)).await?;
    tls.connector
        .connect(tls::server_name("target").unwrap(), tcp)
        .await
}

fn request(address: Address<'_>, session: u32, args: &[skyhold_pack::Value]) -> Vec<u8> {
    let mut out = Vec::new();
    let data = skyhold_pack::pack(args).unwrap();
    wire::encode_request(&mut out, address, session, session == 0, &data).unwrap();
    out
}

fn s(text: &str) -> skyhold_pack::Value {
    skyhold_pack::Value::String(text.as_bytes().to_vec())
}

/// The next response body, or None when the link closed or went quiet.
async fn next_body<R: AsyncRead + Unpin>(r: &mut R) -> Option<Vec<u8>> {
    let read = async {
        let n = r.read_u16().await.ok()? as usize;
        let mut body = vec![0; n];
        r.read_exact(&mut body).await.ok()?;
        Some(body)
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .ok()
        .flatten()
}

/// True when the other end closes the connection within a few seconds.
async fn closed<R: AsyncRead + Unpin>(r: &mut R) -> bool {
    let mut buf = [0u8; 256];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        match tokio::time::timeout_at(deadline, r.read(&mut buf)).await {
            Err(_) => return false,
            Ok(Ok(0)) | Ok(Err(_)) => return true,
            Ok(Ok(_)) => {}
        }
    }
}

fn error_text(body: &[u8]) -> String {
    match wire::decode_response(body).unwrap() {
        Response::Error { text, .. } => String::from_utf8_lossy(text).into_owned(),
        other => panic!("expected an error, got {other:?}"),
    }
}

#[test]
fn a_peer_without_a_certificate_is_refused_and_reaches_nothing() {
    let ca = Authority::new("nocert");
    let (node, port) = target(&ca, &[]);
    rt().block_on(async {
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        // skynet's bytes for a call to @echo: what an unauthenticated
        // skynet peer would send.
        let packet = request(Address::Name(b"@echo"), 1, &[s("hello")]);
        tcp.write_all(&packet).await.unwrap();
        assert!(closed(&mut tcp).await, "the connection stays open");
    });
    assert!(
        node.eventually(&["AUDIT refused cluster link", "cluster peer 127.0.0.1"]),
        "{}",
        node.dump()
    );
    assert!(!node.logged_all(&["REACHED"]), "{}", node.dump());
}

#[test]
fn a_certificate_from_another_authority_is_refused() {
    let ca = Authority::new("realca");
    let (node, port) = target(&ca, &[]);
    let rogue = Authority::new("rogueca");
    rogue.issue("target", "target");
    rt().block_on(async {
        // The rogue trusts its own authority, so it fails on the target's
        // certificate, or the target fails on its: either way no link.
        assert!(
            link(&rogue, "target", port).await.is_err() || {
                let mut l = link(&rogue, "target", port).await.unwrap();
                closed(&mut l).await
            }
        );
    });
    assert!(
        node.wait_for("TLS handshake failed", Duration::from_secs(5))
            .is_some(),
        "{}",
        node.dump()
    );
    assert!(!node.logged_all(&["REACHED"]));
}

#[test]
fn a_signed_peer_reaches_registered_names_only() {
    let ca = Authority::new("reach");
    let (node, port) = target(&ca, &[]);
    ca.issue("peer", "peer");
    rt().block_on(async {
        let mut l = link(&ca, "peer", port).await.unwrap();
        // The launcher, by local name: skynet would run LAUNCH for anyone.
        l.write_all(&request(
            Address::Name(b".launcher"),
            1,
            &[s("LAUNCH"), s("snlua"), s("x")],
        ))
        .await
        .unwrap();
        assert_eq!(
            error_text(&next_body(&mut l).await.unwrap()),
            "Invalid name"
        );
        // A numeric handle: the echo service's own, learned by query.
        l.write_all(&request(Address::Handle(0), 2, &[s("echo")]))
            .await
            .unwrap();
        let body = next_body(&mut l).await.unwrap();
        let Response::Whole { session: 2, data } = wire::decode_response(&body).unwrap() else {
            panic!("no handle for @echo");
        };
        let skyhold_pack::Value::Integer(h) = skyhold_pack::unpack(data).unwrap()[0] else {
            panic!("the handle is not an integer");
        };
        l.write_all(&request(Address::Handle(h as u32), 3, &[s("numeric")]))
            .await
            .unwrap();
        assert_eq!(
            error_text(&next_body(&mut l).await.unwrap()),
            "Invalid name"
        );
        // The registered name works, on the same link.
        l.write_all(&request(
            Address::Name(b"@echo"),
            4,
            &[s("registered"), s("ok")],
        ))
        .await
        .unwrap();
        let body = next_body(&mut l).await.unwrap();
        assert!(matches!(
            wire::decode_response(&body).unwrap(),
            Response::Whole { session: 4, .. }
        ));
    });
    assert!(
        node.eventually(&[
            "AUDIT refused cluster_any_address",
            "cluster peer peer on",
            ".launcher"
        ]),
        "{}",
        node.dump()
    );
    assert!(node.eventually(&["REACHED registered"]));
    assert!(!node.logged_all(&["REACHED numeric"]));
    assert!(!node.logged_all(&["LAUNCH snlua x"]), "{}", node.dump());
}

#[test]
fn a_peer_named_in_cluster_any_address_may_reach_numeric_addresses() {
    let ca = Authority::new("anyaddr");
    // The target knows a peer by the name its certificate gives, checked
    // first against the names of its map (here "trusted").
    let map = ca.dir.join("clustermap");
    std::fs::write(&map, "trusted = \"127.0.0.1:1\"\n").unwrap();
    let map = map.display().to_string();
    let (node, port) = target(
        &ca,
        &[("cluster", &map), ("cluster_any_address", "trusted")],
    );
    ca.issue("trusted", "trusted");
    ca.issue("peer", "peer");
    rt().block_on(async {
        for (file, allowed) in [("trusted", true), ("peer", false)] {
            let mut l = link(&ca, file, port).await.unwrap();
            l.write_all(&request(Address::Handle(0), 1, &[s("echo")]))
                .await
                .unwrap();
            let body = next_body(&mut l).await.unwrap();
            let Response::Whole { data, .. } = wire::decode_response(&body).unwrap() else {
                panic!("no handle");
            };
            let skyhold_pack::Value::Integer(h) = skyhold_pack::unpack(data).unwrap()[0] else {
                panic!("not an integer");
            };
            let what = format!("numeric-from-{file}");
            l.write_all(&request(Address::Handle(h as u32), 2, &[s(&what)]))
                .await
                .unwrap();
            let body = next_body(&mut l).await.unwrap();
            let reply = wire::decode_response(&body).unwrap();
            assert_eq!(
                matches!(reply, Response::Whole { session: 2, .. }),
                allowed,
                "{file}: {reply:?}"
            );
        }
    });
    assert!(
        node.eventually(&["REACHED numeric-from-trusted"]),
        "{}",
        node.dump()
    );
    assert!(
        !node.logged_all(&["REACHED numeric-from-peer"]),
        "{}",
        node.dump()
    );
    assert!(
        node.eventually(&["AUDIT refused cluster_any_address", "cluster peer peer"]),
        "{}",
        node.dump()
    );
}

#[test]
fn a_message_declared_past_the_limit_is_refused_and_the_link_goes_on() {
    let ca = Authority::new("large");
    let (node, port) = target(&ca, &[("cluster_max_message", "100000")]);
    ca.issue("peer", "peer");
    rt().block_on(async {
        let mut l = link(&ca, "peer", port).await.unwrap();
        let big = "x".repeat(200_000);
        l.write_all(&request(Address::Name(b"@echo"), 7, &[s("big"), s(&big)]))
            .await
            .unwrap();
        let text = error_text(&next_body(&mut l).await.unwrap());
        assert!(text.contains("cluster_max_message"), "{text}");
        l.write_all(&request(Address::Name(b"@echo"), 8, &[s("after")]))
            .await
            .unwrap();
        let body = next_body(&mut l).await.unwrap();
        assert!(matches!(
            wire::decode_response(&body).unwrap(),
            Response::Whole { session: 8, .. }
        ));
    });
    assert!(!node.logged_all(&["REACHED big"]));
}

#[test]
fn parts_past_their_declared_size_close_that_link_only() {
    let ca = Authority::new("parts");
    let (node, port) = target(&ca, &[]);
    ca.issue("peer", "peer");
    rt().block_on(async {
        let mut good = link(&ca, "peer", port).await.unwrap();
        let mut bad = link(&ca, "peer", port).await.unwrap();
        // A header for 0x8000 bytes, then two full parts.
        let mut header = vec![0x81, 5];
        header.extend_from_slice(b"@echo");
        header.extend_from_slice(&5u32.to_le_bytes());
        header.extend_from_slice(&0x8000u32.to_le_bytes());
        let mut out = Vec::new();
        out.extend_from_slice(&(header.len() as u16).to_be_bytes());
        out.extend_from_slice(&header);
        for _ in 0..2 {
            let mut part = vec![0x02];
            part.extend_from_slice(&5u32.to_le_bytes());
            part.extend_from_slice(&[0u8; 0x8000]);
            out.extend_from_slice(&(part.len() as u16).to_be_bytes());
            out.extend_from_slice(&part);
        }
        bad.write_all(&out).await.unwrap();
        assert!(
            closed(&mut bad).await,
            "the link that broke the protocol stays open"
        );
        // The other link is untouched.
        good.write_all(&request(Address::Name(b"@echo"), 1, &[s("still")]))
            .await
            .unwrap();
        let body = next_body(&mut good).await.unwrap();
        assert!(matches!(
            wire::decode_response(&body).unwrap(),
            Response::Whole { session: 1, .. }
        ));
    });
    assert!(
        node.eventually(&["declared 32768 bytes and carried 65536"]),
        "{}",
        node.dump()
    );
}

#[test]
fn garbage_on_a_link_closes_it() {
    let ca = Authority::new("garbage");
    let (node, port) = target(&ca, &[]);
    ca.issue("peer", "peer");
    rt().block_on(async {
        let mut l = link(&ca, "peer", port).await.unwrap();
        l.write_all(&[0, 3, 0x77, 1, 2]).await.unwrap();
        assert!(closed(&mut l).await);
        let mut l = link(&ca, "peer", port).await.unwrap();
        l.write_all(&[0, 0]).await.unwrap();
        assert!(closed(&mut l).await);
    });
    assert!(node.eventually(&["unknown type 0x77"]), "{}", node.dump());
    assert!(
        node.eventually(&["an empty cluster packet"]),
        "{}",
        node.dump()
    );
}

#[test]
fn calls_past_the_inflight_limit_get_an_error_at_once() {
    let ca = Authority::new("inflight");
    let (_node, port) = target(&ca, &[("cluster_max_inflight", "2")]);
    ca.issue("peer", "peer");
    rt().block_on(async {
        let mut l = link(&ca, "peer", port).await.unwrap();
        for session in 1..=3 {
            l.write_all(&request(Address::Name(b"@echo"), session, &[s("slow")]))
                .await
                .unwrap();
        }
        // The third is refused before the two slow ones are answered.
        let first = next_body(&mut l).await.unwrap();
        let text = error_text(&first);
        assert!(text.contains("cluster_max_inflight"), "{text}");
        for _ in 0..2 {
            let body = next_body(&mut l).await.unwrap();
            assert!(matches!(
                wire::decode_response(&body).unwrap(),
                Response::Whole { .. }
            ));
        }
    });
}

#[test]
fn a_silent_connection_is_dropped_after_the_handshake_timeout() {
    let ca = Authority::new("silent");
    let (node, port) = target(&ca, &[("cluster_handshake_timeout", "1")]);
    rt().block_on(async {
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
        assert!(closed(&mut tcp).await, "a silent connection was kept");
    });
    assert!(
        node.eventually(&["did not finish its handshake in time"]),
        "{}",
        node.dump()
    );
}

#[test]
fn links_past_cluster_max_links_are_refused() {
    let ca = Authority::new("maxlinks");
    let (node, port) = target(&ca, &[("cluster_max_links", "1")]);
    ca.issue("peer", "peer");
    rt().block_on(async {
        let mut first = link(&ca, "peer", port).await.unwrap();
        let second = link(&ca, "peer", port).await;
        if let Ok(mut second) = second {
            assert!(closed(&mut second).await, "a second link was kept");
        }
        first
            .write_all(&request(Address::Name(b"@echo"), 1, &[s("first")]))
            .await
            .unwrap();
        assert!(next_body(&mut first).await.is_some());
    });
    assert!(node.eventually(&["cluster_max_links"]), "{}", node.dump());
}

#[test]
fn a_peer_that_never_reads_holds_at_most_cluster_max_queued_bytes() {
    // A "legacy" node in plain TCP that accepts and then reads nothing.
    let sink = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = sink.local_addr().unwrap().port();
    let keep = std::thread::spawn(move || {
        let conn = sink.accept();
        std::thread::sleep(Duration::from_secs(20));
        drop(conn);
    });
    let dir = Authority::new("slowpeer");
    let map = dir.dir.join("clustermap");
    std::fs::write(&map, format!("sink = \"127.0.0.1:{port}\"\n")).unwrap();
    let extra = [
        ("cluster".to_string(), map.display().to_string()),
        ("cluster_plaintext".to_string(), "sink".to_string()),
        ("cluster_max_queued".to_string(), "200000".to_string()),
    ];
    let node = BootedNode::boot(&lua_dir(), "hostile_cluster_peer_slow_peer", &extra);
    node.expect_pass("hostile_cluster_peer_slow_peer");
    assert!(
        node.eventually(&["request to sink refused", "cluster_max_queued"]),
        "{}",
        node.dump()
    );
    drop(keep);
}

#[test]
fn calls_to_a_node_with_no_address_wait_only_up_to_cluster_max_waiting() {
    let node = BootedNode::boot(
        &lua_dir(),
        "hostile_cluster_peer_waiting",
        &[("cluster_max_waiting".to_string(), "1".to_string())],
    );
    node.expect_pass("hostile_cluster_peer_waiting");
    assert!(node.eventually(&["cluster_max_waiting"]), "{}", node.dump());
}

#[test]
fn more_messages_in_progress_than_cluster_max_partial_close_the_link() {
    let ca = Authority::new("partial");
    let (node, port) = target(&ca, &[("cluster_max_partial", "1")]);
    ca.issue("peer", "peer");
    rt().block_on(async {
        let mut l = link(&ca, "peer", port).await.unwrap();
        // Two multi-part headers whose parts never come.
        let mut out = Vec::new();
        for session in [1u32, 2] {
            let mut header = vec![0x81, 5];
            header.extend_from_slice(b"@echo");
            header.extend_from_slice(&session.to_le_bytes());
            header.extend_from_slice(&0x10000u32.to_le_bytes());
            out.extend_from_slice(&(header.len() as u16).to_be_bytes());
            out.extend_from_slice(&header);
        }
        l.write_all(&out).await.unwrap();
        assert!(closed(&mut l).await, "the link stays open");
    });
    assert!(node.eventually(&["cluster_max_partial"]), "{}", node.dump());
}

#[test]
fn failed_handshakes_do_not_use_up_cluster_max_links() {
    let ca = Authority::new("leak");
    let (node, port) = target(&ca, &[("cluster_max_links", "2")]);
    ca.issue("peer", "peer");
    rt().block_on(async {
        for _ in 0..5 {
            let mut tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            tcp.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
            assert!(closed(&mut tcp).await);
        }
        let mut l = link(&ca, "peer", port).await.unwrap();
        l.write_all(&request(Address::Name(b"@echo"), 1, &[s("after")]))
            .await
            .unwrap();
        assert!(next_body(&mut l).await.is_some(), "{}", node.dump());
    });
}

#[test]
fn one_peer_holds_at_most_cluster_max_links_per_peer() {
    let ca = Authority::new("perpeer");
    let (node, port) = target(&ca, &[("cluster_max_links_per_peer", "1")]);
    ca.issue("peer", "peer");
    ca.issue("other", "other");
    rt().block_on(async {
        let mut first = link(&ca, "peer", port).await.unwrap();
        if let Ok(mut second) = link(&ca, "peer", port).await {
            assert!(
                closed(&mut second).await,
                "a second link of one peer was kept"
            );
        }
        // Another peer still gets in, and the first link still works.
        let mut other = link(&ca, "other", port).await.unwrap();
        for (l, session) in [(&mut first, 1), (&mut other, 2)] {
            l.write_all(&request(Address::Name(b"@echo"), session, &[s("x")]))
                .await
                .unwrap();
            assert!(next_body(l).await.is_some());
        }
    });
    assert!(
        node.eventually(&["cluster peer peer", "cluster_max_links_per_peer"]),
        "{}",
        node.dump()
    );
}

#[test]
fn silent_connections_hold_at_most_cluster_max_handshakes_and_cluster_max_per_ip() {
    for (key, limit) in [("cluster_max_handshakes", 2), ("cluster_max_per_ip", 2)] {
        let ca = Authority::new("handshakes");
        let (node, port) = target(&ca, &[(key, &limit.to_string())]);
        ca.issue("peer", "peer");
        rt().block_on(async {
            let mut silent = Vec::new();
            for _ in 0..limit {
                silent.push(TcpStream::connect(("127.0.0.1", port)).await.unwrap());
            }
            // The next one is refused at once, not after the timeout.
            let mut more = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
            let t0 = std::time::Instant::now();
            assert!(
                closed(&mut more).await,
                "{key}: a connection past the limit was kept"
            );
            assert!(t0.elapsed() < Duration::from_secs(3), "{key}");
            drop(silent);
            // With the silent ones gone, a real link gets in.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let mut l = link(&ca, "peer", port).await.unwrap();
            l.write_all(&request(Address::Name(b"@echo"), 1, &[s("x")]))
                .await
                .unwrap();
            assert!(next_body(&mut l).await.is_some(), "{key}");
        });
        assert!(node.eventually(&[key]), "{}", node.dump());
    }
}

#[test]
fn calls_a_service_never_answers_are_given_up_when_their_link_goes() {
    let ca = Authority::new("forget");
    let (node, port) = target(&ca, &[]);
    ca.issue("peer", "peer");
    let r = node.node.handle();
    rt().block_on(async {
        let mut l = link(&ca, "peer", port).await.unwrap();
        for session in 1..=5 {
            l.write_all(&request(Address::Name(b"@echo"), session, &[s("hold")]))
                .await
                .unwrap();
        }
        // The link's agent makes the calls and waits on them.
        let line = node
            .wait_for("LAUNCH clusteragent peer", Duration::from_secs(5))
            .expect("an agent for the link");
        let agent = skyhold_core::Handle::parse(&line[1..10]).expect("the agent's handle");
        let open = || r.stats(agent).map_or(0, |s| s["open_calls"]);
        assert!(
            skyhold_testkit::wait_until(Duration::from_secs(5), || open() == 5),
            "the agent should wait on 5 calls, has {}",
            open()
        );
        drop(l);
        // The agent goes with its link, and the calls with it: nothing is
        // left holding max_open_calls for a peer that has gone.
        assert!(
            skyhold_testkit::wait_until(Duration::from_secs(5), || !r.is_alive(agent)),
            "the agent outlived its link"
        );
    });
    let clusterd = r.query_name(".clusterd").expect("clusterd");
    assert_eq!(r.stats(clusterd).expect("stats")["open_calls"], 0);
}

#[test]
fn a_peer_flooding_a_service_does_not_take_other_peers_share_of_its_mailbox() {
    let ca = Authority::new("fair");
    let (node, port) = target(&ca, &[]);
    ca.issue("flooder", "flooder");
    ca.issue("peer", "peer");
    rt().block_on(async {
        let mut flooder = link(&ca, "flooder", port).await.unwrap();
        let mut peer = link(&ca, "peer", port).await.unwrap();
        // Far more pushes than one sender's share of the mailbox
        // (sender_messages, 1,024), each keeping the service busy.
        let mut flood = Vec::new();
        for _ in 0..4000 {
            flood.extend_from_slice(&request(Address::Name(b"@echo"), 0, &[s("spin")]));
        }
        flooder.write_all(&flood).await.unwrap();
        tokio::time::sleep(Duration::from_millis(200)).await;
        // Each link has its own agent, so its own share: the other peer's
        // call is let in (and answered once the backlog is worked off).
        peer.write_all(&request(Address::Name(b"@echo"), 1, &[s("fair")]))
            .await
            .unwrap();
        let body = next_body(&mut peer).await.expect("a reply");
        assert!(
            matches!(
                wire::decode_response(&body).unwrap(),
                Response::Whole { session: 1, .. }
            ),
            "{:?}\n{}",
            wire::decode_response(&body),
            node.dump()
        );
    });
    assert!(node.eventually(&["REACHED fair"]));
}

/// What one local service can make clusterd hold is bounded: past
/// `cluster_max_nodes` a reload adds no more nodes to the map, and the log
/// says why; past `max_names` it registers no more cluster names; past
/// `cluster_max_queued` it holds no more bytes for a node with no address.
#[test]
fn what_one_local_service_makes_clusterd_hold_is_bounded() {
    let extra = [
        ("cluster_max_nodes", "3"),
        ("max_names", "2"),
        ("cluster_max_queued", "100000"),
        // Listening needs an identity or a plaintext peer.
        ("cluster_plaintext", "legacy"),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()));
    let node = BootedNode::boot(&lua_dir(), "hostile_cluster_peer_local_bounds", &extra);
    node.expect_pass("hostile_cluster_peer_local_bounds");
    assert!(
        node.eventually(&["not added: the map has 3 nodes (config cluster_max_nodes)"]),
        "{}",
        node.dump()
    );
    assert!(node.eventually(&["config max_names"]), "{}", node.dump());
    assert!(
        node.eventually(&["hold", "config cluster_max_queued"]),
        "{}",
        node.dump()
    );
}

#[test]
fn only_the_start_service_or_cluster_admin_changes_the_cluster_map() {
    let node = BootedNode::boot(&lua_dir(), "hostile_cluster_peer_reload_grant", &[]);
    node.expect_pass("hostile_cluster_peer_reload_grant");
    assert!(
        node.eventually(&[
            "AUDIT refused cluster.reload",
            "hostile_cluster_peer_reload_other",
            "cluster_admin"
        ]),
        "{}",
        node.dump()
    );
}

#[test]
fn a_called_node_flooding_replies_to_calls_never_made_is_counted_and_slowed() {
    let ca = Authority::new("replyflood");
    ca.issue("sink", "sink");
    ca.issue("caller", "caller");
    let sink = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = sink.local_addr().unwrap().port();
    sink.set_nonblocking(true).unwrap();
    let id = Identity {
        cert: Some(ca.dir.join("sink.pem")),
        key: Some(ca.dir.join("sink.key")),
        ca: Some(ca.dir.join("ca.pem")),
    };
    let tls = Tls::load(&id).unwrap().unwrap();
    let server = std::thread::spawn(move || {
        rt().block_on(async move {
            let listener = tokio::net::TcpListener::from_std(sink).unwrap();
            let (tcp, _) = listener.accept().await.unwrap();
            let mut s = tls.acceptor.accept(tcp).await.unwrap();
            let mut flood = Vec::new();
            for session in 1_000_000..1_003_000u32 {
                wire::encode_reply(&mut flood, session, &[7u8; 1000]).unwrap();
            }
            // The node reads this no faster than clusterd takes it.
            let _ = s.write_all(&flood).await;
            let _ = s.flush().await;
            tokio::time::sleep(Duration::from_millis(300)).await;
        })
    });
    let mut extra = ca.keys("caller");
    extra.push(("sink_port".into(), port.to_string()));
    extra.push(("cluster_max_queued".into(), "100000".into()));
    let node = BootedNode::boot(&lua_dir(), "hostile_cluster_peer_flooding_server", &extra);
    node.expect_pass("hostile_cluster_peer_flooding_server");
    let _ = server.join();
}
