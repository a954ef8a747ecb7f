//! pbc's `protobuf.c` in a node: two sandboxed services register one
//! descriptor set and exchange messages through the functions pbc's
//! `protobuf.lua` calls, the registry stand-in protobuf.lua looks up,
//! defaults, patterns, errors as strings, hostile bytes refused.

/// encode/decode between services, defaults, patterns, errors, bounds.
#[test]
fn pbc_service() {
    super::check("pbc_service");
}
