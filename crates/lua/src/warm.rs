//! Sandboxed states built ahead of need.
//!
//! Building a state (the Lua VM, its standard libraries, the sandbox, the
//! pattern functions and the budget hook) is about a third of a Lua
//! service's boot, and none of it depends on which service the state will
//! belong to. A spawn is serial for the service that asks for it (it waits
//! for `newservice` to return), so while one worker boots a service the
//! others are usually idle. This pool keeps a few unbound states ready,
//! built by workers that have nothing else to do (the node's idle work),
//! and hands each to exactly one service, which binds it
//! ([`crate::sandbox::bind`]) and carries on with its own boot.
//!
//! A state is never reused: a service that exits drops its state, and a
//! pooled state has run none of anyone's code. With `lua_warm_states = 0`
//! there is no pool, and every service builds its own state.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use crate::sandbox::{self, Budget, SandboxOptions};
use mlua::Lua;

/// The default of `lua_warm_states`: states kept ready.
///
/// Two cover a burst of spawns from one service (each `newservice` waits
/// for the one before) and cost about 60 KiB of memory in all.
pub const DEFAULT_WARM_STATES: usize = 2;

/// The most states a pool keeps, whatever the config asks: a pool is for
/// spawn latency, not a cache to fill memory with.
pub const MAX_WARM_STATES: usize = 64;

/// What a pool has done, for operators and tests.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WarmStats {
    /// States built ahead.
    pub built: u64,
    /// States handed to a service.
    pub taken: u64,
    /// Boots that found the pool empty and built their own state.
    pub missed: u64,
    /// States ready now.
    pub ready: usize,
}

/// More preparation of a pooled state, run after it is built (the host
/// preloads the chunks nearly every service requires). A failure leaves the
/// state as built.
pub type Prepare = Arc<dyn Fn(&Lua) -> mlua::Result<()> + Send + Sync>;

/// A pool of unbound sandboxed states.
pub struct WarmStates {
    opts: SandboxOptions,
    prepare: Option<Prepare>,
    target: usize,
    ready: Mutex<Vec<(Lua, Budget)>>,
    /// States ready or being built: what [`WarmStates::fill_one`] checks
    /// against the target, so two idle workers never overfill the pool.
    promised: AtomicUsize,
    /// One build at a time: with several workers idle, the others stay free
    /// to take the next service at once.
    building: AtomicBool,
    built: AtomicU64,
    taken: AtomicU64,
    missed: AtomicU64,
}

impl WarmStates {
    /// A pool keeping `target` states built with `opts` and then
    /// `prepare`d (at most [`MAX_WARM_STATES`]); `None` for a target of 0.
    /// The pool fills only as [`WarmStates::fill_one`] is called.
    pub fn new(
        opts: SandboxOptions,
        target: usize,
        prepare: Option<Prepare>,
    ) -> Option<Arc<WarmStates>> {
        (target > 0).then(|| {
            Arc::new(WarmStates {
                opts,
                prepare,
                target: target.min(MAX_WARM_STATES),
                ready: Mutex::new(Vec::new()),
                promised: AtomicUsize::new(0),
                building: AtomicBool::new(false),
                built: AtomicU64::new(0),
                taken: AtomicU64::new(0),
                missed: AtomicU64::new(0),
            })
        })
    }

    /// Builds one state if the pool is short of its target and no other
    /// build is under way; true if it did. A build that fails leaves the
    /// pool as it was (boots then build their own states and report the
    /// error themselves).
    pub fn fill_one(&self) -> bool {
        // Workers ask every time they run out of services; a full pool (the
        // usual answer) costs them a read, not a write to a shared line.
        if self.promised.load(Ordering::Acquire) >= self.target
            || self.building.swap(true, Ordering::Acquire)
        {
            return false;
        }
        // Cleared however the build ends, a panic included (the node's idle
        // work catches those), so one bad build does not stop the pool.
        let _building = Clear(&self.building);
        self.build_one()
    }

