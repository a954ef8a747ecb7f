//! Compile each source file once per node.
//!
//! Every service runs its own Lua state, so each needs its own copy of the
//! functions it loads, but parsing `skynet.lua` and friends again for every
//! service made spawning slow. The cache compiles a file's text once, in a
//! private state that runs nothing, and hands each service the compiled
//! form. Only files read from the configured roots go through it, and only
//! the runtime ever produces or loads the compiled form: a service can
//! neither supply precompiled code nor read what the cache holds.

use mlua::chunk::ChunkMode;
use mlua::{Function, Lua, LuaOptions, StdLib};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::SystemTime;

struct Entry {
    modified: Option<SystemTime>,
    len: usize,
    compiled: Arc<Vec<u8>>,
}

/// Compiled files by path.
pub struct CodeCache {
    compiler: Mutex<Lua>,
    entries: Mutex<HashMap<PathBuf, Entry>>,
}

impl std::fmt::Debug for CodeCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CodeCache({} files)", self.entries.lock().len())
    }
}

impl Default for CodeCache {
    fn default() -> Self {
        CodeCache {
            compiler: Mutex::new(
                Lua::new_with(StdLib::NONE, LuaOptions::default()).expect("a bare Lua state"),
            ),
            entries: Mutex::new(HashMap::new()),
        }
    }
}

/// The runtime's own small Lua chunks (sandbox wrappers and the like),
/// compiled once per process by name.
type Compiled = Mutex<HashMap<&'static str, Arc<Vec<u8>>>>;

/// The compiled chunks by name.
static INTERNAL: std::sync::OnceLock<Compiled> = std::sync::OnceLock::new();

/// Chunks loaded (not run) into a state ahead of the boot or `require` that
/// will ask for them, by chunk name, with the compiled form each came from.
#[derive(Default)]
struct Preloaded(Vec<(String, Arc<Vec<u8>>, Function)>);

/// Loads `compiled` into `lua` now and keeps the function for the next
/// [`load_binary`] of the same chunk name and compiled form.
fn preload_binary(lua: &Lua, name: &str, compiled: Arc<Vec<u8>>) -> mlua::Result<()> {
    let f = lua
        .load(compiled.as_slice())
        .set_name(name)
        .set_mode(ChunkMode::Binary)
        .into_function()?;
    if lua.app_data_ref::<Preloaded>().is_none() {
        lua.set_app_data(Preloaded::default());
    }
    if let Some(mut pre) = lua.app_data_mut::<Preloaded>() {
        pre.0.push((name.to_string(), compiled, f));
    }
    Ok(())
}

/// `compiled` loaded into `lua` as the chunk `name`: the function preloaded
/// for it if there is one and it came from this very compiled form (for a
/// file, the file is unchanged since), a fresh load otherwise.
fn load_binary(lua: &Lua, name: &str, compiled: &Arc<Vec<u8>>) -> mlua::Result<Function> {
    let preloaded = lua.app_data_mut::<Preloaded>().and_then(|mut pre| {
        let i = pre.0.iter().position(|(n, _, _)| n == name)?;
        let (_, bytes, f) = pre.0.swap_remove(i);
        Arc::ptr_eq(&bytes, compiled).then_some(f)
    });
    match preloaded {
        Some(f) => Ok(f),
        None => lua
            .load(compiled.as_slice())
            .set_name(name)
            .set_mode(ChunkMode::Binary)
            .into_function(),
    }
}

/// Drops what was preloaded into `lua` and not asked for.
pub fn forget_preloaded(lua: &Lua) {
    let _ = lua.remove_app_data::<Preloaded>();
}

