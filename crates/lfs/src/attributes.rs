//! `lfs.attributes` and `lfs.symlinkattributes`: a file's `stat`, as a
//! table or one field.

use std::os::unix::ffi::OsStrExt;

use mlua::{Lua, MultiValue, Table, Value, Variadic};
use skyhold_lua::files::cap_std::fs::{Metadata, MetadataExt};
use skyhold_lua::files::{self, Access, Fail, FileError, Out};

use crate::{path, Lfs};

/// The fields, in the C library's order.
const MEMBERS: &[&str] = &[
    "mode",
    "dev",
    "ino",
    "nlink",
    "uid",
    "gid",
    "rdev",
    "access",
    "modification",
    "change",
    "size",
    "permissions",
    "blocks",
    "blksize",
];

/// The name of a file type, from the type bits of `mode`.
fn mode_name(mode: u32) -> &'static str {
    match mode & 0o170000 {
        0o100000 => "file",
        0o040000 => "directory",
        0o120000 => "link",
        0o140000 => "socket",
        0o010000 => "named pipe",
        0o020000 => "char device",
        0o060000 => "block device",
        _ => "other",
    }
}

/// `rwxr-xr-x`.
fn permissions(mode: u32) -> String {
    let mut s = String::with_capacity(9);
    for shift in [6, 3, 0] {
        let bits = (mode >> shift) & 7;
        s.push(if bits & 4 != 0 { 'r' } else { '-' });
        s.push(if bits & 2 != 0 { 'w' } else { '-' });
        s.push(if bits & 1 != 0 { 'x' } else { '-' });
    }
    s
}

fn member(lua: &Lua, m: &Metadata, name: &str) -> mlua::Result<Value> {
    let int = |v: i64| Ok(Value::Integer(v));
    match name {
        "mode" => Ok(Value::String(lua.create_string(mode_name(m.mode()))?)),
        "dev" => int(m.dev() as i64),
        "ino" => int(m.ino() as i64),
        "nlink" => int(m.nlink() as i64),
        "uid" => int(i64::from(m.uid())),
        "gid" => int(i64::from(m.gid())),
        "rdev" => int(m.rdev() as i64),
        "access" => int(m.atime()),
        "modification" => int(m.mtime()),
        "change" => int(m.ctime()),
        "size" => int(m.size() as i64),
        "permissions" => Ok(Value::String(lua.create_string(permissions(m.mode()))?)),
        "blocks" => int(m.blocks() as i64),
        _ => int(m.blksize() as i64),
    }
}

/// `lfs.attributes(path [, name | table])`.
pub(crate) fn attributes(lua: &Lua, lfs: &Lfs, args: Variadic<Value>) -> Out {
    info(lua, lfs, &args, false)
}

/// `lfs.symlinkattributes(path [, name])`: the link itself, and its
/// `target`.
pub(crate) fn symlinkattributes(lua: &Lua, lfs: &Lfs, args: Variadic<Value>) -> Out {
    info(lua, lfs, &args, true)
}

/// The text of the symlink at `p`.
fn target(lfs: &Lfs, p: &[u8]) -> Result<Vec<u8>, FileError> {
    let r = lfs.files.resolve(p, Access::Read)?;
    r.dir()
        .read_link_contents(r.rel())
        .map(|t| t.as_os_str().as_bytes().to_vec())
        .map_err(|e| FileError::from_io(e, Access::Read))
}

fn info(lua: &Lua, lfs: &Lfs, args: &[Value], link: bool) -> Out {
    let p = path(args, 1)?;
    let request = match args.get(1) {
        Some(v @ (Value::String(_) | Value::Integer(_) | Value::Number(_))) => {
            files::path_arg(v).map(|b| String::from_utf8_lossy(&b).into_owned())
        }
        _ => None,
    };
    if link && request.as_deref() == Some("target") {
        return match target(lfs, &p) {
            Ok(t) => Ok(MultiValue::from_vec(vec![Value::String(
                lua.create_string(t)?,
            )])),
            Err(e) => {
                let (msg, errno) = lfs.files.failure(&p, &e);
                let why = match e {
                    FileError::Refused { .. } => msg,
                    FileError::Io(_) => e.describe().0,
                };
                Ok(files::fail_result(
                    lua,
                    &format!("could not obtain link target: {why}"),
                    errno,
                )?)
            }
        };
    }
    let meta = lfs.files.resolve(&p, Access::Read).and_then(|r| {
        if link {
            r.dir().symlink_metadata(r.rel())
        } else {
            r.dir().metadata(r.rel())
        }
        .map_err(|e| FileError::from_io(e, Access::Read))
    });
    let meta = match meta {
        Ok(m) => m,
        Err(e) => {
            let (_, errno) = lfs.files.failure(&p, &e);
            let msg = format!(
                "cannot obtain information from file '{}': {}",
                files::show_path(&p),
                e.describe().0
            );
            return Ok(files::fail_result(lua, &msg, errno)?);
        }
    };
    if let Some(name) = request {
        if !MEMBERS.contains(&name.as_str()) {
            return Err(Fail::Raise(format!("invalid attribute name '{name}'")));
        }
        return Ok(MultiValue::from_vec(vec![member(lua, &meta, &name)?]));
    }
    let t: Table = match args.get(1) {
        Some(Value::Table(t)) => t.clone(),
        _ => lua.create_table()?,
    };
    for name in MEMBERS {
        t.raw_set(*name, member(lua, &meta, name)?)?;
    }
    if link {
        if let Ok(tg) = target(lfs, &p) {
            t.raw_set("target", lua.create_string(tg)?)?;
        }
    }
    Ok(MultiValue::from_vec(vec![Value::Table(t)]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_and_permissions_read_as_in_lfs() {
        assert_eq!(mode_name(0o100644), "file");
        assert_eq!(mode_name(0o040755), "directory");
        assert_eq!(mode_name(0o120777), "link");
        assert_eq!(mode_name(0o010600), "named pipe");
        assert_eq!(permissions(0o100644), "rw-r--r--");
        assert_eq!(permissions(0o040751), "rwxr-x--x");
    }
}
