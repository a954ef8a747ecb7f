//! Waiting with a deadline: for a condition, or for something on a
//! channel, so a test that goes wrong fails instead of hanging.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// Receives with a deadline; panics with `what` if nothing came.
pub fn expect<T>(rx: &Receiver<T>, what: &str) -> T {
    expect_within(rx, Duration::from_secs(10), what)
}

/// Receives within `limit`; panics with `what` if nothing came.
pub fn expect_within<T>(rx: &Receiver<T>, limit: Duration, what: &str) -> T {
    match rx.recv_timeout(limit) {
        Ok(v) => v,
        Err(RecvTimeoutError::Timeout) => panic!("timed out waiting for {what}"),
        Err(RecvTimeoutError::Disconnected) => panic!("sender gone while waiting for {what}"),
    }
}

/// Asserts nothing arrives for a short while.
pub fn expect_nothing<T: std::fmt::Debug>(rx: &Receiver<T>, what: &str) {
    if let Ok(v) = rx.recv_timeout(Duration::from_millis(200)) {
        panic!("{what}: got {v:?}");
    }
}

/// Polls `f` until it is true or `limit` passes.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if f() {
            return true;
        }
        if Instant::now() > end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
