//! `skynet.stm`: one service publishes a message, others read its newest
//! version without a message each time (skynet's lua-stm.c, same API).
//!
//! - `stm.new(msg, sz)` makes a writer holding a copy of the bytes;
//!   `writer(msg, sz)` replaces them with a new version.
//! - `stm.copy(writer)` gives a token a reader service redeems once with
//!   `stm.newcopy(token)`; the reader, called as `reader(f, ud)`, returns
//!   `true, f(msg, sz, ud)` when there is a version it has not seen, and
//!   `false` otherwise (or once the writer is gone).
//!
//! skynet's copy is a pointer to the shared object, sent in a message. A
//! pointer a service may write into a message is a pointer it may forge, so
//! skyhold's copy is an unguessable number (SipHash of a counter under a
//! random key) naming the object in the node's table, good for one
//! `newcopy`; what a reader's function gets is the message as a string, as
//! skyhold's `skynet.unpack` takes it. The bytes live outside every Lua
//! state: `stm_max_bytes` (default [`DEFAULT_MAX_BYTES`]) bounds what all
//! writers of the node hold and `stm_max_copies` (default
//! [`DEFAULT_MAX_COPIES`]) the tokens not yet redeemed; past either, the
//! call fails and the refusal is audited (kind `stm`).

use mlua::{AnyUserData, Lua, MultiValue, UserData, Value};
use parking_lot::{Mutex, RwLock};
use skyhold_core::{Context, Handle, NodeRef};
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::config::ModuleFactory;

/// The module's name.
pub const NAME: &str = "skynet.stm";
/// Config key: bytes all writers of the node may hold.
pub const MAX_BYTES_KEY: &str = "stm_max_bytes";
/// Config key: copies made and not yet redeemed.
pub const MAX_COPIES_KEY: &str = "stm_max_copies";
/// Default of [`MAX_BYTES_KEY`]: 64 MiB.
pub const DEFAULT_MAX_BYTES: usize = 64 << 20;
/// Default of [`MAX_COPIES_KEY`].
pub const DEFAULT_MAX_COPIES: usize = 4096;

/// One published object: its newest version, `None` once the writer is
/// gone. A version is compared by identity (`Arc::ptr_eq`), as skynet
/// compares copies by address.
struct Object {
    current: RwLock<Option<Arc<Vec<u8>>>>,
}

/// The node's table of objects by token, and what they hold.
pub struct Stm {
    key: RandomState,
    counter: AtomicU64,
    copies: Mutex<HashMap<i64, Arc<Object>>>,
    bytes: Arc<AtomicUsize>,
    /// (max bytes, max copies), from the config the first service that
    /// loads the module sees (the node's, the same for all).
    limits: OnceLock<(usize, usize)>,
}

impl Stm {
    /// A node's table; its limits come from the config when the module is
    /// first loaded.
    pub fn new() -> Arc<Stm> {
        Arc::new(Stm {
            key: RandomState::new(),
            counter: AtomicU64::new(0),
            copies: Mutex::new(HashMap::new()),
            bytes: Arc::new(AtomicUsize::new(0)),
            limits: OnceLock::new(),
        })
    }

    /// A table with the given limits.
    pub fn with_limits(max_bytes: usize, max_copies: usize) -> Arc<Stm> {
        let stm = Stm::new();
        let _ = stm.limits.set((max_bytes, max_copies));
        stm
    }

    fn max_bytes(&self) -> usize {
        self.limits.get().map_or(DEFAULT_MAX_BYTES, |l| l.0)
    }

    fn max_copies(&self) -> usize {
        self.limits.get().map_or(DEFAULT_MAX_COPIES, |l| l.1)
    }

    /// Bytes all writers hold now.
    pub fn bytes(&self) -> usize {
        self.bytes.load(Ordering::Relaxed)
    }

    /// Reserves `n` bytes for a new version, or says why not.
    fn reserve(&self, n: usize) -> Result<(), String> {
        let mut now = self.bytes.load(Ordering::Relaxed);
        loop {
            let next = now.saturating_add(n);
            if next > self.max_bytes() {
                return Err(format!(
                    "skynet.stm: {n} more bytes would pass the node's {} (config {MAX_BYTES_KEY})",
                    self.max_bytes()
                ));
            }
            match self
                .bytes
                .compare_exchange(now, next, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(seen) => now = seen,
            }
        }
    }

