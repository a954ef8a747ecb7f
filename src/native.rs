//! The native modules skyhold builds in, in place of the C modules a skynet
//! project would load from `lua_cpath`: each is Rust, registered under the
//! name projects `require`, and built in a service's state the first time
//! that service requires it. docs/native-modules.md lists them.

use skyhold_lua::host::ModuleFactory;

/// Every built-in native module, by the name `require` finds it under.
// One push per name, so modules added in parallel merge line by line.
#[allow(clippy::vec_init_then_push)]
pub fn modules() -> Vec<(String, ModuleFactory)> {
    let mut v: Vec<(String, ModuleFactory)> = Vec::new();
    v.extend(skyhold_crypt::modules());
    v.push(("skynet.netpack.core".into(), skyhold_net::netpack::module()));
    v.push((
        "skynet.memory".into(),
        skyhold_lua::memory_module::factory(),
    ));
    v.push((
        "skyhold.console".into(),
        skyhold_lua::console_module::factory(),
    ));
    v.push(("lpeg".into(), skyhold_lpeg::factory()));
    v.push(("cjson".into(), skyhold_cjson::module(false)));
    v.push(("cjson.safe".into(), skyhold_cjson::module(true)));
    // sproto: the node's saved schemas are shared by every service of it.
    let sproto_slots = skyhold_sproto::Slots::new();
    v.push((
        "sproto.core".into(),
        skyhold_sproto::core_module(sproto_slots),
    ));
    v.push(("sproto.parser".into(), skyhold_sproto::parser_module()));
    v.push(("lfs".into(), skyhold_lfs::module()));
    v.extend(skyhold_tls::modules());
    v.extend(skyhold_bson::modules());
    v.push((
        "skynet.db.redis.crc16".into(),
        skyhold_crypt::crc16_module(),
    ));
    v.extend(skyhold_pb::modules());
    v.push((
        skyhold_lua::stm::NAME.into(),
        skyhold_lua::stm::factory(skyhold_lua::stm::Stm::new()),
    ));
    v.push(("protobuf.c".into(), skyhold_pb::pbc::module()));
    v
}
