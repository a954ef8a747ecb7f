//! skynet.cluster between two nodes of this process, over mutually
//! authenticated TLS: calls, pushes, large messages, queries, proxies, and
//! what a remote node may not reach.

use skyhold_testkit::{Authority, BootedNode};

fn lua_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/compat/lua")
}

#[test]
fn a_node_calls_registered_services_of_another_over_tls() {
    let ca = Authority::new("compat");
    ca.issue("a", "a");
    // b is known by two names, one per port, as in skynet's examples.
    ca.issue_for("b", &["b", "b2"]);
    let b = BootedNode::boot(&lua_dir(), "cluster_b", &ca.keys("b"));
    let port = b.listen_port();
    let port2 = b
        .wait_for("LISTEN2 ", std::time::Duration::from_secs(5))
        .and_then(|l| l.rsplit("LISTEN2 ").next()?.trim().parse::<u16>().ok())
        .expect("a second port");
    let mut extra = ca.keys("a");
    extra.push(("peer_port".into(), port.to_string()));
    extra.push(("peer_port2".into(), port2.to_string()));
    let a = BootedNode::boot(&lua_dir(), "cluster_a", &extra);
    a.expect_pass("cluster_a");
    // b refused and audited what was not registered.
    assert!(
        b.eventually(&["cluster_any_address", ".local_only"]),
        "{}",
        b.dump()
    );
}

/// Plain TCP from `from` to the local port, as a legacy skynet node would.
fn plain_from(from: &str, port: u16) -> std::io::Result<std::net::TcpStream> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let s = rt.block_on(async {
        let sock = tokio::net::TcpSocket::new_v4()?;
        sock.bind(format!("{from}:0").parse().unwrap())?;
        sock.connect(format!("127.0.0.1:{port}").parse().unwrap())
            .await
    })?;
    let s = s.into_std()?;
    s.set_nonblocking(false)?;
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))?;
    Ok(s)
}

fn unhex(h: &str) -> Vec<u8> {
    let h: String = h.split_whitespace().collect();
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn a_legacy_skynet_peer_speaks_skynets_bytes_in_plain_tcp_from_its_own_address() {
    use std::io::{Read, Write};
    let dir = Authority::new("legacy");
    let map = dir.dir.join("clustermap");
    // The legacy node is known by its address; only that address may
    // speak plain TCP.
    std::fs::write(&map, "legacy = \"127.0.0.2:9\"\n").unwrap();
    // The node has a TLS identity too: it tells plain skynet packets from
    // TLS records by their first bytes.
    dir.issue("b", "b");
    let mut extra = vec![
        ("cluster".to_string(), map.display().to_string()),
        ("cluster_plaintext".to_string(), "legacy".to_string()),
    ];
    extra.extend(dir.keys("b"));
    let b = BootedNode::boot(&lua_dir(), "cluster_b", &extra);
    let port = b.listen_port();
    // A call to @echo with arguments ("echo", 42), byte for byte as
    // skynet's clustersender writes it (spec §4).
    let call = unhex("0012 80 05 406563686f 01000000 246563686f 0a2a");
    let mut legacy = plain_from("127.0.0.2", port).expect("connect from 127.0.0.2");
    legacy.write_all(&call).unwrap();
    let mut reply = [0u8; 9];
    legacy.read_exact(&mut reply).unwrap();
    // Session 1, success, the packed 42.
    assert_eq!(reply.to_vec(), unhex("0007 01000000 01 0a2a"));
    // A first packet whose length starts with 0x16, like a TLS record's
    // first byte, is still taken as skynet's.
    let filler = "f".repeat(0x1650 - 19);
    let data = skyhold_pack::pack(&[
        skyhold_pack::Value::String(b"echo".to_vec()),
        skyhold_pack::Value::String(filler.clone().into_bytes()),
    ])
    .unwrap();
    let mut big = Vec::new();
    skyhold_cluster::wire::encode_request(
        &mut big,
        skyhold_cluster::wire::Address::Name(b"@echo"),
        2,
        false,
        &data,
    )
    .unwrap();
    assert_eq!(&big[..2], &[0x16, 0x50]);
    let mut legacy2 = plain_from("127.0.0.2", port).expect("connect from 127.0.0.2");
    legacy2.write_all(&big).unwrap();
    let mut head = [0u8; 7];
    legacy2.read_exact(&mut head).unwrap();
    assert_eq!(&head[2..7], &[2, 0, 0, 0, 1], "session 2, success");

    // The same bytes from another address get no answer: the link is refused.
    let mut other = plain_from("127.0.0.1", port).expect("connect from 127.0.0.1");
    other.write_all(&call).unwrap();
    let mut buf = [0u8; 16];
    assert!(
        matches!(other.read(&mut buf), Ok(0) | Err(_)),
        "a plain connection from an unknown address was served"
    );
    assert!(
        b.eventually(&[
            "AUDIT refused cluster link",
            "127.0.0.1",
            "cluster_plaintext"
        ]),
        "{}",
        b.dump()
    );
}
