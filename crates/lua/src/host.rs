//! The Lua service host: one sandboxed Lua state per service, running a
//! skynet service script against `skynet.core`.
//!
//! `snlua NAME ARGS...` finds `NAME` through the `luaservice` patterns, runs
//! the optional `preload` file and then the script's main chunk with the
//! arguments as strings. Each message is handed to the dispatcher the script
//! installed with `skynet.start`, under the per-message instruction budget.

use mlua::{Lua, MultiValue, Table, Value};
use skyhold_core::{ptype, Context, Message, Module, Node, Service};
use std::sync::atomic::Ordering;
use std::sync::Arc;

pub use crate::config::{LuaConfig, ModuleFactory};
use crate::dispatch::Dispatcher;
use crate::sandbox::{self, Budget};
use crate::skynet_core::{self, Shared};
use crate::warm::{Prepare, WarmStates};

/// Registers the `snlua` module with a node. Returns the node's pool of
/// warm states (`None` with `lua_warm_states = 0`), for its counters.
pub fn register(node: &Node, config: Arc<LuaConfig>) -> Option<Arc<WarmStates>> {
    // Idle workers fill the pool; boots empty it. A pooled state also has
    // the runtime's boot chunks and `skynet.lua` loaded (not run) for the
    // boot and the `require "skynet"` to come.
    share_library(&config);
    let (code, lua_path) = (config.code.clone(), config.lua_path.clone());
    let prepare: Prepare = Arc::new(move |lua: &Lua| {
        crate::codecache::preload_internal(
            lua,
            &[
                crate::dispatch::TASK_CHUNK,
                crate::skynet_core::INSTALL_CHUNK,
                crate::modules::REQUIRE_CHUNK,
            ],
        )?;
        let found = code
            .find(&lua_path, "skynet", true)
            .map_err(|e| mlua::Error::runtime(e.to_string()))?;
        code.preload_found(lua, &found)
    });
    let warm = WarmStates::new(config.sandbox.clone(), config.warm_states, Some(prepare));
    if let Some(w) = &warm {
        let w = w.clone();
        node.on_idle(Arc::new(move || w.fill_one()));
    }
    let pool = warm.clone();
    node.register_module(
        "snlua",
        Module {
            factory: Arc::new(move |args: &str| {
                let mut service = LuaService::new(config.clone(), args);
                service.warm = warm.clone();
                Ok(Box::new(service) as Box<dyn Service>)
            }),
            script_host: true,
            ordinary: true,
            reports_memory: true,
        },
    );
    pool
}

/// Shares the runtime's library between the process's states
/// ([`crate::shared_code`]), once per process, before the first node makes
/// any service state: the chunks every boot loads and `skynet.lua`, and the
/// names a sandboxed state interns.
fn share_library(config: &LuaConfig) {
    if !config.shared_code {
        return;
    }
    crate::shared_code::share_once(|| {
        let (template, budget) = sandbox::new_unbound(&config.sandbox)?;
        std::mem::forget(budget);
        for (name, text) in [
            (
                crate::dispatch::TASK_CHUNK,
                crate::dispatch::TASK_TRAMPOLINE,
            ),
            (skynet_core::INSTALL_CHUNK, skynet_core::INSTALL_TEXT),
            (crate::modules::REQUIRE_CHUNK, crate::modules::REQUIRE_TEXT),
        ] {
            crate::codecache::compile_internal(name, text)?;
        }
        let mut chunks: Vec<_> = crate::codecache::internal_compiled()
            .into_iter()
            .map(|(_, c)| c)
            .collect();
        if let Ok(found) = config.code.find(&config.lua_path, "skynet", true) {
            chunks.push(config.code.compiled_found(&found)?.1);
        }
        Ok((template, chunks))
    });
}

/// One Lua service.
pub struct LuaService {
    config: Arc<LuaConfig>,
    args: String,
    lua: Option<Lua>,
    budget: Option<Budget>,
    shared: Arc<Shared>,
    dispatcher: Option<Arc<Dispatcher>>,
    /// Where this service takes its state from, if the node keeps a pool.
    warm: Option<Arc<WarmStates>>,
    /// Its context once booted (to log what its finalizers raise).
    ctx: Option<Context>,
    /// The boot's garbage is not collected yet: it is, with the start
    /// function's, at the end of the first message's turn (usually the
    /// start timer's). Collected at the end of the boot instead, what
    /// `skynet.start`'s function left (its closures, the timer's
    /// bookkeeping, its finished coroutine) would stay in an idle
    /// service's heap until it next allocated enough to start a cycle;
    /// and the launcher's `LAUNCHOK` goes out before the collection
    /// runs, so the service that asked for this one waits for less.
    boot_garbage: bool,
}

