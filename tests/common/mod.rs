//! Harness for the "serve traffic" integration tests: the real `lbd` binary against
//! origin servers that the test runs itself on 127.0.0.1.
//!
//! - [`Lbd::start`] writes a config to a scratch directory, starts the binary with its
//!   stderr captured to a file, and waits (with a deadline, polling) for the `started`
//!   line; the process is killed when the value is dropped. `@FE@` and `@FE2@` in the
//!   config text become free ports (retried if another process takes one first).
//! - [`HttpOrigin`] is a hyper server that answers with its name, counts connections and
//!   requests, sleeps on `/slow?ms=N`, echoes request headers on `/headers` and echoes
//!   raw bytes after a `101` on `Upgrade: echo`.
//! - [`TcpOrigin`] is a raw TCP server (echo, reply after EOF, read-then-close, ...).
//! - [`get`], [`send`] and [`KeepAlive`] are small HTTP/1 clients; [`raw`] speaks bytes.
//!
//! Every wait has a deadline: a broken proxy fails a test, it never hangs it.

#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// A `defaults` section for http tests: every timeout set, nothing else.
pub const HTTP_DEFAULTS: &str = "defaults
    mode http
    timeout connect 1s
    timeout client 5s
    timeout server 5s
";

/// A `defaults` section for tcp tests.
pub const TCP_DEFAULTS: &str = "defaults
    mode tcp
    timeout connect 1s
    timeout client 5s
    timeout server 5s
";

/// The longest any single step of a test may wait.
pub const DEADLINE: Duration = Duration::from_secs(10);

/// Awaits `fut` for at most `limit`, panicking with `what` when it takes longer.
pub async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> T {
    match tokio::time::timeout(limit, fut).await {
        Ok(v) => v,
        Err(_) => panic!("timed out after {limit:?}: {what}"),
    }
}

/// Polls `cond` every 5 ms until it holds; panics with `what` after `limit`.
pub async fn wait_until(limit: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + limit;
    while !cond() {
        if Instant::now() >= end {
            panic!("timed out after {limit:?} waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A port that nothing listens on right now (bind to port 0, read it, release it).
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    l.local_addr().expect("local addr").port()
}

/// A port that refuses connections for as long as this value lives: bound (so no
/// other socket takes it) but never listening.
pub struct ClosedPort {
    _sock: socket2::Socket,
    /// The port.
    pub port: u16,
}

impl ClosedPort {
    /// Reserves a fresh closed port.
    pub fn new() -> ClosedPort {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        s.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
            .expect("bind");
        let port = s
            .local_addr()
            .expect("local addr")
            .as_socket()
            .expect("inet")
            .port();
        ClosedPort { _sock: s, port }
    }

    /// Reserves `port` (just released by a listener) so that it stays closed.
    fn reserve(port: u16) -> Option<ClosedPort> {
        let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).ok()?;
        s.set_reuse_address(true).ok()?;
        s.bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, port)).into())
            .ok()?;
        Some(ClosedPort { _sock: s, port })
    }
}

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A running `lbd -f cfg`; killed on drop (its stderr is printed when a test fails).
pub struct Lbd {
    child: Child,
    dir: PathBuf,
    stderr_path: PathBuf,
    /// The port that replaced `@FE@` (0 if the config had none).
    pub port: u16,
    /// The port that replaced `@FE2@` (0 if the config had none).
    pub port2: u16,
}

impl Lbd {
    /// Starts lbd on `config` and waits until every listener is bound.
    pub async fn start(config: &str) -> Lbd {
        let mut last = String::new();
        for _ in 0..5 {
            let (port, port2) = (free_port(), free_port());
            let text = config
                .replace("@FE@", &port.to_string())
                .replace("@FE2@", &port2.to_string());
            match Lbd::try_start(&text, port, port2).await {
                Ok(l) => return l,
                // Someone else took a free port between our probe and lbd's bind.
                Err(e) if e.contains("cannot bind socket") && config.contains("@FE") => last = e,
                Err(e) => panic!("lbd did not start.\nconfig:\n{text}\nstderr:\n{e}"),
            }
        }
        panic!("lbd could not bind its ports after 5 attempts:\n{last}");
    }

