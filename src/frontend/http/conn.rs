//! A client connection in `mode http`: hyper serves it, and between requests it is
//! parked (hyper's state dropped, only the socket kept) so that idle keep-alive
//! connections cost little. The client timeouts (`http-request`, `http-keep-alive`,
//! `client`) run on one timer per connection; the soft stop closes idle connections.

pub use super::h2::Start;
use crate::backend::pool::{self, ProxyBody};
use crate::config::model::HttpConnMode;
use crate::frontend::stream::ClientStream;
use crate::graph::{FrontendRt, Graph, GraphHandle};
use hyper::body::Incoming;
use hyper::header;
use hyper::{Method, Request, Response};
use hyper_util::rt::{TokioIo, TokioTimer};
use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::Poll;
use tokio::time::Instant;

/// Per-connection context.
pub(super) struct ConnCtx {
    /// Where the newest graph is (the stats page reads it too).
    pub(super) handle: GraphHandle,
    /// The graph of the last request and this frontend's index in it. A mutex, not an
    /// `ArcSwap`: only this connection's requests take it, one at a time, and an
    /// `ArcSwap` costs a walk over every thread's debt slots when dropped.
    pinned: std::sync::Mutex<(Arc<Graph>, usize)>,
    fe_name: Box<str>,
    /// The client.
    pub(super) peer: crate::log::Client,
    /// The address the client reached (none on a unix socket).
    pub(super) local: Option<SocketAddr>,
    /// The connection's `sess.` variables, kept between its requests.
    sess: std::sync::Mutex<crate::sample::Vars>,
    /// The client and address as accepted (which listener).
    pub(super) accepted: (crate::log::Client, Option<SocketAddr>),
    /// What `fc_*` fetches read.
    pub(super) info: Arc<crate::sample::conn::ConnInfo>,
    /// The entries `tcp-request connection|session track-sc*` rules track.
    pub(super) track: crate::stick::Trackers,
    /// The TLS handshake time was logged (`%Th`: the first request's, 0 after it).
    pub(super) th_logged: std::sync::atomic::AtomicBool,
    /// The listener the client came in on (`so_id`, `so_name`), looked up by the
    /// first request with rules: a connection keeps its listener, as in HAProxy.
    pub(super) so: std::sync::OnceLock<Option<(u32, Option<Box<str>>)>>,
}

impl ConnCtx {
    /// A connection from `peer` to `local` on frontend `fe_idx` of `graph`, with no
    /// PROXY header, variables nor tracked entries (the rules benchmark's).
    pub(super) fn detached(
        graph: Arc<Graph>,
        fe_idx: usize,
        peer: crate::log::Client,
        local: Option<SocketAddr>,
    ) -> ConnCtx {
        let fe_name = graph.frontends[fe_idx].name.clone().into_boxed_str();
        ConnCtx {
            handle: Arc::new(arc_swap::ArcSwap::new(graph.clone())),
            pinned: std::sync::Mutex::new((graph, fe_idx)),
            fe_name,
            peer,
            local,
            sess: Default::default(),
            accepted: (peer, local),
            info: Arc::new(crate::sample::conn::ConnInfo {
                src: peer.inet(),
                dst: local,
                proxy: None,
                tls: None,
            }),
            track: Default::default(),
            th_logged: Default::default(),
            so: Default::default(),
        }
    }

    /// The listener the client came in on, looked up once per connection.
    pub(super) fn listener(&self, fe: &FrontendRt) -> Option<crate::sample::Named<'_>> {
        self.so
            .get_or_init(|| {
                fe.listener(&self.accepted.0, self.accepted.1)
                    .map(|(id, name)| (id, name.map(Into::into)))
            })
            .as_ref()
            .map(|(id, name)| crate::sample::Named {
                name: name.as_deref().unwrap_or(""),
                id: i64::from(*id),
            })
    }

    /// `%Th`: the TLS handshake time for the connection's first request logged, 0
    /// after it (as HAProxy: a keep-alive request has no handshake).
    pub(super) fn take_th(&self) -> i64 {
        match &self.info.tls {
            Some(t)
                if !self
                    .th_logged
                    .swap(true, std::sync::atomic::Ordering::Relaxed) =>
            {
                t.handshake_ms
            }
            _ => 0,
        }
    }

    /// The graph and frontend for the next request: the newest graph when it still has
    /// this frontend, else the one the connection started on.
    pub(super) fn current(&self) -> (Arc<Graph>, usize) {
        let newest = self.handle.load();
        let mut pinned = self.pinned.lock().unwrap_or_else(|e| e.into_inner());
        if newest.generation != pinned.0.generation {
            if let Some(&i) = newest.fe_index.get(&*self.fe_name) {
                *pinned = (arc_swap::Guard::into_inner(newest), i);
            }
        }
        (pinned.0.clone(), pinned.1)
    }

    /// The variables a new request starts with: the connection's `sess.` ones.
    pub(super) fn sess_vars(&self) -> crate::sample::Vars {
        self.sess.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Keeps the `sess.` variables of a finished request for the next one.
    pub(super) fn keep_sess_vars(&self, vars: &crate::sample::Vars) {
        let sess = vars.only(crate::sample::Scope::Sess);
        let mut cur = self.sess.lock().unwrap_or_else(|e| e.into_inner());
        if !(sess.is_empty() && cur.is_empty()) {
            *cur = sess;
        }
    }
}

