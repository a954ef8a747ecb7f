//! Pinning: a manifest of module → SHA-256, so that only the code the
//! operator deployed runs. A module whose bytes differ from its pin is
//! refused with an error naming it and both hashes; in strict mode, a
//! module without a pin is refused too.
//!
//! The manifest has one `name hex-sha256` per line (`#` starts a comment).
//! Modules are named as `require` names them (`skynet.manager`); service
//! scripts as `service:NAME` (`service:agent`).

use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt::Write;
use std::path::Path;

/// The pins in force.
#[derive(Clone, Debug, Default)]
pub struct Pins {
    pins: HashMap<String, String>,
    strict: bool,
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// The SHA-256 of `bytes`, in hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

impl Pins {
    /// No pins: everything found in the roots loads.
    pub fn none() -> Pins {
        Pins::default()
    }

    /// Parses a manifest.
    pub fn parse(text: &str, strict: bool) -> Result<Pins, String> {
        let mut pins = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut parts = line.split_whitespace();
            let (Some(name), Some(hash), None) = (parts.next(), parts.next(), parts.next()) else {
                return Err(format!(
                    "pin manifest line {}: expected 'name sha256'",
                    n + 1
                ));
            };
            if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(format!(
                    "pin manifest line {}: '{hash}' is not a SHA-256 in hex",
                    n + 1
                ));
            }
            pins.insert(name.to_string(), hash.to_ascii_lowercase());
        }
        Ok(Pins { pins, strict })
    }

    /// Reads a manifest file.
    pub fn load(path: &Path, strict: bool) -> Result<Pins, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("pin manifest {}: {e}", path.display()))?;
        Pins::parse(&text, strict)
    }

    /// Checks the bytes of module `name`.
    pub fn check(&self, name: &str, bytes: &[u8]) -> Result<(), String> {
        if self.pins.is_empty() && !self.strict {
            return Ok(());
        }
        match self.pins.get(name) {
            Some(want) => {
                let got = sha256_hex(bytes);
                if &got == want {
                    Ok(())
                } else {
                    Err(format!(
                        "module '{name}' does not match its pin: expected sha256 {want}, found {got}"
                    ))
                }
            }
            None if self.strict => Err(format!("module '{name}' has no pin and pinning is strict")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_check_bytes() {
        let good = sha256_hex(b"return 1");
        let p = Pins::parse(&format!("# deployed\nmod.a {good}\n"), false).unwrap();
        assert!(p.check("mod.a", b"return 1").is_ok());
        let e = p.check("mod.a", b"return 2").unwrap_err();
        assert!(e.contains("mod.a") && e.contains(&good), "{e}");
        assert!(p.check("other", b"x").is_ok());
        let strict = Pins::parse(&format!("mod.a {good}"), true).unwrap();
        assert!(strict.check("other", b"x").unwrap_err().contains("no pin"));
        assert!(Pins::parse("mod.a zz", false).is_err());
        assert!(Pins::parse("just-a-name", false).is_err());
    }
}