    async fn try_start(text: &str, port: u16, port2: u16) -> Result<Lbd, String> {
        let n = SEQ.fetch_add(1, SeqCst);
        let dir = std::env::temp_dir().join(format!("lbd-serve-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        let cfg = dir.join("lbd.cfg");
        std::fs::write(&cfg, text).expect("write config");
        let stderr_path = dir.join("stderr");
        let err = std::fs::File::create(&stderr_path).expect("create stderr file");
        let child = Command::new(env!("CARGO_BIN_EXE_lbd"))
            .arg("-f")
            .arg(&cfg)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("spawn lbd");
        let mut lbd = Lbd {
            child,
            dir,
            stderr_path,
            port,
            port2,
        };
        let end = Instant::now() + DEADLINE;
        loop {
            let err = lbd.stderr();
            if err.contains(" started: ") {
                return Ok(lbd);
            }
            if let Ok(Some(status)) = lbd.child.try_wait() {
                // Read once more: the last lines may have landed after the check above.
                return Err(format!("{}(exit status: {status})", lbd.stderr()));
            }
            if Instant::now() >= end {
                return Err(format!("{err}(no 'started' line within {DEADLINE:?})"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Everything lbd wrote to stderr so far.
    pub fn stderr(&self) -> String {
        let mut s = String::new();
        if let Ok(mut f) = std::fs::File::open(&self.stderr_path) {
            let _ = f.read_to_string(&mut s);
        }
        s
    }

    /// Waits until stderr contains `needle`; panics after [`DEADLINE`].
    pub async fn wait_for_log(&self, needle: &str) {
        let what = format!("lbd logs {needle:?}");
        wait_until(DEADLINE, &what, || self.stderr().contains(needle)).await;
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `127.0.0.1:port` of `@FE@`.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.port))
    }
}

impl Drop for Lbd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!(
                "---- lbd stderr ----\n{}--------------------",
                self.stderr()
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Counters kept by an origin.
#[derive(Debug, Default)]
pub struct Stats {
    /// TCP connections accepted.
    pub accepted: AtomicUsize,
    /// Connections open now.
    pub open: AtomicUsize,
    /// Most connections open at once.
    pub max_open: AtomicUsize,
    /// HTTP requests received.
    pub requests: AtomicUsize,
    /// Requests being answered now.
    pub inflight: AtomicUsize,
    /// Most requests answered at once.
    pub max_inflight: AtomicUsize,
}

impl Stats {
    /// TCP connections accepted so far.
    pub fn accepted(&self) -> usize {
        self.accepted.load(SeqCst)
    }
    /// HTTP requests received so far.
    pub fn requests(&self) -> usize {
        self.requests.load(SeqCst)
    }
    /// Requests being answered now.
    pub fn inflight(&self) -> usize {
        self.inflight.load(SeqCst)
    }
    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(SeqCst)
    }
}

/// Increments a current/max pair for as long as it lives.
struct Gauge<'a> {
    cur: &'a AtomicUsize,
}

impl<'a> Gauge<'a> {
    fn new(cur: &'a AtomicUsize, max: &'a AtomicUsize) -> Self {
        let now = cur.fetch_add(1, SeqCst) + 1;
        max.fetch_max(now, SeqCst);
        Gauge { cur }
    }
}

impl Drop for Gauge<'_> {
    fn drop(&mut self) {
        self.cur.fetch_sub(1, SeqCst);
    }
}

/// Counts one open connection until dropped.
struct OpenConn(Arc<Stats>);

impl OpenConn {
    fn new(stats: Arc<Stats>) -> Self {
        let now = stats.open.fetch_add(1, SeqCst) + 1;
        stats.max_open.fetch_max(now, SeqCst);
        OpenConn(stats)
    }
}

impl Drop for OpenConn {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, SeqCst);
    }
}

/// A server task with its connections; `stop` ends them all.
struct Served {
    addr: SocketAddr,
    task: Option<JoinHandle<()>>,
    closed: Option<ClosedPort>,
}

impl Served {
    /// Runs `conn` for every accepted connection until stopped.
    async fn start<F, Fut>(stats: Arc<Stats>, conn: F) -> Served
    where
        F: Fn(TcpStream, Arc<Stats>) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind origin");
        let addr = listener.local_addr().expect("origin addr");
        let task = tokio::spawn(async move {
            // Dropping the set (when this task is aborted) aborts every connection.
            let mut conns = JoinSet::new();
            loop {
                while conns.try_join_next().is_some() {}
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                stats.accepted.fetch_add(1, SeqCst);
                let open = OpenConn::new(stats.clone());
                let fut = conn(stream, stats.clone());
                conns.spawn(async move {
                    let _open = open;
                    fut.await;
                });
            }
        });
        Served {
            addr,
            task: Some(task),
            closed: None,
        }
    }

