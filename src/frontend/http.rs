//! The HTTP/1 proxy (hyper on both sides).
//!
//! Per request: run the frontend's `http-request` rules, choose the backend
//! (`use_backend` in order, then `default_backend`, a `listen` uses its own servers),
//! run the backend's rules, take a server slot, send the request over a pooled or new
//! connection and stream the response back. Bodies are streamed both ways, never
//! buffered whole. A request resolves its graph once and finishes on it; a keep-alive
//! connection picks up a newer graph at its next request.
//!
//! Failure statuses: 503 no server (or queue full/timeout, or connect failures after
//! `retries`), 502 invalid or failed response, 504 `timeout server`; hyper itself
//! answers 400 (malformed), 414 and 431 (head over `tune.bufsize`).

use crate::backend::pool::{self, ConnectError, PooledBody, ProxyBody};
use crate::backend::status::{self as check, Observation};
use crate::backend::{proxy_proto, Backend, Retry, Slot};
use crate::config::model::{Balance, HttpConnMode};
use crate::graph::FrontendRt;
use crate::graph::{Graph, GraphHandle};
use crate::rules::{Action, ReqInfo, RuleSet};
use hyper::body::Incoming;
use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use hyper::{Method, Request, Response, StatusCode, Version};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::task::Poll;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::Instant;

/// Per-connection context.
struct ConnCtx {
    handle: GraphHandle,
    /// The graph of the last request and this frontend's index in it. A mutex, not an
    /// `ArcSwap`: only this connection's requests take it, one at a time, and an
    /// `ArcSwap` costs a walk over every thread's debt slots when dropped.
    pinned: std::sync::Mutex<(Arc<Graph>, usize)>,
    fe_name: Box<str>,
    peer: SocketAddr,
    local: SocketAddr,
}

impl ConnCtx {
    /// The graph and frontend for the next request: the newest graph when it still has
    /// this frontend, else the one the connection started on.
    fn current(&self) -> (Arc<Graph>, usize) {
        let newest = self.handle.load();
        let mut pinned = self.pinned.lock().unwrap_or_else(|e| e.into_inner());
        if newest.generation != pinned.0.generation {
            if let Some(&i) = newest.fe_index.get(&*self.fe_name) {
                *pinned = (arc_swap::Guard::into_inner(newest), i);
            }
        }
        (pinned.0.clone(), pinned.1)
    }
}

/// What a connection needs to start hyper again after parking; small and copied.
#[derive(Clone, Copy)]
struct ConnSettings {
    bufsize: usize,
    max_headers: usize,
    keep_alive: bool,
    fd: std::os::fd::RawFd,
    limits: ClientTimeouts,
}

impl ConnSettings {
    fn builder(&self) -> hyper::server::conn::http1::Builder {
        let mut b = hyper::server::conn::http1::Builder::new();
        b.timer(TokioTimer::new())
            .max_buf_size(self.bufsize.max(8192))
            .max_headers(self.max_headers)
            .keep_alive(self.keep_alive)
            // A client may shut down its sending side once its request is out (`nc -N`,
            // HTTP/1.0 scripts): it still gets its answer, as with HAProxy.
            .half_close(true)
            .header_read_timeout(None);
        b
    }

    /// A timer fired: whether the connection is over (a client that stopped reading,
    /// or a waiting phase that timed out, answered 408 unless idle between requests).
    fn expired(&self, phase: &super::clientio::Phase, fe: &FrontendRt) -> bool {
        use super::clientio;
        let now = Instant::now();
        if self.limits.write(phase).is_some_and(|d| d <= now) {
            return true;
        }
        let (state, since) = phase.snapshot();
        if self.limits.phase((state, since)).is_none_or(|d| d > now) {
            return false;
        }
        if state != clientio::IDLE {
            // SAFETY: `fd` belongs to the stream, which the caller still owns; a
            // non-blocking send of a few bytes on an idle socket.
            unsafe {
                libc::send(
                    self.fd,
                    clientio::RESPONSE_408.as_ptr().cast(),
                    clientio::RESPONSE_408.len(),
                    libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
                );
            }
            fe.shared.count_status(408);
        }
        true
    }
}

/// How one period of hyper serving a connection ended.
enum Served<S> {
    /// The connection is over.
    Closed,
    /// Waiting for a request: hyper's state is gone, the socket is back.
    Parked(super::clientio::TrackedIo, S),
}

/// Serves one accepted client connection in `mode http`.
///
/// A connection alternates between serving (hyper owns it, in a boxed future) and
/// parked: after `PARK_AFTER` without a request, and when nothing of the previous one
/// is left in hyper (`clientio::Phase::parkable`), hyper's state and buffers are
/// dropped and only the socket, the timer and the stop signal are kept until the next
/// bytes arrive. An idle keep-alive connection then costs about 2 KiB instead of
/// about 19 KiB.
///
/// Not an `async fn`: its arguments would be stored twice in the future (as received
/// and as moved into the state below); the returned block captures only that state.
pub fn serve(
    stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    graph: Arc<Graph>,
    fe_idx: usize,
    handle: GraphHandle,
    mut stop: super::stop::StopWatch,
) -> impl Future<Output = ()> + Send {
    use super::clientio::{Phase, TrackedIo};
    use std::os::fd::AsRawFd;
    let fe = graph.frontends[fe_idx].clone();
    let settings = ConnSettings {
        bufsize: graph.bufsize,
        max_headers: graph.max_headers,
        keep_alive: fe.options.http_conn != HttpConnMode::Close,
        fd: stream.as_raw_fd(),
        limits: ClientTimeouts::new(&fe.timeouts),
    };
    let phase = Phase::new();
    let ctx = Arc::new(ConnCtx {
        handle,
        pinned: std::sync::Mutex::new((graph, fe_idx)),
        fe_name: fe.name.clone().into_boxed_str(),
        peer,
        local,
    });
    let svc_phase = phase.clone();
    // Built in place by hyper (a method returning the future would add a copy of it).
    let mut svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        use hyper::body::Body;
        let ctx = ctx.clone();
        // hyper may still hold bytes of a request body or an upgrade after the
        // response: such a connection is not parked before its next request.
        let sticky = !req.body().is_end_stream()
            || req.method() == Method::CONNECT
            || req.headers().contains_key(header::UPGRADE);
        let inflight = svc_phase.begin(sticky);
        async move {
            let resp = handle_request(ctx, req).await;
            Ok::<_, Infallible>(resp.map(|inner| ClientBody {
                inner,
                _inflight: inflight,
            }))
        }
    });
    let mut io = TrackedIo::new(stream, phase.clone(), fe.shared.clone());
    async move {
        let sleep = tokio::time::sleep_until(Instant::now());
        tokio::pin!(sleep);
        let mut timer = ConnTimer {
            sleep: sleep.as_mut(),
            armed: None,
        };
        loop {
            // Boxed: a parked connection keeps none of it.
            let served = Box::pin(serving(
                io, svc, &phase, &settings, &fe, &mut timer, &mut stop,
            ))
            .await;
            (io, svc) = match served {
                Served::Closed => return,
                Served::Parked(io, svc) => (io, svc),
            };
            if io.has_prefix() {
                continue; // a pipelined request is already there
            }
            // Parked: wake up on the next bytes (or the end of the stream), a timeout or
            // the soft stop.
            enum Wake {
                Ready,
                Timer,
                Stop,
            }
            loop {
                let wake = std::future::poll_fn(|cx| {
                    if io.stream().poll_read_ready(cx).is_ready() {
                        return Poll::Ready(Wake::Ready);
                    }
                    if stop.poll_stopped(cx) {
                        return Poll::Ready(Wake::Stop);
                    }
                    if timer.poll(settings.limits.next(&phase), cx) {
                        return Poll::Ready(Wake::Timer);
                    }
                    Poll::Pending
                })
                .await;
                match wake {
                    Wake::Ready => break,
                    Wake::Stop => return,
                    Wake::Timer => {
                        if settings.expired(&phase, &fe) {
                            return;
                        }
                    }
                }
            }
        }
    }
}

