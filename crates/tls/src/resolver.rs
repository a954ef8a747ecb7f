//! `skyhold.resolver`: the two files `skynet.dns` reads, and no other.
//! A sandboxed service has no `io.open`; skynet's resolver opens
//! `/etc/resolv.conf` and `/etc/hosts`, so this module reads exactly those
//! (read-only, at most [`MAX_FILE`] bytes each) and returns their text.
//!
//! - `resolv_conf()` -> text, or nil, why
//! - `hosts()` -> text, or nil, why

use mlua::{Lua, Table, Value};
use std::io::Read;

/// The resolver configuration.
pub const RESOLV_CONF: &str = "/etc/resolv.conf";
/// The static host table.
pub const HOSTS: &str = "/etc/hosts";
/// Bytes read of either file at most.
pub const MAX_FILE: u64 = 64 * 1024;

/// Reads `path` whole, refusing a file larger than [`MAX_FILE`].
pub fn read_small(path: &str) -> Result<Vec<u8>, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{path}: {e}"))?;
    let mut text = Vec::new();
    f.take(MAX_FILE + 1)
        .read_to_end(&mut text)
        .map_err(|e| format!("{path}: {e}"))?;
    if text.len() as u64 > MAX_FILE {
        return Err(format!("{path}: larger than {MAX_FILE} bytes"));
    }
    Ok(text)
}

fn reader(lua: &Lua, path: &'static str) -> mlua::Result<mlua::Function> {
    lua.create_function(move |lua, ()| match read_small(path) {
        Ok(text) => Ok((Value::String(lua.create_string(&text)?), Value::Nil)),
        Err(why) => Ok((Value::Nil, Value::String(lua.create_string(&why)?))),
    })
}

/// The module table.
pub fn table(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("resolv_conf", reader(lua, RESOLV_CONF)?)?;
    t.set("hosts", reader(lua, HOSTS)?)?;
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_small_files_and_refuses_big_ones() {
        let dir = std::env::temp_dir().join(format!("skyhold-resolver-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let small = dir.join("small");
        std::fs::write(&small, "nameserver 127.0.0.1\n").unwrap();
        assert_eq!(
            read_small(small.to_str().unwrap()).unwrap(),
            b"nameserver 127.0.0.1\n"
        );
        let big = dir.join("big");
        std::fs::write(&big, vec![b'#'; MAX_FILE as usize + 1]).unwrap();
        let e = read_small(big.to_str().unwrap()).unwrap_err();
        assert!(e.contains("larger than"), "{e}");
        assert!(read_small(dir.join("missing").to_str().unwrap()).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_module_reads_only_its_two_files() {
        let lua = Lua::new();
        let t = table(&lua).unwrap();
        let keys: Vec<String> = t.pairs::<String, Value>().map(|p| p.unwrap().0).collect();
        assert_eq!(keys.len(), 2);
        // The functions take no path: nothing else can be asked for.
        let f: mlua::Function = t.get("hosts").unwrap();
        let (text, _why): (Option<mlua::LuaString>, Option<String>) =
            f.call("/etc/shadow").unwrap();
        if let Some(text) = text {
            assert_eq!(text.as_bytes().to_vec(), read_small(HOSTS).unwrap());
        }
    }
}
