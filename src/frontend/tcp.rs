//! The tcp proxy: connect to a server (with `retries` and `option redispatch`), then
//! copy bytes both ways until both sides are done.
//!
//! Half-close is propagated: when one side ends its stream, lbd shuts down the write
//! side towards the other and keeps copying the other direction. The connection is idle
//! only when neither direction moved a byte for the idle limit (`timeout tunnel`, else
//! the smaller of `timeout client` and `timeout server`); once one side has closed, the
//! remaining direction is bounded by `timeout client-fin` / `server-fin` when set.

use crate::backend::connect::{self, Attempts, Failure, Retry};
use crate::backend::{Backend, NoServer, Slot};
use crate::frontend::stream::ClientStream;
use crate::graph::Graph;
use crate::log::Client;
use crate::rules::Verdict;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Copy buffer per direction.
const BUF: usize = 64 * 1024;

/// Serves one accepted client connection in `mode tcp`.
pub async fn serve(
    client: ClientStream,
    peer: Client,
    local: Option<SocketAddr>,
    graph: Arc<Graph>,
    fe_idx: usize,
) {
    let fe = &graph.frontends[fe_idx];
    let accepted = std::time::SystemTime::now();
    let start = Instant::now();
    let stats = crate::graph::StatsView {
        graph: &graph,
        be: None,
    };
    let env = super::l4_env(&graph, fe, &peer, local, &stats);
    // `tcp-request connection|session|content` rules: with no payload fetch, content
    // rules decide at once.
    let mut vars = crate::sample::Vars::default();
    if !super::accept_client(&graph, fe, &peer, local, &mut vars)
        || fe.rules.run_tcp(&fe.rules.tcp_content, &env, &mut vars) == Verdict::Reject
    {
        return;
    }
    let be_idx = fe
        .switching
        .iter()
        .filter(|(c, _)| fe.rules.eval(c, &env))
        .find_map(|(_, to)| to.pick(&graph, &env))
        .or(fe.default_backend);
    let Some(be_idx) = be_idx else { return };
    let be = graph.backends[be_idx].clone();
    let be_env = crate::sample::Env {
        be: Some(crate::sample::Named {
            name: &be.name,
            id: graph.uuid(be.proxy_id) as i64,
        }),
        ..env
    };
    if be.proxy_id != fe.proxy_id
        && be.rules.run_tcp(&be.rules.tcp_content, &be_env, &mut vars) == Verdict::Reject
    {
        fe.shared.denied.fetch_add(1, Relaxed);
        return;
    }
    let log = |server, connect: i64, bytes: u64, term: &str| {
        if !fe.options.tcplog
            || fe.logs.is_empty()
            || (fe.options.dontlognull && bytes == 0 && term == "--")
        {
            return;
        }
        let line = super::access::access(fe, Some(&be), server, peer, accepted, 0).tcp(
            connect,
            start.elapsed().as_millis(),
            bytes,
            term,
        );
        crate::log::send(&fe.logs, crate::log::severity::INFO, &line);
    };
    // A unix client has no address to hash: `balance source` falls back to round
    // robin, as in HAProxy.
    let key = peer
        .ip()
        .filter(|_| be.balancer.wants_key())
        .map(crate::backend::balance::source_key);
    let pinned = be
        .stick
        .as_ref()
        .and_then(|st| st.lookup(&env))
        .and_then(|n| be.server_index(&n));
    let store = be.stick.as_ref().map(|st| st.stores(&env));
    let (server, slot) = match open(Attempts::new(be.clone(), key, pinned), peer, local).await {
        Ok(x) => x,
        Err(_) => {
            be.shared.no_server.fetch_add(1, Relaxed);
            log(None, -1, 0, "SC");
            return;
        }
    };
    let tc = start.elapsed().as_millis() as i64;
    // `tcp-response content` rules, once the server is connected.
    let srv_env = crate::sample::Env {
        srv: Some(crate::sample::Named {
            name: &slot.server.name,
            id: be
                .server_index(&slot.server.name)
                .map_or(0, |i| i as i64 + 1),
        }),
        ..be_env
    };
    if be
        .rules
        .run_tcp(&be.rules.tcp_response, &srv_env, &mut vars)
        == Verdict::Reject
    {
        fe.shared.denied.fetch_add(1, Relaxed);
        log(Some(&*slot.server), tc, 0, "--");
        return;
    }
    if let (Some(st), Some(keys)) = (&be.stick, &store) {
        st.store(keys, &slot.server.name);
    }
    let idle = be
        .timeouts
        .tunnel
        .or(match (fe.timeouts.client, be.timeouts.server) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        });
    let fins = (fe.timeouts.client_fin, be.timeouts.server_fin);
    let st = &slot.server.state;
    let gen = st.kill.generation();
    let (up, down) = tokio::select! {
        r = relay(client, server, idle, fins) => r,
        // on-marked-down shutdown-sessions / on-marked-up shutdown-backup-sessions.
        _ = st.kill.wait(gen) => (0, 0),
    };
    st.bytes_in.fetch_add(up, Relaxed);
    st.bytes_out.fetch_add(down, Relaxed);
    fe.shared.bytes_in.fetch_add(up, Relaxed);
    fe.shared.bytes_out.fetch_add(down, Relaxed);
    let server = slot.server.clone();
    drop(slot);
    log(Some(&server), tc, down, "--");
}

