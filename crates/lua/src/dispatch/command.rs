//! The first value a task yields: what it is waiting for.
//!
//! The numbers are defined here only: [`table`] hands them to Lua as
//! `skynet.core.YIELD`, which `lualib/skynet.lua` and
//! `lualib/skynet/socket.lua` read as they load.

use mlua::{Lua, Table};

// 1 was `EXIT`: a task now ends by returning, and its coroutine is
// parked finished, to be reset with the next task's function.
/// `CALL, session, address`: waiting for a reply, delivered raw.
pub const CALL: i64 = 2;
// 3 was `CALL_DECODED`, which `CALL_PACKED` replaced.
/// `SLEEP, session`: waiting for a timer or a wakeup.
pub const SLEEP: i64 = 4;
/// `WAIT, session`: waiting for a wakeup.
pub const WAIT: i64 = 5;
/// `ROOM, address`: waiting for room in that address's mailbox, right
/// after a send the runtime refused and holds (see
/// [`super::Dispatcher::hold`]); the task is resumed with that send's
/// results once the message is out.
pub const ROOM: i64 = 6;
/// The service is exiting: run nothing more.
pub const QUIT: i64 = 7;
/// `SOCKET, id`: waiting for data on socket `id` (`skynet.socket`). The
/// next data event for that socket resumes the task with the event's
/// values; [`super::Dispatcher::wake_reader`] resumes it with
/// `false, "BREAK"`.
pub const SOCKET: i64 = 8;
/// `CALL_PACKED, address, protocol id, values...`: pack the values with
/// skynet.pack, call, and wait for the reply, delivered unpacked. The
/// dispatcher sends it, so the call costs the task one yield and no
/// callback; a full mailbox share parks the task until there is room.
/// The task is resumed with `true, values...`, or `nil, reason` when
/// the call cannot be made (a bad address, a value that cannot be
/// packed).
pub const CALL_PACKED: i64 = 9;

/// Every command by the name Lua reads it under.
pub const ALL: [(&str, i64); 7] = [
    ("CALL", CALL),
    ("SLEEP", SLEEP),
    ("WAIT", WAIT),
    ("ROOM", ROOM),
    ("QUIT", QUIT),
    ("SOCKET", SOCKET),
    ("CALL_PACKED", CALL_PACKED),
];

/// The commands as a Lua table, name → number (`skynet.core.YIELD`).
pub fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, ALL.len())?;
    for (name, n) in ALL {
        t.raw_set(name, n)?;
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_its_own_number() {
        let mut numbers: Vec<i64> = ALL.iter().map(|(_, n)| *n).collect();
        numbers.sort_unstable();
        numbers.dedup();
        assert_eq!(numbers.len(), ALL.len());
    }

    #[test]
    fn lua_reads_them_by_name() {
        let lua = Lua::new();
        let t = table(&lua).unwrap();
        assert_eq!(t.raw_get::<i64>("SOCKET").unwrap(), SOCKET);
        assert_eq!(t.raw_get::<i64>("CALL_PACKED").unwrap(), CALL_PACKED);
    }
}
