//! skynet's cluster wire format, byte for byte (spec §4).
//!
//! Every packet is a big-endian `u16` length and a body. Bodies of requests
//! start with a type byte; bodies of responses start with a little-endian
//! session and then a type byte. A message too large for one packet is sent
//! as a header that declares its total size, then parts of exactly
//! [`MULTI_PART`] bytes, then a last part.
//!
//! The decoders here look at one body and say what it is, or why it is not
//! one; they never allocate more than the body they were given. Putting
//! parts back together, with its limits, is [`crate::reassembly`]'s job.

use std::fmt;

/// The size of every part of a multi-part message but the last.
pub const MULTI_PART: usize = 0x8000;

/// The largest body one packet can carry (its length is a `u16`).
pub const MAX_BODY: usize = u16::MAX as usize;

/// The longest name a request can address (its length is a `u8`).
pub const MAX_NAME: usize = 255;

/// Where a request goes on the receiving node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Address<'a> {
    /// A numeric handle; 0 asks for a registered name's handle.
    Handle(u32),
    /// A name: `@name` (registered for the cluster), `.name` or `:hex`.
    Name(&'a [u8]),
}

/// One request packet, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request<'a> {
    /// A whole request in one packet. Session 0 is a push (no reply).
    Whole {
        /// Its target.
        address: Address<'a>,
        /// The caller's session, 0 for a push.
        session: u32,
        /// The packed arguments.
        data: &'a [u8],
    },
    /// The header of a multi-part request.
    Begin {
        /// Its target.
        address: Address<'a>,
        /// Pairs the parts; for a push it is only that.
        session: u32,
        /// The size the parts must add up to.
        total: u32,
        /// True when no reply is wanted.
        push: bool,
    },
    /// A part of a multi-part request; `last` ends it.
    Part {
        /// The header's session.
        session: u32,
        /// The bytes.
        data: &'a [u8],
        /// True for the final part.
        last: bool,
    },
    /// A trace tag for the request that follows.
    Trace(&'a [u8]),
}

/// One response packet, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Response<'a> {
    /// The call failed remotely; the text says why.
    Error {
        /// The caller's session.
        session: u32,
        /// The remote error text.
        text: &'a [u8],
    },
    /// The whole reply in one packet.
    Whole {
        /// The caller's session.
        session: u32,
        /// The reply message.
        data: &'a [u8],
    },
    /// The header of a multi-part reply.
    Begin {
        /// The caller's session.
        session: u32,
        /// The size the parts must add up to.
        total: u32,
    },
    /// A part of a multi-part reply; `last` ends it.
    Part {
        /// The caller's session.
        session: u32,
        /// The bytes.
        data: &'a [u8],
        /// True for the final part.
        last: bool,
    },
}

/// Why a packet body is not a valid request or response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WireError {
    /// The body is shorter than its type needs.
    Short {
        /// What was being read.
        what: &'static str,
        /// Bytes needed.
        need: usize,
        /// Bytes present.
        have: usize,
    },
    /// The type byte is not one skynet defines.
    UnknownType(u8),
    /// A header packet has bytes after its declared fields.
    Trailing {
        /// What was being read.
        what: &'static str,
        /// Its exact size.
        expected: usize,
        /// The body's size.
        have: usize,
    },
    /// A name of length 0.
    EmptyName,
    /// A part larger than [`MULTI_PART`].
    PartTooLarge(usize),
    /// A multi-part header declaring less than a multi-part message needs.
    TotalTooSmall(u32),
}

impl fmt::Display for WireError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WireError::Short { what, need, have } => write!(
                f,
                "cluster packet too short: {what} needs {need} bytes, the body has {have}"
            ),
            WireError::UnknownType(t) => write!(f, "cluster packet of unknown type 0x{t:02x}"),
            WireError::Trailing {
                what,
                expected,
                have,
            } => write!(
                f,
                "cluster packet malformed: {what} is {expected} bytes, the body has {have}"
            ),
            WireError::EmptyName => f.write_str("cluster request addresses an empty name"),
            WireError::PartTooLarge(n) => write!(
                f,
                "cluster packet malformed: a part of {n} bytes is larger than {MULTI_PART}"
            ),
            WireError::TotalTooSmall(n) => write!(
                f,
                "cluster packet malformed: a multi-part message of {n} bytes would fit in one packet"
            ),
        }
    }
}

impl std::error::Error for WireError {}

/// Reads little-endian fields off the front of a body.
struct Reader<'a> {
    rest: &'a [u8],
    len: usize,
}