/// Lets hyper serve the connection until it ends, or until it has waited `PARK_AFTER`
/// for a request with nothing of the previous one left.
#[allow(clippy::too_many_arguments)]
async fn serving<S>(
    io: super::clientio::TrackedIo,
    svc: S,
    phase: &super::clientio::Phase,
    settings: &ConnSettings,
    fe: &FrontendRt,
    timer: &mut ConnTimer<'_>,
    stop: &mut super::stop::StopWatch,
) -> Served<S>
where
    S: hyper::service::Service<
            Request<Incoming>,
            Response = Response<ClientBody>,
            Error = Infallible,
        > + Unpin,
    S::Future: Send + 'static,
{
    let mut conn = settings
        .builder()
        .serve_connection(TokioIo::new(io), svc)
        .with_upgrades();
    // Soft stop: finish the request in flight, close when idle, never park. The
    // client's timers still run: a client stalled mid-request does not hold the stop
    // (it gets its 408 as it would have without the stop).
    let mut draining = stop.is_stopped();
    if draining {
        std::pin::Pin::new(&mut conn).graceful_shutdown();
    }
    enum Event {
        Done,
        Timer,
        Stop,
    }
    loop {
        let event = std::future::poll_fn(|cx| {
            if std::pin::Pin::new(&mut conn).poll(cx).is_ready() {
                return Poll::Ready(Event::Done);
            }
            if !draining && stop.poll_stopped(cx) {
                return Poll::Ready(Event::Stop);
            }
            let mut want = settings.limits.next(phase);
            if !draining && phase.parkable() {
                let park = phase.snapshot().1 + PARK_AFTER;
                want = Some(want.map_or(park, |d| d.min(park)));
            }
            if timer.poll(want, cx) {
                return Poll::Ready(Event::Timer);
            }
            Poll::Pending
        })
        .await;
        match event {
            Event::Done => return Served::Closed,
            Event::Stop => {
                std::pin::Pin::new(&mut conn).graceful_shutdown();
                draining = true;
            }
            Event::Timer => {
                if settings.expired(phase, fe) {
                    return Served::Closed;
                }
                if !draining
                    && phase.parkable()
                    && phase.snapshot().1 + PARK_AFTER <= Instant::now()
                {
                    break;
                }
            }
        }
    }
    let Some(parts) = conn.into_parts() else {
        return Served::Closed;
    };
    let mut io = parts.io.into_inner();
    // Bytes hyper read ahead (a pipelined request) go to the next hyper first; an
    // empty buffer is dropped here, with hyper's allocation behind it.
    if !parts.read_buf.is_empty() {
        io.set_prefix(parts.read_buf);
    }
    Served::Parked(io, parts.service)
}

/// How long a connection waits for its next request before hyper's state for it is
/// dropped. Short, so that many idle keep-alive connections cost little memory; long
/// enough that a busy connection does not park between two requests.
const PARK_AFTER: std::time::Duration = std::time::Duration::from_millis(10);

/// The client timeouts of a connection.
#[derive(Clone, Copy)]
struct ClientTimeouts {
    /// `timeout http-request`, else `timeout client`: the wait for a complete head (408).
    head: Option<std::time::Duration>,
    /// `timeout http-keep-alive`, else the head limit: idle time between requests
    /// (silent close).
    idle: Option<std::time::Duration>,
    /// `timeout client`, which also bounds a client that stops reading what lbd sends.
    client: Option<std::time::Duration>,
}

impl ClientTimeouts {
    fn new(t: &crate::config::model::Timeouts) -> Self {
        let head = t.http_request.or(t.client);
        ClientTimeouts {
            head,
            idle: t.http_keep_alive.or(head),
            client: t.client,
        }
    }

    /// The deadline of a waiting phase (none while a request is served).
    fn phase(&self, (state, since): (u8, Instant)) -> Option<Instant> {
        use super::clientio;
        match state {
            clientio::FIRST | clientio::HEAD => self.head,
            clientio::IDLE => self.idle,
            _ => None,
        }
        .map(|l| since + l)
    }

    /// The deadline of a write that blocks because the client does not read.
    fn write(&self, phase: &super::clientio::Phase) -> Option<Instant> {
        phase.blocked_since().zip(self.client).map(|(b, l)| b + l)
    }

