//! A service's life: launch (from a module, through the policy and the
//! launch checks), spawn, kill, retire; and the node's end, when every
//! service has retired (abort, stop).

use std::collections::HashSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use crate::errors::{LaunchError, SendError};
use crate::handle::{Handle, ServiceId};
use crate::mailbox::{Mailbox, MailboxLimits};
use crate::message::{ptype, Message, Payload};
use crate::policy::{Grant, Identity, Subject, SYSTEM_ROLE};
use crate::state::{Cell, Context, NodeInner, Service, Slot};

impl NodeInner {
    /// Launches `module` for `parent` (or, without one, as the runtime).
    pub fn launch(
        &self,
        parent: Option<&Arc<Cell>>,
        module: &str,
        args: &str,
    ) -> Result<Handle, LaunchError> {
        self.launch_for(parent, None, module, args)
    }

    /// Launches `module` for `parent` — or, when `parent` holds
    /// `launch_for`, for the service `on_behalf` names, which the launch
    /// then counts against: its grants, its spawn rate, its role's memory
    /// budget. Without a parent the runtime itself launches, unchecked.
    pub fn launch_for(
        &self,
        parent: Option<&Arc<Cell>>,
        on_behalf: Option<Handle>,
        module: &str,
        args: &str,
    ) -> Result<Handle, LaunchError> {
        if self.stopped.load(Ordering::Acquire) || self.aborting.load(Ordering::Acquire) {
            return Err(LaunchError::ShuttingDown);
        }
        let spec = self
            .modules
            .read()
            .get(module)
            .cloned()
            .ok_or_else(|| LaunchError::UnknownModule(module.to_string()))?;
        let script = args.split_whitespace().next().unwrap_or("");
        let requester = match (parent, on_behalf) {
            (None, _) => None,
            (Some(p), None) => Some(p.clone()),
            (Some(p), Some(h)) if h == p.handle() => Some(p.clone()),
            (Some(p), Some(h)) => {
                let what = format!("{module} {script} for {h}");
                if !self.check(p, Grant::LaunchFor, &what) {
                    return Err(LaunchError::NotOnBehalf(h));
                }
                Some(self.registry.get(h).ok_or(LaunchError::RequesterGone(h))?)
            }
        };
        if let Some(r) = &requester {
            if !spec.ordinary && !self.check(r, Grant::LaunchNative, module) {
                return Err(LaunchError::Denied(module.to_string()));
            }
            let mut whom = format!("{module} {script}");
            if let Some(p) = parent.filter(|p| p.id != r.id) {
                whom.push_str(&format!(" (through {})", p.handle()));
            }
            self.charge_spawn(r, &whom)?;
            if spec.reports_memory {
                self.check_memory(r, &whom)?;
            }
        }
        let identity = if spec.script_host {
            // The start role goes to the first service of the start script
            // that the boot itself asks for (the runtime, or a system
            // service such as bootstrap), once: a later `newservice "main"`
            // — by anyone — is an ordinary service.
            let by_boot = requester
                .as_ref()
                .is_none_or(|r| r.identity.role.name == SYSTEM_ROLE);
            if by_boot
                && self.policy.start_role(script).is_some()
                && !self.start_launched.swap(true, Ordering::AcqRel)
            {
                self.policy.identity_for_start(script)
            } else {
                self.policy
                    .identity_for(Subject::Script(script.to_string()))
            }
        } else {
            self.policy
                .identity_for(Subject::Native(module.to_string()))
        };
        let service = (spec.factory)(args).map_err(LaunchError::Failed)?;
        self.spawn_identity(identity, format!("{module} {args}"), service)
    }

    /// Starts a built service under `subject`'s identity, within
    /// `max_services`; its init runs later, on a worker.
    pub fn spawn(
        &self,
        subject: Subject,
        launch: String,
        service: Box<dyn Service>,
    ) -> Result<Handle, LaunchError> {
        let identity = self.policy.identity_for(subject);
        self.spawn_identity(identity, launch, service)
    }

    /// Starts a built service with `identity`, within `max_services`.
    fn spawn_identity(
        &self,
        identity: Identity,
        launch: String,
        service: Box<dyn Service>,
    ) -> Result<Handle, LaunchError> {
        if self.live.fetch_add(1, Ordering::AcqRel) >= self.limits.max_services {
            self.live.fetch_sub(1, Ordering::AcqRel);
            self.counters
                .service_refusals
                .fetch_add(1, Ordering::Relaxed);
            return Err(LaunchError::TooManyServices(self.limits.max_services));
        }
        let id = loop {
            let id = self.alloc.next();
            if !self.registry.contains(id.handle) {
                break id;
            }
        };
        let mailbox = Mailbox::new(MailboxLimits::from(&self.limits));
        let slot = Slot {
            service: Some(service),
            initialized: false,
            retired: false,
        };
        let cell = Arc::new(Cell::new(id, identity, launch, mailbox, slot));
        if !self.registry.insert(cell.clone()) {
            self.live.fetch_sub(1, Ordering::AcqRel);
            return Err(LaunchError::Failed("handle collision".into()));
        }
        // The logger's own launch happens before there is a log to write to.
        if self.logger.read().is_some() {
            self.log_system(id.handle, &format!("LAUNCH {}", cell.launch));
        }
        self.schedule(cell);
        Ok(id.handle)
    }

