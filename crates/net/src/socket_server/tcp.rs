//! TCP on the socket server: listeners and their accept loop (with the
//! accept rate, connection count and per-IP limits), outbound connects, and
//! one task per connection that reads, frames, writes and enforces the
//! inbound rate, frame and idle limits.

use skyhold_core::Handle;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

use super::event;
use super::info::Traffic;
use super::{Command, Entry, Kind, SocketError, SocketServer};
use crate::frame::FrameDecoder;
use crate::limits::NetLimits;

/// Counts bytes and frames per second against the inbound rate limits.
struct Inbound {
    window: tokio::time::Instant,
    bytes: usize,
    frames: u32,
}

impl Inbound {
    fn new() -> Self {
        Inbound {
            window: tokio::time::Instant::now(),
            bytes: 0,
            frames: 0,
        }
    }

    fn roll(&mut self) {
        let now = tokio::time::Instant::now();
        if now.duration_since(self.window) >= Duration::from_secs(1) {
            self.window = now;
            self.bytes = 0;
            self.frames = 0;
        }
    }

    fn add_bytes(&mut self, n: usize, limits: &NetLimits) -> Result<(), String> {
        self.roll();
        self.bytes += n;
        if self.bytes > limits.read_bytes_per_second {
            return Err(format!(
                "sent more than {} bytes in a second (config socket_read_rate)",
                limits.read_bytes_per_second
            ));
        }
        Ok(())
    }

    fn add_frame(&mut self, limits: &NetLimits) -> Result<(), String> {
        self.frames += 1;
        if self.frames > limits.frames_per_second {
            return Err(format!(
                "sent more than {} frames in a second (config socket_frame_rate)",
                limits.frames_per_second
            ));
        }
        Ok(())
    }
}

/// What a connection's task shares with the socket table.
struct Io {
    /// Bytes queued and not yet written.
    pending: Arc<AtomicUsize>,
    /// Bytes and times, for `info`.
    traffic: Arc<Traffic>,
}

impl SocketServer {
    /// Listens on `host:port`; returns the socket id and the bound address.
    pub fn listen(
        self: &Arc<Self>,
        owner: Handle,
        host: &str,
        port: u16,
        _backlog: u32,
    ) -> Result<(i32, SocketAddr), SocketError> {
        let addr = format!("{host}:{port}");
        let listener = self
            .runtime
            .block_on(TcpListener::bind(&addr))
            .map_err(|e| SocketError::Io(format!("Listen error: {addr}: {e}")))?;
        self.add_listener(owner, listener)
    }

    /// Takes over a listener bound elsewhere (a native service binds while
    /// it is being launched, so clients can connect as soon as the launch
    /// returns); returns its socket id and address.
    pub fn adopt_listener(
        self: &Arc<Self>,
        owner: Handle,
        listener: std::net::TcpListener,
    ) -> Result<(i32, SocketAddr), SocketError> {
        listener
            .set_nonblocking(true)
            .map_err(|e| SocketError::Io(e.to_string()))?;
        let _guard = self.runtime.enter();
        let listener =
            TcpListener::from_std(listener).map_err(|e| SocketError::Io(e.to_string()))?;
        self.add_listener(owner, listener)
    }

    fn add_listener(
        self: &Arc<Self>,
        owner: Handle,
        listener: TcpListener,
    ) -> Result<(i32, SocketAddr), SocketError> {
        let local = listener
            .local_addr()
            .map_err(|e| SocketError::Io(e.to_string()))?;
        let (tx, rx) = mpsc::unbounded_channel();
        let mut entry = Entry::new(Kind::Listener, owner, tx, self.epoch);
        entry.local = Some(local);
        let traffic = entry.traffic.clone();
        let id = self.register(entry);
        let me = self.clone();
        self.runtime
            .spawn(async move { me.accept_loop(id, listener, rx, traffic).await });
        Ok((id, local))
    }

