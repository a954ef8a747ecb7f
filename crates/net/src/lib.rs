//! skyhold's network layer: the socket server (TCP and UDP on tokio), its
//! limits, the `skynet.socketdriver` Lua module, and netpack framing.
#![forbid(unsafe_code)]

pub mod driver;
pub mod frame;
pub mod gate;
pub mod limits;
pub mod server;

pub use limits::NetLimits;
pub use server::SocketServer;