    /// The earliest deadline.
    fn next(&self, phase: &super::clientio::Phase) -> Option<Instant> {
        match (self.phase(phase.snapshot()), self.write(phase)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

/// One timer for the whole connection. The phase only changes while hyper is polled
/// (it reads, writes, calls the service and drops finished bodies there), so the
/// deadline is recomputed after each poll rather than on a wake-up per change. The
/// timer only ever moves earlier; when it fires before the real deadline (which moved
/// later) it is set again: at most once per timeout period instead of on every
/// request.
struct ConnTimer<'a> {
    sleep: std::pin::Pin<&'a mut tokio::time::Sleep>,
    armed: Option<Instant>,
}

impl ConnTimer<'_> {
    /// Arms the timer for `want` when that is earlier than what is armed; true when it
    /// fired.
    fn poll(&mut self, want: Option<Instant>, cx: &mut std::task::Context<'_>) -> bool {
        if let Some(d) = want {
            if self.armed.is_none_or(|a| d < a) {
                self.sleep.as_mut().reset(d);
                self.armed = Some(d);
            }
        }
        if self.armed.is_some() && self.sleep.as_mut().poll(cx).is_ready() {
            self.armed = None;
            return true;
        }
        false
    }
}

/// The body sent to a client: the response plus the marker of a request in flight.
pub struct ClientBody {
    inner: ProxyBody,
    _inflight: super::clientio::InFlight,
}

impl hyper::body::Body for ClientBody {
    type Data = bytes::Bytes;
    type Error = pool::BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, pool::BoxError>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Position of a hop-by-hop header name in `HOP_BY_HOP`.
fn hop_index(n: &HeaderName) -> Option<usize> {
    Some(match n.as_str() {
        "connection" => 0,
        "keep-alive" => 1,
        "proxy-connection" => 2,
        "te" => 3,
        "trailer" => 4,
        "transfer-encoding" => 5,
        "upgrade" => 6,
        _ => return None,
    })
}

/// Removes hop-by-hop headers (RFC 9110 §7.6.1), including those named in
/// `Connection`. Returns whether the message asked for an upgrade.
///
/// One pass over the names finds which are present; most messages carry none or only
/// `Connection`, so nothing is looked up or removed for the others.
fn strip_hop_by_hop(h: &mut HeaderMap, keep_upgrade: bool) -> bool {
    let mut present = 0u8;
    for k in h.keys() {
        if let Some(i) = hop_index(k) {
            present |= 1 << i;
        }
    }
    if present == 0 {
        return false;
    }
    let mut upgrade = false;
    let mut named: Vec<HeaderName> = Vec::new();
    for v in h.get_all(header::CONNECTION) {
        if let Ok(s) = v.to_str() {
            for tok in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
                if tok.eq_ignore_ascii_case("upgrade") {
                    upgrade = true;
                } else if h.contains_key(tok) {
                    // Looked up first: a name is only allocated for a header that is
                    // there (`close` and `keep-alive` usually are not; hop-by-hop
                    // names go below). `HeaderName::from_bytes` lowercases.
                    if let Ok(n) = HeaderName::from_bytes(tok.as_bytes()) {
                        if hop_index(&n).is_none() {
                            named.push(n);
                        }
                    }
                }
            }
        }
    }
    upgrade &= present & (1 << 6) != 0;
    for n in named {
        h.remove(n);
    }
    let up = if upgrade && keep_upgrade {
        h.remove(header::UPGRADE)
    } else {
        None
    };
    for (i, n) in HOP_BY_HOP.iter().enumerate() {
        if present & (1 << i) != 0 {
            h.remove(n);
        }
    }
    if let Some(u) = up {
        h.insert(header::UPGRADE, u);
        h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
    upgrade
}

/// Applies rules in order; returns a response when a rule answers.
#[allow(clippy::too_many_arguments)]
fn apply_rules(
    rs: &RuleSet,
    rules: &[crate::rules::Rule],
    method: &Method,
    path: &str,
    query: Option<&str>,
    src: std::net::IpAddr,
    target: &mut HeaderMap,
    cond_headers: Option<&HeaderMap>,
    graph: &Graph,
    fe: &FrontendRt,
) -> Option<Response<ProxyBody>> {
    for r in rules {
        let hit = match &r.cond {
            None => true,
            Some(c) => {
                let info = ReqInfo {
                    method: method.as_str(),
                    path,
                    headers: cond_headers.unwrap_or(target),
                    src,
                };
                rs.eval(c, &info)
            }
        };
        if !hit {
            continue;
        }
        match &r.action {
            Action::SetHeader(n, v) => {
                target.insert(n.clone(), v.clone());
            }
            Action::AddHeader(n, v) => {
                target.append(n.clone(), v.clone());
            }
            Action::DelHeader(n) => {
                target.remove(n);
            }
            Action::Deny(status) => {
                fe.shared.denied.fetch_add(1, Relaxed);
                return Some(error_response(*status, None, false));
            }
            Action::Return {
                status,
                content_type,
                body,
                headers,
            } => {
                let mut resp = Response::new(ProxyBody::full(body.clone()));
                *resp.status_mut() = StatusCode::from_u16(*status).unwrap_or(StatusCode::OK);
                if let Some(ct) = content_type {
                    resp.headers_mut().insert(header::CONTENT_TYPE, ct.clone());
                }
                for (n, v) in headers {
                    resp.headers_mut().append(n.clone(), v.clone());
                }
                return Some(resp);
            }
            Action::Redirect(r) => return Some(redirect(r, path, query, target)),
            Action::Prometheus => {
                let mut resp = Response::new(ProxyBody::full(crate::stats::prometheus(graph)));
                resp.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                return Some(resp);
            }
        }
    }
    None
}

/// Builds a redirect response as HAProxy does (empty body, `Cache-Control: no-cache`).
fn redirect(
    r: &crate::config::model::Redirect,
    path: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Response<ProxyBody> {
    use crate::config::model::RedirectKind;
    let mut tail = path.to_string();
    if r.append_slash && !tail.ends_with('/') {
        tail.push('/');
    }
    if let (Some(q), false) = (query, r.drop_query) {
        tail.push('?');
        tail.push_str(q);
    }
    let location = match r.kind {
        RedirectKind::Location => {
            let mut l = r.to.clone();
            if r.append_slash && !l.ends_with('/') {
                l.push('/');
            }
            l
        }
        RedirectKind::Prefix if r.to == "/" => tail,
        RedirectKind::Prefix => format!("{}{tail}", r.to.trim_end_matches('/')),
        RedirectKind::Scheme => {
            let host = headers
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("");
            format!("{}://{host}{tail}", r.to)
        }
    };
    let mut resp = Response::new(ProxyBody::empty());
    *resp.status_mut() = StatusCode::from_u16(r.code).unwrap_or(StatusCode::FOUND);
    let h = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&location) {
        h.insert(header::LOCATION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("0"));
    if let Some(c) = &r.set_cookie {
        let v = if c.contains('=') {
            format!("{c}; path=/")
        } else {
            format!("{c}=; path=/")
        };
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.append(header::SET_COOKIE, v);
        }
    }
    if let Some(c) = &r.clear_cookie {
        if let Ok(v) = HeaderValue::from_str(&format!("{c}=; Max-Age=0; path=/")) {
            h.append(header::SET_COOKIE, v);
        }
    }
    resp
}

fn status_text(status: u16) -> (&'static str, &'static str) {
    match status {
        400 => ("Bad request", "Your browser sent an invalid request."),
        403 => ("Forbidden", "Request forbidden by administrative rules."),
        408 => (
            "Request Time-out",
            "Your browser didn't send a complete request in time.",
        ),
        500 => (
            "Internal Server Error",
            "An internal server error occurred.",
        ),
        502 => (
            "Bad Gateway",
            "The server returned an invalid or incomplete response.",
        ),
        503 => (
            "Service Unavailable",
            "No server is available to handle this request.",
        ),
        504 => ("Gateway Time-out", "The server didn't respond in time."),
        _ => ("Error", "The request could not be served."),
    }
}

/// An error page in HAProxy's style, or JSON when the client prefers it.
pub fn error_response(status: u16, backend: Option<&str>, json: bool) -> Response<ProxyBody> {
    let (title, text) = status_text(status);
    let (ct, body) = if json {
        let be = match backend {
            Some(b) => format!("\"{}\"", b.replace('\\', "\\\\").replace('"', "\\\"")),
            None => "null".into(),
        };
        (
            "application/json",
            format!(
                "{{\"status\":{status},\"backend\":{be},\"time\":\"{}\"}}\n",
                crate::log::rfc3339_now()
            ),
        )
    } else {
        let extra = backend
            .map(|b| format!("\n<p>backend: {b}</p>"))
            .unwrap_or_default();
        (
            "text/html",
            format!("<html><body><h1>{status} {title}</h1>\n{text}{extra}\n</body></html>\n"),
        )
    };
    let mut resp = Response::new(ProxyBody::full(body));
    *resp.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ct));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// True when the client's `Accept` prefers JSON over HTML.
fn prefers_json(h: &HeaderMap) -> bool {
    let Some(a) = h.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let q = |media: &str| -> f32 {
        a.split(',')
            .filter_map(|part| {
                let mut it = part.split(';');
                let m = it.next()?.trim();
                if !m.eq_ignore_ascii_case(media) {
                    return None;
                }
                let q = it
                    .filter_map(|p| p.trim().strip_prefix("q="))
                    .find_map(|v| v.parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some(q)
            })
            .fold(0.0, f32::max)
    };
    let j = q("application/json");
    j > 0.0 && j >= q("text/html")
}

/// The hash key of a request for hash-based balancing.
fn hash_key(
    balance: &Balance,
    method: &Method,
    uri: &hyper::Uri,
    headers: &HeaderMap,
    peer: SocketAddr,
) -> Option<u64> {
    let _ = method;
    use crate::backend::balance::hash;
    match balance {
        Balance::Source => Some(crate::backend::balance::source_key(peer.ip())),
        Balance::Uri { whole, len, depth } => {
            let mut s = if *whole {
                uri.path_and_query().map_or("/", |p| p.as_str())
            } else {
                uri.path()
            };
            if *depth > 0 {
                if let Some((p, _)) = s.match_indices('/').nth(*depth) {
                    s = &s[..p];
                }
            }
            if *len > 0 && s.len() > *len {
                let mut end = *len;
                while !s.is_char_boundary(end) {
                    end -= 1;
                }
                s = &s[..end];
            }
            Some(hash(s.as_bytes()))
        }
        Balance::UrlParam(name) => uri.query().and_then(|q| {
            q.split('&').find_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                (k == name).then(|| hash(v.as_bytes()))
            })
        }),
        Balance::Hdr { name, domain_only } => {
            let v = headers.get(name.as_str())?.to_str().ok()?;
            if v.is_empty() {
                return None;
            }
            if *domain_only {
                let host = v.split(':').next().unwrap_or(v);
                let labels: Vec<&str> = host.split('.').collect();
                let dom = if labels.len() >= 2 {
                    labels[labels.len() - 2]
                } else {
                    host
                };
                Some(hash(dom.as_bytes()))
            } else {
                Some(hash(v.as_bytes()))
            }
        }
        _ => None,
    }
}

