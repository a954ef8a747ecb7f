//! cjson (lua-cjson in Rust) used by services: JSON requests between two
//! services, exact text, errors with their positions, cjson.safe.

#[test]
fn cjson_service() {
    super::check("cjson_service");
}

/// Finalizers calling a `cjson.new()` instance's functions, and __gc on the
/// metatables cjson and pb set from Rust, run while what they call is alive.
#[test]
fn native_finalizers() {
    let log = super::run_case("native_finalizers");
    let text = log.join("\n");
    assert!(text.contains("native_finalizers PASS"), "{text}");
    // Every collection finalized its object while the instance still
    // answered (20 of 20 in each of four victims).
    let full = log
        .iter()
        .filter(|l| l.contains("instance finalizers ran 20"))
        .count();
    assert_eq!(full, 4, "{text}");
    // Each victim's tables with the changed metatables were finalized at
    // exit, through skynet.error.
    for what in ["cjson array finalized", "pb message finalized"] {
        let n = log.iter().filter(|l| l.contains(what)).count();
        assert!(n >= 4, "{what}: {n}\n{text}");
    }
}