/// Runs the finalizers of the objects the service gave a `__gc`, under
/// its instruction budget, before its state is dropped, and logs what they
/// raise.
///
/// Dropping the state (`lua_close`) would run them itself, but it
/// finalizes the Rust functions behind `skynet.core` and the native
/// modules in the same pass, newest first, so a finalizer could call one
/// already freed; and it runs them with no budget. Here every one of them
/// runs while all those functions are alive, and closing the state then
/// runs none (see crate::finalizers).
fn run_finalizers(lua: &Lua, budget: Option<&Budget>, ctx: Option<&Context>) {
    if let Some(b) = budget {
        b.arm();
    }
    let errors = crate::finalizers::run_all(lua, budget);
    if let Some(b) = budget {
        b.disarm();
    }
    if let Some(ctx) = ctx {
        for e in errors {
            ctx.log(&format!("error in __gc: {e}"));
        }
    }
}

impl LuaService {
    /// A service that will run `args` (`NAME ARG...`) once initialised.
    pub fn new(config: Arc<LuaConfig>, args: &str) -> LuaService {
        LuaService {
            config,
            args: args.to_string(),
            lua: None,
            budget: None,
            shared: Arc::new(Shared::default()),
            dispatcher: None,
            warm: None,
            ctx: None,
            boot_garbage: false,
        }
    }

    fn boot(&mut self, ctx: &Context) -> Result<(), String> {
        let mut words = self.args.split_whitespace();
        let name = words.next().ok_or("no service name")?.to_string();
        let args: Vec<String> = words.map(str::to_string).collect();
        let warmed = self.warm.as_ref().and_then(|w| w.take());
        if warmed.is_some() {
            // An idle worker builds the replacement; one asleep must be told.
            ctx.want_idle_work();
        }
        let (lua, budget) = match warmed {
            Some(state) => state,
            None => sandbox::new_unbound(&self.config.sandbox).map_err(|e| e.to_string())?,
        };
        sandbox::bind(&lua, ctx.clone()).map_err(|e| e.to_string())?;
        budget.watch_interrupt(ctx.interrupt_flag());
        let dispatcher = Arc::new(Dispatcher::new(&lua, ctx.clone()).map_err(|e| e.to_string())?);
        let core = skynet_core::create(&lua, ctx.clone(), self.shared.clone(), dispatcher.clone())
            .map_err(|e| e.to_string())?;
        // The Rust modules, built on first `require`: one function over
        // the node's list, not a closure per module in every service.
        let (c, config) = (ctx.clone(), self.config.clone());
        let lazy: crate::modules::LazyModules = Box::new(move |lua, name| {
            if name == crate::skyhold_code::MODULE {
                return Some(crate::skyhold_code::module(lua, &c, &config));
            }
            if name == crate::memory_module::CODECACHE {
                return Some(crate::memory_module::codecache(lua, config.code.clone()));
            }
            let (_, factory) = config.modules.iter().find(|(n, _)| n == name)?;
            Some(factory(lua, &c))
        });
        let script = self
            .config
            .code
            .find(&self.config.luaservice, &name, false)
            .map_err(|e| format!("can't load service {name}: {e}"))?;
        // skynet's loader puts the directory of a service found as
        // `dir/?/init.lua` first in its package.path.
        let lua_path = self
            .config
            .lua_path
            .for_service(&self.config.luaservice, &name, &script);
        crate::modules::install(
            &lua,
            &lua_path,
            &self.config.luaservice,
            self.config.code.clone(),
            self.config.pins.clone(),
            vec![("skynet.core".to_string(), Value::Table(core))],
            lazy,
        )
        .map_err(|e| e.to_string())?;
        self.config
            .pins
            .check(&format!("service:{name}"), &script.text)?;
        let env: Table = lua.globals();
        env.set("SERVICE_NAME", name.as_str())
            .map_err(|e| e.to_string())?;
        if let Some(dir) = script.path.parent() {
            env.set("SERVICE_PATH", dir.display().to_string())
                .map_err(|e| e.to_string())?;
        }
        // Everything above is the runtime's own, bounded setup; the service's
        // code, from here on, runs under its memory limit.
        sandbox::apply_memory_limit(&lua, &self.config.sandbox).map_err(|e| e.to_string())?;
        self.shared.loading.store(true, Ordering::Release);
        budget.arm();
        let result = (|| -> mlua::Result<()> {
            if let Some(pre) = &self.config.preload {
                let text = std::fs::read(pre)
                    .map_err(|e| mlua::Error::runtime(format!("preload {}: {e}", pre.display())))?;
                let chunk = self.config.code.load(&lua, pre, &text)?;
                chunk.call::<()>(MultiValue::from_iter(
                    args.iter()
                        .map(|a| Value::String(lua.create_string(a).expect("string"))),
                ))?;
            }
            let chunk = self.config.code.load_found(&lua, &script)?;
            let argv: Vec<Value> = args
                .iter()
                .map(|a| lua.create_string(a).map(Value::String))
                .collect::<mlua::Result<_>>()?;
            chunk.call::<()>(MultiValue::from_vec(argv))
        })();
        budget.disarm();
        self.shared.loading.store(false, Ordering::Release);
        if let Err(e) = result {
            // The chunk may have made objects with finalizers: they run
            // now, before the state is dropped (see crate::finalizers).
            run_finalizers(&lua, Some(&budget), Some(ctx));
            return Err(e.to_string());
        }
        crate::codecache::forget_preloaded(&lua);
        // The boot's full collection waits for the end of the first
        // message's turn (see `handle`).
        self.boot_garbage = true;
        let limit = self.shared.memlimit.load(Ordering::Acquire);
        if limit > 0 {
            let _ = lua.set_memory_limit(limit);
            // skynet says so once the main chunk has set it.
            ctx.log(&format!(
                "Set memory limit to {:.2} M",
                limit as f64 / (1024.0 * 1024.0)
            ));
        }
        ctx.report_memory(lua.used_memory());
        self.lua = Some(lua);
        self.budget = Some(budget);
        self.dispatcher = Some(dispatcher);
        self.ctx = Some(ctx.clone());
        Ok(())
    }