    /// Retires `target` as `from` asks (needs `kill`, except for oneself).
    pub fn kill(&self, from: &Arc<Cell>, target: Handle) -> Result<(), SendError> {
        if target != from.handle() && !self.check(from, Grant::Kill, &target.to_string()) {
            return Err(SendError::Denied {
                what: "kill".into(),
            });
        }
        // skynet's line, from the killer, the handle in bare hex (`%0x`:
        // no padding), even when a service kills itself by handle and
        // even when the target is already gone.
        self.log_system(from.handle(), &format!("KILL :{:x}", target.0));
        let cell = self
            .registry
            .get(target)
            .ok_or(SendError::UnknownAddress(target))?;
        self.retire_soon(cell);
        Ok(())
    }

    /// Marks a service to retire at its next turn, and makes sure it gets one.
    pub fn retire_soon(&self, cell: Arc<Cell>) {
        cell.request_kill();
        if cell.mailbox.poke() {
            self.schedule(cell);
        }
    }

    /// Retires every service, the logger last, ending the node.
    pub fn abort(&self) {
        self.aborting.store(true, Ordering::Release);
        let logger = self.logger.read().as_ref().map(|c| c.id);
        let all = self.registry.all();
        let only_logger = all.iter().all(|c| Some(c.id) == logger);
        for cell in all {
            if Some(cell.id) != logger || only_logger {
                self.retire_soon(cell);
            }
        }
        if self.live.load(Ordering::Acquire) == 0 {
            self.stop();
        }
    }

    /// Called by a worker once a service has retired.
    pub fn service_gone(&self, id: ServiceId) {
        let hooks = self.retire_hooks.read().clone();
        for h in hooks {
            h(id.handle);
        }
        let left = self.live.fetch_sub(1, Ordering::AcqRel) - 1;
        let logger = self.logger.read().clone();
        if let Some(l) = &logger {
            if l.id == id {
                *self.logger.write() = None;
            } else if left == 1 && self.aborting.load(Ordering::Acquire) {
                self.drain_and_close_log();
            }
        }
        if left == 0 {
            self.stop();
        }
    }

    /// Ends the node: workers and the timer and monitor threads leave.
    pub(crate) fn stop(&self) {
        if self.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        self.runq.close();
        self.msglog.shutdown();
        let (lock, cv) = &self.done;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
    }
}

/// Retires a service: it runs its exit hook, leaves the registry and the
/// name table, and everyone it leaves waiting is told:
/// - each message still queued (or popped but not handled) that expects a
///   reply gets an ERROR, and every other sender gets one "gone" notice
///   (ERROR with session 0), as skynet does;
/// - each request it received and never answered gets an ERROR;
/// - each service it was calling gets a "gone" notice;
/// - senders waiting for room are woken (their retry finds it gone);
/// - the exit monitor, if any, gets an empty CLIENT message from it.
pub(crate) fn retire(
    node: &Arc<NodeInner>,
    ctx: &Context,
    slot: &mut Slot,
    unhandled: Vec<Message>,
) {
    let cell = &ctx.cell;
    slot.retired = true;
    if let Some(mut service) = slot.service.take() {
        let _ = catch_unwind(AssertUnwindSafe(|| service.exit(ctx)));
        let _ = catch_unwind(AssertUnwindSafe(move || drop(service)));
    }
    // Its state is gone: what it reported stops counting against the
    // memory budget before anyone can see it has retired.
    node.release_memory(cell);
    let me = cell.handle();
    node.registry.remove(cell.id);
    let tap = cell.msglog.lock().take();
    if let Some(tap) = tap {
        cell.msglog_on.store(false, Ordering::Relaxed);
        node.msglog.close(tap, None);
    }
    let names: Vec<String> = cell.names.lock().drain(..).collect();
    for name in names {
        node.names.release(&name, cell.id);
    }
    let left = cell.mailbox.close();
    let mut told: HashSet<Handle> = HashSet::new();
    let gone = |to: Handle| {
        let notice = Message {
            source: me,
            origin: me,
            session: 0,
            ptype: ptype::ERROR,
            payload: Payload::empty(),
        };
        node.push_system(to, notice);
    };
    for msg in unhandled.into_iter().chain(left.messages) {
        if msg.source.is_system() || ptype::is_reply(msg.ptype) {
            continue;
        }
        if msg.expects_reply() {
            node.fail_request(msg.source, me, msg.session);
        } else if told.insert(msg.source) {
            gone(msg.source);
        }
    }
    let owed: Vec<(Handle, i32)> = cell.owed.lock().drain().collect();
    for (to, session) in owed {
        node.fail_request(to, me, session);
    }
    for callee in left.callees {
        if !callee.is_system() && told.insert(callee) {
            gone(callee);
        }
    }
    for sender in left.blocked_senders {
        node.notify_room(sender, me);
    }
    let monitor = *node.exit_monitor.lock();
    if let Some(m) = monitor {
        if m != cell.id {
            node.push_system(
                m.handle,
                Message {
                    source: me,
                    origin: Handle::SYSTEM,
                    session: 0,
                    ptype: ptype::CLIENT,
                    payload: Payload::empty(),
                },
            );
        }
    }
    node.service_gone(cell.id);
}
