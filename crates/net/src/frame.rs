//! netpack framing: a stream of frames, each a big-endian length followed
//! by that many bytes.
//!
//! skynet's gate and cluster links use a 2-byte header (frames of at most
//! 65535 bytes). Its legacy C gate can also use a 4-byte header; here that
//! form always comes with an explicit cap ([`FrameDecoder::new`]).
//!
//! [`FrameDecoder`] is incremental: feed it whatever a socket read returned
//! and take complete frames out. Frames may be split at any byte boundary,
//! including inside the header, and one read may hold many frames. A
//! declared length over the cap is refused as soon as the header is
//! complete, before any of the body is buffered, and a partial frame never
//! holds more than the header plus the cap.

use std::collections::VecDeque;
use std::fmt;

use bytes::Bytes;

/// The size of a frame's length header. Both forms are big-endian.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum HeaderLen {
    /// A u16: skynet's netpack, gate and cluster framing.
    #[default]
    Two,
    /// A u32: the legacy C gate's `L` mode.
    Four,
}

impl HeaderLen {
    /// The header's size in bytes.
    pub const fn size(self) -> usize {
        match self {
            HeaderLen::Two => 2,
            HeaderLen::Four => 4,
        }
    }

    /// The largest payload the header can describe.
    pub const fn max_payload(self) -> usize {
        match self {
            HeaderLen::Two => u16::MAX as usize,
            // usize is at least 32 bits on every target this builds for.
            HeaderLen::Four => u32::MAX as usize,
        }
    }
}

/// The default cap on a frame's payload: netpack's 65535 bytes.
pub const DEFAULT_MAX_FRAME: usize = 65535;

/// A framing error.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FrameError {
    /// A frame header declares more bytes than the decoder accepts. The
    /// stream cannot be resynchronised: close the connection.
    TooLarge {
        /// The length in the header.
        declared: usize,
        /// The decoder's cap.
        max: usize,
    },
    /// A payload too long for the header to describe. The message is
    /// skynet's, `Invalid size (too long)`.
    TooLong {
        /// The payload's length.
        len: usize,
        /// The largest payload the header can describe.
        max: usize,
    },
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::TooLarge { declared, max } => write!(
                f,
                "frame header declares {declared} bytes, more than the limit of {max}; \
                 the connection should be closed"
            ),
            FrameError::TooLong { .. } => f.write_str("Invalid size (too long)"),
        }
    }
}

impl std::error::Error for FrameError {}

/// Encodes one frame: the header for `payload`'s length, then `payload`.
///
/// With [`HeaderLen::Two`], a payload of 65536 bytes or more is
/// [`FrameError::TooLong`] (`Invalid size (too long)`, as skynet).
pub fn encode_frame(payload: &[u8], header: HeaderLen) -> Result<Vec<u8>, FrameError> {
    let mut out = Vec::new();
    encode_frame_into(&mut out, payload, header)?;
    Ok(out)
}

