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
