//! The tcp proxy: connect to a server (with `retries` and `option redispatch`), then
//! copy bytes both ways until both sides are done.
//!
//! Half-close is propagated: when one side ends its stream, lbd shuts down the write
//! side towards the other and keeps copying the other direction. The connection is idle
//! only when neither direction moved a byte for the idle limit (`timeout tunnel`, else
//! the smaller of `timeout client` and `timeout server`); once one side has closed, the
//! remaining direction is bounded by `timeout client-fin` / `server-fin` when set.

use crate::backend::connect::{self, Attempts, Failure, Retry};
use crate::backend::stream::ServerStream;
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
use tokio::time::Instant;

/// Copy buffer per direction.
const BUF: usize = 64 * 1024;

/// Serves one accepted client connection in `mode tcp`.
pub async fn serve(
    mut client: ClientStream,
    sess: super::session::Session,
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
    let mut vars = sess.vars.clone();
    // `tcp-request content` rules, the frontend's then the backend's, on the request
    // bytes as they arrive (`tcp-request inspect-delay`).
    let mut addrs = crate::sample::conn::Addrs {
        src: sess.peer.inet(),
        dst: sess.local,
    };
    let mut req_buf = Vec::new();
    let mut side = Peeked {
        stream: &mut client,
        buf: &mut req_buf,
        response: false,
    };
    let base = super::session::env(&graph, fe, &sess, addrs, &stats);
    // The content rule that ended its rule set last (`last_rule_file`/`_line`).
    let last_rule = std::sync::Mutex::new(None);
    let rs = &fe.rules;
    let v = content(
        &mut side,
        rs,
        (&rs.tcp_content, rs.inspect_delay, graph.bufsize),
        &base,
        (&mut addrs, &last_rule),
        &mut vars,
    );
    if v.await == Verdict::Reject {
        fe.shared.denied.fetch_add(1, Relaxed);
        return;
    }
    let peer = addrs.src.map_or(sess.peer, Client::Inet);
    let local = addrs.dst;
    let env = super::session::env(&graph, fe, &sess, addrs, &stats);
    // `use_backend` rules see the bytes the content rules buffered (`req.ssl_sni`
    // routing), as they are once inspection is over.
    let be_idx = {
        let env = crate::sample::Env {
            payload: Some(crate::sample::conn::Payload::settled(side.buf, false)),
            ..env
        };
        fe.switching
            .iter()
            .filter(|(c, _)| fe.rules.eval(c, &env))
            .find_map(|(_, to)| to.pick(&graph, &env))
            .or(fe.default_backend)
    };
    let Some(be_idx) = be_idx else { return };
    let be = graph.backends[be_idx].clone();
    if be.proxy_id != fe.proxy_id {
        let base = crate::sample::Env {
            be: Some(crate::sample::Named {
                name: &be.name,
                id: graph.uuid(be.proxy_id) as i64,
            }),
            ..env
        };
        let rs = &be.rules;
        let v = content(
            &mut side,
            rs,
            (&rs.tcp_content, rs.inspect_delay, graph.bufsize),
            &base,
            (&mut addrs, &last_rule),
            &mut vars,
        );
        if v.await == Verdict::Reject {
            fe.shared.denied.fetch_add(1, Relaxed);
            return;
        }
    }
    let (peer, local) = (addrs.src.map_or(peer, Client::Inet), addrs.dst.or(local));
    let env = super::session::env(&graph, fe, &sess, addrs, &stats);
    let be_env = crate::sample::Env {
        be: Some(crate::sample::Named {
            name: &be.name,
            id: graph.uuid(be.proxy_id) as i64,
        }),
        stick: crate::stick::View {
            proxy: Some(&be.name),
            ..env.stick
        },
        ..env
    };
    let counter = super::access::next_request();
    // What TLS negotiated with the server (`ssl_bc*` in the log), once connected.
    let srv_tls = std::sync::OnceLock::new();
    // The access-log line at the end of the session: `bytes` (client→server,
    // server→client), termination state `term`, the address lbd connected from.
    let log = |server: Option<&crate::backend::ServerRt>,
               connect: i64,
               bytes: (u64, u64),
               term: [u8; 2],
               from: Option<SocketAddr>| {
        let Some(fmt) = &fe.log_format else { return };
        if fe.logs.is_empty() || (fe.options.dontlognull && bytes.0 == 0 && term == *b"--") {
            return;
        }
        let mut info = super::access::info(fe, Some(&be), server, peer, accepted, (counter, 0));
        info.th = 0;
        info.tw = 0;
        info.tc = connect;
        info.backend_src = from;
        let last = last_rule.lock().map(|l| l.clone()).unwrap_or_default();
        info.last_rule = last.as_ref().map(|l| (&*l.file, l.line));
        info.end = crate::sample::LogEnd {
            bytes_in: bytes.0,
            bytes_out: bytes.1,
            total: start.elapsed().as_millis() as i64,
            term: [term[0], term[1], b'-', b'-'],
        };
        let env = crate::sample::Env {
            srv: server.map(|s| crate::sample::Named {
                name: &s.name,
                id: be.server_index(&s.name).map_or(0, |i| i as i64 + 1),
            }),
            log: Some(&info),
            srv_tls: srv_tls.get(),
            ..be_env
        };
        crate::log::line(&fe.logs, &fmt.eval(&env));
    };
    // A unix client has no address to hash: `balance source` falls back to round
    // robin, as in HAProxy.
    let key = peer
        .ip()
        .filter(|_| be.balancer.wants_key())
        .map(crate::backend::balance::source_key);
    // `use-server` rules (on the bytes the content rules buffered), then the table.
    let pinned = be
        .use_server(&crate::sample::Env {
            payload: Some(crate::sample::conn::Payload::settled(side.buf, false)),
            ..be_env
        })
        .or_else(|| {
            let st = be.stick.as_ref()?;
            be.server_index(&st.lookup(&env)?)
        });
    let store = be.stick.as_ref().map(|st| st.stores(&env));
    // The stream's unique id (`unique-id-format`), for `proxy-v2-options unique-id`.
    let unique_id = fe.unique_id.as_ref().map(|f| f.eval(&be_env));
    let tlv = crate::backend::proxy_proto::TlvSource {
        authority: sess.conn.proxy.as_ref().and_then(|p| p.tlv(0x02)),
        unique_id: unique_id.as_deref(),
    };
    let attempts = Attempts::new(be.clone(), key, pinned);
    let sni = be.sni_values(&env);
    let (server, slot) = match open(attempts, (peer, local), tlv, &sni).await {
        Ok(x) => x,
        Err(_) => {
            be.shared.no_server.fetch_add(1, Relaxed);
            log(None, -1, (0, 0), *b"SC", None);
            return;
        }
    };
    let tc = start.elapsed().as_millis() as i64;
    if let Some(t) = server.tls_info() {
        let _ = srv_tls.set(t);
    }
    // `tcp-response content` rules, once the server is connected.
    // The `dispatch` address is no server (`<NOSRV>` in the log, as HAProxy's).
    let is_server = slot.index != crate::backend::DISPATCH;
    let srv_env = crate::sample::Env {
        srv: is_server.then(|| crate::sample::Named {
            name: &slot.server.name,
            id: be
                .server_index(&slot.server.name)
                .map_or(0, |i| i as i64 + 1),
        }),
        ..be_env
    };
    // `tcp-response content` rules: the server's bytes reach the client once they
    // accept (the client's go on meanwhile).
    let gate = (!be.rules.tcp_response.is_empty()).then(|| Gate {
        rs: &be.rules,
        env: srv_env,
        bufsize: graph.bufsize,
        addrs,
        vars: &mut vars,
        last_rule: &last_rule,
    });
    if let (Some(st), Some(keys), true) = (&be.stick, &store, is_server) {
        st.store(keys, &slot.server.name);
    }
    let idle = be
        .timeouts
        .tunnel
        .or(match (fe.timeouts.client, be.timeouts.server) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        });
    let limits = Limits {
        idle,
        fins: (fe.timeouts.client_fin, be.timeouts.server_fin),
        timeout_side: match (be.timeouts.tunnel, fe.timeouts.client, be.timeouts.server) {
            (None, Some(c), Some(s)) if s < c => b's',
            (None, None, Some(_)) => b's',
            _ => b'c',
        },
    };
    let st = &slot.server.state;
    let gen = st.kill.generation();
    let from = server.tcp().and_then(|t| t.local_addr().ok());
    // Bytes the content rules took from a TLS client go first.
    let taken = if super::stream::Inspect::consumes(&client) {
        req_buf
    } else {
        Vec::new()
    };
    let relayed = tokio::select! {
        r = relay(client, server, limits, gate, taken) => r,
        // on-marked-down shutdown-sessions / on-marked-up shutdown-backup-sessions:
        // HAProxy's "killed by the administrator" (`K`).
        _ = st.kill.wait(gen) => Some((0, 0, *b"KD")),
    };
    let Some((up, down, term)) = relayed else {
        // The `tcp-response content` rules refused the server's bytes.
        fe.shared.denied.fetch_add(1, Relaxed);
        log(is_server.then_some(&*slot.server), tc, (0, 0), *b"--", from);
        return;
    };
    st.bytes_in.fetch_add(up, Relaxed);
    st.bytes_out.fetch_add(down, Relaxed);
    fe.shared.bytes_in.fetch_add(up, Relaxed);
    fe.shared.bytes_out.fetch_add(down, Relaxed);
    let server = slot.server.clone();
    drop(slot);
    log(is_server.then_some(&*server), tc, (up, down), term, from);
}