/// Checks a request head beyond what the HTTP parser enforces: the framing rules of
/// [`check_request_framing`]; an HTTP/1.1 request needs exactly one `Host` (RFC 9112
/// §3.2); an absolute-form target routes on its authority, which replaces `Host`.
/// Returns the status to answer on failure.
pub fn validate_head(parts: &mut hyper::http::request::Parts) -> Result<(), u16> {
    check_request_framing(parts.version, &mut parts.headers)?;
    let hosts = parts.headers.get_all(header::HOST).iter().count();
    if let Some(auth) = parts.uri.authority() {
        if parts
            .uri
            .scheme_str()
            .is_some_and(|s| !s.eq_ignore_ascii_case("http") && !s.eq_ignore_ascii_case("https"))
            || auth.as_str().contains('@')
        {
            return Err(400);
        }
        let v = HeaderValue::from_str(auth.as_str()).map_err(|_| 400u16)?;
        parts.headers.insert(header::HOST, v);
        return Ok(());
    }
    match (parts.version, hosts) {
        (Version::HTTP_11, 1) | (Version::HTTP_10 | Version::HTTP_09, 0 | 1) => {}
        _ => return Err(400),
    }
    if parts.headers.get(header::HOST).is_some_and(|h| {
        h.as_bytes()
            .iter()
            .any(|b| b.is_ascii_whitespace() || *b == b'/' || *b == b'@')
    }) {
        return Err(400);
    }
    Ok(())
}

/// Request framing (RFC 9112 §6.1–6.3), also enforced when the HTTP parser already did:
/// `Transfer-Encoding` only in HTTP/1.1 and only as exactly one `chunked` (its final
/// coding not `chunked`, or `chunked` twice: 400; another coding before it: 501, since
/// lbd forwards the body de-chunked and could not keep that coding); with it, any
/// `Content-Length` is removed. Without it, every `Content-Length` is `1*DIGIT`
/// (fitting 64 bits) and all are equal (400 otherwise); one copy is kept.
pub fn check_request_framing(version: Version, h: &mut HeaderMap) -> Result<(), u16> {
    if h.contains_key(header::TRANSFER_ENCODING) {
        if version != Version::HTTP_11 {
            return Err(400);
        }
        te_is_chunked(h)?;
        h.remove(header::CONTENT_LENGTH);
        return Ok(());
    }
    let mut len = None;
    for v in h.get_all(header::CONTENT_LENGTH) {
        let n = content_length(v.as_bytes()).ok_or(400u16)?;
        if len.is_some_and(|l| l != n) {
            return Err(400);
        }
        len = Some(n);
    }
    if let Some(n) = len {
        if h.get_all(header::CONTENT_LENGTH).iter().count() > 1 {
            h.insert(header::CONTENT_LENGTH, HeaderValue::from(n));
        }
    }
    Ok(())
}