/// Why no server connection could be made.
#[derive(Debug, thiserror::Error)]
pub enum ConnectFail {
    /// No server available.
    #[error("{0}")]
    NoServer(#[from] NoServer),
    /// Every attempt failed.
    #[error("connection to the server failed after the last retry")]
    Failed,
}

/// Picks a server and connects, with `retries` and `option redispatch`.
async fn open(
    mut attempts: Attempts,
    peer: Client,
    local: Option<SocketAddr>,
) -> Result<(TcpStream, Slot), ConnectFail> {
    let be: Arc<Backend> = attempts.backend().clone();
    loop {
        let s = attempts.slot().await?;
        match connect::connect(&be, &s, peer, local).await {
            Ok(c) => return Ok((c, s)),
            Err(e) => {
                if let Retry::Exhausted(_) = attempts.failed(s, Failure::Connect(&e)) {
                    return Err(ConnectFail::Failed);
                }
            }
        }
    }
}

/// Copies both ways with half-close; returns (client→server, server→client) bytes.
pub async fn relay(
    client: ClientStream,
    server: TcpStream,
    idle: Option<Duration>,
    fins: (Option<Duration>, Option<Duration>),
) -> (u64, u64) {
    // Split without a lock: each kind of stream has owned halves.
    match client {
        ClientStream::Tcp(c) => relay_split(c.into_split(), server, idle, fins).await,
        ClientStream::Unix(c) => relay_split(c.into_split(), server, idle, fins).await,
    }
}

/// `relay` over the client's read and write halves.
async fn relay_split<R, W>(
    (mut cr, mut cw): (R, W),
    server: TcpStream,
    idle: Option<Duration>,
    fins: (Option<Duration>, Option<Duration>),
) -> (u64, u64)
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let clock = Clock {
        start: Instant::now(),
        last: AtomicU64::new(0),
        idle,
    };
    let (mut sr, mut sw) = server.into_split();
    let up_done = AtomicBool::new(false);
    let down_done = AtomicBool::new(false);
    let up = pump(
        &mut cr,
        &mut sw,
        Side {
            clock: &clock,
            fin: fins.0,
            mine: &up_done,
            other: &down_done,
        },
    );
    let down = pump(
        &mut sr,
        &mut cw,
        Side {
            clock: &clock,
            fin: fins.1,
            mine: &down_done,
            other: &up_done,
        },
    );
    tokio::join!(up, down)
}

/// The idle clock both directions of a relay share.
struct Clock {
    start: Instant,
    /// Milliseconds since `start` of the last byte moved in either direction.
    last: AtomicU64,
    /// The idle limit while both directions are open.
    idle: Option<Duration>,
}

impl Clock {
    fn touch(&self) {
        self.last
            .store(self.start.elapsed().as_millis() as u64, Relaxed);
    }
}

/// One direction of a relay. `mine` is set when this direction has finished; `other`
/// tells whether the opposite one has (then `fin` bounds this one).
struct Side<'a> {
    clock: &'a Clock,
    fin: Option<Duration>,
    mine: &'a AtomicBool,
    other: &'a AtomicBool,
}

impl Side<'_> {
    /// When this direction expires, if it can.
    fn deadline(&self) -> Option<Instant> {
        let c = self.clock;
        let limit = if self.other.load(Relaxed) {
            self.fin.or(c.idle)
        } else {
            c.idle
        };
        limit.map(|l| c.start + Duration::from_millis(c.last.load(Relaxed)) + l)
    }
}

/// Copies one direction until its end, an error or the idle limit; returns the bytes.
async fn pump<R, W>(r: &mut R, w: &mut W, side: Side<'_>) -> u64
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
{
    let mut buf = vec![0u8; BUF];
    let mut total = 0u64;
    // One timer per direction for the whole relay, re-armed lazily: it is moved earlier
    // only when the deadline is (the other side finished and `fin` is shorter); when
    // it fires before the real deadline (bytes moved since), it is set again. A timer
    // per read would be registered and removed for every message.
    let sleep = tokio::time::sleep_until(side.clock.start);
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    loop {
        let n = std::future::poll_fn(|cx| {
            let mut rb = tokio::io::ReadBuf::new(&mut buf);
            if let Poll::Ready(res) = std::pin::Pin::new(&mut *r).poll_read(cx, &mut rb) {
                return Poll::Ready(Some(res.map(|()| rb.filled().len())));
            }
            loop {
                let Some(d) = side.deadline() else {
                    return Poll::Pending;
                };
                if armed.is_none_or(|a| d < a) {
                    sleep.as_mut().reset(d);
                    armed = Some(d);
                }
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                armed = None;
                // Expired unless a direction moved bytes meanwhile.
                if side.deadline().is_some_and(|d| d <= Instant::now()) {
                    return Poll::Ready(None);
                }
            }
        })
        .await;
        match n {
            None | Some(Ok(0) | Err(_)) => {
                side.mine.store(true, Relaxed);
                let _ = w.shutdown().await;
                return total;
            }
            Some(Ok(n)) => {
                side.clock.touch();
                if w.write_all(&buf[..n]).await.is_err() {
                    side.mine.store(true, Relaxed);
                    return total;
                }
                total += n as u64;
                side.clock.touch();
            }
        }
    }
}
