//! Runs a Lua script with the `pb` modules preloaded, for comparing
//! against lua-protobuf by hand: `pbrun SCRIPT [LUA_PATH]`.

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(script) = args.next() else {
        eprintln!("usage: pbrun SCRIPT [LUA_PATH]");
        std::process::exit(2);
    };
    let lua = mlua::Lua::new();
    skyhold_pb::preload(&lua).expect("preload");
    if let Some(path) = args.next() {
        let package: mlua::Table = lua.globals().get("package").expect("package");
        package.set("path", path).expect("path");
    }
    let code = std::fs::read(&script).expect("read script");
    if let Err(e) = lua.load(&code).set_name(format!("@{script}")).exec() {
        eprintln!("{e}");
        std::process::exit(1);
    }
}