/// One direction of content inspection: the socket whose first bytes the rules read
/// (peeked at: they stay for the other side), what was peeked so far.
struct Peeked<'a, S> {
    stream: &'a mut S,
    buf: &'a mut Vec<u8>,
    /// The server's bytes (`res.payload`), not the client's.
    response: bool,
}

/// Runs tcp content `rules` of `rs` (with their inspect delay) on the first bytes of
/// `side`: while a condition needs bytes not received yet, waits for more until the
/// delay (no delay: the rules decide on what is there), the buffer is full or the peer
/// shuts its side, as HAProxy does (at most `bufsize` bytes). `base` is the
/// environment without the bytes.
async fn content<S: super::stream::Inspect>(
    side: &mut Peeked<'_, S>,
    rs: &crate::rules::RuleSet,
    (rules, delay, bufsize): (&[crate::rules::TcpRt], Option<Duration>, usize),
    base: &crate::sample::Env<'_>,
    (addrs, last_rule): (
        &mut crate::sample::conn::Addrs,
        &std::sync::Mutex<Option<crate::config::model::Loc>>,
    ),
    vars: &mut crate::sample::Vars,
) -> Verdict {
    if rules.is_empty() {
        return Verdict::Continue;
    }
    let deadline = delay.map(|d| Instant::now() + d);
    let mut run = crate::rules::TcpRun {
        addrs: *addrs,
        ..Default::default()
    };
    let missing = AtomicBool::new(false);
    let mut seen = side.buf.len();
    let mut closed = false;
    loop {
        let last =
            closed || side.buf.len() >= bufsize || deadline.is_none_or(|d| d <= Instant::now());
        let v = {
            // HTTP fetches read the request head the client's bytes start with.
            let mut headers = hyper::HeaderMap::new();
            let head = if side.response {
                None
            } else {
                crate::sample::conn::http_head(side.buf, &mut headers)
            };
            let env = crate::sample::Env {
                payload: Some(crate::sample::conn::Payload {
                    data: side.buf,
                    last,
                    missing: &missing,
                    response: side.response,
                }),
                req: head.or(base.req),
                ..*base
            };
            rs.run_tcp_from(rules, &env, vars, &mut run)
        };
        if v != Verdict::Wait {
            *addrs = run.addrs;
            if let (Some(l), Ok(mut slot)) = (run.last, last_rule.lock()) {
                *slot = Some(l);
            }
            return v;
        }
        // More bytes, the end of the peer's side, or the end of the delay.
        side.buf.resize(bufsize, 0);
        let more = side.stream.more(side.buf, seen);
        let got = match deadline {
            Some(d) => tokio::time::timeout_at(d, more).await.ok(),
            None => Some(more.await),
        };
        match got {
            Some(Ok(n)) => {
                closed = n == seen;
                side.buf.truncate(n);
                seen = n;
            }
            Some(Err(_)) => {
                side.buf.truncate(seen);
                closed = true;
            }
            None => side.buf.truncate(seen),
        }
    }
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
    (peer, local): (Client, Option<SocketAddr>),
    tlv: crate::backend::proxy_proto::TlvSource<'_>,
    sni: &[Option<String>],
) -> Result<(ServerStream, Slot), ConnectFail> {
    let be: Arc<Backend> = attempts.backend().clone();
    loop {
        let s = attempts.slot().await?;
        let name = sni.get(s.index).and_then(Option::as_deref);
        match connect::connect(&be, &s, peer, local, tlv, name).await {
            Ok(c) => return Ok((c, s)),
            Err(e) => {
                if let Retry::Exhausted(_) = attempts.failed(s, Failure::Connect(&e)) {
                    return Err(ConnectFail::Failed);
                }
            }
        }
    }
}

