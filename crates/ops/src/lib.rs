//! skyhold's operations endpoint: Prometheus metrics (`/metrics`) and a
//! live dashboard (`/`, fed by `/api/services`) on one HTTP listener of
//! the node's, started by the `metrics` config key.
//!
//! - `config`: the keys, and the refusal to listen off loopback without
//!   operator logins;
//! - `collect`: one look at the node (services, sockets, audit, warm
//!   pool, cluster), with the node-wide totals kept across retirements;
//! - `prom` and `json`: that look as Prometheus text and as the
//!   dashboard's JSON;
//! - `request`: the bounded reading of a request head and its Basic
//!   credentials;
//! - `http`: the listener and its threads;
//! - `poller`: the one service, which reads clusterd's counters and whose
//!   exit stops the listener.
#![forbid(unsafe_code)]

pub mod collect;
pub mod config;
pub mod http;
pub mod json;
pub mod poller;
pub mod prom;
pub mod request;

pub use collect::{Collector, Sources};
pub use config::OpsConfig;

use parking_lot::Mutex;
use skyhold_core::{Module, Node};
use std::net::SocketAddr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// What the boot needs besides the config.
pub struct Parts {
    /// The node's socket server.
    pub sockets: Arc<skyhold_net::SocketServer>,
    /// The node's pool of warm Lua states, if any.
    pub warm: Option<Arc<skyhold_lua::warm::WarmStates>>,
}

/// Starts the endpoint on `node`: binds the address (an error says which
/// and why), launches the poller service and the listener's thread.
/// Returns the address it listens on.
pub fn start(node: &Node, config: OpsConfig, parts: Parts) -> Result<SocketAddr, String> {
    let listener = std::net::TcpListener::bind(config.address)
        .map_err(|e| format!("metrics: cannot listen on {}: {e}", config.address))?;
    let address = listener.local_addr().map_err(|e| format!("metrics: {e}"))?;
    let cluster = Arc::new(Mutex::new(None));
    let stop = Arc::new(AtomicBool::new(false));
    let poller = Arc::new(Mutex::new(Some(poller::Poller::new(
        cluster.clone(),
        stop.clone(),
    ))));
    node.register_module(
        poller::MODULE,
        Module {
            factory: Arc::new(move |_args: &str| {
                let p = poller
                    .lock()
                    .take()
                    .ok_or("skyhold_ops runs once per node")?;
                Ok(Box::new(p) as Box<dyn skyhold_core::Service>)
            }),
            script_host: false,
            ordinary: false,
            reports_memory: false,
        },
    );
    node.launch(poller::MODULE, "")
        .map_err(|e| format!("metrics: {e}"))?;
    let collector = Collector::new(Sources {
        node: node.handle(),
        sockets: parts.sockets,
        warm: parts.warm,
        cluster,
    });
    let server = Arc::new(http::Server::new(config, collector));
    std::thread::Builder::new()
        .name("skyhold-ops".into())
        .spawn(move || server.run(listener, stop))
        .map_err(|e| format!("metrics: cannot start its thread: {e}"))?;
    Ok(address)
}