    async fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
            // Keep the port closed: connections are refused, nobody else binds it.
            self.closed = ClosedPort::reserve(self.addr.port());
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

type OriginBody = BoxBody<Bytes, hyper::Error>;

fn full(b: impl Into<Bytes>) -> OriginBody {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

/// The body type the client helpers send.
pub type ClientBody = Full<Bytes>;

/// A request body sent as the given chunks, with no length known in advance (so
/// HTTP/1.1 sends it chunked).
pub struct Chunked(std::collections::VecDeque<Bytes>);

impl Chunked {
    /// A body made of these chunks.
    pub fn new(chunks: impl IntoIterator<Item = Bytes>) -> Self {
        Chunked(chunks.into_iter().collect())
    }
}

impl hyper::body::Body for Chunked {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|b| Ok(hyper::body::Frame::data(b))))
    }
}

/// An HTTP/1 origin server named `name`.
///
/// Answers `200` with body `name`, header `x-origin: name` and `x-uri` (the request
/// target as received); `/slow?ms=N` waits N ms
/// first; `/hold` waits until [`HttpOrigin::release`]; `/echo` streams the request body
/// back; `/status/N` answers status N; `/close` answers with `Connection: close`; `/headers` answers the request headers as `name: value` lines; a request with
/// `Connection: upgrade` and `Upgrade: echo` gets `101` and then its bytes echoed.
pub struct HttpOrigin {
    /// Its name.
    pub name: String,
    /// Its address.
    pub addr: SocketAddr,
    /// Its counters.
    pub stats: Arc<Stats>,
    gate: Arc<tokio::sync::watch::Sender<bool>>,
    served: Served,
}

impl HttpOrigin {
    /// Starts an origin on a port chosen by the OS.
    pub async fn start(name: &str) -> HttpOrigin {
        let stats = Arc::new(Stats::default());
        let n: Arc<str> = name.into();
        let gate = Arc::new(tokio::sync::watch::channel(false).0);
        let g = gate.clone();
        let served =
            Served::start(stats.clone(), move |stream, stats| {
                let (n, g) = (n.clone(), g.clone());
                async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let (n, stats, g) = (n.clone(), stats.clone(), g.clone());
                        async move {
                            Ok::<_, std::convert::Infallible>(answer(&n, &stats, &g, req).await)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .with_upgrades()
                        .await;
                }
            })
            .await;
        HttpOrigin {
            name: name.into(),
            addr: served.addr,
            stats,
            gate,
            served,
        }
    }

    /// Lets every `/hold` request (now and later) finish.
    pub fn release(&self) {
        self.gate.send_replace(true);
    }

    /// `127.0.0.1:port`, for a `server` line.
    pub fn hostport(&self) -> String {
        self.addr.to_string()
    }

    /// Stops listening and closes every connection; the port then refuses connections.
    pub async fn stop(&mut self) {
        self.served.stop().await;
    }
}

