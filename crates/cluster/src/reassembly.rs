//! Putting multi-part messages back together, within limits.
//!
//! skynet collects parts without any limit (spec §7.7), so a peer can
//! declare a huge message and send parts forever. Here a message may
//! declare at most `max_message` bytes, a link may have at most
//! `max_partial` messages in progress, holding at most `max_partial_bytes`
//! between them, and no part may carry a message past what its header
//! declared. A message declared too large is not refused outright: its parts
//! are read and thrown away, so the sender can be told why with an error
//! reply and the link stays usable.

use std::collections::HashMap;
use std::fmt;

/// Limits on the messages one link is putting together.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// The largest message a header may declare.
    pub max_message: usize,
    /// How many messages may be in progress at once.
    pub max_partial: usize,
    /// How many bytes the messages in progress may hold between them.
    pub max_partial_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_message: 8 << 20,
            max_partial: 16,
            max_partial_bytes: 16 << 20,
        }
    }
}

/// Why a part broke the link's protocol. Each one ends the link: the
/// stream's parts can no longer be trusted to belong where they say.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReassemblyError {
    /// A header reused a session whose message is still in progress.
    Duplicate(u32),
    /// A part for a session with no header.
    Unknown(u32),
    /// More messages in progress than the limit.
    TooManyPartial {
        /// The limit (config `cluster_max_partial`).
        max: usize,
    },
    /// The messages in progress would hold more than the limit.
    TooManyBytes {
        /// The limit (config `cluster_max_partial_bytes`).
        max: usize,
    },
    /// The parts of a message added up to something else than declared.
    Mismatch {
        /// The session.
        session: u32,
        /// What the header said.
        declared: usize,
        /// What came (so far, if over).
        received: usize,
    },
}

impl fmt::Display for ReassemblyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReassemblyError::Duplicate(s) => write!(
                f,
                "a multi-part message reuses session {s}, whose message is still in progress"
            ),
            ReassemblyError::Unknown(s) => {
                write!(f, "a part for session {s}, which began no multi-part message")
            }
            ReassemblyError::TooManyPartial { max } => write!(
                f,
                "more than {max} multi-part messages in progress (config cluster_max_partial)"
            ),
            ReassemblyError::TooManyBytes { max } => write!(
                f,
                "multi-part messages in progress hold more than {max} bytes (config cluster_max_partial_bytes)"
            ),
            ReassemblyError::Mismatch {
                session,
                declared,
                received,
            } => write!(
                f,
                "multi-part message {session} declared {declared} bytes and carried {received}"
            ),
        }
    }
}

impl std::error::Error for ReassemblyError {}

/// A message whose last part arrived.
#[derive(Debug, PartialEq, Eq)]
pub enum Assembled<M> {
    /// The whole message.
    Whole(M, Vec<u8>),
    /// It was declared over `max_message`; its parts were thrown away.
    TooLarge(M, usize),
}

struct Partial<M> {
    meta: M,
    declared: usize,
    received: usize,
    /// `None` while the parts are only being counted (declared too large).
    data: Option<Vec<u8>>,
}

/// The messages one link has in progress, keyed by session. `M` is what the
/// caller wants back with the message (its address, or who waits for it).
pub struct Assembler<M> {
    limits: Limits,
    partial: HashMap<u32, Partial<M>>,
    held: usize,
}

impl<M> Assembler<M> {
    /// An assembler with nothing in progress.
    pub fn new(limits: Limits) -> Self {
        Assembler {
            limits,
            partial: HashMap::new(),
            held: 0,
        }
    }

    /// Messages in progress.
    pub fn in_progress(&self) -> usize {
        self.partial.len()
    }

    /// Bytes held by messages in progress.
    pub fn held(&self) -> usize {
        self.held
    }

    /// A header arrived.
    pub fn begin(&mut self, session: u32, declared: usize, meta: M) -> Result<(), ReassemblyError> {
        if self.partial.contains_key(&session) {
            return Err(ReassemblyError::Duplicate(session));
        }
        if self.partial.len() >= self.limits.max_partial {
            return Err(ReassemblyError::TooManyPartial {
                max: self.limits.max_partial,
            });
        }
        let data = (declared <= self.limits.max_message).then(Vec::new);
        self.partial.insert(
            session,
            Partial {
                meta,
                declared,
                received: 0,
                data,
            },
        );
        Ok(())
    }

