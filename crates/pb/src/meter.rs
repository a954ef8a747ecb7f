//! Charging work done in Rust (walking tables, reading bytes) to the
//! calling service's instruction budget.

use mlua::Lua;
use skyhold_lua::budget::Budget;

/// Work units between two charges.
const BATCH: u32 = 1024;

/// Accumulates work and charges the budget a batch at a time.
pub struct Meter {
    budget: Option<Budget>,
    pending: u32,
}

impl Meter {
    /// A meter charging `lua`'s budget (none outside a sandbox).
    pub fn new(lua: &Lua) -> Meter {
        Meter {
            budget: Budget::of(lua),
            pending: 0,
        }
    }

    /// A meter that charges nothing (tests, fuzzing).
    pub fn unmetered() -> Meter {
        Meter {
            budget: None,
            pending: 0,
        }
    }

    /// Records `units` of work; an error once the budget is spent.
    pub fn step(&mut self, units: u32) -> mlua::Result<()> {
        self.pending = self.pending.saturating_add(units);
        if self.pending >= BATCH {
            let n = self.pending;
            self.pending = 0;
            if let Some(b) = &self.budget {
                b.charge(i64::from(n))?;
            }
        }
        Ok(())
    }
}
