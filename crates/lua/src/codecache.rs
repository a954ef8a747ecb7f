//! Compile each source file once per node.
//!
//! Every service runs its own Lua state, so each needs its own copy of the
//! functions it loads, but parsing `skynet.lua` and friends again for every
//! service made spawning slow. The cache compiles a file's text once, in a
//! private state that runs nothing, and hands each service the compiled
//! form. Only files read from the configured roots go through it, and only
//! the runtime ever produces or loads the compiled form: a service can
//! neither supply precompiled code nor read what the cache holds.
//!
//! It also keeps what each search found ([`CodeCache::find`]): a boot looks
//! up its service and `require`s its modules, and checking and reading a
//! file again (a dozen system calls: resolving every directory of its path
//! and of its root, opening and reading it) costs more than the boot's own
//! setup. A file found before is taken again after one look at its identity.

use mlua::chunk::ChunkMode;
use mlua::{Function, Lua, LuaOptions, StdLib};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::paths::{FileId, Found, LookupError, SearchPath};

struct Entry {
    id: Option<FileId>,
    len: usize,
    compiled: Arc<Vec<u8>>,
}

/// What the searches of one search path found, by name: `[0]` for names
/// taken as they are, `[1]` for names whose dots stand for directories.
type Finds = [HashMap<String, Found>; 2];

/// Compiled files by path, and the files searches found.
pub struct CodeCache {
    compiler: Mutex<Lua>,
    entries: Mutex<HashMap<PathBuf, Entry>>,
    finds: Mutex<HashMap<Vec<String>, Finds>>,
    /// Directories of the runtime's own Lua library: what is compiled from
    /// them goes to services without variable names
    /// ([`crate::strip_names`]). Everything else keeps its full debug information,
    /// so errors in a service's own code still name its locals.
    library: Vec<PathBuf>,
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
            finds: Mutex::new(HashMap::new()),
            library: Vec::new(),
        }
    }
}

/// `f` compiled for services: without variable names when `lean`
/// and the reader understands the dump, whole otherwise.
fn dump(f: &Function, lean: bool) -> Vec<u8> {
    let whole = f.dump(false);
    if lean {
        if let Some(smaller) = crate::strip_names::without_local_names(&whole) {
            return smaller;
        }
    }
    whole
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
    let f = load_compiled(lua, name, &compiled)?;
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
        None => load_compiled(lua, name, compiled),
    }
}

/// `compiled` loaded into `lua`: a new closure over the prototypes the
/// process shares for it ([`crate::shared_code`]) when there are some and
/// `lua` can reach them, its own copy undumped from `compiled` otherwise.
fn load_compiled(lua: &Lua, name: &str, compiled: &Arc<Vec<u8>>) -> mlua::Result<Function> {
    if let Some(f) = crate::shared_code::load(lua, name, compiled) {
        return Ok(f);
    }
    lua.load(compiled.as_slice())
        .set_name(name)
        .set_mode(ChunkMode::Binary)
        .into_function()
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
    let compiled = compile_internal(name, text)?;
    load_binary(lua, name, &compiled)
}

/// The compiled form of one of the runtime's own chunks, compiled now if
/// it was not yet.
pub(crate) fn compile_internal(
    name: &'static str,
    text: &'static str,
) -> mlua::Result<Arc<Vec<u8>>> {
    let cache = INTERNAL.get_or_init(|| Mutex::new(HashMap::new()));
    let compiled = cache.lock().get(name).cloned();
    match compiled {
        Some(c) => Ok(c),
        None => {
            let compiler = Lua::new_with(StdLib::NONE, LuaOptions::default())?;
            let f = compiler
                .load(text)
                .set_name(name)
                .set_mode(ChunkMode::Text)
                .into_function()?;
            let c = Arc::new(dump(&f, true));
            cache.lock().insert(name, c.clone());
            Ok(c)
        }
    }
}

/// Every runtime chunk compiled so far, by name.
pub(crate) fn internal_compiled() -> Vec<(&'static str, Arc<Vec<u8>>)> {
    let cache = INTERNAL.get_or_init(|| Mutex::new(HashMap::new()));
    let mut all: Vec<_> = cache.lock().iter().map(|(n, c)| (*n, c.clone())).collect();
    all.sort_by_key(|(n, _)| *n);
    all
}

impl CodeCache {
    /// A cache that compiles the files under `library` (the runtime's own
    /// `lualib/` and `service/`) without variable names.
    pub fn with_library(library: Vec<PathBuf>) -> CodeCache {
        CodeCache {
            library,
            ..CodeCache::default()
        }
    }

