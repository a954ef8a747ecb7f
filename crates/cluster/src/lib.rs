//! skyhold's cluster: skynet's cluster API and wire format between nodes,
//! over mutually authenticated TLS links, with only registered names
//! reachable from other nodes unless the operator names a peer as trusted.
#![forbid(unsafe_code)]

pub mod agent;
pub mod clusterd;
pub mod config;
pub mod hub;
pub mod inbound;
pub mod link;
pub mod reassembly;
pub mod reconnect;
mod report;
pub mod tls;
pub mod wire;

pub use clusterd::Clusterd;
pub use config::ClusterConfig;
