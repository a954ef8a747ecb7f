//! The per-message instruction budget of one service's Lua state, shared
//! by the sandbox's count hook and the pattern matcher ([`crate::lpattern`]).

use mlua::{HookTriggers, Lua, LuaOptions, StdLib, Table, Value, VmState};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

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
    /// True once `flag[1]` was really written. The write can fail (it is a
    /// protected call, refused at the C-stack limit or out of memory, where
    /// a hook deep in a recursion may find the budget spent); then every
    /// later look of the hook tries again, so the wrappers learn it as soon
    /// as the code is anywhere shallower.
    flagged: Arc<AtomicBool>,
    budget: i64,
    /// A Lua table the wrappers read: `[1] = true` once the budget is spent.
    flag: Table,
    /// The service's interrupt flag (an operator's `signal address 0`),
    /// once the state is bound to a service.
    interrupt: Arc<std::sync::OnceLock<Arc<AtomicBool>>>,
    /// Wall-clock nanoseconds a message may run (`lua_time_limit`; 0: no
    /// limit), when the hook first looked during it ([`epoch_nanos`]; 0:
    /// not yet), the hook's looks since, and whether this message ran out
    /// of time rather than instructions.
    time_limit: Arc<AtomicU64>,
    armed_at: Arc<AtomicU64>,
    looks: Arc<AtomicU32>,
    timed_out: Arc<AtomicBool>,
}

/// The hook reads the clock on one look in this many: a look is about a
/// thousand instructions, so the clock costs next to nothing and the limit
/// is still seen within microseconds of Lua.
const LOOKS_PER_CLOCK: u32 = 8;

