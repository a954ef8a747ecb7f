//! Feeds arbitrary chunks from a few connections to `skynet.netpack`'s
//! queue. Every frame it gives out must be the next frame of that
//! connection's byte stream, read independently; what it holds must stay
//! within its limit; and a connection it cuts gives nothing more until it
//! closes.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use skyhold_net::netpack_queue::{Filtered, Queue};
use std::collections::HashMap;

const LIMIT: usize = 3000;

/// A connection's stream so far, and how much of it was given out as frames.
#[derive(Default)]
struct Stream {
    bytes: Vec<u8>,
    read: usize,
    cut: bool,
}

impl Stream {
    /// The next whole frame of the stream, if there is one.
    fn next(&mut self) -> Option<Vec<u8>> {
        let rest = &self.bytes[self.read..];
        if rest.len() < 2 {
            return None;
        }
        let n = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
        let body = rest.get(2..2 + n)?.to_vec();
        self.read += 2 + n;
        Some(body)
    }
}

fuzz_target!(|data: &[u8]| {
    let mut q = Queue::new(LIMIT);
    let mut streams: HashMap<i32, Stream> = HashMap::new();
    let mut input = data;
    while let [op, len, rest @ ..] = input {
        let fd = i32::from(op & 3);
        let n = usize::from(*len).min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        input = tail;
        let s = streams.entry(fd).or_default();
        if op & 0x80 != 0 {
            // The connection closes; a new one may take its id.
            q.closed(fd);
            *s = Stream::default();
            continue;
        }
        s.bytes.extend_from_slice(chunk);
        let out = q.data(fd, chunk);
        if s.cut {
            assert_eq!(out, Filtered::Nothing);
            continue;
        }
        match out {
            Filtered::Nothing => assert!(q.is_empty()),
            Filtered::Frame(f) => assert_eq!(Some(f), s.next()),
            Filtered::More => {}
            Filtered::Overflow(_) => s.cut = true,
        }
        assert!(q.held() <= LIMIT);
        // The gate drains the queue, as skynet's gateserver does.
        while let Some((id, f)) = q.pop() {
            let s = streams.get_mut(&id).expect("a known connection");
            assert!(!s.cut);
            assert_eq!(Some(f), s.next());
        }
    }
});
