//! Charging the work done in Rust to the calling service's instruction
//! budget, a step at a time.

use mlua::Lua;
use skyhold_lua::budget::Budget;

/// Steps between two charges.
const EVERY: u32 = 1024;

/// Counts steps and charges the budget every [`EVERY`] of them.
pub struct Meter {
    budget: Option<Budget>,
    steps: u32,
}

impl Meter {
    /// A meter charging `lua`'s budget (none outside a sandbox).
    pub fn new(lua: &Lua) -> Meter {
        Meter {
            budget: Budget::of(lua),
            steps: 0,
        }
    }

    /// A meter that charges nothing (tests, fuzzing).
    pub fn free() -> Meter {
        Meter {
            budget: None,
            steps: 0,
        }
    }

    /// One step of work; an error once the budget is spent.
    pub fn step(&mut self) -> mlua::Result<()> {
        self.steps += 1;
        if self.steps >= EVERY {
            self.steps = 0;
            if let Some(b) = &self.budget {
                b.charge(i64::from(EVERY))?;
            }
        }
        Ok(())
    }

    /// [`Meter::step`] with a plain-text error, for the byte-level code.
    pub fn tick(&mut self) -> Result<(), String> {
        self.step()
            .map_err(|e| skyhold_lua::lua_error::error_text(&e))
    }
}