    /// Runs the service's finalizers and closes its state (once).
    fn close(&mut self, ctx: Option<&Context>) {
        let Some(lua) = self.lua.take() else {
            return;
        };
        run_finalizers(&lua, self.budget.as_ref(), ctx.or(self.ctx.as_ref()));
        drop(lua);
    }

    fn report_error(&self, ctx: &Context, msg: &Message, err: &str) {
        ctx.log(&format!(
            "lua call [{:x} to {} : {} msgsz = {}] error : \x1b[31m{}\x1b[0m",
            msg.source.0,
            ctx.handle(),
            msg.session,
            msg.payload.len(),
            err
        ));
    }
}

impl Service for LuaService {
    fn init(&mut self, ctx: &Context) -> Result<(), String> {
        match self.boot(ctx) {
            Ok(()) => Ok(()),
            Err(e) => {
                // Tell the launcher, so the creator's newservice fails now.
                if let Some(l) = ctx.query_name(".launcher") {
                    let _ = ctx.send(l, ptype::TEXT, 0, "ERROR".into());
                }
                Err(e)
            }
        }
    }

    fn handle(&mut self, ctx: &Context, msg: Message) {
        let (Some(lua), Some(d), Some(budget)) = (
            self.lua.as_ref(),
            self.dispatcher.as_ref(),
            self.budget.as_ref(),
        ) else {
            if msg.expects_reply() {
                let _ = ctx.reply_error(msg.source, msg.session, Default::default());
            }
            return;
        };
        let mut errors = Vec::new();
        budget.arm();
        d.message(lua, &msg, &mut errors);
        let spent = budget.spent();
        budget.disarm();
        let out_of_memory = d.take_out_of_memory();
        if std::mem::take(&mut self.boot_garbage) {
            sandbox::end_boot_collection(lua);
        }
        // After every message, not now and then: one message may take a
        // state from nothing to its memory limit. The node's shared total
        // is touched only when the figure moved by a step (see
        // skyhold_core::memory), so this costs a lock of the state's own
        // mutex and a compare.
        ctx.report_memory(lua.used_memory());
        if !errors.is_empty() {
            self.report_error(ctx, &msg, &errors.join("\n"));
            if spent && msg.expects_reply() {
                // The handler was stopped mid-way: its caller gets an error
                // now rather than waiting for a reply that will not come.
                let _ = ctx.reply_error(msg.source, msg.session, Default::default());
            }
        }
        let retire = self.config.sandbox.retire_on_limit;
        let timed_out = spent && self.budget.as_ref().is_some_and(|b| b.timed_out());
        if timed_out {
            ctx.log(&format!(
                "the message ran past lua_time_limit ({:?}) and was stopped",
                self.config.sandbox.time_limit
            ));
            ctx.broke_limit("time limit", retire);
        } else if spent {
            ctx.broke_limit("instruction budget", retire);
        } else if out_of_memory {
            ctx.broke_limit("memory limit", retire);
        }
    }

    fn exit(&mut self, ctx: &Context) {
        // While the service can still send: its finalizers may.
        self.close(Some(ctx));
    }

