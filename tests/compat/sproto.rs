//! sproto in a node: the core and the loader's slots in a sandboxed
//! service, and skynet's agent/client example over the gate.

/// encode/decode, errors as strings, hostile schemas, write-once slots.
#[test]
fn sproto_basic() {
    super::check("sproto_basic");
}

/// handshake, set, get, heartbeat and quit, as in skynet's examples, with
/// the bytes skynet's client and agent send.
#[test]
fn sproto_rpc() {
    super::check("sproto_rpc");
}
