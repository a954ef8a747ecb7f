//! Feeds arbitrary bytes to the netpack frame decoder, split at
//! fuzzer-chosen points. The frames must not depend on the split, must
//! re-encode to the input they came from, and the partial frame must stay
//! within header + cap.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use skyhold_net::frame::{encode_frame_into, FrameDecoder, FrameError, HeaderLen};

#[derive(Arbitrary, Debug)]
struct Input {
    four: bool,
    max: u32,
    /// Chunk lengths to feed, in turn; what is left is fed at the end.
    cuts: Vec<u16>,
    data: Vec<u8>,
}

/// Drains every ready frame; returns the error if the stream broke.
fn drain(d: &mut FrameDecoder, out: &mut Vec<Vec<u8>>) -> Option<FrameError> {
    loop {
        match d.next_frame() {
            Ok(Some(f)) => out.push(f.to_vec()),
            Ok(None) => return None,
            Err(e) => return Some(e),
        }
    }
}

fuzz_target!(|input: Input| {
    let header = if input.four {
        HeaderLen::Four
    } else {
        HeaderLen::Two
    };
    // Keep caps small enough that the fuzzer can reach them.
    let max = (input.max % (1 << 17)) as usize;
    let bound = header.size() + max.min(header.max_payload());

    let mut d = FrameDecoder::new(header, max);
    let mut frames = Vec::new();
    let mut error = None;
    let mut rest = input.data.as_slice();
    for &cut in &input.cuts {
        let (now, later) = rest.split_at(usize::from(cut).min(rest.len()));
        d.feed(now);
        assert!(d.buffered() <= bound);
        rest = later;
        if let Some(e) = drain(&mut d, &mut frames) {
            error = Some(e);
        }
    }
    d.feed(rest);
    assert!(d.buffered() <= bound);
    if let Some(e) = drain(&mut d, &mut frames) {
        error = Some(e);
    }

    // The same bytes in one piece give the same result.
    let mut whole = FrameDecoder::new(header, max);
    whole.feed(&input.data);
    let mut frames2 = Vec::new();
    let error2 = drain(&mut whole, &mut frames2);
    assert_eq!(frames, frames2);
    assert_eq!(error, error2);
    assert_eq!(d.buffered(), whole.buffered());

    // The frames re-encode to a prefix of the input.
    let mut encoded = Vec::new();
    for f in &frames {
        assert!(f.len() <= d.max_frame());
        encode_frame_into(&mut encoded, f, header).expect("a decoded frame re-encodes");
    }
    assert!(input.data.starts_with(&encoded));
    match error {
        None => assert_eq!(encoded.len() + d.buffered(), input.data.len()),
        Some(FrameError::TooLarge { declared, max: m }) => {
            assert!(declared > m);
            assert_eq!(d.buffered(), 0);
        }
        Some(e) => panic!("unexpected error {e}"),
    }
});
