//! Reads arbitrary bytes as a stream of cluster packets (a big-endian `u16`
//! length and a body, up to a truncated tail) and decodes every body both as
//! a request and as a response. A whole request must re-encode to the body
//! it came from and decode again to the same request; the multi-part
//! headers and parts go to two assemblers with small limits, which must stay
//! within them whatever arrives.
#![no_main]
#![forbid(unsafe_code)]

use libfuzzer_sys::fuzz_target;
use skyhold_cluster::reassembly::{Assembled, Assembler, Limits};
use skyhold_cluster::wire::{
    bodies, decode_request, decode_response, encode_request, Request, Response, MULTI_PART,
};

const LIMITS: Limits = Limits {
    max_message: 100_000,
    max_partial: 4,
    max_partial_bytes: 150_000,
};

/// Splits the stream into bodies, stopping at a truncated tail; says whether
/// the whole stream was packets.
fn split(mut stream: &[u8]) -> (Vec<&[u8]>, bool) {
    let mut out = Vec::new();
    while stream.len() >= 2 {
        let n = usize::from(u16::from_be_bytes([stream[0], stream[1]]));
        let Some(body) = stream.get(2..2 + n) else {
            return (out, false);
        };
        out.push(body);
        stream = &stream[2 + n..];
    }
    (out, stream.is_empty())
}

/// The assembler's bounds, after every step.
fn check<M>(a: &Assembler<M>) {
    assert!(a.held() <= LIMITS.max_partial_bytes);
    assert!(a.in_progress() <= LIMITS.max_partial);
    if a.in_progress() == 0 {
        assert_eq!(a.held(), 0);
    }
}

/// A finished message is what its header declared (the meta), and only
/// kept when that was within the limit.
fn finished(done: Option<Assembled<usize>>) {
    match done {
        None => {}
        Some(Assembled::Whole(declared, data)) => {
            assert!(data.len() <= LIMITS.max_message);
            assert_eq!(data.len(), declared);
        }
        Some(Assembled::TooLarge(declared, n)) => {
            assert_eq!(declared, n);
            assert!(n > LIMITS.max_message);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let (packets, complete) = split(data);
    match bodies(data) {
        Ok(b) => {
            assert!(complete);
            assert_eq!(b, packets);
        }
        Err(_) => assert!(!complete),
    }

    let mut requests = Assembler::new(LIMITS);
    let mut responses = Assembler::new(LIMITS);
    for body in packets {
        match decode_request(body) {
            Ok(Request::Whole {
                address,
                session,
                data,
            }) if data.len() < MULTI_PART => {
                let mut out = Vec::new();
                encode_request(&mut out, address, session, session == 0, data)
                    .expect("a decoded request re-encodes");
                assert_eq!(&out[2..], body, "re-encodes to the same body");
                let again = bodies(&out).expect("one whole packet");
                assert_eq!(again.len(), 1);
                assert_eq!(
                    decode_request(again[0]).expect("a re-encoded request decodes"),
                    Request::Whole {
                        address,
                        session,
                        data
                    }
                );
            }
            Ok(Request::Begin { session, total, .. }) => {
                assert!(total as usize >= MULTI_PART);
                let _ = requests.begin(session, total as usize, total as usize);
            }
            Ok(Request::Part {
                session,
                data,
                last,
            }) => {
                assert!(data.len() <= MULTI_PART);
                if let Ok(done) = requests.part(session, data, last) {
                    finished(done);
                }
            }
            Ok(_) | Err(_) => {}
        }
        check(&requests);

        match decode_response(body) {
            Ok(Response::Begin { session, total }) => {
                assert!(total as usize > MULTI_PART);
                let _ = responses.begin(session, total as usize, total as usize);
            }
            Ok(Response::Part {
                session,
                data,
                last,
            }) => {
                assert!(data.len() <= MULTI_PART);
                if let Ok(done) = responses.part(session, data, last) {
                    finished(done);
                }
            }
            Ok(_) | Err(_) => {}
        }
        check(&responses);
    }
});
