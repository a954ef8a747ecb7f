//! `skynet.mongo.driver`: the OP_MSG framing skynet's mongo client uses —
//! `op_msg` wraps a command document, `length` reads a reply's length
//! prefix, `reply` checks a reply and hands back its one document.

use mlua::{Lua, MultiValue, Value};

use crate::doc::Doc;
use crate::encode::fail;
use crate::values::check_integer;
use crate::wire;

/// The opcode of OP_MSG.
pub const OP_MSG: i32 = 2013;
const CHECKSUM_PRESENT: i32 = 1;
const MORE_TO_COME: i32 = 1 << 1;
/// request id, response to, opcode, flags: what follows the length.
const HEADER: usize = 16;

fn le32(b: &[u8], at: usize) -> i32 {
    i32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The bytes of an OP_MSG with one body section holding `doc`.
pub fn op_msg_bytes(id: i32, flags: i32, doc: &[u8]) -> Vec<u8> {
    let doc_len = wire::doc_len(doc).unwrap_or(0).max(0) as usize;
    let doc = &doc[..doc_len.min(doc.len())];
    let total = 4 + HEADER + 1 + doc.len();
    let mut v = Vec::with_capacity(total);
    v.extend_from_slice(&(total as i32).to_le_bytes());
    v.extend_from_slice(&id.to_le_bytes());
    v.extend_from_slice(&0i32.to_le_bytes());
    v.extend_from_slice(&OP_MSG.to_le_bytes());
    v.extend_from_slice(&flags.to_le_bytes());
    v.push(0);
    v.extend_from_slice(doc);
    v
}

/// What a reply (its bytes after the length prefix) holds: None if it is
/// too short to have a header, else the request it answers and its
/// document's bytes; an error for what skynet's driver does not take.
pub fn parse_reply(data: &[u8]) -> Result<Option<(i32, &[u8])>, String> {
    if data.len() < HEADER {
        return Ok(None);
    }
    let opcode = le32(data, 8);
    if opcode != OP_MSG {
        return Err(format!("Unsupported opcode:{opcode}"));
    }
    let id = le32(data, 4);
    let flags = le32(data, 12);
    if flags != 0 {
        if flags & CHECKSUM_PRESENT != 0 {
            return Err("Unsupported OP_MSG flag checksumPresent".into());
        }
        if flags ^ MORE_TO_COME != 0 {
            return Err(format!("Unsupported OP_MSG flag:{flags}"));
        }
    }
    let rest = &data[HEADER..];
    let Some((&payload, doc)) = rest.split_first() else {
        return Err("Unsupported OP_MSG reply: no section".into());
    };
    if payload != 0 {
        return Err(format!("Unsupported OP_MSG payload type: {payload}"));
    }
    match wire::doc_len(doc) {
        Some(n) if n >= 0 && n as usize == doc.len() => Ok(Some((id, doc))),
        _ => Err("Unsupported OP_MSG reply: >1 section".into()),
    }
}

/// `driver.reply(data)`: false, or true, the request id, the document.
pub(crate) fn reply(lua: &Lua, args: &[Value]) -> mlua::Result<MultiValue> {
    let Some(Value::String(s)) = args.first() else {
        return fail("bad argument #1 to 'reply' (string expected)");
    };
    let b = s.as_bytes();
    match parse_reply(&b) {
        Ok(None) => Ok(MultiValue::from_vec(vec![Value::Boolean(false)])),
        Ok(Some((id, doc))) => {
            crate::charge(lua, doc.len() / 64)?;
            let ud = lua.create_userdata(Doc::new(doc.to_vec()))?;
            Ok(MultiValue::from_vec(vec![
                Value::Boolean(true),
                Value::Integer(i64::from(id)),
                Value::UserData(ud),
            ]))
        }
        Err(e) => fail(e),
    }
}

/// `driver.length(header)`: the little-endian length minus its own four
/// bytes.
pub(crate) fn length(lua: &Lua, args: &[Value]) -> mlua::Result<MultiValue> {
    let b = match args.first() {
        Some(v @ (Value::String(_) | Value::Integer(_) | Value::Number(_))) => {
            crate::values::string_like(lua, v)?.unwrap_or_default()
        }
        _ => return fail("bad argument #1 to 'length' (string expected)"),
    };
    if b.len() < 4 {
        return fail("Invalid length");
    }
    Ok(MultiValue::from_vec(vec![Value::Integer(
        i64::from(le32(&b, 0)) - 4,
    )]))
}

/// `driver.op_msg(id, flags, doc)`.
pub(crate) fn op_msg(lua: &Lua, args: &[Value]) -> mlua::Result<MultiValue> {
    let id = check_integer(lua, args.first().unwrap_or(&Value::Nil), 1, "op_msg")? as i32;
    let flags = check_integer(lua, args.get(1).unwrap_or(&Value::Nil), 2, "op_msg")? as i32;
    let Some(Value::UserData(ud)) = args.get(2) else {
        return fail("opmsg require cmd document");
    };
    let Ok(doc) = ud.borrow::<Doc>() else {
        return fail("opmsg require cmd document");
    };
    let bytes = op_msg_bytes(id, flags, doc.bytes());
    Ok(MultiValue::from_vec(vec![Value::String(
        lua.create_string(&bytes)?,
    )]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_checked() {
        assert_eq!(parse_reply(&[0; 15]), Ok(None));
        let mut r = vec![0u8; 16];
        r[8..12].copy_from_slice(&1i32.to_le_bytes());
        assert_eq!(parse_reply(&r).unwrap_err(), "Unsupported opcode:1");
        r[8..12].copy_from_slice(&OP_MSG.to_le_bytes());
        r[12..16].copy_from_slice(&1i32.to_le_bytes());
        assert_eq!(
            parse_reply(&r).unwrap_err(),
            "Unsupported OP_MSG flag checksumPresent"
        );
        r[12..16].copy_from_slice(&2i32.to_le_bytes());
        r.push(0);
        r.extend_from_slice(&[5, 0, 0, 0, 0]);
        r[4..8].copy_from_slice(&7i32.to_le_bytes());
        assert_eq!(parse_reply(&r), Ok(Some((7, &[5u8, 0, 0, 0, 0][..]))));
        r.push(1);
        assert!(parse_reply(&r).is_err());
    }
}