    fn token(&self, obj: Arc<Object>) -> Result<i64, String> {
        let mut copies = self.copies.lock();
        if copies.len() >= self.max_copies() {
            return Err(format!(
                "skynet.stm: {} copies are waiting for newcopy (config {MAX_COPIES_KEY})",
                copies.len()
            ));
        }
        loop {
            let n = self.counter.fetch_add(1, Ordering::Relaxed);
            let token = self.key.hash_one(n) as i64;
            if let std::collections::hash_map::Entry::Vacant(e) = copies.entry(token) {
                e.insert(obj);
                return Ok(token);
            }
        }
    }

    fn redeem(&self, token: i64) -> Option<Arc<Object>> {
        self.copies.lock().remove(&token)
    }
}

/// A writer's Lua value. Dropping it (the state collects it or closes)
/// ends the object: readers see no new version after.
struct Writer {
    obj: Arc<Object>,
    bytes: Arc<AtomicUsize>,
}

impl Writer {
    fn set(&self, stm: &Stm, msg: &[u8]) -> Result<(), String> {
        stm.reserve(msg.len())?;
        let old = self.obj.current.write().replace(Arc::new(msg.to_vec()));
        if let Some(old) = old {
            self.bytes.fetch_sub(old.len(), Ordering::Relaxed);
        }
        Ok(())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        if let Some(old) = self.obj.current.write().take() {
            self.bytes.fetch_sub(old.len(), Ordering::Relaxed);
        }
    }
}

impl UserData for Writer {}

/// A reader's Lua value: the object and the version it last gave.
struct Reader {
    obj: Arc<Object>,
    last: Mutex<Option<Arc<Vec<u8>>>>,
}

impl UserData for Reader {}

impl Reader {
    /// The newest version if this reader has not given it yet.
    fn next(&self) -> Option<Arc<Vec<u8>>> {
        let current = self.obj.current.read().clone();
        let mut last = self.last.lock();
        let same = match (&current, &*last) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        *last = current.clone();
        if same {
            None
        } else {
            current
        }
    }
}

/// The bytes of a `(msg, sz)` pair: a string, cut to `sz` if given.
fn message(msg: &mlua::LuaString, sz: Option<i64>) -> Vec<u8> {
    let b = msg.as_bytes();
    let n = sz
        .and_then(|n| usize::try_from(n).ok())
        .map_or(b.len(), |n| n.min(b.len()));
    b[..n].to_vec()
}

/// The Lua side: writers and readers are tables around the Rust values,
/// so refusals are raised as plain strings (as lua-stm.c's are) and a
/// reader's function runs in Lua, its errors untouched.
const API: &str = r#"
local raw, FAIL = ...
local error, setmetatable = error, setmetatable

local function check(v, msg)
	if v == FAIL then
		error(msg, 0)
	end
	return v
end

local writer = {
	__call = function(w, msg, sz)
		check(raw.update(w[1], msg, sz))
	end,
	__metatable = false,
}

local reader = {
	__call = function(r, f, ud)
		local msg, sz = raw.read(r[1])
		if not msg then
			return false
		end
		return true, f(msg, sz, ud)
	end,
	__metatable = false,
}

local stm = {}

function stm.new(msg, sz)
	return setmetatable({ check(raw.new(msg, sz)) }, writer)
end

function stm.copy(w)
	if getmetatable(w) ~= false or type(w) ~= "table" or not raw.is_writer(w[1]) then
		error("skynet.stm.copy: a writer (stm.new) is needed", 2)
	end
	return check(raw.copy(w[1]))
end

function stm.newcopy(token)
	if math.type(token) ~= "integer" then
		error("skynet.stm.newcopy: a copy (stm.copy) is needed", 2)
	end
	return setmetatable({ check(raw.newcopy(token)) }, reader)
end

return stm
"#;

/// `(FAIL, why)` for a refusal, audited.
fn fail(
    lua: &Lua,
    fail: &Value,
    node: &NodeRef,
    me: Handle,
    why: String,
) -> mlua::Result<MultiValue> {
    node.audit_refused(me, "stm", &me.to_string(), &why);
    Ok(MultiValue::from_vec(vec![
        fail.clone(),
        Value::String(lua.create_string(why)?),
    ]))
}