    /// What `search` finds for `name` ([`SearchPath::lookup`]): the file
    /// found last time if a lookup now would find it again unchanged
    /// ([`SearchPath::still_finds`]), a fresh lookup otherwise. Failed
    /// lookups are not kept.
    pub fn find(
        &self,
        search: &SearchPath,
        name: &str,
        dots_are_dirs: bool,
    ) -> Result<Found, LookupError> {
        let slot = usize::from(dots_are_dirs);
        let known = self
            .finds
            .lock()
            .get(search.templates())
            .and_then(|finds| finds[slot].get(name).cloned());
        if let Some(found) = known {
            if search.still_finds(name, dots_are_dirs, &found) {
                return Ok(found);
            }
        }
        let found = search.lookup(name, dots_are_dirs)?;
        self.finds
            .lock()
            .entry(search.templates().to_vec())
            .or_default()[slot]
            .insert(name.to_string(), found.clone());
        Ok(found)
    }

    /// Loads a file [`CodeCache::find`] found into `lua` now, for a later
    /// load of the same file to take instead of loading it again. Loading
    /// runs none of the chunk: it only makes the function. The pool of warm
    /// states does this off the boot's critical path.
    pub fn preload_found(&self, lua: &Lua, found: &Found) -> mlua::Result<()> {
        let (name, compiled) = self.compiled(&found.path, &found.text, Some(found.id))?;
        preload_binary(lua, &name, compiled)
    }

    /// Loads the text `source` of `path` into `lua` as a function.
    pub fn load(&self, lua: &Lua, path: &Path, source: &[u8]) -> mlua::Result<Function> {
        let (name, compiled) = self.compiled(path, source, FileId::read(path))?;
        load_binary(lua, &name, &compiled)
    }

    /// The chunk name and compiled form of a file [`CodeCache::find`]
    /// found, compiled now unless the cache holds it.
    pub fn compiled_found(&self, found: &Found) -> mlua::Result<(String, Arc<Vec<u8>>)> {
        self.compiled(&found.path, &found.text, Some(found.id))
    }

    /// [`CodeCache::load`] of a file [`CodeCache::find`] found.
    pub fn load_found(&self, lua: &Lua, found: &Found) -> mlua::Result<Function> {
        let (name, compiled) = self.compiled(&found.path, &found.text, Some(found.id))?;
        load_binary(lua, &name, &compiled)
    }

    /// The chunk name of `path` and its compiled form, compiled now unless
    /// the cache holds it for the file as it is (`id`, when the file had
    /// one as `source` was read).
    fn compiled(
        &self,
        path: &Path,
        source: &[u8],
        id: Option<FileId>,
    ) -> mlua::Result<(String, Arc<Vec<u8>>)> {
        let name = format!("@{}", path.display());
        let cached = {
            let entries = self.entries.lock();
            entries
                .get(path)
                .filter(|e| e.id == id && id.is_some() && e.len == source.len())
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
            Arc::new(dump(&f, self.library.iter().any(|d| path.starts_with(d))))
        };
        self.entries.lock().insert(
            path.to_path_buf(),
            Entry {
                id,
                len: source.len(),
                compiled: bytes.clone(),
            },
        );
        Ok((name, bytes))
    }

    /// Forgets every compiled file and every search's result
    /// (`skynet.codecache.clear`): the next load of each file reads and
    /// compiles it again.
    pub fn clear(&self) {
        self.entries.lock().clear();
        self.finds.lock().clear();
    }

