//! Per-service message logs: skynet's `logon`/`logoff`.
//!
//! While a service is logged on, every message it receives is written, as
//! it is taken from the mailbox, to its own file `<dir>/<handle as 8 hex
//! digits>.log`, one line a message in skynet's format:
//!
//! - `open time: <tick> <ctime>` when the file is opened (the tick is the
//!   node's centisecond clock, as `skynet.now()`);
//! - `:<source as 8 hex> <type> <session> <tick> <payload in hex>` for a
//!   message;
//! - `[socket] <kind> <id> <ud> ` then the data in hex (data, UDP and
//!   frame events) or the event's text in brackets (the others) for a
//!   socket event;
//! - `close time: <tick>` at `logoff`.
//!
//! Where the file may be is not this module's business: the node is given
//! an opener (the binary's opens it under the file write root) or the
//! reason there is none. The worker that handles the message only formats
//! the line and queues it; one writer thread per node does the disk work,
//! so a slow disk never holds a worker. Two bounds keep that safe: a file
//! grows by at most `logfile_max_bytes` (the messages past it are counted
//! and said once in the file), and at most `logfile_queue_bytes` of lines
//! wait for the writer (lines past it are dropped, counted, and the gap
//! said in the file before the next line written).

use parking_lot::Mutex;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::handle::Handle;
use crate::message::{ptype, Message};

/// Opens the log file of a service: the open file and the path to show.
pub type LogOpener = Arc<dyn Fn(Handle) -> Result<(File, String), String> + Send + Sync>;

/// Where per-service logs go: an opener, or why there is none.
pub type LogPlace = Result<LogOpener, String>;

/// Why `logon` is refused when the node was given no place for logs.
pub const NO_PLACE: &str = "no directory for per-service message logs is configured \
     (set file_write_root; logs go there, or under it where logpath says)";

/// The counters of a node's message logs.
#[derive(Default, Debug)]
pub struct MsgLogCounters {
    /// Files opened by `logon`.
    pub opened: AtomicU64,
    /// Lines written.
    pub lines: AtomicU64,
    /// Bytes written.
    pub bytes: AtomicU64,
    /// Messages not written because their file had reached
    /// `logfile_max_bytes`.
    pub over_limit: AtomicU64,
    /// Messages not written because `logfile_queue_bytes` of lines were
    /// already waiting for the writer.
    pub dropped: AtomicU64,
    /// Writes the file system refused (a full disk).
    pub write_errors: AtomicU64,
}

/// One open message log: the file of one logged-on service.
pub struct Tap {
    handle: Handle,
    path: String,
    /// Bytes queued for this file so far (what `logfile_max_bytes` bounds).
    accounted: AtomicU64,
    /// Set once the limit was met (and said in the file).
    full: AtomicBool,
    /// Messages dropped since the last line queued.
    gap: AtomicU64,
    /// The file; only the writer thread writes to it.
    file: Mutex<Option<BufWriter<File>>>,
}

impl Tap {
    /// The service whose messages this file gets.
    pub fn handle(&self) -> Handle {
        self.handle
    }

    /// The file's path, as the opener showed it.
    pub fn path(&self) -> &str {
        &self.path
    }
}

enum Op {
    Line(Arc<Tap>, Vec<u8>),
    Close(Arc<Tap>, Vec<u8>),
    Sync(mpsc::SyncSender<()>),
}

/// A node's message logs: the place, the bounds, the writer thread.
pub struct MsgLog {
    place: LogPlace,
    max_bytes: u64,
    queue_bytes: usize,
    queued: Arc<AtomicUsize>,
    counters: Arc<MsgLogCounters>,
    writer: Mutex<Option<(mpsc::Sender<Op>, JoinHandle<()>)>>,
    /// Set by `shutdown`: no writer starts again.
    closed: AtomicBool,
}

