//! Tracing (`skynet.trace`): the tags of traced tasks, the tag a traced
//! caller sends ahead of its call, and the trace lines.

use skyhold_core::fasthash::IntMap;
use skyhold_core::{ptype, Handle, Payload};
use std::sync::atomic::Ordering;

use super::{Dispatcher, State};

/// Nanoseconds on a monotonic clock (`skynet.hpc`, and trace lines): the
/// node's fast clock, read on the message path.
pub use skyhold_core::clock::monotonic_ns as hpc_ns;

/// The trace tags of one service's tasks.
#[derive(Default)]
pub(super) struct Tags {
    /// Trace tags of the tasks being traced.
    by_task: IntMap<usize, String>,
    /// A trace tag that applies to the next request from that source.
    next: Option<(Handle, String)>,
}

impl Tags {
    /// Notes the tag a traced caller sent ahead of its request.
    pub(super) fn expect(&mut self, from: Handle, tag: String) {
        self.next = Some((from, tag));
    }

    /// The tag sent ahead by `source`, taken (any other is dropped).
    fn take_for(&mut self, source: Handle) -> Option<String> {
        match self.next.take() {
            Some((from, tag)) if from == source => Some(tag),
            _ => None,
        }
    }

    /// Forgets every tag.
    pub(super) fn clear(&mut self) {
        self.by_task.clear();
    }
}

impl Dispatcher {
    /// `skynet.trace`: starts tracing the running task under a new tag and
    /// returns it. `None` outside a task.
    pub fn trace(&self, info: Option<&str>) -> Option<String> {
        let k = self.state.lock().current?;
        let tag = format!(":{:08x}-{}", self.ctx.handle().0, self.ctx.new_session());
        self.trace_log(&tag, &format!("trace {}", info.unwrap_or("")));
        let mut st = self.state.lock();
        self.set_tag(&mut st, k, Some(tag.clone()));
        Some(tag)
    }

    /// `skynet.tracetag`: the running task's trace tag.
    pub fn trace_tag(&self) -> Option<String> {
        if self.traced.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let st = self.state.lock();
        st.trace.by_task.get(&st.current?).cloned()
    }

    /// Writes one trace line: `<TRACE tag> nanoseconds text`.
    pub fn trace_log(&self, tag: &str, text: &str) {
        self.ctx.log(&format!("<TRACE {tag}> {} {text}", hpc_ns()));
    }

    /// Before the running task calls `dest`: if it is traced, the tag goes
    /// ahead of the call (PTYPE_TRACE), so the callee's task is traced too.
    pub fn trace_call(&self, dest: Handle) {
        if let Some(tag) = self.trace_tag() {
            self.trace_ahead(&tag, dest);
        }
    }

    /// If task `key` is traced, its tag goes ahead of its call to `dest`.
    pub(super) fn trace_task_call(&self, key: usize, dest: Handle) {
        if self.traced.load(Ordering::Relaxed) == 0 {
            return;
        }
        let tag = self.state.lock().trace.by_task.get(&key).cloned();
        if let Some(tag) = tag {
            self.trace_ahead(&tag, dest);
        }
    }

    /// Logs a traced task's call to `dest` and sends its tag ahead.
    fn trace_ahead(&self, tag: &str, dest: Handle) {
        self.trace_log(tag, &format!("call {dest}"));
        let _ = self.ctx.send(dest, ptype::TRACE, 0, Payload::from(tag));
    }

    /// A new request's task `key`: traced if its caller sent a tag ahead
    /// (returned, to be logged).
    pub(super) fn trace_request(
        &self,
        st: &mut State,
        key: usize,
        source: Handle,
    ) -> Option<String> {
        let tag = st.trace.take_for(source)?;
        self.set_tag(st, key, Some(tag.clone()));
        Some(tag)
    }

    /// A task ended: its trace (if any) ends with it.
    pub(super) fn trace_end(&self, st: &mut State, key: usize, how: &str) {
        if let Some(tag) = self.set_tag(st, key, None) {
            self.trace_log(&tag, how);
        }
    }

    /// Tags task `key` (or, with `None`, untags it; the old tag is
    /// returned), keeping the count `trace_tag` reads without the lock.
    pub(super) fn set_tag(
        &self,
        st: &mut State,
        key: usize,
        tag: Option<String>,
    ) -> Option<String> {
        let old = match tag {
            Some(t) => st.trace.by_task.insert(key, t),
            None => st.trace.by_task.remove(&key),
        };
        self.traced.store(st.trace.by_task.len(), Ordering::Relaxed);
        old
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_sent_ahead_applies_to_its_sender_only_once() {
        let mut t = Tags::default();
        t.expect(Handle(1), "a".into());
        assert_eq!(t.take_for(Handle(2)), None, "another source drops it");
        assert_eq!(t.take_for(Handle(1)), None);
        t.expect(Handle(1), "b".into());
        assert_eq!(t.take_for(Handle(1)).as_deref(), Some("b"));
        assert_eq!(t.take_for(Handle(1)), None);
    }

    #[test]
    fn the_clock_goes_forward() {
        let a = hpc_ns();
        assert!(hpc_ns() >= a);
    }
}
