//! Why an operation was refused: the errors of sends and of launches, and
//! where a limit that refused a launch came from. Plain values, so every
//! layer above can return them.

use std::fmt;

use crate::handle::Handle;
use crate::mailbox::Refused;
use crate::memory::human_bytes;
use crate::policy::RoleLimit;

/// Why a send was not done.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SendError {
    /// No live service has this address.
    UnknownAddress(Handle),
    /// The target is full for this sender; `Service::room` will be called
    /// when it has room again.
    Full {
        /// The target.
        target: Handle,
        /// Which limit was hit.
        why: Refused,
    },
    /// The policy does not allow it; the refusal is in the audit log.
    Denied {
        /// What was refused, e.g. `send:client` or `redirect`.
        what: String,
    },
    /// The payload is larger than `max_message_bytes`.
    TooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Too many calls or timers are open (`max_open_calls` / `max_timers`).
    TooManyPending {
        /// Which limit.
        limit: &'static str,
        /// Its value.
        max: usize,
    },
    /// A reply that answers no open call of the target (it was dropped).
    UnexpectedReply(Handle),
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SendError::UnknownAddress(h) => write!(f, "invalid address {h}"),
            SendError::Full { target, why } => match why {
                Refused::SenderShareFull => write!(
                    f,
                    "mailbox of {target} is full for this sender (config sender_messages / sender_bytes); wait for room"
                ),
                Refused::MailboxFull => write!(
                    f,
                    "mailbox of {target} is full (config mailbox_messages / mailbox_bytes); wait for room"
                ),
                Refused::Closed => write!(f, "{target} has exited"),
            },
            SendError::Denied { what } => write!(f, "not permitted: {what} (see the audit log)"),
            SendError::TooLarge { size, max } => write!(
                f,
                "message of {size} bytes is larger than the limit of {max} (config max_message_bytes)"
            ),
            SendError::TooManyPending { limit, max } => {
                write!(f, "too many pending: at most {max} (config {limit})")
            }
            SendError::UnexpectedReply(h) => write!(f, "reply to {h} answers no open call; dropped"),
        }
    }
}

impl std::error::Error for SendError {}

/// Where the value of a limit that refused something came from, so the
/// error can say what to change.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LimitSource {
    /// The node's config key.
    Config,
    /// The policy's role of this name, which sets its own value.
    Role(String),
}

impl LimitSource {
    pub(crate) fn of(limit: RoleLimit, role: &str) -> LimitSource {
        match limit {
            RoleLimit::Node => LimitSource::Config,
            _ => LimitSource::Role(role.to_string()),
        }
    }

    /// `config KEYS` or `policy role NAME: KEYS`.
    fn naming(&self, keys: &str) -> String {
        match self {
            LimitSource::Config => format!("config {keys}"),
            LimitSource::Role(r) => format!("policy role {r}: {keys}"),
        }
    }
}

/// Why a launch failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LaunchError {
    /// No module of that name is registered.
    UnknownModule(String),
    /// The policy does not allow it (see the audit log).
    Denied(String),
    /// `max_services` services are alive.
    TooManyServices(usize),
    /// The module could not build the service.
    Failed(String),
    /// The node is shutting down.
    ShuttingDown,
    /// The service the launch counts against has started services faster
    /// than its spawn rate allows (`spawn_rate`, `spawn_burst`).
    SpawnRate {
        /// The service that asked for the launch.
        service: Handle,
        /// Services per second it may start once its burst is spent.
        rate: u64,
        /// Services it may start at once.
        burst: u64,
        /// Where those values came from.
        source: LimitSource,
    },
    /// The Lua memory of all services is past the budget
    /// (`lua_memory_total`), so no new Lua service starts.
    MemoryBudget {
        /// Bytes the services report they hold.
        used: usize,
        /// The budget that applies to the service that asked.
        limit: u64,
        /// Where that budget came from.
        source: LimitSource,
    },
    /// The caller may not launch on another service's behalf (the grant
    /// `launch_for`; see the audit log).
    NotOnBehalf(Handle),
    /// The service the launch was asked for by has exited.
    RequesterGone(Handle),
}

impl LaunchError {
    /// True for refusals by the spawn rate or the memory budget: they are
    /// in the audit log, and nothing was started that could have failed.
    pub fn is_limit(&self) -> bool {
        matches!(
            self,
            LaunchError::SpawnRate { .. } | LaunchError::MemoryBudget { .. }
        )
    }

    /// Why, without who: the `why` of the audit line.
    pub(crate) fn reason(&self) -> String {
        match self {
            LaunchError::SpawnRate {
                rate,
                burst,
                source,
                ..
            } => format!(
                "it starts services faster than {rate} per second after a burst of {burst} ({})",
                source.naming("spawn_rate / spawn_burst")
            ),
            LaunchError::MemoryBudget {
                used,
                limit,
                source,
            } => format!(
                "Lua services hold {}, past the budget of {} ({})",
                human_bytes(*used),
                human_bytes(usize::try_from(*limit).unwrap_or(usize::MAX)),
                source.naming("lua_memory_total")
            ),
            other => other.to_string(),
        }
    }
}

impl fmt::Display for LaunchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LaunchError::UnknownModule(m) => write!(f, "no service module named '{m}'"),
            LaunchError::Denied(m) => write!(
                f,
                "not permitted to launch module '{m}' (see the audit log)"
            ),
            LaunchError::TooManyServices(n) => {
                write!(f, "too many services: {n} are alive (config max_services)")
            }
            LaunchError::Failed(e) => write!(f, "launch failed: {e}"),
            LaunchError::ShuttingDown => write!(f, "the node is shutting down"),
            LaunchError::SpawnRate { service, .. } => write!(
                f,
                "launch refused: service {service} {}",
                self.reason().trim_start_matches("it ")
            ),
            LaunchError::MemoryBudget { .. } => write!(
                f,
                "launch refused: {}; no new Lua service starts until some of it is freed",
                self.reason()
            ),
            LaunchError::NotOnBehalf(h) => write!(
                f,
                "not permitted to launch on behalf of {h}: that needs the launch_for grant (see the audit log)"
            ),
            LaunchError::RequesterGone(h) => {
                write!(f, "launch refused: {h}, which asked for it, has exited")
            }
        }
    }
}

impl std::error::Error for LaunchError {}
