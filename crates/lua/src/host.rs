//! The Lua service host: one sandboxed Lua state per service, running a
//! skynet service script against `skynet.core`.
//!
//! `snlua NAME ARGS...` finds `NAME` through the `luaservice` patterns, runs
//! the optional `preload` file and then the script's main chunk with the
//! arguments as strings. Each message is handed to the dispatcher the script
//! installed with `skynet.start`, under the per-message instruction budget.

use mlua::{Lua, MultiValue, Table, Value};
use skyhold_core::{ptype, Context, Message, Module, Node, Service};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::api::{self, Shared};
use crate::dispatch::Dispatcher;
use crate::paths::SearchPath;
use crate::state::{self as sandbox, Budget, SandboxOptions};

/// How Lua services are set up (from the node's config).
#[derive(Clone)]
pub struct LuaConfig {
    /// Where service scripts are found (`luaservice`).
    pub luaservice: SearchPath,
    /// Where `require` looks (`lua_path`).
    pub lua_path: SearchPath,
    /// A file run before every service's main chunk (`preload`).
    pub preload: Option<PathBuf>,
    /// Sandbox limits.
    pub sandbox: SandboxOptions,
    /// Source files compiled once for all services.
    pub code: Arc<crate::codecache::CodeCache>,
    /// Rust modules other crates add (the socket driver), by name.
    pub modules: Vec<(String, ModuleFactory)>,
    /// Pinned module hashes (`lua_pin`, `lua_pin_strict`).
    pub pins: Arc<crate::pins::Pins>,
}

/// Builds a Rust-backed Lua module for one service.
pub type ModuleFactory = Arc<dyn Fn(&Lua, &Context) -> mlua::Result<Value> + Send + Sync>;

impl LuaConfig {
    /// Config with skyhold's own `lualib/` and `service/` under `root`.
    pub fn with_root(root: &Path) -> LuaConfig {
        LuaConfig {
            luaservice: SearchPath::parse(&format!("{}/service/?.lua", root.display())),
            lua_path: SearchPath::parse(&format!(
                "{0}/lualib/?.lua;{0}/lualib/?/init.lua",
                root.display()
            )),
            preload: None,
            sandbox: SandboxOptions::default(),
            code: Arc::default(),
            modules: Vec::new(),
            pins: Arc::default(),
        }
    }
}

/// Registers the `snlua` module with a node.
pub fn register(node: &Node, config: Arc<LuaConfig>) {
    node.register_module(
        "snlua",
        Module {
            factory: Arc::new(move |args: &str| {
                Ok(Box::new(LuaService::new(config.clone(), args)) as Box<dyn Service>)
            }),
            script_host: true,
            ordinary: true,
        },
    );
}

/// One Lua service.
pub struct LuaService {
    config: Arc<LuaConfig>,
    args: String,
    lua: Option<Lua>,
    budget: Option<Budget>,
    shared: Arc<Shared>,
    dispatcher: Option<Arc<Dispatcher>>,
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
        }
    }

    fn boot(&mut self, ctx: &Context) -> Result<(), String> {
        let mut words = self.args.split_whitespace();
        let name = words.next().ok_or("no service name")?.to_string();
        let args: Vec<String> = words.map(str::to_string).collect();
        let (lua, budget) =
            sandbox::new_state(&self.config.sandbox, ctx.clone()).map_err(|e| e.to_string())?;
        let dispatcher = Arc::new(Dispatcher::new(&lua, ctx.clone()).map_err(|e| e.to_string())?);
        let core = api::create(&lua, ctx.clone(), self.shared.clone(), dispatcher.clone())
            .map_err(|e| e.to_string())?;
        let mut lazy: Vec<(String, crate::modules::LazyModule)> = Vec::new();
        let (c, config) = (ctx.clone(), self.config.clone());
        lazy.push((
            crate::sources::MODULE.to_string(),
            Box::new(move |lua| crate::sources::module(lua, &c, &config)),
        ));
        for (name, factory) in &self.config.modules {
            let (c, factory) = (ctx.clone(), factory.clone());
            lazy.push((name.clone(), Box::new(move |lua| factory(lua, &c))));
        }
        crate::modules::install(
            &lua,
            &self.config.lua_path,
            self.config.code.clone(),
            self.config.pins.clone(),
            vec![("skynet.core".to_string(), Value::Table(core))],
            lazy,
        )
        .map_err(|e| e.to_string())?;
        let (path, source) = self
            .config
            .luaservice
            .find(&name)
            .map_err(|e| format!("can't load service {name}: {e}"))?;
        self.config
            .pins
            .check(&format!("service:{name}"), &source)?;
        let env: Table = lua.globals();
        env.set("SERVICE_NAME", name.as_str())
            .map_err(|e| e.to_string())?;
        if let Some(dir) = path.parent() {
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
            let chunk = self.config.code.load(&lua, &path, &source)?;
            let argv: Vec<Value> = args
                .iter()
                .map(|a| lua.create_string(a).map(Value::String))
                .collect::<mlua::Result<_>>()?;
            chunk.call::<()>(MultiValue::from_vec(argv))
        })();
        budget.disarm();
        self.shared.loading.store(false, Ordering::Release);
        result.map_err(|e| e.to_string())?;
        // Loading leaves garbage (compiler temporaries, the chunk's closures
        // that ran once); a service may sit idle for hours, so collect now
        // rather than keep it until the heap doubles.
        let _ = lua.gc_collect();
        let limit = self.shared.memlimit.load(Ordering::Acquire);
        if limit > 0 {
            let _ = lua.set_memory_limit(limit);
        }
        self.lua = Some(lua);
        self.budget = Some(budget);
        self.dispatcher = Some(dispatcher);
        Ok(())
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
        if !errors.is_empty() {
            self.report_error(ctx, &msg, &errors.join("\n"));
            if spent && msg.expects_reply() {
                // The handler was stopped mid-way: its caller gets an error
                // now rather than waiting for a reply that will not come.
                let _ = ctx.reply_error(msg.source, msg.session, Default::default());
            }
        }
        let retire = self.config.sandbox.retire_on_limit;
        if spent {
            ctx.broke_limit("instruction budget", retire);
        } else if out_of_memory {
            ctx.broke_limit("memory limit", retire);
        }
    }

    fn room(&mut self, ctx: &Context, target: skyhold_core::Handle) {
        let (Some(d), Some(budget)) = (self.dispatcher.as_ref(), self.budget.as_ref()) else {
            return;
        };
        let mut errors = Vec::new();
        budget.arm();
        d.room(target, &mut errors);
        budget.disarm();
        if !errors.is_empty() {
            ctx.log(&format!("lua room callback error : {}", errors.join("\n")));
        }
    }
}