impl<'a> Reader<'a> {
    fn new(body: &'a [u8]) -> Self {
        Reader {
            rest: body,
            len: body.len(),
        }
    }

    fn take(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        if self.rest.len() < n {
            return Err(WireError::Short {
                what,
                need: self.len - self.rest.len() + n,
                have: self.len,
            });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        Ok(self.take(1, what)?[0])
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn name(&mut self) -> Result<&'a [u8], WireError> {
        let n = self.u8("a name's length")? as usize;
        if n == 0 {
            return Err(WireError::EmptyName);
        }
        self.take(n, "a name")
    }

    /// The rest, which must be empty: header packets have an exact size.
    fn end(self, what: &'static str) -> Result<(), WireError> {
        if self.rest.is_empty() {
            Ok(())
        } else {
            Err(WireError::Trailing {
                what,
                expected: self.len - self.rest.len(),
                have: self.len,
            })
        }
    }

    fn part(self) -> Result<&'a [u8], WireError> {
        if self.rest.len() > MULTI_PART {
            return Err(WireError::PartTooLarge(self.rest.len()));
        }
        Ok(self.rest)
    }
}

fn total(n: u32) -> Result<u32, WireError> {
    if (n as usize) < MULTI_PART {
        // A request this small goes in one packet; a peer that declares it
        // multi-part is not a skynet cluster sender.
        return Err(WireError::TotalTooSmall(n));
    }
    Ok(n)
}

/// Decodes one request body (the bytes after the length header).
pub fn decode_request(body: &[u8]) -> Result<Request<'_>, WireError> {
    let mut r = Reader::new(body);
    let kind = r.u8("the type")?;
    match kind {
        0x00 | 0x80 => {
            let address = if kind == 0x00 {
                Address::Handle(r.u32("the address")?)
            } else {
                Address::Name(r.name()?)
            };
            let session = r.u32("the session")?;
            Ok(Request::Whole {
                address,
                session,
                data: r.rest,
            })
        }
        0x01 | 0x41 | 0x81 | 0xc1 => {
            let address = if kind & 0x80 == 0 {
                Address::Handle(r.u32("the address")?)
            } else {
                Address::Name(r.name()?)
            };
            let session = r.u32("the session")?;
            let declared = r.u32("the total size")?;
            r.end("a multi-part request header")?;
            Ok(Request::Begin {
                address,
                session,
                total: total(declared)?,
                push: kind & 0x40 != 0,
            })
        }
        0x02 | 0x03 => {
            let session = r.u32("the session")?;
            Ok(Request::Part {
                session,
                data: r.part()?,
                last: kind == 0x03,
            })
        }
        0x04 => Ok(Request::Trace(r.rest)),
        t => Err(WireError::UnknownType(t)),
    }
}

/// Decodes one response body.
pub fn decode_response(body: &[u8]) -> Result<Response<'_>, WireError> {
    let mut r = Reader::new(body);
    let session = r.u32("the session")?;
    let kind = r.u8("the type")?;
    match kind {
        0x00 => Ok(Response::Error {
            session,
            text: r.rest,
        }),
        0x01 => {
            if r.rest.len() > MULTI_PART {
                return Err(WireError::PartTooLarge(r.rest.len()));
            }
            Ok(Response::Whole {
                session,
                data: r.rest,
            })
        }
        0x02 => {
            let declared = r.u32("the total size")?;
            r.end("a multi-part response header")?;
            if (declared as usize) <= MULTI_PART {
                return Err(WireError::TotalTooSmall(declared));
            }
            Ok(Response::Begin {
                session,
                total: declared,
            })
        }
        0x03 | 0x04 => Ok(Response::Part {
            session,
            data: r.part()?,
            last: kind == 0x04,
        }),
        t => Err(WireError::UnknownType(t)),
    }
}

/// Appends one packet: the `u16` big-endian length, then `parts` in order.
fn packet(out: &mut Vec<u8>, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    debug_assert!(len <= MAX_BODY, "cluster packet of {len} bytes");
    out.extend_from_slice(&(len as u16).to_be_bytes());
    for p in parts {
        out.extend_from_slice(p);
    }
}

/// Why a message cannot be put on the wire.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncodeError {
    /// A name of 0 or more than 255 bytes.
    BadName(usize),
    /// A message over 4 GiB cannot be described by the header.
    TooLarge(usize),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::BadName(n) => write!(
                f,
                "a cluster name must be 1 to {MAX_NAME} bytes, this one is {n}"
            ),
            EncodeError::TooLarge(n) => write!(f, "a message of {n} bytes is too large to send"),
        }
    }
}