/// Preloads the runtime's chunks `names` into `lua` (those of them compiled
/// already), for [`internal`] to take later instead of loading them again.
pub fn preload_internal(lua: &Lua, names: &[&'static str]) -> mlua::Result<()> {
    let cache = INTERNAL.get_or_init(|| Mutex::new(HashMap::new()));
    let compiled: Vec<(&'static str, Arc<Vec<u8>>)> = {
        let c = cache.lock();
        names
            .iter()
            .filter_map(|n| c.get(n).map(|b| (*n, b.clone())))
            .collect()
    };
    for (name, bytes) in compiled {
        preload_binary(lua, name, bytes)?;
    }
    Ok(())
}

/// Loads one of the runtime's own chunks, `text`, named `name`, compiling it
/// on first use only.
pub fn internal(lua: &Lua, name: &'static str, text: &'static str) -> mlua::Result<Function> {
    let cache = INTERNAL.get_or_init(|| Mutex::new(HashMap::new()));
    let compiled = cache.lock().get(name).cloned();
    let compiled = match compiled {
        Some(c) => c,
        None => {
            let compiler = Lua::new_with(StdLib::NONE, LuaOptions::default())?;
            let f = compiler
                .load(text)
                .set_name(name)
                .set_mode(ChunkMode::Text)
                .into_function()?;
            let c = Arc::new(f.dump(false));
            cache.lock().insert(name, c.clone());
            c
        }
    };
    load_binary(lua, name, &compiled)
}

impl CodeCache {
    /// Loads `path` (text `source`) into `lua` now, for a later
    /// [`CodeCache::load`] of the same file to take instead of loading it
    /// again. Loading runs none of the chunk: it only makes the function.
    /// The pool of warm states does this off the boot's critical path.
    pub fn preload(&self, lua: &Lua, path: &Path, source: &[u8]) -> mlua::Result<()> {
        let (name, compiled) = self.compiled(path, source)?;
        preload_binary(lua, &name, compiled)
    }

    /// Loads the text `source` of `path` into `lua` as a function.
    pub fn load(&self, lua: &Lua, path: &Path, source: &[u8]) -> mlua::Result<Function> {
        let (name, compiled) = self.compiled(path, source)?;
        load_binary(lua, &name, &compiled)
    }

    /// The chunk name of `path` and its compiled form, compiled now unless
    /// the cache holds it for the file as it is.
    fn compiled(&self, path: &Path, source: &[u8]) -> mlua::Result<(String, Arc<Vec<u8>>)> {
        let name = format!("@{}", path.display());
        let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
        let cached = {
            let entries = self.entries.lock();
            entries
                .get(path)
                .filter(|e| e.modified == modified && modified.is_some() && e.len == source.len())
                .map(|e| e.compiled.clone())
        };
        if let Some(c) = cached {
            return Ok((name, c));
        }
        let bytes = {
            let compiler = self.compiler.lock();
            let f = compiler
                .load(source)
                .set_name(name.as_str())
                .set_mode(ChunkMode::Text)
                .into_function()?;
            Arc::new(f.dump(false))
        };
        self.entries.lock().insert(
            path.to_path_buf(),
            Entry {
                modified,
                len: source.len(),
                compiled: bytes.clone(),
            },
        );
        Ok((name, bytes))
    }

    /// The text of `path`, if this cache compiled it (so the runtime found
    /// it on a configured, confined path) and it still has the size and
    /// modification time it had then; `None` otherwise.
    pub fn loaded_text(&self, path: &Path) -> Option<Vec<u8>> {
        let (modified, len) = {
            let entries = self.entries.lock();
            let e = entries.get(path)?;
            (e.modified?, e.len)
        };
        let meta = std::fs::metadata(path).ok()?;
        if !meta.is_file() || meta.len() != len as u64 || meta.modified().ok()? != modified {
            return None;
        }
        let bytes = std::fs::read(path).ok()?;
        (bytes.len() == len && bytes.first() != Some(&0x1b)).then_some(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("skyhold-codecache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn a_preloaded_chunk_is_what_the_load_gets_and_runs_only_then() {
        let cache = CodeCache::default();
        let lua = Lua::new();
        let path = file("counted.lua", "RUNS = (RUNS or 0) + 1 return RUNS");
        cache
            .preload(&lua, &path, &std::fs::read(&path).unwrap())
            .unwrap();
        assert!(lua.globals().get::<Option<i64>>("RUNS").unwrap().is_none());
        let f = cache
            .load(&lua, &path, &std::fs::read(&path).unwrap())
            .unwrap();
        assert_eq!(f.call::<i64>(()).unwrap(), 1);
        // Taken once: the next load is a load of its own.
        let g = cache
            .load(&lua, &path, &std::fs::read(&path).unwrap())
            .unwrap();
        assert_eq!(g.call::<i64>(()).unwrap(), 2);
    }

    #[test]
    fn a_file_changed_after_preloading_is_loaded_as_it_is_now() {
        let cache = CodeCache::default();
        let lua = Lua::new();
        let path = file("changing.lua", "return 'old'");
        cache
            .preload(&lua, &path, &std::fs::read(&path).unwrap())
            .unwrap();
        std::fs::write(&path, "return 'the new one'").unwrap();
        let f = cache
            .load(&lua, &path, &std::fs::read(&path).unwrap())
            .unwrap();
        assert_eq!(f.call::<String>(()).unwrap(), "the new one");
    }

    #[test]
    fn a_preloaded_runtime_chunk_is_taken_once() {
        const TEXT: &str = "COUNT = (COUNT or 0) + 1";
        let lua = Lua::new();
        // Not compiled yet: nothing to preload.
        preload_internal(&lua, &["=test-preload"]).unwrap();
        assert!(lua.app_data_ref::<Preloaded>().is_none());
        internal(&lua, "=test-preload", TEXT).unwrap();
        let other = Lua::new();
        preload_internal(&other, &["=test-preload"]).unwrap();
        assert_eq!(other.app_data_ref::<Preloaded>().unwrap().0.len(), 1);
        internal(&other, "=test-preload", TEXT)
            .unwrap()
            .call::<()>(())
            .unwrap();
        assert!(other.app_data_ref::<Preloaded>().unwrap().0.is_empty());
        assert_eq!(other.globals().get::<i64>("COUNT").unwrap(), 1);
    }

    #[test]
    fn forgetting_drops_what_was_not_asked_for() {
        let cache = CodeCache::default();
        let lua = Lua::new();
        let path = file("unasked.lua", "return 1");
        cache
            .preload(&lua, &path, &std::fs::read(&path).unwrap())
            .unwrap();
        forget_preloaded(&lua);
        assert!(lua.app_data_ref::<Preloaded>().is_none());
    }
}
