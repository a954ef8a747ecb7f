//! Sockets being read: which task waits for data on which socket, so a
//! data event goes straight to it, decoded in Rust, with no handler task.

use mlua::MultiValue;
use skyhold_core::fasthash::IntMap;
use std::mem;

use super::task::Task;
use super::waiters::Waiter;
use super::Dispatcher;
use crate::native_unpack::Decode;

/// The kind of a socket event that carries data (the first byte of a
/// PTYPE_SOCKET message from the socket server).
const SOCKET_DATA: u8 = 1;

/// Socket id → the session of the task waiting there for data (filed as a
/// [`Waiter::Wakeup`]).
#[derive(Default)]
pub(super) struct Readers {
    by_socket: IntMap<i32, i32>,
}

impl Readers {
    /// Files the task waiting on `session` as the reader of socket `id`.
    pub(super) fn insert(&mut self, id: i32, session: i32) {
        self.by_socket.insert(id, session);
    }

    /// The session of the reader of socket `id`, left in place.
    fn get(&self, id: i32) -> Option<i32> {
        self.by_socket.get(&id).copied()
    }

    /// The session of the reader of socket `id`, forgotten.
    pub(super) fn remove(&mut self, id: i32) -> Option<i32> {
        self.by_socket.remove(&id)
    }
}

/// The socket a data event is for; `None` if `event` is not one.
fn data_socket(event: &[u8]) -> Option<i32> {
    if event.len() < 9 || event[0] != SOCKET_DATA {
        return None;
    }
    Some(i32::from_le_bytes([event[1], event[2], event[3], event[4]]))
}

impl Dispatcher {
    /// Breaks the wait of the task reading socket `id` (it resumes with
    /// `false, "BREAK"` after the running task suspends). False if no task
    /// reads there.
    pub fn wake_reader(&self, id: i32) -> bool {
        let session = self.state.lock().readers.remove(id);
        session.is_some_and(|s| self.wakeup(s))
    }

    /// For a data event (`event`, a socket message's bytes) on a socket a
    /// task waits to read: that task, made current, with the socket
    /// protocol's native decoder and the spare argument list. `None` when
    /// the event must go to the protocol's handler.
    pub(super) fn take_reader(&self, event: &[u8]) -> Option<(Task, Decode, MultiValue)> {
        let id = data_socket(event)?;
        let mut st = self.state.lock();
        let session = st.readers.get(id)?;
        let decode = st.protocols.socket_decode()?;
        st.readers.remove(id);
        match st.waiters.waiting.remove(&session) {
            Some(Waiter::Wakeup(task)) => {
                st.current = Some(task.key);
                let spare = mem::take(&mut st.spare_args);
                Some((task, decode, spare))
            }
            Some(other) => {
                st.waiters.waiting.insert(session, other);
                None
            }
            None => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_data_event_names_a_socket() {
        let mut event = vec![SOCKET_DATA, 7, 0, 0, 0, 3, 0, 0, 0];
        assert_eq!(data_socket(&event), Some(7));
        event[0] = SOCKET_DATA + 1;
        assert_eq!(data_socket(&event), None);
        assert_eq!(data_socket(&[SOCKET_DATA, 7, 0, 0]), None, "cut short");
    }

    #[test]
    fn a_reader_is_found_then_forgotten() {
        let mut r = Readers::default();
        r.insert(4, 100);
        assert_eq!(r.get(4), Some(100));
        assert_eq!(r.remove(4), Some(100));
        assert_eq!(r.remove(4), None);
    }
}
