//! Helpers for the persistence tests (`tests/persist_*.rs`), next to the serving harness
//! in `common/mod.rs` (included with `#[path]`, so that file stays untouched).
//!
//! - [`Origin`]: an HTTP origin that answers with its name, echoes request headers on
//!   `/headers`, sets a cookie of its own on `/setcookie?n=NAME&v=VALUE`, answers its
//!   health check on `/health` (200, or 503 after [`Origin::set_healthy`]`(false)`),
//!   and can be stopped and restarted on the same port.
//! - [`Jar`]: a tiny client cookie jar (stores `Set-Cookie: NAME=VALUE`, sends `Cookie:`).
//! - [`cli`]: one runtime-socket command; [`SockDir`]: a short scratch directory for it.
//! - [`show_table`]: `show table` parsed; [`reload_same`]: SIGUSR2 with the same config.
//! - [`tcp_name`]: which TCP origin answered a connection (from a given source address).

#![allow(dead_code)]

use crate::common::{connect, within, Lbd, Resp, DEADLINE};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::header::HeaderValue;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};
use tokio::task::{JoinHandle, JoinSet};

/// An HTTP/1 origin named `name` that can be stopped and restarted on its port.
pub struct Origin {
    /// Its name (the body of every plain answer, and `x-origin`).
    pub name: String,
    /// Its address (kept across restarts).
    pub addr: SocketAddr,
    /// Requests answered, `/health` excluded.
    pub requests: Arc<AtomicUsize>,
    healthy: Arc<AtomicBool>,
    task: Option<JoinHandle<()>>,
    hold: Option<socket2::Socket>,
}

impl Origin {
    /// Starts an origin on a port chosen by the OS.
    pub async fn start(name: &str) -> Origin {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind origin");
        let addr = listener.local_addr().expect("origin addr");
        let mut o = Origin {
            name: name.to_string(),
            addr,
            requests: Arc::new(AtomicUsize::new(0)),
            healthy: Arc::new(AtomicBool::new(true)),
            task: None,
            hold: None,
        };
        o.serve(listener);
        o
    }

    fn serve(&mut self, listener: TcpListener) {
        let (name, requests, healthy): (Arc<str>, _, _) = (
            self.name.as_str().into(),
            self.requests.clone(),
            self.healthy.clone(),
        );
        self.task = Some(tokio::spawn(async move {
            // Dropping the set (when this task is aborted) aborts every connection.
            let mut conns = JoinSet::new();
            loop {
                while conns.try_join_next().is_some() {}
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                let (name, requests, healthy) = (name.clone(), requests.clone(), healthy.clone());
                conns.spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let (name, requests, healthy) =
                            (name.clone(), requests.clone(), healthy.clone());
                        async move {
                            Ok::<_, std::convert::Infallible>(
                                answer(&name, &requests, &healthy, req).await,
                            )
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        }));
    }

    /// `127.0.0.1:port`, for a `server` line.
    pub fn hostport(&self) -> String {
        self.addr.to_string()
    }

    /// Requests answered so far (`/health` excluded).
    pub fn count(&self) -> usize {
        self.requests.load(SeqCst)
    }

    /// Makes `/health` answer 200 (true) or 503 (false); traffic is still answered.
    pub fn set_healthy(&self, ok: bool) {
        self.healthy.store(ok, SeqCst);
    }

    /// Stops listening and closes every connection; the port then refuses connections
    /// (it stays bound, not listening, so nobody else takes it).
    pub async fn stop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
            let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                .expect("socket");
            s.set_reuse_address(true).expect("SO_REUSEADDR");
            s.bind(&self.addr.into())
                .expect("hold the stopped origin's port");
            self.hold = Some(s);
        }
    }

    /// Listens again on the same port.
    pub async fn restart(&mut self) {
        assert!(self.task.is_none(), "origin {} is running", self.name);
        self.hold = None;
        let sock = TcpSocket::new_v4().expect("socket");
        sock.set_reuseaddr(true).expect("SO_REUSEADDR");
        sock.bind(self.addr).expect("rebind the origin's port");
        let listener = sock.listen(1024).expect("listen");
        self.serve(listener);
    }
}