    /// The text of `path`, if this cache compiled it (so the runtime found
    /// it on a configured, confined path) and it still has the size and
    /// modification time it had then; `None` otherwise.
    pub fn loaded_text(&self, path: &Path) -> Option<Vec<u8>> {
        let (id, len) = {
            let entries = self.entries.lock();
            let e = entries.get(path)?;
            (e.id?, e.len)
        };
        let meta = std::fs::metadata(path).ok()?;
        if !meta.is_file() || meta.len() != len as u64 || FileId::of(&meta) != id {
            return None;
        }
        let bytes = std::fs::read(path).ok()?;
        (bytes.len() == len && bytes.first() != Some(&0x1b)).then_some(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `cache` finds for the file `path` that [`file`] wrote.
    fn found(cache: &CodeCache, path: &Path) -> Found {
        let dir = path.parent().unwrap().display();
        let name = path.file_stem().unwrap().to_str().unwrap();
        cache
            .find(&SearchPath::parse(&format!("{dir}/?.lua")), name, false)
            .unwrap()
    }

    fn file(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("skyhold-codecache-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A fresh directory for one test, and a search path over it.
    fn search_dir(test: &str, templates: &[&str]) -> (PathBuf, SearchPath) {
        let dir = std::env::temp_dir().join(format!("skyhold-finds-{}-{test}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let spec: Vec<String> = templates
            .iter()
            .map(|t| format!("{}/{t}", dir.display()))
            .collect();
        (dir, SearchPath::parse(&spec.join(";")))
    }

    #[test]
    fn a_found_file_is_taken_again_until_it_changes() {
        let (dir, search) = search_dir("again", &["?.lua"]);
        std::fs::write(dir.join("m.lua"), "return 1").unwrap();
        let cache = CodeCache::default();
        let first = cache.find(&search, "m", true).unwrap();
        let again = cache.find(&search, "m", true).unwrap();
        assert!(Arc::ptr_eq(&first.text, &again.text), "not read again");
        std::fs::write(dir.join("m.lua"), "return 'changed'").unwrap();
        let changed = cache.find(&search, "m", true).unwrap();
        assert_eq!(&*changed.text, b"return 'changed'");
    }

    #[test]
    fn a_file_that_appears_under_an_earlier_template_is_found_instead() {
        let (dir, search) = search_dir("earlier", &["a/?.lua", "b/?.lua"]);
        std::fs::create_dir_all(dir.join("a")).unwrap();
        std::fs::create_dir_all(dir.join("b")).unwrap();
        std::fs::write(dir.join("b/m.lua"), "return 'b'").unwrap();
        let cache = CodeCache::default();
        assert_eq!(
            &*cache.find(&search, "m", false).unwrap().text,
            b"return 'b'"
        );
        std::fs::write(dir.join("a/m.lua"), "return 'a'").unwrap();
        assert_eq!(
            &*cache.find(&search, "m", false).unwrap().text,
            b"return 'a'"
        );
    }

    #[test]
    fn a_found_file_replaced_by_a_link_out_of_its_directory_is_refused() {
        let (dir, search) = search_dir("escape", &["lib/?.lua"]);
        std::fs::create_dir_all(dir.join("lib")).unwrap();
        std::fs::write(dir.join("lib/m.lua"), "return 'inside'").unwrap();
        std::fs::write(dir.join("secret.lua"), "return 'outside'").unwrap();
        let cache = CodeCache::default();
        cache.find(&search, "m", false).unwrap();
        std::fs::remove_file(dir.join("lib/m.lua")).unwrap();
        std::os::unix::fs::symlink(dir.join("secret.lua"), dir.join("lib/m.lua")).unwrap();
        match cache.find(&search, "m", false) {
            Err(LookupError::Refused { why, .. }) => assert!(why.contains("outside"), "{why}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_found_file_that_is_gone_is_not_found() {
        let (dir, search) = search_dir("gone", &["?.lua"]);
        std::fs::write(dir.join("m.lua"), "return 1").unwrap();
        let cache = CodeCache::default();
        cache.find(&search, "m", false).unwrap();
        std::fs::remove_file(dir.join("m.lua")).unwrap();
        assert!(matches!(
            cache.find(&search, "m", false),
            Err(LookupError::NotFound(_))
        ));
    }

    #[cfg(not(feature = "lua55"))]
    #[test]
    fn only_the_runtime_library_loses_its_local_names() {
        const TEXT: &str = "local t = {} return function() local field = t.x return field.y end";
        let (dir, _) = search_dir("library", &["?.lua"]);
        std::fs::create_dir_all(dir.join("lualib")).unwrap();
        let ours = dir.join("lualib/ours.lua");
        let theirs = dir.join("theirs.lua");
        std::fs::write(&ours, TEXT).unwrap();
        std::fs::write(&theirs, TEXT).unwrap();
        let cache = CodeCache::with_library(vec![dir.join("lualib")]);
        let lua = Lua::new();
        let error = |path: &Path| {
            let f = cache.load(&lua, path, TEXT.as_bytes()).unwrap();
            let g: Function = f.call(()).unwrap();
            g.call::<()>(()).unwrap_err().to_string()
        };
        let (ours, theirs) = (error(&ours), error(&theirs));
        assert!(
            theirs.contains("theirs.lua:1:") && theirs.contains("local 'field'"),
            "{theirs}"
        );
        assert!(
            ours.contains("ours.lua:1:") && !ours.contains("'field'"),
            "{ours}"
        );
    }

    #[test]
    fn a_preloaded_chunk_is_what_the_load_gets_and_runs_only_then() {
        let cache = CodeCache::default();
        let lua = Lua::new();
        let path = file("counted.lua", "RUNS = (RUNS or 0) + 1 return RUNS");
        cache.preload_found(&lua, &found(&cache, &path)).unwrap();
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
        cache.preload_found(&lua, &found(&cache, &path)).unwrap();
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
        cache.preload_found(&lua, &found(&cache, &path)).unwrap();
        forget_preloaded(&lua);
        assert!(lua.app_data_ref::<Preloaded>().is_none());
    }
}
