//! skyhold's stand-in for the `lua-src` crate, which `mlua-sys` builds Lua
//! with (`lua_src::Build::new().build(lua_src::Lua54)`).
//!
//! The root `Cargo.toml` puts this crate in `lua-src`'s place through
//! `[patch.crates-io]`. It offers the same interface and compiles Lua the
//! same way (the same defines, flags and library names), from the same
//! sources: those of the real `lua-src` release the build already fetches
//! (a build dependency of this crate). The build script copies them and
//! applies skyhold's patch (`patches/`, explained change by change in
//! `PATCH.md`); no file of Lua's is kept in the repository.
//!
//! Only Lua 5.4 and 5.5 are carried, the versions skyhold supports.

#![forbid(unsafe_code)]

use std::env;
use std::error::Error;
use std::fs;
use std::path::{Path, PathBuf};

pub mod diff;

/// A Lua version.
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Version {
    /// Lua 5.1 (not carried: building it is an error).
    Lua51,
    /// Lua 5.2 (not carried).
    Lua52,
    /// Lua 5.3 (not carried).
    Lua53,
    /// Lua 5.4, patched.
    Lua54,
    /// Lua 5.5, patched.
    Lua55,
}
pub use self::Version::*;

impl Version {
    /// The directory of this version's sources, as the real crate names it.
    fn dir(self) -> Option<&'static str> {
        match self {
            Lua54 => Some("lua-5.4.9"),
            Lua55 => Some("lua-5.5.1"),
            _ => None,
        }
    }

    /// The static library's name.
    fn lib_name(self) -> &'static str {
        match self {
            Lua51 => "lua5.1",
            Lua52 => "lua5.2",
            Lua53 => "lua5.3",
            Lua54 => "lua5.4",
            Lua55 => "lua5.5",
        }
    }
}

/// Where the build script left the patched sources.
const PATCHED: &str = env!("SKYHOLD_LUA_PATCHED");

/// The directory holding `version`'s patched sources.
pub fn patched_sources(version: Version) -> Option<PathBuf> {
    version.dir().map(|d| Path::new(PATCHED).join(d))
}

/// How to build Lua: where to, for which machine, how optimised.
#[derive(Debug, Clone)]
pub struct Build {
    out_dir: Option<PathBuf>,
    target: Option<String>,
    host: Option<String>,
    opt_level: Option<String>,
    debug: Option<bool>,
}

/// What a build made: the headers, and the library to link.
#[derive(Clone, Debug)]
pub struct Artifacts {
    include_dir: PathBuf,
    lib_dir: PathBuf,
    lua_lib: String,
    libs: Vec<String>,
}

impl Default for Build {
    fn default() -> Build {
        Build {
            out_dir: env::var_os("OUT_DIR").map(PathBuf::from),
            target: env::var("TARGET").ok(),
            host: None,
            opt_level: None,
            debug: None,
        }
    }
}

impl Build {
    /// A build configured from the calling build script's environment.
    pub fn new() -> Build {
        Build::default()
    }

    /// Where to put the library and headers (needed outside a build script).
    pub fn out_dir<P: AsRef<Path>>(&mut self, path: P) -> &mut Build {
        self.out_dir = Some(path.as_ref().to_path_buf());
        self
    }

    /// The target triple (needed outside a build script).
    pub fn target(&mut self, target: &str) -> &mut Build {
        self.target = Some(target.to_string());
        self
    }

    /// The host triple (`HOST` by default, else the target).
    pub fn host(&mut self, host: &str) -> &mut Build {
        self.host = Some(host.to_string());
        self
    }

    /// The optimisation level (`OPT_LEVEL` by default).
    pub fn opt_level(&mut self, opt_level: &str) -> &mut Build {
        self.opt_level = Some(opt_level.to_string());
        self
    }

    /// A debug build, with Lua's API checks (`debug_assertions` by default).
    pub fn debug(&mut self, debug: bool) -> &mut Build {
        self.debug = Some(debug);
        self
    }

    /// Builds `version`; panics (failing the calling build script) on error.
    pub fn build(&self, version: Version) -> Artifacts {
        match self.try_build(version) {
            Ok(a) => a,
            Err(e) => panic!("{e}"),
        }
    }

