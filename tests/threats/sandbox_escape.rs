//! Threat: a compromised service escapes the Lua sandbox — through io, os,
//! debug or package, through bytecode (made with string.dump or smuggled in
//! as a string, reached through the string metatable), or by stopping the
//! garbage collector. None of these is reachable.

use skyhold_testkit::*;

#[test]
fn no_escape_hatch_is_reachable() {
    lua_check("sandbox_escape", &[]);
}
