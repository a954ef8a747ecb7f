//! Faults: what becomes of callers when a peer crashes, restarts, resets,
//! goes silent or slows down, and when a service dies or panics with
//! callers waiting. Every test checks the one promise: no call is left
//! without an answer, and what was held goes back to its idle level.

mod cluster_link_faults;
mod cluster_peer_restart;
mod in_node_promise;