/// A `Content-Length` value: `1*DIGIT` that fits in 64 bits (no sign, no spaces, no
/// list).
fn content_length(v: &[u8]) -> Option<u64> {
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Whether the `Transfer-Encoding` fields (all lines, comma lists, empty elements
/// ignored) say exactly `chunked`. Err(400): the final coding is not `chunked` or it is
/// there twice; Err(501): another coding comes before it.
fn te_is_chunked(h: &HeaderMap) -> Result<(), u16> {
    let mut codings = 0usize;
    let mut chunked = 0usize;
    let mut last_chunked = false;
    for v in h.get_all(header::TRANSFER_ENCODING) {
        let s = v.to_str().map_err(|_| 400u16)?;
        for t in s.split(',').map(|t| t.trim_matches([' ', '\t'])) {
            if t.is_empty() {
                continue;
            }
            codings += 1;
            last_chunked = t.eq_ignore_ascii_case("chunked");
            chunked += usize::from(last_chunked);
        }
    }
    match (last_chunked, chunked, codings) {
        (true, 1, 1) => Ok(()),
        (true, 1, _) => Err(501),
        _ => Err(400),
    }
}

/// Checks a server's response framing beyond the HTTP parser (RFC 9112 §6.3), for a
/// response that has a body: a `Transfer-Encoding` other than exactly `chunked` is
/// refused (the parser would read a close-delimited body, and lbd would forward it
/// without its coding); with `chunked`, any `Content-Length` is removed so that the
/// client never sees both.
fn check_response_framing(method: &Method, status: StatusCode, h: &mut HeaderMap) -> bool {
    let bodyless = method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    if bodyless || !h.contains_key(header::TRANSFER_ENCODING) {
        return true;
    }
    if te_is_chunked(h).is_err() {
        return false;
    }
    h.remove(header::CONTENT_LENGTH);
    true
}

/// The longest request target the HTTP parser accepts (longer: 414).
const MAX_URI_LEN: usize = (u16::MAX - 1) as usize;

/// Runs on raw bytes the checks a request head meets in lbd, without a connection: the
/// `httparse` parse hyper's server uses (with the default `tune.bufsize` 16384 and
/// `tune.http.maxhdr` 101), the parser's own framing rules, then [`validate_head`].
/// `Ok(None)`: the head is not complete yet. Err: the status lbd answers. For tests and
/// fuzzing; the server itself runs hyper.
pub fn check_request_bytes(bytes: &[u8]) -> Result<Option<hyper::http::request::Parts>, u16> {
    const BUFSIZE: usize = 16384;
    const MAX_HEADERS: usize = 101;
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    match req.parse(bytes) {
        Ok(httparse::Status::Complete(n)) if n > BUFSIZE => return Err(431),
        Ok(httparse::Status::Complete(_)) => {}
        Ok(httparse::Status::Partial) if bytes.len() >= BUFSIZE => return Err(431),
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(httparse::Error::TooManyHeaders) => return Err(431),
        Err(_) => return Err(400),
    }
    let (Some(m), Some(path), Some(v)) = (req.method, req.path, req.version) else {
        return Err(400);
    };
    if path.len() > MAX_URI_LEN {
        return Err(414);
    }
    let method = Method::from_bytes(m.as_bytes()).map_err(|_| 400u16)?;
    let uri: hyper::Uri = path.parse().map_err(|_| 400u16)?;
    let version = if v == 1 {
        Version::HTTP_11
    } else {
        Version::HTTP_10
    };
    // The parser's framing: `Transfer-Encoding` drops any `Content-Length` (before it:
    // removed; after it: skipped unread); differing lengths are refused.
    let mut map = HeaderMap::new();
    let (mut te, mut te_chunked, mut cl) = (false, false, None);
    for hd in req.headers.iter() {
        let name = HeaderName::from_bytes(hd.name.as_bytes()).map_err(|_| 400u16)?;
        let value = HeaderValue::from_bytes(hd.value).map_err(|_| 400u16)?;
        if name == header::TRANSFER_ENCODING {
            if version != Version::HTTP_11 {
                return Err(400);
            }
            te = true;
            if cl.take().is_some() {
                map.remove(header::CONTENT_LENGTH);
            }
            te_chunked = value
                .to_str()
                .ok()
                .and_then(|s| s.rsplit(',').next())
                .is_some_and(|c| c.trim().eq_ignore_ascii_case("chunked"));
        } else if name == header::CONTENT_LENGTH {
            if te {
                continue;
            }
            let n = content_length(value.as_bytes()).ok_or(400u16)?;
            match cl {
                Some(prev) if prev != n => return Err(400),
                Some(_) => continue,
                // The parser keeps the two top values as markers (chunked, close).
                None if n > u64::MAX - 2 => return Err(431),
                None => cl = Some(n),
            }
        }
        map.append(name, value);
    }
    if te && !te_chunked {
        return Err(400);
    }
    let mut b = Request::builder().method(method).uri(uri).version(version);
    if let Some(h) = b.headers_mut() {
        *h = map;
    }
    let mut parts = b.body(()).map_err(|_| 400u16)?.into_parts().0;
    validate_head(&mut parts)?;
    Ok(Some(parts))
}

/// Why an upstream exchange failed.
enum Fail {
    NoServer,
    Connect,
    Response(bool),
    /// The client's own request body was malformed or cut (e.g. a bad chunk), or
    /// (true) stalled for `timeout client`.
    ClientBody(bool),
}

/// What the access log needs to know about how a request was served.
#[derive(Default)]
struct Trace {
    /// Whether the access log wants timings (else only what statistics need is read).
    timed: bool,
    backend: Option<Arc<Backend>>,
    /// Index of the server in `backend`.
    server: Option<usize>,
    /// Slot acquired (end of queue wait); only when `timed`.
    picked: Option<std::time::Instant>,
    /// Connection ready.
    connected: Option<std::time::Instant>,
    /// Response head received.
    responded: Option<std::time::Instant>,
    retries: u32,
}

async fn handle_request(ctx: Arc<ConnCtx>, req: Request<Incoming>) -> Response<ProxyBody> {
    let (graph, fe_idx) = ctx.current();
    let fe = &graph.frontends[fe_idx];
    fe.shared.requests.fetch_add(1, Relaxed);
    let logging = fe.options.httplog && !fe.logs.is_empty();
    // Clocks and the request line only when an access log line will be written.
    let timing = logging.then(|| {
        (
            std::time::Instant::now(),
            std::time::SystemTime::now(),
            format!("{} {} {:?}", req.method(), req.uri(), req.version()),
        )
    });
    let mut trace = Trace {
        timed: logging,
        ..Trace::default()
    };
    let mut resp = proxy(&ctx, &graph, fe, req, &mut trace).await;
    let status = resp.status().as_u16();
    fe.shared.count_status(status);
    if let Some((start, accepted, rl)) = timing {
        let ms = |a: Option<std::time::Instant>, b: std::time::Instant| {
            a.map_or(-1, |a| a.saturating_duration_since(b).as_millis() as i64)
        };
        let tw = ms(trace.picked, start);
        let tc = match (trace.connected, trace.picked) {
            (Some(c), Some(p)) => c.saturating_duration_since(p).as_millis() as i64,
            _ => -1,
        };
        let tr = match (trace.responded, trace.connected) {
            (Some(r), Some(c)) => r.saturating_duration_since(c).as_millis() as i64,
            _ => -1,
        };
        let (be_name, be_cur) = match &trace.backend {
            Some(b) => (
                b.name.as_str(),
                b.servers
                    .iter()
                    .map(|s| s.state.cur.load(Relaxed))
                    .sum::<u32>(),
            ),
            None => (fe.name.as_str(), 0),
        };
        let server = trace
            .backend
            .as_ref()
            .zip(trace.server)
            .and_then(|(b, i)| b.servers.get(i));
        let srv = server.map_or("<NOSRV>", |s| s.name.as_str());
        let srv_cur = server.map_or(0, |s| s.state.cur.load(Relaxed));
        let head = format!(
            "{}:{} [{}] {} {be_name}/{srv} 0/{tw}/{tc}/{tr}/",
            ctx.peer.ip(),
            ctx.peer.port(),
            crate::log::access_time(accepted),
            fe.name
        );
        let fe_cur = fe.shared.cur.load(Relaxed);
        let tail = format!(
            " - - ---- {fe_cur}/{fe_cur}/{be_cur}/{srv_cur}/{} 0/0 \"{}\"",
            trace.retries,
            rl.replace('"', "\\\"")
        );
        let mut log = Box::new(crate::log::HttpLog {
            targets: fe.logs.clone(),
            head,
            status,
            tail,
            start,
            bytes: 0,
        });
        match resp.body_mut() {
            ProxyBody::Response(p) => p.log = Some(log),
            ProxyBody::Full(b) => {
                log.bytes = b.as_ref().map_or(0, |b| b.len() as u64);
            }
            ProxyBody::Request(..) | ProxyBody::Channel(_) => {}
        }
    }
    resp
}

fn wants_upgrade(h: &HeaderMap) -> bool {
    h.contains_key(header::UPGRADE)
        && h.get_all(header::CONNECTION).iter().any(|v| {
            v.to_str().is_ok_and(|s| {
                s.split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
            })
        })
}

async fn proxy(
    ctx: &ConnCtx,
    graph: &Graph,
    fe: &FrontendRt,
    mut req: Request<Incoming>,
    trace: &mut Trace,
) -> Response<ProxyBody> {
    let json = prefers_json(req.headers());
    let src = ctx.peer.ip();
    let client_upgrade = wants_upgrade(req.headers()).then(|| hyper::upgrade::on(&mut req));
    let (mut parts, body) = req.into_parts();
    if let Err(status) = validate_head(&mut parts) {
        return error_response(status, None, json);
    }
    // Frontend rules.
    if let Some(r) = apply_rules(
        &fe.rules,
        &fe.rules.request,
        &parts.method,
        parts.uri.path(),
        parts.uri.query(),
        src,
        &mut parts.headers,
        None,
        graph,
        fe,
    ) {
        return r;
    }
    // The stats page answers before any backend is chosen.
    if crate::stats::page::matches(
        &fe.stats,
        parts.uri.path_and_query().map_or("/", |p| p.as_str()),
    ) {
        let pq = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        return crate::stats::page::serve(&fe.stats, &pq, &parts.headers, &ctx.handle);
    }
    // Choose the backend.
    let be_idx = {
        let info = ReqInfo {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            headers: &parts.headers,
            src,
        };
        fe.switching
            .iter()
            .find(|(c, _)| fe.rules.eval(c, &info))
            .map(|(_, b)| *b)
            .or(fe.default_backend)
    };
    let Some(be_idx) = be_idx else {
        return error_response(503, None, json);
    };
    let be = &graph.backends[be_idx];
    trace.backend = Some(be.clone());
    let same_proxy = be.proxy_id == fe.proxy_id;
    if !same_proxy {
        if let Some(r) = apply_rules(
            &be.rules,
            &be.rules.request,
            &parts.method,
            parts.uri.path(),
            parts.uri.query(),
            src,
            &mut parts.headers,
            None,
            graph,
            fe,
        ) {
            return r;
        }
    }
    // Persistence: a valid cookie or a stick-table entry pins the server.
    let mut pinned: Option<usize> = None;
    let mut seen: Option<crate::backend::persist::Seen> = None;
    if let Some(ck) = &be.cookie {
        if let Some(v) = crate::backend::persist::find(&parts.headers, &ck.name) {
            seen = crate::backend::persist::decode(ck, v, crate::backend::persist::now_secs());
        }
        if let Some(sn) = seen.as_ref().filter(|s| !s.expired) {
            pinned = be.cookie_index.get(&sn.server).copied();
        }
        crate::backend::persist::strip_request(ck, &mut parts.headers);
    }
    let mut stick_store = false;
    if let Some(st) = &be.stick {
        let info = ReqInfo {
            method: parts.method.as_str(),
            path: parts.uri.path(),
            headers: &parts.headers,
            src,
        };
        if pinned.is_none() && st.matches(&info) {
            pinned = st.table.lookup(src).and_then(|n| be.server_index(&n));
        }
        stick_store = st.stores(&info);
    }
    let key = if be.balancer.wants_key() {
        hash_key(
            &be.balance,
            &parts.method,
            &parts.uri,
            &parts.headers,
            ctx.peer,
        )
    } else {
        None
    };
    let needs_resp_info = fe
        .rules
        .response
        .iter()
        .chain(be.rules.response.iter())
        .any(|r| r.cond.is_some());
    let saved = needs_resp_info.then(|| {
        (
            parts.method.clone(),
            parts.uri.path().to_string(),
            parts.headers.clone(),
        )
    });

    // Build the upstream request.
    let version = parts.version;
    let uri: hyper::Uri = match parts.uri.path_and_query() {
        Some(pq) if parts.uri.scheme().is_some() || parts.uri.authority().is_some() => pq
            .as_str()
            .parse()
            .unwrap_or_else(|_| hyper::Uri::from_static("/")),
        Some(_) => std::mem::take(&mut parts.uri),
        None => hyper::Uri::from_static("/"),
    };
    let mut headers = std::mem::take(&mut parts.headers);
    let is_upgrade = strip_hop_by_hop(&mut headers, true) && client_upgrade.is_some();
    if let Some(ff) = fe
        .options
        .forwardfor
        .as_ref()
        .or(be.options.forwardfor.as_ref())
    {
        let skip = (ff.if_none && headers.contains_key(ff.header.as_str()))
            || ff
                .except
                .is_some_and(|(net, len)| crate::rules::in_net(src, net, len));
        if !skip {
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(ff.header.as_bytes()),
                HeaderValue::from_str(&src.to_string()),
            ) {
                headers.append(n, v);
            }
        }
    }
    let server_close = fe.options.http_conn != HttpConnMode::KeepAlive
        || be.options.http_conn != HttpConnMode::KeepAlive;
    if server_close && !is_upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    } else if version == Version::HTTP_10 && !is_upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("keep-alive"));
    }
    let bodyless = body_is_empty(&body, &headers);
    let method = parts.method.clone();
    let head = bodyless.then(|| (method.clone(), uri.clone(), headers.clone()));
    // `timeout client` bounds each wait for the client's body bytes.
    let (timer, progress) = match fe.timeouts.client.filter(|_| !bodyless) {
        Some(t) => {
            let (timer, progress) = pool::BodyTimer::new(t);
            (Some(timer), Some(progress))
        }
        None => (None, None),
    };
    let mut up = Request::new(ProxyBody::Request(body, None, timer));
    *up.method_mut() = method;
    *up.uri_mut() = uri;
    *up.version_mut() = if version == Version::HTTP_10 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    *up.headers_mut() = headers;

    let is_post = parts.method == Method::POST;
    let result = exchange(
        ctx,
        be,
        up,
        key,
        pinned,
        head,
        server_close,
        is_upgrade,
        progress.as_deref(),
        trace,
    )
    .await;
    let (mut resp, slot, sender) = match result {
        Ok(r) => r,
        Err(Fail::NoServer) => {
            be.shared.no_server.fetch_add(1, Relaxed);
            return error_response(503, Some(&be.name), json);
        }
        Err(Fail::Connect) => return error_response(503, Some(&be.name), json),
        Err(Fail::Response(timeout)) => {
            return error_response(if timeout { 504 } else { 502 }, Some(&be.name), json)
        }
        Err(Fail::ClientBody(timeout)) => {
            return error_response(if timeout { 408 } else { 400 }, None, json)
        }
    };
    if !check_response_framing(&parts.method, resp.status(), resp.headers_mut()) {
        // Dropping `sender` and the body closes the connection: it is never pooled.
        slot.server.state.resp_errors.fetch_add(1, Relaxed);
        check::observe(be, &slot.server, Observation::L7Invalid);
        return error_response(502, Some(&be.name), json);
    }
    let status = resp.status();
    slot.server.state.count_status(status.as_u16());
    check::observe(be, &slot.server, Observation::for_status(status.as_u16()));
    if status == StatusCode::SWITCHING_PROTOCOLS {
        let Some(client_up) = client_upgrade.filter(|_| is_upgrade) else {
            return error_response(502, Some(&be.name), json);
        };
        let server_up = hyper::upgrade::on(&mut resp);
        let tunnel_timeout = be.timeouts.tunnel;
        tokio::spawn(async move {
            let _slot = slot;
            let _sender = sender;
            let server_state = _slot.server.state.clone();
            let gen = server_state.kill.generation();
            if let (Ok(c), Ok(s)) = (client_up.await, server_up.await) {
                let mut c = TokioIo::new(c);
                let mut s = TokioIo::new(s);
                let copy = async {
                    tokio::select! {
                        r = tokio::io::copy_bidirectional(&mut c, &mut s) => r.map(|_| ()),
                        _ = server_state.kill.wait(gen) => Ok(()),
                    }
                };
                match tunnel_timeout {
                    Some(t) => {
                        let _ = tokio::time::timeout(t, copy).await;
                    }
                    None => {
                        let _ = copy.await;
                    }
                }
            }
        });
        let (parts, _) = resp.into_parts();
        return Response::from_parts(parts, ProxyBody::empty());
    }
    let (mut rparts, incoming) = resp.into_parts();
    strip_hop_by_hop(&mut rparts.headers, false);
    if let (Some(ck), Some(value)) = (&be.cookie, &slot.server.cfg.cookie) {
        use crate::backend::persist;
        use crate::config::model::CookieMode;
        match ck.mode {
            CookieMode::Insert => {
                if !ck.preserve {
                    persist::remove_response_cookie(ck, &mut rparts.headers);
                }
                let same = seen.as_ref().filter(|s| &s.server == value && !s.expired);
                let refresh = ck.maxidle.is_some();
                let blocked = (ck.postonly && !is_post)
                    || (ck.preserve && persist::response_sets(ck, &rparts.headers));
                if (same.is_none() || refresh) && !blocked {
                    let first = same.and_then(|s| s.first);
                    if let Some(v) = persist::set_cookie(ck, value, persist::now_secs(), first) {
                        rparts.headers.append(header::SET_COOKIE, v);
                        if ck.nocache {
                            rparts
                                .headers
                                .insert(header::CACHE_CONTROL, HeaderValue::from_static("private"));
                        }
                    }
                }
            }
            CookieMode::Rewrite | CookieMode::Prefix => {
                persist::rewrite_response(ck, &mut rparts.headers, value)
            }
            CookieMode::Passive => {}
        }
    }
    if stick_store {
        if let Some(st) = &be.stick {
            st.table.store(src, &slot.server.name);
        }
    }
    let keep = if server_close { None } else { sender };
    let body = ProxyBody::Response(Box::new(PooledBody::new(
        incoming,
        keep,
        slot,
        be.timeouts.server,
    )));
    // Response rules: backend first, then frontend.
    let empty = HeaderMap::new();
    let (m, p, h) = match &saved {
        Some((m, p, h)) => (m.clone(), p.as_str(), h),
        None => (Method::GET, "", &empty),
    };
    let sets: &[&RuleSet] = if same_proxy {
        &[&fe.rules]
    } else {
        &[&be.rules, &fe.rules]
    };
    for rs in sets {
        if let Some(r) = apply_rules(
            rs,
            &rs.response,
            &m,
            p,
            None,
            src,
            &mut rparts.headers,
            Some(h),
            graph,
            fe,
        ) {
            return r;
        }
    }
    if fe.options.http_conn == HttpConnMode::Close {
        rparts
            .headers
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    Response::from_parts(rparts, body)
}

