//! skynet's config file: Lua source whose globals become the node's
//! environment, every value a string.
//!
//! `$NAME` is replaced by the OS environment variable `NAME` before the file
//! runs (a missing one is an error naming it); `include "path"` runs another
//! file (relative to the including one) into the same table. The file runs in
//! a state with no libraries, so a config can compute values but cannot
//! touch files or the process.

use mlua::{chunk::ChunkMode, Lua, LuaOptions, StdLib, Table, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// How deep includes may nest (catches include loops).
const MAX_INCLUDE_DEPTH: usize = 16;

/// Why a config could not be read.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// Replaces `$NAME` with environment variables.
pub fn substitute_env(
    text: &str,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<String, ConfigError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let n = after
            .bytes()
            .take_while(|b| b.is_ascii_alphanumeric() || *b == b'_')
            .count();
        if n == 0 {
            out.push('$');
            rest = after;
            continue;
        }
        let name = &after[..n];
        let value = lookup(name).ok_or_else(|| {
            ConfigError(format!("config: environment variable ${name} is not set"))
        })?;
        out.push_str(&value);
        rest = &after[n..];
    }
    out.push_str(rest);
    Ok(out)
}

fn run_file(lua: &Lua, env: &Table, path: &Path, depth: usize) -> Result<(), ConfigError> {
    if depth > MAX_INCLUDE_DEPTH {
        return Err(ConfigError(format!(
            "config: includes nested deeper than {MAX_INCLUDE_DEPTH} at {} (an include loop?)",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("config: can't read {}: {e}", path.display())))?;
    let text = substitute_env(&text, |k| std::env::var(k).ok())?;
    let dir = path
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."));
    let include_env = env.clone();
    let include = lua
        .create_function(move |lua, file: String| {
            let p = dir.join(&file);
            run_file(lua, &include_env, &p, depth + 1).map_err(|e| mlua::Error::runtime(e.0))
        })
        .map_err(|e| ConfigError(e.to_string()))?;
    env.raw_set("include", include)
        .map_err(|e| ConfigError(e.to_string()))?;
    lua.load(text.as_str())
        .set_name(format!("@{}", path.display()))
        .set_mode(ChunkMode::Text)
        .set_environment(env.clone())
        .exec()
        .map_err(|e| ConfigError(format!("config: {e}")))
}

/// Reads a config file into `key → string`.
pub fn load(path: &Path) -> Result<BTreeMap<String, String>, ConfigError> {
    let lua = Lua::new_with(StdLib::NONE, LuaOptions::default())
        .map_err(|e| ConfigError(e.to_string()))?;
    lua.set_memory_limit(16 << 20)
        .map_err(|e| ConfigError(e.to_string()))?;
    let env = lua.create_table().map_err(|e| ConfigError(e.to_string()))?;
    run_file(&lua, &env, path, 0)?;
    let mut out = BTreeMap::new();
    for pair in env.pairs::<Value, Value>() {
        let (k, v) = pair.map_err(|e| ConfigError(e.to_string()))?;
        let Value::String(k) = k else { continue };
        let key = k.to_string_lossy();
        if key == "include" {
            continue;
        }
        let value = match v {
            Value::String(s) => s.to_string_lossy(),
            Value::Boolean(b) => b.to_string(),
            Value::Integer(i) => i.to_string(),
            Value::Number(n) => {
                if n.fract() == 0.0 && n.abs() < 1e15 {
                    format!("{n:.1}")
                } else {
                    n.to_string()
                }
            }
            Value::Table(_) => return Err(ConfigError(format!("Invalid config table {key}"))),
            other => {
                return Err(ConfigError(format!(
                    "config key {key}: a {} can't be a config value",
                    other.type_name()
                )))
            }
        };
        out.insert(key, value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_substitution() {
        let f = |k: &str| (k == "HOME").then(|| "/root".to_string());
        assert_eq!(substitute_env("a=$HOME/x", f).unwrap(), "a=/root/x");
        assert_eq!(substitute_env("cost $ 5", f).unwrap(), "cost $ 5");
        let e = substitute_env("$NOPE", f).unwrap_err();
        assert!(e.0.contains("$NOPE"));
    }

    #[test]
    fn loads_values_as_strings_with_includes() {
        let dir = std::env::temp_dir().join(format!("skyhold-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("common.lua"), "root = './'\nthread = 4\n").unwrap();
        std::fs::write(
            dir.join("config"),
            "include 'common.lua'\nstart = 'main'\nharbor = 0\ndaemon = false\nratio = 1.5\nluaservice = root .. 'service/?.lua'\n",
        )
        .unwrap();
        let c = load(&dir.join("config")).unwrap();
        assert_eq!(c["thread"], "4");
        assert_eq!(c["harbor"], "0");
        assert_eq!(c["daemon"], "false");
        assert_eq!(c["ratio"], "1.5");
        assert_eq!(c["luaservice"], "./service/?.lua");
        assert!(!c.contains_key("include"));
        std::fs::write(dir.join("bad"), "t = {}\n").unwrap();
        assert!(load(&dir.join("bad"))
            .unwrap_err()
            .0
            .contains("Invalid config table t"));
        std::fs::write(dir.join("loop"), "include 'loop'\n").unwrap();
        assert!(load(&dir.join("loop"))
            .unwrap_err()
            .0
            .contains("include loop"));
        std::fs::remove_dir_all(&dir).ok();
    }
}