/// How long a relay may wait: the idle limit, the `client-fin`/`server-fin` limits,
/// and which side's timeout the idle limit is (`c` or `s` in the termination state).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// While both directions are open.
    pub idle: Option<Duration>,
    /// Once the server (`.0`) or the client (`.1`) has closed.
    pub fins: (Option<Duration>, Option<Duration>),
    /// `c` or `s`.
    pub timeout_side: u8,
}

/// `tcp-response content` rules that read the server's first bytes.
struct Gate<'a> {
    rs: &'a crate::rules::RuleSet,
    env: crate::sample::Env<'a>,
    bufsize: usize,
    addrs: crate::sample::conn::Addrs,
    vars: &'a mut crate::sample::Vars,
    last_rule: &'a std::sync::Mutex<Option<crate::config::model::Loc>>,
}

/// Copies both ways with half-close; returns (client→server, server→client) bytes
/// and the termination state (`--`, or `cD`, `sD`, `CD`, `SD`), or None when the
/// `gate` rules refused the server's bytes (nothing reached the client).
async fn relay(
    client: ClientStream,
    server: ServerStream,
    limits: Limits,
    gate: Option<Gate<'_>>,
    taken: Vec<u8>,
) -> Option<(u64, u64, [u8; 2])> {
    let mut server = server;
    if !taken.is_empty() && server.write_all(&taken).await.is_err() {
        return Some((0, 0, *b"SD"));
    }
    let sent = taken.len() as u64;
    // Split without a lock: each kind of plain stream has owned halves (a TLS stream
    // has one state for both directions, so its halves share a lock).
    let r = match (client, server) {
        (ClientStream::Tcp(c), ServerStream::Plain(s)) => {
            relay_split(c.into_split(), s.into_split(), limits, gate).await
        }
        (ClientStream::Unix(c), ServerStream::Plain(s)) => {
            relay_split(c.into_split(), s.into_split(), limits, gate).await
        }
        (ClientStream::Tls(c), ServerStream::Plain(s)) => {
            relay_split(tokio::io::split(*c), s.into_split(), limits, gate).await
        }
        (ClientStream::Tcp(c), s) => {
            relay_split(c.into_split(), tokio::io::split(s), limits, gate).await
        }
        (ClientStream::Unix(c), s) => {
            relay_split(c.into_split(), tokio::io::split(s), limits, gate).await
        }
        (ClientStream::Tls(c), s) => {
            relay_split(tokio::io::split(*c), tokio::io::split(s), limits, gate).await
        }
    };
    r.map(|(up, down, term)| (up + sent, down, term))
}

