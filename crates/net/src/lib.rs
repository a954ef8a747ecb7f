//! skyhold's network layer. So far: [`frame`], skynet's netpack framing.
#![forbid(unsafe_code)]

pub mod frame;