async fn answer(
    name: &str,
    stats: &Stats,
    gate: &tokio::sync::watch::Sender<bool>,
    mut req: Request<Incoming>,
) -> Response<OriginBody> {
    stats.requests.fetch_add(1, SeqCst);
    let _busy = Gauge::new(&stats.inflight, &stats.max_inflight);
    let path = req.uri().path().to_string();
    if path == "/slow" {
        let ms = req
            .uri()
            .query()
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("ms=")))
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000);
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    if path == "/hold" {
        let _ = gate.subscribe().wait_for(|open| *open).await;
    }
    let upgrade = req
        .headers()
        .get("upgrade")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"echo"));
    if upgrade {
        let on = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            if let Ok(up) = on.await {
                let (mut r, mut w) = tokio::io::split(TokioIo::new(up));
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = w.shutdown().await;
            }
        });
        let mut resp = Response::new(full(Bytes::new()));
        *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        resp.headers_mut()
            .insert("connection", HeaderValue::from_static("Upgrade"));
        resp.headers_mut()
            .insert("upgrade", HeaderValue::from_static("echo"));
        return resp;
    }
    if path == "/echo" {
        // Stream the request body back as it arrives (chunked unless it had a length).
        let mut resp = Response::new(req.into_body().boxed());
        resp.headers_mut().insert(
            "x-origin",
            HeaderValue::from_str(name).expect("origin name is a header value"),
        );
        return resp;
    }
    if let Some(code) = path.strip_prefix("/status/") {
        let code = code.parse().ok().and_then(|c| StatusCode::from_u16(c).ok());
        let code = code.unwrap_or(StatusCode::BAD_REQUEST);
        let body = if code == StatusCode::NO_CONTENT || code == StatusCode::NOT_MODIFIED {
            String::new()
        } else {
            name.to_string()
        };
        let mut resp = Response::new(full(body));
        *resp.status_mut() = code;
        return resp;
    }
    let uri = req.uri().to_string();
    let close = path == "/close";
    let body = if path == "/headers" {
        let mut s = String::new();
        for (k, v) in req.headers() {
            s.push_str(&format!(
                "{}: {}\n",
                k,
                String::from_utf8_lossy(v.as_bytes())
            ));
        }
        s
    } else {
        // Read (and drop) any request body so the connection stays reusable.
        let _ = req.into_body().collect().await;
        name.to_string()
    };
    let mut resp = Response::new(full(body));
    let h = resp.headers_mut();
    h.insert(
        "x-origin",
        HeaderValue::from_str(name).expect("origin name is a header value"),
    );
    if let Ok(v) = HeaderValue::from_str(&uri) {
        h.insert("x-uri", v);
    }
    if close {
        h.insert("connection", HeaderValue::from_static("close"));
    }
    resp
}

/// What a [`TcpOrigin`] does with each connection.
#[derive(Debug, Clone)]
pub enum TcpMode {
    /// Echo every byte; shut down writing after reading EOF.
    Echo,
    /// Read until EOF, then send `reply` followed by the number of bytes read as
    /// 8 big-endian bytes, then close.
    ReplyAfterEof(Bytes),
    /// Read up to the end of an HTTP request head, then close without answering.
    ReadHeadThenClose,
    /// Read up to the end of an HTTP request head, write these bytes, then close.
    RawResponse(Bytes),
    /// Close at once.
    Close,
}

/// A raw TCP origin.
pub struct TcpOrigin {
    /// Its address.
    pub addr: SocketAddr,
    /// Its counters (no HTTP requests).
    pub stats: Arc<Stats>,
    served: Served,
}

impl TcpOrigin {
    /// Starts a TCP origin on a port chosen by the OS.
    pub async fn start(mode: TcpMode) -> TcpOrigin {
        let stats = Arc::new(Stats::default());
        let served = Served::start(stats.clone(), move |s, _| tcp_conn(s, mode.clone())).await;
        TcpOrigin {
            addr: served.addr,
            stats,
            served,
        }
    }

    /// `127.0.0.1:port`, for a `server` line.
    pub fn hostport(&self) -> String {
        self.addr.to_string()
    }

    /// Stops listening and closes every connection.
    pub async fn stop(&mut self) {
        self.served.stop().await;
    }
}

async fn tcp_conn(mut s: TcpStream, mode: TcpMode) {
    let mut buf = vec![0u8; 64 * 1024];
    match mode {
        TcpMode::Echo => {
            let (mut r, mut w) = s.split();
            let _ = tokio::io::copy(&mut r, &mut w).await;
            let _ = w.shutdown().await;
        }
        TcpMode::ReplyAfterEof(reply) => {
            let mut n = 0u64;
            loop {
                match s.read(&mut buf).await {
                    Ok(0) => break,
                    Ok(k) => n += k as u64,
                    Err(_) => return,
                }
            }
            let _ = s.write_all(&reply).await;
            let _ = s.write_all(&n.to_be_bytes()).await;
            let _ = s.shutdown().await;
        }
        TcpMode::ReadHeadThenClose => {
            let mut seen = Vec::new();
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(k) => seen.extend_from_slice(&buf[..k]),
                }
            }
        }
        TcpMode::RawResponse(bytes) => {
            let mut seen = Vec::new();
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(k) => seen.extend_from_slice(&buf[..k]),
                }
            }
            let _ = s.write_all(&bytes).await;
            let _ = s.shutdown().await;
        }
        TcpMode::Close => {}
    }
}

/// A response as the client saw it.
#[derive(Debug)]
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: HeaderMap,
    /// Body (lossy UTF-8).
    pub body: String,
    /// Body bytes.
    pub bytes: Bytes,
}