fn build(lua: &Lua, ctx: &Context, stm: Arc<Stm>) -> mlua::Result<Value> {
    stm.limits.get_or_init(|| limits(|k| ctx.getenv(k)));
    let node = ctx.node();
    let me = ctx.handle();
    let raw = lua.create_table()?;
    let marker = Value::Table(lua.create_table()?);

    let (s, n, m) = (stm.clone(), node.clone(), marker.clone());
    raw.set(
        "new",
        lua.create_function(move |lua, (msg, sz): (mlua::LuaString, Option<i64>)| {
            let w = Writer {
                obj: Arc::new(Object {
                    current: RwLock::new(None),
                }),
                bytes: s.bytes.clone(),
            };
            match w.set(&s, &message(&msg, sz)) {
                Ok(()) => Ok(MultiValue::from_vec(vec![Value::UserData(
                    lua.create_userdata(w)?,
                )])),
                Err(why) => fail(lua, &m, &n, me, why),
            }
        })?,
    )?;
    let (s, n, m) = (stm.clone(), node.clone(), marker.clone());
    raw.set(
        "update",
        lua.create_function(
            move |lua, (w, msg, sz): (AnyUserData, mlua::LuaString, Option<i64>)| {
                let w = w.borrow::<Writer>()?;
                match w.set(&s, &message(&msg, sz)) {
                    Ok(()) => Ok(MultiValue::from_vec(vec![Value::Boolean(true)])),
                    Err(why) => fail(lua, &m, &n, me, why),
                }
            },
        )?,
    )?;
    raw.set(
        "is_writer",
        lua.create_function(|_, v: Value| {
            Ok(matches!(v, Value::UserData(ud) if ud.is::<Writer>()))
        })?,
    )?;
    let (s, n, m) = (stm.clone(), node.clone(), marker.clone());
    raw.set(
        "copy",
        lua.create_function(move |lua, w: AnyUserData| {
            let obj = w.borrow::<Writer>()?.obj.clone();
            match s.token(obj) {
                Ok(t) => Ok(MultiValue::from_vec(vec![Value::Integer(t)])),
                Err(why) => fail(lua, &m, &n, me, why),
            }
        })?,
    )?;
    let (s, m) = (stm, marker.clone());
    raw.set(
        "newcopy",
        lua.create_function(move |lua, token: i64| match s.redeem(token) {
            Some(obj) => Ok(MultiValue::from_vec(vec![Value::UserData(
                lua.create_userdata(Reader {
                    obj,
                    last: Mutex::new(None),
                })?,
            )])),
            None => fail(
                lua,
                &m,
                &node,
                me,
                format!("skynet.stm.newcopy: {token:#x} is no copy (made by stm.copy and not yet taken)"),
            ),
        })?,
    )?;
    raw.set(
        "read",
        lua.create_function(|lua, r: AnyUserData| {
            let next = r.borrow::<Reader>()?.next();
            match next {
                Some(bytes) => Ok(MultiValue::from_vec(vec![
                    Value::String(lua.create_string(&bytes[..])?),
                    Value::Integer(bytes.len() as i64),
                ])),
                None => Ok(MultiValue::from_vec(vec![Value::Nil])),
            }
        })?,
    )?;
    let api: mlua::Function = crate::codecache::internal(lua, "=[skynet.stm]", API)?;
    api.call((raw, marker))
}

/// The factory `src/native.rs` registers under [`NAME`]; `stm` is the
/// node's table, made once per node with [`Stm::new`].
pub fn factory(stm: Arc<Stm>) -> ModuleFactory {
    Arc::new(move |lua: &Lua, ctx: &Context| build(lua, ctx, stm.clone()))
}

/// The limits a node's config gives, or the defaults.
pub fn limits(getenv: impl Fn(&str) -> Option<String>) -> (usize, usize) {
    let num = |k: &str, d: usize| {
        getenv(k)
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|n| *n > 0)
            .unwrap_or(d)
    };
    (
        num(MAX_BYTES_KEY, DEFAULT_MAX_BYTES),
        num(MAX_COPIES_KEY, DEFAULT_MAX_COPIES),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_single_use_and_bounded() {
        let stm = Stm::with_limits(1024, 2);
        let obj = Arc::new(Object {
            current: RwLock::new(None),
        });
        let a = stm.token(obj.clone()).unwrap();
        let b = stm.token(obj.clone()).unwrap();
        assert_ne!(a, b);
        let err = stm.token(obj.clone()).unwrap_err();
        assert!(err.contains(MAX_COPIES_KEY), "{err}");
        assert!(stm.redeem(a).is_some());
        assert!(stm.redeem(a).is_none(), "a token is good for one newcopy");
        assert!(stm.token(obj).is_ok(), "room again after a redeem");
    }

    #[test]
    fn bytes_are_bounded_and_given_back() {
        let stm = Stm::with_limits(10, 4);
        let w = Writer {
            obj: Arc::new(Object {
                current: RwLock::new(None),
            }),
            bytes: stm.bytes.clone(),
        };
        w.set(&stm, b"123456").unwrap();
        assert_eq!(stm.bytes(), 6);
        // The new version is reserved before the old one is let go.
        w.set(&stm, b"12345").unwrap_err();
        w.set(&stm, b"123").unwrap();
        assert_eq!(stm.bytes(), 3);
        drop(w);
        assert_eq!(stm.bytes(), 0);
    }
}
