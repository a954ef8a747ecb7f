//! A `pb` state (`pb.State`): the loaded types, the options, and the Lua
//! tables of hooks and default tables that go with them. Each service has
//! its own current state (`pb.state()`), created on first use.

use crate::schema::Schema;
use mlua::{AnyUserData, Lua, Table, UserData, UserDataMethods, Value};
use parking_lot::Mutex;
use std::sync::Arc;

/// How 64-bit integers that do not fit 32 bits are handed to Lua.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Int64Mode {
    /// As integers.
    #[default]
    Number,
    /// As `"#123"` strings.
    String,
    /// As `"#0x7B"` strings.
    HexString,
}

/// Which defaults a decoded message table gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum DefMode {
    /// Copied for proto3 types, none for proto2 (the default).
    #[default]
    Auto,
    /// Copied into the table.
    Copy,
    /// Through a metatable.
    Meta,
    /// None.
    None,
}

/// The switches `pb.option` sets.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// `enum_as_value`.
    pub enum_as_value: bool,
    /// `int64_as_*`.
    pub int64: Int64Mode,
    /// `*_default_values` / `use_default_metatable`.
    pub defaults: DefMode,
    /// `encode_default_values`.
    pub encode_default_values: bool,
    /// `decode_default_array`.
    pub decode_default_array: bool,
    /// `decode_default_message`.
    pub decode_default_message: bool,
    /// `encode_order`.
    pub encode_order: bool,
    /// `enable_hooks`.
    pub dec_hooks: bool,
    /// `enable_enchooks`.
    pub enc_hooks: bool,
}

/// The option names `pb.option` accepts, in lua-protobuf's order.
pub const OPTION_NAMES: [&str; 21] = [
    "enum_as_name",
    "enum_as_value",
    "int64_as_number",
    "int64_as_string",
    "int64_as_hexstring",
    "encode_order",
    "no_encode_order",
    "encode_default_values",
    "no_encode_default_values",
    "auto_default_values",
    "no_default_values",
    "use_default_values",
    "use_default_metatable",
    "decode_default_array",
    "no_decode_default_array",
    "decode_default_message",
    "no_decode_default_message",
    "enable_hooks",
    "disable_hooks",
    "enable_enchooks",
    "disable_enchooks",
];

impl Options {
    /// Applies option number `i` of [`OPTION_NAMES`].
    pub fn apply(&mut self, i: usize) {
        match i {
            0 => self.enum_as_value = false,
            1 => self.enum_as_value = true,
            2 => self.int64 = Int64Mode::Number,
            3 => self.int64 = Int64Mode::String,
            4 => self.int64 = Int64Mode::HexString,
            5 => self.encode_order = true,
            6 => self.encode_order = false,
            7 => self.encode_default_values = true,
            8 => self.encode_default_values = false,
            9 => self.defaults = DefMode::Auto,
            10 => self.defaults = DefMode::None,
            11 => self.defaults = DefMode::Copy,
            12 => self.defaults = DefMode::Meta,
            13 => self.decode_default_array = true,
            14 => self.decode_default_array = false,
            15 => self.decode_default_message = true,
            16 => self.decode_default_message = false,
            17 => self.dec_hooks = true,
            18 => self.dec_hooks = false,
            19 => self.enc_hooks = true,
            _ => self.enc_hooks = false,
        }
    }
}

/// The mutable part of a state.
#[derive(Default)]
pub struct Inner {
    /// Loaded types (shared with calls in progress).
    pub schema: Arc<Schema>,
    /// Options.
    pub opts: Options,
    /// Whether the `"*array"` default metatable is off.
    pub array_dead: bool,
    /// Whether the `"*map"` default metatable is off.
    pub map_dead: bool,
}

/// The `pb.State` userdata.
pub struct PbState {
    /// Everything but the Lua tables (kept as the userdata's user values).
    pub inner: Mutex<Inner>,
}

impl UserData for PbState {
    fn add_methods<M: UserDataMethods<Self>>(m: &mut M) {
        m.add_function("setdefault", |lua, args: mlua::MultiValue| {
            crate::api::state_fn(lua, args)
        });
    }
}

const CURRENT: &str = "skyhold.pb.state";

/// Which default/hook slot: a type, or the array/map pseudo types.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// A message or enum type by index.
    Type(usize),
    /// `"*array"`.
    Array,
    /// `"*map"`.
    Map,
}

impl Slot {
    /// The key the slot has in a hook/default table.
    pub fn key(self) -> Value {
        match self {
            Slot::Type(i) => Value::Integer(i as i64 + 1),
            Slot::Array => Value::Boolean(false),
            Slot::Map => Value::Boolean(true),
        }
    }
}

/// A fresh state userdata.
pub fn new_state(lua: &Lua) -> mlua::Result<AnyUserData> {
    let inner = Inner {
        array_dead: true,
        map_dead: true,
        ..Inner::default()
    };
    lua.create_userdata(PbState {
        inner: Mutex::new(inner),
    })
}

/// The service's current state, created on first use.
pub fn current(lua: &Lua) -> mlua::Result<AnyUserData> {
    if let Value::UserData(u) = lua.named_registry_value::<Value>(CURRENT)? {
        if u.is::<PbState>() {
            return Ok(u);
        }
    }
    let u = new_state(lua)?;
    lua.set_named_registry_value(CURRENT, &u)?;
    Ok(u)
}

/// Replaces the current state (`None` drops it).
pub fn set_current(lua: &Lua, u: Option<AnyUserData>) -> mlua::Result<()> {
    match u {
        Some(u) => lua.set_named_registry_value(CURRENT, u),
        None => lua.set_named_registry_value(CURRENT, Value::Nil),
    }
}

/// One of the state's Lua tables (`defs`, `enc_hooks`, `dec_hooks`),
/// created on first use.
pub fn table(lua: &Lua, u: &AnyUserData, name: &str) -> mlua::Result<Table> {
    if let Value::Table(t) = u.named_user_value::<Value>(name)? {
        return Ok(t);
    }
    let t = lua.create_table()?;
    u.set_named_user_value(name, &t)?;
    Ok(t)
}

/// Drops one of the state's Lua tables.
pub fn drop_table(u: &AnyUserData, name: &str) -> mlua::Result<()> {
    u.set_named_user_value(name, Value::Nil)
}

/// A snapshot of a state for one call.
pub struct Snap {
    /// The userdata (for its tables).
    pub ud: AnyUserData,
    /// The types.
    pub schema: Arc<Schema>,
    /// The options.
    pub opts: Options,
    /// `"*array"` off.
    pub array_dead: bool,
    /// `"*map"` off.
    pub map_dead: bool,
}

/// Takes a snapshot of the current state.
pub fn snap(lua: &Lua) -> mlua::Result<Snap> {
    let ud = current(lua)?;
    let (schema, opts, array_dead, map_dead) = {
        let st = ud.borrow::<PbState>()?;
        let g = st.inner.lock();
        (g.schema.clone(), g.opts, g.array_dead, g.map_dead)
    };
    Ok(Snap {
        ud,
        schema,
        opts,
        array_dead,
        map_dead,
    })
}

/// Runs `f` on the current state's mutable part.
pub fn with_inner<R>(lua: &Lua, f: impl FnOnce(&mut Inner) -> R) -> mlua::Result<R> {
    let ud = current(lua)?;
    let st = ud.borrow::<PbState>()?;
    let mut g = st.inner.lock();
    Ok(f(&mut g))
}
