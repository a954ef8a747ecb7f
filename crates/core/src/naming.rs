//! Binding names through the policy: who may name whom, reserved names,
//! takeovers; the name table itself is `names`.

use std::sync::Arc;

use crate::handle::Handle;
use crate::names::{self, NameError};
use crate::policy::Grant;
use crate::state::{Cell, NodeInner};

impl NodeInner {
    /// Binds `name` to `target` as `from` asks, if the policy lets it.
    pub fn bind_name(&self, from: &Arc<Cell>, name: &str, target: Handle) -> Result<(), NameError> {
        names::validate(name, self.limits.max_name_length)?;
        let denied = |why: &str| NameError::Denied {
            name: name.to_string(),
            why: why.to_string(),
        };
        let target_cell = if target == from.handle() {
            from.clone()
        } else {
            if !self.check(from, Grant::NameOther, &format!("{name} -> {target}")) {
                return Err(denied(
                    "binding a name to another service needs the name_other grant",
                ));
            }
            self.registry
                .get(target)
                .ok_or_else(|| denied("no such service"))?
        };
        let mut takeover = from.identity.has(Grant::NameTakeover);
        if let Some(reserved) = self.policy.reserved_for(name) {
            if *reserved != target_cell.identity.subject && !takeover {
                self.deny(from, "name", &format!("{name} (reserved for {reserved})"));
                return Err(denied(&format!("the name is reserved for {reserved}")));
            }
            takeover = true;
        }
        if !takeover {
            if let Some(holder) = self.names.lookup(name) {
                if holder != target_cell.id {
                    self.deny(from, "name", &format!("{name} (held by {})", holder.handle));
                }
            }
        }
        // A name belongs to the service it names, also when a granted
        // service bound it on that service's behalf (bootstrap names the
        // launcher, and the name must outlive bootstrap).
        let owned = target_cell.names.lock().len();
        let previous = self.names.bind(
            name,
            target_cell.id,
            target_cell.id,
            takeover,
            self.limits.max_names,
            owned,
        )?;
        if let Some(prev_owner) = previous {
            if let Some(p) = self.registry.get_exact(prev_owner) {
                p.names.lock().retain(|n| n != name);
            }
        }
        let mut list = target_cell.names.lock();
        if !list.iter().any(|n| n == name) {
            list.push(name.to_string());
        }
        Ok(())
    }
}