/// Appends one frame to `out`, as [`encode_frame`]. On error nothing is
/// appended.
pub fn encode_frame_into(
    out: &mut Vec<u8>,
    payload: &[u8],
    header: HeaderLen,
) -> Result<(), FrameError> {
    let len = payload.len();
    let too_long = FrameError::TooLong {
        len,
        max: header.max_payload(),
    };
    match header {
        HeaderLen::Two => {
            let n = u16::try_from(len).map_err(|_| too_long)?;
            out.reserve(2 + len);
            out.extend_from_slice(&n.to_be_bytes());
        }
        HeaderLen::Four => {
            let n = u32::try_from(len).map_err(|_| too_long)?;
            out.reserve(4 + len);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
    out.extend_from_slice(payload);
    Ok(())
}

/// What the decoder holds of the frame it is reading.
#[derive(Debug)]
enum Partial {
    /// `have` bytes of the header.
    Header { bytes: [u8; 4], have: usize },
    /// Part of a body of `len` bytes.
    Body { len: usize, buf: Vec<u8> },
}

impl Partial {
    const EMPTY: Partial = Partial::Header {
        bytes: [0; 4],
        have: 0,
    };
}

/// An incremental frame decoder.
///
/// ```
/// use skyhold_net::frame::{FrameDecoder, HeaderLen};
/// let mut d = FrameDecoder::new(HeaderLen::Two, 1024);
/// d.feed(&[0, 3, b'a']);
/// assert_eq!(d.next_frame().unwrap(), None);
/// d.feed(&[b'b', b'c', 0, 0]);
/// assert_eq!(d.next_frame().unwrap().unwrap(), &b"abc"[..]);
/// assert_eq!(d.next_frame().unwrap().unwrap(), &b""[..]);
/// assert_eq!(d.next_frame().unwrap(), None);
/// ```
#[derive(Debug)]
pub struct FrameDecoder {
    header: HeaderLen,
    max_frame: usize,
    partial: Partial,
    ready: VecDeque<Bytes>,
    error: Option<FrameError>,
}

impl Default for FrameDecoder {
    /// A 2-byte header and netpack's cap of 65535 bytes.
    fn default() -> Self {
        FrameDecoder::new(HeaderLen::Two, DEFAULT_MAX_FRAME)
    }
}

impl FrameDecoder {
    /// A decoder for frames with `header`, refusing payloads over
    /// `max_frame` bytes. `max_frame` is lowered to what the header can
    /// describe (65535 for [`HeaderLen::Two`]).
    pub fn new(header: HeaderLen, max_frame: usize) -> Self {
        FrameDecoder {
            header,
            max_frame: max_frame.min(header.max_payload()),
            partial: Partial::EMPTY,
            ready: VecDeque::new(),
            error: None,
        }
    }

    /// The header size this decoder reads.
    pub fn header(&self) -> HeaderLen {
        self.header
    }

    /// The largest payload this decoder accepts.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Takes in bytes read from the stream. Complete frames are queued for
    /// [`next_frame`](Self::next_frame); the rest is held as a partial
    /// frame.
    ///
    /// Once a header declares too large a frame the stream is broken: the
    /// frames before it stay queued, [`next_frame`](Self::next_frame)
    /// returns the error after them, and later input is dropped.
    pub fn feed(&mut self, mut input: &[u8]) {
        while !input.is_empty() && self.error.is_none() {
            input = self.step(input);
        }
    }

    /// Consumes some of `input` (at least one byte, given a non-empty
    /// input) and returns the rest.
    fn step<'a>(&mut self, input: &'a [u8]) -> &'a [u8] {
        match &mut self.partial {
            Partial::Header { bytes, have } => {
                let size = self.header.size();
                let mut rest = input;
                while *have < size {
                    let Some((&b, tail)) = rest.split_first() else {
                        return rest;
                    };
                    if let Some(slot) = bytes.get_mut(*have) {
                        *slot = b;
                    }
                    *have += 1;
                    rest = tail;
                }
                let len = match self.header {
                    HeaderLen::Two => usize::from(u16::from_be_bytes([bytes[0], bytes[1]])),
                    HeaderLen::Four => {
                        usize::try_from(u32::from_be_bytes(*bytes)).unwrap_or(usize::MAX)
                    }
                };
                if len > self.max_frame {
                    self.error = Some(FrameError::TooLarge {
                        declared: len,
                        max: self.max_frame,
                    });
                    self.partial = Partial::EMPTY;
                } else if len == 0 {
                    self.ready.push_back(Bytes::new());
                    self.partial = Partial::EMPTY;
                } else {
                    // The body's buffer grows as its bytes arrive, never
                    // past `len`: a header alone reserves nothing.
                    self.partial = Partial::Body {
                        len,
                        buf: Vec::new(),
                    };
                }
                rest
            }
            Partial::Body { len, buf } => {
                let want = len.saturating_sub(buf.len());
                let take = want.min(input.len());
                let (now, rest) = input.split_at(take);
                if buf.is_empty() && take == *len {
                    // The whole body is here: one exact copy.
                    self.ready.push_back(Bytes::copy_from_slice(now));
                    self.partial = Partial::EMPTY;
                    return rest;
                }
                let needed = buf.len().saturating_add(take);
                if needed > buf.capacity() {
                    // Double, capped at the frame's length: amortised
                    // linear copying however the body is split.
                    let target = needed.max(buf.capacity().saturating_mul(2)).min(*len);
                    buf.reserve_exact(target.saturating_sub(buf.len()));
                }
                buf.extend_from_slice(now);
                if buf.len() >= *len {
                    let body = std::mem::take(buf);
                    self.ready.push_back(Bytes::from(body));
                    self.partial = Partial::EMPTY;
                }
                rest
            }
        }
    }

    /// The next complete frame, in stream order; `Ok(None)` when no frame is
    /// complete yet. After a too-large header, the frames before it come
    /// first, then `Err` on every call.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, FrameError> {
        if let Some(f) = self.ready.pop_front() {
            return Ok(Some(f));
        }
        match &self.error {
            Some(e) => Err(e.clone()),
            None => Ok(None),
        }
    }

    /// Bytes held for the frame not yet complete: never more than the
    /// header plus [`max_frame`](Self::max_frame). Complete frames waiting
    /// in the queue are not counted (see [`queued`](Self::queued)).
    pub fn buffered(&self) -> usize {
        match &self.partial {
            Partial::Header { have, .. } => *have,
            Partial::Body { buf, .. } => self.header.size().saturating_add(buf.len()),
        }
    }

    /// How many complete frames wait for [`next_frame`](Self::next_frame)
    /// (skynet's "more" queue).
    pub fn queued(&self) -> usize {
        self.ready.len()
    }

    /// The error that broke the stream, if one did.
    pub fn error(&self) -> Option<&FrameError> {
        self.error.as_ref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn drain(d: &mut FrameDecoder) -> Result<Vec<Vec<u8>>, FrameError> {
        let mut out = Vec::new();
        while let Some(f) = d.next_frame()? {
            out.push(f.to_vec());
        }
        Ok(out)
    }

    fn stream(frames: &[&[u8]], h: HeaderLen) -> Vec<u8> {
        let mut s = Vec::new();
        for f in frames {
            encode_frame_into(&mut s, f, h).unwrap();
        }
        s
    }

    #[test]
    fn one_frame() {
        let mut d = FrameDecoder::default();
        d.feed(&[0, 5, b'h', b'e', b'l', b'l', b'o']);
        assert_eq!(drain(&mut d).unwrap(), vec![b"hello".to_vec()]);
        assert_eq!(d.buffered(), 0);
        assert_eq!(d.queued(), 0);
    }

    #[test]
    fn zero_length_frames_are_empty_frames() {
        let mut d = FrameDecoder::default();
        d.feed(&[0, 0, 0, 0, 0, 1, b'x', 0, 0]);
        assert_eq!(
            drain(&mut d).unwrap(),
            vec![vec![], vec![], b"x".to_vec(), vec![]]
        );
    }

    #[test]
    fn split_at_every_boundary() {
        let frames: [&[u8]; 4] = [b"abc", b"", &[7; 300], b"z"];
        for h in [HeaderLen::Two, HeaderLen::Four] {
            let s = stream(&frames, h);
            for cut in 0..=s.len() {
                let mut d = FrameDecoder::new(h, 1000);
                d.feed(&s[..cut]);
                let mut got = drain(&mut d).unwrap();
                d.feed(&s[cut..]);
                got.extend(drain(&mut d).unwrap());
                assert_eq!(got, frames.map(|f| f.to_vec()).to_vec(), "cut {cut}");
            }
            // One byte at a time.
            let mut d = FrameDecoder::new(h, 1000);
            let mut got = Vec::new();
            for b in &s {
                d.feed(std::slice::from_ref(b));
                assert!(d.buffered() <= h.size() + 1000);
                got.extend(drain(&mut d).unwrap());
            }
            assert_eq!(got.len(), 4);
        }
    }

    #[test]
    fn many_frames_in_one_read_are_queued() {
        let frames: Vec<Vec<u8>> = (0..100u8).map(|i| vec![i; usize::from(i)]).collect();
        let refs: Vec<&[u8]> = frames.iter().map(|f| f.as_slice()).collect();
        let mut d = FrameDecoder::default();
        d.feed(&stream(&refs, HeaderLen::Two));
        assert_eq!(d.queued(), 100);
        assert_eq!(drain(&mut d).unwrap(), frames);
    }

    #[test]
    fn largest_two_byte_frame() {
        let body = vec![9u8; 65535];
        let s = encode_frame(&body, HeaderLen::Two).unwrap();
        assert_eq!(&s[..2], &[0xff, 0xff]);
        let mut d = FrameDecoder::default();
        d.feed(&s[..40000]);
        assert_eq!(d.buffered(), 40000);
        d.feed(&s[40000..]);
        assert_eq!(drain(&mut d).unwrap(), vec![body]);
    }

    #[test]
    fn too_large_is_refused_at_the_header() {
        let mut d = FrameDecoder::new(HeaderLen::Two, 10);
        let mut s = stream(&[b"ok"], HeaderLen::Two);
        s.extend([0, 11]);
        s.extend([0u8; 11]);
        d.feed(&s[..5]); // the first frame and one header byte
        assert_eq!(d.error(), None);
        d.feed(&s[5..6]); // the header is complete now
        let e = FrameError::TooLarge {
            declared: 11,
            max: 10,
        };
        assert_eq!(d.error(), Some(&e));
        d.feed(&s[6..]);
        assert_eq!(d.buffered(), 0, "the body is not buffered");
        // The frame before the bad header comes first, then the error, for good.
        assert_eq!(d.next_frame().unwrap().unwrap(), &b"ok"[..]);
        assert_eq!(d.next_frame(), Err(e.clone()));
        d.feed(&[0, 1, 1]);
        assert_eq!(d.next_frame(), Err(e));
        assert!(d
            .next_frame()
            .unwrap_err()
            .to_string()
            .contains("11 bytes, more than the limit of 10"));
    }

    #[test]
    fn four_byte_header_needs_its_cap() {
        let mut d = FrameDecoder::new(HeaderLen::Four, 100_000);
        assert_eq!(d.max_frame(), 100_000);
        let body = vec![1u8; 70_000];
        d.feed(&encode_frame(&body, HeaderLen::Four).unwrap());
        assert_eq!(drain(&mut d).unwrap(), vec![body]);
        // 16 MiB declared against a 100 000 cap.
        d.feed(&[0x01, 0x00, 0x00, 0x00]);
        assert_eq!(
            d.next_frame(),
            Err(FrameError::TooLarge {
                declared: 1 << 24,
                max: 100_000
            })
        );
        let mut d = FrameDecoder::new(HeaderLen::Four, usize::MAX);
        assert_eq!(d.max_frame(), u32::MAX as usize);
        d.feed(&[0xff, 0xff, 0xff, 0xff, 1, 2]);
        assert_eq!(d.buffered(), 6);
    }

    #[test]
    fn cap_is_lowered_to_what_the_header_can_say() {
        assert_eq!(
            FrameDecoder::new(HeaderLen::Two, 1 << 20).max_frame(),
            65535
        );
        let d = FrameDecoder::default();
        assert_eq!((d.header(), d.max_frame()), (HeaderLen::Two, 65535));
    }

    #[test]
    fn encoding() {
        assert_eq!(encode_frame(b"hi", HeaderLen::Two).unwrap(), b"\x00\x02hi");
        assert_eq!(
            encode_frame(b"hi", HeaderLen::Four).unwrap(),
            b"\x00\x00\x00\x02hi"
        );
        assert_eq!(encode_frame(b"", HeaderLen::Two).unwrap(), b"\x00\x00");
        assert_eq!(
            encode_frame(&[0; 65535], HeaderLen::Two).unwrap().len(),
            65537
        );
        let e = encode_frame(&[0; 65536], HeaderLen::Two).unwrap_err();
        assert_eq!(e.to_string(), "Invalid size (too long)");
        assert_eq!(
            e,
            FrameError::TooLong {
                len: 65536,
                max: 65535
            }
        );
        let mut out = vec![1];
        assert!(encode_frame_into(&mut out, &[0; 70000], HeaderLen::Two).is_err());
        assert_eq!(out, vec![1], "nothing appended on error");
        assert_eq!(
            encode_frame(&[0; 65536], HeaderLen::Four).unwrap().len(),
            65540
        );
    }

    fn frames_strategy(max: usize) -> impl Strategy<Value = Vec<Vec<u8>>> {
        proptest::collection::vec(
            prop_oneof![
                4 => proptest::collection::vec(any::<u8>(), 0..64),
                1 => proptest::collection::vec(any::<u8>(), 0..=max),
            ],
            0..12,
        )
    }

    proptest! {
        /// Any frames, concatenated and cut anywhere, decode to themselves,
        /// and the partial frame never exceeds header + cap.
        #[test]
        fn cut_anywhere(
            frames in frames_strategy(2000),
            four in any::<bool>(),
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..20),
        ) {
            let h = if four { HeaderLen::Four } else { HeaderLen::Two };
            let max = 2000;
            let mut s = Vec::new();
            for f in &frames {
                encode_frame_into(&mut s, f, h).unwrap();
            }
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(s.len() + 1)).collect();
            points.push(0);
            points.push(s.len());
            points.sort_unstable();
            let mut d = FrameDecoder::new(h, max);
            let mut got = Vec::new();
            for w in points.windows(2) {
                d.feed(&s[w[0]..w[1]]);
                prop_assert!(d.buffered() <= h.size() + max);
                got.extend(drain(&mut d).unwrap());
            }
            prop_assert_eq!(got, frames);
            prop_assert_eq!(d.buffered(), 0);
        }

        /// Arbitrary bytes, split anywhere, never panic; the bound holds and
        /// the only error is a header over the cap.
        #[test]
        fn arbitrary_bytes(
            input in proptest::collection::vec(any::<u8>(), 0..600),
            four in any::<bool>(),
            max in 0usize..300,
            cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..10),
        ) {
            let h = if four { HeaderLen::Four } else { HeaderLen::Two };
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
            points.push(0);
            points.push(input.len());
            points.sort_unstable();
            let mut d = FrameDecoder::new(h, max);
            let mut total = 0;
            for w in points.windows(2) {
                d.feed(&input[w[0]..w[1]]);
                prop_assert!(d.buffered() <= h.size() + max);
                loop {
                    match d.next_frame() {
                        Ok(Some(f)) => {
                            prop_assert!(f.len() <= max);
                            total += h.size() + f.len();
                        }
                        Ok(None) => break,
                        Err(FrameError::TooLarge { declared, max: m }) => {
                            prop_assert!(declared > m);
                            prop_assert_eq!(m, max);
                            break;
                        }
                        Err(e) => prop_assert!(false, "{e}"),
                    }
                }
            }
            prop_assert!(total <= input.len());
        }
    }
}
