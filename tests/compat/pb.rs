//! lua-protobuf (`pb`) in a node: two sandboxed services loading one
//! descriptor set and exchanging protobuf messages, errors as strings,
//! hostile bytes refused.

/// encode/decode between services, errors, bounded nesting.
#[test]
fn pb_service() {
    super::check("pb_service");
}

/// `require "protoc"`: .proto text compiled at run time in two services.
#[test]
fn protoc_service() {
    super::check("protoc_service");
}

/// pb's and protobuf.c's limits come from the config; each refusal is
/// counted in the audit (`pb_limit`, `pbc_limit`).
#[test]
fn pb_limits() {
    let dir = skyhold_testkit::repo().join("tests/compat/lua");
    let keys: Vec<(String, String)> = [
        ("pb_max_depth", "5"),
        ("pb_max_bytes", "1000"),
        ("pbc_max_depth", "3"),
        ("pbc_max_bytes", "2000"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let b = skyhold_testkit::BootedNode::boot(&dir, "pb_limits", &keys);
    b.expect_pass("pb_limits");
    let counts = b.node.handle().audit().counts();
    // encode depth, decode depth, a descriptor too deep, two encodes past
    // the size, one pack
    assert_eq!(counts.get("pb_limit"), Some(&6), "{counts:?}\n{}", b.dump());
    // one message too deep, one too big, one descriptor too deep
    assert_eq!(
        counts.get("pbc_limit"),
        Some(&3),
        "{counts:?}\n{}",
        b.dump()
    );
    for parts in [
        ["AUDIT refused pb_limit", "(config pb_max_depth)"],
        ["AUDIT refused pb_limit", "(config pb_max_bytes)"],
        ["AUDIT refused pbc_limit", "(config pbc_max_depth)"],
        ["AUDIT refused pbc_limit", "(config pbc_max_bytes)"],
    ] {
        assert!(
            b.eventually(&parts),
            "no line with {parts:?}:\n{}",
            b.dump()
        );
    }
}

/// A `pb_max_depth` past 1 000 acts as 1 000: that deep works on a
/// worker's stack, one more level is refused.
#[test]
fn pb_depth_ceiling() {
    super::check_with("pb_limits", &[("pb_max_depth", "5000")]);
}
