//! The TCP echo client: many connections on 127.0.0.1, one message in flight
//! on each, driven from one thread (tokio's current-thread runtime) so the
//! client takes as little of the two cores as it can.
//!
//! Every loop is bounded: connecting is retried for a few seconds at most,
//! each round trip has its own timeout, the timed phase stops at a message
//! count or a deadline, whichever comes first.

use crate::benches::Framing;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// What the client does.
#[derive(Debug, Clone)]
pub struct EchoConfig {
    /// Number of connections.
    pub conns: usize,
    /// Timed round trips per connection.
    pub msgs_per_conn: usize,
    /// Untimed round trips per connection before timing starts (covers agent
    /// start-up).
    pub warmup: usize,
    /// Message body size in bytes (at most 65,535).
    pub payload: usize,
    /// The timed phase ends by this long after it starts, even if short of
    /// the count.
    pub limit: Duration,
}

/// What the client measured.
#[derive(Debug, Clone)]
pub struct EchoResult {
    /// Timed round trips completed.
    pub msgs: u64,
    /// Seconds from the start of the timed phase to the last reply.
    pub elapsed: f64,
    /// Round-trip latency percentiles, in milliseconds.
    pub p50_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// Slowest round trip, milliseconds.
    pub max_ms: f64,
}

/// How long one round trip may take before the run is called failed.
const ROUND_TRIP_TIMEOUT: Duration = Duration::from_secs(10);
/// How long to keep trying to connect.
const CONNECT_WINDOW: Duration = Duration::from_secs(5);

/// Runs the echo client against `127.0.0.1:port`.
pub fn run(port: u16, framing: Framing, cfg: &EchoConfig) -> Result<EchoResult, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("client runtime: {e}"))?;
    let overall = cfg.limit + CONNECT_WINDOW + ROUND_TRIP_TIMEOUT * 2 + Duration::from_secs(30);
    rt.block_on(async {
        match tokio::time::timeout(overall, drive(port, framing, cfg.clone())).await {
            Ok(r) => r,
            Err(_) => Err(format!("echo client gave up after {} s", overall.as_secs())),
        }
    })
}

async fn connect(port: u16) -> Result<TcpStream, String> {
    let until = Instant::now() + CONNECT_WINDOW;
    loop {
        match TcpStream::connect(("127.0.0.1", port)).await {
            Ok(s) => {
                s.set_nodelay(true).map_err(|e| format!("nodelay: {e}"))?;
                return Ok(s);
            }
            Err(e) if Instant::now() >= until => {
                return Err(format!("connect 127.0.0.1:{port}: {e}"));
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
}

async fn drive(port: u16, framing: Framing, cfg: EchoConfig) -> Result<EchoResult, String> {
    let conns = cfg.conns.max(1);
    let body: Vec<u8> = (0..cfg.payload.min(65_535))
        .map(|i| b'a' + (i % 26) as u8)
        .collect();
    let frame: Arc<[u8]> = match framing {
        Framing::Raw => body.into(),
        Framing::Len16 => {
            let mut f = (body.len() as u16).to_be_bytes().to_vec();
            f.extend_from_slice(&body);
            f.into()
        }
    };
    // Connect one after another: a burst of 100 SYNs can overflow a small
    // listen backlog and cost a one-second retransmit.
    let mut streams = Vec::with_capacity(conns);
    for _ in 0..conns {
        streams.push(connect(port).await?);
    }
    let barrier = Arc::new(tokio::sync::Barrier::new(conns));
    let start: Arc<OnceLock<Instant>> = Arc::new(OnceLock::new());
    let mut set = tokio::task::JoinSet::new();
    for (index, stream) in streams.into_iter().enumerate() {
        set.spawn(conn(
            index,
            stream,
            frame.clone(),
            cfg.clone(),
            barrier.clone(),
            start.clone(),
        ));
    }
    let mut lat: Vec<u64> = Vec::with_capacity(conns * cfg.msgs_per_conn);
    let mut end: Option<Instant> = None;
    while let Some(joined) = set.join_next().await {
        // An error returns at once; dropping the set aborts the others.
        let (l, finished) = joined.map_err(|e| format!("client task: {e}"))??;
        lat.extend(l);
        end = Some(end.map_or(finished, |e: Instant| e.max(finished)));
    }
    let begin = *start.get().ok_or("timed phase never started")?;
    let elapsed = end
        .map(|e| e.saturating_duration_since(begin))
        .unwrap_or_default()
        .as_secs_f64();
    lat.sort_unstable();
    let pct = |p: f64| -> f64 {
        if lat.is_empty() {
            return 0.0;
        }
        let i = ((lat.len() - 1) as f64 * p).round() as usize;
        lat[i] as f64 / 1e6
    };
    Ok(EchoResult {
        msgs: lat.len() as u64,
        elapsed,
        p50_ms: pct(0.5),
        p99_ms: pct(0.99),
        max_ms: lat.last().map_or(0.0, |&v| v as f64 / 1e6),
    })
}

async fn round_trip(stream: &mut TcpStream, frame: &[u8], buf: &mut [u8]) -> Result<(), String> {
    let io = async {
        stream.write_all(frame).await?;
        stream.read_exact(buf).await?;
        Ok::<(), std::io::Error>(())
    };
    match tokio::time::timeout(ROUND_TRIP_TIMEOUT, io).await {
        Err(_) => Err(format!("no echo within {} s", ROUND_TRIP_TIMEOUT.as_secs())),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
            Err("the node closed the connection".into())
        }
        Ok(Err(e)) => Err(format!("echo connection: {e}")),
        Ok(Ok(())) if buf != frame => Err("echo reply differs from the request".into()),
        Ok(Ok(())) => Ok(()),
    }
}

async fn conn(
    index: usize,
    mut stream: TcpStream,
    frame: Arc<[u8]>,
    cfg: EchoConfig,
    barrier: Arc<tokio::sync::Barrier>,
    start: Arc<OnceLock<Instant>>,
) -> Result<(Vec<u64>, Instant), String> {
    let mut buf = vec![0u8; frame.len()];
    for i in 0..cfg.warmup {
        round_trip(&mut stream, &frame, &mut buf)
            .await
            .map_err(|e| format!("{e} (connection {index}, warm-up round trip {})", i + 1))?;
    }
    barrier.wait().await;
    let begin = *start.get_or_init(Instant::now);
    let deadline = begin + cfg.limit;
    let mut lat = Vec::with_capacity(cfg.msgs_per_conn);
    for _ in 0..cfg.msgs_per_conn {
        let t = Instant::now();
        if t >= deadline {
            break;
        }
        round_trip(&mut stream, &frame, &mut buf)
            .await
            .map_err(|e| {
                format!(
                    "{e} (connection {index}, timed round trip {})",
                    lat.len() + 1
                )
            })?;
        lat.push(t.elapsed().as_nanos().min(u128::from(u64::MAX)) as u64);
    }
    Ok((lat, Instant::now()))
}