fn body_is_empty(b: &Incoming, h: &HeaderMap) -> bool {
    use hyper::body::Body;
    b.is_end_stream()
        || (b.size_hint().exact() == Some(0) && !h.contains_key(header::TRANSFER_ENCODING))
}

/// Waits for a server's response head for `timeout server` of server silence. While
/// lbd still uploads the request body, the server is not the one being waited on: the
/// timer runs from the body's last bytes, and not at all while the client is the one
/// that is late (`timeout client` bounds that wait). `None`: the server timed out.
async fn server_wait<F: Future>(
    send: F,
    t: std::time::Duration,
    upload: Option<&pool::BodyProgress>,
) -> Option<F::Output> {
    tokio::pin!(send);
    let mut deadline = tokio::time::Instant::now() + t;
    loop {
        match tokio::time::timeout_at(deadline, send.as_mut()).await {
            Ok(r) => return Some(r),
            Err(_) => deadline = upload?.server_deadline(t)?,
        }
    }
}

/// Opens a new connection to the server of `s`: connect (`timeout connect`), the PROXY
/// protocol header when the server has `send-proxy[-v2]`, then hyper's handshake.
async fn open(
    ctx: &ConnCtx,
    be: &Backend,
    s: &Slot,
) -> Result<hyper::client::conn::http1::SendRequest<ProxyBody>, ConnectError> {
    let target = s.server.target(ctx.local);
    let mut c = pool::connect(target, be.timeouts.connect).await?;
    if let Some(v) = s.server.cfg.send_proxy {
        let h = if v == 2 {
            proxy_proto::v2(ctx.peer, ctx.local)
        } else {
            proxy_proto::v1(ctx.peer, ctx.local)
        };
        if c.write_all(&h).await.is_err() {
            return Err(ConnectError::Io(std::io::ErrorKind::BrokenPipe.into()));
        }
    }
    check::observe(be, &s.server, Observation::L4Ok);
    pool::handshake(c)
        .await
        .map_err(|_| ConnectError::Io(std::io::ErrorKind::ConnectionAborted.into()))
}

