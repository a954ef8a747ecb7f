//! A TCP proxy that puts faults between two nodes: it relays every
//! connection to one upstream address, and on command cuts the open
//! connections (FIN), resets them (RST), swallows what they carry
//! (blackhole), delays it, throttles it, or closes new connections at once.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::watch;

/// The proxy's socket buffers: small, as a slow path's are in effect, so a
/// throttle pushes back on the sender instead of vanishing into megabytes
/// of loopback buffers.
const BUFFER: u32 = 32 << 10;

async fn connect(to: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpSocket::new_v4()?;
    s.set_recv_buffer_size(BUFFER)?;
    s.set_send_buffer_size(BUFFER)?;
    s.connect(to).await
}

/// What the proxy does to the bytes it relays, both ways.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fault {
    /// Relays them as they come.
    None,
    /// Reads and drops them: to both ends, the other has gone silent
    /// without closing anything (a partition, a peer that lost power).
    Blackhole,
    /// Holds each chunk this long before relaying it.
    Delay(Duration),
    /// Relays at most this many bytes per second each way.
    Throttle(usize),
    /// Closes every new connection as soon as it is accepted (open ones
    /// go on): a peer that accepts and fails every handshake.
    Refuse,
}

/// How open connections are ended.
#[derive(Clone, Copy, Debug, PartialEq)]
enum End {
    /// Closed in order: both ends read end-of-file.
    Cut,
    /// Reset: both ends read a connection reset.
    Reset,
}

#[derive(Clone, Copy, Debug)]
struct Control {
    fault: Fault,
    /// Connections opened before the `ends`-th end command are ended.
    ends: u64,
    end: End,
}

/// A running fault proxy; it stops when dropped.
pub struct FaultProxy {
    /// The port it listens on (127.0.0.1).
    pub port: u16,
    control: watch::Sender<Control>,
    open: Arc<AtomicUsize>,
    accepted: Arc<AtomicUsize>,
    rt: Option<tokio::runtime::Runtime>,
}

impl FaultProxy {
    /// A proxy on a fresh loopback port relaying to `upstream`.
    pub fn start(upstream: SocketAddr) -> FaultProxy {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("proxy runtime");
        let listener = rt
            .block_on(async {
                let s = TcpSocket::new_v4()?;
                s.set_recv_buffer_size(BUFFER)?;
                s.set_send_buffer_size(BUFFER)?;
                s.bind("127.0.0.1:0".parse().unwrap())?;
                s.listen(64)
            })
            .expect("proxy port");
        let port = listener.local_addr().unwrap().port();
        let (control, watch) = watch::channel(Control {
            fault: Fault::None,
            ends: 0,
            end: End::Cut,
        });
        let open = Arc::new(AtomicUsize::new(0));
        let open2 = open.clone();
        let accepted = Arc::new(AtomicUsize::new(0));
        let accepted2 = accepted.clone();
        rt.spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                accepted2.fetch_add(1, Ordering::Relaxed);
                let watch = watch.clone();
                let born = watch.borrow().ends;
                if watch.borrow().fault == Fault::Refuse {
                    drop(client);
                    continue;
                }
                let open = open2.clone();
                tokio::spawn(async move {
                    let Ok(server) = connect(upstream).await else {
                        return;
                    };
                    open.fetch_add(1, Ordering::Relaxed);
                    relay(client, server, watch, born).await;
                    open.fetch_sub(1, Ordering::Relaxed);
                });
            }
        });
        FaultProxy {
            port,
            control,
            open,
            accepted,
            rt: Some(rt),
        }
    }

    /// Applies `fault` to open and new connections.
    pub fn set(&self, fault: Fault) {
        self.control.send_modify(|c| c.fault = fault);
    }

    /// Closes every open connection in order (FIN both ways).
    pub fn cut(&self) {
        self.end(End::Cut);
    }

    /// Resets every open connection (RST both ways).
    pub fn reset(&self) {
        self.end(End::Reset);
    }

    fn end(&self, end: End) {
        self.control.send_modify(|c| {
            c.ends += 1;
            c.end = end;
        });
    }

    /// Connections accepted since the start.
    pub fn accepted(&self) -> usize {
        self.accepted.load(Ordering::Relaxed)
    }

    /// Connections relayed right now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// Relays one connection until either end closes it or an end command
/// given after it was born ends it.
async fn relay(
    mut client: TcpStream,
    mut server: TcpStream,
    watch: watch::Receiver<Control>,
    born: u64,
) {
    let ended = {
        let (mut cr, mut cw) = client.split();
        let (mut sr, mut sw) = server.split();
        let mut w = watch.clone();
        tokio::select! {
            _ = pump(&mut cr, &mut sw, watch.clone()) => None,
            _ = pump(&mut sr, &mut cw, watch.clone()) => None,
            end = async {
                loop {
                    if w.changed().await.is_err() {
                        return End::Cut;
                    }
                    let c = *w.borrow();
                    if c.ends > born {
                        return c.end;
                    }
                }
            } => Some(end),
        }
    };
    if ended == Some(End::Reset) {
        // A zero linger makes close send RST instead of FIN.
        for s in [&client, &server] {
            let _ = socket2::SockRef::from(s).set_linger(Some(Duration::ZERO));
        }
    }
}

/// Moves bytes one way, with the fault in force at each chunk.
async fn pump<R, W>(r: &mut R, w: &mut W, watch: watch::Receiver<Control>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; 16 << 10];
    loop {
        let n = match r.read(&mut buf).await {
            Ok(0) | Err(_) => {
                let _ = w.shutdown().await;
                return;
            }
            Ok(n) => n,
        };
        let fault = watch.borrow().fault;
        let sent = match fault {
            Fault::Blackhole => Ok(()),
            Fault::None | Fault::Refuse => w.write_all(&buf[..n]).await,
            Fault::Delay(d) => {
                tokio::time::sleep(d).await;
                w.write_all(&buf[..n]).await
            }
            Fault::Throttle(rate) => throttled(w, &buf[..n], rate.max(1)).await,
        };
        if sent.is_err() {
            return;
        }
    }
}

/// Writes `bytes` in twentieths of a second's worth.
async fn throttled<W: AsyncWrite + Unpin>(
    w: &mut W,
    bytes: &[u8],
    rate: usize,
) -> std::io::Result<()> {
    let piece = (rate / 20).max(1);
    for chunk in bytes.chunks(piece) {
        w.write_all(chunk).await?;
        w.flush().await?;
        tokio::time::sleep(Duration::from_secs_f64(chunk.len() as f64 / rate as f64)).await;
    }
    Ok(())
}