impl Resp {
    /// A header's value as text ("" when absent).
    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// A GET request for `path` with a Host header.
pub fn get_req(path: &str) -> Request<ClientBody> {
    Request::builder()
        .uri(path)
        .header("host", "lbd.test")
        .body(Full::new(Bytes::new()))
        .expect("request")
}

async fn read_resp(resp: Response<Incoming>) -> Resp {
    let (parts, body) = resp.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_else(|e| panic!("reading the response body failed: {e}"));
    Resp {
        status: parts.status.as_u16(),
        headers: parts.headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        bytes: body,
    }
}

/// Connects to 127.0.0.1:`port`, from `src` when given.
pub async fn connect(port: u16, src: Option<IpAddr>) -> TcpStream {
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let fut = async {
        match src {
            None => TcpStream::connect(to).await,
            Some(ip) => {
                let s = TcpSocket::new_v4()?;
                s.bind(SocketAddr::new(ip, 0))?;
                s.connect(to).await
            }
        }
    };
    within(DEADLINE, "connect", fut)
        .await
        .unwrap_or_else(|e| panic!("connect to 127.0.0.1:{port}: {e}"))
}

/// Sends one request over a new connection (from `src` when given) and reads the
/// whole response.
pub async fn send_from<B>(port: u16, src: Option<IpAddr>, req: Request<B>) -> Resp
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let stream = connect(port, src).await;
    within(DEADLINE, "HTTP exchange", async move {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("client handshake");
        tokio::spawn(conn);
        let resp = sender
            .send_request(req)
            .await
            .unwrap_or_else(|e| panic!("request failed: {e}"));
        read_resp(resp).await
    })
    .await
}

/// Sends one request over a new connection.
pub async fn send<B>(port: u16, req: Request<B>) -> Resp
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    send_from(port, None, req).await
}

/// `GET path` over a new connection.
pub async fn get(port: u16, path: &str) -> Resp {
    send(port, get_req(path)).await
}

/// A client that keeps one connection open for many requests.
pub struct KeepAlive {
    sender: hyper::client::conn::http1::SendRequest<ClientBody>,
    conn: JoinHandle<()>,
}

impl KeepAlive {
    /// Opens the connection.
    pub async fn connect(port: u16) -> KeepAlive {
        Self::connect_from(port, None).await
    }

    /// Opens the connection from `src` (a loopback address) when given.
    pub async fn connect_from(port: u16, src: Option<IpAddr>) -> KeepAlive {
        let stream = connect(port, src).await;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .expect("client handshake");
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        KeepAlive { sender, conn }
    }

    /// Sends a request on the connection and reads the whole response.
    pub async fn send(&mut self, req: Request<ClientBody>) -> Resp {
        within(DEADLINE, "keep-alive exchange", async {
            self.sender.ready().await.expect("connection still open");
            let resp = self
                .sender
                .send_request(req)
                .await
                .unwrap_or_else(|e| panic!("request failed: {e}"));
            read_resp(resp).await
        })
        .await
    }

    /// `GET path` on the connection.
    pub async fn get(&mut self, path: &str) -> Resp {
        self.send(get_req(path)).await
    }

    /// True once the server closed the connection.
    pub fn is_closed(&self) -> bool {
        self.sender.is_closed()
    }
}

