//! The byte-stream half of `skynet.netpack`'s `filter`: raw data from many
//! connections in, whole 2-byte-length frames out, with skynet's return
//! shapes (one frame now, several queued for `pop`, or nothing yet) and a
//! cap on what one queue holds.
//!
//! Unlike skynet, a partial frame's buffer grows with the bytes that have
//! arrived, not with the size its header claims, and everything a queue
//! holds (partial and queued frames, plus a fixed cost per frame) is
//! counted against [`DEFAULT_LIMIT`] or the configured limit. A connection
//! that would pass it gets an error, loses what was buffered for it, and
//! has its later data dropped until its close or error event.

use std::collections::{HashMap, HashSet, VecDeque};

/// `netpack_buffer`'s default: bytes one queue may hold.
pub const DEFAULT_LIMIT: usize = 8 << 20;

/// What each held frame or partial frame costs on top of its bytes.
pub const FRAME_COST: usize = 32;

/// A frame header's size limit: two bytes.
pub const MAX_FRAME: usize = 0xffff;

/// What one connection has sent of a frame not yet complete.
#[derive(Debug)]
enum Partial {
    /// The first byte of a header.
    Header(u8),
    /// A frame of `size` bytes, `data` of them arrived.
    Body { size: usize, data: Vec<u8> },
}

impl Partial {
    fn cost(&self) -> usize {
        FRAME_COST
            + match self {
                Partial::Header(_) => 0,
                Partial::Body { data, .. } => data.capacity(),
            }
    }
}

/// What [`Queue::data`] made of one chunk of bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum Filtered {
    /// No frame completed (skynet returns only the queue).
    Nothing,
    /// Exactly one frame, and nothing after it (`"data"`).
    Frame(Vec<u8>),
    /// One or more frames went into the queue (`"more"`).
    More,
    /// The connection passed the queue's limit (`"error"`).
    Overflow(String),
}

/// One gate's queue.
#[derive(Debug)]
pub struct Queue {
    frames: VecDeque<(i32, Vec<u8>)>,
    partial: HashMap<i32, Partial>,
    /// Connections whose stream was cut by an overflow, until they close.
    cut: HashSet<i32>,
    held: usize,
    limit: usize,
}

/// The limit was passed.
struct Full;

/// Appends `more` to a partial frame of `size` bytes: the buffer grows
/// geometrically (so many small reads do not copy it over and over) but
/// never past `size`.
fn grow(data: &mut Vec<u8>, more: &[u8], size: usize) {
    let want = data.len() + more.len();
    if want > data.capacity() {
        let target = (data.len() * 2).max(want).min(size);
        data.reserve_exact(target - data.len());
    }
    data.extend_from_slice(more);
}

impl Queue {
    /// An empty queue holding at most `limit` bytes.
    pub fn new(limit: usize) -> Queue {
        Queue {
            frames: VecDeque::new(),
            partial: HashMap::new(),
            cut: HashSet::new(),
            held: 0,
            limit,
        }
    }

    /// Bytes held now (as counted against the limit).
    pub fn held(&self) -> usize {
        self.held
    }

