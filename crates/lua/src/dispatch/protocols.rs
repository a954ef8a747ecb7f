//! The protocols a service registered, the hooks for messages no protocol
//! takes, and the filter every message goes through first.

use mlua::{Function, IntoLuaMulti, Lua, Table, Value};
use skyhold_core::ptype;
use std::sync::atomic::Ordering;

use super::Dispatcher;
use crate::native_unpack::Decode;

/// A protocol as registered, with what dispatching needs read out of its
/// class table.
struct Proto {
    dispatch: Option<Function>,
    unpack: Unpack,
}

/// How a protocol's messages become its handler's arguments.
#[derive(Clone)]
pub(super) enum Unpack {
    /// A function known to [`crate::native_unpack`] (skynet.unpack,
    /// skynet.tostring, socketdriver.unpack): decoded in Rust from the
    /// message's bytes, no Lua string made. A filtered message that is no
    /// longer a string gives no values.
    Native(Decode),
    /// Any other function: called with the message and its size.
    Lua(Function),
    /// None: the handler gets the message and its size.
    Raw,
}

/// The protocols, hooks and filter of one service.
#[derive(Default)]
pub(super) struct Protocols {
    /// By id; a service registers a handful, so a short list beats a table
    /// of 256 (memory per service counts).
    protos: Vec<(u8, Proto)>,
    hooks: Option<Table>,
    filter: Option<Function>,
}

impl Protocols {
    /// The handler of protocol `ty` and how its messages are unpacked;
    /// `None` when it has no handler.
    pub(super) fn handler(&self, ty: u8) -> Option<(Function, Unpack)> {
        match self.protos.iter().find(|(i, _)| *i == ty).map(|(_, p)| p) {
            Some(Proto {
                dispatch: Some(f),
                unpack,
            }) => Some((f.clone(), unpack.clone())),
            _ => None,
        }
    }

    /// The native decoder of the socket protocol, when it has a handler
    /// and one: only then may a data event go straight to a reader.
    pub(super) fn socket_decode(&self) -> Option<Decode> {
        match self.protos.iter().find(|(i, _)| *i == ptype::SOCKET) {
            Some((
                _,
                Proto {
                    dispatch: Some(_),
                    unpack: Unpack::Native(d),
                },
            )) => Some(*d),
            _ => None,
        }
    }

    /// The filter, if one is installed.
    pub(super) fn filter(&self) -> Option<Function> {
        self.filter.clone()
    }
}

impl Dispatcher {
    /// Registers protocol `id` from its class table (`skynet.register_protocol`,
    /// and again whenever `skynet.dispatch` changes its handler). The
    /// handler and `unpack` are read now, not per message.
    pub fn set_proto(&self, lua: &Lua, id: u8, class: &Table) -> mlua::Result<()> {
        let [dispatch_key, unpack_key] = &self.proto_keys;
        let dispatch: Option<Function> = class.raw_get(dispatch_key)?;
        let unpack: Value = class.raw_get(unpack_key)?;
        let mut st = self.state.lock();
        let unpack = match unpack {
            Value::Nil => Unpack::Raw,
            Value::Function(f) => match crate::native_unpack::lookup(lua, &f) {
                Some(decode) => Unpack::Native(decode),
                None => Unpack::Lua(f),
            },
            other => {
                return Err(mlua::Error::runtime(format!(
                    "protocol {id}: unpack must be a function, not a {}",
                    other.type_name()
                )))
            }
        };
        let proto = Proto { dispatch, unpack };
        let protos = &mut st.protocols.protos;
        match protos.iter_mut().find(|(i, _)| *i == id) {
            Some(slot) => slot.1 = proto,
            None => protos.push((id, proto)),
        }
        Ok(())
    }

    /// Lua functions for the cases skynet lets a service override:
    /// `unknown_request`, `unknown_response` and `trace`.
    pub fn set_hooks(&self, hooks: Table) {
        self.state.lock().protocols.hooks = Some(hooks);
    }

    /// A function every message goes through first (`skynet.filter`,
    /// `skynet.forward_type`); it returns the message to dispatch.
    pub fn set_filter(&self, f: Option<Function>) {
        let mut st = self.state.lock();
        self.filtered.store(f.is_some(), Ordering::Relaxed);
        st.protocols.filter = f;
    }

    /// Calls hook `name` with `args`; an error if the service set none.
    pub(super) fn hook(&self, name: &str, args: impl IntoLuaMulti) -> mlua::Result<()> {
        let hooks = self.state.lock().protocols.hooks.clone();
        match hooks.map(|h| h.raw_get::<Option<Function>>(name)) {
            Some(Ok(Some(f))) => f.call::<()>(args),
            Some(Err(e)) => Err(e),
            _ => Err(mlua::Error::runtime(format!(
                "no handler for this message ({name})"
            ))),
        }
    }
}