    async fn accept_loop(
        self: Arc<Self>,
        id: i32,
        listener: TcpListener,
        mut rx: mpsc::UnboundedReceiver<Command>,
        traffic: Arc<Traffic>,
    ) {
        // A listener accepts only once started (skynet: socket.start(listen_id)).
        let mut started = false;
        let mut window_start = tokio::time::Instant::now();
        let mut window_accepts = 0u32;
        loop {
            if !started {
                match rx.recv().await {
                    Some(Command::Start) => {
                        started = true;
                        traffic.set_reading(true);
                        continue;
                    }
                    Some(Command::Close) | Some(Command::Shutdown) | None => break,
                    Some(Command::Write(_))
                    | Some(Command::Frame(..))
                    | Some(Command::UdpSocket(_)) => continue,
                }
            }
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(Command::Close) | Some(Command::Shutdown) | None => break,
                    _ => {}
                },
                accepted = listener.accept() => {
                    let Ok((stream, peer)) = accepted else { continue };
                    let now = tokio::time::Instant::now();
                    if now.duration_since(window_start) >= Duration::from_secs(1) {
                        window_start = now;
                        window_accepts = 0;
                    }
                    window_accepts += 1;
                    if let Err(why) = self.admit(peer, window_accepts) {
                        self.counters.refused.fetch_add(1, Ordering::Relaxed);
                        if let Some(owner) = self.owner(id) {
                            self.node.log(owner, &format!("socket: refused {peer}: {why}"));
                        }
                        drop(stream);
                        continue;
                    }
                    self.counters.accepted.fetch_add(1, Ordering::Relaxed);
                    traffic.did_read(1);
                    let _ = stream.set_nodelay(true);
                    let Some(owner) = self.owner(id) else { break };
                    let new_id = self.add_stream(owner, stream, peer, true);
                    self.emit(owner, event::ACCEPT, id, new_id, peer.to_string().as_bytes());
                }
            }
        }
        self.remove(id);
    }

    fn admit(&self, peer: SocketAddr, accepts_this_second: u32) -> Result<(), String> {
        if accepts_this_second > self.limits.accepts_per_second {
            return Err(format!(
                "more than {} accepts per second (config socket_accept_rate)",
                self.limits.accepts_per_second
            ));
        }
        let total = self
            .sockets
            .lock()
            .values()
            .filter(|e| e.kind == Kind::Stream)
            .count();
        if total >= self.limits.max_connections {
            return Err(format!(
                "{total} connections open (config socket_max_connections)"
            ));
        }
        let mut per_ip = self.per_ip.lock();
        let n = per_ip.entry(peer.ip()).or_insert(0);
        if *n >= self.limits.max_connections_per_ip {
            return Err(format!(
                "{n} connections from {} (config socket_max_per_ip)",
                peer.ip()
            ));
        }
        *n += 1;
        Ok(())
    }

    fn add_stream(
        self: &Arc<Self>,
        owner: Handle,
        stream: TcpStream,
        peer: SocketAddr,
        accepted: bool,
    ) -> i32 {
        let (tx, rx) = mpsc::unbounded_channel();
        let pending = Arc::new(AtomicUsize::new(0));
        let mut entry = Entry::new(Kind::Stream, owner, tx, self.epoch);
        entry.claimable = accepted;
        entry.pending_bytes = pending.clone();
        entry.peer_ip = accepted.then_some(peer.ip());
        entry.peer = Some(peer);
        let io = Io {
            pending,
            traffic: entry.traffic.clone(),
        };
        let id = self.register(entry);
        let me = self.clone();
        self.runtime
            .spawn(async move { me.stream_task(id, stream, rx, io, accepted).await });
        id
    }

    async fn stream_task(
        self: Arc<Self>,
        id: i32,
        stream: TcpStream,
        mut rx: mpsc::UnboundedReceiver<Command>,
        io: Io,
        accepted: bool,
    ) {
        let Io { pending, traffic } = io;
        let (mut reader, mut writer) = stream.into_split();
        // An accepted connection reads nothing until it is started.
        let mut started = !accepted;
        if started {
            if let Some(owner) = self.owner(id) {
                self.emit(owner, event::CONNECT, id, 0, b"");
            }
        }
        let mut buf = vec![0u8; 64 * 1024];
        let mut reason: Option<String> = None;
        let idle = self.limits.idle_timeout;
        let mut framing: Option<FrameDecoder> = None;
        let mut frame_deadline: Option<tokio::time::Instant> = None;
        let mut inbound = Inbound::new();
        // One idle timer for the connection's life: pushed back only when it
        // fires early, rather than made anew (and registered with the timer
        // wheel) on every pass of the loop.
        let mut last_activity = tokio::time::Instant::now();
        let mut timer_woke = false;
        let idle_timer = tokio::time::sleep(idle);
        tokio::pin!(idle_timer);
        'conn: while let Some(owner) = self.owner(id) {
            // Every pass is activity but the one the idle timer caused.
            if !std::mem::take(&mut timer_woke) {
                last_activity = tokio::time::Instant::now();
            }
            // Back-pressure: while the owner has a long queue, stop reading.
            let paused =
                !started || self.node.queued(owner).unwrap_or(0) > self.limits.owner_queue_pause;
            traffic.set_reading(!paused);
            let deadline = frame_deadline;
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(Command::Start) => {
                        if !started {
                            started = true;
                            if let Some(o) = self.owner(id) {
                                self.emit(o, event::CONNECT, id, 0, b"");
                            }
                        }
                    }
                    Some(Command::Frame(header, max)) => {
                        framing = Some(FrameDecoder::new(header, max));
                    }
                    Some(Command::Write(data)) => {
                        let n = data.len();
                        let r = writer.write_all(&data).await;
                        pending.fetch_sub(n, Ordering::Relaxed);
                        if let Err(e) = r {
                            reason = Some(e.to_string());
                            break;
                        }
                        traffic.did_write(n);
                        self.counters.bytes_written.fetch_add(n as u64, Ordering::Relaxed);
                    }
                    Some(Command::Close) => {
                        // Graceful: flush what was queued, then close.
                        while let Ok(Command::Write(data)) = rx.try_recv() {
                            if writer.write_all(&data).await.is_ok() {
                                traffic.did_write(data.len());
                                self.counters
                                    .bytes_written
                                    .fetch_add(data.len() as u64, Ordering::Relaxed);
                            }
                        }
                        let _ = writer.shutdown().await;
                        break;
                    }
                    Some(Command::Shutdown) | None => break,
                    // Only UDP sockets are reopened.
                    Some(Command::UdpSocket(_)) => {}
                },
                r = reader.read(&mut buf), if !paused => match r {
                    Ok(0) => break,
                    Ok(n) => {
                        traffic.did_read(n);
                        self.counters.bytes_read.fetch_add(n as u64, Ordering::Relaxed);
                        if let Err(why) = inbound.add_bytes(n, &self.limits) {
                            reason = Some(why);
                            break;
                        }
                        let Some(decoder) = framing.as_mut() else {
                            if !self.emit(owner, event::DATA, id, n as i32, &buf[..n]) {
                                break;
                            }
                            continue;
                        };
                        decoder.feed(&buf[..n]);
                        loop {
                            match decoder.next_frame() {
                                Ok(Some(frame)) => {
                                    if let Err(why) = inbound.add_frame(&self.limits) {
                                        reason = Some(why);
                                        break 'conn;
                                    }
                                    if !self.emit(owner, event::FRAME, id, frame.len() as i32, &frame) {
                                        break 'conn;
                                    }
                                }
                                Ok(None) => break,
                                Err(e) => {
                                    reason = Some(format!("{e} (config socket_max_frame)"));
                                    break 'conn;
                                }
                            }
                        }
                        frame_deadline = if decoder.buffered() > 0 {
                            frame_deadline.or_else(|| Some(tokio::time::Instant::now() + self.limits.frame_timeout))
                        } else {
                            None
                        };
                    }
                    Err(e) => {
                        reason = Some(e.to_string());
                        break;
                    }
                },
                _ = tokio::time::sleep_until(deadline.unwrap_or_else(tokio::time::Instant::now)), if deadline.is_some() => {
                    reason = Some(format!(
                        "a frame was not completed within {} s (config socket_frame_timeout)",
                        self.limits.frame_timeout.as_secs()
                    ));
                    break;
                },
                _ = &mut idle_timer, if started => {
                    if last_activity.elapsed() < idle {
                        idle_timer.as_mut().reset(last_activity + idle);
                        timer_woke = true;
                        continue;
                    }
                    reason = Some(format!("idle for {} s (config socket_idle_timeout)", idle.as_secs()));
                    break;
                },
                _ = tokio::time::sleep(Duration::from_millis(10)), if started && paused => {}
            }
        }
        if let Some(owner) = self.owner(id) {
            if let Some(r) = &reason {
                self.emit(owner, event::ERROR, id, 0, r.as_bytes());
            }
            self.emit(owner, event::CLOSE, id, 0, b"");
        }
        self.remove(id);
    }

    /// Connects to `host:port`; the CONNECT (or ERROR and CLOSE) event follows.
    pub fn connect(
        self: &Arc<Self>,
        owner: Handle,
        host: &str,
        port: u16,
    ) -> Result<i32, SocketError> {
        let addr = format!("{host}:{port}");
        let stream = self
            .runtime
            .block_on(async {
                tokio::time::timeout(Duration::from_secs(5), TcpStream::connect(&addr)).await
            })
            .map_err(|_| SocketError::Io(format!("connect {addr}: timed out")))?
            .map_err(|e| SocketError::Io(format!("connect {addr}: {e}")))?;
        let _ = stream.set_nodelay(true);
        let peer = stream
            .peer_addr()
            .map_err(|e| SocketError::Io(e.to_string()))?;
        Ok(self.add_stream(owner, stream, peer, false))
    }
}