impl std::error::Error for EncodeError {}

/// Appends the packets of a request to `out`. `session` 0 makes a push,
/// unless the message needs parts: then `push` says so and `session` must be
/// non-zero to pair them, as skynet's sender does.
pub fn encode_request(
    out: &mut Vec<u8>,
    address: Address<'_>,
    session: u32,
    push: bool,
    data: &[u8],
) -> Result<(), EncodeError> {
    let mut head = Vec::with_capacity(8 + MAX_NAME);
    let whole = data.len() < MULTI_PART;
    let mut kind = match address {
        Address::Handle(_) => 0x00,
        Address::Name(_) => 0x80,
    };
    if !whole {
        kind |= if push { 0x41 } else { 0x01 };
    }
    head.push(kind);
    match address {
        Address::Handle(h) => head.extend_from_slice(&h.to_le_bytes()),
        Address::Name(n) => {
            if n.is_empty() || n.len() > MAX_NAME {
                return Err(EncodeError::BadName(n.len()));
            }
            head.push(n.len() as u8);
            head.extend_from_slice(n);
        }
    }
    let wire_session = if whole && push { 0 } else { session };
    head.extend_from_slice(&wire_session.to_le_bytes());
    if whole {
        packet(out, &[&head, data]);
        return Ok(());
    }
    let total = u32::try_from(data.len()).map_err(|_| EncodeError::TooLarge(data.len()))?;
    head.extend_from_slice(&total.to_le_bytes());
    packet(out, &[&head]);
    let mut chunks = data.chunks(MULTI_PART).peekable();
    while let Some(chunk) = chunks.next() {
        let kind = if chunks.peek().is_some() { 0x02 } else { 0x03 };
        packet(out, &[&[kind], &session.to_le_bytes(), chunk]);
    }
    Ok(())
}

/// Appends the packets of a successful reply to `out`.
pub fn encode_reply(out: &mut Vec<u8>, session: u32, data: &[u8]) -> Result<(), EncodeError> {
    let s = session.to_le_bytes();
    if data.len() <= MULTI_PART {
        packet(out, &[&s, &[0x01], data]);
        return Ok(());
    }
    let total = u32::try_from(data.len()).map_err(|_| EncodeError::TooLarge(data.len()))?;
    packet(out, &[&s, &[0x02], &total.to_le_bytes()]);
    let mut chunks = data.chunks(MULTI_PART).peekable();
    while let Some(chunk) = chunks.next() {
        let kind = if chunks.peek().is_some() { 0x03 } else { 0x04 };
        packet(out, &[&s, &[kind], chunk]);
    }
    Ok(())
}

/// Appends an error reply to `out`; the text is cut at [`MULTI_PART`] bytes.
pub fn encode_error(out: &mut Vec<u8>, session: u32, text: &[u8]) {
    let text = &text[..text.len().min(MULTI_PART)];
    packet(out, &[&session.to_le_bytes(), &[0x00], text]);
}

