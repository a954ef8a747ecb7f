//! skyhold's network layer: the socket server (TCP and UDP on tokio), its
//! limits, the `skynet.socketdriver` Lua module, and netpack framing.
#![forbid(unsafe_code)]

pub mod frame;
pub mod gate;
pub mod limits;
pub mod netpack;
pub mod netpack_queue;
pub mod socket_server;
pub mod socketdriver;
pub mod websocket;
pub mod ws_peer;

pub use limits::NetLimits;
pub use socket_server::{SocketInfo, SocketKind, SocketServer};
