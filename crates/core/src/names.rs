//! Local names with owners.
//!
//! A name belongs to the service it names. Registering a taken name fails
//! with an error naming the holder; binding a name to another service,
//! taking a name over, or taking a name the policy reserves for another
//! script needs a grant. Names die with the service they name.

use parking_lot::RwLock;
use std::collections::HashMap;
use std::fmt;

use crate::handle::{Handle, ServiceId};

/// Why a name could not be registered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NameError {
    /// Empty, too long, or with characters a name cannot have.
    Invalid {
        /// The name.
        name: String,
        /// What is wrong with it.
        why: String,
    },
    /// Another service holds it.
    Taken {
        /// The name.
        name: String,
        /// The service it names now.
        holder: Handle,
    },
    /// The owner has as many names as it may.
    TooMany {
        /// The limit (`max_names`).
        limit: usize,
    },
    /// The policy does not allow it (the audit log has the details).
    Denied {
        /// The name.
        name: String,
        /// What was missing.
        why: String,
    },
}

impl fmt::Display for NameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameError::Invalid { name, why } => write!(f, "invalid name '{name}': {why}"),
            NameError::Taken { name, holder } => {
                write!(f, "name '{name}' is already registered by {holder}")
            }
            NameError::TooMany { limit } => {
                write!(
                    f,
                    "too many names: a service may own at most {limit} (config max_names)"
                )
            }
            NameError::Denied { name, why } => write!(f, "may not register '{name}': {why}"),
        }
    }
}

impl std::error::Error for NameError {}

#[derive(Clone, Copy, Debug)]
struct Entry {
    target: ServiceId,
    owner: ServiceId,
}

/// The name table.
#[derive(Default)]
pub struct Names {
    map: RwLock<HashMap<String, Entry>>,
}

/// Checks a name's form: local names start with `.`; other names (skynet's
/// global names, local-only here) are shorter than 16 bytes and not numeric.
pub fn validate(name: &str, max_len: usize) -> Result<(), NameError> {
    let bad = |why: &str| {
        Err(NameError::Invalid {
            name: name.chars().take(80).collect(),
            why: why.to_string(),
        })
    };
    if name.is_empty() || name == "." {
        return bad("empty");
    }
    if name.len() > max_len {
        return bad(&format!(
            "longer than {max_len} bytes (config max_name_length)"
        ));
    }
    if !name.bytes().all(|b| b.is_ascii_graphic()) {
        return bad("only printable ASCII without spaces is allowed");
    }
    if name.starts_with(':') {
        return bad("':' starts an address, not a name");
    }
    if !name.starts_with('.') {
        if name.len() >= 16 {
            return bad("a global name must be shorter than 16 bytes");
        }
        if name.bytes().all(|b| b.is_ascii_digit()) {
            return bad("a global name must not be a number");
        }
    }
    Ok(())
}

impl Names {
    /// The service a name points to.
    pub fn lookup(&self, name: &str) -> Option<ServiceId> {
        self.map.read().get(name).map(|e| e.target)
    }

    /// Binds `name` to `target` on behalf of `owner`. The caller has already
    /// checked the policy; `takeover` says whether a taken name may be rebound.
    /// `owned_by` counts the names the owner holds now.
    pub fn bind(
        &self,
        name: &str,
        target: ServiceId,
        owner: ServiceId,
        takeover: bool,
        max_names: usize,
        owned_by: usize,
    ) -> Result<Option<ServiceId>, NameError> {
        let mut map = self.map.write();
        let previous = map.get(name).copied();
        if let Some(e) = previous {
            if e.target == target && e.owner == owner {
                return Ok(None);
            }
            if !takeover {
                return Err(NameError::Taken {
                    name: name.to_string(),
                    holder: e.target.handle,
                });
            }
        }
        if owned_by >= max_names {
            return Err(NameError::TooMany { limit: max_names });
        }
        map.insert(name.to_string(), Entry { target, owner });
        Ok(previous.map(|e| e.owner))
    }

    /// Removes `name` if it is bound to `target` or owned by `owner`.
    pub fn release(&self, name: &str, id: ServiceId) {
        let mut map = self.map.write();
        if let Some(e) = map.get(name) {
            if e.target == id || e.owner == id {
                map.remove(name);
            }
        }
    }

    /// Every name pointing to `target`.
    pub fn names_of(&self, target: Handle) -> Vec<String> {
        let mut v: Vec<String> = self
            .map
            .read()
            .iter()
            .filter(|(_, e)| e.target.handle == target)
            .map(|(n, _)| n.clone())
            .collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(h: u32, g: u64) -> ServiceId {
        ServiceId {
            handle: Handle(h),
            generation: g,
        }
    }

    #[test]
    fn names_are_validated() {
        assert!(validate(".launcher", 64).is_ok());
        assert!(validate("DATACENTER", 64).is_ok());
        assert!(validate("", 64).is_err());
        assert!(validate(".", 64).is_err());
        assert!(validate(".a b", 64).is_err());
        assert!(validate(":0000000a", 64).is_err());
        assert!(validate("12345", 64).is_err());
        assert!(validate("averyveryverylongglobalname", 64).is_err());
        assert!(validate(&format!(".{}", "x".repeat(64)), 64).is_err());
    }

    #[test]
    fn a_taken_name_is_refused_with_its_holder() {
        let n = Names::default();
        assert_eq!(n.bind(".db", id(1, 1), id(1, 1), false, 16, 0), Ok(None));
        assert_eq!(
            n.bind(".db", id(2, 2), id(2, 2), false, 16, 0),
            Err(NameError::Taken {
                name: ".db".into(),
                holder: Handle(1)
            })
        );
        assert_eq!(n.lookup(".db"), Some(id(1, 1)));
    }

    #[test]
    fn takeover_rebinds_and_reports_the_previous_owner() {
        let n = Names::default();
        n.bind(".db", id(1, 1), id(1, 1), false, 16, 0).unwrap();
        assert_eq!(
            n.bind(".db", id(2, 2), id(2, 2), true, 16, 0),
            Ok(Some(id(1, 1)))
        );
        assert_eq!(n.lookup(".db"), Some(id(2, 2)));
    }

    #[test]
    fn release_only_by_owner_or_target() {
        let n = Names::default();
        n.bind(".x", id(1, 1), id(3, 3), false, 16, 0).unwrap();
        n.release(".x", id(2, 2));
        assert!(n.lookup(".x").is_some());
        n.release(".x", id(3, 3));
        assert!(n.lookup(".x").is_none());
    }

    #[test]
    fn the_name_count_is_bounded() {
        let n = Names::default();
        assert_eq!(
            n.bind(".a", id(1, 1), id(1, 1), false, 2, 2),
            Err(NameError::TooMany { limit: 2 })
        );
    }
}