    fn room(&mut self, ctx: &Context, target: skyhold_core::Handle) {
        let (Some(lua), Some(d), Some(budget)) = (
            self.lua.as_ref(),
            self.dispatcher.as_ref(),
            self.budget.as_ref(),
        ) else {
            return;
        };
        let mut errors = Vec::new();
        budget.arm();
        d.room(target, &mut errors);
        budget.disarm();
        ctx.report_memory(lua.used_memory());
        if !errors.is_empty() {
            ctx.log(&format!("lua room callback error : {}", errors.join("\n")));
        }
    }
}

impl Drop for LuaService {
    fn drop(&mut self) {
        // A state dropped without `exit` (the node shutting down).
        self.close(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::paths::SearchPath;
    use parking_lot::Mutex;
    use skyhold_core::{Handle, LogTarget, NodeConfig};
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    type Log = Arc<Mutex<Vec<String>>>;

    /// A node running Lua services from `dir`, its pool and its log.
    fn node(dir: &Path, warm: usize) -> (Node, Option<Arc<WarmStates>>, Log) {
        let log = Arc::new(Mutex::new(Vec::new()));
        let node = Node::start(NodeConfig {
            threads: 2,
            log: LogTarget::Memory(log.clone()),
            ..NodeConfig::default()
        })
        .unwrap();
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut config = LuaConfig::with_root(&root);
        config.luaservice = SearchPath::parse(&format!("{}/?.lua", dir.display()));
        config.warm_states = warm;
        let pool = register(&node, Arc::new(config));
        (node, pool, log)
    }

    fn service_dir(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("skyhold-warm-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.lua")), text).unwrap();
        dir
    }

    const SAY: &str = r#"
        local skynet = require "skynet"
        print("says", SERVICE_NAME, type(io), type(string.dump))
        skynet.start(function() end)
    "#;

    #[test]
    fn services_boot_from_warm_states_and_print_as_themselves() {
        let dir = service_dir("say", SAY);
        let (node, pool, log) = node(&dir, 2);
        let pool = pool.expect("a pool");
        let says = |h: Handle| {
            let line = format!("[{h}] says\tsay\tnil\tnil");
            wait_until("the service's line", || {
                log.lock().iter().any(|l| l.contains(&line))
            });
        };
        // Workers fill the pool on their way from work to waiting, so the
        // first boot (the node's bootstrap, here) finds it empty and builds
        // its own state; the workers fill the pool after it.
        says(node.launch("snlua", "say").unwrap());
        wait_until("idle workers to fill the pool", || pool.stats().ready == 2);
        let (a, b) = (
            node.launch("snlua", "say").unwrap(),
            node.launch("snlua", "say").unwrap(),
        );
        says(a);
        says(b);
        let s = pool.stats();
        assert!(s.taken >= 1, "{s:?}");
        assert_eq!(s.taken + s.missed, 3, "{s:?}");
        wait_until("the pool refilled", || pool.stats().ready == 2);
        node.shutdown();
    }

    /// A node shares the runtime's library with its services: their boots
    /// load closures over the shared prototypes (the patched VM), and a
    /// service that changes `skynet`'s table changes only its own.
    #[test]
    fn services_share_the_library_and_keep_their_own_tables() {
        const CHANGER: &str = r#"
            local skynet = require "skynet"
            skynet.send = nil
            print("changed", type(skynet.send))
            skynet.start(function() end)
        "#;
        const KEEPER: &str = r#"
            local skynet = require "skynet"
            print("kept", type(skynet.send))
            skynet.start(function() end)
        "#;
        let dir = service_dir("changer", CHANGER);
        std::fs::write(dir.join("keeper.lua"), KEEPER).unwrap();
        let (node, _pool, log) = node(&dir, 0);
        assert!(
            crate::shared_code::available(),
            "{:?}",
            crate::shared_code::stats()
        );
        let before = crate::shared_code::stats().shared_loads;
        let a = node.launch("snlua", "changer").unwrap();
        let line = format!("[{a}] changed\tnil");
        wait_until("the changer's line", || {
            log.lock().iter().any(|l| l.contains(&line))
        });
        let b = node.launch("snlua", "keeper").unwrap();
        let line = format!("[{b}] kept\tfunction");
        wait_until("the other service's line", || {
            log.lock().iter().any(|l| l.contains(&line))
        });
        let after = crate::shared_code::stats().shared_loads;
        assert!(
            after >= before + 4,
            "boots load shared chunks: {before} -> {after}"
        );
        node.shutdown();
    }

    #[test]
    fn without_a_pool_services_build_their_own_states() {
        let dir = service_dir("say0", &SAY.replace("\"says\"", "\"says0\""));
        let (node, pool, log) = node(&dir, 0);
        assert!(pool.is_none());
        let a = node.launch("snlua", "say0").unwrap();
        let line = format!("[{a}] says0\tsay0\tnil\tnil");
        wait_until("the service's line", || {
            log.lock().iter().any(|l| l.contains(&line))
        });
        node.shutdown();
    }
}