/// What a connection needs to start hyper again after parking; small and copied.
#[derive(Clone, Copy)]
pub(super) struct ConnSettings {
    bufsize: usize,
    max_headers: usize,
    keep_alive: bool,
    fd: std::os::fd::RawFd,
    pub(super) limits: ClientTimeouts,
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
    fn expired(&self, phase: &crate::frontend::clientio::Phase, fe: &FrontendRt) -> bool {
        use crate::frontend::clientio;
        let now = Instant::now();
        if self.limits.write(phase).is_some_and(|d| d <= now) {
            return true;
        }
        let (state, since) = phase.snapshot();
        if self.limits.phase((state, since)).is_none_or(|d| d > now) {
            return false;
        }
        if state != clientio::IDLE {
            // The frontend's 408 page as written (an empty one: close silently).
            let page: &[u8] = match fe.error_pages.get(&408) {
                Some(p) => &p.raw,
                None => clientio::RESPONSE_408,
            };
            if !page.is_empty() {
                // SAFETY: `fd` belongs to the stream, which the caller still owns; a
                // non-blocking send of a few bytes on an idle socket.
                unsafe {
                    libc::send(
                        self.fd,
                        page.as_ptr().cast(),
                        page.len(),
                        libc::MSG_NOSIGNAL | libc::MSG_DONTWAIT,
                    );
                }
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
    Parked(crate::frontend::clientio::TrackedIo, S),
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
///
/// `start` says whether it speaks HTTP/1 or HTTP/2 ([`Start::choose`]); an HTTP/2
/// connection is served by `h2::serving` with the same service.
pub fn serve(
    stream: ClientStream,
    session: crate::frontend::session::Session,
    (graph, fe_idx): (Arc<Graph>, usize),
    handle: GraphHandle,
    mut stop: crate::frontend::stop::StopWatch,
    start: Start,
) -> impl Future<Output = ()> + Send {
    use crate::frontend::clientio::{Phase, TrackedIo};
    use std::os::fd::AsRawFd;
    let fe = graph.frontends[fe_idx].clone();
    let settings = ConnSettings {
        bufsize: graph.bufsize,
        max_headers: graph.max_headers,
        keep_alive: fe.options.http_conn != HttpConnMode::Close,
        fd: stream.as_raw_fd(),
        limits: ClientTimeouts::new(&fe.timeouts),
    };
    let (h2_tune, bufsize) = (graph.h2, graph.bufsize);
    let phase = Phase::new();
    // The `tcp-request connection` and `session` rules have run (`frontend::session`).
    let ctx = Arc::new(ConnCtx {
        sess: std::sync::Mutex::new(session.vars.only(crate::sample::Scope::Sess)),
        handle,
        pinned: std::sync::Mutex::new((graph, fe_idx)),
        fe_name: fe.name.clone().into_boxed_str(),
        peer: session.peer,
        local: session.local,
        accepted: session.accepted,
        info: session.conn,
        track: session.track,
        th_logged: Default::default(),
        so: Default::default(),
    });
    let svc_phase = phase.clone();
    // Built in place by hyper (a method returning the future would add a copy of it).
    let mut svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        use hyper::body::Body;
        let ctx = ctx.clone();
        // Each HTTP/2 stream is one request; its own accounting.
        let stream = (req.version() == hyper::Version::HTTP_2)
            .then(|| super::h2::Stream::new(&svc_phase, &req));
        // hyper may still hold bytes of a request body or an upgrade after the
        // response: such a connection is not parked before its next request.
        let sticky = !req.body().is_end_stream()
            || req.method() == Method::CONNECT
            || req.headers().contains_key(header::UPGRADE);
        let times = svc_phase.request_times();
        let inflight = svc_phase.begin(sticky);
        async move {
            let (mut resp, done) = super::request::handle(ctx, req, times).await;
            let counted = stream.map(|s| s.answered(&mut resp));
            Ok::<_, Infallible>(resp.map(|inner| ClientBody {
                inner,
                done: Some(done),
                inflight,
                counted,
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
        let h2 = match start {
            Start::H1 => false,
            Start::H2 => true,
            Start::Detect => {
                let deadline = settings.limits.next(&phase);
                match Box::pin(super::h2::detect(io.stream(), deadline, &mut stop)).await {
                    Some(h2) => h2,
                    None => return,
                }
            }
        };
        if h2 {
            let mut state = ConnState {
                phase: &phase,
                settings: &settings,
                fe: &fe,
                timer: &mut timer,
                stop: &mut stop,
            };
            return Box::pin(super::h2::serving(io, svc, &mut state, h2_tune, bufsize)).await;
        }
        loop {
            // Boxed: a parked connection keeps none of it.
            let mut state = ConnState {
                phase: &phase,
                settings: &settings,
                fe: &fe,
                timer: &mut timer,
                stop: &mut stop,
            };
            let served = Box::pin(serving(io, svc, &mut state)).await;
            (io, svc) = match served {
                Served::Closed => return,
                Served::Parked(io, svc) => (io, svc),
            };
            if io.has_prefix() || io.stream_mut().buffered() {
                // A pipelined request is already there (read by hyper, or decrypted
                // by TLS): the socket may never become readable for it.
                continue;
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

/// What a connection keeps between its serving and parked periods.
pub(super) struct ConnState<'a, 't> {
    pub(super) phase: &'a crate::frontend::clientio::Phase,
    pub(super) settings: &'a ConnSettings,
    pub(super) fe: &'a FrontendRt,
    pub(super) timer: &'a mut ConnTimer<'t>,
    pub(super) stop: &'a mut crate::frontend::stop::StopWatch,
}

/// Lets hyper serve the connection until it ends, or until it has waited `PARK_AFTER`
/// for a request with nothing of the previous one left.
async fn serving<S>(
    io: crate::frontend::clientio::TrackedIo,
    svc: S,
    state: &mut ConnState<'_, '_>,
) -> Served<S>
where
    S: hyper::service::Service<
            Request<Incoming>,
            Response = Response<ClientBody>,
            Error = Infallible,
        > + Unpin,
    S::Future: Send + 'static,
{
    let ConnState {
        phase,
        settings,
        fe,
        timer,
        stop,
    } = state;
    let (phase, settings, fe) = (*phase, *settings, *fe);
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
pub(super) struct ClientTimeouts {
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
        use crate::frontend::clientio;
        match state {
            clientio::FIRST | clientio::HEAD => self.head,
            clientio::IDLE => self.idle,
            _ => None,
        }
        .map(|l| since + l)
    }

    /// The deadline of a write that blocks because the client does not read.
    pub(super) fn write(&self, phase: &crate::frontend::clientio::Phase) -> Option<Instant> {
        phase.blocked_since().zip(self.client).map(|(b, l)| b + l)
    }

    /// The earliest deadline.
    pub(super) fn next(&self, phase: &crate::frontend::clientio::Phase) -> Option<Instant> {
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
pub(super) struct ConnTimer<'a> {
    sleep: std::pin::Pin<&'a mut tokio::time::Sleep>,
    armed: Option<Instant>,
}

impl ConnTimer<'_> {
    /// Arms the timer for `want` when that is earlier than what is armed; true when it
    /// fired.
    pub(super) fn poll(&mut self, want: Option<Instant>, cx: &mut std::task::Context<'_>) -> bool {
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
    /// The response body.
    inner: ProxyBody,
    /// The end of the request (byte counts, access log), once the body is sent.
    done: Option<crate::frontend::clientio::Done>,
    /// Marks the request in flight until the body is done.
    inflight: crate::frontend::clientio::InFlight,
    /// An HTTP/2 stream's bytes (request; response head, then body as sent), given to
    /// `done` when the body ends (HTTP/1 takes the connection's counts instead).
    counted: Option<(u64, u64)>,
}

impl Drop for ClientBody {
    fn drop(&mut self) {
        if let Some(done) = self.done.take() {
            match self.counted {
                Some((bytes_in, bytes_out)) => done(bytes_in, bytes_out),
                None => self.inflight.phase().when_flushed(done),
            }
        }
    }
}

impl hyper::body::Body for ClientBody {
    type Data = bytes::Bytes;
    type Error = pool::BoxError;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<bytes::Bytes>, pool::BoxError>>> {
        let r = std::pin::Pin::new(&mut self.inner).poll_frame(cx);
        if let (Some(c), Poll::Ready(Some(Ok(f)))) = (&mut self.counted, &r) {
            c.1 += f.data_ref().map_or(0, |d| d.len() as u64);
        }
        r
    }
    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }
    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}