impl Drop for Origin {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

type Body = http_body_util::combinators::BoxBody<Bytes, hyper::Error>;

fn full(b: impl Into<Bytes>) -> Body {
    Full::new(b.into()).map_err(|never| match never {}).boxed()
}

fn query<'a>(q: Option<&'a str>, key: &str) -> Option<&'a str> {
    q?.split('&')
        .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
}

async fn answer(
    name: &str,
    requests: &AtomicUsize,
    healthy: &AtomicBool,
    req: Request<Incoming>,
) -> Response<Body> {
    let path = req.uri().path().to_string();
    if path == "/health" {
        let ok = healthy.load(SeqCst);
        let mut r = Response::new(full(if ok { "ok" } else { "sick" }));
        if !ok {
            *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        }
        return r;
    }
    requests.fetch_add(1, SeqCst);
    let body = if path == "/headers" {
        let mut s = String::new();
        for (k, v) in req.headers() {
            s.push_str(&format!("{k}: {}\n", String::from_utf8_lossy(v.as_bytes())));
        }
        s
    } else {
        name.to_string()
    };
    let set = (path == "/setcookie").then(|| {
        let q = req.uri().query();
        format!(
            "{}={}; Path=/",
            query(q, "n").unwrap_or("SRVID"),
            query(q, "v").unwrap_or("app")
        )
    });
    let _ = req.into_body().collect().await;
    let mut resp = Response::new(full(body));
    let h = resp.headers_mut();
    h.insert(
        "x-origin",
        HeaderValue::from_str(name).expect("header value"),
    );
    if let Some(c) = set {
        h.append(
            "set-cookie",
            HeaderValue::from_str(&c).expect("cookie value"),
        );
    }
    resp
}

/// A client cookie jar: keeps the last value of each cookie a response set.
#[derive(Debug, Default, Clone)]
pub struct Jar(pub BTreeMap<String, String>);

impl Jar {
    /// An empty jar.
    pub fn new() -> Jar {
        Jar::default()
    }

    /// Stores every `Set-Cookie: NAME=VALUE; ...` of `resp`; returns how many it had.
    pub fn absorb(&mut self, resp: &Resp) -> usize {
        let mut n = 0;
        for v in resp.headers.get_all("set-cookie") {
            let v = v.to_str().expect("Set-Cookie is text");
            let pair = v.split(';').next().unwrap_or_default();
            let (k, val) = pair
                .split_once('=')
                .unwrap_or_else(|| panic!("Set-Cookie has NAME=VALUE: {v}"));
            self.0.insert(k.trim().to_string(), val.trim().to_string());
            n += 1;
        }
        n
    }

    /// The value of cookie `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// Sets a cookie by hand.
    pub fn set(&mut self, name: &str, value: &str) {
        self.0.insert(name.to_string(), value.to_string());
    }

    /// The `Cookie:` header value ("" when empty).
    pub fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// A request with this jar's cookies.
    pub fn request(&self, method: &str, path: &str) -> Request<Full<Bytes>> {
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "lbd.test");
        if !self.0.is_empty() {
            b = b.header("cookie", self.header());
        }
        b.body(Full::new(Bytes::new())).expect("request")
    }
}

/// Every `Set-Cookie` value of `resp`.
pub fn set_cookies(resp: &Resp) -> Vec<String> {
    resp.headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().expect("text").to_string())
        .collect()
}

#[path = "sock.rs"]
mod sock;
#[allow(unused_imports)]
pub use sock::{cli, cli_until, SockDir};

/// One `show table` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The client address.
    pub key: IpAddr,
    /// Milliseconds until expiry (`None` for `exp=-`).
    pub exp: Option<u64>,
    /// The server name.
    pub server: String,
}