/// The read half of a server connection, and what `tcp-response content` rules read
/// (clear text only: a TLS server's rules are refused by the configuration).
trait ServerRead: tokio::io::AsyncRead + Unpin {
    fn inspectable(&mut self) -> Option<&mut tokio::net::tcp::OwnedReadHalf>;
}

impl ServerRead for tokio::net::tcp::OwnedReadHalf {
    fn inspectable(&mut self) -> Option<&mut tokio::net::tcp::OwnedReadHalf> {
        Some(self)
    }
}

impl ServerRead for tokio::io::ReadHalf<ServerStream> {
    fn inspectable(&mut self) -> Option<&mut tokio::net::tcp::OwnedReadHalf> {
        None
    }
}

/// `relay` over the client's read and write halves.
async fn relay_split<R, W, SR, SW>(
    (mut cr, mut cw): (R, W),
    (mut sr, mut sw): (SR, SW),
    limits: Limits,
    gate: Option<Gate<'_>>,
) -> Option<(u64, u64, [u8; 2])>
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin,
    SR: ServerRead,
    SW: tokio::io::AsyncWrite + Unpin,
{
    let Limits {
        idle,
        fins,
        timeout_side,
    } = limits;
    let clock = Clock {
        start: Instant::now(),
        last: AtomicU64::new(0),
        idle,
        term: std::sync::atomic::AtomicU8::new(0),
        timeout_side,
    };
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
            from_client: true,
        },
    );
    let down = async {
        if let Some((g, stream)) = gate.zip(sr.inspectable()) {
            let mut buf = Vec::new();
            let mut addrs = g.addrs;
            let mut side = Peeked {
                stream,
                buf: &mut buf,
                response: true,
            };
            let rules = (&g.rs.tcp_response[..], g.rs.res_inspect_delay, g.bufsize);
            let at = (&mut addrs, g.last_rule);
            let v = content(&mut side, g.rs, rules, &g.env, at, g.vars).await;
            if v == Verdict::Reject {
                return None;
            }
        }
        Some(
            pump(
                &mut sr,
                &mut cw,
                Side {
                    clock: &clock,
                    fin: fins.1,
                    mine: &down_done,
                    other: &up_done,
                    from_client: false,
                },
            )
            .await,
        )
    };
    tokio::pin!(up, down);
    let (mut u, mut d) = (None, None);
    while u.is_none() || d.is_none() {
        tokio::select! {
            n = &mut up, if u.is_none() => u = Some(n),
            r = &mut down, if d.is_none() => d = Some(r?),
        }
    }
    let term = match clock.term.load(Relaxed) {
        0 => *b"--",
        c => [c, b'D'],
    };
    u.zip(d).map(|(u, d)| (u, d, term))
}