    /// Builds `version`.
    pub fn try_build(&self, version: Version) -> Result<Artifacts, Box<dyn Error>> {
        let target = self.target.as_deref().ok_or("TARGET is not set")?;
        let out_dir = self.out_dir.as_ref().ok_or("OUT_DIR is not set")?;
        let source = patched_sources(version)
            .ok_or_else(|| format!("skyhold's Lua carries 5.4 and 5.5, not {version:?}"))?;
        let lib_dir = out_dir.join("lib");
        let include_dir = out_dir.join("include");
        fs::create_dir_all(&include_dir)
            .map_err(|e| format!("cannot create {}: {e}", include_dir.display()))?;

        let mut cc = cc::Build::new();
        cc.warnings(false).cargo_metadata(false).target(target);
        match &self.host {
            Some(h) => {
                cc.host(h);
            }
            None if env::var("HOST").is_ok() => {}
            None => {
                cc.host(target);
            }
        }
        let lua_lib = version.lib_name().to_string();
        let mut libs = vec![lua_lib.clone()];
        platform_defines(&mut cc, target, &mut libs)?;
        if version == Lua54 {
            cc.define("LUA_COMPAT_5_3", None);
        }
        #[cfg(feature = "ucid")]
        cc.define("LUA_UCID", None);
        // A smaller cache of C strings in every state (PATCH.md, "Build
        // settings"): 848 bytes of each state's `global_State` become 80.
        cc.define("STRCACHE_N", STRCACHE_N);
        cc.define("STRCACHE_M", STRCACHE_M);
        let debug = self.debug.unwrap_or(cfg!(debug_assertions));
        if debug {
            cc.define("LUA_USE_APICHECK", None);
            cc.debug(true);
        }
        match &self.opt_level {
            Some(o) => {
                cc.opt_level_str(o);
            }
            None if env::var("OPT_LEVEL").is_ok() => {}
            None => {
                cc.opt_level(if debug { 0 } else { 2 });
            }
        }
        cc.include(&source).flag_if_supported("-fno-common");
        for entry in fs::read_dir(&source)? {
            let path = entry?.path();
            if path.extension().is_some_and(|e| e == "c") {
                cc.file(path);
            }
        }
        cc.out_dir(&lib_dir).try_compile(&lua_lib)?;
        for h in ["lauxlib.h", "lua.h", "luaconf.h", "lualib.h"] {
            fs::copy(source.join(h), include_dir.join(h))
                .map_err(|e| format!("cannot copy {h}: {e}"))?;
        }
        Ok(Artifacts {
            include_dir,
            lib_dir,
            lua_lib,
            libs,
        })
    }
}

/// Rows of the API's cache of C strings in each state (`STRCACHE_N`, 53 in
/// stock Lua), and entries per row (`STRCACHE_M`, Lua's 2). See PATCH.md.
const STRCACHE_N: &str = "5";
/// See [`STRCACHE_N`].
const STRCACHE_M: &str = "2";

/// The defines for `target`, as the real crate sets them for 5.4 and 5.5.
fn platform_defines(
    cc: &mut cc::Build,
    target: &str,
    libs: &mut Vec<String>,
) -> Result<(), Box<dyn Error>> {
    if target.contains("linux")
        || target.ends_with("bsd")
        || target.contains("netbsd")
        || target.contains("dragonfly")
    {
        cc.define("LUA_USE_LINUX", None);
    } else if target.ends_with("illumos") || target.ends_with("solaris") {
        cc.define("LUA_USE_POSIX", None);
    } else if target.contains("apple-darwin") {
        cc.define("LUA_USE_MACOSX", None);
    } else if target.contains("apple-ios") {
        cc.define("LUA_USE_IOS", None);
    } else if target.contains("windows") {
        cc.define("LUA_USE_WINDOWS", None);
    } else if target.ends_with("emscripten") {
        cc.define("LUA_USE_POSIX", None)
            .flag("-sSUPPORT_LONGJMP=wasm");
    } else if target.contains("wasi") {
        cc.define("LUA_USE_POSIX", None)
            .define("_WASI_EMULATED_SIGNAL", None);
        libs.push("wasi-emulated-signal".to_string());
        for f in [
            "-wasm-enable-eh",
            "-wasm-use-legacy-eh=false",
            "-wasm-enable-sjlj",
        ] {
            cc.flag("-mllvm").flag(f);
        }
        libs.push("setjmp".to_string());
    } else {
        return Err(format!("don't know how to build Lua for {target}").into());
    }
    Ok(())
}

impl Artifacts {
    /// The directory of the Lua headers.
    pub fn include_dir(&self) -> &Path {
        &self.include_dir
    }

    /// The directory of the Lua library.
    pub fn lib_dir(&self) -> &Path {
        &self.lib_dir
    }

    /// The libraries to link.
    pub fn libs(&self) -> &[String] {
        &self.libs
    }

    /// Tells cargo to link the library (for the calling build script).
    pub fn print_cargo_metadata(&self) {
        println!("cargo:rustc-link-search=native={}", self.lib_dir.display());
        println!("cargo:rustc-link-lib=static={}", self.lua_lib);
        for lib in self.libs.iter().filter(|l| **l != self.lua_lib) {
            println!("cargo:rustc-link-lib=static:-bundle={lib}");
        }
        println!("cargo:include={}", self.include_dir.display());
        println!("cargo:lib={}", self.lib_dir.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patched_sources_are_there_for_both_versions() {
        for v in [Lua54, Lua55] {
            let dir = patched_sources(v).unwrap();
            let ldebug = fs::read_to_string(dir.join("ldebug.h")).unwrap();
            assert!(ldebug.contains("LUA_MASKCHECKPOINT"), "{v:?}");
            let lvm = fs::read_to_string(dir.join("lvm.c")).unwrap();
            assert_eq!(lvm.matches("checkpoint(GETARG_Bx(i))").count(), 3, "{v:?}");
        }
        assert!(patched_sources(Lua53).is_none());
    }

    #[test]
    fn versions_that_are_not_carried_are_an_error() {
        let dir = std::env::temp_dir();
        let e = Build::new()
            .out_dir(&dir)
            .target("x86_64-unknown-linux-gnu")
            .try_build(Lua51)
            .unwrap_err();
        assert!(e.to_string().contains("5.4 and 5.5"), "{e}");
    }
}
