//! Sealed function texts (`skynet.service.new`): a store shared by the
//! services of a process, keyed by number, each text usable only by the
//! service it was sealed to, and the `skyhold.code` functions over it
//! (`seal`, `sealed`, `reseal`, `drop`, `unseal`; see [`crate::skyhold_code`]).

use mlua::chunk::ChunkMode;
use mlua::{Function, Lua, MultiValue, Table, Value};
use parking_lot::Mutex;
use skyhold_core::{Context, Handle};
use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::config::LuaConfig;
use crate::function_text::{extract, padded};

/// How long a sealed function waits to be unsealed.
const TTL: Duration = Duration::from_secs(60);
/// Sealed functions waiting, in all.
const MAX_SEALED: usize = 256;
/// Sealed functions waiting that one service made.
const MAX_PER_CREATOR: usize = 8;
/// Seal attempts one service may make per second.
const SEALS_PER_SECOND: u32 = 16;

/// A sealed text and who may use it.
struct Sealed {
    node: usize,
    creator: Handle,
    giver: Handle,
    owner: Handle,
    origin: String,
    path: String,
    line: usize,
    text: Vec<u8>,
    born: Instant,
}

fn store() -> &'static Mutex<HashMap<i64, Sealed>> {
    static STORE: OnceLock<Mutex<HashMap<i64, Sealed>>> = OnceLock::new();
    STORE.get_or_init(Mutex::default)
}

static NEXT_ID: AtomicI64 = AtomicI64::new(1);

/// `nil, msg`: how these functions report a failure.
pub(crate) fn fail(lua: &Lua, msg: impl AsRef<[u8]>) -> mlua::Result<MultiValue> {
    Ok(MultiValue::from_vec(vec![
        Value::Nil,
        Value::String(lua.create_string(msg)?),
    ]))
}

/// One value.
pub(crate) fn one(v: Value) -> MultiValue {
    MultiValue::from_vec(vec![v])
}

/// Puts the seal functions in `m`, the `skyhold.code` table of the
/// service behind `ctx`; `node` keeps one node's seals from another's.
pub(crate) fn install(
    lua: &Lua,
    m: &Table,
    ctx: &Context,
    config: &Arc<LuaConfig>,
    node: usize,
) -> mlua::Result<()> {
    let (c, cfg) = (ctx.clone(), config.clone());
    let bucket = Mutex::new((Instant::now(), SEALS_PER_SECOND));
    m.set(
        "seal",
        lua.create_function(move |lua, (f, to): (Value, Value)| {
            let Value::Function(f) = f else {
                return fail(lua, "the main function must be a Lua function");
            };
            let Some(to) = crate::sending::resolve(&c, &to) else {
                return fail(lua, "seal: invalid address");
            };
            {
                let mut b = bucket.lock();
                if b.0.elapsed() >= Duration::from_secs(1) {
                    *b = (Instant::now(), SEALS_PER_SECOND);
                }
                if b.1 == 0 {
                    return fail(lua, "too many functions sealed in the last second");
                }
                b.1 -= 1;
            }
            let me = c.handle();
            let now = Instant::now();
            {
                let mut s = store().lock();
                s.retain(|_, e| now.duration_since(e.born) < TTL);
                if s.len() >= MAX_SEALED
                    || s.values()
                        .filter(|e| e.node == node && e.creator == me)
                        .count()
                        >= MAX_PER_CREATOR
                {
                    return fail(lua, "too many sealed functions waiting");
                }
            }
            let found = match extract(lua, &f, &cfg.code) {
                Ok(found) => found,
                Err(e) => return fail(lua, e),
            };
            let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            store().lock().insert(
                id,
                Sealed {
                    node,
                    creator: me,
                    giver: me,
                    owner: to,
                    origin: found.origin,
                    path: found.path,
                    line: found.line,
                    text: found.text,
                    born: now,
                },
            );
            Ok(one(Value::Integer(id)))
        })?,
    )?;

    let c = ctx.clone();
    m.set(
        "sealed",
        lua.create_function(move |lua, id: i64| {
            let s = store().lock();
            match s.get(&id) {
                Some(e) if e.node == node && e.owner == c.handle() => {
                    Ok(MultiValue::from_vec(vec![
                        Value::Integer(i64::from(e.giver.0)),
                        Value::String(lua.create_string(&e.origin)?),
                    ]))
                }
                _ => Ok(MultiValue::new()),
            }
        })?,
    )?;

    let c = ctx.clone();
    m.set(
        "reseal",
        lua.create_function(move |lua, (id, to): (i64, Value)| {
            let Some(to) = crate::sending::resolve(&c, &to) else {
                return fail(lua, "reseal: invalid address");
            };
            let mut s = store().lock();
            match s.get_mut(&id) {
                Some(e) if e.node == node && e.owner == c.handle() => {
                    e.giver = e.owner;
                    e.owner = to;
                    e.born = Instant::now();
                    Ok(one(Value::Boolean(true)))
                }
                _ => fail(lua, "no such sealed function"),
            }
        })?,
    )?;

    let c = ctx.clone();
    m.set(
        "drop",
        lua.create_function(move |_, id: i64| {
            let mut s = store().lock();
            let mine = s
                .get(&id)
                .is_some_and(|e| e.node == node && e.owner == c.handle());
            if mine {
                s.remove(&id);
            }
            Ok(mine)
        })?,
    )?;

    let c = ctx.clone();
    m.set(
        "unseal",
        lua.create_function(move |lua, id: i64| {
            let entry = {
                let mut s = store().lock();
                let mine = s
                    .get(&id)
                    .is_some_and(|e| e.node == node && e.owner == c.handle());
                if !mine {
                    return fail(lua, "no such sealed function");
                }
                s.remove(&id).expect("present")
            };
            let chunk = padded(entry.line, &entry.text);
            // The text was checked to compile to a chunk that only makes
            // the function and returns it.
            let f: Function = lua
                .load(&chunk[..])
                .set_name(format!("@{}", entry.path))
                .set_mode(ChunkMode::Text)
                .into_function()?
                .call(())?;
            Ok(one(Value::Function(f)))
        })?,
    )?;

    Ok(())
}
