//! skyhold's core: an actor runtime shaped like skynet's C core, with
//! unforgeable addresses, bounded fair mailboxes, replies bound to the calls
//! they answer, owned names, and a policy that decides what a service may do.
//!
//! One module per concern, in layers; a module uses only modules listed
//! before it here (and its own children), so the dependency graph has no
//! cycle — counting the `impl NodeInner` blocks a module calls into, not
//! only its `use` lines. Bottom to top:
//!
//! 1. Values and tables that know nothing of services:
//!    [`handle`] (addresses, and how they are handed out), [`message`]
//!    (messages and message types), [`fasthash`], [`limits`] (every bound
//!    and its default), [`policy`] (roles, grants, identities), [`audit`]
//!    (the audit log), [`clock`] (the fast clock of the message path), [`rate`] (the token bucket behind `spawn_rate`),
//!    [`memory`] (the node-wide budget script hosts report against),
//!    [`names`] (local names with owners), `env` (config values and which
//!    are secret), [`logger`] (the log writer).
//! 2. Machinery: [`mailbox`] (the bounded, fair mailbox and reply
//!    checking), [`runq`] (the global run queue and idle workers),
//!    [`wheel`] (the timing wheel), `probe` (what each worker is doing, for
//!    the monitor), `errors` (why a send or a launch was refused),
//!    [`msglog`] (per-service message logs and their writer thread).
//! 3. One service: `cell` (everything kept for a live service, generic over
//!    what its worker keeps in it), `registry` (the handle table).
//! 4. `state`: the node's shared state, with the types knotted to it
//!    (the `Service` trait, `Context`, `Module`).
//! 5. Operations on the state, each one concern: `logging` (lines to the
//!    logger service), `send` (admission, sends, calls, runtime messages),
//!    `naming` (binding names through the policy), `timers`, `budget`
//!    (spawn rate and memory checks on launch), then `lifecycle` (launch,
//!    spawn, kill, retire, abort), then `worker` (worker threads and the
//!    monitor).
//! 6. [`node`]: the node's config, start and shutdown, and the admin API.
//! 7. [`service`]: what a service acts through (the methods of `Context`),
//!    the top since a context reaches everything, the node included.
//!
//! The core knows nothing of Lua: the Lua host and the network layer call
//! into it, never the other way round.
#![forbid(unsafe_code)]

pub mod audit;
mod budget;
mod cell;
pub mod clock;
mod env;
mod errors;
pub mod fasthash;
pub mod handle;
mod lifecycle;
pub mod limits;
pub mod logger;
mod logging;
pub mod mailbox;
pub mod memory;
pub mod message;
pub mod msglog;
pub mod names;
mod naming;
pub mod node;
pub mod policy;
mod probe;
pub mod rate;
mod registry;
pub mod runq;
mod send;
pub mod service;
mod state;
mod timers;
pub mod wheel;
mod worker;

pub use cell::ServiceStats;
pub use handle::{Handle, ServiceId};
pub use limits::Limits;
pub use logger::{LogFormat, LogTarget};
pub use message::{ptype, Message, Payload};
pub use node::{IdleWork, LaunchError, Module, Node, NodeConfig, NodeRef};
pub use policy::{Grant, Identity, Policy, Role, RoleLimit, RoleLimits, Subject};
pub use service::{Context, SendError, Service};
