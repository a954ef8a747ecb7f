//! The native gate's WebSocket state machine on hostile bytes: a
//! handshake then frames, split anywhere; never a panic, never a message
//! over the limit.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skyhold_net::websocket::{WsConn, WsEvent};

const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

fuzz_target!(|data: &[u8]| {
    let split = data.first().copied().unwrap_or(0) as usize;
    // with and without a good handshake first
    for prefix in [&[][..], REQUEST] {
        let mut c = WsConn::new(1024);
        let mut all = prefix.to_vec();
        all.extend_from_slice(data);
        let split = split.min(all.len());
        let mut ev = c.feed(&all[..split]);
        ev.extend(c.feed(&all[split..]));
        for e in ev {
            if let WsEvent::Message(m) = e {
                assert!(m.len() <= 1024);
            }
        }
    }
});
