//! What a service acts through: the methods of its [`Context`] (sending,
//! calling, timers, names, launching, the log, config values). The
//! [`Service`] trait and the `Context` type itself live with the node's
//! state (`state`), to which they are knotted; they are re-exported here,
//! their public home.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;

use crate::cell::stats_of;
use crate::errors::LaunchError;
pub use crate::errors::SendError;
use crate::handle::Handle;
use crate::message::{ptype, Payload};
use crate::names::NameError;
use crate::node::NodeRef;
use crate::policy::{Grant, Identity, Subject};
pub use crate::state::{Context, Service};

impl Context {
    /// This service's handle.
    #[inline]
    pub fn handle(&self) -> Handle {
        self.cell.id.handle
    }

    /// This service's verified identity.
    pub fn identity(&self) -> &Identity {
        &self.cell.identity
    }

    /// The verified identity of a live service, e.g. of a message's source.
    pub fn identity_of(&self, h: Handle) -> Option<Identity> {
        self.node.registry.get(h).map(|c| c.identity.clone())
    }

    /// True if live service `who` holds `grant` (used by system services to
    /// act on requests only for callers the policy allows).
    ///
    /// `debug_run` asked of this service reaches only as far as `who`'s own
    /// powers: code run in a service holds that service's grants, so a
    /// runner may not run code in one holding a grant it lacks (the start
    /// service may hotfix the ordinary services it started, not the
    /// launcher).
    pub fn permits(&self, who: Handle, grant: Grant) -> bool {
        self.node.registry.get(who).is_some_and(|c| {
            c.identity.has(grant)
                && (grant != Grant::DebugRun
                    || self
                        .cell
                        .identity
                        .role
                        .grants
                        .is_subset(&c.identity.role.grants))
        })
    }

    /// Records in the audit log that this service refused `what` to `who`.
    pub fn audit_refusal(&self, who: Handle, what: &str, why: &str) {
        let who_text = self.node.describe(who);
        self.node
            .audit_refused(&who_text, what, &self.handle().to_string(), why);
    }

    /// Sends a one-way message (session 0), or any message with an explicit
    /// session. A RESPONSE or ERROR with a session is a reply and is delivered
    /// only if it answers an open call of the target.
    pub fn send(
        &self,
        dest: Handle,
        ptype: u8,
        session: i32,
        payload: Payload,
    ) -> Result<(), SendError> {
        self.node
            .send(&self.cell, dest, self.handle(), ptype, session, payload)
    }

    /// Sends a request and returns the session its reply will carry.
    pub fn call(&self, dest: Handle, ptype: u8, payload: Payload) -> Result<i32, SendError> {
        self.node.call(&self.cell, dest, ptype, payload)
    }

    /// Replies to request `session` from `dest`.
    pub fn reply(&self, dest: Handle, session: i32, payload: Payload) -> Result<(), SendError> {
        self.cell.owed.lock().remove(&(dest, session));
        self.send(dest, ptype::RESPONSE, session, payload)
    }

    /// Fails request `session` from `dest` (the caller sees an error).
    pub fn reply_error(
        &self,
        dest: Handle,
        session: i32,
        payload: Payload,
    ) -> Result<(), SendError> {
        self.cell.owed.lock().remove(&(dest, session));
        self.send(dest, ptype::ERROR, session, payload)
    }

    /// Sends with `source` as the visible sender. Needs the `redirect` grant;
    /// the receiver can still learn the real sender from `Message::origin`.
    pub fn redirect(
        &self,
        dest: Handle,
        source: Handle,
        ptype: u8,
        session: i32,
        payload: Payload,
    ) -> Result<(), SendError> {
        if source != self.handle()
            && !self
                .node
                .check(&self.cell, Grant::Redirect, &dest.to_string())
        {
            return Err(SendError::Denied {
                what: "redirect".into(),
            });
        }
        self.node
            .send(&self.cell, dest, source, ptype, session, payload)
    }

    /// Starts a timer: after `ticks` hundredths of a second this service gets
    /// a RESPONSE from handle 0 with the returned session.
    pub fn timeout(&self, ticks: i64) -> Result<i32, SendError> {
        self.node.timeout(&self.cell, ticks)
    }

    /// A fresh session number, for pairing things up without sending.
    pub fn new_session(&self) -> i32 {
        self.cell.next_session()
    }

    /// Registers a name for this service.
    pub fn register(&self, name: &str) -> Result<(), NameError> {
        self.node.bind_name(&self.cell, name, self.handle())
    }

    /// Binds a name to another service (needs `name_other`).
    pub fn bind_name(&self, name: &str, target: Handle) -> Result<(), NameError> {
        self.node.bind_name(&self.cell, name, target)
    }

    /// The service a name points to.
    pub fn query_name(&self, name: &str) -> Option<Handle> {
        self.node.names.lookup(name).map(|id| id.handle)
    }

    /// Launches a service of a registered module (`snlua`, `logger`, ...) with
    /// an argument string; returns its handle. Its initialisation runs later,
    /// on a worker; messages sent to it meanwhile wait in its mailbox.
    pub fn launch(&self, module: &str, args: &str) -> Result<Handle, LaunchError> {
        self.node.launch(Some(&self.cell), module, args)
    }

    /// Launches a service on behalf of `requester`, which the launch counts
    /// against — its grants, its spawn rate (`spawn_rate`), its role's
    /// memory budget (`lua_memory_total`) — rather than this service. Needs
    /// the `launch_for` grant unless `requester` is this service: it is for
    /// services that start services for whoever asks (skyhold's
    /// `.launcher`), so that a service cannot start more than its own limits
    /// allow by asking one of them.
    pub fn launch_for(
        &self,
        requester: Handle,
        module: &str,
        args: &str,
    ) -> Result<Handle, LaunchError> {
        self.node
            .launch_for(Some(&self.cell), Some(requester), module, args)
    }