/// The idle clock both directions of a relay share.
struct Clock {
    start: Instant,
    /// Milliseconds since `start` of the last byte moved in either direction.
    last: AtomicU64,
    /// The idle limit while both directions are open.
    idle: Option<Duration>,
    /// The first abnormal end: `c`/`s` (a timeout), `C`/`S` (a side failed); 0: none.
    term: std::sync::atomic::AtomicU8,
    /// What a timeout is.
    timeout_side: u8,
}

impl Clock {
    /// Notes an abnormal end unless one was noted before.
    fn ended(&self, c: u8) {
        let _ = self.term.compare_exchange(0, c, Relaxed, Relaxed);
    }

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
    /// This direction reads the client.
    from_client: bool,
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
        let (reader, writer) = if side.from_client {
            (b'C', b'S')
        } else {
            (b'S', b'C')
        };
        match n {
            None | Some(Err(_)) => {
                side.clock.ended(if n.is_none() {
                    side.clock.timeout_side
                } else {
                    reader
                });
                side.mine.store(true, Relaxed);
                let _ = w.shutdown().await;
                return total;
            }
            Some(Ok(0)) => {
                side.mine.store(true, Relaxed);
                let _ = w.shutdown().await;
                return total;
            }
            Some(Ok(n)) => {
                side.clock.touch();
                if w.write_all(&buf[..n]).await.is_err() {
                    side.clock.ended(writer);
                    side.mine.store(true, Relaxed);
                    return total;
                }
                total += n as u64;
                side.clock.touch();
            }
        }
    }
}
