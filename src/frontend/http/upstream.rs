//! Pick, connect, retry: sends one request to a server of its backend and waits for
//! the response head.
//!
//! The server comes from the shared connect path (`backend::connect`): the pinned
//! server first, else the balancer, with `retries` and `option redispatch`. A pooled
//! idle connection is reused when the request may go over one; a request that was
//! never written (the connection closed first) is sent again; a bodiless request
//! whose reused connection died under it is replayed once on a fresh one.

use super::request::{ProxyError, Trace};
use crate::backend::connect::{self, Attempts, Failure, Retry};
use crate::backend::pool::{self, ConnectError, ProxyBody};
use crate::backend::status::{self, Observation};
use crate::backend::{Backend, Slot};
use hyper::body::Incoming;
use hyper::header::HeaderMap;
use hyper::{Method, Request, Response};
use std::future::Future;
use std::sync::atomic::Ordering::Relaxed;

/// A request as it can be sent again: its head and whole body.
pub(super) type Replay = (Method, hyper::Uri, HeaderMap, bytes::Bytes);

/// A response head, the slot it was served on and the connection to pool afterwards.
pub(super) type Exchange = (Response<Incoming>, Slot, Option<pool::Conn>);

/// How a request may travel to its server.
pub(super) struct Upstream<'a> {
    /// Never reuse or pool a connection (`http-server-close`, `httpclose`).
    pub no_pool: bool,
    /// The request is an upgrade (WebSocket): a connection of its own.
    pub upgrade: bool,
    /// A request to replay once when a reused connection fails: bodiless, or with its
    /// whole body read ahead.
    pub head: Option<Replay>,
    /// How far the client's body upload has got (`timeout server` waits on it).
    pub upload: Option<&'a pool::BodyProgress>,
    /// The request's client and destination (a server's PROXY header).
    pub addrs: (crate::log::Client, Option<std::net::SocketAddr>),
    /// What the PROXY header's `proxy-v2-options` TLVs carry.
    pub tlv: crate::backend::proxy_proto::TlvSource<'a>,
    /// `timeout server`, as `set-timeout server` left it.
    pub server_timeout: Option<std::time::Duration>,
    /// The SNI of each server of the backend (`sni` expressions), by index.
    pub sni: Vec<Option<String>>,
}

/// Waits for a server's response head for `timeout server` of server silence. While
/// lbd still uploads the request body, the server is not the one being waited on: the
/// timer runs from the body's last bytes, and not at all while the client is the one
/// that is late (`timeout client` bounds that wait). `None`: the server timed out.
async fn server_wait<F: Future>(
    mut send: std::pin::Pin<&mut F>,
    t: std::time::Duration,
    upload: Option<&pool::BodyProgress>,
) -> Option<F::Output> {
    let mut deadline = tokio::time::Instant::now() + t;
    loop {
        match tokio::time::timeout_at(deadline, send.as_mut()).await {
            Ok(r) => return Some(r),
            Err(_) => deadline = upload?.server_deadline(t)?,
        }
    }
}

/// Opens a new connection to the server of `s` (connect, PROXY header, TLS), then
/// hyper's HTTP/1 or HTTP/2 handshake: HTTP/2 with `proto h2` or when ALPN chose `h2`.
async fn open(
    how: &Upstream<'_>,
    be: &Backend,
    s: &Slot,
    key: pool::PoolKey,
) -> Result<pool::Conn, ConnectError> {
    let (peer, local) = how.addrs;
    let c = connect::connect(be, s, peer, local, how.tlv, key.as_deref()).await?;
    let h2 = match s.server.cfg.tls.proto {
        crate::config::model::SrvProto::H2 => true,
        crate::config::model::SrvProto::H1 => false,
        crate::config::model::SrvProto::Auto => c
            .tls_info()
            .is_some_and(|t| t.alpn.as_deref() == Some("h2")),
    };
    pool::handshake(c, h2, key)
        .await
        .map_err(|_| ConnectError::Io(std::io::ErrorKind::ConnectionAborted.into()))
}

