//! skyhold's core: an actor runtime shaped like skynet's C core, with
//! unforgeable addresses, bounded fair mailboxes, replies bound to the calls
//! they answer, owned names, and a policy that decides what a service may do.
//!
//! One module per concern:
//! - [`handle`]: addresses, and how they are handed out;
//! - [`message`]: messages and message types;
//! - [`mailbox`]: the bounded, fair mailbox and reply checking;
//! - [`runq`]: the global run queue and idle workers;
//! - [`wheel`]: the timing wheel;
//! - [`names`]: local names with owners;
//! - [`policy`]: roles, grants, identities;
//! - [`audit`]: the audit log;
//! - [`limits`]: every bound and its default;
//! - [`rate`]: the token bucket that bounds how fast a service starts others;
//! - [`memory`]: the node-wide budget of memory script hosts report;
//! - [`service`]: the service trait and the context services act through;
//! - [`node`]: the node that ties them together;
//! - [`logger`]: the logger service.
//!
//! The core knows nothing of Lua: the Lua host and the network layer call
//! into it, never the other way round.
#![forbid(unsafe_code)]

pub mod audit;
mod budget;
mod cell;
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
pub use logger::LogTarget;
pub use message::{ptype, Message, Payload};
pub use node::{IdleWork, LaunchError, Module, Node, NodeConfig, NodeRef};
pub use policy::{Grant, Identity, Policy, Role, RoleLimit, RoleLimits, Subject};
pub use service::{Context, SendError, Service};