    /// A part arrived; with `last`, the message is returned.
    pub fn part(
        &mut self,
        session: u32,
        bytes: &[u8],
        last: bool,
    ) -> Result<Option<Assembled<M>>, ReassemblyError> {
        let p = self
            .partial
            .get_mut(&session)
            .ok_or(ReassemblyError::Unknown(session))?;
        let received = p.received + bytes.len();
        if received > p.declared || (last && received != p.declared) {
            let declared = p.declared;
            self.drop_partial(session);
            return Err(ReassemblyError::Mismatch {
                session,
                declared,
                received,
            });
        }
        p.received = received;
        if let Some(data) = p.data.as_mut() {
            if self.held + bytes.len() > self.limits.max_partial_bytes {
                self.drop_partial(session);
                return Err(ReassemblyError::TooManyBytes {
                    max: self.limits.max_partial_bytes,
                });
            }
            data.extend_from_slice(bytes);
            self.held += bytes.len();
        }
        if !last {
            return Ok(None);
        }
        let p = self.partial.remove(&session).expect("present above");
        Ok(Some(match p.data {
            Some(data) => {
                self.held -= data.len();
                Assembled::Whole(p.meta, data)
            }
            None => Assembled::TooLarge(p.meta, p.declared),
        }))
    }

    fn drop_partial(&mut self, session: u32) {
        if let Some(p) = self.partial.remove(&session) {
            self.held -= p.data.map_or(0, |d| d.len());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn small() -> Limits {
        Limits {
            max_message: 100,
            max_partial: 2,
            max_partial_bytes: 150,
        }
    }

    #[test]
    fn parts_come_back_as_one_message() {
        let mut a = Assembler::new(small());
        a.begin(1, 5, "x").unwrap();
        assert_eq!(a.part(1, b"ab", false).unwrap(), None);
        assert_eq!(a.held(), 2);
        assert_eq!(
            a.part(1, b"cde", true).unwrap(),
            Some(Assembled::Whole("x", b"abcde".to_vec()))
        );
        assert_eq!((a.in_progress(), a.held()), (0, 0));
    }

    #[test]
    fn a_message_declared_too_large_is_counted_not_kept() {
        let mut a = Assembler::new(small());
        a.begin(1, 101, ()).unwrap();
        assert_eq!(a.part(1, &[0; 100], false).unwrap(), None);
        assert_eq!(a.held(), 0);
        assert_eq!(
            a.part(1, &[0], true).unwrap(),
            Some(Assembled::TooLarge((), 101))
        );
    }

    #[test]
    fn parts_past_the_declared_size_break_the_link() {
        let mut a = Assembler::new(small());
        a.begin(1, 3, ()).unwrap();
        assert_eq!(
            a.part(1, b"abcd", false),
            Err(ReassemblyError::Mismatch {
                session: 1,
                declared: 3,
                received: 4
            })
        );
        a.begin(2, 3, ()).unwrap();
        assert!(matches!(
            a.part(2, b"ab", true),
            Err(ReassemblyError::Mismatch { .. })
        ));
        assert_eq!((a.in_progress(), a.held()), (0, 0));
    }

    #[test]
    fn the_number_and_bytes_in_progress_are_bounded() {
        let mut a = Assembler::new(small());
        a.begin(1, 100, ()).unwrap();
        a.begin(2, 100, ()).unwrap();
        assert_eq!(
            a.begin(3, 10, ()),
            Err(ReassemblyError::TooManyPartial { max: 2 })
        );
        a.part(1, &[0; 100], false).unwrap();
        assert_eq!(
            a.part(2, &[0; 60], false),
            Err(ReassemblyError::TooManyBytes { max: 150 })
        );
        assert_eq!(a.held(), 100);
    }

    #[test]
    fn sessions_are_not_reused_or_invented() {
        let mut a = Assembler::new(small());
        a.begin(1, 10, ()).unwrap();
        assert_eq!(a.begin(1, 10, ()), Err(ReassemblyError::Duplicate(1)));
        assert_eq!(a.part(9, b"x", true), Err(ReassemblyError::Unknown(9)));
    }

    proptest! {
        #[test]
        fn whatever_arrives_the_held_bytes_stay_within_the_limit(
            ops in proptest::collection::vec((0u32..4, 0usize..130, any::<bool>(), any::<bool>()), 0..60)
        ) {
            let mut a = Assembler::new(small());
            for (session, n, header, last) in ops {
                if header {
                    let _ = a.begin(session, n, ());
                } else {
                    let _ = a.part(session, &vec![0; n % 70], last);
                }
                prop_assert!(a.held() <= small().max_partial_bytes);
                prop_assert!(a.in_progress() <= small().max_partial);
            }
        }
    }
}