/// Sends `up` to a server of the attempts' backend and returns its response head.
pub(super) async fn exchange(
    attempts: &mut Attempts,
    mut up: Request<ProxyBody>,
    how: &Upstream<'_>,
    trace: &mut Trace,
) -> Result<Exchange, ProxyError> {
    let be = attempts.backend().clone();
    let mut replayed = false;
    loop {
        let s = attempts.slot().await.map_err(ProxyError::NoServer)?;
        if trace.timed {
            trace.picked.get_or_insert_with(std::time::Instant::now);
        }
        // The `dispatch` address is no server: the log says `<NOSRV>`, as HAProxy's.
        trace.server = (s.index != crate::backend::DISPATCH).then_some(s.index);
        trace.retries = attempts.failures();
        let key: pool::PoolKey = how.sni.get(s.index).cloned().flatten().map(Into::into);
        let shared = !(how.no_pool || how.upgrade || s.server.cfg.send_proxy.is_some());
        let pooled = if shared {
            s.server.pool.take(&key)
        } else {
            None
        };
        let reused = pooled.is_some();
        let mut sender = match pooled {
            Some(c) => c,
            None => {
                // Boxed: a new connection's futures are large and rarely needed, and a
                // request's future is moved (copied) several times on every request.
                match Box::pin(open(how, &be, &s, key)).await {
                    Ok(c) => {
                        if shared {
                            s.server.pool.share(&c);
                        }
                        c
                    }
                    Err(e) => match attempts.failed(s, Failure::Connect(&e)) {
                        Retry::Again => continue,
                        Retry::Exhausted(_) => return Err(ProxyError::Connect),
                    },
                }
            }
        };
        trace.connected = Some(std::time::Instant::now());
        trace.srv_tls = sender.tls().cloned();
        let res = {
            let send = sender.send(up);
            tokio::pin!(send);
            match how.server_timeout {
                Some(t) => match server_wait(send, t, how.upload).await {
                    Some(r) => r,
                    None => {
                        s.server.state.resp_errors.fetch_add(1, Relaxed);
                        status::observe(&be, &s.server, Observation::L7Timeout);
                        return Err(ProxyError::ServerTimeout);
                    }
                },
                None => send.await,
            }
        };
        let mut e = match res {
            Ok(resp) => {
                let now = std::time::Instant::now();
                if let Some(c) = trace.connected {
                    s.server.state.rt.record(now.saturating_duration_since(c));
                }
                trace.responded = Some(now);
                return Ok((resp, s, Some(sender)));
            }
            Err(e) => e,
        };
        if let Some(back) = e.take_message() {
            // Never written: safe to send again on a fresh connection. A pooled
            // connection that closed while idle costs nothing; a fresh one that closed
            // at once is a failed attempt, so a server that accepts and hangs up is
            // retried `retries` times, not forever.
            up = back;
            if reused {
                attempts.again(s);
                continue;
            }
            match attempts.failed(s, Failure::Closed) {
                Retry::Again => continue,
                Retry::Exhausted(s) => {
                    s.server.state.resp_errors.fetch_add(1, Relaxed);
                    return Err(ProxyError::BadResponse);
                }
            }
        }
        // An invalid response is an answer: never sent again.
        if reused && !replayed && !e.error().is_parse() {
            if let Some((m, u, h, b)) = how.head.clone() {
                // An idle connection closed under us; the request had no body, or
                // all of it was read ahead.
                replayed = true;
                let mut again = Request::new(ProxyBody::full(b));
                *again.method_mut() = m;
                *again.uri_mut() = u;
                *again.headers_mut() = h;
                up = again;
                attempts.again(s);
                continue;
            }
        }
        if e.error().is_user() {
            // The request body from the client failed (bad chunk, cut or stalled
            // upload): the client's fault, not the server's.
            return Err(if pool::is_client_timeout(e.error()) {
                ProxyError::ClientTimeout
            } else {
                ProxyError::ClientBody
            });
        }
        s.server.state.resp_errors.fetch_add(1, Relaxed);
        status::observe(&be, &s.server, Observation::L7Invalid);
        return Err(ProxyError::BadResponse);
    }
}