impl MsgLog {
    /// Message logs opened through `place`, bounded by `max_bytes` a file
    /// and `queue_bytes` waiting.
    pub fn new(place: LogPlace, max_bytes: usize, queue_bytes: usize) -> MsgLog {
        MsgLog {
            place,
            max_bytes: max_bytes as u64,
            queue_bytes,
            queued: Arc::new(AtomicUsize::new(0)),
            counters: Arc::new(MsgLogCounters::default()),
            writer: Mutex::new(None),
            closed: AtomicBool::new(false),
        }
    }

    /// The counters.
    pub fn counters(&self) -> &MsgLogCounters {
        &self.counters
    }

    /// Opens the log of `h` and queues its first line (`now` is the node's
    /// tick, `wall` the Unix time it stands for).
    pub fn open(&self, h: Handle, now: u64, wall: i64) -> Result<Arc<Tap>, String> {
        let opener = self.place.as_ref().map_err(Clone::clone)?;
        let (file, path) = opener(h)?;
        self.counters.opened.fetch_add(1, Ordering::Relaxed);
        let tap = Arc::new(Tap {
            handle: h,
            path,
            accounted: AtomicU64::new(0),
            full: AtomicBool::new(false),
            gap: AtomicU64::new(0),
            file: Mutex::new(Some(BufWriter::new(file))),
        });
        let line = format!("open time: {now} {}\n", ctime(wall)).into_bytes();
        tap.accounted
            .fetch_add(line.len() as u64, Ordering::Relaxed);
        self.queue(Op::Line(tap.clone(), line));
        Ok(tap)
    }

