//! What skyhold's test binaries (compat, threats, net, faults, ops) share:
//! nodes booted in this process with their log in memory, nodes run as
//! their own process, bare core nodes with native services made of
//! closures, the threat tests' Lua cases, the example game and its client,
//! a throwaway certificate authority for cluster links, a fault proxy to
//! put between two nodes, and waiting with a deadline.
//!
//! What boots the runtime in this process sits behind the `node` feature,
//! which the test binaries turn on; the bench takes the authority alone.
#![forbid(unsafe_code)]

pub mod authority;
#[cfg(feature = "node")]
pub mod boot;
#[cfg(feature = "node")]
pub mod cases;
#[cfg(feature = "node")]
pub mod core_node;
#[cfg(feature = "node")]
pub mod game;
pub mod process;
pub mod proxy;
pub mod wait;

pub use authority::Authority;
#[cfg(feature = "node")]
pub use boot::{boot_env, boot_logged, config, repo, run_case, BootedNode, Log};
#[cfg(feature = "node")]
pub use cases::{lua_case, lua_check};
#[cfg(feature = "node")]
pub use core_node::{idle, node, node_with, on_message, CoreNode, FnService};
#[cfg(feature = "node")]
pub use game::{game, legit_ping, Client, Game};
pub use process::{NodeProcess, Piped};
pub use proxy::{Fault, FaultProxy};
pub use wait::{expect, expect_nothing, expect_within, wait_until};
