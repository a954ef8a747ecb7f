//! bson and skynet.mongo.driver in a sandboxed service (issue 20): the
//! modules register, encode and decode there, and a long decode is charged
//! to the service's budget. Byte-level known answers are in crates/bson.

#[test]
fn bson_in_a_service() {
    super::check("bson_service");
}
