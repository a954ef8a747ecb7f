//! The checks a launch passes besides the policy: the asking service's
//! spawn rate, and the node's memory budget for services that report
//! memory (whose reports are summed here too).

use std::sync::atomic::Ordering;

use crate::errors::{LaunchError, LimitSource};
use crate::handle::Handle;
use crate::memory::{human_bytes, Crossing};
use crate::policy::RoleLimit;
use crate::rate::TokenBucket;
use crate::state::{Cell, NodeInner};

impl NodeInner {
    /// Takes one launch from `r`'s spawn bucket, or refuses (counted and
    /// audited). A refused launch is not refunded when something later in
    /// the launch fails either: a flood is slowed whatever it hits.
    pub(crate) fn charge_spawn(&self, r: &Cell, whom: &str) -> Result<(), LaunchError> {
        let role = &r.identity.role;
        let node = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
        let (Some(rate), Some(burst)) = (
            role.limits.spawn_rate.over(node(self.limits.spawn_rate)),
            role.limits.spawn_burst.over(node(self.limits.spawn_burst)),
        ) else {
            return Ok(());
        };
        let now = self.started.elapsed();
        let admitted = r
            .spawns
            .lock()
            .get_or_insert_with(|| TokenBucket::new(rate, burst, now))
            .take(now);
        if admitted {
            return Ok(());
        }
        self.counters.spawn_refusals.fetch_add(1, Ordering::Relaxed);
        let source = if role.limits.spawn_rate == RoleLimit::Node
            && role.limits.spawn_burst == RoleLimit::Node
        {
            LimitSource::Config
        } else {
            LimitSource::Role(role.name.clone())
        };
        let e = LaunchError::SpawnRate {
            service: r.handle(),
            rate,
            burst,
            source,
        };
        let who = format!("{} {}", r.handle(), r.identity);
        self.audit_refused(&who, "launch", whom, &e.reason());
        Err(e)
    }

    /// Refuses (counted and audited) a launch of a service that reports
    /// memory while the node's total is past the budget that applies to
    /// `r`: the node's, or its role's own.
    pub(crate) fn check_memory(&self, r: &Cell, whom: &str) -> Result<(), LaunchError> {
        let role = &r.identity.role;
        let node = u64::try_from(self.memory.limit()).unwrap_or(u64::MAX);
        let Some(limit) = role.limits.lua_memory_total.over(node) else {
            return Ok(());
        };
        let used = self.memory.total();
        if u64::try_from(used).unwrap_or(u64::MAX) <= limit {
            return Ok(());
        }
        self.counters
            .memory_refusals
            .fetch_add(1, Ordering::Relaxed);
        let e = LaunchError::MemoryBudget {
            used,
            limit,
            source: LimitSource::of(role.limits.lua_memory_total, &role.name),
        };
        let who = format!("{} {}", r.handle(), r.identity);
        self.audit_refused(&who, "launch", whom, &e.reason());
        Err(e)
    }

    /// A service's host reports its state holds `bytes` (see
    /// [`crate::memory`] for why this is cheap).
    #[inline]
    pub fn report_memory(&self, cell: &Cell, bytes: usize) {
        if let Some(c) = self.memory.report(&cell.reported_memory, bytes) {
            self.memory_crossed(c);
        }
    }

    /// A service retired: its reported memory no longer counts.
    pub fn release_memory(&self, cell: &Cell) {
        if let Some(c) = self.memory.release(&cell.reported_memory) {
            self.memory_crossed(c);
        }
    }

    /// Tells the operator, once per crossing, that the Lua memory of all
    /// services passed the budget or fell back well under it.
    fn memory_crossed(&self, c: Crossing) {
        let (total, limit) = (
            human_bytes(self.memory.total()),
            human_bytes(self.memory.limit()),
        );
        let line = match c {
            Crossing::Over => format!(
                "Lua memory of all services, {total}, is past the budget of {limit} \
                 (config lua_memory_total): new Lua services are refused while it is, \
                 except for roles the policy gives a budget of their own"
            ),
            Crossing::Under => format!(
                "Lua memory of all services is down to {total}, under the budget of {limit} \
                 (config lua_memory_total): new Lua services start again"
            ),
        };
        self.log_system(Handle::SYSTEM, &line);
    }
}