    /// Queues the line of `msg` for `tap`, unless a bound says no.
    pub fn record(&self, tap: &Arc<Tap>, msg: &Message, now: u64) {
        if tap.full.load(Ordering::Relaxed) {
            self.counters.over_limit.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let gap = tap.gap.load(Ordering::Relaxed);
        let gap_note = (gap > 0).then(|| {
            format!("skyhold: {gap} messages not written here (the writer was behind: logfile_queue_bytes)\n")
        });
        let (head, data, tail) = parts(msg, now);
        let size =
            gap_note.as_ref().map_or(0, String::len) + head.len() + data.len() * 2 + tail.len() + 1;
        let accounted = tap.accounted.load(Ordering::Relaxed);
        if accounted + size as u64 > self.max_bytes {
            self.counters.over_limit.fetch_add(1, Ordering::Relaxed);
            if !tap.full.swap(true, Ordering::Relaxed) {
                let note = format!(
                    "skyhold: this log reached logfile_max_bytes ({} bytes); later messages are not written\n",
                    self.max_bytes
                );
                self.queue(Op::Line(tap.clone(), note.into_bytes()));
            }
            return;
        }
        if self.queued.load(Ordering::Relaxed) + size > self.queue_bytes {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            tap.gap.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let mut line = Vec::with_capacity(size);
        if let Some(n) = gap_note {
            tap.gap.fetch_sub(gap, Ordering::Relaxed);
            line.extend_from_slice(n.as_bytes());
        }
        line.extend_from_slice(head.as_bytes());
        push_hex(&mut line, data);
        line.extend_from_slice(&tail);
        line.push(b'\n');
        tap.accounted.fetch_add(size as u64, Ordering::Relaxed);
        self.queue(Op::Line(tap.clone(), line));
    }

    /// Closes `tap`'s file once the lines queued before are written,
    /// writing `close time: <now>` first if `now` is given (a `logoff`;
    /// a service that retires just has its file closed, as in skynet).
    pub fn close(&self, tap: Arc<Tap>, now: Option<u64>) {
        let last = now.map_or_else(Vec::new, |t| format!("close time: {t}\n").into_bytes());
        self.queue(Op::Close(tap, last));
    }

    /// Waits (up to `timeout`) until every line queued before is written
    /// and flushed; false if it was not done in time.
    pub fn sync(&self, timeout: Duration) -> bool {
        let (tx, rx) = mpsc::sync_channel(1);
        if !self.queue(Op::Sync(tx)) {
            return true;
        }
        rx.recv_timeout(timeout).is_ok()
    }

    /// Writes what is queued, closes the files and ends the writer thread.
    pub fn shutdown(&self) {
        let writer = {
            let mut w = self.writer.lock();
            self.closed.store(true, Ordering::Relaxed);
            w.take()
        };
        if let Some((tx, thread)) = writer {
            drop(tx);
            let _ = thread.join();
        }
    }

    /// Hands `op` to the writer thread (started on first use); false if
    /// there is none and none could be started.
    fn queue(&self, op: Op) -> bool {
        let len = match &op {
            Op::Line(_, l) | Op::Close(_, l) => l.len(),
            Op::Sync(_) => 0,
        };
        let mut w = self.writer.lock();
        if w.is_none() {
            if matches!(op, Op::Sync(_)) || self.closed.load(Ordering::Relaxed) {
                return false;
            }
            let (tx, rx) = mpsc::channel();
            let queued = self.queued.clone();
            let counters = self.counters.clone();
            let spawned = std::thread::Builder::new()
                .name("skyhold-msglog".into())
                .spawn(move || write_loop(&rx, &queued, &counters));
            match spawned {
                Ok(t) => *w = Some((tx, t)),
                Err(_) => {
                    self.counters.write_errors.fetch_add(1, Ordering::Relaxed);
                    return false;
                }
            }
        }
        let Some((tx, _)) = w.as_ref() else {
            return false;
        };
        self.queued.fetch_add(len, Ordering::Relaxed);
        if tx.send(op).is_err() {
            self.queued.fetch_sub(len, Ordering::Relaxed);
            return false;
        }
        true
    }
}

/// The writer thread: writes each line to its file, flushing whenever it
/// has caught up with the queue.
fn write_loop(rx: &mpsc::Receiver<Op>, queued: &AtomicUsize, counters: &MsgLogCounters) {
    let mut dirty: Vec<Arc<Tap>> = Vec::new();
    let flush = |dirty: &mut Vec<Arc<Tap>>| {
        for t in dirty.drain(..) {
            if let Some(f) = t.file.lock().as_mut() {
                if f.flush().is_err() {
                    counters.write_errors.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    };
    loop {
        let op = match rx.try_recv() {
            Ok(op) => op,
            Err(mpsc::TryRecvError::Empty) => {
                flush(&mut dirty);
                match rx.recv() {
                    Ok(op) => op,
                    Err(_) => break,
                }
            }
            Err(mpsc::TryRecvError::Disconnected) => break,
        };
        match op {
            Op::Line(tap, line) => {
                queued.fetch_sub(line.len(), Ordering::Relaxed);
                let mut f = tap.file.lock();
                if let Some(file) = f.as_mut() {
                    if file.write_all(&line).is_ok() {
                        counters.lines.fetch_add(1, Ordering::Relaxed);
                        counters
                            .bytes
                            .fetch_add(line.len() as u64, Ordering::Relaxed);
                    } else {
                        counters.write_errors.fetch_add(1, Ordering::Relaxed);
                    }
                    drop(f);
                    if !dirty.iter().any(|t| Arc::ptr_eq(t, &tap)) {
                        dirty.push(tap);
                    }
                }
            }
            Op::Close(tap, line) => {
                queued.fetch_sub(line.len(), Ordering::Relaxed);
                let file = tap.file.lock().take();
                if let Some(mut file) = file {
                    if file.write_all(&line).and_then(|()| file.flush()).is_err() {
                        counters.write_errors.fetch_add(1, Ordering::Relaxed);
                    } else if !line.is_empty() {
                        counters.lines.fetch_add(1, Ordering::Relaxed);
                        counters
                            .bytes
                            .fetch_add(line.len() as u64, Ordering::Relaxed);
                    }
                }
                dirty.retain(|t| !Arc::ptr_eq(t, &tap));
            }
            Op::Sync(done) => {
                flush(&mut dirty);
                let _ = done.try_send(());
            }
        }
    }
    flush(&mut dirty);
}

/// A message's line in three parts: the text before the hex, the bytes
/// shown in hex, and the text after it.
fn parts(msg: &Message, now: u64) -> (String, &[u8], Vec<u8>) {
    let p = msg.payload.as_slice();
    if msg.ptype != ptype::SOCKET {
        let head = format!("{} {} {} {now} ", msg.source, msg.ptype, msg.session);
        return (head, p, Vec::new());
    }
    // The socket layer's event: kind (u8), id and ud (i32, little end),
    // then the data or the text.
    if p.len() < 9 {
        return ("[socket] ".to_string(), p, Vec::new());
    }
    let kind = p[0];
    let id = i32::from_le_bytes([p[1], p[2], p[3], p[4]]);
    let ud = i32::from_le_bytes([p[5], p[6], p[7], p[8]]);
    let rest = &p[9..];
    let head = format!("[socket] {kind} {id} {ud} ");
    match kind {
        // Data, a UDP datagram (its address follows), a frame: the ud
        // bytes of data in hex.
        1 | 6 | 8 => {
            let n = usize::try_from(ud).map_or(rest.len(), |n| n.min(rest.len()));
            (head, &rest[..n], Vec::new())
        }
        // The others carry text: up to its first NUL, in brackets, kept
        // on one line.
        _ => {
            let end = rest.iter().position(|b| *b == 0).unwrap_or(rest.len());
            let mut text = Vec::with_capacity(end + 2);
            text.push(b'[');
            text.extend(rest[..end].iter().map(|b| match b {
                b'\n' | b'\r' => b' ',
                b => *b,
            }));
            text.push(b']');
            (head, &[], text)
        }
    }
}

fn push_hex(out: &mut Vec<u8>, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)]);
        out.push(DIGITS[usize::from(b & 15)]);
    }
}

/// C's `ctime` of Unix time `secs` in local time, without its newline:
/// `Mon Dec  7 14:42:59 2026`.
fn ctime(secs: i64) -> String {
    use chrono::TimeZone;
    match chrono::Local.timestamp_opt(secs, 0).single() {
        Some(t) => t.format("%a %b %e %H:%M:%S %Y").to_string(),
        None => secs.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::Payload;

    fn dir(name: &str) -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("skyhold-msglog-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    fn opener(d: &std::path::Path) -> LogPlace {
        let d = d.to_path_buf();
        Ok(Arc::new(move |h: Handle| {
            let p = d.join(format!("{:08x}.log", h.0));
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&p)
                .map_err(|e| e.to_string())?;
            Ok((f, p.display().to_string()))
        }))
    }

    fn msg(source: u32, ty: u8, session: i32, payload: &[u8]) -> Message {
        Message {
            source: Handle(source),
            origin: Handle(source),
            session,
            ptype: ty,
            payload: Payload::from(payload),
        }
    }

    fn event(kind: u8, id: i32, ud: i32, data: &[u8]) -> Vec<u8> {
        let mut v = vec![kind];
        v.extend_from_slice(&id.to_le_bytes());
        v.extend_from_slice(&ud.to_le_bytes());
        v.extend_from_slice(data);
        v
    }

    #[test]
    fn lines_follow_skynets_format() {
        let d = dir("format");
        let log = MsgLog::new(opener(&d), 1 << 20, 1 << 20);
        let tap = log.open(Handle(0x2a), 150, 1_800_000_000).unwrap();
        assert!(tap.path().ends_with("0000002a.log"), "{}", tap.path());
        log.record(&tap, &msg(9, ptype::LUA, 3, b"\x01\xab"), 151);
        log.record(&tap, &msg(0, ptype::RESPONSE, 7, b""), 152);
        log.record(
            &tap,
            &msg(0, ptype::SOCKET, 0, &event(1, 5, 3, b"hi!")),
            153,
        );
        log.record(
            &tap,
            &msg(0, ptype::SOCKET, 0, &event(4, 5, 6, b"1.2.3.4:5\0junk")),
            154,
        );
        log.record(&tap, &msg(0, ptype::SOCKET, 0, &event(3, 5, 0, b"")), 155);
        log.close(tap, Some(160));
        assert!(log.sync(Duration::from_secs(10)));
        let text = std::fs::read_to_string(d.join("0000002a.log")).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines[0].starts_with("open time: 150 "), "{text}");
        assert_eq!(lines[0], format!("open time: 150 {}", ctime(1_800_000_000)));
        assert_eq!(
            &lines[1..],
            [
                ":00000009 10 3 151 01ab",
                ":00000000 1 7 152 ",
                "[socket] 1 5 3 686921",
                "[socket] 4 5 6 [1.2.3.4:5]",
                "[socket] 3 5 0 []",
                "close time: 160",
            ],
            "{text}"
        );
        assert_eq!(log.counters().lines.load(Ordering::Relaxed), 7);
        log.shutdown();
        // After shutdown nothing starts the writer again.
        let late = log.open(Handle(0x2b), 1, 0).unwrap();
        log.record(&late, &msg(9, ptype::LUA, 3, b"x"), 2);
        assert!(log.writer.lock().is_none());
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn a_file_stops_at_its_limit_and_says_so_once() {
        let d = dir("limit");
        let log = MsgLog::new(opener(&d), 200, 1 << 20);
        let tap = log.open(Handle(1), 0, 0).unwrap();
        for i in 0..50 {
            log.record(&tap, &msg(2, ptype::LUA, i, b"0123456789"), 1);
        }
        log.close(tap, Some(2));
        assert!(log.sync(Duration::from_secs(10)));
        let text = std::fs::read_to_string(d.join("00000001.log")).unwrap();
        let written = text.lines().filter(|l| l.starts_with(":00000002")).count();
        assert!(written > 0 && written < 50, "{text}");
        assert_eq!(
            text.matches("reached logfile_max_bytes (200 bytes)")
                .count(),
            1,
            "{text}"
        );
        assert_eq!(
            log.counters().over_limit.load(Ordering::Relaxed),
            50 - written as u64
        );
        // Everything before the note fits the limit.
        let before = text.split("skyhold:").next().unwrap();
        assert!(before.len() <= 200, "{}", before.len());
        assert!(text.ends_with("close time: 2\n"), "{text}");
        log.shutdown();
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn lines_past_the_queue_bound_are_dropped_and_the_gap_said() {
        let d = dir("queue");
        // A queue with room for the open line and little more: while the
        // writer is held (its file locked here), lines are dropped.
        let log = MsgLog::new(opener(&d), 1 << 20, 120);
        let tap = log.open(Handle(3), 0, 0).unwrap();
        assert!(log.sync(Duration::from_secs(10)));
        let hold = tap.file.lock();
        for i in 0..20 {
            log.record(&tap, &msg(2, ptype::LUA, i, b"0123456789"), 1);
        }
        let dropped = log.counters().dropped.load(Ordering::Relaxed);
        assert!(dropped > 0, "nothing dropped");
        drop(hold);
        assert!(log.sync(Duration::from_secs(10)));
        log.record(&tap, &msg(2, ptype::LUA, 99, b"after"), 2);
        log.close(tap, None);
        assert!(log.sync(Duration::from_secs(10)));
        let text = std::fs::read_to_string(d.join("00000003.log")).unwrap();
        assert!(
            text.contains(&format!("skyhold: {dropped} messages not written here")),
            "{text}"
        );
        assert!(text.ends_with(":00000002 10 99 2 6166746572\n"), "{text}");
        log.shutdown();
        std::fs::remove_dir_all(&d).ok();
    }

    #[test]
    fn without_a_place_logon_is_refused_with_the_reason() {
        let log = MsgLog::new(Err(NO_PLACE.to_string()), 100, 100);
        let e = log.open(Handle(1), 0, 0).err().unwrap();
        assert!(e.contains("file_write_root"), "{e}");
        assert!(log.sync(Duration::from_secs(1)));
    }
}
