//! The same promise inside a node: a service that exits, is killed,
//! raises, runs out of memory or panics while callers wait on it answers
//! each of them with an error, and a panic takes down neither the node nor
//! a worker.

use std::time::Duration;

use skyhold_core::{Context, Message, Service};

use crate::cluster_link_faults::lua_dir;
use skyhold_testkit::BootedNode;

/// A native service that panics on every message it handles.
struct Panicky;

impl Service for Panicky {
    fn init(&mut self, ctx: &Context) -> Result<(), String> {
        ctx.register(".panicky").map_err(|e| e.to_string())
    }

    fn handle(&mut self, _ctx: &Context, msg: Message) {
        panic!("a bug in a native service, message from {}", msg.source);
    }
}

#[test]
fn callers_of_a_service_that_dies_is_killed_raises_or_panics_all_get_errors() {
    let node = BootedNode::boot(
        &lua_dir(),
        "in_node_promise",
        &[("lua_memory_limit".to_string(), (8 << 20).to_string())],
    );
    let panicky = node.node.spawn("panicky", Box::new(Panicky)).unwrap();
    node.wait_for("KILL_VICTIM", Duration::from_secs(30))
        .unwrap_or_else(|| panic!("the script did not reach the kill\n{}", node.dump()));
    let victim = node.node.handle().query_name(".victim").expect(".victim");
    assert!(node.node.handle().kill(victim));
    node.expect_pass("in_node_promise");
    // Every panic was caught and counted; the panicking service is still
    // there to be called again.
    assert!(
        node.node
            .handle()
            .counters()
            .panics
            .load(std::sync::atomic::Ordering::Relaxed)
            >= 8
    );
    assert!(node.node.handle().is_alive(panicky));
    assert!(node.eventually(&["service panicked handling a message"]));
}
