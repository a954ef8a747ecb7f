//! The per-message instruction budget of one service's Lua state, shared
//! by the sandbox's count hook and the pattern matcher ([`crate::lpattern`]).

use mlua::{Lua, Table, Value};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

/// The error a spent budget raises.
pub const BUDGET_ERROR: &str = "instruction budget exceeded";

/// The per-message instruction budget of one state.
#[derive(Clone)]
pub struct Budget {
    left: Arc<AtomicI64>,
    armed: Arc<AtomicBool>,
    /// Mirrors `flag[1]`, so a message that never ran out of budget costs
    /// no table access.
    tripped: Arc<AtomicBool>,
    budget: i64,
    /// A Lua table the wrappers read: `[1] = true` once the budget is spent.
    flag: Table,
}

/// Instructions between two looks of the hook.
pub(crate) const HOOK_EVERY: u32 = 1000;

impl Budget {
    /// A budget of `instructions` per message for `lua` (not yet counting:
    /// [`crate::sandbox::new_unbound`] installs the hook that counts VM instructions).
    pub fn new(lua: &Lua, instructions: u64) -> mlua::Result<Budget> {
        Ok(Budget {
            left: Arc::new(AtomicI64::new(0)),
            armed: Arc::new(AtomicBool::new(false)),
            tripped: Arc::new(AtomicBool::new(false)),
            budget: i64::try_from(instructions).unwrap_or(i64::MAX),
            flag: lua.create_table()?,
        })
    }

    /// Starts a message's budget.
    pub fn arm(&self) {
        self.left.store(self.budget, Ordering::Relaxed);
        self.armed.store(true, Ordering::Relaxed);
        if self.tripped.swap(false, Ordering::Relaxed) {
            let _ = self.flag.raw_set(1, Value::Nil);
        }
    }

    /// Marks the budget spent: the wrappers and the hook re-raise from now
    /// until the next message.
    fn trip(&self) {
        self.tripped.store(true, Ordering::Relaxed);
        let _ = self.flag.raw_set(1, true);
    }

    /// Ends it.
    pub fn disarm(&self) {
        self.armed.store(false, Ordering::Relaxed);
    }

    /// The budget of the sandboxed state `lua`, for native modules that
    /// charge the work they do in Rust (`None` outside a sandbox, as in a
    /// module's own unit tests).
    pub fn of(lua: &Lua) -> Option<Budget> {
        lua.app_data_ref::<Budget>().map(|b| b.clone())
    }

    /// Takes `steps` from the budget (pattern matching); an error once spent.
    pub fn charge(&self, steps: i64) -> mlua::Result<()> {
        if !self.armed.load(Ordering::Relaxed) {
            return Ok(());
        }
        if self.left.fetch_sub(steps, Ordering::Relaxed) - steps <= 0 {
            self.trip();
            return Err(mlua::Error::runtime(BUDGET_ERROR));
        }
        Ok(())
    }

    /// True once this message's budget is spent.
    pub fn spent(&self) -> bool {
        self.tripped.load(Ordering::Relaxed)
    }

    /// The table the sandbox's Lua wrappers read (`[1] = true` once spent).
    pub(crate) fn flag(&self) -> &Table {
        &self.flag
    }

    /// The count hook's look, every [`HOOK_EVERY`] instructions: an error
    /// once the message's budget is spent.
    pub(crate) fn on_hook(&self) -> mlua::Result<()> {
        if !self.armed.load(Ordering::Relaxed) {
            return Ok(());
        }
        if self.spent() {
            return Err(mlua::Error::runtime(BUDGET_ERROR));
        }
        if self
            .left
            .fetch_sub(i64::from(HOOK_EVERY), Ordering::Relaxed)
            <= i64::from(HOOK_EVERY)
        {
            self.trip();
            return Err(mlua::Error::runtime(BUDGET_ERROR));
        }
        Ok(())
    }
}