    /// Tells the node how many bytes this service's script state holds now
    /// (the Lua host calls it after each turn). The node sums these against
    /// `lua_memory_total`; a call that moves the figure by less than
    /// [`REPORT_STEP`](crate::memory::REPORT_STEP) since the last counted
    /// one costs a load and a compare. What a service reported stops
    /// counting when it retires.
    #[inline]
    pub fn report_memory(&self, bytes: usize) {
        self.node.report_memory(&self.cell, bytes);
    }

    /// Starts a native service this service built itself (Rust code, not
    /// reachable from Lua), under the identity the policy gives
    /// `native:<module>`; `args` is shown in its LAUNCH line. For native
    /// services that run helpers of their own, as the cluster runs one
    /// agent per inbound link. Rust code is trusted to bound what it starts
    /// (the cluster by `cluster_max_links`): no spawn rate applies, only
    /// `max_services`.
    pub fn spawn_native(
        &self,
        module: &str,
        args: &str,
        service: Box<dyn Service>,
    ) -> Result<Handle, LaunchError> {
        if self.node.is_stopped() {
            return Err(LaunchError::ShuttingDown);
        }
        self.node.spawn(
            Subject::Native(module.to_string()),
            format!("{module} {args}"),
            service,
        )
    }

    /// Retires another service at once (needs `kill`, except for oneself).
    pub fn kill(&self, target: Handle) -> Result<(), SendError> {
        self.node.kill(&self.cell, target)
    }

    /// Retires this service once the current message is handled.
    pub fn exit(&self) {
        // skynet says so for every `skynet.exit()`, from the leaving service.
        self.node.log_system(self.cell.handle(), "KILL self");
        self.cell.request_exit();
    }

    /// Records that this service's message was stopped for breaking
    /// `limit` (counted node-wide); with `retire`, the service is retired
    /// too, and says why in the log.
    pub fn broke_limit(&self, limit: &str, retire: bool) {
        let counters = &self.node.counters;
        counters.limit_breaks.fetch_add(1, Ordering::Relaxed);
        if retire {
            counters.limit_retirements.fetch_add(1, Ordering::Relaxed);
            self.log(&format!(
                "retired: it broke its {limit} (policy: retire on limit)"
            ));
            self.exit();
        }
    }

    /// Retires every service, ending the node (needs `abort`).
    pub fn abort(&self) -> Result<(), SendError> {
        if !self.node.check(&self.cell, Grant::Abort, "node") {
            return Err(SendError::Denied {
                what: "abort".into(),
            });
        }
        self.node.abort();
        Ok(())
    }

    /// Makes `monitor` receive an empty CLIENT message, from the dead
    /// service's handle, whenever a service retires (needs `monitor`).
    pub fn set_exit_monitor(&self, monitor: Handle) -> Result<(), SendError> {
        if !self
            .node
            .check(&self.cell, Grant::Monitor, &monitor.to_string())
        {
            return Err(SendError::Denied {
                what: "monitor".into(),
            });
        }
        let cell = self
            .node
            .registry
            .get(monitor)
            .ok_or(SendError::UnknownAddress(monitor))?;
        *self.node.exit_monitor.lock() = Some(cell.id);
        Ok(())
    }

    /// Writes a line to the node's log, as this service.
    pub fn log(&self, text: &str) {
        self.node.log_from(&self.cell, text);
    }

    /// Says that idle work is wanted again (something it keeps ready was
    /// used): a worker that is waiting for services comes out to do it.
    pub fn want_idle_work(&self) {
        self.node.runq.nudge();
    }

    /// Centiseconds since the node started.
    pub fn now(&self) -> u64 {
        self.node.now()
    }

    /// UTC seconds at which the node started.
    pub fn start_time(&self) -> u64 {
        self.node.start_time
    }

    /// A config value. Keys the operator marked secret need `read_secrets`.
    pub fn getenv(&self, key: &str) -> Option<String> {
        if self.node.env.is_secret(key)
            && !self
                .node
                .check(&self.cell, Grant::ReadSecrets, &format!("getenv {key}"))
        {
            return None;
        }
        self.node.env.get(key)
    }

    /// Adds a config value; an existing key is an error.
    pub fn setenv(&self, key: &str, value: &str) -> Result<(), String> {
        self.node.env.set(key, value)
    }

    /// Messages waiting in this service's mailbox.
    pub fn mqlen(&self) -> usize {
        self.cell.mailbox.len()
    }

    /// Reads and clears this service's "endless loop" flag.
    pub fn take_endless(&self) -> bool {
        self.cell.stats.endless.swap(false, Ordering::Relaxed)
    }

    /// The flag an operator's `signal address 0` sets (see
    /// `ServiceStats::interrupt`): a script host checks it while its code
    /// runs and breaks that code.
    pub fn interrupt_flag(&self) -> std::sync::Arc<std::sync::atomic::AtomicBool> {
        self.cell.stats.interrupt.clone()
    }

    /// This service's counters as `name → value`.
    pub fn stats(&self) -> BTreeMap<&'static str, u64> {
        stats_of(&self.cell)
    }

    /// Requests still owing a reply from this service.
    pub fn owed_replies(&self) -> usize {
        self.cell.owed_replies()
    }

    /// The node, for services that manage others.
    pub fn node(&self) -> NodeRef {
        NodeRef(self.node.clone())
    }
}