impl Drop for KeepAlive {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

/// Writes `bytes` on a new connection and reads until the server closes it (or resets
/// it after sending a response); returns what was read as lossy text.
pub async fn raw(port: u16, bytes: &[u8]) -> String {
    let mut s = connect(port, None).await;
    within(DEADLINE, "raw exchange", async move {
        // The server may answer and close before reading everything: a failed write
        // is not the test's concern, the answer is.
        let _ = s.write_all(bytes).await;
        let mut out = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match s.read(&mut buf).await {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(e) if !out.is_empty() => {
                    eprintln!("raw read ended with {e} after {} bytes", out.len());
                    break;
                }
                Err(e) => panic!("raw read failed before any answer: {e}"),
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    })
    .await
}

/// A seeded xorshift64* byte stream: the same seed always gives the same bytes.
pub struct Prng(u64);

impl Prng {
    /// A stream for `seed`.
    pub fn new(seed: u64) -> Self {
        Prng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    /// Fills `buf` with the next bytes of the stream (`buf.len()` a multiple of 8).
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_exact_mut(8) {
            let mut x = self.0;
            x ^= x >> 12;
            x ^= x << 25;
            x ^= x >> 27;
            self.0 = x;
            chunk.copy_from_slice(&x.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
        }
    }
}

/// How to start lbd beyond the config text (for the service tests): extra environment
/// variables and extra command-line arguments. `@DIR@` in an argument becomes the
/// scratch directory (e.g. `-p @DIR@/lbd.pid`).
#[derive(Debug, Clone, Default)]
pub struct StartOpts {
    /// Environment variables set for lbd (e.g. `NOTIFY_SOCKET`).
    pub env: Vec<(String, String)>,
    /// Arguments after `-f cfg`.
    pub args: Vec<String>,
}

impl Lbd {
    /// Starts lbd like [`Lbd::start`] with extra environment and arguments.
    pub async fn start_with(config: &str, opts: &StartOpts) -> Lbd {
        let mut last = String::new();
        for _ in 0..5 {
            let (port, port2) = (free_port(), free_port());
            let text = config
                .replace("@FE@", &port.to_string())
                .replace("@FE2@", &port2.to_string());
            match Lbd::try_start_with(&text, port, port2, opts).await {
                Ok(l) => return l,
                Err(e) if e.contains("cannot bind socket") && config.contains("@FE") => last = e,
                Err(e) => panic!("lbd did not start.\nconfig:\n{text}\nstderr:\n{e}"),
            }
        }
        panic!("lbd could not bind its ports after 5 attempts:\n{last}");
    }

    async fn try_start_with(
        text: &str,
        port: u16,
        port2: u16,
        opts: &StartOpts,
    ) -> Result<Lbd, String> {
        let n = SEQ.fetch_add(1, SeqCst);
        let dir = std::env::temp_dir().join(format!("lbd-svc-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create scratch dir");
        let cfg = dir.join("lbd.cfg");
        std::fs::write(&cfg, text).expect("write config");
        let stderr_path = dir.join("stderr");
        let err = std::fs::File::create(&stderr_path).expect("create stderr file");
        let dir_text = dir.to_string_lossy().into_owned();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lbd"));
        cmd.arg("-f").arg(&cfg);
        for a in &opts.args {
            cmd.arg(a.replace("@DIR@", &dir_text));
        }
        for (k, v) in &opts.env {
            cmd.env(k, v);
        }
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("spawn lbd");
        let mut lbd = Lbd {
            child,
            dir,
            stderr_path,
            port,
            port2,
        };
        let end = Instant::now() + DEADLINE;
        loop {
            if lbd.stderr().contains(" started: ") {
                return Ok(lbd);
            }
            if let Ok(Some(status)) = lbd.child.try_wait() {
                return Err(format!("{}(exit status: {status})", lbd.stderr()));
            }
            if Instant::now() >= end {
                return Err(format!(
                    "{}(no 'started' line within {DEADLINE:?})",
                    lbd.stderr()
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// The scratch directory (config, stderr; removed on drop).
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// The path of the `-f` config file.
    pub fn config_path(&self) -> PathBuf {
        self.dir.join("lbd.cfg")
    }

    /// Replaces the config file (atomically: write then rename, so a reload never
    /// reads half a file); `@FE@`/`@FE2@` become this instance's ports.
    pub fn write_config(&self, config: &str) {
        let text = config
            .replace("@FE@", &self.port.to_string())
            .replace("@FE2@", &self.port2.to_string());
        let tmp = self.dir.join("lbd.cfg.new");
        std::fs::write(&tmp, text).expect("write new config");
        std::fs::rename(&tmp, self.config_path()).expect("replace config");
    }

    /// Sends `sig` (e.g. `libc::SIGUSR2`) to lbd.
    pub fn signal(&self, sig: i32) {
        // SAFETY: kill(2) on the pid of our own child, which we have not reaped yet.
        let rc = unsafe { libc::kill(self.child.id() as libc::pid_t, sig) };
        assert_eq!(rc, 0, "kill({}, {sig}) failed", self.child.id());
    }

    /// How many times `needle` occurs in stderr so far.
    pub fn count_log(&self, needle: &str) -> usize {
        self.stderr().matches(needle).count()
    }

    /// Writes `config`, sends SIGUSR2 and waits for the outcome; returns the
    /// `Reload complete: ...` or `Reload failed...` line.
    pub async fn reload(&self, config: &str) -> String {
        let before = self.count_log("Reload complete: ") + self.count_log("Reload failed");
        self.write_config(config);
        self.signal(libc::SIGUSR2);
        wait_until(DEADLINE, "lbd logs the end of a reload", || {
            self.count_log("Reload complete: ") + self.count_log("Reload failed") > before
        })
        .await;
        self.stderr()
            .lines()
            .rev()
            .find(|l| l.contains("Reload complete: ") || l.contains("Reload failed"))
            .unwrap_or_default()
            .to_string()
    }

    /// The exit status if lbd has exited.
    pub fn try_wait(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().expect("try_wait on lbd")
    }

    /// Waits (polling) for lbd to exit; panics after `limit`.
    pub async fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let end = Instant::now() + limit;
        loop {
            if let Some(s) = self.try_wait() {
                return s;
            }
            if Instant::now() >= end {
                panic!("lbd did not exit within {limit:?}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// The outcome of one request of a load loop, never a panic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A complete response: status and body.
    Ok(u16, String),
    /// The connection could not be opened (e.g. refused).
    Connect(String),
    /// The exchange failed (reset, closed early, timed out).
    Exchange(String),
}

/// Sends `GET path` over a fresh connection; never panics.
pub async fn try_get(port: u16, path: &str) -> Outcome {
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let stream = match tokio::time::timeout(DEADLINE, TcpStream::connect(to)).await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => return Outcome::Connect(e.to_string()),
        Err(_) => return Outcome::Connect("connect timed out".into()),
    };
    let fut = async move {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(conn);
        let resp = sender
            .send_request(get_req(path))
            .await
            .map_err(|e| e.to_string())?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok::<_, String>((parts.status.as_u16(), body))
    };
    match tokio::time::timeout(DEADLINE, fut).await {
        Ok(Ok((s, b))) => Outcome::Ok(s, String::from_utf8_lossy(&b).into_owned()),
        Ok(Err(e)) => Outcome::Exchange(e),
        Err(_) => Outcome::Exchange("timed out".into()),
    }
}

/// A keep-alive client that reports failures instead of panicking.
pub struct TryKeepAlive {
    sender: hyper::client::conn::http1::SendRequest<ClientBody>,
    conn: JoinHandle<()>,
}

impl TryKeepAlive {
    /// Opens the connection.
    pub async fn connect(port: u16) -> Result<TryKeepAlive, Outcome> {
        let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let stream = match tokio::time::timeout(DEADLINE, TcpStream::connect(to)).await {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(Outcome::Connect(e.to_string())),
            Err(_) => return Err(Outcome::Connect("connect timed out".into())),
        };
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| Outcome::Connect(e.to_string()))?;
        let conn = tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(TryKeepAlive { sender, conn })
    }

    /// `GET path` on the connection.
    pub async fn get(&mut self, path: &str) -> Outcome {
        let fut = async {
            self.sender.ready().await.map_err(|e| e.to_string())?;
            let resp = self
                .sender
                .send_request(get_req(path))
                .await
                .map_err(|e| e.to_string())?;
            let (parts, body) = resp.into_parts();
            let body = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
            Ok::<_, String>((parts.status.as_u16(), body))
        };
        match tokio::time::timeout(DEADLINE, fut).await {
            Ok(Ok((s, b))) => Outcome::Ok(s, String::from_utf8_lossy(&b).into_owned()),
            Ok(Err(e)) => Outcome::Exchange(e),
            Err(_) => Outcome::Exchange("timed out".into()),
        }
    }
}

impl Drop for TryKeepAlive {
    fn drop(&mut self) {
        self.conn.abort();
    }
}

/// Whether a TCP connect to 127.0.0.1:`port` is refused right now: `Some(true)`
/// refused, `Some(false)` accepted, `None` another error. An accepted connection is
/// closed with a reset (linger 0), so that connect loops leave no TIME_WAIT behind
/// and never run out of local ports.
pub fn connect_refused(port: u16) -> Option<bool> {
    let to = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    match std::net::TcpStream::connect_timeout(&to, Duration::from_secs(2)) {
        Ok(s) => {
            let _ = socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO));
            Some(false)
        }
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => Some(true),
        Err(e) => {
            eprintln!("connect to 127.0.0.1:{port}: {e}");
            None
        }
    }
}
