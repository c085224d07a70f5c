//! The tcp proxy: connect to a server (with `retries` and `option redispatch`), then
//! copy bytes both ways until both sides are done.
//!
//! Half-close is propagated: when one side ends its stream, lbd shuts down the write
//! side towards the other and keeps copying the other direction. The connection is idle
//! only when neither direction moved a byte for the idle limit (`timeout tunnel`, else
//! the smaller of `timeout client` and `timeout server`); once one side has closed, the
//! remaining direction is bounded by `timeout client-fin` / `server-fin` when set.

use crate::backend::status::{self as check, Observation};
use crate::backend::{pool, proxy_proto, NoServer, Retry, Slot};
use crate::graph::Graph;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
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
    client: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    graph: Arc<Graph>,
    fe_idx: usize,
) {
    let fe = &graph.frontends[fe_idx];
    let accepted = std::time::SystemTime::now();
    let start = Instant::now();
    let be_idx = {
        let headers = hyper::HeaderMap::new();
        let info = crate::rules::ReqInfo {
            method: "",
            path: "",
            headers: &headers,
            src: peer.ip(),
        };
        fe.switching
            .iter()
            .find(|(c, _)| fe.rules.eval(c, &info))
            .map(|(_, b)| *b)
            .or(fe.default_backend)
    };
    let Some(be_idx) = be_idx else { return };
    let be = graph.backends[be_idx].clone();
    let key = be
        .balancer
        .wants_key()
        .then(|| crate::backend::balance::source_key(peer.ip()));
    let tcplog = |srv: &str, tc: i64, bytes: u64, term: &str, retries: u64| {
        if !fe.options.tcplog
            || fe.logs.is_empty()
            || (fe.options.dontlognull && bytes == 0 && term == "--")
        {
            return;
        }
        let fe_cur = fe.shared.cur.load(Relaxed);
        let be_cur: u32 = be.servers.iter().map(|s| s.state.cur.load(Relaxed)).sum();
        let srv_cur = be
            .servers
            .iter()
            .find(|s| s.name == srv)
            .map_or(0, |s| s.state.cur.load(Relaxed));
        let line = format!(
            "{}:{} [{}] {} {}/{srv} 0/{tc}/{} {bytes} {term} {fe_cur}/{fe_cur}/{be_cur}/{srv_cur}/{retries} 0/0",
            peer.ip(),
            peer.port(),
            crate::log::access_time(accepted),
            fe.name,
            be.name,
            start.elapsed().as_millis()
        );
        crate::log::send(&fe.logs, crate::log::severity::INFO, &line);
    };
    let info = crate::rules::ReqInfo {
        method: "",
        path: "",
        headers: &hyper::HeaderMap::new(),
        src: peer.ip(),
    };
    let pinned = be
        .stick
        .as_ref()
        .filter(|st| st.matches(&info))
        .and_then(|st| st.table.lookup(peer.ip()))
        .and_then(|n| be.server_index(&n));
    let store = be.stick.as_ref().is_some_and(|st| st.stores(&info));
    let (server, slot) = match connect(&be, key, pinned, peer, local).await {
        Ok(x) => x,
        Err(_) => {
            be.shared.no_server.fetch_add(1, Relaxed);
            tcplog("<NOSRV>", -1, 0, "SC", 0);
            return;
        }
    };
    let tc = start.elapsed().as_millis() as i64;
    if store {
        if let Some(st) = &be.stick {
            st.table.store(peer.ip(), &slot.server.name);
        }
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
    let name = slot.server.name.clone();
    drop(slot);
    tcplog(&name, tc, down, "--", 0);
}

/// Why no server connection could be made.
#[derive(Debug)]
pub enum ConnectFail {
    /// No server available.
    NoServer(NoServer),
    /// Every attempt failed.
    Failed,
}

/// Picks a server and connects, with `retries` and `option redispatch`.
async fn connect(
    be: &Arc<crate::backend::Backend>,
    key: Option<u64>,
    mut pinned: Option<usize>,
    peer: SocketAddr,
    local: SocketAddr,
) -> Result<(TcpStream, Slot), ConnectFail> {
    let mut attempts = 0u32;
    let mut exclude = None;
    let mut slot: Option<Slot> = None;
    loop {
        let persisted = pinned.take().and_then(|i| be.try_persist(i));
        let s = match (slot.take(), persisted) {
            (Some(s), _) | (None, Some(s)) => s,
            (None, None) => be
                .acquire(key, exclude)
                .await
                .map_err(ConnectFail::NoServer)?,
        };
        match pool::connect(s.server.target(local), be.timeouts.connect).await {
            Ok(mut c) => {
                check::observe(be, &s.server, Observation::L4Ok);
                if let Some(v) = s.server.cfg.send_proxy {
                    let h = if v == 2 {
                        proxy_proto::v2(peer, local)
                    } else {
                        proxy_proto::v1(peer, local)
                    };
                    if c.write_all(&h).await.is_err() {
                        return Err(ConnectFail::Failed);
                    }
                }
                return Ok((c, s));
            }
            Err(e) => match be.connect_failed(s, &e, &mut attempts) {
                Retry::GiveUp => return Err(ConnectFail::Failed),
                Retry::Redispatch(i) => exclude = Some(i),
                Retry::Same(s) => slot = Some(s),
            },
        }
    }
}

/// Copies both ways with half-close; returns (client→server, server→client) bytes.
pub async fn relay(
    client: TcpStream,
    server: TcpStream,
    idle: Option<Duration>,
    fins: (Option<Duration>, Option<Duration>),
) -> (u64, u64) {
    let start = Instant::now();
    // Milliseconds since `start` of the last byte moved in either direction.
    let last = AtomicU64::new(0);
    let (mut cr, mut cw) = client.into_split();
    let (mut sr, mut sw) = server.into_split();
    let up_done = std::sync::atomic::AtomicBool::new(false);
    let down_done = std::sync::atomic::AtomicBool::new(false);
    let up = pump(
        &mut cr, &mut sw, idle, fins.0, &last, start, &up_done, &down_done,
    );
    let down = pump(
        &mut sr, &mut cw, idle, fins.1, &last, start, &down_done, &up_done,
    );
    let (u, d) = tokio::join!(up, down);
    (u, d)
}

/// One direction. `mine` is set when this direction has finished; `other` tells
/// whether the opposite one has (then `fin` bounds this one).
#[allow(clippy::too_many_arguments)]
async fn pump<R, W>(
    r: &mut R,
    w: &mut W,
    idle: Option<Duration>,
    fin: Option<Duration>,
    last: &AtomicU64,
    start: Instant,
    mine: &std::sync::atomic::AtomicBool,
    other: &std::sync::atomic::AtomicBool,
) -> u64
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
    let sleep = tokio::time::sleep_until(start);
    tokio::pin!(sleep);
    let mut armed: Option<Instant> = None;
    let deadline = || {
        let limit = if other.load(Relaxed) {
            fin.or(idle)
        } else {
            idle
        };
        limit.map(|l| start + Duration::from_millis(last.load(Relaxed)) + l)
    };
    loop {
        let n = std::future::poll_fn(|cx| {
            let mut rb = tokio::io::ReadBuf::new(&mut buf);
            if let Poll::Ready(res) = std::pin::Pin::new(&mut *r).poll_read(cx, &mut rb) {
                return Poll::Ready(Some(res.map(|()| rb.filled().len())));
            }
            loop {
                let Some(d) = deadline() else {
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
                if deadline().is_some_and(|d| d <= Instant::now()) {
                    return Poll::Ready(None);
                }
            }
        })
        .await;
        let Some(n) = n else {
            mine.store(true, Relaxed);
            let _ = w.shutdown().await;
            return total;
        };
        match n {
            Ok(0) | Err(_) => {
                mine.store(true, Relaxed);
                let _ = w.shutdown().await;
                return total;
            }
            Ok(n) => {
                last.store(start.elapsed().as_millis() as u64, Relaxed);
                if w.write_all(&buf[..n]).await.is_err() {
                    mine.store(true, Relaxed);
                    return total;
                }
                total += n as u64;
                last.store(start.elapsed().as_millis() as u64, Relaxed);
            }
        }
    }
}