    /// Frames waiting for [`Queue::pop`].
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// True if no frame waits.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    fn reserve(&mut self, cost: usize) -> Result<(), Full> {
        if self.held + cost > self.limit {
            return Err(Full);
        }
        self.held += cost;
        Ok(())
    }

    fn push(&mut self, fd: i32, frame: &[u8]) -> Result<(), Full> {
        self.reserve(FRAME_COST + frame.len())?;
        self.frames.push_back((fd, frame.to_vec()));
        Ok(())
    }

    fn save(&mut self, fd: i32, p: Partial) -> Result<(), Full> {
        self.reserve(p.cost())?;
        self.partial.insert(fd, p);
        Ok(())
    }

    fn take_partial(&mut self, fd: i32) -> Option<Partial> {
        let p = self.partial.remove(&fd)?;
        self.held -= p.cost();
        Some(p)
    }

    /// The next queued frame and its connection.
    pub fn pop(&mut self) -> Option<(i32, Vec<u8>)> {
        let (fd, f) = self.frames.pop_front()?;
        self.held -= FRAME_COST + f.len();
        Some((fd, f))
    }

    /// Drops everything (`netpack.clear`).
    pub fn clear(&mut self) {
        self.frames.clear();
        self.partial.clear();
        self.cut.clear();
        self.held = 0;
    }

    /// A connection closed or failed: its partial frame goes.
    pub fn closed(&mut self, fd: i32) {
        self.take_partial(fd);
        self.cut.remove(&fd);
    }

    /// Frames, and the start of the next, from `bytes` onwards: whole ones
    /// are queued, the rest is kept for the connection's next data.
    fn push_more(&mut self, fd: i32, mut bytes: &[u8]) -> Result<(), Full> {
        loop {
            match bytes {
                [] => return Ok(()),
                [h] => return self.save(fd, Partial::Header(*h)),
                [h, l, rest @ ..] => {
                    let size = usize::from(*h) << 8 | usize::from(*l);
                    if rest.len() < size {
                        let data = rest.to_vec();
                        return self.save(fd, Partial::Body { size, data });
                    }
                    self.push(fd, &rest[..size])?;
                    bytes = &rest[size..];
                }
            }
        }
    }

    /// Data `bytes` arrived on connection `fd`.
    pub fn data(&mut self, fd: i32, bytes: &[u8]) -> Filtered {
        if self.cut.contains(&fd) {
            return Filtered::Nothing;
        }
        match self.data_inner(fd, bytes) {
            Ok(f) => f,
            Err(Full) => {
                self.take_partial(fd);
                let before = self.frames.len();
                self.frames.retain(|(id, _)| *id != fd);
                let dropped = before - self.frames.len();
                self.recount();
                self.cut.insert(fd);
                Filtered::Overflow(format!(
                    "netpack: connection {fd} would have more than {} bytes waiting in the queue \
                     (netpack_buffer); {dropped} queued frames dropped",
                    self.limit
                ))
            }
        }
    }

    /// Counts what is held again, after frames were dropped.
    fn recount(&mut self) {
        self.held = self
            .frames
            .iter()
            .map(|(_, f)| FRAME_COST + f.len())
            .chain(self.partial.values().map(Partial::cost))
            .sum();
    }

    fn data_inner(&mut self, fd: i32, mut bytes: &[u8]) -> Result<Filtered, Full> {
        let (size, mut data) = match self.take_partial(fd) {
            Some(Partial::Header(h)) => match bytes {
                [] => {
                    self.save(fd, Partial::Header(h))?;
                    return Ok(Filtered::Nothing);
                }
                [l, rest @ ..] => {
                    bytes = rest;
                    (usize::from(h) << 8 | usize::from(*l), Vec::new())
                }
            },
            Some(Partial::Body { size, data }) => (size, data),
            None => match bytes {
                [] => return Ok(Filtered::Nothing),
                [h] => {
                    self.save(fd, Partial::Header(*h))?;
                    return Ok(Filtered::Nothing);
                }
                [h, l, rest @ ..] => {
                    let size = usize::from(*h) << 8 | usize::from(*l);
                    if rest.len() == size {
                        return Ok(Filtered::Frame(rest.to_vec()));
                    }
                    if rest.len() < size {
                        self.save(
                            fd,
                            Partial::Body {
                                size,
                                data: rest.to_vec(),
                            },
                        )?;
                        return Ok(Filtered::Nothing);
                    }
                    self.push(fd, &rest[..size])?;
                    self.push_more(fd, &rest[size..])?;
                    return Ok(Filtered::More);
                }
            },
        };
        let need = size - data.len();
        if bytes.len() < need {
            grow(&mut data, bytes, size);
            self.save(fd, Partial::Body { size, data })?;
            return Ok(Filtered::Nothing);
        }
        grow(&mut data, &bytes[..need], size);
        let rest = &bytes[need..];
        if rest.is_empty() {
            return Ok(Filtered::Frame(data));
        }
        self.push(fd, &data)?;
        self.push_more(fd, rest)?;
        Ok(Filtered::More)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut v = (body.len() as u16).to_be_bytes().to_vec();
        v.extend_from_slice(body);
        v
    }

    /// Everything a queue gives for `fd` (the frame returned, then pops).
    fn collect(q: &mut Queue, fd: i32, chunk: &[u8], out: &mut Vec<Vec<u8>>) {
        match q.data(fd, chunk) {
            Filtered::Frame(f) => out.push(f),
            Filtered::More => {
                while let Some((id, f)) = q.pop() {
                    assert_eq!(id, fd);
                    out.push(f);
                }
            }
            Filtered::Nothing => {}
            Filtered::Overflow(e) => panic!("overflow: {e}"),
        }
    }

    #[test]
    fn shapes_match_skynets() {
        let mut q = Queue::new(DEFAULT_LIMIT);
        assert_eq!(
            q.data(1, &frame(b"hello")),
            Filtered::Frame(b"hello".to_vec())
        );
        assert_eq!(q.data(1, &[0]), Filtered::Nothing);
        assert_eq!(q.data(1, &[3, b'a']), Filtered::Nothing);
        assert_eq!(q.data(1, b"bc"), Filtered::Frame(b"abc".to_vec()));
        let mut two = frame(b"x");
        two.extend(frame(b"yz"));
        two.push(0);
        assert_eq!(q.data(2, &two), Filtered::More);
        assert_eq!(q.pop(), Some((2, b"x".to_vec())));
        assert_eq!(q.pop(), Some((2, b"yz".to_vec())));
        assert_eq!(q.pop(), None);
        // The dangling header byte waits for the rest.
        assert_eq!(q.data(2, &[0]), Filtered::Frame(Vec::new()));
        assert_eq!(q.held(), 0);
    }

    #[test]
    fn connections_do_not_mix() {
        let mut q = Queue::new(DEFAULT_LIMIT);
        assert_eq!(q.data(1, &[0, 2, b'a']), Filtered::Nothing);
        assert_eq!(q.data(2, &[0, 2, b'x']), Filtered::Nothing);
        assert_eq!(q.data(2, b"y"), Filtered::Frame(b"xy".to_vec()));
        assert_eq!(q.data(1, b"b"), Filtered::Frame(b"ab".to_vec()));
        q.data(3, &[0, 9, 1]);
        q.closed(3);
        assert_eq!(q.data(3, &frame(b"new")), Filtered::Frame(b"new".to_vec()));
    }

    #[test]
    fn a_queue_past_its_limit_cuts_that_connection_only() {
        let mut q = Queue::new(1000);
        assert_eq!(q.data(1, &[0, 10, 1]), Filtered::Nothing);
        // A claimed 65535 bytes cost only what arrived.
        assert_eq!(q.data(2, &[0xff, 0xff, 1, 2]), Filtered::Nothing);
        assert!(q.held() < 100);
        // A frame near the limit, in small pieces, fits.
        let mut r = Queue::new(1000);
        assert_eq!(r.data(1, &[3, 0x20]), Filtered::Nothing);
        for _ in 0..7 {
            assert_eq!(r.data(1, &[1; 100]), Filtered::Nothing);
        }
        let mut want = vec![1u8; 700];
        want.extend([2u8; 100]);
        assert_eq!(r.data(1, &[2; 100]), Filtered::Frame(want));
        let big = vec![7u8; 2000];
        match q.data(2, &big) {
            Filtered::Overflow(e) => assert!(e.contains("netpack_buffer"), "{e}"),
            other => panic!("{other:?}"),
        }
        // Later data of the cut connection is dropped, the other goes on.
        assert_eq!(q.data(2, &frame(b"late")), Filtered::Nothing);
        assert_eq!(
            q.data(1, &[9; 9]),
            Filtered::Frame(vec![1, 9, 9, 9, 9, 9, 9, 9, 9, 9])
        );
        q.closed(2);
        assert_eq!(
            q.data(2, &frame(b"again")),
            Filtered::Frame(b"again".to_vec())
        );
        // Many empty frames cost their fixed share each.
        let empties: Vec<u8> = std::iter::repeat_n([0u8, 0], 100).flatten().collect();
        assert!(matches!(q.data(5, &empties), Filtered::Overflow(_)));
        assert!(q.is_empty());
        assert_eq!(q.held(), 0);
    }

    proptest! {
        /// However a stream of frames is cut into chunks, the same frames
        /// come out, in order, and nothing stays held.
        #[test]
        fn any_split_gives_the_frames(
            bodies in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 0..20),
            cuts in proptest::collection::vec(0usize..400, 0..30)) {
            let stream: Vec<u8> = bodies.iter().flat_map(|b| frame(b)).collect();
            let mut q = Queue::new(DEFAULT_LIMIT);
            let mut out = Vec::new();
            let mut at = 0;
            for c in cuts {
                let end = (at + c).min(stream.len());
                collect(&mut q, 4, &stream[at..end], &mut out);
                at = end;
            }
            collect(&mut q, 4, &stream[at..], &mut out);
            prop_assert_eq!(out, bodies);
            prop_assert_eq!(q.held(), 0);
        }

        /// Any bytes: frames, nothing or an overflow; what is held stays
        /// within the limit.
        #[test]
        fn any_bytes_stay_bounded(chunks in proptest::collection::vec(
            (0i32..3, proptest::collection::vec(any::<u8>(), 0..600)), 0..20)) {
            let mut q = Queue::new(4096);
            for (fd, c) in chunks {
                let _ = q.data(fd, &c);
                prop_assert!(q.held() <= 4096);
                if fd == 2 {
                    while q.pop().is_some() {}
                }
            }
        }
    }
}