/// Splits a stream of packets into bodies (for tests and tools; the links
/// read packets off the socket one at a time).
pub fn bodies(mut stream: &[u8]) -> Result<Vec<&[u8]>, WireError> {
    let mut out = Vec::new();
    while !stream.is_empty() {
        if stream.len() < 2 {
            return Err(WireError::Short {
                what: "a length header",
                need: 2,
                have: stream.len(),
            });
        }
        let n = u16::from_be_bytes([stream[0], stream[1]]) as usize;
        let rest = &stream[2..];
        if rest.len() < n {
            return Err(WireError::Short {
                what: "a packet body",
                need: n,
                have: rest.len(),
            });
        }
        out.push(&rest[..n]);
        stream = &rest[n..];
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn a_small_call_is_the_bytes_skynet_writes() {
        // spec §4: packrequest(0x01000005, 7, pack("hi")).
        let mut out = Vec::new();
        encode_request(
            &mut out,
            Address::Handle(0x0100_0005),
            7,
            false,
            &[0x14, b'h', b'i'],
        )
        .unwrap();
        assert_eq!(hex(&out), "000c000500000107000000146869");
        let body = bodies(&out).unwrap()[0];
        assert_eq!(
            decode_request(body).unwrap(),
            Request::Whole {
                address: Address::Handle(0x0100_0005),
                session: 7,
                data: &[0x14, b'h', b'i'],
            }
        );
    }

    #[test]
    fn a_small_reply_is_the_bytes_skynet_writes() {
        // spec §4: packresponse(7, true, "abc").
        let mut out = Vec::new();
        encode_reply(&mut out, 7, b"abc").unwrap();
        assert_eq!(hex(&out), "00080700000001616263");
    }

    #[test]
    fn a_reply_one_byte_over_a_part_is_three_packets_of_skynets_sizes() {
        let data = vec![7u8; 0x8001];
        let mut out = Vec::new();
        encode_reply(&mut out, 9, &data).unwrap();
        let b = bodies(&out).unwrap();
        let sizes: Vec<usize> = b.iter().map(|x| x.len() + 2).collect();
        assert_eq!(sizes, vec![11, 32775, 8]);
        let kinds: Vec<u8> = b.iter().map(|x| x[4]).collect();
        assert_eq!(kinds, vec![2, 3, 4]);
        assert_eq!(
            decode_response(b[0]).unwrap(),
            Response::Begin {
                session: 9,
                total: 0x8001
            }
        );
    }

    #[test]
    fn a_reply_of_an_exact_multiple_still_ends_with_a_last_part() {
        let mut out = Vec::new();
        encode_reply(&mut out, 1, &vec![0u8; 2 * MULTI_PART]).unwrap();
        let b = bodies(&out).unwrap();
        let kinds: Vec<u8> = b.iter().map(|x| x[4]).collect();
        assert_eq!(kinds, vec![2, 3, 4]);
        assert_eq!(b[2].len(), 5 + MULTI_PART);
    }

    #[test]
    fn a_large_named_push_declares_itself_a_push_and_keeps_its_session() {
        let mut out = Vec::new();
        encode_request(
            &mut out,
            Address::Name(b"@db"),
            5,
            true,
            &vec![1u8; MULTI_PART],
        )
        .unwrap();
        let b = bodies(&out).unwrap();
        assert_eq!(b[0][0], 0xc1);
        assert_eq!(
            decode_request(b[0]).unwrap(),
            Request::Begin {
                address: Address::Name(b"@db"),
                session: 5,
                total: MULTI_PART as u32,
                push: true
            }
        );
        // Exactly one part of 0x8000 bytes, and it is the last.
        assert_eq!(b.len(), 2);
        assert_eq!(
            decode_request(b[1]).unwrap(),
            Request::Part {
                session: 5,
                data: &vec![1u8; MULTI_PART][..],
                last: true
            }
        );
    }

    #[test]
    fn a_small_push_has_session_zero_whatever_it_was_given() {
        let mut out = Vec::new();
        encode_request(&mut out, Address::Name(b".x"), 44, true, b"z").unwrap();
        assert_eq!(hex(&out), "0009 80 02 2e78 00000000 7a".replace(' ', ""));
    }

    #[test]
    fn names_must_be_one_to_255_bytes() {
        let mut out = Vec::new();
        assert_eq!(
            encode_request(&mut out, Address::Name(b""), 1, false, b""),
            Err(EncodeError::BadName(0))
        );
        assert_eq!(
            encode_request(&mut out, Address::Name(&[b'a'; 256]), 1, false, b""),
            Err(EncodeError::BadName(256))
        );
        assert!(out.is_empty());
        assert_eq!(decode_request(&[0x80, 0]), Err(WireError::EmptyName));
    }

    #[test]
    fn hostile_request_bodies_are_named_errors() {
        assert!(matches!(decode_request(&[]), Err(WireError::Short { .. })));
        assert!(matches!(
            decode_request(&[0, 1, 2]),
            Err(WireError::Short { .. })
        ));
        assert!(matches!(
            decode_request(&[0x80, 9, b'a']),
            Err(WireError::Short { what: "a name", .. })
        ));
        assert_eq!(decode_request(&[0x77]), Err(WireError::UnknownType(0x77)));
        let mut header = vec![0x01, 0, 0, 0, 0, 1, 0, 0, 0];
        header.extend_from_slice(&0x8000u32.to_le_bytes());
        header.push(0);
        assert!(matches!(
            decode_request(&header),
            Err(WireError::Trailing { .. })
        ));
        header.pop();
        header[9..13].copy_from_slice(&10u32.to_le_bytes());
        assert_eq!(decode_request(&header), Err(WireError::TotalTooSmall(10)));
        let mut part = vec![0x02, 1, 0, 0, 0];
        part.extend_from_slice(&vec![0; MULTI_PART + 1]);
        assert_eq!(
            decode_request(&part),
            Err(WireError::PartTooLarge(MULTI_PART + 1))
        );
        let e = decode_request(&[0x00, 1]).unwrap_err().to_string();
        assert!(e.contains("the address needs 5 bytes"), "{e}");
    }

    #[test]
    fn hostile_response_bodies_are_named_errors() {
        assert!(matches!(
            decode_response(&[1, 0, 0, 0]),
            Err(WireError::Short { .. })
        ));
        assert_eq!(
            decode_response(&[1, 0, 0, 0, 9]),
            Err(WireError::UnknownType(9))
        );
        assert_eq!(
            decode_response(&[1, 0, 0, 0, 2, 0, 0x80, 0, 0]),
            Err(WireError::TotalTooSmall(0x8000))
        );
        let mut whole = vec![1, 0, 0, 0, 1];
        whole.extend_from_slice(&vec![0; MULTI_PART + 1]);
        assert_eq!(
            decode_response(&whole),
            Err(WireError::PartTooLarge(MULTI_PART + 1))
        );
    }

    #[test]
    fn an_error_text_is_cut_at_a_part() {
        let mut out = Vec::new();
        encode_error(&mut out, 3, &vec![b'e'; MULTI_PART + 10]);
        let b = bodies(&out).unwrap();
        match decode_response(b[0]).unwrap() {
            Response::Error { session: 3, text } => assert_eq!(text.len(), MULTI_PART),
            other => panic!("{other:?}"),
        }
    }

    fn address() -> impl Strategy<Value = (Option<u32>, Vec<u8>)> {
        prop_oneof![
            any::<u32>().prop_map(|h| (Some(h), Vec::new())),
            proptest::collection::vec(any::<u8>(), 1..=MAX_NAME).prop_map(|n| (None, n)),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        #[test]
        fn requests_decode_to_what_was_encoded(
            (handle, name) in address(),
            session in 1u32..,
            push in any::<bool>(),
            len in prop_oneof![0usize..64, MULTI_PART - 2..MULTI_PART + 2, 3 * MULTI_PART..3 * MULTI_PART + 3],
        ) {
            let data: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let address = match handle { Some(h) => Address::Handle(h), None => Address::Name(&name) };
            let mut out = Vec::new();
            encode_request(&mut out, address, session, push, &data).unwrap();
            let b = bodies(&out).unwrap();
            let mut got = Vec::new();
            match decode_request(b[0]).unwrap() {
                Request::Whole { address: a, session: s, data: d } => {
                    prop_assert_eq!(b.len(), 1);
                    prop_assert_eq!(a, address);
                    prop_assert_eq!(s, if push { 0 } else { session });
                    got.extend_from_slice(d);
                }
                Request::Begin { address: a, session: s, total, push: p } => {
                    prop_assert_eq!(a, address);
                    prop_assert_eq!(s, session);
                    prop_assert_eq!(p, push);
                    prop_assert_eq!(total as usize, len);
                    for (i, body) in b[1..].iter().enumerate() {
                        match decode_request(body).unwrap() {
                            Request::Part { session: s, data: d, last } => {
                                prop_assert_eq!(s, session);
                                prop_assert_eq!(last, i + 2 == b.len());
                                if !last { prop_assert_eq!(d.len(), MULTI_PART); }
                                got.extend_from_slice(d);
                            }
                            other => prop_assert!(false, "{:?}", other),
                        }
                    }
                }
                other => prop_assert!(false, "{:?}", other),
            }
            prop_assert_eq!(got, data);
        }

        #[test]
        fn replies_decode_to_what_was_encoded(session in any::<u32>(), len in prop_oneof![0usize..64, MULTI_PART - 1..MULTI_PART + 2, 2 * MULTI_PART..2 * MULTI_PART + 2]) {
            let data: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
            let mut out = Vec::new();
            encode_reply(&mut out, session, &data).unwrap();
            let mut got = Vec::new();
            for body in bodies(&out).unwrap() {
                match decode_response(body).unwrap() {
                    Response::Whole { session: s, data: d } | Response::Part { session: s, data: d, .. } => {
                        prop_assert_eq!(s, session);
                        got.extend_from_slice(d);
                    }
                    Response::Begin { session: s, total } => {
                        prop_assert_eq!(s, session);
                        prop_assert_eq!(total as usize, len);
                    }
                    Response::Error { .. } => prop_assert!(false),
                }
            }
            prop_assert_eq!(got, data);
        }

        #[test]
        fn any_body_decodes_or_is_refused_without_panicking(body in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = decode_request(&body);
            let _ = decode_response(&body);
        }
    }
}