type Exchange = (
    Response<Incoming>,
    Slot,
    Option<hyper::client::conn::http1::SendRequest<ProxyBody>>,
);

#[allow(clippy::too_many_arguments)]
async fn exchange(
    ctx: &ConnCtx,
    be: &Arc<Backend>,
    mut up: Request<ProxyBody>,
    key: Option<u64>,
    mut pinned: Option<usize>,
    head: Option<(Method, hyper::Uri, HeaderMap)>,
    no_pool: bool,
    upgrade: bool,
    upload: Option<&pool::BodyProgress>,
    trace: &mut Trace,
) -> Result<Exchange, Fail> {
    let mut attempts = 0u32;
    let mut exclude = None;
    let mut slot: Option<Slot> = None;
    let mut replayed = false;
    loop {
        let persisted = pinned.take().and_then(|i| be.try_persist(i));
        let s = match (slot.take(), persisted) {
            (Some(s), _) | (None, Some(s)) => s,
            (None, None) => be.acquire(key, exclude).await.map_err(|_| Fail::NoServer)?,
        };
        if trace.timed {
            trace.picked.get_or_insert_with(std::time::Instant::now);
        }
        trace.server = Some(s.index);
        trace.retries = attempts;
        if let ProxyBody::Request(_, c, _) = up.body_mut() {
            *c = Some(s.server.state.clone());
        }
        let proxy_hdr = s.server.cfg.send_proxy;
        let pooled = if no_pool || upgrade || proxy_hdr.is_some() {
            None
        } else {
            s.server.pool.take()
        };
        let reused = pooled.is_some();
        let mut sender = match pooled {
            Some(c) => c,
            None => {
                // Boxed: a new connection's futures are large and rarely needed, and a
                // request's future is moved (copied) several times on every request.
                let conn = Box::pin(open(ctx, be, &s)).await;
                match conn {
                    Ok(c) => c,
                    Err(e) => {
                        match be.connect_failed(s, &e, &mut attempts) {
                            Retry::GiveUp => return Err(Fail::Connect),
                            Retry::Redispatch(i) => exclude = Some(i),
                            Retry::Same(s) => slot = Some(s),
                        }
                        continue;
                    }
                }
            }
        };
        trace.connected = Some(std::time::Instant::now());
        let send = sender.try_send_request(up);
        let res = match be.timeouts.server {
            Some(t) => match server_wait(send, t, upload).await {
                Some(r) => r,
                None => {
                    s.server.state.resp_errors.fetch_add(1, Relaxed);
                    check::observe(be, &s.server, Observation::L7Timeout);
                    return Err(Fail::Response(true));
                }
            },
            None => send.await,
        };
        match res {
            Ok(resp) => {
                let now = std::time::Instant::now();
                if let Some(c) = trace.connected {
                    s.server.state.rt.record(now.saturating_duration_since(c));
                }
                trace.responded = Some(now);
                return Ok((resp, s, Some(sender)));
            }
            Err(mut e) => {
                if let Some(back) = e.take_message() {
                    // Never written: safe to send again on a fresh connection. A pooled
                    // connection that closed while idle costs nothing; a fresh one that
                    // closed at once is a failed attempt, so a server that accepts and
                    // hangs up is retried `retries` times, not forever.
                    up = back;
                    if !reused {
                        s.server.state.conn_errors.fetch_add(1, Relaxed);
                        attempts += 1;
                        if attempts > be.retries {
                            s.server.state.resp_errors.fetch_add(1, Relaxed);
                            return Err(Fail::Response(false));
                        }
                        s.server.state.retries.fetch_add(1, Relaxed);
                        if be.options.redispatch && attempts == be.retries.max(1) {
                            s.server.state.redispatches.fetch_add(1, Relaxed);
                            exclude = Some(s.index);
                            continue;
                        }
                    }
                    slot = Some(s);
                    continue;
                }
                // An invalid response is an answer: never sent again.
                if reused && !replayed && !e.error().is_parse() {
                    if let Some((m, u, h)) = head.clone() {
                        // An idle connection closed under us; the request had no body.
                        replayed = true;
                        let mut again = Request::new(ProxyBody::empty());
                        *again.method_mut() = m;
                        *again.uri_mut() = u;
                        *again.headers_mut() = h;
                        up = again;
                        slot = Some(s);
                        continue;
                    }
                }
                if e.error().is_user() {
                    // The request body from the client failed (bad chunk, cut or
                    // stalled upload): the client's fault, not the server's.
                    return Err(Fail::ClientBody(pool::is_client_timeout(e.error())));
                }
                s.server.state.resp_errors.fetch_add(1, Relaxed);
                check::observe(be, &s.server, Observation::L7Invalid);
                return Err(Fail::Response(false));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(raw: &str) -> hyper::http::request::Parts {
        let mut lines = raw.lines();
        let mut first = lines.next().unwrap().split(' ');
        let mut b = Request::builder()
            .method(first.next().unwrap())
            .uri(first.next().unwrap());
        b = b.version(if first.next() == Some("HTTP/1.0") {
            Version::HTTP_10
        } else {
            Version::HTTP_11
        });
        for l in lines {
            let (k, v) = l.split_once(':').unwrap();
            b = b.header(k.trim(), v.trim());
        }
        b.body(()).unwrap().into_parts().0
    }

    #[test]
    fn hop_by_hop_headers_and_those_connection_names_are_removed() {
        let h = |raw: &str| parts(&format!("GET / HTTP/1.1\n{raw}")).headers;
        let mut m = h(
            "Connection: Keep-Alive, X-Secret, close\nKeep-Alive: timeout=5\n\
                       X-Secret: 1\nX-Other: 2\nTE: trailers\nConnection: x-gone",
        );
        assert!(!strip_hop_by_hop(&mut m, true));
        assert_eq!(m.len(), 1, "{m:?}");
        assert_eq!(m["x-other"], "2");
        let mut m = h("Connection: Upgrade\nUpgrade: websocket\nX-A: 1");
        assert!(strip_hop_by_hop(&mut m, true));
        assert_eq!(m["upgrade"], "websocket");
        assert_eq!(m["connection"], "upgrade");
        let mut m = h("Connection: Upgrade\nUpgrade: websocket\nX-A: 1");
        assert!(strip_hop_by_hop(&mut m, false));
        assert_eq!(m.len(), 1);
        let mut m = h("X-A: 1\nContent-Length: 3");
        assert!(!strip_hop_by_hop(&mut m, true));
        assert_eq!(m.len(), 2);
    }

    #[test]
    fn host_rules() {
        assert_eq!(validate_head(&mut parts("GET / HTTP/1.1\nHost: a")), Ok(()));
        assert_eq!(validate_head(&mut parts("GET / HTTP/1.1")), Err(400));
        assert_eq!(
            validate_head(&mut parts("GET / HTTP/1.1\nHost: a\nHost: b")),
            Err(400)
        );
        assert_eq!(validate_head(&mut parts("GET / HTTP/1.0")), Ok(()));
        assert_eq!(
            validate_head(&mut parts("GET / HTTP/1.1\nHost: a/b")),
            Err(400)
        );
    }

    #[test]
    fn absolute_form_routes_on_its_authority() {
        let mut p = parts("GET http://api.example:8080/x HTTP/1.1\nHost: other");
        assert_eq!(validate_head(&mut p), Ok(()));
        assert_eq!(p.headers.get(header::HOST).unwrap(), "api.example:8080");
        assert_eq!(
            validate_head(&mut parts("GET ftp://x/y HTTP/1.1\nHost: x")),
            Err(400)
        );
    }

    /// The status lbd answers for a raw head (`Ok(200)`: accepted).
    fn check(raw: &str) -> Result<u16, u16> {
        check_request_bytes(raw.as_bytes()).map(|p| if p.is_some() { 200 } else { 0 })
    }

    #[test]
    fn request_framing() {
        let ok = |h: &str| check(&format!("POST / HTTP/1.1\r\nHost: a\r\n{h}\r\n"));
        assert_eq!(ok("Content-Length: 5\r\n"), Ok(200));
        assert_eq!(ok("Content-Length: 5\r\nContent-Length: 5\r\n"), Ok(200));
        for bad in [
            "+5",
            "-5",
            "0x10",
            "5 5",
            "5, 5",
            "",
            "99999999999999999999",
            "5a",
        ] {
            assert_eq!(
                ok(&format!("Content-Length: {bad}\r\n")),
                Err(400),
                "{bad:?}"
            );
        }
        assert_eq!(ok("Content-Length: 5\r\nContent-Length: 6\r\n"), Err(400));
        // Found by the `chunked` fuzz target: hyper refuses the two top values with 431.
        assert_eq!(ok("Content-Length: 18446744073709551613\r\n"), Ok(200));
        assert_eq!(ok("Content-Length: 18446744073709551614\r\n"), Err(431));
        assert_eq!(
            ok("Content-Length:000000000000000018446744073709551615\r\n"),
            Err(431)
        );
        assert_eq!(ok("Transfer-Encoding: chunked\r\n"), Ok(200));
        assert_eq!(ok("Transfer-Encoding: Chunked\r\n"), Ok(200));
        for bad in [
            "gzip",
            "xchunked",
            "chunked, gzip",
            "chunked;x",
            "",
            "chunked, chunked",
        ] {
            assert_eq!(
                ok(&format!("Transfer-Encoding: {bad}\r\n")),
                Err(400),
                "{bad:?}"
            );
        }
        assert_eq!(
            ok("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n"),
            Err(400)
        );
        assert_eq!(ok("Transfer-Encoding: gzip, chunked\r\n"), Err(501));
        assert_eq!(ok("Transfer-Encoding: chun\x01ked\r\n"), Err(400));
        assert_eq!(
            check("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Err(400)
        );
        // CL and TE: Content-Length is dropped whichever comes first.
        for h in [
            "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
            "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
        ] {
            let raw = format!("POST / HTTP/1.1\r\nHost: a\r\n{h}\r\n");
            let p = check_request_bytes(raw.as_bytes()).unwrap().unwrap();
            assert!(!p.headers.contains_key(header::CONTENT_LENGTH));
        }
    }

    #[test]
    fn request_syntax() {
        for bad in [
            "GET / HTTP/1.1\r\nHost : a\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX(y): 1\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: a\r\nX: a\nb\r\n\r\n",
            "GET / HTTP/2.0\r\nHost: a\r\n\r\n",
            "GET / HTTP/1.2\r\nHost: a\r\n\r\n",
            "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            "GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n",
        ] {
            assert_eq!(check(bad), Err(400), "{bad:?}");
        }
        assert_eq!(check("GET / HTTP/1.1\r\nHost: a\r\n"), Ok(0));
        let long = format!("GET /{} HTTP/1.1\r\nHost: a\r\n\r\n", "a".repeat(20000));
        assert_eq!(check(&long), Err(431));
        let many: String = (0..102).map(|i| format!("X-{i}: 1\r\n")).collect();
        assert_eq!(check(&format!("GET / HTTP/1.1\r\n{many}\r\n")), Err(431));
    }

    #[test]
    fn response_framing() {
        let mut h = HeaderMap::new();
        h.insert(header::CONTENT_LENGTH, HeaderValue::from_static("3"));
        h.insert(
            header::TRANSFER_ENCODING,
            HeaderValue::from_static("chunked"),
        );
        assert!(check_response_framing(&Method::GET, StatusCode::OK, &mut h));
        assert!(!h.contains_key(header::CONTENT_LENGTH));
        for bad in [
            "garbage",
            "gzip, chunked",
            "chunked, chunked",
            "chunked, gzip",
        ] {
            h.insert(header::TRANSFER_ENCODING, HeaderValue::from_static(bad));
            assert!(!check_response_framing(
                &Method::GET,
                StatusCode::OK,
                &mut h
            ));
            assert!(check_response_framing(
                &Method::HEAD,
                StatusCode::OK,
                &mut h
            ));
            assert!(check_response_framing(
                &Method::GET,
                StatusCode::NOT_MODIFIED,
                &mut h
            ));
        }
    }

    #[test]
    fn json_preference() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, "application/json".parse().unwrap());
        assert!(prefers_json(&h));
        h.insert(
            header::ACCEPT,
            "text/html,application/json;q=0.9".parse().unwrap(),
        );
        assert!(!prefers_json(&h));
        h.insert(header::ACCEPT, "*/*".parse().unwrap());
        assert!(!prefers_json(&h));
    }
}