    fn build_one(&self) -> bool {
        let reserved = self
            .promised
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.target).then_some(n + 1)
            });
        if reserved.is_err() {
            return false;
        }
        // Given back unless the state reaches the pool.
        let promise = Promise(&self.promised);
        let Ok(state) = sandbox::new_unbound(&self.opts) else {
            return false;
        };
        if let Some(prepare) = &self.prepare {
            let _ = prepare(&state.0);
        }
        self.ready.lock().push(state);
        std::mem::forget(promise);
        self.built.fetch_add(1, Ordering::Relaxed);
        true
    }

    /// A ready state, if there is one. `None` counts as a miss: the caller
    /// builds its own.
    pub fn take(&self) -> Option<(Lua, Budget)> {
        let state = self.ready.lock().pop();
        match state {
            Some(s) => {
                self.promised.fetch_sub(1, Ordering::AcqRel);
                self.taken.fetch_add(1, Ordering::Relaxed);
                Some(s)
            }
            None => {
                self.missed.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// The pool's counters.
    pub fn stats(&self) -> WarmStats {
        WarmStats {
            built: self.built.load(Ordering::Relaxed),
            taken: self.taken.load(Ordering::Relaxed),
            missed: self.missed.load(Ordering::Relaxed),
            ready: self.ready.lock().len(),
        }
    }

    /// States the pool keeps ready.
    pub fn target(&self) -> usize {
        self.target
    }
}

/// Clears a flag when dropped.
struct Clear<'a>(&'a AtomicBool);

impl Drop for Clear<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// A reserved place in the pool, given back when dropped.
struct Promise<'a>(&'a AtomicUsize);

impl Drop for Promise<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_target_of_zero_is_no_pool() {
        assert!(WarmStates::new(SandboxOptions::default(), 0, None).is_none());
    }

    #[test]
    fn the_pool_fills_to_its_target_and_no_further() {
        let pool = WarmStates::new(SandboxOptions::default(), 2, None).unwrap();
        assert!(pool.fill_one());
        assert!(pool.fill_one());
        assert!(!pool.fill_one(), "a full pool builds nothing");
        assert_eq!(pool.stats().ready, 2);
        assert_eq!(pool.stats().built, 2);
        let _ = pool.take().expect("a ready state");
        assert!(pool.fill_one(), "a taken state is replaced");
        assert!(!pool.fill_one());
        let s = pool.stats();
        assert_eq!((s.built, s.taken, s.missed, s.ready), (3, 1, 0, 2));
    }

    #[test]
    fn a_pooled_state_is_sandboxed_and_unbound() {
        let pool = WarmStates::new(SandboxOptions::default(), 1, None).unwrap();
        assert!(pool.fill_one());
        let (lua, _budget) = pool.take().unwrap();
        for name in ["io", "debug.getinfo", "require", "dofile", "print"] {
            let v: mlua::Value = lua
                .load(format!("return {name}"))
                .eval()
                .unwrap_or(mlua::Value::Nil);
            assert!(v.is_nil(), "{name} is reachable in a pooled state");
        }
        let dump: mlua::Value = lua.load("return string.dump").eval().unwrap();
        assert!(dump.is_nil());
    }

    #[test]
    fn an_empty_pool_counts_a_miss() {
        let pool = WarmStates::new(SandboxOptions::default(), 1, None).unwrap();
        assert!(pool.take().is_none());
        assert!(pool.fill_one());
        assert!(pool.take().is_some());
        assert!(pool.take().is_none());
        let s = pool.stats();
        assert_eq!((s.taken, s.missed, s.ready), (1, 2, 0));
    }

    #[test]
    fn concurrent_fillers_build_one_at_a_time_and_never_overfill() {
        let pool = WarmStates::new(SandboxOptions::default(), 3, None).unwrap();
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| while pool.fill_one() {});
            }
        });
        let s = pool.stats();
        assert_eq!((s.built, s.ready), (3, 3));
    }

    #[test]
    fn each_pooled_state_is_prepared() {
        let prepare: Prepare = Arc::new(|lua: &Lua| lua.globals().set("READY", true));
        let pool = WarmStates::new(SandboxOptions::default(), 1, Some(prepare)).unwrap();
        assert!(pool.fill_one());
        let (lua, _) = pool.take().unwrap();
        assert!(lua.globals().get::<bool>("READY").unwrap());
    }

    #[test]
    fn a_build_that_panics_does_not_stop_the_pool() {
        let once = Arc::new(AtomicBool::new(false));
        let o = once.clone();
        let prepare: Prepare = Arc::new(move |_: &Lua| {
            if !o.swap(true, Ordering::SeqCst) {
                panic!("a failing preparation");
            }
            Ok(())
        });
        let pool = WarmStates::new(SandboxOptions::default(), 1, Some(prepare)).unwrap();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pool.fill_one()));
        assert!(r.is_err());
        assert!(pool.fill_one(), "the next build goes ahead");
        assert!(!pool.fill_one(), "and the pool is full at its target");
        assert_eq!(pool.stats().ready, 1);
    }

    #[test]
    fn the_target_is_capped() {
        let pool = WarmStates::new(SandboxOptions::default(), 10_000, None).unwrap();
        assert_eq!(pool.target(), MAX_WARM_STATES);
    }
}
