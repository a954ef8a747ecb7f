//! What `skynet.core` and the dispatcher share about a send: addresses as
//! Lua gives them, a send's outcome as Lua sees it, and a message held
//! until its target has room.

use mlua::Value;
use skyhold_core::{Context, Handle, SendError};

/// Resolves an address as skynet accepts it: a handle number, `:hex`, or a name.
pub fn resolve(ctx: &Context, v: &Value) -> Option<Handle> {
    match v {
        Value::Integer(i) => u32::try_from(*i).ok().map(Handle),
        Value::Number(f) if f.fract() == 0.0 && *f >= 0.0 && *f <= f64::from(u32::MAX) => {
            Some(Handle(*f as u32))
        }
        Value::String(s) => {
            let s = s.to_str().ok()?;
            if s.starts_with(':') {
                Handle::parse(&s)
            } else {
                ctx.query_name(&s)
            }
        }
        _ => None,
    }
}

/// What a send gives Lua, in three values (a tuple: no list to allocate):
/// the session (0 for one-way), `nil` for a bad address, `false` for a
/// message too large, `nil, "FULL"` when the share is full, and
/// `nil, "ERROR", text` otherwise.
pub type SendResult = (Value, Option<&'static str>, Option<String>);

/// Maps a send's outcome for Lua (see [`SendResult`]).
pub fn send_result(r: Result<i32, SendError>) -> SendResult {
    match r {
        Ok(session) => (Value::Integer(i64::from(session)), None, None),
        Err(SendError::UnknownAddress(_)) | Err(SendError::UnexpectedReply(_)) => {
            (Value::Nil, None, None)
        }
        Err(SendError::TooLarge { .. }) => (Value::Boolean(false), None, None),
        Err(SendError::Full { .. }) => (Value::Nil, Some("FULL"), None),
        Err(e) => (Value::Nil, Some("ERROR"), Some(e.to_string())),
    }
}

/// skynet's error for a call to an address that names no service.
pub fn invalid_address(addr: &Value) -> String {
    let shown = match addr {
        Value::Integer(i) => format!(":{i:08x}"),
        other => other
            .to_string()
            .unwrap_or_else(|_| other.type_name().into()),
    };
    format!("call to invalid address {shown}")
}

/// A message a task could not send for want of room, which the dispatcher
/// sends for it, in turn, once there is room.
pub enum Outgoing {
    /// `c.send`: with `session` (0 for one-way), or a call (`None`: a new
    /// session, which the task is resumed with).
    Send {
        /// The protocol.
        ty: u8,
        /// The session it carries; `None` for a call.
        session: Option<i32>,
        /// The message.
        body: Vec<u8>,
    },
    /// `c.redirect`.
    Redirect {
        /// The source it is sent on behalf of.
        source: Handle,
        /// The protocol.
        ty: u8,
        /// The session it carries.
        session: i32,
        /// The message.
        body: Vec<u8>,
    },
    /// A `CALL_PACKED` request: once sent, the task waits for the reply.
    Call {
        /// The protocol.
        ty: u8,
        /// The packed arguments.
        body: Vec<u8>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_read_as_skynet_gives_them() {
        assert!(matches!(
            send_result(Ok(7)),
            (Value::Integer(7), None, None)
        ));
        let gone = send_result(Err(SendError::UnknownAddress(Handle(3))));
        assert!(matches!(gone, (Value::Nil, None, None)));
    }

    #[test]
    fn an_invalid_address_is_shown_in_hex() {
        assert_eq!(
            invalid_address(&Value::Integer(255)),
            "call to invalid address :000000ff"
        );
    }
}
