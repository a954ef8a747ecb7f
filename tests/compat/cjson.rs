//! cjson (lua-cjson in Rust) used by services: JSON requests between two
//! services, exact text, errors with their positions, cjson.safe.

#[test]
fn cjson_service() {
    super::check("cjson_service");
}