/// Nanoseconds since the first time any budget asked.
fn epoch_nanos() -> u64 {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    u64::try_from(EPOCH.get_or_init(Instant::now).elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// The error an operator's `signal address 0` raises in running code
/// (skynet's text).
pub const SIGNAL_ERROR: &str = "signal 0";

/// Instructions between two looks of the hook. skyhold's Lua calls its
/// checkpoint count's hook after the same number
/// (`LUAI_CHECKPOINTCOUNT` in `crates/lua-src-patched/PATCH.md`).
pub(crate) const HOOK_EVERY: u32 = 1000;

/// True when this build's Lua has skyhold's checkpoint count: a count hook
/// set with a count of 0 is then charged at function entries, returns and
/// loop back-edges instead of trapping every instruction
/// (`crates/lua-src-patched/PATCH.md`). Stock Lua never calls such a
/// hook, so this is asked of the VM once per process, by running a loop
/// under it, and without it the budget counts every instruction as before.
pub fn checkpoints() -> bool {
    static AVAILABLE: OnceLock<bool> = OnceLock::new();
    *AVAILABLE.get_or_init(|| probe_checkpoints().unwrap_or(false))
}

fn probe_checkpoints() -> mlua::Result<bool> {
    let lua = Lua::new_with(StdLib::NONE, LuaOptions::default())?;
    let fired = Arc::new(AtomicU32::new(0));
    let f = fired.clone();
    lua.set_hook(HookTriggers::new().every_nth_instruction(0), move |_, _| {
        f.fetch_add(1, Ordering::Relaxed);
        Ok(VmState::Continue)
    })?;
    // About 200 k instructions: 200 calls of the hook if it counts.
    lua.load("local n = 0 for i = 1, 100000 do n = n + i end return n")
        .exec()?;
    lua.remove_hook();
    Ok(fired.load(Ordering::Relaxed) >= 50)
}

/// The triggers of the budget's hook: the checkpoint count where the VM has
/// it ([`checkpoints`]), else a count hook every [`HOOK_EVERY`] instructions.
pub(crate) fn hook_triggers() -> HookTriggers {
    let every = if checkpoints() { 0 } else { HOOK_EVERY };
    HookTriggers::new().every_nth_instruction(every)
}

impl Budget {
    /// A budget of `instructions` per message for `lua` (not yet counting:
    /// [`crate::sandbox::new_unbound`] installs the hook that counts VM instructions).
    pub fn new(lua: &Lua, instructions: u64) -> mlua::Result<Budget> {
        Ok(Budget {
            left: Arc::new(AtomicI64::new(0)),
            armed: Arc::new(AtomicBool::new(false)),
            tripped: Arc::new(AtomicBool::new(false)),
            flagged: Arc::new(AtomicBool::new(false)),
            budget: i64::try_from(instructions).unwrap_or(i64::MAX),
            flag: lua.create_table()?,
            interrupt: Arc::new(std::sync::OnceLock::new()),
            time_limit: Arc::new(AtomicU64::new(0)),
            armed_at: Arc::new(AtomicU64::new(0)),
            looks: Arc::new(AtomicU32::new(0)),
            timed_out: Arc::new(AtomicBool::new(false)),
        })
    }

    /// Also ends a message that runs longer than `limit` of wall-clock time
    /// (`lua_time_limit`), however few instructions it was charged: the net
    /// under the instruction count, for work the count does not see
    /// (`crates/lua-src-patched/PATCH.md`). `Duration::ZERO`: no limit.
    pub fn set_time_limit(&self, limit: Duration) {
        let nanos = u64::try_from(limit.as_nanos()).unwrap_or(u64::MAX);
        self.time_limit.store(nanos, Ordering::Relaxed);
    }

    /// True when the last message was stopped by the time limit.
    pub fn timed_out(&self) -> bool {
        self.timed_out.load(Ordering::Relaxed)
    }

    /// Watches `flag` from now on: when set, the code running is broken
    /// with [`SIGNAL_ERROR`] and the flag cleared.
    pub fn watch_interrupt(&self, flag: Arc<AtomicBool>) {
        let _ = self.interrupt.set(flag);
    }

    /// Starts a message's budget.
    pub fn arm(&self) {
        self.left.store(self.budget, Ordering::Relaxed);
        if self.time_limit.load(Ordering::Relaxed) != 0 {
            // The clock is read at the hook's first look, not here: most
            // messages end before it (a look is about a thousand
            // instructions), so they never pay for a clock read.
            self.armed_at.store(0, Ordering::Relaxed);
            self.timed_out.store(false, Ordering::Relaxed);
        }
        self.armed.store(true, Ordering::Relaxed);
        // A load, then a store only when set: no locked instruction on
        // every message (this thread is the only one that arms).
        if self.tripped.load(Ordering::Relaxed) {
            self.tripped.store(false, Ordering::Relaxed);
            self.flagged.store(false, Ordering::Relaxed);
            let _ = self.flag.raw_set(1, Value::Nil);
        }
    }

    /// Marks the budget spent: the wrappers and the hook re-raise from now
    /// until the next message.
    fn trip(&self) {
        self.tripped.store(true, Ordering::Relaxed);
        self.flag_spent();
    }

    /// Writes `flag[1] = true` unless it was written already.
    fn flag_spent(&self) {
        if !self.flagged.load(Ordering::Relaxed) && self.flag.raw_set(1, true).is_ok() {
            self.flagged.store(true, Ordering::Relaxed);
        }
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
        if let Some(flag) = self.interrupt.get() {
            if flag.load(Ordering::Relaxed) && flag.swap(false, Ordering::AcqRel) {
                return Err(mlua::Error::runtime(SIGNAL_ERROR));
            }
        }
        if self.spent() {
            self.flag_spent();
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
        let limit = self.time_limit.load(Ordering::Relaxed);
        if limit == 0 {
            return Ok(());
        }
        let since = self.armed_at.load(Ordering::Relaxed);
        if since == 0 {
            self.armed_at.store(epoch_nanos().max(1), Ordering::Relaxed);
        } else if self
            .looks
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(LOOKS_PER_CLOCK)
            && epoch_nanos().saturating_sub(since) > limit
        {
            self.timed_out.store(true, Ordering::Relaxed);
            self.trip();
            return Err(mlua::Error::runtime(BUDGET_ERROR));
        }
        Ok(())
    }
}