/// `show table NAME`, parsed strictly: the header line, then one line per entry.
/// Returns (size, entries).
pub async fn show_table(sock: &str, name: &str) -> (u64, Vec<Entry>) {
    let out = cli(sock, &format!("show table {name}")).await;
    let mut lines = out.lines().filter(|l| !l.is_empty());
    let head = lines
        .next()
        .unwrap_or_else(|| panic!("empty show table: {out:?}"));
    let rest = head
        .strip_prefix(&format!("# table: {name}, type: ip, size:"))
        .unwrap_or_else(|| panic!("show table header: {head:?}"));
    let (size, used) = rest
        .split_once(", used:")
        .unwrap_or_else(|| panic!("show table header: {head:?}"));
    let size: u64 = size.parse().expect("size is a number");
    let used: usize = used.parse().expect("used is a number");
    let mut entries = Vec::new();
    for l in lines {
        let w: Vec<&str> = l.split(' ').collect();
        assert_eq!(w.len(), 6, "entry line has 6 fields: {l:?}");
        // HAProxy prints the entry's address there.
        assert!(w[0].starts_with("0x") && w[0].ends_with(':'), "{l:?}");
        let key = w[1]
            .strip_prefix("key=")
            .expect("key=")
            .parse()
            .expect("ip");
        assert_eq!(w[2], "use=0", "{l:?}");
        let exp = w[3].strip_prefix("exp=").expect("exp=");
        // Without `expire`, HAProxy prints exp=0.
        let exp = (exp != "0").then(|| exp.parse().expect("exp is a number"));
        assert!(w[4].starts_with("server_id="), "{l:?}");
        let server = w[5].strip_prefix("server_key=").expect("server_key=");
        entries.push(Entry {
            key,
            exp,
            server: server.to_string(),
        });
    }
    assert_eq!(entries.len(), used, "'used' counts the entries:\n{out}");
    (size, entries)
}

/// The server `show table` stores for `ip`, if listed.
pub async fn table_server(sock: &str, name: &str, ip: IpAddr) -> Option<String> {
    show_table(sock, name)
        .await
        .1
        .into_iter()
        .find(|e| e.key == ip)
        .map(|e| e.server)
}

/// Sends SIGUSR2 (the config file is unchanged) and waits for `Reload complete`.
pub async fn reload_same(lbd: &Lbd) {
    let before = lbd.stderr().matches("Reload complete: ").count();
    // SAFETY: kill(2) on the pid of our own, still running child.
    let rc = unsafe { libc::kill(lbd.pid() as libc::pid_t, libc::SIGUSR2) };
    assert_eq!(rc, 0, "kill SIGUSR2");
    crate::common::wait_until(DEADLINE, "lbd logs 'Reload complete'", || {
        lbd.stderr().matches("Reload complete: ").count() > before
    })
    .await;
}

/// Waits until stderr contains `needle` at least `n` times.
pub async fn wait_log_count(lbd: &Lbd, needle: &str, n: usize) {
    let what = format!("lbd logs {needle:?} {n} times");
    crate::common::wait_until(DEADLINE, &what, || {
        lbd.stderr().matches(needle).count() >= n
    })
    .await;
}

/// `127.0.0.N`.
pub fn lo(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

/// Connects to `port` from `src`, half-closes, and reads what a
/// `TcpMode::ReplyAfterEof(name)` origin answers: its name.
pub async fn tcp_name(port: u16, src: IpAddr) -> String {
    let mut s = connect(port, Some(src)).await;
    within(DEADLINE, "tcp exchange", async move {
        s.shutdown().await.expect("half-close");
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.expect("read reply");
        // The origin appends the number of bytes it read as 8 bytes.
        assert!(out.len() >= 8, "short tcp reply {out:?}");
        out.truncate(out.len() - 8);
        String::from_utf8(out).expect("name is text")
    })
    .await
}

/// Polls `cond` (async) every 20 ms until it holds; panics with `what` after `limit`.
pub async fn wait_async<F, Fut>(limit: Duration, what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let end = Instant::now() + limit;
    while !cond().await {
        if Instant::now() >= end {
            panic!("timed out after {limit:?} waiting until {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
